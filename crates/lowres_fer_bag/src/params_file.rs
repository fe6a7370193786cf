//! The node's parameter files (`--params-file`, rcl's YAML layout) as the bag
//! tool reads them: the same sections, dotted names and override order as the
//! node, checked by the one parameter table of [`lowres_fer::settings::params`].

use std::path::Path;

use anyhow::{anyhow, Context as _};
use lowres_fer::settings::params::{Given, Value, NODE_NAME};

fn yaml_value(v: &serde_yaml::Value) -> Value {
    match v {
        serde_yaml::Value::Bool(b) => Value::Bool(*b),
        serde_yaml::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_yaml::Value::String(s) => Value::Str(s.clone()),
        serde_yaml::Value::Null => Value::Other("null"),
        serde_yaml::Value::Sequence(_) => Value::Other("array"),
        serde_yaml::Value::Mapping(_) => Value::Other("map"),
        serde_yaml::Value::Tagged(_) => Value::Other("tagged value"),
    }
}

/// Whether a params-file section named `node` applies to the node: the names
/// r2r matches (`/**`, `**`, the node's name, its fully qualified name), the
/// latter under any namespace since the bag tool has none of its own.
fn section_applies(node: &str) -> bool {
    matches!(node, "/**" | "**")
        || node == NODE_NAME
        || node
            .strip_suffix(NODE_NAME)
            .is_some_and(|ns| ns.ends_with('/'))
}

/// The `ros__parameters` of a node parameter file (`<node>: ros__parameters:
/// ...`, every section that applies to the node, a later one overriding an
/// earlier one as in the node), nested keys joined with dots as rcl does.
/// Unknown names are returned too: see [`unknown_names`]. A file that gives
/// the node no parameter at all (empty, a plain string, no section for it, an
/// empty section) is an error: it can only be a mistake, and running on the
/// defaults would hide it.
pub fn params_file_values(text: &str) -> anyhow::Result<Given> {
    fn flatten(prefix: &str, v: &serde_yaml::Value, out: &mut Given) -> anyhow::Result<()> {
        let serde_yaml::Value::Mapping(m) = v else {
            out.insert(prefix.to_string(), yaml_value(v));
            return Ok(());
        };
        for (k, v) in m {
            let k = k
                .as_str()
                .ok_or_else(|| anyhow!("parameter names must be strings, got {k:?}"))?;
            let name = if prefix.is_empty() {
                k.to_string()
            } else {
                format!("{prefix}.{k}")
            };
            flatten(&name, v, out)?;
        }
        Ok(())
    }
    let doc: serde_yaml::Value = serde_yaml::from_str(text).context("not YAML")?;
    let mut out = Given::new();
    let mut sections = 0;
    for (node, section) in doc.as_mapping().into_iter().flatten() {
        let Some(params) = node
            .as_str()
            .filter(|n| section_applies(n))
            .and_then(|_| section.get("ros__parameters"))
        else {
            continue;
        };
        sections += 1;
        if !params.is_null() {
            flatten("", params, &mut out)?;
        }
    }
    if out.is_empty() {
        return Err(if sections == 0 {
            anyhow!("gives the node no parameters: no `/**:` or `{NODE_NAME}:` section with `ros__parameters:`")
        } else {
            anyhow!("gives the node no parameters: its `ros__parameters:` section is empty")
        });
    }
    Ok(out)
}

