//! Live parameters (issue 26): `ros2 param set` on the node's
//! `set_parameters` services, checked by the one parameter table
//! ([`Settings::with_change`]: type, range, cross-checks against the values
//! in force), then handed to the inference worker, which applies them between
//! two frames.
//!
//! The services are r2r 0.9.7's `make_derived_parameter_handler`, given a
//! hand-written [`RosParams`] for [`Table`] (the derive macro would declare
//! struct fields; ours come from `PARAMS`). How r2r uses it:
//! - `set_parameters`: [`RosParams::set_parameter`] per parameter, in order; an
//!   `Err` answers that parameter failed with the error's text and r2r leaves
//!   `node.params` alone, `Ok` makes r2r store the value in `node.params` and
//!   emit a change event.
//! - `set_parameters_atomically`: [`RosParams::check_parameter`] of every
//!   parameter first (each against the values in force, not the request's
//!   others), then `set_parameter` of each.
//! - `get_parameters` asks [`RosParams::get_parameter`] first (the value in
//!   force, as read), `list`/`describe`/`get_parameter_types` read
//!   `node.params`. r2r's describe leaves `ParameterDescriptor.read_only`
//!   false, so the read-only ones say so in their description
//!   (`Param::description`).
//!
//! r2r turns an error into the reason with `to_string()` and has no free-text
//! error: range and read-only refusals use `ParameterValueConv` ("Parameter
//! NAME conversion failed: REASON"), wrong types `InvalidParameterType`,
//! undeclared names `InvalidParameterName`.
//!
//! Hand-off: the service task (on the tokio executor) stores the new
//! [`Settings`] under a mutex held only for a pointer swap and bumps a
//! generation counter; the worker compares the counter (one atomic load per
//! frame) and takes the settings only when it moved. Neither side waits on
//! the other's work.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use futures::StreamExt;
use r2r::{Parameter, ParameterValue, RosParams};

use super::logging as ros_log;
use super::params as ros_params;
use crate::handoff::lock;
use lowres_fer::sanitize;
use lowres_fer::settings::params::{
    find, Given, InvalidParameter, LiveChangeError, Settings, Source, NOT_LIVE,
};

/// The settings in force, shared between the parameter services and the worker.
pub struct LiveSettings {
    generation: AtomicU64,
    current: Mutex<Arc<Settings>>,
}

impl LiveSettings {
    /// Generation 0: the start-up settings, which the worker already runs on.
    pub fn new(settings: &Settings) -> Self {
        Self {
            generation: AtomicU64::new(0),
            current: Mutex::new(Arc::new(settings.clone())),
        }
    }

    /// The settings in force when they changed since generation `seen`
    /// (which is moved on); `None` (one atomic load) otherwise.
    pub fn changed(&self, seen: &mut u64) -> Option<Arc<Settings>> {
        let now = self.generation.load(Ordering::Acquire);
        if now == *seen {
            return None;
        }
        *seen = now;
        Some(lock(&self.current).clone())
    }

    fn publish(&self, settings: Settings) {
        *lock(&self.current) = Arc::new(settings);
        // After the store: a worker that sees the new generation finds these
        // settings (or newer ones, applied again at the next bump: harmless).
        self.generation.fetch_add(1, Ordering::Release);
    }
}

/// The parameter table behind r2r's services: the values in force by name.
pub struct Table {
    values: Given,
    source: Source,
    live: Arc<LiveSettings>,
}

impl Table {
    /// `declared`: every parameter with its effective value (node.params after
    /// the declaration at start-up).
    pub fn new(declared: Given, source: Source, live: Arc<LiveSettings>) -> Self {
        Self {
            values: declared,
            source,
            live,
        }
    }

    /// The values and settings after setting `name` to `value`, or why not.
    fn check(&self, name: &str, value: &ParameterValue) -> r2r::Result<(Given, Settings)> {
        let refused = |name: &str, msg: String| r2r::Error::ParameterValueConv {
            name: sanitize::wire(name),
            msg,
        };
        // rclcpp/r2r's own: read when the node starts.
        if name == "use_sim_time" || name.starts_with("qos_overrides.") {
            return Err(refused(name, NOT_LIVE.to_string()));
        }
        if find(name).is_none() {
            return Err(r2r::Error::InvalidParameterName {
                name: sanitize::wire(name),
            });
        }
        let Some(v) = ros_params::value(value) else {
            return Err(refused(
                name,
                "a declared parameter cannot be unset".to_string(),
            ));
        };
        let (values, settings) =
            Settings::with_change(&self.values, name, v).map_err(|e| match e {
                LiveChangeError::Undeclared(n) => r2r::Error::InvalidParameterName { name: n },
                LiveChangeError::ReadOnly(n) => refused(n, NOT_LIVE.to_string()),
                LiveChangeError::Invalid(InvalidParameter::Type { name, want, .. }) => {
                    r2r::Error::InvalidParameterType {
                        name: name.to_string(),
                        ty: want,
                    }
                }
                LiveChangeError::Invalid(InvalidParameter::Range {
                    name,
                    value,
                    allowed,
                }) => refused(name, format!("{value} is invalid: allowed {allowed}")),
            })?;
        // The drop-in worker (CropClassifier) is not wired for run-time changes.
        if self.source == Source::Ros4hriFaces {
            return Err(refused(
                name,
                "not applied in the drop-in mode (input.source: ros4hri_faces): restart the node to change it"
                    .to_string(),
            ));
        }
        Ok((values, settings))
    }
}

