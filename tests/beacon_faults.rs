//! The beacon under faults on the simulated link: determinism (same seed, same trace), a
//! damaged packet with and without a key, and a seeded sweep of random faults and cuts.

#[path = "beacon_common/mod.rs"]
mod world;

use std::time::Duration;

use sft3::beacon::BeaconEvent;
use sft3::link::sim::{Faults, TraceEvent};
use sft3::wire::IpxFrame;
use world::{key, World, MS};

/// A scripted run with faults, cuts and a restart: the trace and every event.
fn scripted(seed: u64) -> (Vec<TraceEvent>, Vec<Vec<(Duration, BeaconEvent)>>) {
    let f = Faults {
        loss: 0.3,
        jitter: Duration::from_millis(2),
        duplicate: 0.05,
        corrupt: 0.05,
        corrupt_bits: 3,
        ..Faults::NONE
    };
    let mut w = World::new(seed, f, |_, mut c| {
        c.key = Some(key(9));
        c
    });
    w.run_until(40 * MS);
    w.cut(0, true);
    w.run_until(90 * MS);
    w.cut(1, true);
    w.run_until(130 * MS);
    w.cut(0, false);
    w.cut(1, false);
    w.run_until(170 * MS);
    let ev = (0..2).map(|n| w.events(n)).collect();
    (w.net.trace(), ev)
}

#[test]
fn same_seed_same_trace() {
    let a = scripted(42);
    let b = scripted(42);
    assert!(!a.0.is_empty());
    assert_eq!(a, b);
    let c = scripted(43);
    assert_ne!(a.0, c.0);
}

#[test]
fn without_a_key_a_damaged_packet_does_not_silence_the_peer() {
    let mut w = World::new(12, Faults::NONE, |_, c| c);
    w.run_until(41 * MS);
    // A packet of the peer whose sequence number (then one whose incarnation) a bit flip
    // pushed far ahead: accepted (nothing can tell without a key), then genuine packets
    // look old until the window moves back to them.
    let (_, a, genuine) = w.nodes[1].sent.last().unwrap().clone();
    let f = IpxFrame::parse(&genuine).unwrap();
    let off = genuine.len() - f.ipx.payload().len();
    for (field, at) in [("sequence", 56), ("incarnation", 48)] {
        let mut bad = genuine.clone();
        bad[off + at] ^= 0x40;
        w.nodes[0].beacon.handle_frame(w.net.now(), a, &bad);
        w.run_until(w.net.now() + 100 * MS);
        let b = &w.nodes[0].beacon;
        assert_eq!(b.counters().path_silences, 0, "{field}: {:?}", b.counters());
        assert!(b.paths().iter().all(|p| p.is_up()), "{field}");
        assert_eq!(b.peer_incarnation(), Some(100), "{field}");
    }
    let c = w.nodes[0].beacon.counters();
    assert_eq!(c.reanchored, 2, "{c:?}");
    // The false restart and its undoing are both reported.
    assert_eq!(c.peer_restarts, 2, "{c:?}");
}

#[test]
fn with_a_key_a_damaged_packet_is_refused() {
    let mut w = World::new(13, Faults::NONE, |_, mut c| {
        c.key = Some(key(3));
        c
    });
    w.run_until(41 * MS);
    let (_, a, genuine) = w.nodes[1].sent.last().unwrap().clone();
    let mut bad = genuine.clone();
    let len = bad.len();
    bad[len - 40] ^= 0x40;
    w.nodes[0].beacon.handle_frame(w.net.now(), a, &bad);
    w.run_until(100 * MS);
    let c = w.nodes[0].beacon.counters();
    assert_eq!(
        (c.dropped.bad_auth, c.reanchored, c.path_silences),
        (1, 0, 0)
    );
}

/// A small deterministic generator for the sweep.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Random faults and cuts for 300 ms, then a clean network for 40 ms. With a key: each
/// packet is accepted at most once, path events alternate, a silence is never declared
/// early, and once the network is clean every path is up again.
#[test]
fn random_fault_sweep() {
    for seed in 0..200 {
        let mut rng = Rng(seed);
        let f = Faults {
            loss: rng.unit() * 0.3,
            duplicate: rng.unit() * 0.2,
            reorder: rng.unit() * 0.2,
            reorder_delay: Duration::from_micros(rng.below(3000)),
            jitter: Duration::from_micros(rng.below(3000)),
            corrupt: rng.unit() * 0.1,
            corrupt_bits: 1 + rng.below(4) as u32,
            ..Faults::NONE
        };
        let mut w = World::new(seed, f, |_, mut c| {
            c.key = Some(key(5));
            c
        });
        let mut t = Duration::ZERO;
        while t < 300 * MS {
            t += Duration::from_micros(1000 + rng.below(40_000));
            w.run_until(t.min(300 * MS));
            let seg = rng.below(2) as usize;
            w.cut(seg, rng.below(2) == 0);
        }
        for seg in 0..2 {
            w.cut(seg, false);
            w.net.set_medium_faults(
                w.segments[seg],
                Faults {
                    delay: Duration::from_micros(100),
                    ..Faults::NONE
                },
            );
        }
        w.run_until(340 * MS);
        for n in 0..2 {
            let b = &w.nodes[n].beacon;
            let c = b.counters();
            let ctx = format!("seed {seed} node {n}: {f:?} {c:?}");
            assert!(b.paths().iter().all(|p| p.is_up()), "{ctx}");
            assert!(c.received <= w.nodes[1 - n].sent.len() as u64, "{ctx}");
            assert_eq!(c.reanchored + c.peer_restarts, 0, "{ctx}");
            let mut up = [false; 2];
            for (at, e) in w.events(n) {
                match e {
                    BeaconEvent::PathUp { adapter } => {
                        assert!(!up[adapter as usize], "{ctx}: up twice at {at:?}");
                        up[adapter as usize] = true;
                    }
                    BeaconEvent::PathSilent {
                        adapter,
                        last_heard,
                        silent_for,
                    } => {
                        assert!(up[adapter as usize], "{ctx}: silent twice at {at:?}");
                        up[adapter as usize] = false;
                        assert!(silent_for >= 20 * MS, "{ctx}");
                        assert_eq!(at - last_heard, silent_for, "{ctx}");
                    }
                    BeaconEvent::PeerState { state, .. } => {
                        assert_eq!(state.server_id, 2 - n as u64)
                    }
                    BeaconEvent::PeerRestarted { .. } => panic!("{ctx}: restart"),
                }
            }
        }
    }
}
