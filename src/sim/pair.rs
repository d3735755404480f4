//! [`Pair`]: two servers (ids 1 and 2), each with an MSL adapter and N LAN adapters, on one
//! [`SimNet`]:
//!
//! ```text
//!  server 1 ── msl ═══════ wire ═══════ msl ── server 2
//!     ├─ lan0 ──┬── segment 0 ──┬── lan0 ─┤
//!     │         └─ station 0 (RIP requests every 100 ms)
//!     └─ lan1 ──┬── segment 1 ──┬── lan1 ─┘
//!               └─ station 1
//! ```
//!
//! The stations are what let a server pass the isolation check (scenario 5), as in
//! `tests/node_run.rs`. Every medium has a small base delay (100 µs + up to 100 µs jitter).
//! Faults are applied per adapter (both directions between it and everything else on its
//! medium), so a "LAN cut" of one adapter leaves the other servers' paths alone.
//!
//! **Invariants** ([`Pair::check`], after every step; DESIGN §3):
//!
//! | invariant | violation |
//! |---|---|
//! | one servicer | (stricter than §3.1, which names LAN paths only) both servers serve clients while some path between them (the MSL or a LAN segment) has been clean (no fault on it or its adapters, both processes running, neither frozen) for longer than [`HEAL_GRACE`] |
//! | never serve unsafely | a server serves while its role machine is not a primary, is not serving, or its data is not consistent |
//!
//! With volumes ([`Pair::with_volumes`]) a client writes to whichever server serves, and
//! after the repair the two volumes must be equal and hold every acknowledged write
//! ([`super::writes`]).
//!
//! [`HEAL_GRACE`] is the only allowance: two primaries can exist while they cannot hear
//! each other (a full partition, or a path so lossy that four state packets in a row were
//! lost while the MSL was cut); once a path is clean again, the next state packet (5 ms)
//! shows each the other serving, and the tie-break loser stops within `dual_confirm`
//! (10 ms). 60 ms covers that with the delays and an MSL that needs a heartbeat to recover.

use std::time::Duration;

use crate::health::{probe_frame, AdapterConfig, ProbeKind};
use crate::link::sim::{Faults, SimAdapter, SimNet};
use crate::link::Link;
use crate::node::Exit;
use crate::role::RoleState;
use crate::wire::state::StateFlags;

use super::server::{Hardware, ProcessConfig, Server};
use super::trace::{Rng, Trace};
use super::volume::{SimDisk, VolumeConfig};
use super::writes::{WriteBook, BLOCK};

/// How long two servers may both serve after a path between them became clean.
pub const HEAL_GRACE: Duration = Duration::from_millis(60);
/// How often each station sends a RIP request.
pub const STATION_INTERVAL: Duration = Duration::from_millis(100);
/// How long after a restart-as-secondary exit the supervisor starts the process again.
pub const RESTART_DELAY: Duration = Duration::from_millis(50);

/// What is wrong with one adapter (or, for the MSL wire, the medium).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AdapterFault {
    /// Cut from its medium (both ways).
    pub cut: bool,
    /// Carrier down.
    pub carrier_down: bool,
    /// Frames to and from it meet these faults (`None`: only the base delay).
    pub impaired: Option<Faults>,
}

impl AdapterFault {
    fn clean(&self) -> bool {
        !self.cut && !self.carrier_down && self.impaired.is_none()
    }
}

/// Counts for the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PairStats {
    /// Notices given (role decisions).
    pub decisions: u64,
    /// Times a server started serving.
    pub serve_starts: u64,
    /// Of those, the ones after the first of a seed (another server, or the same after a
    /// restart, took over serving).
    pub takeovers: u64,
    /// Faults applied.
    pub faults: u64,
    /// Process starts (including the first two).
    pub starts: u64,
    /// Times both servers served at once (partitions, healed within the allowance).
    pub dual_serving: u64,
    /// The longest of those.
    pub dual_serving_max: Duration,
    /// Client writes acknowledged (with volumes).
    pub writes_acked: u64,
}

