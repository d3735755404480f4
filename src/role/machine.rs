//! [`RoleMachine`]: the state, the inputs' bookkeeping and the transitions. The decisions
//! themselves (which transition, when) are in `decide.rs`.

use std::collections::VecDeque;

use core::time::Duration;

use arrayvec::ArrayVec;

use crate::msl::{HandshakeRepr, MAX_HISTORY};
use crate::wire::state::{MirrorState, Role, StateFlags};

use super::generation::{GenerationOrder, Generations};
use super::notice::{text, Notice, Severity};
use super::types::{
    Action, HaltReason, Input, LanView, OwnHealth, RoleConfig, RoleMessage, RoleState,
    ShutdownReason,
};

mod decide;
mod handover;
mod operator;
mod peer;
mod resync;
mod stall;

use peer::PeerView;

/// Where the MSL stands, as the role machine needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MslView {
    /// No session yet (or refused).
    Down,
    /// A session is up.
    Up,
    /// The session went silent; the last frame arrived at this time.
    Silent(Duration),
}

/// A switch-over (scenario 4) in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Handover {
    /// None.
    Idle,
    /// Primary: asked the secondary, waiting for its answer until this time.
    Requested(Duration),
    /// Secondary: accepted, waiting for the primary's release.
    Accepted,
}

/// The role state machine of one server (sans-IO; see the module docs).
pub struct RoleMachine {
    cfg: RoleConfig,
    state: RoleState,
    /// When the machine was created (the start of the startup wait).
    born: Duration,
    serving: bool,
    tracking: bool,
    consistent: bool,
    mirror: MirrorState,
    operator_wait: bool,
    history: ArrayVec<u64, MAX_HISTORY>,
    tracked_since: u64,
    msl: MslView,
    /// The peer process restarted (or its primary released): its old serving state is gone.
    peer_restarted: bool,
    peer: PeerView,
    lan: LanView,
    health: OwnHealth,
    /// `Some(evidence)` while the health layer says the peer is more functional.
    verdict: Option<String>,
    handover: Handover,
    /// After a failed switch-over: not before this time.
    handover_retry_at: Option<Duration>,
    /// The latest `now` seen: deadlines up to it were already considered.
    last_now: Duration,
    /// After a stall: silence does not count before this time.
    deaf_until: Option<Duration>,
    /// A stalled primary's question to the secondary, while its serving is paused.
    stall_check: Option<stall::StallCheck>,
    /// The last stall question's number.
    stall_nonce: u32,
    /// Chosen as the loser after divergence: a full resync may overwrite this volume.
    overwrite_ok: bool,
    /// Chosen as the survivor: the next resync offered is full.
    force_full: bool,
    /// This console's latest survivor choice, until mirrored again.
    local_choice: Option<u64>,
    /// The last "waiting" notice, so a condition that lasts is announced once.
    wait_notice: Option<&'static str>,
    /// What the peer was last told over the MSL (role, flags, generation).
    announced: Option<(Role, StateFlags, u64)>,
    /// The latest notice (the status command's "last decision").
    last_notice: Option<Notice>,
    actions: VecDeque<Action>,
}

