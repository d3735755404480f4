//! The vectored transmit path: [`Msl::poll_transmit_parts`] gives the same bytes as
//! [`Msl::poll_transmit`] for every frame kind, with and without a key, and the trailer
//! computed over header and payload apart ([`Trailer::over`]) is the one `emit` writes.

mod msl_common;

use std::collections::{BTreeSet, VecDeque};

use core::time::Duration;

use msl_common::{config, key, MS};
use proptest::prelude::*;
use sft3::msl::{CloseReason, Msl, MslConfig, MslEvent, MslState, Priority};
use sft3::wire::msl::{FrameType, MslLinkFrame, MslRepr, Trailer, HEADER_LEN};
use sft3::wire::MacAddr;

const MTU: usize = 1500;
const MACS: [MacAddr; 2] = [MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([2, 0, 0, 0, 0, 2])];

/// One endpoint run twice in lockstep: `whole` sends with `poll_transmit`, `parts` with
/// `poll_transmit_parts`; both get the same frames and calls.
struct Twin {
    whole: Msl,
    parts: Msl,
}

impl Twin {
    fn new(cfg: &MslConfig, now: Duration) -> Twin {
        Twin {
            whole: Msl::new(cfg.clone(), now),
            parts: Msl::new(cfg.clone(), now),
        }
    }

    /// The next frame, checked identical both ways.
    fn poll(&mut self, now: Duration) -> Option<Vec<u8>> {
        let mut a = vec![0u8; MTU + 14];
        let mut b = vec![0u8; MTU + 14];
        let whole = self
            .whole
            .poll_transmit(now, &mut a)
            .map(|n| a[..n].to_vec());
        let parts = self.parts.poll_transmit_parts(now, &mut b).map(|p| {
            let pieces = p.pieces(&b).expect("head within the buffer");
            let f = pieces.concat();
            assert_eq!(f.len(), p.frame_len());
            f
        });
        assert_eq!(whole, parts, "poll_transmit and poll_transmit_parts differ");
        assert_eq!(self.whole.counters(), self.parts.counters());
        whole
    }

    fn handle(&mut self, now: Duration, f: &[u8]) {
        self.whole.handle_frame(now, f);
        self.parts.handle_frame(now, f);
    }

    fn send(&mut self, p: Priority, m: &[u8]) {
        self.whole.send(p, m).unwrap();
        self.parts.send(p, m).unwrap();
    }

    /// Events, checked identical both ways.
    fn events(&mut self) -> Vec<MslEvent> {
        let mut out = Vec::new();
        while let Some(e) = self.whole.poll_event() {
            let f = self.parts.poll_event().expect("same events");
            assert_eq!(format!("{e:?}"), format!("{f:?}"));
            out.push(e);
        }
        assert!(self.parts.poll_event().is_none());
        out
    }
}

/// Two twins and a lossless wire, on virtual time; `drop` decides per frame.
struct Net {
    ep: [Twin; 2],
    now: Duration,
    seen: BTreeSet<u8>,
    events: [Vec<MslEvent>; 2],
}

impl Net {
    fn new(cfg: impl Fn(MslConfig) -> MslConfig) -> Net {
        let now = Duration::ZERO;
        Net {
            ep: [
                Twin::new(&cfg(config(1, 100, MACS[0], MTU)), now),
                Twin::new(&cfg(config(2, 200, MACS[1], MTU)), now),
            ],
            now,
            seen: BTreeSet::new(),
            events: [Vec::new(), Vec::new()],
        }
    }

