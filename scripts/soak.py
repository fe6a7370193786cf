"""Soak test of lowres_fer_node and lowres_fer_bag (issue 11). Not a CI test:
it runs for minutes and reports figures for docs/reliability.md.

Node soak: a VGA frame with ~10 faces published at 60 Hz for --duration
seconds, once with reliable and once with best-effort input QoS (--qos). Every
10 s: the node's RSS and its /diagnostics counters; per minute: latency
percentiles (header stamp -> emotions received) and the answer rate. Fails
(exit 1) when the node dies or its RSS grows more than --max-growth-mb after
the warm-up (--warmup seconds).

Bag soak (--bag): writes a synthetic MCAP bag spanning --bag-hours of recording
at --bag-fps (JPEG VGA frames, the same ~10 faces), runs lowres_fer_bag on it
sampling its RSS every 10 s, and reports peak and growth.

    scripts/soak.sh                       # 10 min reliable + 10 min best effort, then the 1-hour bag
    scripts/soak.sh --duration 60 --qos reliable --no-bag     # a 1-minute trial
    scripts/soak.sh --no-node --bag-hours 0.1                  # the bag tool over a 6-minute bag
"""

import argparse
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("ROS_DOMAIN_ID", str(150 + os.getpid() % 50))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from lowres_fer.msg import FaceEmotionArray
from PIL import Image as PILImage
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import (
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from sensor_msgs.msg import Image

ROOT = Path(__file__).resolve().parents[1]
SCENES = Path(os.environ.get("LOWRES_FER_SCENES", ROOT.parent / "shared" / "data" / "scenes"))
# The colcon install (scripts/setup.sh), as a robot runs it.
NODE_BIN = Path(
    os.environ.get("LOWRES_FER_NODE", ROOT / "install" / "lowres_fer" / "lib" / "lowres_fer" / "lowres_fer_node")
)
BAG_BIN = Path(os.environ.get("LOWRES_FER_BAG", ROOT / "target" / "release" / "lowres_fer_bag"))


def vga_with_faces():
    """640x480 RGB: two real group photos side by side (about 10 faces)."""
    canvas = PILImage.new("RGB", (640, 480), (90, 90, 90))
    canvas.paste(PILImage.open(SCENES / "pexels_group7.jpg").convert("RGB").resize((400, 400)), (0, 40))
    canvas.paste(PILImage.open(SCENES / "pexels_group3.jpg").convert("RGB").resize((240, 240)), (400, 120))
    return np.asarray(canvas)


def rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def percentiles(values):
    if not values:
        return {}
    a = np.asarray(values)
    return {k: round(float(np.percentile(a, q)), 1) for k, q in
            (("p50", 50), ("p90", 90), ("p99", 99))} | {"max": round(float(a.max()), 1), "n": len(values)}


class Peer:
    def __init__(self, ns, reliable):
        self.node = rclpy.create_node("lowres_fer_soak", namespace=ns)
        qos = (QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
               if reliable else qos_profile_sensor_data)
        self.pub = self.node.create_publisher(Image, "image", qos)
        self.lock = threading.Lock()
        self.latencies = []  # (receive time, latency ms, faces, node processing ms)
        self.diag = {}
        rel = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
        self.node.create_subscription(FaceEmotionArray, "emotions", self.on_emotions, rel)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.on_diag, rel)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        threading.Thread(target=self.executor.spin, daemon=True).start()

    def on_emotions(self, msg):
        now = time.time()
        sent = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        with self.lock:
            self.latencies.append((now, (now - sent) * 1e3, len(msg.faces), msg.processing_time_ms))

    def on_diag(self, arr):
        for st in arr.status:
            if "emotion recognition" in st.name and self.node.get_namespace() in st.name:
                with self.lock:
                    self.diag = {kv.key: kv.value for kv in st.values}

    def close(self):
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()


