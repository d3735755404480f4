//! "More functional" (scenario 4), with hysteresis.
//!
//! | rule | |
//! |---|---|
//! | the peer is better | more working adapters; or as many, and a total score at least `margin` (300) higher |
//! | verdict | one side has been better at every sample for `hold` (100 ms) or more |
//! | forgotten | at the first sample where it is not better, or when the peer's summary is older than `peer_max_age` (200 ms) |
//! | tie | never a verdict (the roles stay as they are) |
//!
//! The rule is the same both ways, so [`Verdict::PeerMoreFunctional`] on one server is
//! [`Verdict::OwnMoreFunctional`] on the other when both see the same summaries: the
//! secondary takes over on the latter (scenario 4), the primary hands over on the former.
//!
//! The driver feeds its own [`Summary`] whenever it may have changed (each state packet it
//! sends, each link change) and the peer's from each state packet heard (or the MSL). A
//! flapping adapter, up and down faster than `hold`, breaks every run before it is long
//! enough, so it never moves the roles; an adapter that stays down for `hold` does. The
//! comparison is antisymmetric: the two sides are never both better.

use core::time::Duration;

use super::Summary;

/// Hysteresis of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ComparatorConfig {
    /// How long the peer must be better, without a break, for a verdict.
    pub hold: Duration,
    /// How much higher the peer's total score must be when working adapters are equal.
    pub margin: u32,
    /// A peer summary older than this counts as unknown (the peer may be gone: that is
    /// another scenario).
    pub peer_max_age: Duration,
}

impl Default for ComparatorConfig {
    fn default() -> Self {
        ComparatorConfig {
            hold: Duration::from_millis(100),
            margin: 300,
            peer_max_age: Duration::from_millis(200),
        }
    }
}

/// The comparator's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Neither side is (or not yet, or not steadily) more functional.
    Neither,
    /// The peer has been more functional since `since`, for at least the hold time.
    PeerMoreFunctional {
        /// When the current run of "peer better" samples began.
        since: Duration,
        /// `own: 1/2 adapters working, score 1000; peer: 2/2, score 2000`.
        evidence: String,
    },
    /// This server has been more functional than the peer since `since`, for at least the
    /// hold time.
    OwnMoreFunctional {
        /// When the current run of "own better" samples began.
        since: Duration,
        /// `own: 2/2 adapters working, score 2000; peer: 1/2, score 1000`.
        evidence: String,
    },
}

/// True when `peer` is strictly more functional than `own`: more working adapters, or as
/// many and a total score at least `margin` (taken as at least 1) higher.
pub fn peer_better(own: &Summary, peer: &Summary, margin: u32) -> bool {
    peer.working > own.working
        || (peer.working == own.working
            && peer.total_score >= own.total_score.saturating_add(margin.max(1)))
}

/// The evidence text of a comparison.
pub fn evidence(own: &Summary, peer: &Summary) -> String {
    format!(
        "own: {own}; peer: {}/{}, score {}",
        peer.working, peer.adapters, peer.total_score
    )
}

/// Decides, with hysteresis, whether the peer is more functional (sans-IO).
#[derive(Clone, Debug)]
pub struct FunctionalComparator {
    cfg: ComparatorConfig,
    own: Option<Summary>,
    peer: Option<(Duration, Summary)>,
    /// The side better at every sample since when (`true`: the peer).
    better_since: Option<(bool, Duration)>,
    last_now: Duration,
}

impl FunctionalComparator {
    /// A comparator that knows neither summary yet.
    pub fn new(cfg: ComparatorConfig) -> FunctionalComparator {
        FunctionalComparator {
            cfg,
            own: None,
            peer: None,
            better_since: None,
            last_now: Duration::ZERO,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ComparatorConfig {
        &self.cfg
    }

    /// The latest own summary.
    pub fn own(&self) -> Option<Summary> {
        self.own
    }

    /// The latest peer summary and when it arrived.
    pub fn peer(&self) -> Option<(Duration, Summary)> {
        self.peer
    }

    /// This server's summary at `now`.
    pub fn handle_own(&mut self, now: Duration, own: Summary) {
        self.own = Some(own);
        self.evaluate(now);
    }

    /// The peer's summary, heard at `now`.
    pub fn handle_peer(&mut self, now: Duration, peer: Summary) {
        if self.peer_stale(now) {
            // A gap in the peer's summaries breaks the run.
            self.better_since = None;
        }
        self.peer = Some((now, peer));
        self.evaluate(now);
    }

    /// Forgets the peer (it is gone, or restarted): no verdict until it is heard again.
    pub fn forget_peer(&mut self) {
        self.peer = None;
        self.better_since = None;
    }

    fn peer_stale(&self, now: Duration) -> bool {
        match self.peer {
            None => true,
            Some((at, _)) => now.saturating_sub(at) > self.cfg.peer_max_age,
        }
    }

    /// Timers: a peer summary gone stale ends the run.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.evaluate(now);
    }

    fn evaluate(&mut self, now: Duration) {
        self.last_now = self.last_now.max(now);
        let better = match (self.own, self.peer) {
            (Some(own), Some((_, peer))) if !self.peer_stale(now) => {
                if peer_better(&own, &peer, self.cfg.margin) {
                    Some(true)
                } else if peer_better(&peer, &own, self.cfg.margin) {
                    Some(false)
                } else {
                    None
                }
            }
            _ => None,
        };
        self.better_since = match (better, self.better_since) {
            (None, _) => None,
            (Some(side), Some((s, since))) if s == side => Some((s, since)),
            (Some(side), _) => Some((side, now)),
        };
    }

    /// The verdict at `now`.
    pub fn verdict(&self, now: Duration) -> Verdict {
        let (Some((peer_side, since)), Some(own), Some((_, peer))) =
            (self.better_since, self.own, self.peer)
        else {
            return Verdict::Neither;
        };
        if self.peer_stale(now) || now.saturating_sub(since) < self.cfg.hold {
            return Verdict::Neither;
        }
        let evidence = evidence(&own, &peer);
        if peer_side {
            Verdict::PeerMoreFunctional { since, evidence }
        } else {
            Verdict::OwnMoreFunctional { since, evidence }
        }
    }

    /// The current comparison as text (whatever the verdict), if both summaries are known.
    pub fn evidence(&self) -> Option<String> {
        Some(evidence(&self.own?, &self.peer?.1))
    }

    /// When the verdict may next change without a new summary: the end of the hold time
    /// of a run in progress, or the moment the peer's summary goes stale.
    /// Times already passed are left out, so a caller never spins.
    pub fn poll_timeout(&self) -> Option<Duration> {
        let (_, since) = self.better_since?;
        let (at, _) = self.peer?;
        let held = since.saturating_add(self.cfg.hold);
        let stale = at
            .saturating_add(self.cfg.peer_max_age)
            .saturating_add(Duration::from_nanos(1));
        [held, stale]
            .into_iter()
            .filter(|&t| t > self.last_now)
            .min()
    }
}
