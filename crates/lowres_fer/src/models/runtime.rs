//! ONNX Runtime loading. `ort` is built with `load-dynamic`: the shared library is
//! found at run time (a robot's JetPack build, or the PyPI wheel's copy here).
//! ONNX Runtime allows one environment per process, so it is created once and shared.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;

/// Environment variable naming libonnxruntime.so (the same name `ort` itself uses).
pub const ORT_DYLIB_ENV: &str = "ORT_DYLIB_PATH";

static ENV: OnceLock<Result<Environment, String>> = OnceLock::new();

/// Where the ONNX Runtime library is expected: `explicit`, else `$ORT_DYLIB_PATH`.
pub fn library_path(explicit: Option<&Path>) -> Option<PathBuf> {
    explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(ORT_DYLIB_ENV).map(PathBuf::from))
}

/// The process-wide ONNX Runtime environment, loading the library on first use.
/// Later calls return the first outcome (an error stays an error).
pub fn environment(explicit: Option<&Path>) -> anyhow::Result<Environment> {
    let outcome = ENV.get_or_init(|| {
        let Some(path) = library_path(explicit) else {
            return Err(format!(
                "ONNX Runtime library not configured: set {ORT_DYLIB_ENV} to libonnxruntime.so \
                 (scripts/env.sh does this)"
            ));
        };
        if !path.is_file() {
            return Err(format!(
                "ONNX Runtime library not found at {}",
                path.display()
            ));
        }
        ort::init_from(&path)
            .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", path.display()))?
            .with_name("lowres_fer")
            .build()
            .map_err(|e| format!("cannot create ONNX Runtime environment: {e}"))
    });
    outcome.clone().map_err(anyhow::Error::msg)
}
