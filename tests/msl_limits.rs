//! Limits carried by the handshake and sequence space: the peer's `max_message` (refused
//! at `send`, queued ones handed back when the session comes up, a peer of the original
//! handshake form), and streams across the 2³² sequence wrap in every class.

mod msl_common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use msl_common::{message, still_works, Pair, Rng, CLASSES, MS};
use sft3::link::sim::Faults;
use sft3::msl::{MslEvent, Priority, SendError};
use sft3::wire::msl::{emit_msl_frame, FrameType, HandshakeRepr, MslLinkFrame, MslRepr};

fn lost(p: &Pair, i: usize) -> Vec<(Priority, usize)> {
    p.events[i]
        .iter()
        .filter_map(|(_, e)| match e {
            MslEvent::Lost { priority, message } => Some((*priority, message.len())),
            _ => None,
        })
        .collect()
}

/// B (side 1) accepts messages of 1000 bytes at most.
fn small_b() -> Pair {
    Pair::new(3, 1500, |i, mut c| {
        if i == 1 {
            c.max_message = 1000;
        }
        c
    })
}

#[test]
fn send_refuses_messages_over_the_peer_max_message() {
    let mut p = small_b();
    p.up();
    let peer = p.ep[0].peer().unwrap();
    assert_eq!(peer.handshake.max_message, Some(1000));
    assert_eq!(p.ep[1].peer().unwrap().handshake.max_message, Some(1 << 30));
    // Over the local limit, and over the peer's: refused at once.
    assert_eq!(
        p.ep[1].send(Priority::Bulk, &[7u8; 1001]),
        Err(SendError::TooLarge)
    );
    assert_eq!(
        p.ep[0].send(Priority::Bulk, &[7u8; 1001]),
        Err(SendError::TooLarge)
    );
    p.ep[0].send(Priority::Bulk, &[7u8; 1000]).unwrap();
    p.run_for(20 * MS);
    assert_eq!(p.delivered(1), vec![(Priority::Bulk, vec![7u8; 1000])]);
    assert!(lost(&p, 0).is_empty());
    still_works(&mut p);
}

#[test]
fn queued_messages_over_the_peer_limit_come_back_when_the_session_comes_up() {
    let mut p = small_b();
    // Queued before B's handshake is known: accepted for now.
    let queued: [(Priority, usize); 5] = [
        (Priority::Bulk, 10),
        (Priority::Bulk, 5000),
        (Priority::Bulk, 20),
        (Priority::Event, 3000),
        (Priority::Event, 5),
    ];
    for (c, n) in queued {
        p.ep[0].send(c, &vec![n as u8; n]).unwrap();
    }
    p.up();
    p.run_for(20 * MS);
    assert_eq!(
        lost(&p, 0),
        [(Priority::Event, 3000), (Priority::Bulk, 5000)]
    );
    // Reported with the session, after its Up.
    let up = p.events[0]
        .iter()
        .position(|(_, e)| matches!(e, MslEvent::Up { .. }))
        .unwrap();
    let first_lost = p.events[0]
        .iter()
        .position(|(_, e)| matches!(e, MslEvent::Lost { .. }))
        .unwrap();
    assert!(up < first_lost);
    // The others arrive, in order; the session was never reset.
    let got: Vec<(Priority, usize)> = p
        .delivered(1)
        .into_iter()
        .map(|(c, m)| (c, m.len()))
        .collect();
    assert_eq!(
        got,
        [
            (Priority::Event, 5),
            (Priority::Bulk, 10),
            (Priority::Bulk, 20)
        ]
    );
    assert_eq!(p.ep[0].counters().messages_lost, 2);
    assert_eq!(p.ep[0].queued_bytes(Priority::Bulk), 0);
    assert!(p.ep.iter().all(|e| e.counters().resets_sent == 0));
    assert_eq!(p.count(0, |e| matches!(e, MslEvent::Up { .. })), 1);
    still_works(&mut p);
}

/// Rewrites B's handshakes into the original form, without the max-message extension.
fn strip_max_message(side: usize, frame: &mut Vec<u8>) {
    if side != 1 {
        return;
    }
    let lf = MslLinkFrame::parse(frame, None).unwrap();
    if !matches!(lf.msl.frame_type(), FrameType::Hello | FrameType::HelloAck) {
        return;
    }
    let repr = MslRepr::parse(&lf.msl).unwrap();
    let mut hs = HandshakeRepr::parse_bytes(lf.msl.payload()).unwrap();
    assert!(hs.max_message.is_some());
    hs.max_message = None;
    let mut pl = vec![0u8; hs.buffer_len()];
    hs.emit(&mut pl).unwrap();
    let eth = lf.eth;
    let mut out = vec![0u8; 2000];
    let n = emit_msl_frame(&mut out, &eth, &repr, &pl, None).unwrap();
    out.truncate(n);
    *frame = out;
}

