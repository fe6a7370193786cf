"""The offline bag tool end to end: bags built by `rosbags` in both storages go
in, the output bag is read back by `rosbags` (an independent CDR/MCAP
implementation) and checked against the input."""

import base64
import csv
import io
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import bagtools
import numpy as np
import pytest
from mcap.reader import make_reader
from mcap.writer import CompressionType
from mcap.writer import Writer as McapWriter
from mcap_ros2.decoder import DecoderFactory
from PIL import Image as PILImage

EMOTIONS = [
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
]


read_bag = bagtools.read_bag


def stamp_ns(h):
    return h.stamp.sec * 1_000_000_000 + h.stamp.nanosec


def leftovers(parent):
    return sorted(p.name for p in Path(parent).iterdir() if ".partial" in p.name)


def test_help_and_usage_errors(tool):
    r = subprocess.run([tool, "--help"], check=False, capture_output=True, text=True)
    assert r.returncode == 0 and "USAGE" in r.stdout and "--ground-truth" in r.stdout
    r = subprocess.run([tool], check=False, capture_output=True, text=True)
    assert r.returncode == 2 and "missing INPUT" in r.stderr
    r = subprocess.run(
        [tool, "x", "-o", "y", "--tiling", "sideways"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "--tiling" in r.stderr


@pytest.mark.parametrize("name", ["mcap_raw", "sqlite3_raw"])
def test_every_frame_in_order_at_original_stamps(run_tool, bags, tmp_path, name):
    bag, stamps = bags[name]
    out = tmp_path / "eval"
    r = run_tool(bag, "-o", out, "--copy-input", check=True)
    assert "40 frames" in r.stderr
    topics, types, defs = read_bag(out)
    assert types == {
        "/lowres_fer/emotions": "lowres_fer/msg/FaceEmotionArray",
        "/lowres_fer/detections": "vision_msgs/msg/Detection2DArray",
        "/lowres_fer/image_annotated": "sensor_msgs/msg/Image",
        "/camera/image_raw": "sensor_msgs/msg/Image",
    }
    # ros2msg schemas with the nested definitions, as `ros2 bag record` writes them.
    d = defs["/lowres_fer/emotions"]
    assert "=" * 80 + "\nMSG: lowres_fer/FaceEmotion\n" in d.data
    assert "MSG: geometry_msgs/Point32" in d.data

    emo = topics["/lowres_fer/emotions"]
    assert len(emo) == len(stamps) == 40
    # Header copied, record time = the input's record time, every frame, in order.
    assert [stamp_ns(m.header) for _, m, _ in emo] == stamps
    assert [t for t, _, _ in emo] == [s + bagtools.LOG_DELAY_NS for s in stamps]
    assert all(m.header.frame_id == "camera_optical" for _, m, _ in emo)
    assert all((m.image_width, m.image_height) == (640, 360) for _, m, _ in emo)
    n_faces = [len(m.faces) for _, m, _ in emo]
    # The opening shot of the clip shows faces: most frames must have one.
    assert sum(n > 0 for n in n_faces) >= 30, n_faces
    for _, m, _ in emo:
        assert m.processing_time_ms > 0
        for f in m.faces:
            assert 0 <= f.x < 640 and 0 <= f.y < 360 and f.width > 0
            assert len(f.keypoints) == 6 and len(f.probabilities) == 8
            if f.state == 0:
                assert abs(float(np.sum(f.probabilities)) - 1.0) < 1e-3
                assert f.top_label == EMOTIONS[f.top_class] and f.classifier
                assert f.face_id > 0 and f.has_smoothed
            else:
                assert not np.any(f.probabilities) and f.top_label == ""

    # detections: the same faces, as the node publishes them (tests/ros_graph/test_detections.py).
    dets = topics["/lowres_fer/detections"]
    assert [stamp_ns(m.header) for _, m, _ in dets] == stamps
    for (_, e, _), (_, d, _) in zip(emo, dets, strict=True):
        assert len(d.detections) == len(e.faces)
        for f, x in zip(e.faces, d.detections, strict=True):
            assert x.id == (f"f{f.face_id}" if f.face_id else "")
            assert x.bbox.center.position.x == pytest.approx(f.x + f.width / 2, abs=1e-3)
            assert (x.bbox.size_x, x.bbox.size_y) == (pytest.approx(f.width, abs=1e-3), pytest.approx(f.height, abs=1e-3))
            if f.state != 0:
                assert len(x.results) == 0
                continue
            probs = f.smoothed_probabilities if f.has_smoothed else f.probabilities
            assert [int(r.hypothesis.class_id) for r in x.results] == sorted(range(8), key=lambda i: -probs[i])
            assert [r.hypothesis.score for r in x.results] == pytest.approx(sorted(map(float, probs), reverse=True))
            assert x.results[0].pose.pose.orientation.w == 1.0

    ann = topics["/lowres_fer/image_annotated"]
    assert [stamp_ns(m.header) for _, m, _ in ann] == stamps
    # The copied input is byte-identical to what went in.
    copied = topics["/camera/image_raw"]
    original, _, _ = read_bag(bag)
    assert [raw for _, _, raw in copied] == [
        raw for _, _, raw in original["/camera/image_raw"]
    ]
    # Annotations were drawn where faces are.
    t0 = next(i for i, n in enumerate(n_faces) if n > 0)
    a = np.frombuffer(ann[t0][1].data, np.uint8).reshape(360, 640, 3)
    src = np.frombuffer(copied[t0][1].data, np.uint8).reshape(360, 640, 3)
    assert ann[t0][1].encoding == "rgb8" and (a != src).any()

    # Summary and CSVs agree with the bag.
    s = json.loads((out / "summary.json").read_text())
    assert s["frames_processed"] == 40 and s["messages_in_topic"] == 40
    assert s["storage"] == ("mcap" if name.startswith("mcap") else "sqlite3")
    assert s["faces_total"] == sum(n_faces)
    assert sum(s["faces_per_frame"]["histogram"]) == 40
    assert s["timings_ms"]["detect"]["mean"] > 0
    frames = list(csv.DictReader((out / "frames.csv").open()))
    assert [int(f["stamp_ns"]) for f in frames] == stamps
    assert [int(f["faces"]) for f in frames] == n_faces
    rows = list(csv.DictReader((out / "tracks.csv").open()))
    assert len(rows) == sum(n_faces)
    ids = [int(r["track_id"]) for r in rows]
    assert ids == sorted(ids)
    assert sum(t["frames"] for t in s["tracks"]) == sum(1 for i in ids if i > 0)
    for t in s["tracks"]:
        assert sum(seg["frames"] for seg in t["timeline"]) == t["frames"]
        assert t["first_stamp_ns"] <= t["last_stamp_ns"]


def test_storages_agree_and_output_is_byte_identical(run_tool, bags, tmp_path):
    runs = {}
    for i, name in enumerate(["mcap_raw", "sqlite3_raw", "mcap_raw"]):
        out = tmp_path / f"r{i}" / "eval"
        out.parent.mkdir()
        run_tool(bags[name][0], "-o", out, "--deterministic", check=True)
        runs[i] = out
    # Same frames from either storage -> the same emotion messages, bit for bit.
    a, _, _ = read_bag(runs[0])
    b, _, _ = read_bag(runs[1])
    assert [(t, raw) for t, _, raw in a["/lowres_fer/emotions"]] == [
        (t, raw) for t, _, raw in b["/lowres_fer/emotions"]
    ]
    # Same bag twice -> identical files.
    for f in sorted(p.name for p in runs[0].iterdir()):
        assert (runs[0] / f).read_bytes() == (runs[2] / f).read_bytes(), f
    assert sorted(p.name for p in runs[0].iterdir()) == [
        ".lowres_fer_bag_output",
        "eval_0.mcap",
        "frames.csv",
        "metadata.yaml",
        "summary.json",
        "tracks.csv",
    ]


def test_single_storage_files_and_directories_without_metadata(
    run_tool, bags, tmp_path
):
    ref = None
    for name in ["mcap_raw", "sqlite3_raw"]:
        src = bagtools.storage_file(bags[name][0])
        bare = tmp_path / f"bare_{name}"
        bare.mkdir()
        shutil.copy(src, bare / src.name)
        for inp in [src, bare]:
            out = tmp_path / f"out_{name}_{inp.name}"
            run_tool(
                inp, "-o", out, "--deterministic", "--annotated", "none", check=True
            )
            topics, types, _ = read_bag(out)
            assert list(types) == ["/lowres_fer/emotions", "/lowres_fer/detections"]
            raws = [raw for _, _, raw in topics["/lowres_fer/emotions"]]
            assert len(raws) == 40
            ref = ref or raws
            assert raws == ref


@pytest.mark.parametrize("name", ["mcap_jpeg", "sqlite3_jpeg"])
def test_compressed_input_and_jpeg_annotations(run_tool, bags, tmp_path, name):
    bag, stamps = bags[name]
    out = tmp_path / "eval"
    # The bag also has /chatter (std_msgs/String): the only image topic is chosen.
    run_tool(
        bag, "-o", out, "--annotated", "jpeg", "--namespace", "robot1/fer", check=True
    )
    topics, types, _ = read_bag(out)
    assert (
        types["/robot1/fer/image_annotated/compressed"]
        == "sensor_msgs/msg/CompressedImage"
    )
    emo = topics["/robot1/fer/emotions"]
    assert [stamp_ns(m.header) for _, m, _ in emo] == stamps
    assert sum(len(m.faces) > 0 for _, m, _ in emo) >= 30
    for _, m, _ in topics["/robot1/fer/image_annotated/compressed"]:
        assert m.format == "jpeg"
        assert PILImage.open(io.BytesIO(bytes(m.data))).size == (640, 360)


def truncate(src, dst, frac):
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * frac)])
    return Path(dst)


