//! The role machine's vocabulary: configuration, states, inputs, outputs and peer messages.

use core::fmt;
use core::time::Duration;

use arrayvec::ArrayVec;

use crate::msl::{HandshakeRepr, MAX_HISTORY};
use crate::wire::state::{Role, StateFlags, MAX_ADAPTERS};

use super::notice::Notice;

/// The isolation check (scenario 5) a server must pass before it serves without its peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsolationPolicy {
    /// The health layer must say it hears the network (routers, clients, SAP/RIP).
    pub require_hears_network: bool,
    /// At least this many own LAN adapters must be working.
    pub min_working_adapters: u8,
}

/// The machine's configuration.
#[derive(Clone, Debug)]
pub struct RoleConfig {
    /// This server's id (the last tie-break).
    pub server_id: u64,
    /// Tie-break priority, higher wins (the configured preference).
    pub priority: u8,
    /// How long a starting server waits to find a peer before it serves alone.
    pub startup_wait: Duration,
    /// With the MSL silent, a peer state packet this long after the MSL's last frame proves
    /// the peer alive (scenario 3) rather than dead (scenario 1). Must exceed the LAN's
    /// one-way delay spread, or a packet sent just before the peer died would count.
    pub msl_failed_confirm: Duration,
    /// How long a primary waits for the secondary to accept a switch-over.
    pub handover_timeout: Duration,
    /// After a failed switch-over, the wait before trying again.
    pub handover_retry: Duration,
    /// A serving server that hears the peer serving for this long stops if it loses the
    /// tie-break (a healed partition). Longer than the LAN's delay, so state packets sent
    /// just before a switch-over cannot trigger it.
    pub dual_confirm: Duration,
    /// The isolation check.
    pub isolation: IsolationPolicy,
    /// A process not run for this long (a gap between two calls) was starved. A mirrored
    /// primary then stops serving at once (its peer may have taken over meanwhile): it asks
    /// the peer first (`stall_check`) or restarts as the secondary; any other server
    /// ignores silence for `resume_grace` (it could not hear while it did not run). `poll_timeout` wakes the machine every third of it,
    /// so only a starved process sees such a gap. Below the peer's detection time (the LAN
    /// silence threshold minus one state interval); `None` turns both off.
    pub stall_fence: Option<Duration>,
    /// After a stall, how long silence does not count (two state intervals: enough for the
    /// peer's next state packet to arrive).
    pub resume_grace: Duration,
    /// A mirrored primary stalled past the fence with the MSL up pauses serving and asks
    /// the secondary whether it took over, waiting this long for the answer before it
    /// steps down ([`RoleMessage::StallCheck`]); `None`: it steps down at once.
    pub stall_check: Option<Duration>,
    /// The volume is consistent at start (no resync was cut short), as the journal says.
    pub data_consistent: bool,
    /// The generation history at start, newest first.
    pub history: ArrayVec<u64, MAX_HISTORY>,
    /// The generation change tracking started from at start (0 = not tracking).
    pub tracked_since: u64,
}

impl RoleConfig {
    /// Defaults: wait 100 ms for a peer at start, confirm an MSL failure 10 ms after the
    /// MSL's last frame, switch-over timeout 100 ms and retry after 1 s, dual-primary
    /// confirmation 10 ms, the isolation check requires hearing the network and one working
    /// adapter, stall fence 15 ms, resume grace 10 ms, a stalled primary asks before stepping
    /// down and waits 20 ms for the answer, consistent data, empty history.
    pub fn new(server_id: u64, priority: u8) -> RoleConfig {
        RoleConfig {
            server_id,
            priority,
            startup_wait: Duration::from_millis(100),
            msl_failed_confirm: Duration::from_millis(10),
            handover_timeout: Duration::from_millis(100),
            handover_retry: Duration::from_secs(1),
            dual_confirm: Duration::from_millis(10),
            isolation: IsolationPolicy {
                require_hears_network: true,
                min_working_adapters: 1,
            },
            stall_fence: Some(Duration::from_millis(15)),
            resume_grace: Duration::from_millis(10),
            stall_check: Some(Duration::from_millis(20)),
            data_consistent: true,
            history: ArrayVec::new(),
            tracked_since: 0,
        }
    }
}