def node_soak(qos, duration, rate, warmup, max_growth_mb, log_dir):
    ns = f"/soak_{qos}_{os.getpid()}"
    log = open(log_dir / f"node_{qos}.log", "w")  # noqa: SIM115 (open for the node's lifetime)
    params = ["-r", f"__ns:={ns}", "--params-file", str(ROOT / "config" / "default.yaml"),
              "-p", f"input.qos:={'reliable' if qos == 'reliable' else 'sensor_data'}", "-p", "publish_annotated:=false"]
    proc = subprocess.Popen([str(NODE_BIN), "--ros-args", *params], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    peer = Peer(ns, reliable=qos == "reliable")
    rgb = vga_with_faces()
    msg = Image()
    msg.height, msg.width = rgb.shape[:2]
    msg.encoding, msg.step = "rgb8", rgb.shape[1] * 3
    msg.header.frame_id = "soak"
    msg.data = rgb.tobytes()
    try:
        deadline = time.monotonic() + 60
        while peer.pub.get_subscription_count() == 0 or not peer.latencies:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"node did not come up (see {log.name})")
            now = time.time()
            msg.header.stamp.sec, msg.header.stamp.nanosec = int(now), int((now % 1) * 1e9)
            peer.pub.publish(msg)
            time.sleep(0.2)
        with peer.lock:
            peer.latencies.clear()
        samples, minutes = [], []
        t0 = time.monotonic()
        sent = sent_minute = 0
        next_sample = 0.0
        minute_start = 0.0
        while True:
            el = time.monotonic() - t0
            if el >= duration:
                break
            now = time.time()
            msg.header.stamp.sec, msg.header.stamp.nanosec = int(now), int((now % 1) * 1e9)
            peer.pub.publish(msg)
            sent += 1
            sent_minute += 1
            if el >= next_sample:
                if proc.poll() is not None:
                    raise RuntimeError(f"node died (rc={proc.returncode}, see {log.name})")
                with peer.lock:
                    d = dict(peer.diag)
                samples.append({"t_s": round(el, 1), "rss_mb": round(rss_kb(proc.pid) / 1024, 1),
                                **{k: d.get(k) for k in ("frames_received", "frames_processed", "frames_dropped",
                                                         "errors_input_total", "errors_pipeline", "errors_publish")}})
                print(f"[{qos}] {samples[-1]}", file=sys.stderr, flush=True)
                next_sample += 10.0
            if el - minute_start >= 60.0 or el + 1.0 / rate >= duration:
                with peer.lock:
                    lat = [ms for _, ms, _, _ in peer.latencies]
                    faces = [n for _, _, n, _ in peer.latencies]
                    peer.latencies.clear()
                minutes.append({"minute": len(minutes) + 1, "sent": sent_minute, "answered": len(lat),
                                "faces_mean": round(float(np.mean(faces)), 2) if faces else 0,
                                "latency_ms": percentiles(lat)})
                print(f"[{qos}] {minutes[-1]}", file=sys.stderr, flush=True)
                sent_minute = 0
                minute_start = el
            time.sleep(max(0.0, t0 + sent / rate - time.monotonic()))
        time.sleep(1.5)
        with peer.lock:
            counters = dict(peer.diag)
        after = [s["rss_mb"] for s in samples if s["t_s"] >= warmup]
        base = after[0] if after else samples[-1]["rss_mb"]
        growth = round(max(after, default=base) - base, 1)
        return {"qos": qos, "duration_s": duration, "rate_hz": rate, "sent": sent, "warmup_s": warmup,
                "rss_mb_after_warmup": base, "rss_mb_peak": max(s["rss_mb"] for s in samples),
                "rss_growth_mb": growth, "ok": growth <= max_growth_mb, "rss_samples": samples,
                "minutes": minutes, "final_counters": counters}
    finally:
        peer.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


