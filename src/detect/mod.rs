//! Face detection with MediaPipe BlazeFace (short-range 128 or full-range 256) on
//! ONNX Runtime, plus native-resolution tiles for small, distant faces.
//!
//! Per frame: letterbox the whole frame into the model, decode the 896 anchors,
//! then run the regions chosen by [`tiling::PyramidPlanner`] (the default: a scale
//! pyramid swept most-overdue-first) or [`tiling::TilePlanner`] (none, a rotating
//! few native tiles plus regions around tracked small faces, or all), and merge
//! everything with weighted NMS. Input buffers, anchors and scratch vectors live
//! in the struct, so the per-frame path only allocates inside ONNX Runtime and
//! for the returned `Vec`.

pub mod anchors;
#[cfg(feature = "lab")]
pub mod bench;
pub mod decode;
#[cfg(feature = "lab")]
pub mod eval;
pub mod nms;
pub mod preprocess;
pub mod tiling;

use std::time::Instant;

use anyhow::{bail, Context};
use image::RgbImage;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::TensorRef;

use crate::config::{DetectorConfig, DetectorModel, TilingMode};
use crate::face::{BBox, Detection};
use crate::models::{ModelStore, SessionOptions};

use decode::InputMapping;

/// Model file (in the models directory and the manifest) for each detector model.
pub fn model_file(model: DetectorModel) -> &'static str {
    match model {
        DetectorModel::Front => "blazeface_front_128.onnx",
        DetectorModel::Back => "blazeface_back_256.onnx",
    }
}

/// Input side of each detector model.
pub fn model_side(model: DetectorModel) -> usize {
    match model {
        DetectorModel::Front => 128,
        DetectorModel::Back => 256,
    }
}

/// Full-frame detections smaller than this (model pixels) are dropped: on the
/// Solvay photo (2048 px wide, scale 8) the full pass reports the 6-8 model-px
/// faces with scores up to 0.85 but boxes shifted by half a face or more, while
/// dlib's smallest faces (19 model px) decode correctly. Tiles find those faces.
pub const MIN_FULL_FRAME_MODEL_PX: f32 = 12.0;
/// The same floor in native tiles (faces below it are too small to classify anyway).
pub const MIN_TILE_MODEL_PX: f32 = 8.0;

const INPUT_NAME: &str = "input:0";
/// Score logits and regressors of the 16x16 (512 anchors) and 8x8 (384) layers.
const OUT_SCORES: [&str; 2] = ["Identity:0", "Identity_1:0"];
const OUT_REGS: [&str; 2] = ["Identity_2:0", "Identity_3:0"];

fn ms(a: Instant, b: Instant) -> f64 {
    (b - a).as_secs_f64() * 1000.0
}

/// One BlazeFace session with its preallocated input and output copies.
struct BlazeFace {
    session: Session,
    side: usize,
    anchors: Vec<[f32; 2]>,
    input: Vec<f32>,
    scores: Vec<f32>,
    regs: Vec<f32>,
}

impl BlazeFace {
    fn load(store: &ModelStore, cfg: &DetectorConfig) -> anyhow::Result<Self> {
        let model = cfg.model;
        let file = model_file(model);
        let (session, _provider) = store
            .session(
                file,
                SessionOptions {
                    threads: cfg.threads,
                    provider: cfg.execution_provider,
                    optimization: GraphOptimizationLevel::Level3,
                },
            )
            .with_context(|| format!("cannot load detector model {file}"))?;
        let side = model_side(model);
        if let Some(s) = store.entry(file)?.input_size {
            if s as usize != side {
                bail!("{file}: manifest input_size {s}, but the node feeds it {side}x{side}");
            }
        }
        let mut names: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        if names != [INPUT_NAME] {
            bail!("{file}: expected one input '{INPUT_NAME}', found {names:?}");
        }
        names = session.outputs().iter().map(|o| o.name()).collect();
        for want in OUT_SCORES.iter().chain(&OUT_REGS) {
            if !names.contains(want) {
                bail!("{file}: output '{want}' missing (outputs: {names:?})");
            }
        }
        let mut detector = Self {
            session,
            side,
            anchors: anchors::generate(),
            input: vec![0.0; side * side * 3],
            scores: Vec::with_capacity(anchors::NUM_ANCHORS),
            regs: Vec::with_capacity(anchors::NUM_ANCHORS * 16),
        };
        // Output shapes are checked on a blank input now, not on the first frame.
        detector.run().with_context(|| {
            format!("{file} does not fit the node: failed its start-up check on a blank {side}x{side} input")
        })?;
        Ok(detector)
    }

