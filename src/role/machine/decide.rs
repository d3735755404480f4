//! The decisions: what each state does with what the machine knows now. Re-run after every
//! input and timer (level-triggered), so the order in which news arrives does not matter:
//! "MSL silent" then "LAN silent" decides exactly as the reverse order does.

use core::fmt::Write as _;
use core::time::Duration;

use crate::wire::state::{MirrorState, Role};

use super::{Handover, MslView, RoleMachine};
use crate::role::generation::{compare, GenerationOrder, Generations};
use crate::role::notice::{text, Severity};
use crate::role::types::{HaltReason, RoleState, ShutdownReason};

impl RoleMachine {
    /// Runs the decisions until the state settles (a few rounds at most).
    pub(super) fn evaluate(&mut self, now: Duration) {
        for _ in 0..4 {
            let before = (self.state, self.serving);
            match self.state {
                // Just back from a stall, what it knows is stale: no new role until it has
                // heard again (stepping down, below, is always allowed).
                RoleState::Starting
                | RoleState::SyncingSecondary
                | RoleState::MirroredSecondary
                    if self.deaf() => {}
                RoleState::Starting => self.decide_starting(now),
                RoleState::SyncingSecondary | RoleState::MirroredSecondary => {
                    self.decide_secondary(now)
                }
                RoleState::MirroredPrimary | RoleState::UnmirroredPrimary => {
                    self.decide_primary(now)
                }
                RoleState::ShutDown(_) | RoleState::Halted(_) => {}
            }
            if (self.state, self.serving) == before {
                break;
            }
        }
    }

    /// When the MSL stopped carrying frames (`None` while it is up). A session never up
    /// counts as quiet since ever.
    fn msl_quiet_since(&self) -> Option<Duration> {
        match self.msl {
            MslView::Up => None,
            MslView::Silent(since) => Some(since),
            MslView::Down => Some(Duration::ZERO),
        }
    }

    /// Just after a stall, silence proves nothing (this process could not hear).
    fn deaf(&self) -> bool {
        self.deaf_until.is_some()
    }

    /// A state packet arrived well after the MSL's last frame: the peer lives, the MSL broke.
    /// Its content counts, not only its arrival: the decision depends on whether it serves.
    fn peer_alive_after(&self, since: Duration) -> bool {
        self.lan.any_up()
            && self
                .peer
                .lan_state_at
                .is_some_and(|t| t >= since + self.cfg.msl_failed_confirm)
    }

    /// The tie-break of scenario 6: consistent data, newer data, priority, server id.
    fn wins_against_peer(&self, order: GenerationOrder) -> bool {
        if self.consistent != self.peer.consistent() {
            return self.consistent;
        }
        match order {
            GenerationOrder::LocalNewer { .. } => true,
            GenerationOrder::PeerNewer { .. } => false,
            _ => self.wins_plain_tie_break(),
        }
    }

    /// Priority, then server id.
    fn wins_plain_tie_break(&self) -> bool {
        (self.cfg.priority, self.cfg.server_id) > (self.peer.priority, self.peer.server_id())
    }

    fn become_secondary(&mut self, now: Duration, what: &'static str, ev: String) {
        self.state = RoleState::SyncingSecondary;
        self.mirror = MirrorState::Handshaking;
        self.wait_notice = None;
        self.notify(now, Severity::Info, what, ev);
    }

    /// Since when nothing was heard of the peer. Serving alone needs the whole startup wait
    /// of silence from there: a primary heard 20 ms ago is more likely stalled than dead.
    pub(super) fn quiet_from(&self) -> Duration {
        let mut t = self.born.max(self.peer.lan_heard_at.unwrap_or_default());
        if let MslView::Silent(since) = self.msl {
            t = t.max(since);
        }
        t
    }

    /// Starting: the MSL handshake decides; without it, the LAN; without both, the
    /// startup wait and the isolation check.
    fn decide_starting(&mut self, now: Duration) {
        self.peer_restarted = false;
        let waited = now >= self.born + self.cfg.startup_wait;
        let quiet_long_enough = now >= self.quiet_from() + self.cfg.startup_wait;
        if self.msl == MslView::Up {
            self.start_with_msl(now);
        } else if self.lan.any_up() && self.peer.lan_heard_at.is_some() {
            self.start_with_lan_only(now, waited);
        } else if quiet_long_enough {
            self.start_alone(now);
        }
    }