/// The two servers and their world.
pub struct Pair {
    /// The network.
    pub net: SimNet,
    hw: [Hardware; 2],
    /// The processes (`None`: not running).
    pub servers: [Option<Server>; 2],
    /// Supervisor restarts due.
    pub restart_at: [Option<Duration>; 2],
    /// Processes frozen (SIGSTOP, starved by the scheduler) until then.
    pub frozen_until: [Option<Duration>; 2],
    /// Since when each process runs (started, or last unfrozen): before, it heard nothing.
    running_since: [Duration; 2],
    stations: Vec<SimAdapter>,
    station_frames: Vec<Vec<u8>>,
    next_station: Duration,
    /// The stations send (default true; off, the servers hear nobody but each other and
    /// fail the isolation check).
    pub stations_on: bool,
    /// Stations silenced one by one (a segment whose clients and routers went quiet).
    pub station_off: Vec<bool>,
    /// Faults per server: index 0 the MSL adapter, 1.. the LAN adapters.
    pub faults: [Vec<AdapterFault>; 2],
    /// Per medium (0: MSL, 1..: LAN segments): split between the two servers (each still
    /// hears its station).
    pub split: Vec<bool>,
    /// Since when both servers serve, if they do.
    dual_since: Option<Duration>,
    /// When each path (0: MSL, 1..: LAN segments) became clean, if it is.
    clean_since: Vec<Option<Duration>>,
    priorities: [u8; 2],
    next_incarnation: u64,
    key: Option<crate::wire::auth::AuthKey>,
    /// The trace.
    pub trace: Trace,
    /// The first violation of an invariant.
    pub violation: Option<String>,
    /// Counts.
    pub stats: PairStats,
    /// The client's writes, when the servers mirror a volume.
    pub writes: Option<WriteBook>,
    seed: u64,
}

/// Base faults of every medium: a veth-like delay with a little jitter.
fn base_faults() -> Faults {
    Faults {
        delay: Duration::from_micros(100),
        jitter: Duration::from_micros(100),
        ..Faults::NONE
    }
}

impl PairStats {
    /// Adds `o`'s counts (the longest dual serving: the longer).
    pub fn add(&mut self, o: &PairStats) {
        self.decisions += o.decisions;
        self.serve_starts += o.serve_starts;
        self.takeovers += o.takeovers;
        self.faults += o.faults;
        self.starts += o.starts;
        self.dual_serving += o.dual_serving;
        self.dual_serving_max = self.dual_serving_max.max(o.dual_serving_max);
        self.writes_acked += o.writes_acked;
    }
}

impl Pair {
    /// Two servers with `lans` LAN adapters each and the given priorities; network
    /// randomness from `seed`; no process started yet.
    pub fn new(seed: u64, lans: usize, priorities: [u8; 2]) -> Pair {
        let net = SimNet::new(seed);
        let m1 = net.add_adapter("s1-msl");
        let m2 = net.add_adapter("s2-msl");
        let msl_wire = net.wire(m1.id(), m2.id()).expect("fresh adapters");
        net.set_medium_faults(msl_wire, base_faults());
        let mut l1 = Vec::new();
        let mut l2 = Vec::new();
        let mut stations = Vec::new();
        let mut station_frames = Vec::new();
        for k in 0..lans {
            let a = net.add_adapter(&format!("s1-lan{k}"));
            let b = net.add_adapter(&format!("s2-lan{k}"));
            let st = net.add_adapter(&format!("station{k}"));
            let seg = net
                .segment(&[a.id(), b.id(), st.id()])
                .expect("fresh adapters");
            net.set_medium_faults(seg, base_faults());
            let me = AdapterConfig::new(0, st.info().mac);
            let mut buf = [0u8; 256];
            let len = probe_frame(&me, ProbeKind::Rip, &mut buf).unwrap_or(0);
            station_frames.push(buf[..len].to_vec());
            l1.push(a);
            l2.push(b);
            stations.push(st);
        }
        let hw = [
            Hardware {
                msl: m1,
                lans: l1,
                disk: None,
            },
            Hardware {
                msl: m2,
                lans: l2,
                disk: None,
            },
        ];
        Pair {
            net,
            hw,
            servers: [None, None],
            restart_at: [None, None],
            frozen_until: [None, None],
            running_since: [Duration::ZERO; 2],
            stations,
            station_frames,
            next_station: Duration::ZERO,
            stations_on: true,
            station_off: vec![false; lans],
            faults: [
                vec![AdapterFault::default(); 1 + lans],
                vec![AdapterFault::default(); 1 + lans],
            ],
            clean_since: vec![Some(Duration::ZERO); 1 + lans],
            split: vec![false; 1 + lans],
            dual_since: None,
            priorities,
            next_incarnation: 1,
            key: Some([0x5a; 32]),
            trace: Trace::new(),
            violation: None,
            stats: PairStats::default(),
            writes: None,
            seed,
        }
    }

