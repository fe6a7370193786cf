//! ROS parameters: one declared, typed parameter per field of
//! [`PipelineConfig`] (same dotted names, e.g. `detector.score_threshold`) plus
//! the node's own (`input.*`, `publish_annotated`, ...). Defaults equal
//! config/default.yaml; values come from `--ros-args -p` / `--params-file`
//! (r2r loads those overrides at node creation).
//!
//! Every value is type-checked and range-checked at start-up; the error names
//! the parameter and the allowed range/values, and the node exits non-zero.

use std::path::PathBuf;

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use r2r::ParameterValue;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::PipelineConfig;
use crate::image_io;

/// Parameter values as given on the command line / in params files.
pub type Given = BTreeMap<String, ParameterValue>;

/// Which input topic / message type the node subscribes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// sensor_msgs/Image on `image`.
    Raw,
    /// sensor_msgs/CompressedImage (JPEG/PNG) on `image/compressed`.
    Compressed,
}

/// QoS of the input subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputQos {
    /// Best effort, volatile (REP-2003 sensor data): matches every camera driver.
    SensorData,
    /// Reliable, volatile: for recorded/bag playback where every frame matters.
    Reliable,
}

/// Node-level settings (everything that is not the pipeline's).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeParams {
    pub transport: Transport,
    pub input_qos: InputQos,
    pub input_depth: usize,
    /// Pixel budget per frame, checked from the header before decoding.
    pub max_pixels: u64,
    pub publish_annotated: bool,
    pub diagnostics_period_s: f64,
    pub log_throttle_s: f64,
    pub pipeline: PipelineConfig,
}

/// Names every parameter this node declares (for docs/tests and unknown-name warnings).
pub fn declared_names() -> Vec<&'static str> {
    SPECS.iter().map(|s| s.name).collect()
}

struct Spec {
    name: &'static str,
    description: &'static str,
}

const SPECS: &[Spec] = &[
    Spec { name: "input.transport", description: "raw (sensor_msgs/Image on 'image') or compressed (sensor_msgs/CompressedImage on 'image/compressed')" },
    Spec { name: "input.qos", description: "sensor_data (best effort) or reliable" },
    Spec { name: "input.depth", description: "input subscription history depth, [1, 100]" },
    Spec { name: "input.max_pixels", description: "pixel budget per frame (width*height, checked before decoding), [1, 268435456]" },
    Spec { name: "publish_annotated", description: "render image_annotated while it has subscribers" },
    Spec { name: "diagnostics_period", description: "seconds between /diagnostics messages, [0.1, 60.0]" },
    Spec { name: "log_throttle", description: "seconds between repeated log lines of one bad-input cause, [0.1, 3600.0]" },
    Spec { name: "models_dir", description: "directory with the ONNX models and manifest.json; empty = share/lowres_fer/models of the install" },
    Spec { name: "onnxruntime_library", description: "path of libonnxruntime.so; empty = $ORT_DYLIB_PATH" },
    Spec { name: "detector.model", description: "front (128, near faces) or back (256, full range)" },
    Spec { name: "detector.score_threshold", description: "minimum full-frame detector score, [0.0, 1.0]" },
    Spec { name: "detector.tile_score_threshold", description: "minimum detector score in tiles, [0.0, 1.0]" },
    Spec { name: "detector.nms_iou", description: "weighted-NMS IoU, [0.0, 1.0]" },
    Spec { name: "detector.tiling", description: "off, rotating or all" },
    Spec { name: "detector.tiles_per_frame", description: "tiles per frame in rotating mode, [0, 64]" },
    Spec { name: "detector.threads", description: "detector threads, [1, 64]" },
    Spec { name: "classifier.routing", description: "off, face_size or learned" },
    Spec { name: "classifier.execution_provider", description: "cpu, cuda or tensorrt" },
    Spec { name: "classifier.threads", description: "classifier threads, [1, 64]" },
    Spec { name: "classifier.min_face_px", description: "faces smaller than this (source px) are too_small, [0.0, 1000.0]" },
    Spec { name: "classifier.min_detector_score", description: "faces below this detector score are not classified, [0.0, 1.0]" },
    Spec { name: "classifier.min_score_without_geometry", description: "below this score a face must also have plausible keypoint geometry, [classifier.min_detector_score, 1.0]" },
    Spec { name: "classifier.crop_margin", description: "crop margin as a fraction of the box side, [0.0, 1.0]" },
    Spec { name: "tracking.enabled", description: "track faces and smooth probabilities" },
    Spec { name: "tracking.iou_threshold", description: "association IoU, [0.0, 1.0]" },
    Spec { name: "tracking.max_missed", description: "frames a track survives unseen, [0, 1000]" },
    Spec { name: "tracking.smoothing_alpha", description: "weight of the newest frame, (0.0, 1.0]" },
];

