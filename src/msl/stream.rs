//! One priority class's stream: the sending half (message queue, fragmentation, the
//! scoreboard of frames in flight, retransmission) and the receiving half (window,
//! reordering, duplicate suppression, reassembly, ack scheduling).
//!
//! Only data frames consume sequence numbers. Every stream of a session starts at 0: the
//! session's pair of incarnations tells sessions apart, not the initial sequence number.

use std::collections::VecDeque;

use arrayvec::ArrayVec;
use core::time::Duration;

use super::rtt::Rtt;
use crate::wire::msl::{SackBlock, MAX_SACK_BLOCKS};

/// Frames sent after a still-unacked one that must be acked before it counts as lost
/// (RACK-style reordering tolerance, counted in transmissions).
const REORDER_THRESHOLD: u64 = 3;

/// `a` before `b` in wrapping sequence space.
pub(crate) fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// A queued message and how far it has been cut into fragments.
struct OutMsg {
    id: u32,
    data: Box<[u8]>,
    next_off: usize,
    /// The sequence number of its last fragment, once assigned.
    last_seq: Option<u32>,
}

/// A data frame in flight.
#[derive(Clone, Copy)]
struct Seg {
    msg_id: u32,
    offset: u32,
    len: u32,
    sent_at: Duration,
    tx_order: u64,
    retx: u32,
    sacked: bool,
    lost: bool,
}

/// What to put in the next data frame.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SegOut {
    pub seq: u32,
    pub msg_id: u32,
    pub offset: u32,
    pub len: u32,
    pub msg_len: u32,
    pub retransmit: bool,
    /// True when nothing else is ready to go after it (ask for an ack now).
    pub last_of_burst: bool,
}

/// What an ack did.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct AckOutcome {
    pub invalid: bool,
    pub newly_acked: u32,
    pub marked_lost: u32,
}

/// The sending half of a stream.
pub(crate) struct SendStream {
    msgs: VecDeque<OutMsg>,
    /// Index in `msgs` of the message being cut into fragments.
    frag_idx: usize,
    next_msg_id: u32,
    queued_bytes: usize,
    segs: VecDeque<Seg>,
    snd_una: u32,
    next_seq: u32,
    peer_window: u16,
    pub(crate) rtt: Rtt,
    rto_at: Option<Duration>,
    tx_order: u64,
    max_delivered_tx: u64,
    lost: usize,
}

impl SendStream {
    pub(crate) fn new(rtt: Rtt, window: u16) -> SendStream {
        SendStream {
            msgs: VecDeque::new(),
            frag_idx: 0,
            next_msg_id: 0,
            queued_bytes: 0,
            segs: VecDeque::new(),
            snd_una: 0,
            next_seq: 0,
            peer_window: window,
            rtt,
            rto_at: None,
            tx_order: 0,
            max_delivered_tx: 0,
            lost: 0,
        }
    }

