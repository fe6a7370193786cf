//! ROS parameters <-> [`lowres_fer::settings::params`]: only the conversion of r2r's values.
//! Names, types, defaults, ranges, docs and every check are declared once in
//! [`lowres_fer::settings::params::PARAMS`]; values come from `--ros-args -p` /
//! `--params-file` (r2r loads those overrides at node creation).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use r2r::ParameterValue;

use lowres_fer::settings::params::{Given, Param, Settings, Value};

pub use lowres_fer::settings::params::{unknown_names, InputQos, Transport};

/// The given ROS parameter values as plain values (`NotSet` = not given).
pub fn given<'a>(values: impl IntoIterator<Item = (&'a String, &'a ParameterValue)>) -> Given {
    values
        .into_iter()
        .filter_map(|(k, v)| Some((k.clone(), value(v)?)))
        .collect()
}

/// One ROS parameter value as a plain value (`None` for `NotSet`).
pub fn value(v: &ParameterValue) -> Option<Value> {
    Some(match v {
        ParameterValue::NotSet => return None,
        ParameterValue::Bool(b) => Value::Bool(*b),
        ParameterValue::Integer(i) => Value::Int(*i),
        ParameterValue::Double(d) => Value::Double(*d),
        ParameterValue::String(s) => Value::Str(s.clone()),
        ParameterValue::BoolArray(_) => Value::Other("bool array"),
        ParameterValue::ByteArray(_) => Value::Other("byte array"),
        ParameterValue::IntegerArray(_) => Value::Other("integer array"),
        ParameterValue::DoubleArray(_) => Value::Other("double array"),
        ParameterValue::StringArray(_) => Value::Other("string array"),
    })
}

/// A plain value as a ROS parameter value.
pub fn ros_value(v: Value) -> ParameterValue {
    match v {
        Value::Bool(b) => ParameterValue::Bool(b),
        Value::Int(i) => ParameterValue::Integer(i),
        Value::Double(d) => ParameterValue::Double(d),
        Value::Str(s) => ParameterValue::String(s),
        Value::Other(_) => ParameterValue::NotSet,
    }
}

/// Every declared parameter with its effective value (given or default) and
/// description, for the node's parameter store (`ros2 param list/get/describe`).
/// r2r wants `&'static str` descriptions: they are built once per process
/// (the node calls this once, at start-up) and leaked.
pub fn declarations(given: &Given) -> Vec<(&'static Param, ParameterValue, &'static str)> {
    Settings::effective(given)
        .into_iter()
        .map(|(p, v)| {
            let desc: &'static str = Box::leak(p.description().into_boxed_str());
            (p, ros_value(v), desc)
        })
        .collect()
}

/// The `--params-file` arguments of the process's ROS argument sections
/// (`--ros-args ... [--]`), in order: the files rcl loaded.
pub fn params_file_args(args: impl IntoIterator<Item = OsString>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut in_ros_args = false;
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        if a == "--ros-args" {
            in_ros_args = true;
        } else if a == "--" {
            in_ros_args = false;
        } else if in_ros_args {
            match a.to_str() {
                Some("--params-file") => files.extend(args.next().map(PathBuf::from)),
                // Flags with a value, which is never itself a flag.
                Some(
                    "-r" | "--remap" | "-p" | "--param" | "-e" | "--enclave" | "--log-level"
                    | "--log-config-file" | "--log-file-name",
                ) => {
                    args.next();
                }
                _ => {}
            }
        }
    }
    files
}

