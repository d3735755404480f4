//! One simulated server process: the daemon's composition ([`Plane`] over the beacon,
//! health, comparator and role machine, plus the MSL core [`Msl`]) driven on virtual time
//! the way `event.rs` and the MSL driver drive them on real time.
//!
//! | daemon | here |
//! |---|---|
//! | MSL driver thread: frames in, `handle_timeout`, frames out, events | [`Server::step`], same order |
//! | rtnetlink link events | a change of the simulated adapter's status, seen at each step |
//! | sysfs counters every tick | the simulated adapter's counters (corrupted frames are receive errors) |
//! | event loop: timers, tick, MSL messages and notices out, state packets and probes due | [`Server::step`] |
//! | shutdown: final state round, control queue flushed (≤ 50 ms), MSL closed | [`Server::step`] while stopping |
//! | [`RecordingService`](crate::node::RecordingService) | [`SimService`]: the same, with the calls for the trace |

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::beacon::{AdapterConfig as BeaconAdapter, MAX_FRAME_LEN};
use crate::health::Counters;
use crate::link::sim::SimAdapter;
use crate::link::{Link, LinkStatus};
use crate::msl::driver::DriverEvent;
use crate::msl::{CloseReason, Msl, MslConfig, MslEvent, MslState, Priority};
use crate::node::plane::{PlaneConfig, TICK};
use crate::node::{Exit, Plane, ResyncStart, Service};
use crate::role::{ResyncKind, ResyncRole, RoleConfig, RoleMachine};
use crate::wire::addr::Net;
use crate::wire::auth::AuthKey;
use crate::wire::ethernet::Framing;

use super::trace::Trace;

/// How long a stopping server waits for its control messages to be acknowledged (the
/// daemon's `FLUSH_LIMIT`).
const FLUSH_LIMIT: Duration = Duration::from_millis(50);

/// What the service was asked: the serving state the invariants read, and the calls not
/// yet traced.
#[derive(Debug, Default)]
pub struct ServiceState {
    /// Serving clients (as asked).
    pub serving: bool,
    /// Advertising the engine's network and name (as asked).
    pub advertising: bool,
    /// Calls since the trace last took them.
    pub calls: Vec<&'static str>,
}

/// The simulator's [`Service`]: records, serves nothing; a resync of no data completes at
/// once, as in the daemon.
#[derive(Clone, Debug, Default)]
pub struct SimService(pub Arc<Mutex<ServiceState>>);

impl SimService {
    fn with(&self, call: &'static str, f: impl FnOnce(&mut ServiceState)) {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s);
        s.calls.push(call);
    }

    /// Serving clients now.
    pub fn serving(&self) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).serving
    }

    fn take_calls(&self) -> Vec<&'static str> {
        std::mem::take(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()).calls)
    }
}

impl Service for SimService {
    fn start_serving(&mut self) {
        self.with("start_serving", |s| s.serving = true);
    }
    fn stop_serving(&mut self) {
        self.with("stop_serving", |s| s.serving = false);
    }
    fn advertise(&mut self) {
        self.with("advertise", |s| s.advertising = true);
    }
    fn withdraw(&mut self) {
        self.with("withdraw", |s| s.advertising = false);
    }
    fn start_tracking(&mut self) {
        self.with("start_tracking", |_| {});
    }
    fn stop_tracking(&mut self) {
        self.with("stop_tracking", |_| {});
    }
    fn start_resync(&mut self, _role: ResyncRole, _kind: ResyncKind) -> ResyncStart {
        self.with("start_resync", |_| {});
        ResyncStart::NothingToCopy
    }
}

/// A server's adapters: hardware, kept across process restarts.
#[derive(Clone, Debug)]
pub struct Hardware {
    /// The MSL adapter.
    pub msl: SimAdapter,
    /// The LAN adapters, by position.
    pub lans: Vec<SimAdapter>,
}

/// What a process is configured with (the daemon's defaults, a key on both links).
#[derive(Clone, Debug)]
pub struct ProcessConfig {
    /// Server id.
    pub id: u64,
    /// Tie-break priority.
    pub priority: u8,
    /// Incarnation (grows from one start to the next).
    pub incarnation: u64,
    /// Key of the MSL and the state packets.
    pub key: Option<AuthKey>,
}

/// One running (or stopping) server process.
pub struct Server {
    /// Server id.
    pub id: u64,
    /// This process's incarnation.
    pub incarnation: u64,
    /// The control plane.
    pub plane: Plane,
    /// The MSL core.
    pub msl: Msl,
    /// What the role actions drove.
    pub service: SimService,
    hw: Hardware,
    next_tick: Duration,
    msl_status: LinkStatus,
    lan_status: Vec<LinkStatus>,
    /// Ended by its role machine; closes the MSL at this time (or once flushed).
    stopping: Option<(Exit, Duration)>,
    buf: Vec<u8>,
    /// The next deadline, as of the last step.
    deadline: Option<Duration>,
    /// Virtual time the process started.
    pub started: Duration,
}

