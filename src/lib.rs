//! lowres_fer: facial emotion recognition for distant, low-resolution faces.
//!
//! The core is ROS-free: `frame -> faces -> crops -> (route) -> emotions -> tracks`.
//! The `ros` feature adds the thin r2r node layer in [`ros`].

pub mod align;
pub mod annotate;
pub mod bag;
pub mod classify;
pub mod config;
pub mod detect;
pub mod face;
pub mod ferplus;
#[doc(hidden)]
pub mod fuzzing;
pub mod gate;
pub mod image_io;
pub mod models;
pub mod pipeline;
pub mod resample;
pub mod route;
pub mod runtime;
pub mod sanitize;
pub mod track;

#[cfg(feature = "ros")]
pub mod ros;

pub use face::{BBox, Detection, FaceResult, FaceState, EMOTIONS, NUM_EMOTIONS};