    /// Bytes of messages not yet fully acknowledged.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    pub(crate) fn push(&mut self, data: Box<[u8]>) {
        self.queued_bytes += data.len();
        let id = self.next_msg_id;
        self.next_msg_id = id.wrapping_add(1);
        self.msgs.push_back(OutMsg {
            id,
            data,
            next_off: 0,
            last_seq: None,
        });
    }

    /// Ends the session: every message not fully acked is handed back, in order.
    pub(crate) fn reset(&mut self, window: u16) -> Vec<Box<[u8]>> {
        let lost = self.msgs.drain(..).map(|m| m.data).collect();
        let mut rtt = self.rtt.clone();
        rtt.reset();
        *self = SendStream::new(rtt, window);
        lost
    }

    /// The next sequence number (carried, for information, by frames that take none).
    pub(crate) fn next_seq(&self) -> u32 {
        self.next_seq
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.segs.len()
    }

    pub(crate) fn rto_at(&self) -> Option<Duration> {
        self.rto_at
    }

    /// The peer's receive window as its hello announced it (acks update it later).
    pub(crate) fn set_peer_window(&mut self, window: u16) {
        self.peer_window = window;
    }

    fn limit(&self, window: u16) -> u32 {
        u32::from(window.min(self.peer_window).max(1))
    }

    /// True when a data frame could go out now.
    pub(crate) fn ready(&self, window: u16) -> bool {
        self.lost > 0 || self.new_ready(window)
    }

    fn new_ready(&self, window: u16) -> bool {
        self.frag_idx < self.msgs.len()
            && self.next_seq.wrapping_sub(self.snd_una) < self.limit(window)
    }

    /// Picks the next frame: a lost one first, else a new fragment of at most `max_payload`
    /// bytes within the window. `max_payload` must be at least 1.
    pub(crate) fn next(
        &mut self,
        now: Duration,
        max_payload: usize,
        window: u16,
    ) -> Option<SegOut> {
        let out = if self.lost > 0 {
            self.next_lost(now)
        } else {
            self.next_new(now, max_payload, window)
        }?;
        if self.rto_at.is_none() {
            self.rto_at = Some(now + self.rtt.rto());
        }
        Some(SegOut {
            last_of_burst: !self.ready(window),
            ..out
        })
    }

    fn next_lost(&mut self, now: Duration) -> Option<SegOut> {
        let i = self.segs.iter().position(|s| s.lost)?;
        self.lost -= 1;
        self.tx_order += 1;
        let order = self.tx_order;
        let s = &mut self.segs[i];
        s.lost = false;
        s.retx += 1;
        s.sent_at = now;
        s.tx_order = order;
        let s = *s;
        let msg_len = self.msg(s.msg_id).map_or(0, |m| m.data.len() as u32);
        Some(SegOut {
            seq: self.snd_una.wrapping_add(i as u32),
            msg_id: s.msg_id,
            offset: s.offset,
            len: s.len,
            msg_len,
            retransmit: true,
            last_of_burst: false,
        })
    }

    fn next_new(&mut self, now: Duration, max_payload: usize, window: u16) -> Option<SegOut> {
        if !self.new_ready(window) {
            return None;
        }
        let seq = self.next_seq;
        let m = self.msgs.get_mut(self.frag_idx)?;
        let off = m.next_off;
        let len = (m.data.len() - off).min(max_payload);
        m.next_off += len;
        let msg_len = m.data.len() as u32;
        let msg_id = m.id;
        if m.next_off == m.data.len() {
            m.last_seq = Some(seq);
            self.frag_idx += 1;
        }
        self.tx_order += 1;
        self.segs.push_back(Seg {
            msg_id,
            offset: off as u32,
            len: len as u32,
            sent_at: now,
            tx_order: self.tx_order,
            retx: 0,
            sacked: false,
            lost: false,
        });
        self.next_seq = seq.wrapping_add(1);
        Some(SegOut {
            seq,
            msg_id,
            offset: off as u32,
            len: len as u32,
            msg_len,
            retransmit: false,
            last_of_burst: false,
        })
    }

    fn msg(&self, id: u32) -> Option<&OutMsg> {
        let base = self.msgs.front()?.id;
        self.msgs.get(id.wrapping_sub(base) as usize)
    }

    /// The bytes of a fragment chosen by [`next`](Self::next).
    pub(crate) fn payload(&self, s: &SegOut) -> &[u8] {
        let Some(m) = self.msg(s.msg_id) else {
            return &[];
        };
        let (a, b) = (s.offset as usize, (s.offset + s.len) as usize);
        m.data.get(a..b).unwrap_or(&[])
    }

    /// Takes a cumulative ack, SACK blocks and the peer's window for this stream.
    pub(crate) fn on_ack(
        &mut self,
        now: Duration,
        cum: u32,
        blocks: &[SackBlock],
        window: u16,
    ) -> AckOutcome {
        let mut out = AckOutcome::default();
        if seq_lt(self.next_seq, cum) {
            out.invalid = true;
            return out;
        }
        if seq_lt(cum, self.snd_una) {
            return out; // an old ack overtaken by newer ones: nothing to learn
        }
        self.peer_window = window;
        let before = self.max_delivered_tx;
        let mut sample = None;
        while self.snd_una != cum {
            let Some(s) = self.segs.pop_front() else {
                break;
            };
            if s.retx == 0 {
                sample = Some(s.sent_at); // Karn: only frames sent once
            }
            if s.lost {
                self.lost -= 1;
            }
            self.max_delivered_tx = self.max_delivered_tx.max(s.tx_order);
            self.snd_una = self.snd_una.wrapping_add(1);
            out.newly_acked += 1;
        }
        if out.newly_acked > 0 {
            if let Some(t) = sample {
                self.rtt.sample(now.saturating_sub(t));
            } else {
                self.rtt.clear_backoff();
            }
            self.rto_at = (!self.segs.is_empty()).then(|| now + self.rtt.rto());
            self.retire();
        }
        for b in blocks {
            let start = b.start.wrapping_sub(self.snd_una);
            let end = b.end.wrapping_sub(self.snd_una);
            if start >= end || end as usize > self.segs.len() {
                continue; // below the cumulative ack or beyond what was sent
            }
            for s in self.segs.range_mut(start as usize..end as usize) {
                if !s.sacked {
                    s.sacked = true;
                    if s.lost {
                        s.lost = false;
                        self.lost -= 1;
                    }
                    self.max_delivered_tx = self.max_delivered_tx.max(s.tx_order);
                }
            }
        }
        if self.max_delivered_tx > before {
            for s in self.segs.iter_mut() {
                if !s.sacked && !s.lost && s.tx_order + REORDER_THRESHOLD <= self.max_delivered_tx {
                    s.lost = true;
                    self.lost += 1;
                    out.marked_lost += 1;
                }
            }
        }
        out
    }

    /// Drops messages whose every fragment is acked.
    fn retire(&mut self) {
        while let Some(m) = self.msgs.front() {
            match m.last_seq {
                Some(l) if seq_lt(l, self.snd_una) && self.frag_idx > 0 => {
                    self.queued_bytes -= m.data.len();
                    self.msgs.pop_front();
                    self.frag_idx -= 1;
                }
                _ => break,
            }
        }
    }

    /// The peer is heard again after a silence: forget the back-off and let the timer
    /// fire at once, so frames lost during the silence go out again without waiting.
    pub(crate) fn kick(&mut self, now: Duration) {
        self.rtt.clear_backoff();
        if !self.segs.is_empty() {
            self.rto_at = Some(now);
        }
    }

    /// The retransmission timer: when it has expired, marks every frame in flight that
    /// was not selectively acked as lost (only the oldest with `probe_only`, while the peer
    /// is silent, so a dead link does not get the whole window again at every timeout) and
    /// backs off. Returns the frames marked.
    pub(crate) fn on_timer(&mut self, now: Duration, probe_only: bool) -> Option<u32> {
        match self.rto_at {
            Some(t) if t <= now => {}
            _ => return None,
        }
        self.rto_at = None;
        let mut n = 0;
        // Selective acks are advisory (RFC 2018, 6675): on a timeout forget them and go
        // again from `snd_una`, so a lost final ack or a bogus SACK cannot stall the stream.
        for s in self.segs.iter_mut() {
            s.sacked = false;
        }
        let take = if probe_only { 1 } else { self.segs.len() };
        for s in self.segs.iter_mut().take(take) {
            if !s.lost {
                s.lost = true;
                n += 1;
            }
        }
        self.lost += n as usize;
        self.rtt.backoff();
        if !self.segs.is_empty() {
            self.rto_at = Some(now + self.rtt.rto());
        }
        Some(n)
    }
}

