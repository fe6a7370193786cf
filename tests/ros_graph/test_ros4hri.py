"""ROS4HRI (REP-155) on a real graph (issue 14): the camera mode's
`/humans/faces/...` output, and the drop-in mode fed by a peer that plays a
ROS4HRI face detector with crops cut from real photos. See conftest.py."""

import os
import subprocess
import threading
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import rclpy
from conftest import NODE_BIN, PARAMS, SCENES, NodeProcess, image_msg, load_scene
from diagnostic_msgs.msg import DiagnosticArray
from hri_msgs.msg import Expression, IdsList, NormalizedRegionOfInterest2D
from PIL import Image as PILImage
from rclpy.executors import MultiThreadedExecutor
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)

# The documented mapping (README "ROS4HRI", crates/lowres_fer/src/hri.rs): FER+ class -> hri_msgs
# constant (contempt counts as disgusted) and (valence, arousal) per class.
FERPLUS_TO_HRI = ["neutral", "happy", "surprised", "sad", "angry", "disgusted", "scared", "disgusted"]
VALENCE_AROUSAL = np.array(
    [[0.0, 0.0], [0.8, 0.3], [0.2, 0.8], [-0.7, -0.4], [-0.6, 0.6], [-0.7, 0.3], [-0.5, 0.7], [-0.6, 0.1]]
)
HRI_CONSTANTS = {
    getattr(Expression, n) for n in dir(Expression) if n.isupper() and isinstance(getattr(Expression, n), str)
}


def expected_expression(probs):
    folded = {}
    for p, label in zip(probs, FERPLUS_TO_HRI, strict=True):
        folded[label] = folded.get(label, 0.0) + float(p)
    label = max(folded, key=folded.get)  # ties: first in FER+ order, as the node
    va = np.asarray(probs) @ VALENCE_AROUSAL
    return label, folded[label], va[0], va[1]


def stamp_of(msg):
    return (msg.header.stamp.sec, msg.header.stamp.nanosec)


