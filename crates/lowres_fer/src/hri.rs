//! ROS4HRI (REP-155) values, ROS-free: what the node publishes on
//! `/humans/faces/...` and how it reads another detector's faces.
//!
//! - [`face_id`]: the short REP-155 id of a track (`f<track id>`), [`valid_id`]
//!   checks ids that come from other nodes before they become topic names;
//! - [`Roi`]: a face box normalised to the image (NormalizedRegionOfInterest2D);
//! - [`landmarks`]: the detector's keypoints as hri_msgs/FacialLandmarks;
//! - [`expression`]: the 8 FER+ probabilities as an hri_msgs/Expression
//!   (categorical label, confidence, valence, arousal) — the mapping and the
//!   answer for "contempt" are documented on [`FERPLUS_TO_HRI`] and
//!   [`VALENCE_AROUSAL`] (README, "ROS4HRI");
//! - [`crop_rgb`]: the `cropped` image, never upsampled beyond native pixels;
//! - [`Lifecycle`]: which ids were confirmed / ended between two frames (the
//!   node creates and removes per-face publishers on these events);
//! - [`CropClassifier`] and [`Smoother`]: the drop-in mode, where another
//!   ROS4HRI face detector provides the crops and this node only classifies.

use std::collections::HashMap;

use image::{GrayImage, RgbImage};

use crate::classify::route::{Classified, Crop, Router};
use crate::face::{argmax, BBox, Detection, NUM_EMOTIONS};
use crate::imaging::io::{raw_to_rgb, ImageError};
use crate::models::runtime;
use crate::models::ModelStore;
use crate::settings::config::{ClassifierConfig, PipelineConfig};

/// At most this many faces are followed in the drop-in mode: each costs a
/// subscription pair and a publisher, and the id list comes from another node
/// (a faulty or hostile list must not exhaust the process).
pub const MAX_FOLLOWED_FACES: usize = 64;

/// Longest id accepted from another node (REP-155 ids are short; hri_face_detect
/// uses 5 letters).
pub const MAX_ID_LEN: usize = 64;

/// The REP-155 id of a track: short, unique while the track lives, a valid ROS
/// name token (a letter first, as topic-name tokens may not start with a digit).
/// Not persistent across node restarts, as the REP allows.
pub fn face_id(track_id: u64) -> String {
    format!("f{track_id}")
}

/// Whether an id received from another node can name a topic
/// (`/humans/faces/<id>/...`): 1..=[`MAX_ID_LEN`] of `[A-Za-z0-9_]`, not starting
/// with a digit, no `__` (reserved in ROS names), not ending in `_`.
pub fn valid_id(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_ID_LEN
        && !b[0].is_ascii_digit()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        && !id.contains("__")
        && !id.ends_with('_')
}

/// hri_msgs/NormalizedRegionOfInterest2D values: corners in [0, 1] of the image
/// width/height, confidence in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Roi {
    pub xmin: f32,
    pub ymin: f32,
    pub xmax: f32,
    pub ymax: f32,
    pub c: f32,
}

fn unit(v: f32) -> f32 {
    // NaN -> 0: a box from a broken detection must still give a valid message.
    if v.is_nan() {
        0.0
    } else {
        v.clamp(0.0, 1.0)
    }
}

impl Roi {
    /// The box `b` (source pixels) of a `width` x `height` image, clipped to the
    /// image: REP-155 coordinates are normalised, so a face at the border has
    /// its visible part as the region.
    pub fn from_bbox(b: &BBox, width: u32, height: u32, confidence: f32) -> Self {
        let (w, h) = (width.max(1) as f32, height.max(1) as f32);
        Self {
            xmin: unit(b.x / w),
            ymin: unit(b.y / h),
            xmax: unit((b.x + b.w) / w),
            ymax: unit((b.y + b.h) / h),
            c: unit(confidence),
        }
    }

