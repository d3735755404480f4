//! The beacon over the simulated link: two servers, two LAN adapters each, one segment per
//! adapter. Packets flow at the interval, a cut path falls silent after 20 ms of virtual time
//! while the other stays up, restarts are reported, the peer's MAC is learnt and used, and
//! the same seed gives the same trace.

#[path = "beacon_common/mod.rs"]
mod world;

use std::time::Duration;

use sft3::beacon::{Beacon, BeaconEvent, LocalState, PathStatus};
use sft3::link::sim::Faults;
use sft3::link::Link;
use sft3::wire::state::{Role, StateFlags, StateRepr};
use sft3::wire::{Framing, IpxFrame, MacAddr, Net};
use world::{config, path_events, Node, World, MS};

#[test]
fn packets_flow_at_the_interval() {
    let mut w = World::new(1, Faults::NONE, |_, c| c);
    w.run_until(100 * MS);
    for n in 0..2 {
        let b = &w.nodes[n].beacon;
        let c = b.counters();
        // Both adapters, at 0, 5, ..., 100 ms.
        assert_eq!(c.sent, 42, "node {n}: {c:?}");
        assert!(c.received >= 40, "node {n}: {c:?}");
        assert_eq!(c.dropped.total(), 0, "node {n}: {c:?}");
        assert_eq!(b.sequence(), 42);
        assert!(b.any_path_up());
        assert_eq!(b.all_silent_since(), None);
        assert_eq!(b.peer_id(), Some(2 - n as u64));
        assert_eq!(b.peer_incarnation(), Some(100));
        for p in b.paths() {
            assert_eq!(p.status, PathStatus::Up);
            assert!(p.packets >= 20);
        }
        // Each adapter's frames leave exactly every 5 ms.
        for a in 0..2u8 {
            let times: Vec<Duration> = w.nodes[n]
                .sent
                .iter()
                .filter(|s| s.1 == a)
                .map(|s| s.0)
                .collect();
            assert_eq!(times.len(), 21);
            assert!(times.windows(2).all(|t| t[1] - t[0] == 5 * MS), "{times:?}");
        }
        // Two paths up, and the unchanged state reported once.
        let ev = w.events(n);
        let ups = ev
            .iter()
            .filter(|e| matches!(e.1, BeaconEvent::PathUp { .. }))
            .count();
        let states = ev
            .iter()
            .filter(|e| matches!(e.1, BeaconEvent::PeerState { .. }))
            .count();
        assert_eq!((ups, states, ev.len()), (2, 1, 3), "{ev:?}");
    }
    // The packets are what the wire layer reads: IPX type 4, no checksum, socket 0x5354.
    let (_, _, f) = &w.nodes[0].sent[0];
    let fr = IpxFrame::parse(f).unwrap();
    assert_eq!(fr.framing, Framing::EthernetII);
    assert_eq!(fr.ipx.packet_type().0, 4);
    assert_eq!(fr.ipx.checksum(), 0xffff);
    assert_eq!(fr.ipx.dst().socket.0, 0x5354);
    assert_eq!(fr.ipx.src().socket.0, 0x5354);
    assert_eq!(fr.ipx.src().net, Net(0x1000));
    let s = StateRepr::parse_bytes(fr.ipx.payload(), None).unwrap();
    assert_eq!((s.server_id, s.incarnation, s.sequence), (1, 100, 1));
    assert_eq!(s.interval_us, 5000);
    assert_eq!(s.name(), b"SFT-1");
}

