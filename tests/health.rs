//! Adapter health: the score for each condition, carrier loss, the error window, hearing
//! the network, timers, sysfs counters and hostile frames (probes: `health_probe.rs`).

use proptest::prelude::*;
use sft3::health::*;
use sft3::link::{LinkStatus, OperState};
use sft3::wire::diag::SOCKET as DIAG_SOCKET;
use sft3::wire::ipx::PacketType;
use sft3::wire::state::{
    AdapterFlags, MirrorState, MslLinkState, Role, StateFlags, StateRepr, PEER_AGE_NEVER,
};
use sft3::wire::{Net, Socket};

mod health_common;
use health_common::*;

#[test]
fn not_reported_link_is_zero() {
    let h = Health::new(HealthConfig::default(), &adapters(), ms(0));
    let a = score(&h, ms(0), 0);
    assert_eq!(a.score, 0);
    assert_eq!(a.flags, AdapterFlags::default());
    assert_eq!(a.peer_age_ms, PEER_AGE_NEVER);
    assert_eq!(h.summary(ms(0)).working, 0);
}

#[test]
fn usable_link_alone_is_base_and_working() {
    let h = health();
    let a = score(&h, ms(5), 0);
    assert_eq!(a.score, BASE_SCORE);
    let want = AdapterFlags::CARRIER
        .union(AdapterFlags::OPER_UP)
        .union(AdapterFlags::WORKING);
    assert_eq!(a.flags, want);
    assert_eq!(
        h.summary(ms(5)),
        Summary {
            adapters: 2,
            working: 2,
            total_score: 1200
        }
    );
}

#[test]
fn operstate_unknown_is_usable_but_not_oper_up() {
    let mut m = monitor(HealthConfig::default());
    m.handle_link(
        ms(1),
        LinkStatus {
            carrier: true,
            oper: OperState::Unknown,
        },
    );
    let a = m.health(ms(1));
    assert_eq!(a.score, BASE_SCORE);
    assert!(!a.flags.contains(AdapterFlags::OPER_UP));
    assert!(a.flags.contains(AdapterFlags::WORKING));
}

#[test]
fn operstate_down_with_carrier_is_zero() {
    let mut m = monitor(HealthConfig::default());
    m.handle_peer_state(ms(1));
    m.handle_link(
        ms(1),
        LinkStatus {
            carrier: true,
            oper: OperState::LowerLayerDown,
        },
    );
    let e = m.explain(ms(2));
    assert_eq!(e.health.score, 0);
    assert!(!e.working());
    assert!(e.to_string().contains("operstate not up"), "{e}");
}

#[test]
fn hearing_the_peer_adds_its_bonus_while_fresh() {
    let mut h = health();
    h.handle_peer_state(ms(10), 0);
    let a = score(&h, ms(15), 0);
    assert_eq!(a.score, BASE_SCORE + PEER_BONUS);
    assert!(a.flags.contains(AdapterFlags::HEARS_PEER));
    assert_eq!(a.peer_age_ms, 5);
    // peer_fresh is 20 ms: at 30 ms the bonus is gone, and nothing else changes.
    let a = score(&h, ms(30), 0);
    assert_eq!(a.score, BASE_SCORE);
    assert!(!a.flags.contains(AdapterFlags::HEARS_PEER));
    assert_eq!(a.peer_age_ms, 20);
    // The other adapter never heard it.
    assert_eq!(score(&h, ms(15), 1).peer_age_ms, PEER_AGE_NEVER);
}

#[test]
fn hearing_stations_then_quiet() {
    let mut h = health();
    h.handle_frame(ms(100), 0, &ncp(CLIENT)).unwrap();
    let a = score(&h, ms(200), 0);
    assert_eq!(a.score, BASE_SCORE + STATION_BONUS);
    assert!(a.flags.contains(AdapterFlags::HEARS_IPX));
    // 3 s later the station is no longer fresh, and having heard one before, the adapter
    // has gone quiet: still working (an idle segment is not a broken one).
    let e = h.explain(ms(3100))[0].clone();
    assert_eq!(e.health.score, BASE_SCORE - QUIET_PENALTY);
    assert!(e.working());
    assert!(!e.health.flags.contains(AdapterFlags::HEARS_IPX));
    assert!(
        e.to_string().contains("no station heard for 3000 ms -100"),
        "{e}"
    );
}

