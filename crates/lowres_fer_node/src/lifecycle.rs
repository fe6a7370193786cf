//! The ROS 2 managed-node (lifecycle) state machine, ROS-free: the states,
//! transition ids and labels of rcl_lifecycle's default state machine
//! (lifecycle_msgs/msg/State and Transition), so a standard lifecycle client
//! (`ros2 lifecycle`, launch_ros' LifecycleNode, nav2's lifecycle manager)
//! sees what it would see from an rclcpp LifecycleNode. The node's services
//! (crates/lowres_fer_node/src/lifecycle_srv.rs) drive it; the work of each
//! transition is node.rs's.

/// lifecycle_msgs/msg/State ids, with rcl_lifecycle's labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    Unknown = 0,
    Unconfigured = 1,
    Inactive = 2,
    Active = 3,
    Finalized = 4,
    Configuring = 10,
    CleaningUp = 11,
    ShuttingDown = 12,
    Activating = 13,
    Deactivating = 14,
    ErrorProcessing = 15,
}

impl State {
    pub const ALL: [State; 11] = [
        State::Unknown,
        State::Unconfigured,
        State::Inactive,
        State::Active,
        State::Finalized,
        State::Configuring,
        State::CleaningUp,
        State::ShuttingDown,
        State::Activating,
        State::Deactivating,
        State::ErrorProcessing,
    ];

    pub fn id(self) -> u8 {
        self as u8
    }

    pub fn label(self) -> &'static str {
        match self {
            State::Unknown => "unknown",
            State::Unconfigured => "unconfigured",
            State::Inactive => "inactive",
            State::Active => "active",
            State::Finalized => "finalized",
            State::Configuring => "configuring",
            State::CleaningUp => "cleaningup",
            State::ShuttingDown => "shuttingdown",
            State::Activating => "activating",
            State::Deactivating => "deactivating",
            State::ErrorProcessing => "errorprocessing",
        }
    }
}

/// One edge of the graph (lifecycle_msgs/msg/TransitionDescription).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub id: u8,
    pub label: &'static str,
    pub start: State,
    pub goal: State,
}

const fn t(id: u8, label: &'static str, start: State, goal: State) -> Transition {
    Transition {
        id,
        label,
        start,
        goal,
    }
}

// lifecycle_msgs/msg/Transition ids.
pub const CONFIGURE: u8 = 1;
pub const CLEANUP: u8 = 2;
pub const ACTIVATE: u8 = 3;
pub const DEACTIVATE: u8 = 4;
pub const UNCONFIGURED_SHUTDOWN: u8 = 5;
pub const INACTIVE_SHUTDOWN: u8 = 6;
pub const ACTIVE_SHUTDOWN: u8 = 7;

const SUCCESS: &str = "transition_success";
const FAILURE: &str = "transition_failure";
const ERROR: &str = "transition_error";

use State::*;

/// rcl_lifecycle's default transition map (default_state_machine.c), in its
/// registration order: the public transitions start at primary states, the
/// others finish a transition state with the callback's outcome.
pub const TRANSITIONS: [Transition; 25] = [
    t(CONFIGURE, "configure", Unconfigured, Configuring),
    t(10, SUCCESS, Configuring, Inactive),
    t(11, FAILURE, Configuring, Unconfigured),
    t(12, ERROR, Configuring, ErrorProcessing),
    t(CLEANUP, "cleanup", Inactive, CleaningUp),
    t(20, SUCCESS, CleaningUp, Unconfigured),
    t(21, FAILURE, CleaningUp, Inactive),
    t(22, ERROR, CleaningUp, ErrorProcessing),
    t(ACTIVATE, "activate", Inactive, Activating),
    t(30, SUCCESS, Activating, Active),
    t(31, FAILURE, Activating, Inactive),
    t(32, ERROR, Activating, ErrorProcessing),
    t(DEACTIVATE, "deactivate", Active, Deactivating),
    t(40, SUCCESS, Deactivating, Inactive),
    t(41, FAILURE, Deactivating, Active),
    t(42, ERROR, Deactivating, ErrorProcessing),
    t(
        UNCONFIGURED_SHUTDOWN,
        "shutdown",
        Unconfigured,
        ShuttingDown,
    ),
    t(INACTIVE_SHUTDOWN, "shutdown", Inactive, ShuttingDown),
    t(ACTIVE_SHUTDOWN, "shutdown", Active, ShuttingDown),
    t(50, SUCCESS, ShuttingDown, Finalized),
    t(51, FAILURE, ShuttingDown, Finalized),
    t(52, ERROR, ShuttingDown, ErrorProcessing),
    t(60, SUCCESS, ErrorProcessing, Unconfigured),
    t(61, FAILURE, ErrorProcessing, Finalized),
    t(62, ERROR, ErrorProcessing, Finalized),
];

/// What a transition's callback returned (rclcpp's CallbackReturn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Error,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Success => SUCCESS,
            Outcome::Failure => FAILURE,
            Outcome::Error => ERROR,
        }
    }
}

/// The transitions leaving `state` (get_available_transitions).
pub fn available(state: State) -> impl Iterator<Item = &'static Transition> {
    TRANSITIONS.iter().filter(move |t| t.start == state)
}

