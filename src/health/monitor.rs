//! One adapter's health: what is known about it, and its score at a given time (the table
//! in the [module documentation](super)).

use core::fmt;
use core::time::Duration;
use std::collections::VecDeque;

use arrayvec::ArrayVec;

use super::probe::{ProbeKind, StationKind};
use super::{
    AdapterConfig, HealthConfig, BASE_SCORE, ERROR_STEPS, PEER_BONUS, PROBE_PENALTY, QUIET_PENALTY,
    STATION_BONUS,
};
use crate::link::{LinkStatus, OperState};
use crate::wire::state::{AdapterFlags, AdapterHealth, MAX_SCORE, PEER_AGE_NEVER};
use crate::wire::{IpxAddr, MacAddr};

/// Most counter samples kept per adapter (a driver sampling faster than the window needs
/// is thinned to this many).
const MAX_SAMPLES: usize = 64;

/// Interface counters, as `/sys/class/net/IF/statistics` gives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Counters {
    /// Frames received.
    pub rx_packets: u64,
    /// Frames sent.
    pub tx_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Send errors.
    pub tx_errors: u64,
    /// Received frames dropped (not counted as errors: see the module documentation).
    pub rx_dropped: u64,
    /// Frames dropped on the way out.
    pub tx_dropped: u64,
}

impl Counters {
    /// Frames that went wrong.
    pub fn bad(&self) -> u64 {
        self.rx_errors
            .saturating_add(self.tx_errors)
            .saturating_add(self.tx_dropped)
    }

    /// Frames that went right.
    pub fn good(&self) -> u64 {
        self.rx_packets.saturating_add(self.tx_packets)
    }

    /// True when any counter is below `earlier`'s (the interface was re-created or reset).
    fn went_back(&self, earlier: &Counters) -> bool {
        self.rx_packets < earlier.rx_packets
            || self.tx_packets < earlier.tx_packets
            || self.rx_errors < earlier.rx_errors
            || self.tx_errors < earlier.tx_errors
            || self.rx_dropped < earlier.rx_dropped
            || self.tx_dropped < earlier.tx_dropped
    }
}

/// One line of a score: why it went up or down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoreItem {
    /// The link cannot pass frames (score 0).
    LinkDown {
        /// Carrier, operstate, or "not reported yet".
        reason: &'static str,
    },
    /// The base of a usable link.
    Base,
    /// The peer's state packets are heard.
    HearsPeer,
    /// Other stations are heard.
    HearsStations,
    /// Errors in the last window.
    Errors {
        /// Bad frames.
        bad: u64,
        /// All frames.
        frames: u64,
    },
    /// A station was heard before, none lately.
    Quiet {
        /// Time since the last one.
        since: Duration,
    },
    /// Probes that used to be answered are not.
    ProbesUnanswered {
        /// Consecutive misses.
        misses: u32,
    },
}

impl fmt::Display for ScoreItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScoreItem::LinkDown { reason } => f.write_str(reason),
            ScoreItem::Base => f.write_str("link up"),
            ScoreItem::HearsPeer => f.write_str("hears peer"),
            ScoreItem::HearsStations => f.write_str("hears stations"),
            ScoreItem::Errors { bad, frames } => write!(f, "errors {bad}/{frames} frames"),
            ScoreItem::Quiet { since } => {
                write!(f, "no station heard for {} ms", since.as_millis())
            }
            ScoreItem::ProbesUnanswered { misses } => write!(f, "{misses} probes unanswered"),
        }
    }
}

/// A score with its reasons, for notices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// The result.
    pub health: AdapterHealth,
    /// Each reason and what it added (negative: took away).
    pub items: ArrayVec<(ScoreItem, i32), 8>,
}

impl Explanation {
    /// True when the adapter counts as working.
    pub fn working(&self) -> bool {
        self.health.flags.contains(AdapterFlags::WORKING)
    }
}

impl fmt::Display for Explanation {
    /// `adapter 1: score 400, not working (link up +600, errors 3/100 frames -250, ...)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "adapter {}: score {}, {} (",
            self.health.index,
            self.health.score,
            if self.working() {
                "working"
            } else {
                "not working"
            }
        )?;
        for (i, (item, delta)) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match delta {
                0 => write!(f, "{item}")?,
                d => write!(f, "{item} {d:+}")?,
            }
        }
        f.write_str(")")
    }
}

/// The last frame heard from another station.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StationSeen {
    /// When.
    pub at: Duration,
    /// Its Ethernet address.
    pub node: MacAddr,
    /// Its IPX source address.
    pub src: IpxAddr,
    /// What it sent.
    pub kind: StationKind,
}

/// One LAN adapter's health state (sans-IO: fed with `now`).
#[derive(Clone, Debug)]
pub struct AdapterMonitor {
    adapter: AdapterConfig,
    cfg: HealthConfig,
    link: Option<LinkStatus>,
    samples: VecDeque<(Duration, Counters)>,
    last_peer: Option<Duration>,
    last_station: Option<StationSeen>,
    next_probe: Duration,
    outstanding: Option<Duration>,
    misses: u32,
    answered_ever: bool,
    probes_sent: u64,
    probes_answered: u64,
    last_now: Duration,
}

