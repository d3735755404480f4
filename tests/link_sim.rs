//! The simulated link: determinism, fault rates, cuts, carrier, segments, random scripts.

use std::collections::HashSet;
use std::time::Duration;

use proptest::prelude::*;
use sft3::link::sim::{AdapterId, Faults, SimAdapter, SimNet, TraceEvent, TraceKind};
use sft3::link::{Link, LinkError, LinkStatus, OperState};

const MS: Duration = Duration::from_millis(1);

/// A 60-byte broadcast IPX-ish frame carrying `tag` at bytes 14..18.
fn frame(src: &SimAdapter, tag: u32) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&src.info().mac.0);
    f[12..14].copy_from_slice(&[0x81, 0x37]);
    f[14..18].copy_from_slice(&tag.to_be_bytes());
    f
}

fn tag(f: &[u8]) -> u32 {
    u32::from_be_bytes([f[14], f[15], f[16], f[17]])
}

/// Everything waiting on an adapter: (arrival ns since epoch, bytes).
fn drain(a: &mut SimAdapter) -> Vec<(u128, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    while let Some(m) = a.recv(&mut buf).unwrap() {
        out.push((m.ts.as_unix_nanos(), buf[..m.len].to_vec()));
    }
    out
}

fn pair(seed: u64, faults: Faults) -> (SimNet, SimAdapter, SimAdapter) {
    let net = SimNet::new(seed);
    let a = net.add_adapter("a");
    let b = net.add_adapter("b");
    let w = net.wire(a.id(), b.id()).unwrap();
    net.set_medium_faults(w, faults);
    (net, a, b)
}

/// `count` is within four standard deviations of Binomial(n, p)'s mean.
fn assert_binomial(what: &str, count: u64, n: u64, p: f64) {
    let mean = n as f64 * p;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    let dev = (count as f64 - mean).abs();
    assert!(
        dev <= 4.0 * sd,
        "{what}: {count} of {n}, expected {mean:.0} ± {:.0}",
        4.0 * sd
    );
}

/// Sends `n` frames a→b, one per millisecond, then lets everything arrive.
fn run_one_way(net: &SimNet, a: &mut SimAdapter, n: u32) {
    for i in 0..n {
        a.send(&frame(a, i)).unwrap();
        net.advance(MS);
    }
    while net.advance_to_next().is_some() {}
}

/// A scripted exchange over a faulty wire and a faulty segment, with cuts and carrier
/// changes; returns the trace and everything received.
/// Frames received by each adapter: (arrival ns, bytes).
type Received = Vec<Vec<(u128, Vec<u8>)>>;

fn scripted(seed: u64) -> (Vec<TraceEvent>, Received) {
    let net = SimNet::new(seed);
    net.record_trace(true);
    let mut ads: Vec<SimAdapter> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|n| net.add_adapter(n))
        .collect();
    let w = net.wire(ads[0].id(), ads[1].id()).unwrap();
    let s = net
        .segment(&[ads[2].id(), ads[3].id(), ads[4].id()])
        .unwrap();
    let messy = Faults {
        loss: 0.1,
        duplicate: 0.1,
        reorder: 0.1,
        reorder_delay: 3 * MS,
        delay: MS,
        jitter: MS,
        corrupt: 0.05,
        ..Faults::NONE
    };
    net.set_medium_faults(w, messy);
    net.set_medium_faults(s, Faults { loss: 0.2, ..messy });
    let mut got = vec![Vec::new(); ads.len()];
    for i in 0..600u32 {
        match i {
            100 => net.cut(ads[0].id(), ads[1].id()),
            200 => net.restore(ads[0].id(), ads[1].id()),
            300 => ads[3].set_carrier(false),
            400 => ads[3].set_carrier(true),
            _ => {}
        }
        for k in [0, 1, 2, 3] {
            let f = frame(&ads[k], i);
            ads[k].send(&f).unwrap();
        }
        net.advance(Duration::from_micros(700));
        for (k, a) in ads.iter_mut().enumerate() {
            got[k].extend(drain(a));
        }
    }
    while net.advance_to_next().is_some() {}
    for (k, a) in ads.iter_mut().enumerate() {
        got[k].extend(drain(a));
    }
    (net.trace(), got)
}

