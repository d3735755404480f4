//! Replay protection for one sender: its incarnation and a sliding window of the sequence
//! numbers seen (RFC 4303's anti-replay window, 128 wide), plus, for receivers without a
//! key, a way out of a window that a damaged packet pushed too far ahead.

/// Sequence numbers the replay window covers below the highest one seen.
pub const REPLAY_WINDOW: u64 = 128;

/// What the window says about a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// The first packet heard from the sender.
    First,
    /// A higher incarnation than the current one: the sender restarted.
    Restarted {
        /// The incarnation until now.
        old: u64,
    },
    /// Same incarnation, higher than every sequence number seen.
    Newest,
    /// Same incarnation, within the window and not seen before (reordered across paths).
    Older,
    /// A lower incarnation.
    StaleIncarnation,
    /// Already seen (within the window).
    Replayed,
    /// Older than the window.
    TooOld,
    /// Without a key: a refused packet that continues the previous refused one while the
    /// accepted stream has stalled; the window moves to it (see
    /// [`ReplayWindow::second_opinion`]).
    Reanchored {
        /// The incarnation of the window until now.
        old: u64,
    },
}

impl Verdict {
    /// True when the packet is accepted.
    pub(super) fn accepted(self) -> bool {
        !matches!(
            self,
            Verdict::StaleIncarnation | Verdict::Replayed | Verdict::TooOld
        )
    }

    /// True when the packet is the newest of its sender (its state replaces the last).
    pub(super) fn newest(self) -> bool {
        matches!(
            self,
            Verdict::First
                | Verdict::Restarted { .. }
                | Verdict::Newest
                | Verdict::Reanchored { .. }
        )
    }
}

/// The sender's current incarnation and the sequence numbers seen in it.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct ReplayWindow {
    /// `(incarnation, highest sequence)` once anything was accepted.
    current: Option<(u64, u64)>,
    /// Bit `i` set: sequence `highest - i` was seen.
    seen: u128,
    /// The last packet refused as stale or too old since the last accepted one.
    candidate: Option<(u64, u64)>,
}

impl ReplayWindow {
    /// Judges a packet without recording it (a packet is recorded only once every other
    /// check passed, see [`accept`](Self::accept)).
    pub(super) fn check(&self, incarnation: u64, seq: u64) -> Verdict {
        let Some((inc, high)) = self.current else {
            return Verdict::First;
        };
        if incarnation < inc {
            return Verdict::StaleIncarnation;
        }
        if incarnation > inc {
            return Verdict::Restarted { old: inc };
        }
        if seq > high {
            return Verdict::Newest;
        }
        let back = high - seq;
        if back >= REPLAY_WINDOW {
            return Verdict::TooOld;
        }
        if self.seen & (1u128 << back) != 0 {
            return Verdict::Replayed;
        }
        Verdict::Older
    }

    /// For a receiver without a key, after [`check`](Self::check) refused a packet as
    /// [`Verdict::StaleIncarnation`] or [`Verdict::TooOld`]: without a tag nothing protects
    /// the payload past the Ethernet FCS, and one damaged packet carrying a huge sequence
    /// number or incarnation would otherwise make every genuine packet after it look old,
    /// silencing a live peer for good. So when nothing was accepted for a while (`stalled`)
    /// and this packet continues the previous refused one (same incarnation, higher
    /// sequence within the window), the window moves to it: [`Verdict::Reanchored`].
    pub(super) fn second_opinion(
        &mut self,
        incarnation: u64,
        seq: u64,
        stalled: bool,
    ) -> Option<Verdict> {
        let (pi, ps) = self.candidate.replace((incarnation, seq))?;
        let follows = pi == incarnation && seq > ps && seq - ps < REPLAY_WINDOW;
        let (old, _) = self.current?;
        (stalled && follows).then_some(Verdict::Reanchored { old })
    }