impl RosParams for Table {
    /// Nothing to add: `node.rs` declared every parameter of the table, with
    /// its effective value and description, before the services start.
    fn register_parameters(
        &mut self,
        _prefix: &str,
        _param: Option<Parameter>,
        _params: &mut r2r::indexmap::IndexMap<String, Parameter>,
    ) -> r2r::Result<()> {
        Ok(())
    }

    fn get_parameter(&mut self, name: &str) -> r2r::Result<ParameterValue> {
        match self.values.get(name) {
            Some(v) => Ok(ros_params::ros_value(v.clone())),
            // r2r then answers from node.params (use_sim_time, ...).
            None => Err(r2r::Error::InvalidParameterName {
                name: name.to_string(),
            }),
        }
    }

    fn set_parameter(&mut self, name: &str, value: &ParameterValue) -> r2r::Result<()> {
        let (values, settings) = self.check(name, value)?;
        self.values = values;
        self.live.publish(settings);
        Ok(())
    }

    fn check_parameter(&self, name: &str, value: &ParameterValue) -> r2r::Result<()> {
        self.check(name, value).map(|_| ())
    }
}

/// Start the parameter services of `node` on `rt` over the values declared in
/// `node.params`; accepted changes go to `live` and are logged.
pub fn serve(
    node: &mut r2r::Node,
    rt: &tokio::runtime::Runtime,
    source: Source,
    live: Arc<LiveSettings>,
    logger: &str,
) -> Result<()> {
    let declared = ros_params::given(lock(&node.params).iter().map(|(k, v)| (k, &v.value)))
        .into_iter()
        .filter(|(k, _)| find(k).is_some())
        .collect();
    let table = Arc::new(Mutex::new(Table::new(declared, source, live)));
    let (handler, mut events) = node.make_derived_parameter_handler(table)?;
    rt.spawn(handler);
    let logger = logger.to_string();
    rt.spawn(async move {
        while let Some((name, value)) = events.next().await {
            ros_log::info(
                &logger,
                &format!(
                    "parameter '{}' set to {}: in force from the next frame",
                    sanitize::wire(&name),
                    sanitize::wire(&format!("{value:?}"))
                ),
            );
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(source: Source) -> Table {
        let declared = Settings::effective(&Given::new())
            .into_iter()
            .map(|(p, v)| (p.name.to_string(), v))
            .collect();
        Table::new(
            declared,
            source,
            Arc::new(LiveSettings::new(&Settings::defaults())),
        )
    }

    #[test]
    fn a_valid_change_reaches_the_worker_once() {
        let mut t = table(Source::Camera);
        let mut seen = 0;
        assert!(t.live.changed(&mut seen).is_none());
        t.set_parameter("detector.score_threshold", &ParameterValue::Double(0.9))
            .unwrap();
        let s = t.live.changed(&mut seen).expect("new settings");
        assert_eq!(s.pipeline.detector.score_threshold, 0.9);
        assert!(t.live.changed(&mut seen).is_none());
        assert_eq!(
            t.get_parameter("detector.score_threshold").unwrap(),
            ParameterValue::Double(0.9)
        );
    }

    #[test]
    fn refusals_say_why_and_change_nothing() {
        let mut t = table(Source::Camera);
        let mut seen = 0;
        for (name, value, needle) in [
            (
                "detector.score_threshold",
                ParameterValue::Double(1.5),
                "allowed [0.0, 1.0]",
            ),
            (
                "detector.score_threshold",
                ParameterValue::String("high".into()),
                "should be double",
            ),
            (
                "detector.model",
                ParameterValue::String("back".into()),
                NOT_LIVE,
            ),
            ("use_sim_time", ParameterValue::Bool(true), NOT_LIVE),
            (
                "detector.modle",
                ParameterValue::Bool(true),
                "Invalid parameter name",
            ),
            (
                "tracking.enabled",
                ParameterValue::NotSet,
                "cannot be unset",
            ),
        ] {
            let e = t.set_parameter(name, &value).unwrap_err().to_string();
            assert!(e.contains(needle), "{name}: {e}");
            assert!(t.check_parameter(name, &value).is_err());
        }
        assert!(t.live.changed(&mut seen).is_none());
        // Still the default.
        assert_eq!(
            t.get_parameter("detector.score_threshold").unwrap(),
            match lowres_fer::settings::params::find("detector.score_threshold").map(|p| p.default)
            {
                Some(lowres_fer::settings::params::Default::Double(d)) => ParameterValue::Double(d),
                other => panic!("detector.score_threshold's default: {other:?}"),
            }
        );
        let mut d = table(Source::Ros4hriFaces);
        let e = d
            .set_parameter("detector.score_threshold", &ParameterValue::Double(0.9))
            .unwrap_err()
            .to_string();
        assert!(e.contains("drop-in mode"), "{e}");
    }
}