    /// Starting with an MSL session: generations, then the peer's role, then the tie-break.
    fn start_with_msl(&mut self, now: Duration) {
        {
            let Some((history, tracked_since)) = self.peer.generations() else {
                return;
            };
            let peer_gen = Generations {
                history: &history,
                tracked_since,
            };
            let order = compare(self.generations(), peer_gen);
            let ev = format!(
                "{}; local {:?}, peer {:?}",
                super::order_text(order),
                self.history.as_slice(),
                history.as_slice()
            );
            if order == GenerationOrder::Diverged {
                return self.diverged(now, ev);
            }
            if self.peer.serving() {
                if matches!(order, GenerationOrder::LocalNewer { .. }) {
                    return self.diverged(now, format!("newer than the serving primary: {ev}"));
                }
                return self.become_secondary(now, text::FOUND_PRIMARY, ev);
            }
            match self.peer.role {
                Role::Starting => {
                    if self.wins_against_peer(order) && !self.consistent {
                        let ev = self.tie_evidence(ev);
                        self.halt(
                            now,
                            HaltReason::InconsistentDisk,
                            text::DISK_INCONSISTENT_START,
                            ev,
                        );
                    } else if self.wins_against_peer(order) {
                        self.promote(now, text::TIE_BREAK_WON, self.tie_evidence(ev), false);
                    } else {
                        let ev = self.tie_evidence(ev);
                        self.become_secondary(now, text::TIE_BREAK_LOST, ev);
                    }
                }
                // A consistent secondary waiting for its first offer: as if it were starting.
                Role::SyncingSecondary if self.peer.consistent() => {
                    if self.wins_against_peer(order) {
                        self.promote(now, text::TIE_BREAK_WON, self.tie_evidence(ev), false);
                    } else {
                        let ev = self.tie_evidence(ev);
                        self.become_secondary(now, text::TIE_BREAK_LOST, ev);
                    }
                }
                // A mirrored secondary takes over from this server's previous process.
                Role::MirroredSecondary if self.peer.consistent() => {
                    self.notify_once(now, Severity::Info, text::WAIT_TAKEOVER, ev);
                }
                Role::Unknown(_) => {}
                _ if !self.consistent => {
                    let ev = format!("peer {} not serving; {ev}", self.peer.role);
                    self.halt(
                        now,
                        HaltReason::InconsistentDisk,
                        text::DISK_INCONSISTENT_START,
                        ev,
                    );
                }
                _ => {
                    let ev = format!("peer {} not serving; {ev}", self.peer.role);
                    self.promote(now, text::PEER_NOT_SERVING, ev, false);
                }
            }
        }
    }

    /// Starting, the peer heard on the LAN only: never serve beside a serving peer; two
    /// starting peers with the same data use the plain tie-break after the startup wait.
    fn start_with_lan_only(&mut self, now: Duration, waited: bool) {
        {
            if self.peer.serving() {
                return self.notify_once(now, Severity::Info, text::WAIT_MSL, String::new());
            }
            if !waited {
                return;
            }
            let current = self.history.first().copied().unwrap_or(0);
            let same_gen = current == self.peer.generation;
            // The peer's current generation further back in this history: this server has
            // all the peer has and more (a server that writes alone starts a new one).
            let local_newer = !same_gen
                && self
                    .history
                    .iter()
                    .skip(1)
                    .any(|&g| g == self.peer.generation);
            if self.peer.role == Role::Starting
                && same_gen
                && self.consistent
                && self.isolation_ok()
                && self.wins_plain_tie_break()
            {
                let ev = self.tie_evidence("mirrored server link down".into());
                self.promote(now, text::TIE_BREAK_WON, ev, false);
            } else if local_newer && self.consistent && self.isolation_ok() {
                let ev = format!(
                    "mirrored server link down; peer {} at generation {:#x}, local history {:x?}",
                    self.peer.role,
                    self.peer.generation,
                    self.history.as_slice()
                );
                self.promote(now, text::NEWER_DATA, ev, false);
            } else {
                let ev = format!("peer {}", self.peer.role);
                self.notify_once(now, Severity::Warning, text::WAIT_PEER, ev);
            }
        }
    }

