//! Every parameter of the node and the bag tool, declared once in [`PARAMS`]:
//! name, type and range ([`Kind`]), default and documentation.
//!
//! From that one table come
//! - the ROS declarations of the node (crates/lowres_fer_node/src/params.rs converts the values),
//! - all validation: type, range and cross-checks ([`Settings::read`]; also
//!   [`PipelineConfig::validate`] for configurations built in code),
//! - the params-file reader of the bag tool (crate `lowres_fer_bag`, `params_file`) with the
//!   node's unknown-name rule ([`unknown_names`]) and `models_dir` resolution
//!   ([`resolve_models_dir`]),
//! - the typed defaults (`PipelineConfig::default()` and friends), and
//! - the README table and config/default.yaml, which unit tests below compare
//!   with the table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::imaging::io as image_io;
use crate::settings::config::{
    ClassifierConfig, DetectorConfig, GpuConfig, PipelineConfig, TrackingConfig,
};

/// A parameter value as given (a ROS parameter or a params-file scalar).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(String),
    /// Any other type (arrays, maps, null), by name, for the error message.
    Other(&'static str),
}

impl Value {
    fn type_name(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::Int(_) => "integer",
            Value::Double(_) => "double",
            Value::Str(_) => "string",
            Value::Other(t) => t,
        }
    }
}

/// Parameter values by dotted name, as given (not yet checked).
pub type Given = BTreeMap<String, Value>;

/// Lower bound of a double range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lower {
    Closed(f64),
    Open(f64),
    /// At least the value of another (double) parameter: a cross-check.
    Param(&'static str),
}

/// Type and allowed values of a parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Bool,
    Int {
        lo: i64,
        hi: i64,
    },
    Double {
        lo: Lower,
        hi: f64,
    },
    Str,
    /// A string from a fixed set (serde's snake_case names of a config enum).
    Choice(&'static [&'static str]),
}

/// A default value ([`Kind`] says which variant each parameter uses).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Default {
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(&'static str),
}

impl Default {
    /// The default as a parameter value.
    pub fn value(self) -> Value {
        match self {
            Default::Bool(b) => Value::Bool(b),
            Default::Int(i) => Value::Int(i),
            Default::Double(d) => Value::Double(d),
            Default::Str(s) => Value::Str(s.to_string()),
        }
    }
}

/// One declared parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
    pub default: Default,
    /// What it does (the README's "meaning" column, Markdown).
    pub doc: &'static str,
    /// Applied at run time (`ros2 param set`) from the next frame: the pipeline
    /// uses it per frame and no model, session, topic or QoS depends on it.
    /// Every other parameter is read-only after start-up ([`NOT_LIVE`]).
    pub live: bool,
}

/// A parameter read once at start-up (models, sessions, topics, QoS, ...).
const fn p(name: &'static str, kind: Kind, default: Default, doc: &'static str) -> Param {
    Param {
        name,
        kind,
        default,
        doc,
        live: false,
    }
}

/// A parameter that `ros2 param set` changes from the next frame.
const fn lp(name: &'static str, kind: Kind, default: Default, doc: &'static str) -> Param {
    Param {
        live: true,
        ..p(name, kind, default, doc)
    }
}

/// Why a set of a parameter that is not [`Param::live`] fails.
pub const NOT_LIVE: &str = "read-only: restart the node to change it";

const UNIT: Kind = Kind::Double {
    lo: Lower::Closed(0.0),
    hi: 1.0,
};