/// Why a server shut itself down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShutdownReason {
    /// Scenario 3: the MSL failed while the primary still serves clients.
    MslFailed,
    /// Scenario 4: handed over to the more functional peer (restarts as secondary).
    HandedOver,
    /// The process was starved while mirrored primary; the peer may have taken over
    /// (restarts as secondary).
    Stalled,
    /// The operator asked.
    Operator,
}

/// Why a server halted, waiting for the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HaltReason {
    /// Scenario 7: both sides have data the other lacks.
    Diverged,
    /// Scenario 8: the volume is mid-resync and no consistent peer is left to finish it.
    InconsistentDisk,
}

impl fmt::Display for ShutdownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ShutdownReason::MslFailed => "msl-failed",
            ShutdownReason::HandedOver => "handed-over",
            ShutdownReason::Stalled => "stalled",
            ShutdownReason::Operator => "operator",
        })
    }
}

impl fmt::Display for HaltReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HaltReason::Diverged => "diverged",
            HaltReason::InconsistentDisk => "inconsistent-disk",
        })
    }
}

/// Where the machine stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RoleState {
    /// Looking for a peer.
    Starting,
    /// Secondary, receiving (or waiting for) the image and the disk changes.
    SyncingSecondary,
    /// Primary of a protected pair.
    MirroredPrimary,
    /// Secondary of a protected pair.
    MirroredSecondary,
    /// Primary without a protecting peer (tracks changes; may be resyncing one).
    UnmirroredPrimary,
    /// Stopped on purpose; the driver ends (or restarts) the process.
    ShutDown(ShutdownReason),
    /// Never serves; waits for the operator.
    Halted(HaltReason),
}

impl RoleState {
    /// The role a state packet announces.
    pub const fn wire_role(self) -> Role {
        match self {
            RoleState::Starting => Role::Starting,
            RoleState::SyncingSecondary => Role::SyncingSecondary,
            RoleState::MirroredPrimary => Role::MirroredPrimary,
            RoleState::MirroredSecondary => Role::MirroredSecondary,
            RoleState::UnmirroredPrimary => Role::UnmirroredPrimary,
            RoleState::ShutDown(_) => Role::ShutDown,
            RoleState::Halted(_) => Role::Halted,
        }
    }

    /// True for the two primary states.
    pub const fn is_primary(self) -> bool {
        matches!(
            self,
            RoleState::MirroredPrimary | RoleState::UnmirroredPrimary
        )
    }

    /// True for the two secondary states.
    pub const fn is_secondary(self) -> bool {
        matches!(
            self,
            RoleState::SyncingSecondary | RoleState::MirroredSecondary
        )
    }
}

/// One LAN path to the peer (one own adapter), as the state-packet layer sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LanPath {
    /// Own adapter index.
    pub index: u8,
    /// The peer's state packets arrive on it (heard within the silence threshold).
    pub up: bool,
    /// Time since the peer's last state packet on it (`None`: never heard).
    pub age: Option<Duration>,
}

/// Every LAN path to the peer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LanView {
    /// One entry per own adapter.
    pub paths: ArrayVec<LanPath, MAX_ADAPTERS>,
}

impl LanView {
    /// True when the peer is heard on at least one path.
    pub fn any_up(&self) -> bool {
        self.paths.iter().any(|p| p.up)
    }

    /// The youngest age over all paths.
    pub fn newest_age(&self) -> Option<Duration> {
        self.paths.iter().filter_map(|p| p.age).min()
    }
}

/// The peer's latest state packet, as far as roles care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerStatus {
    /// Its server id.
    pub server_id: u64,
    /// Its incarnation (packets of an older one are stale and ignored).
    pub incarnation: u64,
    /// Its role.
    pub role: Role,
    /// Its flags (SERVING, DATA_CONSISTENT, ...).
    pub flags: StateFlags,
    /// Its current generation.
    pub generation: u64,
    /// Its tie-break priority.
    pub priority: u8,
}

/// Own health, from the health layer (the isolation check's evidence).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnHealth {
    /// IPX traffic from others (routers, clients, SAP/RIP) is heard.
    pub hears_network: bool,
    /// Own LAN adapters counted as working.
    pub working_adapters: u8,
    /// Scores and what was heard, for notices.
    pub evidence: String,
}

