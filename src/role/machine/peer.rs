//! What the machine knows of the peer: the MSL handshake and the latest state packet.

use core::time::Duration;

use arrayvec::ArrayVec;

use crate::msl::{HandshakeRepr, MAX_HISTORY};
use crate::wire::state::{Role, StateFlags};

use crate::role::types::PeerStatus;

/// The peer as last heard, from whichever source spoke last.
#[derive(Clone, Debug)]
pub(super) struct PeerView {
    /// The handshake of the current MSL session (`None` before one, or after a restart).
    pub handshake: Option<HandshakeRepr>,
    /// The newest incarnation seen; state packets of older ones are stale.
    incarnation: u64,
    /// The incarnation of the current (or last) MSL session.
    session_incarnation: u64,
    /// State packets of incarnations below this one come from a process known to be gone.
    dead_below: u64,
    /// State packets of this incarnation no longer count as serving (it released).
    released_incarnation: Option<u64>,
    /// Latest role.
    pub role: Role,
    /// Latest flags.
    pub flags: StateFlags,
    /// Latest tie-break priority.
    pub priority: u8,
    server_id: u64,
    /// Latest current generation.
    pub generation: u64,
    /// When a state packet was last heard on any LAN path.
    pub lan_heard_at: Option<Duration>,
    /// When a state packet's content (role, flags) was last taken, with the MSL not up.
    pub lan_state_at: Option<Duration>,
    /// Since when the peer says, without a break, that it serves.
    pub serving_since: Option<Duration>,
    /// Since when the peer's state packets say, without a break, that it serves, taken
    /// while the MSL is up too (where they do not set the role): the dual-primary check's
    /// second witness, for when the MSL holds a `Status` back (a lossy link retransmitting).
    pub lan_serving_since: Option<Duration>,
    /// Something (handshake or state packet) was heard from the peer's process since it
    /// was last forgotten (restarted).
    pub heard_since_restart: bool,
    /// The peer, a primary back from a stall, paused its serving and asked whether we took
    /// over ([`RoleMessage::StallCheck`](crate::role::RoleMessage::StallCheck)): until
    /// this time its claims to serve are not a second primary's (it steps down on our
    /// answer if we serve).
    pub asking_until: Option<Duration>,
}

impl Default for PeerView {
    fn default() -> PeerView {
        PeerView {
            handshake: None,
            incarnation: 0,
            session_incarnation: 0,
            dead_below: 0,
            released_incarnation: None,
            role: Role::Unknown(0),
            flags: StateFlags(0),
            priority: 0,
            server_id: 0,
            generation: 0,
            lan_heard_at: None,
            lan_state_at: None,
            serving_since: None,
            lan_serving_since: None,
            heard_since_restart: false,
            asking_until: None,
        }
    }
}

impl PeerView {
    /// The peer's generations for [`compare`](crate::role::generation::compare): the
    /// handshake's history, unless a later state packet shows a current generation the
    /// handshake did not have (the peer served alone since the session began, e.g. across
    /// an MSL silence): then that generation alone, so a peer with data we never saw
    /// compares as diverged, never as older. `None` before a handshake.
    pub fn generations(&self) -> Option<(ArrayVec<u64, MAX_HISTORY>, u64)> {
        let hs = self.handshake.as_ref()?;
        if self.generation != 0 && hs.history.first() != Some(&self.generation) {
            return Some(([self.generation].into_iter().collect(), 0));
        }
        Some((hs.history.clone(), hs.tracked_since))
    }

    /// The peer's server id (0 before it was heard).
    pub fn server_id(&self) -> u64 {
        self.server_id
    }

    /// The peer answers clients (by its latest word).
    pub fn serving(&self) -> bool {
        self.flags.contains(StateFlags::SERVING) || self.role.is_primary()
    }

    /// Its data is consistent (by its latest word).
    pub fn consistent(&self) -> bool {
        self.flags.contains(StateFlags::DATA_CONSISTENT)
    }

    fn set(&mut self, now: Duration, role: Role, mut flags: StateFlags, priority: u8) {
        if self.released_incarnation == Some(self.incarnation) {
            // Packets sent before the release may still be on the way.
            flags = StateFlags(flags.0 & !StateFlags::SERVING.0);
        }
        self.role = if self.released_incarnation == Some(self.incarnation) && role.is_primary() {
            Role::ShutDown
        } else {
            role
        };
        self.flags = flags;
        self.priority = priority;
        if self.serving() {
            self.serving_since.get_or_insert(now);
        } else {
            self.serving_since = None;
        }
    }

    /// A new MSL session's handshake.
    pub fn update_from_handshake(&mut self, now: Duration, incarnation: u64, hs: HandshakeRepr) {
        self.incarnation = self.incarnation.max(incarnation);
        self.session_incarnation = incarnation;
        self.heard_since_restart = true;
        self.server_id = hs.server_id;
        self.generation = hs.history.first().copied().unwrap_or(0);
        self.set(now, hs.role, hs.flags, hs.priority);
        self.handshake = Some(hs);
    }

    /// A state packet (stale incarnations are ignored). With `msl_up`, only a sign of
    /// life: the MSL's handshake and status messages are ordered, state packets are not (one
    /// sent before the handshake may arrive after it), so they say the peer's role only
    /// while the MSL is not up.
    pub fn update_from_lan(&mut self, now: Duration, st: PeerStatus, msl_up: bool) {
        if st.incarnation < self.incarnation || st.incarnation < self.dead_below {
            return;
        }
        if st.incarnation > self.incarnation && msl_up {
            return; // a new process the MSL has not announced yet: its restart will
        }
        self.incarnation = st.incarnation;
        self.heard_since_restart = true;
        self.server_id = st.server_id;
        self.heard_on_lan(now);
        let released = self.released_incarnation == Some(st.incarnation);
        let claims = st.flags.contains(StateFlags::SERVING) || st.role.is_primary();
        if claims && !released {
            self.lan_serving_since.get_or_insert(now);
        } else {
            self.lan_serving_since = None;
        }
        if !msl_up {
            self.lan_state_at = Some(now);
            self.generation = st.generation;
            self.set(now, st.role, st.flags, st.priority);
        }
    }

    /// A status message over the MSL (in order after the handshake).
    pub fn update_from_status(&mut self, now: Duration, role: Role, flags: StateFlags, gen: u64) {
        self.generation = gen;
        self.set(now, role, flags, self.priority);
    }

    /// A silent peer's claims to serve are void: whatever it says when heard again starts
    /// a new claim (the dual-primary check then waits its confirmation time afresh).
    pub fn forget_claims(&mut self) {
        self.serving_since = None;
        self.lan_serving_since = None;
    }

    /// The peer was heard on the LAN at `at`.
    pub fn heard_on_lan(&mut self, at: Duration) {
        self.lan_heard_at = Some(self.lan_heard_at.map_or(at, |t| t.max(at)));
    }

    /// The peer's process restarted: its old role and session are gone.
    pub fn forget_process(&mut self) {
        self.handshake = None;
        self.dead_below = self
            .dead_below
            .max(self.session_incarnation.saturating_add(1));
        self.role = Role::Unknown(0);
        self.flags = StateFlags(0);
        self.serving_since = None;
        self.lan_serving_since = None;
        self.heard_since_restart = false;
        self.lan_state_at = None;
    }

    /// The peer released (scenario 4): it serves no more in this incarnation.
    pub fn released(&mut self) {
        self.released_incarnation = Some(self.incarnation);
        self.role = Role::ShutDown;
        self.flags = StateFlags(0);
        self.serving_since = None;
        self.lan_serving_since = None;
    }
}
