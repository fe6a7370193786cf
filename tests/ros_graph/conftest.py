"""Real-graph test harness: starts the real lowres_fer_node binary and talks to
it from an rclpy peer over Fast DDS. No mocks.

Run through the environment wrapper (scripts/test.sh does):
    scripts/env.sh python -m pytest tests/ros_graph
Missing pieces (rclpy, our message bindings, the node binary, the scenes) are
errors, never skips: a test suite that skips is a suite that lies.
"""

import io
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

ROOT = Path(__file__).resolve().parents[2]
SCENES = Path(os.environ.get("LOWRES_FER_SCENES", ROOT.parent / "shared" / "data" / "scenes"))


def _installed(pkg="lowres_fer"):
    """(prefix, share) of the package the way `ros2 run`/`ros2 launch` find it: the
    ament index on AMENT_PREFIX_PATH, which `source install/setup.bash` (scripts/env.sh)
    puts this checkout's colcon install on."""
    from ament_index_python.packages import (
        PackageNotFoundError,
        get_package_prefix,
        get_package_share_directory,
    )

    try:
        return Path(get_package_prefix(pkg)), Path(get_package_share_directory(pkg))
    except PackageNotFoundError as e:
        raise RuntimeError(
            f"{pkg} is not installed on AMENT_PREFIX_PATH: run scripts/setup.sh, then the tests "
            "through scripts/env.sh (it sources install/setup.bash)"
        ) from e


PREFIX, SHARE = _installed()
# The installed executable and parameter file; the node finds its models in
# SHARE/models itself (models_dir empty).
NODE_BIN = Path(os.environ.get("LOWRES_FER_NODE", PREFIX / "lib" / "lowres_fer" / "lowres_fer_node"))
PARAMS = SHARE / "config" / "default.yaml"

# Isolate from other graphs on this machine (other engineers' tests, demos):
# a per-run DDS domain and localhost-only discovery. Must be set before rclpy
# initialises; the node inherits it.
os.environ.setdefault("ROS_DOMAIN_ID", str(100 + os.getpid() % 100))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from lowres_fer.msg import FaceEmotionArray
from rclpy.executors import MultiThreadedExecutor
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image


def load_scene(name, size=None):
    path = SCENES / name
    if not path.is_file():
        raise FileNotFoundError(f"test scene {path} missing (set LOWRES_FER_SCENES)")
    img = PILImage.open(path).convert("RGB")
    if size is not None:
        img = img.resize(size)
    return np.asarray(img)


def image_msg(rgb, stamp=(0, 0), frame_id="camera", encoding="rgb8"):
    """sensor_msgs/Image from an HxWx3 uint8 RGB array, converted to `encoding`."""
    h, w = rgb.shape[:2]
    if encoding == "rgb8":
        data = rgb
    elif encoding == "bgr8":
        data = rgb[:, :, ::-1]
    elif encoding == "rgba8":
        data = np.dstack([rgb, np.full((h, w), 255, np.uint8)])
    elif encoding == "bgra8":
        data = np.dstack([rgb[:, :, ::-1], np.full((h, w), 255, np.uint8)])
    elif encoding == "mono8":
        data = rgb.mean(axis=2).astype(np.uint8)
    elif encoding == "mono16":
        data = (rgb.mean(axis=2).astype(np.uint16) * 257).astype("<u2")
    elif encoding in ("yuv422", "uyvy", "yuyv"):
        f = rgb.astype(np.float32)
        y = 16 + 0.257 * f[..., 0] + 0.504 * f[..., 1] + 0.098 * f[..., 2]
        u = 128 - 0.148 * f[..., 0] - 0.291 * f[..., 1] + 0.439 * f[..., 2]
        v = 128 + 0.439 * f[..., 0] - 0.368 * f[..., 1] - 0.071 * f[..., 2]
        y, u, v = (np.clip(np.rint(c), 0, 255).astype(np.uint8) for c in (y, u, v))
        u2 = u[:, 0::2]
        v2 = v[:, 0::2]
        data = np.empty((h, w * 2), np.uint8)
        if encoding == "yuyv":
            data[:, 0::4], data[:, 1::4], data[:, 2::4], data[:, 3::4] = y[:, 0::2], u2, y[:, 1::2], v2
        else:
            data[:, 0::4], data[:, 1::4], data[:, 2::4], data[:, 3::4] = u2, y[:, 0::2], v2, y[:, 1::2]
    else:
        raise ValueError(encoding)
    data = np.ascontiguousarray(data)
    msg = Image()
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = h, w
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = data.nbytes // h
    msg.data = data.tobytes()
    return msg


def compressed_msg(rgb, fmt="jpeg", stamp=(0, 0), frame_id="camera"):
    buf = io.BytesIO()
    PILImage.fromarray(rgb).save(buf, format="JPEG" if fmt == "jpeg" else "PNG", quality=92)
    msg = CompressedImage()
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
    msg.header.frame_id = frame_id
    msg.format = fmt
    msg.data = buf.getvalue()
    return msg