#[test]
fn peer_and_station_together_reach_max() {
    let mut h = health();
    h.handle_peer_state(ms(1), 1);
    h.handle_frame(ms(1), 1, &rip_response(ROUTER)).unwrap();
    assert_eq!(score(&h, ms(2), 1).score, MAX_SCORE);
    let e = h.explain(ms(2))[1].to_string();
    assert_eq!(
        e,
        "adapter 1: score 1000, working (link up +600, hears peer +200, hears stations +200)"
    );
}

#[test]
fn carrier_loss_is_zero_at_once() {
    let mut h = health();
    h.handle_peer_state(ms(10), 0);
    h.handle_frame(ms(10), 0, &rip_response(ROUTER)).unwrap();
    assert_eq!(score(&h, ms(11), 0).score, MAX_SCORE);
    h.handle_link(ms(11), 0, DOWN);
    let a = score(&h, ms(11), 0);
    assert_eq!(a.score, 0);
    assert!(!a.flags.contains(AdapterFlags::WORKING));
    assert!(!a.flags.contains(AdapterFlags::CARRIER));
    // Flags of what was heard are not reported for a dead link.
    assert!(!a.flags.contains(AdapterFlags::HEARS_PEER));
    assert_eq!(
        h.summary(ms(11)),
        Summary {
            adapters: 2,
            working: 1,
            total_score: 600
        }
    );
    let e = h.explain(ms(11))[0].to_string();
    assert_eq!(e, "adapter 0: score 0, not working (no carrier)");
    // Back up: the bonuses come back as far as still fresh.
    h.handle_link(ms(12), 0, LinkStatus::UP);
    assert_eq!(score(&h, ms(12), 0).score, MAX_SCORE);
}

fn counters(good: u64, bad: u64) -> Counters {
    Counters {
        rx_packets: good,
        rx_errors: bad,
        ..Counters::default()
    }
}

#[test]
fn error_penalty_steps_are_monotone() {
    assert_eq!(error_penalty(0, 1000), None);
    assert_eq!(error_penalty(1, 1000), Some(100));
    assert_eq!(error_penalty(9, 1000), Some(100));
    assert_eq!(error_penalty(10, 1000), Some(250));
    assert_eq!(error_penalty(100, 1000), Some(500));
    assert_eq!(error_penalty(5, 0), Some(500)); // only errors
    let mut last = 0;
    for bad in 0..=1000 {
        let p = error_penalty(bad, 1000).unwrap_or(0);
        assert!(p >= last);
        last = p;
    }
}

#[test]
fn error_rate_over_the_window() {
    let mut m = monitor(HealthConfig::default());
    m.handle_counters(ms(0), counters(1000, 0));
    assert_eq!(m.error_counts(), None);
    assert_eq!(m.health(ms(0)).score, BASE_SCORE);
    // 1000 frames, 2 errors in 500 ms: 0.2 %.
    m.handle_counters(ms(500), counters(1998, 2));
    assert_eq!(m.error_counts(), Some((2, 1000)));
    assert_eq!(m.health(ms(500)).score, BASE_SCORE - 100);
    // 20 more errors out of 1000: 22 / 2000 over the window is 1.1 %.
    m.handle_counters(ms(1000), counters(2978, 22));
    assert_eq!(m.error_counts(), Some((22, 2000)));
    assert_eq!(m.health(ms(1000)).score, BASE_SCORE - 250);
    // A clean second: the old errors leave the window.
    m.handle_counters(ms(1500), counters(3978, 22));
    m.handle_counters(ms(2000), counters(4978, 22));
    assert_eq!(m.error_counts(), Some((0, 2000)));
    assert_eq!(m.health(ms(2000)).score, BASE_SCORE);
    // Heavy errors: working no more.
    m.handle_counters(ms(2500), counters(5078, 522));
    assert_eq!(m.health(ms(2500)).score, BASE_SCORE - 500);
    assert!(!m.is_working(ms(2500)));
    let e = m.explain(ms(2500)).to_string();
    assert!(e.contains("errors 500/1600 frames -500"), "{e}");
}

#[test]
fn counter_reset_starts_a_new_window() {
    let mut m = monitor(HealthConfig::default());
    m.handle_counters(ms(0), counters(1000, 50));
    m.handle_counters(ms(100), counters(10, 0));
    assert_eq!(m.error_counts(), None);
    m.handle_counters(ms(200), counters(110, 0));
    assert_eq!(m.error_counts(), Some((0, 100)));
}