    /// Exchanges frames at `now` until both sides are quiet.
    fn pump(&mut self, drop: &mut impl FnMut(usize, FrameType) -> bool) {
        let mut wire: VecDeque<(usize, Vec<u8>)> = VecDeque::new();
        for _ in 0..100_000 {
            for i in 0..2 {
                while let Some(f) = self.ep[i].poll(self.now) {
                    let ty = MslLinkFrame::parse(&f, None)
                        .map(|l| l.msl.frame_type())
                        .or_else(|_| {
                            MslLinkFrame::parse(&f, Some(&key(7))).map(|l| l.msl.frame_type())
                        })
                        .expect("a valid frame");
                    self.seen.insert(ty.to_u8());
                    if !drop(i, ty) {
                        wire.push_back((1 - i, f));
                    }
                }
                let ev = self.ep[i].events();
                self.events[i].extend(ev);
            }
            let Some((to, f)) = wire.pop_front() else {
                return;
            };
            self.ep[to].handle(self.now, &f);
        }
        panic!("no progress");
    }

    fn advance(&mut self, d: Duration, drop: &mut impl FnMut(usize, FrameType) -> bool) {
        self.now += d;
        self.pump(drop);
    }
}

/// Handshake, fragmented data with a loss (retransmission, acks with SACK blocks),
/// heartbeats, a close, and a reset from a peer that lost its state.
fn scenario(k: Option<[u8; 32]>) {
    let mut n = Net::new(|mut c| {
        c.key = k;
        c
    });
    let mut keep = |_: usize, _: FrameType| false;
    n.pump(&mut keep);
    assert_eq!(n.ep[0].whole.state(), MslState::Up);

    let msgs: Vec<Vec<u8>> = [1usize, 100, 5000, 20_000, 1456]
        .iter()
        .map(|&len| (0..len).map(|i| (i * 7 + len) as u8).collect())
        .collect();
    for (i, m) in msgs.iter().enumerate() {
        let p = [Priority::Bulk, Priority::Event][i % 2];
        n.ep[0].send(p, m);
    }
    // The third data frame is lost once.
    let mut data = 0;
    let mut lose_one = |from: usize, ty: FrameType| {
        if from == 0 && ty == FrameType::Data {
            data += 1;
            return data == 3;
        }
        false
    };
    n.pump(&mut lose_one);
    for _ in 0..200 {
        n.advance(5 * MS, &mut lose_one);
    }
    let delivered: Vec<&MslEvent> = n.events[1]
        .iter()
        .filter(|e| matches!(e, MslEvent::Delivered { .. }))
        .collect();
    assert_eq!(delivered.len(), msgs.len());
    assert!(n.ep[0].whole.counters().retransmits > 0);
    assert!(n.ep[0].whole.counters().heartbeats_sent > 0);

    // B closes (its close frame is lost), then comes back with the same incarnation and no
    // state: A's next data frame draws a reset.
    n.ep[1].whole.close(CloseReason::UNSPECIFIED);
    n.ep[1].parts.close(CloseReason::UNSPECIFIED);
    let mut lose_close = |_: usize, ty: FrameType| ty == FrameType::Close;
    n.pump(&mut lose_close);
    n.ep[1] = Twin::new(
        &{
            let mut c = config(2, 200, MACS[1], MTU);
            c.key = k;
            c
        },
        n.now,
    );
    n.ep[0].send(Priority::Bulk, &msgs[3]);
    n.advance(MS, &mut keep);
    for _ in 0..100 {
        n.advance(10 * MS, &mut keep);
    }
    let kinds: BTreeSet<u8> = (1..=7).collect();
    assert_eq!(n.seen, kinds, "every frame kind was compared");
}

#[test]
fn parts_equal_whole_frames_without_key() {
    scenario(None);
}

#[test]
fn parts_equal_whole_frames_with_key() {
    scenario(Some(key(7)));
}

