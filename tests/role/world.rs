//! A deterministic two-server world on virtual time (1 ms steps) around two `RoleMachine`s:
//! an MSL session model, LAN paths carrying state packets every 5 ms, deaths and restarts,
//! a journal (generations, consistency) and a resync model, peer messages delivered after
//! 1 ms. After every input it checks the one-servicer invariant.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::Duration;

use super::node::Node;
use sft3::msl::HandshakeRepr;
use sft3::role::{
    Action, HaltReason, Input, LanPath, LanView, OwnHealth, PeerStatus, ResyncProgress, ResyncRole,
    RoleConfig, RoleMachine, RoleState,
};
use sft3::wire::state::{MirrorState, Role};

/// One millisecond.
pub const MS: Duration = Duration::from_millis(1);
/// LAN paths between the two servers (one per adapter pair).
pub const PATHS: usize = 2;
/// State packet interval.
const STATE_INTERVAL: u64 = 5;
/// A path is silent after this long without a state packet (4 intervals).
const LAN_SILENT: Duration = Duration::from_millis(20);
/// The MSL is silent after this long without a frame.
const MSL_SILENT: Duration = Duration::from_millis(20);
/// After a LAN path comes back, two primaries may meet for this long (a healed partition).
pub const HEAL_GRACE: Duration = Duration::from_millis(40);
/// Resync durations (image, then disk), counted while the MSL works.
const IMAGE_MS: u32 = 10;
const DISK_MS: u32 = 40;

/// The world.
pub struct World {
    pub now: Duration,
    pub nodes: [Node; 2],
    pub msl_cut: bool,
    pub lan_cut: [bool; PATHS],
    lan_uncut_since: [Duration; PATHS],
    /// LAN packets in flight: (arrival, receiver, path, content).
    lan_flight: VecDeque<(Duration, usize, usize, PeerStatus)>,
    next_generation: u64,
    next_incarnation: u64,
    pub violations: Vec<String>,
    /// One-way delay of LAN packets and MSL messages (1 ms unless a test changes it).
    pub delay: Duration,
}

impl World {
    /// Two servers, ids 1 and 2, priorities as given; neither started.
    pub fn new(prio_a: u8, prio_b: u8) -> World {
        World {
            now: Duration::ZERO,
            nodes: [Node::new(1, prio_a), Node::new(2, prio_b)],
            msl_cut: false,
            lan_cut: [false; PATHS],
            lan_uncut_since: [Duration::ZERO; PATHS],
            lan_flight: VecDeque::new(),
            next_generation: 100,
            next_incarnation: 1,
            violations: Vec::new(),
            delay: MS,
        }
    }

    /// Starts (or restarts) a server process now.
    pub fn start(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        let mut cfg = RoleConfig::new(n.id, n.priority);
        cfg.history = n.history.clone();
        cfg.tracked_since = n.tracked_since;
        cfg.data_consistent = n.consistent;
        n.machine = Some(RoleMachine::new(cfg, self.now));
        n.incarnation = self.next_incarnation;
        self.next_incarnation += 1;
        n.serving = false;
        n.restart_at = None;
        n.stalled_until = None;
        n.shut_down = None;
        n.session = None;
        n.msl_silent = false;
        n.lan_last = [None; PATHS];
        n.lan_up = [false; PATHS];
        n.resync = None;
        n.inbox.clear();
        n.sent_health = None;
        n.sent_verdict = None;
    }

    /// Kills a server process (kill -9); `restart_after` schedules a restart.
    pub fn kill(&mut self, i: usize, restart_after: Option<Duration>) {
        let n = &mut self.nodes[i];
        n.machine = None;
        n.serving = false;
        n.resync = None;
        n.restart_at = restart_after.map(|d| self.now + d);
        let peer = &mut self.nodes[1 - i];
        peer.resync = None;
    }

    /// Freezes a server process for a while (starved by the scheduler, a long pause).
    pub fn stall(&mut self, i: usize, d: Duration) {
        if self.nodes[i].machine.is_some() {
            self.nodes[i].stalled_until = Some(self.now + d);
        }
    }

    /// Cuts or repairs a LAN path.
    pub fn set_lan_cut(&mut self, p: usize, cut: bool) {
        if self.lan_cut[p] && !cut {
            self.lan_uncut_since[p] = self.now;
        }
        self.lan_cut[p] = cut;
    }