#[test]
fn same_seed_same_trace() {
    let (t1, r1) = scripted(42);
    let (t2, r2) = scripted(42);
    assert!(t1.len() > 5000, "trace too short: {}", t1.len());
    assert_eq!(t1, t2);
    assert_eq!(r1, r2);
    let (t3, _) = scripted(43);
    assert_ne!(t1, t3);
    // Every fault class shows up in the script.
    for kind in [
        TraceKind::Sent,
        TraceKind::Delivered,
        TraceKind::Lost,
        TraceKind::Cut,
        TraceKind::Duplicated,
        TraceKind::Reordered,
        TraceKind::Corrupted,
        TraceKind::NoCarrierTx,
        TraceKind::NoCarrierRx,
    ] {
        assert!(t1.iter().any(|e| e.kind == kind), "no {kind:?} in trace");
    }
}

#[test]
fn traffic_elsewhere_does_not_perturb_a_wire() {
    let faults = Faults {
        loss: 0.3,
        jitter: MS,
        ..Faults::NONE
    };
    let run = |extra: bool| {
        let net = SimNet::new(7);
        net.record_trace(true);
        let mut a = net.add_adapter("a");
        let b = net.add_adapter("b");
        let mut c = net.add_adapter("c");
        let d = net.add_adapter("d");
        let w1 = net.wire(a.id(), b.id()).unwrap();
        let w2 = net.wire(c.id(), d.id()).unwrap();
        net.set_medium_faults(w1, faults);
        net.set_medium_faults(w2, faults);
        for i in 0..500 {
            a.send(&frame(&a, i)).unwrap();
            if extra {
                c.send(&frame(&c, i)).unwrap();
                c.send(&frame(&c, i + 1)).unwrap();
            }
            net.advance(MS);
        }
        while net.advance_to_next().is_some() {}
        net.trace()
            .into_iter()
            .filter(|e| e.from == a.id())
            .collect::<Vec<_>>()
    };
    assert_eq!(run(false), run(true));
}

#[test]
fn loss_rate() {
    let n = 10_000;
    for seed in [1, 2, 3] {
        let (net, mut a, mut b) = pair(
            seed,
            Faults {
                loss: 0.1,
                ..Faults::NONE
            },
        );
        run_one_way(&net, &mut a, n);
        let c = b.counters();
        assert_binomial("loss", c.rx_lost, n as u64, 0.1);
        assert_eq!(drain(&mut b).len() as u64, n as u64 - c.rx_lost);
        assert_eq!(a.counters().tx_frames, n as u64);
    }
}

#[test]
fn duplication_rate() {
    let n = 10_000;
    let (net, mut a, mut b) = pair(
        5,
        Faults {
            duplicate: 0.1,
            ..Faults::NONE
        },
    );
    net.record_trace(true);
    run_one_way(&net, &mut a, n);
    let dups = b.counters().rx_duplicated;
    assert_binomial("duplication", dups, n as u64, 0.1);
    let got = drain(&mut b);
    assert_eq!(got.len() as u64, n as u64 + dups);
    // Exactly the duplicated tags arrive twice.
    let mut seen = vec![0u32; n as usize];
    for (_, f) in &got {
        seen[tag(f) as usize] += 1;
    }
    assert_eq!(seen.iter().filter(|&&c| c == 2).count() as u64, dups);
    assert!(seen.iter().all(|&c| c == 1 || c == 2));
    let traced = net
        .trace()
        .iter()
        .filter(|e| e.kind == TraceKind::Duplicated)
        .count();
    assert_eq!(traced as u64, dups);
}

#[test]
fn corruption_rate_and_bits() {
    let n = 10_000u64;
    for bits in [1u32, 3] {
        let (net, mut a, mut b) = pair(
            9,
            Faults {
                corrupt: 0.1,
                corrupt_bits: bits,
                ..Faults::NONE
            },
        );
        let sent = frame(&a, 0xdead_beef);
        for _ in 0..n {
            a.send(&sent).unwrap();
            net.advance(MS);
        }
        let got = drain(&mut b);
        assert_eq!(got.len() as u64, n);
        let mut corrupted = 0;
        for (_, f) in &got {
            assert_eq!(f.len(), sent.len(), "corruption changed the length");
            let flipped: u32 = f.iter().zip(&sent).map(|(x, y)| (x ^ y).count_ones()).sum();
            if flipped != 0 {
                assert_eq!(flipped, bits);
                corrupted += 1;
            }
        }
        assert_eq!(corrupted, b.counters().rx_corrupted);
        assert_binomial("corruption", corrupted, n, 0.1);
    }
}