impl Server {
    /// Starts a process on `hw` at `now` (as `node::start_with` and the control-plane
    /// thread do, in that order).
    pub fn start(cfg: &ProcessConfig, hw: &Hardware, now: Duration) -> Server {
        let id = cfg.id;
        let name = format!("SFT-{id}");
        // As in the daemon: the first hello announces a starting server (the plane then
        // keeps the announcement current).
        let role = RoleMachine::new(RoleConfig::new(id, cfg.priority), now);
        let mut mcfg = MslConfig::new(id, cfg.incarnation, hw.msl.info().mac).with_name(&name);
        mcfg.key = cfg.key;
        mcfg.priority = cfg.priority;
        mcfg.role = role.role();
        mcfg.flags = role.flags();
        mcfg.history = role.history().iter().copied().collect();
        mcfg.tracked_since = role.config().tracked_since;
        let msl = Msl::new(mcfg, now);

        let mut pcfg = PlaneConfig::new(id, cfg.priority, cfg.incarnation);
        pcfg.name = name;
        pcfg.key = cfg.key;
        pcfg.engine_net = Net(0x5f70_0001);
        for (pos, l) in hw.lans.iter().enumerate() {
            pcfg.lans.push(BeaconAdapter {
                index: pos as u8,
                mac: l.info().mac,
                net: Net(0x0000_ab00 + pos as u32),
                framing: Framing::EthernetII,
                peer_mac: None,
            });
        }
        let service = SimService::default();
        // Built here from valid pieces (at most 8 adapters): it cannot be refused.
        let mut plane = Plane::assemble(&pcfg, Box::new(service.clone()), now)
            .expect("a valid plane configuration");
        let mut lan_status = Vec::new();
        for (pos, l) in hw.lans.iter().enumerate() {
            let st = l.net().status(l.id());
            plane.lan_link(now, pos, st);
            lan_status.push(st);
        }
        let msl_status = hw.msl.net().status(hw.msl.id());
        plane.msl_event(now, DriverEvent::Link(msl_status));
        plane.tick(now);
        Server {
            id,
            incarnation: cfg.incarnation,
            plane,
            msl,
            service,
            hw: hw.clone(),
            next_tick: now + TICK,
            msl_status,
            lan_status,
            stopping: None,
            buf: vec![0u8; 2048.max(MAX_FRAME_LEN)],
            deadline: Some(now),
            started: now,
        }
    }

    /// True while it serves clients (as its service was asked).
    pub fn serving(&self) -> bool {
        self.stopping.is_none() && self.service.serving()
    }

    /// True once the role machine ended the process (it is closing its MSL).
    pub fn stopping(&self) -> bool {
        self.stopping.is_some()
    }

