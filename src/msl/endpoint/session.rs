//! The session half of the endpoint: handshakes, refusals, resets, restarts, and frames
//! that fail the wire checks.

use core::time::Duration;

use super::{Msl, PendingReset, CLASSES};
use crate::msl::{CloseReason, MslEvent, MslState, PeerInfo};
use crate::wire::ethernet::EthernetFrame;
use crate::wire::msl::{parse_close, FrameType, HandshakeRepr, MslRepr};
use crate::wire::{MacAddr, WireError};

/// Hellos of another frame version, with no valid frame between them, before a reset.
const FOREIGN_HELLOS_BEFORE_RESET: u32 = 3;

/// The smallest `max_frame` a peer may announce: below it, headers and acks hardly fit.
const MIN_MAX_FRAME: usize = 576;

impl Msl {
    pub(super) fn on_bad_frame(&mut self, now: Duration, frame: &[u8], e: &WireError) {
        self.counters.dropped.count_wire(e);
        match e {
            WireError::BadAuth { .. } if !self.is_established() && !self.auth_reported => {
                self.auth_reported = true;
                let count = self.counters.dropped.bad_auth;
                self.events.push_back(MslEvent::AuthFailing { count });
            }
            WireError::UnsupportedVersion { found, .. } => {
                // A hello of another version gets a version-1 reset it can read (rate
                // limited); our own state does not change on an unverifiable frame.
                let off = EthernetFrame::new_checked(frame).map_or(14, |f| f.header_len());
                let b = frame.get(off..).unwrap_or(&[]);
                let due = self
                    .last_reset
                    .is_none_or(|t| now >= t + self.cfg.heartbeat_interval);
                // Only while no peer of our version is known, and after a few such hellos
                // with no valid frame between them: a frame whose version byte was damaged
                // on the way must not make a working peer refuse.
                if b.get(1) == Some(&FrameType::Hello.to_u8()) {
                    self.foreign_hellos = self.foreign_hellos.saturating_add(1);
                }
                let persistent = self.foreign_hellos >= FOREIGN_HELLOS_BEFORE_RESET;
                if persistent && due && self.peer.is_none() {
                    let mut inc = [0u8; 8];
                    if let Some(s) = b.get(8..16) {
                        inc.copy_from_slice(s);
                    }
                    self.reset_due = Some(PendingReset {
                        close: false,
                        reason: CloseReason::VERSION_MISMATCH,
                        to_incarnation: u64::from_be_bytes(inc),
                        text: format!(
                            "this node speaks MSL frame version {} only, not {found}",
                            crate::wire::msl::VERSION
                        ),
                    });
                }
            }
            _ => {}
        }
    }

    /// Why a peer's handshake cannot open a session, if it cannot.
    pub(super) fn check(&self, h: &HandshakeRepr) -> Option<(CloseReason, String)> {
        let (lo, hi) = self.cfg.versions;
        if lo.max(h.min_version) > hi.min(h.max_version) {
            return Some((
                CloseReason::VERSION_MISMATCH,
                format!(
                    "no MSL version in common: this node speaks {lo}..={hi}, the peer {}..={}",
                    h.min_version, h.max_version
                ),
            ));
        }
        let c = &self.cfg.compat;
        let mut diffs = Vec::new();
        if h.server_id == self.cfg.server_id {
            diffs.push(format!("both servers have id {:#x}", h.server_id));
        }
        if h.volume_size != c.volume_size {
            diffs.push(format!(
                "volume size {} here, {} on the peer",
                c.volume_size, h.volume_size
            ));
        }
        if h.region_size != c.region_size {
            diffs.push(format!(
                "region size {} here, {} on the peer",
                c.region_size, h.region_size
            ));
        }
        if h.engine_version >> 16 != c.engine_version >> 16 {
            diffs.push(format!(
                "engine version {:#x} here, {:#x} on the peer (majors differ)",
                c.engine_version, h.engine_version
            ));
        }
        if usize::from(h.max_frame) < MIN_MAX_FRAME {
            diffs.push(format!(
                "the peer accepts MSL frames of {} bytes at most, below the minimum {MIN_MAX_FRAME}",
                h.max_frame
            ));
        }
        (!diffs.is_empty()).then(|| (CloseReason::CONFIG_MISMATCH, diffs.join("; ")))
    }

