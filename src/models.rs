//! Model files and their manifest (`models/manifest.json`): every model the node
//! loads is checked against a pinned sha256, so a corrupt, truncated or mismatched
//! file is a clear start-up error instead of garbage output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;
use sha2::{Digest, Sha256};

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
                "model manifest {} is missing: models_dir '{}' is not a lowres_fer models \
                 directory (it ships with the package; empty models_dir = the installed one)",
                path.display(),
                models_dir.display()
            ),
            Err(e) => bail!("cannot read model manifest {}: {e}", path.display()),
        };
        serde_json::from_str(&text).with_context(|| {
            format!(
                "model manifest {} is invalid (not JSON of the form {{\"models\": {{file: {{sha256, ...}}}}}})",
                path.display()
            )
        })
    }

    pub fn entry(&self, file: &str) -> anyhow::Result<&ModelEntry> {
        self.models
            .get(file)
            .with_context(|| format!("model '{file}' is not listed in {MANIFEST_FILE}"))
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

#[cfg(test)]
mod tests {
    use super::*;

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
