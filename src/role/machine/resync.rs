//! Resync bookkeeping: the primary offers (it picks the kind from the generations), the
//! secondary starts the target end, and both report progress until mirrored.

use core::time::Duration;

use super::{order_text, MslView, RoleMachine};
use crate::role::generation::{compare, GenerationOrder, Generations};
use crate::role::notice::{text, Severity};
use crate::role::types::{
    Action, HaltReason, ResyncKind, ResyncProgress, ResyncRole, RoleMessage, RoleState,
};
use crate::wire::state::{MirrorState, Role};

impl RoleMachine {
    pub(super) fn on_resync(&mut self, now: Duration, p: ResyncProgress) {
        match (p, self.state) {
            (ResyncProgress::ImageDone, _) if self.mirror == MirrorState::ImageTransfer => {
                self.mirror = MirrorState::DiskResync;
            }
            // Only the end of a resync this machine started makes the volume consistent.
            (ResyncProgress::DiskDone, RoleState::SyncingSecondary) if self.resyncing() => {
                self.consistent = true;
                self.overwrite_ok = false;
                self.local_choice = None;
                self.mirror = MirrorState::Mirrored;
                self.state = RoleState::MirroredSecondary;
                self.notify(now, Severity::Info, text::MIRRORED, String::new());
            }
            // With the MSL silent (not gone) too: the silence may be a stall's own, and a
            // peer that is really gone is found by the silence rules next (`lose_peer`).
            // Dropping the news instead left the pair half mirrored for good.
            (ResyncProgress::DiskDone, RoleState::UnmirroredPrimary)
                if self.resyncing() && self.msl != MslView::Down =>
            {
                self.mirror = MirrorState::Mirrored;
                self.state = RoleState::MirroredPrimary;
                self.local_choice = None;
                if self.tracking {
                    self.tracking = false;
                    self.actions.push_back(Action::StopTracking);
                }
                self.notify(now, Severity::Info, text::MIRRORED, String::new());
            }
            _ => {}
        }
    }

    /// A primary with a live MSL offers the peer a resync (it sends the image and changes).
    pub(super) fn offer_resync(&mut self, now: Duration) {
        if !self.state.is_primary()
            || self.msl != MslView::Up
            || self.mirror != MirrorState::Unmirrored
        {
            return;
        }
        if self.peer.serving() || matches!(self.peer.role, Role::ShutDown) {
            return; // a serving peer: the dual-primary rule decides
        }
        let Some((history, tracked_since)) = self.peer.generations() else {
            return;
        };
        let peer = Generations {
            history: &history,
            tracked_since,
        };
        let order = compare(self.generations(), peer);
        let kind = match order {
            _ if self.force_full => ResyncKind::Full,
            // A peer mid-resync holds nothing of its own (it became a target only when it
            // was older, or chosen to be overwritten): finish the job, in full.
            GenerationOrder::PeerNewer { .. } | GenerationOrder::Diverged
                if !self.peer.consistent() =>
            {
                ResyncKind::Full
            }
            GenerationOrder::Same | GenerationOrder::LocalNewer { incremental: true } => {
                ResyncKind::Incremental
            }
            GenerationOrder::LocalNewer { incremental: false } | GenerationOrder::Unknown => {
                ResyncKind::Full
            }
            GenerationOrder::PeerNewer { .. } | GenerationOrder::Diverged => {
                let ev = format!(
                    "{}; local {:?}, peer {:?}",
                    order_text(order),
                    self.history,
                    history
                );
                self.diverged(now, ev);
                return;
            }
        };
        self.force_full = false;
        self.operator_wait = false;
        self.mirror = MirrorState::ImageTransfer;
        if !self.tracking {
            self.tracking = true;
            self.actions.push_back(Action::StartTracking);
        }
        self.actions.push_back(Action::StartResync {
            role: ResyncRole::Source,
            kind,
        });
        self.actions
            .push_back(Action::SendToPeer(RoleMessage::StartResync { kind }));
        let ev = format!("{kind:?} resync, {}", order_text(order));
        self.notify(now, Severity::Info, text::RESYNC_SOURCE, ev);
    }

    /// The primary's offer: become (or stay) the syncing secondary and start the target end.
    pub(super) fn on_resync_offer(&mut self, now: Duration, kind: ResyncKind) {
        let ok = match self.state {
            RoleState::Starting | RoleState::SyncingSecondary | RoleState::MirroredSecondary => {
                true
            }
            RoleState::Halted(HaltReason::InconsistentDisk) => true,
            RoleState::Halted(HaltReason::Diverged) => self.overwrite_ok,
            _ => false,
        };
        if !ok || self.serving {
            return;
        }
        let kind = if self.overwrite_ok {
            ResyncKind::Full
        } else {
            kind
        };
        // A primary offered: whatever restarted before, a primary is alive now.
        self.peer_restarted = false;
        self.state = RoleState::SyncingSecondary;
        self.consistent = false;
        self.operator_wait = false;
        self.mirror = MirrorState::ImageTransfer;
        self.wait_notice = None;
        self.actions.push_back(Action::StartResync {
            role: ResyncRole::Target,
            kind,
        });
        self.notify(
            now,
            Severity::Info,
            text::RESYNC_TARGET,
            format!("{kind:?} resync"),
        );
    }
}