impl AdapterMonitor {
    /// A monitor for `adapter`; the link counts as down until [`handle_link`] reports it.
    /// The first probe is due at `now`.
    ///
    /// [`handle_link`]: Self::handle_link
    pub fn new(adapter: AdapterConfig, cfg: HealthConfig, now: Duration) -> AdapterMonitor {
        AdapterMonitor {
            adapter,
            cfg,
            link: None,
            samples: VecDeque::new(),
            last_peer: None,
            last_station: None,
            next_probe: now,
            outstanding: None,
            misses: 0,
            answered_ever: false,
            probes_sent: 0,
            probes_answered: 0,
            last_now: now,
        }
    }

    /// The adapter this monitors.
    pub fn adapter(&self) -> &AdapterConfig {
        &self.adapter
    }

    /// The link status last reported.
    pub fn link(&self) -> Option<LinkStatus> {
        self.link
    }

    /// When the peer's state packet was last heard here.
    pub fn last_peer(&self) -> Option<Duration> {
        self.last_peer
    }

    /// The last frame from another station.
    pub fn last_station(&self) -> Option<StationSeen> {
        self.last_station
    }

    /// Probes sent and probes answered so far.
    pub fn probe_counts(&self) -> (u64, u64) {
        (self.probes_sent, self.probes_answered)
    }

    /// Consecutive unanswered probes.
    pub fn probe_misses(&self) -> u32 {
        self.misses
    }

    fn saw(&mut self, now: Duration) {
        self.last_now = self.last_now.max(now);
    }

    /// Carrier or operstate changed (or the first report).
    pub fn handle_link(&mut self, now: Duration, status: LinkStatus) {
        self.saw(now);
        self.link = Some(status);
    }

    /// A counter sample. Counters that went back (the interface was reset) start a new
    /// window.
    pub fn handle_counters(&mut self, now: Duration, c: Counters) {
        self.saw(now);
        if self
            .samples
            .back()
            .is_some_and(|(_, last)| c.went_back(last))
        {
            self.samples.clear();
        }
        self.samples.push_back((now, c));
        // Keep one sample at or before the window's start, so the window is covered.
        let start = now.saturating_sub(self.cfg.error_window);
        while self.samples.len() > 1 && self.samples.get(1).is_some_and(|(t, _)| *t <= start) {
            self.samples.pop_front();
        }
        if self.samples.len() > MAX_SAMPLES {
            // Thin the middle: drop the second oldest, the oldest keeps the window covered.
            self.samples.remove(1);
        }
    }

    /// The peer's (verified) state packet arrived on this adapter.
    pub fn handle_peer_state(&mut self, now: Duration) {
        self.saw(now);
        self.last_peer = Some(now);
    }

    /// `node` turned out to be the peer (its state packet came after its other frames):
    /// what it sent no longer counts as a station heard. A real station's next frame
    /// counts again.
    pub fn forget_station(&mut self, node: MacAddr) {
        if self.last_station.is_some_and(|s| s.node == node) {
            self.last_station = None;
        }
    }

    /// A frame from another station (not us, not the peer) arrived on this adapter.
    pub fn handle_station(
        &mut self,
        now: Duration,
        node: MacAddr,
        src: IpxAddr,
        kind: StationKind,
    ) {
        self.expire_probe(now);
        self.saw(now);
        self.last_station = Some(StationSeen {
            at: now,
            node,
            src,
            kind,
        });
        if kind.answers_probe() && self.outstanding.take().is_some() {
            self.misses = 0;
            self.answered_ever = true;
            self.probes_answered += 1;
        }
    }

    /// Counts an outstanding probe as missed once its time is up.
    fn expire_probe(&mut self, now: Duration) {
        if let Some(sent) = self.outstanding {
            if now >= sent.saturating_add(self.cfg.probe_timeout) {
                self.outstanding = None;
                self.misses = self.misses.saturating_add(1);
            }
        }
    }