def bad_bag(kind, bags, d):
    mcap = bagtools.storage_file(bags["mcap_raw"][0])
    db3 = bagtools.storage_file(bags["sqlite3_raw"][0])
    if kind == "truncated_mcap_file":
        return truncate(mcap, d / "t.mcap", 0.6), [], "truncated"
    if kind == "truncated_mcap_dir":
        b = d / "tb"
        shutil.copytree(bags["mcap_raw"][0], b)
        truncate(mcap, b / mcap.name, 0.3)
        return b, [], "truncated"
    if kind == "truncated_db3":
        b = d / "tdb"
        shutil.copytree(bags["sqlite3_raw"][0], b)
        truncate(db3, b / db3.name, 0.5)
        return b, [], "malformed"
    if kind == "garbage":
        p = d / "g.mcap"
        p.write_bytes(b"\x00garbage" * 100)
        return p, [], "neither an MCAP nor an SQLite3"
    if kind == "missing":
        return d / "nope", [], "does not exist"
    if kind == "empty_dir":
        (d / "e").mkdir()
        return d / "e", [], "not a rosbag2 directory"
    if kind == "wrong_topic":
        return (
            bags["mcap_jpeg"][0],
            ["-t", "/camera/color"],
            "/chatter (std_msgs/msg/String, 40 messages)",
        )
    if kind == "not_an_image_type":
        return (
            bags["sqlite3_jpeg"][0],
            ["-t", "/chatter"],
            "has type 'std_msgs/msg/String'",
        )
    if kind == "not_a_rosbag_db":
        p = d / "x.db3"
        con = sqlite3.connect(p)
        con.execute("CREATE TABLE t (a)")
        con.commit()
        con.close()
        return p, [], "not a rosbag2 SQLite3 database"
    if kind == "missing_storage_file":
        b = d / "ms"
        shutil.copytree(bags["mcap_raw"][0], b)
        (b / mcap.name).unlink()
        return b, [], "is missing"
    raise ValueError(kind)


