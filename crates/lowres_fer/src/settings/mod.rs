//! Settings: the plain configuration types ([`config`], depending on nothing)
//! and the one table that declares, defaults and checks every parameter
//! ([`params`]).

pub mod config;
pub mod params;
