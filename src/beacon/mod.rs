//! Server-state ("I'm alive") packets on the LAN: a sans-IO core that sends ours on every LAN
//! adapter and keeps a per-adapter view of the peer's ("paths").
//!
//! | what | value |
//! |---|---|
//! | carriage | IPX type 4, checksum `FFFF`, socket `0x5354` to `0x5354` ([`wire::state`](crate::wire::state)) |
//! | framing | per adapter ([`AdapterConfig::framing`], default Ethernet_II); any framing is accepted on receive |
//! | destination | the peer's node on that adapter once known (configured, or learnt from its packets), else broadcast; [`BeaconConfig::always_broadcast`] forces broadcast |
//! | interval | [`BeaconConfig::interval`], 5 ms: one packet per adapter per interval, never more |
//! | sequence | one counter for all adapters, +1 per packet, from 1 in each incarnation |
//! | path silent | no valid peer packet on that adapter for `silent_after` (4) × the **peer's** advertised interval (ours until one is heard) |
//! | replay window | [`REPLAY_WINDOW`] sequence numbers per incarnation (see below) |
//!
//! **Sans-IO.** [`Beacon`] never reads a clock or touches a socket: the driver passes `now`
//! (a [`Duration`] since its epoch), feeds every frame received on a LAN adapter to
//! [`Beacon::handle_frame`], drains [`Beacon::poll_transmit`] into the adapters, calls
//! [`Beacon::handle_timeout`] at [`Beacon::poll_timeout`], and reads [`Beacon::poll_event`].
//! Adapters are named by their [`AdapterConfig::index`] (the number the health entries of
//! the state packet carry).
//!
//! **Who is heard.** Frames that are not state packets (not IPX, or IPX to another socket)
//! are counted as other traffic and ignored; a broken IPX frame is counted as malformed,
//! and a unicast frame to another station's MAC as not for us (a hub floods it). A state
//! packet must parse, and with a key configured its tag must verify
//! ([`StateRepr::parse_bytes`]; a receiver without a key accepts tagged packets unverified
//! and counts them, [`BeaconCounters::unverified_tags`]: a key on one side only). Then:
//! * our own server id: our own packet (another of our adapters on the same segment, or a
//!   loop), counted and ignored;
//! * the peer is [`BeaconConfig::peer_id`] when configured (or set later with
//!   [`Beacon::set_peer_id`], e.g. from the MSL handshake); without it, the first server id
//!   heard becomes the peer and stays so. A packet of any **third server id** is counted
//!   ([`BeaconDrops::third_server`]) and ignored: a pair has exactly one peer, and a stray
//!   third server (a misconfigured lab, a clone) must never look like a live peer;
//! * replay protection, per peer: its current incarnation and a window of the sequence
//!   numbers seen. A lower incarnation is dropped ([`BeaconDrops::stale_incarnation`]); a
//!   higher one means the peer restarted ([`BeaconEvent::PeerRestarted`]) and starts a new
//!   window. In the same incarnation a sequence number already seen, or older than the
//!   window, is dropped ([`BeaconDrops::replayed`]). The window (rather than "strictly
//!   increasing") is needed because the peer numbers its packets across all its adapters:
//!   the packet it sent on adapter 1 may arrive a little after the next one it sent on
//!   adapter 0. Each sequence number is accepted once, so a replayed packet proves nothing.
//!   Only a packet newer than every one accepted updates the peer's state; an older one
//!   (within the window) still proves its path alive. Without a key nothing protects the
//!   payload past the Ethernet FCS, and one damaged packet with a huge sequence number or
//!   incarnation would make every genuine packet after it look old: so, without a key
//!   only, when nothing was accepted for two of the peer's intervals and two refused
//!   packets in a row form a stream (same incarnation, rising sequence within the window),
//!   the window moves to that stream ([`BeaconCounters::reanchored`], and
//!   [`BeaconEvent::PeerRestarted`] if the incarnation differs). With a key a damaged
//!   packet fails its tag and this never happens, so a replayed old stream stays refused.
//!
//! Every bad packet is counted by reason in [`BeaconCounters`], never changes any state and
//! never panics. Without a key anyone on the segment can speak for the peer (and, if no
//! peer id is configured, be taken for it): configure a key outside a lab. A peer whose
//! incarnation went *down* (a clock stepped back without a persisted counter) is not heard
//! until it reaches its old incarnation: incarnations must grow, as for the MSL. The peer's MAC on an adapter (unless configured) follows the Ethernet source
//! of the latest accepted packet there: the link header is outside the tag, so a MAC learnt
//! from a damaged frame does not stick.
//!
//! **Events.** [`BeaconEvent::PathUp`] when a path is first heard or heard again after a
//! silence; [`BeaconEvent::PathSilent`] when it falls silent; [`BeaconEvent::PeerRestarted`];
//! and [`BeaconEvent::PeerState`] only when a field the role layer acts on changed (see
//! [`role_view_changed`]): role, mirror state, flags, generation, priority, MSL view, engine
//! network, working adapters, total score, and each adapter's index, flags and score. The
//! ages (MSL age, per-adapter peer age) and the sequence number change with every packet
//! and never raise the event; the latest state is always at [`Beacon::peer_state`].
//!
//! **What we send** comes from [`Beacon::set_local`] ([`LocalState`]). Two fields are filled
//! in at each send: the MSL age (from [`LocalState::msl_last_heard`]) and each adapter
//! entry's peer age, from this beacon's own path view for the adapters it knows.

