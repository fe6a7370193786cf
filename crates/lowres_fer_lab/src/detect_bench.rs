//! A labelled multi-scale detection benchmark built from the shared real photos.
//!
//! The shared scenes are few and their faces are large (37-250 px), so they say
//! little about crowds of small faces. This module rebuilds them, at run time and
//! deterministically, into VGA and 720p frames: the labelled photos (dlib's 43
//! faces, plus Solvay 1927 and the two Pexels groups with the boxes of
//! `tests/data/scene_faces.txt`) are scaled so their faces have a chosen height
//! (8 to ~120 px) and packed side by side until the frame is full, with the boxes
//! scaled the same way. A moving sequence pans and zooms a camera window over a
//! larger mosaic. The shared images are never copied into the repository.
//!
//! Recall is counted per labelled face-height bucket at IoU >= [`BENCH_IOU`]; a
//! face cut by a mosaic cell's border is "ignored" (neither a miss nor, when a
//! detection lands on it, a false positive).

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context};
use image::imageops::FilterType;
use image::RgbImage;

use crate::detect_eval::{self as eval, LabelledImage};
use lowres_fer::detect::FaceDetector;
use lowres_fer::face::{BBox, Detection};

/// IoU at which a detection counts as finding a labelled face (as in the issue's
/// WIDER FACE comparison).
pub const BENCH_IOU: f32 = 0.4;
/// Labelled faces smaller than this (px) are ignored, not counted as misses.
pub const MIN_LABEL_PX: f32 = 6.0;
/// Face-height buckets: lower bounds (px); the last one is open.
pub const BUCKET_LO: [f32; 6] = [0.0, 10.0, 16.0, 24.0, 32.0, 64.0];
pub const BUCKET_NAMES: [&str; 6] = ["<10", "10-16", "16-24", "24-32", "32-64", ">=64"];
/// Median face height (px) of each still mosaic: with the per-photo jitter and
/// the spread of face sizes inside a photo, every bucket gets faces.
pub const STILL_TARGETS: [f32; 15] = [
    8.0, 11.0, 14.0, 18.0, 22.0, 27.0, 34.0, 40.0, 45.0, 52.0, 60.0, 70.0, 85.0, 100.0, 120.0,
];
/// Frame sizes of the benchmark.
pub const FRAME_SIZES: [(u32, u32); 2] = [(640, 480), (1280, 720)];
/// Background of the mosaic where no photo fits.
const BACKGROUND: [u8; 3] = [110, 110, 110];

/// Outline each box (1 px, clipped to the image) for the benches' `--draw`
/// pictures, through the annotated image's rectangle drawing.
pub fn draw_boxes<'a>(
    img: &mut RgbImage,
    boxes: impl IntoIterator<Item = &'a BBox>,
    colour: [u8; 3],
) {
    for b in boxes {
        let (x0, y0) = (b.x.round() as i64, b.y.round() as i64);
        let (x1, y1) = ((b.x + b.w).round() as i64, (b.y + b.h).round() as i64);
        lowres_fer::imaging::annotate::draw_rect(img, x0, y0, x1 - x0 + 1, y1 - y0 + 1, 1, colour);
    }
}

/// Index of the bucket of a face `h` px high.
pub fn bucket(h: f32) -> usize {
    BUCKET_LO.iter().rposition(|&lo| h >= lo).unwrap_or(0)
}

/// Hand-checked boxes for the shared photos that have none (`tests/data/scene_faces.txt`).
pub fn labels_file() -> std::path::PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("tests/data/scene_faces.txt")
}

/// Parse `file x y w h` lines (`#` comments) into boxes per file, in file order.
pub fn parse_labels(text: &str) -> anyhow::Result<Vec<(String, Vec<BBox>)>> {
    let mut out: Vec<(String, Vec<BBox>)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != 5 {
            bail!("line {}: expected 'file x y w h', got '{line}'", n + 1);
        }
        let mut v = [0.0f32; 4];
        for (d, s) in v.iter_mut().zip(&f[1..]) {
            *d = s
                .parse()
                .with_context(|| format!("line {}: bad number '{s}'", n + 1))?;
        }
        let b = BBox {
            x: v[0],
            y: v[1],
            w: v[2],
            h: v[3],
        };
        match out.iter_mut().find(|(name, _)| name == f[0]) {
            Some((_, boxes)) => boxes.push(b),
            None => out.push((f[0].to_string(), vec![b])),
        }
    }
    Ok(out)
}

