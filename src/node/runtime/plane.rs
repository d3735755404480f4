//! [`Plane`]: one server's control plane (state packets, adapter health, the functional
//! comparator, the role machine), sans-IO. It never reads a clock, touches a socket or
//! writes a file: the daemon's event loop (`event.rs`), the simulator ([`crate::sim`]) and
//! replays feed it frames, link changes, MSL events and timers with `now` (a [`Duration`]
//! since the driver's epoch), and drain what it produces:
//!
//! | output | drain with | the daemon does |
//! |---|---|---|
//! | LAN frames (state packets, probes) | [`Plane::transmit_due`] | sends them on the adapter |
//! | MSL control messages (role messages, the adapter summary) | [`Plane::poll_msl_message`] | [`MslHandle::send`](crate::msl::driver::MslHandle::send) |
//! | admin notices | [`Plane::poll_notice`] | console and log file, with the wall-clock time |
//! | the MSL handshake's announcement, when it changed | [`Plane::poll_announcement`] | `Msl::set_announcement` |
//! | service calls | the [`Service`] given to [`Plane::new`] | |
//! | the end of the server | [`Plane::exit`] | shuts down cleanly |
//!
//! Call order of a driver: feed news ([`Plane::lan_frame`], [`Plane::lan_link`],
//! [`Plane::msl_event`], [`Plane::lan_counters`]); run [`Plane::timers`] at
//! [`Plane::next_deadline`] and [`Plane::tick`] every [`TICK`]; after each call drain the
//! outputs. This file translates between the cores:
//!
//! | news | goes to | role input |
//! |---|---|---|
//! | a LAN frame | beacon; if not the peer's state packet, health | `PeerState` and `Lan` for each accepted state packet |
//! | beacon `PathUp` / `PathSilent` | | `Lan` |
//! | own health (each state packet sent, each link change, every 100 ms) | comparator | `OwnHealth` when hears-network or working count changes |
//! | the peer's summary (each accepted state packet) | comparator | `PeerMoreFunctional` when the verdict flips |
//! | MSL `Up` / `Silent` / `Recovered` / `Restarted` / `Refused` / `Closed` | beacon peer id | `MslUp` (role and flags from the peer's state packets, see `try_msl_up`) / `MslSilent` / `MslRecovered` / `MslRestarted` / `MslRefused` / `MslSilent` |
//! | MSL adapter without carrier | | `MslCarrierLost` |
//! | MSL carrier back before the core reported a silence | | `MslRecovered` |
//! | MSL control message | | `PeerMessage` |
//! | MSL adapter summary ([`SUMMARY_TAG`], every 100 ms) | comparator | `PeerMoreFunctional` when the verdict flips |
//!
//! Role actions go to the [`Service`], the admin log, and the MSL (`SendToPeer`, control
//! class). A peer's clean close counts as the MSL falling silent now: the LAN then tells a
//! dead peer (its state packets stop) from a broken MSL.

mod assemble;
mod auth;
mod output;
mod summary;

use std::collections::VecDeque;
use std::time::Duration;

use crate::beacon::{Beacon, BeaconEvent, LocalState};
use crate::health::{FunctionalComparator, Health, Heard, Summary, Verdict};
use crate::link::LinkStatus;
use crate::msl::driver::DriverEvent;
use crate::msl::{Announcement, CloseReason, MslEvent, PeerInfo, Priority};
use crate::role::{
    Action, Input, LanPath, LanView, Notice, OwnHealth, ResyncProgress, RoleMachine, RoleMessage,
    ShutdownReason,
};
use crate::wire::addr::Net;
use crate::wire::state::MslLinkState;

pub use assemble::PlaneConfig;
use summary::peer_status;
pub use summary::{decode_summary, encode_summary, SUMMARY_TAG};

use super::service::{ResyncStart, Service};

/// How often counters are sampled, own health re-fed and the status snapshot published.
pub const TICK: Duration = Duration::from_millis(100);

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
pub enum MslSeen {
    /// No session yet.
    Down,
    /// Frames arrive.
    Up,
    /// Silent since (plane time).
    Silent(Duration),
}

