//! The endpoint: session (handshake, restarts, refusals), liveness, and the prioritised
//! transmit path over the four streams.

use std::collections::VecDeque;

use core::time::Duration;

mod session;
mod transmit;

pub use transmit::TxParts;

use super::replay::ReplayWindow;
use super::rtt::Rtt;
use super::stream::{RecvStream, RxOutcome, SendStream};
use super::{
    Announcement, CloseReason, MslConfig, MslCounters, MslEvent, MslState, PeerInfo, Priority,
    SendError,
};
use crate::wire::msl::{flag, AckRepr, FrameType, MslLinkFrame, MslRepr};
use crate::wire::MacAddr;

const CLASSES: [Priority; 4] = [
    Priority::Control,
    Priority::Event,
    Priority::Bulk,
    Priority::Background,
];

/// A reset waiting to go out.
struct PendingReset {
    /// A close (orderly end) rather than a reset.
    close: bool,
    reason: CloseReason,
    to_incarnation: u64,
    text: String,
}

/// One end of the Mirrored Server Link: a sans-IO state machine (see the module docs).
pub struct Msl {
    cfg: MslConfig,
    state: MslState,
    peer: Option<PeerInfo>,
    /// The peer has shown it knows our incarnation: with `peer`, the session is up.
    peer_knows_us: bool,
    /// Data was allowed in the current session (so a restart loses what was unacked).
    established: bool,
    peer_mac: MacAddr,
    send: [SendStream; 4],
    recv: [RecvStream; 4],
    /// Per class, bytes delivered and not yet released (with `rx_budget`). Kept across
    /// sessions: they belong to the layer above.
    held: [usize; 4],
    events: VecDeque<MslEvent>,
    counters: MslCounters,
    /// When the last frame proving the peer alive arrived (see `on_session_frame`).
    last_rx: Duration,
    /// When the last ack or heartbeat went out: one is sent at least every heartbeat
    /// interval, data or not, as only those prove this side alive to a keyed peer.
    last_ctl_tx: Duration,
    /// Ack and heartbeat frames sent over this incarnation: their control counter.
    ctl_sent: u64,
    /// The peer's control counters seen.
    ctl_seen: ReplayWindow,
    next_hello: Duration,
    hello_ack_due: bool,
    heartbeat_due: bool,
    reset_due: Option<PendingReset>,
    last_reset: Option<Duration>,
    auth_reported: bool,
    /// Hellos of another frame version since the last valid frame.
    foreign_hellos: u32,
}

