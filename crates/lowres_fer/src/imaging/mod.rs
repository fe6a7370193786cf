//! Images in and out: ROS image payloads to RGB ([`io`]), Pillow-exact
//! resampling ([`resample`]), the annotated debug image ([`annotate`]).

pub mod annotate;
pub mod io;
pub mod resample;
