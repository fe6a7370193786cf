"""The node and the bag tool are two shells over one frame step: the same
frames through the real node on a live graph and through `lowres_fer_bag` must
give identical FaceEmotionArray values (everything but processing_time_ms,
which is wall time).

The frames include a jump back in time (a looped recording), so the shared
stamp-reset policy is compared too, and tracking is on, so face ids and the
smoothed probabilities depend on every earlier frame.
"""

import os
import time

# Own DDS domain, localhost only: must be set before rclpy initialises.
os.environ.setdefault("ROS_DOMAIN_ID", str(150 + os.getpid() % 50))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

import bagtools
import numpy as np
import pytest
from live import TOPIC, running_node
from rosbags.rosbag2 import Reader

N_FORWARD = 10
N_LOOPED = 4


def face_values(f):
    def floats(v):
        # NaN (a keypoint the detector does not predict, e.g. RetinaFace's ears) compares
        # unequal to itself: spell it so that equal messages compare equal.
        return ["nan" if np.isnan(x) else float(np.float32(x)) for x in v]

    return (
        int(f.face_id),
        int(f.detection_age),
        floats([f.x, f.y, f.width, f.height, f.detector_score, f.face_size_px]),
        [floats([k.x, k.y, k.z]) for k in f.keypoints],
        int(f.state),
        str(f.classifier),
        floats(f.probabilities),
        bool(f.has_smoothed),
        floats(f.smoothed_probabilities),
        int(f.top_class),
        str(f.top_label),
        float(np.float32(f.top_confidence)),
    )


def values(m):
    """Every field of a FaceEmotionArray but the wall-time processing_time_ms."""
    h = m.header
    return (
        (int(h.stamp.sec), int(h.stamp.nanosec), str(h.frame_id)),
        int(m.image_width),
        int(m.image_height),
        [face_values(f) for f in m.faces],
    )


@pytest.mark.parametrize("fmt", ["raw", "jpeg"])
def test_node_and_bag_tool_publish_identical_values(run_tool, hamilton, tmp_path, fmt):
    frames = hamilton[:N_FORWARD] + hamilton[:N_LOOPED]
    stamps = [bagtools.stamp(i) for i in range(N_FORWARD)]
    # The loop starts over, one second before the first stamp.
    stamps += [bagtools.stamp(i) - 1_000_000_000 for i in range(N_LOOPED)]
    bag = tmp_path / "bag"
    bagtools.write_bag(bag, frames, fmt=fmt, topic=TOPIC, stamps_ns=stamps)

    out = tmp_path / "out"
    run_tool(bag, "--output", out, "--annotated", "none", check=True)
    offline = [m for _, m, _ in bagtools.read_bag(out)[0]["/lowres_fer/emotions"]]
    assert [
        m.header.stamp.sec * 1_000_000_000 + m.header.stamp.nanosec for m in offline
    ] == stamps

    with Reader(bag) as r:
        raws = [bytes(raw) for _, _, raw in r.messages()]
    assert len(raws) == len(frames)
    with running_node(tmp_path, "/parity", compressed=fmt == "jpeg") as (
        player,
        proc,
        log_path,
    ):

        def node_log():
            return log_path.read_text()[-3000:]

        # Every frame must be processed exactly once and in order (tracking
        # state depends on it): no re-sending, so wait until both directions
        # are matched before the first frame.
        deadline = time.monotonic() + 60
        while (
            player.image_pub.get_subscription_count() == 0
            or player.node.count_publishers(player.emotions_topic) == 0
        ):
            assert proc.poll() is None, f"node exited:\n{node_log()}"
            assert time.monotonic() < deadline, f"node never matched:\n{node_log()}"
            time.sleep(0.1)
        time.sleep(1.0)
        for i, raw in enumerate(raws):
            player.image_pub.publish(raw)
            player.wait_for(
                lambda i=i: len(player.stamps()) > i,
                60,
                f"frame {i} not answered:\n{node_log()}",
            )
        time.sleep(0.5)
        with player.lock:
            live = [m for _, m in player.emotions]
        assert "resetting face tracks" in node_log()

    assert len(live) == len(offline)
    assert sum(len(m.faces) > 0 for m in live) >= N_FORWARD // 2
    for i, (a, b) in enumerate(zip(live, offline)):
        assert values(a) == values(b), f"frame {i}: node and bag tool differ"