/// Progress reported by the resync layer of this server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResyncProgress {
    /// The memory image is across.
    ImageDone,
    /// Every changed region is across: both volumes are identical.
    DiskDone,
}

/// Operator commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// Serve now (refused while a serving peer is heard, or with inconsistent data).
    Promote,
    /// Stop serving: a switch-over when mirrored, otherwise a shutdown.
    Demote,
    /// After divergence: this server id keeps its data; the other is overwritten (full).
    ChooseSurvivor {
        /// The survivor's server id.
        server_id: u64,
    },
    /// Stop serving and shut down.
    Shutdown,
}

/// Messages between the two role machines, carried over the MSL's control class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RoleMessage {
    /// Primary to secondary: you are more functional; will you take over?
    HandoverRequest,
    /// Secondary to primary: ready; release when you have stopped serving.
    HandoverAccept,
    /// Secondary to primary: not now (not mirrored, inconsistent, or isolated).
    HandoverRefuse,
    /// Primary to secondary: I stopped serving and withdrew; serve now.
    Released,
    /// Primary to secondary: I start a resync as the source; start it as the target.
    StartResync {
        /// Full or incremental.
        kind: ResyncKind,
    },
    /// The operator chose this survivor after divergence.
    SurvivorChosen {
        /// The survivor's server id.
        server_id: u64,
    },
    /// The sender's role, flags and generation changed (sent at each change and once per
    /// session): unlike state packets, ordered after the handshake.
    Status {
        /// Its role.
        role: Role,
        /// Its flags.
        flags: StateFlags,
        /// Its current generation.
        generation: u64,
    },
    /// Primary to secondary after the primary's process stalled (its serving is paused):
    /// did you take over?
    StallCheck {
        /// Matches the answer to the question.
        nonce: u32,
    },
    /// Secondary to primary: the answer to [`RoleMessage::StallCheck`], the role now.
    StallAnswer {
        /// The question's.
        nonce: u32,
        /// The answering server's role.
        role: Role,
    },
}

impl RoleMessage {
    /// Largest encoding.
    pub const MAX_LEN: usize = 11;

    /// Encodes the message: a type byte, then a kind byte, a big-endian server id, role,
    /// flags and a big-endian generation, or a big-endian nonce (and a role).
    pub fn encode(&self) -> ArrayVec<u8, { RoleMessage::MAX_LEN }> {
        let mut out = ArrayVec::new();
        match *self {
            RoleMessage::HandoverRequest => out.push(1),
            RoleMessage::HandoverAccept => out.push(2),
            RoleMessage::HandoverRefuse => out.push(3),
            RoleMessage::Released => out.push(4),
            RoleMessage::StartResync { kind } => {
                out.push(5);
                out.push(match kind {
                    ResyncKind::Incremental => 1,
                    ResyncKind::Full => 2,
                });
            }
            RoleMessage::SurvivorChosen { server_id } => {
                out.push(6);
                // Cannot fail: 1 + 8 bytes fit MAX_LEN.
                let _ = out.try_extend_from_slice(&server_id.to_be_bytes());
            }
            RoleMessage::Status {
                role,
                flags,
                generation,
            } => {
                out.push(7);
                out.push(role.to_u8());
                out.push(flags.0);
                // Cannot fail: 3 + 8 bytes fit MAX_LEN.
                let _ = out.try_extend_from_slice(&generation.to_be_bytes());
            }
            RoleMessage::StallCheck { nonce } => {
                out.push(8);
                // Cannot fail: 1 + 4 bytes fit MAX_LEN.
                let _ = out.try_extend_from_slice(&nonce.to_be_bytes());
            }
            RoleMessage::StallAnswer { nonce, role } => {
                out.push(9);
                // Cannot fail: 1 + 4 + 1 bytes fit MAX_LEN.
                let _ = out.try_extend_from_slice(&nonce.to_be_bytes());
                out.push(role.to_u8());
            }
        }
        out
    }

