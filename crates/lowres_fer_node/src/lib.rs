//! The ROS 2 node (r2r): the one crate that needs a sourced ROS 2 to build.
//!
//! Everything here is wiring: parameters <-> [`lowres_fer::settings::config::PipelineConfig`],
//! sensor_msgs -> [`lowres_fer::imaging::io`], [`lowres_fer::pipeline::Pipeline`] results ->
//! lowres_fer/msg, plus diagnostics. The science lives in the ROS-free core.

pub mod context;
pub mod convert;
pub mod handoff;
pub mod hri;
pub mod lifecycle;
pub mod lifecycle_srv;
pub mod live_params;
pub mod logging;
pub mod node;
pub mod params;
pub mod stats;