    /// A region that can be used: finite, inside [0, 1], min <= max.
    pub fn is_valid(&self) -> bool {
        let ok = |v: f32| (0.0..=1.0).contains(&v);
        ok(self.xmin)
            && ok(self.ymin)
            && ok(self.xmax)
            && ok(self.ymax)
            && self.xmin <= self.xmax
            && self.ymin <= self.ymax
    }

    /// The face's native side in source pixels (the larger side of the region),
    /// given the source image size; `None` when the region is invalid or the
    /// size unknown (0).
    pub fn native_side(&self, width: u32, height: u32) -> Option<f32> {
        if !self.is_valid() || width == 0 || height == 0 {
            return None;
        }
        let w = (self.xmax - self.xmin) * width as f32;
        let h = (self.ymax - self.ymin) * height as f32;
        Some(w.max(h))
    }
}

/// Length of `FacialLandmarks.landmarks`: one point per landmark code, 0..=69
/// (dlib's 68 points and OpenPose's two pupils).
pub const NUM_LANDMARKS: usize = 70;

/// The FacialLandmarks code of each detector keypoint, in the order of
/// [`crate::face::KEYPOINT_NAMES`]. The eye on the image's left is the
/// person's right eye (dlib's convention, which the codes follow); an eye
/// centre is where the pupil code puts it. The mouth centre has no code
/// (dlib has the lips' outer and inner points only), so it is not published.
pub const KEYPOINT_LANDMARKS: [Option<usize>; 6] = [
    Some(68), // left_eye: RIGHT_PUPIL
    Some(69), // right_eye: LEFT_PUPIL
    Some(30), // nose_tip: NOSE
    None,     // mouth_center
    Some(0),  // left_ear: RIGHT_EAR
    Some(16), // right_ear: LEFT_EAR
];

/// hri_msgs/NormalizedPointOfInterest2D values.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PointOfInterest {
    pub x: f32,
    pub y: f32,
    pub c: f32,
}

/// `FacialLandmarks.landmarks` of a detection in a `width` x `height` image:
/// the keypoints the detector gives, normalised, with its score as their
/// confidence; every other landmark, and a keypoint the detector does not have
/// (RetinaFace's ears are NaN) or that lies outside the image, is (0, 0) with
/// confidence 0.
pub fn landmarks(d: &Detection, width: u32, height: u32) -> [PointOfInterest; NUM_LANDMARKS] {
    let mut out = [PointOfInterest::default(); NUM_LANDMARKS];
    let (w, h) = (width.max(1) as f32, height.max(1) as f32);
    for (k, code) in d.keypoints.iter().zip(KEYPOINT_LANDMARKS) {
        let (x, y) = (k[0] / w, k[1] / h);
        let inside = (0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y);
        if let (Some(code), true) = (code, inside) {
            out[code] = PointOfInterest {
                x,
                y,
                c: unit(d.score),
            };
        }
    }
    out
}

/// The hri_msgs/Expression constants the FER+ classes map to, in the order of
/// [`crate::EMOTIONS`]: neutral, happiness, surprise, sadness, anger, disgust,
/// fear, contempt.
///
/// Contempt: hri_msgs/Expression has no such constant (the existing ROS4HRI
/// recogniser fails on it). Decision: contempt counts as **disgusted**.
/// Contempt is absent from the six basic emotions expression vocabularies
/// (Expression's included) build on, and disgust is its nearest neighbour
/// among them (both are "rejection" emotions of negative valence); "disgusted"
/// is a label every ROS4HRI consumer handles, whereas the other candidates
/// (skeptical, annoyed) are niche labels. The
/// categorical answer is the arg-max over the hri labels with the FER+
/// probabilities of classes that share a label summed, so contempt and disgust
/// together decide "disgusted" and its confidence. Contempt keeps its own
/// valence/arousal coordinates ([`VALENCE_AROUSAL`]), and the exact FER+
/// distribution, contempt included, stays on the `emotions` topic.
pub const FERPLUS_TO_HRI: [&str; NUM_EMOTIONS] = [
    "neutral",
    "happy",
    "surprised",
    "sad",
    "angry",
    "disgusted",
    "scared",
    "disgusted",
];