    /// Run the model on `self.input`, leaving logits and regressors in
    /// `self.scores` / `self.regs` (anchor order).
    fn run(&mut self) -> anyhow::Result<()> {
        let shape = [1usize, self.side, self.side, 3];
        let outputs = self.session.run(ort::inputs![TensorRef::from_array_view((
            shape,
            &self.input[..]
        ))?])?;
        self.scores.clear();
        self.regs.clear();
        for (s_name, r_name) in OUT_SCORES.iter().zip(&OUT_REGS) {
            let (_, s) = outputs[*s_name].try_extract_tensor::<f32>()?;
            let (_, r) = outputs[*r_name].try_extract_tensor::<f32>()?;
            if r.len() != s.len() * 16 {
                bail!(
                    "detector output {r_name} has {} values for {} anchors",
                    r.len(),
                    s.len()
                );
            }
            self.scores.extend_from_slice(s);
            self.regs.extend_from_slice(r);
        }
        if self.scores.len() != self.anchors.len() {
            bail!(
                "detector produced {} anchors, expected {}",
                self.scores.len(),
                self.anchors.len()
            );
        }
        Ok(())
    }

    fn decode(&self, keep: decode::Keep, map: &InputMapping, out: &mut Vec<Detection>) {
        decode::decode(
            &self.scores,
            &self.regs,
            &self.anchors,
            self.side,
            keep,
            map,
            out,
        );
    }
}

/// Time spent in the last [`FaceDetector::detect`] call, for benchmarks.
#[derive(Debug, Clone, Copy, Default)]
pub struct DetectStats {
    /// Model runs (1 for the full frame + one per tile).
    pub runs: usize,
    pub tiles: usize,
    /// Filling model inputs (letterbox resampling, tile copies).
    pub preprocess_ms: f64,
    /// ONNX Runtime runs.
    pub inference_ms: f64,
}

pub struct FaceDetector {
    cfg: DetectorConfig,
    model: BlazeFace,
    /// Separate resamplers so the full frame's taps stay cached while hint
    /// regions change from frame to frame.
    full_resampler: preprocess::Resampler,
    region_resampler: preprocess::Resampler,
    planner: tiling::TilePlanner,
    pyramid: tiling::PyramidPlanner,
    tiles: Vec<InputMapping>,
    candidates: Vec<Detection>,
    tile_dets: Vec<Detection>,
    nms: nms::WeightedNms,
    last: DetectStats,
}

impl FaceDetector {
    /// Load the configured BlazeFace model from the store (sha256-checked
    /// against its manifest).
    pub fn new(store: &ModelStore, cfg: &DetectorConfig) -> anyhow::Result<Self> {
        let model = BlazeFace::load(store, cfg).context("cannot load the face detector")?;
        Ok(Self {
            cfg: cfg.clone(),
            model,
            full_resampler: preprocess::Resampler::default(),
            region_resampler: preprocess::Resampler::default(),
            planner: tiling::TilePlanner::default(),
            pyramid: tiling::PyramidPlanner::default(),
            tiles: Vec::new(),
            candidates: Vec::new(),
            tile_dets: Vec::new(),
            nms: nms::WeightedNms::default(),
            last: DetectStats::default(),
        })
    }

    pub fn config(&self) -> &DetectorConfig {
        &self.cfg
    }

    /// What the last `detect` call ran.
    pub fn last_stats(&self) -> DetectStats {
        self.last
    }