#[test]
fn dropped_rx_is_not_an_error_but_tx_drops_are() {
    let mut m = monitor(HealthConfig::default());
    m.handle_counters(ms(0), Counters::default());
    let c = Counters {
        rx_packets: 100,
        rx_dropped: 50,
        ..Counters::default()
    };
    m.handle_counters(ms(100), c);
    assert_eq!(m.health(ms(100)).score, BASE_SCORE);
    let c = Counters {
        tx_dropped: 50,
        ..c
    };
    m.handle_counters(ms(200), c);
    assert_eq!(m.health(ms(200)).score, BASE_SCORE - 500);
}

#[test]
fn own_and_peer_frames_are_not_stations() {
    let mut h = health();
    assert_eq!(h.handle_frame(ms(1), 0, &ncp(PEER0)).unwrap(), Heard::Peer);
    assert_eq!(
        h.handle_frame(ms(1), 0, &sap_response(OWN1)).unwrap(),
        Heard::Own
    );
    assert!(h.handle_frame(ms(1), 0, &[0u8; 10]).is_err());
    let c = h.frame_counters();
    assert_eq!((c.own, c.peer, c.bad), (1, 1, 1));
    assert_eq!(score(&h, ms(2), 0).score, BASE_SCORE);
    assert!(!h.hears_network(ms(2)).hears);
}

#[test]
fn station_kinds() {
    let mut h = health();
    let kind = |h: &mut Health, f: &[u8]| match h.handle_frame(ms(1), 0, f).unwrap() {
        Heard::Station { kind, .. } => kind,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        kind(&mut h, &rip_response(ROUTER)),
        StationKind::RipResponse
    );
    assert_eq!(
        kind(&mut h, &sap_response(ROUTER)),
        StationKind::SapResponse
    );
    let d = frame(
        CLIENT,
        PacketType::PEP,
        DIAG_SOCKET,
        PROBE_SOCKET,
        &[1, 1, 0, 0, 1, 0],
    );
    assert_eq!(kind(&mut h, &d), StationKind::DiagReply);
    assert!(matches!(kind(&mut h, &ncp(CLIENT)), StationKind::Other(_)));
    // A malformed RIP packet is still a station, but no answer to a probe.
    let bad = frame(
        ROUTER,
        PacketType::RIP,
        Socket::RIP,
        PROBE_SOCKET,
        &[0, 2, 1],
    );
    let k = kind(&mut h, &bad);
    assert!(!k.answers_probe());
}

#[test]
fn hears_network_needs_a_working_adapter_and_a_fresh_station() {
    let mut h = health();
    let ev = h.hears_network(ms(0));
    assert!(!ev.hears);
    assert_eq!(
        ev.to_string(),
        "does not hear the network (no station within 3000 ms): adapter 0 (working) heard \
         nothing; adapter 1 (working) heard nothing"
    );
    // The peer alone is not the network.
    h.handle_peer_state(ms(5), 0);
    assert!(!h.hears_network(ms(5)).hears);
    h.handle_frame(ms(10), 1, &rip_response(ROUTER)).unwrap();
    let ev = h.hears_network(ms(22));
    assert!(ev.hears);
    assert_eq!(
        ev.to_string(),
        "hears the network: adapter 0 (working) heard nothing; adapter 1 (working) heard \
         02:00:00:00:00:99 (RIP response) 12 ms ago"
    );
    // The adapter that heard it goes down: the evidence no longer counts.
    h.handle_link(ms(30), 1, DOWN);
    let ev = h.hears_network(ms(30));
    assert!(!ev.hears);
    assert!(ev
        .to_string()
        .contains("adapter 1 (not working) heard 02:00:00:00:00:99"));
    // Up again, but too late: stale.
    h.handle_link(ms(3100), 1, LinkStatus::UP);
    assert!(!h.hears_network(ms(3100)).hears);
}

#[test]
fn poll_timeout_covers_bonus_edges_and_never_repeats_a_past_time() {
    let mut h = health();
    assert_eq!(h.poll_timeout(), None);
    h.handle_peer_state(ms(10), 0);
    assert_eq!(h.poll_timeout(), Some(ms(30)));
    h.handle_frame(ms(20), 1, &ncp(CLIENT)).unwrap();
    assert_eq!(h.poll_timeout(), Some(ms(30)));
    h.handle_timeout(ms(30));
    assert_eq!(h.poll_timeout(), Some(ms(3020)));
    h.handle_timeout(ms(3020));
    assert_eq!(h.poll_timeout(), None);
}

