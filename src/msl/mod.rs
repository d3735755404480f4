//! The Mirrored Server Link transport: a sans-IO core that makes the dedicated link between
//! the two servers reliable, ordered and prioritised. Its frames are `wire::msl`'s:
//!
//! | frame | class bits | sequence | what the transport does with it |
//! |---|---|---|---|
//! | hello / hello-ack | control | none | handshake ([`HandshakeRepr`]), repeated every heartbeat interval until up |
//! | data | its stream | one per frame | a fragment of a message; carries a piggybacked cumulative ack |
//! | ack | the acked stream | none | cumulative ack + up to 8 SACK blocks + that stream's receive window |
//! | heartbeat | control | none | liveness, sent when nothing else went out for one interval |
//! | reset | control | none | refusal (version / config mismatch) or end of a session |
//!
//! **Sans-IO.** [`Msl`] never reads a clock, opens a socket or spawns a thread: a driver
//! passes `now` (a [`Duration`] since its own epoch; virtual time in the simulator), feeds
//! received Ethernet frames to [`Msl::handle_frame`], drains [`Msl::poll_transmit`] into the
//! link, waits until [`Msl::poll_timeout`] (or the next frame) and calls
//! [`Msl::handle_timeout`]. Upward news comes from [`Msl::poll_event`].
//!
//! **Sessions.** A session is the pair of incarnations. Incarnations must grow from one
//! process start to the next (boot time in ns, or a persisted counter): a hello whose
//! incarnation is lower than the peer's current one is a replay and is dropped. Each side
//! repeats hellos until it holds the peer's validated handshake *and* has seen a frame that
//! names its own incarnation; then it is [`MslState::Up`]. A hello with a higher incarnation
//! means the peer restarted: [`MslEvent::Restarted`], every message not yet acked is handed
//! back as [`MslEvent::Lost`] (the peer lost its state; resending is the resync logic's
//! call, not the transport's), and the streams start again from their initial sequence
//! number ([`MslConfig::initial_seq`], 0 unless a test sets it).
//!
//! **Streams.** Each priority class is its own reliable stream (its own sequence space,
//! window, acks and RTO, RFC 6298 with Karn's rule). Losses are found by SACK (a frame is
//! lost once three frames sent after it were acked) or by the timeout. [`Msl::poll_transmit`]
//! is strictly prioritised: resets, hellos, acks and heartbeats, then the control, event,
//! bulk and background streams, so bulk delays a heartbeat or an event by at most the one
//! frame already handed to the link.
//!
//! **Refusals.** A hello whose version range, configuration ([`Compat`]) or server id does
//! not fit is answered with a reset naming the reason, and the endpoint reports
//! [`MslEvent::Refused`] and stops sending hellos; the peer reports the reset's reason. The
//! checks are symmetric, so a refusal from a peer whose own hello we accepted can only answer
//! a damaged frame, and is ignored (counted). A frame that claims a session we do not have
//! (our incarnation, but not the peer's current one) is answered with a reset,
//! unknown-session, which ends the sender's session ([`MslEvent::Closed`]) and starts a new
//! handshake. With a key mismatch nothing authenticates: frames are dropped and counted,
//! and [`MslEvent::AuthFailing`] is reported once.
//!
//! **Bad input** never panics and never changes state: it is counted in [`MslCounters`] by
//! reason and dropped. (The one reply to an unverifiable frame, a version-mismatch reset to
//! a hello of another frame version, is sent only while no peer of our version is known.)
//!
//! **Flow control toward the layer above.** The receive window is a buffer of
//! [`MslConfig::window`] frames per stream for reordering. Without
//! [`MslConfig::rx_budget`] a delivered message counts as consumed at once. With it, the
//! layer above calls [`Msl::release`] as it consumes delivered bytes; a class whose
//! delivered-but-unreleased bytes ([`Msl::held_bytes`]) reach the budget advertises a
//! window of 0 and refuses new data frames (counted as `rx_blocked`, not acked), so the
//! sender keeps one frame in flight and resends it at its retransmission timeout (TCP's
//! persist timer). A release below the budget reopens the window and sends a window
//! update at once. Held bytes count only whole delivered messages, so a message larger
//! than the budget is still reassembled and delivered while the class is below its budget;
//! the budget is thus exceeded by at most one message plus the frames already reordered.
//!
//! **Message size.** Each side announces its [`MslConfig::max_message`] in the handshake;
//! [`Msl::send`] refuses longer messages once the peer's is known, and messages queued
//! before that and over the peer's limit come back as [`MslEvent::Lost`] when the session
//! comes up. (A peer of the original handshake form announces nothing; a message over its
//! limit still makes it end the session with a reset.)
//!
//! **Limits of this version.** The peer's MAC, when not configured, follows the source of
//! its latest valid frame (the MAC is outside the integrity check). The send buffer given
//! to [`Msl::poll_transmit`] must hold the MTU plus the 14-byte Ethernet header.
//! [`Msl::poll_transmit_parts`] is the same frame for a vectored send ([`TxParts`]): the
//! payload of a data frame is not copied out of the send queue.

