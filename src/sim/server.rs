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
use crate::node::volume::{ServiceOut, VolumeIn, WriteDone};
use crate::node::{Exit, Plane, ResyncStart, Service};
use crate::role::{ResyncKind, ResyncRole, RoleConfig, RoleMachine};
use crate::wire::addr::Net;
use crate::wire::auth::AuthKey;
use crate::wire::ethernet::Framing;

use super::trace::Trace;
use super::volume::{SimDisk, SimVolume, TurnOut, VolumeQueue};

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
    /// The volume's queue, when the server has one: the calls go there too, as the
    /// daemon's volume service sends them to its thread.
    pub volume: Option<VolumeQueue>,
}

/// The simulator's [`Service`]: records the calls; with a volume, passes them on to it as
/// the daemon's volume service does; without one a resync of no data completes at once,
/// as in the daemon.
#[derive(Clone, Debug, Default)]
pub struct SimService(pub Arc<Mutex<ServiceState>>);

impl SimService {
    fn with(&self, call: &'static str, f: impl FnOnce(&mut ServiceState)) {
        self.with_state(|s| {
            f(s);
            s.calls.push(call);
        });
    }

    fn with_state(&self, f: impl FnOnce(&mut ServiceState)) {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Records `call` and passes `m` to the volume; true when there is one.
    fn to_volume(&self, call: &'static str, m: VolumeIn) -> bool {
        let mut has = false;
        self.with(call, |s| {
            if let Some(q) = &s.volume {
                q.push(m);
                has = true;
            }
        });
        has
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
        self.to_volume("start_serving", VolumeIn::Serving(true));
        self.with_state(|s| s.serving = true);
    }
    fn stop_serving(&mut self) {
        self.to_volume("stop_serving", VolumeIn::Serving(false));
        self.with_state(|s| s.serving = false);
    }
    fn advertise(&mut self) {
        self.with("advertise", |s| s.advertising = true);
    }
    fn withdraw(&mut self) {
        self.with("withdraw", |s| s.advertising = false);
    }
    fn start_tracking(&mut self) {
        self.to_volume("start_tracking", VolumeIn::StartTracking);
    }
    fn stop_tracking(&mut self) {
        self.to_volume("stop_tracking", VolumeIn::StopTracking);
    }
    fn start_resync(&mut self, role: ResyncRole, kind: ResyncKind) -> ResyncStart {
        if self.to_volume("start_resync", VolumeIn::StartResync(role, kind)) {
            ResyncStart::Started
        } else {
            ResyncStart::NothingToCopy
        }
    }
}

/// A server's adapters: hardware, kept across process restarts.
#[derive(Clone, Debug)]
pub struct Hardware {
    /// The MSL adapter.
    pub msl: SimAdapter,
    /// The LAN adapters, by position.
    pub lans: Vec<SimAdapter>,
    /// The volume's and the journal's disks, when the servers mirror a volume.
    pub disk: Option<SimDisk>,
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
    /// The mirrored volume, when the hardware has disks (until the process stops).
    pub volume: Option<SimVolume>,
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
    /// thread do, in that order); refused when its volume cannot be opened.
    pub fn start(cfg: &ProcessConfig, hw: &Hardware, now: Duration) -> Result<Server, String> {
        let id = cfg.id;
        let name = format!("SFT-{id}");
        // As in the daemon: the volume first, and the role machine from its journal
        // (scenario 8: an interrupted resync target must not serve).
        let mut rcfg = RoleConfig::new(id, cfg.priority);
        let volume = match &hw.disk {
            Some(d) => {
                let seed = cfg.incarnation.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ id;
                let o = SimVolume::open(d, id, seed, now)?;
                rcfg.data_consistent = o.state.consistent;
                rcfg.history = o.state.history;
                rcfg.tracked_since = o.state.tracked_since;
                Some(o.volume)
            }
            None => None,
        };
        // As in the daemon: the first hello announces a starting server (the plane then
        // keeps the announcement current).
        let role = RoleMachine::new(rcfg.clone(), now);
        let mut mcfg = MslConfig::new(id, cfg.incarnation, hw.msl.info().mac).with_name(&name);
        mcfg.key = cfg.key;
        mcfg.priority = cfg.priority;
        mcfg.role = role.role();
        mcfg.flags = role.flags();
        mcfg.history = role.history().iter().copied().collect();
        mcfg.tracked_since = role.config().tracked_since;
        if let Some(d) = &hw.disk {
            // The handshake refuses a peer whose volume does not match.
            let g = d.geometry();
            mcfg.compat.volume_size = g.volume_size;
            mcfg.compat.region_size = g.region_size;
        }
        let msl = Msl::new(mcfg, now);

        let mut pcfg = PlaneConfig::new(id, cfg.priority, cfg.incarnation);
        pcfg.role = rcfg;
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
        service.with_state(|s| s.volume = volume.as_ref().map(|v| v.queue.clone()));
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
        let mut server = Server {
            id,
            incarnation: cfg.incarnation,
            plane,
            msl,
            service,
            volume,
            hw: hw.clone(),
            next_tick: now + TICK,
            msl_status,
            lan_status,
            stopping: None,
            buf: vec![0u8; 2048.max(MAX_FRAME_LEN)],
            deadline: Some(now),
            started: now,
        };
        server.deadline = server.compute_deadline();
        Ok(server)
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
            self.volume.as_ref().map(SimVolume::next_wake),
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
        if self.volume.as_ref().is_some_and(|v| v.has_work(now)) {
            return true;
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
            if let Some(ev) = self.volume_event(ev) {
                self.plane.msl_event(now, DriverEvent::Msl(ev));
            }
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
        self.volume_turn(now, trace);
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
            // As the daemon's volume stopper: synced and flushed, then gone.
            if let Some(mut v) = self.volume.take() {
                let out = v.stop(now);
                self.volume_out(now, out, trace);
            }
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

    /// A client write to this process's volume (none without one, or once stopping); see
    /// [`SimVolume::write`].
    pub fn client_write(
        &mut self,
        now: Duration,
        offset: u64,
        data: Vec<u8>,
    ) -> Option<tokio::sync::oneshot::Receiver<Result<WriteDone, String>>> {
        if self.stopping.is_some() {
            return None;
        }
        let rx = self.volume.as_ref()?.write(offset, data);
        self.deadline = Some(now);
        Some(rx)
    }

    /// Routes an MSL event as the daemon's event loop does: the volume's classes to the
    /// volume only, the session's ends to both; `None` when the plane does not see it.
    fn volume_event(&mut self, ev: MslEvent) -> Option<MslEvent> {
        match &self.volume {
            Some(v) => crate::node::volume::route_msl(ev, |m| v.queue.push(m)),
            None => Some(ev),
        }
    }

    /// The volume's turn, then what it told the plane, and the plane's answers (a few
    /// rounds: a generation told makes the role machine call the service again).
    fn volume_turn(&mut self, now: Duration, trace: &mut Trace) {
        for _ in 0..4 {
            let Some(v) = self.volume.as_mut() else {
                return;
            };
            if !v.has_work(now) {
                return;
            }
            let out = v.turn(now);
            if !self.volume_out(now, out, trace) {
                return;
            }
            self.drain(now, trace);
        }
    }

    /// Passes on a volume turn's output; true when it told the plane something.
    fn volume_out(&mut self, now: Duration, out: TurnOut, trace: &mut Trace) -> bool {
        for (p, m) in out.sent {
            if self.msl.send(p, &m).is_err() {
                self.plane.msl_send_errors += 1;
            }
        }
        let told = !out.told.is_empty();
        for t in out.told {
            match t {
                ServiceOut::Input(i) => {
                    trace.push(now, self.id, &format!("volume: {i:?}"));
                    self.plane.service_input(now, i);
                }
                ServiceOut::Notice(sev, text, ev) => self.plane.service_report(now, sev, text, ev),
            }
        }
        told
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
        MslEvent::Delivered {
            priority: Priority::Control,
            message,
        } => {
            let m = crate::role::RoleMessage::decode(message)?;
            format!("msl message {m:?}")
        }
        MslEvent::Delivered { .. } | MslEvent::Lost { .. } => return None,
    })
}
