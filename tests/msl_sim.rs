//! The MSL transport core over the simulated link: reliable ordered delivery under faults
//! (exactly once, in order per class), determinism, priorities, a large transfer.

mod msl_common;

use std::time::Duration;

use msl_common::{class_of, key, message, Pair, Rng, CLASSES, MS};
use sft3::link::sim::Faults;
use sft3::msl::{MslEvent, Priority};
use sft3::wire::msl::FrameType;

/// The per-seed run: random faults, random messages both ways in all classes. Returns the
/// delivery trace (time, side, class, length, FNV hash) for the determinism check.
/// Deliveries: (virtual ns, receiving side, class, length, FNV hash).
type Trace = Vec<(u128, usize, u8, usize, u64)>;

fn random_run(seed: u64, max_msg: usize) -> (Trace, u64) {
    let mut rng = Rng(seed);
    let mtu = if rng.below(3) == 0 { 9000 } else { 1500 };
    // A quarter of the runs authenticate every frame (BLAKE3 tags instead of CRC32C).
    let k = (rng.below(4) == 0).then(|| key(7));
    let mut p = Pair::new(seed, mtu, |_, mut c| {
        c.key = k;
        c
    });
    let f = Faults {
        loss: rng.unit() * 0.3,
        duplicate: rng.unit() * 0.1,
        reorder: rng.unit() * 0.1,
        reorder_delay: Duration::from_micros(rng.below(3000)),
        delay: Duration::from_micros(rng.below(500)),
        jitter: Duration::from_micros(rng.below(500)),
        corrupt: rng.unit() * 0.05,
        corrupt_bits: 1 + rng.below(4) as u32,
        ..Faults::NONE
    };
    p.faults(f);
    let mut sent: [Vec<(Priority, Vec<u8>)>; 2] = [Vec::new(), Vec::new()];
    let n = 4 + rng.below(8);
    for _ in 0..n {
        let side = rng.below(2) as usize;
        let class = CLASSES[rng.below(4) as usize];
        let m = message(&mut rng, max_msg);
        p.ep[side].send(class, &m).unwrap();
        sent[side].push((class, m));
    }
    let want = [sent[1].len(), sent[0].len()];
    let ok = p.run_until(Duration::from_secs(120), |p| {
        (0..2).all(|i| p.delivered(i).len() >= want[i])
    });
    assert!(
        ok,
        "seed {seed}: delivered {} / {} and {} / {}; faults {f:?}; counters {:?} {:?}",
        p.delivered(0).len(),
        want[0],
        p.delivered(1).len(),
        want[1],
        p.ep[0].counters(),
        p.ep[1].counters()
    );
    p.run_for(50 * MS); // late duplicates must not be delivered again
    for (rx, tx) in [(0, 1), (1, 0)] {
        let got = p.delivered(rx);
        for c in CLASSES {
            let g: Vec<&Vec<u8>> = got.iter().filter(|m| m.0 == c).map(|m| &m.1).collect();
            let s: Vec<&Vec<u8>> = sent[tx].iter().filter(|m| m.0 == c).map(|m| &m.1).collect();
            assert!(
                g == s,
                "seed {seed}: class {c:?} to side {rx} differs (got {} of {})",
                g.len(),
                s.len()
            );
        }
        let bad: Vec<_> = p.events[rx]
            .iter()
            .filter(|(_, e)| {
                matches!(
                    e,
                    MslEvent::Lost { .. } | MslEvent::Restarted { .. } | MslEvent::Refused { .. }
                )
            })
            .collect();
        assert!(bad.is_empty(), "seed {seed}, side {rx}: {bad:?}");
    }
    let mut trace = Vec::new();
    for i in 0..2 {
        for (t, e) in &p.events[i] {
            if let MslEvent::Delivered { priority, message } = e {
                trace.push((
                    t.as_nanos(),
                    i,
                    priority.bits(),
                    message.len(),
                    sft3::link::sim::frame_hash(message),
                ));
            }
        }
    }
    let retx = p.ep.iter().map(|e| e.counters().retransmits).sum();
    (trace, retx)
}

#[test]
fn random_faults_exactly_once_in_order() {
    let mut retx = 0;
    for seed in 0..300 {
        retx += random_run(seed, 200_000).1;
    }
    assert!(
        retx > 1000,
        "the faults should have forced retransmissions ({retx})"
    );
}