    /// Moves the window to `(incarnation, seq)`, forgetting what was seen.
    pub(super) fn reset_to(&mut self, incarnation: u64, seq: u64) {
        self.current = Some((incarnation, seq));
        self.seen = 1;
        self.candidate = None;
    }

    /// Records an accepted packet (after [`check`](Self::check) accepted it).
    pub(super) fn accept(&mut self, incarnation: u64, seq: u64) {
        self.candidate = None;
        match self.current {
            Some((inc, high)) if inc == incarnation => {
                if seq > high {
                    let shift = seq - high;
                    self.seen = if shift >= REPLAY_WINDOW {
                        0
                    } else {
                        self.seen << shift
                    };
                    self.seen |= 1;
                    self.current = Some((inc, seq));
                } else {
                    let back = high - seq;
                    if back < REPLAY_WINDOW {
                        self.seen |= 1u128 << back;
                    }
                }
            }
            _ => self.reset_to(incarnation, seq),
        }
    }

    /// The sender's current incarnation, once heard.
    pub(super) fn incarnation(&self) -> Option<u64> {
        self.current.map(|(i, _)| i)
    }

    /// Forgets the sender (a new peer id).
    pub(super) fn clear(&mut self) {
        *self = ReplayWindow::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_accepts_each_number_once() {
        let mut w = ReplayWindow::default();
        assert_eq!(w.check(5, 10), Verdict::First);
        w.accept(5, 10);
        assert_eq!(w.check(5, 10), Verdict::Replayed);
        assert_eq!(w.check(5, 12), Verdict::Newest);
        w.accept(5, 12);
        assert_eq!(w.check(5, 11), Verdict::Older);
        w.accept(5, 11);
        assert_eq!(w.check(5, 11), Verdict::Replayed);
        assert_eq!(w.check(5, 10), Verdict::Replayed);
        assert_eq!(w.check(4, 100), Verdict::StaleIncarnation);
        assert_eq!(w.check(6, 1), Verdict::Restarted { old: 5 });
        w.accept(5, 12 + REPLAY_WINDOW + 5);
        assert_eq!(w.check(5, 13), Verdict::TooOld);
        assert_eq!(w.check(5, 12 + 6), Verdict::Older);
        w.accept(6, 1);
        assert_eq!(w.incarnation(), Some(6));
        assert_eq!(w.check(6, 1), Verdict::Replayed);
        assert_eq!(w.check(6, 0), Verdict::Older);
        assert_eq!(w.check(6, u64::MAX), Verdict::Newest);
        w.accept(6, u64::MAX);
        assert_eq!(w.check(6, 1), Verdict::TooOld);
    }

    #[test]
    fn a_second_opinion_needs_a_stall_and_a_continuing_stream() {
        let mut w = ReplayWindow::default();
        w.accept(5, u64::MAX - 1); // a damaged packet
        assert_eq!(w.check(5, 20), Verdict::TooOld);
        assert_eq!(w.second_opinion(5, 20, true), None); // first refused: a candidate
        assert_eq!(w.second_opinion(5, 21, false), None); // not stalled
        assert_eq!(w.second_opinion(5, 19, true), None); // does not continue
        assert_eq!(w.second_opinion(6, 22, true), None); // another incarnation
        assert_eq!(w.second_opinion(6, 22 + REPLAY_WINDOW, true), None); // too far
        assert_eq!(
            w.second_opinion(6, 23 + REPLAY_WINDOW, true),
            Some(Verdict::Reanchored { old: 5 })
        );
        w.reset_to(6, 23 + REPLAY_WINDOW);
        assert_eq!(w.check(6, 24 + REPLAY_WINDOW), Verdict::Newest);
        // An accepted packet ends the streak.
        assert_eq!(w.second_opinion(6, 1, true), None);
        w.accept(6, 24 + REPLAY_WINDOW);
        assert_eq!(w.second_opinion(6, 2, true), None);
    }
}
