//! The library's `log` messages (targets `lowres_fer::*`) as ROS log messages
//! of the node's logger, so they reach the console and /rosout like the node's
//! own. Other crates' records (r2r itself logs through `log` when rcutils
//! fails) are dropped here, which also rules out a loop through r2r.

use log::{Level, LevelFilter, Log, Metadata, Record};

struct RosLog {
    logger: String,
}

impl Log for RosLog {
    fn enabled(&self, m: &Metadata) -> bool {
        m.level() <= Level::Info && m.target().starts_with("lowres_fer")
    }

    fn log(&self, r: &Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let logger = self.logger.as_str();
        // r2r panics on a NUL inside the message; a library message may quote
        // outside data.
        let text = r.args().to_string();
        let text = crate::sanitize::no_nul(&text);
        match r.level() {
            Level::Error => r2r::log_error!(logger, "{}", text),
            Level::Warn => r2r::log_warn!(logger, "{}", text),
            _ => r2r::log_info!(logger, "{}", text),
        }
    }

    fn flush(&self) {}
}

/// Route `log` records to the ROS logger `logger` (once per process).
pub fn install(logger: &str) {
    let ros = RosLog {
        logger: logger.to_string(),
    };
    if log::set_boxed_logger(Box::new(ros)).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_library_s_records_are_forwarded() {
        let ros = RosLog {
            logger: "lowres_fer".into(),
        };
        let meta = |target: &'static str, level| {
            log::MetadataBuilder::new()
                .target(target)
                .level(level)
                .build()
        };
        assert!(ros.enabled(&meta("lowres_fer::models", Level::Warn)));
        assert!(!ros.enabled(&meta("r2r::utils", Level::Error)));
        assert!(!ros.enabled(&meta("lowres_fer::models", Level::Debug)));
    }
}
