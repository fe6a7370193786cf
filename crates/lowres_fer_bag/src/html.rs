//! `lowres_fer_bag --report`: one self-contained HTML page (inline CSS and
//! SVG, thumbnails as data URIs, no script, no external URL) with the summary
//! figures, per-track emotion timelines (stacked mean probabilities over time),
//! face size over time and a strip of face thumbnails.
//!
//! Built while the frames stream by, in bounded memory whatever the bag's
//! length:
//! - each track's timeline has at most [`BINS`] time bins; a bin's width
//!   starts at 0.1 s and doubles (merging neighbours) whenever the track
//!   outlasts the bins, so a track of any length fits;
//! - at most [`KEPT_TRACKS`] tracks are followed at once: a new track replaces
//!   the followed track with the fewest frames that is not in the current
//!   frame (short, flickering tracks churn, long ones stay). The page shows the
//!   [`SHOWN_TRACKS`] with the most frames, each with the crop of its most
//!   confident classified face;
//! - the thumbnail strip is a uniform sample (reservoir, fixed seed so
//!   repeated runs give the same page) of [`STRIP`] classified faces of the
//!   whole bag, in time order.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use image::imageops::{self, FilterType};
use image::RgbImage;

use lowres_fer::face::{FaceResult, FaceState, EMOTIONS, NUM_EMOTIONS};

/// Time bins per track timeline.
pub const BINS: usize = 120;
/// Tracks followed at once.
pub const KEPT_TRACKS: usize = 64;
/// Tracks drawn on the page.
pub const SHOWN_TRACKS: usize = 12;
/// Faces in the thumbnail strip.
pub const STRIP: usize = 24;
/// Side of a thumbnail in pixels.
const THUMB_PX: u32 = 48;
/// Fewest bins on a track's time axis (a 1-frame track is not drawn full width).
const MIN_AXIS_BINS: usize = 20;
/// Width of the first time bins.
const FIRST_BIN_NS: i64 = 100_000_000;

/// Class colours, in [`EMOTIONS`] order.
const COLORS: [&str; NUM_EMOTIONS] = [
    "#9e9e9e", // neutral
    "#f4b400", // happiness
    "#ff7043", // surprise
    "#3f51b5", // sadness
    "#d32f2f", // anger
    "#6d4c41", // disgust
    "#8e24aa", // fear
    "#00897b", // contempt
];

#[derive(Debug, Clone, Copy, Default)]
struct Bin {
    faces: u32,
    classified: u32,
    probs: [f64; NUM_EMOTIONS],
    size_sum: f64,
    size_min: f32,
    size_max: f32,
}

impl Bin {
    fn merge(&mut self, o: &Bin) {
        if o.faces == 0 {
            return;
        }
        if self.faces == 0 {
            *self = *o;
            return;
        }
        self.faces += o.faces;
        self.classified += o.classified;
        for (a, b) in self.probs.iter_mut().zip(o.probs) {
            *a += b;
        }
        self.size_sum += o.size_sum;
        self.size_min = self.size_min.min(o.size_min);
        self.size_max = self.size_max.max(o.size_max);
    }
}

struct Thumb {
    stamp_ns: i64,
    track_id: u64,
    label: &'static str,
    confidence: f32,
    png: String,
}

struct TrackBins {
    start_ns: i64,
    width_ns: i64,
    bins: Vec<Bin>,
    frames: u64,
    last_frame: u64,
    best: Option<Thumb>,
}

impl TrackBins {
    fn new(start_ns: i64) -> Self {
        Self {
            start_ns,
            width_ns: FIRST_BIN_NS,
            bins: vec![Bin::default(); BINS],
            frames: 0,
            last_frame: 0,
            best: None,
        }
    }

