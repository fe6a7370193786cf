//! Face detection on ONNX Runtime: RetinaFace MobileNet-0.25 (the default, faces
//! in the wild) or MediaPipe BlazeFace (short-range 128 or full-range 256, close
//! range), plus tiles for small, distant faces.
//!
//! RetinaFace and CenterFace per frame: the whole frame resampled by
//! `input_scale` (by half of it under `tiling: pyramid`), then the regions of
//! [`sweep::RegionSweep`] (the upscaled tiles, and under `pyramid` the frame at
//! `input_scale` in pieces: a round-robin sweep, or all of them) and the
//! re-detections around tracked faces, merged with weighted NMS.
//!
//! BlazeFace per frame: letterbox the whole frame into the model, decode the 896 anchors,
//! then run the regions chosen by [`tiling::PyramidPlanner`] (the default: a scale
//! pyramid swept most-overdue-first) or [`tiling::TilePlanner`] (none, a rotating
//! few native tiles plus regions around tracked small faces, or all), and merge
//! everything with weighted NMS. Input buffers, anchors and scratch vectors live
//! in the struct, so the per-frame path only allocates inside ONNX Runtime and
//! for the returned `Vec`.

pub mod anchors;
pub mod centerface;
pub mod decode;
pub mod nms;
pub mod preprocess;
pub mod redetect;
pub mod retina;
pub mod sweep;
pub mod tiling;

use std::time::Instant;

use anyhow::{bail, Context};
use image::RgbImage;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::TensorRef;

use crate::face::{BBox, Detection};
use crate::models::{ModelStore, SessionOptions};
use crate::settings::config::{DetectorConfig, DetectorModel, TilingMode};
use centerface::CenterFace;
use retina::RetinaFace;

use decode::InputMapping;

/// Model file (in the models directory and the manifest) for each detector model.
pub fn model_file(model: DetectorModel) -> &'static str {
    match model {
        DetectorModel::Front => "blazeface_front_128.onnx",
        DetectorModel::Back => "blazeface_back_256.onnx",
        DetectorModel::Retinaface => retina::MODEL_FILE,
        DetectorModel::Centerface => centerface::MODEL_FILE,
    }
}

