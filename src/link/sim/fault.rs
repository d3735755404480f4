//! What a simulated direction does to frames ([`Faults`]) and what each adapter counted
//! ([`SimCounters`]).

use std::time::Duration;

/// The faults applied to frames going one way, from one sending adapter to one receiving
/// adapter. The default is a perfect wire: no delay, nothing lost.
///
/// A frame meets them in this order: cut, loss (the whole frame), duplication (one or two
/// copies go on), and for each copy delay plus jitter, the reordering hold-back and
/// corruption. Probabilities outside [0, 1] act as clamped.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Faults {
    /// Nothing passes this way (a one-way cut; cut both directions for a two-way cut).
    /// Frames already in flight when the cut happens are lost when they arrive.
    pub cut: bool,
    /// Probability that a frame is lost.
    pub loss: f64,
    /// Probability that a frame arrives twice (the copy meets delay, jitter, reordering and
    /// corruption independently).
    pub duplicate: f64,
    /// Probability that a frame is held back by [`Faults::reorder_delay`] more, so later
    /// frames overtake it.
    pub reorder: f64,
    /// The extra delay of a held-back frame.
    pub reorder_delay: Duration,
    /// The base one-way delay.
    pub delay: Duration,
    /// A uniform random extra delay in `[0, jitter]` (so delivery lies in
    /// `[delay, delay + jitter]`, before any reordering hold-back).
    pub jitter: Duration,
    /// Probability that a frame arrives corrupted.
    pub corrupt: f64,
    /// How many distinct random bits a corruption flips (at least one; at most every bit).
    /// The length never changes.
    pub corrupt_bits: u32,
}

impl Faults {
    /// A perfect, instantaneous wire.
    pub const NONE: Faults = Faults {
        cut: false,
        loss: 0.0,
        duplicate: 0.0,
        reorder: 0.0,
        reorder_delay: Duration::ZERO,
        delay: Duration::ZERO,
        jitter: Duration::ZERO,
        corrupt: 0.0,
        corrupt_bits: 1,
    };

    /// A perfect wire with a fixed delay.
    pub fn delayed(delay: Duration) -> Faults {
        Faults {
            delay,
            ..Faults::NONE
        }
    }

    /// True when this direction changes nothing (no cut, no fault, no delay).
    pub fn is_perfect(&self) -> bool {
        *self == Faults::NONE
    }
}

impl Default for Faults {
    fn default() -> Self {
        Faults::NONE
    }
}

/// Per-adapter counters, for status output and tests.
///
/// Transmit counters are kept on the sender; what happened on the way in (loss, cut,
/// duplication, corruption, reordering) is counted on the receiver, once per receiver
/// (on a segment one frame can be lost towards one adapter and delivered to another).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimCounters {
    /// Frames the adapter accepted for sending (including ones later dropped on the way).
    pub tx_frames: u64,
    /// Bytes in those frames.
    pub tx_bytes: u64,
    /// Frames refused because they exceed the MTU (`LinkError::TooBig`).
    pub tx_too_big: u64,
    /// Frames dropped because the sender had no carrier (dropped silently, as a veth does).
    pub tx_no_carrier: u64,
    /// Frames placed in this adapter's receive queue.
    pub rx_delivered: u64,
    /// Bytes in those frames.
    pub rx_bytes: u64,
    /// Frames the program took with `recv`.
    pub rx_taken: u64,
    /// Frames towards this adapter lost to the loss probability.
    pub rx_lost: u64,
    /// Frames towards this adapter dropped by a cut (at sending or in flight).
    pub rx_cut: u64,
    /// Frames dropped on arrival because this adapter had no carrier.
    pub rx_no_carrier: u64,
    /// Frames dropped because the receive queue was full.
    pub rx_overflow: u64,
    /// Extra copies made by duplication.
    pub rx_duplicated: u64,
    /// Copies corrupted on the way.
    pub rx_corrupted: u64,
    /// Copies held back by reordering.
    pub rx_reordered: u64,
}

impl SimCounters {
    /// Every frame dropped towards or from this adapter, whatever the reason.
    pub fn dropped(&self) -> u64 {
        self.tx_too_big
            + self.tx_no_carrier
            + self.rx_lost
            + self.rx_cut
            + self.rx_no_carrier
            + self.rx_overflow
    }
}
