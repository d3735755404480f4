//! The switch-over of scenario 4. The primary asks; the secondary accepts only when it
//! is a consistent mirrored secondary with a live MSL that passes the isolation check; the
//! primary then withdraws and stops serving *before* it sends the release, so there is no
//! instant with two servers serving; the old primary restarts as the secondary.

use core::time::Duration;

use super::{Handover, MslView, RoleMachine};
use crate::role::notice::{text, Severity};
use crate::role::types::{Action, RoleMessage, RoleState, ShutdownReason};
use crate::wire::state::MirrorState;

impl RoleMachine {
    /// Asks the secondary to take over (the verdict, or the operator's demote).
    pub(super) fn request_handover(&mut self, now: Duration, evidence: String) {
        self.handover = Handover::Requested(now + self.cfg.handover_timeout);
        self.actions
            .push_back(Action::SendToPeer(RoleMessage::HandoverRequest));
        self.notify(now, Severity::Warning, text::SWITCHING_OVER, evidence);
    }

    /// Gives up on a switch-over; tries again after `handover_retry` if still warranted.
    pub(super) fn abandon_handover(&mut self, now: Duration, why: String) {
        self.handover = Handover::Idle;
        self.handover_retry_at = Some(now + self.cfg.handover_retry);
        self.notify(now, Severity::Warning, text::SWITCHOVER_FAILED, why);
    }

    /// The secondary accepted: stop serving first, then release it; restart as secondary.
    pub(super) fn release(&mut self, now: Duration) {
        self.handover = Handover::Idle;
        self.stop_serving();
        self.actions
            .push_back(Action::SendToPeer(RoleMessage::Released));
        self.state = RoleState::ShutDown(ShutdownReason::HandedOver);
        self.mirror = MirrorState::Unmirrored;
        self.notify(now, Severity::Critical, text::SWITCHED_OVER, String::new());
        self.actions.push_back(Action::RestartAsSecondary);
    }

    /// Secondary: accept the primary's request, or refuse it saying why.
    pub(super) fn on_handover_request(&mut self, now: Duration) {
        let why = if self.state != RoleState::MirroredSecondary {
            Some("not a mirrored secondary")
        } else if !self.consistent {
            Some("disk inconsistent")
        } else if self.msl != MslView::Up {
            Some("mirrored server link down")
        } else if !self.isolation_ok() {
            Some("fails the isolation check")
        } else {
            None
        };
        match why {
            None => {
                self.handover = Handover::Accepted;
                self.actions
                    .push_back(Action::SendToPeer(RoleMessage::HandoverAccept));
            }
            Some(why) => {
                self.actions
                    .push_back(Action::SendToPeer(RoleMessage::HandoverRefuse));
                self.notify(now, Severity::Warning, text::SWITCHOVER_REFUSED, why.into());
            }
        }
    }
}