/// The parameters, in README order.
pub const PARAMS: &[Param] = &[
    p("input.transport", Kind::Choice(&["raw", "compressed"]), Default::Str("raw"),
      "subscribe to `image` (Image) or `image/compressed` (CompressedImage)"),
    p("input.source", Kind::Choice(&["camera", "ros4hri_faces"]), Default::Str("camera"),
      "`camera`: detect faces in `image`; `ros4hri_faces`: drop-in mode, classify the faces another ROS4HRI detector publishes under `/humans/faces/` (README, ROS4HRI)"),
    p("input.qos", Kind::Choice(&["sensor_data", "reliable"]), Default::Str("sensor_data"),
      "input QoS reliability (camera images; in the drop-in mode every `/humans/faces/` and `camera_info` subscription)"),
    p("input.depth", Kind::Int { lo: 1, hi: 100 }, Default::Int(5), "input history depth (as `input.qos`)"),
    lp("input.max_pixels", Kind::Int { lo: 1, hi: image_io::MAX_PIXELS_LIMIT as i64 },
      Default::Int(image_io::DEFAULT_MAX_PIXELS as i64),
      "pixel budget per frame (4096x4096): a larger image (raw, or JPEG/PNG by its header) is rejected before it is decoded (`errors_input_too_many_pixels`)"),
    lp("publish_annotated", Kind::Bool, Default::Bool(true),
      "render `image_annotated` while it has subscribers"),
    lp("image_annotated.jpeg_quality", Kind::Int { lo: 1, hi: 100 }, Default::Int(80),
      "JPEG quality of `image_annotated/compressed`"),
    p("diagnostics_period", Kind::Double { lo: Lower::Closed(0.1), hi: 60.0 }, Default::Double(1.0),
      "seconds between `/diagnostics` messages"),
    p("log_throttle", Kind::Double { lo: Lower::Closed(0.1), hi: 3600.0 }, Default::Double(5.0),
      "seconds between repeated log lines of one bad-input cause"),
    p("lifecycle.autostart", Kind::Bool, Default::Bool(true),
      "configure and activate at start-up (the lifecycle services still answer); `false`: start `unconfigured` and wait for a lifecycle client (README, Lifecycle)"),
    p("models_dir", Kind::Str, Default::Str(""),
      "ONNX models + `manifest.json`; empty: `share/lowres_fer/models` of the install, else `./models`"),
    p("onnxruntime_library", Kind::Str, Default::Str(""),
      "`libonnxruntime.so`; empty: `$ORT_DYLIB_PATH`"),
    p("detector.model", Kind::Choice(&["front", "back", "retinaface", "centerface"]), Default::Str("retinaface"),
      "`retinaface` (RetinaFace MobileNet-0.25: faces in the wild, crowds), `centerface` (CenterFace: more of the small crowd faces at ~2x the cost, config/centerface.yaml), BlazeFace `back` (full-range 256 px) or `front` (short-range 128 px): close range only"),
    // 0.55 and 0.7: RetinaFace's `pyramid` sweep on the crowd photos, still
    // camera (docs/detection.md, "The pyramid sweep"): the recall of `rotating`
    // (0.43 / 0.68 / 0.76 / 0.91) at 0.37 false positives per photo; 0.5 / 0.7
    // gave 0.44 FP, 0.6 / 0.65 0.01 more per bucket at 0.36 FP; the tile score
    // stays the one chosen for `rotating`. BlazeFace was measured at 0.5 / 0.65
    // (config/close_range.yaml).
    lp("detector.score_threshold", UNIT, Default::Double(0.55),
      "minimum detector score of the full frame (and, under `pyramid` with `retinaface`/`centerface`, of its regions at `input_scale`)"),
    lp("detector.tile_score_threshold", UNIT, Default::Double(0.7),
      "minimum detector score in tiles"),
    lp("detector.nms_iou", UNIT, Default::Double(0.3), "weighted-NMS IoU"),
    // Chosen in docs/detection.md ("Crowds"): at the same cost (full frame + 1
    // region), `pyramid` finds 0.91 / 0.96 of the 16-24 / 24-32 px faces of the
    // VGA benchmark within 10 frames, where `rotating` found 0.84 / 0.82.
    // With RetinaFace (docs/detection.md, "The pyramid sweep"): `pyramid` finds
    // as many crowd faces as `rotating` within 10 frames of a still camera, at
    // 0.6x its detect time per frame, because the full-scale pass is spread
    // over the sweep instead of run every frame.
    lp("detector.tiling", Kind::Choice(&["off", "rotating", "all", "pyramid"]), Default::Str("pyramid"),
      "extra passes for small faces. `retinaface`, `centerface`: `pyramid` runs the full frame at half `input_scale` every frame and sweeps the frame at `input_scale` in 320 px regions together with the upscaled tiles (`tile_scale`), `tiles_per_frame` per frame, each region's detections held until it runs again; `rotating` runs the full frame at `input_scale` every frame and sweeps only the upscaled tiles; `all` runs every tile. BlazeFace: `pyramid` (scale pyramid of regions, whole frame covered within one sweep), `rotating` (native tiles + regions around tracked faces), `all` (every native tile, offline)"),
    // 2 RetinaFace regions per frame cover a 416x416 crowd photo's 4 + 16
    // regions in 10 frames (VGA: 6 + 20 in 13); BlazeFace's profile (config/close_range.yaml) uses 1, the
    // BlazeFace `crowd` profile (config/crowd.yaml) 3.
    lp("detector.tiles_per_frame", Kind::Int { lo: 0, hi: 64 }, Default::Int(2),
      "regions/tiles per frame in `pyramid` and `rotating` modes (model runs on top of the full frame)"),
    p("detector.threads", Kind::Int { lo: 1, hi: 64 }, Default::Int(1), "detector threads"),
    lp("detector.input_scale", Kind::Double { lo: Lower::Closed(0.25), hi: 4.0 }, Default::Double(1.0),
      "`retinaface`, `centerface`: scale of the full-frame pass (model px per source px; `pyramid` runs the full frame at half of it and the regions of the sweep at it)"),
    lp("detector.tile_scale", Kind::Double { lo: Lower::Closed(1.0), hi: 4.0 }, Default::Double(2.0),
      "`retinaface`, `centerface`: enlargement of the upscaled tiles of `rotating`/`pyramid` (a sweep, `tiles_per_frame` per frame) and `all`"),
    lp("detector.redetect_tracked", Kind::Bool, Default::Bool(true),
      "`retinaface`, `centerface`: a tracked face that this frame's runs and held tile boxes do not show is looked for again around its last box (a 128 px input, at most 12 per frame; similar-sized faces found beside it are kept too), so moving faces are re-found every frame between sweeps"),
    p("detector.execution_provider", Kind::Choice(&["cpu", "cuda", "tensorrt"]),
      Default::Str("cpu"), "ONNX Runtime provider of the detector"),
    // models/MODEL_CARD.md ("Resolution experts and routing"): learned routing beats the
    // single model on both variants of the mixed-resolution benchmark (native and
    // upscaled crops); face_size loses when a box overstates the resolution.
    p("classifier.routing", Kind::Choice(&["off", "face_size", "learned"]), Default::Str("learned"),
      "how a face is assigned to a classifier: `off` the general classifier for every face; `face_size` by the crop's native size; `learned` by the size a resolution recogniser sees in the crop (faces that look 28 px or larger go to the wide expert)"),
    p("classifier.precision", Kind::Choice(&["fp32", "int8", "fp16"]), Default::Str("fp32"),
      "emotion model variant (training/quantize.py)"),
    p("classifier.execution_provider", Kind::Choice(&["cpu", "cuda", "tensorrt"]),
      Default::Str("cpu"), "ONNX Runtime provider of the classifiers"),
    p("classifier.threads", Kind::Int { lo: 1, hi: 64 }, Default::Int(1), "classifier threads"),
    lp("classifier.min_face_px", Kind::Double { lo: Lower::Closed(0.0), hi: 1000.0 },
      Default::Double(8.0), "smaller faces are reported `STATE_TOO_SMALL`"),
    // Chosen in docs/detection.md ("Quality gate"): with the geometry check,
    // 0.66 rejects every no_face.mp4 detection and keeps 170/174 real faces.
    lp("classifier.min_detector_score", UNIT, Default::Double(0.66),
      "lower-scored faces are reported `STATE_LOW_DETECTOR_SCORE`"),
    lp("classifier.min_score_without_geometry",
      Kind::Double { lo: Lower::Param("classifier.min_detector_score"), hi: 1.0 },
      Default::Double(0.8),
      "below this score a face is classified only if its keypoints are plausible (eye line within 26° of level, nose below the eyes, mouth below the nose); rejects text/graphics BlazeFace takes for faces (docs/detection.md)"),
    lp("classifier.crop_margin", UNIT, Default::Double(0.1),
      "crop margin, fraction of the box side"),
    // models/MODEL_CARD.md ("Mirror averaging"): +0.7 to +1.8 points on FER+ Valid at
    // 5-32 px for twice the classifier's compute, a small share of a frame.
    lp("classifier.mirror_average", Kind::Bool, Default::Bool(true),
      "classify each face and its mirror image and average them (about 2x the classifier's compute, +1 to +2 points of accuracy)"),
    p("gpu.device_id", Kind::Int { lo: 0, hi: 63 }, Default::Int(0),
      "CUDA device of the `cuda`/`tensorrt` sessions"),
    p("gpu.tensorrt_fp16", Kind::Bool, Default::Bool(false),
      "`tensorrt`: allow FP16 kernels (faster on a Jetson; not yet measured on a GPU, see docs/platforms.md)"),
    p("gpu.tensorrt_cache_dir", Kind::Str, Default::Str(""),
      "`tensorrt`: engine and timing cache directory; empty: `$LOWRES_FER_CACHE/tensorrt` (default `~/.cache/lowres_fer/tensorrt`)"),
    p("gpu.tensorrt_max_faces", Kind::Int { lo: 1, hi: 256 }, Default::Int(16),
      "`tensorrt`: largest face batch of one classifier run (its shape profile is 1..this); more faces run in several batches"),
    lp("tracking.enabled", Kind::Bool, Default::Bool(true),
      "track faces (stable `face_id`) and smooth probabilities"),
    lp("tracking.iou_threshold", UNIT, Default::Double(0.3), "association IoU"),
    lp("tracking.max_missed", Kind::Int { lo: 0, hi: 1000 }, Default::Int(10),
      "frames a track survives unseen"),
    lp("tracking.smoothing_alpha", Kind::Double { lo: Lower::Open(0.0), hi: 1.0 },
      Default::Double(0.4), "weight of the newest frame in the smoothing"),
    p("ros4hri.enabled", Kind::Bool, Default::Bool(false),
      "camera mode: also publish the REP-155 topics `/humans/faces/tracked` and `/humans/faces/<id>/{roi,landmarks,cropped,expression}` (needs `tracking.enabled`)"),
    p("ros4hri.cropped_size", Kind::Int { lo: 16, hi: 1024 }, Default::Int(128),
      "side of `/humans/faces/<id>/cropped`; smaller faces are published at their native size, never upsampled"),
    p("ros4hri.crop_topic", Kind::Choice(&["cropped", "aligned"]), Default::Str("cropped"),
      "drop-in mode: classify `/humans/faces/<id>/cropped` or `.../aligned`"),
];

