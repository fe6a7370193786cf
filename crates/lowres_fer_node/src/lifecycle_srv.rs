//! The lifecycle protocol on the graph: `<node>/change_state`, `get_state`,
//! `get_available_states`, `get_available_transitions`,
//! `get_transition_graph` and `<node>/transition_event`, over the pure state
//! machine of crates/lowres_fer_node/src/lifecycle.rs.
//!
//! The read-only services answer on the tokio executor (a short lock). A
//! change_state request is forwarded to the node's lifecycle thread, which
//! runs the transition's work (configure loads models: seconds) off the
//! executor and answers when it is done, as rclcpp does.

use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;
use futures::StreamExt;
use r2r::lifecycle_msgs::msg::{
    State as StateMsg, Transition as TransitionMsg, TransitionDescription, TransitionEvent,
};
use r2r::lifecycle_msgs::srv::{
    ChangeState, GetAvailableStates, GetAvailableTransitions, GetState,
};
use r2r::{Publisher, QosProfile, ServiceRequest};

use super::lifecycle::{self as lc, Outcome, State};
use super::logging as ros_log;
use crate::handoff::lock;

/// The work of each transition (rclcpp's on_configure, ...).
pub trait Callbacks {
    fn on_configure(&mut self) -> Outcome;
    fn on_activate(&mut self) -> Outcome;
    fn on_deactivate(&mut self) -> Outcome;
    fn on_cleanup(&mut self) -> Outcome;
    /// From any primary state: free everything.
    fn on_shutdown(&mut self) -> Outcome;
    /// After a callback's Error: Success -> unconfigured, else finalized.
    fn on_error(&mut self) -> Outcome;
}

/// What the lifecycle thread is asked to do.
pub enum Command {
    /// A change_state request (its reply is sent once the transition ends).
    Change(ServiceRequest<ChangeState::Service>),
    /// Start-up (lifecycle.autostart) or a signal: a transition by label,
    /// with no client waiting.
    Internal(&'static str),
}

fn state_msg(s: State) -> StateMsg {
    StateMsg {
        id: s.id(),
        label: s.label().into(),
    }
}

fn description(t: &lc::Transition) -> TransitionDescription {
    TransitionDescription {
        transition: TransitionMsg {
            id: t.id,
            label: t.label.into(),
        },
        start_state: state_msg(t.start),
        goal_state: state_msg(t.goal),
    }
}

/// The current state and the transition_event publisher.
pub struct Machine {
    state: Arc<Mutex<State>>,
    events: Publisher<TransitionEvent>,
    logger: String,
}

impl Machine {
    pub fn state(&self) -> State {
        *lock(&self.state)
    }

    fn step(&self, t: &lc::Transition) {
        *lock(&self.state) = t.goal;
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let event = TransitionEvent {
            timestamp,
            transition: TransitionMsg {
                id: t.id,
                label: t.label.into(),
            },
            start_state: state_msg(t.start),
            goal_state: state_msg(t.goal),
        };
        if let Err(e) = self.events.publish(&event) {
            ros_log::warn(
                &self.logger,
                &format!("cannot publish transition_event: {e}"),
            );
        }
    }

    /// Run the transition `label` (or `id` when no label is given) from the
    /// current state; true when its callback succeeded (change_state's
    /// `success`). An invalid request changes nothing.
    pub fn trigger(&self, cb: &mut dyn Callbacks, id: u8, label: &str) -> bool {
        let from = self.state();
        let Some(t) = lc::requested(from, id, label) else {
            ros_log::warn(
                &self.logger,
                &format!(
                    "lifecycle: no transition '{}' (id {id}) from state '{}'",
                    lowres_fer::sanitize::wire(label),
                    from.label()
                ),
            );
            return false;
        };
        self.step(t);
        let outcome = match t.goal {
            State::Configuring => cb.on_configure(),
            State::CleaningUp => cb.on_cleanup(),
            State::Activating => cb.on_activate(),
            State::Deactivating => cb.on_deactivate(),
            _ => cb.on_shutdown(),
        };
        self.finish(t.goal, outcome);
        if self.state() == State::ErrorProcessing {
            let recovered = cb.on_error();
            self.finish(State::ErrorProcessing, recovered);
        }
        ros_log::info(
            &self.logger,
            &format!(
                "lifecycle: {} -> {} ({})",
                from.label(),
                self.state().label(),
                t.label
            ),
        );
        outcome == Outcome::Success
    }

    fn finish(&self, at: State, outcome: Outcome) {
        // Every transition state has all three finishing edges (unit-tested).
        if let Some(t) = lc::finishing(at, outcome) {
            self.step(t);
        }
    }
}

/// Create the services and the event topic on `node` (before it moves to the
/// spin thread); change_state requests go to `commands`.
pub fn create(
    node: &mut r2r::Node,
    rt: &tokio::runtime::Runtime,
    commands: Sender<Command>,
    logger: &str,
) -> Result<Machine> {
    let state = Arc::new(Mutex::new(State::Unconfigured));
    let events = node.create_publisher::<TransitionEvent>(
        "~/transition_event",
        QosProfile::default().keep_last(10),
    )?;
    let qos = QosProfile::services_default;

    let mut change = node.create_service::<ChangeState::Service>("~/change_state", qos())?;
    rt.spawn(async move {
        while let Some(req) = change.next().await {
            if commands.send(Command::Change(req)).is_err() {
                break; // the lifecycle thread is gone: the node is exiting
            }
        }
    });

    let mut get_state = node.create_service::<GetState::Service>("~/get_state", qos())?;
    let s = state.clone();
    rt.spawn(async move {
        while let Some(req) = get_state.next().await {
            let current_state = state_msg(*lock(&s));
            let _ = req.respond(GetState::Response { current_state });
        }
    });

    let mut states =
        node.create_service::<GetAvailableStates::Service>("~/get_available_states", qos())?;
    rt.spawn(async move {
        while let Some(req) = states.next().await {
            let available_states = State::ALL.iter().map(|s| state_msg(*s)).collect();
            let _ = req.respond(GetAvailableStates::Response { available_states });
        }
    });

    let mut transitions = node
        .create_service::<GetAvailableTransitions::Service>("~/get_available_transitions", qos())?;
    let s = state.clone();
    rt.spawn(async move {
        while let Some(req) = transitions.next().await {
            let current = *lock(&s);
            let available_transitions = lc::available(current).map(description).collect();
            let _ = req.respond(GetAvailableTransitions::Response {
                available_transitions,
            });
        }
    });

    // get_transition_graph has GetAvailableTransitions' type (as in rclcpp).
    let mut graph =
        node.create_service::<GetAvailableTransitions::Service>("~/get_transition_graph", qos())?;
    rt.spawn(async move {
        while let Some(req) = graph.next().await {
            let available_transitions = lc::TRANSITIONS.iter().map(description).collect();
            let _ = req.respond(GetAvailableTransitions::Response {
                available_transitions,
            });
        }
    });

    Ok(Machine {
        state,
        events,
        logger: logger.to_string(),
    })
}

/// Run one command on the lifecycle thread, answering its client.
pub fn handle(machine: &Machine, cb: &mut dyn Callbacks, command: Command) {
    match command {
        Command::Change(req) => {
            let t = &req.message.transition;
            let (id, label) = (t.id, t.label.clone());
            let success = machine.trigger(cb, id, &label);
            let _ = req.respond(ChangeState::Response { success });
        }
        Command::Internal(label) => {
            machine.trigger(cb, 0, label);
        }
    }
}