/// One server's control plane, sans-IO (see the module documentation).
pub struct Plane {
    /// State packets: sending, the per-adapter view of the peer.
    pub beacon: Beacon,
    /// Own adapter health.
    pub health: Health,
    /// "More functional" (scenario 4).
    pub comparator: FunctionalComparator,
    /// The role machine.
    pub role: RoleMachine,
    /// What the role actions drive.
    pub service: Box<dyn Service>,
    /// Plane time of the MSL driver's epoch (MSL event times are on the driver's clock).
    pub msl_offset: Duration,
    /// Tie-break priority (announced in state packets).
    pub priority: u8,
    /// The engine's internal network (announced in state packets).
    pub engine_net: Net,
    /// The MSL session as last reported.
    pub msl_seen: MslSeen,
    /// The MSL adapter has carrier.
    pub msl_carrier: bool,
    /// The peer of the current or last MSL session.
    pub peer: Option<PeerInfo>,
    /// Beacon packets accepted so far (a rise means a state packet arrived).
    lan_received: u64,
    sent_health: Option<(bool, u8)>,
    sent_verdict: Option<bool>,
    inputs: VecDeque<Input>,
    /// MSL control messages to send, oldest first.
    msl_out: VecDeque<(Priority, Vec<u8>)>,
    /// Notices to write, oldest first.
    notices_out: VecDeque<Notice>,
    /// The last decision: notice line and plane time.
    pub last_decision: Option<(String, Duration)>,
    /// Recent notices (newest last, at most [`MAX_NOTICES`]).
    pub notices: VecDeque<String>,
    /// Set once the role machine ended this server (shut down, restart as secondary).
    pub exit: Option<Exit>,
    /// MSL messages the driver could not queue (counted by the driver's loop).
    pub msl_send_errors: u64,
    /// Notices given so far.
    pub decisions: u64,
    /// LAN receive errors (other than an adapter going down; counted by the driver).
    pub lan_rx_errors: u64,
    /// An MSL session up, not yet told to the role machine, and until when it may wait.
    pending_up: Option<(PeerInfo, Duration)>,
    /// Role messages that arrived while the session waited.
    held: Vec<Input>,
    /// When the role machine's timers last ran.
    role_handled: Option<Duration>,
    /// The MSL counts as silent because its carrier went, not because the core said so.
    carrier_silenced: bool,
    /// What the MSL handshake was last told to announce.
    announced: Option<Announcement>,
    /// The peer incarnation the core already reported as a restart.
    restart_told: Option<u64>,
    /// Authentication failures already reported.
    auth: auth::AuthWatch,
    /// Role and flags of the last state packet round (a change sends a round at once).
    round_role: Option<(crate::wire::state::Role, crate::wire::state::StateFlags)>,
}

/// Notices kept for [`NodeHandle::notices`](super::NodeHandle::notices).
pub const MAX_NOTICES: usize = 256;