/// The node's name: params-file sections for it (besides `/**`) use it.
pub const NODE_NAME: &str = "lowres_fer";

/// The declaration of `name`, if it is one of ours.
pub fn find(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name == name)
}

/// The allowed values of the choice parameter `name` (the snake_case names of its
/// config enum), for command lines that take one: `None` when `name` is not a
/// choice.
pub fn enum_choices(name: &str) -> Option<&'static [&'static str]> {
    match find(name)?.kind {
        Kind::Choice(names) => Some(names),
        _ => None,
    }
}

/// Parameters that were given but are not ours (typos in a params file). Both
/// tools warn about them and go on; `use_sim_time` and `qos_overrides.*` are
/// rclcpp/r2r's own.
pub fn unknown_names(given: &Given) -> Vec<String> {
    given
        .keys()
        .filter(|n| find(n).is_none() && *n != "use_sim_time" && !n.starts_with("qos_overrides."))
        .cloned()
        .collect()
}

/// A value that is not allowed: names the parameter and what is allowed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidParameter {
    #[error("parameter '{name}' = {value} is invalid: allowed {allowed}")]
    Range {
        name: &'static str,
        value: String,
        allowed: String,
    },
    #[error("parameter '{name}' has type {got}, expected {want}")]
    Type {
        name: &'static str,
        got: &'static str,
        want: &'static str,
    },
}

impl InvalidParameter {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Range { name, .. } | Self::Type { name, .. } => name,
        }
    }
}

/// Why a run-time change of a parameter is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LiveChangeError {
    #[error("parameter '{0}' is not declared by this node")]
    Undeclared(String),
    #[error("parameter '{0}' is {NOT_LIVE}")]
    ReadOnly(&'static str),
    #[error(transparent)]
    Invalid(#[from] InvalidParameter),
}

/// `0.1`, `1.0`, `3600.0`: the README's spelling of a bound.
fn num(v: f64) -> String {
    format!("{v:?}")
}

impl Param {
    /// The allowed values as the README and the errors spell them ("" for bools
    /// and free strings).
    pub fn allowed(&self) -> String {
        match self.kind {
            Kind::Bool | Kind::Str => String::new(),
            Kind::Int { lo, hi } => format!("[{lo}, {hi}]"),
            Kind::Double { lo, hi } => match lo {
                Lower::Closed(l) => format!("[{}, {}]", num(l), num(hi)),
                Lower::Open(l) => format!("({}, {}]", num(l), num(hi)),
                Lower::Param(other) => format!("[`{other}`, {}]", num(hi)),
            },
            Kind::Choice(names) => names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// README "type" column.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Bool => "bool",
            Kind::Int { .. } => "int",
            Kind::Double { .. } => "double",
            Kind::Str | Kind::Choice(_) => "string",
        }
    }

    /// `v` as this parameter reads it. rcl parses `-p` values and the node's
    /// params files as YAML 1.1, where an unquoted `off` is the boolean false
    /// (`-p detector.tiling:=off` arrives as false): for a choice that has an
    /// `off`, false is that choice. The bag tool's YAML 1.2 reader gives the
    /// string; both end up the same here.
    pub fn normalise(&self, v: Value) -> Value {
        match (self.kind, v) {
            (Kind::Choice(names), Value::Bool(false)) if names.contains(&"off") => {
                Value::Str("off".into())
            }
            (_, v) => v,
        }
    }

    /// One line for `ros2 param describe`.
    pub fn description(&self) -> String {
        let allowed = self.allowed().replace('`', "");
        let doc = self.doc.replace('`', "");
        let described = if allowed.is_empty() {
            doc
        } else {
            format!("{doc}; allowed {allowed}")
        };
        // r2r 0.9.7's describe service leaves ParameterDescriptor.read_only
        // false: the description is where `ros2 param describe` can say it.
        if self.live {
            format!("{described}; live: applies from the next frame")
        } else {
            format!("{described}; {NOT_LIVE}")
        }
    }
}

/// Which input topic / message type the node subscribes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// sensor_msgs/Image on `image`.
    Raw,
    /// sensor_msgs/CompressedImage (JPEG/PNG) on `image/compressed`.
    Compressed,
}

