//! What a beacon counted, for the status output and tests.

/// Received frames dropped, by reason. None of them changed any state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BeaconDrops {
    /// An IPX frame to the state socket that does not parse as IPX or as a state packet
    /// (truncated, bad lengths, bad fields).
    pub malformed: u64,
    /// Not our magic: another program on socket `0x5354`.
    pub foreign: u64,
    /// A state packet of another format version.
    pub wrong_version: u64,
    /// Authentication failed: untagged while a key is configured, or a tag that does not
    /// verify (forged or damaged).
    pub bad_auth: u64,
    /// Our own packets (our server id).
    pub own: u64,
    /// Packets of a server that is neither us nor the peer.
    pub third_server: u64,
    /// Packets of an earlier incarnation of the peer.
    pub stale_incarnation: u64,
    /// Sequence numbers already seen or older than the replay window.
    pub replayed: u64,
    /// Unicast frames to another station's MAC.
    pub not_for_us: u64,
    /// Frames handed in for an adapter index that is not configured.
    pub unknown_adapter: u64,
}

impl BeaconDrops {
    /// Every dropped frame.
    pub fn total(&self) -> u64 {
        self.malformed
            + self.foreign
            + self.wrong_version
            + self.bad_auth
            + self.own
            + self.third_server
            + self.stale_incarnation
            + self.replayed
            + self.not_for_us
            + self.unknown_adapter
    }
}

/// Everything a beacon counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BeaconCounters {
    /// State packets sent (all adapters).
    pub sent: u64,
    /// Packets that could not be built (a buffer too small, a bad local state such as a
    /// score above 1000); that adapter skips the interval.
    pub tx_errors: u64,
    /// The peer's packets accepted (all adapters).
    pub received: u64,
    /// Accepted packets that were older than the newest (reordered across paths): they
    /// proved their path alive but did not replace the peer's state.
    pub reordered: u64,
    /// Tagged packets accepted without verification because no key is configured (a key
    /// on the peer only: worth a warning).
    pub unverified_tags: u64,
    /// Frames that are not state packets (other protocols, IPX to other sockets).
    pub other_traffic: u64,
    /// Dropped frames by reason.
    pub dropped: BeaconDrops,
    /// Without a key: times the replay window moved back to a steady stream of packets it
    /// had refused as too old or of an older incarnation (after a damaged packet pushed it
    /// ahead; see the module docs).
    pub reanchored: u64,
    /// Times a path fell silent.
    pub path_silences: u64,
    /// Packets already accepted on another of our adapters that proved this one's path
    /// (adapters on one segment hear the same broadcast).
    pub cross_path: u64,
    /// Times the peer restarted (a higher incarnation).
    pub peer_restarts: u64,
    /// Events not queued because [`MAX_QUEUED_EVENTS`](super::MAX_QUEUED_EVENTS) were
    /// waiting.
    pub events_dropped: u64,
}
