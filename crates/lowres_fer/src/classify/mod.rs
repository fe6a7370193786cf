//! EFC emotion classifier sessions: every face of a frame in one batched run.
//!
//! Input contract of the exported models (training/export.py): `face` [N,1,S,S]
//! float grayscale in [0,1], output `logits` [N,8] in FER+ order; softmax is here.

pub mod align;
pub mod gate;
pub mod route;

use anyhow::{bail, Context};
use image::GrayImage;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::TensorRef;

use crate::face::NUM_EMOTIONS;
use crate::imaging::resample::Resizer;
use crate::models::{ModelEntry, ModelStore, SessionOptions};
use crate::settings::config::ClassifierConfig;

pub const INPUT_NAME: &str = "face";
pub const OUTPUT_NAME: &str = "logits";

/// Post-hoc calibration of an emotion model (manifest `logit_bias`, `temperature`):
/// p = softmax((logits + bias) / temperature).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    pub bias: [f32; NUM_EMOTIONS],
    pub temperature: f32,
}

impl Default for Calibration {
    fn default() -> Self {
        Self {
            bias: [0.0; NUM_EMOTIONS],
            temperature: 1.0,
        }
    }
}

impl Calibration {
    /// From a manifest entry; a non-finite bias or a temperature that is not a finite
    /// positive number is an error naming the model (it would turn every answer into NaN).
    pub fn from_entry(file: &str, entry: &ModelEntry) -> anyhow::Result<Self> {
        let cal = Self {
            bias: entry.logit_bias.unwrap_or([0.0; NUM_EMOTIONS]),
            temperature: entry.temperature.unwrap_or(1.0),
        };
        if !(cal.temperature.is_finite() && cal.temperature > 0.0) {
            bail!(
                "manifest entry '{file}': temperature {} must be a finite number > 0",
                cal.temperature
            );
        }
        if cal.bias.iter().any(|b| !b.is_finite()) {
            bail!("manifest entry '{file}': logit_bias must be finite numbers");
        }
        Ok(cal)
    }

    /// Calibrated probabilities of one face's logits.
    pub fn probabilities(&self, logits: &[f32]) -> [f32; NUM_EMOTIONS] {
        let mut z = [0f32; NUM_EMOTIONS];
        for ((z, &l), &b) in z.iter_mut().zip(logits).zip(&self.bias) {
            *z = (l + b) / self.temperature;
        }
        softmax(&z)
    }
}

/// Probabilities from logits, numerically stable.
pub fn softmax(logits: &[f32]) -> [f32; NUM_EMOTIONS] {
    let mut out = [0f32; NUM_EMOTIONS];
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for (o, &l) in out.iter_mut().zip(logits) {
        *o = (l - max).exp();
        sum += *o;
    }
    for o in &mut out {
        *o /= sum;
    }
    out
}

/// The FER+ low-resolution protocol: a 48x48 face downscaled to `resolution` and
/// resized to `input_size`, both with Pillow's antialiased bilinear filter.
pub fn degrade(
    face: &GrayImage,
    resolution: u32,
    input_size: u32,
    resizer: &mut Resizer,
) -> GrayImage {
    let (w, h) = face.dimensions();
    let mut low = GrayImage::new(resolution, resolution);
    resizer.resize(
        face.as_raw(),
        w as usize,
        h as usize,
        &mut low,
        resolution as usize,
        resolution as usize,
    );
    let mut out = GrayImage::new(input_size, input_size);
    resizer.resize(
        low.as_raw(),
        resolution as usize,
        resolution as usize,
        &mut out,
        input_size as usize,
        input_size as usize,
    );
    out
}

/// Session settings of every classifier-side model (ORT's default
/// optimisation level, all graph optimisations, spelled out).
pub fn session_options(cfg: &ClassifierConfig) -> SessionOptions {
    SessionOptions {
        threads: cfg.threads,
        provider: cfg.execution_provider,
        optimization: GraphOptimizationLevel::All,
        face_input: None,
    }
}

/// One ONNX model over grayscale face crops (`face` [N,1,S,S] -> `logits` [N,K]),
/// with its reusable input and output buffers.
pub struct FaceModel {
    session: Session,
    name: String,
    input_size: u32,
    classes: usize,
    provider: &'static str,
    /// Largest batch of one run (TensorRT's shape profile); `usize::MAX` elsewhere.
    max_batch: usize,
    /// Classify each face and its mirror image, and average their logits.
    mirror: bool,
    input: Vec<f32>,
    logits: Vec<f32>,
    scratch: GrayImage,
    resizer: Resizer,
}