/// Where the faces come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Detect faces in the camera images (`image` / `image/compressed`).
    Camera,
    /// Drop-in mode: follow `/humans/faces/tracked` of another ROS4HRI face
    /// detector and classify its per-face crops.
    Ros4hriFaces,
}

/// The per-face image the drop-in mode classifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CropTopic {
    Cropped,
    Aligned,
}

impl CropTopic {
    /// The REP-155 sub-topic name.
    pub fn name(self) -> &'static str {
        match self {
            CropTopic::Cropped => "cropped",
            CropTopic::Aligned => "aligned",
        }
    }
}

/// The ROS4HRI (REP-155) settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ros4hri {
    /// Camera mode: publish the REP-155 topics.
    pub enabled: bool,
    /// Maximum side of the `cropped` images.
    pub cropped_size: u32,
    /// Drop-in mode: which per-face image to classify.
    pub crop_topic: CropTopic,
}

/// QoS of the input subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputQos {
    /// Best effort, volatile (REP-2003 sensor data): matches every camera driver.
    SensorData,
    /// Reliable, volatile: for recorded/bag playback where every frame matters.
    Reliable,
}

/// Every parameter, read and checked: the node's own plus the pipeline's.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub transport: Transport,
    pub source: Source,
    pub input_qos: InputQos,
    pub input_depth: usize,
    /// Pixel budget per frame, checked from the header before decoding.
    pub max_pixels: u64,
    pub publish_annotated: bool,
    /// JPEG quality of `image_annotated/compressed`, 1..=100.
    pub annotated_jpeg_quality: u8,
    pub diagnostics_period_s: f64,
    pub log_throttle_s: f64,
    /// `lifecycle.autostart`: configure + activate without a lifecycle client.
    pub autostart: bool,
    pub ros4hri: Ros4hri,
    /// `models_dir` as given ("" = resolve with [`resolve_models_dir`]).
    pub pipeline: PipelineConfig,
}

struct Reader<'a> {
    given: &'a Given,
    /// Doubles already read (for cross-checks).
    doubles: BTreeMap<&'static str, f64>,
}

impl Reader<'_> {
    /// The checked value of `name` (given or default).
    fn value(&mut self, name: &str) -> Result<(&'static Param, Value), InvalidParameter> {
        // Only names of PARAMS are read (a unit test reads them all); an
        // unknown one here is a programming error reported as a type error.
        let Some(p) = find(name) else {
            return Err(InvalidParameter::Type {
                name: "<undeclared>",
                got: "undeclared",
                want: "a declared parameter",
            });
        };
        let v = match self.given.get(name) {
            Some(v) => p.normalise(v.clone()),
            None => p.default.value(),
        };
        let range = |value: String| InvalidParameter::Range {
            name: p.name,
            value,
            allowed: p.allowed().replace('`', ""),
        };
        let wrong = |v: &Value| {
            InvalidParameter::Type {
            name: p.name,
            got: v.type_name(),
            want: match (p.kind, v) {
                (Kind::Bool, _) => "bool",
                (Kind::Int { .. }, _) => "integer",
                (Kind::Double { .. }, _) => "double",
                (Kind::Choice(_), Value::Bool(_)) => {
                    "string (YAML reads unquoted on/off/yes/no/true/false as booleans: quote the value, -p name:=\"'value'\")"
                }
                (Kind::Str | Kind::Choice(_), _) => "string",
            },
        }
        };
        let v = match (p.kind, v) {
            (Kind::Bool, v @ Value::Bool(_)) | (Kind::Str, v @ Value::Str(_)) => v,
            (Kind::Int { lo, hi }, Value::Int(i)) => {
                if !(lo..=hi).contains(&i) {
                    return Err(range(i.to_string()));
                }
                Value::Int(i)
            }
            // Doubles also accept integers (YAML `threshold: 1` parses as one).
            (Kind::Double { lo, hi }, Value::Int(i)) => self.double(p, lo, hi, i as f64)?,
            (Kind::Double { lo, hi }, Value::Double(d)) => self.double(p, lo, hi, d)?,
            (Kind::Choice(names), Value::Str(s)) => {
                if !names.contains(&s.as_str()) {
                    return Err(InvalidParameter::Range {
                        name: p.name,
                        value: format!("'{s}'"),
                        allowed: format!("{{{}}}", names.join(", ")),
                    });
                }
                Value::Str(s)
            }
            (_, v) => return Err(wrong(&v)),
        };
        Ok((p, v))
    }

    /// Range-check a double; remembered for the cross-checks of later ones.
    fn double(
        &mut self,
        p: &'static Param,
        lo: Lower,
        hi: f64,
        d: f64,
    ) -> Result<Value, InvalidParameter> {
        let (lo_ok, allowed) = match lo {
            Lower::Closed(l) => (d >= l, p.allowed()),
            Lower::Open(l) => (d > l, p.allowed()),
            Lower::Param(other) => {
                let l = self.doubles.get(other).copied().unwrap_or(f64::NAN);
                (d >= l, format!("[{other} ({l}), {}]", num(hi)))
            }
        };
        // Written so that NaN fails.
        if !(lo_ok && d <= hi) {
            return Err(InvalidParameter::Range {
                name: p.name,
                value: d.to_string(),
                allowed: allowed.replace('`', ""),
            });
        }
        self.doubles.insert(p.name, d);
        Ok(Value::Double(d))
    }

    fn bool(&mut self, name: &str) -> Result<bool, InvalidParameter> {
        match self.value(name)? {
            (_, Value::Bool(b)) => Ok(b),
            (p, v) => Err(mismatch(p, &v)),
        }
    }

    fn int(&mut self, name: &str) -> Result<i64, InvalidParameter> {
        match self.value(name)? {
            (_, Value::Int(i)) => Ok(i),
            (p, v) => Err(mismatch(p, &v)),
        }
    }

    fn u32(&mut self, name: &str) -> Result<u32, InvalidParameter> {
        let i = self.int(name)?;
        // Int ranges of PARAMS lie within u32 (a unit test checks).
        Ok(u32::try_from(i).unwrap_or(u32::MAX))
    }

    fn f64(&mut self, name: &str) -> Result<f64, InvalidParameter> {
        match self.value(name)? {
            (_, Value::Double(d)) => Ok(d),
            (p, v) => Err(mismatch(p, &v)),
        }
    }

    fn f32(&mut self, name: &str) -> Result<f32, InvalidParameter> {
        Ok(self.f64(name)? as f32)
    }

    fn string(&mut self, name: &str) -> Result<String, InvalidParameter> {
        match self.value(name)? {
            (_, Value::Str(s)) => Ok(s),
            (p, v) => Err(mismatch(p, &v)),
        }
    }

    fn choice<T: DeserializeOwned>(&mut self, name: &str) -> Result<T, InvalidParameter> {
        let (p, v) = self.value(name)?;
        let Value::Str(s) = &v else {
            return Err(mismatch(p, &v));
        };
        // Every name of a Choice deserializes (a unit test checks).
        serde_json::from_value(serde_json::Value::String(s.clone())).map_err(|_| {
            InvalidParameter::Range {
                name: p.name,
                value: format!("'{s}'"),
                allowed: "a declared choice".into(),
            }
        })
    }
}

