//! Stalls: a process that did not run could not hear, and its peer may have acted on its
//! silence.
//!
//! | who stalled | and | then |
//! |---|---|---|
//! | a serving primary, past the fence | an MSL session exists (up, or silent: the silence may be the stall's own), the peer was a secondary | serving **pauses** (no replies; routes stay) and the peer is asked over the MSL whether it took over ([`RoleMessage::StallCheck`]); it answers with its role ([`RoleMessage::StallAnswer`]): still a secondary, serving resumes; anything else, no answer within `stall_check`, or the peer claiming to serve: step down (withdraw, restart as the secondary) |
//! | a serving primary, past the fence | otherwise (no MSL session to ask over) | step down at once |
//! | anyone else | | silence does not count for `resume_grace` |
//!
//! Why ask rather than step down: on a loaded host a stall often hits both servers at
//! once (a virtual machine not run by its host, measured at 20–90 ms); then the secondary
//! could not act either, and stepping down turned every such stall into a failover. The
//! answer is safe to trust: the secondary promotes only after its silence threshold
//! without a frame from the primary, and the question itself is such a frame, so a
//! secondary that answers "secondary" has not taken over and will not without a new
//! silence.

use core::time::Duration;

use crate::wire::state::{MirrorState, Role};

use super::{MslView, RoleMachine};
use crate::role::notice::{text, Severity};
use crate::role::types::{Action, RoleMessage, RoleState, ShutdownReason};

/// A stalled primary's question, while its serving is paused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct StallCheck {
    nonce: u32,
    asked: Duration,
    deadline: Duration,
    /// How long the process had not run.
    gap: Duration,
}

impl StallCheck {
    pub(super) fn deadline(&self) -> Duration {
        self.deadline
    }
}

impl RoleMachine {
    /// True while a primary back from a stall waits for its secondary's answer. The driver
    /// sends no state packets meanwhile: they would show a primary, which a peer that took
    /// over must not take for a second one (the question on the MSL proves life enough).
    pub fn stall_asking(&self) -> bool {
        self.stall_check.is_some()
    }

    /// Looks at the time since the last call: see the module documentation.
    pub(super) fn check_stall(&mut self, now: Duration) {
        let gap = now.saturating_sub(self.last_now);
        self.last_now = self.last_now.max(now);
        if self.deaf_until.is_some_and(|t| now >= t) {
            self.deaf_until = None;
        }
        let Some(fence) = self.cfg.stall_fence else {
            return;
        };
        if gap < fence || matches!(self.state, RoleState::ShutDown(_)) {
            return;
        }
        let ev = format!("not run for {} ms", gap.as_millis());
        // A consistent secondary promotes after a silence as short as the fence; any other
        // peer only after the startup wait (starting) or never (inconsistent, halted).
        let peer_can_promote_fast = matches!(
            self.peer.role,
            Role::SyncingSecondary | Role::MirroredSecondary
        ) && self.peer.consistent();
        let limit = if self.state == RoleState::MirroredPrimary || peer_can_promote_fast {
            fence
        } else {
            self.cfg.startup_wait.saturating_sub(fence)
        };
        let fenced = self.state.is_primary() && gap >= limit;
        if !fenced {
            self.deaf_until = Some(now + self.cfg.resume_grace);
            self.notify(now, Severity::Warning, text::STALLED_DEAF, ev);
        } else if self.serving {
            // A silent MSL may be the stall's own doing (the driver thread did not run
            // either and timed the peer out): the question still goes, the deadline
            // settles a link that is really gone.
            let ask = self.cfg.stall_check.filter(|_| {
                self.msl != MslView::Down
                    && matches!(
                        self.peer.role,
                        Role::SyncingSecondary | Role::MirroredSecondary
                    )
            });
            match ask {
                Some(wait) => self.pause_and_ask(now, wait, gap, ev),
                None => self.step_down_stalled(now, ev),
            }
        } else if let Some(c) = self.stall_check.as_mut() {
            // Stalled again while asking: the answer's deadline counts from now.
            c.gap += gap;
        }
    }

    /// Pauses serving and asks the secondary whether it took over.
    fn pause_and_ask(&mut self, now: Duration, wait: Duration, gap: Duration, ev: String) {
        self.serving = false;
        self.actions.push_back(Action::StopServing);
        // "Not serving" first: a peer that took over meanwhile must not read the question
        // as a second primary's (its last word from us said serving).
        self.announce();
        self.stall_nonce = self.stall_nonce.wrapping_add(1);
        let nonce = self.stall_nonce;
        self.stall_check = Some(StallCheck {
            nonce,
            asked: now,
            deadline: now + wait,
            gap,
        });
        self.actions
            .push_back(Action::SendToPeer(RoleMessage::StallCheck { nonce }));
        self.notify(now, Severity::Warning, text::STALLED_ASKING, ev);
    }

    /// The old fence: withdraw, stop, restart as the secondary.
    fn step_down_stalled(&mut self, now: Duration, ev: String) {
        if self.stall_check.take().is_some() {
            // Serving stopped at the pause; the routes were kept until now.
            self.actions.push_back(Action::Withdraw);
        }
        self.stop_serving();
        self.state = RoleState::ShutDown(ShutdownReason::Stalled);
        self.mirror = MirrorState::Unmirrored;
        self.notify(now, Severity::Critical, text::STALLED, ev);
        self.actions.push_back(Action::RestartAsSecondary);
    }

    /// The secondary's side (or the new primary's): answer with the current role at once.
    /// A primary that took over meanwhile does not count the asker's claims as a second
    /// primary's while it waits for the answer: it steps down on it.
    pub(super) fn on_stall_check(&mut self, now: Duration, nonce: u32) {
        if let Some(wait) = self.cfg.stall_check {
            self.peer.asking_until = Some(now + wait + self.cfg.resume_grace);
        }
        let role = self.role();
        self.actions
            .push_back(Action::SendToPeer(RoleMessage::StallAnswer { nonce, role }));
    }

    /// The primary's side: the secondary's answer.
    pub(super) fn on_stall_answer(&mut self, now: Duration, nonce: u32, role: Role) {
        let Some(c) = self.stall_check.filter(|c| c.nonce == nonce) else {
            return; // an old question's answer
        };
        let ev = format!(
            "not run for {} ms; the peer answered {} after {} ms",
            c.gap.as_millis(),
            role.name(),
            now.saturating_sub(c.asked).as_millis()
        );
        let still_secondary = matches!(role, Role::SyncingSecondary | Role::MirroredSecondary);
        if still_secondary && self.state.is_primary() {
            self.stall_check = None;
            self.serving = true;
            self.actions.push_back(Action::StartServing);
            self.notify(now, Severity::Info, text::STALL_CLEARED, ev);
        } else {
            self.step_down_stalled(now, ev);
        }
    }

    /// While asking: give up on no answer, on a silent MSL, or on a peer that serves.
    pub(super) fn decide_stall_check(&mut self, now: Duration) {
        let Some(c) = self.stall_check else { return };
        let why = if now >= c.deadline {
            Some("no answer")
        } else if self.peer.serving_since.is_some() || self.peer.lan_serving_since.is_some() {
            Some("the peer serves")
        } else {
            None
        };
        if let Some(why) = why {
            let ev = format!(
                "not run for {} ms; {why} {} ms after asking",
                c.gap.as_millis(),
                now.saturating_sub(c.asked).as_millis()
            );
            self.step_down_stalled(now, ev);
        }
    }
}