impl FaceModel {
    /// Load `file` from `models_dir` (sha256-checked against the manifest); the model
    /// must output `classes` logits per face.
    pub fn new(
        store: &ModelStore,
        file: &str,
        cfg: &ClassifierConfig,
        classes: usize,
    ) -> anyhow::Result<Self> {
        let entry = store.entry(file)?;
        let input_size = entry
            .input_size
            .with_context(|| format!("manifest entry '{file}' has no input_size"))?;
        let opts = SessionOptions {
            face_input: Some((INPUT_NAME, input_size)),
            ..session_options(cfg)
        };
        let (session, provider) = store.session(file, opts)?;
        let max_batch = if provider == "tensorrt" {
            store.gpu().tensorrt_max_faces.max(1) as usize
        } else {
            usize::MAX
        };
        let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
        if inputs != [INPUT_NAME] || outputs != [OUTPUT_NAME] {
            bail!("model {file} has inputs {inputs:?} / outputs {outputs:?}; expected [{INPUT_NAME}] / [{OUTPUT_NAME}]");
        }
        let name = file.trim_end_matches(".onnx").to_string();
        let mut model = Self {
            session,
            name,
            input_size,
            classes,
            provider,
            max_batch,
            mirror: false,
            input: Vec::new(),
            logits: Vec::new(),
            scratch: GrayImage::new(input_size, input_size),
            resizer: Resizer::new(),
        };
        // The model contract, checked once here rather than on every frame with
        // faces: a batch of two blank faces at the manifest's input size must give
        // [2, classes] (two, so a model exported with a fixed batch of one fails
        // here and not on the first frame with two faces).
        let s = input_size as usize;
        model
            .logits_prepared(&vec![0.0; 2 * s * s])
            .with_context(|| {
                format!(
                    "model {file} does not fit the node: failed its start-up check on two blank \
                 {s}x{s} faces (manifest input_size {s}, [batch, {classes}] outputs expected)"
                )
            })?;
        Ok(model)
    }

    /// Model name (file name without `.onnx`).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn input_size(&self) -> u32 {
        self.input_size
    }

    /// Execution provider actually in use ("cpu", "cuda", "tensorrt").
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// Run batches of more than `max` faces in several runs. TensorRT sessions
    /// get `gpu.tensorrt_max_faces` at load; the split is the same on every
    /// provider, so a CPU test holds it.
    pub fn limit_batch(&mut self, max: usize) {
        self.max_batch = max.max(1);
    }

    /// Average each face's logits with its mirror image's from the next run on
    /// (`classifier.mirror_average`): faces are left-right symmetric in what they
    /// express, and the two views disagree most where pixels are few.
    pub fn set_mirror(&mut self, mirror: bool) {
        self.mirror = mirror;
    }

    /// Logits [N*K] for native-resolution grayscale crops, in one batched run. Each
    /// crop is resized to the model input with the training protocol's filter.
    pub fn logits(&mut self, crops: &[&GrayImage]) -> anyhow::Result<&[f32]> {
        let s = self.input_size as usize;
        self.input.clear();
        self.input.reserve(crops.len() * s * s);
        for crop in crops {
            let (w, h) = crop.dimensions();
            if w == 0 || h == 0 {
                bail!("empty face crop");
            }
            self.resizer.resize(
                crop.as_raw(),
                w as usize,
                h as usize,
                &mut self.scratch,
                s,
                s,
            );
            self.input
                .extend(self.scratch.as_raw().iter().map(|&v| v as f32 / 255.0));
        }
        self.run(crops.len())
    }

    /// Logits for faces already at the input size, [N*S*S] floats in [0,1].
    pub fn logits_prepared(&mut self, faces: &[f32]) -> anyhow::Result<&[f32]> {
        let s = self.input_size as usize;
        if !faces.len().is_multiple_of(s * s) {
            bail!(
                "prepared input length {} is not a multiple of {s}x{s}",
                faces.len()
            );
        }
        self.input.clear();
        self.input.extend_from_slice(faces);
        self.run(faces.len() / (s * s))
    }

    /// Run the `n` faces in `input`; with `mirror`, their mirror images too (one
    /// batch of 2n), each face's logits then the mean of its two views.
    fn run(&mut self, n: usize) -> anyhow::Result<&[f32]> {
        let s = self.input_size as usize;
        if !self.mirror {
            return self.run_input(n);
        }
        self.input.reserve(n * s * s);
        for i in 0..n * s {
            // Row i of the batch (face i / s, row i % s), reversed, appended.
            let row = i * s..(i + 1) * s;
            self.input.extend_from_within(row);
            let len = self.input.len();
            self.input[len - s..].reverse();
        }
        self.run_input(2 * n)?;
        let k = self.classes;
        let (faces, mirrors) = self.logits.split_at_mut(n * k);
        for (a, b) in faces.iter_mut().zip(mirrors.iter()) {
            *a = 0.5 * (*a + *b);
        }
        self.logits.truncate(n * k);
        Ok(&self.logits)
    }

    fn run_input(&mut self, n: usize) -> anyhow::Result<&[f32]> {
        self.logits.clear();
        let s = self.input_size as usize;
        // Batches above the TensorRT profile's max run in chunks (an engine
        // rejects shapes outside its profile).
        let mut first = 0;
        while first < n {
            let count = (n - first).min(self.max_batch);
            let chunk = &self.input[first * s * s..(first + count) * s * s];
            let tensor = TensorRef::from_array_view(([count, 1, s, s], chunk))?;
            let outputs = self.session.run(ort::inputs![INPUT_NAME => tensor])?;
            let (shape, logits) = outputs[OUTPUT_NAME].try_extract_tensor::<f32>()?;
            if shape.len() != 2 || shape[0] as usize != count || shape[1] as usize != self.classes {
                bail!(
                    "model {} returned logits of shape {shape:?}, expected [{count}, {}]",
                    self.name,
                    self.classes
                );
            }
            self.logits.extend_from_slice(logits);
            first += count;
        }
        Ok(&self.logits)
    }
}