/// Input side of each BlazeFace model (RetinaFace takes any size: `None`).
pub fn model_side(model: DetectorModel) -> Option<usize> {
    match model {
        DetectorModel::Front => Some(128),
        DetectorModel::Back => Some(256),
        DetectorModel::Retinaface | DetectorModel::Centerface => None,
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
    /// Execution provider in use ("cpu", "cuda", "tensorrt").
    provider: &'static str,
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
        let (session, provider) = store
            .session(
                file,
                SessionOptions {
                    threads: cfg.threads,
                    provider: cfg.execution_provider,
                    optimization: GraphOptimizationLevel::Level3,
                    face_input: None,
                },
            )
            .with_context(|| format!("cannot load detector model {file}"))?;
        let Some(side) = model_side(model) else {
            bail!("{file} is not a BlazeFace model");
        };
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
            provider,
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
    /// Re-detections around tracked faces (RetinaFace, `redetect_tracked`).
    pub redetections: usize,
    /// Filling model inputs (letterbox resampling, tile copies).
    pub preprocess_ms: f64,
    /// ONNX Runtime runs.
    pub inference_ms: f64,
}

/// The loaded detector network.
enum Network {
    Blaze(BlazeFace),
    Retina(RetinaFace),
    Center(CenterFace),
}

/// The ONNX Runtime session of an any-size detector `file` (RetinaFace,
/// CenterFace) and the provider it runs on, after checking that the graph has
/// the one input `input` and every output of `outputs` the decoder reads.
fn open_session(
    store: &ModelStore,
    cfg: &DetectorConfig,
    file: &str,
    input: &str,
    outputs: &[&str],
) -> anyhow::Result<(ort::session::Session, &'static str)> {
    let (session, provider) = store
        .session(
            file,
            crate::models::SessionOptions {
                threads: cfg.threads,
                provider: cfg.execution_provider,
                optimization: ort::session::builder::GraphOptimizationLevel::Level3,
                face_input: None,
            },
        )
        .with_context(|| format!("cannot load detector model {file}"))?;
    let names: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
    if names != [input] {
        bail!("{file}: expected one input '{input}', found {names:?}");
    }
    let names: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
    for want in outputs {
        if !names.contains(want) {
            bail!("{file}: output '{want}' missing (outputs: {names:?})");
        }
    }
    Ok((session, provider))
}

/// A detector network that takes an input of any size, filled from a region of
/// the frame: the full frame, upscaled tiles and re-detections all use it.
trait AnySizeModel {
    fn fill(
        &mut self,
        resampler: &mut preprocess::Resampler,
        frame: &RgbImage,
        map: &InputMapping,
        dims: (usize, usize),
    );
    fn run(&mut self) -> anyhow::Result<()>;
    fn decode(&self, keep: decode::Keep, map: &InputMapping, out: &mut Vec<Detection>);
}

impl AnySizeModel for RetinaFace {
    fn fill(
        &mut self,
        resampler: &mut preprocess::Resampler,
        frame: &RgbImage,
        map: &InputMapping,
        dims: (usize, usize),
    ) {
        RetinaFace::fill(self, resampler, frame, map, dims)
    }
    fn run(&mut self) -> anyhow::Result<()> {
        RetinaFace::run(self)
    }
    fn decode(&self, keep: decode::Keep, map: &InputMapping, out: &mut Vec<Detection>) {
        RetinaFace::decode(self, keep, map, out)
    }
}

impl AnySizeModel for CenterFace {
    fn fill(
        &mut self,
        resampler: &mut preprocess::Resampler,
        frame: &RgbImage,
        map: &InputMapping,
        dims: (usize, usize),
    ) {
        CenterFace::fill(self, resampler, frame, map, dims)
    }
    fn run(&mut self) -> anyhow::Result<()> {
        CenterFace::run(self)
    }
    fn decode(&self, keep: decode::Keep, map: &InputMapping, out: &mut Vec<Detection>) {
        CenterFace::decode(self, keep, map, out)
    }
}

pub struct FaceDetector {
    cfg: DetectorConfig,
    network: Network,
    /// Separate resamplers so the full frame's taps stay cached while hint
    /// regions change from frame to frame.
    full_resampler: preprocess::Resampler,
    region_resampler: preprocess::Resampler,
    planner: tiling::TilePlanner,
    pyramid: tiling::PyramidPlanner,
    sweep: sweep::RegionSweep,
    sweep_plan: Vec<sweep::Region>,
    tiles: Vec<InputMapping>,
    candidates: Vec<Detection>,
    tile_dets: Vec<Detection>,
    /// Regions searched by this frame's re-detections.
    searched: Vec<InputMapping>,
    nms: nms::WeightedNms,
    last: DetectStats,
}

impl FaceDetector {
    /// Load the configured detector model from the store (sha256-checked
    /// against its manifest).
    pub fn new(store: &ModelStore, cfg: &DetectorConfig) -> anyhow::Result<Self> {
        let network = match cfg.model {
            DetectorModel::Retinaface => Network::Retina(
                RetinaFace::load(store, cfg).context("cannot load the face detector")?,
            ),
            DetectorModel::Centerface => Network::Center(
                CenterFace::load(store, cfg).context("cannot load the face detector")?,
            ),
            DetectorModel::Front | DetectorModel::Back => Network::Blaze(
                BlazeFace::load(store, cfg).context("cannot load the face detector")?,
            ),
        };
        Ok(Self {
            cfg: cfg.clone(),
            network,
            full_resampler: preprocess::Resampler::default(),
            region_resampler: preprocess::Resampler::default(),
            planner: tiling::TilePlanner::default(),
            pyramid: tiling::PyramidPlanner::default(),
            sweep: sweep::RegionSweep::default(),
            sweep_plan: Vec::new(),
            tiles: Vec::new(),
            candidates: Vec::new(),
            tile_dets: Vec::new(),
            searched: Vec::new(),
            nms: nms::WeightedNms::default(),
            last: DetectStats::default(),
        })
    }

    pub fn config(&self) -> &DetectorConfig {
        &self.cfg
    }

    /// Execution provider the detector session really runs on ("cpu" when a
    /// requested GPU provider was not available).
    pub fn provider(&self) -> &'static str {
        match &self.network {
            Network::Blaze(n) => n.provider,
            Network::Retina(n) => n.provider(),
            Network::Center(n) => n.provider(),
        }
    }

    /// Take the run-time values of `cfg` (thresholds, NMS, tiling and its
    /// budget, scales) from the next frame. The model and its session
    /// (`model`, `threads`, `execution_provider`) stay as loaded: callers check
    /// they did not change ([`crate::pipeline::Pipeline::apply_live`]). A new
    /// tiling mode or tile scale lays the tiles out anew, so the sweeps restart.
    pub fn set_config(&mut self, cfg: &DetectorConfig) {
        let relayout = cfg.tiling != self.cfg.tiling || cfg.tile_scale != self.cfg.tile_scale;
        self.cfg = DetectorConfig {
            model: self.cfg.model,
            threads: self.cfg.threads,
            execution_provider: self.cfg.execution_provider,
            ..cfg.clone()
        };
        if relayout {
            self.reset();
        }
    }

    /// What the last `detect` call ran.
    pub fn last_stats(&self) -> DetectStats {
        self.last
    }

    /// Restart the tile sweeps, as for a new scene.
    pub fn reset(&mut self) {
        self.planner = tiling::TilePlanner::default();
        self.pyramid = tiling::PyramidPlanner::default();
        self.sweep.reset();
    }

    /// Faces in `frame`, in source pixels, best first. `hints` are boxes of faces
    /// tracked in previous frames: with BlazeFace, small ones get tiles of their
    /// own; RetinaFace looks again around those nothing else found
    /// (`redetect_tracked`).
    pub fn detect(&mut self, frame: &RgbImage, hints: &[BBox]) -> anyhow::Result<Vec<Detection>> {
        let (w, h) = frame.dimensions();
        if w == 0 || h == 0 {
            return Ok(Vec::new());
        }
        self.candidates.clear();
        let any_size: Option<&mut dyn AnySizeModel> = match &mut self.network {
            Network::Retina(model) => Some(model),
            Network::Center(model) => Some(model),
            Network::Blaze(_) => None,
        };
        match any_size {
            Some(model) => {
                let mut stats = DetectStats::default();
                detect_any_size(
                    model,
                    &self.cfg,
                    frame,
                    hints,
                    &mut self.full_resampler,
                    &mut self.region_resampler,
                    &mut self.sweep,
                    &mut self.sweep_plan,
                    &mut self.tile_dets,
                    &mut self.searched,
                    &mut self.candidates,
                    &mut stats,
                )?;
                self.last = stats;
            }
            None => self.detect_blazeface(frame, hints)?,
        }
        let mut out = Vec::new();
        self.nms.run(&self.candidates, self.cfg.nms_iou, &mut out);
        Ok(out)
    }

    /// BlazeFace's full frame and tiles, into `self.candidates`.
    fn detect_blazeface(&mut self, frame: &RgbImage, hints: &[BBox]) -> anyhow::Result<()> {
        let Network::Blaze(model) = &mut self.network else {
            return Ok(());
        };
        let (w, h) = frame.dimensions();
        let side = model.side;

        let mut stats = DetectStats::default();
        let full = InputMapping::letterbox(w, h, side);
        let t0 = Instant::now();
        self.full_resampler
            .fill(frame, &full, side, &mut model.input);
        let t1 = Instant::now();
        model.run()?;
        stats.preprocess_ms += ms(t0, t1);
        stats.inference_ms += ms(t1, Instant::now());
        // Tiles only make sense for the full-range model: the short-range one is
        // trained on faces that fill a large part of its input.
        let mode = match self.cfg.model {
            DetectorModel::Back => self.cfg.tiling,
            DetectorModel::Front | DetectorModel::Retinaface | DetectorModel::Centerface => {
                TilingMode::Off
            }
        };
        let keep = decode::Keep {
            min_score: self.cfg.score_threshold,
            min_side: MIN_FULL_FRAME_MODEL_PX,
        };
        model.decode(keep, &full, &mut self.candidates);
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
                Some((x, y)) => preprocess::fill_tile(frame, x, y, side, &mut model.input),
                None => self.region_resampler.fill(frame, t, side, &mut model.input),
            }
            let t1 = Instant::now();
            model.run()?;
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
            model.decode(keep, t, &mut self.tile_dets);
            self.candidates.extend(self.tile_dets.iter().filter(|d| {
                !tiling::touches_interior_edge(&d.bbox, t, tiling::TILE as usize, w, h)
            }));
        }
        stats.runs = 1 + self.tiles.len();
        stats.tiles = self.tiles.len();
        self.last = stats;
        Ok(())
    }
}

