//! [`Health`]: every LAN adapter of one server, the probes, and the evidence for the role
//! layer. Adapters are named by their position in the list given to [`Health::new`].

use core::fmt;
use core::time::Duration;

use arrayvec::ArrayVec;

use super::monitor::{AdapterMonitor, Counters, Explanation, StationSeen};
use super::probe::{heard_from_frame, probe_frame, Heard, ProbeKind, StationKind, PROBE_BUF_LEN};
use super::{AdapterConfig, HealthConfig, Summary};
use crate::link::LinkStatus;
use crate::wire::state::{AdapterFlags, AdapterHealth, MAX_ADAPTERS};
use crate::wire::{IpxAddr, MacAddr, Result as WireResult};

/// A probe frame to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The adapter's position.
    pub adapter: usize,
    /// What it asks.
    pub kind: ProbeKind,
    /// The whole Ethernet frame.
    pub frame: Vec<u8>,
}

/// Frames [`Health::handle_frame`] did not count as a station.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FrameCounters {
    /// From our own adapters.
    pub own: u64,
    /// From the peer.
    pub peer: u64,
    /// Not IPX, or malformed.
    pub bad: u64,
    /// For an adapter position that does not exist.
    pub no_adapter: u64,
}

/// The health of every LAN adapter of this server (sans-IO).
#[derive(Clone, Debug)]
pub struct Health {
    cfg: HealthConfig,
    monitors: Vec<AdapterMonitor>,
    own_macs: Vec<MacAddr>,
    peer_macs: Vec<MacAddr>,
    frames: FrameCounters,
    next_probe_adapter: usize,
}