def write_bag(path, hours, fps):
    """Synthetic MCAP bag: JPEG VGA frames (three variants) spanning `hours`."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_HUMBLE)
    ci = ts.types["sensor_msgs/msg/CompressedImage"]
    hdr, tm = ts.types["std_msgs/msg/Header"], ts.types["builtin_interfaces/msg/Time"]
    rgb = vga_with_faces()
    jpegs = []
    for shift in (0, 8, 16):
        buf = io.BytesIO()
        PILImage.fromarray(np.roll(rgb, shift, axis=1)).save(buf, format="JPEG", quality=85)
        jpegs.append(np.frombuffer(buf.getvalue(), np.uint8))
    n = int(hours * 3600 * fps)
    start = 1_700_000_000_000_000_000
    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as w:
        conn = w.add_connection("/camera/image_raw/compressed", ci.__msgtype__, typestore=ts)
        for i in range(n):
            t = start + int(i * 1e9 / fps)
            m = ci(header=hdr(stamp=tm(sec=t // 10**9, nanosec=t % 10**9), frame_id="soak"), format="jpeg",
                   data=jpegs[i % 3])
            w.write(conn, t, ts.serialize_cdr(m, ci.__msgtype__))
    return n


def bag_soak(hours, fps, max_growth_mb, work):
    bag = work / "soak_bag"
    t = time.monotonic()
    frames = write_bag(bag, hours, fps)
    size_mb = sum(f.stat().st_size for f in bag.iterdir()) / 2**20
    print(f"[bag] wrote {frames} frames ({size_mb:.0f} MB) in {time.monotonic() - t:.0f} s", file=sys.stderr)
    out = work / "soak_out"
    args = [str(BAG_BIN), str(bag), "-o", str(out), "--annotated", "none", "--quiet"]
    t0 = time.monotonic()
    log_path = work / "bag_tool.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(args, stderr=log)
        samples = []
        while proc.poll() is None:
            try:
                samples.append({"t_s": round(time.monotonic() - t0, 1), "rss_mb": round(rss_kb(proc.pid) / 1024, 1)})
                print(f"[bag] {samples[-1]}", file=sys.stderr, flush=True)
            except (FileNotFoundError, RuntimeError):
                break
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
    err = log_path.read_text()
    if proc.wait() != 0:
        raise RuntimeError(f"lowres_fer_bag failed: {err}")
    rss = [s["rss_mb"] for s in samples]
    base = rss[min(2, len(rss) - 1)] if rss else 0.0
    growth = round(max(rss, default=0) - base, 1)
    return {"hours": hours, "fps": fps, "frames": frames, "bag_mb": round(size_mb), "wall_s":
            round(time.monotonic() - t0), "rss_mb_peak": max(rss, default=0), "rss_growth_mb_after_20s": growth,
            "ok": growth <= max_growth_mb, "rss_samples": samples, "tool": err.strip().splitlines()[-1:]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=600.0, help="seconds per QoS run (600)")
    ap.add_argument("--rate", type=float, default=60.0)
    ap.add_argument("--qos", choices=["reliable", "best_effort", "both"], default="both")
    ap.add_argument("--warmup", type=float, default=60.0, help="seconds before the RSS baseline (60)")
    ap.add_argument("--max-growth-mb", type=float, default=5.0)
    ap.add_argument("--no-bag", action="store_true", help="skip the bag-tool soak")
    ap.add_argument("--no-node", action="store_true", help="skip the node soak")
    ap.add_argument("--bag-hours", type=float, default=1.0)
    ap.add_argument("--bag-fps", type=float, default=2.0)
    ap.add_argument("--bag-max-growth-mb", type=float, default=50.0)
    ap.add_argument("--report", type=Path, default=ROOT / "log" / "soak_report.json")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lowres_fer_soak_"))
    a.report.parent.mkdir(parents=True, exist_ok=True)
    report = {"node": [], "bag": None}
    try:
        rclpy.init()
        for qos in [] if a.no_node else (["reliable", "best_effort"] if a.qos == "both" else [a.qos]):
            report["node"].append(node_soak(qos, a.duration, a.rate, min(a.warmup, a.duration / 2),
                                            a.max_growth_mb, work))
        rclpy.shutdown()
        if not a.no_bag:
            report["bag"] = bag_soak(a.bag_hours, a.bag_fps, a.bag_max_growth_mb, work)
    finally:
        a.report.write_text(json.dumps(report, indent=1) + "\n")
        shutil.rmtree(work, ignore_errors=True)
    for r in report["node"]:
        lat = [m["latency_ms"].get("p50") for m in r["minutes"]]
        print(f"node {r['qos']}: {r['sent']} frames at {r['rate_hz']} Hz in {r['duration_s']:.0f} s; RSS "
              f"{r['rss_mb_after_warmup']} MB after warm-up, peak {r['rss_mb_peak']} MB, growth {r['rss_growth_mb']} MB; "
              f"p50 latency per minute {lat}; counters {r['final_counters']}")
    if report["bag"]:
        b = report["bag"]
        print(f"bag: {b['frames']} frames ({b['hours']} h at {b['fps']} fps, {b['bag_mb']} MB) in {b['wall_s']} s; "
              f"RSS peak {b['rss_mb_peak']} MB, growth after 20 s {b['rss_growth_mb_after_20s']} MB")
    print(f"report: {a.report}")
    ok = all(r["ok"] for r in report["node"]) and (report["bag"] is None or report["bag"]["ok"])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
