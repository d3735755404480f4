//! [`Plane`]: the control plane's state and decisions, without I/O. The event loop
//! (`event.rs`) feeds it frames, link changes, MSL events and timers, and sends what it
//! returns; this file translates between the cores:
//!
//! | news | goes to | role input |
//! |---|---|---|
//! | a LAN frame | beacon; if not the peer's state packet, health | `PeerState` and `Lan` for each accepted state packet |
//! | beacon `PathUp` / `PathSilent` | | `Lan` |
//! | own health (each state packet sent, each link change, every 100 ms) | comparator | `OwnHealth` when hears-network or working count changes |
//! | the peer's summary (each accepted state packet) | comparator | `PeerMoreFunctional` when the verdict flips |
//! | MSL `Up` / `Silent` / `Recovered` / `Restarted` / `Refused` / `Closed` | beacon peer id | `MslUp` (role and flags from the peer's state packets, see `try_msl_up`) / `MslSilent` / `MslRecovered` / `MslRestarted` / `MslRefused` / `MslSilent` |
//! | MSL adapter without carrier | | `MslCarrierLost` |
//! | MSL control message | | `PeerMessage` |
//! | MSL adapter summary ([`SUMMARY_TAG`], every 100 ms) | comparator | `PeerMoreFunctional` when the verdict flips |
//!
//! Role actions go to the [`Service`], the admin log, and the MSL (`SendToPeer`, control
//! class). A peer's clean close counts as the MSL falling silent now: the LAN then tells a
//! dead peer (its state packets stop) from a broken MSL.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use crate::beacon::{Beacon, BeaconEvent, LocalState};
use crate::health::{FunctionalComparator, Health, Summary, Verdict};
use crate::link::LinkStatus;
use crate::msl::driver::{DriverEvent, MslHandle};
use crate::msl::{CloseReason, MslEvent, PeerInfo, Priority};
use crate::node::log::AdminLog;
use crate::role::{
    Action, Input, LanPath, LanView, Notice, OwnHealth, PeerStatus, ResyncProgress, RoleMachine,
    RoleMessage, ShutdownReason,
};
use crate::wire::addr::Net;
use crate::wire::state::{MslLinkState, StateRepr};

use super::service::{ResyncStart, Service};

/// How often counters are sampled, own health re-fed and the status snapshot published.
pub(super) const TICK: Duration = Duration::from_millis(100);

/// Why the control plane stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Asked to ([`NodeHandle::stop`](super::NodeHandle::stop), a signal).
    Stopped,
    /// The role machine shut the server down (scenario 3, an operator command).
    ShutDown(ShutdownReason),
    /// The role machine asked to restart as the secondary (scenario 4).
    RestartAsSecondary,
}

/// The MSL as the plane last saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum MslSeen {
    /// No session yet.
    Down,
    /// Frames arrive.
    Up,
    /// Silent since (plane time).
    Silent(Duration),
}

/// The control plane's state.
pub(super) struct Plane {
    pub beacon: Beacon,
    pub health: Health,
    pub comparator: FunctionalComparator,
    pub role: RoleMachine,
    pub msl: MslHandle,
    pub service: Box<dyn Service>,
    pub log: Option<AdminLog>,
    /// Plane time of the MSL driver's epoch (MSL event times are on the driver's clock).
    pub msl_offset: Duration,
    pub priority: u8,
    pub engine_net: Net,
    pub msl_seen: MslSeen,
    pub msl_carrier: bool,
    pub peer: Option<PeerInfo>,
    /// Beacon packets accepted so far (a rise means a state packet arrived).
    lan_received: u64,
    sent_health: Option<(bool, u8)>,
    sent_verdict: Option<bool>,
    inputs: VecDeque<Input>,
    /// The last decision: notice line and wall-clock time.
    pub last_decision: Option<(String, SystemTime)>,
    /// Recent notices (newest last, at most [`MAX_NOTICES`]).
    pub notices: VecDeque<String>,
    pub exit: Option<Exit>,
    pub msl_send_errors: u64,
    /// Notices given so far.
    pub decisions: u64,
    /// LAN receive errors (other than an adapter going down).
    pub lan_rx_errors: u64,
    /// An MSL session up, not yet told to the role machine, and until when it may wait.
    pending_up: Option<(PeerInfo, Duration)>,
    /// Role messages that arrived while the session waited.
    held: Vec<Input>,
    /// When the role machine's timers last ran.
    role_handled: Option<Duration>,
}