/// A message still shared by an unsent frame comes back whole as `Lost` (copied), and one
/// no frame holds comes back too.
#[test]
fn lost_messages_come_back_while_a_frame_holds_them() {
    let mut n = Net::new(|c| c);
    let mut keep = |_: usize, _: FrameType| false;
    n.pump(&mut keep);
    let m1: Vec<u8> = (0..4000u32).map(|i| i as u8).collect();
    let m2: Vec<u8> = (0..300u32).map(|i| (i * 3) as u8).collect();
    let a = &mut n.ep[0].parts;
    a.send(Priority::Bulk, &m1).unwrap();
    a.send(Priority::Event, &m2).unwrap();
    let mut head = vec![0u8; MTU + 14];
    // Drain whatever control frames are due, keeping the first data frame.
    let held = loop {
        let p = a.poll_transmit_parts(n.now, &mut head).expect("a frame");
        if !p.payload().is_empty() {
            break p;
        }
    };
    let mut held_payload = held.payload().to_vec();
    while a.poll_transmit_parts(n.now, &mut head).is_some() {}
    a.close(CloseReason::UNSPECIFIED);
    let mut lost = Vec::new();
    while let Some(e) = a.poll_event() {
        if let MslEvent::Lost { priority, message } = e {
            lost.push((priority, message));
        }
    }
    lost.sort();
    assert_eq!(lost, [(Priority::Event, m2.clone()), (Priority::Bulk, m1)]);
    // The frame still holds its payload, unchanged.
    assert_eq!(held.payload(), &held_payload[..]);
    held_payload.clear();
    drop(held);
}

fn repr_strategy() -> impl Strategy<Value = MslRepr> {
    (
        1u8..=7,
        0u8..4,
        any::<u8>(),
        any::<(u16, u64, u64, u32, u32, u32)>(),
    )
        .prop_map(|(t, p, flags, (window, si, ri, seq, ack, id))| MslRepr {
            frame_type: FrameType::from_u8(t).unwrap(),
            priority: Priority::from_bits(p),
            flags,
            window,
            sender_incarnation: si,
            receiver_incarnation: ri,
            seq,
            ack,
            message_id: id,
            fragment_offset: 0,
            message_len: u32::MAX,
            payload_len: 0,
        })
}

proptest! {
    /// Header, payload and a trailer computed apart are the bytes `emit` writes.
    #[test]
    fn trailer_over_parts_equals_contiguous_emit(
        repr in repr_strategy(),
        payload in proptest::collection::vec(any::<u8>(), 0..3000),
        keyed in any::<bool>(),
    ) {
        let k = keyed.then(|| key(3));
        let repr = MslRepr { payload_len: payload.len(), ..repr };
        let mut whole = vec![0u8; repr.buffer_len(keyed)];
        let n = repr.emit_with_payload(&mut whole, &payload, k.as_ref()).unwrap();
        prop_assert_eq!(n, whole.len());
        let mut head = [0u8; HEADER_LEN];
        prop_assert_eq!(repr.emit_header(&mut head, k.as_ref()).unwrap(), HEADER_LEN);
        let t = Trailer::over(&[&head, &payload], k.as_ref());
        prop_assert_eq!(t.len(), if keyed { 16 } else { 4 });
        let parts = [&head[..], &payload[..], t.as_bytes()].concat();
        prop_assert_eq!(parts, whole);
        // Split anywhere, the trailer is the same.
        let all = [&head[..], &payload[..]].concat();
        let cut = all.len() / 3;
        prop_assert_eq!(Trailer::over(&[&all[..cut], &all[cut..]], k.as_ref()), t);
    }
}

#[test]
fn empty_trailer_and_header_errors() {
    assert!(Trailer::EMPTY.is_empty());
    assert_eq!(Trailer::EMPTY.as_bytes(), b"");
    let repr = MslRepr {
        frame_type: FrameType::Data,
        priority: Priority::Bulk,
        flags: 0,
        window: 1,
        sender_incarnation: 1,
        receiver_incarnation: 2,
        seq: 0,
        ack: 0,
        message_id: 0,
        fragment_offset: 10,
        message_len: 10,
        payload_len: 1,
    };
    // A fragment past its message, a short buffer: errors, as for `emit`.
    assert!(repr.emit_header(&mut [0u8; HEADER_LEN], None).is_err());
    let ok = MslRepr {
        fragment_offset: 0,
        ..repr
    };
    assert!(ok.emit_header(&mut [0u8; HEADER_LEN - 1], None).is_err());
}
