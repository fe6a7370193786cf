"""Live replay: a recorded bag played into the running node under simulated
time, as `ros2 bag play --clock` does on a robot (ros2 bag is not on PyPI, so the
player here is rclpy + rosbags: /clock from the bag's record times, then the
recorded CDR bytes of every image, unchanged).

Checks: every frame is answered, each FaceEmotionArray carries the header stamp
of its image (not the node's clock), and with use_sim_time:=true the node's own
clock follows /clock (its /diagnostics are stamped in bag time).
"""

import os
import time

# Own DDS domain, localhost only: must be set before rclpy initialises.
os.environ.setdefault("ROS_DOMAIN_ID", str(150 + os.getpid() % 50))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

import bagtools
import pytest
from live import TOPIC, running_node
from rosbags.rosbag2 import Reader


@pytest.fixture
def replay(tmp_path):
    # The robot-side launch argument use_sim_time:=true sets exactly this.
    with running_node(
        tmp_path, "/replay", "use_sim_time:=true", "diagnostics_period:=0.2"
    ) as r:
        yield r


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_replay_with_sim_time(replay, hamilton, tmp_path, storage):
    player, proc, log_path = replay
    bag = tmp_path / "bag"
    stamps = bagtools.write_bag(bag, hamilton[:20], storage=storage, topic=TOPIC)
    with Reader(bag) as r:
        msgs = [(t, bytes(raw)) for _, t, raw in r.messages()]
    assert len(msgs) == 20
    player.sim_ns = msgs[0][0]

    def node_log():
        return log_path.read_text()[-3000:]

    # Discovery is asynchronous: re-send the first frame until it is answered.
    deadline = time.monotonic() + 60
    while not player.stamps():
        assert proc.poll() is None, f"node exited:\n{node_log()}"
        assert time.monotonic() < deadline, f"node never answered:\n{node_log()}"
        player.image_pub.publish(msgs[0][1])
        time.sleep(0.5)
    # The rest in order, each after its /clock tick, paced by the node's answers
    # (the node keeps only the newest frame; paced playback loses none).
    for i, (t, raw) in enumerate(msgs[1:], start=1):
        player.sim_ns = t
        time.sleep(0.03)
        player.image_pub.publish(raw)
        player.wait_for(
            lambda i=i: stamps[i] in player.stamps(),
            30,
            f"frame {i} not answered:\n{node_log()}",
        )

    got = list(
        dict.fromkeys(player.stamps())
    )  # the first frame may be answered more than once
    assert got == stamps, (
        "emotions must carry the bag's header stamps, every frame, in order"
    )
    with player.lock:
        assert all(
            m.image_width == 640 and m.image_height == 360 for _, m in player.emotions
        )
        assert sum(len(m.faces) > 0 for _, m in player.emotions) >= 15

    # use_sim_time: the node's clock is /clock, so /diagnostics (stamped from the
    # node's clock) lie in bag time, not wall time.
    t_end = time.monotonic()
    player.wait_for(
        lambda: any(t > t_end for t, _ in player.diagnostics),
        10,
        f"no /diagnostics after playback:\n{node_log()}",
    )
    with player.lock:
        diag = [m for t, m in player.diagnostics if t > t_end]
    d = diag[-1].header.stamp.sec * 1_000_000_000 + diag[-1].header.stamp.nanosec
    lo, hi = msgs[0][0], msgs[-1][0] + 1_000_000_000
    assert lo <= d <= hi, (
        f"the node does not honour use_sim_time: /diagnostics stamped {d} ns, /clock was in [{lo}, {hi}] "
        f"(wall time now {time.time_ns()}). r2r 0.9.7 subscribes to /clock only when its bindings include "
        "rosgraph_msgs: add rosgraph_msgs to IDL_PACKAGE_FILTER (scripts/env.sh, CMakeLists.txt "
        "LOWRES_FER_IDL_PACKAGES) and rebuild the node"
    )
