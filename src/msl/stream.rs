//! One priority class's stream: the sending half (message queue, fragmentation, the
//! scoreboard of frames in flight, retransmission) and the receiving half (window,
//! reordering, duplicate suppression, reassembly, ack scheduling).
//!
//! Only data frames consume sequence numbers. Every stream of a session starts at the same
//! configured number (0 by default): the session's pair of incarnations tells sessions
//! apart, not the initial sequence number. Sequence numbers wrap modulo 2³²: every
//! comparison is [`seq_lt`] or a wrapping difference, and the receive ring's length is a
//! power of two, which divides 2³², so `seq % len` stays continuous across the wrap.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use core::time::Duration;

use super::rtt::Rtt;
use crate::wire::msl::SackBlock;

mod recv;

pub(crate) use recv::{RecvStream, RxOutcome};

/// Frames sent after a still-unacked one that must be acked before it counts as lost
/// (RACK-style reordering tolerance, counted in transmissions).
const REORDER_THRESHOLD: u64 = 3;

/// `a` before `b` in wrapping sequence space.
pub(crate) fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// A retransmitted frame acked sooner than the smallest RTT after its retransmission: the
/// ack answers its original transmission.
fn acked_too_soon(s: &Seg, now: Duration, min_rtt: Option<Duration>) -> bool {
    s.retx > 0 && min_rtt.is_some_and(|m| now.saturating_sub(s.sent_at) < m)
}

/// A fragment's bytes, shared with the message in the send queue.
#[derive(Clone, Debug)]
pub(crate) struct PayloadRef {
    msg: Arc<Box<[u8]>>,
    range: Range<usize>,
}

impl PayloadRef {
    pub(crate) fn bytes(&self) -> &[u8] {
        self.msg.get(self.range.clone()).unwrap_or(&[])
    }
}

/// A message's bytes back from the queue: moved out when no frame still shares them, else
/// copied.
fn unshare(data: Arc<Box<[u8]>>) -> Box<[u8]> {
    Arc::try_unwrap(data).unwrap_or_else(|shared| (*shared).clone())
}

/// A queued message and how far it has been cut into fragments.
struct OutMsg {
    id: u32,
    /// Shared with the frames a vectored transmit has not sent yet (see [`SendStream::payload_ref`]).
    data: Arc<Box<[u8]>>,
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
    /// Marked lost by the retransmission timer (a guess that may be spurious), not by
    /// evidence (acks of frames sent after it, or a reopened window).
    by_timeout: bool,
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
    initial_seq: u32,
    /// Payload bytes of the frames in `segs`.
    in_flight_bytes: usize,
    /// Most payload bytes in flight (at least one frame is always allowed).
    max_in_flight_bytes: usize,
}

impl SendStream {
    pub(crate) fn new(rtt: Rtt, window: u16, initial_seq: u32) -> SendStream {
        SendStream {
            msgs: VecDeque::new(),
            frag_idx: 0,
            next_msg_id: 0,
            queued_bytes: 0,
            segs: VecDeque::new(),
            snd_una: initial_seq,
            next_seq: initial_seq,
            peer_window: window,
            rtt,
            rto_at: None,
            tx_order: 0,
            max_delivered_tx: 0,
            lost: 0,
            initial_seq,
            in_flight_bytes: 0,
            max_in_flight_bytes: usize::MAX,
        }
    }