/// The public transition a change_state request names from `state`: by label
/// when one is given (as rclcpp does), else by id. Only primary states accept
/// requests: a request during a transition is refused.
pub fn requested(state: State, id: u8, label: &str) -> Option<&'static Transition> {
    let from_primary = matches!(state, Unconfigured | Inactive | Active);
    available(state).find(|t| {
        from_primary
            && ![SUCCESS, FAILURE, ERROR].contains(&t.label)
            && if label.is_empty() {
                t.id == id
            } else {
                t.label == label
            }
    })
}

/// The edge that finishes transition state `state` with `outcome`.
pub fn finishing(state: State, outcome: Outcome) -> Option<&'static Transition> {
    available(state).find(|t| t.label == outcome.label())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_labels_are_lifecycle_msgs() {
        let ids: Vec<(u8, &str)> = State::ALL.iter().map(|s| (s.id(), s.label())).collect();
        assert_eq!(
            ids,
            [
                (0, "unknown"),
                (1, "unconfigured"),
                (2, "inactive"),
                (3, "active"),
                (4, "finalized"),
                (10, "configuring"),
                (11, "cleaningup"),
                (12, "shuttingdown"),
                (13, "activating"),
                (14, "deactivating"),
                (15, "errorprocessing"),
            ]
        );
        // Every id is unique within its kind.
        let mut tids: Vec<u8> = TRANSITIONS.iter().map(|t| t.id).collect();
        tids.sort_unstable();
        tids.dedup();
        assert_eq!(tids.len(), TRANSITIONS.len());
    }

    #[test]
    fn primary_states_offer_the_standard_transitions() {
        let labels = |s| available(s).map(|t| (t.id, t.label)).collect::<Vec<_>>();
        assert_eq!(labels(Unconfigured), [(1, "configure"), (5, "shutdown")]);
        assert_eq!(
            labels(Inactive),
            [(2, "cleanup"), (3, "activate"), (6, "shutdown")]
        );
        assert_eq!(labels(Active), [(4, "deactivate"), (7, "shutdown")]);
        assert!(labels(Finalized).is_empty());
    }

    #[test]
    fn requests_by_id_or_label_and_invalid_ones_are_refused() {
        assert_eq!(
            requested(Unconfigured, CONFIGURE, "").map(|t| t.goal),
            Some(Configuring)
        );
        assert_eq!(
            requested(Inactive, 0, "activate").map(|t| t.id),
            Some(ACTIVATE)
        );
        // The label wins over the id, as in rclcpp.
        assert_eq!(
            requested(Active, ACTIVATE, "shutdown").map(|t| t.id),
            Some(ACTIVE_SHUTDOWN)
        );
        assert!(requested(Unconfigured, ACTIVATE, "").is_none());
        assert!(requested(Unconfigured, 0, "activate").is_none());
        assert!(requested(Active, CLEANUP, "").is_none());
        assert!(requested(Finalized, CONFIGURE, "").is_none());
        // Finishing edges are not requests, nor is anything during a transition.
        assert!(requested(Configuring, 10, "").is_none());
        assert!(requested(Unconfigured, 0, "transition_success").is_none());
        assert!(requested(Inactive, 99, "").is_none());
    }

    #[test]
    fn outcomes_lead_where_the_design_article_says() {
        let goal = |s, o| finishing(s, o).map(|t| t.goal);
        assert_eq!(goal(Configuring, Outcome::Success), Some(Inactive));
        assert_eq!(goal(Configuring, Outcome::Failure), Some(Unconfigured));
        assert_eq!(goal(Configuring, Outcome::Error), Some(ErrorProcessing));
        assert_eq!(goal(Activating, Outcome::Success), Some(Active));
        assert_eq!(goal(Activating, Outcome::Failure), Some(Inactive));
        assert_eq!(goal(Deactivating, Outcome::Success), Some(Inactive));
        assert_eq!(goal(Deactivating, Outcome::Failure), Some(Active));
        assert_eq!(goal(CleaningUp, Outcome::Success), Some(Unconfigured));
        assert_eq!(goal(ShuttingDown, Outcome::Success), Some(Finalized));
        assert_eq!(goal(ShuttingDown, Outcome::Failure), Some(Finalized));
        // on_error: recovered -> unconfigured, else finalized.
        assert_eq!(goal(ErrorProcessing, Outcome::Success), Some(Unconfigured));
        assert_eq!(goal(ErrorProcessing, Outcome::Failure), Some(Finalized));
        assert_eq!(goal(ErrorProcessing, Outcome::Error), Some(Finalized));
        assert!(finishing(Active, Outcome::Success).is_none());
    }

    #[test]
    fn every_transition_state_finishes_with_every_outcome() {
        // Machine::trigger relies on it: a callback can never leave the node stuck.
        for s in [
            Configuring,
            CleaningUp,
            ShuttingDown,
            Activating,
            Deactivating,
            ErrorProcessing,
        ] {
            for o in [Outcome::Success, Outcome::Failure, Outcome::Error] {
                let t = finishing(s, o).unwrap_or_else(|| panic!("{s:?} has no {o:?} edge"));
                assert_ne!(t.goal, s);
            }
        }
        // Only error processing may follow an error processing error: finalized.
        for t in TRANSITIONS.iter().filter(|t| t.goal == ErrorProcessing) {
            assert_eq!(t.label, "transition_error", "{t:?}");
        }
    }
}