    /// The bin of `stamp_ns`, widening the bins until it fits.
    fn bin(&mut self, stamp_ns: i64) -> &mut Bin {
        let off = stamp_ns.saturating_sub(self.start_ns).max(0);
        while off / self.width_ns >= BINS as i64 {
            for i in 0..BINS / 2 {
                let mut b = self.bins[2 * i];
                b.merge(&self.bins[2 * i + 1]);
                self.bins[i] = b;
            }
            for b in &mut self.bins[BINS / 2..] {
                *b = Bin::default();
            }
            self.width_ns = self.width_ns.saturating_mul(2);
        }
        &mut self.bins[(off / self.width_ns) as usize]
    }

    /// Bins up to the last one with a face.
    fn used(&self) -> usize {
        self.bins
            .iter()
            .rposition(|b| b.faces > 0)
            .map_or(0, |i| i + 1)
    }
}

/// The page's data, gathered frame by frame.
pub struct HtmlReport {
    tracks: BTreeMap<u64, TrackBins>,
    strip: Vec<Thumb>,
    classified_seen: u64,
    rng: u64,
    first_stamp_ns: Option<i64>,
    last_stamp_ns: i64,
    tracks_seen: u64,
    max_track_id: u64,
    label_counts: [u64; NUM_EMOTIONS],
}

impl Default for HtmlReport {
    fn default() -> Self {
        Self::new()
    }
}

/// Square crop around the face box (a margin of 20 %), resized to a thumbnail.
fn thumbnail(rgb: &RgbImage, f: &FaceResult) -> Option<RgbImage> {
    let b = &f.detection.bbox;
    let side = b.w.max(b.h) * 1.2;
    let (cx, cy) = (b.x + b.w / 2.0, b.y + b.h / 2.0);
    let x0 = (cx - side / 2.0).max(0.0).floor() as u32;
    let y0 = (cy - side / 2.0).max(0.0).floor() as u32;
    let x1 = ((cx + side / 2.0).ceil().max(0.0) as u32).min(rgb.width());
    let y1 = ((cy + side / 2.0).ceil().max(0.0) as u32).min(rgb.height());
    if x1 <= x0 || y1 <= y0 || !side.is_finite() {
        return None;
    }
    let crop = imageops::crop_imm(rgb, x0, y0, x1 - x0, y1 - y0).to_image();
    Some(imageops::resize(
        &crop,
        THUMB_PX,
        THUMB_PX,
        FilterType::Triangle,
    ))
}

fn png_data_uri(img: &RgbImage) -> String {
    let mut png = Vec::new();
    let enc = image::codecs::png::PngEncoder::new(&mut png);
    if image::ImageEncoder::write_image(
        enc,
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )
    .is_err()
    {
        return String::new();
    }
    format!("data:image/png;base64,{}", base64(&png))
}

fn base64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Text for HTML content and attribute values (either quote): `& < > " '`
/// become entities.
fn esc(s: &str) -> String {
    html_escape::encode_quoted_attribute(s).into_owned()
}

impl HtmlReport {
    pub fn new() -> Self {
        Self {
            tracks: BTreeMap::new(),
            strip: Vec::new(),
            classified_seen: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
            first_stamp_ns: None,
            last_stamp_ns: 0,
            tracks_seen: 0,
            max_track_id: 0,
            label_counts: [0; NUM_EMOTIONS],
        }
    }