    /// Faces in `frame`, in source pixels, best first. `hints` are boxes of faces
    /// tracked in previous frames: small ones get tiles of their own.
    pub fn detect(&mut self, frame: &RgbImage, hints: &[BBox]) -> anyhow::Result<Vec<Detection>> {
        let (w, h) = frame.dimensions();
        if w == 0 || h == 0 {
            return Ok(Vec::new());
        }
        let side = self.model.side;
        self.candidates.clear();

        let mut stats = DetectStats::default();
        let full = InputMapping::letterbox(w, h, side);
        let t0 = Instant::now();
        self.full_resampler
            .fill(frame, &full, side, &mut self.model.input);
        let t1 = Instant::now();
        self.model.run()?;
        stats.preprocess_ms += ms(t0, t1);
        stats.inference_ms += ms(t1, Instant::now());
        // Tiles only make sense for the full-range model: the short-range one is
        // trained on faces that fill a large part of its input.
        let mode = match self.cfg.model {
            DetectorModel::Back => self.cfg.tiling,
            DetectorModel::Front => TilingMode::Off,
        };
        let keep = decode::Keep {
            min_score: self.cfg.score_threshold,
            min_side: MIN_FULL_FRAME_MODEL_PX,
        };
        self.model.decode(keep, &full, &mut self.candidates);
        // With a pyramid under the full frame, a face below the reliable size
        // must pass the tile threshold, as it would in the level made for it:
        // the full frame's 12-16 model px boxes scoring 0.50-0.57 were most of
        // the pyramid's false positives on the multi-scale benchmark (shifted
        // off the face; docs/detection.md), while real faces there score higher.
        if mode == TilingMode::Pyramid && full.scale >= tiling::MIN_SCALE_FOR_TILES {
            let small = tiling::MIN_RELIABLE_MODEL_PX * full.scale;
            let floor = self.cfg.tile_score_threshold;
            self.candidates
                .retain(|d| d.bbox.w.max(d.bbox.h) >= small || d.score >= floor);
        }

        if mode == TilingMode::Pyramid {
            self.pyramid.plan(
                (w, h),
                full.scale,
                hints,
                self.cfg.tiles_per_frame as usize,
                &mut self.tiles,
            );
        } else {
            self.planner.plan(
                mode,
                (w, h),
                full.scale,
                hints,
                self.cfg.tiles_per_frame as usize,
                &mut self.tiles,
            );
        }
        let keep = decode::Keep {
            min_score: self.cfg.tile_score_threshold,
            min_side: MIN_TILE_MODEL_PX,
        };
        for t in &self.tiles {
            let t0 = Instant::now();
            match t.as_native_tile() {
                Some((x, y)) => preprocess::fill_tile(frame, x, y, side, &mut self.model.input),
                None => self
                    .region_resampler
                    .fill(frame, t, side, &mut self.model.input),
            }
            let t1 = Instant::now();
            self.model.run()?;
            stats.preprocess_ms += ms(t0, t1);
            stats.inference_ms += ms(t1, Instant::now());
            self.tile_dets.clear();
            // A coarse pyramid region leaves its tiniest boxes to the finer
            // level: on a cluster of 17-20 px faces a 2.9x region reported one
            // 33 px box (11 model px) spanning three of them. The floor is not
            // the full 16 model px: at 720p the native sweep is 24 frames long,
            // and the 1.71x level finds most 24-32 px faces at 14-19 model px
            // (recall within 10 frames 0.81 with a floor of 8, 0.47 with 16).
            let keep = if mode == TilingMode::Pyramid && t.scale > 1.0 {
                decode::Keep {
                    min_side: tiling::MIN_REGION_MODEL_PX,
                    ..keep
                }
            } else {
                keep
            };
            self.model.decode(keep, t, &mut self.tile_dets);
            self.candidates.extend(
                self.tile_dets
                    .iter()
                    .filter(|d| !tiling::touches_interior_edge(&d.bbox, t, w, h)),
            );
        }
        stats.runs = 1 + self.tiles.len();
        stats.tiles = self.tiles.len();
        self.last = stats;

        let mut out = Vec::new();
        self.nms.run(&self.candidates, self.cfg.nms_iou, &mut out);
        Ok(out)
    }
}