#[test]
fn a_cut_path_falls_silent_after_20_ms_and_comes_back() {
    let mut w = World::new(2, Faults::NONE, |_, c| c);
    w.run_until(50 * MS);
    w.cut(0, true);
    w.run_until(100 * MS);
    for n in 0..2 {
        let b = &w.nodes[n].beacon;
        assert_eq!(b.path(0).unwrap().status, PathStatus::Silent);
        assert_eq!(b.path(1).unwrap().status, PathStatus::Up);
        assert!(b.any_path_up());
        let ev = path_events(&w.events(n));
        let silent: Vec<_> = ev
            .iter()
            .filter_map(|(t, e)| match e {
                BeaconEvent::PathSilent {
                    adapter,
                    last_heard,
                    silent_for,
                } => Some((*t, *adapter, *last_heard, *silent_for)),
                _ => None,
            })
            .collect();
        assert_eq!(silent.len(), 1, "{ev:?}");
        let (at, adapter, last, silent_for) = silent[0];
        assert_eq!(adapter, 0);
        // The packet sent at 50 ms was in flight when the cut came: the last one heard
        // left at 45 ms and arrived 100 µs later.
        assert_eq!(last, 45 * MS + Duration::from_micros(100));
        assert_eq!(silent_for, 20 * MS);
        assert_eq!(at, last + 20 * MS);
    }
    w.cut(0, false);
    w.run_until(110 * MS);
    for n in 0..2 {
        let ev = path_events(&w.events(n));
        let (t, last) = ev.last().unwrap();
        assert_eq!(last, &BeaconEvent::PathUp { adapter: 0 }, "{ev:?}");
        assert!(*t <= 105 * MS + Duration::from_micros(100), "{t:?}");
        assert!(w.nodes[n].beacon.paths().iter().all(|p| p.is_up()));
    }
}

#[test]
fn both_paths_cut_means_all_silent_since_the_last_packet() {
    let mut w = World::new(3, Faults::NONE, |_, c| c);
    w.run_until(30 * MS);
    w.cut(0, true);
    w.cut(1, true);
    w.run_until(60 * MS);
    let b = &w.nodes[0].beacon;
    assert_eq!(
        b.evidence(60 * MS),
        "lan 0 silent, heard 34 ms ago; lan 1 silent, heard 34 ms ago"
    );
    assert!(!b.any_path_up());
    let last = 25 * MS + Duration::from_micros(100);
    assert_eq!(b.all_silent_since(), Some(last));
    assert_eq!(b.last_heard(), Some(last));
    assert_eq!(b.counters().path_silences, 2);
}

#[test]
fn silence_follows_the_peers_advertised_interval() {
    // Server 2 sends every 10 ms: server 1's paths fall silent after 40 ms, not 20.
    let mut w = World::new(4, Faults::NONE, |n, mut c| {
        if n == 1 {
            c.interval = 10 * MS;
        }
        c
    });
    w.run_until(50 * MS);
    assert_eq!(w.nodes[0].beacon.silence_threshold(), 40 * MS);
    assert_eq!(w.nodes[1].beacon.silence_threshold(), 20 * MS);
    w.cut(1, true);
    w.run_until(120 * MS);
    let ev = path_events(&w.events(0));
    let silent = ev
        .iter()
        .find_map(|(t, e)| match e {
            BeaconEvent::PathSilent {
                adapter: 1,
                last_heard,
                silent_for,
            } => Some((*t, *last_heard, *silent_for)),
            _ => None,
        })
        .expect("path 1 silent");
    assert_eq!(silent.2, 40 * MS);
    assert_eq!(silent.1, 40 * MS + Duration::from_micros(100));
}

