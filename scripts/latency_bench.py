"""Live latency benchmark of lowres_fer_node in a real ROS 2 graph (issue 12).
Not a CI test: it prints figures for docs/realtime.md.

For each input QoS (reliable, best effort) the colcon-installed node is started
once; an rclpy peer then publishes a 640x480 rgb8 frame with N real faces
(N = 0, 1, 5, 10: the frames of `frame_bench --write-frames`, real faces from
the shared dlib photos pasted on a blurred real photo) at 15 and 30 Hz for
--seconds each, stamped with the publish time. Per case it prints:
  - delivered: frames the node received / frames sent (transport), and
    answered: emotions messages / frames sent (what a planner gets);
  - end-to-end latency (stamp -> emotions received) p50/p90/p99/max;
  - node-internal time per frame (FaceEmotionArray.processing_time_ms) p50/p99;
  - the node's mean stage times from /diagnostics;
  - the node's CPU use (user + system, % of one core).

    scripts/latency_bench.sh                      # 16 cases x 15 s
    scripts/latency_bench.sh --seconds 5 --faces 5 --rates 30 --qos reliable
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
from PIL import Image as PILImage
from sensor_msgs.msg import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import soak  # (shares the graph peer, RSS and percentile helpers)

ROOT = soak.ROOT
TICK = os.sysconf("SC_CLK_TCK")
STAGES = ("decode", "detect", "align", "classify", "track")


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def image_msg(path):
    rgb = np.asarray(PILImage.open(path).convert("RGB"))
    msg = Image()
    msg.height, msg.width = rgb.shape[:2]
    msg.encoding, msg.step = "rgb8", rgb.shape[1] * 3
    msg.header.frame_id = "latency_bench"
    msg.data = rgb.tobytes()
    return msg


def stamp(msg):
    now = time.time()
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(now), int((now % 1) * 1e9)


def counter(diag, key):
    try:
        return int(diag.get(key, 0))
    except ValueError:
        return 0


def run_case(peer, proc, msg, rate, seconds):
    # Settle: let the previous case's frames drain and the tracker see the new scene.
    for _ in range(int(rate)):
        stamp(msg)
        peer.pub.publish(msg)
        time.sleep(1.0 / rate)
    time.sleep(1.0)
    with peer.lock:
        peer.latencies.clear()
        d0 = dict(peer.diag)
    cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
    sent = 0
    stages = []  # /diagnostics windows seen during the case (the node publishes them about 1 Hz)
    while time.monotonic() - t0 < seconds:
        stamp(msg)
        peer.pub.publish(msg)
        sent += 1
        if sent % max(1, int(rate)) == 0:
            with peer.lock:
                stages.append({k: float(peer.diag.get(f"latency_{k}_ms", 0)) for k in STAGES})
        time.sleep(max(0.0, t0 + sent / rate - time.monotonic()))
    wall = time.monotonic() - t0
    cpu = cpu_seconds(proc.pid) - cpu0
    time.sleep(2.5)  # the last answers, and one more /diagnostics period
    with peer.lock:
        lat = list(peer.latencies)
        d1 = dict(peer.diag)
    received = counter(d1, "frames_received") - counter(d0, "frames_received")
    return {
        "sent": sent,
        "delivered": round(min(received, sent) / sent, 3),
        "answered": round(len(lat) / sent, 3),
        "faces_mean": round(float(np.mean([x[2] for x in lat])), 2) if lat else 0.0,
        "e2e_ms": soak.percentiles([x[1] for x in lat]),
        "node_ms": soak.percentiles([x[3] for x in lat]),
        # Mean of the windows after the first (which may still hold the settle frames).
        "stages_ms": {k: round(float(np.mean([w[k] for w in stages[1:] or stages])), 2) for k in STAGES},
        "cpu_percent": round(100 * cpu / wall, 1),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames-dir", type=Path, required=True, help="frame_bench --write-frames output")
    ap.add_argument("--faces", default="0,1,5,10")
    ap.add_argument("--rates", default="15,30")
    ap.add_argument("--qos", choices=["reliable", "best_effort", "both"], default="both")
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--report", type=Path, default=ROOT / "log" / "latency_bench.json")
    ap.add_argument("node_args", nargs="*", help="extra ROS arguments for the node, e.g. -p detector.threads:=2")
    a = ap.parse_args()
    faces = [int(x) for x in a.faces.split(",")]
    rates = [float(x) for x in a.rates.split(",")]
    qoses = ["reliable", "best_effort"] if a.qos == "both" else [a.qos]
    msgs = {n: image_msg(a.frames_dir / f"vga_{n}faces.png") for n in faces}
    a.report.parent.mkdir(parents=True, exist_ok=True)
    rclpy.init()
    rows = []
    print(f"latency_bench: 640x480 rgb8, {a.seconds:.0f} s per case, node {soak.NODE_BIN}", flush=True)
    head = (f"{'qos':<11} {'faces':>5} {'Hz':>4} | {'deliv.':>6} {'answ.':>6} | e2e p50/p90/p99/max ms"
            f"      | node p50/p99 | detect align classify | cpu %")
    print(head, flush=True)
    try:
        for qos in qoses:
            ns = f"/latency_{qos}_{os.getpid()}"
            log_path = ROOT / "log" / f"latency_bench_node_{qos}.log"
            params = ["-r", f"__ns:={ns}", "--params-file", str(ROOT / "config" / "default.yaml"),
                      "-p", f"input.qos:={'reliable' if qos == 'reliable' else 'sensor_data'}",
                      "-p", "publish_annotated:=false", *a.node_args]
            with open(log_path, "w") as log:
                proc = subprocess.Popen([str(soak.NODE_BIN), "--ros-args", *params], stdout=log,
                                        stderr=subprocess.STDOUT, cwd=ROOT)
                peer = soak.Peer(ns, reliable=qos == "reliable")
                try:
                    first = msgs[faces[0]]
                    deadline = time.monotonic() + 60
                    while not peer.latencies:
                        if proc.poll() is not None or time.monotonic() > deadline:
                            raise RuntimeError(f"node did not come up (see {log_path})")
                        stamp(first)
                        peer.pub.publish(first)
                        time.sleep(0.2)
                    for n in faces:
                        for rate in rates:
                            r = {"qos": qos, "faces": n, "rate_hz": rate,
                                 **run_case(peer, proc, msgs[n], rate, a.seconds)}
                            rows.append(r)
                            e, nd, s = r["e2e_ms"], r["node_ms"], r["stages_ms"]
                            print(f"{qos:<11} {n:>5} {rate:>4.0f} | {r['delivered']:>6.1%} {r['answered']:>6.1%} | "
                                  f"{e.get('p50', 0):>5} {e.get('p90', 0):>5} {e.get('p99', 0):>5} {e.get('max', 0):>6}"
                                  f" | {nd.get('p50', 0):>5} {nd.get('p99', 0):>5} | {s['detect']} {s['align']}"
                                  f" {s['classify']} | {r['cpu_percent']}", flush=True)
                finally:
                    peer.close()
                    proc.terminate()
                    try:
                        proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
    finally:
        rclpy.shutdown()
        a.report.write_text(json.dumps(rows, indent=1))
        print(f"report: {a.report}", file=sys.stderr)


if __name__ == "__main__":
    main()