mod counters;
pub mod driver;
mod endpoint;
mod replay;
mod rtt;
mod stream;

use core::fmt;
use core::time::Duration;

use arrayvec::ArrayVec;

pub use counters::{DropCounters, MslCounters};
pub use endpoint::{Msl, TxParts};

pub use crate::wire::msl::{CloseReason, HandshakeRepr, Priority, MAX_HISTORY};
use crate::wire::state::{Role, StateFlags, NAME_LEN};
use crate::wire::{auth::AuthKey, MacAddr};

/// What both servers must agree on to mirror.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Compat {
    /// Volume size in bytes: must be equal.
    pub volume_size: u64,
    /// Change-tracking region size in bytes: must be equal.
    pub region_size: u32,
    /// Engine version, major in the high 16 bits: the majors must be equal.
    pub engine_version: u32,
}

/// What a server says about itself in its handshake, as it is now: the role machine's view
/// changes while the link is down, so the driver updates it ([`Msl::set_announcement`]) and
/// every later hello (a reconnect, a restarted peer) carries the current values, not those
/// of the process's start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announcement {
    /// Current role.
    pub role: Role,
    /// Current state flags.
    pub flags: StateFlags,
    /// Tie-break priority.
    pub priority: u8,
    /// Generation the change tracking started from (0 = none).
    pub tracked_since: u64,
    /// Generation history, newest first.
    pub history: ArrayVec<u64, MAX_HISTORY>,
}

/// The configuration of one end of the link.
#[derive(Clone, Debug)]
pub struct MslConfig {
    /// This server's id.
    pub server_id: u64,
    /// This server's name (NUL-padded ASCII).
    pub name: [u8; NAME_LEN],
    /// This process's incarnation: non-zero, and larger than any earlier one of this server.
    pub incarnation: u64,
    /// Lowest and highest MSL versions announced in the hello (only version 1 exists; the
    /// range lets two builds find they have none in common).
    pub versions: (u8, u8),
    /// Configuration the peer must match.
    pub compat: Compat,
    /// Role announced in the handshake.
    pub role: Role,
    /// State flags announced in the handshake.
    pub flags: StateFlags,
    /// Tie-break priority announced in the handshake.
    pub priority: u8,
    /// Generation the change tracking started from (0 = none).
    pub tracked_since: u64,
    /// Generation history, newest first.
    pub history: ArrayVec<u64, MAX_HISTORY>,
    /// This adapter's MAC.
    pub local_mac: MacAddr,
    /// The peer's MAC; `None` sends to broadcast until the peer's first valid frame.
    pub peer_mac: Option<MacAddr>,
    /// The link's MTU (bytes after the Ethernet header).
    pub mtu: usize,
    /// The pre-shared key: every frame is tagged and only tagged frames are accepted.
    pub key: Option<AuthKey>,
    /// Interval of hellos and of heartbeats when nothing else is sent.
    pub heartbeat_interval: Duration,
    /// The peer is silent after this many intervals without a valid frame.
    pub silent_after_missed: u32,
    /// Frames in flight per stream (send window) and frames buffered per stream (receive
    /// window, advertised to the peer).
    pub window: u16,
    /// Initial retransmission timeout.
    pub rto_initial: Duration,
    /// Lower bound of the retransmission timeout.
    pub rto_min: Duration,
    /// Upper bound of the retransmission timeout (after back-off).
    pub rto_max: Duration,
    /// Longest delay of an ack when frames arrive in order (see `ack_every`).
    pub ack_delay: Duration,
    /// In-order data frames acked together: an ack goes out at once after this many (and
    /// for a hole, a duplicate, or a frame whose sender asked for one because it could send
    /// nothing after it), else within `ack_delay`. Each ack costs both ends a frame through
    /// the kernel; with bulk data at MTU 9000 acking every 16 frames instead of every second
    /// frame took 0.03–0.14 CPU-s per GiB off the pair (docs/benchmarks.md). 0 acts as 1.
    pub ack_every: u16,
    /// Largest message, bytes, announced in the handshake: the peer's [`Msl::send`]
    /// refuses longer ones. A longer one from a peer that did not heed it ends the session
    /// with a reset (its sender gets [`MslEvent::Lost`]). [`Msl::send`] also refuses
    /// messages over this node's own value.
    pub max_message: usize,
    /// Bytes that may wait unacked per class before [`Msl::send`] says [`SendError::QueueFull`].
    pub max_queued: usize,
    /// Payload bytes in flight per class, on top of the `window` in frames. The window
    /// counts frames, and 256 jumbo frames are 2.3 MB: a queue that long in front of the
    /// peer's receive socket would hold an event for milliseconds behind bulk data. The
    /// default, 512 KiB, is several round trips' worth on a 10 Gbit/s link.
    pub max_in_flight_bytes: usize,
    /// Per class, delivered bytes the layer above may hold before the receive window closes
    /// (see the module docs, flow control); `None` (the default): a delivered message
    /// counts as consumed at once and [`Msl::release`] is not needed. `Some(0)` acts as 1.
    pub rx_budget: Option<usize>,
    /// The sequence number every stream starts at, in every session (default 0). A knob
    /// for tests of the wrap-around at 2³²: both ends must use the same value, since each
    /// side's receive streams start there too.
    pub initial_seq: u32,
}

