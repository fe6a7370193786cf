//! Model files and their manifest (`models/manifest.json`): every model the node
//! loads is checked against a pinned sha256, so a corrupt, truncated or mismatched
//! file is a clear start-up error instead of garbage output.
//!
//! [`ModelStore`] is the one way in: the manifest is loaded once per pipeline,
//! each file is read and hashed once, and every ONNX Runtime session (detector,
//! classifiers, resolution recogniser) is built by [`build_session`] with its
//! threads, execution provider and optimisation level.

pub mod runtime;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::settings::config::{ExecutionProvider, GpuConfig};

pub const MANIFEST_FILE: &str = "manifest.json";

#[derive(Debug, Clone, Deserialize)]
pub struct ModelEntry {
    pub sha256: String,
    /// Square input side in pixels, for classifiers.
    #[serde(default)]
    pub input_size: Option<u32>,
    /// Free-form role: "detector", "classifier", "expert", "resolution_recogniser".
    #[serde(default)]
    pub role: String,
    /// For routing experts: the native face sizes (px) this expert serves, [min, max).
    #[serde(default)]
    pub face_px: Option<[f32; 2]>,
    /// For the resolution recogniser: the native face-size bin (px, [min, max)) of
    /// each of its outputs, in output order.
    #[serde(default)]
    pub face_px_bins: Option<Vec<[f32; 2]>>,
    /// Emotion classifiers: per-class offsets added to the logits (post-hoc class
    /// balance fitted on FER+ Valid by training/calibrate.py); absent = zeros.
    #[serde(default)]
    pub logit_bias: Option<[f32; crate::face::NUM_EMOTIONS]>,
    /// Emotion classifiers: softmax temperature fitted on FER+ Valid (calibrated
    /// `top_confidence`); absent = 1.
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Variants (role "variant", training/quantize.py): the FP32 model this
    /// file was made from, its sha256 then, and the precision ("int8", "fp16").
    #[serde(default)]
    pub variant_of: Option<String>,
    #[serde(default)]
    pub variant_of_sha256: Option<String>,
    #[serde(default)]
    pub precision: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub models: BTreeMap<String, ModelEntry>,
}

impl Manifest {
    pub fn load(models_dir: &Path) -> anyhow::Result<Self> {
        let path = models_dir.join(MANIFEST_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "cannot read model manifest: {} is missing: models_dir '{}' is not a lowres_fer \
                 models directory (it ships with the package; empty models_dir = the installed one)",
                path.display(),
                models_dir.display()
            ),
            Err(e) => bail!("cannot read model manifest {}: {e}", path.display()),
        };
        serde_json::from_str(&text).with_context(|| {
            format!(
                "model manifest {} is invalid (not valid JSON of the form {{\"models\": {{file: {{sha256, ...}}}}}})",
                path.display()
            )
        })
    }

    pub fn entry(&self, file: &str) -> anyhow::Result<&ModelEntry> {
        self.models
            .get(file)
            .with_context(|| format!("model '{file}' is not listed in {MANIFEST_FILE}"))
    }

    /// The general emotion classifier: the one model with role "classifier" (the
    /// node's model with routing off, and the evaluators' default).
    pub fn classifier(&self) -> anyhow::Result<&str> {
        let found: Vec<&String> = self
            .models
            .iter()
            .filter(|(_, e)| e.role == "classifier")
            .map(|(name, _)| name)
            .collect();
        match found.as_slice() {
            [name] => Ok(name.as_str()),
            _ => bail!(
                "{MANIFEST_FILE} must list exactly one model with role \"classifier\", found {}",
                found.len()
            ),
        }
    }

    /// The file of `base`'s variant at `precision` ("fp32" is `base` itself).
    /// A variant made from another version of `base` (its recorded sha256
    /// differs) is refused: its accuracy was measured on a model no longer here.
    pub fn variant<'a>(&'a self, base: &'a str, precision: &str) -> anyhow::Result<&'a str> {
        if precision == "fp32" {
            return Ok(base);
        }
        let base_sha = &self.entry(base)?.sha256;
        let (file, entry) = self
            .models
            .iter()
            .find(|(_, e)| {
                e.variant_of.as_deref() == Some(base) && e.precision.as_deref() == Some(precision)
            })
            .with_context(|| {
                format!(
                    "parameter 'classifier.precision' = {precision}: {MANIFEST_FILE} lists no \
                     {precision} variant of '{base}' (make one with training/quantize.py)"
                )
            })?;
        if entry.variant_of_sha256.as_deref() != Some(base_sha.as_str()) {
            bail!(
                "model '{file}' is a {precision} variant of an older '{base}' (sha256 differs): \
                 re-run training/quantize.py models/{base}"
            );
        }
        Ok(file)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Read `models_dir/file` and check it against the manifest. Returns the bytes,
/// so the session is built from exactly what was verified.
pub fn load_verified(
    models_dir: &Path,
    manifest: &Manifest,
    file: &str,
) -> anyhow::Result<Vec<u8>> {
    let entry = manifest.entry(file)?;
    let path: PathBuf = models_dir.join(file);
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "model file {} is missing (run scripts/setup.sh)",
            path.display()
        )
    })?;
    let got = sha256_hex(&bytes);
    if !got.eq_ignore_ascii_case(&entry.sha256) {
        bail!(
            "model file {} is corrupt or not the expected version: sha256 {got}, manifest says {}",
            path.display(),
            entry.sha256
        );
    }
    Ok(bytes)
}