/// The share of `input_scale` of `tiling: pyramid`'s full-frame pass: faces of
/// 32 source px and more (16 model px, RetinaFace's smallest anchor) at a
/// quarter of the full-scale pass's cost, every frame, while the sweep covers
/// the full scale in pieces.
pub const PYRAMID_FULL_FRAME_SHARE: f32 = 0.5;

/// RetinaFace's or CenterFace's full frame, the swept regions of this frame
/// and the re-detections around tracked faces (`hints`) none of them shows,
/// decoded into `candidates` (source pixels).
///
/// `rotating` and `all`: the full frame at `input_scale`, every frame, and the
/// upscaled tiles at `tile_scale`. `pyramid`: the full frame at
/// `input_scale` x [`PYRAMID_FULL_FRAME_SHARE`] every frame, and one sweep over
/// two levels, the frame at `input_scale` cut into regions (score
/// `score_threshold`) and the upscaled tiles (`tile_score_threshold`), so each
/// frame runs the same small amount of work and a still camera gets both
/// levels within one sweep.
#[allow(clippy::too_many_arguments)]
fn detect_any_size(
    model: &mut dyn AnySizeModel,
    cfg: &DetectorConfig,
    frame: &RgbImage,
    hints: &[BBox],
    full_resampler: &mut preprocess::Resampler,
    region_resampler: &mut preprocess::Resampler,
    sweep: &mut sweep::RegionSweep,
    regions: &mut Vec<sweep::Region>,
    tile_dets: &mut Vec<Detection>,
    searched: &mut Vec<InputMapping>,
    candidates: &mut Vec<Detection>,
    stats: &mut DetectStats,
) -> anyhow::Result<()> {
    let (w, h) = frame.dimensions();
    let pyramid = cfg.tiling == TilingMode::Pyramid;
    let k = if pyramid {
        cfg.input_scale * PYRAMID_FULL_FRAME_SHARE
    } else {
        cfg.input_scale
    };
    let full = InputMapping {
        origin_x: 0.0,
        origin_y: 0.0,
        scale: 1.0 / k,
    };
    let dims = (
        ((w as f32 * k).round() as usize).max(1),
        ((h as f32 * k).round() as usize).max(1),
    );
    let t0 = Instant::now();
    model.fill(full_resampler, frame, &full, dims);
    let t1 = Instant::now();
    model.run()?;
    stats.preprocess_ms += ms(t0, t1);
    stats.inference_ms += ms(t1, Instant::now());
    let full_keep = decode::Keep {
        min_score: cfg.score_threshold,
        min_side: 0.0,
    };
    model.decode(full_keep, &full, candidates);

    let per_frame = match cfg.tiling {
        TilingMode::Off => Some(0),
        TilingMode::All => None,
        TilingMode::Rotating | TilingMode::Pyramid => Some(cfg.tiles_per_frame as usize),
    };
    // The levels of the sweep and each one's score threshold, index by index.
    let (scales, thresholds): (&[f32], &[f32]) = if pyramid {
        (
            &[cfg.input_scale, cfg.tile_scale],
            &[cfg.score_threshold, cfg.tile_score_threshold],
        )
    } else {
        (&[cfg.tile_scale], &[cfg.tile_score_threshold])
    };
    if per_frame != Some(0) {
        sweep.plan((w, h), scales, per_frame, regions);
    } else {
        regions.clear();
    }
    let side = sweep::TILE_INPUT;
    for r in regions.iter() {
        let t0 = Instant::now();
        model.fill(region_resampler, frame, &r.map, (side, side));
        let t1 = Instant::now();
        model.run()?;
        stats.preprocess_ms += ms(t0, t1);
        stats.inference_ms += ms(t1, Instant::now());
        tile_dets.clear();
        let keep = decode::Keep {
            min_score: thresholds[r.level],
            min_side: 0.0,
        };
        model.decode(keep, &r.map, tile_dets);
        sweep.hold(
            frame,
            r.index,
            tile_dets
                .iter()
                .filter(|d| !tiling::touches_interior_edge(&d.bbox, &r.map, side, w, h))
                .copied(),
        );
    }
    // Regions not run in this frame answer with their last detections, while
    // their pixels have not changed.
    if per_frame != Some(0) {
        sweep.drop_changed(frame);
        candidates.extend(sweep.held());
    }
    let keep = decode::Keep {
        min_score: cfg.tile_score_threshold,
        min_side: 0.0,
    };
    let mut redetections = 0;
    if cfg.redetect_tracked {
        searched.clear();
        for hint in hints {
            if redetections == redetect::MAX_PER_FRAME {
                break;
            }
            // Found by this frame's runs, held, re-detected for another track,
            // or inside a region already searched (an older box of a face
            // that moved, which the tracker still lists).
            if redetect::covered(hint, candidates) || redetect::searched(hint, searched) {
                continue;
            }
            let region = redetect::region(hint, w, h);
            searched.push(region);
            let t0 = Instant::now();
            model.fill(
                region_resampler,
                frame,
                &region,
                (redetect::INPUT, redetect::INPUT),
            );
            let t1 = Instant::now();
            model.run()?;
            stats.preprocess_ms += ms(t0, t1);
            stats.inference_ms += ms(t1, Instant::now());
            redetections += 1;
            tile_dets.clear();
            model.decode(keep, &region, tile_dets);
            tile_dets.retain(|d| {
                !tiling::touches_interior_edge(&d.bbox, &region, redetect::INPUT, w, h)
            });
            candidates.extend(redetect::found_faces(hint, tile_dets));
        }
    }
    stats.runs = 1 + regions.len() + redetections;
    stats.tiles = regions.len();
    stats.redetections = redetections;
    Ok(())
}
