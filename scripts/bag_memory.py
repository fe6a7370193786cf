"""Memory of the offline bag tool over a long recording (issue 11): writes a
synthetic bag (default 1 hour of stamps at 15 Hz, 640x360 JPEG frames of the
Hamilton clip, cycled) once, runs lowres_fer_bag over it while sampling its
RSS (/proc/PID/status VmRSS), and prints the peak RSS (the kernel's
ru_maxrss) and the RSS at 10 %, 50 % and 90 % of the frames.

Not a CI test. Run through scripts/bag_memory.sh (it sets up and builds).
    python scripts/bag_memory.py TOOL MODELS [--duration-s 3600] [--rate 15]
        [--work DIR] [-- TOOL OPTIONS...]
"""

import argparse
import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "bag"))
import bagtools
from PIL import Image as PILImage

PROGRESS = re.compile(r"(\d+)/(\d+) frames")


def make_bag(path, duration_s, rate):
    """A bag of duration_s * rate JPEG frames, stamps 1/rate apart; returns its size."""
    done = path / ".complete"
    if done.is_file():
        return int(done.read_text())
    frames = bagtools.hamilton_frames()
    jpegs = []
    for rgb in frames:
        buf = io.BytesIO()
        PILImage.fromarray(rgb).save(buf, format="JPEG", quality=90)
        jpegs.append(bagtools.np.frombuffer(buf.getvalue(), bagtools.np.uint8))
    n = int(duration_s * rate)
    if path.exists():
        bagtools.shutil.rmtree(path)
    msgtype = bagtools.CompressedImage.__msgtype__
    t0 = time.monotonic()
    with bagtools.Writer(
        path, version=8, storage_plugin=bagtools.STORAGES["mcap"]
    ) as w:
        conn = w.add_connection(
            "/camera/image_raw/compressed", msgtype, typestore=bagtools.TYPESTORE
        )
        for i in range(n):
            ns = bagtools.START_NS + round(i * 1e9 / rate)
            msg = bagtools.CompressedImage(
                header=bagtools.header(ns), format="jpeg", data=jpegs[i % len(jpegs)]
            )
            w.write(
                conn,
                ns + bagtools.LOG_DELAY_NS,
                bagtools.TYPESTORE.serialize_cdr(msg, msgtype),
            )
    size = sum(f.stat().st_size for f in path.iterdir())
    print(
        f"bag_memory: wrote {n} frames ({duration_s} s at {rate} Hz, {size / 1e9:.2f} GB) "
        f"to {path} in {time.monotonic() - t0:.0f} s",
        flush=True,
    )
    # Written last: a bag cut short by an interrupt is rebuilt next time.
    done.write_text(str(n))
    return n


def rss_kb(pid):
    """(VmRSS, VmHWM) in kB: the current and the peak resident set since exec.
    (Not ru_maxrss: it counts this Python process too, which the child was
    forked from.)"""
    got = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":")[0]
            if key in ("VmRSS", "VmHWM"):
                got[key] = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    if len(got) != 2:
        return None
    return got["VmRSS"], got["VmHWM"]


def last_progress(log):
    try:
        text = log.read_text(errors="replace")[-4000:]
    except FileNotFoundError:
        return 0.0
    found = PROGRESS.findall(text)
    if not found:
        return 0.0
    done, total = map(int, found[-1])
    return done / max(total, 1)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("tool")
    ap.add_argument("models")
    ap.add_argument("--duration-s", type=float, default=3600)
    ap.add_argument("--rate", type=float, default=15)
    ap.add_argument("--work", default=None)
    ap.add_argument("--interval", type=float, default=0.5, help="RSS sampling period (s)")
    argv = sys.argv[1:]
    tool_args = []
    if "--" in argv:
        cut = argv.index("--")
        argv, tool_args = argv[:cut], argv[cut + 1 :]
    a = ap.parse_args(argv)
    cache = Path(os.environ.get("LOWRES_FER_CACHE", Path.home() / ".cache/lowres_fer"))
    work = Path(a.work) if a.work else cache / "bag_memory"
    work.mkdir(parents=True, exist_ok=True)
    bag = work / f"synthetic_{int(a.duration_s)}s_{a.rate:g}hz"
    n = make_bag(bag, a.duration_s, a.rate)
    print(f"bag_memory: bag {bag}: {n} frames", flush=True)

    out = work / "eval"
    log = work / "tool.log"
    cmd = [a.tool, str(bag), "-o", str(out), "--models-dir", a.models, *tool_args]
    if out.exists():
        cmd.append("--overwrite")
    print("bag_memory: " + " ".join(cmd), flush=True)
    t0 = time.monotonic()
    with log.open("w") as err:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        samples = []  # (seconds, progress fraction, RSS kB)
        hwm = 0
        status = None
        while status is None:
            kb = rss_kb(p.pid)
            if kb is not None:
                samples.append((time.monotonic() - t0, last_progress(log), kb[0]))
                hwm = max(hwm, kb[1])
            pid, status = os.waitpid(p.pid, os.WNOHANG)
            if pid == 0:
                status = None
                time.sleep(a.interval)
        p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit(f"bag_memory: the tool failed ({p.returncode}):\n{log.read_text()[-3000:]}")
    print(f"bag_memory: {n} frames in {wall:.0f} s ({n / wall:.1f} frames/s), "
          f"{len(samples)} RSS samples every {a.interval} s")
    for q in (0.1, 0.5, 0.9):
        at = next((s for s in samples if s[1] >= q), None)
        if at is None:
            print(f"  RSS at {q:.0%}: (no progress line reached it)")
        else:
            print(f"  RSS at {q:.0%} of the frames (t={at[0]:.0f} s): {at[2] / 1024:.1f} MB")
    print(f"  RSS max of the samples: {max(s[2] for s in samples) / 1024:.1f} MB")
    print(f"  peak RSS (VmHWM, last sample): {hwm / 1024:.1f} MB")
    print(f"  output: {out}")


if __name__ == "__main__":
    main()