/// The role machine's view of a state packet.
fn peer_status(st: &StateRepr) -> PeerStatus {
    PeerStatus {
        server_id: st.server_id,
        incarnation: st.incarnation,
        role: st.role,
        flags: st.flags,
        generation: st.generation,
        priority: st.priority,
    }
}

/// First byte of the node's own MSL control message, the adapter summary (role messages
/// use 1 to 6): `[0x80, adapters, working, total score (u32, big-endian)]`. It lets a
/// server whose every LAN adapter failed still learn that its peer is more functional
/// (scenario 4), since it no longer hears the peer's state packets.
pub(super) const SUMMARY_TAG: u8 = 0x80;

/// The summary message.
pub(super) fn encode_summary(s: &Summary) -> [u8; 7] {
    let t = s.total_score.to_be_bytes();
    [SUMMARY_TAG, s.adapters, s.working, t[0], t[1], t[2], t[3]]
}

/// A summary message, or `None` for anything else.
pub(super) fn decode_summary(b: &[u8]) -> Option<Summary> {
    match *b {
        [SUMMARY_TAG, adapters, working, t0, t1, t2, t3] => Some(Summary {
            adapters,
            working,
            total_score: u32::from_be_bytes([t0, t1, t2, t3]),
        }),
        _ => None,
    }
}

/// Notices kept for [`NodeHandle::notices`](super::NodeHandle::notices).
pub(super) const MAX_NOTICES: usize = 256;

