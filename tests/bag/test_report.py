"""lowres_fer_bag --report: one self-contained HTML page, rendered by headless
Chromium (Debian's `chromium`, installed by scripts/setup_bag_tests.sh) with no
console message, to a screenshot that shows the timelines."""

import json
import os
import re
import shutil
import subprocess

import bagtools
import numpy as np
import pytest
from PIL import Image as PILImage

WINDOW = (1200, 2600)
# Emotion colours of crates/lowres_fer_bag/src/html.rs (neutral, happiness, sadness, anger): the
# timelines are drawn when the screenshot has them.
TIMELINE_COLOURS = [(0x9E, 0x9E, 0x9E), (0xF4, 0xB4, 0x00), (0x3F, 0x51, 0xB5), (0xD3, 0x2F, 0x2F)]


def chromium():
    exe = shutil.which("chromium")
    if exe is None:
        raise RuntimeError("chromium not found: run scripts/setup_bag_tests.sh")
    return exe


def run_chromium(page, tmp_path, *args):
    """Headless Chromium on `page` with its log on stderr; returns the result.
    Its own profile dir (parallel runs never share a profile lock) and no
    network: the page must not need one."""
    cmd = [
        chromium(),
        "--headless",
        "--no-sandbox",  # tests run as root in CI containers
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--enable-logging=stderr",
        "--v=0",
        *args,
        page.as_uri(),
    ]
    env = dict(os.environ, HOME=str(tmp_path))
    return subprocess.run(
        cmd, check=False, capture_output=True, text=True, timeout=120, env=env
    )


def console_lines(stderr):
    """What the page wrote to the console, errors and CSP refusals included
    (Chromium logs each as INFO:CONSOLE), plus uncaught exceptions."""
    return [
        line
        for line in stderr.splitlines()
        if ":CONSOLE" in line or "Uncaught" in line
    ]


@pytest.fixture(scope="module")
def clip_bag(tmp_path_factory):
    """The whole Hamilton clip (275 frames, several tracks) as JPEG in MCAP."""
    d = tmp_path_factory.mktemp("clip") / "clip"
    bagtools.write_bag(d, bagtools.hamilton_frames(), fmt="jpeg")
    return d


@pytest.fixture(scope="module")
def report(run_tool, clip_bag, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "eval"
    run_tool(clip_bag, "-o", out, "--annotated", "none", "--report", check=True)
    return out


def test_report_is_self_contained_and_listed(report):
    page = report / "report.html"
    html = page.read_text()
    # No external resource: every src/href is a data: URI, no script at all.
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?!data:)""", html), "external reference"
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html
    # The browser is told to refuse anything else (the test below would see it).
    assert "Content-Security-Policy" in html
    s = json.loads((report / "summary.json").read_text())
    tracks = [t for t in s["tracks"] if t["frames"] > 0]
    assert tracks, "the clip must give tracks"
    # One timeline per track up to the documented cap, longest first.
    shown = sorted(tracks, key=lambda t: (-t["frames"], t["track_id"]))[:12]
    assert html.count('class="track"') == len(shown)
    for t in shown:
        assert f"track {t['track_id']}<br>{t['frames']} frames" in html
    thumbs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert 1 <= len(thumbs) <= 24 + 12
    assert f"<td>{s['frames_processed']} of {s['messages_in_topic']}</td>" in html
    # --overwrite keeps working: the page is one of the result's listed files.
    marker = json.loads((report / ".lowres_fer_bag_output").read_text())
    assert "report.html" in marker["files"]


def test_report_renders_in_chromium_without_console_messages(report, tmp_path):
    page = report / "report.html"
    dom = run_chromium(page, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-3000:]
    assert console_lines(dom.stderr) == [], dom.stderr[-3000:]
    assert dom.stdout.count("<svg") >= 3 and "Emotion timelines" in dom.stdout

    shot = tmp_path / "report.png"
    r = run_chromium(
        page,
        tmp_path,
        "--hide-scrollbars",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--screenshot={shot}",
    )
    assert r.returncode == 0 and shot.is_file(), r.stderr[-3000:]
    assert console_lines(r.stderr) == [], r.stderr[-3000:]
    img = np.asarray(PILImage.open(shot).convert("RGB")).astype(int)
    assert img.shape[:2] == (WINDOW[1], WINDOW[0])
    # Drawn timelines: each main class colour covers a visible area.
    for c in TIMELINE_COLOURS[:2]:
        hits = np.all(np.abs(img - np.array(c)) <= 3, axis=2).sum()
        assert hits > 200, (c, hits)
    if os.environ.get("LOWRES_FER_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["LOWRES_FER_KEEP_SCREENSHOT"])


def test_a_console_error_would_be_caught(tmp_path):
    """The check above is not vacuous: a page with a script error and a
    refused external image is reported."""
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><meta http-equiv='Content-Security-Policy' "
        "content=\"default-src 'none'; img-src data:; script-src 'unsafe-inline'\">"
        "<script>undefinedFunction()</script><img src='https://example.com/x.png'>"
    )
    r = run_chromium(page, tmp_path, "--dump-dom")
    lines = console_lines(r.stderr)
    assert any("Uncaught ReferenceError" in line for line in lines), r.stderr[-3000:]
    assert any("example.com" in line for line in lines), r.stderr[-3000:]


def test_report_is_reproducible_with_deterministic(run_tool, bags, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        run_tool(bags["mcap_raw"][0], "-o", out, "--deterministic", "--report",
                 "--annotated", "none", check=True)
    assert (a / "report.html").read_bytes() == (b / "report.html").read_bytes()
    assert not (tmp_path / "c").exists()
    run_tool(bags["mcap_raw"][0], "-o", tmp_path / "c", "--annotated", "none", check=True)
    assert not (tmp_path / "c" / "report.html").exists()