    pub(super) fn on_handshake(
        &mut self,
        now: Duration,
        repr: &MslRepr,
        payload: &[u8],
        src: MacAddr,
    ) {
        let Ok(hs) = HandshakeRepr::parse_bytes(payload) else {
            self.counters.dropped.bad_handshake += 1;
            return;
        };
        let inc = repr.sender_incarnation;
        // A lower incarnation is a replayed or delayed old hello, unless the peer has gone
        // silent: then it is taken as a restart (an incarnation taken from a clock may go
        // backwards), so such a peer is not locked out for ever.
        // With a key, never: a replayed hello of an earlier process could otherwise pose as
        // a restart of a peer that is dead, and hold off the takeover (DESIGN §3).
        let older = self.peer.as_ref().is_some_and(|p| inc < p.incarnation);
        let keyed = self.cfg.key.is_some();
        if inc == 0 || (older && (keyed || self.state != MslState::Silent)) {
            self.counters.dropped.stale_incarnation += 1;
            return;
        }
        // A hello of the same process again must be new (it restarts its session), else
        // it is a replay; one of another process starts that process's count.
        if !self.control_fresh(inc, repr.control_counter()) {
            self.counters.dropped.replayed += 1;
            return;
        }
        self.counters.frames_received += 1;
        self.auth_reported = false;
        self.foreign_hellos = 0;
        if let Some((reason, detail)) = self.check(&hs) {
            self.end_session();
            self.queue_reset(now, reason, inc, detail.clone());
            if self.state != MslState::Refused(reason) {
                self.state = MslState::Refused(reason);
                self.events.push_back(MslEvent::Refused {
                    reason,
                    by_peer: false,
                    detail,
                });
            }
            return;
        }
        if self.cfg.peer_mac.is_none() {
            self.peer_mac = src;
        }
        let info = PeerInfo {
            incarnation: inc,
            mac: src,
            handshake: hs,
        };
        match self.peer.as_ref().map(|p| p.incarnation) {
            Some(old) if old != inc => {
                // The news first, then what it cost (the unacked messages, as `Lost`).
                self.counters.peer_restarts += 1;
                self.events.push_back(MslEvent::Restarted {
                    old_incarnation: old,
                    new_incarnation: inc,
                });
                self.end_session();
            }
            _ => {}
        }
        self.peer = Some(info);
        if !self.established {
            // Before the first ack, send within the window the hello announced (every
            // class has the same), not within our own.
            for s in &mut self.send {
                s.set_peer_window(repr.window);
            }
        }
        if let MslState::Refused(_) = self.state {
            // Leaving a refusal: no session survives it.
            self.peer_knows_us = false;
            self.established = false;
            self.state = MslState::Connecting;
            self.next_hello = now;
        }
        self.last_rx = now;
        if repr.receiver_incarnation == self.cfg.incarnation {
            self.confirm();
        }
        if repr.frame_type == FrameType::Hello {
            self.hello_ack_due = true;
        }
    }

    /// Whether a frame other than data with control counter `n` from incarnation `inc` is
    /// new. Only with a key: without one nothing is authenticated, so refusing replays
    /// would protect nothing, and an endpoint recreated under the same incarnation (a
    /// desynchronised peer) can still reset the session.
    pub(super) fn control_fresh(&mut self, inc: u64, n: u64) -> bool {
        self.cfg.key.is_none() || self.ctl_seen.accept(inc, n)
    }

    pub(super) fn queue_reset(
        &mut self,
        now: Duration,
        reason: CloseReason,
        to: u64,
        text: String,
    ) {
        if self
            .last_reset
            .is_none_or(|t| now >= t + self.cfg.heartbeat_interval)
        {
            self.reset_due = Some(PendingReset {
                close: false,
                reason,
                to_incarnation: to,
                text,
            });
        }
    }