    /// splitmix64: a fixed-seed generator, so the sample is reproducible.
    fn next_rand(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Add frame number `frame` (stamp `stamp_ns`, decoded pixels `rgb`) and its faces.
    pub fn push(&mut self, frame: u64, stamp_ns: i64, rgb: &RgbImage, faces: &[FaceResult]) {
        self.first_stamp_ns.get_or_insert(stamp_ns);
        self.last_stamp_ns = stamp_ns;
        for f in faces {
            let classified = f.state == FaceState::Classified;
            let (top, conf) = f.top();
            if classified {
                self.label_counts[top] += 1;
                self.sample(stamp_ns, rgb, f, EMOTIONS[top], conf);
            }
            if f.track_id == 0 {
                continue;
            }
            if f.track_id > self.max_track_id {
                self.max_track_id = f.track_id;
                self.tracks_seen += 1;
            }
            if !self.tracks.contains_key(&f.track_id) && !self.make_room(frame) {
                continue;
            }
            let t = self
                .tracks
                .entry(f.track_id)
                .or_insert_with(|| TrackBins::new(stamp_ns));
            t.frames += 1;
            t.last_frame = frame;
            let b = t.bin(stamp_ns);
            if b.faces == 0 {
                b.size_min = f.size_px;
                b.size_max = f.size_px;
            }
            b.faces += 1;
            b.size_sum += f.size_px as f64;
            b.size_min = b.size_min.min(f.size_px);
            b.size_max = b.size_max.max(f.size_px);
            if classified {
                b.classified += 1;
                let p = f.smoothed.as_ref().unwrap_or(&f.probs);
                for (a, v) in b.probs.iter_mut().zip(p) {
                    *a += *v as f64;
                }
                if t.best.as_ref().is_none_or(|b| conf > b.confidence) {
                    if let Some(img) = thumbnail(rgb, f) {
                        t.best = Some(Thumb {
                            stamp_ns,
                            track_id: f.track_id,
                            label: EMOTIONS[top],
                            confidence: conf,
                            png: png_data_uri(&img),
                        });
                    }
                }
            }
        }
    }

    /// Free a slot for a new track; false when every followed track is in this frame.
    fn make_room(&mut self, frame: u64) -> bool {
        if self.tracks.len() < KEPT_TRACKS {
            return true;
        }
        let victim = self
            .tracks
            .iter()
            .filter(|(_, t)| t.last_frame != frame)
            .min_by_key(|(id, t)| (t.frames, **id))
            .map(|(id, _)| *id);
        match victim {
            Some(id) => {
                self.tracks.remove(&id);
                true
            }
            None => false,
        }
    }

    /// Reservoir sampling (algorithm R) of the classified faces.
    fn sample(
        &mut self,
        stamp_ns: i64,
        rgb: &RgbImage,
        f: &FaceResult,
        label: &'static str,
        conf: f32,
    ) {
        let n = self.classified_seen;
        self.classified_seen += 1;
        let slot = if (n as usize) < STRIP {
            None
        } else {
            let j = self.next_rand() % (n + 1);
            if j as usize >= STRIP {
                return;
            }
            Some(j as usize)
        };
        let Some(img) = thumbnail(rgb, f) else { return };
        let t = Thumb {
            stamp_ns,
            track_id: f.track_id,
            label,
            confidence: conf,
            png: png_data_uri(&img),
        };
        match slot {
            None => self.strip.push(t),
            Some(j) => {
                if let Some(s) = self.strip.get_mut(j) {
                    *s = t;
                }
            }
        }
    }

    fn secs(&self, stamp_ns: i64) -> f64 {
        (stamp_ns - self.first_stamp_ns.unwrap_or(stamp_ns)) as f64 * 1e-9
    }

    /// Write the page to `path`. `title` names the bag, `figures` are the
    /// summary's (name, value) rows, `timings` per stage (name, p50, p95, max).
    pub fn write(
        &self,
        path: &Path,
        title: &str,
        figures: &[(String, String)],
        timings: &[(String, f64, f64, f64)],
        faces_hist: &[u64],
    ) -> Result<()> {
        let html = self.render(title, figures, timings, faces_hist);
        std::fs::write(path, html).with_context(|| format!("cannot write {}", path.display()))
    }

    fn render(
        &self,
        title: &str,
        figures: &[(String, String)],
        timings: &[(String, f64, f64, f64)],
        faces_hist: &[u64],
    ) -> String {
        let mut h = String::new();
        page_head(&mut h, title);
        self.summary(&mut h, figures, timings, faces_hist);
        self.timelines(&mut h);
        self.strip(&mut h);
        h.push_str("</div>\n</body></html>\n");
        h
    }

    /// The summary figures, the latency table and the two bar charts.
    fn summary(
        &self,
        h: &mut String,
        figures: &[(String, String)],
        timings: &[(String, f64, f64, f64)],
        faces_hist: &[u64],
    ) {
        h.push_str("<section class=\"row\"><div><h2>Summary</h2><table>");
        for (k, v) in figures {
            let _ = write!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
        }
        let _ = write!(
            h,
            "<tr><th>tracks</th><td>{} ({} followed, {} shown)</td></tr></table></div>",
            self.tracks_seen,
            self.tracks.len(),
            self.tracks.len().min(SHOWN_TRACKS)
        );
        h.push_str("<div><h2>Latency (ms)</h2><table><tr><th>stage</th><th>p50</th><th>p95</th><th>max</th></tr>");
        for (name, p50, p95, max) in timings {
            let _ = write!(
                h,
                "<tr><th>{}</th><td>{p50:.2}</td><td>{p95:.2}</td><td>{max:.2}</td></tr>",
                esc(name)
            );
        }
        h.push_str("</table></div>");
        let _ = write!(
            h,
            "<div><h2>Faces per frame</h2>{}</div>",
            bars(
                &faces_hist
                    .iter()
                    .enumerate()
                    .map(|(k, n)| (k.to_string(), *n, "#607d8b"))
                    .collect::<Vec<_>>()
            )
        );
        let _ = writeln!(
            h,
            "<div><h2>Top labels (classified faces)</h2>{}</div></section>",
            bars(
                &EMOTIONS
                    .iter()
                    .zip(self.label_counts)
                    .zip(COLORS)
                    .map(|((e, n), c)| (e.to_string(), n, c))
                    .collect::<Vec<_>>()
            )
        );
    }

    /// The legend and one section per shown track.
    fn timelines(&self, h: &mut String) {
        h.push_str("<h2>Emotion timelines</h2><p class=\"legend\">");
        for (e, c) in EMOTIONS.iter().zip(COLORS) {
            let _ = write!(h, "<span><i style=\"background:{c}\"></i>{e}</span>");
        }
        h.push_str(
            "<span><i style=\"background:#e0e0e0\"></i>seen, not classified</span></p>\
             <p class=\"note\">Per track: mean class probabilities (smoothed when tracking) \
             per time bin, stacked; below, the face size in pixels (mean, band = min..max). \
             Time in seconds since the first frame.</p>\n",
        );
        let mut shown: Vec<(&u64, &TrackBins)> = self.tracks.iter().collect();
        shown.sort_by_key(|(id, t)| (std::cmp::Reverse(t.frames), **id));
        shown.truncate(SHOWN_TRACKS);
        shown.sort_by_key(|(id, _)| **id);
        if shown.is_empty() {
            h.push_str("<p class=\"note\">No tracked faces (tracking off, or no face found).</p>");
        }
        for (id, t) in shown {
            self.track_section(h, *id, t);
        }
    }

    /// The strip of sampled face thumbnails (its closing tag: the caller's).
    fn strip(&self, h: &mut String) {
        let mut strip: Vec<&Thumb> = self.strip.iter().collect();
        strip.sort_by_key(|t| (t.stamp_ns, t.track_id));
        let _ = write!(
            h,
            "<h2>Faces</h2><p class=\"note\">{} of {} classified faces, sampled uniformly, in time order.</p><div class=\"strip\">",
            strip.len(),
            self.classified_seen
        );
        for t in strip {
            let _ = write!(
                h,
                "<figure><img src=\"{}\" width=\"{THUMB_PX}\" height=\"{THUMB_PX}\" alt=\"face\"><figcaption>{:.1} s<br>#{} {}<br>{:.2}</figcaption></figure>",
                t.png,
                self.secs(t.stamp_ns),
                t.track_id,
                t.label,
                t.confidence
            );
        }
    }

    fn track_section(&self, h: &mut String, id: u64, t: &TrackBins) {
        track_svg::section(h, id, t, self.secs(t.start_ns));
    }
}

/// The SVG of one track: stacked probabilities over time, face size below.
mod track_svg {
    use super::*;