fn mismatch(p: &Param, v: &Value) -> InvalidParameter {
    InvalidParameter::Type {
        name: p.name,
        got: v.type_name(),
        want: "the declared type",
    }
}

impl Settings {
    /// Read and check every parameter (defaults for those not given; unknown
    /// names are ignored here, see [`unknown_names`]).
    pub fn read(given: &Given) -> Result<Self, InvalidParameter> {
        let mut r = Reader {
            given,
            doubles: BTreeMap::new(),
        };
        let detector = DetectorConfig {
            model: r.choice("detector.model")?,
            score_threshold: r.f32("detector.score_threshold")?,
            tile_score_threshold: r.f32("detector.tile_score_threshold")?,
            nms_iou: r.f32("detector.nms_iou")?,
            tiling: r.choice("detector.tiling")?,
            tiles_per_frame: r.u32("detector.tiles_per_frame")?,
            threads: r.u32("detector.threads")?,
            execution_provider: r.choice("detector.execution_provider")?,
            input_scale: r.f32("detector.input_scale")?,
            tile_scale: r.f32("detector.tile_scale")?,
            redetect_tracked: r.bool("detector.redetect_tracked")?,
        };
        let classifier = ClassifierConfig {
            routing: r.choice("classifier.routing")?,
            precision: r.choice("classifier.precision")?,
            execution_provider: r.choice("classifier.execution_provider")?,
            threads: r.u32("classifier.threads")?,
            min_face_px: r.f32("classifier.min_face_px")?,
            // Before min_score_without_geometry, whose range starts here.
            min_detector_score: r.f32("classifier.min_detector_score")?,
            min_score_without_geometry: r.f32("classifier.min_score_without_geometry")?,
            crop_margin: r.f32("classifier.crop_margin")?,
            mirror_average: r.bool("classifier.mirror_average")?,
        };
        let tracking = TrackingConfig {
            enabled: r.bool("tracking.enabled")?,
            iou_threshold: r.f32("tracking.iou_threshold")?,
            max_missed: r.u32("tracking.max_missed")?,
            smoothing_alpha: r.f32("tracking.smoothing_alpha")?,
        };
        let pipeline = PipelineConfig {
            models_dir: PathBuf::from(r.string("models_dir")?),
            onnxruntime_library: PathBuf::from(r.string("onnxruntime_library")?),
            detector,
            classifier,
            tracking,
            gpu: GpuConfig {
                device_id: r.u32("gpu.device_id")?,
                tensorrt_fp16: r.bool("gpu.tensorrt_fp16")?,
                tensorrt_cache_dir: PathBuf::from(r.string("gpu.tensorrt_cache_dir")?),
                tensorrt_max_faces: r.u32("gpu.tensorrt_max_faces")?,
            },
        };
        let source: Source = r.choice("input.source")?;
        let ros4hri = Ros4hri {
            enabled: r.bool("ros4hri.enabled")?,
            cropped_size: r.u32("ros4hri.cropped_size")?,
            crop_topic: r.choice("ros4hri.crop_topic")?,
        };
        // REP-155 ids are the tracker's ids: without tracks there is nothing
        // stable to name a face by.
        if ros4hri.enabled && source == Source::Camera && !pipeline.tracking.enabled {
            return Err(InvalidParameter::Range {
                name: "ros4hri.enabled",
                value: "true".into(),
                allowed: "false while tracking.enabled is false (REP-155 face ids are track ids)"
                    .into(),
            });
        }
        Ok(Self {
            transport: r.choice("input.transport")?,
            source,
            input_qos: r.choice("input.qos")?,
            input_depth: r.int("input.depth")? as usize,
            max_pixels: r.int("input.max_pixels")? as u64,
            publish_annotated: r.bool("publish_annotated")?,
            annotated_jpeg_quality: r.u32("image_annotated.jpeg_quality")? as u8,
            diagnostics_period_s: r.f64("diagnostics_period")?,
            log_throttle_s: r.f64("log_throttle")?,
            autostart: r.bool("lifecycle.autostart")?,
            ros4hri,
            pipeline,
        })
    }