    /// The same pair with a mirrored volume on each server (empty disks) and a client
    /// writing to whichever server serves.
    pub fn with_volumes(mut self, cfg: VolumeConfig) -> Pair {
        for hw in &mut self.hw {
            hw.disk = Some(SimDisk::new(cfg));
        }
        self.writes = Some(WriteBook::new(cfg.size, Rng::new(self.seed, 3)));
        self
    }

    /// Server `i`'s disks, when it has a volume.
    pub fn disk(&self, i: usize) -> Option<&SimDisk> {
        self.hw[i].disk.as_ref()
    }

    /// Server `i`'s volume status, when it runs with a volume.
    pub fn volume_status(
        &self,
        i: usize,
    ) -> Option<std::sync::Arc<crate::node::volume::VolumeStatus>> {
        let v = self.servers[i].as_ref()?.volume.as_ref()?;
        Some(v.status())
    }

    /// Power lost on server `i`'s disks: what was not synced is kept or lost by sector.
    pub fn power_cut(&mut self, i: usize, rng: &mut Rng) {
        if let Some(d) = &self.hw[i].disk {
            d.power_cut(rng);
        }
    }

    /// Virtual time now.
    pub fn now(&self) -> Duration {
        self.net.now()
    }

    /// LAN adapters per server.
    pub fn lans(&self) -> usize {
        self.hw[0].lans.len()
    }

    /// Starts server `i` (0 or 1) now, with a new incarnation; a running one is replaced
    /// (as a crash and restart).
    pub fn start(&mut self, i: usize) {
        let now = self.now();
        let cfg = ProcessConfig {
            id: i as u64 + 1,
            priority: self.priorities[i],
            incarnation: self.next_incarnation,
            key: self.key,
        };
        self.next_incarnation += 1;
        self.trace.push(
            now,
            cfg.id,
            &format!("process start (incarnation {})", cfg.incarnation),
        );
        match Server::start(&cfg, &self.hw[i], now) {
            Ok(s) => self.servers[i] = Some(s),
            Err(e) => {
                self.servers[i] = None;
                self.fail(now, format!("s{} cannot start: {e}", cfg.id));
            }
        }
        self.restart_at[i] = None;
        self.frozen_until[i] = None;
        self.running_since[i] = now;
        self.stats.starts += 1;
    }

    /// Kills server `i`'s process (kill -9: every state is lost, nothing more is sent);
    /// `restart_after` schedules a supervisor restart.
    pub fn crash(&mut self, i: usize, restart_after: Option<Duration>) {
        let now = self.now();
        if self.servers[i].take().is_some() {
            self.trace.push(now, i as u64 + 1, "process killed");
        }
        self.restart_at[i] = restart_after.map(|d| now + d);
    }

    /// True when server `i`'s process runs (stopping counts as not running).
    pub fn running(&self, i: usize) -> bool {
        self.servers[i].as_ref().is_some_and(|s| !s.stopping())
    }

    /// Server `i`'s role state, if it runs.
    pub fn state(&self, i: usize) -> Option<RoleState> {
        self.servers[i].as_ref().map(|s| s.plane.role.state())
    }

    /// True when server `i` serves clients (a frozen process answers nobody).
    pub fn serving(&self, i: usize) -> bool {
        self.frozen_until[i].is_none() && self.servers[i].as_ref().is_some_and(Server::serving)
    }

    /// Freezes server `i`'s whole process (MSL included) for `d`: nothing it would do
    /// happens; what arrives waits in the adapters' queues.
    pub fn freeze(&mut self, i: usize, d: Duration) {
        if self.servers[i].is_some() {
            self.frozen_until[i] = Some(self.now() + d);
        }
    }

    fn adapter(&self, i: usize, a: usize) -> &SimAdapter {
        if a == 0 {
            &self.hw[i].msl
        } else {
            &self.hw[i].lans[a - 1]
        }
    }