/// The distinct labels of [`FERPLUS_TO_HRI`], in first-appearance order.
const HRI_LABELS: [&str; 7] = [
    "neutral",
    "happy",
    "surprised",
    "sad",
    "angry",
    "disgusted",
    "scared",
];

/// Index in [`HRI_LABELS`] of each FER+ class.
const FERPLUS_TO_LABEL: [usize; NUM_EMOTIONS] = [0, 1, 2, 3, 4, 5, 6, 5];

/// (valence, arousal) per FER+ class, each in [-1, 1], in [`crate::EMOTIONS`]
/// order. Rationale: the classes placed on Russell's circumplex model of affect
/// (Russell 1980, "A circumplex model of affect"): neutral at the origin, each
/// emotion in the quadrant and near the angle of its adjective there (pleased/
/// happy: positive valence, mild arousal; astonished: high arousal, slightly
/// positive; sad/miserable: negative, low arousal; angry, afraid: negative,
/// high arousal, afraid the more aroused; disgust: negative, moderately
/// aroused; contempt: negative, close to neutral arousal), at a radius of about
/// 0.8 so a certain prediction does not claim the extreme of the scale. These
/// are a documented design choice, not values fitted to annotated data.
/// The published valence/arousal is the probability-weighted mean of these
/// points, so an uncertain face lands near the origin.
pub const VALENCE_AROUSAL: [[f32; 2]; NUM_EMOTIONS] = [
    [0.0, 0.0],   // neutral
    [0.8, 0.3],   // happiness
    [0.2, 0.8],   // surprise
    [-0.7, -0.4], // sadness
    [-0.6, 0.6],  // anger
    [-0.7, 0.3],  // disgust
    [-0.5, 0.7],  // fear
    [-0.6, 0.1],  // contempt
];

/// hri_msgs/Expression values (the header is the input image's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Expression {
    /// One of the hri_msgs/Expression constants ([`FERPLUS_TO_HRI`]).
    pub expression: &'static str,
    pub valence: f32,
    pub arousal: f32,
    /// The summed probability of the FER+ classes behind `expression`.
    pub confidence: f32,
}

/// The Expression of a FER+ distribution (see [`FERPLUS_TO_HRI`] and
/// [`VALENCE_AROUSAL`]). Probabilities are used as given (a classifier's
/// softmax sums to 1); non-finite or negative entries count as 0 and the
/// outputs are clamped to their ranges, so the message is always valid.
pub fn expression(probs: &[f32; NUM_EMOTIONS]) -> Expression {
    let mut label = [0.0f32; HRI_LABELS.len()];
    let (mut v, mut a) = (0.0f32, 0.0f32);
    for (i, &p) in probs.iter().enumerate() {
        let p = if p.is_finite() { p.max(0.0) } else { 0.0 };
        label[FERPLUS_TO_LABEL[i]] += p;
        v += p * VALENCE_AROUSAL[i][0];
        a += p * VALENCE_AROUSAL[i][1];
    }
    let top = argmax(&label);
    Expression {
        expression: HRI_LABELS[top],
        valence: v.clamp(-1.0, 1.0),
        arousal: a.clamp(-1.0, 1.0),
        confidence: label[top].clamp(0.0, 1.0),
    }
}

