//! Plain data that flows through the pipeline: detections, per-face results.

use std::sync::Arc;

use serde::Serialize;

/// Number of FER+ emotion classes.
pub const NUM_EMOTIONS: usize = 8;

/// FER+ class order used everywhere in the project (models, messages, evaluator).
pub const EMOTIONS: [&str; NUM_EMOTIONS] = [
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
];

/// Index of the first largest value (0 for an empty slice): the one arg-max of
/// the project (top class, recogniser bin, evaluation).
pub fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold(0, |b, (i, &x)| if x > v[b] { i } else { b })
}

/// Greedy one-to-one matching by decreasing IoU: pairs (a, b) with
/// `iou(a, b) >= min_iou`, best first, ties by lower `a` then lower `b` index,
/// each `a` and each `b` used at most once. `matched[a]` gets its `b`. The
/// tracker and the ground-truth scoring share it; `pairs` and `b_used` are
/// scratch buffers kept by the caller (no allocation once they have grown).
pub fn greedy_iou_match(
    n_a: usize,
    n_b: usize,
    iou: impl Fn(usize, usize) -> f32,
    min_iou: f32,
    pairs: &mut Vec<(f32, usize, usize)>,
    b_used: &mut Vec<bool>,
    matched: &mut Vec<Option<usize>>,
) {
    pairs.clear();
    for a in 0..n_a {
        for b in 0..n_b {
            let v = iou(a, b);
            if v >= min_iou {
                pairs.push((v, a, b));
            }
        }
    }
    pairs.sort_unstable_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    b_used.clear();
    b_used.resize(n_b, false);
    matched.clear();
    matched.resize(n_a, None);
    for &(_, a, b) in pairs.iter() {
        if matched[a].is_none() && !b_used[b] {
            matched[a] = Some(b);
            b_used[b] = true;
        }
    }
}

/// Axis-aligned box in source-image pixels (top-left corner, width, height).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct BBox {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl BBox {
    pub fn area(&self) -> f32 {
        self.w.max(0.0) * self.h.max(0.0)
    }

    pub fn iou(&self, other: &BBox) -> f32 {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = (self.x + self.w).min(other.x + other.w);
        let y1 = (self.y + self.h).min(other.y + other.h);
        let inter = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }

    pub fn center(&self) -> (f32, f32) {
        (self.x + self.w * 0.5, self.y + self.h * 0.5)
    }
}

/// Keypoint order of BlazeFace: eye on the image's left, eye on the image's right,
/// nose tip, mouth centre, ear on the image's left, ear on the image's right.
pub const KEYPOINT_NAMES: [&str; 6] = [
    "left_eye",
    "right_eye",
    "nose_tip",
    "mouth_center",
    "left_ear",
    "right_ear",
];

/// One detected face in source-image pixels.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Detection {
    pub bbox: BBox,
    /// Detector confidence in [0, 1].
    pub score: f32,
    /// 6 keypoints (x, y) in source-image pixels, order of [`KEYPOINT_NAMES`].
    pub keypoints: [[f32; 2]; 6],
    /// Frames since a detector run saw this box: 0 when a run of this frame found
    /// it (the full frame, a tile or the re-detection around a tracked face), `n`
    /// when it is held from a tile that ran `n` frames ago and whose pixels have
    /// not changed since.
    pub age: u32,
}

/// Whether a face got an emotion, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaceState {
    /// Classified: probabilities are meaningful.
    Classified,
    /// Native face size is below the minimum the classifier is trusted at.
    TooSmall,
    /// The detector score is below the classification gate.
    LowDetectorScore,
    /// Passed the quality gate, but the classifier failed on this frame (a
    /// run-time error); the detection is valid, the emotion unknown.
    ClassifierFailed,
}

/// Everything the pipeline knows about one face in one frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaceResult {
    pub detection: Detection,
    /// Face size in source pixels (side of the square box, before any resize).
    pub size_px: f32,
    pub state: FaceState,
    /// Which classifier produced `probs` (e.g. "efc32", "efc_r10"); empty when not
    /// classified. Shared with the pipeline's route table: no per-face copy.
    pub route: Arc<str>,
    /// Class probabilities in [`EMOTIONS`] order (all zero when not classified).
    pub probs: [f32; NUM_EMOTIONS],
    /// Stable track id (0 when tracking is off).
    pub track_id: u64,
    /// Temporally smoothed probabilities when tracking is on.
    pub smoothed: Option<[f32; NUM_EMOTIONS]>,
}

impl FaceState {
    /// The one name of a state (serde's too; `STATE_<NAME>` in msg/FaceEmotion.msg).
    pub fn name(self) -> &'static str {
        match self {
            FaceState::Classified => "classified",
            FaceState::TooSmall => "too_small",
            FaceState::LowDetectorScore => "low_detector_score",
            FaceState::ClassifierFailed => "classifier_failed",
        }
    }

    /// The `FaceEmotion.STATE_*` constant of msg/FaceEmotion.msg.
    pub fn code(self) -> u8 {
        match self {
            FaceState::Classified => 0,
            FaceState::TooSmall => 1,
            FaceState::LowDetectorScore => 2,
            FaceState::ClassifierFailed => 3,
        }
    }
}

