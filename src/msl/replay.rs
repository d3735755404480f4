//! Refusing replayed ack and heartbeat frames: a sliding window over the peer's control
//! counter, as IPsec's anti-replay window (RFC 4303 §3.4.3) does over sequence numbers.
//!
//! A replayed frame passes the keyed tag (it was genuine once) and the incarnation check (the
//! peer's process is the same), so without this a recording of a live peer's heartbeats would
//! keep a dead one "alive". Data frames need no window: their sequence numbers already make a
//! replay a duplicate, which the endpoint does not count as a sign of life.

/// How far behind the highest counter seen a late (reordered) frame is still accepted.
pub const WINDOW: u64 = 64;

/// The counters of one peer incarnation seen so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplayWindow {
    /// The peer incarnation the window is about (0: none yet).
    incarnation: u64,
    /// Highest counter accepted (0: none).
    highest: u64,
    /// Bit `i` set: counter `highest - i` was accepted.
    seen: u64,
}

impl ReplayWindow {
    /// Accepts counter `n` of incarnation `inc` once: false for 0, for a counter seen
    /// before, and for one more than [`WINDOW`] behind the highest. A new incarnation (a
    /// restarted peer counts from 1 again) starts a new window.
    pub fn accept(&mut self, inc: u64, n: u64) -> bool {
        if inc != self.incarnation {
            *self = ReplayWindow {
                incarnation: inc,
                ..ReplayWindow::default()
            };
        }
        if n == 0 {
            return false;
        }
        if n > self.highest {
            let shift = n - self.highest;
            self.seen = if shift >= WINDOW {
                0
            } else {
                self.seen << shift
            };
            self.seen |= 1;
            self.highest = n;
            return true;
        }
        let back = self.highest - n;
        if back >= WINDOW || self.seen & (1 << back) != 0 {
            return false;
        }
        self.seen |= 1 << back;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_each_counter_once_within_the_window() {
        let mut w = ReplayWindow::default();
        assert!(!w.accept(7, 0));
        assert!(w.accept(7, 1));
        assert!(!w.accept(7, 1));
        assert!(w.accept(7, 5));
        assert!(w.accept(7, 3), "late but inside the window");
        assert!(!w.accept(7, 3));
        assert!(w.accept(7, 200));
        assert!(!w.accept(7, 5), "too far behind");
        assert!(w.accept(7, 200 - WINDOW + 1));
        assert!(!w.accept(7, 200 - WINDOW));
        // A restarted peer counts from 1 again.
        assert!(w.accept(8, 1));
        assert!(!w.accept(8, 1));
        // Switching back does not resurrect the old window's memory: the old incarnation's
        // frames are refused earlier, by the session's incarnation check.
        assert!(w.accept(7, 2));
    }

    #[test]
    fn a_window_sized_jump_forgets_everything_before() {
        let mut w = ReplayWindow::default();
        for n in 1..=10 {
            assert!(w.accept(1, n));
        }
        assert!(w.accept(1, 10 + WINDOW));
        for n in 1..=10 {
            assert!(!w.accept(1, n));
        }
        assert!(w.accept(1, 11 + 1));
    }
}