/// A fragment that arrived ahead of its turn.
struct Frag {
    msg_id: u32,
    offset: u32,
    msg_len: u32,
    data: Vec<u8>,
}

/// What became of a received data frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RxOutcome {
    /// In order, or stored for later.
    Accepted,
    /// Already received.
    Duplicate,
    /// Beyond the receive window.
    OutOfWindow,
}

/// The receiving half of a stream.
pub(crate) struct RecvStream {
    rcv_nxt: u32,
    window: u16,
    /// Out-of-order fragments by `seq % len`; the length is a power of two so the slots
    /// stay consistent when sequence numbers wrap.
    ring: Vec<Option<Frag>>,
    ooo: usize,
    cur: Option<(u32, u32, Vec<u8>)>,
    unacked: u32,
    ack_at: Option<Duration>,
    max_message: usize,
    /// Fragments that did not continue the message being reassembled (a peer bug).
    pub(crate) bad_fragments: u64,
    /// The length of a message over `max_message` that arrived, until taken.
    oversize: Option<u32>,
}

impl RecvStream {
    pub(crate) fn new(window: u16, max_message: usize) -> RecvStream {
        RecvStream {
            rcv_nxt: 0,
            window: window.max(1),
            ring: (0..usize::from(window.max(1)).next_power_of_two())
                .map(|_| None)
                .collect(),
            ooo: 0,
            cur: None,
            unacked: 0,
            ack_at: None,
            max_message,
            bad_fragments: 0,
            oversize: None,
        }
    }

    /// Ends the session (partial messages are dropped).
    pub(crate) fn reset(&mut self) {
        let bad = self.bad_fragments;
        *self = RecvStream::new(self.window, self.max_message);
        self.bad_fragments = bad;
    }

    pub(crate) fn rcv_nxt(&self) -> u32 {
        self.rcv_nxt
    }

    pub(crate) fn window(&self) -> u16 {
        self.window
    }

    /// The length of a message over `max_message` that arrived, once: the caller must end
    /// the session rather than ack it.
    pub(crate) fn take_oversize(&mut self) -> Option<u32> {
        self.oversize.take()
    }

    pub(crate) fn ack_at(&self) -> Option<Duration> {
        self.ack_at
    }

