//! The transmit half of the endpoint: the prioritised choice of the next frame and its
//! construction, whole ([`Msl::poll_transmit`]) or in parts for a vectored send
//! ([`Msl::poll_transmit_parts`]: the payload of a data frame stays in the send queue).

use core::time::Duration;

use super::{Msl, CLASSES};
use crate::msl::stream::PayloadRef;
use crate::msl::{MslState, Priority};
use crate::wire::msl::{
    emit_close, ethernet_repr, flag, integrity_len, max_payload, AckRepr, FrameType, HandshakeRepr,
    MslRepr, Trailer, HEADER_LEN,
};
use crate::wire::Result as WireResult;

/// A frame from [`Msl::poll_transmit_parts`], in up to three pieces to send in order: the
/// first [`head_len`](Self::head_len) bytes of the caller's head buffer, the
/// [`payload`](Self::payload) (a data frame's fragment, shared with the send queue, not
/// copied) and the [`trailer`](Self::trailer) (CRC32C or tag). Other frames are whole in
/// the head buffer. Together they are the bytes [`Msl::poll_transmit`] would write.
///
/// Holding one keeps its message's bytes alive: drop it once sent, so a message handed
/// back as [`MslEvent::Lost`](crate::msl::MslEvent::Lost) need not be copied.
#[derive(Clone, Debug)]
pub struct TxParts {
    head_len: usize,
    payload: Option<PayloadRef>,
    trailer: Trailer,
}

impl TxParts {
    /// A frame built whole in the head buffer.
    fn whole(len: usize) -> TxParts {
        TxParts {
            head_len: len,
            payload: None,
            trailer: Trailer::EMPTY,
        }
    }

    /// Bytes of the head buffer the frame starts with (link and MSL headers, or the whole
    /// frame when there is no separate payload).
    pub fn head_len(&self) -> usize {
        self.head_len
    }

    /// The payload sent after the head (empty when the frame is whole in the head).
    pub fn payload(&self) -> &[u8] {
        self.payload.as_ref().map_or(&[], PayloadRef::bytes)
    }

    /// The integrity trailer sent last (empty when the frame is whole in the head).
    pub fn trailer(&self) -> &[u8] {
        self.trailer.as_bytes()
    }

    /// The frame's length on the wire (MSL frames are never short enough to need padding).
    pub fn frame_len(&self) -> usize {
        self.head_len + self.payload().len() + self.trailer.len()
    }

    /// The three pieces, in order, with the head taken from `head` (the buffer given to
    /// `poll_transmit_parts`; `None` when it is shorter than [`head_len`](Self::head_len)).
    pub fn pieces<'a>(&'a self, head: &'a [u8]) -> Option<[&'a [u8]; 3]> {
        Some([head.get(..self.head_len)?, self.payload(), self.trailer()])
    }
}

impl Msl {
    /// Writes the next frame to send into `buf` (at least the MTU + 14 bytes) and returns
    /// its length, or `None` when nothing is due. Order: reset or close, hello / hello-ack, acks,
    /// heartbeat, then data of the control, event, bulk and background streams.
    ///
    /// The same frame [`poll_transmit_parts`](Self::poll_transmit_parts) gives, copied
    /// together.
    pub fn poll_transmit(&mut self, now: Duration, buf: &mut [u8]) -> Option<usize> {
        let parts = self.poll_transmit_parts(now, buf)?;
        let (h, p, t) = (parts.head_len, parts.payload(), parts.trailer());
        // The payload was cut to fit `buf` (as the head buffer): these cannot fail.
        buf.get_mut(h..h + p.len())?.copy_from_slice(p);
        let h = h + p.len();
        buf.get_mut(h..h + t.len())?.copy_from_slice(t);
        Some(parts.frame_len())
    }