#[test]
fn reordering_rate() {
    let n = 10_000u32;
    let (net, mut a, mut b) = pair(
        11,
        Faults {
            reorder: 0.1,
            reorder_delay: 5 * MS,
            delay: MS,
            ..Faults::NONE
        },
    );
    run_one_way(&net, &mut a, n);
    let held = b.counters().rx_reordered;
    assert_binomial("reordering", held, n as u64, 0.1);
    let got = drain(&mut b);
    assert_eq!(got.len() as u32, n);
    // A frame arriving after a later-sent one is out of order.
    let mut max = None;
    let mut late = 0u64;
    for (_, f) in &got {
        let t = tag(f);
        if max.is_some_and(|m| t < m) {
            late += 1;
        }
        max = max.max(Some(t));
    }
    // A held frame is overtaken unless the next five were held too (p = 1e-5).
    assert!(late <= held && late + 5 >= held, "late {late}, held {held}");
    assert_binomial("out of order", late, n as u64, 0.1);
    // Arrival timestamps never go backwards.
    assert!(got.windows(2).all(|w| w[0].0 <= w[1].0));
}

#[test]
fn delay_and_jitter_bounds() {
    let n = 10_000u32;
    let (delay, jitter) = (3 * MS, 2 * MS);
    let (net, mut a, mut b) = pair(
        13,
        Faults {
            delay,
            jitter,
            ..Faults::NONE
        },
    );
    let mut sent_at = Vec::new();
    let mut got = Vec::new();
    for i in 0..n {
        sent_at.push(net.now().as_nanos());
        a.send(&frame(&a, i)).unwrap();
        net.advance(MS);
        got.extend(drain(&mut b));
    }
    while net.advance_to_next().is_some() {}
    got.extend(drain(&mut b));
    assert_eq!(got.len() as u32, n);
    let (lo, hi) = (delay.as_nanos(), (delay + jitter).as_nanos());
    let mut sum = 0f64;
    let (mut min, mut max) = (u128::MAX, 0);
    for (ts, f) in &got {
        let d = ts - sent_at[tag(f) as usize];
        assert!(lo <= d && d <= hi, "delay {d} ns outside [{lo}, {hi}]");
        sum += d as f64;
        min = min.min(d);
        max = max.max(d);
    }
    // Uniform jitter: the mean lies near the middle, the extremes near the ends.
    let j = jitter.as_nanos() as f64;
    let mean = sum / n as f64;
    let sd_mean = j / 12f64.sqrt() / (n as f64).sqrt();
    assert!(
        (mean - (lo as f64 + j / 2.0)).abs() <= 4.0 * sd_mean,
        "mean {mean}"
    );
    assert!(min < lo + jitter.as_nanos() / 100 && max > hi - jitter.as_nanos() / 100);
}

#[test]
fn cuts() {
    let (net, mut a, mut b) = pair(1, Faults::delayed(MS));
    let exchange = |a: &mut SimAdapter, b: &mut SimAdapter| {
        a.send(&frame(a, 1)).unwrap();
        b.send(&frame(b, 2)).unwrap();
        net.advance(10 * MS);
        (drain(a).len(), drain(b).len())
    };
    assert_eq!(exchange(&mut a, &mut b), (1, 1));
    net.cut(a.id(), b.id());
    assert!(net.faults(a.id(), b.id()).cut && !net.faults(b.id(), a.id()).cut);
    assert_eq!(
        exchange(&mut a, &mut b),
        (1, 0),
        "one-way cut: only b→a passes"
    );
    net.cut_both(a.id(), b.id());
    assert_eq!(
        exchange(&mut a, &mut b),
        (0, 0),
        "two-way cut passes nothing"
    );
    net.restore_both(a.id(), b.id());
    assert_eq!(exchange(&mut a, &mut b), (1, 1), "restored");
    // A cut also loses frames already in flight.
    a.send(&frame(&a, 3)).unwrap();
    net.cut(a.id(), b.id());
    net.advance(10 * MS);
    assert_eq!(drain(&mut b).len(), 0);
    assert_eq!((a.counters().rx_cut, b.counters().rx_cut), (1, 3));
    // Status is unaffected by a cut (the cable looks fine, frames just vanish).
    assert_eq!(b.status().unwrap(), LinkStatus::UP);
}

