//! rosbag2 workflows without a ROS graph: read MCAP / SQLite3 bags, decode
//! image messages, run the pipeline on every frame, write an MCAP bag of
//! results plus a summary, score against ground truth. Used by the
//! `lowres_fer_bag` executable (docs/rosbag.md).

pub mod cdr;
pub mod html;
pub mod msgs;
pub mod offline;
pub mod output_dir;
pub mod params_file;
pub mod reader;
mod report;
pub mod truth;
pub mod writer;