/// Default value of each parameter, taken from the typed defaults so the YAML,
/// the code and the docs cannot drift apart silently (a test compares them).
fn default_value(name: &str) -> ParameterValue {
    let c = PipelineConfig::default();
    let s = |v: &str| ParameterValue::String(v.to_string());
    match name {
        "input.transport" => s("raw"),
        "input.qos" => s("sensor_data"),
        "input.depth" => ParameterValue::Integer(5),
        "input.max_pixels" => ParameterValue::Integer(image_io::DEFAULT_MAX_PIXELS as i64),
        "publish_annotated" => ParameterValue::Bool(true),
        "diagnostics_period" => ParameterValue::Double(1.0),
        "log_throttle" => ParameterValue::Double(5.0),
        "models_dir" => s(""),
        "onnxruntime_library" => s(""),
        "detector.model" => enum_name(&c.detector.model),
        "detector.score_threshold" => ParameterValue::Double(c.detector.score_threshold as f64),
        "detector.tile_score_threshold" => {
            ParameterValue::Double(c.detector.tile_score_threshold as f64)
        }
        "detector.nms_iou" => ParameterValue::Double(c.detector.nms_iou as f64),
        "detector.tiling" => enum_name(&c.detector.tiling),
        "detector.tiles_per_frame" => ParameterValue::Integer(c.detector.tiles_per_frame as i64),
        "detector.threads" => ParameterValue::Integer(c.detector.threads as i64),
        "classifier.routing" => enum_name(&c.classifier.routing),
        "classifier.execution_provider" => enum_name(&c.classifier.execution_provider),
        "classifier.threads" => ParameterValue::Integer(c.classifier.threads as i64),
        "classifier.min_face_px" => ParameterValue::Double(c.classifier.min_face_px as f64),
        "classifier.min_detector_score" => {
            ParameterValue::Double(c.classifier.min_detector_score as f64)
        }
        "classifier.min_score_without_geometry" => {
            ParameterValue::Double(c.classifier.min_score_without_geometry as f64)
        }
        "classifier.crop_margin" => ParameterValue::Double(c.classifier.crop_margin as f64),
        "tracking.enabled" => ParameterValue::Bool(c.tracking.enabled),
        "tracking.iou_threshold" => ParameterValue::Double(c.tracking.iou_threshold as f64),
        "tracking.max_missed" => ParameterValue::Integer(c.tracking.max_missed as i64),
        "tracking.smoothing_alpha" => ParameterValue::Double(c.tracking.smoothing_alpha as f64),
        _ => ParameterValue::NotSet,
    }
}

/// snake_case name of a config enum, as serde (and the YAML) spell it.
fn enum_name<T: Serialize>(v: &T) -> ParameterValue {
    let name = serde_json::to_value(v)
        .ok()
        .and_then(|j| j.as_str().map(str::to_string))
        .unwrap_or_default();
    ParameterValue::String(name)
}

fn type_name(v: &ParameterValue) -> &'static str {
    match v {
        ParameterValue::NotSet => "not set",
        ParameterValue::Bool(_) => "bool",
        ParameterValue::Integer(_) => "integer",
        ParameterValue::Double(_) => "double",
        ParameterValue::String(_) => "string",
        ParameterValue::BoolArray(_) => "bool array",
        ParameterValue::ByteArray(_) => "byte array",
        ParameterValue::IntegerArray(_) => "integer array",
        ParameterValue::DoubleArray(_) => "double array",
        ParameterValue::StringArray(_) => "string array",
    }
}

