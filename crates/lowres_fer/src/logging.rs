//! Library messages use the `log` crate (`log::warn!` ...), so each executable
//! decides where they go: the node forwards them to its ROS logger
//! (crates/lowres_fer_node/src/logging.rs: console and /rosout), the command-line tools install
//! [`init_stderr`].

use log::{Level, LevelFilter, Log, Metadata, Record};

struct Stderr {
    prefix: &'static str,
}

impl Log for Stderr {
    fn enabled(&self, m: &Metadata) -> bool {
        m.level() <= Level::Info
    }

    fn log(&self, r: &Record) {
        if self.enabled(r.metadata()) {
            let level = match r.level() {
                Level::Error => "error",
                Level::Warn => "warning",
                _ => "info",
            };
            // The leading newline ends a progress line left on a terminal.
            let text = r.args().to_string();
            eprintln!(
                "\n{}: {level}: {}",
                self.prefix,
                crate::sanitize::line(&text)
            );
        }
    }

    fn flush(&self) {}
}

/// Print info, warning and error messages on stderr as `PREFIX: LEVEL: message`.
/// A second call (or another logger already installed) changes nothing.
pub fn init_stderr(prefix: &'static str) {
    if log::set_boxed_logger(Box::new(Stderr { prefix })).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}
