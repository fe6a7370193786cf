//! The values of lowres_fer/msg, and of the vision_msgs the node publishes, as
//! plain Rust types (no ROS, no wire format).
//!
//! [`crate::frame::FrameStep`] produces them; the node copies them field by
//! field into r2r messages (crates/lowres_fer_node/src/convert.rs), the bag tool serialises them
//! as CDR (crates/lowres_fer_bag/src/msgs.rs). Both tools therefore publish the same values by
//! construction. Field order and meaning follow msg/*.msg exactly.

use std::fmt::Write;

use crate::face::{FaceResult, FaceState, EMOTIONS, NUM_EMOTIONS};

/// std_msgs/Header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub sec: i32,
    pub nanosec: u32,
    pub frame_id: String,
}

impl Header {
    /// Stamp in nanoseconds (i64: stamps before 1970 are legal in sim; an i32
    /// second count times 1e9 always fits).
    pub fn stamp_ns(&self) -> i64 {
        self.sec as i64 * 1_000_000_000 + self.nanosec as i64
    }
}

/// lowres_fer/FaceEmotion.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaceEmotion {
    pub face_id: u64,
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
    pub detector_score: f32,
    pub detection_age: u32,
    /// geometry_msgs/Point32[6]: (x, y, z) with z = 0.
    pub keypoints: [[f32; 3]; 6],
    pub face_size_px: f32,
    pub state: u8,
    pub classifier: String,
    pub probabilities: [f32; NUM_EMOTIONS],
    pub has_smoothed: bool,
    pub smoothed_probabilities: [f32; NUM_EMOTIONS],
    pub top_class: u8,
    pub top_label: String,
    pub top_confidence: f32,
}

impl FaceEmotion {
    /// The message of one pipeline result (see [`FaceResult::published`]:
    /// unclassified faces carry zero probabilities, no classifier, no smoothed
    /// values and an empty top label).
    pub fn from_result(f: &FaceResult) -> Self {
        let mut m = Self::default();
        m.set_from(f);
        m
    }

    /// Overwrite `self` with `f`'s values, reusing the string allocations.
    pub fn set_from(&mut self, f: &FaceResult) {
        let d = &f.detection;
        let e = f.published();
        for (k, p) in self.keypoints.iter_mut().zip(d.keypoints.iter()) {
            *k = [p[0], p[1], 0.0];
        }
        self.face_id = f.track_id;
        self.x = d.bbox.x;
        self.y = d.bbox.y;
        self.width = d.bbox.w;
        self.height = d.bbox.h;
        self.detector_score = d.score;
        self.detection_age = d.age;
        self.face_size_px = f.size_px;
        self.state = f.state.code();
        self.classifier.clear();
        self.classifier.push_str(e.classifier);
        self.probabilities = e.probabilities;
        self.has_smoothed = e.smoothed.is_some();
        self.smoothed_probabilities = e.smoothed.unwrap_or([0.0; NUM_EMOTIONS]);
        self.top_class = e.top_class;
        self.top_label.clear();
        self.top_label.push_str(e.top_label);
        self.top_confidence = e.top_confidence;
    }
}

/// lowres_fer/FaceEmotionArray.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaceEmotionArray {
    pub header: Header,
    pub image_width: u32,
    pub image_height: u32,
    pub processing_time_ms: f32,
    pub faces: Vec<FaceEmotion>,
}

impl FaceEmotionArray {
    /// Overwrite `self` with one frame's results, reusing its allocations.
    pub fn set_from(
        &mut self,
        header: Header,
        width: u32,
        height: u32,
        processing_ms: f64,
        faces: &[FaceResult],
    ) {
        self.header = header;
        self.image_width = width;
        self.image_height = height;
        self.processing_time_ms = processing_ms as f32;
        self.faces.truncate(faces.len());
        for (m, f) in self.faces.iter_mut().zip(faces) {
            m.set_from(f);
        }
        for f in &faces[self.faces.len()..] {
            self.faces.push(FaceEmotion::from_result(f));
        }
    }
}