    /// The next time [`Server::step`] has work (other than frames arriving), as of the
    /// last step.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.deadline
    }

    fn compute_deadline(&self) -> Option<Duration> {
        if let Some((_, until)) = self.stopping {
            return [Some(until), self.msl.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
        }
        [
            self.plane.next_deadline(),
            self.msl.poll_timeout(),
            Some(self.next_tick),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// True when [`Server::step`] has something to do at `now`: a timer due, a frame
    /// waiting, a link change (the daemon's threads wake for nothing else).
    pub fn has_work(&self, now: Duration) -> bool {
        if self.deadline.is_some_and(|t| t <= now) || self.hw.msl.pending() > 0 {
            return true;
        }
        if self.stopping.is_some() {
            return false;
        }
        let msl = &self.hw.msl;
        msl.net().status(msl.id()) != self.msl_status
            || self
                .hw
                .lans
                .iter()
                .zip(&self.lan_status)
                .any(|(l, st)| l.pending() > 0 || l.net().status(l.id()) != *st)
    }

    /// Runs everything due at `now`; returns how the process ended once it has.
    pub fn step(&mut self, now: Duration, trace: &mut Trace) -> Option<Exit> {
        let r = self.step_inner(now, trace);
        self.deadline = self.compute_deadline();
        r
    }

    fn step_inner(&mut self, now: Duration, trace: &mut Trace) -> Option<Exit> {
        // The MSL driver's turn: link news, frames in, timers, events up.
        let st = self.hw.msl.net().status(self.hw.msl.id());
        if st != self.msl_status && self.stopping.is_none() {
            self.msl_status = st;
            trace.push(now, self.id, &format!("msl link {}", link_text(st)));
            self.plane.msl_event(now, DriverEvent::Link(st));
        }
        while let Ok(Some(m)) = self.hw.msl.recv(&mut self.buf) {
            let len = m.len.min(self.buf.len());
            self.msl.handle_frame(now, &self.buf[..len]);
        }
        if self.msl.poll_timeout().is_some_and(|t| t <= now) {
            self.msl.handle_timeout(now);
        }
        while let Some(ev) = self.msl.poll_event() {
            if self.stopping.is_some() {
                continue;
            }
            if let Some(t) = event_text(&ev) {
                trace.push(now, self.id, &t);
            }
            self.plane.msl_event(now, DriverEvent::Msl(ev));
        }
        if let Some((exit, until)) = self.stopping {
            let flushed =
                self.msl.state() != MslState::Up || self.msl.queued_bytes(Priority::Control) == 0;
            if flushed || now >= until {
                self.msl.close(CloseReason::SHUTDOWN);
                self.msl_transmit(now);
                return Some(exit);
            }
            self.msl_transmit(now);
            return None;
        }
        // The control plane's turn.
        for pos in 0..self.hw.lans.len() {
            let l = &self.hw.lans[pos];
            let st = l.net().status(l.id());
            if st != self.lan_status[pos] {
                self.lan_status[pos] = st;
                trace.push(now, self.id, &format!("lan{pos} link {}", link_text(st)));
                self.plane.lan_link(now, pos, st);
            }
            while let Ok(Some(m)) = self.hw.lans[pos].recv(&mut self.buf) {
                let len = m.len.min(self.buf.len());
                self.plane.lan_frame(now, pos, &self.buf[..len]);
            }
        }
        self.plane.timers(now);
        if now >= self.next_tick {
            for (pos, l) in self.hw.lans.iter().enumerate() {
                let c = l.counters();
                let counters = Counters {
                    rx_packets: c.rx_delivered,
                    tx_packets: c.tx_frames,
                    rx_errors: c.rx_corrupted,
                    ..Counters::default()
                };
                self.plane.lan_counters(now, pos, counters);
            }
            self.plane.tick(now);
            self.plane.msl_drops(now, &self.msl.counters().dropped);
            self.next_tick = now + TICK;
        }
        self.drain(now, trace);
        if let Some(exit) = self.plane.exit {
            // The daemon's shutdown: the final state round, then the control queue gets
            // its chance to be acknowledged before the MSL closes.
            trace.push(now, self.id, &format!("ending: {exit:?}"));
            let mut tx = std::mem::take(&mut self.buf);
            let lans = &mut self.hw.lans;
            self.plane.transmit_final_round(now, &mut tx, |pos, f| {
                if let Some(l) = lans.get_mut(pos) {
                    let _ = l.send(f);
                }
            });
            self.buf = tx;
            self.stopping = Some((exit, now + FLUSH_LIMIT));
        }
        self.msl_transmit(now);
        None
    }

    /// An operator command at `now`.
    pub fn command(&mut self, now: Duration, c: crate::role::Command, trace: &mut Trace) {
        if self.stopping.is_none() {
            trace.push(now, self.id, &format!("operator: {c:?}"));
            self.plane.command(now, c);
            self.drain(now, trace);
            self.msl_transmit(now);
            self.deadline = self.compute_deadline();
        }
    }

    /// What the plane produced: MSL messages into the core, notices and service calls
    /// into the trace, LAN frames onto the adapters.
    fn drain(&mut self, now: Duration, trace: &mut Trace) {
        if let Some(a) = self.plane.poll_announcement() {
            self.msl.set_announcement(a);
        }
        while let Some((p, m)) = self.plane.poll_msl_message() {
            if self.msl.send(p, &m).is_err() {
                self.plane.msl_send_errors += 1;
            }
        }
        while let Some(n) = self.plane.poll_notice() {
            let mut t = format!("notice {} {}", n.severity.name(), n.text);
            if !n.evidence.is_empty() {
                t.push_str(" (");
                t.push_str(&n.evidence);
                t.push(')');
            }
            trace.push(now, self.id, &t);
        }
        for c in self.service.take_calls() {
            trace.push(now, self.id, &format!("service {c}"));
        }
        let mut tx = std::mem::take(&mut self.buf);
        let lans = &mut self.hw.lans;
        self.plane.transmit_due(now, &mut tx, |pos, f| {
            if let Some(l) = lans.get_mut(pos) {
                let _ = l.send(f);
            }
        });
        self.buf = tx;
    }

    fn msl_transmit(&mut self, now: Duration) {
        while let Some(len) = self.msl.poll_transmit(now, &mut self.buf) {
            if let Some(f) = self.buf.get(..len) {
                let _ = self.hw.msl.send(f);
            }
        }
    }
}

fn link_text(st: LinkStatus) -> &'static str {
    if st.is_usable() {
        "up"
    } else {
        "down"
    }
}

/// The MSL events worth a trace line (deliveries are the role messages' own business).
fn event_text(ev: &MslEvent) -> Option<String> {
    Some(match ev {
        MslEvent::Up { peer } => format!(
            "msl up (peer {} incarnation {})",
            peer.handshake.server_id, peer.incarnation
        ),
        MslEvent::Silent { .. } => "msl silent".into(),
        MslEvent::Recovered { .. } => "msl recovered".into(),
        MslEvent::Restarted { .. } => "msl peer restarted".into(),
        MslEvent::Refused { reason, .. } => format!("msl refused ({})", reason.0),
        MslEvent::Closed { .. } => "msl closed by peer".into(),
        MslEvent::AuthFailing { .. } => "msl auth failing".into(),
        MslEvent::Delivered { message, .. } => {
            let m = crate::role::RoleMessage::decode(message)?;
            format!("msl message {m:?}")
        }
        MslEvent::Lost { .. } => return None,
    })
}