impl RoleMachine {
    /// A machine in [`RoleState::Starting`] at `now`.
    pub fn new(cfg: RoleConfig, now: Duration) -> RoleMachine {
        RoleMachine {
            state: RoleState::Starting,
            born: now,
            serving: false,
            tracking: cfg.tracked_since != 0,
            consistent: cfg.data_consistent,
            mirror: MirrorState::Unmirrored,
            operator_wait: false,
            history: cfg.history.clone(),
            tracked_since: cfg.tracked_since,
            msl: MslView::Down,
            peer_restarted: false,
            peer: PeerView::default(),
            lan: LanView::default(),
            health: OwnHealth {
                hears_network: false,
                working_adapters: 0,
                evidence: String::new(),
            },
            verdict: None,
            handover: Handover::Idle,
            handover_retry_at: None,
            last_now: now,
            deaf_until: None,
            stall_check: None,
            stall_nonce: 0,
            overwrite_ok: false,
            force_full: false,
            local_choice: None,
            wait_notice: None,
            last_notice: None,
            announced: None,
            actions: VecDeque::new(),
            cfg,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RoleConfig {
        &self.cfg
    }

    /// The current state.
    pub fn state(&self) -> RoleState {
        self.state
    }

    /// The role for state packets and the MSL handshake.
    pub fn role(&self) -> Role {
        self.state.wire_role()
    }

    /// True while this server answers clients.
    pub fn is_serving(&self) -> bool {
        self.serving
    }

    /// The flags for state packets and the MSL handshake.
    pub fn flags(&self) -> StateFlags {
        let mut f = StateFlags(0);
        for (on, bit) in [
            (self.serving, StateFlags::SERVING),
            (self.consistent, StateFlags::DATA_CONSISTENT),
            (self.tracking, StateFlags::TRACKING_CHANGES),
            (self.operator_wait, StateFlags::OPERATOR_WAIT),
        ] {
            if on {
                f = f.union(bit);
            }
        }
        f
    }

    /// The mirror state for state packets.
    pub fn mirror_state(&self) -> MirrorState {
        self.mirror
    }

    /// The latest decision's notice (for `sft3 status`: `last_decision`).
    pub fn last_notice(&self) -> Option<&Notice> {
        self.last_notice.as_ref()
    }

    /// The current generation history (newest first).
    pub fn history(&self) -> &[u64] {
        &self.history
    }

    /// Feeds one input at `now`, then re-evaluates the decisions.
    pub fn handle(&mut self, now: Duration, input: Input) {
        self.check_stall(now);
        match input {
            Input::MslUp {
                incarnation,
                handshake,
            } => self.on_msl_up(now, incarnation, handshake),
            Input::MslSilent { since } => {
                if self.msl == MslView::Up {
                    self.msl = MslView::Silent(since);
                }
            }
            Input::MslCarrierLost => {
                if self.msl == MslView::Up {
                    self.msl = MslView::Silent(now);
                }
            }
            Input::MslRecovered => {
                if matches!(self.msl, MslView::Silent(_)) {
                    self.msl = MslView::Up;
                    self.wait_notice = None;
                    self.on_msl_recovered(now);
                }
            }
            Input::MslRestarted => {
                self.msl = MslView::Down;
                self.peer.forget_process();
                self.peer_restarted = true;
            }
            Input::MslRefused { diverged, detail } => {
                self.msl = MslView::Down;
                if diverged {
                    self.diverged(now, detail);
                } else {
                    self.notify_once(now, Severity::Warning, text::MSL_REFUSED, detail);
                }
            }
            Input::Lan(view) => {
                if let Some(age) = view.newest_age() {
                    self.peer.heard_on_lan(now.saturating_sub(age));
                }
                self.lan = view;
            }
            Input::PeerState(status) => {
                let msl_up = self.msl == MslView::Up;
                self.peer.update_from_lan(now, status, msl_up);
            }
            Input::OwnHealth(h) => self.health = h,
            Input::PeerMoreFunctional { more, evidence } => {
                self.verdict = more.then_some(evidence);
            }
            Input::Resync(p) => self.on_resync(now, p),
            Input::Generations {
                history,
                tracked_since,
            } => {
                self.history = history;
                self.tracked_since = tracked_since;
                // The journal is the truth: a server that tracked changes, died and came
                // back as a resync target adopts the source's generations and tracks
                // nothing. A stale flag would skip the new generation of a later
                // take-over, and the pair could no longer tell a divergence.
                self.tracking = tracked_since != 0;
            }
            Input::PeerMessage(m) => self.on_peer_message(now, m),
            Input::Command(c) => self.on_command(now, c),
        }
        self.evaluate(now);
        self.announce();
    }

    /// Tells the peer over the MSL when role, flags or generation changed (and once per
    /// session), so its view follows in order after the handshake.
    fn announce(&mut self) {
        if self.msl != MslView::Up {
            self.announced = None;
            return;
        }
        let current = (
            self.role(),
            self.flags(),
            self.history.first().copied().unwrap_or(0),
        );
        if self.announced != Some(current) {
            self.announced = Some(current);
            let (role, flags, generation) = current;
            self.actions
                .push_back(Action::SendToPeer(RoleMessage::Status {
                    role,
                    flags,
                    generation,
                }));
        }
    }

    /// The next time [`RoleMachine::handle_timeout`] must be called (`None`: no timer).
    /// Deadlines already passed at the latest `now` were acted on then, and are left out.
    pub fn poll_timeout(&self) -> Option<Duration> {
        let mut t: Option<Duration> = None;
        let last = self.last_now;
        let mut at = |d: Duration| {
            if d > last {
                t = Some(t.map_or(d, |x| x.min(d)));
            }
        };
        if self.state == RoleState::Starting {
            at(self.born + self.cfg.startup_wait);
            at(self.quiet_from() + self.cfg.startup_wait);
        }
        if let Handover::Requested(deadline) = self.handover {
            at(deadline);
        }
        if let Some(retry) = self.handover_retry_at {
            at(retry);
        }
        if let Some(fence) = self.cfg.stall_fence {
            if !matches!(self.state, RoleState::ShutDown(_)) {
                at(self.last_now + fence / 3);
            }
        }
        if let Some(t) = self.deaf_until {
            at(t);
        }
        if let Some(c) = self.stall_check {
            at(c.deadline());
        }
        if self.serving {
            if let Some(since) = self.peer.serving_since {
                at(since + self.cfg.dual_confirm);
            }
        }
        t
    }

    /// Timers: re-evaluates the decisions at `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.check_stall(now);
        if self.handover_retry_at.is_some_and(|t| now >= t) {
            self.handover_retry_at = None;
        }
        if let Handover::Requested(deadline) = self.handover {
            if now >= deadline {
                self.abandon_handover(now, "no answer from the secondary".into());
            }
        }
        self.evaluate(now);
        self.announce();
    }

    /// The next action for the driver, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    // ---- bookkeeping of inputs ----

    fn on_msl_up(&mut self, now: Duration, incarnation: u64, hs: HandshakeRepr) {
        self.msl = MslView::Up;
        self.wait_notice = None;
        self.peer.update_from_handshake(now, incarnation, hs);
        if self.state.is_primary() || self.operator_wait {
            self.offer_resync(now);
        }
    }

    fn on_msl_recovered(&mut self, now: Duration) {
        // A primary that gave up on the peer during the silence re-mirrors it.
        if self.state == RoleState::UnmirroredPrimary && self.mirror == MirrorState::Unmirrored {
            self.offer_resync(now);
        }
    }

    fn on_peer_message(&mut self, now: Duration, m: RoleMessage) {
        match m {
            RoleMessage::HandoverRequest => self.on_handover_request(now),
            RoleMessage::HandoverAccept => {
                if matches!(self.handover, Handover::Requested(_))
                    && self.state == RoleState::MirroredPrimary
                {
                    self.release(now);
                }
            }
            RoleMessage::HandoverRefuse => {
                if matches!(self.handover, Handover::Requested(_)) {
                    self.abandon_handover(now, "the secondary refused".into());
                }
            }
            RoleMessage::Released => {
                if self.handover == Handover::Accepted && self.state == RoleState::MirroredSecondary
                {
                    self.handover = Handover::Idle;
                    self.peer.released();
                    let ev = "the primary stopped serving and released".to_string();
                    self.promote(now, text::TAKING_OVER, ev, true);
                }
            }
            RoleMessage::StartResync { kind } => self.on_resync_offer(now, kind),
            RoleMessage::Status {
                role,
                flags,
                generation,
            } => {
                if self.msl == MslView::Up {
                    self.peer.update_from_status(now, role, flags, generation);
                }
            }
            RoleMessage::SurvivorChosen { server_id } => {
                self.choose_survivor(now, server_id, false)
            }
            RoleMessage::StallCheck { nonce } => self.on_stall_check(now, nonce),
            RoleMessage::StallAnswer { nonce, role } => self.on_stall_answer(now, nonce, role),
        }
    }

    // ---- transitions ----

    /// Serves: advertise, serve, track (a new generation). Refused (false) with an
    /// inconsistent volume, and while a serving peer is heard unless `released` (the
    /// scenario-4 switch-over: the peer stopped).
    fn promote(
        &mut self,
        now: Duration,
        what: &'static str,
        evidence: String,
        released: bool,
    ) -> bool {
        if !self.consistent || (!released && self.hears_serving_peer()) {
            return false;
        }
        self.state = RoleState::UnmirroredPrimary;
        self.mirror = MirrorState::Unmirrored;
        self.peer_restarted = false;
        self.wait_notice = None;
        self.handover = Handover::Idle;
        // It serves now because the peer is silent (or released): its earlier claims are
        // over, and a claim heard later must stand for the confirmation time.
        self.peer.forget_claims();
        if !self.serving {
            self.serving = true;
            self.actions.push_back(Action::Advertise);
            self.actions.push_back(Action::StartServing);
        }
        if !self.tracking {
            self.tracking = true;
            self.actions.push_back(Action::StartTracking);
        }
        self.notify(now, Severity::Warning, what, evidence);
        if self.msl == MslView::Up {
            self.offer_resync(now);
        }
        true
    }

    /// Stops serving (withdraw first, so clients stop being routed here before replies end).
    fn stop_serving(&mut self) {
        if self.serving {
            self.serving = false;
            self.actions.push_back(Action::Withdraw);
            self.actions.push_back(Action::StopServing);
        }
    }

    fn shut_down(&mut self, now: Duration, reason: ShutdownReason, what: &'static str, ev: String) {
        if matches!(self.state, RoleState::ShutDown(_)) {
            return;
        }
        self.stop_serving();
        self.state = RoleState::ShutDown(reason);
        self.mirror = MirrorState::Unmirrored;
        self.notify(now, Severity::Critical, what, ev);
        self.actions.push_back(Action::ShutDown { reason });
    }

    fn halt(&mut self, now: Duration, reason: HaltReason, what: &'static str, ev: String) {
        self.stop_serving();
        self.state = RoleState::Halted(reason);
        self.operator_wait = true;
        self.mirror = match reason {
            HaltReason::Diverged => MirrorState::Diverged,
            HaltReason::InconsistentDisk => MirrorState::Unmirrored,
        };
        self.wait_notice = None;
        self.notify(now, Severity::Critical, what, ev);
    }

    /// Scenario 7: never overwrite. A serving primary keeps serving and refuses mirroring;
    /// anyone else halts.
    fn diverged(&mut self, now: Duration, ev: String) {
        if self.serving {
            self.operator_wait = true;
            self.mirror = MirrorState::Diverged;
            self.notify_once(now, Severity::Critical, text::DIVERGED_SERVING, ev);
        } else if self.state != RoleState::Halted(HaltReason::Diverged) {
            self.halt(now, HaltReason::Diverged, text::DIVERGED, ev);
        }
    }

    // ---- helpers ----

    /// A resync (either end) is under way.
    fn resyncing(&self) -> bool {
        matches!(
            self.mirror,
            MirrorState::ImageTransfer | MirrorState::DiskResync
        )
    }

    fn generations(&self) -> Generations<'_> {
        Generations {
            history: &self.history,
            tracked_since: self.tracked_since,
        }
    }

