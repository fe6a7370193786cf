//! The workspace's `rust-version` (Cargo.toml, `[workspace.package]`) tells the truth: it is at least every dependency's own
//! declared minimum (a robot image's older cargo must be told the real requirement, not fail
//! deep inside a dependency), and not above it without a reason.
//!
//! Reads `cargo metadata` for the locked dependency graph, every feature's dependencies
//! included (the node's r2r, the bag tool's mcap and rusqlite).

use std::process::Command;

fn version(text: &str) -> Vec<u64> {
    text.split('.')
        .map(|part| {
            part.parse()
                .unwrap_or_else(|_| panic!("rust-version '{text}'"))
        })
        .collect()
}

#[test]
fn rust_version_is_the_highest_minimum_of_the_dependencies() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    // Workspace members are path packages (no registry source); all share
    // `[workspace.package] rust-version`.
    let ours = packages
        .iter()
        .find(|p| p["name"] == env!("CARGO_PKG_NAME"))
        .and_then(|p| p["rust_version"].as_str())
        .map(version)
        .expect("Cargo.toml declares rust-version");
    for member in packages.iter().filter(|p| p["source"].is_null()) {
        assert_eq!(
            member["rust_version"].as_str().map(version),
            Some(ours.clone()),
            "{} must inherit the workspace's rust-version",
            member["name"]
        );
    }
    let (needed, by) = packages
        .iter()
        .filter(|p| !p["source"].is_null())
        .filter_map(|p| Some((version(p["rust_version"].as_str()?), p["name"].to_string())))
        .max()
        .expect("some dependency declares a rust-version");
    let pad = |mut v: Vec<u64>| {
        v.resize(3, 0);
        v
    };
    assert_eq!(
        pad(ours.clone()),
        pad(needed.clone()),
        "Cargo.toml rust-version {ours:?}, but {by} needs {needed:?}"
    );
    assert_eq!(
        env!("CARGO_PKG_RUST_VERSION"),
        ours.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(".")
    );
}