/// Write the `cropped` image of the face box `b`: the square of side
/// max(w, h) centred on the box (black outside the frame), RGB, at most
/// `max_side` pixels a side. A larger face is reduced by area averaging to
/// `max_side` (the REP's 128x128 by default); a smaller one is published at
/// its native size, never upsampled, so a consumer sees only pixels the camera
/// saw (the image's own width/height tell it how small the face was). `out`'s
/// buffer is reused.
pub fn crop_rgb(frame: &RgbImage, b: &BBox, max_side: u32, out: &mut RgbImage) {
    let side = b.w.max(b.h);
    let side = if side.is_finite() && side >= 1.0 {
        side.round().min(4096.0) as u32
    } else {
        1
    };
    let n = side.min(max_side.max(1));
    if out.dimensions() != (n, n) {
        let mut buf = std::mem::take(out).into_raw();
        buf.clear();
        buf.resize((n * n * 3) as usize, 0);
        *out = RgbImage::from_raw(n, n, buf).unwrap_or_else(|| RgbImage::new(n, n));
    }
    let (cx, cy) = b.center();
    let (cx, cy) = if cx.is_finite() && cy.is_finite() {
        (cx, cy)
    } else {
        (0.0, 0.0)
    };
    let x0 = (cx - side as f32 * 0.5).round() as i64;
    let y0 = (cy - side as f32 * 0.5).round() as i64;
    let (fw, fh) = (frame.width() as i64, frame.height() as i64);
    let src = frame.as_raw();
    let (side, n64) = (side as i64, n as i64);
    for v in 0..n64 {
        // Source rows [sy0, sy1) average into output row v (area filter).
        let (sy0, sy1) = (
            v * side / n64,
            ((v + 1) * side / n64).max(v * side / n64 + 1),
        );
        for u in 0..n64 {
            let (sx0, sx1) = (
                u * side / n64,
                ((u + 1) * side / n64).max(u * side / n64 + 1),
            );
            let mut acc = [0u32; 3];
            for sy in sy0..sy1 {
                let y = y0 + sy;
                if y < 0 || y >= fh {
                    continue;
                }
                for sx in sx0..sx1 {
                    let x = x0 + sx;
                    if x < 0 || x >= fw {
                        continue;
                    }
                    let i = ((y * fw + x) * 3) as usize;
                    acc[0] += src[i] as u32;
                    acc[1] += src[i + 1] as u32;
                    acc[2] += src[i + 2] as u32;
                }
            }
            // Pixels outside the frame count as black, as in the classifier crop.
            let count = ((sy1 - sy0) * (sx1 - sx0)) as u32;
            let o = ((v * n64 + u) * 3) as usize;
            let raw: &mut [u8] = out;
            for c in 0..3 {
                raw[o + c] = ((acc[c] + count / 2) / count) as u8;
            }
        }
    }
}

/// Which ids appeared and which ended between two updates: the node creates
/// a face's publishers on "confirmed" and removes them on "ended". A track is
/// confirmed on the first frame it exists (the tracker creates it from a
/// detection) and ends when the tracker drops it (unseen for more than
/// `tracking.max_missed` frames, or all at once when the tracks are reset).
#[derive(Debug, Clone)]
pub struct Lifecycle<K> {
    live: Vec<K>,
    next: Vec<K>,
    pub confirmed: Vec<K>,
    pub ended: Vec<K>,
}

impl<K> Default for Lifecycle<K> {
    fn default() -> Self {
        Self {
            live: Vec::new(),
            next: Vec::new(),
            confirmed: Vec::new(),
            ended: Vec::new(),
        }
    }
}

impl<K: Ord + Clone> Lifecycle<K> {
    /// The ids alive now (any order, duplicates ignored); fills `confirmed`
    /// and `ended` (sorted).
    pub fn update(&mut self, ids: impl IntoIterator<Item = K>) {
        self.next.clear();
        self.next.extend(ids);
        self.next.sort_unstable();
        self.next.dedup();
        self.confirmed.clear();
        self.ended.clear();
        let (mut i, mut j) = (0, 0);
        while i < self.live.len() || j < self.next.len() {
            match (self.live.get(i), self.next.get(j)) {
                (Some(a), Some(b)) if a == b => {
                    i += 1;
                    j += 1;
                }
                (Some(a), Some(b)) if a < b => {
                    self.ended.push(a.clone());
                    i += 1;
                }
                (Some(a), None) => {
                    self.ended.push(a.clone());
                    i += 1;
                }
                (_, Some(b)) => {
                    self.confirmed.push(b.clone());
                    j += 1;
                }
                (None, None) => break,
            }
        }
        std::mem::swap(&mut self.live, &mut self.next);
    }