    /// The next frame to send, as [`poll_transmit`](Self::poll_transmit) chooses it, for a
    /// vectored send: headers (or a whole non-data frame) go into `head` (at least the MTU +
    /// 14 bytes), and a data frame's payload is a shared reference into the send queue with
    /// its trailer computed aside, so the payload is never copied. See [`TxParts`].
    pub fn poll_transmit_parts(&mut self, now: Duration, buf: &mut [u8]) -> Option<TxParts> {
        self.handle_timeout(now);
        if let Some(r) = self.reset_due.take() {
            let ty = if r.close {
                FrameType::Close
            } else {
                FrameType::Reset
            };
            let mut repr = self.repr(ty, Priority::Control);
            repr.set_control_counter(self.next_control());
            repr.receiver_incarnation = r.to_incarnation;
            let text = r.text.as_bytes();
            let text = &text[..text.len().min(200)];
            let n = self.write(buf, &repr, |p| emit_close(p, r.reason, text));
            self.last_reset = Some(now);
            self.counters.resets_sent += 1;
            return self.sent(n.map(TxParts::whole));
        }
        let hello_due = self.state == MslState::Connecting && now >= self.next_hello;
        if self.hello_ack_due || hello_due {
            let ty = if self.hello_ack_due {
                FrameType::HelloAck
            } else {
                self.next_hello = now + self.cfg.heartbeat_interval;
                FrameType::Hello
            };
            self.hello_ack_due = false;
            let hs = self.handshake();
            let mut repr = self.repr(ty, Priority::Control);
            repr.set_control_counter(self.next_control());
            // The hello's window stands for every class until their acks: announce the
            // configured one even if the control class's window is closed just now.
            repr.window = self.cfg.window.max(1);
            let n = self.write(buf, &repr, |p| hs.emit(p));
            self.counters.hellos_sent += 1;
            return self.sent(n.map(TxParts::whole));
        }
        if !self.is_established() {
            return None;
        }
        for (c, class) in CLASSES.iter().enumerate() {
            if let Some((cum, blocks)) = self.recv[c].take_ack(now) {
                let mut repr = self.repr(FrameType::Ack, *class);
                repr.set_control_counter(self.next_control());
                self.last_ctl_tx = now;
                repr.flags |= flag::ACK;
                repr.ack = cum;
                let a = AckRepr { blocks };
                let n = self.write(buf, &repr, |p| a.emit(p));
                self.counters.acks_sent += 1;
                return self.sent(n.map(TxParts::whole));
            }
        }
        if self.heartbeat_due || now >= self.last_ctl_tx + self.cfg.heartbeat_interval {
            self.heartbeat_due = false;
            let mut repr = self.repr(FrameType::Heartbeat, Priority::Control);
            repr.set_control_counter(self.next_control());
            self.last_ctl_tx = now;
            repr.flags |= flag::ACK;
            repr.ack = self.recv[0].rcv_nxt();
            self.recv[0].piggybacked();
            let n = self.write(buf, &repr, |_| Ok(0));
            self.counters.heartbeats_sent += 1;
            return self.sent(n.map(TxParts::whole));
        }
        self.poll_data(now, buf)
    }

    pub(super) fn poll_data(&mut self, now: Duration, buf: &mut [u8]) -> Option<TxParts> {
        let (w, auth) = (self.cfg.window, self.cfg.key.is_some());
        let mut mtu = self.cfg.mtu.min(buf.len().saturating_sub(14));
        if let Some(p) = &self.peer {
            mtu = mtu.min(usize::from(p.handshake.max_frame));
        }
        let maxp = max_payload(mtu, auth).max(1);
        let c = (0..CLASSES.len()).find(|&c| self.send[c].ready(w))?;
        let seg = self.send[c].next(now, maxp, w)?;
        let mut repr = self.repr(FrameType::Data, CLASSES[c]);
        repr.flags |= flag::ACK;
        if seg.last_of_burst || seg.retransmit {
            repr.flags |= flag::ACK_NOW;
        }
        repr.ack = self.recv[c].rcv_nxt();
        repr.seq = seg.seq;
        repr.message_id = seg.msg_id;
        repr.fragment_offset = seg.offset;
        repr.message_len = seg.msg_len;
        let payload = self.send[c].payload_ref(&seg);
        let data = payload.as_ref().map_or(&[][..], PayloadRef::bytes);
        let parts = self
            .write_head(buf, &repr, data)
            .map(|(head_len, trailer)| TxParts {
                head_len,
                payload,
                trailer,
            });
        self.recv[c].piggybacked();
        if seg.retransmit {
            self.counters.retransmits += 1;
        } else {
            self.counters.data_sent += 1;
        }
        self.sent(parts)
    }