/// How one ONNX Runtime session is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionOptions {
    /// Intra-op threads (inter-op is always 1: the graphs are sequential).
    pub threads: u32,
    pub provider: ExecutionProvider,
    pub optimization: GraphOptimizationLevel,
    /// Face models: the name and side of their `[N, 1, S, S]` input, for
    /// TensorRT's shape profile of the face batch (`None`: no profile).
    pub face_input: Option<(&'static str, u32)>,
}

/// The `trt_profile_{min,opt,max}_shapes` of a face model: batches of 1 to
/// `max_faces` faces, tuned for a few (most frames show fewer than five).
pub fn face_batch_profile(input: &str, side: u32, max_faces: u32) -> [String; 3] {
    let max = max_faces.max(1);
    let shape = |n: u32| format!("{input}:{n}x1x{side}x{side}");
    [shape(1), shape(max.min(4)), shape(max)]
}

/// The TensorRT engine cache directory: `gpu.tensorrt_cache_dir`, else
/// `tensorrt/` in `$LOWRES_FER_CACHE` (default `~/.cache/lowres_fer`).
pub fn tensorrt_cache_dir(gpu: &GpuConfig) -> PathBuf {
    if !gpu.tensorrt_cache_dir.as_os_str().is_empty() {
        return gpu.tensorrt_cache_dir.clone();
    }
    let base = std::env::var_os("LOWRES_FER_CACHE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache/lowres_fer"))
        })
        .unwrap_or_else(|| PathBuf::from(".cache/lowres_fer"));
    base.join("tensorrt")
}

/// The provider's registration for `opts`, with the GPU options; `None` for CPU.
fn gpu_provider(
    opts: SessionOptions,
    gpu: &GpuConfig,
) -> anyhow::Result<Option<(&'static str, bool, ort::ep::ExecutionProviderDispatch)>> {
    use ort::ep::{self, ExecutionProvider as _};
    let device = i32::try_from(gpu.device_id).unwrap_or(i32::MAX);
    Ok(match opts.provider {
        ExecutionProvider::Cpu => None,
        ExecutionProvider::Cuda => Some((
            "cuda",
            ep::CUDA::is_available().unwrap_or(false),
            ep::CUDA::default().with_device_id(device).build(),
        )),
        ExecutionProvider::Tensorrt => {
            let cache = tensorrt_cache_dir(gpu);
            let mut trt = ep::TensorRT::default()
                .with_device_id(device)
                .with_fp16(gpu.tensorrt_fp16)
                .with_engine_cache(true)
                .with_engine_cache_path(cache.display())
                .with_timing_cache(true)
                .with_timing_cache_path(cache.display());
            if let Some((input, side)) = opts.face_input {
                let [min, opt, max] = face_batch_profile(input, side, gpu.tensorrt_max_faces);
                trt = trt
                    .with_profile_min_shapes(min)
                    .with_profile_opt_shapes(opt)
                    .with_profile_max_shapes(max);
            }
            let available = ep::TensorRT::is_available().unwrap_or(false);
            if available {
                // TensorRT writes its engines there; a missing directory is
                // its error at the first run, not at start-up.
                std::fs::create_dir_all(&cache).with_context(|| {
                    format!(
                        "cannot create the TensorRT cache directory {}",
                        cache.display()
                    )
                })?;
            }
            Some(("tensorrt", available, trt.build()))
        }
    })
}