    const W: f64 = 720.0;
    const PH: f64 = 90.0;
    const SH: f64 = 50.0;
    const L: f64 = 40.0;

    /// The time axis of a track.
    struct Axis {
        /// Bins with data.
        used: usize,
        /// Bin width in px.
        bw: f64,
        /// Seconds since the first frame at the axis' start.
        t0: f64,
        /// Seconds the axis spans.
        span: f64,
    }

    pub(super) fn section(h: &mut String, id: u64, t: &TrackBins, t0: f64) {
        // At least MIN_AXIS_BINS on the axis, so a short track looks short.
        let used = t.used().max(1);
        let axis = used.max(MIN_AXIS_BINS);
        let a = Axis {
            used,
            bw: (W - L) / axis as f64,
            t0,
            span: t.width_ns as f64 * 1e-9 * axis as f64,
        };
        let _ = write!(
        h,
        "<div class=\"track\"><div class=\"thumb\">{}<br>track {id}<br>{} frames</div>",
        t.best.as_ref().map_or(String::new(), |b| format!(
            "<img src=\"{}\" width=\"{THUMB_PX}\" height=\"{THUMB_PX}\" alt=\"track {id}\" title=\"{} {:.2}\">",
            b.png, b.label, b.confidence
        )),
        t.frames
    );
        let total_h = PH + SH + 30.0;
        let _ = write!(
        h,
        "<svg width=\"{W}\" height=\"{total_h}\" viewBox=\"0 0 {W} {total_h}\" role=\"img\" aria-label=\"track {id}\">"
    );
        probabilities(h, t, &a);
        let smax = face_size(h, t, &a);
        axes(h, &a, smax);
        h.push_str("</svg></div>\n");
    }

