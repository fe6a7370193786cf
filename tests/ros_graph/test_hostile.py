"""Regression tests of the defects a hostile-input probe found in the node
(issue 11), on a real graph against the real binary. Each failed on the code
before the fix: panics on rcl argument errors, a truncated JPEG published as a
grey frame, a small PNG declaring 16384x16384 pixels taking 1.9 GB, wire
strings logged raw, a classifier failure publishing nothing for the frame."""

import hashlib
import json
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest
from conftest import NODE_BIN, compressed_msg, image_msg, load_scene


def run_node(args, timeout=30):
    out = subprocess.run([str(NODE_BIN), "--ros-args", *args], capture_output=True, text=True,
                         timeout=timeout, check=False)
    return out.returncode, out.stdout + out.stderr


@pytest.mark.parametrize("case", ["invalid_yaml", "missing_params_file", "empty_value", "params_file_without_path"])
def test_rcl_argument_errors_exit_cleanly(tmp_path, case):
    if case == "invalid_yaml":
        f = tmp_path / "bad.yaml"
        f.write_text("/**:\n  ros__parameters:\n    input: {transport: [raw\n")
        args = ["--params-file", str(f)]
    elif case == "missing_params_file":
        args = ["--params-file", str(tmp_path / "no_such.yaml")]
    elif case == "empty_value":
        args = ["-p", "detector.model:="]
    else:
        args = ["--params-file"]
    rc, out = run_node(args)
    assert rc == 1, (rc, out)
    assert "panicked" not in out and "RUST_BACKTRACE" not in out, out
    assert "invalid ROS arguments" in out, out


def test_truncated_jpeg_is_rejected_counted_not_published(graph):
    proc, peer = graph(transport="compressed", params=["input.qos:=reliable", "diagnostics_period:=0.2"])
    rgb = load_scene("pexels_group7.jpg")
    data = bytes(compressed_msg(rgb).data)
    for i, frac in enumerate([0.01, 0.2, 0.9]):
        cut = compressed_msg(rgb, stamp=(10 + i, 0))
        cut.data = data[: int(len(data) * frac)]
        peer.publish(cut)
        peer.wait_counter("errors_input_truncated", i + 1)
        # A good frame between the bad ones: the keep-latest slot must not
        # replace a bad frame before it was looked at.
        peer.publish_until_answered(compressed_msg(rgb, stamp=(100 + i, 0)))
    with peer.lock:
        stamps = {m.header.stamp.sec for m in peer.emotions}
    assert not stamps & {10, 11, 12}, "a truncated frame was published as a result"
    kv, _ = peer.latest_diagnostics(timeout=5)
    assert int(kv["errors_input_truncated"]) == 3, kv
    assert int(kv["errors_input_decode_failed"]) == 0, kv
    assert proc.alive()


