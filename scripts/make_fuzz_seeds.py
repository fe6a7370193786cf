"""Regenerate the fuzz seed corpora in fuzz/seeds/<target>/ from real data:
a scene photo of ../shared (downscaled: the seeds are committed and must stay
small) and rosbag2 bags written by the independent `rosbags` library.

    scripts/env.sh python scripts/make_fuzz_seeds.py   (after scripts/setup_bag_tests.sh)
"""

import io
import os
import shutil
import struct
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

ROOT = Path(__file__).resolve().parents[1]
SCENES = Path(os.environ.get("LOWRES_FER_SCENES", ROOT.parent / "shared" / "data" / "scenes"))
OUT = ROOT / "fuzz" / "seeds"
TS = get_typestore(Stores.ROS2_HUMBLE)
Image = TS.types["sensor_msgs/msg/Image"]
CompressedImage = TS.types["sensor_msgs/msg/CompressedImage"]
Header = TS.types["std_msgs/msg/Header"]
Time = TS.types["builtin_interfaces/msg/Time"]
ENCODINGS = ["rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16", "yuv422", "yuyv"]


def scene(size):
    return np.asarray(PILImage.open(SCENES / "pexels_group3.jpg").convert("RGB").resize(size))


def encode(rgb, fmt, **kw):
    buf = io.BytesIO()
    PILImage.fromarray(rgb).save(buf, format=fmt, **kw)
    return buf.getvalue()


def pixels(rgb, enc):
    """Payload of `rgb` in a ROS encoding (YUV: luma only with neutral chroma)."""
    h, w = rgb.shape[:2]
    gray = rgb.mean(axis=2).astype(np.uint8)
    if enc == "rgb8":
        return rgb.tobytes()
    if enc == "bgr8":
        return rgb[:, :, ::-1].tobytes()
    if enc in ("rgba8", "bgra8"):
        c = rgb if enc == "rgba8" else rgb[:, :, ::-1]
        return np.dstack([c, np.full((h, w), 255, np.uint8)]).tobytes()
    if enc == "mono8":
        return gray.tobytes()
    if enc == "mono16":
        return (gray.astype("<u2") * 257).tobytes()
    uv = np.full((h, w), 128, np.uint8)
    pair = np.stack([uv, gray], axis=2) if enc == "yuv422" else np.stack([gray, uv], axis=2)
    return pair.tobytes()


def image_msg(rgb, enc, sec):
    h, w = rgb.shape[:2]
    data = pixels(rgb, enc)
    return Image(header=Header(stamp=Time(sec=sec, nanosec=0), frame_id="camera"), height=h, width=w,
                 encoding=enc, is_bigendian=0, step=len(data) // h, data=np.frombuffer(data, np.uint8))


def compressed_msg(jpeg, sec):
    return CompressedImage(header=Header(stamp=Time(sec=sec, nanosec=0), frame_id="camera"), format="jpeg",
                           data=np.frombuffer(jpeg, np.uint8))


def bag(storage, rgb, jpeg):
    """The storage file of a 2-topic rosbag2 bag (raw + compressed, 2 frames each)."""
    tmp = Path(tempfile.mkdtemp())
    try:
        with Writer(tmp / "b", version=8, storage_plugin=storage) as w:
            raw = w.add_connection("/camera/image", Image.__msgtype__, typestore=TS)
            comp = w.add_connection("/camera/image/compressed", CompressedImage.__msgtype__, typestore=TS)
            for i in range(2):
                t = 1_700_000_000_000_000_000 + i * 33_000_000
                w.write(raw, t, TS.serialize_cdr(image_msg(rgb, "rgb8", i), Image.__msgtype__))
                w.write(comp, t, TS.serialize_cdr(compressed_msg(jpeg, i), CompressedImage.__msgtype__))
        (f,) = [p for p in (tmp / "b").iterdir() if p.suffix in (".mcap", ".db3")]
        return f.read_bytes()
    finally:
        shutil.rmtree(tmp)


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    seeds = {}
    small = scene((16, 12))
    raw = seeds.setdefault("raw_image", {})
    for i, enc in enumerate(ENCODINGS):
        data = pixels(small, enc)
        raw[enc] = struct.pack("<HHBBB", 16, 12, i, 2 if i % 2 else 0, 0) + data
    raw["padded_rgb8"] = struct.pack("<HHBBB", 16, 12, 0, 0, 4) + b"".join(
        row.tobytes() + bytes(4) for row in np.split(np.frombuffer(pixels(small, "rgb8"), np.uint8), 12))
    raw["string_encoding"] = struct.pack("<HHBBB", 16, 12, 200, 0, 0) + b"\x04mono" + pixels(small, "mono8")
    face = scene((64, 48))
    jpeg = encode(face, "JPEG", quality=75)
    seeds["compressed_image"] = {
        "jpeg": b"\x00" + jpeg,
        "progressive_jpeg": b"\x00" + encode(face, "JPEG", quality=60, progressive=True),
        "gray_jpeg": b"\x00" + encode(face.mean(axis=2).astype(np.uint8), "JPEG", quality=60),
        "png": b"\x01" + encode(scene((24, 18)), "PNG"),
        "rgba_png": b"\x01" + encode(np.dstack([scene((12, 9)), np.full((9, 12), 200, np.uint8)]), "PNG"),
        "truncated_jpeg": b"\x00" + jpeg[: len(jpeg) // 5],
    }
    seeds["cdr"] = {
        "image": TS.serialize_cdr(image_msg(small, "rgb8", 1), Image.__msgtype__),
        "image_yuyv": TS.serialize_cdr(image_msg(small, "yuyv", 2), Image.__msgtype__),
        "compressed": TS.serialize_cdr(compressed_msg(jpeg, 3), CompressedImage.__msgtype__),
    }
    tiny = scene((8, 6))
    tiny_jpeg = encode(scene((16, 12)), "JPEG", quality=50)
    seeds["mcap"] = {"rosbags_mcap": bag(StoragePlugin.MCAP, tiny, tiny_jpeg)}
    seeds["sqlite"] = {"rosbags_db3": bag(StoragePlugin.SQLITE3, tiny, tiny_jpeg)}
    seeds["manifest"] = {"manifest": (ROOT / "models" / "manifest.json").read_bytes()}
    seeds["params_file"] = {"default": (ROOT / "config" / "default.yaml").read_bytes()}
    total = 0
    for target, files in seeds.items():
        d = OUT / target
        d.mkdir(parents=True)
        for name, data in files.items():
            (d / name).write_bytes(data)
            total += len(data)
    print(f"{sum(len(f) for f in seeds.values())} seeds, {total} bytes in {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
