//! Pipeline configuration: one typed, validated struct shared by the ROS node
//! (parameters), the offline bag tool and the benches. Field names are the
//! parameter names (dots for groups); names, defaults, ranges and docs are
//! declared once in `settings::params::PARAMS`, which implements `Default` and
//! `PipelineConfig::validate` for these types: they depend on nothing.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which face detector runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorModel {
    /// BlazeFace short-range 128x128 model: faces filling >= ~20 % of the frame.
    Front,
    /// BlazeFace full-range 256x256 model: frontal faces down to ~20 px on a VGA
    /// frame, near the camera (posed, sharp, well lit).
    Back,
    /// RetinaFace MobileNet-0.25 (trained on WIDER FACE): faces in the wild
    /// (crowds, blur, turned heads), any input size.
    Retinaface,
    /// CenterFace (MobileNetV2, anchor-free at stride 4, trained on WIDER FACE):
    /// small faces in the wild, any input size.
    Centerface,
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
    /// Full frame every frame, plus regions of a scale pyramid (native tiles and
    /// coarser levels between native and the full frame), `tiles_per_frame` of
    /// them per frame, chosen so the whole frame is covered at every level within
    /// one sweep and regions holding tracked small faces are revisited sooner.
    Pyramid,
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

/// Numeric precision of the emotion models (seed 004): the manifest's
/// `variant` entries made by training/quantize.py.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// The exported models.
    Fp32,
    /// Static QDQ quantisation in the data types training/quantize.py chose (uint8
    /// activations and weights, right on every CPU kind measured): for CPUs.
    Int8,
    /// float16 weights and activations: for GPUs (CUDA, TensorRT).
    Fp16,
}

impl Precision {
    /// The manifest's `precision` value of a variant.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fp32 => "fp32",
            Self::Int8 => "int8",
            Self::Fp16 => "fp16",
        }
    }
}

/// ONNX Runtime execution provider of a session.
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
    /// Model runs per frame on top of the full frame in `pyramid` and `rotating`
    /// modes, >= 0. `pyramid`: the most overdue regions of the sweep (regions
    /// holding tracked small faces are due sooner). `rotating`: shared between
    /// the sweep and regions around tracked small faces (with 1, they alternate
    /// frames). 0 disables tiles. See docs/detection.md.
    pub tiles_per_frame: u32,
    /// Threads for the detector session, >= 1.
    pub threads: u32,
    /// ONNX Runtime execution provider of the detector session.
    pub execution_provider: ExecutionProvider,
    /// RetinaFace only: scale of the full-frame pass (model px per source px).
    pub input_scale: f32,
    /// RetinaFace only: enlargement of the tiles (`tiling` other than `off`).
    pub tile_scale: f32,
    /// RetinaFace only: look again around each tracked face that this frame's
    /// runs and held tile boxes do not show (`detect::redetect`).
    pub redetect_tracked: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClassifierConfig {
    pub routing: Routing,
    /// Which variant of each emotion model to run (the RRN stays fp32).
    pub precision: Precision,
    pub execution_provider: ExecutionProvider,
    /// Threads for each classifier session, >= 1.
    pub threads: u32,
    /// Faces smaller than this (native side in source pixels) are reported `too_small`.
    pub min_face_px: f32,
    /// Faces whose detector score is below this are reported `low_detector_score`.
    pub min_detector_score: f32,
    /// At or above this score a face is classified without the keypoint plausibility
    /// check ([`crate::classify::gate::plausible_face`]); between `min_detector_score` and this,
    /// implausible keypoint geometry (e.g. letters of an animated title) is rejected.
    /// Setting it to `min_detector_score` turns the geometry check off.
    pub min_score_without_geometry: f32,
    /// Crop margin around the detector box, as a fraction of the box side, [0, 1].
    pub crop_margin: f32,
    /// Classify each face and its mirror image and average the two (test-time
    /// augmentation: about twice the classifier's compute).
    pub mirror_average: bool,
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
    pub gpu: GpuConfig,
}

/// Options of the GPU execution providers (CUDA, TensorRT), shared by every
/// session that `detector.execution_provider` / `classifier.execution_provider`
/// put on one; ignored by CPU sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GpuConfig {
    /// CUDA device of the GPU sessions.
    pub device_id: u32,
    /// TensorRT: let it build FP16 kernels.
    pub tensorrt_fp16: bool,
    /// TensorRT engine and timing cache directory; empty: `tensorrt/` in
    /// `$LOWRES_FER_CACHE` (default `~/.cache/lowres_fer`). Building the engines
    /// takes minutes on a Jetson; the cache makes later starts take seconds.
    pub tensorrt_cache_dir: PathBuf,
    /// TensorRT: largest face batch of one classifier run, the max of its
    /// shape profile (min 1). A frame with more faces runs in several batches.
    pub tensorrt_max_faces: u32,
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
        assert_eq!(err.name(), "detector.score_threshold");
        assert!(err.to_string().contains("[0.0, 1.0]"));
    }
}
