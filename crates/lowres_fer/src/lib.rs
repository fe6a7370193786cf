//! lowres_fer: facial emotion recognition for distant, low-resolution faces.
//!
//! The core is ROS-free and reads no file format but images and its own model
//! manifest: `frame -> faces -> crops -> (route) -> emotions -> tracks`, wrapped
//! per input image by [`frame::FrameStep`] (decode, stamp policy, message
//! values) that both the node (crate `lowres_fer_node`) and the bag tool
//! (crate `lowres_fer_bag`) call.
//!
//! Modules by stage:
//! - [`imaging`]: ROS image payloads in, resampling, the annotated image out;
//! - [`detect`]: face detectors (RetinaFace, BlazeFace) and their tiling;
//! - [`classify`]: crops, the plausibility gate, emotion sessions and routing;
//! - [`models`]: the model manifest and ONNX Runtime sessions;
//! - [`track`]: identities and smoothing across frames;
//! - [`hri`]: ROS4HRI (REP-155) values;
//! - [`settings`]: the configuration types and the one parameter table;
//! - [`pipeline`] and [`frame`]: the per-frame path that joins them.

pub mod classify;
pub mod detect;
pub mod face;
pub mod frame;
pub mod hri;
pub mod imaging;
pub mod logging;
pub mod models;
pub mod msg;
pub mod pipeline;
pub mod sanitize;
pub mod settings;
pub mod track;

pub use face::{BBox, Detection, FaceResult, FaceState, EMOTIONS, NUM_EMOTIONS};