    /// Timers: probes whose time is up count as missed.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.expire_probe(now);
        self.saw(now);
    }

    /// The kind of probe due at `now`, if one is (and records it as sent: the caller sends
    /// it). A probe still outstanding counts as missed. None while the link is down.
    pub fn take_probe(&mut self, now: Duration) -> Option<ProbeKind> {
        let interval = self.cfg.probe_interval?;
        if now < self.next_probe {
            return None;
        }
        self.saw(now);
        // Catch up without a burst after a long pause.
        self.next_probe = self.next_probe.saturating_add(interval).max(now);
        if !self.link.is_some_and(|l| l.is_usable()) {
            return None;
        }
        if self.outstanding.take().is_some() {
            self.misses = self.misses.saturating_add(1);
        }
        self.outstanding = Some(now);
        let kind = self.cfg.probe_kind.nth(self.probes_sent);
        self.probes_sent += 1;
        Some(kind)
    }

    /// When this adapter next needs [`handle_timeout`](Self::handle_timeout) or a probe:
    /// the next probe, an outstanding probe's deadline, or the moment a "heard" bonus
    /// lapses (so a driver waking only here sees every change of score).
    pub fn next_timeout(&self) -> Option<Duration> {
        let mut t: Option<Duration> = None;
        let mut at = |d: Duration| t = Some(t.map_or(d, |x: Duration| x.min(d)));
        if self.cfg.probe_interval.is_some() {
            at(self.next_probe);
        }
        if let Some(s) = self.outstanding {
            at(s.saturating_add(self.cfg.probe_timeout));
        }
        for edge in [
            self.last_peer
                .map(|p| p.saturating_add(self.cfg.peer_fresh)),
            self.last_station
                .map(|s| s.at.saturating_add(self.cfg.station_fresh)),
        ]
        .into_iter()
        .flatten()
        {
            if edge > self.last_now {
                at(edge);
            }
        }
        t
    }

    /// Bad and all frames over the error window (`None` with fewer than two samples).
    pub fn error_counts(&self) -> Option<(u64, u64)> {
        let (_, first) = self.samples.front()?;
        let (_, last) = self.samples.back()?;
        if self.samples.len() < 2 {
            return None;
        }
        let bad = last.bad().saturating_sub(first.bad());
        let good = last.good().saturating_sub(first.good());
        Some((bad, good.saturating_add(bad)))
    }

    /// The score and flags at `now`.
    pub fn health(&self, now: Duration) -> AdapterHealth {
        self.explain(now).health
    }

    /// True when the adapter counts as working at `now`.
    pub fn is_working(&self, now: Duration) -> bool {
        self.explain(now).working()
    }

    /// The score at `now` with its reasons.
    pub fn explain(&self, now: Duration) -> Explanation {
        let mut items = ArrayVec::new();
        let mut flags = AdapterFlags::default();
        let peer_age_ms = match self.last_peer {
            None => PEER_AGE_NEVER,
            Some(p) => now
                .saturating_sub(p)
                .as_millis()
                .min(PEER_AGE_NEVER as u128 - 1) as u16,
        };
        let down = match self.link {
            None => Some("link state not reported yet"),
            Some(l) => {
                if l.carrier {
                    flags = flags.union(AdapterFlags::CARRIER);
                }
                if l.oper == OperState::Up {
                    flags = flags.union(AdapterFlags::OPER_UP);
                }
                if !l.carrier {
                    Some("no carrier")
                } else if !l.is_usable() {
                    Some("operstate not up")
                } else {
                    None
                }
            }
        };
        let mut score: i32 = 0;
        if let Some(reason) = down {
            items.push((ScoreItem::LinkDown { reason }, 0));
        } else {
            let mut add = |items: &mut ArrayVec<_, 8>, item, d: i32| {
                items.push((item, d));
                score += d;
            };
            add(&mut items, ScoreItem::Base, BASE_SCORE as i32);
            if self
                .last_peer
                .is_some_and(|p| now < p.saturating_add(self.cfg.peer_fresh))
            {
                flags = flags.union(AdapterFlags::HEARS_PEER);
                add(&mut items, ScoreItem::HearsPeer, PEER_BONUS as i32);
            }
            match self.last_station {
                Some(s) if now < s.at.saturating_add(self.cfg.station_fresh) => {
                    flags = flags.union(AdapterFlags::HEARS_IPX);
                    add(&mut items, ScoreItem::HearsStations, STATION_BONUS as i32);
                }
                Some(s) => {
                    let since = now.saturating_sub(s.at);
                    add(
                        &mut items,
                        ScoreItem::Quiet { since },
                        -(QUIET_PENALTY as i32),
                    );
                }
                None => {}
            }
            if let Some((bad, frames)) = self.error_counts() {
                if let Some(p) = error_penalty(bad, frames) {
                    add(&mut items, ScoreItem::Errors { bad, frames }, -(p as i32));
                }
            }
            if self.answered_ever && self.misses >= self.cfg.probe_miss_limit.max(1) {
                add(
                    &mut items,
                    ScoreItem::ProbesUnanswered {
                        misses: self.misses,
                    },
                    -(PROBE_PENALTY as i32),
                );
            }
        }
        let score = score.clamp(0, MAX_SCORE as i32) as u16;
        if down.is_none() && score >= self.cfg.working_min {
            flags = flags.union(AdapterFlags::WORKING);
        }
        Explanation {
            health: AdapterHealth {
                index: self.adapter.index,
                flags,
                score,
                peer_age_ms,
            },
            items,
        }
    }
}

/// The deduction for `bad` of `frames` (the largest step of [`ERROR_STEPS`] reached), or
/// `None` without errors.
pub fn error_penalty(bad: u64, frames: u64) -> Option<u16> {
    if bad == 0 {
        return None;
    }
    let per_mille = (bad as u128 * 1000) / (frames.max(bad).max(1) as u128);
    ERROR_STEPS
        .iter()
        .rev()
        .find(|(step, _)| per_mille >= *step as u128)
        .map(|&(_, p)| p)
}
