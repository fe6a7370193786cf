//! `lowres_fer_node`: facial emotion recognition on a ROS 2 image topic.
//! Usage: lowres_fer_node [--ros-args --params-file config/default.yaml -r image:=/camera/image_raw]

use std::process::ExitCode;

fn main() -> ExitCode {
    match lowres_fer_node::node::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Start-up failures (bad parameter, missing models) end here: one
            // clear line on stderr, non-zero exit for launch/systemd to see.
            let text = format!("{e:#}");
            eprintln!(
                "[lowres_fer_node] fatal: {}",
                lowres_fer::sanitize::line(&text)
            );
            ExitCode::FAILURE
        }
    }
}
