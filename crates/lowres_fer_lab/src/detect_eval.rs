//! Detection evaluation on the shared real scenes, used by `detect_bench` and the
//! `detect_scenes` integration test so both measure exactly the same thing.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use image::RgbImage;

use lowres_fer::detect::FaceDetector;
use lowres_fer::face::{BBox, Detection};
use lowres_fer::settings::config::{DetectorConfig, DetectorModel, TilingMode};

/// IoU at which a detection counts as finding a labelled face.
pub const MATCH_IOU: f32 = 0.5;

/// BlazeFace full-range over `base`, as config/close_range.yaml sets it (the
/// default before issue 24, measured with these thresholds).
pub fn close_range(base: DetectorConfig) -> DetectorConfig {
    DetectorConfig {
        model: DetectorModel::Back,
        tiling: TilingMode::Pyramid,
        tiles_per_frame: 1,
        score_threshold: 0.5,
        tile_score_threshold: 0.65,
        ..base
    }
}

/// `$LOWRES_FER_SHARED`, else `<crate>/../shared`.
pub fn default_shared_dir() -> PathBuf {
    std::env::var_os("LOWRES_FER_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("../shared")
        })
}

/// One image with hand-labelled face boxes.
pub struct LabelledImage {
    pub path: PathBuf,
    pub image: RgbImage,
    pub faces: Vec<BBox>,
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}='");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('\'')? + start;
    Some(tag[start..end].to_string())
}

/// Parse dlib's imglab XML (`<image file=..>` + `<box top left width height/>`).
pub fn parse_dlib_xml(text: &str) -> anyhow::Result<Vec<(String, Vec<BBox>)>> {
    let mut out: Vec<(String, Vec<BBox>)> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with("<image ") {
            let file = attr(line, "file").context("<image> without file")?;
            out.push((file, Vec::new()));
        } else if line.starts_with("<box ") {
            let num = |n: &str| -> anyhow::Result<f32> {
                attr(line, n)
                    .with_context(|| format!("<box> without {n}: {line}"))?
                    .parse::<f32>()
                    .with_context(|| format!("bad {n} in {line}"))
            };
            let b = BBox {
                x: num("left")?,
                y: num("top")?,
                w: num("width")?,
                h: num("height")?,
            };
            match out.last_mut() {
                Some((_, boxes)) => boxes.push(b),
                None => bail!("<box> outside <image>"),
            }
        }
    }
    Ok(out)
}

/// The 43 labelled faces of `scenes/dlib_faces` (testing.xml + training.xml).
pub fn load_dlib(shared: &Path) -> anyhow::Result<Vec<LabelledImage>> {
    let dir = shared.join("data/scenes/dlib_faces");
    let mut images = Vec::new();
    for xml in ["testing.xml", "training.xml"] {
        let p = dir.join(xml);
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
        for (file, faces) in parse_dlib_xml(&text)? {
            let path = dir.join(&file);
            let image = image::open(&path)
                .with_context(|| format!("cannot open {}", path.display()))?
                .to_rgb8();
            images.push(LabelledImage { path, image, faces });
        }
    }
    Ok(images)
}

/// Matching outcome of one image or a whole set.
#[derive(Debug, Clone, Copy, Default)]
pub struct MatchStats {
    pub labelled: usize,
    pub found: usize,
    pub false_positives: usize,
    /// Side (px) of the smallest labelled face that was found.
    pub smallest_found: Option<f32>,
}

