//! Creating the ROS 2 context without a panic on bad command-line arguments.
//!
//! r2r 0.9.7 `panic!`s inside `Context::create` when `rcl_init` rejects the
//! arguments (an invalid-YAML or missing `--params-file`, `-p name:=` with an
//! empty value, a malformed remap, ...), and `std::env::args` panics on a
//! non-UTF-8 argument: the node died with exit code 101 and a backtrace hint
//! instead of the clear one-line message the README promises. Here the panic
//! is caught (its default report silenced) and turned into an error that
//! names the cause; `main` prints it and exits 1.

use std::panic::{self, AssertUnwindSafe};

use anyhow::{anyhow, Result};

/// Text of a panic payload (`panic!("{}", msg)` carries a String).
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "unknown error".into()
    }
}

/// Run `f` with panics turned into errors and the default panic report
/// (message + "run with RUST_BACKTRACE=1") suppressed. Only for start-up, while
/// no other thread of ours runs: the panic hook is process-wide.
pub fn without_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let outcome = panic::catch_unwind(AssertUnwindSafe(f));
    panic::set_hook(previous);
    outcome.map_err(|p| panic_text(p.as_ref()))
}

/// Explain the usual causes next to rcl's message (which names the failing
/// argument but not what to do).
fn advice(rcl_message: &str) -> &'static str {
    let m = rcl_message.to_ascii_lowercase();
    if m.contains("param") || m.contains("yaml") || m.contains("file") {
        "check every --params-file exists and is valid YAML, and every -p name:=value has a value"
    } else if m.contains("utf-8") || m.contains("unicode") {
        "an argument is not valid UTF-8"
    } else {
        "check the --ros-args part of the command line"
    }
}

/// `r2r::Context::create`, with argument errors as a clean error.
pub fn create() -> Result<r2r::Context> {
    match without_panic(r2r::Context::create) {
        Ok(Ok(ctx)) => Ok(ctx),
        Ok(Err(e)) => Err(anyhow!("cannot initialise ROS 2 (rcl): {e}")),
        Err(msg) => {
            let msg = lowres_fer::sanitize::wire_max(msg.trim(), 400);
            Err(anyhow!("invalid ROS arguments: {msg} ({})", advice(&msg)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_errors_and_the_hook_is_restored() {
        let e = without_panic(|| -> u32 { panic!("{}", String::from("rcl said no")) }).unwrap_err();
        assert_eq!(e, "rcl said no");
        let e = without_panic(|| -> u32 { panic!("static") }).unwrap_err();
        assert_eq!(e, "static");
        assert_eq!(without_panic(|| 7).unwrap(), 7);
    }

    #[test]
    fn advice_names_the_params_file() {
        assert!(advice("Couldn't parse params file: 'x.yaml'").contains("--params-file"));
        assert!(advice("Couldn't parse parameter override rule").contains("-p name:=value"));
        assert!(advice("bad remap").contains("--ros-args"));
    }
}