    /// A data frame of this stream. Complete messages go to `deliver`, in order.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_data(
        &mut self,
        now: Duration,
        ack_delay: Duration,
        seq: u32,
        msg: (u32, u32, u32),
        payload: &[u8],
        ack_now: bool,
        deliver: &mut impl FnMut(Vec<u8>),
    ) -> RxOutcome {
        let w = self.ring.len();
        let d = seq.wrapping_sub(self.rcv_nxt);
        let out = if seq_lt(seq, self.rcv_nxt) {
            RxOutcome::Duplicate
        } else if d >= u32::from(self.window) {
            RxOutcome::OutOfWindow
        } else if d == 0 {
            self.apply(msg, payload, deliver);
            self.rcv_nxt = self.rcv_nxt.wrapping_add(1);
            self.drain(deliver);
            RxOutcome::Accepted
        } else {
            let slot = &mut self.ring[seq as usize % w];
            if slot.is_some() {
                RxOutcome::Duplicate
            } else {
                *slot = Some(Frag {
                    msg_id: msg.0,
                    offset: msg.1,
                    msg_len: msg.2,
                    data: payload.to_vec(),
                });
                self.ooo += 1;
                RxOutcome::Accepted
            }
        };
        self.unacked += 1;
        // Holes, duplicates and requests get an ack at once; else every second frame.
        if out != RxOutcome::Accepted || ack_now || self.ooo > 0 || self.unacked >= 2 {
            self.ack_at = Some(now);
        } else if self.ack_at.is_none() {
            self.ack_at = Some(now + ack_delay);
        }
        out
    }

    fn drain(&mut self, deliver: &mut impl FnMut(Vec<u8>)) {
        let w = self.ring.len();
        while self.ooo > 0 {
            let Some(f) = self.ring[self.rcv_nxt as usize % w].take() else {
                break;
            };
            self.ooo -= 1;
            self.apply((f.msg_id, f.offset, f.msg_len), &f.data, deliver);
            self.rcv_nxt = self.rcv_nxt.wrapping_add(1);
        }
    }

    /// Appends an in-order fragment to the message being reassembled.
    fn apply(
        &mut self,
        (id, off, len): (u32, u32, u32),
        p: &[u8],
        deliver: &mut impl FnMut(Vec<u8>),
    ) {
        if off == 0 {
            if self.cur.is_some() {
                self.bad_fragments += 1; // the previous message never finished
            }
            if len as usize > self.max_message {
                self.bad_fragments += 1;
                self.cur = None;
                self.oversize = Some(len);
                return;
            }
            // Capacity is bounded: the length is only the peer's claim.
            let cap = (len as usize).min(1 << 20);
            self.cur = Some((id, len, Vec::with_capacity(cap)));
        }
        let Some((cid, clen, buf)) = self.cur.as_mut() else {
            self.bad_fragments += 1;
            return;
        };
        if *cid != id || *clen != len || buf.len() != off as usize {
            self.bad_fragments += 1;
            self.cur = None;
            return;
        }
        buf.extend_from_slice(p);
        if buf.len() == len as usize {
            if let Some((_, _, m)) = self.cur.take() {
                deliver(m);
            }
        }
    }

    /// The ack to send when it is due: cumulative ack and SACK blocks.
    pub(crate) fn take_ack(
        &mut self,
        now: Duration,
    ) -> Option<(u32, ArrayVec<SackBlock, MAX_SACK_BLOCKS>)> {
        match self.ack_at {
            Some(t) if t <= now => Some(self.ack_now()),
            _ => None,
        }
    }

    /// The ack as of now, clearing the pending one.
    pub(crate) fn ack_now(&mut self) -> (u32, ArrayVec<SackBlock, MAX_SACK_BLOCKS>) {
        self.ack_at = None;
        self.unacked = 0;
        (self.rcv_nxt, self.sack_blocks())
    }

    /// A piggybacked cumulative ack went out: it replaces the pending ack unless there are
    /// holes, which only an ack frame's SACK blocks describe.
    pub(crate) fn piggybacked(&mut self) {
        if self.ooo == 0 {
            self.ack_at = None;
            self.unacked = 0;
        }
    }

    fn sack_blocks(&self) -> ArrayVec<SackBlock, MAX_SACK_BLOCKS> {
        let mut blocks = ArrayVec::new();
        if self.ooo == 0 {
            return blocks;
        }
        let (w, len) = (u32::from(self.window), self.ring.len());
        let mut run: Option<u32> = None;
        for d in 1..=w {
            let seq = self.rcv_nxt.wrapping_add(d);
            let present = d < w && self.ring[seq as usize % len].is_some();
            match (present, run) {
                (true, None) => run = Some(seq),
                (false, Some(start)) => {
                    if blocks.try_push(SackBlock { start, end: seq }).is_err() {
                        break;
                    }
                    run = None;
                }
                _ => {}
            }
        }
        blocks
    }
}
