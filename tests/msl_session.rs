//! The MSL transport core's session transitions over the simulated link: handshake,
//! restarts, refusals (version, configuration, key), replays, garbage, silence and recovery.

mod msl_common;

use msl_common::{class_of, config, key, still_works, Pair, Rng, MS};
use sft3::link::sim::Faults;
use sft3::link::Link;
use sft3::msl::{CloseReason, Msl, MslEvent, MslState, Priority};
use sft3::wire::msl::{FrameType, MslLinkFrame};

#[test]
fn handshake_exchanges_identities() {
    let mut p = Pair::new(1, 1500, |_, c| c);
    p.up();
    for (i, j) in [(0, 1), (1, 0)] {
        let ups: Vec<_> = p.events[i]
            .iter()
            .filter_map(|(_, e)| match e {
                MslEvent::Up { peer } => Some(peer.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(ups.len(), 1);
        let h = &ups[0].handshake;
        assert_eq!(h.server_id, j as u64 + 1);
        assert_eq!(ups[0].incarnation, 100 * (j as u64 + 1));
        assert_eq!(ups[0].mac, p.ad[j].info().mac);
        assert_eq!(h.current_generation(), Some(0x1001 + j as u64));
        assert_eq!(h.volume_size, 1 << 30);
    }
    // Up within a few frames on a perfect wire, and it stays up while idle.
    assert!(p.net.now() < 10 * MS, "{:?}", p.net.now());
    p.run_for(200 * MS);
    assert!(p.ep.iter().all(|e| e.state() == MslState::Up));
    assert!(p.ep.iter().all(|e| e.counters().heartbeats_sent >= 30));
    assert!(p.ep.iter().all(|e| e.counters().dropped.total() == 0));
}

#[test]
fn handshake_survives_loss() {
    let mut p = Pair::new(9, 1500, |_, c| c);
    p.faults(Faults {
        loss: 0.5,
        ..Faults::NONE
    });
    p.up();
}

/// Side `r` restarts (a new endpoint with a higher incarnation) while side `o` has data
/// in flight to it: `o` reports the restart, hands back the unacked messages, and a new
/// session carries new messages.
fn restart(r: usize) {
    let o = 1 - r;
    let mut p = Pair::new(5, 1500, |_, c| c);
    p.up();
    p.ep[o].send(Priority::Event, b"before").unwrap();
    p.run_for(20 * MS);
    assert_eq!(p.delivered(r).len(), 1);
    // Cut, queue a message that cannot be acked, restart `r` behind the cut.
    p.net.cut_both(p.ad[0].id(), p.ad[1].id());
    p.ep[o].send(Priority::Bulk, &[7u8; 5000]).unwrap();
    p.run_for(10 * MS);
    let mut cfg = p.ep[r].config().clone();
    cfg.incarnation += 1;
    let old = p.ep[r].config().incarnation;
    p.ep[r] = Msl::new(cfg, p.net.now());
    p.events[r].clear();
    p.net.restore_both(p.ad[0].id(), p.ad[1].id());
    p.up();
    let restarted: Vec<_> = p.events[o]
        .iter()
        .filter_map(|(_, e)| match e {
            MslEvent::Restarted {
                old_incarnation,
                new_incarnation,
            } => Some((*old_incarnation, *new_incarnation)),
            _ => None,
        })
        .collect();
    assert_eq!(restarted, vec![(old, old + 1)]);
    let lost: Vec<_> = p.events[o]
        .iter()
        .filter_map(|(_, e)| match e {
            MslEvent::Lost { priority, message } => Some((*priority, message.len())),
            _ => None,
        })
        .collect();
    assert_eq!(lost, vec![(Priority::Bulk, 5000)]);
    assert_eq!(p.count(o, |e| matches!(e, MslEvent::Up { .. })), 2);
    // The new session works both ways, starting its streams afresh.
    p.ep[o].send(Priority::Event, b"after").unwrap();
    p.ep[r].send(Priority::Event, b"hello again").unwrap();
    p.run_for(20 * MS);
    assert_eq!(p.delivered(r), vec![(Priority::Event, b"after".to_vec())]);
    assert_eq!(p.delivered(o).last().unwrap().1, b"hello again".to_vec());
    assert_eq!(p.ep[o].counters().peer_restarts, 1);
}

#[test]
fn restart_of_b_resets_the_session() {
    restart(1);
}

#[test]
fn restart_of_a_resets_the_session() {
    restart(0);
}

#[test]
fn old_session_frames_are_dropped() {
    // Record A's frames of the first session, restart B, replay them: all dropped.
    let mut p = Pair::new(6, 1500, |_, c| c);
    p.up();
    p.net.record_trace(false);
    let mut old = Vec::new();
    p.ep[0].send(Priority::Event, b"x").unwrap();
    let mut buf = vec![0u8; 2000];
    let now = p.net.now();
    while let Some(n) = p.ep[0].poll_transmit(now, &mut buf) {
        old.push(buf[..n].to_vec());
    }
    assert!(!old.is_empty());
    let mut cfg = p.ep[1].config().clone();
    cfg.incarnation += 1;
    p.ep[1] = Msl::new(cfg, now);
    for f in &old {
        p.ep[1].handle_frame(now, f);
    }
    let c = p.ep[1].counters();
    assert_eq!(c.dropped.stale_incarnation, old.len() as u64);
    assert_eq!(p.ep[1].state(), MslState::Connecting);
    assert!(p.ep[1].poll_event().is_none());
    // And an old hello replayed to A after B's restart is known stale too.
    p.up();
    let stale_before = p.ep[0].counters().dropped.stale_incarnation;
    let mut hello = vec![0u8; 2000];
    let mut b_old = Msl::new(config(2, 200, p.ad[1].info().mac, 1500), p.net.now());
    let n = b_old.poll_transmit(p.net.now(), &mut hello).unwrap();
    p.ep[0].handle_frame(p.net.now(), &hello[..n]);
    assert_eq!(
        p.ep[0].counters().dropped.stale_incarnation,
        stale_before + 1
    );
    assert_eq!(p.ep[0].state(), MslState::Up);
}

fn refusal(p: &mut Pair, reason: CloseReason, detail: &str) {
    p.run_for(100 * MS);
    for i in 0..2 {
        assert_eq!(p.ep[i].state(), MslState::Refused(reason), "side {i}");
        assert_eq!(p.count(i, |e| matches!(e, MslEvent::Up { .. })), 0);
        let refused: Vec<_> = p.events[i]
            .iter()
            .filter_map(|(_, e)| match e {
                MslEvent::Refused {
                    reason: r, detail, ..
                } => Some((*r, detail.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(refused.len(), 1, "side {i}: {refused:?}");
        assert_eq!(refused[0].0, reason);
        assert!(
            refused[0].1.contains(detail),
            "side {i}: {:?}",
            refused[0].1
        );
    }
    // The first side to hear an incompatible hello resets; the other learns why from it.
    assert!(p.ep.iter().any(|e| e.counters().resets_sent >= 1));
    // Refused endpoints stop sending hellos.
    let sent = p.ep[0].counters().frames_sent;
    p.run_for(100 * MS);
    assert!(p.ep[0].counters().frames_sent <= sent + 1);
}

#[test]
fn version_mismatch_is_refused_on_both_sides() {
    let mut p = Pair::new(2, 1500, |i, mut c| {
        if i == 1 {
            c.versions = (2, 3);
        }
        c
    });
    refusal(
        &mut p,
        CloseReason::VERSION_MISMATCH,
        "no MSL version in common",
    );
}

#[test]
fn compat_mismatch_is_refused_on_both_sides() {
    let mut p = Pair::new(3, 1500, |i, mut c| {
        if i == 1 {
            c.compat.volume_size *= 2;
        }
        c
    });
    refusal(&mut p, CloseReason::CONFIG_MISMATCH, "volume size");
    let mut p = Pair::new(3, 1500, |i, mut c| {
        if i == 0 {
            c.compat.engine_version = 0x0002_0000;
        }
        c
    });
    refusal(&mut p, CloseReason::CONFIG_MISMATCH, "engine version");
}

#[test]
fn a_restarted_peer_with_fixed_config_is_accepted() {
    let mut p = Pair::new(4, 1500, |i, mut c| {
        if i == 1 {
            c.compat.region_size = 4096;
        }
        c
    });
    p.run_for(50 * MS);
    assert!(matches!(p.ep[0].state(), MslState::Refused(_)));
    let mut cfg = p.ep[1].config().clone();
    cfg.incarnation += 1;
    cfg.compat.region_size = 1 << 20;
    p.ep[1] = Msl::new(cfg, p.net.now());
    p.up();
}

#[test]
fn key_mismatch_is_dropped_and_counted() {
    for (ka, kb) in [
        (Some(key(1)), Some(key(2))),
        (Some(key(1)), None),
        (None, Some(key(2))),
    ] {
        let mut p = Pair::new(7, 1500, |i, mut c| {
            c.key = if i == 0 { ka } else { kb };
            c
        });
        p.run_for(100 * MS);
        for i in 0..2 {
            assert_eq!(p.ep[i].state(), MslState::Connecting);
            let c = p.ep[i].counters();
            assert!(c.dropped.bad_auth >= 10, "side {i}: {c:?}");
            assert_eq!(c.frames_received, 0);
            assert_eq!(p.count(i, |e| matches!(e, MslEvent::AuthFailing { .. })), 1);
            assert_eq!(p.events[i].len(), 1);
        }
    }
}

#[test]
fn keyed_session_works_and_forgeries_are_dropped() {
    let mut p = Pair::new(8, 1500, |_, mut c| {
        c.key = Some(key(9));
        c
    });
    p.up();
    p.ep[0].send(Priority::Event, b"signed").unwrap();
    p.run_for(10 * MS);
    assert_eq!(p.delivered(1), vec![(Priority::Event, b"signed".to_vec())]);
    // A frame from an endpoint with the wrong key, and an untagged one, with the session's
    // incarnations: both dropped as bad auth, nothing changes.
    let now = p.net.now();
    let mut buf = vec![0u8; 2000];
    for k in [Some(key(10)), None] {
        let mut cfg = p.ep[0].config().clone();
        cfg.key = k;
        let mut forger = Msl::new(cfg, now);
        let n = forger.poll_transmit(now, &mut buf).unwrap();
        p.ep[1].handle_frame(now, &buf[..n]);
    }
    assert_eq!(p.ep[1].counters().dropped.bad_auth, 2);
    assert_eq!(p.ep[1].state(), MslState::Up);
    assert!(p.ep[1].poll_event().is_none());
}

#[test]
fn foreign_version_hello_gets_a_reset() {
    let mut p = Pair::new(10, 1500, |_, c| c);
    let now = p.net.now();
    let mut buf = vec![0u8; 2000];
    let n = p.ep[0].poll_transmit(now, &mut buf).unwrap();
    buf[14] = 2; // frame version 2
                 // One could be a damaged frame: no answer. Three in a row get one.
    let mut out = vec![0u8; 2000];
    p.ep[1].handle_frame(now, &buf[..n]);
    let m = p.ep[1].poll_transmit(now, &mut out).unwrap();
    assert_eq!(class_of(&out[..m]).0, FrameType::Hello);
    assert!(p.ep[1].poll_transmit(now, &mut out).is_none());
    p.ep[1].handle_frame(now, &buf[..n]);
    p.ep[1].handle_frame(now, &buf[..n]);
    assert_eq!(p.ep[1].counters().dropped.wrong_version, 3);
    assert_eq!(p.ep[1].state(), MslState::Connecting);
    let n = p.ep[1].poll_transmit(now, &mut buf).unwrap();
    let f = MslLinkFrame::parse(&buf[..n], None).unwrap();
    assert_eq!(f.msl.frame_type(), FrameType::Reset);
    assert_eq!(f.msl.receiver_incarnation(), 100);
    assert_eq!(
        &f.msl.payload()[..2],
        &CloseReason::VERSION_MISMATCH.0.to_be_bytes()
    );
}

#[test]
fn garbage_never_changes_state() {
    let mut p = Pair::new(11, 1500, |_, c| c);
    p.up();
    let mut rng = Rng(42);
    let now = p.net.now();
    let mut buf = vec![0u8; 2000];
    let n = p.ep[0].poll_transmit(now + 6 * MS, &mut buf).unwrap();
    let good = buf[..n].to_vec();
    for i in 0..good.len() * 8 {
        let mut f = good.clone();
        f[i / 8] ^= 1 << (i % 8);
        p.ep[1].handle_frame(now, &f);
    }
    for _ in 0..2000 {
        let len = rng.below(200) as usize;
        let f: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        p.ep[1].handle_frame(now, &f);
    }
    assert_eq!(p.ep[1].state(), MslState::Up);
    assert!(p.ep[1].poll_event().is_none());
    let c = p.ep[1].counters();
    assert!(
        c.dropped.bad_crc > 0 && c.dropped.not_msl > 0 && c.dropped.malformed > 0,
        "{c:?}"
    );
}

#[test]
fn silence_after_a_cut_and_recovery() {
    let mut p = Pair::new(12, 1500, |_, c| c);
    p.up();
    let cut_at = p.net.now();
    p.net.cut_both(p.ad[0].id(), p.ad[1].id());
    p.ep[0].send(Priority::Event, b"during the cut").unwrap();
    p.ep[0].send(Priority::Bulk, &[9u8; 150_000]).unwrap();
    p.run_for(40 * MS);
    for i in 0..2 {
        assert_eq!(p.ep[i].state(), MslState::Silent);
        let silent: Vec<_> = p.events[i]
            .iter()
            .filter_map(|(t, e)| match e {
                MslEvent::Silent { since, missed } => Some((*t, *since, *missed)),
                _ => None,
            })
            .collect();
        assert_eq!(silent.len(), 1);
        let (t, since, missed) = silent[0];
        assert!(missed >= 4);
        // Declared within 4 intervals (+ one heartbeat period of slack) of the last frame.
        assert!(
            since <= cut_at + 5 * MS && t <= cut_at + 26 * MS,
            "{silent:?} cut {cut_at:?}"
        );
    }
    // While silent, a timeout resends one frame per stream (a probe), not the window.
    let retx = p.ep[0].counters().retransmits;
    p.run_for(500 * MS);
    assert!(
        p.ep[0].counters().retransmits - retx <= 2 * 5,
        "{:?}",
        p.ep[0].counters()
    );
    p.net.restore_both(p.ad[0].id(), p.ad[1].id());
    p.run_for(250 * MS);
    for i in 0..2 {
        assert_eq!(p.ep[i].state(), MslState::Up);
        assert_eq!(p.count(i, |e| matches!(e, MslEvent::Recovered { .. })), 1);
    }
    assert_eq!(
        p.delivered(1),
        vec![
            (Priority::Event, b"during the cut".to_vec()),
            (Priority::Bulk, vec![9u8; 150_000])
        ]
    );
}

#[test]
fn one_way_cut_makes_the_deaf_side_silent() {
    let mut p = Pair::new(13, 1500, |_, c| c);
    p.up();
    p.net.cut(p.ad[0].id(), p.ad[1].id());
    p.run_for(40 * MS);
    assert_eq!(p.ep[1].state(), MslState::Silent);
    assert_eq!(p.ep[0].state(), MslState::Up);
}

#[test]
fn a_peer_without_the_session_resets_it() {
    // B loses its session state without a new incarnation (the safety net for any
    // desynchronisation): A's next frames get a reset, unknown-session, and A starts over.
    let mut p = Pair::new(16, 1500, |_, c| c);
    p.up();
    p.ep[0].send(Priority::Event, &[5u8; 3000]).unwrap();
    p.net.cut(p.ad[1].id(), p.ad[0].id()); // B's acks do not reach A
    p.run_for(MS);
    let cfg = p.ep[1].config().clone();
    p.ep[1] = Msl::new(cfg, p.net.now());
    p.events[1].clear();
    p.net.restore(p.ad[1].id(), p.ad[0].id());
    p.run_for(50 * MS);
    assert_eq!(
        p.count(
            0,
            |e| matches!(e, MslEvent::Closed { reason } if *reason == CloseReason::UNKNOWN_SESSION)
        ),
        1
    );
    assert_eq!(p.count(0, |e| matches!(e, MslEvent::Lost { .. })), 1);
    assert_eq!(p.count(0, |e| matches!(e, MslEvent::Up { .. })), 2);
    assert!(p.ep.iter().all(|e| e.state() == MslState::Up));
}

#[test]
fn close_ends_the_session_on_both_sides() {
    let mut p = Pair::new(17, 1500, |_, c| c);
    p.up();
    p.net.cut(p.ad[1].id(), p.ad[0].id()); // keep a message unacked
    p.ep[0].send(Priority::Bulk, &[1u8; 4000]).unwrap();
    p.run_for(MS);
    p.net.restore(p.ad[1].id(), p.ad[0].id());
    p.ep[0].close(CloseReason::SHUTDOWN);
    p.run_for(30 * MS);
    assert_eq!(p.ep[0].state(), MslState::Closed);
    assert_eq!(p.count(0, |e| matches!(e, MslEvent::Lost { .. })), 1);
    assert!(p.ep[0].send(Priority::Event, b"x").is_err());
    assert_eq!(
        p.count(
            1,
            |e| matches!(e, MslEvent::Closed { reason } if *reason == CloseReason::SHUTDOWN)
        ),
        1
    );
    // B says hello again; A, closed, ignores it.
    assert_eq!(p.ep[1].state(), MslState::Connecting);
    assert!(p.ep[0].counters().dropped.closed > 0);
}

// Regressions found by review: foreign refusals, backward incarnations, bogus SACKs and
// tiny frame limits. (Oversize messages: tests/msl_limits.rs.)

/// A frame from B's MAC to A, with a header of our choosing (no key).
#[allow(clippy::too_many_arguments)]
fn forged(
    ty: FrameType,
    prio: Priority,
    flags: u8,
    incs: (u64, u64),
    payload: &[u8],
    dst: sft3::wire::MacAddr,
) -> Vec<u8> {
    use sft3::wire::msl::{emit_msl_frame, ethernet_repr, MslRepr};
    let repr = MslRepr {
        frame_type: ty,
        priority: prio,
        flags,
        window: 256,
        sender_incarnation: incs.0,
        receiver_incarnation: incs.1,
        seq: 0,
        ack: 0,
        message_id: 0,
        fragment_offset: 0,
        message_len: 0,
        payload_len: payload.len(),
    };
    let eth = ethernet_repr(dst, sft3::wire::MacAddr([2, 0, 0, 0, 0, 9]), None);
    let mut buf = vec![0u8; 2000];
    let n = emit_msl_frame(&mut buf, &eth, &repr, payload, None).unwrap();
    buf.truncate(n);
    buf
}

#[test]
fn foreign_refusal_while_up() {
    let mut p = Pair::new(1, 1500, |_, c| c);
    p.up();
    let amac = p.ep[0].config().local_mac;
    let mut pl = [0u8; 64];
    let n = sft3::wire::msl::emit_close(&mut pl, CloseReason::CONFIG_MISMATCH, b"old").unwrap();
    // A refusal from another incarnation of B (a delayed one of B's previous process).
    let f = forged(
        FrameType::Reset,
        Priority::Control,
        0,
        (199, 100),
        &pl[..n],
        amac,
    );
    let now = p.net.now();
    p.ep[0].handle_frame(now, &f);
    assert_eq!(p.ep[0].state(), MslState::Up);
    assert_eq!(p.ep[0].peer().map(|x| x.incarnation), Some(200));
    assert_eq!(p.ep[0].counters().dropped.foreign_reset, 1);
    still_works(&mut p);
}

#[test]
fn keyed_replay_of_old_refusal() {
    let k = key(1);
    let mut p = Pair::new(8, 1500, |_, mut c| {
        c.key = Some(k);
        c
    });
    // Capture a genuine refusal of A's hello by an earlier, incompatible B process.
    let now = p.net.now();
    let mut b = vec![0u8; 2000];
    let n = p.ep[0].poll_transmit(now, &mut b).unwrap();
    let hello = b[..n].to_vec();
    let mut c0 = p.ep[1].config().clone();
    c0.incarnation = 150;
    c0.compat.volume_size += 1;
    let mut b0 = Msl::new(c0, now);
    b0.handle_frame(now, &hello);
    let n = b0.poll_transmit(now, &mut b).unwrap();
    let reset = b[..n].to_vec();
    let lf = MslLinkFrame::parse(&reset, Some(&k)).unwrap();
    assert_eq!(lf.msl.frame_type(), FrameType::Reset);
    p.up();
    p.run_for(20 * MS);
    let now = p.net.now();
    p.ep[0].handle_frame(now, &reset); // replayed
    assert_eq!(p.ep[0].state(), MslState::Up);
    assert_eq!(p.ep[0].counters().dropped.foreign_reset, 1);
    still_works(&mut p);
}

#[test]
fn lower_incarnation_restart() {
    let mut p = Pair::new(2, 1500, |_, c| c);
    p.up();
    // B restarts with a lower incarnation (its clock went backwards).
    let mut cfg = p.ep[1].config().clone();
    cfg.incarnation = 150;
    p.ep[1] = Msl::new(cfg, p.net.now());
    p.events[1].clear();
    p.ep[0].send(Priority::Event, b"x").unwrap();
    p.run_for(5000 * MS);
    assert_eq!(p.ep[0].peer().map(|x| x.incarnation), Some(150));
    assert_eq!(p.count(0, |e| matches!(e, MslEvent::Restarted { .. })), 1);
    assert_eq!(p.count(0, |e| matches!(e, MslEvent::Lost { .. })), 1);
    still_works(&mut p);
}

#[test]
fn forged_sack_all() {
    use sft3::wire::msl::{AckRepr, SackBlock};
    let mut p = Pair::new(5, 1500, |_, c| c);
    p.up();
    let amac = p.ep[0].config().local_mac;
    p.net.cut(p.ad[0].id(), p.ad[1].id());
    p.ep[0].send(Priority::Event, &[1u8; 4000]).unwrap();
    p.run_for(MS);
    let inflight = p.ep[0].in_flight(Priority::Event) as u32;
    assert!(inflight > 1);
    // A SACK of everything but the first frame (a bogus one, or the final ack is lost).
    let mut a = AckRepr {
        blocks: Default::default(),
    };
    a.blocks.push(SackBlock {
        start: 1,
        end: inflight,
    });
    let mut pl = [0u8; 200];
    let n = a.emit(&mut pl).unwrap();
    let f = forged(
        FrameType::Ack,
        Priority::Event,
        0x02,
        (200, 100),
        &pl[..n],
        amac,
    );
    let now = p.net.now();
    p.ep[0].handle_frame(now, &f);
    p.net.restore(p.ad[0].id(), p.ad[1].id());
    p.run_for(3000 * MS);
    assert_eq!(p.delivered(1).len(), 1);
    assert_eq!(p.ep[0].in_flight(Priority::Event), 0);
    still_works(&mut p);
}

#[test]
fn tiny_max_frame_is_refused() {
    let mut p = Pair::new(6, 1500, |i, mut c| {
        if i == 1 {
            c.mtu = 500;
        }
        c
    });
    p.run_for(100 * MS);
    assert_eq!(
        p.ep[0].state(),
        MslState::Refused(CloseReason::CONFIG_MISMATCH)
    );
    let detail = p.events[0].iter().find_map(|(_, e)| match e {
        MslEvent::Refused { detail, .. } => Some(detail.clone()),
        _ => None,
    });
    assert!(
        detail.is_some_and(|d| d.contains("576")),
        "{:?}",
        p.events[0]
    );
}

#[test]
fn first_burst_respects_the_peer_window() {
    let mut p = Pair::new(7, 1500, |i, mut c| {
        c.window = if i == 0 { 1024 } else { 32 };
        c
    });
    p.up();
    p.ep[0]
        .send(Priority::Bulk, &vec![3u8; 1400 * 800])
        .unwrap();
    // Before any ack of the bulk stream: at most B's window goes out.
    let now = p.net.now();
    let mut buf = vec![0u8; 2000];
    let mut data = 0;
    while let Some(n) = p.ep[0].poll_transmit(now, &mut buf) {
        data += usize::from(class_of(&buf[..n]) == (FrameType::Data, Priority::Bulk));
    }
    assert_eq!(data, 32);
}

/// The handshake announces the role as it is when the session forms, not as configured at
/// start: a server that became primary while its peer was away says so in the new session.
#[test]
fn a_new_session_carries_the_current_announcement() {
    use sft3::wire::state::{Role, StateFlags};
    let mut p = Pair::new(3, 1500, |_, c| c);
    p.up();
    let mut a = p.ep[0].announcement();
    assert_eq!(p.ep[1].peer().unwrap().handshake.role, a.role);
    // B restarts behind a cut; meanwhile A becomes an unmirrored primary tracking changes.
    p.net.cut_both(p.ad[0].id(), p.ad[1].id());
    p.run_for(10 * MS);
    a.role = Role::UnmirroredPrimary;
    a.flags = StateFlags::SERVING.union(StateFlags::TRACKING_CHANGES);
    a.tracked_since = 0x2001;
    a.history.insert(0, 0x2001);
    p.ep[0].set_announcement(a.clone());
    assert_eq!(p.ep[0].announcement(), a);
    let mut cfg = p.ep[1].config().clone();
    cfg.incarnation += 1;
    p.ep[1] = Msl::new(cfg, p.net.now());
    p.events[1].clear();
    p.net.restore_both(p.ad[0].id(), p.ad[1].id());
    p.up();
    let h = &p.ep[1].peer().expect("peer").handshake;
    assert_eq!(h.role, Role::UnmirroredPrimary);
    assert_eq!(h.flags, a.flags);
    assert_eq!(h.tracked_since, 0x2001);
    assert_eq!(h.current_generation(), Some(0x2001));
}

/// Every frame B sent, as a man in the middle records them.
static RECORDED: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

/// A `tx_filter` must take the frame as a `Vec` (others resize it).
#[allow(clippy::ptr_arg)]
fn record_b(i: usize, f: &mut Vec<u8>) {
    if i == 1 {
        RECORDED.lock().unwrap().push(f.clone());
    }
}

/// With a key, a recording of a live peer replayed after it died proves nothing: every
/// frame but data carries a control counter the receiver accepts once, and old data is a
/// duplicate, so A falls silent on time and nothing it holds changes.
#[test]
fn keyed_replays_do_not_keep_a_dead_peer_alive() {
    let k = key(3);
    let mut p = Pair::new(21, 1500, |_, mut c| {
        c.key = Some(k);
        c
    });
    p.tx_filter = Some(record_b);
    p.up();
    for i in 0..20u8 {
        p.ep[1].send(Priority::Event, &[i; 2000]).unwrap();
        p.ep[0].send(Priority::Event, &[i; 300]).unwrap();
        p.run_for(2 * MS);
    }
    p.run_for(20 * MS);
    let recorded = std::mem::take(&mut *RECORDED.lock().unwrap());
    let kinds: std::collections::HashSet<_> = recorded
        .iter()
        .map(|f| MslLinkFrame::parse(f, Some(&k)).unwrap().msl.frame_type())
        .collect();
    for t in [
        FrameType::Hello,
        FrameType::Data,
        FrameType::Ack,
        FrameType::Heartbeat,
    ] {
        assert!(kinds.contains(&t), "{t:?} recorded: {kinds:?}");
    }
    let delivered = p.delivered(0).len();
    // B dies: nothing of it reaches A any more but the replays, one every 100 µs.
    p.net.cut_both(p.ad[0].id(), p.ad[1].id());
    let dead_at = p.net.now();
    let mut silent_at = None;
    let step = std::time::Duration::from_micros(100);
    for f in recorded.iter().cycle().take(3000) {
        let now = p.net.now() + step;
        p.net.advance_to(now);
        p.ep[0].handle_frame(now, f);
        p.settle();
        if silent_at.is_none() && p.ep[0].state() == MslState::Silent {
            silent_at = Some(now - dead_at);
        }
    }
    let silent_at = silent_at.expect("A never fell silent");
    let cfg = p.ep[0].config();
    let limit = cfg.heartbeat_interval * (cfg.silent_after_missed + 1);
    assert!(silent_at <= limit, "silent after {silent_at:?}");
    assert_eq!(p.ep[0].state(), MslState::Silent, "a replay revived it");
    assert_eq!(p.delivered(0).len(), delivered, "a replay delivered again");
    let d = p.ep[0].counters().dropped;
    assert!(d.replayed > 0 && d.duplicate > 0, "{d:?}");
    assert_eq!(p.count(0, |e| matches!(e, MslEvent::Restarted { .. })), 0);
}

/// With a key a lower incarnation is never a restart, even once the peer is silent: it is
/// likelier a replayed hello of an earlier process than a clock gone backwards, and taking it
/// for a restart would hold the role machine waiting for a peer that is dead.
#[test]
fn keyed_lower_incarnation_is_not_a_restart() {
    let k = key(4);
    let mut p = Pair::new(2, 1500, |_, mut c| {
        c.key = Some(k);
        c
    });
    p.up();
    let mut cfg = p.ep[1].config().clone();
    cfg.incarnation = 150;
    p.ep[1] = Msl::new(cfg, p.net.now());
    p.events[1].clear();
    p.run_for(500 * MS);
    assert_eq!(p.ep[0].state(), MslState::Silent);
    assert_eq!(p.ep[0].peer().map(|x| x.incarnation), Some(200));
    assert_eq!(p.count(0, |e| matches!(e, MslEvent::Restarted { .. })), 0);
    assert!(p.ep[0].counters().dropped.stale_incarnation > 0);
}
