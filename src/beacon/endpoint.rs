//! The beacon: the transmit schedule, the receive path and the per-adapter path view.

use std::collections::VecDeque;

use core::time::Duration;

use super::replay::{ReplayWindow, Verdict};
use super::{
    role_view_changed, BeaconConfig, BeaconConfigError, BeaconCounters, BeaconEvent, LocalState,
    PathStatus, PathView, MAX_QUEUED_EVENTS,
};
use crate::wire::addr::{IpxAddr, MacAddr};
use crate::wire::error::WireError;
use crate::wire::frame::{emit_ipx_frame, IpxFrame};
use crate::wire::state::{
    ipx_header, AuthKind, StatePacket, StateRepr, ADAPTER_LEN, FIXED_LEN, MAX_ADAPTERS,
    MSL_AGE_NEVER, PEER_AGE_NEVER, SOCKET, TAG_LEN,
};

/// The longest state packet: every adapter entry and a tag.
const MAX_PAYLOAD: usize = FIXED_LEN + ADAPTER_LEN * MAX_ADAPTERS + 1 + TAG_LEN;

/// Bounds on the interval a peer advertises, before it sets our silence timer: a peer
/// claiming 0 µs must not make every path flap, nor one claiming an hour keep a dead peer
/// alive for four hours.
const PEER_INTERVAL_MIN: Duration = Duration::from_micros(50);
const PEER_INTERVAL_MAX: Duration = Duration::from_secs(10);

/// Server-state packets on the LAN: a sans-IO state machine (see the module docs).
pub struct Beacon {
    cfg: BeaconConfig,
    local: LocalState,
    /// The sequence number of the last packet sent.
    seq: u64,
    /// Per adapter (configuration order): when its next packet is due.
    next_tx: Vec<Duration>,
    /// Per adapter (configuration order): the peer as heard there.
    paths: Vec<PathView>,
    peer_id: Option<u64>,
    replay: ReplayWindow,
    /// The peer's newest accepted state.
    peer_state: Option<StateRepr>,
    /// The state last reported as [`BeaconEvent::PeerState`].
    reported: Option<StateRepr>,
    /// The interval the peer advertises (clamped), once heard.
    peer_interval: Option<Duration>,
    /// When the peer's latest packet was accepted (any path).
    last_accepted: Option<Duration>,
    events: VecDeque<BeaconEvent>,
    counters: BeaconCounters,
    created: Duration,
}