#[test]
#[ignore = "long stress; run with --ignored"]
fn random_faults_stress() {
    let from: u64 = std::env::var("MSL_STRESS_FROM").map_or(1000, |v| v.parse().unwrap());
    for seed in from..from + 10_000 {
        random_run(seed, 200_000);
    }
}

#[test]
fn same_seed_same_trace() {
    for seed in [3, 77, 1234] {
        let a = random_run(seed, 50_000).0;
        let b = random_run(seed, 50_000).0;
        assert!(!a.is_empty());
        assert_eq!(a, b, "seed {seed}");
    }
}

#[test]
fn bulk_never_delays_events_or_heartbeats_by_more_than_a_frame() {
    let mut p = Pair::new(14, 9000, |_, c| c);
    p.up();
    p.settle(); // the heartbeat that confirms the session
    let mut now = p.net.now();
    let mut buf = vec![0u8; 10_000];
    for _ in 0..20 {
        p.ep[0].send(Priority::Bulk, &vec![1u8; 1 << 20]).unwrap();
    }
    p.ep[0].send(Priority::Background, &[3u8; 100_000]).unwrap();
    let n = p.ep[0].poll_transmit(now, &mut buf).unwrap();
    assert_eq!(class_of(&buf[..n]), (FrameType::Data, Priority::Bulk));
    // An event queued behind the bulk backlog goes out next.
    p.ep[0].send(Priority::Event, b"event").unwrap();
    let n = p.ep[0].poll_transmit(now, &mut buf).unwrap();
    assert_eq!(class_of(&buf[..n]), (FrameType::Data, Priority::Event));
    let n = p.ep[0].poll_transmit(now, &mut buf).unwrap();
    assert_eq!(class_of(&buf[..n]), (FrameType::Data, Priority::Bulk));
    // A heartbeat due while bulk is still sending goes out first.
    now += 6 * MS;
    let n = p.ep[0].poll_transmit(now, &mut buf).unwrap();
    assert_eq!(
        class_of(&buf[..n]),
        (FrameType::Heartbeat, Priority::Control)
    );
    // Control-class messages come before events; background only after bulk is done.
    p.ep[0].send(Priority::Event, b"e2").unwrap();
    p.ep[0].send(Priority::Control, b"c1").unwrap();
    let n = p.ep[0].poll_transmit(now, &mut buf).unwrap();
    assert_eq!(class_of(&buf[..n]), (FrameType::Data, Priority::Control));
    let n = p.ep[0].poll_transmit(now, &mut buf).unwrap();
    assert_eq!(class_of(&buf[..n]), (FrameType::Data, Priority::Event));
    // Background goes out only once bulk has all it may have in flight: here the byte
    // cap (512 KiB of 8952-byte payloads), well below the 256-frame window.
    let cap = p.ep[0].config().max_in_flight_bytes;
    let frames = cap.div_ceil(sft3::wire::msl::max_payload(9000, false));
    assert!(frames < 256);
    let mut seen_background = false;
    while let Some(n) = p.ep[0].poll_transmit(now, &mut buf) {
        if class_of(&buf[..n]).1 == Priority::Background && !seen_background {
            seen_background = true;
            assert_eq!(p.ep[0].in_flight(Priority::Bulk), frames);
        }
    }
    assert!(seen_background);
}

#[test]
fn large_transfer_with_loss_completes() {
    let mut p = Pair::new(15, 9000, |_, c| c);
    p.faults(Faults {
        loss: 0.01,
        delay: Duration::from_micros(50),
        ..Faults::NONE
    });
    let msgs: Vec<Vec<u8>> = (0..32u32)
        .map(|i| {
            (0..1 << 20)
                .map(|j: u32| (j.wrapping_mul(31) ^ i) as u8)
                .collect()
        })
        .collect();
    for m in &msgs {
        p.ep[0].send(Priority::Bulk, m).unwrap();
    }
    assert!(
        p.run_until(Duration::from_secs(30), |p| p.delivered(1).len()
            == msgs.len())
    );
    let got: Vec<Vec<u8>> = p.delivered(1).into_iter().map(|m| m.1).collect();
    assert!(got == msgs);
    p.run_for(50 * MS); // the last acks
    assert!(p.ep[0].counters().retransmits > 0);
    assert_eq!(p.ep[0].queued_bytes(Priority::Bulk), 0);
    assert_eq!(p.ep[0].in_flight(Priority::Bulk), 0);
}
