//! Operator commands and the operator's choice after a divergence (scenario 7).

use core::time::Duration;

use super::{MslView, RoleMachine};
use crate::role::notice::{text, Severity};
use crate::role::types::{Action, Command, HaltReason, RoleMessage, RoleState, ShutdownReason};
use crate::wire::state::{MirrorState, Role};

impl RoleMachine {
    /// An operator command (each refusal is a notice).
    pub(super) fn on_command(&mut self, now: Duration, c: Command) {
        match c {
            Command::Promote => {
                if self.state.is_primary() {
                    return;
                }
                // A live peer that cannot promote itself (halted, shut down, inconsistent):
                // promoting beside it cannot race its own decision.
                let peer_may_promote = self.peer.consistent()
                    && matches!(
                        self.peer.role,
                        Role::Starting | Role::SyncingSecondary | Role::MirroredSecondary
                    );
                let peer_passive = (self.lan.any_up() || self.msl == MslView::Up)
                    && !self.peer.serving()
                    && !peer_may_promote
                    && !matches!(self.peer.role, Role::Unknown(_));
                let why = if self.deaf_until.is_some() {
                    Some("just back from a stall: listening first")
                } else if self.hears_serving_peer() {
                    Some("a serving primary is heard")
                } else if !peer_passive && now < self.quiet_from() + self.cfg.startup_wait {
                    Some("the peer is alive and may serve (or was heard less than the startup wait ago)")
                } else if !self.consistent {
                    Some("the disk is inconsistent")
                } else if matches!(self.state, RoleState::ShutDown(_)) {
                    Some("shut down")
                } else {
                    None
                };
                match why {
                    Some(why) => {
                        self.notify(now, Severity::Warning, text::OP_PROMOTE_REFUSED, why.into())
                    }
                    None => {
                        self.operator_wait = false;
                        self.local_choice = None;
                        self.promote(now, text::OP_PROMOTED, String::new(), false);
                    }
                }
            }
            Command::Demote if self.state == RoleState::MirroredPrimary => {
                self.request_handover(now, "operator: demote".into());
            }
            Command::Demote if !self.state.is_primary() => {
                let ev = format!("state {}", self.role());
                self.notify(now, Severity::Info, text::OP_NOT_PRIMARY, ev);
            }
            Command::Demote | Command::Shutdown => {
                self.shut_down(
                    now,
                    ShutdownReason::Operator,
                    text::OP_SHUTDOWN,
                    String::new(),
                );
            }
            Command::ChooseSurvivor { server_id } => self.choose_survivor(now, server_id, true),
        }
    }

    /// The survivor serves and resyncs the other in full; the other stops and waits to be
    /// overwritten. `tell_peer`: the command came from this console, so the peer is told.
    pub(super) fn choose_survivor(&mut self, now: Duration, server_id: u64, tell_peer: bool) {
        // Two consoles choosing differently at once: keep this console's choice, say so;
        // the operator repeats the command on one side.
        if !tell_peer && self.local_choice.is_some_and(|c| c != server_id) {
            let ev = format!(
                "peer chose {server_id}, this console chose {:?}",
                self.local_choice
            );
            self.notify(now, Severity::Critical, text::OP_SURVIVOR_CONFLICT, ev);
            return;
        }
        let tell = |m: &mut Self| {
            if tell_peer {
                m.local_choice = Some(server_id);
                m.actions
                    .push_back(Action::SendToPeer(RoleMessage::SurvivorChosen {
                        server_id,
                    }));
            }
        };
        if server_id == self.cfg.server_id {
            let refused = if self.serving {
                None
            } else if !self.consistent {
                Some("the disk is inconsistent")
            } else if self.hears_serving_peer() {
                Some("a serving primary is heard")
            } else {
                None
            };
            if let Some(why) = refused {
                self.notify(now, Severity::Warning, text::OP_PROMOTE_REFUSED, why.into());
                return;
            }
            // The peer hears of the choice before the resync offer that follows.
            tell(self);
            self.operator_wait = false;
            self.force_full = true;
            if self.serving {
                self.mirror = MirrorState::Unmirrored;
                let ev = String::new();
                self.notify(now, Severity::Warning, text::OP_SURVIVOR_SELF, ev);
                self.offer_resync(now);
            } else {
                self.promote(now, text::OP_SURVIVOR_SELF, String::new(), false);
            }
        } else if server_id == self.peer.server_id() {
            tell(self);
            self.stop_serving();
            self.overwrite_ok = true;
            if !matches!(self.state, RoleState::Halted(_)) {
                self.state = RoleState::Halted(HaltReason::Diverged);
            }
            self.operator_wait = false;
            let ev = format!("survivor {server_id}");
            self.notify(now, Severity::Warning, text::OP_SURVIVOR_PEER, ev);
        }
    }
}