    /// The peer knows our incarnation: the session is up.
    pub(super) fn confirm(&mut self) {
        if self.peer_knows_us {
            return;
        }
        let Some(peer) = self.peer.clone() else {
            return;
        };
        self.peer_knows_us = true;
        self.established = true;
        self.state = MslState::Up;
        self.heartbeat_due = true; // tells the peer at once that we know it
        self.counters.sessions += 1;
        let peer_max = peer.handshake.max_message;
        self.events.push_back(MslEvent::Up { peer });
        // Nothing was sent in this session yet: messages queued for it that its peer would
        // not take come back now, rather than ending the session when they arrive.
        if let Some(max) = peer_max {
            for (c, s) in CLASSES.iter().zip(self.send.iter_mut()) {
                for m in s.take_longer_than(max) {
                    self.counters.messages_lost += 1;
                    self.events.push_back(MslEvent::Lost {
                        priority: *c,
                        message: m.into_vec(),
                    });
                }
            }
        }
        // The hello announced an open window for every class: tell the peer at once about
        // classes whose window is closed.
        for r in &mut self.recv {
            if r.is_blocked() {
                r.ack_soon();
            }
        }
    }

    /// Forgets the session. If data could have flowed in it, what was not acked is handed
    /// back as lost; else queued messages wait for the next session.
    pub(super) fn end_session(&mut self) {
        if self.established {
            for (c, s) in CLASSES.iter().zip(self.send.iter_mut()) {
                for m in s.reset(self.cfg.window) {
                    self.counters.messages_lost += 1;
                    self.events.push_back(MslEvent::Lost {
                        priority: *c,
                        message: m.into_vec(),
                    });
                }
            }
        }
        for r in &mut self.recv {
            r.reset();
        }
        self.peer = None;
        self.peer_knows_us = false;
        self.established = false;
        self.state = MslState::Connecting;
        self.hello_ack_due = false;
        self.heartbeat_due = false;
    }

    pub(super) fn on_reset(&mut self, repr: &MslRepr, payload: &[u8]) {
        let Ok((reason, text)) = parse_close(payload) else {
            self.counters.dropped.bad_handshake += 1;
            return;
        };
        if repr.receiver_incarnation != self.cfg.incarnation {
            self.counters.dropped.stale_incarnation += 1;
            return;
        }
        let refusal = matches!(
            reason,
            CloseReason::VERSION_MISMATCH
                | CloseReason::CONFIG_MISMATCH
                | CloseReason::AUTH_FAILURE
                | CloseReason::DIVERGED
        );
        let from_peer = self
            .peer
            .as_ref()
            .is_some_and(|p| p.incarnation == repr.sender_incarnation);
        if !refusal && !from_peer {
            self.counters.dropped.stale_incarnation += 1;
            return;
        }
        if from_peer && !self.control_fresh(repr.sender_incarnation, repr.control_counter()) {
            self.counters.dropped.replayed += 1;
            return;
        }
        if refusal && from_peer {
            // We found this very incarnation's hello compatible, and the checks are
            // symmetric: the refusal answers a frame damaged on the way. Ignore it.
            self.counters.dropped.contradictory_reset += 1;
            return;
        }
        let in_session = self.peer_knows_us || self.state != MslState::Connecting;
        if refusal && self.peer.is_some() && in_session {
            // From another incarnation than the session's peer (a delayed or replayed
            // refusal of an earlier process): it says nothing about this session.
            self.counters.dropped.foreign_reset += 1;
            return;
        }
        self.counters.frames_received += 1;
        if refusal {
            // No peer, or a peer whose hello we took but with no session yet.
            self.end_session();
            if self.state != MslState::Refused(reason) {
                self.state = MslState::Refused(reason);
                self.events.push_back(MslEvent::Refused {
                    reason,
                    by_peer: true,
                    detail: String::from_utf8_lossy(text).into_owned(),
                });
            }
        } else {
            self.end_session();
            self.events.push_back(MslEvent::Closed { reason });
        }
    }
}