impl MatchStats {
    pub fn add(&mut self, o: &MatchStats) {
        self.labelled += o.labelled;
        self.found += o.found;
        self.false_positives += o.false_positives;
        self.smallest_found = match (self.smallest_found, o.smallest_found) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Greedy one-to-one matching, best detection first, at IoU >= [`MATCH_IOU`].
pub fn match_detections(truth: &[BBox], dets: &[Detection]) -> MatchStats {
    let mut used = vec![false; truth.len()];
    let mut order: Vec<&Detection> = dets.iter().collect();
    order.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut s = MatchStats {
        labelled: truth.len(),
        ..Default::default()
    };
    for d in order {
        let best = truth
            .iter()
            .enumerate()
            .filter(|(i, _)| !used[*i])
            .map(|(i, t)| (i, t.iou(&d.bbox)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((i, iou)) if iou >= MATCH_IOU => {
                used[i] = true;
                s.found += 1;
                let side = truth[i].w.max(truth[i].h);
                s.smallest_found = Some(s.smallest_found.map_or(side, |m| m.min(side)));
            }
            _ => s.false_positives += 1,
        }
    }
    s
}

/// Frames a face stays held after it was last detected: the pipeline tracker's
/// default `tracking.max_missed`.
pub const KEEP_FRAMES: u32 = 10;

/// Stand-in for the pipeline's tracker when replaying still frames: a detection
/// stays held (and a hint) for `keep` frames after it was last seen, as tracks do.
#[derive(Debug, Default)]
pub struct HintMemory {
    tracks: Vec<(Detection, u32)>,
    boxes: Vec<BBox>,
}

impl HintMemory {
    pub fn hints(&mut self) -> &[BBox] {
        self.boxes.clear();
        self.boxes.extend(self.tracks.iter().map(|t| t.0.bbox));
        &self.boxes
    }

    /// Faces currently held.
    pub fn held(&self) -> Vec<Detection> {
        self.tracks.iter().map(|t| t.0).collect()
    }

    pub fn update(&mut self, dets: &[Detection], keep: u32) {
        for t in &mut self.tracks {
            t.1 += 1;
        }
        for d in dets {
            match self.tracks.iter_mut().find(|t| t.0.bbox.iou(&d.bbox) > 0.3) {
                Some(t) => *t = (*d, 0),
                None => self.tracks.push((*d, 0)),
            }
        }
        self.tracks.retain(|t| t.1 <= keep);
    }
}

/// What replaying a still image as a video gave.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    /// Faces held at the end (detected within the last [`KEEP_FRAMES`] frames);
    /// with one frame, that frame's detections.
    pub held: Vec<Detection>,
    /// For each labelled face, the first frame (1-based) it was detected in.
    pub first_found: Vec<Option<usize>>,
    /// False positives summed over all frames.
    pub false_positives: usize,
    pub ms_per_frame: f64,
    pub runs_per_frame: f64,
}

/// Replay `frames` copies of a still image through the detector with hints from
/// [`HintMemory`], like a tracked video. `truth` may be empty.
pub fn replay_still(
    det: &mut FaceDetector,
    image: &RgbImage,
    truth: &[BBox],
    frames: usize,
) -> anyhow::Result<Replay> {
    let frames = frames.max(1);
    let mut memory = HintMemory::default();
    let mut r = Replay {
        first_found: vec![None; truth.len()],
        ..Default::default()
    };
    let mut elapsed = 0.0;
    let mut runs = 0;
    let mut last = Vec::new();
    for f in 0..frames {
        let start = std::time::Instant::now();
        last = det.detect(image, memory.hints())?;
        elapsed += start.elapsed().as_secs_f64();
        runs += det.last_stats().runs;
        memory.update(&last, KEEP_FRAMES);
        for (i, b) in truth.iter().enumerate() {
            if r.first_found[i].is_none() && last.iter().any(|d| d.bbox.iou(b) >= MATCH_IOU) {
                r.first_found[i] = Some(f + 1);
            }
        }
        if !truth.is_empty() {
            r.false_positives += match_detections(truth, &last).false_positives;
        }
    }
    r.held = if frames == 1 { last } else { memory.held() };
    r.ms_per_frame = elapsed * 1000.0 / frames as f64;
    r.runs_per_frame = runs as f64 / frames as f64;
    Ok(r)
}

/// A 1280x720 scene of small, distant faces: three dlib photos shrunk so that
/// their labelled faces are 12-20 px, pasted on a grey canvas. Returns the canvas
/// and the scaled face boxes.
pub fn small_face_canvas(shared: &Path) -> anyhow::Result<(RgbImage, Vec<BBox>)> {
    let images = load_dlib(shared)?;
    let mut canvas = RgbImage::from_pixel(1280, 720, image::Rgb([110, 110, 110]));
    let mut truth = Vec::new();
    // (file, target mean face side in px, paste position)
    let plan = [
        ("2008_002470.jpg", 14.0f32, (80i64, 60i64)),
        ("2008_002506.jpg", 18.0, (700, 420)),
        ("2009_004587.jpg", 16.0, (420, 250)),
    ];
    for (file, target, (px, py)) in plan {
        let img = images
            .iter()
            .find(|i| i.path.ends_with(file))
            .with_context(|| format!("{file} missing from dlib_faces"))?;
        let mean: f32 =
            img.faces.iter().map(|b| b.w.max(b.h)).sum::<f32>() / img.faces.len().max(1) as f32;
        let s = target / mean;
        let (w, h) = (
            (img.image.width() as f32 * s).round() as u32,
            (img.image.height() as f32 * s).round() as u32,
        );
        let small = image::imageops::resize(
            &img.image,
            w.max(1),
            h.max(1),
            image::imageops::FilterType::Triangle,
        );
        image::imageops::replace(&mut canvas, &small, px, py);
        for b in &img.faces {
            truth.push(BBox {
                x: px as f32 + b.x * s,
                y: py as f32 + b.y * s,
                w: b.w * s,
                h: b.h * s,
            });
        }
    }
    Ok((canvas, truth))
}