struct Reader<'a> {
    map: &'a Given,
}

impl Reader<'_> {
    fn value(&self, name: &str) -> ParameterValue {
        match self.map.get(name).cloned() {
            Some(ParameterValue::NotSet) | None => default_value(name),
            Some(v) => v,
        }
    }

    fn wrong(&self, name: &str, want: &str, got: &ParameterValue) -> anyhow::Error {
        anyhow!(
            "parameter '{name}' has type {}, expected {want}",
            type_name(got)
        )
    }

    fn bool(&self, name: &str) -> Result<bool> {
        match self.value(name) {
            ParameterValue::Bool(b) => Ok(b),
            v => Err(self.wrong(name, "bool", &v)),
        }
    }

    fn int(&self, name: &str, lo: i64, hi: i64) -> Result<i64> {
        match self.value(name) {
            ParameterValue::Integer(i) if (lo..=hi).contains(&i) => Ok(i),
            ParameterValue::Integer(i) => {
                bail!("parameter '{name}' = {i} is invalid: allowed [{lo}, {hi}]")
            }
            v => Err(self.wrong(name, "integer", &v)),
        }
    }

    /// Doubles also accept integers (YAML `threshold: 1` parses as an integer).
    fn double(&self, name: &str) -> Result<f64> {
        match self.value(name) {
            ParameterValue::Double(d) => Ok(d),
            ParameterValue::Integer(i) => Ok(i as f64),
            v => Err(self.wrong(name, "double", &v)),
        }
    }

    fn double_in(&self, name: &str, lo: f64, hi: f64) -> Result<f64> {
        let d = self.double(name)?;
        if !(lo..=hi).contains(&d) {
            bail!("parameter '{name}' = {d} is invalid: allowed [{lo:.1}, {hi:.1}]");
        }
        Ok(d)
    }

    fn string(&self, name: &str) -> Result<String> {
        match self.value(name) {
            ParameterValue::String(s) => Ok(s),
            v => Err(self.wrong(name, "string", &v)),
        }
    }

    fn choice<T: DeserializeOwned>(&self, name: &str, allowed: &str) -> Result<T> {
        let s = self.string(name)?;
        serde_json::from_value(serde_json::Value::String(s.clone()))
            .map_err(|_| anyhow!("parameter '{name}' = '{s}' is invalid: allowed {allowed}"))
    }

    /// Integers for u32 config fields, checked against their documented range
    /// here (a negative value used to report "[0, 4294967295]").
    fn u32(&self, name: &str, lo: u32, hi: u32) -> Result<u32> {
        Ok(self.int(name, lo as i64, hi as i64)? as u32)
    }
}

impl NodeParams {
    /// The effective value of every declared parameter (given or default), with
    /// its description: the node publishes these so `ros2 param list/get` shows them.
    pub fn effective(given: &Given) -> Vec<(&'static str, ParameterValue, &'static str)> {
        SPECS
            .iter()
            .map(|s| {
                let v = match given.get(s.name) {
                    Some(ParameterValue::NotSet) | None => default_value(s.name),
                    Some(v) => v.clone(),
                };
                (s.name, v, s.description)
            })
            .collect()
    }