    /// One stacked bar of mean class probabilities per bin (grey: seen, none classified).
    fn probabilities(h: &mut String, t: &TrackBins, a: &Axis) {
        let Axis { used, bw, t0, .. } = *a;
        for (i, b) in t.bins[..used].iter().enumerate() {
            if b.faces == 0 {
                continue;
            }
            let x = L + i as f64 * bw;
            let ts = t0 + i as f64 * t.width_ns as f64 * 1e-9;
            if b.classified == 0 {
                let _ = write!(
                h,
                "<rect x=\"{x:.2}\" y=\"0\" width=\"{bw:.2}\" height=\"{PH}\" fill=\"#e0e0e0\"><title>{ts:.1} s: {} faces, none classified</title></rect>",
                b.faces
            );
                continue;
            }
            let n = b.classified as f64;
            let mut tip = format!("{ts:.1} s, {} classified:", b.classified);
            let mut y = PH;
            let _ = write!(h, "<g>");
            for (c, p) in b.probs.iter().enumerate() {
                let p = p / n;
                if p > 0.005 {
                    let _ = write!(tip, " {} {:.2}", EMOTIONS[c], p);
                }
                let hh = p * PH;
                y -= hh;
                if hh > 0.0 {
                    let _ = write!(
                    h,
                    "<rect x=\"{x:.2}\" y=\"{y:.2}\" width=\"{:.2}\" height=\"{hh:.2}\" fill=\"{}\"/>",
                    bw + 0.3,
                    COLORS[c]
                );
                }
            }
            let _ = write!(h, "<title>{tip}</title></g>");
        }
    }

    /// Face size per bin (band = min..max, line and dots = mean); returns the scale's maximum.
    fn face_size(h: &mut String, t: &TrackBins, a: &Axis) -> f64 {
        let Axis { used, bw, .. } = *a;
        let top = PH + 8.0;
        let smax = t.bins[..used]
            .iter()
            .filter(|b| b.faces > 0)
            .map(|b| b.size_max)
            .fold(1.0f32, f32::max) as f64;
        let y_of = |s: f64| top + SH - s / smax * SH;
        let mut line = String::new();
        for (i, b) in t.bins[..used].iter().enumerate() {
            if b.faces == 0 {
                continue;
            }
            let x = L + (i as f64 + 0.5) * bw;
            let (lo, hi) = (y_of(b.size_min as f64), y_of(b.size_max as f64));
            let _ = write!(
            h,
            "<rect x=\"{:.2}\" y=\"{hi:.2}\" width=\"{bw:.2}\" height=\"{:.2}\" fill=\"#bbdefb\"/>",
            x - bw / 2.0,
            (lo - hi).max(0.5)
        );
            let y = y_of(b.size_sum / b.faces as f64);
            let _ = write!(line, "{x:.2},{y:.2} ");
            // A dot per bin: a track seen in one bin has no line to draw.
            let _ = write!(
                h,
                "<circle cx=\"{x:.2}\" cy=\"{y:.2}\" r=\"1.8\" fill=\"#1565c0\"/>"
            );
        }
        let _ = write!(
            h,
            "<polyline points=\"{line}\" fill=\"none\" stroke=\"#1565c0\" stroke-width=\"1.5\"/>"
        );
        smax
    }

