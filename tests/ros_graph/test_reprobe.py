"""Regression tests of the holes a second hostile probe found in the node
(issue 29), on a real graph against the real binary. Each failed on the code
before the fix: a thin 1x16384 frame kept ~100 MB, the JPEG decoder's text
split a log line, params files that give the node nothing went unnoticed,
`-p detector.tiling:=off` stopped the node, and oversized or cut streams were
counted as `decode_failed`."""

import base64
import io
import time
import zlib

import numpy as np
import pytest
from conftest import PARAMS, NodeProcess, compressed_msg, image_msg, load_scene
from PIL import Image as PILImage
from rcl_interfaces.msg import ParameterType
from rcl_interfaces.srv import GetParameters
from sensor_msgs.msg import CompressedImage

# The probe's numbers: +100 MB after one 1x16384 frame, +49 MB after 1x8192.
# The detector's working memory no longer depends on the frame's height; what
# is left is allocator noise (a few MB), far from either.
MAX_GROWTH_MB = 20


def png_bytes(gray):
    buf = io.BytesIO()
    PILImage.fromarray(gray).save(buf, format="PNG")
    return buf.getvalue()


def as_compressed(data, fmt, stamp):
    msg = CompressedImage()
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
    msg.header.frame_id = "camera"
    msg.format = fmt
    msg.data = data
    return msg


def thin_frames(transport):
    """(label, message) for the probe's thin frames, stamps 10, 11, ..."""
    shapes = [(16384, 1), (1, 16384), (8192, 1)]  # (height, width)
    out = []
    for i, (h, w) in enumerate(shapes):
        stamp = (10 + i, 0)
        if transport == "raw":
            msg = image_msg(np.zeros((h, w, 3), np.uint8), stamp=stamp, encoding="mono8")
        else:
            msg = as_compressed(png_bytes(np.zeros((h, w), np.uint8)), "png", stamp)
        out.append((f"{w}x{h}", msg))
    return out


@pytest.mark.parametrize("transport", ["raw", "compressed"])
def test_thin_frames_do_not_keep_memory(graph, transport):
    # Routing off: this holds the detector's working memory. With the default learned routing
    # the wide expert classifies this photo's faces, and the allocator then keeps about 7 MB
    # more over the same face-free thin frames (+25 against +18 MB, no classifier runs on them).
    proc, peer = graph(transport=transport, params=["input.qos:=reliable", "classifier.routing:=off"])
    vga = load_scene("pexels_group3.jpg", size=(640, 480))

    def vga_msg(sec):
        if transport == "raw":
            return image_msg(vga, stamp=(sec, 0))
        return compressed_msg(vga, stamp=(sec, 0))

    # Steady state first: the detector's buffers for an ordinary frame exist.
    for sec in (1, 2, 3):
        peer.publish_until_answered(vga_msg(sec))
    rss_before = proc.rss_kb()
    figures = []
    for label, msg in thin_frames(transport):
        if transport == "compressed":
            # The probe's file: a tiny PNG, well under a kilobyte.
            assert len(msg.data) < 1000, len(msg.data)
        peer.publish_until_answered(msg)
        figures.append(f"{label}: {(proc.rss_kb() - rss_before) / 1024:+.1f} MB")
    # An ordinary frame after them: nothing the thin ones grew may stay.
    peer.publish_until_answered(vga_msg(20))
    growth_mb = (proc.rss_kb() - rss_before) / 1024
    print(f"{transport}: RSS {rss_before / 1024:.1f} MB after VGA; " + ", ".join(figures)
          + f"; after VGA again {growth_mb:+.1f} MB")
    assert growth_mb < MAX_GROWTH_MB, (
        f"RSS grew {growth_mb:.0f} MB over thin frames ({', '.join(figures)})")
    assert proc.alive()


# Issue 29, verbatim: an APP0 segment that declares more bytes than follow.
PROBE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(5) + b"\xff\xd9"


def test_decoder_text_cannot_split_a_log_line(graph):
    proc, peer = graph(transport="compressed", params=["input.qos:=reliable", "diagnostics_period:=0.2"])
    peer.publish(as_compressed(PROBE_JPEG, "jpeg", (5, 0)))
    kv = peer.wait_counter("errors_input_total", 1)
    assert not any(c in kv["last_error"] for c in "\n\r\0"), repr(kv["last_error"])
    # The rejection is one log line: it ends with the suppression count.
    deadline = time.monotonic() + 10
    while "rejected input image" not in proc.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [line for line in proc.output().splitlines() if "rejected input image" in line]
    assert lines, proc.output()
    assert all(line.endswith("similar suppressed]") for line in lines), proc.output()
    # And the node goes on.
    peer.publish_until_answered(compressed_msg(load_scene("pexels_group3.jpg", size=(64, 64)), stamp=(6, 0)))