#[test]
fn carrier_down_and_up() {
    let (net, mut a, mut b) = pair(1, Faults::NONE);
    assert_eq!(a.status().unwrap(), LinkStatus::UP);
    a.set_carrier(false);
    let down = |oper| LinkStatus {
        carrier: false,
        oper,
    };
    assert_eq!(a.status().unwrap(), down(OperState::Down));
    assert_eq!(
        b.status().unwrap(),
        down(OperState::LowerLayerDown),
        "as a veth peer"
    );
    a.send(&frame(&a, 1)).unwrap(); // dropped silently
    b.send(&frame(&b, 2)).unwrap();
    net.advance(MS);
    assert!(drain(&mut a).is_empty() && drain(&mut b).is_empty());
    assert_eq!(a.counters().tx_no_carrier, 1);
    assert_eq!(b.counters().tx_no_carrier, 1);
    a.set_carrier(true);
    assert_eq!(b.status().unwrap(), LinkStatus::UP);
    a.send(&frame(&a, 3)).unwrap();
    b.send(&frame(&b, 4)).unwrap();
    net.advance(MS);
    assert_eq!(drain(&mut a).len(), 1);
    assert_eq!(drain(&mut b).len(), 1);
    // A frame in flight towards an adapter that loses carrier is dropped on arrival.
    net.set_faults(a.id(), b.id(), Faults::delayed(5 * MS));
    a.send(&frame(&a, 5)).unwrap();
    net.advance(MS);
    b.set_carrier(false);
    net.advance(10 * MS);
    b.set_carrier(true);
    assert!(drain(&mut b).is_empty());
    assert_eq!(b.counters().rx_no_carrier, 1);
}

#[test]
fn segment_floods_to_all_but_sender() {
    let net = SimNet::new(3);
    let mut ads: Vec<SimAdapter> = (0..4).map(|i| net.add_adapter(&format!("s{i}"))).collect();
    let ids: Vec<AdapterId> = ads.iter().map(|a| a.id()).collect();
    let seg = net.segment(&ids[..3]).unwrap();
    net.attach(seg, ids[3]).unwrap();
    let f = frame(&ads[0], 1);
    ads[0].send(&f).unwrap();
    net.advance(MS);
    let counts: Vec<usize> = ads.iter_mut().map(|a| drain(a).len()).collect();
    assert_eq!(counts, [0, 1, 1, 1]);
    // Unicast floods too by default...
    let mut uni = f.clone();
    uni[..6].copy_from_slice(&ads[2].info().mac.0);
    ads[0].send(&uni).unwrap();
    net.advance(MS);
    let counts: Vec<usize> = ads.iter_mut().map(|a| drain(a).len()).collect();
    assert_eq!(counts, [0, 1, 1, 1]);
    // ...and with the filter on reaches only its destination.
    net.set_unicast_filter(seg, true);
    ads[0].send(&uni).unwrap();
    ads[0].send(&f).unwrap();
    net.advance(MS);
    let counts: Vec<usize> = ads.iter_mut().map(|a| drain(a).len()).collect();
    assert_eq!(counts, [0, 1, 2, 1]);
    // One port down leaves the others up; per-receiver faults hit one receiver only.
    ads[1].set_carrier(false);
    assert_eq!(ads[2].status().unwrap(), LinkStatus::UP);
    net.cut(ids[0], ids[3]);
    ads[0].send(&f).unwrap();
    net.advance(MS);
    let counts: Vec<usize> = ads.iter_mut().map(|a| drain(a).len()).collect();
    assert_eq!(counts, [0, 0, 1, 0]);
}