/// The labelled source photos: dlib's 9 photos, then the photos of
/// [`labels_file`] (under `data/scenes/` of `shared`).
pub fn load_sources(shared: &Path) -> anyhow::Result<Vec<LabelledImage>> {
    let mut images = eval::load_dlib(shared)?;
    let p = labels_file();
    let text =
        std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
    for (file, faces) in parse_labels(&text)? {
        let path = shared.join("data/scenes").join(&file);
        let image = image::open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?
            .to_rgb8();
        images.push(LabelledImage { path, image, faces });
    }
    Ok(images)
}

/// One benchmark frame.
#[derive(Clone)]
pub struct Scene {
    pub name: String,
    pub image: RgbImage,
    pub faces: Vec<BBox>,
    /// Faces cut by a cell border or too small to count.
    pub ignore: Vec<BBox>,
}

/// A tiny deterministic generator (SplitMix64): the scenes must be the same on
/// every machine and run.
struct Rng(u64);

impl Rng {
    fn next_f32(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 24) as f32
    }
}

fn median_face_height(img: &LabelledImage) -> f32 {
    let mut h: Vec<f32> = img.faces.iter().map(|b| b.h).collect();
    h.sort_by(f32::total_cmp);
    h.get(h.len() / 2).copied().unwrap_or(50.0)
}

/// Sort `b` (in frame pixels) into `faces` when it lies inside `cell`, into
/// `ignore` when it is cut by it or too small; drop it when it is outside.
fn classify_box(b: BBox, cell: &BBox, faces: &mut Vec<BBox>, ignore: &mut Vec<BBox>) {
    let (x0, y0) = (b.x.max(cell.x), b.y.max(cell.y));
    let x1 = (b.x + b.w).min(cell.x + cell.w);
    let y1 = (b.y + b.h).min(cell.y + cell.h);
    if x1 <= x0 || y1 <= y0 {
        return;
    }
    let inside = (x1 - x0) * (y1 - y0) >= 0.999 * b.area();
    if inside && b.h >= MIN_LABEL_PX {
        faces.push(b);
    } else {
        ignore.push(b);
    }
}

/// Paste the source region `src_rect` (x, y, w, h in source px) of `img`, resized
/// to `out` (w, h), at `at` in `canvas`; its faces go to `faces` / `ignore`.
fn paste(
    canvas: &mut RgbImage,
    img: &LabelledImage,
    src_rect: (u32, u32, u32, u32),
    out: (u32, u32),
    at: (u32, u32),
    faces: &mut Vec<BBox>,
    ignore: &mut Vec<BBox>,
) {
    let (sx, sy, sw, sh) = src_rect;
    let (ow, oh) = (out.0.max(1), out.1.max(1));
    let crop = image::imageops::crop_imm(&img.image, sx, sy, sw.max(1), sh.max(1)).to_image();
    let part = image::imageops::resize(&crop, ow, oh, FilterType::Triangle);
    image::imageops::replace(canvas, &part, at.0 as i64, at.1 as i64);
    let (kx, ky) = (ow as f32 / sw.max(1) as f32, oh as f32 / sh.max(1) as f32);
    let cell = BBox {
        x: at.0 as f32,
        y: at.1 as f32,
        w: ow as f32,
        h: oh as f32,
    };
    for b in &img.faces {
        let m = BBox {
            x: at.0 as f32 + (b.x - sx as f32) * kx,
            y: at.1 as f32 + (b.y - sy as f32) * ky,
            w: b.w * kx,
            h: b.h * ky,
        };
        classify_box(m, &cell, faces, ignore);
    }
}