BAD = [
    "truncated_mcap_file",
    "truncated_mcap_dir",
    "truncated_db3",
    "garbage",
    "missing",
    "empty_dir",
    "wrong_topic",
    "not_an_image_type",
    "not_a_rosbag_db",
    "missing_storage_file",
]


@pytest.mark.parametrize("kind", BAD)
def test_bad_input_fails_cleanly(run_tool, bags, tmp_path, kind):
    inp, extra, needle = bad_bag(kind, bags, tmp_path)
    outdir = tmp_path / "outputs"
    outdir.mkdir()
    r = run_tool(inp, "-o", outdir / "eval", *extra)
    assert r.returncode == 1, r.stderr
    assert needle in r.stderr, r.stderr
    assert "error:" in r.stderr and "panicked" not in r.stderr
    assert list(outdir.iterdir()) == [], "partial output left behind"
    if kind == "wrong_topic":
        assert (
            "/camera/image_raw (sensor_msgs/msg/CompressedImage, 40 messages)"
            in r.stderr
        )


def test_bad_frame_mid_bag_leaves_nothing_then_can_be_skipped(
    run_tool, hamilton, tmp_path
):
    """A frame that fails to decode after others were processed: no output at
    all (atomic), unless --skip-bad-frames, which counts it."""
    bag = tmp_path / "badframe"
    stamps = []
    with bagtools.Writer(
        bag, version=8, storage_plugin=bagtools.STORAGES["sqlite3"]
    ) as w:
        conn = w.add_connection(
            "/cam", bagtools.Image.__msgtype__, typestore=bagtools.TYPESTORE
        )
        for i, rgb in enumerate(hamilton[:12]):
            ns = bagtools.stamp(i)
            raw = bagtools.TYPESTORE.serialize_cdr(
                bagtools.image_msg(rgb, ns), bagtools.Image.__msgtype__
            )
            if i == 7:
                raw = raw[
                    : len(raw) // 2
                ]  # a torn write: CDR says more data than there is
            w.write(conn, ns, raw)
            stamps.append(ns)
    outdir = tmp_path / "outputs"
    outdir.mkdir()
    r = run_tool(bag, "-o", outdir / "eval")
    assert (
        r.returncode == 1 and "frame 7" in r.stderr and "--skip-bad-frames" in r.stderr
    ), r.stderr
    assert list(outdir.iterdir()) == []
    r = run_tool(bag, "-o", outdir / "eval", "--skip-bad-frames", check=True)
    assert "lowres_fer_bag: warning: frame 7" in r.stderr, r.stderr
    s = json.loads((outdir / "eval" / "summary.json").read_text())
    assert s["frames_processed"] == 11 and s["frames_skipped_bad"] == 1
    topics, _, _ = read_bag(outdir / "eval")
    assert [stamp_ns(m.header) for _, m, _ in topics["/lowres_fer/emotions"]] == stamps[
        :7
    ] + stamps[8:]
    assert leftovers(outdir) == []