/// How many parameters the params file `path` gives the node `name` (fully
/// qualified: `fq_name`), read with rcl's own parser and sections matched as
/// r2r matches them when it loads overrides (`/**`, `**`, either name). rcl
/// accepts an empty file, a plain string or binary garbage without an error,
/// and the node would run on its defaults without a word.
pub fn params_file_count(path: &Path, fq_name: &str, name: &str) -> Result<usize, String> {
    use std::ffi::{CStr, CString};
    use std::os::unix::ffi::OsStrExt;

    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| "its path holds a NUL byte".to_string())?;
    // SAFETY: the struct comes from rcl's initialiser and is finalised exactly
    // once below; rcl fills `node_names`/`params` with `num_nodes` entries
    // (both arrays checked for null), each name a NUL-terminated string and
    // each entry's `num_params` its count; nothing is kept past `fini`.
    unsafe {
        let params = r2r_rcl::rcl_yaml_node_struct_init(r2r_rcl::rcutils_get_default_allocator());
        if params.is_null() {
            return Err("rcl could not allocate its parameter struct".into());
        }
        let parsed = r2r_rcl::rcl_parse_yaml_file(c_path.as_ptr(), params);
        let count = if parsed {
            let p = &*params;
            let mut n = 0;
            if !p.node_names.is_null() && !p.params.is_null() {
                let names = std::slice::from_raw_parts(p.node_names, p.num_nodes);
                let entries = std::slice::from_raw_parts(p.params, p.num_nodes);
                for (node, entry) in names.iter().zip(entries) {
                    if node.is_null() {
                        continue;
                    }
                    let node = CStr::from_ptr(*node).to_str().unwrap_or("");
                    if matches!(node, "/**" | "**") || node == fq_name || node == name {
                        n += entry.num_params;
                    }
                }
            }
            Ok(n)
        } else {
            r2r_rcl::rcutils_reset_error();
            Err("rcl cannot parse it".to_string())
        };
        r2r_rcl::rcl_yaml_node_struct_fini(params);
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ros_values_convert_and_not_set_is_not_given() {
        let raw = [
            ("a".to_string(), ParameterValue::Integer(3)),
            ("b".to_string(), ParameterValue::NotSet),
            ("c".to_string(), ParameterValue::DoubleArray(vec![1.0])),
        ];
        let g = given(raw.iter().map(|(k, v)| (k, v)));
        assert_eq!(g.get("a"), Some(&Value::Int(3)));
        assert!(!g.contains_key("b"));
        assert_eq!(g.get("c"), Some(&Value::Other("double array")));
    }

    #[test]
    fn every_parameter_is_declared_with_a_value_and_description() {
        let d = declarations(&Given::new());
        assert_eq!(d.len(), lowres_fer::settings::params::PARAMS.len());
        assert!(d
            .iter()
            .all(|(_, v, desc)| !matches!(v, ParameterValue::NotSet) && !desc.is_empty()));
    }

    #[test]
    fn params_files_are_found_in_the_ros_argument_sections() {
        let args = [
            "lowres_fer_node",
            "--params-file",
            "not_ros.yaml",
            "--ros-args",
            "-r",
            "__ns:=/robot",
            "-p",
            "a:=1",
            "--params-file",
            "one.yaml",
            "--",
            "--params-file",
            "app.yaml",
            "--ros-args",
            "--params-file",
            "two.yaml",
        ];
        let files = params_file_args(args.iter().map(OsString::from));
        assert_eq!(
            files,
            [PathBuf::from("one.yaml"), PathBuf::from("two.yaml")]
        );
    }

    /// Issue 29: rcl accepts params files that give the node nothing, and
    /// the node started on its defaults without a word. rcl's own parser tells.
    #[test]
    fn params_files_that_give_the_node_nothing_count_zero() {
        let dir = tempfile::tempdir().unwrap();
        let count = |text: &[u8]| {
            let f = dir.path().join("p.yaml");
            std::fs::write(&f, text).unwrap();
            params_file_count(&f, "/robot/lowres_fer", "lowres_fer")
        };
        for nothing in [
            &b""[..],
            b"just a string",
            // Printable noise is one plain string to rcl.
            b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v",
            b"other_node:\n  ros__parameters:\n    detector:\n      tiling: all\n",
        ] {
            assert_eq!(
                count(nothing),
                Ok(0),
                "{:?}",
                String::from_utf8_lossy(nothing)
            );
        }
        for (node, n) in [("/**", 2), ("lowres_fer", 2), ("/robot/lowres_fer", 2)] {
            let text = format!(
                "{node}:\n  ros__parameters:\n    detector:\n      tiling: all\n      nms_iou: 0.4\n"
            );
            assert_eq!(count(text.as_bytes()), Ok(n), "{node}");
        }
        // What rcl cannot parse stops the node in rcl_init already.
        assert!(count(b"/**:\n  ros__parameters:\n    a: [1\n").is_err());
        assert!(count(b"\x7fELF\x02\x01\x01\x00\x00\x00\x03\x00>\x00").is_err());
        let missing = params_file_count(
            Path::new("/nonexistent/p.yaml"),
            "/lowres_fer",
            "lowres_fer",
        );
        assert!(missing.is_err(), "{missing:?}");
    }

    #[test]
    fn wrong_type_from_ros_names_the_parameter() {
        let raw = [(
            "tracking.enabled".to_string(),
            ParameterValue::StringArray(vec![]),
        )];
        let e = Settings::read(&given(raw.iter().map(|(k, v)| (k, v))))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("tracking.enabled") && e.contains("string array"),
            "{e}"
        );
    }
}