    /// Axis lines, the scales' labels and five time ticks.
    fn axes(h: &mut String, a: &Axis, smax: f64) {
        let Axis { t0, span, .. } = *a;
        let top = PH + 8.0;
        let _ = write!(
            h,
            "<line x1=\"{L}\" y1=\"{PH}\" x2=\"{W}\" y2=\"{PH}\" stroke=\"#555\"/>\
         <line x1=\"{L}\" y1=\"{:.1}\" x2=\"{W}\" y2=\"{:.1}\" stroke=\"#555\"/>\
         <text x=\"{:.1}\" y=\"10\" class=\"ax\" text-anchor=\"end\">p=1</text>\
         <text x=\"{:.1}\" y=\"{PH}\" class=\"ax\" text-anchor=\"end\">0</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" class=\"ax\" text-anchor=\"end\">{:.0} px</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" class=\"ax\" text-anchor=\"end\">0</text>",
            top + SH,
            top + SH,
            L - 4.0,
            L - 4.0,
            L - 4.0,
            top + 10.0,
            smax,
            L - 4.0,
            top + SH
        );
        for k in 0..=4 {
            let x = L + (W - L) * k as f64 / 4.0;
            let anchor = match k {
                0 => "start",
                4 => "end",
                _ => "middle",
            };
            let _ = write!(
            h,
            "<text x=\"{x:.1}\" y=\"{:.1}\" class=\"ax\" text-anchor=\"{anchor}\">{:.1} s</text>",
            top + SH + 16.0,
            t0 + span * k as f64 / 4.0
        );
        }
    }
}

/// The document head and the page title.
fn page_head(h: &mut String, title: &str) {
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\
             <title>lowres_fer report: {}</title><style>{CSS}</style></head><body>\n",
        esc(title)
    );
    let _ = writeln!(
        h,
        "<h1>lowres_fer bag report</h1><p class=\"sub\">{}</p>",
        esc(title)
    );
}

/// A small horizontal bar chart of (label, count, colour).
fn bars(rows: &[(String, u64, &str)]) -> String {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1) as f64;
    let row_h = 16.0;
    let h = row_h * rows.len() as f64 + 4.0;
    let mut s = format!("<svg width=\"300\" height=\"{h}\" viewBox=\"0 0 300 {h}\" role=\"img\">");
    for (i, (label, n, color)) in rows.iter().enumerate() {
        let y = i as f64 * row_h;
        let w = 170.0 * *n as f64 / max;
        let _ = write!(
            s,
            "<text x=\"76\" y=\"{:.1}\" class=\"ax\" text-anchor=\"end\">{}</text>\
             <rect x=\"80\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{color}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" class=\"ax\">{n}</text>",
            y + 12.0,
            esc(label),
            y + 2.0,
            row_h - 4.0,
            84.0 + w,
            y + 12.0
        );
    }
    s.push_str("</svg>");
    s
}

/// Self-contained means nothing but inline styles and data: images: a browser
/// refuses (and reports on its console) anything else.
const CSP: &str = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";