    /// The ids alive after the last update, sorted.
    pub fn live(&self) -> &[K] {
        &self.live
    }

    pub fn contains(&self, id: &K) -> bool {
        self.live.binary_search(id).is_ok()
    }
}

/// Per-id exponential smoothing of the drop-in mode (the camera mode's tracker
/// smooths by itself), with the tracker's `smoothing_alpha` weight.
#[derive(Debug, Clone)]
pub struct Smoother {
    alpha: Option<f32>,
    state: HashMap<String, [f32; NUM_EMOTIONS]>,
}

impl Smoother {
    /// `alpha`: weight of the newest crop; `None` turns smoothing off.
    pub fn new(alpha: Option<f32>) -> Self {
        Self {
            alpha,
            state: HashMap::new(),
        }
    }

    /// The smoothed distribution of `id` after `probs`.
    pub fn update(&mut self, id: &str, probs: [f32; NUM_EMOTIONS]) -> [f32; NUM_EMOTIONS] {
        let Some(alpha) = self.alpha else {
            return probs;
        };
        match self.state.get_mut(id) {
            Some(s) => {
                for (v, &p) in s.iter_mut().zip(&probs) {
                    *v = (1.0 - alpha) * *v + alpha * p;
                }
                *s
            }
            None => {
                self.state.insert(id.to_string(), probs);
                probs
            }
        }
    }

    /// Forget `id` (its face ended).
    pub fn forget(&mut self, id: &str) {
        self.state.remove(id);
    }
}

/// A classified drop-in crop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CropOutcome<'a> {
    Classified {
        probs: [f32; NUM_EMOTIONS],
        /// The classifier that ran (route name).
        classifier: &'a str,
        /// The size the routing and gate used.
        size_px: f32,
    },
    /// Below `classifier.min_face_px`: no expression (as in the camera mode).
    TooSmall { size_px: f32 },
}

/// Why a drop-in crop produced no expression.
#[derive(Debug, thiserror::Error)]
pub enum CropError {
    #[error(transparent)]
    Input(#[from] ImageError),
    #[error("{0:#}")]
    Classifier(anyhow::Error),
}

/// The drop-in mode's classifier: crops published by another ROS4HRI face
/// detector (`/humans/faces/<id>/cropped` or `aligned`) go through the same
/// routing and quality gate by size as the camera mode's crops, without the
/// face detector.
pub struct CropClassifier {
    cfg: ClassifierConfig,
    router: Router,
    max_pixels: u64,
    rgb: RgbImage,
    crops: Vec<Crop>,
    out: Vec<Classified>,
}

impl CropClassifier {
    /// Load the classifiers of `cfg` (the detector is not loaded).
    pub fn new(cfg: &PipelineConfig, max_pixels: u64) -> anyhow::Result<Self> {
        cfg.validate()?;
        let lib = (!cfg.onnxruntime_library.as_os_str().is_empty())
            .then_some(cfg.onnxruntime_library.as_path());
        let env = runtime::environment(lib)?;
        let store = ModelStore::open(&env, &cfg.models_dir)?.with_gpu(&cfg.gpu);
        let router = Router::new(&store, &cfg.classifier)?;
        Ok(Self {
            cfg: cfg.classifier.clone(),
            router,
            max_pixels,
            rgb: RgbImage::new(0, 0),
            crops: vec![Crop {
                face: 0,
                size_px: 0.0,
                image: GrayImage::new(0, 0),
            }],
            out: Vec::new(),
        })
    }

    /// The execution provider the classifiers really run on.
    pub fn providers(&self) -> [(&'static str, &'static str); 1] {
        [("classifier", self.router.provider())]
    }

