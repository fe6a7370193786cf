"""Live parameters (issue 26) on a real graph: `set_parameters` calls from an
rclpy peer to the real node, checked against the next frames it publishes.
Before this, every set answered "successful" and nothing changed."""

import os
import threading
import time
from types import SimpleNamespace

import pytest
import rclpy
from conftest import NodeProcess, image_msg, load_scene
from lowres_fer.msg import FaceEmotion
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import DescribeParameters, GetParameters, SetParameters
from rclpy.executors import SingleThreadedExecutor

READ_ONLY = "read-only: restart the node to change it"


def call(peer, srv, name, request, timeout=60.0):
    client = peer.node.create_client(srv, f"{peer.node.get_namespace()}/lowres_fer/{name}")
    try:
        assert client.wait_for_service(timeout_sec=timeout), f"no {name} service"
        future = client.call_async(request)
        deadline = time.monotonic() + timeout
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert future.done(), f"{name} did not answer"
        return future.result()
    finally:
        peer.node.destroy_client(client)


def value(v):
    if isinstance(v, bool):
        return ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=v)
    if isinstance(v, int):
        return ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=v)
    if isinstance(v, float):
        return ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=v)
    return ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=v)


def set_param(peer, name, v):
    """(successful, reason) of one set."""
    res = call(peer, SetParameters, "set_parameters", SetParameters.Request(parameters=[Parameter(name=name, value=value(v))]))
    (r,) = res.results
    return r.successful, r.reason


def get_param(peer, name):
    (v,) = call(peer, GetParameters, "get_parameters", GetParameters.Request(names=[name])).values
    return v


class Frames:
    """The scene with a new stamp each time: every frame gets its own answer."""

    def __init__(self, peer):
        self.peer = peer
        self.rgb = load_scene("pexels_group3.jpg", size=(640, 480))
        self.sec = 100

    def faces(self):
        self.sec += 1
        return self.peer.publish_until_answered(image_msg(self.rgb, stamp=(self.sec, 0))).faces


@pytest.fixture
def live(graph):
    # Full frame only: the test's threshold is the full-frame one, so neither
    # tiles nor the re-detections around tracked faces (both judged by
    # `detector.tile_score_threshold`) may add faces. Reliable input: each
    # frame must arrive.
    proc, peer = graph(params=["input.qos:=reliable", "detector.tiling:=off", "detector.redetect_tracked:=false"])
    return proc, peer, Frames(peer)


def test_a_live_threshold_changes_the_next_frame(live):
    proc, peer, frames = live
    before = frames.faces()
    assert len(before) >= 1
    assert get_param(peer, "detector.score_threshold").double_value == pytest.approx(0.55)

    assert set_param(peer, "detector.score_threshold", 1.0) == (True, "")
    assert get_param(peer, "detector.score_threshold").double_value == 1.0
    assert frames.faces() == []

    # An integer is a double here too, and the value in force is shown as one.
    assert set_param(peer, "detector.score_threshold", 0) == (True, "")
    v = get_param(peer, "detector.score_threshold")
    assert (v.type, v.double_value) == (ParameterType.PARAMETER_DOUBLE, 0.0)
    assert set_param(peer, "detector.score_threshold", 0.55) == (True, "")
    assert len(frames.faces()) == len(before)

    # The quality gate: the same faces, now too small to classify.
    assert set_param(peer, "classifier.min_face_px", 1000.0) == (True, "")
    gated = frames.faces()
    assert len(gated) == len(before)
    assert all(f.state == FaceEmotion.STATE_TOO_SMALL for f in gated), [f.state for f in gated]
    assert "in force from the next frame" in proc.output()
    assert proc.alive()


def test_re_detection_is_live_and_answers_to_the_tile_threshold(live):
    # The faces tracked so far are looked for again around their last boxes,
    # which the full-frame threshold does not judge.
    proc, peer, frames = live
    before = frames.faces()
    assert len(before) >= 1
    assert set_param(peer, "detector.score_threshold", 1.0) == (True, "")
    assert set_param(peer, "detector.redetect_tracked", True) == (True, "")
    kept = frames.faces()
    assert len(kept) == len(before), (len(kept), len(before))
    assert all(f.detection_age == 0 for f in kept), [f.detection_age for f in kept]
    assert set_param(peer, "detector.tile_score_threshold", 1.0) == (True, "")
    assert frames.faces() == []
    assert proc.alive()


@pytest.mark.parametrize(
    ("name", "v", "needle"),
    [
        ("detector.score_threshold", 1.5, "allowed [0.0, 1.0]"),
        ("detector.score_threshold", "high", "should be double"),
        ("tracking.enabled", 1, "should be bool"),
        ("detector.tiling", "sometimes", "allowed {off, rotating, all, pyramid}"),
        # Cross-check against the value in force (min_detector_score 0.66).
        ("classifier.min_score_without_geometry", 0.5, "classifier.min_detector_score (0.66"),
        ("detector.model", "back", READ_ONLY),
        ("classifier.precision", "int8", READ_ONLY),
        ("input.transport", "compressed", READ_ONLY),
        ("use_sim_time", True, READ_ONLY),
        ("detector.modle", 0.3, "Invalid parameter name"),
    ],
)
def test_refused_sets_say_why_and_change_nothing(live, name, v, needle):
    proc, peer, frames = live
    before = get_param(peer, name)
    ok, reason = set_param(peer, name, v)
    assert not ok and needle in reason, reason
    assert get_param(peer, name) == before
    assert len(frames.faces()) >= 1
    assert proc.alive()


def test_describe_says_which_are_read_only(live):
    _, peer, _ = live
    res = call(
        peer,
        DescribeParameters,
        "describe_parameters",
        DescribeParameters.Request(names=["detector.model", "detector.score_threshold"]),
    )
    model, threshold = res.descriptors
    assert model.description.endswith(READ_ONLY), model.description
    assert "live: applies from the next frame" in threshold.description, threshold.description


def test_drop_in_mode_refuses_live_changes(ros, tmp_path):
    # The drop-in worker (CropClassifier) takes no run-time changes: said, not ignored.
    ns = f"/t{os.getpid()}_params_dropin"
    proc = NodeProcess(ns, tmp_path, ["input.source:=ros4hri_faces"])
    node = rclpy.create_node("lowres_fer_params_peer", namespace=ns)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    try:
        peer = SimpleNamespace(node=node)
        ok, reason = set_param(peer, "detector.score_threshold", 0.9)
        assert not ok and "drop-in mode" in reason, reason
        assert get_param(peer, "detector.score_threshold").double_value == pytest.approx(0.55)
        ok, reason = set_param(peer, "ros4hri.crop_topic", "aligned")
        assert not ok and READ_ONLY in reason, reason
        assert proc.alive(), proc.output()
    finally:
        executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rc = proc.stop()
    assert rc == 0, proc.output()
