"""The standard outputs (issue 26) on a real graph: `detections`
(vision_msgs/Detection2DArray), its latched class map `detections/label_info`
(LabelInfo), and REP-155's `/humans/faces/<id>/landmarks`
(hri_msgs/FacialLandmarks), each decoded by an rclpy peer and checked against
the node's own `emotions` message of the same frame."""

import time

import pytest
from conftest import image_msg, load_scene
from hri_msgs.msg import FacialLandmarks
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from test_ros4hri import RELIABLE, Recorder, wait_until
from vision_msgs.msg import Detection2DArray, LabelInfo

FERPLUS = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]
LATCHED = QoSProfile(
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
    history=HistoryPolicy.KEEP_LAST,
)


def test_detections_match_the_emotions_of_the_same_frame(graph):
    proc, peer = graph(params=["input.qos:=reliable"])
    ns = peer.node.get_namespace()
    rec = Recorder(peer.node)
    rec.subscribe(Detection2DArray, f"{ns}/detections", RELIABLE)
    # A late joiner still gets the class map: it is latched.
    time.sleep(1.0)
    rec.subscribe(LabelInfo, f"{ns}/detections/label_info", LATCHED)
    wait_until(lambda: rec.msgs.get(f"{ns}/detections/label_info"), 20, "no latched label_info")
    (labels,) = rec.msgs[f"{ns}/detections/label_info"]
    assert [(c.class_id, c.class_name) for c in labels.class_map] == list(enumerate(FERPLUS))
    assert labels.threshold == 0.0

    rgb = load_scene("pexels_group3.jpg", size=(640, 480))
    for sec in (60, 61):  # the second frame's faces are tracked (ids, smoothing)
        emotions = peer.publish_until_answered(image_msg(rgb, stamp=(sec, 0), frame_id="cam_det"))
    dets = rec.wait(f"{ns}/detections", (61, 0), 10)
    assert dets is not None, "no Detection2DArray for the frame"
    assert dets.header.frame_id == "cam_det"
    assert len(dets.detections) == len(emotions.faces) >= 3
    for d, f in zip(dets.detections, emotions.faces, strict=True):
        assert d.header == dets.header
        assert d.id == f"f{f.face_id}"
        assert d.bbox.center.position.x == pytest.approx(f.x + f.width / 2, abs=1e-3)
        assert d.bbox.center.position.y == pytest.approx(f.y + f.height / 2, abs=1e-3)
        assert (d.bbox.size_x, d.bbox.size_y) == (pytest.approx(f.width, abs=1e-3), pytest.approx(f.height, abs=1e-3))
        assert d.bbox.center.theta == 0.0
        if f.state != 0:
            assert list(d.results) == []
            continue
        # Every class once, most probable first: the distribution behind top_label.
        probs = f.smoothed_probabilities if f.has_smoothed else f.probabilities
        ids = [r.hypothesis.class_id for r in d.results]
        scores = [r.hypothesis.score for r in d.results]
        assert sorted(ids) == [str(i) for i in range(8)]
        assert scores == sorted(scores, reverse=True)
        assert ids[0] == str(f.top_class) and FERPLUS[int(ids[0])] == f.top_label
        for i, s in zip(ids, scores, strict=True):
            assert s == pytest.approx(float(probs[int(i)]), abs=1e-6)
        assert sum(scores) == pytest.approx(1.0, abs=1e-3)
        assert d.results[0].pose.pose.orientation.w == 1.0
    assert proc.alive()


def test_landmarks_hold_the_detector_keypoints(graph):
    proc, peer = graph(params=["ros4hri.enabled:=true", "input.qos:=reliable"])
    rec = Recorder(peer.node)
    rgb = load_scene("pexels_group3.jpg", size=(640, 480))
    h, w = rgb.shape[:2]
    first = peer.publish_until_answered(image_msg(rgb, stamp=(70, 0)))
    ids = [f"f{f.face_id}" for f in first.faces]
    for i in ids:
        rec.subscribe(FacialLandmarks, f"/humans/faces/{i}/landmarks")
    for i in ids:
        wait_until(lambda i=i: peer.node.count_publishers(f"/humans/faces/{i}/landmarks") > 0, 20, f"no landmarks of {i}")
    time.sleep(0.5)
    faces = peer.publish_until_answered(image_msg(rgb, stamp=(71, 0))).faces
    for f in faces:
        m = rec.wait(f"/humans/faces/f{f.face_id}/landmarks", (71, 0), 10)
        assert m is not None, f"no landmarks of f{f.face_id}"
        assert (m.width, m.height) == (w, h)
        assert len(m.landmarks) == 70
        # Eyes at the pupils (the eye on the image's left is the person's right),
        # the nose tip at NOSE; RetinaFace has no ears, nothing else is set.
        for code, k in ((FacialLandmarks.RIGHT_PUPIL, 0), (FacialLandmarks.LEFT_PUPIL, 1), (FacialLandmarks.NOSE, 2)):
            p = m.landmarks[code]
            assert (p.x, p.y) == (pytest.approx(f.keypoints[k].x / w, abs=1e-5), pytest.approx(f.keypoints[k].y / h, abs=1e-5))
            assert p.c == pytest.approx(f.detector_score, abs=1e-6)
        assert sorted(i for i, p in enumerate(m.landmarks) if p.c > 0) == [30, 68, 69]
        assert all(0.0 <= p.x <= 1.0 and 0.0 <= p.y <= 1.0 for p in m.landmarks)
    assert proc.alive()
