//! The receiving half of a stream: window, reordering ring, duplicate suppression,
//! reassembly, ack scheduling, and the window closed while the layer above holds its budget.

use arrayvec::ArrayVec;
use core::time::Duration;

use super::seq_lt;
use crate::wire::msl::{SackBlock, MAX_SACK_BLOCKS};

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
    /// New, but the window is closed (the layer above holds its budget): not taken.
    Blocked,
}

/// The receiving half of a stream.
pub(crate) struct RecvStream {
    rcv_nxt: u32,
    initial_seq: u32,
    window: u16,
    /// The layer above holds its budget: the window is 0 and new frames are refused.
    blocked: bool,
    /// Out-of-order fragments by `seq % len`; the length is a power of two so the slots
    /// stay consistent when sequence numbers wrap.
    ring: Vec<Option<Frag>>,
    ooo: usize,
    cur: Option<(u32, u32, Vec<u8>)>,
    unacked: u32,
    /// In-order frames acked together ([`crate::msl::MslConfig::ack_every`]).
    ack_every: u32,
    ack_at: Option<Duration>,
    max_message: usize,
    /// Fragments that did not continue the message being reassembled (a peer bug).
    pub(crate) bad_fragments: u64,
    /// The length of a message over `max_message` that arrived, until taken.
    oversize: Option<u32>,
}

impl RecvStream {
    pub(crate) fn new(
        window: u16,
        ack_every: u16,
        max_message: usize,
        initial_seq: u32,
    ) -> RecvStream {
        RecvStream {
            rcv_nxt: initial_seq,
            initial_seq,
            window: window.max(1),
            blocked: false,
            ring: (0..usize::from(window.max(1)).next_power_of_two())
                .map(|_| None)
                .collect(),
            ooo: 0,
            cur: None,
            unacked: 0,
            ack_every: u32::from(ack_every.max(1)),
            ack_at: None,
            max_message,
            bad_fragments: 0,
            oversize: None,
        }
    }

    /// Ends the session (partial messages are dropped). Whether the window is closed
    /// belongs to the layer above, not the session: it is kept.
    pub(crate) fn reset(&mut self) {
        let (bad, blocked) = (self.bad_fragments, self.blocked);
        *self = RecvStream::new(
            self.window,
            self.ack_every as u16,
            self.max_message,
            self.initial_seq,
        );
        self.bad_fragments = bad;
        self.blocked = blocked;
    }

    /// Closes or opens the window. Opening schedules an ack at once (a window update).
    pub(crate) fn set_blocked(&mut self, blocked: bool) {
        if self.blocked && !blocked {
            self.ack_at = Some(Duration::ZERO);
        }
        self.blocked = blocked;
    }

    pub(crate) fn is_blocked(&self) -> bool {
        self.blocked
    }

    /// Schedules an ack at once (e.g. to tell a new session that the window is closed).
    pub(crate) fn ack_soon(&mut self) {
        self.ack_at = Some(Duration::ZERO);
    }

    pub(crate) fn rcv_nxt(&self) -> u32 {
        self.rcv_nxt
    }

    /// The window to advertise: 0 while blocked.
    pub(crate) fn window(&self) -> u16 {
        if self.blocked {
            0
        } else {
            self.window
        }
    }

    /// The length of a message over `max_message` that arrived, once: the caller must end
    /// the session rather than ack it.
    pub(crate) fn take_oversize(&mut self) -> Option<u32> {
        self.oversize.take()
    }

    pub(crate) fn ack_at(&self) -> Option<Duration> {
        self.ack_at
    }

    /// Whether data frame `seq` would be new here: inside the window and not received yet
    /// (a duplicate or a replay is neither). Refusal for the receive budget does not count.
    pub(crate) fn is_new(&self, seq: u32) -> bool {
        let d = seq.wrapping_sub(self.rcv_nxt);
        !seq_lt(seq, self.rcv_nxt)
            && d < u32::from(self.window)
            && (d == 0 || self.ring[seq as usize % self.ring.len()].is_none())
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
        } else if self.blocked && self.ring[seq as usize % w].is_none() {
            RxOutcome::Blocked
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
        // Holes, duplicates and requests get an ack at once; else every `ack_every` frames.
        if out != RxOutcome::Accepted || ack_now || self.ooo > 0 || self.unacked >= self.ack_every {
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