#[test]
fn link_basics() {
    let net = SimNet::new(0);
    let mut a = net.add_adapter_with("lan0", sft3::wire::MacAddr([2, 0, 0, 0, 0, 9]), 100);
    let mut b = net.add_adapter("lan1");
    assert_eq!(a.info().name, "lan0");
    assert_eq!(a.info().mtu, 100);
    assert_ne!(a.info().mac, b.info().mac);
    assert_ne!(a.info().index, b.info().index);
    // Unattached: no carrier.
    assert!(!a.status().unwrap().carrier);
    net.wire(a.id(), b.id()).unwrap();
    assert!(net.wire(a.id(), b.id()).is_err());
    assert!(matches!(a.send(&[0; 115]), Err(LinkError::TooBig { .. })));
    a.send(&[7; 114]).unwrap();
    // Due now: received without advancing; a short buffer truncates.
    let mut small = [0u8; 10];
    let m = b.recv(&mut small).unwrap().unwrap();
    assert_eq!((m.len, m.orig_len), (10, 114));
    assert_eq!(small, [7; 10]);
    assert!(b.recv(&mut small).unwrap().is_none());
    // Timestamps are the epoch plus virtual time.
    net.set_epoch(sft3::capture::Timestamp::new(1_000, 0));
    net.advance(Duration::from_millis(1500));
    a.send(&[1; 60]).unwrap();
    let m = b.recv(&mut [0; 64]).unwrap().unwrap();
    assert_eq!(m.ts, sft3::capture::Timestamp::new(1_001, 500_000_000));
    assert_eq!(a.counters().tx_too_big, 1);
}

