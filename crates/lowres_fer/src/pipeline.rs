//! The per-frame pipeline: frame -> faces -> crops -> (route) -> emotions -> tracks.

use std::sync::Arc;
use std::time::Instant;

use image::{GrayImage, RgbImage};
use serde::Serialize;

use crate::classify::route::{Classified, Crop, Router};
use crate::classify::{align, gate};
use crate::detect::FaceDetector;
use crate::face::{BBox, FaceResult, FaceState, NUM_EMOTIONS};
use crate::models::runtime;
use crate::models::ModelStore;
use crate::settings::config::PipelineConfig;
use crate::track::Tracker;

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
    /// Set when the classifier failed on this frame (a run-time error, e.g. of
    /// the execution provider): the faces it should have classified are
    /// [`FaceState::ClassifierFailed`], detections and tracks are still valid.
    pub classify_error: Option<String>,
    /// Ids of the tracks alive after this frame (empty when tracking is off),
    /// including those not seen in it: the ROS4HRI output lists them as tracked.
    #[serde(skip)]
    pub live_tracks: Vec<u64>,
}

pub struct Pipeline {
    cfg: PipelineConfig,
    detector: FaceDetector,
    router: Router,
    tracker: Option<Tracker>,
    /// The tracker while `tracking.enabled` is off at run time (its id counter).
    parked_tracker: Option<Tracker>,
    output: FrameOutput,
    /// Model name of each route, shared by every face it classifies.
    route_names: Vec<Arc<str>>,
    /// The empty route of unclassified faces.
    no_route: Arc<str>,
    // Reused per frame.
    hints: Vec<BBox>,
    /// Crop pool: the first `n` of a frame are in use, the rest keep their buffers.
    crops: Vec<Crop>,
    classified: Vec<Classified>,
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

impl Pipeline {
    /// Load models (verified against the manifest) and build the sessions.
    pub fn new(cfg: &PipelineConfig) -> anyhow::Result<Self> {
        cfg.validate()?;
        let lib = (!cfg.onnxruntime_library.as_os_str().is_empty())
            .then_some(cfg.onnxruntime_library.as_path());
        let env = runtime::environment(lib)?;
        // The manifest's own error says what is wrong with models_dir (issue 11:
        // a missing manifest is not a matter of fetching models).
        let store = ModelStore::open(&env, &cfg.models_dir)?.with_gpu(&cfg.gpu);
        let detector = FaceDetector::new(&store, &cfg.detector)?;
        let router = Router::new(&store, &cfg.classifier)?;
        let tracker = cfg.tracking.enabled.then(|| Tracker::new(&cfg.tracking));
        let route_names = (0..router.routes())
            .map(|r| Arc::from(router.route_name(r)))
            .collect();
        Ok(Self {
            cfg: cfg.clone(),
            detector,
            router,
            tracker,
            parked_tracker: None,
            output: FrameOutput::default(),
            route_names,
            no_route: Arc::from(""),
            hints: Vec::new(),
            crops: Vec::new(),
            classified: Vec::new(),
        })
    }

    pub fn config(&self) -> &PipelineConfig {
        &self.cfg
    }

    /// The execution provider each stage really runs on, as `(stage, provider)`:
    /// "cpu" where a requested GPU provider was not available (/diagnostics
    /// reports it, so a robot that silently fell back to the CPU shows it).
    pub fn providers(&self) -> [(&'static str, &'static str); 2] {
        [
            ("detector", self.detector.provider()),
            ("classifier", self.router.provider()),
        ]
    }

    /// Take the run-time values of `cfg` (`settings::params::Param::live`:
    /// detector thresholds, NMS, tiling, quality gate, crop margin, mirror
    /// averaging, tracking)
    /// from the next frame, without reloading a model. Refused, with nothing
    /// changed, when `cfg` is invalid or changes what the loaded sessions were
    /// built with (models, precision, routing, providers, threads). The paths
    /// (`models_dir`, `onnxruntime_library`) are only read at load and are
    /// kept as loaded: a caller's unresolved `models_dir` is no change.
    pub fn apply_live(&mut self, cfg: &PipelineConfig) -> anyhow::Result<()> {
        cfg.validate()?;
        let loaded = |c: &PipelineConfig| {
            (
                c.detector.model,
                c.detector.threads,
                c.detector.execution_provider,
                c.classifier.routing,
                c.classifier.precision,
                c.classifier.execution_provider,
                c.classifier.threads,
                c.gpu.clone(),
            )
        };
        if loaded(cfg) != loaded(&self.cfg) {
            anyhow::bail!(
                "models, precision, routing, execution providers, GPU options and threads are loaded at start-up: restart to change them"
            );
        }
        self.detector.set_config(&cfg.detector);
        self.router.set_mirror(cfg.classifier.mirror_average);
        if cfg.tracking.enabled {
            // A tracker turned back on goes on counting: face ids are never
            // reused within a run.
            let mut tracker = self
                .tracker
                .take()
                .or_else(|| self.parked_tracker.take())
                .unwrap_or_else(|| Tracker::new(&cfg.tracking));
            tracker.set_config(&cfg.tracking);
            self.tracker = Some(tracker);
        } else if let Some(mut tracker) = self.tracker.take() {
            tracker.reset();
            self.parked_tracker = Some(tracker);
        }
        self.cfg = PipelineConfig {
            models_dir: std::mem::take(&mut self.cfg.models_dir),
            onnxruntime_library: std::mem::take(&mut self.cfg.onnxruntime_library),
            ..cfg.clone()
        };
        Ok(())
    }