/// Build an ONNX Runtime session from verified model bytes: the one place a
/// session is configured. CUDA / TensorRT fall back to CPU with a clear message
/// when this ONNX Runtime build does not have them. Returns the session and the
/// provider actually in use ("cpu", "cuda", "tensorrt").
pub fn build_session(
    env: &Environment,
    bytes: &[u8],
    opts: SessionOptions,
    gpu: &GpuConfig,
    what: &str,
) -> anyhow::Result<(Session, &'static str)> {
    let mut builder = Session::builder(env)?
        .with_optimization_level(opts.optimization)
        .map_err(|e| anyhow!("{what}: {e}"))?
        .with_intra_threads(opts.threads.max(1) as usize)
        .map_err(|e| anyhow!("{what}: {e}"))?
        .with_inter_threads(1)
        .map_err(|e| anyhow!("{what}: {e}"))?;
    let mut used = "cpu";
    if let Some((name, available, dispatch)) = gpu_provider(opts, gpu)? {
        if available {
            builder = builder
                .with_execution_providers([dispatch.error_on_failure()])
                .map_err(|e| anyhow!("{what}: cannot register execution provider {name}: {e}"))?;
            used = name;
        } else {
            log::warn!(
                "{what}: execution provider '{name}' is not available in this ONNX Runtime build; \
                 falling back to cpu"
            );
        }
    }
    let session = builder
        .commit_from_memory(bytes)
        .map_err(|e| anyhow!("{what}: ONNX Runtime cannot load the model: {e}"))?;
    Ok((session, used))
}

/// A models directory with its manifest, loaded once.
pub struct ModelStore {
    env: Environment,
    dir: PathBuf,
    manifest: Manifest,
    gpu: GpuConfig,
}

impl ModelStore {
    /// Load `dir/manifest.json` (the files are read when a session is built).
    pub fn open(env: &Environment, dir: &Path) -> anyhow::Result<Self> {
        Ok(Self {
            env: env.clone(),
            dir: dir.to_path_buf(),
            manifest: Manifest::load(dir)?,
            gpu: GpuConfig::default(),
        })
    }

    /// The options of the GPU providers for the sessions built from now on.
    pub fn with_gpu(mut self, gpu: &GpuConfig) -> Self {
        self.gpu = gpu.clone();
        self
    }

