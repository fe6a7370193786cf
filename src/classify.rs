//! EFC emotion classifier sessions: every face of a frame in one batched run.
//!
//! Input contract of the exported models (training/export.py): `face` [N,1,S,S]
//! float grayscale in [0,1], output `logits` [N,8] in FER+ order; softmax is here.

use std::path::Path;

use anyhow::{bail, Context};
use image::GrayImage;
use ort::environment::Environment;
use ort::session::Session;
use ort::value::TensorRef;

use crate::config::{ClassifierConfig, ExecutionProvider};
use crate::face::NUM_EMOTIONS;
use crate::models::{self, Manifest};
use crate::resample::Resizer;

pub const INPUT_NAME: &str = "face";
pub const OUTPUT_NAME: &str = "logits";

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

/// Build an ONNX Runtime session from verified model bytes with the requested
/// execution provider. CUDA / TensorRT fall back to CPU with a clear message when
/// this ONNX Runtime build does not have them.
pub fn build_session(
    env: &Environment,
    bytes: &[u8],
    threads: u32,
    provider: ExecutionProvider,
    what: &str,
) -> anyhow::Result<(Session, String)> {
    use ort::ep::{self, ExecutionProvider as _};
    let mut builder = Session::builder(env)?
        .with_intra_threads(threads as usize)
        .map_err(|e| anyhow::anyhow!("{what}: {e}"))?
        .with_inter_threads(1)
        .map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
    let mut used = "cpu".to_string();
    let wanted: Option<(&str, bool, ep::ExecutionProviderDispatch)> = match provider {
        ExecutionProvider::Cpu => None,
        ExecutionProvider::Cuda => Some((
            "cuda",
            ep::CUDA::is_available().unwrap_or(false),
            ep::CUDA::default().build(),
        )),
        ExecutionProvider::Tensorrt => Some((
            "tensorrt",
            ep::TensorRT::is_available().unwrap_or(false),
            ep::TensorRT::default().build(),
        )),
    };
    if let Some((name, available, dispatch)) = wanted {
        if available {
            builder = builder
                .with_execution_providers([dispatch.error_on_failure()])
                .map_err(|e| {
                    anyhow::anyhow!("{what}: cannot register execution provider {name}: {e}")
                })?;
            used = name.to_string();
        } else {
            eprintln!(
                "[lowres_fer] {what}: execution provider '{name}' is not available in this ONNX Runtime \
                 build; falling back to cpu"
            );
        }
    }
    let session = builder
        .commit_from_memory(bytes)
        .map_err(|e| anyhow::anyhow!("{what}: ONNX Runtime cannot load the model: {e}"))?;
    Ok((session, used))
}

/// One ONNX model over grayscale face crops (`face` [N,1,S,S] -> `logits` [N,K]),
/// with its reusable input and output buffers.
pub struct FaceModel {
    session: Session,
    name: String,
    input_size: u32,
    classes: usize,
    provider: String,
    input: Vec<f32>,
    logits: Vec<f32>,
    scratch: GrayImage,
    resizer: Resizer,
}

impl FaceModel {
    /// Load `file` from `models_dir` (sha256-checked against the manifest); the model
    /// must output `classes` logits per face.
    pub fn new(
        env: &Environment,
        models_dir: &Path,
        manifest: &Manifest,
        file: &str,
        cfg: &ClassifierConfig,
        classes: usize,
    ) -> anyhow::Result<Self> {
        let entry = manifest.entry(file)?;
        let input_size = entry
            .input_size
            .with_context(|| format!("manifest entry '{file}' has no input_size"))?;
        let bytes = models::load_verified(models_dir, manifest, file)?;
        let (session, provider) =
            build_session(env, &bytes, cfg.threads, cfg.execution_provider, file)?;
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
    pub fn provider(&self) -> &str {
        &self.provider
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

    fn run(&mut self, n: usize) -> anyhow::Result<&[f32]> {
        self.logits.clear();
        if n == 0 {
            return Ok(&self.logits);
        }
        let s = self.input_size as usize;
        let tensor = TensorRef::from_array_view(([n, 1, s, s], self.input.as_slice()))?;
        let outputs = self.session.run(ort::inputs![INPUT_NAME => tensor])?;
        let (shape, logits) = outputs[OUTPUT_NAME].try_extract_tensor::<f32>()?;
        if shape.len() != 2 || shape[0] as usize != n || shape[1] as usize != self.classes {
            bail!(
                "model {} returned logits of shape {shape:?}, expected [{n}, {}]",
                self.name,
                self.classes
            );
        }
        self.logits.extend_from_slice(logits);
        Ok(&self.logits)
    }
}

/// An EFC emotion model: probabilities in FER+ order.
pub struct EmotionClassifier(FaceModel);

impl EmotionClassifier {
    pub fn new(
        env: &Environment,
        models_dir: &Path,
        manifest: &Manifest,
        file: &str,
        cfg: &ClassifierConfig,
    ) -> anyhow::Result<Self> {
        FaceModel::new(env, models_dir, manifest, file, cfg, NUM_EMOTIONS).map(Self)
    }

    /// Model name used as the route label (file name without `.onnx`).
    pub fn name(&self) -> &str {
        self.0.name()
    }

    pub fn input_size(&self) -> u32 {
        self.0.input_size()
    }

    pub fn provider(&self) -> &str {
        self.0.provider()
    }

    /// Classify native-resolution grayscale crops in one batched run.
    pub fn classify(
        &mut self,
        crops: &[&GrayImage],
        out: &mut Vec<[f32; NUM_EMOTIONS]>,
    ) -> anyhow::Result<()> {
        out.clear();
        out.extend(
            self.0
                .logits(crops)?
                .chunks_exact(NUM_EMOTIONS)
                .map(softmax),
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
        out.extend(
            self.0
                .logits_prepared(faces)?
                .chunks_exact(NUM_EMOTIONS)
                .map(softmax),
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
}