    /// Starting, nothing heard for the startup wait: serve alone if consistent and not
    /// isolated.
    fn start_alone(&mut self, now: Duration) {
        let ev = format!("nothing heard for {} ms", self.cfg.startup_wait.as_millis());
        if !self.consistent {
            self.halt(
                now,
                HaltReason::InconsistentDisk,
                text::DISK_INCONSISTENT_START,
                ev,
            );
        } else if !self.isolation_ok() {
            let ev = format!("{ev}; {}", self.health_evidence());
            self.notify_once(now, Severity::Warning, text::ISOLATED_START, ev);
        } else {
            self.promote(now, text::SERVING_ALONE, ev, false);
        }
    }

    fn decide_secondary(&mut self, now: Duration) {
        // An accepted switch-over outlives the MSL: the primary stops serving before it
        // releases, so a LAN that shows it not serving completes the switch-over below.
        if self.handover == Handover::Accepted && self.state != RoleState::MirroredSecondary {
            self.handover = Handover::Idle;
        }
        if self.peer_restarted {
            // Decide on the new process's own word (its handshake or a state packet): it
            // may have started serving alone while this one could not hear it.
            if !self.peer.heard_since_restart {
                return;
            }
            if self.peer.serving() {
                self.peer_restarted = false;
                return;
            }
            let ev = "the primary's process restarted".to_string();
            if self.state == RoleState::SyncingSecondary && self.consistent {
                // Never resynced: its data may be older than the primary's. Not a takeover;
                // the tie-break below decides, as between two starting servers.
                self.peer_restarted = false;
            } else if !self.consistent {
                self.halt(
                    now,
                    HaltReason::InconsistentDisk,
                    text::DISK_INCONSISTENT,
                    ev,
                );
            } else {
                self.promote(now, text::PRIMARY_RESTARTED, ev, false);
                return;
            }
        }
        if self.state == RoleState::SyncingSecondary && self.consistent && self.msl == MslView::Up {
            return self.secondary_tie_break(now);
        }
        let Some(since) = self.msl_quiet_since() else {
            return;
        };
        if !self.lan.any_up() {
            let ev = self.silence_evidence(now, since);
            if !self.consistent {
                self.halt(
                    now,
                    HaltReason::InconsistentDisk,
                    text::DISK_INCONSISTENT,
                    ev,
                );
            } else if !self.isolation_ok() {
                let ev = format!("{ev}; {}", self.health_evidence());
                self.notify_once(now, Severity::Critical, text::ISOLATED, ev);
            } else {
                let ev = format!("{ev}; {}", self.health_evidence());
                self.promote(now, text::PRIMARY_DOWN, ev, false);
            }
        } else if self.peer_alive_after(since) {
            let ev = self.silence_evidence(now, since);
            if self.peer.serving() {
                self.shut_down(
                    now,
                    ShutdownReason::MslFailed,
                    text::MSL_FAILED_SECONDARY,
                    ev,
                );
            } else if self.handover == Handover::Accepted && self.consistent && self.isolation_ok()
            {
                // Mirrored until the primary stopped (it stops before it releases): this
                // copy has every acknowledged write, and the primary waits to be secondary.
                self.handover = Handover::Idle;
                self.promote(now, text::TAKING_OVER_LINK_DOWN, ev, false);
            } else {
                self.notify_once(now, Severity::Critical, text::MSL_FAILED_WAITING, ev);
            }
        }
    }

    /// A secondary still waiting for its first resync offer, facing a peer that does not
    /// serve and may not (starting, or waiting too): the scenario-6 tie-break, which both
    /// sides compute alike, picks the one that serves.
    fn secondary_tie_break(&mut self, now: Duration) {
        let waiting_peer = match self.peer.role {
            Role::Starting => true,
            Role::SyncingSecondary => self.peer.consistent(),
            _ => false,
        };
        if self.peer.serving() || !waiting_peer {
            return;
        }
        let Some((history, tracked_since)) = self.peer.generations() else {
            return;
        };
        let peer_gen = Generations {
            history: &history,
            tracked_since,
        };
        let order = compare(self.generations(), peer_gen);
        if order != GenerationOrder::Diverged && self.wins_against_peer(order) {
            let ev = self.tie_evidence(super::order_text(order).to_string());
            self.promote(now, text::TIE_BREAK_WON, ev, false);
        }
    }