/// What a face publishes in a `FaceEmotion` message beyond its detection: the one
/// rule shared by the node and the bag tool. An unclassified face carries zero
/// probabilities, no classifier, no smoothed values and an empty top label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PublishedEmotion<'a> {
    pub classifier: &'a str,
    pub probabilities: [f32; NUM_EMOTIONS],
    pub smoothed: Option<[f32; NUM_EMOTIONS]>,
    pub top_class: u8,
    pub top_label: &'static str,
    pub top_confidence: f32,
}

impl FaceResult {
    pub fn published(&self) -> PublishedEmotion<'_> {
        if self.state != FaceState::Classified {
            return PublishedEmotion {
                classifier: "",
                probabilities: [0.0; NUM_EMOTIONS],
                smoothed: None,
                top_class: 0,
                top_label: "",
                top_confidence: 0.0,
            };
        }
        let (top, conf) = self.top();
        PublishedEmotion {
            classifier: &self.route,
            probabilities: self.probs,
            smoothed: self.smoothed,
            top_class: top as u8,
            top_label: EMOTIONS[top],
            top_confidence: conf,
        }
    }

    /// Index and probability of the top class of the (smoothed, if present) distribution.
    pub fn top(&self) -> (usize, f32) {
        let p = self.smoothed.as_ref().unwrap_or(&self.probs);
        let i = argmax(p);
        (i, p[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_largest() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1);
        assert_eq!(argmax(&[-1.0]), 0);
        assert_eq!(argmax(&[]), 0);
    }

    #[test]
    fn greedy_match_is_one_to_one_best_first_and_thresholded() {
        // iou[a][b]
        let iou = [[0.9, 0.8, 0.0], [0.85, 0.2, 0.0], [0.5, 0.5, 0.1]];
        let (mut pairs, mut used, mut m) = (Vec::new(), Vec::new(), Vec::new());
        greedy_iou_match(3, 3, |a, b| iou[a][b], 0.3, &mut pairs, &mut used, &mut m);
        // a0 takes b0 (0.9); a1's best b0 is gone and 0.2 < 0.3; a2 ties 0.5/0.5,
        // b0 is used, so b1.
        assert_eq!(m, [Some(0), None, Some(1)]);
        assert_eq!(used, [true, true, false]);
        // Exact ties go to the lower indices.
        greedy_iou_match(2, 2, |_, _| 0.5, 0.3, &mut pairs, &mut used, &mut m);
        assert_eq!(m, [Some(0), Some(1)]);
        greedy_iou_match(0, 2, |_, _| 1.0, 0.3, &mut pairs, &mut used, &mut m);
        assert!(m.is_empty() && used == [false, false]);
    }

    #[test]
    fn state_names_match_serde() {
        for s in [
            FaceState::Classified,
            FaceState::TooSmall,
            FaceState::LowDetectorScore,
            FaceState::ClassifierFailed,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.name());
        }
    }

    #[test]
    fn state_codes_and_class_names_match_the_message_definitions() {
        let msg = include_str!("../../../msg/FaceEmotion.msg");
        for (state, name) in [
            (FaceState::Classified, "STATE_CLASSIFIED"),
            (FaceState::TooSmall, "STATE_TOO_SMALL"),
            (FaceState::LowDetectorScore, "STATE_LOW_DETECTOR_SCORE"),
            (FaceState::ClassifierFailed, "STATE_CLASSIFIER_FAILED"),
        ] {
            let line = format!("uint8 {name}={}", state.code());
            assert!(
                msg.lines().any(|l| l.trim() == line),
                "msg/FaceEmotion.msg lacks `{line}`"
            );
        }
        for (i, e) in EMOTIONS.iter().enumerate() {
            let upper = e.to_uppercase();
            assert!(
                msg.contains(&format!("uint8 CLASS_{upper}={i}")),
                "class index of {e}"
            );
            assert!(
                msg.contains(&format!("string CLASS_NAME_{upper}=\"{e}\"")),
                "class name of {e}"
            );
        }
    }

    #[test]
    fn unclassified_faces_publish_no_emotion() {
        let mut f = FaceResult {
            detection: Detection::default(),
            size_px: 6.0,
            state: FaceState::TooSmall,
            route: "efc_all_s32".into(),
            probs: [0.125; NUM_EMOTIONS],
            track_id: 3,
            smoothed: Some([0.125; NUM_EMOTIONS]),
        };
        let e = f.published();
        assert_eq!((e.classifier, e.top_label, e.smoothed), ("", "", None));
        assert!(e.probabilities.iter().all(|&p| p == 0.0));
        f.state = FaceState::Classified;
        f.probs[1] = 0.5;
        f.smoothed = None; // the top class follows the smoothed distribution when there is one
        let e = f.published();
        assert_eq!(
            (e.classifier, e.top_class, e.top_label),
            ("efc_all_s32", 1, "happiness")
        );
    }

    #[test]
    fn iou_of_identical_and_disjoint_boxes() {
        let a = BBox {
            x: 0.0,
            y: 0.0,
            w: 10.0,
            h: 10.0,
        };
        let b = BBox {
            x: 5.0,
            y: 0.0,
            w: 10.0,
            h: 10.0,
        };
        let c = BBox {
            x: 20.0,
            y: 20.0,
            w: 5.0,
            h: 5.0,
        };
        assert!((a.iou(&a) - 1.0).abs() < 1e-6);
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-6);
        assert_eq!(a.iou(&c), 0.0);
    }
}