impl Health {
    /// Health for `adapters` (their links count as down until reported); first probes are
    /// due at `now`.
    pub fn new(cfg: HealthConfig, adapters: &[AdapterConfig], now: Duration) -> Health {
        Health {
            monitors: adapters
                .iter()
                .map(|a| AdapterMonitor::new(*a, cfg.clone(), now))
                .collect(),
            own_macs: adapters.iter().map(|a| a.mac).collect(),
            peer_macs: Vec::new(),
            cfg,
            frames: FrameCounters::default(),
            next_probe_adapter: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &HealthConfig {
        &self.cfg
    }

    /// Every adapter's monitor, by position.
    pub fn monitors(&self) -> &[AdapterMonitor] {
        &self.monitors
    }

    /// Frames not counted as stations.
    pub fn frame_counters(&self) -> FrameCounters {
        self.frames
    }

    /// The peer's MACs (learned from its state packets, the MSL handshake or the
    /// configuration): its frames never count as other stations.
    pub fn set_peer_macs(&mut self, macs: &[MacAddr]) {
        self.peer_macs = macs.to_vec();
    }

    /// Adds one MAC of the peer (no effect if known).
    pub fn add_peer_mac(&mut self, mac: MacAddr) {
        if !self.peer_macs.contains(&mac) {
            self.peer_macs.push(mac);
            // Its probes, heard before its first state packet, were taken for a
            // station's: they must not pass the isolation check (scenario 5).
            for m in &mut self.monitors {
                m.forget_station(mac);
            }
        }
    }

    /// Carrier or operstate of adapter `adapter` changed. Unknown positions are ignored.
    pub fn handle_link(&mut self, now: Duration, adapter: usize, status: LinkStatus) {
        if let Some(m) = self.monitors.get_mut(adapter) {
            m.handle_link(now, status);
        }
    }

    /// A counter sample of adapter `adapter`. Unknown positions are ignored.
    pub fn handle_counters(&mut self, now: Duration, adapter: usize, c: Counters) {
        if let Some(m) = self.monitors.get_mut(adapter) {
            m.handle_counters(now, c);
        }
    }

    /// The peer's state packet (authenticated and fresh: the caller checked) arrived on
    /// adapter `adapter`. Unknown positions are ignored.
    pub fn handle_peer_state(&mut self, now: Duration, adapter: usize) {
        if let Some(m) = self.monitors.get_mut(adapter) {
            m.handle_peer_state(now);
        }
    }

    /// A frame from another station, already classified. Unknown positions are ignored.
    pub fn handle_station(
        &mut self,
        now: Duration,
        adapter: usize,
        node: MacAddr,
        src: IpxAddr,
        kind: StationKind,
    ) {
        if let Some(m) = self.monitors.get_mut(adapter) {
            m.handle_station(now, node, src, kind);
        }
    }

    /// A received IPX frame on adapter `adapter`: a frame from another station counts as a
    /// station heard (and may answer a probe); our own and the peer's are counted and
    /// otherwise ignored (the peer's state packets go to [`handle_peer_state`] after
    /// authentication). Returns what the frame was; a frame that is not IPX is an error.
    ///
    /// [`handle_peer_state`]: Self::handle_peer_state
    pub fn handle_frame(
        &mut self,
        now: Duration,
        adapter: usize,
        frame: &[u8],
    ) -> WireResult<Heard> {
        let heard = match heard_from_frame(frame, &self.own_macs, &self.peer_macs) {
            Ok(h) => h,
            Err(e) => {
                self.frames.bad += 1;
                return Err(e);
            }
        };
        match heard {
            Heard::Own => self.frames.own += 1,
            Heard::Peer => self.frames.peer += 1,
            Heard::Station { node, src, kind } => match self.monitors.get_mut(adapter) {
                Some(m) => m.handle_station(now, node, src, kind),
                None => self.frames.no_adapter += 1,
            },
        }
        Ok(heard)
    }

    /// Timers: outstanding probes whose time is up count as missed.
    pub fn handle_timeout(&mut self, now: Duration) {
        for m in &mut self.monitors {
            m.handle_timeout(now);
        }
    }

    /// The next probe due at `now`, if any (call until `None`). Adapters whose link is
    /// down skip their turn.
    pub fn poll_probe(&mut self, now: Duration) -> Option<Probe> {
        let n = self.monitors.len();
        for k in 0..n {
            let i = (self.next_probe_adapter + k) % n;
            let m = &mut self.monitors[i];
            let Some(kind) = m.take_probe(now) else {
                continue;
            };
            let mut frame = vec![0u8; PROBE_BUF_LEN];
            // The buffer is large enough for either probe; an error would be a bug in the
            // emitters, and skipping one probe is the harmless answer.
            if let Ok(len) = probe_frame(m.adapter(), kind, &mut frame) {
                frame.truncate(len);
                self.next_probe_adapter = (i + 1) % n;
                return Some(Probe {
                    adapter: i,
                    kind,
                    frame,
                });
            }
        }
        None
    }

    /// When [`handle_timeout`](Self::handle_timeout) or [`poll_probe`](Self::poll_probe)
    /// next has work, or a score changes by the passing of time.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.monitors.iter().filter_map(|m| m.next_timeout()).min()
    }

    /// Every adapter's health at `now`, by position.
    pub fn adapter_health(&self, now: Duration) -> Vec<AdapterHealth> {
        self.monitors.iter().map(|m| m.health(now)).collect()
    }

    /// The adapter entries of a state packet: the first [`MAX_ADAPTERS`] adapters.
    pub fn state_adapters(&self, now: Duration) -> ArrayVec<AdapterHealth, MAX_ADAPTERS> {
        self.monitors
            .iter()
            .take(MAX_ADAPTERS)
            .map(|m| m.health(now))
            .collect()
    }

    /// Every adapter's score with its reasons.
    pub fn explain(&self, now: Duration) -> Vec<Explanation> {
        self.monitors.iter().map(|m| m.explain(now)).collect()
    }

    /// Working adapters and total score at `now` (the state packet's summary fields).
    pub fn summary(&self, now: Duration) -> Summary {
        let mut s = Summary {
            adapters: self.monitors.len().min(u8::MAX as usize) as u8,
            ..Summary::default()
        };
        for h in self.monitors.iter().map(|m| m.health(now)) {
            if h.flags.contains(AdapterFlags::WORKING) {
                s.working = s.working.saturating_add(1);
            }
            s.total_score = s.total_score.saturating_add(h.score as u32);
        }
        s
    }

    /// Whether this server hears the network (scenario 5): some working adapter heard
    /// another station (router, client, server: RIP, SAP, anything IPX) within
    /// `station_fresh`. The peer does not count.
    pub fn hears_network(&self, now: Duration) -> NetworkEvidence {
        let adapters: Vec<AdapterEvidence> = self
            .monitors
            .iter()
            .map(|m| AdapterEvidence {
                index: m.adapter().index,
                working: m.is_working(now),
                last: m.last_station(),
                age: m.last_station().map(|s| now.saturating_sub(s.at)),
            })
            .collect();
        let hears = adapters
            .iter()
            .any(|a| a.working && a.age.is_some_and(|age| age < self.cfg.station_fresh));
        NetworkEvidence {
            hears,
            fresh: self.cfg.station_fresh,
            adapters,
        }
    }
}

/// What one adapter heard, for [`NetworkEvidence`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdapterEvidence {
    /// The adapter's index.
    pub index: u8,
    /// Whether it counts as working.
    pub working: bool,
    /// The last frame from another station.
    pub last: Option<StationSeen>,
    /// Time since it.
    pub age: Option<Duration>,
}

/// Whether this server hears the network, and why (scenario 5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkEvidence {
    /// Some working adapter heard another station within `fresh`.
    pub hears: bool,
    /// The recency asked for.
    pub fresh: Duration,
    /// Each adapter's evidence.
    pub adapters: Vec<AdapterEvidence>,
}

impl fmt::Display for NetworkEvidence {
    /// `hears the network: adapter 0 (working) heard 02:00:00:00:00:01 (RIP response) 12 ms
    /// ago; adapter 1 (not working) heard nothing`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.hears {
            f.write_str("hears the network: ")?;
        } else {
            write!(
                f,
                "does not hear the network (no station within {} ms): ",
                self.fresh.as_millis()
            )?;
        }
        if self.adapters.is_empty() {
            f.write_str("no LAN adapters")?;
        }
        for (i, a) in self.adapters.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            let w = if a.working { "working" } else { "not working" };
            write!(f, "adapter {} ({w}) ", a.index)?;
            match (a.last, a.age) {
                (Some(s), Some(age)) => write!(
                    f,
                    "heard {} ({}) {} ms ago",
                    s.node,
                    s.kind,
                    age.as_millis()
                )?,
                _ => f.write_str("heard nothing")?,
            }
        }
        Ok(())
    }
}