/// A `width` x `height` mosaic of the source photos scaled so that their median
/// face is ~`target` px high (x 0.85-1.15 per photo), packed in rows; a photo
/// larger than the space left is cropped around its faces.
pub fn mosaic(sources: &[LabelledImage], size: (u32, u32), target: f32, seed: u64) -> Scene {
    let (width, height) = size;
    let mut canvas = RgbImage::from_pixel(width, height, image::Rgb(BACKGROUND));
    let (mut faces, mut ignore) = (Vec::new(), Vec::new());
    let mut rng = Rng(seed
        .wrapping_mul(7919)
        .wrapping_add(target.to_bits() as u64));
    let n = sources.len();
    if n == 0 {
        return Scene {
            name: String::new(),
            image: canvas,
            faces,
            ignore,
        };
    }
    let start = (seed as usize) % n;
    let (mut x, mut y, mut row_h) = (0u32, 0u32, 0u32);
    for k in 0..3 * n {
        let img = &sources[(start + k) % n];
        let s = target / median_face_height(img) * (0.85 + 0.3 * rng.next_f32());
        let (iw, ih) = img.image.dimensions();
        let (sw, sh) = ((iw as f32 * s) as u32, (ih as f32 * s) as u32);
        if sw < 8 || sh < 8 {
            continue;
        }
        // A new row when less than 40 % of the photo (or of the frame) fits.
        if width - x < (sw.min(width) * 2) / 5 {
            x = 0;
            y += row_h;
            row_h = 0;
        }
        if y >= height || height - y < (sh.min(height) * 2) / 5 {
            break;
        }
        let (ow, oh) = (sw.min(width - x), sh.min(height - y));
        // Crop window in scaled px, centred on the faces' centroid.
        let (mut cx, mut cy) = (0.0, 0.0);
        for b in &img.faces {
            let (a, c) = b.center();
            cx += a * s;
            cy += c * s;
        }
        let nf = img.faces.len().max(1) as f32;
        let wx0 = (cx / nf - ow as f32 * 0.5).clamp(0.0, (sw - ow) as f32);
        let wy0 = (cy / nf - oh as f32 * 0.5).clamp(0.0, (sh - oh) as f32);
        let src_rect = (
            ((wx0 / s) as u32).min(iw - 1),
            ((wy0 / s) as u32).min(ih - 1),
            ((ow as f32 / s).round() as u32).clamp(1, iw),
            ((oh as f32 / s).round() as u32).clamp(1, ih),
        );
        let src_rect = (
            src_rect.0.min(iw - src_rect.2),
            src_rect.1.min(ih - src_rect.3),
            src_rect.2,
            src_rect.3,
        );
        paste(
            &mut canvas,
            img,
            src_rect,
            (ow, oh),
            (x, y),
            &mut faces,
            &mut ignore,
        );
        x += ow;
        row_h = row_h.max(oh);
    }
    Scene {
        name: format!("{width}x{height}_face{target:.0}"),
        image: canvas,
        faces,
        ignore,
    }
}

/// The still frames: one mosaic per frame size and [`STILL_TARGETS`] entry.
pub fn still_scenes(sources: &[LabelledImage], sizes: &[(u32, u32)]) -> Vec<Scene> {
    let mut out = Vec::new();
    for &size in sizes {
        for (i, &t) in STILL_TARGETS.iter().enumerate() {
            out.push(mosaic(sources, size, t, i as u64));
        }
    }
    out
}

/// A camera moving over a mosaic twice the frame size: it pans across the
/// middle and zooms in from a window of 2x the frame (faces ~20 px) to 1.2x
/// (~33 px), `frames` frames. Face `i` of every frame's truth keeps the index
/// it has in `ids`, so recall can be held over frames like a tracker does.
pub struct Sequence {
    pub frames: Vec<Scene>,
    /// For each frame, the world face index of each entry of `faces`.
    pub ids: Vec<Vec<usize>>,
}