    /// Feeds an input to a live server and applies what it does.
    pub fn feed(&mut self, i: usize, input: Input) {
        let mut queue = VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            let now = self.now;
            if self.nodes[i].stalled_until.is_some() {
                return;
            }
            let Some(m) = self.nodes[i].machine.as_mut() else {
                return;
            };
            m.handle(now, input);
            self.drain(i, &mut queue);
        }
    }

    fn timeout(&mut self, i: usize, force: bool) {
        let now = self.now;
        if self.nodes[i].stalled_until.is_some() {
            return;
        }
        let Some(m) = self.nodes[i].machine.as_mut() else {
            return;
        };
        if force || m.poll_timeout().is_some_and(|t| t <= now) {
            m.handle_timeout(now);
            let mut queue = VecDeque::new();
            self.drain(i, &mut queue);
            while let Some(input) = queue.pop_front() {
                self.feed(i, input);
            }
        }
    }

    /// Applies a server's actions; journal news goes back as inputs.
    fn drain(&mut self, i: usize, queue: &mut VecDeque<Input>) {
        loop {
            let now = self.now;
            let Some(a) = self.nodes[i].machine.as_mut().and_then(|m| m.poll_action()) else {
                break;
            };
            let peer_inc = self.nodes[1 - i].incarnation;
            // Never start serving while a serving peer is heard on a LAN path.
            if a == Action::StartServing
                && self.nodes[1 - i].serving
                && self.nodes[i].lan_up.iter().any(|&u| u)
            {
                self.violations.push(format!(
                    "{:?}: server {} started serving while hearing a serving peer",
                    now, self.nodes[i].id
                ));
            }
            let mut clear_peer_resync = false;
            let n = &mut self.nodes[i];
            n.actions.push((now, a.clone()));
            match a {
                Action::StartServing => n.serving = true,
                Action::StopServing => n.serving = false,
                Action::Advertise | Action::Withdraw => {}
                Action::StartTracking => {
                    let old = n.history.first().copied().unwrap_or(0);
                    n.history.truncate(7);
                    n.history.insert(0, self.next_generation);
                    self.next_generation += 1;
                    n.tracked_since = old;
                    queue.push_back(generations(n));
                }
                Action::StopTracking => {
                    n.tracked_since = 0;
                    queue.push_back(generations(n));
                }
                Action::StartResync { role, kind } => {
                    if role == ResyncRole::Target {
                        n.consistent = false;
                    }
                    n.resync = Some((role, kind, 0));
                    if role == ResyncRole::Source {
                        // A new session: the target end starts when the offer arrives.
                        clear_peer_resync = true;
                    }
                }
                Action::ShutDown { reason } => {
                    n.shut_down = Some(reason);
                    n.machine = None;
                    n.serving = false;
                    n.resync = None;
                    clear_peer_resync = true;
                }
                Action::RestartAsSecondary => {
                    n.machine = None;
                    n.serving = false;
                    n.resync = None;
                    clear_peer_resync = true;
                    n.restarts_as_secondary += 1;
                    n.restart_at = Some(now + 10 * MS);
                }
                // The MSL is reliable within a session: a message waits out a cut or a
                // silence, and is lost only if the receiving process ends.
                Action::SendToPeer(m) => {
                    self.nodes[1 - i]
                        .inbox
                        .push_back((now + self.delay, peer_inc, m));
                }
                Action::Notify(notice) => n.notices.push(notice),
            }
            if clear_peer_resync {
                self.nodes[1 - i].resync = None;
            }
        }
        // After the whole decision: its actions are applied together (withdraw, stop).
        self.check();
    }

    /// One servicer: two serving servers only just after a LAN path healed.
    fn check(&mut self) {
        // A frozen process answers nobody until it runs again.
        let serves = |n: &Node| n.serving && n.stalled_until.is_none();
        if !(serves(&self.nodes[0]) && serves(&self.nodes[1])) {
            return;
        }
        // A path works once it and both ends have been up for the grace (two primaries
        // from a partition need a moment to hear each other).
        let both_running = self.nodes[0].running_since.max(self.nodes[1].running_since);
        let working = (0..PATHS).any(|p| {
            !self.lan_cut[p] && self.now >= self.lan_uncut_since[p].max(both_running) + HEAL_GRACE
        });
        if working {
            self.violations.push(format!(
                "{:?}: both servers serve while a LAN path works",
                self.now
            ));
        }
    }

    fn msl_link_ok(&self) -> bool {
        !self.msl_cut && self.nodes.iter().all(Node::alive)
    }

    fn handshake(&self, i: usize) -> Option<HandshakeRepr> {
        let n = &self.nodes[i];
        let m = n.machine.as_ref()?;
        Some(HandshakeRepr {
            server_id: n.id,
            name: [0; 32],
            min_version: 1,
            max_version: 1,
            role: m.role(),
            flags: m.flags(),
            priority: n.priority,
            max_frame: 1500,
            volume_size: 0,
            region_size: 0,
            engine_version: 0,
            tracked_since: n.tracked_since,
            history: n.history.clone(),
            max_message: None,
        })
    }

    fn status(&self, i: usize) -> Option<PeerStatus> {
        let n = &self.nodes[i];
        if !n.alive() {
            return None;
        }
        let m = n.machine.as_ref()?;
        if m.stall_asking() {
            return None; // as the daemon's plane: no state packets while asking
        }
        Some(PeerStatus {
            server_id: n.id,
            incarnation: n.incarnation,
            role: m.role(),
            flags: m.flags(),
            generation: n.history.first().copied().unwrap_or(0),
            priority: n.priority,
        })
    }

    /// Advances one millisecond.
    pub fn step(&mut self) {
        self.now += MS;
        let now = self.now;
        for i in 0..2 {
            if self.nodes[i].restart_at.is_some_and(|t| t <= now) {
                self.start(i);
            }
            // A process that runs again first runs its timers (the driver's loop).
            if self.nodes[i].stalled_until.is_some_and(|t| t <= now) {
                self.nodes[i].stalled_until = None;
                self.nodes[i].running_since = now;
                self.timeout(i, true);
            }
        }
        self.step_msl();
        for i in 0..2 {
            while self.nodes[i].alive()
                && !self.msl_cut
                && self.nodes[1 - i].stalled_until.is_none()
                && self.nodes[i].inbox.front().is_some_and(|m| m.0 <= now)
            {
                let Some((_, inc, msg)) = self.nodes[i].inbox.pop_front() else {
                    break;
                };
                // Frames already on the wire arrive even if their sender ended since.
                if inc == self.nodes[i].incarnation {
                    self.feed(i, Input::PeerMessage(msg));
                }
            }
        }
        self.step_lan();
        for i in 0..2 {
            self.step_health(i);
        }
        self.step_resync();
        for i in 0..2 {
            self.timeout(i, false);
        }
    }

    /// Runs for `ms` milliseconds.
    pub fn run(&mut self, ms: u64) {
        for _ in 0..ms {
            self.step();
        }
    }

    fn step_msl(&mut self) {
        let link = self.msl_link_ok();
        let hs = [self.handshake(0), self.handshake(1)];
        for i in 0..2 {
            if !self.nodes[i].alive() {
                continue;
            }
            let peer_inc = self.nodes[1 - i].incarnation;
            let mut inputs = Vec::new();
            let n = &mut self.nodes[i];
            if link {
                n.last_rx = self.now;
                match n.session {
                    Some(s) if s == peer_inc => {
                        if n.msl_silent {
                            n.msl_silent = false;
                            inputs.push(Input::MslRecovered);
                        }
                    }
                    other => {
                        if other.is_some() {
                            inputs.push(Input::MslRestarted);
                        }
                        if let Some(h) = hs[1 - i].clone() {
                            n.session = Some(peer_inc);
                            n.msl_silent = false;
                            inputs.push(Input::MslUp {
                                incarnation: peer_inc,
                                handshake: h,
                            });
                        }
                    }
                }
            } else if n.session.is_some() && !n.msl_silent && self.now >= n.last_rx + MSL_SILENT {
                n.msl_silent = true;
                inputs.push(Input::MslSilent { since: n.last_rx });
            }
            for input in inputs {
                self.feed(i, input);
            }
        }
    }

    fn step_lan(&mut self) {
        let now = self.now;
        if (now.as_millis() as u64).is_multiple_of(STATE_INTERVAL) {
            for i in 0..2 {
                if let Some(st) = self.status(i) {
                    for p in 0..PATHS {
                        if !self.lan_cut[p] {
                            self.lan_flight.push_back((now + self.delay, 1 - i, p, st));
                        }
                    }
                }
            }
        }
        let mut changed = [false; 2];
        while self.lan_flight.front().is_some_and(|f| f.0 <= now) {
            let Some((_, to, p, st)) = self.lan_flight.pop_front() else {
                break;
            };
            if !self.nodes[to].alive() || self.lan_cut[p] {
                continue;
            }
            self.nodes[to].lan_last[p] = Some(now);
            changed[to] = true;
            self.feed(to, Input::PeerState(st));
        }
        for (i, changed) in changed.into_iter().enumerate() {
            let n = &mut self.nodes[i];
            if !n.alive() {
                continue;
            }
            let mut view = LanView::default();
            let mut flip = false;
            for p in 0..PATHS {
                let age = n.lan_last[p].map(|t| now - t);
                let up = age.is_some_and(|a| a < LAN_SILENT);
                flip |= up != n.lan_up[p];
                n.lan_up[p] = up;
                view.paths.push(LanPath {
                    index: p as u8,
                    up,
                    age,
                });
            }
            if changed || flip {
                self.feed(i, Input::Lan(view));
            }
        }
    }

    fn step_health(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        if !n.alive() {
            return;
        }
        let mut inputs = Vec::new();
        if n.sent_health != Some(n.hears_network) {
            n.sent_health = Some(n.hears_network);
            inputs.push(Input::OwnHealth(OwnHealth {
                hears_network: n.hears_network,
                working_adapters: if n.hears_network { 2 } else { 0 },
                evidence: String::new(),
            }));
        }
        if n.sent_verdict != Some(n.verdict) {
            n.sent_verdict = Some(n.verdict);
            inputs.push(Input::PeerMoreFunctional {
                more: n.verdict,
                evidence: "own adapters 1/2 working (score 500), peer 2/2 (score 2000)".into(),
            });
        }
        for input in inputs {
            self.feed(i, input);
        }
    }

    /// Both ends started: progress while the MSL works; image, then disk.
    fn step_resync(&mut self) {
        let (Some(a), Some(b)) = (self.nodes[0].resync, self.nodes[1].resync) else {
            return;
        };
        // A machine that gave up on the resync (lost its peer) ends the session.
        let resyncing = |n: &Node| {
            n.machine.as_ref().is_some_and(|m| {
                matches!(
                    m.mirror_state(),
                    MirrorState::ImageTransfer | MirrorState::DiskResync
                )
            })
        };
        if !resyncing(&self.nodes[0]) || !resyncing(&self.nodes[1]) {
            if self.nodes.iter().all(|n| n.stalled_until.is_none()) {
                self.nodes[0].resync = None;
                self.nodes[1].resync = None;
            }
            return;
        }
        if a.0 == b.0 || !self.msl_link_ok() {
            return;
        }
        let done = a.2 + 1;
        self.nodes[0].resync = Some((a.0, a.1, done));
        self.nodes[1].resync = Some((b.0, b.1, done));
        if done == IMAGE_MS {
            for i in 0..2 {
                self.feed(i, Input::Resync(ResyncProgress::ImageDone));
            }
        }
        if done == IMAGE_MS + DISK_MS {
            let (src, dst) = if a.0 == ResyncRole::Source {
                (0, 1)
            } else {
                (1, 0)
            };
            self.nodes[dst].history = self.nodes[src].history.clone();
            self.nodes[dst].tracked_since = 0;
            self.nodes[dst].consistent = true;
            self.nodes[0].resync = None;
            self.nodes[1].resync = None;
            let g = generations(&self.nodes[dst]);
            self.feed(dst, g);
            for i in [src, dst] {
                self.feed(i, Input::Resync(ResyncProgress::DiskDone));
            }
        }
    }

    /// Both servers' states (for assertions).
    pub fn states(&self) -> [Option<RoleState>; 2] {
        [self.nodes[0].state(), self.nodes[1].state()]
    }

    /// A readable trace of every notice, for failing tests.
    pub fn trace(&self) -> String {
        let mut lines: Vec<(Duration, String)> = Vec::new();
        for n in &self.nodes {
            for x in &n.notices {
                lines.push((x.at, format!("server {}: {x}", n.id)));
            }
            for (t, a) in &n.actions {
                if !matches!(a, Action::Notify(_)) {
                    lines.push((*t, format!("server {}: {a:?}", n.id)));
                }
            }
        }
        lines.sort_by_key(|l| l.0);
        lines.into_iter().map(|l| l.1 + "\n").collect()
    }

    /// Halted for a divergence (either server).
    pub fn halted_diverged(&self, i: usize) -> bool {
        self.nodes[i].state() == Some(RoleState::Halted(HaltReason::Diverged))
    }

    /// The role a server announces.
    pub fn role(&self, i: usize) -> Option<Role> {
        self.nodes[i].machine.as_ref().map(|m| m.role())
    }
}

fn generations(n: &Node) -> Input {
    Input::Generations {
        history: n.history.clone(),
        tracked_since: n.tracked_since,
    }
}
