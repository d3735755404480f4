//! Round-trip time estimation and the retransmission timeout, after RFC 6298.

use core::time::Duration;

/// SRTT / RTTVAR with exponential back-off, bounded by `[min, max]`.
#[derive(Clone, Debug)]
pub(crate) struct Rtt {
    srtt: Option<Duration>,
    /// The smallest sample of the session.
    min_rtt: Option<Duration>,
    rttvar: Duration,
    rto: Duration,
    min: Duration,
    max: Duration,
    initial: Duration,
    /// The clock granularity term `G`: the peer may delay an ack by this much.
    granularity: Duration,
}

impl Rtt {
    pub(crate) fn new(initial: Duration, min: Duration, max: Duration, g: Duration) -> Rtt {
        Rtt {
            srtt: None,
            min_rtt: None,
            rttvar: Duration::ZERO,
            rto: initial.clamp(min, max),
            min,
            max,
            initial,
            granularity: g,
        }
    }

    /// A fresh estimator with the same bounds (new session).
    pub(crate) fn reset(&mut self) {
        *self = Rtt::new(self.initial, self.min, self.max, self.granularity);
    }

    /// A sample from a segment sent once (Karn's rule is the caller's).
    pub(crate) fn sample(&mut self, r: Duration) {
        self.min_rtt = Some(self.min_rtt.map_or(r, |m| m.min(r)));
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(s) => {
                let diff = s.abs_diff(r);
                self.rttvar = (self.rttvar * 3 + diff) / 4;
                self.srtt = Some((s * 7 + r) / 8);
            }
        }
        self.recompute();
    }

    fn recompute(&mut self) {
        let s = self.srtt.unwrap_or(self.initial);
        let var = (self.rttvar * 4).max(self.granularity);
        self.rto = (s + var).clamp(self.min, self.max);
    }

    /// Doubles the timeout after it expired (capped at `max`).
    pub(crate) fn backoff(&mut self) {
        self.rto = (self.rto * 2).min(self.max);
    }

    /// After an ack that moved the window: back to the estimate, forgetting back-off.
    pub(crate) fn clear_backoff(&mut self) {
        self.recompute();
    }

    /// The retransmission timeout now.
    pub(crate) fn rto(&self) -> Duration {
        self.rto
    }

    /// The smallest RTT sampled in the session.
    pub(crate) fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt
    }

    /// The smoothed RTT, once sampled.
    pub(crate) fn srtt(&self) -> Option<Duration> {
        self.srtt
    }
}
