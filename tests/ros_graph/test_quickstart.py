"""The README's quick start, as written: the node command of its step 2 started with
exactly the arguments the README gives, a camera played as a driver publishes it
(best effort, 15 Hz, on the absolute /image_raw), and the topics the README tells a
user to watch in RViz (`/image_annotated`), Foxglove (`/image_annotated/compressed`)
and `ros2 topic echo` (`/emotions`). If the README's command, topic names or QoS
advice drift from what the node does, this fails.

Absolute names (no test namespace): the README's names are what is checked; the
per-run DDS domain of conftest keeps other graphs out.
"""

import io
import re
import shlex
import subprocess
import threading
import time

import numpy as np
import rclpy
from conftest import NODE_BIN, ROOT, load_scene
from lowres_fer.msg import FaceEmotionArray
from PIL import Image as PILImage
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import (
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from sensor_msgs.msg import CompressedImage, Image


def quickstart_node_args():
    """The --ros-args of the README quick start's `ros2 run lowres_fer lowres_fer_node` line."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    lines = [ln.strip() for ln in section.splitlines() if ln.strip().startswith("ros2 run lowres_fer lowres_fer_node")]
    assert len(lines) == 1, f"the quick start should have one node command, has {lines}"
    args = shlex.split(lines[0].split("#", 1)[0])[4:]
    assert args and args[0] == "--ros-args", args
    return args, section


def camera_frame(rgb, stamp_ns):
    msg = Image()
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    msg.header.frame_id = "camera_optical_frame"
    msg.height, msg.width = rgb.shape[:2]
    msg.encoding = "rgb8"
    msg.step = rgb.shape[1] * 3
    msg.data = rgb.tobytes()
    return msg


def test_readme_quick_start_runs_as_written(ros, tmp_path):
    args, section = quickstart_node_args()
    camera = dict(a.split(":=", 1) for a in args if a.startswith("image:="))
    assert camera.get("image") == "/image_raw", args
    for topic in ("/image_annotated", "/image_annotated/compressed", "/emotions"):
        assert f"`{topic}`" in section or f" {topic}" in section, f"quick start does not name {topic}"

    log_path = tmp_path / "quickstart_node.log"
    with open(log_path, "w") as log:
        # `ros2 run lowres_fer lowres_fer_node ARGS` runs the installed executable with ARGS.
        proc = subprocess.Popen([str(NODE_BIN), *args], stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
        node = rclpy.create_node("quickstart_camera_and_viewers")
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        spin = threading.Thread(target=executor.spin, daemon=True)
        spin.start()
        try:
            got = {"emotions": [], "raw": [], "jpeg": []}
            lock = threading.Lock()

            def keep(key):
                def cb(msg):
                    with lock:
                        got[key].append(msg)

                return cb

            viewer_qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
            node.create_subscription(FaceEmotionArray, "/emotions", keep("emotions"), 10)
            node.create_subscription(Image, "/image_annotated", keep("raw"), viewer_qos)
            node.create_subscription(CompressedImage, "/image_annotated/compressed", keep("jpeg"), viewer_qos)
            # The camera driver: sensor-data QoS (best effort), as usb_cam and v4l2_camera publish.
            cam = node.create_publisher(Image, "/image_raw", qos_profile_sensor_data)
            rgb = load_scene("pexels_group3.jpg", size=(640, 480))

            deadline = time.monotonic() + 90
            i = 0
            while time.monotonic() < deadline and proc.poll() is None:
                cam.publish(camera_frame(rgb, 1_000_000_000 + i * 66_666_667))
                i += 1
                time.sleep(1 / 15)
                with lock:
                    if len(got["emotions"]) >= 10 and got["raw"] and got["jpeg"]:
                        break
            log.flush()
            assert proc.poll() is None, f"node exited:\n{log_path.read_text()}"
            with lock:
                emotions, raw, jpeg = list(got["emotions"]), list(got["raw"]), list(got["jpeg"])
            assert len(emotions) >= 10, f"{len(emotions)} /emotions for {i} frames:\n{log_path.read_text()}"
            with_faces = [m for m in emotions if len(m.faces) >= 3]
            assert len(with_faces) >= len(emotions) // 2, [len(m.faces) for m in emotions]
            assert all(m.header.frame_id == "camera_optical_frame" for m in emotions)
            assert raw and (raw[-1].width, raw[-1].height, raw[-1].encoding) == (640, 480, "rgb8")
            assert jpeg, "no /image_annotated/compressed"
            picture = PILImage.open(io.BytesIO(bytes(jpeg[-1].data)))
            assert (picture.format, picture.size) == ("JPEG", (640, 480))
            # The README quotes the JPEG's size against the raw frame's: keep it honest.
            kb = len(jpeg[-1].data) / 1000
            quoted = re.search(r"a JPEG of (\d+)[–-](\d+) KB", section)
            assert quoted, "the quick start should say how large the JPEG is"
            assert int(quoted.group(1)) <= kb <= int(quoted.group(2)), f"JPEG is {kb:.0f} KB"
            assert np.asarray(picture.convert("RGB")).std() > 10
        finally:
            executor.shutdown(timeout_sec=1.0)
            node.destroy_node()
            proc.terminate()
            try:
                rc = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
    assert rc == 0, f"node did not stop cleanly (rc {rc}):\n{log_path.read_text()}"
