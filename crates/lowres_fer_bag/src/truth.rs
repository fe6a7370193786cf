//! Ground truth for a bag: a JSON sidecar of per-frame face boxes and emotion
//! labels, and the detection / emotion metrics computed against it.
//!
//! Format (documented in docs/rosbag.md):
//! ```json
//! {
//!   "format": "lowres_fer.ground_truth.v1",
//!   "frames": [
//!     {"stamp_ns": 1700000000033366666,
//!      "faces": [{"x": 10, "y": 20, "width": 40, "height": 40, "label": "happiness"}]},
//!     {"index": 12, "faces": []}
//!   ]
//! }
//! ```
//! A frame is identified by its header stamp (`stamp_ns`) or by its 0-based
//! position among the topic's messages (`index`). Frames not listed are not
//! evaluated; a listed frame with no faces counts every detection in it as a
//! false positive. `label` is optional (null/absent: box only).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use lowres_fer::face::{greedy_iou_match, BBox, FaceResult, FaceState, EMOTIONS};

pub const FORMAT: &str = "lowres_fer.ground_truth.v1";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TruthFace {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
    #[serde(default)]
    pub label: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TruthFrame {
    #[serde(default)]
    pub stamp_ns: Option<i64>,
    #[serde(default)]
    pub index: Option<u64>,
    pub faces: Vec<TruthFace>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TruthFile {
    pub format: String,
    pub frames: Vec<TruthFrame>,
}

/// Loaded ground truth, indexed for lookup while the bag streams.
pub struct GroundTruth {
    by_stamp: HashMap<i64, usize>,
    by_index: HashMap<u64, usize>,
    frames: Vec<TruthFrame>,
    seen: Vec<bool>,
    iou: f32,
    pub metrics: Metrics,
}

/// Metrics against the ground truth; serialized into summary.json.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Metrics {
    pub iou_threshold: f32,
    /// Ground-truth frames that were found in the bag and evaluated.
    pub frames_evaluated: u64,
    /// Ground-truth frames whose stamp/index never appeared in the topic.
    pub frames_not_in_bag: u64,
    pub gt_faces: u64,
    pub detections: u64,
    pub true_positives: u64,
    pub false_positives: u64,
    pub false_negatives: u64,
    pub recall: f64,
    pub precision: f64,
    /// Matched faces that carry a ground-truth label.
    pub labelled_matched: u64,
    /// ... of which the pipeline classified (state CLASSIFIED).
    pub labelled_classified: u64,
    /// ... of which the top label equals the ground truth.
    pub emotion_correct: u64,
    /// correct / labelled_matched (an unclassified face counts as wrong).
    pub emotion_accuracy: f64,
    /// correct / labelled_classified.
    pub emotion_accuracy_classified: f64,
    /// correct / all labelled ground-truth faces (missed faces count as wrong).
    pub emotion_accuracy_end_to_end: f64,
    pub labelled_gt_faces: u64,
    /// confusion[gt label][predicted label or "unclassified"] = count.
    pub confusion: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl GroundTruth {
    pub fn load(path: &Path, iou: f32) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read ground truth {}", path.display()))?;
        let file: TruthFile = serde_json::from_str(&text)
            .with_context(|| format!("ground truth {} is not valid ({FORMAT})", path.display()))?;
        if file.format != FORMAT {
            bail!(
                "ground truth {}: format '{}' is not '{FORMAT}'",
                path.display(),
                file.format
            );
        }
        let mut by_stamp = HashMap::new();
        let mut by_index = HashMap::new();
        for (i, f) in file.frames.iter().enumerate() {
            match (f.stamp_ns, f.index) {
                (Some(s), None) => {
                    if by_stamp.insert(s, i).is_some() {
                        bail!("ground truth: stamp_ns {s} listed twice");
                    }
                }
                (None, Some(k)) => {
                    if by_index.insert(k, i).is_some() {
                        bail!("ground truth: index {k} listed twice");
                    }
                }
                _ => bail!("ground truth: frame #{i} needs exactly one of stamp_ns or index"),
            }
            for face in &f.faces {
                if !(face.width > 0.0 && face.height > 0.0) {
                    bail!("ground truth: frame #{i} has a box with non-positive size");
                }
                if let Some(l) = &face.label {
                    if !EMOTIONS.contains(&l.as_str()) {
                        bail!(
                            "ground truth: frame #{i}: label '{l}' is not one of {}",
                            EMOTIONS.join(", ")
                        );
                    }
                }
            }
        }
        let n = file.frames.len();
        Ok(Self {
            by_stamp,
            by_index,
            frames: file.frames,
            seen: vec![false; n],
            iou,
            metrics: Metrics {
                iou_threshold: iou,
                ..Metrics::default()
            },
        })
    }

    /// Score one processed frame if the ground truth lists it.
    pub fn score(&mut self, index: u64, stamp_ns: i64, faces: &[FaceResult]) {
        let Some(&fi) = self
            .by_stamp
            .get(&stamp_ns)
            .or_else(|| self.by_index.get(&index))
        else {
            return;
        };
        if self.seen[fi] {
            return; // duplicate stamps in the bag: score the first frame only
        }
        self.seen[fi] = true;
        let gt = &self.frames[fi].faces;
        let m = &mut self.metrics;
        m.frames_evaluated += 1;
        m.gt_faces += gt.len() as u64;
        m.detections += faces.len() as u64;
        // Greedy one-to-one matching by decreasing IoU (ties by index, so the
        // result is deterministic): the tracker's matcher.
        let gt_box = |t: &TruthFace| BBox {
            x: t.x,
            y: t.y,
            w: t.width,
            h: t.height,
        };
        let (mut pairs, mut d_used, mut g_match) = (Vec::new(), Vec::new(), Vec::new());
        greedy_iou_match(
            gt.len(),
            faces.len(),
            |g, d| gt_box(&gt[g]).iou(&faces[d].detection.bbox),
            self.iou,
            &mut pairs,
            &mut d_used,
            &mut g_match,
        );
        for (g, d) in g_match.iter().enumerate() {
            let Some(d) = *d else { continue };
            m.true_positives += 1;
            if let Some(label) = &gt[g].label {
                m.labelled_matched += 1;
                let f = &faces[d];
                let pred = if f.state == FaceState::Classified {
                    m.labelled_classified += 1;
                    EMOTIONS[f.top().0]
                } else {
                    "unclassified"
                };
                if pred == label {
                    m.emotion_correct += 1;
                }
                *m.confusion
                    .entry(label.clone())
                    .or_default()
                    .entry(pred.to_string())
                    .or_default() += 1;
            }
        }
        m.labelled_gt_faces += gt.iter().filter(|t| t.label.is_some()).count() as u64;
        m.false_negatives += g_match.iter().filter(|d| d.is_none()).count() as u64;
        m.false_positives += d_used.iter().filter(|u| !**u).count() as u64;
    }

    /// Final metrics; an error when no listed frame was found in the bag (the
    /// sidecar almost certainly belongs to another recording or topic).
    pub fn finish(mut self) -> Result<Metrics> {
        let m = &mut self.metrics;
        m.frames_not_in_bag = self.seen.iter().filter(|s| !**s).count() as u64;
        if !self.frames.is_empty() && m.frames_evaluated == 0 {
            bail!(
                "none of the {} ground-truth frames matches a frame of the topic (by stamp_ns or index): wrong sidecar or topic?",
                self.frames.len()
            );
        }
        m.recall = ratio(m.true_positives, m.gt_faces);
        m.precision = ratio(m.true_positives, m.detections);
        m.emotion_accuracy = ratio(m.emotion_correct, m.labelled_matched);
        m.emotion_accuracy_classified = ratio(m.emotion_correct, m.labelled_classified);
        m.emotion_accuracy_end_to_end = ratio(m.emotion_correct, m.labelled_gt_faces);
        Ok(self.metrics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lowres_fer::face::Detection;

    fn face(x: f32, top: usize, state: FaceState) -> FaceResult {
        let mut probs = [0.0; 8];
        probs[top] = 1.0;
        FaceResult {
            detection: Detection {
                bbox: BBox {
                    x,
                    y: 0.0,
                    w: 10.0,
                    h: 10.0,
                },
                score: 0.9,
                keypoints: [[0.0; 2]; 6],
                age: 0,
            },
            size_px: 10.0,
            state,
            route: "".into(),
            probs,
            track_id: 1,
            smoothed: None,
        }
    }

    #[test]
    fn recall_precision_and_accuracy() {
        let dir = std::env::temp_dir().join(format!("lf_gt_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("gt.json");
        std::fs::write(
            &p,
            r#"{"format": "lowres_fer.ground_truth.v1", "frames": [
                {"stamp_ns": 5, "faces": [
                    {"x": 0, "y": 0, "width": 10, "height": 10, "label": "happiness"},
                    {"x": 100, "y": 0, "width": 10, "height": 10, "label": "anger"}]},
                {"index": 1, "faces": [{"x": 0, "y": 0, "width": 10, "height": 10, "label": "neutral"}]},
                {"index": 9, "faces": []}]}"#,
        )
        .unwrap();
        let mut gt = GroundTruth::load(&p, 0.5).unwrap();
        // frame 0: one correct match, one missed GT face, one false positive.
        gt.score(
            0,
            5,
            &[
                face(0.0, 1, FaceState::Classified),
                face(50.0, 0, FaceState::Classified),
            ],
        );
        // frame 1: matched but not classified.
        gt.score(1, 77, &[face(1.0, 0, FaceState::TooSmall)]);
        gt.score(2, 78, &[face(1.0, 0, FaceState::Classified)]); // not listed
        let m = gt.finish().unwrap();
        assert_eq!(
            (m.true_positives, m.false_positives, m.false_negatives),
            (2, 1, 1)
        );
        assert_eq!(m.frames_evaluated, 2);
        assert_eq!(m.frames_not_in_bag, 1);
        assert!((m.recall - 2.0 / 3.0).abs() < 1e-9);
        assert!((m.precision - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(m.emotion_correct, 1);
        assert!((m.emotion_accuracy - 0.5).abs() < 1e-9);
        assert!((m.emotion_accuracy_classified - 1.0).abs() < 1e-9);
        assert!((m.emotion_accuracy_end_to_end - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(m.confusion["neutral"]["unclassified"], 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_sidecars_are_rejected() {
        let dir = std::env::temp_dir().join(format!("lf_gt_bad_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("gt.json");
        for bad in [
            r#"{"format": "other", "frames": []}"#,
            r#"{"format": "lowres_fer.ground_truth.v1", "frames": [{"faces": []}]}"#,
            r#"{"format": "lowres_fer.ground_truth.v1", "frames": [{"index": 0, "faces": [{"x":0,"y":0,"width":5,"height":5,"label":"joy"}]}]}"#,
        ] {
            std::fs::write(&p, bad).unwrap();
            assert!(GroundTruth::load(&p, 0.5).is_err(), "{bad}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