    pub(super) fn sent(&mut self, parts: Option<TxParts>) -> Option<TxParts> {
        let parts = parts?;
        self.counters.frames_sent += 1;
        self.counters.bytes_sent += parts.frame_len() as u64;
        Some(parts)
    }

    /// The control counter of the next frame other than data (see [`crate::wire::msl`]).
    fn next_control(&mut self) -> u64 {
        self.ctl_sent += 1;
        self.ctl_sent
    }

    pub(super) fn handshake(&self) -> HandshakeRepr {
        let c = &self.cfg;
        HandshakeRepr {
            server_id: c.server_id,
            name: c.name,
            min_version: c.versions.0.min(c.versions.1),
            max_version: c.versions.1.max(c.versions.0),
            role: c.role,
            flags: c.flags,
            priority: c.priority,
            max_frame: c.mtu.min(u16::MAX as usize) as u16,
            volume_size: c.compat.volume_size,
            region_size: c.compat.region_size,
            engine_version: c.compat.engine_version,
            tracked_since: c.tracked_since,
            history: c.history.clone(),
            max_message: Some(c.max_message as u64),
        }
    }

    /// The receive window of class `c` to announce: the ring's, 0 while the class is over
    /// its budget, and in between no more frames than the budget left can hold, so a
    /// sender slows down as the consumer falls behind instead of running into refusals.
    pub(super) fn advertised_window(&self, c: usize) -> u16 {
        let w = self.recv[c].window();
        let Some(budget) = self.cfg.rx_budget else {
            return w;
        };
        if w == 0 {
            return 0;
        }
        let per_frame = max_payload(self.cfg.mtu, self.cfg.key.is_some()).max(1);
        let left = budget.saturating_sub(self.held_bytes(CLASSES[c]));
        let frames = left.div_ceil(per_frame).clamp(1, usize::from(w));
        frames as u16
    }

    /// A header for a frame of the current session (no ack, no payload yet).
    pub(super) fn repr(&self, frame_type: FrameType, class: Priority) -> MslRepr {
        let c = class.bits() as usize;
        MslRepr {
            frame_type,
            priority: class,
            flags: 0,
            window: self.advertised_window(c),
            sender_incarnation: self.cfg.incarnation,
            receiver_incarnation: self.peer.as_ref().map_or(0, |p| p.incarnation),
            seq: self.send[c].next_seq(),
            ack: 0,
            message_id: 0,
            fragment_offset: 0,
            message_len: 0,
            payload_len: 0,
        }
    }

    /// Builds a whole frame: `fill` writes the payload at its place and returns its length.
    pub(super) fn write(
        &self,
        buf: &mut [u8],
        repr: &MslRepr,
        fill: impl FnOnce(&mut [u8]) -> WireResult<usize>,
    ) -> Option<usize> {
        let key = self.cfg.key.as_ref();
        let eth = ethernet_repr(self.peer_mac, self.cfg.local_mac, None);
        let hl = eth.header_len();
        let plen = fill(buf.get_mut(hl + HEADER_LEN..)?).ok()?;
        let msl_len = HEADER_LEN + plen + integrity_len(key.is_some());
        eth.emit(buf, msl_len).ok()?;
        let repr = MslRepr {
            payload_len: plen,
            ..*repr
        };
        repr.emit(buf.get_mut(hl..)?, key).ok()?;
        Some(eth.frame_len(msl_len))
    }

    /// Builds a data frame's link and MSL headers into `buf` (room for the whole frame, as
    /// for [`write`](Self::write)) and its trailer over them and `payload`, which stays where
    /// it is. Returns the headers' length and the trailer.
    fn write_head(
        &self,
        buf: &mut [u8],
        repr: &MslRepr,
        payload: &[u8],
    ) -> Option<(usize, Trailer)> {
        let key = self.cfg.key.as_ref();
        let eth = ethernet_repr(self.peer_mac, self.cfg.local_mac, None);
        let msl_len = HEADER_LEN + payload.len() + integrity_len(key.is_some());
        let hl = eth.emit(buf, msl_len).ok()?;
        let repr = MslRepr {
            payload_len: payload.len(),
            ..*repr
        };
        let head = buf.get_mut(hl..hl + HEADER_LEN)?;
        repr.emit_header(head, key).ok()?;
        Some((hl + HEADER_LEN, Trailer::over(&[head, payload], key)))
    }
}