    /// Decodes a message; `None` for anything malformed or unknown.
    pub fn decode(b: &[u8]) -> Option<RoleMessage> {
        match b {
            [1] => Some(RoleMessage::HandoverRequest),
            [2] => Some(RoleMessage::HandoverAccept),
            [3] => Some(RoleMessage::HandoverRefuse),
            [4] => Some(RoleMessage::Released),
            [5, 1] => Some(RoleMessage::StartResync {
                kind: ResyncKind::Incremental,
            }),
            [5, 2] => Some(RoleMessage::StartResync {
                kind: ResyncKind::Full,
            }),
            [6, id @ ..] => Some(RoleMessage::SurvivorChosen {
                server_id: u64::from_be_bytes(id.try_into().ok()?),
            }),
            [7, role, flags, g @ ..] => Some(RoleMessage::Status {
                role: Role::from_u8(*role),
                flags: StateFlags(*flags),
                generation: u64::from_be_bytes(g.try_into().ok()?),
            }),
            [8, n @ ..] => Some(RoleMessage::StallCheck {
                nonce: u32::from_be_bytes(n.try_into().ok()?),
            }),
            [9, n0, n1, n2, n3, role] => Some(RoleMessage::StallAnswer {
                nonce: u32::from_be_bytes([*n0, *n1, *n2, *n3]),
                role: Role::from_u8(*role),
            }),
            _ => None,
        }
    }
}

/// Which end of a resync this server is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResyncRole {
    /// Sends the image and the changed regions.
    Source,
    /// Receives them (its volume is inconsistent until done).
    Target,
}

/// How much a resync copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResyncKind {
    /// The regions tracked since the target's generation.
    Incremental,
    /// The whole volume.
    Full,
}

/// Everything the machine can be told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// An MSL session is up with this peer process.
    MslUp {
        /// The peer's incarnation.
        incarnation: u64,
        /// Its handshake (role, flags, priority, generation history, tracked since).
        handshake: HandshakeRepr,
    },
    /// No MSL frame since `since`.
    MslSilent {
        /// When the last valid frame arrived.
        since: Duration,
    },
    /// MSL frames arrive again, same session.
    MslRecovered,
    /// The peer process restarted (its old session is gone).
    MslRestarted,
    /// The MSL handshake was refused.
    MslRefused {
        /// The refusal was for diverged generation histories.
        diverged: bool,
        /// The reason, for the notice.
        detail: String,
    },
    /// The MSL adapter lost carrier.
    MslCarrierLost,
    /// Every LAN path's view of the peer's state packets.
    Lan(LanView),
    /// A state packet from the peer (its latest content).
    PeerState(PeerStatus),
    /// Own health (isolation check).
    OwnHealth(OwnHealth),
    /// The health layer's verdict: is the peer more functional (with hysteresis applied)?
    PeerMoreFunctional {
        /// The verdict.
        more: bool,
        /// Both adapter sets' scores, for the notice.
        evidence: String,
    },
    /// Own resync progress.
    Resync(ResyncProgress),
    /// The journal's generations changed (a new generation, or adopted after a resync).
    Generations {
        /// Newest first.
        history: ArrayVec<u64, MAX_HISTORY>,
        /// Tracking start (0 = not tracking).
        tracked_since: u64,
    },
    /// A message from the peer's role machine.
    PeerMessage(RoleMessage),
    /// An operator command.
    Command(Command),
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Answer clients.
    StartServing,
    /// Stop answering clients.
    StopServing,
    /// Advertise the engine's network (RIP) and name (SAP).
    Advertise,
    /// Withdraw them (RIP/SAP with hop count 16).
    Withdraw,
    /// Track changed regions (the journal starts a new generation).
    StartTracking,
    /// Stop tracking (mirrored again).
    StopTracking,
    /// Start a resync.
    StartResync {
        /// This side's end.
        role: ResyncRole,
        /// How much.
        kind: ResyncKind,
    },
    /// End the process.
    ShutDown {
        /// Why.
        reason: ShutdownReason,
    },
    /// End the process and start it again (it will find the primary and become secondary).
    RestartAsSecondary,
    /// Send this to the peer's role machine over the MSL.
    SendToPeer(RoleMessage),
    /// Console line and log entry.
    Notify(Notice),
}