impl Beacon {
    /// A new beacon; every adapter's first packet is due at `now`.
    pub fn new(cfg: BeaconConfig, now: Duration) -> Result<Beacon, BeaconConfigError> {
        let us = cfg.interval.as_micros();
        if us == 0 || us > u32::MAX as u128 {
            return Err(BeaconConfigError::BadInterval(cfg.interval));
        }
        if cfg.silent_after == 0 {
            return Err(BeaconConfigError::ZeroSilentAfter);
        }
        for (i, a) in cfg.adapters.iter().enumerate() {
            if cfg.adapters[..i].iter().any(|b| b.index == a.index) {
                return Err(BeaconConfigError::DuplicateAdapter(a.index));
            }
        }
        let paths = cfg
            .adapters
            .iter()
            .map(|a| fresh_path(a.index, a.peer_mac))
            .collect();
        Ok(Beacon {
            next_tx: vec![now; cfg.adapters.len()],
            paths,
            peer_id: cfg.peer_id,
            local: LocalState::default(),
            seq: 0,
            replay: ReplayWindow::default(),
            peer_state: None,
            reported: None,
            peer_interval: None,
            last_accepted: None,
            events: VecDeque::new(),
            counters: BeaconCounters::default(),
            created: now,
            cfg,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &BeaconConfig {
        &self.cfg
    }

    /// What our packets say now.
    pub fn local(&self) -> &LocalState {
        &self.local
    }

    /// Sets what our next packets say (role, flags, health, ...).
    pub fn set_local(&mut self, local: LocalState) {
        self.local = local;
    }

    /// The counters.
    pub fn counters(&self) -> BeaconCounters {
        self.counters
    }

    /// The sequence number of the last packet sent (0 before the first).
    pub fn sequence(&self) -> u64 {
        self.seq
    }

    /// The peer's server id: configured, set, or the first one heard.
    pub fn peer_id(&self) -> Option<u64> {
        self.peer_id
    }

    /// Sets the peer's server id (from configuration or the MSL handshake). A different id
    /// than the current one forgets everything about the old peer, without events: every
    /// path is back to [`PathStatus::Never`].
    pub fn set_peer_id(&mut self, id: u64) {
        if self.peer_id == Some(id) {
            return;
        }
        self.peer_id = Some(id);
        self.replay.clear();
        self.peer_state = None;
        self.reported = None;
        self.peer_interval = None;
        self.last_accepted = None;
        for (p, a) in self.paths.iter_mut().zip(&self.cfg.adapters) {
            *p = fresh_path(a.index, a.peer_mac);
        }
    }

    /// Configures the peer's MAC on an adapter (`None`: learn it again from its packets).
    /// Returns false for an unknown adapter.
    pub fn set_peer_mac(&mut self, adapter: u8, mac: Option<MacAddr>) -> bool {
        let Some(i) = self.position(adapter) else {
            return false;
        };
        self.cfg.adapters[i].peer_mac = mac;
        if mac.is_some() {
            self.paths[i].peer_mac = mac;
        }
        true
    }

    /// The peer's current incarnation, once heard.
    pub fn peer_incarnation(&self) -> Option<u64> {
        self.replay.incarnation()
    }

    /// The peer's newest state, on any path.
    pub fn peer_state(&self) -> Option<&StateRepr> {
        self.peer_state.as_ref()
    }

    /// Every path, in configuration order.
    pub fn paths(&self) -> &[PathView] {
        &self.paths
    }

    /// One path by adapter index.
    pub fn path(&self, adapter: u8) -> Option<&PathView> {
        self.paths.iter().find(|p| p.adapter == adapter)
    }

    /// True when the peer is heard on at least one path.
    pub fn any_path_up(&self) -> bool {
        self.paths.iter().any(PathView::is_up)
    }

    /// `None` while a path is up; otherwise when the peer was last heard on any path, or,
    /// if it never was, when the beacon was created. `now` minus this is how long the LAN
    /// has been silent.
    pub fn all_silent_since(&self) -> Option<Duration> {
        if self.any_path_up() {
            return None;
        }
        Some(self.last_heard().unwrap_or(self.created))
    }

    /// When the peer was last heard on any path.
    pub fn last_heard(&self) -> Option<Duration> {
        self.paths.iter().filter_map(|p| p.last_heard).max()
    }

    /// How long a path may go unheard before it is silent: `silent_after` times the peer's
    /// advertised interval (clamped to 50 µs..10 s), or ours until the peer is heard.
    pub fn silence_threshold(&self) -> Duration {
        self.peer_interval().saturating_mul(self.cfg.silent_after)
    }

    /// The peer's advertised interval (clamped), or ours until it is heard.
    fn peer_interval(&self) -> Duration {
        self.peer_interval.unwrap_or(self.cfg.interval)
    }

    /// One line on every path for a notice or the log: `lan 0 up, heard 2 ms ago; lan 1
    /// silent, heard 23 ms ago; lan 2 never heard` (times at `now`, whole ms).
    pub fn evidence(&self, now: Duration) -> String {
        let mut out = String::new();
        for p in &self.paths {
            if !out.is_empty() {
                out.push_str("; ");
            }
            let status = match p.status {
                PathStatus::Never => "never heard",
                PathStatus::Up => "up",
                PathStatus::Silent => "silent",
            };
            out.push_str(&format!("lan {} {status}", p.adapter));
            if let Some(t) = p.last_heard {
                let ago = now.saturating_sub(t).as_millis();
                out.push_str(&format!(", heard {ago} ms ago"));
            }
        }
        out
    }

    /// The next event for the layer above.
    pub fn poll_event(&mut self) -> Option<BeaconEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) or
    /// [`poll_transmit`](Self::poll_transmit) wants to run next.
    pub fn poll_timeout(&self) -> Option<Duration> {
        let threshold = self.silence_threshold();
        let silences = self
            .paths
            .iter()
            .filter(|p| p.is_up())
            .filter_map(|p| p.last_heard.map(|t| t.saturating_add(threshold)));
        self.next_tx.iter().copied().chain(silences).min()
    }

    /// Runs the silence timers: a path not heard for the silence threshold becomes
    /// [`PathStatus::Silent`] ([`BeaconEvent::PathSilent`]).
    pub fn handle_timeout(&mut self, now: Duration) {
        let threshold = self.silence_threshold();
        for i in 0..self.paths.len() {
            let p = &mut self.paths[i];
            let Some(last) = p.last_heard else { continue };
            if p.status == PathStatus::Up && now >= last.saturating_add(threshold) {
                p.status = PathStatus::Silent;
                let ev = BeaconEvent::PathSilent {
                    adapter: p.adapter,
                    last_heard: last,
                    silent_for: now.saturating_sub(last),
                };
                self.counters.path_silences += 1;
                self.push(ev);
            }
        }
    }

    /// Writes the next due state packet into `buf` as a whole Ethernet frame and returns
    /// the adapter to send it on and its length; `None` when nothing is due. One packet per
    /// adapter per interval: an adapter whose turn came late sends once, and its next
    /// packet is due an interval later (no burst to catch up). `buf` should hold
    /// [`MAX_FRAME_LEN`](super::MAX_FRAME_LEN) bytes; a packet that cannot be built is
    /// counted ([`BeaconCounters::tx_errors`]) and its adapter skips the interval.
    pub fn poll_transmit(&mut self, now: Duration, buf: &mut [u8]) -> Option<(u8, usize)> {
        loop {
            let (i, due) = self
                .next_tx
                .iter()
                .copied()
                .enumerate()
                .filter(|&(_, t)| t <= now)
                .min_by_key(|&(i, t)| (t, i))?;
            let iv = self.cfg.interval;
            let next = due.saturating_add(iv);
            self.next_tx[i] = if next <= now {
                now.saturating_add(iv)
            } else {
                next
            };
            match self.emit(now, i, buf) {
                Ok(len) => {
                    self.counters.sent += 1;
                    return Some((self.cfg.adapters[i].index, len));
                }
                Err(_) => self.counters.tx_errors += 1,
            }
        }
    }

    /// Builds adapter `i`'s packet (the sequence number advances only when it is built).
    fn emit(&mut self, now: Duration, i: usize, buf: &mut [u8]) -> Result<usize, WireError> {
        let a = self.cfg.adapters[i];
        let repr = self.local_repr(now, self.seq.wrapping_add(1));
        let key = self.cfg.key;
        let mut payload = [0u8; MAX_PAYLOAD];
        let plen = repr.emit(&mut payload, key.as_ref())?;
        let peer = if self.cfg.always_broadcast {
            None
        } else {
            self.paths[i].peer_mac
        };
        let dst_mac = peer.unwrap_or(MacAddr::BROADCAST);
        let src = IpxAddr::new(a.net, a.mac, SOCKET);
        let dst = IpxAddr::new(a.net, dst_mac, SOCKET);
        let ipx = ipx_header(src, dst, plen);
        let len = emit_ipx_frame(buf, dst_mac, a.mac, a.framing, &ipx, &payload[..plen])?;
        self.seq = repr.sequence;
        Ok(len)
    }

    /// Our state packet at `now` with sequence number `seq`.
    fn local_repr(&self, now: Duration, seq: u64) -> StateRepr {
        let l = &self.local;
        let mut adapters = l.adapters.clone();
        for a in &mut adapters {
            if let Some(p) = self.path(a.index) {
                a.peer_age_ms = p.last_heard.map_or(PEER_AGE_NEVER, |t| {
                    now.saturating_sub(t)
                        .as_millis()
                        .min(u128::from(PEER_AGE_NEVER)) as u16
                });
            }
        }
        let msl_age_ms = l.msl_last_heard.map_or(MSL_AGE_NEVER, |t| {
            now.saturating_sub(t)
                .as_millis()
                .min(u128::from(MSL_AGE_NEVER - 1)) as u32
        });
        StateRepr {
            flags: l.flags,
            server_id: self.cfg.server_id,
            name: self.cfg.name,
            incarnation: self.cfg.incarnation,
            sequence: seq,
            generation: l.generation,
            role: l.role,
            mirror_state: l.mirror_state,
            priority: l.priority,
            msl_state: l.msl_state,
            msl_age_ms,
            engine_net: l.engine_net,
            // `new` checked that the interval fits.
            interval_us: self.cfg.interval.as_micros().min(u32::MAX as u128) as u32,
            working_adapters: l.working_adapters,
            total_score: l.total_score,
            adapters,
        }
    }

    /// Takes one frame received on `adapter` (any frame: what is not a state packet is
    /// counted as other traffic). Bad packets are counted by reason and change nothing.
    pub fn handle_frame(&mut self, now: Duration, adapter: u8, frame: &[u8]) {
        let Some(i) = self.position(adapter) else {
            self.counters.dropped.unknown_adapter += 1;
            return;
        };
        // A silence that ran out before this frame is reported before it.
        self.handle_timeout(now);
        let f = match IpxFrame::parse(frame) {
            Ok(f) => f,
            Err(WireError::WrongKind { .. }) => {
                self.counters.other_traffic += 1;
                return;
            }
            Err(_) => {
                self.counters.dropped.malformed += 1;
                return;
            }
        };
        if f.ipx.dst().socket != SOCKET {
            self.counters.other_traffic += 1;
            return;
        }
        let dst = f.eth.dst;
        if !dst.is_multicast() && dst != self.cfg.adapters[i].mac {
            self.counters.dropped.not_for_us += 1;
            return;
        }
        let key = self.cfg.key;
        let parsed = StatePacket::new_verified(f.ipx.payload(), key.as_ref())
            .and_then(|p| Ok((StateRepr::parse(&p)?, p.auth_kind())));
        let (repr, kind) = match parsed {
            Ok(r) => r,
            Err(e) => {
                let d = &mut self.counters.dropped;
                match e {
                    WireError::BadMagic { .. } => d.foreign += 1,
                    WireError::UnsupportedVersion { .. } => d.wrong_version += 1,
                    WireError::BadAuth { .. } => d.bad_auth += 1,
                    _ => d.malformed += 1,
                }
                return;
            }
        };
        if repr.server_id == self.cfg.server_id {
            self.counters.dropped.own += 1;
            return;
        }
        if self.peer_id.is_some_and(|p| p != repr.server_id) {
            self.counters.dropped.third_server += 1;
            return;
        }
        let mut verdict = self.replay.check(repr.incarnation, repr.sequence);
        if key.is_none() && matches!(verdict, Verdict::StaleIncarnation | Verdict::TooOld) {
            let stall = self.peer_interval().saturating_mul(2);
            let stalled = self
                .last_accepted
                .is_none_or(|t| now.saturating_sub(t) >= stall);
            let second = self
                .replay
                .second_opinion(repr.incarnation, repr.sequence, stalled);
            verdict = second.unwrap_or(verdict);
        }
        match verdict {
            Verdict::StaleIncarnation => {
                self.counters.dropped.stale_incarnation += 1;
                return;
            }
            Verdict::Replayed if self.seen_elsewhere(now, i, &repr) => return,
            Verdict::Replayed | Verdict::TooOld => {
                self.counters.dropped.replayed += 1;
                return;
            }
            _ => {}
        }
        debug_assert!(verdict.accepted());
        self.accept(now, i, f.eth.src, repr, kind, verdict);
    }

    /// A packet the window already accepted on another adapter: our adapters share a
    /// segment, and one broadcast (or flooded) packet reaches each. It is no news about the
    /// peer, but proves this path if it is newer than anything this path had; without that,
    /// whichever adapter's socket is read first would take every packet and starve the
    /// other path into silence. Counted as `cross_path`, not as a replay.
    fn seen_elsewhere(&mut self, now: Duration, i: usize, repr: &StateRepr) -> bool {
        let newer = self.paths.get(i).is_some_and(|p| newer_on_path(p, repr));
        if !newer || self.replay.incarnation() != Some(repr.incarnation) {
            return false;
        }
        self.path_heard(now, i, repr, true);
        self.counters.cross_path += 1;
        true
    }

    /// The peer was heard on path `i`: its count, longest gap (unless `count_gap` is false:
    /// a restarted peer's first packet), last heard, newest state here, and `PathUp`.
    fn path_heard(&mut self, now: Duration, i: usize, repr: &StateRepr, count_gap: bool) {
        let p = &mut self.paths[i];
        p.packets += 1;
        if let (Some(last), true) = (p.last_heard, count_gap) {
            p.longest_gap = p.longest_gap.max(now.saturating_sub(last));
        }
        p.last_heard = Some(now);
        if newer_on_path(p, repr) {
            p.state = Some(repr.clone());
        }
        let adapter = p.adapter;
        if p.status != PathStatus::Up {
            p.status = PathStatus::Up;
            self.push(BeaconEvent::PathUp { adapter });
        }
    }

    /// Records an accepted packet of the peer on adapter `i`.
    fn accept(
        &mut self,
        now: Duration,
        i: usize,
        src: MacAddr,
        repr: StateRepr,
        kind: AuthKind,
        verdict: Verdict,
    ) {
        self.peer_id = Some(repr.server_id);
        self.last_accepted = Some(now);
        self.counters.received += 1;
        let restarted_from = match verdict {
            Verdict::Restarted { old } => Some(old),
            Verdict::Reanchored { old } => {
                self.counters.reanchored += 1;
                self.replay.reset_to(repr.incarnation, repr.sequence);
                (old != repr.incarnation).then_some(old)
            }
            _ => None,
        };
        if !matches!(verdict, Verdict::Reanchored { .. }) {
            self.replay.accept(repr.incarnation, repr.sequence);
        }
        if kind == AuthKind::Blake3 && self.cfg.key.is_none() {
            self.counters.unverified_tags += 1;
        }
        if let Some(old) = restarted_from {
            self.counters.peer_restarts += 1;
            self.push(BeaconEvent::PeerRestarted {
                old,
                new: repr.incarnation,
            });
        }
        let configured = self.cfg.adapters[i].peer_mac.is_some();
        // Adapters sharing a segment hear each of the peer's: keep the peer's adapters
        // addressed one each, or one of its adapters may be addressed by none of ours and
        // its path starve. A MAC another path addresses is taken only by a path with none.
        let taken = self
            .paths
            .iter()
            .enumerate()
            .any(|(k, q)| k != i && q.peer_mac == Some(src));
        let p = &mut self.paths[i];
        if !configured && !src.is_multicast() && (!taken || p.peer_mac.is_none()) {
            p.peer_mac = Some(src);
        }
        let adapter = p.adapter;
        self.path_heard(now, i, &repr, restarted_from.is_none());
        if !verdict.newest() {
            self.counters.reordered += 1;
            return;
        }
        self.peer_interval = match repr.interval_us {
            0 => None,
            us => Some(
                Duration::from_micros(u64::from(us)).clamp(PEER_INTERVAL_MIN, PEER_INTERVAL_MAX),
            ),
        };
        let changed = self
            .reported
            .as_ref()
            .is_none_or(|old| role_view_changed(old, &repr));
        if changed {
            self.reported = Some(repr.clone());
            self.push(BeaconEvent::PeerState {
                adapter,
                state: repr.clone(),
            });
        }
        self.peer_state = Some(repr);
    }

    fn push(&mut self, ev: BeaconEvent) {
        if self.events.len() >= MAX_QUEUED_EVENTS {
            self.counters.events_dropped += 1;
        } else {
            self.events.push_back(ev);
        }
    }

    fn position(&self, adapter: u8) -> Option<usize> {
        self.cfg.adapters.iter().position(|a| a.index == adapter)
    }
}

/// `repr` is newer than the state path `p` holds (or it holds none).
fn newer_on_path(p: &PathView, repr: &StateRepr) -> bool {
    p.state
        .as_ref()
        .is_none_or(|s| (s.incarnation, s.sequence) < (repr.incarnation, repr.sequence))
}

fn fresh_path(adapter: u8, peer_mac: Option<MacAddr>) -> PathView {
    PathView {
        adapter,
        status: PathStatus::Never,
        last_heard: None,
        peer_mac,
        state: None,
        packets: 0,
        longest_gap: Duration::ZERO,
    }
}
