//! The crowd benchmark: 100 WIDER FACE validation photos with their official
//! boxes (`shared/data/crowds`, README there), scored exactly as its protocol
//! says. Used by `crowd_bench` and the `crowd_recall` suite test.
//!
//! - A valid face is found when a detection matches it at IoU >= [`MATCH_IOU`]
//!   (greedy one-to-one, best IoU first). Faces marked `invalid` are neither
//!   counted nor penalised.
//! - Recall per face height in the bench's buckets (<10, 10-16, 16-24, 24-32,
//!   32-64, >=64 px of the 416x416 photo).
//! - A false positive is a detection whose IoU with every box, invalid ones
//!   included, is below [`FP_IOU`].

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use image::RgbImage;
use serde::Deserialize;

use crate::detect_bench::Buckets;
use crate::still_camera;
use lowres_fer::face::{greedy_iou_match, BBox, Detection, FaceState};
use lowres_fer::frame::FrameStep;

/// IoU at which a detection finds a face.
pub const MATCH_IOU: f32 = 0.4;
/// A detection overlapping every box less than this is a false positive.
pub const FP_IOU: f32 = 0.2;
/// Frames each photo is held for in the still-camera mode (0.33 s at 30 Hz).
pub const STILL_FRAMES: usize = 10;

/// One labelled face of a crowd photo.
#[derive(Debug, Clone, Copy)]
pub struct CrowdFace {
    pub bbox: BBox,
    /// WIDER's "invalid" mark: neither counted nor penalised.
    pub invalid: bool,
}

/// One crowd photo with its faces.
pub struct CrowdPhoto {
    pub file: String,
    pub image: RgbImage,
    pub faces: Vec<CrowdFace>,
}

#[derive(Deserialize)]
struct BoxesFile {
    images: Vec<BoxesImage>,
}

#[derive(Deserialize)]
struct BoxesImage {
    file: String,
    faces: Vec<BoxesFace>,
}

#[derive(Deserialize)]
struct BoxesFace {
    #[serde(rename = "box")]
    bbox: [f32; 4],
    #[serde(default)]
    invalid: u8,
}

/// `<shared>/data/crowds`.
pub fn crowds_dir(shared: &Path) -> PathBuf {
    shared.join("data/crowds")
}

/// Load every photo of `boxes.json` under `dir`.
pub fn load(dir: &Path) -> anyhow::Result<Vec<CrowdPhoto>> {
    let p = dir.join("boxes.json");
    let text = std::fs::read_to_string(&p).with_context(|| {
        format!(
            "cannot read {} (the crowd photos: shared/data/crowds, see its README)",
            p.display()
        )
    })?;
    let parsed: BoxesFile =
        serde_json::from_str(&text).with_context(|| format!("{} is not valid", p.display()))?;
    if parsed.images.is_empty() {
        bail!("{} lists no images", p.display());
    }
    let mut photos = Vec::with_capacity(parsed.images.len());
    for im in parsed.images {
        let path = dir.join("images").join(&im.file);
        let image = image::open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?
            .to_rgb8();
        let mut faces = Vec::with_capacity(im.faces.len());
        for f in &im.faces {
            let [x, y, w, h] = f.bbox;
            if !(x.is_finite() && y.is_finite() && w.is_finite() && h.is_finite()) {
                bail!(
                    "{}: non-finite box {:?} in {}",
                    p.display(),
                    f.bbox,
                    im.file
                );
            }
            faces.push(CrowdFace {
                bbox: BBox { x, y, w, h },
                invalid: f.invalid != 0,
            });
        }
        photos.push(CrowdPhoto {
            file: im.file,
            image,
            faces,
        });
    }
    Ok(photos)
}

/// Recall buckets and false positives over a set of photos.
#[derive(Debug, Clone, Default)]
pub struct CrowdScore {
    pub buckets: Buckets,
    pub false_positives: usize,
    pub photos: usize,
    /// Found faces whose detection passes `passes` in [`CrowdScore::add`], per bucket.
    pub gated: [usize; 6],
}

impl CrowdScore {
    pub fn fp_per_photo(&self) -> f64 {
        self.false_positives as f64 / self.photos.max(1) as f64
    }

    /// Score the detections of one photo. `passes(i)` tells, for detection `i`
    /// when it found a face, whether the node classified it (the quality gate).
    pub fn add(&mut self, photo: &CrowdPhoto, dets: &[Detection], passes: &dyn Fn(usize) -> bool) {
        let valid: Vec<&BBox> = photo
            .faces
            .iter()
            .filter(|f| !f.invalid)
            .map(|f| &f.bbox)
            .collect();
        let (mut pairs, mut used, mut matched) = (Vec::new(), Vec::new(), Vec::new());
        greedy_iou_match(
            valid.len(),
            dets.len(),
            |a, b| valid[a].iou(&dets[b].bbox),
            MATCH_IOU,
            &mut pairs,
            &mut used,
            &mut matched,
        );
        for (b, m) in valid.iter().zip(&matched) {
            self.buckets.count(b.h, m.is_some());
            if let Some(d) = m {
                if passes(*d) {
                    self.gated[crate::detect_bench::bucket(b.h)] += 1;
                }
            }
        }
        self.false_positives += dets
            .iter()
            .filter(|d| photo.faces.iter().all(|f| f.bbox.iou(&d.bbox) < FP_IOU))
            .count();
        self.photos += 1;
    }
}

