//! Generation histories (scenario 7): who holds the newer data, and can the resync be
//! incremental?
//!
//! A generation id names one stretch of a volume's life; the journal starts a new one at each
//! role change and at each loss of mirroring. A history lists ids newest (current) first. The
//! rule (docs/protocol.md, "MSL handshake"):
//!
//! | histories | result |
//! |---|---|
//! | either is empty | [`GenerationOrder::Unknown`]: no knowledge, a full resync |
//! | same current id | [`GenerationOrder::Same`] |
//! | the peer's history holds our current id | [`GenerationOrder::PeerNewer`] |
//! | our history holds the peer's current id | [`GenerationOrder::LocalNewer`] |
//! | neither (or both, a corrupt cycle) | [`GenerationOrder::Diverged`]: never merged silently |
//!
//! The newer side's resync is incremental when its change tracking started from the older
//! side's current generation (`tracked_since == older.current`): exactly the regions changed
//! since then differ. Otherwise it is full.

/// One side's generation knowledge, as carried by the MSL handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Generations<'a> {
    /// Generation ids, newest (current) first.
    pub history: &'a [u64],
    /// The generation change tracking started from (0 = not tracking).
    pub tracked_since: u64,
}

impl Generations<'_> {
    /// The current generation, if any.
    pub fn current(&self) -> Option<u64> {
        self.history.first().copied()
    }
}

/// How two generation histories relate (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GenerationOrder {
    /// Both hold the same generation: nothing to copy but what changed while unmirrored.
    Same,
    /// Our data is newer: we are the resync source.
    LocalNewer {
        /// Only the regions tracked since the peer's current generation need copying.
        incremental: bool,
    },
    /// The peer's data is newer: we are the resync target.
    PeerNewer {
        /// Only the regions the peer tracked since our current generation need copying.
        incremental: bool,
    },
    /// Each side has a generation the other never saw: both served alone (split brain).
    /// Mirroring is refused until the operator chooses the survivor.
    Diverged,
    /// A history is empty (a fresh volume, or a peer that sent none): direction by the roles,
    /// and the resync is full.
    Unknown,
}

/// Compares our generations with the peer's (a pure function; see the module docs).
pub fn compare(local: Generations<'_>, peer: Generations<'_>) -> GenerationOrder {
    let (Some(l0), Some(p0)) = (local.current(), peer.current()) else {
        return GenerationOrder::Unknown;
    };
    if l0 == p0 {
        return GenerationOrder::Same;
    }
    let peer_has_ours = peer.history.contains(&l0);
    let we_have_peers = local.history.contains(&p0);
    match (peer_has_ours, we_have_peers) {
        (true, false) => GenerationOrder::PeerNewer {
            incremental: peer.tracked_since != 0 && peer.tracked_since == l0,
        },
        (false, true) => GenerationOrder::LocalNewer {
            incremental: local.tracked_since != 0 && local.tracked_since == p0,
        },
        _ => GenerationOrder::Diverged,
    }
}
