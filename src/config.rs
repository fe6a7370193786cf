//! Pipeline configuration: one typed, validated struct shared by the ROS node
//! (parameters), the offline bag tool and the benches. Names match the ROS
//! parameter names (dots for groups) documented in README.md and config/default.yaml.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which BlazeFace model runs on the full frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorModel {
    /// Short-range 128x128 model: faces filling >= ~20 % of the frame.
    Front,
    /// Full-range 256x256 model: faces down to ~20 px on a VGA frame.
    Back,
}

/// Extra detection passes for small faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TilingMode {
    /// Full frame only.
    Off,
    /// Full frame every frame, plus native-resolution tiles on a rotating schedule
    /// and around faces already tracked.
    Rotating,
    /// Full frame plus every tile on every frame (slow; for offline evaluation).
    All,
}

/// How each face is assigned to a classifier (seed paper 001).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Routing {
    /// One model for every face.
    Off,
    /// Bin by the face's native size in source pixels.
    FaceSize,
    /// A resolution recognition network picks the expert.
    Learned,
}

/// ONNX Runtime execution provider for the classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionProvider {
    Cpu,
    Cuda,
    Tensorrt,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DetectorConfig {
    pub model: DetectorModel,
    /// Minimum detector score for a full-frame detection, [0, 1].
    pub score_threshold: f32,
    /// Minimum detector score for a detection found in a tile, [0, 1].
    pub tile_score_threshold: f32,
    /// IoU above which detections are merged by weighted NMS, [0, 1].
    pub nms_iou: f32,
    pub tiling: TilingMode,
    /// Model runs per frame on top of the full frame in `rotating` mode, >= 0:
    /// shared between the rotating sweep and regions around tracked small faces
    /// (with 1, they alternate frames). 0 disables tiles. See docs/detection.md.
    pub tiles_per_frame: u32,
    /// Threads for the detector session, >= 1.
    pub threads: u32,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            model: DetectorModel::Back,
            score_threshold: 0.5,
            tile_score_threshold: 0.65,
            nms_iou: 0.3,
            tiling: TilingMode::Rotating,
            tiles_per_frame: 1,
            threads: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClassifierConfig {
    pub routing: Routing,
    pub execution_provider: ExecutionProvider,
    /// Threads for each classifier session, >= 1.
    pub threads: u32,
    /// Faces smaller than this (native side in source pixels) are reported `too_small`.
    pub min_face_px: f32,
    /// Faces whose detector score is below this are reported `low_detector_score`.
    pub min_detector_score: f32,
    /// At or above this score a face is classified without the keypoint plausibility
    /// check ([`crate::gate::plausible_face`]); between `min_detector_score` and this,
    /// implausible keypoint geometry (e.g. letters of an animated title) is rejected.
    /// Setting it to `min_detector_score` turns the geometry check off.
    pub min_score_without_geometry: f32,
    /// Crop margin around the detector box, as a fraction of the box side, [0, 1].
    pub crop_margin: f32,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        Self {
            routing: Routing::Off,
            execution_provider: ExecutionProvider::Cpu,
            threads: 1,
            min_face_px: 8.0,
            // Chosen in docs/detection.md ("Quality gate"): with the geometry check,
            // 0.66 rejects every no_face.mp4 detection and keeps 170/174 real faces.
            min_detector_score: 0.66,
            min_score_without_geometry: 0.8,
            crop_margin: 0.1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrackingConfig {
    pub enabled: bool,
    /// Minimum IoU to associate a detection with a track, [0, 1].
    pub iou_threshold: f32,
    /// Frames a track survives without a detection, >= 0.
    pub max_missed: u32,
    /// Weight of the newest frame in the exponential smoothing, (0, 1].
    pub smoothing_alpha: f32,
}

impl Default for TrackingConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            iou_threshold: 0.3,
            max_missed: 10,
            smoothing_alpha: 0.4,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PipelineConfig {
    /// Directory holding the ONNX models and models/manifest.json.
    pub models_dir: PathBuf,
    /// libonnxruntime.so; empty means `$ORT_DYLIB_PATH`.
    pub onnxruntime_library: PathBuf,
    pub detector: DetectorConfig,
    pub classifier: ClassifierConfig,
    pub tracking: TrackingConfig,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            models_dir: PathBuf::from("models"),
            onnxruntime_library: PathBuf::new(),
            detector: DetectorConfig::default(),
            classifier: ClassifierConfig::default(),
            tracking: TrackingConfig::default(),
        }
    }
}

/// A parameter value outside its allowed range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("parameter '{name}' = {value} is invalid: allowed {allowed}")]
pub struct InvalidParameter {
    pub name: &'static str,
    pub value: String,
    pub allowed: &'static str,
}

fn check(
    ok: bool,
    name: &'static str,
    value: impl ToString,
    allowed: &'static str,
) -> Result<(), InvalidParameter> {
    if ok {
        Ok(())
    } else {
        Err(InvalidParameter {
            name,
            value: value.to_string(),
            allowed,
        })
    }
}

fn unit(v: f32) -> bool {
    (0.0..=1.0).contains(&v)
}

impl PipelineConfig {
    /// Reject values outside their documented ranges, naming the parameter.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        let d = &self.detector;
        check(
            unit(d.score_threshold),
            "detector.score_threshold",
            d.score_threshold,
            "[0.0, 1.0]",
        )?;
        check(
            unit(d.tile_score_threshold),
            "detector.tile_score_threshold",
            d.tile_score_threshold,
            "[0.0, 1.0]",
        )?;
        check(unit(d.nms_iou), "detector.nms_iou", d.nms_iou, "[0.0, 1.0]")?;
        check(
            d.tiles_per_frame <= 64,
            "detector.tiles_per_frame",
            d.tiles_per_frame,
            "[0, 64]",
        )?;
        check(
            (1..=64).contains(&d.threads),
            "detector.threads",
            d.threads,
            "[1, 64]",
        )?;
        let c = &self.classifier;
        check(
            (1..=64).contains(&c.threads),
            "classifier.threads",
            c.threads,
            "[1, 64]",
        )?;
        check(
            (0.0..=1000.0).contains(&c.min_face_px),
            "classifier.min_face_px",
            c.min_face_px,
            "[0.0, 1000.0]",
        )?;
        check(
            unit(c.min_detector_score),
            "classifier.min_detector_score",
            c.min_detector_score,
            "[0.0, 1.0]",
        )?;
        check(
            unit(c.crop_margin),
            "classifier.crop_margin",
            c.crop_margin,
            "[0.0, 1.0]",
        )?;
        let t = &self.tracking;
        check(
            unit(t.iou_threshold),
            "tracking.iou_threshold",
            t.iou_threshold,
            "[0.0, 1.0]",
        )?;
        check(
            t.max_missed <= 1000,
            "tracking.max_missed",
            t.max_missed,
            "[0, 1000]",
        )?;
        check(
            t.smoothing_alpha > 0.0 && t.smoothing_alpha <= 1.0,
            "tracking.smoothing_alpha",
            t.smoothing_alpha,
            "(0.0, 1.0]",
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        PipelineConfig::default()
            .validate()
            .expect("defaults valid");
    }

    #[test]
    fn out_of_range_value_names_the_parameter() {
        let mut cfg = PipelineConfig::default();
        cfg.detector.score_threshold = 1.5;
        let err = cfg.validate().unwrap_err();
        assert_eq!(err.name, "detector.score_threshold");
        assert!(err.to_string().contains("[0.0, 1.0]"));
    }
}