impl MslConfig {
    /// A configuration with the defaults: 5 ms heartbeats, silent after 4 missed, MTU
    /// 1500, window 256 frames, RTO 20 ms initially within 2–200 ms, an ack every 16 frames or
    /// within 1 ms.
    pub fn new(server_id: u64, incarnation: u64, local_mac: MacAddr) -> MslConfig {
        MslConfig {
            server_id,
            name: [0; NAME_LEN],
            incarnation,
            versions: (crate::wire::msl::VERSION, crate::wire::msl::VERSION),
            compat: Compat::default(),
            role: Role::Starting,
            flags: StateFlags(0),
            priority: 0,
            tracked_since: 0,
            history: ArrayVec::new(),
            local_mac,
            peer_mac: None,
            mtu: 1500,
            key: None,
            heartbeat_interval: Duration::from_millis(5),
            silent_after_missed: 4,
            window: 256,
            rto_initial: Duration::from_millis(20),
            rto_min: Duration::from_millis(2),
            rto_max: Duration::from_millis(200),
            ack_delay: Duration::from_millis(1),
            ack_every: 16,
            max_message: 1 << 30,
            max_queued: 256 << 20,
            max_in_flight_bytes: 512 << 10,
            rx_budget: None,
            initial_seq: 0,
        }
    }

    /// Sets the name (cut to 32 bytes).
    pub fn with_name(mut self, name: &str) -> MslConfig {
        let b = name.as_bytes();
        let n = b.len().min(NAME_LEN);
        self.name = [0; NAME_LEN];
        self.name[..n].copy_from_slice(&b[..n]);
        self
    }
}

/// Where the session stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MslState {
    /// Sending hellos; no session yet.
    Connecting,
    /// Session established, frames arrive.
    Up,
    /// Session established, but no valid frame for `silent_after_missed` intervals.
    Silent,
    /// The handshake was refused (by us or by the peer) for this reason. A later
    /// compatible hello (a reconfigured, restarted peer) can still open a session.
    Refused(CloseReason),
    /// Closed by [`Msl::close`]: every frame is ignored.
    Closed,
}

/// The peer as the handshake described it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer's incarnation.
    pub incarnation: u64,
    /// The peer's MAC.
    pub mac: MacAddr,
    /// Its handshake (ids, versions, role, compat, generation history).
    pub handshake: HandshakeRepr,
}

/// News for the layer above.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MslEvent {
    /// A session is established with this peer.
    Up {
        /// Who.
        peer: PeerInfo,
    },
    /// A message of the peer's, complete, exactly once and in order within its class.
    Delivered {
        /// Its class.
        priority: Priority,
        /// Its bytes.
        message: Vec<u8>,
    },
    /// No valid frame since `since` (driver time), `missed` heartbeat intervals.
    Silent {
        /// When the last valid frame arrived.
        since: Duration,
        /// Whole intervals missed.
        missed: u32,
    },
    /// Frames arrive again from the same session after a silence.
    Recovered {
        /// How long the silence lasted.
        silent_for: Duration,
    },
    /// The peer restarted: the old session is gone (its unacked messages follow as
    /// [`MslEvent::Lost`]); a new handshake is under way.
    Restarted {
        /// The incarnation of the session that ended.
        old_incarnation: u64,
        /// The peer's new incarnation.
        new_incarnation: u64,
    },
    /// A message sent in a session that ended before the peer acknowledged all of it. It
    /// may or may not have been delivered to the old incarnation.
    Lost {
        /// Its class.
        priority: Priority,
        /// Its bytes.
        message: Vec<u8>,
    },
    /// The handshake was refused.
    Refused {
        /// Why.
        reason: CloseReason,
        /// True when the peer refused (its reset arrived); false when we did.
        by_peer: bool,
        /// Details for the log (which values differ, or the peer's text).
        detail: String,
    },
    /// The peer ended the session (close, or reset other than a refusal); a new handshake
    /// follows.
    Closed {
        /// The peer's reason.
        reason: CloseReason,
    },
    /// While no session is up, frames fail authentication (a key mismatch, or a key on
    /// one side only). Reported once until a valid frame arrives.
    AuthFailing {
        /// Authentication failures so far.
        count: u64,
    },
}

/// Why [`Msl::send`] refused a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// Longer than [`MslConfig::max_message`] or than the peer's announced limit (or
    /// 4 GiB or more, not representable in the frame's message length).
    TooLarge,
    /// The class already holds [`MslConfig::max_queued`] bytes unacked.
    QueueFull,
    /// The endpoint was closed.
    Closed,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::TooLarge => "message longer than max_message",
            SendError::QueueFull => "send queue of the class is full",
            SendError::Closed => "the MSL endpoint is closed",
        })
    }
}

impl std::error::Error for SendError {}