def test_existing_output_is_kept_without_overwrite(run_tool, bags, tmp_path):
    out = tmp_path / "eval"
    out.mkdir()
    (out / "keep").write_text("x")
    r = run_tool(bags["mcap_raw"][0], "-o", out, "--max-frames", "3")
    assert r.returncode == 1 and "--overwrite" in r.stderr
    assert (out / "keep").read_text() == "x"
    # --overwrite replaces only a previous result of the tool (issue 11): a
    # directory it did not write is refused and kept.
    r = run_tool(bags["mcap_raw"][0], "-o", out, "--max-frames", "3", "--overwrite")
    assert r.returncode == 1 and "not a previous result" in r.stderr, r.stderr
    assert (out / "keep").read_text() == "x"
    res = tmp_path / "res"
    run_tool(bags["mcap_raw"][0], "-o", res, "--max-frames", "2", check=True)
    run_tool(
        bags["mcap_raw"][0], "-o", res, "--max-frames", "3", "--overwrite", check=True
    )
    assert json.loads((res / "summary.json").read_text())["frames_processed"] == 3
    # Never the input bag, nor a directory holding it.
    bag_dir = Path(bags["mcap_raw"][0])
    for target in (bag_dir, bag_dir.parent):
        r = run_tool(bag_dir, "-o", target, "--max-frames", "1", "--overwrite")
        assert r.returncode == 1 and "input bag" in r.stderr, r.stderr
        assert bag_dir.exists() and any(bag_dir.iterdir())


@pytest.fixture(scope="module")
def dlib_bag(tmp_path_factory):
    """The 9 hand-labelled PASCAL photos as frames of one bag (mixed sizes)."""
    d = tmp_path_factory.mktemp("dlib")
    scenes = bagtools.dlib_scenes()
    stamps = bagtools.write_bag(
        d / "bag", [rgb for rgb, _ in scenes], storage="sqlite3"
    )
    return d / "bag", stamps, [boxes for _, boxes in scenes]


def write_gt(path, stamps, boxes, labels=None):
    frames = []
    for i, (s, bs) in enumerate(zip(stamps, boxes)):
        faces = []
        for j, (x, y, w, h) in enumerate(bs):
            f = {"x": x, "y": y, "width": w, "height": h}
            if labels is not None and labels[i][j] is not None:
                f["label"] = labels[i][j]
            faces.append(f)
        # Both ways of naming a frame: by header stamp and by index.
        frames.append(
            {"stamp_ns": s, "faces": faces}
            if i % 2 == 0
            else {"index": i, "faces": faces}
        )
    path.write_text(
        json.dumps({"format": "lowres_fer.ground_truth.v1", "frames": frames})
    )
    return path