    /// Classify one crop (the pixel fields of a sensor_msgs/Image).
    /// `native_side`: the face's side in source pixels, from its `roi` and the
    /// source image size, when both are known; otherwise the crop's own size
    /// stands in (an upper bound when the detector upsampled the crop: see the
    /// README's limits of the drop-in mode).
    #[allow(clippy::too_many_arguments)]
    pub fn classify(
        &mut self,
        width: u32,
        height: u32,
        encoding: &str,
        is_bigendian: bool,
        step: u32,
        data: &[u8],
        native_side: Option<f32>,
    ) -> Result<CropOutcome<'_>, CropError> {
        raw_to_rgb(
            width,
            height,
            encoding,
            is_bigendian,
            step,
            data,
            self.max_pixels,
            &mut self.rgb,
        )?;
        let (w, h) = self.rgb.dimensions();
        let size_px = native_side
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(w.max(h) as f32);
        if size_px < self.cfg.min_face_px {
            return Ok(CropOutcome::TooSmall { size_px });
        }
        let crop = &mut self.crops[0];
        square_gray(&self.rgb, &mut crop.image);
        // Routing signal: the native size, as the camera mode routes by it.
        crop.size_px = size_px;
        self.router
            .classify(&self.crops[..1], &mut self.out)
            .map_err(CropError::Classifier)?;
        let Some(c) = self.out.first() else {
            return Err(CropError::Classifier(anyhow::anyhow!(
                "the classifier returned no result"
            )));
        };
        Ok(CropOutcome::Classified {
            probs: c.probs,
            classifier: self.router.route_name(c.route),
            size_px,
        })
    }
}