    /// `current` (the values in force, as read into `self`) with `name` set to
    /// `value`, checked by the same reader as at start-up (type, range and
    /// cross-checks): the new values and settings, or why the change is refused
    /// (nothing changes then). Only [`Param::live`] parameters change.
    pub fn with_change(
        current: &Given,
        name: &str,
        value: Value,
    ) -> Result<(Given, Settings), LiveChangeError> {
        let p = find(name).ok_or_else(|| LiveChangeError::Undeclared(name.to_string()))?;
        if !p.live {
            return Err(LiveChangeError::ReadOnly(p.name));
        }
        let mut next = current.clone();
        next.insert(p.name.to_string(), p.normalise(value));
        let settings = Settings::read(&next)?;
        // Store what was read: a double given as an integer is a double.
        if let (Kind::Double { .. }, Some(Value::Int(i))) = (p.kind, next.get(p.name)) {
            let d = *i as f64;
            next.insert(p.name.to_string(), Value::Double(d));
        }
        Ok((next, settings))
    }

    /// Every parameter at its declared default.
    pub fn defaults() -> Self {
        // The defaults pass their own checks (unit-tested); should that ever
        // break, fail loudly at first use rather than run on odd values.
        Self::read(&Given::new()).unwrap_or_else(|e| panic!("PARAMS default invalid: {e}"))
    }

    /// The effective value of every declared parameter (given or default):
    /// what the node declares so `ros2 param list/get` shows it.
    pub fn effective(given: &Given) -> Vec<(&'static Param, Value)> {
        PARAMS
            .iter()
            .map(|p| {
                let v = given
                    .get(p.name)
                    .map(|v| p.normalise(v.clone()))
                    .unwrap_or_else(|| p.default.value());
                (p, v)
            })
            .collect()
    }
}

/// A pipeline configuration as parameter values (serde's field names are the
/// parameter names; a unit test checks).
pub fn pipeline_values(cfg: &PipelineConfig) -> anyhow::Result<Given> {
    fn flatten(prefix: &str, v: serde_json::Value, out: &mut Given) {
        let name = |k: &str| {
            if prefix.is_empty() {
                k.to_string()
            } else {
                format!("{prefix}.{k}")
            }
        };
        if let serde_json::Value::Object(m) = v {
            for (k, v) in m {
                let n = name(&k);
                match v {
                    serde_json::Value::Object(_) => flatten(&n, v, out),
                    other => {
                        out.insert(n, json_value(&other));
                    }
                }
            }
        }
    }
    let mut out = Given::new();
    flatten("", serde_json::to_value(cfg)?, &mut out);
    Ok(out)
}

fn json_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Null => Value::Other("null"),
        serde_json::Value::Array(_) => Value::Other("array"),
        serde_json::Value::Object(_) => Value::Other("map"),
    }
}

/// `models_dir` empty: the installed share/lowres_fer/models (first match on
/// AMENT_PREFIX_PATH), else ./models for running from the source tree.
pub fn resolve_models_dir(p: &Path) -> PathBuf {
    if !p.as_os_str().is_empty() {
        return p.to_path_buf();
    }
    if let Ok(prefixes) = std::env::var("AMENT_PREFIX_PATH") {
        for pre in prefixes.split(':').filter(|s| !s.is_empty()) {
            let cand = PathBuf::from(pre).join("share/lowres_fer/models");
            if cand.join("manifest.json").is_file() {
                return cand;
            }
        }
    }
    PathBuf::from("models")
}

// ---- The typed defaults and checks of the configuration types -------------
// Here, not in config.rs, so the plain types depend on nothing: every default
// comes from the table above.

impl std::default::Default for DetectorConfig {
    fn default() -> Self {
        Settings::defaults().pipeline.detector
    }
}

impl std::default::Default for ClassifierConfig {
    fn default() -> Self {
        Settings::defaults().pipeline.classifier
    }
}

impl std::default::Default for TrackingConfig {
    fn default() -> Self {
        Settings::defaults().pipeline.tracking
    }
}

impl std::default::Default for GpuConfig {
    fn default() -> Self {
        Settings::defaults().pipeline.gpu
    }
}

impl std::default::Default for PipelineConfig {
    fn default() -> Self {
        // The declared default of `models_dir` is "" (resolved by
        // `params::resolve_models_dir`); code that builds a config gets ./models.
        Self {
            models_dir: PathBuf::from("models"),
            ..Settings::defaults().pipeline
        }
    }
}