def png_bomb(side=16384):
    """A valid grayscale PNG of side x side zero pixels: ~260 KB on the wire,
    268 MB decoded, 805 MB as RGB (the probe's file)."""
    def chunk(kind, body):
        return (len(body).to_bytes(4, "big") + kind + body
                + zlib.crc32(kind + body).to_bytes(4, "big"))
    ihdr = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    comp = zlib.compressobj(9)
    row = bytes(side + 1)
    idat = b"".join(comp.compress(row * 256) for _ in range(side // 256)) + comp.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_pixel_budget_rejects_a_png_bomb_before_decoding(graph):
    proc, peer = graph(transport="compressed", params=["input.qos:=reliable", "diagnostics_period:=0.2"])
    good = compressed_msg(load_scene("pexels_group3.jpg", size=(320, 320)), fmt="png", stamp=(1, 0))
    peer.publish_until_answered(good)
    rss_before = proc.rss_kb()
    bomb = compressed_msg(load_scene("pexels_group3.jpg", size=(8, 8)), fmt="png", stamp=(2, 0))
    bomb.data = png_bomb()
    assert len(bomb.data) < 1_000_000
    peer.publish(bomb)
    kv = peer.wait_counter("errors_input_too_many_pixels", 1, timeout=10)
    assert "input.max_pixels" in kv["last_error"], kv
    good.header.stamp.sec = 3
    peer.publish_until_answered(good)
    growth_mb = (proc.rss_kb() - rss_before) / 1024
    assert growth_mb < 50, f"RSS grew {growth_mb:.0f} MB on a rejected frame"
    with peer.lock:
        assert 2 not in {m.header.stamp.sec for m in peer.emotions}
    # The budget is a parameter: a tighter one rejects a VGA frame.
    _, peer2 = graph(params=["input.qos:=reliable", "diagnostics_period:=0.2", "input.max_pixels:=100000"])
    peer2.publish(image_msg(load_scene("pexels_group3.jpg", size=(640, 480)), stamp=(4, 0)))
    peer2.wait_counter("errors_input_too_many_pixels", 1)


def test_wire_strings_are_escaped_and_cut_in_logs_and_diagnostics(graph):
    proc, peer = graph(params=["input.qos:=reliable", "diagnostics_period:=0.2"])
    forged = "[ERROR] [1.0] [lowres_fer]: forged line"
    m = image_msg(load_scene("pexels_group3.jpg", size=(64, 64)), stamp=(1, 0), frame_id="cam\n" + forged)
    m.encoding = "evil\n" + forged + "x" * 100_000
    peer.publish(m)
    kv = peer.wait_counter("errors_input_unsupported_encoding", 1)
    assert len(kv["last_error"]) < 400, len(kv["last_error"])
    assert "\n" not in kv["last_error"]
    assert sum(len(v) for v in kv.values()) < 4000
    out = proc.output()
    assert not any(line.startswith(forged) for line in out.splitlines()), out
    assert "cam\\n[ERROR]" in out, out
    assert len(out) < 20_000


def models_dir_with(tmp_path, classifier):
    """A models directory with the installed detectors and `classifier` as the
    one model of role "classifier"."""
    root = Path(__file__).resolve().parents[2]
    real = json.loads((root / "models" / "manifest.json").read_text())
    d = tmp_path / "models"
    d.mkdir()
    models = {}
    for det in ("retinaface_mnet025.onnx", "blazeface_back_256.onnx", "blazeface_front_128.onnx"):
        shutil.copy(root / "models" / det, d / det)
        models[det] = real["models"][det]
    data = (root / "tests" / "data" / classifier).read_bytes()
    (d / "c.onnx").write_bytes(data)
    models["c.onnx"] = {"sha256": hashlib.sha256(data).hexdigest(), "input_size": 32, "role": "classifier"}
    (d / "manifest.json").write_text(json.dumps({"models": models}))
    return d


def test_classifier_failure_still_publishes_the_faces(graph, tmp_path):
    # Batch fixed at 2: passes the start-up check, fails at run time on a frame
    # with another number of faces to classify. The frame used to get no
    # emotions message at all.
    d = models_dir_with(tmp_path, "classifier_batch_2.onnx")
    # One classifier and no routing experts in this models dir: routing off.
    proc, peer = graph(params=["input.qos:=reliable", "diagnostics_period:=0.2", f"models_dir:={d}",
                               "classifier.routing:=off"])
    msg = peer.publish_until_answered(image_msg(load_scene("pexels_group7.jpg"), stamp=(5, 0)))
    failed = [f for f in msg.faces if f.state == f.STATE_CLASSIFIER_FAILED]
    assert len(failed) > 2, [f.state for f in msg.faces]
    assert all(max(f.probabilities) == 0.0 and f.top_label == "" for f in failed)
    kv = peer.wait_counter("errors_pipeline", 1)
    assert "classifier" in kv["last_error"], kv
    # ONNX Runtime's message spans several lines; in the log and in
    # /diagnostics it stays on one (issue 29).
    assert not any(c in kv["last_error"] for c in "\n\r"), repr(kv["last_error"])
    lines = [line for line in proc.output().splitlines() if "STATE_CLASSIFIER_FAILED" in line]
    assert lines and all(line.startswith("[ERROR]") for line in lines), proc.output()
    assert proc.alive()