    /// Sets adapter `a` of server `i` (0: MSL, 1..: LAN `a - 1`) to `f`, on the network
    /// and in the books.
    pub fn set_fault(&mut self, i: usize, a: usize, f: AdapterFault) {
        self.faults[i][a] = f;
        let me = self.adapter(i, a).id();
        self.net.set_carrier(me, !f.carrier_down);
        // Every direction on the medium, from both servers' settings of this adapter
        // (a cut on either side cuts; the first impaired side's faults apply).
        let ends = [self.adapter(0, a).id(), self.adapter(1, a).id()];
        let fx = [self.faults[0][a], self.faults[1][a]];
        let mut pairs = vec![(
            ends[0],
            ends[1],
            fx[0].cut || fx[1].cut || self.split[a],
            fx[0].impaired.or(fx[1].impaired),
        )];
        if a > 0 {
            let st = self.stations[a - 1].id();
            for k in 0..2 {
                pairs.push((ends[k], st, fx[k].cut, fx[k].impaired));
            }
        }
        for (x, y, cut, imp) in pairs {
            if cut {
                self.net.cut_both(x, y);
            } else {
                self.net.restore_both(x, y);
            }
            match imp {
                Some(v) => self.net.set_faults_both(x, y, v),
                None => {
                    self.net.clear_faults(x, y);
                    self.net.clear_faults(y, x);
                }
            }
        }
        self.update_clean();
    }

    /// Splits medium `a` (0: MSL, 1..: LAN segment `a - 1`) between the two servers, or
    /// joins it again.
    pub fn set_split(&mut self, a: usize, split: bool) {
        self.split[a] = split;
        let f = self.faults[0][a];
        self.set_fault(0, a, f);
    }

    /// Removes every fault.
    pub fn repair_all(&mut self) {
        self.station_off.fill(false);
        for a in 0..self.split.len() {
            if self.split[a] {
                self.set_split(a, false);
            }
        }
        for i in 0..2 {
            for a in 0..self.faults[i].len() {
                if self.faults[i][a] != AdapterFault::default() {
                    self.set_fault(i, a, AdapterFault::default());
                }
            }
        }
    }

    fn update_clean(&mut self) {
        let now = self.now();
        for p in 0..self.clean_since.len() {
            let clean = self.faults[0][p].clean() && self.faults[1][p].clean() && !self.split[p];
            match (clean, self.clean_since[p]) {
                (true, None) => self.clean_since[p] = Some(now),
                (false, Some(_)) => self.clean_since[p] = None,
                _ => {}
            }
        }
    }

    /// The next time anything has work: a frame arriving, a server's timer, a restart, a
    /// station.
    fn next_time(&self) -> Duration {
        let mut t = self.next_station;
        if let Some(n) = self.net.next_event_time() {
            t = t.min(n);
        }
        for i in 0..2 {
            if self.frozen_until[i].is_some() {
                continue;
            }
            if let Some(d) = self.servers[i].as_ref().and_then(Server::next_deadline) {
                t = t.min(d);
            }
            if let Some(r) = self.restart_at[i] {
                t = t.min(r);
            }
            if let Some(f) = self.frozen_until[i] {
                t = t.min(f);
            }
        }
        if let Some(w) = self.writes.as_ref().and_then(WriteBook::next_at) {
            t = t.min(w);
        }
        t
    }

    /// Runs until `end`. After a violation nothing runs any more (the trace ends there),
    /// but the clock still moves to `end`.
    pub fn run_until(&mut self, end: Duration) {
        if self.violation.is_some() {
            self.net.advance_to(end);
            return;
        }
        while self.violation.is_none() {
            let now = self.now();
            self.step(now);
            self.check(now);
            // Something due now again (a zero-delay frame just sent) runs at once; a
            // timer that did not move on would spin, so time always advances.
            let mut next = self.next_time();
            if next <= now {
                next = if self.net.next_event_time().is_some_and(|n| n <= now) {
                    now
                } else {
                    now + Duration::from_micros(1)
                };
            }
            if next > end {
                self.net.advance_to(end);
                break;
            }
            self.net.advance_to(next);
        }
    }