/// [`params_file_values`] of a file, errors naming the file.
pub fn read_params_file(path: &Path) -> anyhow::Result<Given> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    params_file_values(&text).with_context(|| format!("{}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use lowres_fer::settings::params::{
        resolve_models_dir, unknown_names, Settings, Value, PARAMS,
    };

    use super::*;

    #[test]
    fn params_file_keys_are_dotted_and_typed() {
        let g = params_file_values(
            "/**:\n  ros__parameters:\n    detector:\n      nms_iou: 1\n      tiling: off_by_one\n    publish_annotated: false\n    models_dir: \"\"\n    list: [1, 2]\n",
        )
        .unwrap();
        assert_eq!(g["detector.nms_iou"], Value::Int(1));
        assert_eq!(g["detector.tiling"], Value::Str("off_by_one".into()));
        assert_eq!(g["publish_annotated"], Value::Bool(false));
        assert_eq!(g["models_dir"], Value::Str(String::new()));
        assert_eq!(g["list"], Value::Other("array"));
        assert!(params_file_values("a: 1\n").is_err());
        assert!(params_file_values(": : :").is_err());
    }

    /// Issue 29: a params file that gives the node no parameters started the
    /// node on the defaults without a word; in the bag tool it is an error.
    /// Sections apply as they do in the node; a later one wins.
    #[test]
    fn params_files_that_give_the_node_nothing_are_errors() {
        for bad in [
            "",
            "just a string",
            "\u{7f}ELF\u{2}\u{1}\u{1}\u{0}\u{3}>\u{0}",
            "/**:\n  ros__parameters:\n",
            "/**: {ros__parameters: {}}",
            "other_node: {ros__parameters: {detector: {tiling: all}}}",
            "/robot/lowres_fer_x: {ros__parameters: {detector: {tiling: all}}}",
        ] {
            let e = params_file_values(bad)
                .err()
                .unwrap_or_else(|| panic!("{bad:?} must be an error"));
            let msg = format!("{e:#}");
            assert!(
                msg.contains("no parameters") || msg.contains("not YAML"),
                "{bad:?}: {msg}"
            );
        }
        for (node, tiling) in [
            ("/**", "all"),
            ("lowres_fer", "rotating"),
            ("/lowres_fer", "off"),
            ("/robot/lowres_fer", "pyramid"),
        ] {
            let g = params_file_values(&format!(
                "{node}: {{ros__parameters: {{detector: {{tiling: {tiling}}}}}}}"
            ))
            .unwrap();
            assert_eq!(g["detector.tiling"], Value::Str(tiling.into()), "{node}");
        }
        let g = params_file_values(
            "/**: {ros__parameters: {detector: {tiling: all, nms_iou: 0.4}}}\nlowres_fer: {ros__parameters: {detector: {tiling: false}}}\n",
        )
        .unwrap();
        assert_eq!(g["detector.tiling"], Value::Bool(false));
        assert_eq!(g["detector.nms_iou"], Value::Double(0.4));
        let s = Settings::read(&g).unwrap();
        assert_eq!(
            s.pipeline.detector.tiling,
            lowres_fer::settings::config::TilingMode::Off
        );
    }

    /// Ported from issue 11's duplicate reader (src/bag/params_file.rs): the
    /// default file reads and checks; garbage is an error, never a panic.
    #[test]
    fn default_yaml_reads_and_garbage_is_an_error() {
        let g =
            params_file_values(include_str!("../../../config/default.yaml")).expect("default.yaml");
        let s = Settings::read(&g).expect("defaults valid");
        assert_eq!(
            resolve_models_dir(&s.pipeline.models_dir),
            resolve_models_dir(Path::new(""))
        );
        s.pipeline.validate().expect("defaults valid");
        for bad in ["", "[", "a: b", "\u{0}"] {
            assert!(params_file_values(bad).is_err(), "{bad:?}");
        }
        // A section where a leaf is expected: with the node's rule this is an
        // unknown name (warned, ignored), not a parse error.
        let g = params_file_values("/**: {ros__parameters: {detector: 3}}").unwrap();
        assert_eq!(unknown_names(&g), vec!["detector".to_string()]);
    }

    /// config/default.yaml holds every parameter at its declared default, and
    /// nothing else.
    #[test]
    fn default_yaml_matches_the_declarations() {
        let g = params_file_values(include_str!("../../../config/default.yaml")).unwrap();
        assert!(unknown_names(&g).is_empty(), "{:?}", unknown_names(&g));
        for p in PARAMS {
            let v = g
                .get(p.name)
                .unwrap_or_else(|| panic!("{} missing from config/default.yaml", p.name));
            assert_eq!(*v, p.default.value(), "{}", p.name);
        }
    }
}