pub fn moving_sequence(sources: &[LabelledImage], size: (u32, u32), frames: usize) -> Sequence {
    let (width, height) = size;
    let world = mosaic(sources, (2 * width, 2 * height), 40.0, 3);
    let (ww, wh) = (world.image.width() as f32, world.image.height() as f32);
    let mut seq = Sequence {
        frames: Vec::with_capacity(frames),
        ids: Vec::with_capacity(frames),
    };
    for f in 0..frames {
        let t = if frames > 1 {
            f as f32 / (frames - 1) as f32
        } else {
            0.0
        };
        let zoom = 2.0 - 0.8 * t;
        let (vw, vh) = (width as f32 * zoom, height as f32 * zoom);
        let (cx, cy) = (ww * (0.4 + 0.2 * t), wh * (0.45 + 0.1 * t));
        let x0 = (cx - vw * 0.5).clamp(0.0, ww - vw).round() as u32;
        let y0 = (cy - vh * 0.5).clamp(0.0, wh - vh).round() as u32;
        let (vw, vh) = (vw.round() as u32, vh.round() as u32);
        let crop = image::imageops::crop_imm(&world.image, x0, y0, vw, vh).to_image();
        let image = image::imageops::resize(&crop, width, height, FilterType::Triangle);
        let (kx, ky) = (width as f32 / vw as f32, height as f32 / vh as f32);
        let cell = BBox {
            x: 0.0,
            y: 0.0,
            w: width as f32,
            h: height as f32,
        };
        let (mut faces, mut ignore, mut ids) = (Vec::new(), Vec::new(), Vec::new());
        for (i, b) in world.faces.iter().enumerate() {
            let m = BBox {
                x: (b.x - x0 as f32) * kx,
                y: (b.y - y0 as f32) * ky,
                w: b.w * kx,
                h: b.h * ky,
            };
            let before = faces.len();
            classify_box(m, &cell, &mut faces, &mut ignore);
            if faces.len() > before {
                ids.push(i);
            }
        }
        for b in &world.ignore {
            let m = BBox {
                x: (b.x - x0 as f32) * kx,
                y: (b.y - y0 as f32) * ky,
                w: b.w * kx,
                h: b.h * ky,
            };
            if m.iou(&cell) > 0.0 {
                ignore.push(m);
            }
        }
        seq.frames.push(Scene {
            name: format!("{width}x{height}_moving_{f:02}"),
            image,
            faces,
            ignore,
        });
        seq.ids.push(ids);
    }
    seq
}

/// Greedy one-to-one matching (best score first) at [`BENCH_IOU`]: which truth
/// faces are found, and how many detections are false positives (matching
/// neither a face nor an ignored box).
pub fn match_scene(scene: &Scene, dets: &[Detection], found: &mut Vec<bool>) -> usize {
    found.clear();
    found.resize(scene.faces.len(), false);
    let mut order: Vec<&Detection> = dets.iter().collect();
    order.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut fp = 0;
    for d in order {
        let best = scene
            .faces
            .iter()
            .enumerate()
            .filter(|(i, _)| !found[*i])
            .map(|(i, t)| (i, t.iou(&d.bbox)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((i, iou)) if iou >= BENCH_IOU => found[i] = true,
            _ => {
                if !scene.ignore.iter().any(|g| g.iou(&d.bbox) >= BENCH_IOU) {
                    fp += 1;
                }
            }
        }
    }
    fp
}

/// Found / labelled faces per bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Buckets {
    pub found: [usize; 6],
    pub total: [usize; 6],
}

impl Buckets {
    pub fn count(&mut self, h: f32, found: bool) {
        let b = bucket(h);
        self.total[b] += 1;
        self.found[b] += usize::from(found);
    }

    pub fn add(&mut self, o: &Buckets) {
        for i in 0..6 {
            self.found[i] += o.found[i];
            self.total[i] += o.total[i];
        }
    }

    /// Recall of bucket `i` (NaN when empty).
    pub fn recall(&self, i: usize) -> f64 {
        self.found[i] as f64 / self.total[i] as f64
    }

