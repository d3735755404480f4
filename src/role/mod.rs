//! The role state machine: who serves clients, decided from the MSL, the LAN state packets,
//! adapter health and the operator (DESIGN §2, scenarios 1–8). Sans-IO like [`crate::msl`]:
//! [`RoleMachine::handle`] takes `now` and an [`Input`], [`RoleMachine::poll_action`] yields
//! [`Action`]s in order, [`RoleMachine::poll_timeout`] / [`RoleMachine::handle_timeout`]
//! drive the timers. No clock, socket or thread.
//!
//! | state | wire role | serves | leaves when |
//! |---|---|---|---|
//! | [`RoleState::Starting`] | starting | no | MSL up (roles, generations, tie-break); or nothing heard for `startup_wait` |
//! | [`RoleState::SyncingSecondary`] | syncing-secondary | no | disk resync done; primary dead (inconsistent: halt) |
//! | [`RoleState::MirroredSecondary`] | mirrored-secondary | no | primary dead (scenario 1), MSL failed (3), release (4) |
//! | [`RoleState::MirroredPrimary`] | mirrored-primary | yes | secondary lost (2, 3), switch-over (4) |
//! | [`RoleState::UnmirroredPrimary`] | unmirrored-primary | yes | resync done: mirrored |
//! | [`RoleState::ShutDown`] | shut-down | no | never (the process ends or restarts) |
//! | [`RoleState::Halted`] | halted | no | operator; or (inconsistent disk) a primary's resync |
//!
//! **Decisions are level-triggered.** Every input updates what the machine knows (MSL state,
//! per-path LAN ages, the peer's latest word, own health, the verdict), then the decision
//! rules of the current state run again, so news arriving in either order decides the same.
//!
//! | scenario | evidence | decision |
//! |---|---|---|
//! | 1 primary dies | MSL silent and every LAN path silent | secondary promotes, if consistent (8) and not isolated (5) |
//! | 2 secondary dies | the same, on the primary | unmirrored primary, tracks changes |
//! | 3 MSL fails | MSL silent, but a state packet arrives `msl_failed_confirm` after the MSL's last frame | a secondary shuts down if the peer serves; the primary tracks |
//! | 4 adapters fail | the health layer's verdict "peer more functional" while mirrored | switch-over (below); the old primary restarts as secondary |
//! | 5 all silent | own health | no promotion without hearing the network; a notice says why |
//! | 6 both start | MSL handshake | consistent, then newer, then priority, then server id wins |
//! | 7 diverged | generation histories ([`generation`]) | halt (or keep serving, refusing to mirror); the operator picks the survivor |
//! | 8 primary dies mid-resync | as 1, inconsistent disk | halt, never serve |
//!
//! **One servicer.** A server never starts serving while it hears the peer claim to serve
//! (on any LAN path or the MSL), with one exception: the switch-over. There the primary asks
//! ([`RoleMessage::HandoverRequest`]), the secondary accepts, the primary withdraws and stops
//! serving *then* sends [`RoleMessage::Released`], and only then does the secondary serve;
//! state packets of the released incarnation no longer count as serving. Two primaries can
//! still meet after a full partition heals (both passed the isolation check): the one that
//! loses the plain tie-break stops within `dual_confirm` and halts as diverged.
//!
//! **Stalls.** A starved process cannot hear, and its peer may act on its silence. The
//! machine asks to be woken every third of `stall_fence` (15 ms); a longer gap between two
//! calls is a stall. A primary whose peer could have taken over (a consistent secondary, or
//! after a stall near the startup wait, a starting peer) stops serving before anything
//! else. With an MSL session and a secondary peer it only pauses (replies stop, routes
//! stay) and asks the peer ([`RoleMessage::StallCheck`]): on "still the secondary" it
//! serves on; on anything else, no answer within `stall_check` or a serving peer it
//! withdraws and restarts as the secondary, as it does at once without an MSL session. A primary
//! that took over does not count the asker's claims as a second primary's while it waits
//! for the answer. Any other server makes no new role decision for `resume_grace`, until
//! it has heard the peer again.
//!
//! **The peer's word.** While the MSL is up the peer's role, flags and generation come from
//! the handshake and then [`RoleMessage::Status`] (sent on every change): both ordered on
//! the MSL. State packets are not ordered with them (one sent before the handshake may
//! arrive after it), so while the MSL is up they only prove life; with the MSL down they
//! carry the role too. A serving server starting alone needs `startup_wait` of silence
//! counted from the peer's last sign of life, not from its own start.
//!
//! **Operator.** [`Command::Promote`] is refused while a serving peer is heard, with an
//! inconsistent volume, just after a stall, and while a live peer may promote itself
//! (starting, or a consistent secondary). [`Command::ChooseSurvivor`] is passed to the peer;
//! two consoles choosing differently keep their own choice and say so.
//!
//! **Resync** is driven by the primary: it starts the source end and sends
//! [`RoleMessage::StartResync`]; the secondary starts the target end (its disk is then
//! inconsistent until [`ResyncProgress::DiskDone`]). Both run [`generation::compare`] on the
//! same histories, so they agree on direction and kind.
//!
//! **The driver's part.** Feed [`Input::OwnHealth`] early: until it arrives the server
//! counts as isolated (it never serves alone on no evidence). Carry [`RoleMessage`]s on the
//! MSL's control class ([`RoleMessage::encode`] / [`RoleMessage::decode`]) and flush
//! [`RoleMessage::Released`] before acting on [`Action::RestartAsSecondary`]. Put
//! [`RoleMachine::role`], [`RoleMachine::flags`] and [`RoleMachine::mirror_state`] in every
//! state packet and in the handshake (the current values, not those of the endpoint's
//! creation). Call [`RoleMachine::handle_timeout`] at [`RoleMachine::poll_timeout`] from the
//! unstarvable timer thread. Every [`Notice`] goes to the console and the log file (its
//! `Display` is the console line); [`text`] holds the wordings. [`RoleMachine::last_notice`]
//! is the status command's last decision.
//!
//! **Not done here.** The "more functional" comparison and its hysteresis (the health
//! layer); change tracking and generation ids (the journal: [`Action::StartTracking`] starts
//! a new generation, and the machine is told the result with [`Input::Generations`]); a
//! lease in the serve path (after a stall, replies queued in other threads could go out
//! before the fence: the driver should check that the machine ran within `stall_fence`
//! before each reply).

pub mod generation;
mod machine;
mod notice;
mod types;

pub use machine::RoleMachine;
pub use notice::{text, Notice, Severity};
pub use types::{
    Action, Command, HaltReason, Input, IsolationPolicy, LanPath, LanView, OwnHealth, PeerStatus,
    ResyncKind, ResyncProgress, ResyncRole, RoleConfig, RoleMessage, RoleState, ShutdownReason,
};
