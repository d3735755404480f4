//! One simulated server: its process (a role machine, or none while dead or restarting)
//! and what survives a restart (the journal), plus the world's per-server bookkeeping.

use std::collections::VecDeque;
use std::time::Duration;

use arrayvec::ArrayVec;
use sft3::role::{
    Action, Notice, ResyncKind, ResyncRole, RoleMachine, RoleMessage, RoleState, ShutdownReason,
};

use super::world::PATHS;

/// One server: its process (a machine, or none while dead) and what survives a restart.
pub struct Node {
    pub id: u64,
    pub priority: u8,
    pub machine: Option<RoleMachine>,
    pub incarnation: u64,
    pub serving: bool,
    pub restart_at: Option<Duration>,
    /// The process is frozen (not scheduled) until then.
    pub stalled_until: Option<Duration>,
    /// When the process last came back from a stall.
    pub(crate) running_since: Duration,
    pub shut_down: Option<ShutdownReason>,
    pub restarts_as_secondary: u32,
    // The journal (survives restarts).
    pub history: ArrayVec<u64, 8>,
    pub tracked_since: u64,
    pub consistent: bool,
    // Health as the health layer would report it.
    pub hears_network: bool,
    pub verdict: bool,
    pub(crate) sent_health: Option<bool>,
    pub(crate) sent_verdict: Option<bool>,
    // MSL session view.
    pub(crate) session: Option<u64>,
    pub(crate) msl_silent: bool,
    pub(crate) last_rx: Duration,
    // LAN.
    pub(crate) lan_last: [Option<Duration>; PATHS],
    pub(crate) lan_up: [bool; PATHS],
    // Resync end: role, kind, ms done.
    pub(crate) resync: Option<(ResyncRole, ResyncKind, u32)>,
    pub(crate) inbox: VecDeque<(Duration, u64, RoleMessage)>,
    pub notices: Vec<Notice>,
    pub actions: Vec<(Duration, Action)>,
}

impl Node {
    pub(crate) fn new(id: u64, priority: u8) -> Node {
        let mut history = ArrayVec::new();
        history.push(1);
        Node {
            id,
            priority,
            machine: None,
            incarnation: 0,
            serving: false,
            restart_at: None,
            stalled_until: None,
            running_since: Duration::ZERO,
            shut_down: None,
            restarts_as_secondary: 0,
            history,
            tracked_since: 0,
            consistent: true,
            hears_network: true,
            verdict: false,
            sent_health: None,
            sent_verdict: None,
            session: None,
            msl_silent: false,
            last_rx: Duration::ZERO,
            lan_last: [None; PATHS],
            lan_up: [false; PATHS],
            resync: None,
            inbox: VecDeque::new(),
            notices: Vec::new(),
            actions: Vec::new(),
        }
    }

    /// The machine's state, or `None` while the process is down.
    pub fn state(&self) -> Option<RoleState> {
        self.machine.as_ref().map(|m| m.state())
    }

    /// True when a notice with this text was given.
    pub fn said(&self, text: &str) -> bool {
        self.notices.iter().any(|n| n.text == text)
    }

    /// True when this action was taken.
    pub fn did(&self, a: &Action) -> bool {
        self.actions.iter().any(|(_, x)| x == a)
    }

    /// The process exists and runs (not dead, not frozen).
    pub(crate) fn alive(&self) -> bool {
        self.machine.is_some() && self.stalled_until.is_none()
    }
}