    /// Recall over the buckets `range` together.
    pub fn recall_of(&self, range: std::ops::Range<usize>) -> f64 {
        let f: usize = self.found[range.clone()].iter().sum();
        let t: usize = self.total[range].iter().sum();
        f as f64 / t as f64
    }
}

/// Outcome of a set of scenes under one detector configuration.
#[derive(Debug, Clone, Default)]
pub struct BenchResult {
    /// Found in the first frame (a single still frame).
    pub first: Buckets,
    /// Found in any of the frames (stills) / held within the window (moving).
    pub within: Buckets,
    pub false_positives: usize,
    pub frames: usize,
    pub elapsed_ms: f64,
    pub runs: usize,
    /// Largest single-frame detect time (ms).
    pub max_ms: f64,
    /// Detections of the last frame of each still scene (for drawing).
    pub last: Vec<Vec<Detection>>,
}

impl BenchResult {
    pub fn fp_per_image(&self) -> f64 {
        self.false_positives as f64 / self.frames.max(1) as f64
    }
    pub fn ms_per_frame(&self) -> f64 {
        self.elapsed_ms / self.frames.max(1) as f64
    }
    pub fn runs_per_frame(&self) -> f64 {
        self.runs as f64 / self.frames.max(1) as f64
    }
}

fn timed_detect(
    det: &mut FaceDetector,
    img: &RgbImage,
    hints: &[BBox],
    r: &mut BenchResult,
) -> anyhow::Result<Vec<Detection>> {
    let t = Instant::now();
    let dets = det.detect(img, hints)?;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    r.elapsed_ms += ms;
    r.max_ms = r.max_ms.max(ms);
    r.runs += det.last_stats().runs;
    r.frames += 1;
    Ok(dets)
}

/// Each still scene replayed for `frames` frames (a still camera), detections
/// fed back as hints like the pipeline's tracker: `first` counts the first
/// frame, `within` a face found in any of the frames. A fresh detector state per
/// scene (`make` builds it), so no scene inherits another's tile rotation.
pub fn run_stills(
    make: &mut dyn FnMut() -> anyhow::Result<FaceDetector>,
    scenes: &[Scene],
    frames: usize,
) -> anyhow::Result<BenchResult> {
    let mut r = BenchResult::default();
    let mut found = Vec::new();
    for s in scenes {
        let mut det = make()?;
        let mut memory = eval::HintMemory::default();
        let mut ever = vec![false; s.faces.len()];
        let mut last = Vec::new();
        for f in 0..frames.max(1) {
            let dets = timed_detect(&mut det, &s.image, memory.hints(), &mut r)?;
            memory.update(&dets, eval::KEEP_FRAMES);
            r.false_positives += match_scene(s, &dets, &mut found);
            for (e, &x) in ever.iter_mut().zip(&found) {
                *e |= x;
            }
            if f == 0 {
                for (b, &x) in s.faces.iter().zip(&found) {
                    r.first.count(b.h, x);
                }
            }
            last = dets;
        }
        for (b, &x) in s.faces.iter().zip(&ever) {
            r.within.count(b.h, x);
        }
        r.last.push(last);
    }
    Ok(r)
}