    /// Read and validate all parameters (defaults for those not given).
    pub fn read(given: &Given) -> Result<Self> {
        let r = Reader { map: given };
        let mut pipeline = PipelineConfig {
            models_dir: PathBuf::from(r.string("models_dir")?),
            onnxruntime_library: PathBuf::from(r.string("onnxruntime_library")?),
            ..PipelineConfig::default()
        };
        let d = &mut pipeline.detector;
        d.model = r.choice("detector.model", "{front, back}")?;
        d.score_threshold = r.double("detector.score_threshold")? as f32;
        d.tile_score_threshold = r.double("detector.tile_score_threshold")? as f32;
        d.nms_iou = r.double("detector.nms_iou")? as f32;
        d.tiling = r.choice("detector.tiling", "{off, rotating, all}")?;
        d.tiles_per_frame = r.u32("detector.tiles_per_frame", 0, 64)?;
        d.threads = r.u32("detector.threads", 1, 64)?;
        let c = &mut pipeline.classifier;
        c.routing = r.choice("classifier.routing", "{off, face_size, learned}")?;
        c.execution_provider =
            r.choice("classifier.execution_provider", "{cpu, cuda, tensorrt}")?;
        c.threads = r.u32("classifier.threads", 1, 64)?;
        c.min_face_px = r.double("classifier.min_face_px")? as f32;
        c.min_detector_score = r.double("classifier.min_detector_score")? as f32;
        // Not range-checked by PipelineConfig::validate; its documented range
        // starts at min_detector_score (equal turns the geometry check off).
        let geo = r.double("classifier.min_score_without_geometry")?;
        if !(c.min_detector_score as f64..=1.0).contains(&geo) {
            bail!(
                "parameter 'classifier.min_score_without_geometry' = {geo} is invalid: allowed \
                 [classifier.min_detector_score ({}), 1.0]",
                c.min_detector_score
            );
        }
        c.min_score_without_geometry = geo as f32;
        c.crop_margin = r.double("classifier.crop_margin")? as f32;
        let t = &mut pipeline.tracking;
        t.enabled = r.bool("tracking.enabled")?;
        t.iou_threshold = r.double("tracking.iou_threshold")? as f32;
        t.max_missed = r.u32("tracking.max_missed", 0, 1000)?;
        t.smoothing_alpha = r.double("tracking.smoothing_alpha")? as f32;
        // The pipeline config names the parameter and its range itself.
        pipeline.validate()?;

        let transport = match r.string("input.transport")?.as_str() {
            "raw" => Transport::Raw,
            "compressed" => Transport::Compressed,
            other => bail!(
                "parameter 'input.transport' = '{other}' is invalid: allowed {{raw, compressed}}"
            ),
        };
        let input_qos = match r.string("input.qos")?.as_str() {
            "sensor_data" => InputQos::SensorData,
            "reliable" => InputQos::Reliable,
            other => bail!(
                "parameter 'input.qos' = '{other}' is invalid: allowed {{sensor_data, reliable}}"
            ),
        };
        Ok(Self {
            transport,
            input_qos,
            input_depth: r.int("input.depth", 1, 100)? as usize,
            max_pixels: r.int("input.max_pixels", 1, image_io::MAX_PIXELS_LIMIT as i64)? as u64,
            publish_annotated: r.bool("publish_annotated")?,
            diagnostics_period_s: r.double_in("diagnostics_period", 0.1, 60.0)?,
            log_throttle_s: r.double_in("log_throttle", 0.1, 3600.0)?,
            pipeline,
        })
    }