mod counters;
mod endpoint;
mod replay;

use core::time::Duration;

use arrayvec::ArrayVec;
use thiserror::Error;

pub use counters::{BeaconCounters, BeaconDrops};
pub use endpoint::Beacon;
pub use replay::REPLAY_WINDOW;

use crate::wire::addr::{MacAddr, Net};
use crate::wire::ethernet::Framing;
use crate::wire::state::{
    AdapterHealth, AuthKey, MirrorState, MslLinkState, Role, StateFlags, StateRepr, MAX_ADAPTERS,
    NAME_LEN,
};

/// The largest frame [`Beacon::poll_transmit`] writes: the longest link header (802.1Q is
/// never used, SNAP is 22 bytes), the IPX header, and a state packet with 8 adapter
/// entries and a tag. A smaller buffer is fine for fewer adapters or no key.
pub const MAX_FRAME_LEN: usize = 22 + 30 + 94 + 6 * MAX_ADAPTERS + 1 + 16;

/// The events the queue holds before new ones are dropped (counted in
/// [`BeaconCounters::events_dropped`]). The driver polls after every call, so this is only
/// a bound for a driver that does not.
pub const MAX_QUEUED_EVENTS: usize = 1024;

/// One LAN adapter of this server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdapterConfig {
    /// The adapter's number: the name of the path in events and the index of its health
    /// entry. Unique per beacon.
    pub index: u8,
    /// The adapter's MAC (also its IPX node number).
    pub mac: MacAddr,
    /// The IPX network number of its segment (0: "this network").
    pub net: Net,
    /// The framing our packets are sent in (NetWare's `FRAME=`).
    pub framing: Framing,
    /// The peer's MAC on this segment, when configured: then never learnt nor changed.
    pub peer_mac: Option<MacAddr>,
}

impl AdapterConfig {
    /// Adapter `index` with MAC `mac`, network 0, Ethernet_II, peer MAC learnt.
    pub fn new(index: u8, mac: MacAddr) -> AdapterConfig {
        AdapterConfig {
            index,
            mac,
            net: Net::LOCAL,
            framing: Framing::EthernetII,
            peer_mac: None,
        }
    }
}

/// The configuration of a [`Beacon`].
#[derive(Clone, Debug)]
pub struct BeaconConfig {
    /// This server's id.
    pub server_id: u64,
    /// This server's name (NUL-padded ASCII).
    pub name: [u8; NAME_LEN],
    /// This process's incarnation: larger than any earlier one of this server (the peer
    /// drops packets of a lower one).
    pub incarnation: u64,
    /// Time between two packets on one adapter (advertised in the packets, so the peer
    /// sets its silence timer from it).
    pub interval: Duration,
    /// A path is silent after this many of the peer's intervals without a valid packet.
    pub silent_after: u32,
    /// The pre-shared key: our packets are tagged and only packets whose tag verifies are
    /// accepted.
    pub key: Option<AuthKey>,
    /// The peer's server id, when configured; `None`: the first server heard.
    pub peer_id: Option<u64>,
    /// Send to the broadcast address even when the peer's MAC is known.
    pub always_broadcast: bool,
    /// The LAN adapters.
    pub adapters: Vec<AdapterConfig>,
}

impl BeaconConfig {
    /// The defaults: 5 ms interval, silent after 4, no key, peer learnt, unicast once known,
    /// no adapters yet.
    pub fn new(server_id: u64, incarnation: u64) -> BeaconConfig {
        BeaconConfig {
            server_id,
            name: [0; NAME_LEN],
            incarnation,
            interval: Duration::from_millis(5),
            silent_after: 4,
            key: None,
            peer_id: None,
            always_broadcast: false,
            adapters: Vec::new(),
        }
    }

    /// Sets the name (cut to 32 bytes).
    pub fn with_name(mut self, name: &str) -> BeaconConfig {
        let b = name.as_bytes();
        let n = b.len().min(NAME_LEN);
        self.name = [0; NAME_LEN];
        self.name[..n].copy_from_slice(&b[..n]);
        self
    }

    /// Adds an adapter.
    pub fn with_adapter(mut self, adapter: AdapterConfig) -> BeaconConfig {
        self.adapters.push(adapter);
        self
    }
}