const CSS: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#222;background:#fff}\
h1{font-size:22px;margin:0}h2{font-size:16px;margin:18px 0 6px}.sub{color:#666;margin:2px 0 8px;word-break:break-all}\
table{border-collapse:collapse}th,td{padding:1px 8px;text-align:left;border-bottom:1px solid #eee;font-weight:normal}\
th{color:#555}td{font-variant-numeric:tabular-nums}.row{display:flex;flex-wrap:wrap;gap:28px}\
.legend span{margin-right:12px;white-space:nowrap}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}\
.note{color:#666;font-size:12px;margin:4px 0}.track{display:flex;align-items:flex-start;gap:10px;margin:8px 0;border-top:1px solid #eee;padding-top:6px}\
.thumb{width:80px;font-size:12px;color:#444;text-align:center}.thumb img,.strip img{image-rendering:pixelated;border-radius:3px}\
svg .ax{font-size:10px;fill:#555}.strip{display:flex;flex-wrap:wrap;gap:6px}\
figure{margin:0;text-align:center;font-size:10px;color:#444;width:64px}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn bins_widen_and_keep_every_face() {
        let mut t = TrackBins::new(0);
        for i in 0..10_000i64 {
            // 1 hour at ~2.8 Hz
            let b = t.bin(i * 360_000_000);
            b.faces += 1;
        }
        assert_eq!(t.bins.len(), BINS);
        assert_eq!(t.bins.iter().map(|b| b.faces as u64).sum::<u64>(), 10_000);
        assert!(t.width_ns * BINS as i64 > 9_999 * 360_000_000);
    }

    fn face(track_id: u64, state: FaceState) -> FaceResult {
        let mut probs = [0.0; NUM_EMOTIONS];
        probs[(track_id % NUM_EMOTIONS as u64) as usize] = 1.0;
        FaceResult {
            detection: lowres_fer::face::Detection {
                bbox: lowres_fer::face::BBox {
                    x: 4.0,
                    y: 4.0,
                    w: 10.0,
                    h: 12.0,
                },
                score: 0.9,
                keypoints: [[0.0; 2]; 6],
                age: 0,
            },
            size_px: 12.0,
            state,
            route: "efc32".into(),
            probs,
            track_id,
            smoothed: None,
        }
    }

    #[test]
    fn caps_hold_for_many_tracks_and_faces() {
        let rgb = RgbImage::new(32, 24);
        let mut r = HtmlReport::new();
        // 1000 frames, 3 faces each, a new track every 5 frames (200 tracks),
        // one long-lived track 1 and an untracked face.
        for f in 0..1000u64 {
            let faces = [
                face(1, FaceState::Classified),
                face(2 + f / 5, FaceState::Classified),
                face(0, FaceState::TooSmall),
            ];
            r.push(f, f as i64 * 33_000_000, &rgb, &faces);
        }
        assert!(r.tracks.len() <= KEPT_TRACKS);
        assert_eq!(r.strip.len(), STRIP);
        assert_eq!(r.classified_seen, 2000);
        assert_eq!(r.tracks_seen, 201);
        // The long track is never evicted, and keeps every frame.
        assert_eq!(r.tracks.get(&1).map(|t| t.frames), Some(1000));
        let html = r.render("bag <1>", &[("k".into(), "v&".into())], &[], &[1, 2]);
        assert_eq!(html.matches("class=\"track\"").count(), SHOWN_TRACKS);
        assert!(html.contains("bag &lt;1&gt;") && html.contains("v&amp;"));
        assert!(!html.contains("http://") && !html.contains("https://"));
        // Same input, same page (the sample's seed is fixed).
        let mut again = HtmlReport::new();
        for f in 0..1000u64 {
            let faces = [
                face(1, FaceState::Classified),
                face(2 + f / 5, FaceState::Classified),
                face(0, FaceState::TooSmall),
            ];
            again.push(f, f as i64 * 33_000_000, &rgb, &faces);
        }
        assert_eq!(
            again.render("bag <1>", &[("k".into(), "v&".into())], &[], &[1, 2]),
            html
        );
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href='x'>&\""),
            "&lt;a href=&#x27;x&#x27;&gt;&amp;&quot;"
        );
    }
}
