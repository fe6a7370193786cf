//! Plain data that flows through the pipeline: detections, per-face results.

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
}

/// Whether a face got an emotion, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    /// Which classifier produced `probs` (e.g. "efc32", "efc_r10"); empty when not classified.
    pub route: String,
    /// Class probabilities in [`EMOTIONS`] order (all zero when not classified).
    pub probs: [f32; NUM_EMOTIONS],
    /// Stable track id (0 when tracking is off).
    pub track_id: u64,
    /// Temporally smoothed probabilities when tracking is on.
    pub smoothed: Option<[f32; NUM_EMOTIONS]>,
}

impl FaceState {
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
        let mut best = (0, p[0]);
        for (i, &v) in p.iter().enumerate().skip(1) {
            if v > best.1 {
                best = (i, v);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_codes_and_class_names_match_the_message_definitions() {
        let msg = include_str!("../msg/FaceEmotion.msg");
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