    fn decide_primary(&mut self, now: Duration) {
        self.decide_stall_check(now);
        if !self.state.is_primary() {
            return;
        }
        // Two primaries (a healed partition): the tie-break loser stops, never merging.
        // Either witness: the MSL's word, or the state packets' while the MSL delays it.
        let claim = |s: Option<Duration>| s.is_some_and(|s| now >= s + self.cfg.dual_confirm);
        let asking = self.peer.asking_until.is_some_and(|t| now < t);
        let dual = self.serving
            && !asking
            && (self.lan.any_up() || self.msl == MslView::Up)
            && (claim(self.peer.serving_since)
                || (self.lan.any_up() && claim(self.peer.lan_serving_since)));
        if dual {
            let ev = format!(
                "peer {} (priority {}) serving",
                self.peer.server_id(),
                self.peer.priority
            );
            if self.wins_plain_tie_break() {
                self.operator_wait = true;
                self.notify_once(now, Severity::Critical, text::DUAL_KEEP, ev);
            } else {
                self.halt(now, HaltReason::Diverged, text::DUAL_STOP, ev);
                return;
            }
        }
        let attached = matches!(
            self.mirror,
            MirrorState::Mirrored | MirrorState::ImageTransfer | MirrorState::DiskResync
        );
        if attached {
            if self.peer_restarted {
                self.lose_peer(now, text::SECONDARY_RESTARTED, String::new());
            } else if let Some(since) = self.msl_quiet_since().filter(|_| !self.deaf()) {
                if !self.lan.any_up() {
                    let ev = self.silence_evidence(now, since);
                    self.lose_peer(now, text::SECONDARY_DOWN, ev);
                } else if self.peer_alive_after(since) {
                    let ev = self.silence_evidence(now, since);
                    self.lose_peer(now, text::MSL_FAILED_PRIMARY, ev);
                }
            }
        }
        self.peer_restarted = false;
        if let Handover::Requested(_) = self.handover {
            if self.msl != MslView::Up || self.state != RoleState::MirroredPrimary {
                self.abandon_handover(now, "mirroring lost during the switch-over".into());
            }
        }
        let want_handover = self.state == RoleState::MirroredPrimary
            && self.handover == Handover::Idle
            && self.msl == MslView::Up
            && self.handover_retry_at.is_none_or(|t| now >= t)
            && self.peer.role == Role::MirroredSecondary
            && self.peer.consistent();
        if want_handover {
            if let Some(ev) = self.verdict.clone() {
                self.request_handover(now, ev);
            }
        }
        if self.msl == MslView::Up && self.mirror == MirrorState::Unmirrored && !self.operator_wait
        {
            self.offer_resync(now);
        }
    }

    /// The primary goes on alone: unmirrored, tracking changes.
    fn lose_peer(&mut self, now: Duration, what: &'static str, ev: String) {
        self.state = RoleState::UnmirroredPrimary;
        self.mirror = MirrorState::Unmirrored;
        self.peer_restarted = false;
        if !self.tracking {
            self.tracking = true;
            self.actions.push_back(crate::role::Action::StartTracking);
        }
        self.notify(now, Severity::Warning, what, ev);
    }

    /// "msl silent 23 ms; lan: path 0 silent 21 ms, path 1 never heard".
    fn silence_evidence(&self, now: Duration, since: Duration) -> String {
        let mut s = match self.msl {
            MslView::Down => "msl down".to_string(),
            _ => format!("msl silent {} ms", now.saturating_sub(since).as_millis()),
        };
        s.push_str("; lan:");
        if self.lan.paths.is_empty() {
            s.push_str(" no paths");
        }
        for p in &self.lan.paths {
            let state = if p.up { "up" } else { "silent" };
            let _ = match p.age {
                Some(a) => write!(s, " path {} {state} {} ms", p.index, a.as_millis()),
                None => write!(s, " path {} never heard", p.index),
            };
        }
        s
    }

    fn health_evidence(&self) -> String {
        let h = &self.health;
        let hears = if h.hears_network {
            "hears"
        } else {
            "does not hear"
        };
        let mut s = format!(
            "{hears} the network, {} working adapters",
            h.working_adapters
        );
        if !h.evidence.is_empty() {
            let _ = write!(s, ", {}", h.evidence);
        }
        s
    }

    fn tie_evidence(&self, ev: String) -> String {
        format!(
            "{ev}; local priority {} id {}, peer priority {} id {}",
            self.cfg.priority,
            self.cfg.server_id,
            self.peer.priority,
            self.peer.server_id()
        )
    }
}