#[test]
fn a_restart_is_reported_and_the_old_incarnation_is_refused() {
    let mut w = World::new(5, Faults::NONE, |_, c| c);
    w.run_until(30 * MS);
    let old_frames = w.nodes[1].sent.clone();
    w.restart(1, 101);
    w.run_until(60 * MS);
    let ev = w.events(0);
    let restarts: Vec<_> = ev
        .iter()
        .filter(|(_, e)| matches!(e, BeaconEvent::PeerRestarted { .. }))
        .collect();
    assert_eq!(restarts.len(), 1, "{ev:?}");
    assert_eq!(
        restarts[0],
        &(
            30 * MS + Duration::from_micros(100),
            BeaconEvent::PeerRestarted { old: 100, new: 101 }
        )
    );
    let b = &mut w.nodes[0].beacon;
    assert_eq!(b.peer_incarnation(), Some(101));
    // The paths never went silent; the new state (sequence from 1 again) was reported.
    assert_eq!(b.counters().path_silences, 0);
    assert_eq!(b.counters().peer_restarts, 1);
    // Frames of the old incarnation, replayed, change nothing.
    // (One was already dropped: at 30.1 ms the old incarnation's packet on adapter 1 was
    // handled after the new incarnation's on adapter 0.)
    assert_eq!(b.counters().dropped.stale_incarnation, 1);
    let before = (b.peer_state().cloned(), b.paths().to_vec());
    for (_, a, f) in &old_frames {
        b.handle_frame(60 * MS, *a, f);
    }
    assert_eq!(
        b.counters().dropped.stale_incarnation,
        1 + old_frames.len() as u64
    );
    assert_eq!((b.peer_state().cloned(), b.paths().to_vec()), before);
    assert!(b.poll_event().is_none());
}

#[test]
fn replayed_packets_are_dropped_and_change_nothing() {
    let mut w = World::new(6, Faults::NONE, |_, c| c);
    // Past 40.1 ms: every packet sent so far has arrived.
    w.run_until(41 * MS);
    let frames = w.nodes[1].sent.clone();
    let b = &mut w.nodes[0].beacon;
    let before = (
        b.peer_state().cloned(),
        b.paths().to_vec(),
        b.counters().received,
    );
    // Every packet of the peer again, on its own adapter and on the other one (where the
    // unicast ones are not for us).
    for (_, a, f) in &frames {
        b.handle_frame(41 * MS, *a, f);
        b.handle_frame(41 * MS, 1 - *a, f);
    }
    let d = b.counters().dropped;
    assert_eq!(d.total(), 2 * frames.len() as u64, "{d:?}");
    assert_eq!(d.replayed + d.not_for_us, d.total(), "{d:?}");
    assert!(d.replayed > frames.len() as u64, "{d:?}");
    let after = (
        b.peer_state().cloned(),
        b.paths().to_vec(),
        b.counters().received,
    );
    assert_eq!(after, before);
    assert!(b.poll_event().is_none());
}

#[test]
fn the_peers_mac_is_learnt_then_used_as_unicast_destination() {
    let mut w = World::new(7, Faults::NONE, |_, c| c);
    // Unicast frames reach only their destination: a wrong MAC would silence the path.
    for s in w.segments.clone() {
        w.net.set_unicast_filter(s, true);
    }
    w.run_until(100 * MS);
    for n in 0..2 {
        let peer = 1 - n;
        let node = &w.nodes[n];
        let first = IpxFrame::parse(&node.sent[0].2).unwrap();
        assert_eq!(first.eth.dst, MacAddr::BROADCAST);
        assert_eq!(first.ipx.dst().node, MacAddr::BROADCAST);
        for a in 0..2usize {
            let peer_mac = w.nodes[peer].links[a].info().mac;
            assert_eq!(node.beacon.path(a as u8).unwrap().peer_mac, Some(peer_mac));
            let (_, _, last) = node.sent.iter().rev().find(|s| s.1 == a as u8).unwrap();
            let f = IpxFrame::parse(last).unwrap();
            assert_eq!(f.eth.dst, peer_mac);
            assert_eq!(f.ipx.dst().node, peer_mac);
            assert_eq!(f.eth.src, node.links[a].info().mac);
        }
        assert_eq!(node.beacon.counters().path_silences, 0);
        assert!(node.beacon.paths().iter().all(|p| p.is_up()));
    }
}

#[test]
fn always_broadcast_and_other_framings() {
    let mut w = World::new(8, Faults::NONE, |n, mut c| {
        c.always_broadcast = n == 0;
        c.adapters[1].framing = if n == 0 {
            Framing::Raw8023
        } else {
            Framing::Snap
        };
        c
    });
    w.run_until(50 * MS);
    let last = IpxFrame::parse(&w.nodes[0].sent.last().unwrap().2).unwrap();
    assert_eq!(last.eth.dst, MacAddr::BROADCAST);
    assert_eq!(last.framing, Framing::Raw8023);
    for n in 0..2 {
        let b = &w.nodes[n].beacon;
        assert!(b.paths().iter().all(|p| p.is_up()), "node {n}");
        assert_eq!(b.counters().dropped.total(), 0);
    }
}

