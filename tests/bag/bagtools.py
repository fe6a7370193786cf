"""Build rosbag2 test bags from the shared scenes with the pure-Python `rosbags`
library (an implementation independent of the Rust reader under test).

Also a command line for scripts/bag_bench.sh:
    python tests/bag/bagtools.py hamilton OUT --storage mcap [--frames N] [--format raw|jpeg]
"""

import argparse
import io
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

ROOT = Path(__file__).resolve().parents[2]


def installed_prefix(pkg="lowres_fer"):
    """Install prefix of `pkg` as `ros2 run` finds it: the ament index on
    AMENT_PREFIX_PATH (`source install/setup.bash`, which scripts/env.sh does)."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        return Path(get_package_prefix(pkg))
    except PackageNotFoundError as e:
        raise RuntimeError(
            f"{pkg} is not on AMENT_PREFIX_PATH: run scripts/setup.sh and the tests "
            "through scripts/env.sh (it sources install/setup.bash)"
        ) from e

SCENES = Path(
    os.environ.get("LOWRES_FER_SCENES", ROOT.parent / "shared" / "data" / "scenes")
)
HAMILTON = SCENES / "short_hamilton_clip.mp4"
FPS = 29.97
# A realistic epoch so stamps are large 64-bit values (catches 32-bit truncation).
START_NS = 1_700_000_000_000_000_000
# Receive (log) time lags the capture stamp, as in a real recording: tests can
# tell the two apart.
LOG_DELAY_NS = 4_000_000

TYPESTORE = get_typestore(Stores.ROS2_HUMBLE)
Image = TYPESTORE.types["sensor_msgs/msg/Image"]
CompressedImage = TYPESTORE.types["sensor_msgs/msg/CompressedImage"]
Header = TYPESTORE.types["std_msgs/msg/Header"]
Time = TYPESTORE.types["builtin_interfaces/msg/Time"]
String = TYPESTORE.types["std_msgs/msg/String"]

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}


def require(path):
    if not Path(path).exists():
        raise FileNotFoundError(
            f"{path} missing (set LOWRES_FER_SCENES to the shared scenes)"
        )
    return Path(path)


def hamilton_frames(n=None):
    """RGB frames (HxWx3 uint8) of the Hamilton clip, decoded by ffmpeg."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg not found: run scripts/setup_bag_tests.sh")
    clip = require(HAMILTON)
    cmd = [ffmpeg, "-v", "error", "-i", str(clip)]
    if n is not None:
        cmd += ["-frames:v", str(n)]
    cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(cmd, check=True, capture_output=True).stdout
    w, h = 640, 360
    frames = np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)
    if frames.shape[0] == 0:
        raise RuntimeError(f"ffmpeg decoded no frames from {clip}")
    return list(frames)


def dlib_scenes():
    """[(rgb array, [(x, y, w, h), ...])] of the hand-labelled PASCAL photos."""
    out = []
    for xml in ("training.xml", "testing.xml"):
        root = ET.parse(require(SCENES / "dlib_faces" / xml)).getroot()
        for img in root.iter("image"):
            rgb = np.asarray(
                PILImage.open(SCENES / "dlib_faces" / img.get("file")).convert("RGB")
            )
            boxes = [
                (
                    float(b.get("left")),
                    float(b.get("top")),
                    float(b.get("width")),
                    float(b.get("height")),
                )
                for b in img.iter("box")
            ]
            out.append((rgb, boxes))
    return out


def stamp(i):
    return START_NS + round(i * 1e9 / FPS)


def header(ns, frame_id="camera_optical"):
    return Header(
        stamp=Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000),
        frame_id=frame_id,
    )


def image_msg(rgb, ns):
    h, w = rgb.shape[:2]
    return Image(
        header=header(ns),
        height=h,
        width=w,
        encoding="rgb8",
        is_bigendian=0,
        step=w * 3,
        data=np.ascontiguousarray(rgb).reshape(-1),
    )


def jpeg_msg(rgb, ns):
    buf = io.BytesIO()
    PILImage.fromarray(rgb).save(buf, format="JPEG", quality=92)
    return CompressedImage(
        header=header(ns), format="jpeg", data=np.frombuffer(buf.getvalue(), np.uint8)
    )


def write_bag(
    path,
    frames,
    storage="mcap",
    fmt="raw",
    topic="/camera/image_raw",
    extra_string_topic=None,
    stamps_ns=None,
):
    """Write `frames` as a rosbag2 directory; returns the list of header stamps (ns).
    `stamps_ns`: the header stamp of each frame (default: 29.97 fps from START_NS);
    record times stay increasing whatever the stamps do."""
    path = Path(path)
    if path.exists():
        shutil.rmtree(path)
    stamps = []
    msgtype = Image.__msgtype__ if fmt == "raw" else CompressedImage.__msgtype__
    # Version 8 is what Humble..Jazzy-era rosbag2 reads; rosbags writes 8 or 9.
    with Writer(path, version=8, storage_plugin=STORAGES[storage]) as w:
        conn = w.add_connection(topic, msgtype, typestore=TYPESTORE)
        sconn = None
        if extra_string_topic:
            sconn = w.add_connection(
                extra_string_topic, String.__msgtype__, typestore=TYPESTORE
            )
        for i, rgb in enumerate(frames):
            ns = stamp(i) if stamps_ns is None else stamps_ns[i]
            log_ns = stamp(i) + LOG_DELAY_NS
            msg = image_msg(rgb, ns) if fmt == "raw" else jpeg_msg(rgb, ns)
            w.write(conn, log_ns, TYPESTORE.serialize_cdr(msg, msgtype))
            if sconn is not None:
                w.write(
                    sconn,
                    log_ns,
                    TYPESTORE.serialize_cdr(String(data=f"hi {i}"), String.__msgtype__),
                )
            stamps.append(ns)
    return stamps


def read_bag(path):
    """{topic: [(log_time, message, raw bytes)]} in file order, decoded with the
    schemas stored in the bag (what Foxglove does too); plus {topic: type} and
    {topic: message definition}."""
    out = {}
    with AnyReader([Path(path)], default_typestore=TYPESTORE) as r:
        for conn, t, raw in r.messages():
            out.setdefault(conn.topic, []).append(
                (t, r.deserialize(raw, conn.msgtype), bytes(raw))
            )
        types = {c.topic: c.msgtype for c in r.connections}
        defs = {c.topic: c.msgdef for c in r.connections}
    return out, types, defs


def storage_file(bag_dir):
    """The single storage file (.mcap or .db3) of a bag directory."""
    files = sorted(p for p in Path(bag_dir).iterdir() if p.suffix in (".mcap", ".db3"))
    assert len(files) == 1, files
    return files[0]


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("what", choices=["hamilton"])
    ap.add_argument("out")
    ap.add_argument("--storage", choices=sorted(STORAGES), default="mcap")
    ap.add_argument("--frames", type=int, default=None)
    ap.add_argument("--format", choices=["raw", "jpeg"], default="raw")
    a = ap.parse_args()
    frames = hamilton_frames(a.frames)
    write_bag(a.out, frames, storage=a.storage, fmt=a.format)
    print(f"wrote {len(frames)} frames to {a.out} ({a.storage}, {a.format})")


if __name__ == "__main__":
    main()
