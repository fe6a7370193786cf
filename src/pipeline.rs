//! The per-frame pipeline: frame -> faces -> crops -> (route) -> emotions -> tracks.

use image::RgbImage;
use serde::Serialize;

use crate::config::PipelineConfig;
use crate::face::FaceResult;

/// Wall time of each stage of one frame, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StageTimings {
    pub detect_ms: f64,
    pub align_ms: f64,
    pub classify_ms: f64,
    pub track_ms: f64,
    pub total_ms: f64,
}

/// What the pipeline produced for one frame.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FrameOutput {
    pub faces: Vec<FaceResult>,
    pub timings: StageTimings,
}

pub struct Pipeline {
    #[allow(dead_code)]
    cfg: PipelineConfig,
    output: FrameOutput,
}

impl Pipeline {
    /// Load models (verified against the manifest) and build the sessions.
    pub fn new(cfg: &PipelineConfig) -> anyhow::Result<Self> {
        cfg.validate()?;
        Ok(Self {
            cfg: cfg.clone(),
            output: FrameOutput::default(),
        })
    }

    /// Process one RGB frame. The returned output is reused by the next call.
    pub fn process(&mut self, _frame: &RgbImage) -> anyhow::Result<&FrameOutput> {
        anyhow::bail!("pipeline stages not wired yet")
    }

    /// Forget all tracks (e.g. when the input time jumps backwards).
    pub fn reset(&mut self) {
        self.output.faces.clear();
    }
}