impl PipelineConfig {
    /// Reject values outside their declared ranges (and failed cross-checks),
    /// naming the parameter: the same checks as the parameters get.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        for (name, p) in [
            ("models_dir", &self.models_dir),
            ("onnxruntime_library", &self.onnxruntime_library),
            ("gpu.tensorrt_cache_dir", &self.gpu.tensorrt_cache_dir),
        ] {
            if p.to_str().is_none() {
                return Err(InvalidParameter::Type {
                    name,
                    got: "non-UTF-8 path",
                    want: "string",
                });
            }
        }
        let values = pipeline_values(self).map_err(|_| InvalidParameter::Type {
            name: "models_dir",
            got: "unserializable configuration",
            want: "string",
        })?;
        Settings::read(&values).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_their_own_checks() {
        let s = Settings::read(&Given::new()).unwrap();
        assert_eq!(s.transport, Transport::Raw);
        assert_eq!(s.input_qos, InputQos::SensorData);
        assert_eq!(s.pipeline.models_dir, PathBuf::new());
        let eff = Settings::effective(&Given::new());
        assert_eq!(eff.len(), PARAMS.len());
    }

    #[test]
    fn names_are_unique_and_choices_and_ints_convert() {
        for (i, p) in PARAMS.iter().enumerate() {
            assert!(
                PARAMS[..i].iter().all(|q| q.name != p.name),
                "{} twice",
                p.name
            );
            let matches = matches!(
                (p.kind, p.default),
                (Kind::Bool, Default::Bool(_))
                    | (Kind::Int { .. }, Default::Int(_))
                    | (Kind::Double { .. }, Default::Double(_))
                    | (Kind::Str | Kind::Choice(_), Default::Str(_))
            );
            assert!(matches, "{}: default of the wrong type", p.name);
            if let Kind::Int { lo, hi } = p.kind {
                assert!(lo >= 0 && hi <= u32::MAX as i64, "{}", p.name);
            }
            // Every allowed choice is read into its config enum.
            if let Kind::Choice(names) = p.kind {
                for n in names {
                    let mut g = Given::new();
                    g.insert(p.name.into(), Value::Str(n.to_string()));
                    Settings::read(&g).unwrap_or_else(|e| panic!("{}={n}: {e}", p.name));
                }
            }
        }
    }

    /// Every field of PipelineConfig (as serde names it) is a declared
    /// parameter, and the typed defaults are the declared ones.
    #[test]
    fn every_config_field_is_a_parameter_with_its_default() {
        let cfg = PipelineConfig {
            models_dir: PathBuf::new(),
            ..PipelineConfig::default()
        };
        let values = pipeline_values(&cfg).unwrap();
        assert_eq!(Settings::read(&values).unwrap().pipeline, cfg);
        for (name, v) in &values {
            let p = find(name).unwrap_or_else(|| panic!("config field {name} has no parameter"));
            let same = match (p.default, v) {
                (Default::Double(d), Value::Double(x)) => (*x - d).abs() < 1e-6,
                (Default::Double(d), Value::Int(x)) => (*x as f64 - d).abs() < 1e-6,
                (d, v) => d.value() == *v,
            };
            assert!(same, "{name}: default {:?}, config {v:?}", p.default);
        }
    }

    #[test]
    fn out_of_range_and_wrong_type_name_the_parameter() {
        let read = |name: &str, v: Value| {
            let mut g = Given::new();
            g.insert(name.into(), v);
            Settings::read(&g).unwrap_err().to_string()
        };
        let e = read("detector.score_threshold", Value::Double(1.5));
        assert_eq!(
            e,
            "parameter 'detector.score_threshold' = 1.5 is invalid: allowed [0.0, 1.0]"
        );
        let e = read("classifier.routing", Value::Str("fast".into()));
        assert_eq!(
            e,
            "parameter 'classifier.routing' = 'fast' is invalid: allowed {off, face_size, learned}"
        );
        let e = read("input.depth", Value::Int(0));
        assert_eq!(
            e,
            "parameter 'input.depth' = 0 is invalid: allowed [1, 100]"
        );
        let e = read("tracking.enabled", Value::Int(1));
        assert_eq!(
            e,
            "parameter 'tracking.enabled' has type integer, expected bool"
        );
        let e = read("tracking.smoothing_alpha", Value::Double(0.0));
        assert!(e.contains("(0.0, 1.0]"), "{e}");
        let e = read("tracking.iou_threshold", Value::Double(f64::NAN));
        assert!(e.contains("tracking.iou_threshold"), "{e}");
        // Integers are doubles too.
        let mut g = Given::new();
        g.insert("detector.nms_iou".into(), Value::Int(1));
        assert_eq!(Settings::read(&g).unwrap().pipeline.detector.nms_iou, 1.0);
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
            let mut g = Given::new();
            g.insert(name.into(), Value::Int(value));
            let e = Settings::read(&g).unwrap_err().to_string();
            assert!(
                e.contains(name) && e.contains(range) && !e.contains("4294967295"),
                "{e}"
            );
        }
        let mut g = Given::new();
        g.insert("input.max_pixels".into(), Value::Int(0));
        let e = Settings::read(&g).unwrap_err().to_string();
        assert!(e.contains("[1, 268435456]"), "{e}");
    }

    /// Issue 29: `-p detector.tiling:=off` failed with "has type bool,
    /// expected string": rcl's YAML 1.1 reads an unquoted `off` as false.
    #[test]
    fn off_given_as_yaml_false_is_the_off_choice() {
        use crate::settings::config::{Routing, TilingMode};
        let mut g = Given::new();
        g.insert("detector.tiling".into(), Value::Bool(false));
        g.insert("classifier.routing".into(), Value::Bool(false));
        let s = Settings::read(&g).unwrap();
        assert_eq!(s.pipeline.detector.tiling, TilingMode::Off);
        assert_eq!(s.pipeline.classifier.routing, Routing::Off);
        // Declared (and shown by `ros2 param get`) as the string it means.
        for (p, v) in Settings::effective(&g) {
            if matches!(p.name, "detector.tiling" | "classifier.routing") {
                assert_eq!(v, Value::Str("off".into()), "{}", p.name);
            }
        }
        // true means nothing here, nor false for a choice without `off`: the
        // message says how to quote a value.
        for (name, v) in [
            ("detector.tiling", true),
            ("detector.model", false),
            ("input.qos", false),
        ] {
            let mut g = Given::new();
            g.insert(name.into(), Value::Bool(v));
            let e = Settings::read(&g).unwrap_err().to_string();
            assert!(
                e.contains(name) && e.contains("type bool") && e.contains(":=\"'value'\""),
                "{e}"
            );
        }
        // Booleans stay booleans.
        let mut g = Given::new();
        g.insert("publish_annotated".into(), Value::Bool(false));
        assert!(!Settings::read(&g).unwrap().publish_annotated);
    }

    #[test]
    fn geometry_threshold_must_not_be_below_the_score_gate() {
        let mut g = Given::new();
        g.insert("classifier.min_detector_score".into(), Value::Double(0.7));
        g.insert(
            "classifier.min_score_without_geometry".into(),
            Value::Double(0.6),
        );
        let e = Settings::read(&g).unwrap_err().to_string();
        assert!(
            e.contains("classifier.min_score_without_geometry")
                && e.contains("classifier.min_detector_score (0.7)"),
            "{e}"
        );
        // Equal turns the geometry check off and is allowed.
        g.insert(
            "classifier.min_score_without_geometry".into(),
            Value::Double(0.7),
        );
        Settings::read(&g).unwrap();
        // Configurations built in code get the same cross-check.
        let mut cfg = PipelineConfig::default();
        cfg.classifier.min_score_without_geometry = 0.5;
        let e = cfg.validate().unwrap_err();
        assert_eq!(e.name(), "classifier.min_score_without_geometry");
    }

    #[test]
    fn ros4hri_needs_tracking_in_the_camera_mode() {
        let mut g = Given::new();
        g.insert("ros4hri.enabled".into(), Value::Bool(true));
        let s = Settings::read(&g).unwrap();
        assert!(s.ros4hri.enabled);
        assert_eq!((s.source, s.ros4hri.cropped_size), (Source::Camera, 128));
        g.insert("tracking.enabled".into(), Value::Bool(false));
        let e = Settings::read(&g).unwrap_err().to_string();
        assert!(
            e.contains("ros4hri.enabled") && e.contains("tracking.enabled"),
            "{e}"
        );
        // The drop-in mode does not use the tracker.
        g.insert("input.source".into(), Value::Str("ros4hri_faces".into()));
        assert_eq!(Settings::read(&g).unwrap().source, Source::Ros4hriFaces);
    }

    /// Issue 26: which parameters `ros2 param set` may change, and that a
    /// change gets the start-up checks.
    #[test]
    fn live_changes_are_checked_like_start_up_values() {
        let current: Given = Settings::effective(&Given::new())
            .into_iter()
            .map(|(p, v)| (p.name.to_string(), v))
            .collect();
        let live: Vec<_> = PARAMS.iter().filter(|p| p.live).map(|p| p.name).collect();
        for name in ["detector.score_threshold", "tracking.smoothing_alpha"] {
            assert!(live.contains(&name), "{name}");
        }
        for name in [
            "detector.model",
            "classifier.precision",
            "input.transport",
            "models_dir",
        ] {
            assert!(!live.contains(&name), "{name}");
        }
        // Every live parameter takes its own default back.
        for p in PARAMS {
            let r = Settings::with_change(&current, p.name, p.default.value());
            if p.live {
                let (_, s) = r.unwrap_or_else(|e| panic!("{}: {e}", p.name));
                assert_eq!(s, Settings::defaults(), "{}", p.name);
            } else {
                let e = r.unwrap_err().to_string();
                assert!(e.contains(p.name) && e.contains(NOT_LIVE), "{e}");
                assert!(p.description().ends_with(NOT_LIVE), "{}", p.name);
            }
        }
        let (next, s) =
            Settings::with_change(&current, "detector.score_threshold", Value::Double(0.9))
                .unwrap();
        assert_eq!(s.pipeline.detector.score_threshold, 0.9);
        assert_eq!(
            next.get("detector.score_threshold"),
            Some(&Value::Double(0.9))
        );
        // An integer for a double is kept as the double it means.
        let (next, _) = Settings::with_change(&current, "detector.nms_iou", Value::Int(1)).unwrap();
        assert_eq!(next.get("detector.nms_iou"), Some(&Value::Double(1.0)));
        let e = Settings::with_change(&current, "detector.score_threshold", Value::Double(1.5))
            .unwrap_err();
        assert!(e.to_string().contains("[0.0, 1.0]"), "{e}");
        let e = Settings::with_change(&current, "tracking.enabled", Value::Str("yes".into()))
            .unwrap_err();
        assert!(e.to_string().contains("expected bool"), "{e}");
        let e = Settings::with_change(&current, "detector.modle", Value::Bool(true)).unwrap_err();
        assert_eq!(e, LiveChangeError::Undeclared("detector.modle".into()));
        // Cross-checks see the values in force: the geometry threshold may not
        // drop below the score gate.
        let e = Settings::with_change(
            &current,
            "classifier.min_score_without_geometry",
            Value::Double(0.5),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("classifier.min_detector_score (0.66"),
            "{e}"
        );
    }

    /// The README names the live parameters as the table flags them.
    #[test]
    fn readme_lists_the_live_parameters() {
        let names: Vec<_> = PARAMS
            .iter()
            .filter(|p| p.live)
            .map(|p| format!("`{}`", p.name))
            .collect();
        let want = format!("Live parameters: {}.", names.join(", "));
        let readme = include_str!("../../../../README.md");
        assert!(readme.contains(&want), "README.md should say:\n{want}");
    }

    #[test]
    fn unknown_names_skip_the_ros_own() {
        let mut g = Given::new();
        for n in [
            "detector.model",
            "use_sim_time",
            "qos_overrides./x.reliability",
            "detector.modle",
        ] {
            g.insert(n.into(), Value::Bool(true));
        }
        assert_eq!(unknown_names(&g), vec!["detector.modle".to_string()]);
    }

    /// The README's parameter table is exactly the one the declarations give.
    #[test]
    fn readme_table_matches_the_declarations() {
        let mut want = String::from(
            "| parameter | type | default | allowed | meaning |\n|---|---|---|---|---|\n",
        );
        for p in PARAMS {
            let default = match p.default {
                Default::Bool(b) => b.to_string(),
                Default::Int(i) => i.to_string(),
                Default::Double(d) => num(d),
                Default::Str("") => "`\"\"`".to_string(),
                Default::Str(s) => format!("`{s}`"),
            };
            let allowed = p.allowed();
            let allowed = if allowed.is_empty() {
                String::new()
            } else {
                allowed + " "
            };
            want.push_str(&format!(
                "| `{}` | {} | {} | {allowed}| {} |\n",
                p.name,
                p.type_name(),
                default,
                p.doc
            ));
        }
        let readme = include_str!("../../../../README.md");
        assert!(
            readme.contains(&want),
            "README.md's parameter table differs from crates/lowres_fer/src/settings/params.rs; it should read:\n{want}"
        );
    }
}
