"""The real node on a live graph, fed by an rclpy peer: shared by the replay and
the node-vs-bag-tool parity tests. The caller sets ROS_DOMAIN_ID (own domain,
localhost only) before importing this module."""

import contextlib
import os
import subprocess
import threading
import time
from pathlib import Path

import bagtools
import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from lowres_fer.msg import FaceEmotionArray
from rclpy.executors import MultiThreadedExecutor
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CompressedImage, Image

ROOT = bagtools.ROOT
# The node's models: the install's share/lowres_fer/models (found by the node
# itself, as on a robot) unless LOWRES_FER_MODELS names other ones. The bag tool
# reads the same files from the checkout (the install test checks their sha256s).
MODELS = os.environ.get("LOWRES_FER_MODELS")
NODE_BIN = Path(
    os.environ.get(
        "LOWRES_FER_NODE",
        bagtools.installed_prefix() / "lib" / "lowres_fer" / "lowres_fer_node",
    )
)
TOPIC = "/camera/image_raw"
RELIABLE = QoSProfile(
    depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST
)


def ns_time(ns):
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


class Player:
    """rclpy peer: publishes /clock and the bag's images, records the node's output."""

    def __init__(self, namespace, compressed=False):
        self.node = rclpy.create_node("lowres_fer_bag_player")
        self.clock_pub = self.node.create_publisher(Clock, "/clock", RELIABLE)
        self.topic = TOPIC + "/compressed" if compressed else TOPIC
        self.image_pub = self.node.create_publisher(
            CompressedImage if compressed else Image, self.topic, RELIABLE
        )
        self.emotions_topic = f"{namespace}/emotions"
        self.lock = threading.Lock()
        self.emotions, self.diagnostics = [], []
        self.node.create_subscription(
            FaceEmotionArray, self.emotions_topic, self._rec(self.emotions), RELIABLE
        )
        self.node.create_subscription(
            DiagnosticArray, "/diagnostics", self._rec(self.diagnostics), RELIABLE
        )
        self.sim_ns = None
        self.stop = threading.Event()
        self.executor = MultiThreadedExecutor(num_threads=2)
        self.executor.add_node(self.node)
        threading.Thread(target=self.executor.spin, daemon=True).start()
        # Like `ros2 bag play --clock`: /clock keeps ticking (here at 50 Hz)
        # with the time of the message being played.
        threading.Thread(target=self._clock, daemon=True).start()

    def _rec(self, store):
        def cb(msg):
            with self.lock:
                store.append((time.monotonic(), msg))

        return cb

    def _clock(self):
        while not self.stop.is_set():
            if self.sim_ns is not None:
                self.clock_pub.publish(Clock(clock=ns_time(self.sim_ns)))
            time.sleep(0.02)

    def stamps(self):
        with self.lock:
            return [
                m.header.stamp.sec * 1_000_000_000 + m.header.stamp.nanosec
                for _, m in self.emotions
            ]

    def wait_for(self, cond, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.02)
        raise TimeoutError(what)

    def close(self):
        self.stop.set()
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()


@contextlib.contextmanager
def running_node(tmp_path, namespace, *params, compressed=False):
    """The node binary in `namespace`, input remapped to TOPIC (reliable, deep
    history), the installed models (or MODELS), plus `name:=value` params; yields
    (player, process, log path)."""
    if not NODE_BIN.is_file():
        raise FileNotFoundError(f"{NODE_BIN} missing: run scripts/setup.sh")
    rclpy.init()
    log_path = tmp_path / "node.log"
    log = log_path.open("w")
    args = [str(NODE_BIN), "--ros-args", "-r", f"__ns:={namespace}"]
    if compressed:
        args += ["-r", f"image/compressed:={TOPIC}/compressed"]
        params = ("input.transport:=compressed", *params)
    else:
        args += ["-r", f"image:={TOPIC}"]
    params = (
        "input.qos:=reliable",
        "input.depth:=100",
        *([f"models_dir:={MODELS}"] if MODELS else []),
        *params,
    )
    for p in params:
        args += ["-p", p]
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    player = Player(namespace, compressed=compressed)
    try:
        yield player, proc, log_path
    finally:
        player.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        rclpy.shutdown()