/// An EFC emotion model: calibrated probabilities in FER+ order.
pub struct EmotionClassifier {
    model: FaceModel,
    calibration: Calibration,
}

impl EmotionClassifier {
    pub fn new(store: &ModelStore, file: &str, cfg: &ClassifierConfig) -> anyhow::Result<Self> {
        let calibration = Calibration::from_entry(file, store.entry(file)?)?;
        let mut model = FaceModel::new(store, file, cfg, NUM_EMOTIONS)?;
        model.set_mirror(cfg.mirror_average);
        Ok(Self { model, calibration })
    }

    /// See [`FaceModel::set_mirror`].
    pub fn set_mirror(&mut self, mirror: bool) {
        self.model.set_mirror(mirror);
    }

    /// Model name used as the route label (file name without `.onnx`).
    pub fn name(&self) -> &str {
        self.model.name()
    }

    pub fn input_size(&self) -> u32 {
        self.model.input_size()
    }

    pub fn provider(&self) -> &'static str {
        self.model.provider()
    }

    /// See [`FaceModel::limit_batch`].
    pub fn limit_batch(&mut self, max: usize) {
        self.model.limit_batch(max);
    }

    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    /// Classify native-resolution grayscale crops in one batched run.
    pub fn classify(
        &mut self,
        crops: &[&GrayImage],
        out: &mut Vec<[f32; NUM_EMOTIONS]>,
    ) -> anyhow::Result<()> {
        out.clear();
        let cal = self.calibration;
        out.extend(
            self.model
                .logits(crops)?
                .chunks_exact(NUM_EMOTIONS)
                .map(|l| cal.probabilities(l)),
        );
        Ok(())
    }

    /// Classify faces already at the model's input size, given as [N*S*S] floats in [0,1].
    pub fn classify_prepared(
        &mut self,
        faces: &[f32],
        out: &mut Vec<[f32; NUM_EMOTIONS]>,
    ) -> anyhow::Result<()> {
        out.clear();
        let cal = self.calibration;
        out.extend(
            self.model
                .logits_prepared(faces)?
                .chunks_exact(NUM_EMOTIONS)
                .map(|l| cal.probabilities(l)),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let p = softmax(&[1.0, 2.0, 3.0, 0.0, -1.0, 0.5, 0.0, 1000.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(p[7] > 0.99);
        let q = softmax(&[0.0; 8]);
        assert!(q.iter().all(|&v| (v - 0.125).abs() < 1e-6));
    }

    fn entry(json: &str) -> ModelEntry {
        serde_json::from_str(json).expect("entry")
    }

    #[test]
    fn calibration_shifts_by_the_bias_and_softens_by_the_temperature() {
        let logits = [2.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let none = Calibration::from_entry("m", &entry(r#"{"sha256": "x"}"#)).unwrap();
        assert_eq!(none, Calibration::default());
        assert_eq!(none.probabilities(&logits), softmax(&logits));
        let cal = Calibration::from_entry(
            "m",
            &entry(
                r#"{"sha256": "x", "temperature": 2.0, "logit_bias": [0, 1.5, 0, 0, 0, 0, 0, 0]}"#,
            ),
        )
        .unwrap();
        let p = cal.probabilities(&logits);
        // (2 + 0) / 2 = 1 < (1 + 1.5) / 2 = 1.25: the bias moved the top class.
        assert!(p[1] > p[0]);
        assert!((p[1] / p[0] - (0.25f32).exp()).abs() < 1e-5);
    }

    #[test]
    fn bad_calibration_values_are_rejected_with_the_model_name() {
        for bad in [
            r#"{"sha256": "x", "temperature": 0}"#,
            r#"{"sha256": "x", "temperature": -1.0}"#,
        ] {
            let err = Calibration::from_entry("efc.onnx", &entry(bad)).unwrap_err();
            assert!(err.to_string().contains("efc.onnx"), "{err}");
        }
        // Wrong length: a manifest parse error, before any model is loaded.
        assert!(
            serde_json::from_str::<ModelEntry>(r#"{"sha256": "x", "logit_bias": [1, 2]}"#).is_err()
        );
    }
}