/// `ObjectHypothesis.class_id` of each FER+ class: its index in [`EMOTIONS`],
/// as the `detections/label_info` class map says.
pub const CLASS_IDS: [&str; NUM_EMOTIONS] = ["0", "1", "2", "3", "4", "5", "6", "7"];

/// vision_msgs/ObjectHypothesisWithPose as the node fills it: a class and its
/// probability. Its pose stays the message default (zero position, identity
/// orientation, zero covariance): an emotion has no pose of its own, and the
/// box says where the face is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hypothesis {
    pub class_id: &'static str,
    pub score: f64,
}

/// vision_msgs/Detection2D of one face. Its header is the array's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Detection2D {
    /// One hypothesis per FER+ class, most probable first, with the
    /// distribution behind `FaceEmotion.top_label` (smoothed while tracking
    /// smooths, calibrated). Empty for a face that was not classified
    /// (`FaceEmotion.state` says why).
    pub results: Vec<Hypothesis>,
    /// BoundingBox2D: centre and size in pixels of the input image (theta 0).
    pub center_x: f64,
    pub center_y: f64,
    pub size_x: f64,
    pub size_y: f64,
    /// The REP-155 face id (`f<face_id>`), empty when tracking is off.
    pub id: String,
}

impl Detection2D {
    /// Overwrite `self` with `f`'s values, reusing the allocations.
    pub fn set_from(&mut self, f: &FaceResult) {
        let b = &f.detection.bbox;
        let (cx, cy) = b.center();
        self.center_x = cx as f64;
        self.center_y = cy as f64;
        self.size_x = b.w as f64;
        self.size_y = b.h as f64;
        self.id.clear();
        if f.track_id != 0 {
            // Cannot fail: writing to a String.
            let _ = write!(self.id, "f{}", f.track_id);
        }
        self.results.clear();
        if f.state == FaceState::Classified {
            let p = f.smoothed.as_ref().unwrap_or(&f.probs);
            self.results
                .extend(CLASS_IDS.iter().zip(p).map(|(&class_id, &s)| Hypothesis {
                    class_id,
                    score: s as f64,
                }));
            // Stable: equal probabilities keep the FER+ order.
            self.results.sort_by(|a, b| b.score.total_cmp(&a.score));
        }
    }
}

/// vision_msgs/Detection2DArray: one Detection2D per face of a frame, in the
/// order of `FaceEmotionArray.faces`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Detection2DArray {
    pub header: Header,
    pub detections: Vec<Detection2D>,
}

impl Detection2DArray {
    /// Overwrite `self` with one frame's results, reusing its allocations.
    pub fn set_from(&mut self, header: &Header, faces: &[FaceResult]) {
        self.header.clone_from(header);
        self.detections.truncate(faces.len());
        for (d, f) in self.detections.iter_mut().zip(faces) {
            d.set_from(f);
        }
        for f in &faces[self.detections.len()..] {
            let mut d = Detection2D::default();
            d.set_from(f);
            self.detections.push(d);
        }
    }
}