#[test]
fn state_changes_are_reported_once_each() {
    let mut w = World::new(9, Faults::NONE, |_, c| c);
    w.run_until(20 * MS);
    let mut l = LocalState {
        role: Role::MirroredPrimary,
        flags: StateFlags::SERVING.union(StateFlags::DATA_CONSISTENT),
        generation: 7,
        ..LocalState::default()
    };
    w.nodes[1].beacon.set_local(l.clone());
    w.run_until(40 * MS);
    // Only the MSL age moves: no new report.
    l.msl_last_heard = Some(39 * MS);
    w.nodes[1].beacon.set_local(l);
    w.run_until(60 * MS);
    let states: Vec<StateRepr> = w
        .events(0)
        .into_iter()
        .filter_map(|(_, e)| match e {
            BeaconEvent::PeerState { state, .. } => Some(state),
            _ => None,
        })
        .collect();
    assert_eq!(states.len(), 2);
    assert_eq!(states[0].role, Role::Starting);
    assert_eq!(states[1].role, Role::MirroredPrimary);
    assert!(states[1].flags.contains(StateFlags::SERVING));
    let now = w.nodes[0].beacon.peer_state().unwrap().clone();
    assert_eq!(now.generation, 7);
    assert!(now.msl_age_ms >= 15, "{}", now.msl_age_ms);
}

#[test]
fn reordering_across_paths_is_not_taken_for_replay() {
    // Jitter reorders the two paths' packets; the replay window takes them.
    let f = Faults {
        loss: 0.05,
        jitter: Duration::from_millis(3),
        reorder: 0.1,
        reorder_delay: Duration::from_millis(2),
        duplicate: 0.1,
        ..Faults::NONE
    };
    let mut w = World::new(10, f, |_, c| c);
    w.run_until(2000 * MS);
    for n in 0..2 {
        let c = w.nodes[n].beacon.counters();
        assert!(c.reordered > 0, "{c:?}");
        // Only the duplicates are dropped as replays.
        assert_eq!(c.dropped.total(), c.dropped.replayed, "{c:?}");
        assert!(c.dropped.replayed > 0, "{c:?}");
    }
}

#[test]
fn a_third_server_on_the_segment_is_ignored() {
    let mut w = World::new(11, Faults::NONE, |n, mut c| {
        c.peer_id = Some(2 - n as u64);
        c
    });
    // Server 3 joins segment 0 with one adapter.
    let l = w.net.add_adapter("s3-lan0");
    w.net.attach(w.segments[0], l.id()).unwrap();
    let cfg = config(3, 100, std::slice::from_ref(&l), None);
    w.nodes.push(Node {
        beacon: Beacon::new(cfg, Duration::ZERO).unwrap(),
        links: vec![l],
        events: Vec::new(),
        sent: Vec::new(),
    });
    w.run_until(100 * MS);
    for n in 0..2 {
        let b = &w.nodes[n].beacon;
        // Server 3 took the first server it heard for its peer and sends to it unicast:
        // the other one counts those as not for it (the segment floods). 20 of its packets
        // arrived by 100 ms.
        let d = b.counters().dropped;
        assert!(d.third_server >= 1, "{d:?}");
        assert_eq!(d.third_server + d.not_for_us, 20, "{d:?}");
        assert_eq!(b.peer_id(), Some(2 - n as u64));
        assert_eq!(b.peer_state().unwrap().server_id, 2 - n as u64);
        assert!(w.events(n).iter().all(|(_, e)| match e {
            BeaconEvent::PeerState { state, .. } => state.server_id == 2 - n as u64,
            _ => true,
        }));
    }
}