/// The crop as the classifier's input: grayscale (Pillow "L" weights, as in
/// training) and square, a non-square crop padded with black around its centre
/// (never stretched: that would distort the face). The classifier resizes.
fn square_gray(rgb: &RgbImage, out: &mut GrayImage) {
    let (w, h) = rgb.dimensions();
    let n = w.max(h).max(1);
    if out.dimensions() != (n, n) {
        let mut buf = std::mem::take(out).into_raw();
        buf.clear();
        buf.resize((n * n) as usize, 0);
        *out = GrayImage::from_raw(n, n, buf).unwrap_or_else(|| GrayImage::new(n, n));
    } else {
        out.fill(0);
    }
    let (ox, oy) = ((n - w) / 2, (n - h) / 2);
    for (x, y, p) in rgb.enumerate_pixels() {
        let l = crate::classify::align::luma(&p.0);
        out.put_pixel(
            x + ox,
            y + oy,
            image::Luma([l.round().clamp(0.0, 255.0) as u8]),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EMOTIONS;

    #[test]
    fn ids_are_short_valid_names() {
        assert_eq!(face_id(7), "f7");
        assert!(valid_id(&face_id(u64::MAX)));
        for ok in ["f7", "abcde", "Face_2", "_x"] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in ["", "7f", "a/b", "a b", "a__b", "a_", "é", &"a".repeat(65)] {
            assert!(!valid_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn landmarks_put_the_keypoints_at_their_codes() {
        let d = Detection {
            bbox: BBox {
                x: 10.0,
                y: 10.0,
                w: 40.0,
                h: 40.0,
            },
            score: 0.8,
            keypoints: [
                [20.0, 20.0],
                [40.0, 20.0],
                [30.0, 30.0],
                [30.0, 40.0],
                [f32::NAN, f32::NAN],
                [120.0, 20.0],
            ],
            age: 0,
        };
        let l = landmarks(&d, 100, 50);
        assert_eq!(l.len(), NUM_LANDMARKS);
        assert_eq!(
            l[68],
            PointOfInterest {
                x: 0.2,
                y: 0.4,
                c: 0.8
            }
        );
        assert_eq!(
            l[69],
            PointOfInterest {
                x: 0.4,
                y: 0.4,
                c: 0.8
            }
        );
        assert_eq!(
            l[30],
            PointOfInterest {
                x: 0.3,
                y: 0.6,
                c: 0.8
            }
        );
        // A NaN ear and one outside the image are absent, like every other code.
        let set: Vec<usize> = (0..NUM_LANDMARKS).filter(|&i| l[i].c > 0.0).collect();
        assert_eq!(set, [30, 68, 69]);
        assert_eq!(l[0], PointOfInterest::default());
    }

    #[test]
    fn roi_is_normalised_clipped_and_gives_the_native_side() {
        let b = BBox {
            x: 10.0,
            y: 20.0,
            w: 30.0,
            h: 30.0,
        };
        let r = Roi::from_bbox(&b, 100, 200, 0.9);
        assert_eq!((r.xmin, r.ymin, r.xmax, r.ymax), (0.1, 0.1, 0.4, 0.25));
        assert!((r.c - 0.9).abs() < 1e-6);
        assert!((r.native_side(100, 200).unwrap() - 30.0).abs() < 1e-4);
        assert_eq!(r.native_side(0, 200), None);
        // A face over the border: the visible part.
        let edge = BBox {
            x: -5.0,
            y: 190.0,
            w: 20.0,
            h: 20.0,
        };
        let r = Roi::from_bbox(&edge, 100, 200, f32::NAN);
        assert!(r.is_valid());
        assert_eq!((r.xmin, r.ymax, r.c), (0.0, 1.0, 0.0));
        let nan = BBox {
            x: f32::NAN,
            ..edge
        };
        assert!(Roi::from_bbox(&nan, 100, 200, 1.0).is_valid());
        let inverted = Roi {
            xmin: 0.5,
            xmax: 0.4,
            ..Roi::default()
        };
        assert_eq!(inverted.native_side(10, 10), None);
    }

    fn onehot(i: usize) -> [f32; NUM_EMOTIONS] {
        let mut p = [0.0; NUM_EMOTIONS];
        p[i] = 1.0;
        p
    }

    #[test]
    fn every_class_maps_to_an_hri_constant_and_contempt_to_disgusted() {
        let msg = include_str!("../../../ros4hri/hri_msgs/msg/Expression.msg");
        for (i, e) in EMOTIONS.iter().enumerate() {
            let x = expression(&onehot(i));
            assert_eq!(x.expression, FERPLUS_TO_HRI[i], "{e}");
            let line = format!(
                "string {}=\"{}\"",
                x.expression.to_uppercase(),
                x.expression
            );
            assert!(msg.contains(&line), "{e}: no constant {line}");
            assert_eq!(x.confidence, 1.0);
            assert_eq!(
                (x.valence, x.arousal),
                (VALENCE_AROUSAL[i][0], VALENCE_AROUSAL[i][1])
            );
        }
        assert_eq!(expression(&onehot(7)).expression, "disgusted");
        // Disgust and contempt together outweigh a larger single class.
        let mut p = [0.0; NUM_EMOTIONS];
        p[0] = 0.4;
        p[5] = 0.3;
        p[7] = 0.3;
        let x = expression(&p);
        assert_eq!(x.expression, "disgusted");
        assert!((x.confidence - 0.6).abs() < 1e-6);
    }

    #[test]
    fn valence_arousal_is_the_weighted_mean_and_stays_in_range() {
        for va in VALENCE_AROUSAL {
            assert!(va.iter().all(|v| (-1.0..=1.0).contains(v)));
        }
        let mut p = [0.0; NUM_EMOTIONS];
        p[1] = 0.5; // happiness
        p[3] = 0.5; // sadness
        let x = expression(&p);
        assert!((x.valence - 0.05).abs() < 1e-6 && (x.arousal + 0.05).abs() < 1e-6);
        let uniform = expression(&[1.0 / 8.0; NUM_EMOTIONS]);
        assert!(uniform.valence < 0.0 && uniform.valence > -0.5);
        let junk = expression(&[f32::NAN, -1.0, f32::INFINITY, 5.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(junk.expression, "sad");
        assert!(junk.confidence <= 1.0 && junk.valence >= -1.0 && junk.arousal >= -1.0);
    }

    #[test]
    fn crop_keeps_native_pixels_and_reduces_large_faces() {
        let mut frame = RgbImage::new(200, 100);
        for (x, y, p) in frame.enumerate_pixels_mut() {
            *p = image::Rgb([x as u8, y as u8, 7]);
        }
        let mut out = RgbImage::new(0, 0);
        let small = BBox {
            x: 10.0,
            y: 20.0,
            w: 24.0,
            h: 24.0,
        };
        crop_rgb(&frame, &small, 128, &mut out);
        assert_eq!(
            out.dimensions(),
            (24, 24),
            "small faces keep their native size"
        );
        assert_eq!(out.get_pixel(0, 0).0, [10, 20, 7]);
        assert_eq!(out.get_pixel(23, 23).0, [33, 43, 7]);
        let big = BBox {
            x: 0.0,
            y: 0.0,
            w: 100.0,
            h: 100.0,
        };
        crop_rgb(&frame, &big, 50, &mut out);
        assert_eq!(out.dimensions(), (50, 50));
        // 2x2 area average of x in {0, 1}, y in {0, 1}.
        assert_eq!(out.get_pixel(0, 0).0, [1, 1, 7]);
        assert_eq!(out.get_pixel(49, 49).0, [99, 99, 7]);
        // Outside the frame: black.
        let edge = BBox {
            x: 190.0,
            y: 90.0,
            w: 20.0,
            h: 20.0,
        };
        crop_rgb(&frame, &edge, 128, &mut out);
        assert_eq!(out.get_pixel(19, 19).0, [0, 0, 0]);
        assert_eq!(out.get_pixel(0, 0).0, [190, 90, 7]);
        let nan = BBox {
            w: f32::NAN,
            h: f32::NAN,
            ..edge
        };
        crop_rgb(&frame, &nan, 128, &mut out);
        assert_eq!(out.dimensions(), (1, 1));
    }

    #[test]
    fn lifecycle_reports_confirmed_and_ended_ids() {
        let mut l = Lifecycle::default();
        l.update([3u64, 1, 3]);
        assert_eq!(
            (l.confirmed.as_slice(), l.ended.as_slice()),
            (&[1, 3][..], &[][..])
        );
        l.update([1, 4]);
        assert_eq!(
            (l.confirmed.as_slice(), l.ended.as_slice()),
            (&[4][..], &[3][..])
        );
        assert!(l.contains(&4) && !l.contains(&3));
        l.update([]);
        assert_eq!(l.ended, [1, 4]);
        assert!(l.live().is_empty());
        let mut s: Lifecycle<String> = Lifecycle::default();
        s.update(["b".to_string(), "a".to_string()]);
        assert_eq!(s.confirmed, ["a", "b"]);
    }

    #[test]
    fn smoother_follows_alpha_and_forgets() {
        let mut s = Smoother::new(Some(0.5));
        assert_eq!(s.update("a", onehot(0)), onehot(0));
        let p = s.update("a", onehot(1));
        assert!((p[0] - 0.5).abs() < 1e-6 && (p[1] - 0.5).abs() < 1e-6);
        s.forget("a");
        assert_eq!(s.update("a", onehot(2)), onehot(2));
        assert_eq!(Smoother::new(None).update("a", onehot(3)), onehot(3));
    }

    #[test]
    fn square_gray_pads_without_stretching() {
        let rgb = RgbImage::from_pixel(4, 2, image::Rgb([255, 255, 255]));
        let mut g = GrayImage::new(0, 0);
        square_gray(&rgb, &mut g);
        assert_eq!(g.dimensions(), (4, 4));
        assert_eq!(g.get_pixel(0, 0).0, [0]);
        assert_eq!(g.get_pixel(0, 1).0, [255]);
        assert_eq!(g.get_pixel(3, 2).0, [255]);
        assert_eq!(g.get_pixel(3, 3).0, [0]);
    }
}