class Recorder:
    """Thread-safe store of received messages, by topic."""

    def __init__(self, node):
        self.node = node
        self.lock = threading.Lock()
        self.msgs = {}
        self.subs = {}

    def subscribe(self, msg_type, topic, qos=RELIABLE):
        if topic in self.subs:
            return

        def cb(msg):
            with self.lock:
                self.msgs.setdefault(topic, []).append(msg)

        self.subs[topic] = self.node.create_subscription(msg_type, topic, cb, qos)

    def find(self, topic, stamp):
        with self.lock:
            return next((m for m in self.msgs.get(topic, []) if stamp_of(m) == tuple(stamp)), None)

    def wait(self, topic, stamp, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.find(topic, stamp)
            if m is not None:
                return m
            time.sleep(0.02)
        return None


def wait_until(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise TimeoutError(what)


# ---- camera mode: REP-155 output --------------------------------------------------


# 640x640: faces of ~95 px, published at native size; 1024x1024 (the photo's
# own size): faces of ~150 px, reduced to 128x128.
@pytest.mark.parametrize("size", [(640, 640), None], ids=["native_crops", "reduced_crops"])
def test_camera_mode_publishes_rep155_topics(graph, size):
    # Reliable input: every frame of this test must arrive. max_missed 1: the
    # tracks end two blank frames after the faces leave, to see the clean-up.
    proc, peer = graph(params=["ros4hri.enabled:=true", "input.qos:=reliable", "tracking.max_missed:=1"])
    rec = Recorder(peer.node)
    rec.subscribe(IdsList, "/humans/faces/tracked")
    wait_until(lambda: peer.node.count_publishers("/humans/faces/tracked") > 0, 20, "no /humans/faces/tracked")
    rgb = load_scene("pexels_group3.jpg", size=size)
    h, w = rgb.shape[:2]

    first = peer.publish_until_answered(image_msg(rgb, stamp=(50, 1), frame_id="hri_cam"))
    tracked = rec.wait("/humans/faces/tracked", (50, 1), 10)
    assert tracked is not None, "no IdsList for the frame"
    assert tracked.header.frame_id == "hri_cam"
    ids = set(tracked.ids)
    assert {f"f{f.face_id}" for f in first.faces} <= ids
    assert len(ids) >= 3, ids
    for i in ids:
        assert i.startswith("f") and i[1:].isdigit() and len(i) <= 21, i
        rec.subscribe(NormalizedRegionOfInterest2D, f"/humans/faces/{i}/roi")
        rec.subscribe(Image, f"/humans/faces/{i}/cropped")
        rec.subscribe(Expression, f"/humans/faces/{i}/expression")
    # The per-face publishers exist once the track is confirmed.
    for i in ids:
        wait_until(lambda i=i: peer.node.count_publishers(f"/humans/faces/{i}/roi") > 0, 20, f"no roi publisher of {i}")

    # Same scene again (new stamps, the tracks continue) until every face's
    # topics answered one frame: discovery of our new subscriptions is async.
    for k in range(2, 30):
        stamp = (50, k)
        msg = peer.publish_until_answered(image_msg(rgb, stamp=stamp, frame_id="hri_cam"))
        faces = list(msg.faces)
        time.sleep(0.5)
        done = all(rec.find(f"/humans/faces/f{f.face_id}/roi", stamp) for f in faces) and all(
            rec.find(f"/humans/faces/f{f.face_id}/cropped", stamp) for f in faces
        )
        done = done and all(
            rec.find(f"/humans/faces/f{f.face_id}/expression", stamp)
            for f in faces
            if f.state == f.STATE_CLASSIFIED
        )
        if done and faces:
            break
    else:
        raise AssertionError(f"REP-155 topics incomplete for the faces of {stamp}")

    tracked = rec.wait("/humans/faces/tracked", stamp, 5)
    assert {f"f{f.face_id}" for f in faces} <= set(tracked.ids)
    classified = 0
    for f in faces:
        i = f"f{f.face_id}"
        roi = rec.find(f"/humans/faces/{i}/roi", stamp)
        assert roi.header.frame_id == "hri_cam"
        for v in (roi.xmin, roi.ymin, roi.xmax, roi.ymax, roi.c):
            assert 0.0 <= v <= 1.0, roi
        assert roi.xmin < roi.xmax and roi.ymin < roi.ymax
        # Consistent with the `emotions` message of the same frame.
        assert roi.xmin == pytest.approx(max(0.0, f.x / w), abs=1e-5)
        assert roi.ymin == pytest.approx(max(0.0, f.y / h), abs=1e-5)
        assert roi.xmax == pytest.approx(min(1.0, (f.x + f.width) / w), abs=1e-5)
        assert roi.ymax == pytest.approx(min(1.0, (f.y + f.height) / h), abs=1e-5)
        assert roi.c == pytest.approx(f.detector_score, abs=1e-6)

        crop = rec.find(f"/humans/faces/{i}/cropped", stamp)
        side = round(max(f.width, f.height))
        assert crop.encoding == "rgb8" and crop.width == crop.height == min(128, side), (crop.width, side)
        assert len(crop.data) == crop.width * crop.height * 3 and crop.step == crop.width * 3
        # The crop shows the face box of the frame (mean colour, with an
        # allowance for rounding of the box and area averaging).
        x0, y0 = round(f.x + f.width / 2 - side / 2), round(f.y + f.height / 2 - side / 2)
        region = rgb[max(0, y0) : y0 + side, max(0, x0) : x0 + side].reshape(-1, 3).mean(axis=0)
        got = np.frombuffer(bytes(crop.data), np.uint8).reshape(-1, 3).mean(axis=0)
        assert np.abs(region - got).max() < 12, (region, got)

        e = rec.find(f"/humans/faces/{i}/expression", stamp)
        if f.state != f.STATE_CLASSIFIED:
            assert e is None, "a gated face published an expression"
            continue
        classified += 1
        assert stamp_of(e) == stamp and e.header.frame_id == "hri_cam"
        assert e.expression in HRI_CONSTANTS
        probs = f.smoothed_probabilities if f.has_smoothed else f.probabilities
        label, conf, valence, arousal = expected_expression(probs)
        assert e.expression == label
        assert e.confidence == pytest.approx(conf, abs=1e-5)
        assert e.valence == pytest.approx(valence, abs=1e-5) and -1 <= e.valence <= 1
        assert e.arousal == pytest.approx(arousal, abs=1e-5) and -1 <= e.arousal <= 1
    assert classified >= 2
    sides = {min(128, round(max(f.width, f.height))) for f in faces}
    assert (max(sides) < 128) if size else (sides == {128}), sides

    # Faces gone: the tracks end, `tracked` empties, the publishers are removed.
    blank = np.zeros_like(rgb)
    for k in range(3):
        peer.publish_until_answered(image_msg(blank, stamp=(60, k), frame_id="hri_cam"))
    last = rec.wait("/humans/faces/tracked", (60, 2), 5)
    assert last is not None and list(last.ids) == []
    for i in ids:
        wait_until(
            lambda i=i: peer.node.count_publishers(f"/humans/faces/{i}/roi") == 0
            and peer.node.count_publishers(f"/humans/faces/{i}/expression") == 0,
            20,
            f"publishers of ended face {i} still there",
        )
    assert proc.alive()


def test_too_small_faces_are_tracked_without_expression(graph):
    # Every face below classifier.min_face_px: listed, with roi, but no expression.
    _, peer = graph(params=["ros4hri.enabled:=true", "input.qos:=reliable", "classifier.min_face_px:=1000.0"])
    rec = Recorder(peer.node)
    rec.subscribe(IdsList, "/humans/faces/tracked")
    wait_until(lambda: peer.node.count_publishers("/humans/faces/tracked") > 0, 20, "no /humans/faces/tracked")
    rgb = load_scene("pexels_group3.jpg", size=(640, 640))
    first = peer.publish_until_answered(image_msg(rgb, stamp=(80, 1)))
    assert first.faces and all(f.state == f.STATE_TOO_SMALL for f in first.faces)
    ids = list(rec.wait("/humans/faces/tracked", (80, 1), 10).ids)
    assert len(ids) >= 3, ids
    for i in ids:
        rec.subscribe(NormalizedRegionOfInterest2D, f"/humans/faces/{i}/roi")
        rec.subscribe(Expression, f"/humans/faces/{i}/expression")
    for k in range(2, 30):
        msg = peer.publish_until_answered(image_msg(rgb, stamp=(80, k)))
        time.sleep(0.3)
        if all(rec.find(f"/humans/faces/f{f.face_id}/roi", (80, k)) for f in msg.faces):
            break
    else:
        raise AssertionError("no roi for every face")
    # The expression publishers exist (and were matched long enough for the rois to arrive) but stay silent.
    time.sleep(1.0)
    with rec.lock:
        assert not any(rec.msgs.get(f"/humans/faces/{i}/expression") for i in ids)
    assert all(peer.node.count_publishers(f"/humans/faces/{i}/expression") == 1 for i in ids)


def test_ros4hri_without_tracking_is_rejected(ros):
    # REP-155 ids are track ids: the node refuses to start instead of inventing them.
    args = [str(NODE_BIN), "--ros-args", "--params-file", str(PARAMS)]
    args += ["-p", "ros4hri.enabled:=true", "-p", "tracking.enabled:=false"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode != 0, out
    text = out.stdout + out.stderr
    assert "'ros4hri.enabled' = true is invalid" in text and "tracking.enabled" in text, text


# ---- drop-in mode: another detector's faces ----------------------------------------


def dlib_faces(name):
    """Ground-truth face boxes (left, top, width, height) of a dlib_faces photo."""
    root = ET.parse(SCENES / "dlib_faces" / "testing.xml").getroot()
    for img in root.iter("image"):
        if img.get("file") == name:
            boxes = [tuple(int(b.get(k)) for k in ("left", "top", "width", "height")) for b in img.iter("box")]
            return np.asarray(PILImage.open(SCENES / "dlib_faces" / name).convert("RGB")), boxes
    raise FileNotFoundError(f"{name} not in dlib_faces/testing.xml")


class FaceDetectorPeer:
    """Plays a ROS4HRI face detector (like hri_face_detect): /humans/faces/tracked,
    per face `roi` and a 128x128 `cropped` image (upsampled from small faces, as
    that detector does), plus `camera_info` with the source size."""

    def __init__(self, ns):
        self.node = rclpy.create_node("ros4hri_detector_peer", namespace=ns)
        self.rec = Recorder(self.node)
        self.tracked = self.node.create_publisher(IdsList, "/humans/faces/tracked", RELIABLE)
        self.info = self.node.create_publisher(CameraInfo, "camera_info", RELIABLE)
        self.pubs = {}
        self.rec.subscribe(DiagnosticArray, "/diagnostics")
        self.executor = MultiThreadedExecutor(num_threads=2)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def face(self, i):
        if i not in self.pubs:
            self.pubs[i] = (
                self.node.create_publisher(NormalizedRegionOfInterest2D, f"/humans/faces/{i}/roi", RELIABLE),
                self.node.create_publisher(Image, f"/humans/faces/{i}/cropped", RELIABLE),
            )
            self.rec.subscribe(Expression, f"/humans/faces/{i}/expression")
        return self.pubs[i]

    def diagnostics(self):
        """Key/values of the newest lowres_fer diagnostics status ({} before one)."""
        with self.rec.lock:
            arrays = list(self.rec.msgs.get("/diagnostics", []))
        for arr in reversed(arrays):
            for st in arr.status:
                if "emotion recognition" in st.name:
                    return {kv.key: kv.value for kv in st.values}
        return {}

    def publish_ids(self, ids, stamp):
        m = IdsList()
        m.header.stamp.sec, m.header.stamp.nanosec = stamp
        m.ids = list(ids)
        self.tracked.publish(m)

    def publish_info(self, w, h):
        m = CameraInfo()
        m.width, m.height = w, h
        self.info.publish(m)

    def publish_face(self, i, rgb, box, stamp, frame_id="photo"):
        x, y, bw, bh = box
        h, w = rgb.shape[:2]
        roi = NormalizedRegionOfInterest2D()
        roi.header.stamp.sec, roi.header.stamp.nanosec = stamp
        roi.header.frame_id = frame_id
        roi.xmin, roi.ymin = x / w, y / h
        roi.xmax, roi.ymax = min(1.0, (x + bw) / w), min(1.0, (y + bh) / h)
        roi.c = 1.0
        crop = np.asarray(PILImage.fromarray(rgb[y : y + bh, x : x + bw]).resize((128, 128), PILImage.BILINEAR))
        roi_pub, crop_pub = self.face(i)
        roi_pub.publish(roi)
        time.sleep(0.05)  # the roi first: it sets the native size the crop is routed by
        crop_pub.publish(image_msg(crop, stamp=stamp, frame_id=frame_id))

    def close(self):
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()


@pytest.fixture
def drop_in(ros, tmp_path):
    ns = f"/t{os.getpid()}_dropin"
    proc = NodeProcess(ns, tmp_path, ["input.source:=ros4hri_faces", "input.qos:=reliable", "diagnostics_period:=0.2"])
    peer = FaceDetectorPeer(ns)
    try:
        wait_until(lambda: peer.tracked.get_subscription_count() > 0, 60, "node did not subscribe to tracked")
    except TimeoutError:
        raise AssertionError(f"drop-in node did not come up:\n{proc.output()}") from None
    yield proc, peer
    peer.close()
    rc = proc.stop()
    assert rc == 0, f"node did not shut down cleanly on SIGTERM (rc={rc}):\n{proc.output()}"


def test_drop_in_mode_classifies_another_detectors_faces(drop_in):
    proc, peer = drop_in
    rgb, boxes = dlib_faces("2008_002470.jpg")  # 6 faces, 37-53 px
    h, w = rgb.shape[:2]
    peer.publish_info(w, h)
    ids = [f"face{k}" for k in range(len(boxes))]
    # One more face whose roi says it is 5 px wide in the source: below
    # classifier.min_face_px, so no expression although its crop is 128x128.
    tiny = "tinyface"
    tiny_box = (boxes[0][0], boxes[0][1], 5, 5)
    for i in [*ids, tiny]:
        peer.face(i)
    stamp_base = 70
    got = {}
    for k in range(40):
        stamp = (stamp_base, k)
        peer.publish_ids([*ids, tiny], stamp)
        peer.publish_info(w, h)
        for i in [i for i in ids if i not in got]:
            if peer.pubs[i][1].get_subscription_count() > 0:
                peer.publish_face(i, rgb, boxes[ids.index(i)], stamp)
        if peer.pubs[tiny][1].get_subscription_count() > 0:
            peer.publish_face(tiny, rgb, tiny_box, stamp)
        time.sleep(0.5)
        for i in ids:
            if i not in got:
                with peer.rec.lock:
                    ms = list(peer.rec.msgs.get(f"/humans/faces/{i}/expression", []))
                if ms:
                    got[i] = ms[0]
        if len(got) == len(ids):
            break
    assert len(got) == len(ids), f"expressions for {sorted(got)} of {ids}:\n{proc.output()}"
    sent = {(stamp_base, k) for k in range(40)}
    for i, e in got.items():
        # Stamped with the crop's (= the source image's) time, not empty.
        assert stamp_of(e) in sent and e.header.frame_id == "photo", (i, stamp_of(e))
        assert e.expression in HRI_CONSTANTS, e.expression
        assert 0.0 < e.confidence <= 1.0
        assert -1.0 <= e.valence <= 1.0 and -1.0 <= e.arousal <= 1.0
    with peer.rec.lock:
        assert not peer.rec.msgs.get(f"/humans/faces/{tiny}/expression"), "a too-small face got an expression"

    # Bad input from the other detector is rejected and counted; the node goes on:
    # an id that cannot name a topic, and a roi that is not a normalised region.
    peer.publish_ids([*ids, "bad/id"], (stamp_base, 99))
    bad_roi = NormalizedRegionOfInterest2D()
    bad_roi.xmin, bad_roi.xmax, bad_roi.ymin, bad_roi.ymax = 0.8, 0.2, 0.1, 0.5
    peer.face(ids[1])[0].publish(bad_roi)
    wait_until(
        lambda: (kv := peer.diagnostics()) and int(kv["errors_input_bad_face_id"]) >= 1
        and int(kv["errors_input_bad_roi"]) >= 1,
        20,
        f"bad id / roi not counted: {peer.diagnostics()}",
    )
    kv = peer.diagnostics()
    assert int(kv["frames_processed"]) >= len(ids) and int(kv["errors_input_too_many_faces"]) == 0, kv
    assert "bad_face_id" in proc.output(), proc.output()

    # A face that leaves `tracked` loses its expression publisher.
    gone = ids[0]
    peer.publish_ids(ids[1:], (stamp_base, 100))
    wait_until(
        lambda: peer.node.count_publishers(f"/humans/faces/{gone}/expression") == 0,
        20,
        f"expression publisher of {gone} not removed",
    )
    assert peer.node.count_publishers(f"/humans/faces/{ids[1]}/expression") == 1
    assert proc.alive()