#[test]
fn a_peer_that_does_not_announce_its_limit_resets_on_a_longer_message() {
    let mut p = small_b();
    p.tx_filter = Some(strip_max_message);
    p.up();
    assert_eq!(p.ep[0].peer().unwrap().handshake.max_message, None);
    // Unknown limit: accepted here; the peer resets, the sender gets it back as lost.
    p.ep[0].send(Priority::Bulk, &[7u8; 5000]).unwrap();
    p.run_for(500 * MS);
    assert_eq!(lost(&p, 0), [(Priority::Bulk, 5000)]);
    assert!(p.delivered(1).is_empty());
    assert_eq!(p.ep[0].queued_bytes(Priority::Bulk), 0);
    still_works(&mut p);
}

/// Data frames seen with a sequence number just before the wrap, and after it.
static AFTER_WRAP: AtomicU64 = AtomicU64::new(0);
static BEFORE_WRAP: AtomicU64 = AtomicU64::new(0);

#[allow(clippy::ptr_arg)] // the type of `Pair::tx_filter`
fn count_wrap(_: usize, frame: &mut Vec<u8>) {
    let lf = MslLinkFrame::parse(frame, None).unwrap();
    if lf.msl.frame_type() == FrameType::Data {
        match lf.msl.seq() {
            s if s >= u32::MAX - 100 => BEFORE_WRAP.fetch_add(1, Ordering::Relaxed),
            s if s < 1 << 20 => AFTER_WRAP.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }
}

/// Messages both ways in every class, with loss, duplication and reordering, on streams
/// that start `initial_seq`.
fn wrap_run(seed: u64, initial_seq: u32) {
    let mut rng = Rng(seed);
    let mut p = Pair::new(seed, 1500, |_, mut c| {
        c.initial_seq = initial_seq;
        c.window = 64;
        c
    });
    p.tx_filter = Some(count_wrap);
    let f = Faults {
        loss: 0.02 + rng.unit() * 0.15,
        duplicate: rng.unit() * 0.05,
        reorder: 0.05 + rng.unit() * 0.1,
        reorder_delay: Duration::from_micros(200 + rng.below(2000)),
        delay: Duration::from_micros(rng.below(300)),
        ..Faults::NONE
    };
    p.faults(f);
    // Enough per class and direction to cross the wrap: 100 frames before it.
    let mut sent: [Vec<(Priority, Vec<u8>)>; 2] = [Vec::new(), Vec::new()];
    for (side, sent) in sent.iter_mut().enumerate() {
        for class in CLASSES {
            let mut bytes = 0;
            while bytes < 300 * 1452 {
                let m = message(&mut rng, 30_000);
                bytes += m.len();
                p.ep[side].send(class, &m).unwrap();
                sent.push((class, m));
            }
        }
    }
    let want = [sent[1].len(), sent[0].len()];
    let ok = p.run_until(Duration::from_secs(120), |p| {
        (0..2).all(|i| p.delivered(i).len() >= want[i])
    });
    assert!(ok, "seed {seed}: faults {f:?}");
    p.run_for(50 * MS);
    for (rx, tx) in [(0, 1), (1, 0)] {
        let got = p.delivered(rx);
        for c in CLASSES {
            let g: Vec<&Vec<u8>> = got.iter().filter(|m| m.0 == c).map(|m| &m.1).collect();
            let s: Vec<&Vec<u8>> = sent[tx].iter().filter(|m| m.0 == c).map(|m| &m.1).collect();
            assert!(g == s, "seed {seed}: class {c:?} to side {rx} differs");
        }
        assert_eq!(p.count(rx, |e| matches!(e, MslEvent::Lost { .. })), 0);
        for c in CLASSES {
            assert_eq!(p.ep[tx].queued_bytes(c), 0, "seed {seed}");
        }
    }
    assert!(p.ep.iter().any(|e| e.counters().retransmits > 0));
}

#[test]
fn streams_cross_the_sequence_wrap_in_every_class() {
    for seed in 0..12 {
        wrap_run(seed, u32::MAX - 100);
    }
    // Frames went out on both sides of the wrap.
    assert!(BEFORE_WRAP.load(Ordering::Relaxed) > 1000);
    assert!(AFTER_WRAP.load(Ordering::Relaxed) > 1000);
}

#[test]
fn streams_cross_the_sign_boundary() {
    // 2³¹: where a signed comparison of raw numbers would break.
    for seed in 100..104 {
        wrap_run(seed, (1 << 31) - 50);
    }
}