    fn step(&mut self, now: Duration) {
        for i in 0..2 {
            if self.restart_at[i].is_some_and(|t| t <= now) {
                self.start(i);
            }
        }
        if now >= self.next_station {
            if self.stations_on {
                let frames = self.station_frames.iter().zip(&self.station_off);
                for (st, (f, off)) in self.stations.iter_mut().zip(frames) {
                    if !off {
                        let _ = st.send(f);
                    }
                }
            }
            self.next_station = now + STATION_INTERVAL;
        }
        self.client_write(now);
        for i in 0..2 {
            match self.frozen_until[i] {
                Some(t) if t > now => continue,
                Some(_) => {
                    self.frozen_until[i] = None;
                    self.running_since[i] = now;
                    self.trace.push(now, i as u64 + 1, "process runs again");
                }
                None => {}
            }
            let Some(s) = self.servers[i].as_mut() else {
                continue;
            };
            if !s.has_work(now) {
                continue;
            }
            let before = self.trace.lines().len();
            let ended = s.step(now, &mut self.trace);
            for l in &self.trace.lines()[before..] {
                if l.contains(" notice ") {
                    self.stats.decisions += 1;
                } else if l.ends_with("service start_serving") {
                    self.stats.serve_starts += 1;
                    if self.stats.serve_starts > 1 {
                        self.stats.takeovers += 1;
                    }
                }
            }
            if let Some(exit) = ended {
                let id = i as u64 + 1;
                self.trace
                    .push(now, id, &format!("process ended: {exit:?}"));
                self.servers[i] = None;
                if exit == Exit::RestartAsSecondary {
                    // A supervisor starts it again (the daemon exits for that).
                    self.restart_at[i] = Some(now + RESTART_DELAY);
                }
            }
        }
        if let Some(w) = self.writes.as_mut() {
            w.poll(now, &mut self.trace);
        }
    }

    /// The client's next write, when due, to the server that serves (none: skipped).
    fn client_write(&mut self, now: Duration) {
        let Some(w) = self.writes.as_mut().filter(|w| w.due(now)) else {
            return;
        };
        let Some(i) = (0..2).find(|&i| {
            self.frozen_until[i].is_none() && self.servers[i].as_ref().is_some_and(Server::serving)
        }) else {
            w.skip(now);
            return;
        };
        let (offset, data, seq) = w.issue(now);
        let Some(s) = self.servers[i].as_mut() else {
            return;
        };
        if let Some(rx) = s.client_write(now, offset, data) {
            self.trace.push(
                now,
                s.id,
                &format!("client write {seq} (block {})", offset / BLOCK as u64),
            );
            w.pending(s.id, offset, seq, rx);
        }
    }

    /// Checks the invariants at `now`; records the first violation.
    pub fn check(&mut self, now: Duration) {
        if self.violation.is_some() {
            return;
        }
        for i in 0..2 {
            let Some(s) = self.servers[i].as_ref() else {
                continue;
            };
            if !s.serving() {
                continue;
            }
            let r = &s.plane.role;
            let consistent = r.flags().contains(StateFlags::DATA_CONSISTENT);
            if !r.state().is_primary() || !r.is_serving() || !consistent {
                self.fail(
                    now,
                    format!(
                        "server {} serves clients in state {:?} (consistent: {consistent})",
                        s.id,
                        r.state()
                    ),
                );
                return;
            }
        }
        let dual = self.serving(0) && self.serving(1);
        match (dual, self.dual_since) {
            (true, None) => {
                self.dual_since = Some(now);
                self.stats.dual_serving += 1;
                self.trace.push(now, 0, "both servers serve clients");
            }
            (false, Some(t)) => {
                self.dual_since = None;
                let took = now.saturating_sub(t);
                self.stats.dual_serving_max = self.stats.dual_serving_max.max(took);
                self.trace
                    .push(now, 0, &format!("one servicer again after {took:?}"));
            }
            _ => {}
        }
        if dual {
            let both_running = self.running_since[0].max(self.running_since[1]);
            let clean = self
                .clean_since
                .iter()
                .enumerate()
                .find(|(_, c)| c.is_some_and(|t| now >= t.max(both_running) + HEAL_GRACE));
            if let Some((p, _)) = clean {
                let path = if p == 0 {
                    "the MSL".to_string()
                } else {
                    format!("LAN segment {}", p - 1)
                };
                self.fail(
                    now,
                    format!(
                        "both servers serve clients while {path} has been clean for over {HEAL_GRACE:?}"
                    ),
                );
            }
        }
    }

    fn fail(&mut self, now: Duration, what: String) {
        self.trace.push(now, 0, &format!("VIOLATION: {what}"));
        self.violation = Some(format!("{:.6}s: {what}", now.as_secs_f64()));
    }

    /// One line per server for the trace and reports.
    pub fn describe(&self) -> String {
        let mut v = Vec::new();
        for i in 0..2 {
            let what = match &self.servers[i] {
                Some(s) => format!(
                    "s{}: {:?}{}",
                    s.id,
                    s.plane.role.state(),
                    if s.serving() { " serving" } else { "" }
                ),
                None => format!("s{}: down", i + 1),
            };
            v.push(what);
        }
        v.join(", ")
    }
}
