//! The per-frame pipeline: frame -> faces -> crops -> (route) -> emotions -> tracks.

use std::time::Instant;

use image::{GrayImage, RgbImage};
use serde::Serialize;

use crate::config::PipelineConfig;
use crate::detect::FaceDetector;
use crate::face::{BBox, FaceResult, FaceState, NUM_EMOTIONS};
use crate::models::Manifest;
use crate::route::Router;
use crate::track::Tracker;
use crate::{align, gate, runtime};

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
}

pub struct Pipeline {
    cfg: PipelineConfig,
    detector: FaceDetector,
    router: Router,
    tracker: Option<Tracker>,
    output: FrameOutput,
    // Reused per frame.
    hints: Vec<BBox>,
    crops: Vec<GrayImage>,
    crop_sizes: Vec<f32>,
    crop_faces: Vec<usize>,
    probs: Vec<[f32; NUM_EMOTIONS]>,
    routes: Vec<usize>,
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
        let detector = FaceDetector::new(&env, &cfg.detector, &cfg.models_dir)?;
        let manifest = Manifest::load(&cfg.models_dir)?;
        let router = Router::new(&env, &cfg.models_dir, &manifest, &cfg.classifier)?;
        let tracker = cfg.tracking.enabled.then(|| Tracker::new(&cfg.tracking));
        Ok(Self {
            cfg: cfg.clone(),
            detector,
            router,
            tracker,
            output: FrameOutput::default(),
            hints: Vec::new(),
            crops: Vec::new(),
            crop_sizes: Vec::new(),
            crop_faces: Vec::new(),
            probs: Vec::new(),
            routes: Vec::new(),
        })
    }

    pub fn config(&self) -> &PipelineConfig {
        &self.cfg
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
        self.crop_sizes.clear();
        self.crop_faces.clear();
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
                let k = self.crop_sizes.len();
                if self.crops.len() <= k {
                    self.crops.push(GrayImage::new(0, 0));
                }
                align::aligned_crop(frame, &det, c.crop_margin, &mut self.crops[k]);
                // Routing signal: the native side of what the classifier will see.
                self.crop_sizes.push(self.crops[k].width() as f32);
                self.crop_faces.push(faces.len());
            }
            faces.push(FaceResult {
                detection: det,
                size_px,
                state,
                route: String::new(),
                probs: [0.0; NUM_EMOTIONS],
                track_id: 0,
                smoothed: None,
            });
        }
        let align_ms = ms(t);

        let t = Instant::now();
        let n = self.crop_sizes.len();
        let classified = self.router.classify(
            &self.crops[..n],
            &self.crop_sizes,
            &mut self.probs,
            &mut self.routes,
        );
        self.output.classify_error = None;
        match classified {
            Ok(()) => {
                for (k, &fi) in self.crop_faces.iter().enumerate() {
                    let face = &mut faces[fi];
                    face.probs = self.probs[k];
                    face.route.push_str(self.router.route_name(self.routes[k]));
                }
            }
            // The frame still has its detections: a planner sees the faces,
            // marked as not classified, instead of no frame result at all.
            Err(e) => {
                for &fi in &self.crop_faces {
                    faces[fi].state = FaceState::ClassifierFailed;
                }
                self.output.classify_error = Some(format!("classifier: {e:#}"));
            }
        }
        let classify_ms = ms(t);

        let t = Instant::now();
        if let Some(tracker) = &mut self.tracker {
            tracker.update(faces);
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

    /// Forget all tracks (e.g. when the input time jumps backwards).
    pub fn reset(&mut self) {
        if let Some(tracker) = &mut self.tracker {
            tracker.reset();
        }
        self.output.faces.clear();
    }
}