/// vision_msgs/LabelInfo of `detections`: class id -> FER+ label, and the
/// confidence threshold of the hypotheses (0: all eight are published).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelInfo {
    pub class_map: [(u16, &'static str); NUM_EMOTIONS],
    pub threshold: f32,
}

/// The one class map of `detections`.
pub fn label_info() -> LabelInfo {
    let mut class_map = [(0u16, ""); NUM_EMOTIONS];
    for (i, (c, label)) in class_map.iter_mut().zip(EMOTIONS).enumerate() {
        *c = (i as u16, label);
    }
    LabelInfo {
        class_map,
        threshold: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::{BBox, Detection, FaceState};

    fn face(state: FaceState, route: &str, p1: f32) -> FaceResult {
        let mut probs = [0.0; NUM_EMOTIONS];
        probs[1] = p1;
        probs[0] = 1.0 - p1;
        FaceResult {
            detection: Detection {
                bbox: BBox {
                    x: 1.0,
                    y: 2.0,
                    w: 30.0,
                    h: 31.0,
                },
                score: 0.9,
                keypoints: [[3.0, 4.0]; 6],
                age: 0,
            },
            size_px: 31.0,
            state,
            route: route.into(),
            probs,
            track_id: 7,
            smoothed: None,
        }
    }

    #[test]
    fn reused_array_equals_a_fresh_one() {
        let a = [
            face(FaceState::Classified, "efc_all_s32", 0.9),
            face(FaceState::TooSmall, "", 0.0),
        ];
        let b = [face(FaceState::Classified, "efc_r10", 0.2)];
        let h = Header {
            sec: 5,
            nanosec: 6,
            frame_id: "cam".into(),
        };
        let mut reused = FaceEmotionArray::default();
        reused.set_from(h.clone(), 64, 48, 1.5, &a);
        reused.set_from(h.clone(), 64, 48, 2.5, &b);
        let mut fresh = FaceEmotionArray::default();
        fresh.set_from(h.clone(), 64, 48, 2.5, &b);
        assert_eq!(reused, fresh);
        assert_eq!(fresh.faces.len(), 1);
        assert_eq!(fresh.faces[0].classifier, "efc_r10");
        assert_eq!(fresh.faces[0].top_label, "neutral");
        reused.set_from(h, 64, 48, 2.5, &a);
        assert_eq!(reused.faces.len(), 2);
        // Unclassified faces publish no classifier, label or probabilities.
        assert_eq!(reused.faces[1].classifier, "");
        assert_eq!(reused.faces[1].top_label, "");
        assert_eq!(reused.faces[1].probabilities, [0.0; NUM_EMOTIONS]);
        assert_eq!(reused.faces[1].keypoints[5], [3.0, 4.0, 0.0]);
    }

    #[test]
    fn detections_rank_the_classes_and_leave_unclassified_faces_empty() {
        let mut a = face(FaceState::Classified, "efc_all_s32", 0.9);
        a.smoothed = Some([0.1, 0.2, 0.0, 0.7, 0.0, 0.0, 0.0, 0.0]);
        let mut b = face(FaceState::TooSmall, "", 0.0);
        b.track_id = 0;
        let mut reused = Detection2DArray::default();
        let h = Header::default();
        reused.set_from(&h, &[b.clone(), a.clone(), a.clone()]);
        reused.set_from(&h, &[a, b]);
        let d = &reused.detections;
        assert_eq!(d.len(), 2);
        // The smoothed distribution, most probable first, ties in FER+ order.
        let ranked: Vec<_> = d[0].results.iter().map(|r| r.class_id).collect();
        assert_eq!(ranked, ["3", "1", "0", "2", "4", "5", "6", "7"]);
        assert!((d[0].results[0].score - 0.7).abs() < 1e-6);
        assert_eq!(d[0].id, "f7");
        assert_eq!((d[0].center_x, d[0].center_y), (16.0, 17.5));
        assert_eq!((d[0].size_x, d[0].size_y), (30.0, 31.0));
        assert!(d[1].results.is_empty());
        assert_eq!(d[1].id, "");
        let labels = label_info();
        assert_eq!(labels.class_map[3], (3, "sadness"));
        assert_eq!(CLASS_IDS[3], "3");
    }

    #[test]
    fn stamp_ns_handles_negative_and_large_seconds() {
        let h = |sec, nanosec| Header {
            sec,
            nanosec,
            frame_id: String::new(),
        };
        assert_eq!(h(-1, 500).stamp_ns(), -999_999_500);
        assert_eq!(
            h(i32::MAX, 999_999_999).stamp_ns(),
            i32::MAX as i64 * 1_000_000_000 + 999_999_999
        );
    }
}