    /// Parameters that were given but are not ours (typos in a params file).
    pub fn unknown_names(given: &Given) -> Vec<String> {
        let known = declared_names();
        given
            .keys()
            .filter(|n| {
                !known.contains(&n.as_str())
                    && *n != "use_sim_time"
                    && !n.starts_with("qos_overrides.")
            })
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn defaults_are_declared_and_valid() {
        let p = NodeParams::read(&Given::new()).unwrap();
        // models_dir stays empty here: the node resolves it against the install.
        let want = PipelineConfig {
            models_dir: PathBuf::new(),
            ..PipelineConfig::default()
        };
        assert_eq!(p.pipeline, want);
        let eff = NodeParams::effective(&Given::new());
        assert_eq!(eff.len(), SPECS.len());
        assert!(eff
            .iter()
            .all(|(_, v, _)| !matches!(v, ParameterValue::NotSet)));
    }

    /// Every field of PipelineConfig (as serde names it) must be a declared
    /// parameter: a field added to the config without a parameter fails here.
    #[test]
    fn every_config_field_is_a_parameter() {
        fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, v) in m {
                        let name = if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{prefix}.{k}")
                        };
                        flatten(&name, v, out);
                    }
                }
                _ => out.push(prefix.to_string()),
            }
        }
        let mut fields = Vec::new();
        let json = serde_json::to_value(PipelineConfig::default()).unwrap();
        flatten("", &json, &mut fields);
        let declared = declared_names();
        for f in fields {
            assert!(
                declared.contains(&f.as_str()),
                "config field {f} has no ROS parameter"
            );
        }
    }

    #[test]
    fn out_of_range_and_wrong_type_name_the_parameter() {
        let mut m = Given::new();
        m.insert(
            "detector.score_threshold".into(),
            ParameterValue::Double(1.5),
        );
        let e = NodeParams::read(&m).unwrap_err().to_string();
        assert!(
            e.contains("detector.score_threshold") && e.contains("[0.0, 1.0]"),
            "{e}"
        );
        let mut m = Given::new();
        m.insert(
            "classifier.routing".into(),
            ParameterValue::String("fast".into()),
        );
        let e = NodeParams::read(&m).unwrap_err().to_string();
        assert!(
            e.contains("classifier.routing") && e.contains("face_size"),
            "{e}"
        );
        let mut m = Given::new();
        m.insert("tracking.enabled".into(), ParameterValue::Integer(1));
        let e = NodeParams::read(&m).unwrap_err().to_string();
        assert!(e.contains("tracking.enabled") && e.contains("bool"), "{e}");
    }

    /// Issue 11: a negative unsigned parameter reported "[0, 4294967295]".
    #[test]
    fn unsigned_parameters_report_their_documented_range() {
        for (name, value, range) in [
            ("detector.threads", -1, "[1, 64]"),
            ("detector.threads", 0, "[1, 64]"),
            ("classifier.threads", -5, "[1, 64]"),
            ("detector.tiles_per_frame", -1, "[0, 64]"),
            ("tracking.max_missed", -2, "[0, 1000]"),
            ("tracking.max_missed", 5_000_000_000, "[0, 1000]"),
        ] {
            let mut m = Given::new();
            m.insert(name.into(), ParameterValue::Integer(value));
            let e = NodeParams::read(&m).unwrap_err().to_string();
            assert!(
                e.contains(name) && e.contains(range) && !e.contains("4294967295"),
                "{e}"
            );
        }
        let mut m = Given::new();
        m.insert("input.max_pixels".into(), ParameterValue::Integer(0));
        let e = NodeParams::read(&m).unwrap_err().to_string();
        assert!(e.contains("[1, 268435456]"), "{e}");
    }

    /// Dotted leaf names and raw values of the `ros__parameters` block of a
    /// params file (just enough YAML for config/default.yaml).
    fn yaml_leaves(yaml: &str) -> BTreeMap<String, String> {
        let mut stack: Vec<(usize, String)> = Vec::new();
        let mut out = BTreeMap::new();
        for line in yaml.lines() {
            let body = line.split('#').next().unwrap_or("");
            if body.trim().is_empty() {
                continue;
            }
            let indent = body.len() - body.trim_start().len();
            let Some((key, val)) = body.trim().split_once(':') else {
                continue;
            };
            while stack.last().is_some_and(|(i, _)| *i >= indent) {
                stack.pop();
            }
            let val = val.trim();
            if val.is_empty() {
                stack.push((indent, key.to_string()));
            } else {
                let mut path: Vec<&str> = stack
                    .iter()
                    .map(|(_, k)| k.as_str())
                    .skip_while(|k| *k != "ros__parameters")
                    .skip(1)
                    .collect();
                path.push(key);
                out.insert(path.join("."), val.trim_matches('"').to_string());
            }
        }
        out
    }

    #[test]
    fn default_yaml_matches_code_defaults() {
        let leaves = yaml_leaves(include_str!("../../config/default.yaml"));
        for s in SPECS {
            let val = leaves
                .get(s.name)
                .unwrap_or_else(|| panic!("{} missing from config/default.yaml", s.name));
            let same = match default_value(s.name) {
                ParameterValue::Bool(b) => val == &b.to_string(),
                ParameterValue::Integer(i) => val == &i.to_string(),
                ParameterValue::Double(d) => val.parse::<f64>().is_ok_and(|v| (v - d).abs() < 1e-6),
                ParameterValue::String(s) => val == &s,
                _ => false,
            };
            assert!(
                same,
                "{}: yaml has {val}, code default {:?}",
                s.name,
                default_value(s.name)
            );
        }
        assert_eq!(
            leaves.len(),
            SPECS.len(),
            "yaml has extra parameters: {leaves:?}"
        );
    }
}