impl Plane {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        beacon: Beacon,
        health: Health,
        comparator: FunctionalComparator,
        role: RoleMachine,
        msl: MslHandle,
        service: Box<dyn Service>,
        log: Option<AdminLog>,
        msl_offset: Duration,
        priority: u8,
        engine_net: Net,
    ) -> Plane {
        Plane {
            beacon,
            health,
            comparator,
            role,
            msl,
            service,
            log,
            msl_offset,
            priority,
            engine_net,
            msl_seen: MslSeen::Down,
            msl_carrier: true,
            peer: None,
            lan_received: 0,
            sent_health: None,
            sent_verdict: None,
            inputs: VecDeque::new(),
            last_decision: None,
            notices: VecDeque::new(),
            exit: None,
            msl_send_errors: 0,
            decisions: 0,
            role_handled: None,
            pending_up: None,
            held: Vec::new(),
            lan_rx_errors: 0,
        }
    }

    // ---- news in ----

    /// A frame received on LAN adapter `pos`.
    pub fn lan_frame(&mut self, now: Duration, pos: usize, frame: &[u8]) {
        let Ok(index) = u8::try_from(pos) else { return };
        self.beacon.handle_frame(now, index, frame);
        let received = self.beacon.counters().received;
        if received != self.lan_received {
            // The peer's state packet: it proves the path (health) and the peer (roles).
            self.lan_received = received;
            if let Some(mac) = self.beacon.path(index).and_then(|p| p.peer_mac) {
                self.health.add_peer_mac(mac);
            }
            self.health.handle_peer_state(now, pos);
            if let Some(s) = self.beacon.peer_state() {
                let summary = Summary::from_state(s);
                self.comparator.handle_peer(now, summary);
            }
            self.drain_beacon(now);
            // Every packet, not only changes: what the machine knows of the peer may have
            // been overwritten since (by an MSL hello).
            if let Some(st) = self.beacon.peer_state() {
                self.inputs.push_back(Input::PeerState(peer_status(st)));
            }
            self.inputs.push_back(Input::Lan(self.lan_view(now)));
            self.try_msl_up(now, false);
        } else {
            // Anything else IPX is evidence about the segment (stations, probe answers).
            let _ = self.health.handle_frame(now, pos, frame);
            self.drain_beacon(now);
        }
        self.after(now);
    }

    /// A LAN adapter's carrier or operstate changed.
    pub fn lan_link(&mut self, now: Duration, pos: usize, status: LinkStatus) {
        self.health.handle_link(now, pos, status);
        self.own_health(now);
        self.after(now);
    }

    /// A counter sample of LAN adapter `pos`.
    pub fn lan_counters(&mut self, now: Duration, pos: usize, c: crate::health::Counters) {
        self.health.handle_counters(now, pos, c);
    }

    /// An event of the MSL driver.
    pub fn msl_event(&mut self, now: Duration, ev: DriverEvent) {
        match ev {
            DriverEvent::Msl(ev) => self.msl_core_event(now, ev),
            DriverEvent::Link(status) => {
                let carrier = status.is_usable();
                if self.msl_carrier && !carrier {
                    self.inputs.push_back(Input::MslCarrierLost);
                    if self.msl_seen == MslSeen::Up {
                        self.msl_seen = MslSeen::Silent(now);
                    }
                }
                self.msl_carrier = carrier;
            }
            DriverEvent::Failed(e) => {
                let n = Notice {
                    at: now,
                    severity: crate::role::Severity::Critical,
                    text: "mirrored server link driver failed",
                    evidence: e,
                };
                self.notify(n);
                self.msl_seen = MslSeen::Silent(now);
                self.inputs.push_back(Input::MslSilent { since: now });
            }
        }
        self.after(now);
    }

    fn msl_core_event(&mut self, now: Duration, ev: MslEvent) {
        // Whatever else the MSL says comes after the session it belongs to (messages wait
        // with it: they may only make sense once the peer's role is known).
        if !matches!(ev, MslEvent::Up { .. } | MslEvent::Delivered { .. }) {
            self.try_msl_up(now, true);
        }
        match ev {
            MslEvent::Up { peer } => {
                let id = peer.handshake.server_id;
                if self.beacon.peer_id() != Some(id) {
                    self.beacon.set_peer_id(id);
                }
                self.try_msl_up(now, true); // an earlier session's, first
                self.msl_seen = MslSeen::Up;
                // Wait briefly for the peer's state packet of this incarnation (see
                // `try_msl_up`), unless one is here already.
                let wait = self.beacon.config().interval.saturating_mul(2);
                self.pending_up = Some((peer, now + wait));
                self.try_msl_up(now, false);
            }
            MslEvent::Delivered { priority, message } => {
                if priority != Priority::Control {
                    return;
                }
                if let Some(summary) = decode_summary(&message) {
                    self.comparator.handle_peer(now, summary);
                } else if let Some(m) = RoleMessage::decode(&message) {
                    if self.pending_up.is_some() {
                        self.held.push(Input::PeerMessage(m));
                    } else {
                        self.inputs.push_back(Input::PeerMessage(m));
                    }
                }
            }
            MslEvent::Silent { since, .. } => {
                let since = since.saturating_add(self.msl_offset).min(now);
                self.msl_seen = MslSeen::Silent(since);
                self.inputs.push_back(Input::MslSilent { since });
            }
            MslEvent::Recovered { .. } => {
                self.msl_seen = MslSeen::Up;
                self.inputs.push_back(Input::MslRecovered);
            }
            MslEvent::Restarted { .. } => {
                self.msl_seen = MslSeen::Down;
                self.comparator.forget_peer();
                self.inputs.push_back(Input::MslRestarted);
            }
            MslEvent::Refused { reason, detail, .. } => {
                self.msl_seen = MslSeen::Down;
                self.inputs.push_back(Input::MslRefused {
                    diverged: reason == CloseReason::DIVERGED,
                    detail,
                });
            }
            MslEvent::Closed { .. } => {
                // The peer ended the session (it is stopping): no frames from now on.
                if self.msl_seen == MslSeen::Up {
                    self.msl_seen = MslSeen::Silent(now);
                    self.inputs.push_back(Input::MslSilent { since: now });
                }
            }
            MslEvent::Lost { .. } | MslEvent::AuthFailing { .. } => {}
        }
    }

    /// Feeds the pending `MslUp` once the peer's state packet of the same incarnation is
    /// here, or when `force`d or its wait is over.
    ///
    /// Why: the role and flags in the peer's hello are the ones its MSL endpoint was
    /// configured with when the process started (starting, not serving), so a server that
    /// joins a long-running primary would read "a starting peer" and might win the
    /// tie-break against it. The peer's state packets of the same incarnation are newer:
    /// their role, flags and priority replace the hello's. Without any (every LAN path
    /// down), the hello is taken as it is after two state intervals.
    fn try_msl_up(&mut self, now: Duration, force: bool) {
        let Some((peer, deadline)) = self.pending_up.as_ref() else {
            return;
        };
        let lan = self
            .beacon
            .peer_state()
            .filter(|st| {
                st.server_id == peer.handshake.server_id && st.incarnation == peer.incarnation
            })
            .cloned();
        if lan.is_none() && !force && now < *deadline {
            return;
        }
        let Some((mut peer, _)) = self.pending_up.take() else {
            return;
        };
        if let Some(st) = lan {
            peer.handshake.role = st.role;
            peer.handshake.flags = st.flags;
            peer.handshake.priority = st.priority;
        }
        self.inputs.push_back(Input::MslUp {
            incarnation: peer.incarnation,
            handshake: peer.handshake.clone(),
        });
        self.inputs.extend(self.held.drain(..));
        self.peer = Some(peer);
    }

    // ---- timers ----

    /// The next time [`timers`](Self::timers) has work.
    pub fn next_deadline(&self) -> Option<Duration> {
        // The role machine keeps some timers while their condition lasts (still starting
        // after the startup wait, a peer serving past the dual-primary confirmation): once
        // handled they wait for the next input or tick instead of spinning.
        let role = self
            .role
            .poll_timeout()
            .filter(|&t| self.role_handled.map_or(true, |h| t > h));
        [
            self.beacon.poll_timeout(),
            self.health.poll_timeout(),
            self.comparator.poll_timeout(),
            role,
            self.pending_up.as_ref().map(|p| p.1),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs every core's timers at `now`.
    pub fn timers(&mut self, now: Duration) {
        self.try_msl_up(now, false);
        self.beacon.handle_timeout(now);
        self.drain_beacon(now);
        self.health.handle_timeout(now);
        self.comparator.handle_timeout(now);
        if self.role.poll_timeout().is_some_and(|t| t <= now) {
            self.role.handle_timeout(now);
            self.role_handled = Some(now);
        }
        self.after(now);
    }

    /// The 100 ms tick: own health again (scores age), our summary to the peer over the
    /// MSL, then decisions.
    pub fn tick(&mut self, now: Duration) {
        self.own_health(now);
        if self.msl_seen == MslSeen::Up {
            let m = encode_summary(&self.health.summary(now));
            if self.msl.send(Priority::Control, m.to_vec()).is_err() {
                self.msl_send_errors += 1;
            }
        }
        self.role.handle_timeout(now);
        self.role_handled = Some(now);
        self.after(now);
    }

    // ---- news out ----

    /// Refreshes what our state packets say; call before taking packets to send.
    pub fn refresh_local(&mut self, now: Duration) {
        let summary = self.health.summary(now);
        self.comparator.handle_own(now, summary);
        let msl_state = match (self.msl_carrier, self.msl_seen) {
            (false, _) => MslLinkState::CarrierLost,
            (true, MslSeen::Up) => MslLinkState::Up,
            (true, MslSeen::Silent(_)) => MslLinkState::Silent,
            (true, MslSeen::Down) => MslLinkState::Unknown,
        };
        let msl_last_heard = match self.msl_seen {
            MslSeen::Up => Some(now),
            MslSeen::Silent(t) => Some(t),
            MslSeen::Down => None,
        };
        let local = LocalState {
            role: self.role.role(),
            mirror_state: self.role.mirror_state(),
            flags: self.role.flags(),
            generation: self.role.history().first().copied().unwrap_or(0),
            priority: self.priority,
            msl_state,
            msl_last_heard,
            engine_net: self.engine_net,
            working_adapters: summary.working,
            total_score: summary.total_score,
            adapters: self.health.state_adapters(now),
        };
        self.beacon.set_local(local);
    }

    /// Every LAN path as the role machine wants it.
    pub fn lan_view(&self, now: Duration) -> LanView {
        let mut v = LanView::default();
        for p in self.beacon.paths().iter().take(v.paths.capacity()) {
            v.paths.push(LanPath {
                index: p.adapter,
                up: p.is_up(),
                age: p.last_heard.map(|t| now.saturating_sub(t)),
            });
        }
        v
    }

    fn drain_beacon(&mut self, now: Duration) {
        let mut paths_changed = false;
        while let Some(ev) = self.beacon.poll_event() {
            match ev {
                BeaconEvent::PathUp { .. } | BeaconEvent::PathSilent { .. } => {
                    paths_changed = true;
                }
                // Fed for every accepted packet (`lan_frame`).
                BeaconEvent::PeerState { .. } => {}
                BeaconEvent::PeerRestarted { .. } => self.comparator.forget_peer(),
            }
        }
        if paths_changed {
            self.inputs.push_back(Input::Lan(self.lan_view(now)));
        }
    }

    /// Own health to the comparator, and to the role machine when it changed.
    fn own_health(&mut self, now: Duration) {
        let summary = self.health.summary(now);
        self.comparator.handle_own(now, summary);
        let net = self.health.hears_network(now);
        let key = (net.hears, summary.working);
        if self.sent_health != Some(key) {
            self.sent_health = Some(key);
            self.inputs.push_back(Input::OwnHealth(OwnHealth {
                hears_network: net.hears,
                working_adapters: summary.working,
                evidence: format!("{summary}; {net}"),
            }));
        }
    }

    /// Feeds the queued inputs and the comparator's verdict, and carries out the actions
    /// until nothing new comes.
    fn after(&mut self, now: Duration) {
        let more = matches!(
            self.comparator.verdict(now),
            Verdict::PeerMoreFunctional { .. }
        );
        if self.sent_verdict != Some(more) {
            self.sent_verdict = Some(more);
            let evidence = self.comparator.evidence().unwrap_or_default();
            self.inputs
                .push_back(Input::PeerMoreFunctional { more, evidence });
        }
        // Bounded: a machine that kept answering itself would be a bug, not a reason to hang.
        for _ in 0..64 {
            while let Some(a) = self.role.poll_action() {
                self.act(now, a);
            }
            let Some(input) = self.inputs.pop_front() else {
                break;
            };
            self.role.handle(now, input);
        }
    }

    fn act(&mut self, now: Duration, a: Action) {
        match a {
            Action::StartServing => self.service.start_serving(),
            Action::StopServing => self.service.stop_serving(),
            Action::Advertise => self.service.advertise(),
            Action::Withdraw => self.service.withdraw(),
            Action::StartTracking => self.service.start_tracking(),
            Action::StopTracking => self.service.stop_tracking(),
            Action::StartResync { role, kind } => {
                if self.service.start_resync(role, kind) == ResyncStart::NothingToCopy {
                    self.inputs
                        .push_back(Input::Resync(ResyncProgress::ImageDone));
                    self.inputs
                        .push_back(Input::Resync(ResyncProgress::DiskDone));
                }
            }
            Action::ShutDown { reason } => {
                self.exit.get_or_insert(Exit::ShutDown(reason));
            }
            Action::RestartAsSecondary => {
                self.exit.get_or_insert(Exit::RestartAsSecondary);
            }
            Action::SendToPeer(m) => {
                if self
                    .msl
                    .send(Priority::Control, m.encode().as_slice().to_vec())
                    .is_err()
                {
                    self.msl_send_errors += 1;
                }
            }
            Action::Notify(n) => {
                let _ = now;
                self.notify(n);
            }
        }
    }

    /// A notice to the console, the log file and the status.
    pub fn notify(&mut self, n: Notice) {
        let wall = SystemTime::now();
        match self.log.as_mut() {
            Some(log) => log.notice(wall, &n),
            None => eprintln!("{n}"),
        }
        let line = if n.evidence.is_empty() {
            n.text.to_string()
        } else {
            format!("{} ({})", n.text, n.evidence)
        };
        if self.notices.len() >= MAX_NOTICES {
            self.notices.pop_front();
        }
        self.notices.push_back(line.clone());
        self.last_decision = Some((line, wall));
        self.decisions += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_message_round_trips_and_never_reads_as_a_role_message() {
        let s = Summary {
            adapters: 3,
            working: 2,
            total_score: 0x0102_0304,
        };
        let m = encode_summary(&s);
        assert_eq!(decode_summary(&m), Some(s));
        assert_eq!(RoleMessage::decode(&m), None);
        for cut in 0..m.len() {
            assert_eq!(decode_summary(&m[..cut]), None);
        }
        for msg in [
            RoleMessage::HandoverRequest,
            RoleMessage::Released,
            RoleMessage::SurvivorChosen { server_id: 7 },
        ] {
            assert_eq!(decode_summary(&msg.encode()), None);
        }
    }
}