def iou(a, b):
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def test_ground_truth_detection_and_emotion_metrics(run_tool, dlib_bag, tmp_path):
    bag, stamps, boxes = dlib_bag
    assert sum(map(len, boxes)) == 43
    out = tmp_path / "eval"
    run_tool(
        bag,
        "-o",
        out,
        "--ground-truth",
        write_gt(tmp_path / "gt.json", stamps, boxes),
        check=True,
    )
    m = json.loads((out / "summary.json").read_text())["ground_truth"]
    assert (
        m["frames_evaluated"] == 9
        and m["gt_faces"] == 43
        and m["frames_not_in_bag"] == 0
    )
    # The detector finds 42/43 of these faces with no false positive (detector tests).
    assert m["recall"] >= 0.9 and m["precision"] >= 0.9, m
    assert m["true_positives"] + m["false_negatives"] == 43

    # Emotion accuracy: label every matched face with what the tool predicted
    # (read back from its bag) -> accuracy 1; with another class -> 0.
    topics, _, _ = read_bag(out)
    predicted = []
    for (_, msg, _), bs in zip(topics["/lowres_fer/emotions"], boxes):
        labels = []
        for b in bs:
            best = max(
                msg.faces,
                key=lambda f: iou(b, (f.x, f.y, f.width, f.height)),
                default=None,
            )
            ok = (
                best is not None
                and iou(b, (best.x, best.y, best.width, best.height)) >= 0.5
                and best.state == 0
            )
            labels.append(best.top_label if ok else None)
        predicted.append(labels)
    n_labelled = sum(lab is not None for ls in predicted for lab in ls)
    assert n_labelled >= 30
    for labels, want in [
        (predicted, 1.0),
        (
            [
                [
                    None if lab is None else EMOTIONS[(EMOTIONS.index(lab) + 1) % 8]
                    for lab in ls
                ]
                for ls in predicted
            ],
            0.0,
        ),
    ]:
        out2 = tmp_path / f"eval_{want}"
        run_tool(
            bag,
            "-o",
            out2,
            "--ground-truth",
            write_gt(tmp_path / f"gt{want}.json", stamps, boxes, labels),
            check=True,
        )
        m = json.loads((out2 / "summary.json").read_text())["ground_truth"]
        assert (
            m["labelled_matched"] == n_labelled
            and m["labelled_classified"] == n_labelled
        ), m
        assert (
            m["emotion_accuracy"] == want and m["emotion_accuracy_classified"] == want
        ), m


def test_ground_truth_for_another_recording_is_an_error(run_tool, dlib_bag, tmp_path):
    bag, stamps, boxes = dlib_bag
    gt = write_gt(tmp_path / "gt.json", [s + 1 for s in stamps], boxes)
    data = json.loads(gt.read_text())
    for f in data["frames"]:
        f.pop("index", None)
        f.setdefault("stamp_ns", 42)
    data["frames"] = data["frames"][:1]
    gt.write_text(json.dumps(data))
    outdir = tmp_path / "o"
    outdir.mkdir()
    r = run_tool(bag, "-o", outdir / "eval", "--ground-truth", gt)
    assert r.returncode == 1 and "ground-truth frames matches" in r.stderr, r.stderr
    assert list(outdir.iterdir()) == []


