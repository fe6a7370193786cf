//! lowres_fer: facial emotion recognition for distant, low-resolution faces.
//!
//! The core is ROS-free: `frame -> faces -> crops -> (route) -> emotions -> tracks`,
//! wrapped per input image by [`frame::FrameStep`] (decode, stamp policy,
//! message values) that both the node and the bag tool call.
//! The `ros` feature adds the thin r2r node layer in [`ros`].

pub mod align;
pub mod annotate;
#[cfg(feature = "bag")]
pub mod bag;
pub mod classify;
pub mod config;
/// Camera degradations for the evaluator's robustness table.
#[cfg(feature = "lab")]
pub mod degrade;
pub mod detect;
pub mod face;
#[cfg(feature = "lab")]
pub mod ferplus;
pub mod frame;
/// Fuzz targets of the outside-data parsers (several are the bag tool's).
#[cfg(feature = "bag")]
#[doc(hidden)]
pub mod fuzzing;
pub mod gate;
pub mod hri;
pub mod image_io;
pub mod logging;
pub mod models;
pub mod msg;
pub mod params;
pub mod pipeline;
pub mod resample;
pub mod route;
pub mod runtime;
pub mod sanitize;
pub mod track;

#[cfg(feature = "ros")]
pub mod ros;

pub use face::{BBox, Detection, FaceResult, FaceState, EMOTIONS, NUM_EMOTIONS};