/// Why a [`BeaconConfig`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum BeaconConfigError {
    /// Two adapters have the same index.
    #[error("LAN adapter index {0} is configured twice")]
    DuplicateAdapter(u8),
    /// The interval is zero or does not fit the packet's 32-bit µs field.
    #[error("state packet interval {0:?} is out of range (1 µs to 4294 s)")]
    BadInterval(Duration),
    /// `silent_after` is zero.
    #[error("silent_after must be at least 1")]
    ZeroSilentAfter,
}

/// What this server says about itself in its state packets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalState {
    /// Role.
    pub role: Role,
    /// Mirror state.
    pub mirror_state: MirrorState,
    /// Flags (SERVING, DATA_CONSISTENT, ...).
    pub flags: StateFlags,
    /// Generation of our data.
    pub generation: u64,
    /// Tie-break priority.
    pub priority: u8,
    /// Our view of the MSL.
    pub msl_state: MslLinkState,
    /// When we last heard an MSL frame (driver time); the age is computed at each send.
    pub msl_last_heard: Option<Duration>,
    /// The engine's internal IPX network number.
    pub engine_net: Net,
    /// Working adapters (all of them, not only the listed ones).
    pub working_adapters: u8,
    /// Total health score of all adapters.
    pub total_score: u32,
    /// Per-adapter health (at most [`MAX_ADAPTERS`]); `peer_age_ms` is filled in by the
    /// beacon for the adapters it knows.
    pub adapters: ArrayVec<AdapterHealth, MAX_ADAPTERS>,
}

impl Default for LocalState {
    /// Starting, unmirrored, no flags, generation 0, MSL unknown, no adapters.
    fn default() -> LocalState {
        LocalState {
            role: Role::Starting,
            mirror_state: MirrorState::Unmirrored,
            flags: StateFlags::default(),
            generation: 0,
            priority: 0,
            msl_state: MslLinkState::Unknown,
            msl_last_heard: None,
            engine_net: Net::LOCAL,
            working_adapters: 0,
            total_score: 0,
            adapters: ArrayVec::new(),
        }
    }
}

/// Whether the peer is heard on a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PathStatus {
    /// Never heard on this adapter (since start, or since the peer id changed).
    Never,
    /// Heard within the silence threshold.
    Up,
    /// Heard before, but not within the silence threshold.
    Silent,
}

/// The peer as seen on one of our adapters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathView {
    /// Our adapter's index.
    pub adapter: u8,
    /// Up, silent or never heard (as of the last `handle_frame` / `handle_timeout`).
    pub status: PathStatus,
    /// When the peer's latest accepted packet arrived on this adapter.
    pub last_heard: Option<Duration>,
    /// The peer's MAC on this segment (configured or learnt).
    pub peer_mac: Option<MacAddr>,
    /// The newest state the peer sent on this adapter.
    pub state: Option<StateRepr>,
    /// Packets of the peer accepted on this adapter.
    pub packets: u64,
    /// The longest interval between two consecutive packets of the peer accepted on this
    /// adapter, in one incarnation of the peer (zero until two were): how close the path
    /// came to falling silent. A silence that ended counts too; a peer restart does not.
    pub longest_gap: Duration,
}

impl PathView {
    /// True when the peer is heard on this path.
    pub fn is_up(&self) -> bool {
        self.status == PathStatus::Up
    }
}

/// News for the layer above.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BeaconEvent {
    /// The peer is heard on this adapter (first time, or again after a silence).
    PathUp {
        /// Our adapter.
        adapter: u8,
    },
    /// No valid packet of the peer on this adapter for the silence threshold.
    PathSilent {
        /// Our adapter.
        adapter: u8,
        /// When the peer was last heard there.
        last_heard: Duration,
        /// How long ago that was when the silence was noticed.
        silent_for: Duration,
    },
    /// A state of the peer that differs from the last one reported in a field the role
    /// layer acts on (see [`role_view_changed`]); the first state heard is always reported.
    PeerState {
        /// The adapter it arrived on.
        adapter: u8,
        /// The state.
        state: StateRepr,
    },
    /// The peer's packets carry a higher incarnation: it restarted.
    PeerRestarted {
        /// The incarnation heard so far.
        old: u64,
        /// The new one.
        new: u64,
    },
}

/// True when `new` differs from `old` in a field the role layer acts on: role, mirror
/// state, flags, generation, priority, MSL view, engine network, working adapters, total
/// score, or an adapter entry's index, flags or score. Sequence, interval and ages are
/// ignored (they change all the time or do not matter to roles).
pub fn role_view_changed(old: &StateRepr, new: &StateRepr) -> bool {
    let entry = |a: &AdapterHealth| (a.index, a.flags, a.score);
    old.server_id != new.server_id
        || old.role != new.role
        || old.mirror_state != new.mirror_state
        || old.flags != new.flags
        || old.generation != new.generation
        || old.priority != new.priority
        || old.msl_state != new.msl_state
        || old.engine_net != new.engine_net
        || old.working_adapters != new.working_adapters
        || old.total_score != new.total_score
        || !old
            .adapters
            .iter()
            .map(entry)
            .eq(new.adapters.iter().map(entry))
}