def test_foxglove_decoder_agrees_with_rosbags(run_tool, bags, tmp_path):
    """Foxglove's MCAP reader and ros2msg decoder (mcap-ros2-support) read the
    output .mcap on its own (no metadata.yaml) and decode the same values as
    rosbags: two independent implementations accept our schemas and CDR."""
    out = tmp_path / "eval"
    run_tool(bags["sqlite3_raw"][0], "-o", out, check=True)
    with (out / "eval_0.mcap").open("rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        assert reader.get_header().profile == "ros2"
        schemas = {s.name: s.encoding for s in reader.get_summary().schemas.values()}
        assert schemas == {
            "lowres_fer/msg/FaceEmotionArray": "ros2msg",
            "vision_msgs/msg/Detection2DArray": "ros2msg",
            "sensor_msgs/msg/Image": "ros2msg",
        }
        decoded = [(ch.topic, m.log_time, d) for _, ch, m, d in reader.iter_decoded_messages()]
    fox = [(t, d) for topic, t, d in decoded if topic == "/lowres_fer/emotions"]
    fox_dets = [d for topic, _, d in decoded if topic == "/lowres_fer/detections"]
    ref, _, _ = read_bag(out)
    ref_dets = [m for _, m, _ in ref["/lowres_fer/detections"]]
    assert len(fox_dets) == len(ref_dets) == 40
    for a, b in zip(fox_dets, ref_dets, strict=True):
        assert [(x.id, x.bbox.size_x, [(r.hypothesis.class_id, r.hypothesis.score) for r in x.results]) for x in a.detections] == [
            (x.id, x.bbox.size_x, [(r.hypothesis.class_id, r.hypothesis.score) for r in x.results]) for x in b.detections
        ]
    ref = ref["/lowres_fer/emotions"]
    assert len(fox) == len(ref) == 40
    for (t1, a), (t2, b, _) in zip(fox, ref):
        assert t1 == t2 and stamp_ns(a.header) == stamp_ns(b.header)
        assert a.processing_time_ms == pytest.approx(b.processing_time_ms)
        assert len(a.faces) == len(b.faces)
        for fa, fb in zip(a.faces, b.faces):
            assert (fa.face_id, fa.state, fa.top_label, fa.classifier) == (
                fb.face_id,
                fb.state,
                fb.top_label,
                fb.classifier,
            )
            assert list(fa.probabilities) == pytest.approx(list(fb.probabilities))
            # NaN marks a keypoint the detector does not predict (RetinaFace's ears).
            assert [c for k in fa.keypoints for c in (k.x, k.y)] == pytest.approx(
                [c for k in fb.keypoints for c in (k.x, k.y)], rel=0, abs=0, nan_ok=True
            )


@pytest.mark.parametrize("compression", ["zstd", "lz4"])
def test_compressed_mcap_chunks(run_tool, bags, tmp_path, compression):
    """`ros2 bag record` storage presets write zstd (or lz4) chunks: re-chunk the
    test bag with Foxglove's MCAP writer and expect identical results."""
    src = bagtools.storage_file(bags["mcap_raw"][0])
    dst = tmp_path / f"{compression}.mcap"
    with src.open("rb") as f, dst.open("wb") as g:
        reader = make_reader(f)
        summary = reader.get_summary()
        w = McapWriter(g, compression=CompressionType[compression.upper()])
        w.start(profile="ros2", library="test")
        ids = {}
        for sid, sc in summary.schemas.items():
            ids[sid] = w.register_schema(sc.name, sc.encoding, sc.data)
        chans = {}
        for cid, ch in summary.channels.items():
            chans[cid] = w.register_channel(
                ch.topic, ch.message_encoding, ids[ch.schema_id], ch.metadata
            )
        for _, ch, m in reader.iter_messages():
            w.add_message(chans[ch.id], m.log_time, m.data, m.publish_time, m.sequence)
        w.finish()
    assert dst.stat().st_size < src.stat().st_size
    outs = []
    for inp in [src, dst]:
        out = tmp_path / f"out_{inp.stem}"
        run_tool(inp, "-o", out, "--deterministic", "--annotated", "none", check=True)
        outs.append((out / f"{out.name}_0.mcap").read_bytes())
    assert outs[0] == outs[1]


def test_node_parameter_file_and_flags_configure_the_pipeline(run_tool, bags, tmp_path):
    """--params-file takes the node's parameter file layout; flags override it."""
    params = tmp_path / "p.yaml"
    params.write_text(
        "/**:\n  ros__parameters:\n    input:\n      qos: reliable\n"
        "    detector:\n      tiling: all\n      score_threshold: 0.55\n"
        "    tracking:\n      enabled: false\n"
    )
    out = tmp_path / "eval"
    run_tool(
        bags["mcap_raw"][0],
        "-o",
        out,
        "--params-file",
        params,
        "--tiling",
        "off",
        "--max-frames",
        "5",
        check=True,
    )
    s = json.loads((out / "summary.json").read_text())
    assert s["config"]["detector"]["tiling"] == "off"  # the flag wins over the file
    assert s["config"]["detector"]["score_threshold"] == pytest.approx(0.55)
    assert s["config"]["tracking"]["enabled"] is False
    assert s["frames_processed"] == 5 and s["tracks"] == []
    topics, _, _ = read_bag(out)
    faces = [f for _, m, _ in topics["/lowres_fer/emotions"] for f in m.faces]
    assert faces and all(f.face_id == 0 and not f.has_smoothed for f in faces)
    params.write_text("/**:\n  ros__parameters:\n    detector:\n      nms_iou: 7.0\n")
    r = run_tool(bags["mcap_raw"][0], "-o", tmp_path / "bad", "--params-file", params)
    assert r.returncode == 2 and "detector.nms_iou" in r.stderr, r.stderr
    # The node's own checks, cross-checks included: a geometry threshold below
    # the detector-score gate is rejected by both tools.
    params.write_text(
        "/**:\n  ros__parameters:\n    classifier:\n"
        "      min_detector_score: 0.7\n      min_score_without_geometry: 0.6\n"
    )
    r = run_tool(bags["mcap_raw"][0], "-o", tmp_path / "bad", "--params-file", params)
    assert r.returncode == 2, r.stderr
    assert "classifier.min_score_without_geometry" in r.stderr, r.stderr
    # Unknown names: a warning naming them, as the node gives, and the run goes on.
    params.write_text(
        "/**:\n  ros__parameters:\n    detector:\n      tilling: all\n"
        "    use_sim_time: true\n"
    )
    out = tmp_path / "unknown"
    r = run_tool(
        bags["mcap_raw"][0], "-o", out, "--params-file", params, "--max-frames", "2"
    )
    assert r.returncode == 0, r.stderr
    assert "ignoring unknown parameter 'detector.tilling'" in r.stderr, r.stderr
    assert "use_sim_time" not in r.stderr, r.stderr


def test_params_file_max_pixels_applies_and_the_flag_wins(run_tool, bags, tmp_path):
    """input.max_pixels of --params-file is the tool's pixel budget (it used to
    be ignored: only --max-pixels worked); --max-pixels overrides it."""
    bag = bags["mcap_raw"][0]
    params = tmp_path / "p.yaml"
    # 640x360 = 230400 pixels: one less is over budget.
    params.write_text("/**:\n  ros__parameters:\n    input:\n      max_pixels: 230399\n")
    r = run_tool(bag, "-o", tmp_path / "small", "--params-file", params, "--max-frames", "2")
    assert r.returncode == 1, r.stderr
    assert "input.max_pixels = 230399" in r.stderr, r.stderr
    assert not (tmp_path / "small").exists()
    # The flag, before or after the file, wins.
    for i, args in enumerate(
        [
            ["--params-file", params, "--max-pixels", "230400"],
            ["--max-pixels", "230400", "--params-file", params],
        ]
    ):
        out = tmp_path / f"ok{i}"
        r = run_tool(bag, "-o", out, *args, "--max-frames", "2", "--annotated", "none")
        assert r.returncode == 0, r.stderr
    # Exactly the budget from the file is accepted.
    params.write_text("/**:\n  ros__parameters:\n    input:\n      max_pixels: 230400\n")
    r = run_tool(bag, "-o", tmp_path / "exact", "--params-file", params,
                 "--max-frames", "2", "--annotated", "none")
    assert r.returncode == 0, r.stderr


def test_params_file_that_gives_the_node_nothing_is_an_error(run_tool, bags, tmp_path):
    """A params file without a parameter for the node (issue 29: the node
    started on its defaults without a word) is refused, naming the file; the
    same sections apply as in the node, `off` reads as the node reads it."""
    bag = bags["mcap_raw"][0]
    for name, content in [
        ("empty", b""),
        ("string", b"just a string\n"),
        ("garbage", base64.b64encode(bytes(range(256)) * 2)),
        ("binary", bytes(range(256)) * 4),
        ("empty_section", b"/**:\n  ros__parameters:\n"),
        ("other_node", b"other_node:\n  ros__parameters:\n    detector:\n      tiling: all\n"),
    ]:
        params = tmp_path / f"{name}.yaml"
        params.write_bytes(content)
        r = run_tool(bag, "-o", tmp_path / f"out_{name}", "--params-file", params)
        assert r.returncode == 2, (name, r.returncode, r.stderr)
        assert str(params) in r.stderr, (name, r.stderr)
        assert not (tmp_path / f"out_{name}").exists()
    params = tmp_path / "off.yaml"
    params.write_text("lowres_fer:\n  ros__parameters:\n    detector:\n      tiling: false\n")
    out = tmp_path / "off"
    run_tool(bag, "-o", out, "--params-file", params, "--max-frames", "2", "--annotated", "none", check=True)
    assert json.loads((out / "summary.json").read_text())["config"]["detector"]["tiling"] == "off"