/// The moving sequence through one detector (state kept across frames, as in
/// the node). `within`: at each frame from the `window`-th on, a visible face
/// counts as found when it was detected in one of the last `window` frames
/// (what a tracker holding a face for `window` frames reports), bucketed by its
/// height in that frame. `first`: detected in that very frame.
pub fn run_sequence(
    det: &mut FaceDetector,
    seq: &Sequence,
    window: usize,
) -> anyhow::Result<BenchResult> {
    let mut r = BenchResult::default();
    let mut found = Vec::new();
    let mut memory = eval::HintMemory::default();
    let world_faces = seq.ids.iter().flatten().copied().max().map_or(0, |m| m + 1);
    let mut last_seen: Vec<Option<usize>> = vec![None; world_faces];
    for (f, (s, ids)) in seq.frames.iter().zip(&seq.ids).enumerate() {
        let dets = timed_detect(det, &s.image, memory.hints(), &mut r)?;
        memory.update(&dets, eval::KEEP_FRAMES);
        r.false_positives += match_scene(s, &dets, &mut found);
        for (&id, &x) in ids.iter().zip(&found) {
            if x {
                last_seen[id] = Some(f);
            }
        }
        if f + 1 >= window {
            for ((b, &id), &x) in s.faces.iter().zip(ids).zip(&found) {
                r.first.count(b.h, x);
                let held = last_seen[id].is_some_and(|l| l + window > f);
                r.within.count(b.h, held);
            }
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// draw_boxes paints exactly the pixels of the benches' former per-binary
    /// outline code (rows y0 and y1, columns x0 and x1, ends inclusive),
    /// clipped boxes included.
    #[test]
    fn draw_boxes_matches_the_former_outline() {
        let boxes = [
            BBox {
                x: 3.4,
                y: 5.6,
                w: 10.0,
                h: 7.2,
            },
            BBox {
                x: -4.0,
                y: -2.0,
                w: 9.0,
                h: 9.0,
            },
            BBox {
                x: 28.0,
                y: 20.0,
                w: 10.0,
                h: 10.0,
            },
        ];
        let mut want = RgbImage::new(32, 24);
        let (w, h) = (32i64, 24i64);
        for b in &boxes {
            let (x0, y0) = (b.x.round() as i64, b.y.round() as i64);
            let (x1, y1) = ((b.x + b.w).round() as i64, (b.y + b.h).round() as i64);
            let mut put = |x: i64, y: i64| {
                if x >= 0 && y >= 0 && x < w && y < h {
                    want.put_pixel(x as u32, y as u32, image::Rgb([255, 0, 0]));
                }
            };
            for x in x0..=x1 {
                put(x, y0);
                put(x, y1);
            }
            for y in y0..=y1 {
                put(x0, y);
                put(x1, y);
            }
        }
        let mut got = RgbImage::new(32, 24);
        draw_boxes(&mut got, &boxes, [255, 0, 0]);
        assert_eq!(got, want);
    }

    #[test]
    fn buckets_follow_the_issue_table() {
        assert_eq!(bucket(8.0), 0);
        assert_eq!(bucket(10.0), 1);
        assert_eq!(bucket(23.9), 2);
        assert_eq!(bucket(32.0), 4);
        assert_eq!(bucket(500.0), 5);
    }

    #[test]
    fn labels_parse_and_reject_bad_lines() {
        let l = parse_labels("# c\na.jpg 1 2 3 4\nb.jpg 5 6 7 8 # x\na.jpg 0 0 1 1\n").unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].1.len(), 2);
        assert_eq!(l[1].1[0].w, 7.0);
        assert!(parse_labels("a.jpg 1 2 3").is_err());
        assert!(parse_labels("a.jpg 1 2 3 x").is_err());
    }

    #[test]
    fn mosaic_scales_boxes_with_the_photo() {
        // A synthetic source whose "face" box is a white square: after packing,
        // every labelled box must still sit on white pixels.
        let mut img = RgbImage::from_pixel(200, 100, image::Rgb([0, 0, 0]));
        for y in 40..60 {
            for x in 90..110 {
                img.put_pixel(x, y, image::Rgb([255, 255, 255]));
            }
        }
        let src = LabelledImage {
            path: "synthetic".into(),
            image: img,
            faces: vec![BBox {
                x: 90.0,
                y: 40.0,
                w: 20.0,
                h: 20.0,
            }],
        };
        let s = mosaic(std::slice::from_ref(&src), (320, 240), 10.0, 0);
        assert!(!s.faces.is_empty());
        for b in &s.faces {
            assert!((b.h - 10.0).abs() <= 1.6, "{b:?}");
            let (cx, cy) = b.center();
            assert!(s.image.get_pixel(cx as u32, cy as u32)[0] > 200, "{b:?}");
        }
        // Deterministic.
        let again = mosaic(std::slice::from_ref(&src), (320, 240), 10.0, 0);
        assert_eq!(again.faces, s.faces);
        assert_eq!(again.image, s.image);
    }
}