impl Msl {
    /// A new endpoint, connecting: its first hello is due at `now`.
    pub fn new(cfg: MslConfig, now: Duration) -> Msl {
        let rtt = Rtt::new(cfg.rto_initial, cfg.rto_min, cfg.rto_max, cfg.ack_delay);
        let seq = cfg.initial_seq;
        let send = core::array::from_fn(|_| {
            let mut s = SendStream::new(rtt.clone(), cfg.window, seq);
            s.set_max_in_flight_bytes(cfg.max_in_flight_bytes);
            s
        });
        let recv = core::array::from_fn(|_| {
            RecvStream::new(cfg.window, cfg.ack_every, cfg.max_message, seq)
        });
        Msl {
            peer_mac: cfg.peer_mac.unwrap_or(MacAddr::BROADCAST),
            state: MslState::Connecting,
            peer: None,
            peer_knows_us: false,
            established: false,
            send,
            recv,
            held: [0; 4],
            events: VecDeque::new(),
            counters: MslCounters::default(),
            last_rx: now,
            last_ctl_tx: now,
            ctl_sent: 0,
            ctl_seen: ReplayWindow::default(),
            next_hello: now,
            hello_ack_due: false,
            heartbeat_due: false,
            reset_due: None,
            last_reset: None,
            auth_reported: false,
            foreign_hellos: 0,
            cfg,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &MslConfig {
        &self.cfg
    }

    /// What the handshake announces about this server, as configured or last set.
    pub fn announcement(&self) -> Announcement {
        let c = &self.cfg;
        Announcement {
            role: c.role,
            flags: c.flags,
            priority: c.priority,
            tracked_since: c.tracked_since,
            history: c.history.clone(),
        }
    }

    /// Announce `a` in every hello from now on. A session already up is not renegotiated
    /// (role changes travel as messages then); the next one, after a break or a restart of
    /// either side, carries these values.
    pub fn set_announcement(&mut self, a: Announcement) {
        let c = &mut self.cfg;
        c.role = a.role;
        c.flags = a.flags;
        c.priority = a.priority;
        c.tracked_since = a.tracked_since;
        c.history = a.history;
    }

    /// The session's state.
    pub fn state(&self) -> MslState {
        self.state
    }

    /// The peer of the current (or coming) session, once its hello was accepted.
    pub fn peer(&self) -> Option<&PeerInfo> {
        self.peer.as_ref()
    }

    /// The counters.
    pub fn counters(&self) -> MslCounters {
        let mut c = self.counters;
        c.bad_fragments = self.recv.iter().map(|r| r.bad_fragments).sum();
        c
    }

    /// The smoothed round-trip time of a class's stream, once measured.
    pub fn srtt(&self, p: Priority) -> Option<Duration> {
        self.send[p.bits() as usize].rtt.srtt()
    }

    /// Data frames of a class in flight (sent, not cumulatively acked).
    pub fn in_flight(&self, p: Priority) -> usize {
        self.send[p.bits() as usize].in_flight()
    }

    /// Bytes of a class's messages not yet fully acknowledged.
    pub fn queued_bytes(&self, p: Priority) -> usize {
        self.send[p.bits() as usize].queued_bytes()
    }

    /// Bytes of a class's delivered messages not yet [`release`](Self::release)d; always 0
    /// without [`MslConfig::rx_budget`].
    pub fn held_bytes(&self, p: Priority) -> usize {
        self.held[p.bits() as usize]
    }

    /// The layer above consumed `bytes` of a class's delivered messages (only meaningful
    /// with [`MslConfig::rx_budget`]; more than is held counts as all of it). When this
    /// brings the class below its budget, its window reopens and a window update is due
    /// at once: call [`poll_transmit`](Self::poll_transmit) after it.
    ///
    /// Held bytes belong to the consumer, not to the session: they survive a session's
    /// end, and only `release` lowers them, so releasing messages of an earlier session
    /// is correct and needed.
    pub fn release(&mut self, priority: Priority, bytes: usize) {
        let c = priority.bits() as usize;
        self.held[c] = self.held[c].saturating_sub(bytes);
        self.update_blocked(c);
    }

    /// Closes or opens a class's receive window after its held bytes changed.
    fn update_blocked(&mut self, c: usize) {
        let blocked = self.cfg.rx_budget.is_some_and(|b| self.held[c] >= b.max(1));
        self.recv[c].set_blocked(blocked);
    }

    /// The largest message the peer of the current (or coming) session accepts, when its
    /// handshake said.
    fn peer_max_message(&self) -> Option<u64> {
        self.peer.as_ref().and_then(|p| p.handshake.max_message)
    }

    /// Queues a message (copied). It goes out, fragmented to the MTU, once the session is
    /// up; messages queued before the first session wait for it.
    pub fn send(&mut self, priority: Priority, message: &[u8]) -> Result<(), SendError> {
        self.send_owned(priority, message.into())
    }

    /// Queues a message without copying it.
    ///
    /// A message longer than [`MslConfig::max_message`], or than the peer's `max_message`
    /// once its handshake is known, is refused with [`SendError::TooLarge`]. A message
    /// queued while the peer was unknown and longer than the limit the peer then announces
    /// comes back as [`MslEvent::Lost`] when the session comes up (before anything is
    /// sent). A peer that does not announce its limit (an older build) ends the session
    /// with a reset when a message is over it, and the sender gets every unacked message
    /// back as [`MslEvent::Lost`].
    pub fn send_owned(&mut self, priority: Priority, message: Box<[u8]>) -> Result<(), SendError> {
        if message.len() > u32::MAX as usize
            || message.len() > self.cfg.max_message
            || self
                .peer_max_message()
                .is_some_and(|m| message.len() as u64 > m)
        {
            return Err(SendError::TooLarge);
        }
        if self.state == MslState::Closed {
            return Err(SendError::Closed);
        }
        let s = &mut self.send[priority.bits() as usize];
        if s.queued_bytes() > 0 && s.queued_bytes() + message.len() > self.cfg.max_queued {
            return Err(SendError::QueueFull);
        }
        s.push(message);
        self.counters.messages_queued += 1;
        Ok(())
    }

    /// Ends the session for good: a close frame with `reason` goes to the peer (if one is
    /// known), unacked messages come back as [`MslEvent::Lost`], and the endpoint then
    /// ignores every frame. A new [`Msl`] starts again.
    pub fn close(&mut self, reason: CloseReason) {
        if let Some(p) = &self.peer {
            self.reset_due = Some(PendingReset {
                close: true,
                reason,
                to_incarnation: p.incarnation,
                text: String::new(),
            });
        } else {
            self.reset_due = None;
        }
        self.end_session();
        self.state = MslState::Closed;
    }

    /// The next event for the layer above.
    pub fn poll_event(&mut self) -> Option<MslEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) (or `poll_transmit`) wants to run next;
    /// call after `poll_transmit` returned `None`.
    pub fn poll_timeout(&self) -> Option<Duration> {
        let iv = self.cfg.heartbeat_interval;
        let mut t: Option<Duration> = None;
        let mut at = |d: Duration| t = Some(t.map_or(d, |x| x.min(d)));
        match self.state {
            MslState::Connecting => at(self.next_hello),
            MslState::Refused(_) | MslState::Closed => {}
            MslState::Up | MslState::Silent => {
                at(self.last_ctl_tx + iv);
                if self.state == MslState::Up {
                    at(self.silence_deadline());
                }
                for s in &self.send {
                    if let Some(d) = s.rto_at() {
                        at(d);
                    }
                }
            }
        }
        // Acks go out only in a session (see `poll_transmit`): a pending one outside it
        // must not make the caller spin.
        if self.is_established() {
            for r in &self.recv {
                if let Some(d) = r.ack_at() {
                    at(d);
                }
            }
        }
        t
    }

    fn silence_deadline(&self) -> Duration {
        self.last_rx + self.cfg.heartbeat_interval * self.cfg.silent_after_missed.max(1)
    }

    /// Runs the timers due at `now`: silence, retransmission timeouts. (Hellos, heartbeats
    /// and delayed acks are sent by `poll_transmit` when due.)
    pub fn handle_timeout(&mut self, now: Duration) {
        if self.state == MslState::Up && now >= self.silence_deadline() {
            self.state = MslState::Silent;
            let iv = self.cfg.heartbeat_interval.as_nanos().max(1);
            let missed = (now.saturating_sub(self.last_rx).as_nanos() / iv) as u32;
            self.events.push_back(MslEvent::Silent {
                since: self.last_rx,
                missed,
            });
        }
        if self.is_established() {
            for s in &mut self.send {
                if s.on_timer(now).is_some() {
                    self.counters.timeouts += 1;
                }
            }
        }
    }

    fn is_established(&self) -> bool {
        matches!(self.state, MslState::Up | MslState::Silent)
    }

    /// Takes one received Ethernet frame. Anything invalid is counted and dropped.
    pub fn handle_frame(&mut self, now: Duration, frame: &[u8]) {
        if self.state == MslState::Closed {
            self.counters.dropped.closed += 1;
            return;
        }
        let key = self.cfg.key;
        let lf = match MslLinkFrame::parse(frame, key.as_ref()) {
            Ok(f) => f,
            Err(e) => return self.on_bad_frame(now, frame, &e),
        };
        if lf.eth.dst != self.cfg.local_mac && !lf.eth.dst.is_multicast() {
            self.counters.dropped.not_for_us += 1;
            return;
        }
        let Ok(repr) = MslRepr::parse(&lf.msl) else {
            self.counters.dropped.malformed += 1;
            return;
        };
        let payload = lf.msl.payload();
        match repr.frame_type {
            FrameType::Hello | FrameType::HelloAck => {
                self.on_handshake(now, &repr, payload, lf.eth.src)
            }
            FrameType::Reset | FrameType::Close => self.on_reset(&repr, payload),
            FrameType::Data | FrameType::Ack | FrameType::Heartbeat => {
                self.on_session_frame(now, &repr, payload, lf.eth.src)
            }
        }
    }

    fn on_session_frame(&mut self, now: Duration, repr: &MslRepr, payload: &[u8], src: MacAddr) {
        let in_session = self.peer.as_ref().is_some_and(|p| {
            p.incarnation == repr.sender_incarnation
                && repr.receiver_incarnation == self.cfg.incarnation
        });
        if !in_session || matches!(self.state, MslState::Refused(_)) {
            self.counters.dropped.stale_incarnation += 1;
            if repr.receiver_incarnation == self.cfg.incarnation && repr.sender_incarnation != 0 {
                // The sender believes in a session with us that we do not have: tell it,
                // so it ends the session and says hello again.
                let text = String::from("no session with this incarnation");
                self.queue_reset(
                    now,
                    CloseReason::UNKNOWN_SESSION,
                    repr.sender_incarnation,
                    text,
                );
            }
            return;
        }
        // Parse everything before changing anything.
        let ack = match repr.frame_type {
            FrameType::Ack => match AckRepr::parse_bytes(payload) {
                Ok(a) => Some(a),
                Err(_) => {
                    self.counters.dropped.bad_ack += 1;
                    return;
                }
            },
            _ => None,
        };
        let c = repr.priority.bits() as usize;
        // Only a frame the peer never sent before proves it alive now: a replayed one (it
        // passes the tag and the incarnations) must not hold off silence, nor move acks.
        let fresh = match repr.frame_type {
            FrameType::Data => self.recv[c].is_new(repr.seq),
            _ => {
                let n = repr.control_counter();
                if !self.control_fresh(repr.sender_incarnation, n) {
                    self.counters.dropped.replayed += 1;
                    return;
                }
                true
            }
        };
        self.counters.frames_received += 1;
        if fresh {
            self.on_fresh_frame(now, repr, ack.as_ref(), src, c);
        }
        if repr.frame_type == FrameType::Data {
            self.on_data_frame(now, repr, payload, c);
        }
    }

    /// What a fresh session frame proves: the peer lives (recovery), knows us, and what it
    /// acknowledges.
    fn on_fresh_frame(
        &mut self,
        now: Duration,
        repr: &MslRepr,
        ack: Option<&AckRepr>,
        src: MacAddr,
        c: usize,
    ) {
        self.auth_reported = false;
        self.foreign_hellos = 0;
        if self.cfg.peer_mac.is_none() {
            // The MAC is outside the integrity check: follow the latest valid frame, so
            // one learnt from a frame damaged in the link header does not stick.
            self.peer_mac = src;
        }
        if self.state == MslState::Silent {
            self.state = MslState::Up;
            self.events.push_back(MslEvent::Recovered {
                silent_for: now.saturating_sub(self.last_rx),
            });
            for s in &mut self.send {
                s.kick(now);
            }
        }
        let gap = now.saturating_sub(self.last_rx);
        self.counters.longest_rx_gap = self.counters.longest_rx_gap.max(gap);
        self.last_rx = now;
        self.confirm();
        if repr.flags & flag::ACK != 0 {
            let blocks = ack.map_or(&[][..], |a| &a.blocks[..]);
            let out = self.send[c].on_ack(now, repr.ack, blocks, repr.window);
            if out.invalid {
                self.counters.dropped.bad_ack += 1;
            }
            self.counters.fast_lost += u64::from(out.marked_lost);
        }
    }

    /// A data frame of the session, fresh or not (a duplicate is acked again at once, so a
    /// sender whose acks were lost learns it).
    fn on_data_frame(&mut self, now: Duration, repr: &MslRepr, payload: &[u8], c: usize) {
        {
            let events = &mut self.events;
            let delivered = &mut self.counters.messages_delivered;
            let held = &mut self.held[c];
            let budget = self.cfg.rx_budget.is_some();
            let priority = repr.priority;
            let out = self.recv[c].on_data(
                now,
                self.cfg.ack_delay,
                repr.seq,
                (repr.message_id, repr.fragment_offset, repr.message_len),
                payload,
                repr.flags & flag::ACK_NOW != 0,
                &mut |message| {
                    *delivered += 1;
                    if budget {
                        *held = held.saturating_add(message.len());
                    }
                    events.push_back(MslEvent::Delivered { priority, message });
                },
            );
            self.update_blocked(c);
            if let Some(len) = self.recv[c].take_oversize() {
                // Acking it would retire it at the sender with no trace: end the session
                // instead, so the sender hands back what was not acked as lost.
                let to = repr.sender_incarnation;
                let max = self.cfg.max_message;
                self.end_session();
                self.reset_due = Some(PendingReset {
                    close: false,
                    reason: CloseReason::UNSPECIFIED,
                    to_incarnation: to,
                    text: format!("message of {len} bytes over this node's max_message {max}"),
                });
                return;
            }
            match out {
                RxOutcome::Accepted => {}
                RxOutcome::Duplicate => self.counters.dropped.duplicate += 1,
                RxOutcome::OutOfWindow => self.counters.dropped.out_of_window += 1,
                RxOutcome::Blocked => self.counters.dropped.rx_blocked += 1,
            }
        }
    }
}