    /// Caps the payload bytes in flight (see `MslConfig::max_in_flight_bytes`).
    pub(crate) fn set_max_in_flight_bytes(&mut self, max: usize) {
        self.max_in_flight_bytes = max;
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
            // Arc::new moves the box: the message is not copied.
            data: Arc::new(data),
            next_off: 0,
            last_seq: None,
        });
    }

    /// Ends the session: every message not fully acked is handed back, in order.
    pub(crate) fn reset(&mut self, window: u16) -> Vec<Box<[u8]>> {
        let lost = self.msgs.drain(..).map(|m| unshare(m.data)).collect();
        let mut rtt = self.rtt.clone();
        rtt.reset();
        let max = self.max_in_flight_bytes;
        *self = SendStream::new(rtt, window, self.initial_seq);
        self.max_in_flight_bytes = max;
        lost
    }

    /// Takes back the queued messages longer than `max` (the peer's limit), in order. Only
    /// before anything was sent in the session (else it does nothing): message ids are
    /// renumbered.
    pub(crate) fn take_longer_than(&mut self, max: u64) -> Vec<Box<[u8]>> {
        if !self.segs.is_empty()
            || self.frag_idx != 0
            || !self.msgs.iter().any(|m| m.data.len() as u64 > max)
        {
            return Vec::new();
        }
        let base = self.msgs.front().map_or(self.next_msg_id, |m| m.id);
        let (keep, long): (VecDeque<OutMsg>, VecDeque<OutMsg>) = self
            .msgs
            .drain(..)
            .partition(|m| m.data.len() as u64 <= max);
        self.msgs = keep;
        for (i, m) in self.msgs.iter_mut().enumerate() {
            m.id = base.wrapping_add(i as u32);
        }
        self.next_msg_id = base.wrapping_add(self.msgs.len() as u32);
        let long: Vec<Box<[u8]>> = long.into_iter().map(|m| unshare(m.data)).collect();
        self.queued_bytes -= long.iter().map(|m| m.len()).sum::<usize>();
        long
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
            && (self.segs.is_empty() || self.in_flight_bytes < self.max_in_flight_bytes)
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
        self.in_flight_bytes += len;
        self.segs.push_back(Seg {
            msg_id,
            offset: off as u32,
            len: len as u32,
            sent_at: now,
            tx_order: self.tx_order,
            retx: 0,
            by_timeout: false,
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

    /// The message holding a fragment chosen by [`next`](Self::next), shared, and the
    /// fragment's range in it (for a send that does not copy the payload).
    pub(crate) fn payload_ref(&self, s: &SegOut) -> Option<PayloadRef> {
        let m = self.msg(s.msg_id)?;
        let range = s.offset as usize..(s.offset + s.len) as usize;
        m.data.get(range.clone())?;
        Some(PayloadRef {
            msg: m.data.clone(),
            range,
        })
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
        let reopened = self.peer_window == 0 && window > 0;
        self.peer_window = window;
        if reopened {
            // A window update after a zero window: the frames in flight were refused (the
            // receiver accepts none while closed), so send them again now rather than at
            // the persist timer.
            self.rtt.clear_backoff();
            for s in self.segs.iter_mut() {
                if !s.sacked && !s.lost {
                    s.lost = true;
                    s.by_timeout = false;
                    self.lost += 1;
                }
            }
        }
        let before = self.max_delivered_tx;
        // Which deliveries say "everything sent before me and still unacked is lost"
        // (RACK, RFC 8985)? Not a retransmitted frame whose ack is explained by its original
        // transmission: acked sooner than the smallest RTT after the retransmission (RFC 8985
        // step 2), or, when the timer retransmitted it, acked together with frames after it
        // that were sent only once (their originals got through, so its original most likely
        // did too: a spurious timeout, and the frames still in flight are not lost). A frame
        // retransmitted on evidence keeps counting, so losses right behind it are found.
        let min_rtt = self.rtt.min_rtt();
        let acked = cum.wrapping_sub(self.snd_una) as usize;
        let last_original = self.segs.iter().take(acked).rposition(|s| s.retx == 0);
        let mut sample = None;
        let mut i = 0;
        while self.snd_una != cum {
            let Some(s) = self.segs.pop_front() else {
                break;
            };
            self.in_flight_bytes -= s.len as usize;
            if s.retx == 0 && !s.sacked {
                // Karn: only frames sent once; and not one selectively acked earlier, whose
                // cumulative ack waited for a hole to fill (that sample was taken then).
                sample = Some(s.sent_at);
            }
            if s.lost {
                self.lost -= 1;
            }
            let explained = s.by_timeout && last_original.is_some_and(|l| i < l);
            if !explained && !acked_too_soon(&s, now, min_rtt) {
                self.max_delivered_tx = self.max_delivered_tx.max(s.tx_order);
            }
            self.snd_una = self.snd_una.wrapping_add(1);
            out.newly_acked += 1;
            i += 1;
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
        // With no cumulative progress, a newly selectively acked original gives the sample.
        let mut sack_sample: Option<Duration> = None;
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
                    if !acked_too_soon(s, now, min_rtt) {
                        self.max_delivered_tx = self.max_delivered_tx.max(s.tx_order);
                    }
                    if s.retx == 0 && sample.is_none() {
                        sack_sample = Some(sack_sample.map_or(s.sent_at, |t| t.max(s.sent_at)));
                    }
                }
            }
        }
        if let Some(t) = sack_sample {
            self.rtt.sample(now.saturating_sub(t));
        }
        if self.max_delivered_tx > before {
            for s in self.segs.iter_mut() {
                if !s.sacked && !s.lost && s.tx_order + REORDER_THRESHOLD <= self.max_delivered_tx {
                    s.lost = true;
                    s.by_timeout = false;
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

    /// The retransmission timer: when it has expired, marks the oldest frame in flight as
    /// lost and backs off. Only the oldest: a timeout on a jittery host is often spurious,
    /// and a whole window resent at every one wastes the link (and a dead link would get it
    /// again at every back-off). Real losses behind it are found within one round trip
    /// once its retransmission is acked (the RACK rule in [`on_ack`](Self::on_ack) marks
    /// every frame sent before it and still unacked). With a zero window this is the
    /// persist probe. Returns the frames marked.
    pub(crate) fn on_timer(&mut self, now: Duration) -> Option<u32> {
        match self.rto_at {
            Some(t) if t <= now => {}
            _ => return None,
        }
        self.rto_at = None;
        let mut n = 0;
        // Selective acks are advisory (RFC 2018, 6675): on a timeout forget them, so a
        // bogus SACK cannot stall the stream; the next ack's blocks mark them again.
        for s in self.segs.iter_mut() {
            s.sacked = false;
        }
        if let Some(s) = self.segs.front_mut() {
            if !s.lost {
                s.lost = true;
                s.by_timeout = true;
                n = 1;
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

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// A five-fragment message on streams that start 2 before the wrap: the fragments are
    /// `MAX-2, MAX-1, MAX, 0, 1`, reordered, SACKed and acked across the wrap.
    #[test]
    fn fragments_sacks_and_acks_across_the_wrap() {
        let start = u32::MAX - 2;
        let rtt = Rtt::new(20 * MS, 2 * MS, 200 * MS, MS);
        let mut s = SendStream::new(rtt, 8, start);
        s.push(b"abcde"[..].into());
        let segs: Vec<SegOut> = (0..5).map(|_| s.next(MS, 1, 8).unwrap()).collect();
        let seqs: Vec<u32> = segs.iter().map(|g| g.seq).collect();
        assert_eq!(seqs, [u32::MAX - 2, u32::MAX - 1, u32::MAX, 0, 1]);

        let mut r = RecvStream::new(8, 16, 1 << 20, start);
        let mut got = Vec::new();
        let rx = |r: &mut RecvStream, g: &SegOut, got: &mut Vec<Vec<u8>>| {
            let p = &b"abcde"[g.offset as usize..(g.offset + g.len) as usize];
            r.on_data(
                MS,
                MS,
                g.seq,
                (g.msg_id, g.offset, g.msg_len),
                p,
                false,
                &mut |m| got.push(m),
            )
        };
        for i in [3, 4, 1] {
            assert_eq!(rx(&mut r, &segs[i], &mut got), RxOutcome::Accepted);
        }
        assert_eq!(rx(&mut r, &segs[4], &mut got), RxOutcome::Duplicate);
        let (cum, blocks) = r.ack_now();
        assert_eq!(cum, start);
        let b: Vec<(u32, u32)> = blocks.iter().map(|b| (b.start, b.end)).collect();
        assert_eq!(b, [(u32::MAX - 1, u32::MAX), (0, 2)]);

        // The sender: three frames sent after the first are SACKed, so it is lost.
        let out = s.on_ack(2 * MS, cum, &blocks, 8);
        assert!(!out.invalid);
        assert_eq!((out.newly_acked, out.marked_lost), (0, 1));
        let again = s.next(2 * MS, 1, 8).unwrap();
        assert!(again.retransmit);
        assert_eq!(again.seq, u32::MAX - 2);

        assert_eq!(rx(&mut r, &again, &mut got), RxOutcome::Accepted);
        assert_eq!(r.rcv_nxt(), u32::MAX);
        assert!(got.is_empty());
        assert_eq!(rx(&mut r, &segs[2], &mut got), RxOutcome::Accepted);
        assert_eq!(got, [b"abcde".to_vec()]);
        assert_eq!(r.rcv_nxt(), 2);
        // An old frame from before the wrap is a duplicate, not new data.
        assert_eq!(rx(&mut r, &segs[0], &mut got), RxOutcome::Duplicate);

        let (cum, blocks) = r.ack_now();
        assert!(blocks.is_empty());
        let out = s.on_ack(3 * MS, cum, &blocks, 8);
        assert_eq!(out.newly_acked, 5);
        assert_eq!((s.in_flight(), s.queued_bytes()), (0, 0));
        // An ack beyond what was sent is refused.
        assert!(s.on_ack(3 * MS, 3, &[], 8).invalid);
    }
}
