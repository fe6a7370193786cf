//! The lab: what measures lowres_fer but never runs on a robot. FER+ data and
//! the paper's protocol ([`ferplus`]), camera degradations for the robustness
//! table ([`degrade`]), detection scoring ([`detect_eval`]) on the posed scenes
//! ([`detect_bench`]) and on real crowds ([`crowd`]), and the benchmark and
//! research binaries in src/bin.

/// The flags the lab binaries share (clap).
pub mod cli;
pub mod crowd;
/// Camera degradations for the evaluator's robustness table.
pub mod degrade;
pub mod detect_bench;
pub mod detect_eval;
pub mod ferplus;
pub mod still_camera;