class Peer:
    """rclpy node that feeds the node under test and records what it publishes."""

    def __init__(self, ns):
        self.node = rclpy.create_node("lowres_fer_test_peer", namespace=ns)
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
        self.lock = threading.Lock()
        self.emotions, self.annotated, self.diagnostics = [], [], []
        self.image_pub = self.node.create_publisher(Image, "image", reliable)
        self.compressed_pub = self.node.create_publisher(CompressedImage, "image/compressed", reliable)
        self.node.create_subscription(FaceEmotionArray, "emotions", self._rec(self.emotions), reliable)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._rec(self.diagnostics), reliable)
        self.annotated_sub = None
        self.executor = MultiThreadedExecutor(num_threads=2)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def _rec(self, store):
        def cb(msg):
            with self.lock:
                store.append(msg)

        return cb

    def subscribe_annotated(self):
        qos = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
        self.annotated_sub = self.node.create_subscription(Image, "image_annotated", self._rec(self.annotated), qos)

    def wait_connected(self, transport="raw", timeout=20.0):
        pub = self.image_pub if transport == "raw" else self.compressed_pub
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pub.get_subscription_count() > 0 and self.node.count_publishers("emotions") > 0:
                return
            time.sleep(0.05)
        raise TimeoutError("node under test did not appear in the graph")

    def publish(self, msg):
        (self.compressed_pub if isinstance(msg, CompressedImage) else self.image_pub).publish(msg)

    def publish_until_answered(self, msg, timeout=120.0, every=2.0):
        """Publish `msg` (again every `every` s: best-effort input may lose a large
        frame) until the FaceEmotionArray with its stamp arrives; return that."""
        stamp = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        deadline = time.monotonic() + timeout
        while True:
            self.publish(msg)
            try:
                return self.wait_emotions(stamp, timeout=min(every, max(0.0, deadline - time.monotonic())))
            except TimeoutError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"no emotions message with stamp {stamp} within {timeout}s") from None

    def handshake(self, transport="raw", timeout=30.0):
        """Discovery is asynchronous on both sides: a publisher that sees the
        subscription may still be unknown to it. A tiny frame answered end to end
        proves the whole path is connected."""
        tiny = np.zeros((32, 32, 3), np.uint8)
        msg = image_msg(tiny, stamp=(0, 1)) if transport == "raw" else compressed_msg(tiny, "png", stamp=(0, 1))
        self.publish_until_answered(msg, timeout=timeout, every=0.5)

    def wait_emotions(self, stamp, timeout=30.0):
        """The FaceEmotionArray answering the input with this stamp."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for m in self.emotions:
                    if (m.header.stamp.sec, m.header.stamp.nanosec) == tuple(stamp):
                        return m
            time.sleep(0.02)
        raise TimeoutError(f"no emotions message with stamp {stamp} within {timeout}s")

    def latest_diagnostics(self, timeout=5.0):
        """Key/value dict of the newest lowres_fer diagnostics status (waits for
        one newer than the call, up to `timeout`; timeout=0 takes the newest)."""
        deadline = time.monotonic() + timeout
        n0 = len(self.diagnostics)
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.diagnostics) > n0:
                    break
            time.sleep(0.05)
        with self.lock:
            for arr in reversed(self.diagnostics):
                for st in arr.status:
                    if "emotion recognition" in st.name:
                        return {kv.key: kv.value for kv in st.values}, st
        raise TimeoutError("no lowres_fer diagnostics received")

    def wait_counter(self, key, at_least, timeout=20.0):
        """Poll /diagnostics until value `key` reaches `at_least`; return all values."""
        deadline = time.monotonic() + timeout
        kv = {}
        while time.monotonic() < deadline:
            try:
                kv, _ = self.latest_diagnostics(timeout=0)
            except TimeoutError:
                kv = {}
            if int(kv.get(key, -1)) >= at_least:
                return kv
            time.sleep(0.05)
        raise TimeoutError(f"diagnostics {key} did not reach {at_least}: {kv}")

    def close(self):
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()


class NodeProcess:
    def __init__(self, ns, tmp_path, params=(), params_file=PARAMS):
        if not NODE_BIN.is_file():
            raise FileNotFoundError(f"{NODE_BIN} missing: run scripts/setup.sh")
        self.log_path = tmp_path / f"node{ns.replace('/', '_')}.log"
        args = [str(NODE_BIN), "--ros-args", "-r", f"__ns:={ns}"]
        if params_file:
            args += ["--params-file", str(params_file)]
        # Lets a run point every node at another models directory (e.g. a freshly
        # exported classifier) without touching the installed one.
        if os.environ.get("LOWRES_FER_TEST_MODELS_DIR"):
            args += ["-p", f"models_dir:={os.environ['LOWRES_FER_TEST_MODELS_DIR']}"]
        for p in params:
            args += ["-p", p]
        # Kept open for the node's lifetime (closed in stop()), hence no `with`.
        self.log = open(self.log_path, "w")  # noqa: SIM115
        # Started outside the checkout, as on a robot: no ./models to fall back on, the
        # models must come from the install's share/lowres_fer/models.
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, cwd=tmp_path)

    def output(self):
        self.log.flush()
        return self.log_path.read_text()

    def alive(self):
        return self.proc.poll() is None

    def rss_kb(self):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture(scope="session")
def ros():
    rclpy.init()
    yield
    rclpy.shutdown()


_counter = [0]


@pytest.fixture
def graph(ros, tmp_path):
    """Factory: graph(params=[...], transport=...) -> (node process, peer), in a
    namespace of its own so tests never see each other's messages."""
    made = []

    def make(params=(), transport="raw", annotated=False, params_file=PARAMS):
        _counter[0] += 1
        ns = f"/t{os.getpid()}_{_counter[0]}"
        if transport == "compressed":
            params = list(params) + ["input.transport:=compressed"]
        proc = NodeProcess(ns, tmp_path, params, params_file)
        peer = Peer(ns)
        made.append((proc, peer))
        if annotated:
            peer.subscribe_annotated()
        try:
            peer.wait_connected(transport)
            peer.handshake(transport)
        except TimeoutError:
            raise AssertionError(f"node did not come up; its output:\n{proc.output()}") from None
        return proc, peer

    yield make
    for proc, peer in made:
        peer.close()
        rc = proc.stop()
        assert rc == 0, f"node did not shut down cleanly on SIGTERM (rc={rc}):\n{proc.output()}"