impl Plane {
    /// A plane over its cores. `role` should be made right before the first call (its
    /// stall fence counts every gap between calls); feed each adapter's link status
    /// ([`Plane::lan_link`]) and run a first [`Plane::tick`] at start.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        beacon: Beacon,
        health: Health,
        comparator: FunctionalComparator,
        role: RoleMachine,
        service: Box<dyn Service>,
        msl_offset: Duration,
        priority: u8,
        engine_net: Net,
    ) -> Plane {
        Plane {
            beacon,
            health,
            comparator,
            role,
            service,
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
            msl_out: VecDeque::new(),
            notices_out: VecDeque::new(),
            last_decision: None,
            notices: VecDeque::new(),
            exit: None,
            msl_send_errors: 0,
            decisions: 0,
            role_handled: None,
            pending_up: None,
            held: Vec::new(),
            carrier_silenced: false,
            announced: None,
            restart_told: None,
            lan_rx_errors: 0,
            auth: auth::AuthWatch::default(),
            round_role: None,
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
            // Every packet, not only changes: what the machine knows of the peer may have
            // been overwritten since (by an MSL hello). Before the path news: a restarted
            // process's first packet must replace the dead one's "serving" before a path
            // up makes the machine look for a second primary.
            if let Some(st) = self.beacon.peer_state() {
                self.inputs.push_back(Input::PeerState(peer_status(st)));
            }
            self.drain_beacon(now);
            self.inputs.push_back(Input::Lan(self.lan_view(now)));
            self.try_msl_up(now, false);
        } else {
            // Anything else IPX is evidence about the segment (stations, probe answers).
            let heard = self.health.handle_frame(now, pos, frame);
            self.drain_beacon(now);
            // A station heard can end isolation (scenario 5): tell the role machine now,
            // not at the next tick, or a decision due meanwhile uses stale evidence.
            if matches!(heard, Ok(Heard::Station { .. }))
                && self.sent_health.is_some_and(|(hears, _)| !hears)
            {
                self.own_health(now);
            }
        }
        self.after(now);
    }

    /// A LAN adapter's carrier or operstate changed.
    pub fn lan_link(&mut self, now: Duration, pos: usize, status: LinkStatus) {
        self.health.handle_link(now, pos, status);
        self.own_health(now);
        self.after(now);
    }

    /// An operator command (`sft3` console), decided at once.
    pub fn command(&mut self, now: Duration, c: crate::role::Command) {
        self.inputs.push_back(Input::Command(c));
        self.after(now);
    }

    /// An input from the service (the volume's generations and resync progress).
    pub fn service_input(&mut self, now: Duration, input: Input) {
        self.inputs.push_back(input);
        self.after(now);
    }

    /// A report of the service's for the console, the log and the status (it decides
    /// nothing, so it does not count as a decision).
    pub fn service_report(
        &mut self,
        now: Duration,
        severity: crate::role::Severity,
        text: &'static str,
        evidence: String,
    ) {
        self.record(Notice {
            at: now,
            severity,
            text,
            evidence,
        });
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
                        self.carrier_silenced = true;
                    }
                } else if !self.msl_carrier && carrier && self.carrier_silenced {
                    // Carrier back before the MSL core noticed any silence: its session
                    // never broke, so it reports no recovery; say it here (if frames do
                    // not flow, the core reports the silence next).
                    self.carrier_silenced = false;
                    self.msl_seen = MslSeen::Up;
                    self.inputs.push_back(Input::MslRecovered);
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
        if !matches!(ev, MslEvent::Delivered { .. } | MslEvent::Lost { .. }) {
            // The core's own word on the session replaces the carrier's.
            self.carrier_silenced = false;
        }
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
                self.peer_unheard();
                self.inputs.push_back(Input::MslSilent { since });
            }
            MslEvent::Recovered { .. } => {
                self.msl_seen = MslSeen::Up;
                self.inputs.push_back(Input::MslRecovered);
            }
            MslEvent::Restarted {
                new_incarnation, ..
            } => {
                self.restart_told = Some(new_incarnation);
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
            MslEvent::AuthFailing { count } => self.msl_auth_failing(now, count),
            MslEvent::Lost { .. } => {}
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
        // A new process of the peer after its session had closed (it stopped, then
        // started again): the core reports a plain `Up`, not `Restarted`, but the role
        // machine must know the process it knew is gone (a secondary takes over from a
        // primary that came back as a starting server).
        let restarted = self.peer.as_ref().is_some_and(|old| {
            old.handshake.server_id == peer.handshake.server_id
                && old.incarnation != peer.incarnation
        });
        if restarted && self.restart_told != Some(peer.incarnation) {
            self.inputs.push_back(Input::MslRestarted);
        }
        self.restart_told = None;
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
            .filter(|&t| self.role_handled.is_none_or(|h| t > h));
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
        self.watch_lan_auth(now);
        if self.msl_seen == MslSeen::Up {
            let m = encode_summary(&self.health.summary(now));
            self.msl_out.push_back((Priority::Control, m.to_vec()));
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
            self.peer_unheard();
        }
    }

    /// With the MSL not up and every LAN path silent, the peer's last summary is stale:
    /// our own score lost its "hears the peer" part while the peer's still has it, which
    /// would read as "peer more functional" (scenario 4) for its whole `peer_max_age`.
    fn peer_unheard(&mut self) {
        if self.msl_seen != MslSeen::Up && !self.beacon.any_path_up() {
            self.comparator.forget_peer();
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
                self.act(a);
            }
            let Some(input) = self.inputs.pop_front() else {
                break;
            };
            self.role.handle(now, input);
        }
    }

    fn act(&mut self, a: Action) {
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
                self.msl_out
                    .push_back((Priority::Control, m.encode().as_slice().to_vec()));
            }
            Action::Notify(n) => self.notify(n),
        }
    }
}
