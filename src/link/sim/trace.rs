//! The delivery trace: what happened to every frame, when, between whom.

use std::fmt;
use std::time::Duration;

use super::AdapterId;

/// What happened to a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TraceKind {
    /// The sender handed the frame to its wire or segment (`to` is `None`).
    Sent,
    /// The sender had no carrier: dropped silently (`to` is `None`).
    NoCarrierTx,
    /// The frame was placed in the receiver's queue (at its delivery time).
    Delivered,
    /// Lost to the loss probability.
    Lost,
    /// Dropped by a cut, at sending or in flight.
    Cut,
    /// An extra copy was made.
    Duplicated,
    /// A copy was held back by the reordering delay.
    Reordered,
    /// A copy had bits flipped (the hash is of the corrupted bytes).
    Corrupted,
    /// Dropped on arrival: the receiver had no carrier.
    NoCarrierRx,
    /// Dropped on arrival: the receiver's queue was full.
    Overflow,
}

/// One event of the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceEvent {
    /// Virtual time of the event (for `Delivered` and arrival drops, the delivery time).
    pub at: Duration,
    /// What happened.
    pub kind: TraceKind,
    /// The sending adapter.
    pub from: AdapterId,
    /// The receiving adapter, for per-receiver events.
    pub to: Option<AdapterId>,
    /// The frame's length.
    pub len: usize,
    /// FNV-1a hash of the frame's bytes as they were at this event.
    pub hash: u64,
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>12}ns {:?} {}",
            self.at.as_nanos(),
            self.kind,
            self.from.0
        )?;
        if let Some(to) = self.to {
            write!(f, "->{}", to.0)?;
        }
        write!(f, " len {} hash {:016x}", self.len, self.hash)
    }
}

/// FNV-1a, 64 bits: a stable hash of a frame for traces (not for security).
pub fn frame_hash(frame: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in frame {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