    /// Name of the model a route index refers to (e.g. "efc_all_s32").
    pub fn route_name(&self, index: usize) -> &str {
        self.router.route_name(index)
    }

    /// Process one RGB frame. The returned output is reused by the next call.
    pub fn process(&mut self, frame: &RgbImage) -> anyhow::Result<&FrameOutput> {
        let start = Instant::now();
        let t = Instant::now();
        self.hints.clear();
        if let Some(tracker) = &self.tracker {
            self.hints.extend(tracker.boxes());
        }
        let detections = self.detector.detect(frame, &self.hints)?;
        let detect_ms = ms(t);

        let t = Instant::now();
        let c = &self.cfg.classifier;
        let faces = &mut self.output.faces;
        faces.clear();
        let mut n = 0;
        for det in detections {
            let size_px = det.bbox.w.max(det.bbox.h);
            // The quality gate: too small or too uncertain faces get no emotion, so a
            // planner never sees a confident label on a blur or a false detection.
            let state = if size_px < c.min_face_px {
                FaceState::TooSmall
            } else if det.score < c.min_detector_score
                || (det.score < c.min_score_without_geometry && !gate::plausible_face(&det))
            {
                FaceState::LowDetectorScore
            } else {
                FaceState::Classified
            };
            if state == FaceState::Classified {
                if self.crops.len() <= n {
                    self.crops.push(Crop {
                        face: 0,
                        size_px: 0.0,
                        image: GrayImage::new(0, 0),
                    });
                }
                let crop = &mut self.crops[n];
                align::aligned_crop(frame, &det, c.crop_margin, &mut crop.image);
                crop.face = faces.len();
                // Routing signal: the native side of what the classifier will see.
                crop.size_px = crop.image.width() as f32;
                n += 1;
            }
            faces.push(FaceResult {
                detection: det,
                size_px,
                state,
                route: self.no_route.clone(),
                probs: [0.0; NUM_EMOTIONS],
                track_id: 0,
                smoothed: None,
            });
        }
        let align_ms = ms(t);

        let t = Instant::now();
        let classified = self.router.classify(&self.crops[..n], &mut self.classified);
        self.output.classify_error = None;
        match classified {
            Ok(()) => {
                for c in &self.classified {
                    if let (Some(face), Some(name)) =
                        (faces.get_mut(c.face), self.route_names.get(c.route))
                    {
                        face.probs = c.probs;
                        face.route = name.clone();
                    }
                }
            }
            // The frame still has its detections: a planner sees the faces,
            // marked as not classified, instead of no frame result at all.
            Err(e) => {
                for crop in &self.crops[..n] {
                    if let Some(face) = faces.get_mut(crop.face) {
                        face.state = FaceState::ClassifierFailed;
                    }
                }
                self.output.classify_error = Some(format!("classifier: {e:#}"));
            }
        }
        let classify_ms = ms(t);

        let t = Instant::now();
        self.output.live_tracks.clear();
        if let Some(tracker) = &mut self.tracker {
            tracker.update(faces);
            self.output.live_tracks.extend(tracker.ids());
        }
        let track_ms = ms(t);
        self.output.timings = StageTimings {
            detect_ms,
            align_ms,
            classify_ms,
            track_ms,
            total_ms: ms(start),
        };
        Ok(&self.output)
    }

    /// Forget all tracks and restart the detector's tile sweeps (e.g. when
    /// the input time jumps backwards: a new scene).
    pub fn reset(&mut self) {
        if let Some(tracker) = &mut self.tracker {
            tracker.reset();
        }
        self.detector.reset();
        self.output.faces.clear();
        self.output.live_tracks.clear();
    }
}