def wait_for_output(proc, text, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in proc.output():
            return proc.output()
        if not proc.alive():
            break
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in the node's output:\n{proc.output()}")


@pytest.mark.parametrize("content", ["empty", "string", "garbage", "other_node", "default"])
def test_params_file_that_gives_nothing_is_warned_about(tmp_path, content):
    if content == "default":
        f = PARAMS
    else:
        f = tmp_path / f"{content}.yaml"
        f.write_bytes({
            "empty": b"",
            "string": b"just a string\n",
            # Printable noise: rcl takes it for one plain string. (Bytes
            # YAML cannot hold, such as NUL, rcl rejects as invalid YAML.)
            "garbage": base64.b64encode(bytes(range(256)) * 2),
            "other_node": b"other_node:\n  ros__parameters:\n    detector:\n      tiling: all\n",
        }[content])
    proc = NodeProcess(f"/params_{content}", tmp_path, params_file=f)
    try:
        out = wait_for_output(proc, "lowres_fer_node ready")
    finally:
        rc = proc.stop()
    assert rc == 0, out
    warnings = [line for line in out.splitlines() if "gives this node" in line]
    if content == "default":
        assert not warnings, out
    else:
        assert len(warnings) == 1, out
        assert "WARN" in warnings[0] and str(f) in warnings[0], warnings


def get_parameters(peer, ns, names, timeout=20.0):
    client = peer.node.create_client(GetParameters, f"{ns}/lowres_fer/get_parameters")
    try:
        assert client.wait_for_service(timeout_sec=timeout), "no get_parameters service"
        future = client.call_async(GetParameters.Request(names=names))
        deadline = time.monotonic() + timeout
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert future.done(), "get_parameters did not answer"
        return dict(zip(names, future.result().values, strict=True))
    finally:
        peer.node.destroy_client(client)


def test_off_values_can_be_given_as_written(graph):
    # rcl reads `off` as YAML's false; the node failed with "has type bool".
    _, peer = graph(params=["input.qos:=reliable", "detector.tiling:=off", "classifier.routing:=off"])
    msg = peer.publish_until_answered(image_msg(load_scene("pexels_group3.jpg", size=(640, 480)), stamp=(3, 0)))
    assert len(msg.faces) >= 1
    ns = peer.node.get_namespace()
    values = get_parameters(peer, ns, ["detector.tiling", "classifier.routing"])
    for name, v in values.items():
        assert v.type == ParameterType.PARAMETER_STRING and v.string_value == "off", (name, v)
    # The quoted spelling the README gives works as well.
    _, peer2 = graph(params=["input.qos:=reliable", "detector.tiling:='off'"])
    values = get_parameters(peer2, peer2.node.get_namespace(), ["detector.tiling"])
    assert values["detector.tiling"].string_value == "off"


def png_declaring(width, height):
    """A PNG whose header declares width x height (one tiny IDAT: the header
    alone must decide)."""
    def chunk(kind, body):
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    idat = zlib.compress(bytes(width + 1))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpeg_declaring(width, height):
    data = bytearray(compressed_msg(load_scene("pexels_group3.jpg", size=(64, 48))).data)
    sof = data.find(b"\xff\xc0")
    assert sof > 0, "baseline JPEG expected"
    data[sof + 5:sof + 7] = height.to_bytes(2, "big")
    data[sof + 7:sof + 9] = width.to_bytes(2, "big")
    return bytes(data)


def test_oversized_and_cut_streams_get_their_cause(graph):
    proc, peer = graph(transport="compressed", params=["input.qos:=reliable", "diagnostics_period:=0.2"])
    full = bytes(compressed_msg(load_scene("pexels_group3.jpg", size=(320, 240))).data)
    cut = full[: len(full) // 100]
    assert b"\xff\xda" not in cut, "the 1 % cut should end inside the header"
    bad = [("png", png_declaring(20000, 20000)), ("jpeg", jpeg_declaring(65500, 65500)), ("jpeg", cut)]
    for i, (fmt, data) in enumerate(bad):
        peer.publish(as_compressed(data, fmt, (1 + i, 0)))
        # One at a time: the keep-latest slot must not replace one unseen.
        kv = peer.wait_counter("errors_input_total", i + 1)
    causes = {k: int(v) for k, v in kv.items() if k.startswith("errors_input_") and k != "errors_input_total"}
    assert causes["errors_input_too_many_pixels"] == 2, causes
    assert causes["errors_input_truncated"] == 1, causes
    assert sum(causes.values()) == 3, causes
    peer.publish_until_answered(as_compressed(full, "jpeg", (4, 0)))
    with peer.lock:
        assert not {m.header.stamp.sec for m in peer.emotions} & {1, 2, 3}
    assert proc.alive()