/// What one configuration gave on the crowd photos.
#[derive(Debug, Clone, Default)]
pub struct CrowdRun {
    /// The first frame of each photo (single-photo detection).
    pub single: CrowdScore,
    /// The last of [`STILL_FRAMES`] frames of each photo (a still camera).
    pub still: CrowdScore,
    /// Faces found in any of the still camera's frames.
    pub within: Buckets,
    /// Mean detect stage and whole frame step (ms), single frames and still frames.
    pub single_detect_ms: f64,
    pub single_total_ms: f64,
    pub still_detect_ms: f64,
    pub still_total_ms: f64,
}

/// Replay every photo through the node's frame step as a still camera: the
/// same rgb8 frame `frames` times at 30 Hz, the stamp starting again at 0 for
/// each photo (the node's reset policy forgets the tracks and restarts the
/// detector's sweeps, as for a new scene). Frame 1 is scored as single-photo
/// detection, the last frame as the still camera's answer; every face the
/// step published is scored, whatever its state.
pub fn run(step: &mut FrameStep, photos: &[CrowdPhoto], frames: usize) -> anyhow::Result<CrowdRun> {
    let frames = frames.max(1);
    let mut r = CrowdRun::default();
    let mut dets: Vec<Detection> = Vec::new();
    let mut classified: Vec<bool> = Vec::new();
    let mut ever: Vec<bool> = Vec::new();
    for (k, photo) in photos.iter().enumerate() {
        let valid: Vec<BBox> = photo
            .faces
            .iter()
            .filter(|f| !f.invalid)
            .map(|f| f.bbox)
            .collect();
        ever.clear();
        ever.resize(valid.len(), false);
        // Each photo starts 10 s before the previous one: going back in time
        // resets the step, as a restarted bag does.
        let stamp = 1_000_000 - 10 * k as i32;
        for f in 0..frames {
            let out = step
                .process(
                    still_camera::header(stamp, f, "crowd"),
                    still_camera::rgb8(&photo.image),
                    false,
                )
                .map_err(|e| anyhow::anyhow!("{}: {e}", photo.file))?;
            dets.clear();
            dets.extend(out.faces.iter().map(|f| f.detection));
            classified.clear();
            classified.extend(out.faces.iter().map(|f| f.state == FaceState::Classified));
            for (e, b) in ever.iter_mut().zip(&valid) {
                *e |= dets.iter().any(|d| d.bbox.iou(b) >= MATCH_IOU);
            }
            let passes = |i: usize| classified.get(i).copied().unwrap_or(false);
            let t = out.timings;
            if f == 0 {
                r.single.add(photo, &dets, &passes);
                r.single_detect_ms += t.stages.detect_ms;
                r.single_total_ms += t.processing_ms;
            }
            r.still_detect_ms += t.stages.detect_ms;
            r.still_total_ms += t.processing_ms;
            if f + 1 == frames {
                r.still.add(photo, &dets, &passes);
            }
        }
        for (b, &e) in valid.iter().zip(&ever) {
            r.within.count(b.h, e);
        }
    }
    let n = photos.len().max(1) as f64;
    r.single_detect_ms /= n;
    r.single_total_ms /= n;
    r.still_detect_ms /= n * frames as f64;
    r.still_total_ms /= n * frames as f64;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, y: f32, s: f32) -> Detection {
        Detection {
            bbox: BBox { x, y, w: s, h: s },
            score: 0.9,
            keypoints: [[0.0; 2]; 6],
            age: 0,
        }
    }

    #[test]
    fn protocol_counts_matches_invalid_faces_and_false_positives() {
        let photo = CrowdPhoto {
            file: "t.jpg".into(),
            image: RgbImage::new(1, 1),
            faces: vec![
                CrowdFace {
                    bbox: BBox {
                        x: 0.0,
                        y: 0.0,
                        w: 20.0,
                        h: 20.0,
                    },
                    invalid: false,
                },
                CrowdFace {
                    bbox: BBox {
                        x: 100.0,
                        y: 0.0,
                        w: 40.0,
                        h: 40.0,
                    },
                    invalid: false,
                },
                CrowdFace {
                    bbox: BBox {
                        x: 200.0,
                        y: 0.0,
                        w: 20.0,
                        h: 20.0,
                    },
                    invalid: true,
                },
            ],
        };
        let dets = [
            det(1.0, 1.0, 20.0),     // finds face 0 (IoU 0.82)
            det(2.0, 2.0, 20.0),     // a duplicate: no match, but overlaps face 0
            det(200.0, 0.0, 20.0),   // on the invalid face: neither found nor FP
            det(120.0, 20.0, 40.0),  // IoU 0.14 with face 1: a false positive
            det(300.0, 300.0, 10.0), // nowhere: a false positive
        ];
        let mut s = CrowdScore::default();
        s.add(&photo, &dets, &|_| true);
        assert_eq!(s.buckets.total, [0, 0, 1, 0, 1, 0]);
        assert_eq!(s.buckets.found, [0, 0, 1, 0, 0, 0]);
        assert_eq!(s.gated, [0, 0, 1, 0, 0, 0]);
        assert_eq!(s.false_positives, 2);
        assert_eq!(s.fp_per_photo(), 2.0);
    }
}