#[test]
fn state_adapters_and_summary_from_state() {
    let h = health();
    let list = h.state_adapters(ms(0));
    assert_eq!(list.len(), 2);
    assert_eq!(list[1].index, 1);
    let s = StateRepr {
        flags: StateFlags::default(),
        server_id: 1,
        name: [0; 32],
        incarnation: 1,
        sequence: 1,
        generation: 1,
        role: Role::MirroredPrimary,
        mirror_state: MirrorState::Mirrored,
        priority: 0,
        msl_state: MslLinkState::Up,
        msl_age_ms: 0,
        engine_net: Net(1),
        interval_us: 5000,
        working_adapters: 2,
        total_score: 1200,
        adapters: list,
    };
    assert_eq!(Summary::from_state(&s), h.summary(ms(0)));
    assert_eq!(h.summary(ms(0)).rank(), s.functional_rank());
}

#[test]
fn sysfs_counters() {
    let dir = std::env::temp_dir().join(format!("sft3-health-{}", std::process::id()));
    let stats = dir.join("eth9").join("statistics");
    std::fs::create_dir_all(&stats).unwrap();
    for (i, name) in [
        "rx_packets",
        "tx_packets",
        "rx_errors",
        "tx_errors",
        "rx_dropped",
        "tx_dropped",
    ]
    .iter()
    .enumerate()
    {
        std::fs::write(stats.join(name), format!("{}\n", i + 1)).unwrap();
    }
    let c = sysfs::read_counters_in(&dir, "eth9").unwrap();
    assert_eq!(
        c,
        Counters {
            rx_packets: 1,
            tx_packets: 2,
            rx_errors: 3,
            tx_errors: 4,
            rx_dropped: 5,
            tx_dropped: 6
        }
    );
    std::fs::write(stats.join("tx_dropped"), "lots\n").unwrap();
    let e = sysfs::read_counters_in(&dir, "eth9").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    assert!(sysfs::read_counters_in(&dir, "eth8").is_err());
    assert_eq!(
        sysfs::read_counters("../x").unwrap_err().kind(),
        std::io::ErrorKind::InvalidInput
    );
    std::fs::remove_dir_all(&dir).unwrap();
    // The loopback device exists in every namespace.
    if std::path::Path::new("/sys/class/net/lo/statistics").exists() {
        sysfs::read_counters("lo").unwrap();
    }
}

proptest! {
    #[test]
    fn random_frames_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut h = health();
        let _ = h.handle_frame(ms(1), 0, &bytes);
        let _ = h.handle_frame(ms(1), 7, &bytes);
        let _ = h.explain(ms(2));
    }

    #[test]
    fn prefixes_of_station_frames_never_panic(cut in 0usize..200) {
        let mut h = health();
        for f in [rip_response(ROUTER), sap_response(CLIENT), ncp(CLIENT)] {
            let _ = h.handle_frame(ms(1), 0, &f[..cut.min(f.len())]);
        }
    }

    #[test]
    fn score_is_bounded_and_monotone_in_errors(good in 0u64..10_000, bad in 0u64..10_000) {
        let mut m = monitor(HealthConfig::default());
        m.handle_counters(ms(0), Counters::default());
        m.handle_counters(ms(100), counters(good, bad));
        let s = m.health(ms(100)).score;
        prop_assert!(s <= MAX_SCORE);
        let mut m2 = monitor(HealthConfig::default());
        m2.handle_counters(ms(0), Counters::default());
        m2.handle_counters(ms(100), counters(good, bad + 1));
        prop_assert!(m2.health(ms(100)).score <= s);
    }
}

/// Both servers starting together: the peer's probe can arrive before its first state
/// packet, when its MAC is not known yet, and counts as a station. Once a state packet
/// names the MAC, that evidence is forgotten: the peer alone never passes the isolation
/// check.
#[test]
fn the_peers_probe_stops_counting_once_its_mac_is_known() {
    let mut h = health();
    h.handle_frame(ms(10), 0, &rip_response(ROUTER)).unwrap();
    assert!(score(&h, ms(11), 0).flags.contains(AdapterFlags::HEARS_IPX));
    h.add_peer_mac(ROUTER);
    assert!(!score(&h, ms(12), 0).flags.contains(AdapterFlags::HEARS_IPX));
    assert!(!h.hears_network(ms(12)).hears);
    // Another station still counts.
    h.handle_frame(ms(20), 0, &ncp(CLIENT)).unwrap();
    assert!(score(&h, ms(21), 0).flags.contains(AdapterFlags::HEARS_IPX));
}
