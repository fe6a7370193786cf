//! Pipeline settings from a node parameter file (`<node>: ros__parameters: ...`),
//! as `lowres_fer_bag --params-file` reads it. The file is outside data: any
//! text must give a config or an error, never a panic (fuzz target
//! `params_file`).

use anyhow::{anyhow, Context, Result};

use crate::config::PipelineConfig;

/// Parse the text of a parameter file. `models_dir: ""` means the default,
/// as for the node.
pub fn parse(text: &str) -> Result<PipelineConfig> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).context("not YAML")?;
    let params = doc
        .as_mapping()
        .and_then(|m| m.values().find_map(|v| v.get("ros__parameters")))
        .ok_or_else(|| anyhow!("no <node>: ros__parameters: section"))?;
    let mut cfg: PipelineConfig =
        serde_yaml::from_value(params.clone()).context("invalid pipeline parameters")?;
    if cfg.models_dir.as_os_str().is_empty() {
        cfg.models_dir = PipelineConfig::default().models_dir;
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_yaml_parses_and_garbage_is_an_error() {
        let cfg = parse(include_str!("../../config/default.yaml")).expect("default.yaml");
        assert_eq!(cfg.models_dir, PipelineConfig::default().models_dir);
        cfg.validate().expect("defaults valid");
        for bad in [
            "",
            "[",
            "a: b",
            "/**: {ros__parameters: {detector: 3}}",
            "\u{0}",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