    /// The peer answers clients, as far as any path (LAN or MSL) shows.
    fn hears_serving_peer(&self) -> bool {
        let alive = self.lan.any_up() || self.msl == MslView::Up;
        alive && self.peer.serving()
    }

    /// Scenario 5's check.
    fn isolation_ok(&self) -> bool {
        let p = self.cfg.isolation;
        (!p.require_hears_network || self.health.hears_network)
            && self.health.working_adapters >= p.min_working_adapters
    }

    fn notify(&mut self, now: Duration, severity: Severity, what: &'static str, evidence: String) {
        let notice = Notice {
            at: now,
            severity,
            text: what,
            evidence,
        };
        self.last_notice = Some(notice.clone());
        self.actions.push_back(Action::Notify(notice));
    }

    /// A notice for a condition that lasts: once until another one replaces it.
    fn notify_once(&mut self, now: Duration, severity: Severity, what: &'static str, ev: String) {
        if self.wait_notice != Some(what) {
            self.wait_notice = Some(what);
            self.notify(now, severity, what, ev);
        }
    }
}

/// A short description of a comparison, for evidence strings.
fn order_text(o: GenerationOrder) -> &'static str {
    match o {
        GenerationOrder::Same => "same generation",
        GenerationOrder::LocalNewer { incremental: true } => "local newer (tracked)",
        GenerationOrder::LocalNewer { incremental: false } => "local newer",
        GenerationOrder::PeerNewer { incremental: true } => "peer newer (tracked)",
        GenerationOrder::PeerNewer { incremental: false } => "peer newer",
        GenerationOrder::Diverged => "histories diverged",
        GenerationOrder::Unknown => "no history",
    }
}