#[derive(Clone, Debug)]
enum Op {
    Send {
        from: usize,
        len: usize,
    },
    Advance(u64),
    Faults {
        from: usize,
        to: usize,
        f: (u8, u8, u8, u8, u16, u16),
    },
    Cut {
        from: usize,
        to: usize,
        on: bool,
    },
    Carrier {
        who: usize,
        up: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..5usize, 0..200usize).prop_map(|(from, len)| Op::Send { from, len }),
        3 => (0..3_000_000u64).prop_map(Op::Advance),
        1 => (0..5usize, 0..5usize, any::<(u8, u8, u8, u8, u16, u16)>())
            .prop_map(|(from, to, f)| Op::Faults { from, to, f }),
        1 => (0..5usize, 0..5usize, any::<bool>()).prop_map(|(from, to, on)| Op::Cut { from, to, on }),
        1 => (0..5usize, any::<bool>()).prop_map(|(who, up)| Op::Carrier { who, up }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_scripts(seed in any::<u64>(), corrupt_on in any::<bool>(), ops in prop::collection::vec(op(), 0..200)) {
        let net = SimNet::new(seed);
        net.set_rx_capacity(20);
        let mut ads: Vec<SimAdapter> = (0..5).map(|i| net.add_adapter(&format!("p{i}"))).collect();
        let ids: Vec<AdapterId> = ads.iter().map(|a| a.id()).collect();
        net.wire(ids[0], ids[1]).unwrap();
        net.segment(&ids[2..]).unwrap();
        let mut sent: HashSet<Vec<u8>> = HashSet::new();
        let mut got: Vec<Vec<u8>> = Vec::new();
        let mut last_ts = [0u128; 5];
        let mut counter = 0u32;
        for op in ops {
            match op {
                Op::Send { from, len } => {
                    counter += 1;
                    let mut f = vec![0u8; len.max(18)];
                    f[14..18].copy_from_slice(&counter.to_be_bytes());
                    f[0] = (counter as u8) & 0xfe; // sometimes unicast, never to a known MAC
                    ads[from].send(&f).unwrap();
                    sent.insert(f);
                }
                Op::Advance(ns) => net.advance(Duration::from_nanos(ns)),
                Op::Faults { from, to, f: (loss, dup, re, cor, delay, jitter) } => {
                    net.set_faults(ids[from], ids[to], Faults {
                        cut: false,
                        loss: loss as f64 / 300.0,
                        duplicate: dup as f64 / 300.0,
                        reorder: re as f64 / 300.0,
                        reorder_delay: Duration::from_micros(delay as u64),
                        delay: Duration::from_micros(delay as u64 / 2),
                        jitter: Duration::from_micros(jitter as u64),
                        corrupt: if corrupt_on { cor as f64 / 300.0 } else { 0.0 },
                        corrupt_bits: 1 + cor as u32 % 3,
                    });
                }
                Op::Cut { from, to, on } => {
                    if on { net.cut(ids[from], ids[to]) } else { net.restore(ids[from], ids[to]) }
                }
                Op::Carrier { who, up } => ads[who].set_carrier(up),
            }
            for (k, a) in ads.iter_mut().enumerate() {
                for (ts, f) in drain(a) {
                    prop_assert!(ts >= last_ts[k] && ts <= net.now().as_nanos());
                    last_ts[k] = ts;
                    got.push(f);
                }
            }
        }
        while net.advance_to_next().is_some() {}
        prop_assert_eq!(net.in_flight(), 0);
        for a in ads.iter_mut() {
            got.extend(drain(a).into_iter().map(|(_, f)| f));
        }
        for f in &got {
            if sent.contains(f) {
                continue;
            }
            prop_assert!(corrupt_on, "a frame nobody sent arrived without corruption");
            let near = sent.iter().any(|s| {
                s.len() == f.len()
                    && (1..=3).contains(&s.iter().zip(f).map(|(x, y)| (x ^ y).count_ones()).sum::<u32>())
            });
            prop_assert!(near, "a delivered frame is not a corrupted sent frame");
        }
        // Every copy towards a receiver ends delivered or dropped for a reason.
        let c: Vec<_> = ids.iter().map(|&i| net.counters(i)).collect();
        let towards = [c[1].tx_frames, c[0].tx_frames,
            c[3].tx_frames + c[4].tx_frames, c[2].tx_frames + c[4].tx_frames,
            c[2].tx_frames + c[3].tx_frames];
        for k in 0..5 {
            let r = &c[k];
            prop_assert_eq!(
                r.rx_delivered + r.rx_lost + r.rx_cut + r.rx_no_carrier + r.rx_overflow,
                towards[k] + r.rx_duplicated
            );
            prop_assert_eq!(r.rx_taken, r.rx_delivered);
        }
    }
}

/// A digest of a trace's every field, stable across runs and builds.
fn trace_digest(trace: &[TraceEvent]) -> u64 {
    let mut bytes = Vec::new();
    for e in trace {
        bytes.extend_from_slice(&(e.at.as_nanos() as u64).to_le_bytes());
        bytes.push(e.kind as u8);
        bytes.extend_from_slice(&e.from.0.to_le_bytes());
        bytes.extend_from_slice(&e.to.map_or(u32::MAX, |t| t.0).to_le_bytes());
        bytes.extend_from_slice(&(e.len as u64).to_le_bytes());
        bytes.extend_from_slice(&e.hash.to_le_bytes());
    }
    sft3::link::sim::frame_hash(&bytes)
}

/// The trace for seed 42 is pinned: a change to the PRNG, the order of draws or the
/// scheduling changes it, and that must be a deliberate decision (old traces stop
/// reproducing).
#[test]
fn pinned_trace() {
    let (trace, _) = scripted(42);
    assert_eq!(trace_digest(&trace), 1_659_377_456_724_118_033);
}

/// Regression: cut/restore went through the per-direction faults and left a copy of the
/// medium's faults behind, so a later change to the medium no longer reached the
/// direction.
#[test]
fn restore_leaves_no_fault_override_behind() {
    let (net, a, b) = pair(3, Faults::NONE);
    let w = sft3::link::sim::MediumId(0);
    let lossy = Faults {
        loss: 0.5,
        ..Faults::NONE
    };
    net.set_medium_faults(w, lossy);
    net.cut(a.id(), b.id());
    assert!(net.faults(a.id(), b.id()).cut);
    assert_eq!(net.faults(a.id(), b.id()).loss, 0.5);
    net.restore(a.id(), b.id());
    assert_eq!(net.faults(a.id(), b.id()), lossy);
    net.set_medium_faults(w, Faults::NONE);
    assert_eq!(
        net.faults(a.id(), b.id()),
        Faults::NONE,
        "a→b follows the medium"
    );
    assert_eq!(net.faults(b.id(), a.id()), Faults::NONE);
    // Changing the faults during a cut neither lifts it nor copies it into the setting.
    net.cut(a.id(), b.id());
    net.update_faults(a.id(), b.id(), |f| f.loss = 0.25);
    net.clear_faults(a.id(), b.id());
    assert!(net.faults(a.id(), b.id()).cut, "clear_faults keeps the cut");
    net.restore(a.id(), b.id());
    assert_eq!(net.faults(a.id(), b.id()), Faults::NONE);
    // restore also lifts a cut set through the direction's own setting.
    net.set_faults(a.id(), b.id(), Faults { cut: true, ..lossy });
    net.restore(a.id(), b.id());
    assert_eq!(net.faults(a.id(), b.id()), lossy);
}