    pub fn gpu(&self) -> &GpuConfig {
        &self.gpu
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn entry(&self, file: &str) -> anyhow::Result<&ModelEntry> {
        self.manifest.entry(file)
    }

    /// Read `file`, check its sha256 against the manifest and build its
    /// session from exactly the verified bytes.
    pub fn session(
        &self,
        file: &str,
        opts: SessionOptions,
    ) -> anyhow::Result<(Session, &'static str)> {
        let bytes = load_verified(&self.dir, &self.manifest, file)?;
        build_session(&self.env, &bytes, opts, &self.gpu, file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_face_batch_profile_spans_one_to_max_faces() {
        assert_eq!(
            face_batch_profile("face", 32, 16),
            ["face:1x1x32x32", "face:4x1x32x32", "face:16x1x32x32"]
        );
        assert_eq!(
            face_batch_profile("face", 48, 2),
            ["face:1x1x48x48", "face:2x1x48x48", "face:2x1x48x48"]
        );
    }

    #[test]
    fn the_tensorrt_cache_is_the_parameter_or_in_the_cache() {
        let mut gpu = GpuConfig {
            tensorrt_cache_dir: PathBuf::from("/robot/engines"),
            ..GpuConfig::default()
        };
        assert_eq!(tensorrt_cache_dir(&gpu), PathBuf::from("/robot/engines"));
        gpu.tensorrt_cache_dir = PathBuf::new();
        assert!(tensorrt_cache_dir(&gpu).ends_with("tensorrt"));
    }

    #[test]
    fn manifest_problems_are_clear_errors() {
        let dir = std::env::temp_dir().join(format!("lowres_fer_manifest_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = format!("{:#}", Manifest::load(&dir).unwrap_err());
        assert!(err.contains("cannot read model manifest"), "{err}");
        std::fs::write(dir.join(MANIFEST_FILE), b"{not json").unwrap();
        let err = format!("{:#}", Manifest::load(&dir).unwrap_err());
        assert!(err.contains("not valid JSON"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn variants_are_found_by_base_and_precision_and_stale_ones_refused() {
        let manifest: Manifest = serde_json::from_str(
            r#"{"models": {
                "m.onnx": {"sha256": "aa", "role": "classifier"},
                "m.int8.onnx": {"sha256": "bb", "role": "variant", "variant_of": "m.onnx",
                                "variant_of_sha256": "aa", "precision": "int8"},
                "m.fp16.onnx": {"sha256": "cc", "role": "variant", "variant_of": "m.onnx",
                                "variant_of_sha256": "old", "precision": "fp16"}
            }}"#,
        )
        .unwrap();
        assert_eq!(manifest.variant("m.onnx", "fp32").unwrap(), "m.onnx");
        assert_eq!(manifest.variant("m.onnx", "int8").unwrap(), "m.int8.onnx");
        let stale = format!("{:#}", manifest.variant("m.onnx", "fp16").unwrap_err());
        assert!(stale.contains("older 'm.onnx'"), "{stale}");
        let missing = format!("{:#}", manifest.variant("x.onnx", "int8").unwrap_err());
        assert!(missing.contains("not listed"), "{missing}");
    }

    #[test]
    fn the_classifier_is_the_one_model_with_that_role() {
        let parse = |json: &str| serde_json::from_str::<Manifest>(json).unwrap();
        let one = parse(
            r#"{"models": {"old.onnx": {"sha256": "aa", "role": "candidate"},
                           "new.onnx": {"sha256": "bb", "role": "classifier"}}}"#,
        );
        assert_eq!(one.classifier().unwrap(), "new.onnx");
        for (json, found) in [
            (
                r#"{"models": {"a.onnx": {"sha256": "aa", "role": "expert"}}}"#,
                "found 0",
            ),
            (
                r#"{"models": {"a.onnx": {"sha256": "aa", "role": "classifier"},
                               "b.onnx": {"sha256": "bb", "role": "classifier"}}}"#,
                "found 2",
            ),
        ] {
            let err = format!("{:#}", parse(json).classifier().unwrap_err());
            assert!(err.contains("exactly one") && err.contains(found), "{err}");
        }
    }

    #[test]
    fn corrupt_model_is_rejected_with_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("lowres_fer_models_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("m.onnx"), b"not a model").unwrap();
        let manifest: Manifest = serde_json::from_str(&format!(
            r#"{{"models": {{"m.onnx": {{"sha256": "{}"}}}}}}"#,
            sha256_hex(b"the real model")
        ))
        .unwrap();
        let err = load_verified(&dir, &manifest, "m.onnx")
            .unwrap_err()
            .to_string();
        assert!(err.contains("corrupt"), "{err}");
        let err = load_verified(&dir, &manifest, "other.onnx")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not listed"), "{err}");
        std::fs::write(dir.join("m.onnx"), b"the real model").unwrap();
        assert_eq!(
            load_verified(&dir, &manifest, "m.onnx").unwrap(),
            b"the real model"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
