//! The thin ROS 2 node layer (r2r), compiled only with `--features ros`.
//!
//! Everything here is wiring: parameters <-> [`crate::config::PipelineConfig`],
//! sensor_msgs -> [`crate::image_io`], [`crate::pipeline::Pipeline`] results ->
//! lowres_fer/msg, plus diagnostics. The science lives in the ROS-free core.

pub mod context;
pub mod convert;
pub mod hri;
pub mod logging;
pub mod node;
pub mod params;
pub mod stats;
