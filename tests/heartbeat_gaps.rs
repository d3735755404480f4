//! The longest-gap counters (sans-IO, virtual time): per LAN path in the beacon
//! ([`PathView::longest_gap`]) and on the MSL ([`MslCounters::longest_rx_gap`]), and their
//! place in `sft3 status` (JSON and text).

#[path = "msl_common/mod.rs"]
mod msl;

use std::time::Duration;

use sft3::beacon::{AdapterConfig, Beacon, BeaconConfig, MAX_FRAME_LEN};
use sft3::link::sim::Faults;
use sft3::node::status::{AdapterSnapshot, StatusSnapshot};
use sft3::wire::MacAddr;

const MS: Duration = Duration::from_millis(1);

fn beacon(id: u64, incarnation: u64, now: Duration) -> Beacon {
    let mac = MacAddr([2, 0, 0, 0, id as u8, 0]);
    let cfg = BeaconConfig::new(id, incarnation).with_adapter(AdapterConfig::new(0, mac));
    Beacon::new(cfg, now).expect("beacon config")
}

/// Sends `from`'s due packet at `t` into `to` (arriving at the same instant).
fn deliver(from: &mut Beacon, to: &mut Beacon, t: Duration) {
    let mut buf = [0u8; MAX_FRAME_LEN];
    let (adapter, len) = from.poll_transmit(t, &mut buf).expect("a packet is due");
    to.handle_frame(t, adapter, &buf[..len]);
    to.handle_timeout(t);
}

fn gap(b: &Beacon) -> Duration {
    b.path(0).expect("adapter 0").longest_gap
}

#[test]
fn beacon_gap_is_the_longest_interval_between_accepted_packets() {
    let mut a = beacon(1, 100, Duration::ZERO);
    let mut b = beacon(2, 200, Duration::ZERO);
    deliver(&mut a, &mut b, Duration::ZERO);
    assert_eq!(gap(&b), Duration::ZERO, "one packet: no gap yet");
    for t in [5, 10, 15] {
        deliver(&mut a, &mut b, t * MS);
    }
    assert_eq!(gap(&b), 5 * MS);
    // A late packet (a starved sender): 12 ms, under the 20 ms silence threshold.
    deliver(&mut a, &mut b, 27 * MS);
    assert_eq!(gap(&b), 12 * MS);
    deliver(&mut a, &mut b, 32 * MS);
    assert_eq!(gap(&b), 12 * MS, "shorter gaps do not lower it");
    // A silence that ends counts too.
    deliver(&mut a, &mut b, 72 * MS);
    assert_eq!(gap(&b), 40 * MS);
    assert!(b.path(0).unwrap().is_up());
    // A restarted peer: the downtime is not a heartbeat gap.
    let mut a2 = beacon(1, 101, 500 * MS);
    deliver(&mut a2, &mut b, 500 * MS);
    assert_eq!(b.peer_incarnation(), Some(101));
    assert_eq!(gap(&b), 40 * MS);
    deliver(&mut a2, &mut b, 505 * MS);
    assert_eq!(gap(&b), 40 * MS);
    assert_eq!(b.path(0).unwrap().packets, 9);
}

#[test]
fn beacon_gap_ignores_refused_packets() {
    let mut a = beacon(1, 100, Duration::ZERO);
    let mut b = beacon(2, 200, Duration::ZERO);
    let mut buf = [0u8; MAX_FRAME_LEN];
    let (_, len) = a.poll_transmit(Duration::ZERO, &mut buf).unwrap();
    b.handle_frame(Duration::ZERO, 0, &buf[..len]);
    // The same packet replayed 9 ms later proves nothing and closes no gap.
    b.handle_frame(9 * MS, 0, &buf[..len]);
    assert_eq!(gap(&b), Duration::ZERO);
    assert_eq!(b.counters().dropped.replayed, 1);
    deliver(&mut a, &mut b, 11 * MS);
    assert_eq!(gap(&b), 11 * MS);
}

#[test]
fn msl_gap_tracks_heartbeats_and_a_short_outage() {
    let mut p = msl::Pair::new(7, 1500, |_, c| c);
    p.up();
    p.run_for(200 * MS);
    for i in 0..2 {
        let g = p.ep[i].counters().longest_rx_gap;
        // Heartbeats every 5 ms while idle (acks and data only add frames).
        assert!(g > Duration::ZERO && g <= 6 * MS, "side {i}: {g:?}");
    }
    // 8 ms without a frame either way: with the heartbeats' phase, a gap of 8 to 18 ms,
    // under the 20 ms silence threshold.
    p.faults(Faults {
        cut: true,
        ..Faults::NONE
    });
    p.run_for(8 * MS);
    p.faults(Faults::NONE);
    p.run_for(50 * MS);
    for i in 0..2 {
        let g = p.ep[i].counters().longest_rx_gap;
        assert!(g >= 8 * MS && g < 20 * MS, "side {i}: {g:?}");
        assert_eq!(p.ep[i].state(), sft3::msl::MslState::Up);
    }
}

#[test]
fn gaps_in_status_json_and_text() {
    let mut s = StatusSnapshot::new(1, "SFT-A", 1);
    s.adapters.push(AdapterSnapshot {
        name: "lan0".into(),
        index: 0,
        carrier: true,
        oper: "up".into(),
        score: 1000,
        working: true,
        peer_heard_ms_ago: Some(2),
        peer_longest_gap_us: Some(12_345),
    });
    s.adapters.push(AdapterSnapshot {
        name: "lan1".into(),
        index: 1,
        carrier: true,
        oper: "up".into(),
        score: 600,
        working: true,
        peer_heard_ms_ago: Some(1),
        peer_longest_gap_us: None,
    });
    s.msl.longest_gap_us = 7_001;
    let j: serde_json::Value = serde_json::from_str(&s.to_json()).expect("valid JSON");
    assert_eq!(j["adapters"][0]["peer_longest_gap_us"], 12_345);
    assert!(j["adapters"][1]["peer_longest_gap_us"].is_null());
    assert_eq!(j["msl"]["longest_gap_us"], 7_001);
    let t = s.to_text();
    assert!(t.contains("longest gap 12.345 ms"), "{t}");
    assert!(t.contains("longest gap none"), "{t}");
    assert!(t.contains("longest gap 7.001 ms"), "{t}");
}
