//! The library's `log` messages (targets `lowres_fer::*`) as ROS log messages
//! of the node's logger, so they reach the console and /rosout like the node's
//! own. Other crates' records (r2r itself logs through `log` when rcutils
//! fails) are dropped here, which also rules out a loop through r2r.

use log::{Level, LevelFilter, Log, Metadata, Record};

use lowres_fer::sanitize;

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
        let text = r.args().to_string();
        match r.level() {
            Level::Error => error(&self.logger, &text),
            Level::Warn => warn(&self.logger, &text),
            _ => info(&self.logger, &text),
        }
    }

    fn flush(&self) {}
}

// Every line the node logs goes through one of these three: a message may
// quote outside data or a library's error text (a newline would split the
// line, and r2r panics on a NUL), so the whole line is escaped here.

/// `text` as one warning line of `logger` (console and /rosout).
pub fn warn(logger: &str, text: &str) {
    r2r::log_warn!(logger, "{}", sanitize::line(text));
}

/// `text` as one error line of `logger`.
pub fn error(logger: &str, text: &str) {
    r2r::log_error!(logger, "{}", sanitize::line(text));
}

/// `text` as one info line of `logger`.
pub fn info(logger: &str, text: &str) {
    r2r::log_info!(logger, "{}", sanitize::line(text));
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
