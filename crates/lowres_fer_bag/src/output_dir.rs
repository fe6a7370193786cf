//! Safety rules for the bag tool's output directory.
//!
//! `--overwrite` used to `remove_dir_all(OUT)` whatever OUT was: the input
//! bag itself, a directory holding it, or someone's home directory. Now:
//!
//! - every result the tool writes carries a marker file ([`MARKER`]) listing
//!   the files the tool put there;
//! - an existing OUT is replaced only when it is a real directory (not a
//!   symlink, not a file), it carries the marker, it holds nothing but the
//!   files the marker lists, and it neither is nor contains the input;
//! - the old result is removed file by file (only the listed files), then the
//!   now empty directory with `remove_dir`, never `remove_dir_all`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Name of the marker file in every output directory of `lowres_fer_bag`.
pub const MARKER: &str = ".lowres_fer_bag_output";

const MARKER_FORMAT: &str = "lowres_fer.bag_output.v1";

#[derive(serde::Serialize, serde::Deserialize)]
struct Marker {
    format: String,
    /// Plain file names (no directories) the tool wrote into the directory.
    files: Vec<String>,
}

/// Refuse a destination that must not be written or replaced. Runs before
/// the (slow) model load, and again just before an old result is removed.
pub fn check_destination(input: &Path, out: &Path, overwrite: bool) -> Result<()> {
    let meta = match std::fs::symlink_metadata(out) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot inspect {}", out.display())),
    };
    if !overwrite {
        bail!(
            "output {} already exists (use --overwrite to replace a previous result of lowres_fer_bag)",
            out.display()
        );
    }
    if meta.file_type().is_symlink() {
        bail!(
            "refusing to overwrite {}: it is a symbolic link, not a previous result of lowres_fer_bag",
            out.display()
        );
    }
    if !meta.is_dir() {
        bail!(
            "refusing to overwrite {}: it is a file, not a previous result of lowres_fer_bag (a directory)",
            out.display()
        );
    }
    let out_abs = out
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", out.display()))?;
    let input_abs = input
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", input.display()))?;
    if input_abs.starts_with(&out_abs) {
        bail!(
            "refusing to overwrite {}: it {} the input bag {}",
            out.display(),
            if input_abs == out_abs {
                "is"
            } else {
                "contains"
            },
            input.display()
        );
    }
    previous_result_files(out)?;
    Ok(())
}

/// The files of a previous result in `dir`, marker included; an error naming
/// the reason when `dir` is not (only) a previous result of the tool.
fn previous_result_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let marker_path = dir.join(MARKER);
    let text = match std::fs::read_to_string(&marker_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "refusing to overwrite {}: it is not a previous result of lowres_fer_bag (no {MARKER} file); \
             choose a new --output or remove it yourself",
            dir.display()
        ),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read {}", marker_path.display()));
        }
    };
    let marker: Marker = serde_json::from_str(&text)
        .ok()
        .filter(|m: &Marker| m.format == MARKER_FORMAT)
        .with_context(|| {
            format!(
                "refusing to overwrite {}: its {MARKER} file is not one lowres_fer_bag wrote",
                dir.display()
            )
        })?;
    let mut files = vec![marker_path];
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if name_str == MARKER {
            continue;
        }
        let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
        if !is_file || !marker.files.iter().any(|f| *f == name_str) {
            bail!(
                "refusing to overwrite {}: it holds {:?}, which lowres_fer_bag did not write there; \
                 move it away or choose a new --output",
                dir.display(),
                name_str
            );
        }
        files.push(entry.path());
    }
    Ok(files)
}

/// Record the files of a finished result in its marker (call last, on the
/// temporary directory, before it is renamed into place).
pub fn write_marker(dir: &Path) -> Result<()> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            if let Some(name) = entry.file_name().to_str() {
                if name != MARKER {
                    files.push(name.to_string());
                }
            }
        }
    }
    files.sort();
    let marker = Marker {
        format: MARKER_FORMAT.into(),
        files,
    };
    let path = dir.join(MARKER);
    std::fs::write(&path, serde_json::to_string_pretty(&marker)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Remove a previous result at `out` (checked again first: it may have changed
/// while the new result was computed). Nothing but the listed files goes.
pub fn remove_previous(input: &Path, out: &Path) -> Result<()> {
    check_destination(input, out, true)?;
    if std::fs::symlink_metadata(out).is_err() {
        return Ok(());
    }
    for f in previous_result_files(out)? {
        std::fs::remove_file(&f).with_context(|| format!("cannot remove {}", f.display()))?;
    }
    std::fs::remove_dir(out).with_context(|| format!("cannot remove the old {}", out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result_dir(at: &Path) {
        std::fs::create_dir(at).unwrap();
        std::fs::write(at.join("metadata.yaml"), "x").unwrap();
        std::fs::write(at.join("r_0.mcap"), "x").unwrap();
        std::fs::write(at.join("summary.json"), "{}").unwrap();
        write_marker(at).unwrap();
    }

    #[test]
    fn missing_output_is_fine_existing_needs_overwrite() {
        let t = tempfile::tempdir().expect("temp dir");
        let input = t.path().join("in.mcap");
        std::fs::write(&input, "bag").unwrap();
        check_destination(&input, &t.path().join("new"), false).unwrap();
        let out = t.path().join("res");
        result_dir(&out);
        let e = check_destination(&input, &out, false).unwrap_err();
        assert!(e.to_string().contains("--overwrite"), "{e}");
        check_destination(&input, &out, true).unwrap();
        remove_previous(&input, &out).unwrap();
        assert!(!out.exists());
        assert!(input.exists());
    }

    #[test]
    fn output_that_is_or_contains_the_input_is_refused() {
        let t = tempfile::tempdir().expect("temp dir");
        let bag = t.path().join("bag");
        std::fs::create_dir(&bag).unwrap();
        std::fs::write(bag.join("bag_0.mcap"), "data").unwrap();
        for out in [bag.clone(), t.path().to_path_buf()] {
            let e = check_destination(&bag, &out, true).unwrap_err().to_string();
            assert!(e.contains("input bag"), "{e}");
        }
        // Even when someone put a marker there.
        write_marker(&bag).unwrap();
        let e = check_destination(&bag.join("bag_0.mcap"), &bag, true).unwrap_err();
        assert!(e.to_string().contains("contains the input"), "{e}");
        assert!(bag.join("bag_0.mcap").exists());
    }

    #[test]
    fn directory_without_marker_or_with_foreign_files_is_refused() {
        let t = tempfile::tempdir().expect("temp dir");
        let input = t.path().join("in.db3");
        std::fs::write(&input, "bag").unwrap();
        let plain = t.path().join("plain");
        std::fs::create_dir(&plain).unwrap();
        std::fs::write(plain.join("notes.txt"), "mine").unwrap();
        let e = check_destination(&input, &plain, true).unwrap_err();
        assert!(e.to_string().contains("not a previous result"), "{e}");
        let file = t.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(check_destination(&input, &file, true).is_err());
        let res = t.path().join("res");
        result_dir(&res);
        std::fs::write(res.join("thesis.tex"), "precious").unwrap();
        let e = remove_previous(&input, &res).unwrap_err();
        assert!(e.to_string().contains("thesis.tex"), "{e}");
        assert!(res.join("thesis.tex").exists());
        std::fs::write(res.join(MARKER), "{\"format\": \"other\", \"files\": []}").unwrap();
        assert!(check_destination(&input, &res, true).is_err());
    }
}
