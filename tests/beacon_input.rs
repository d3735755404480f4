//! The beacon's receive path against crafted input: forged packets with a key, a third
//! server, our own packets, truncated and garbage frames, unknown adapters. None of them
//! changes any state, raises an event or panics; each is counted by reason.

use std::time::Duration;

use proptest::prelude::*;
use sft3::beacon::{
    AdapterConfig, Beacon, BeaconConfig, BeaconConfigError, BeaconEvent, PathStatus, PathView,
    MAX_FRAME_LEN,
};
use sft3::wire::state::{ipx_header, name_field, AuthKey, StateFlags, StateRepr};
use sft3::wire::{emit_ipx_frame, Framing, IpxAddr, MacAddr, Net, Socket};

const MS: Duration = Duration::from_millis(1);
const OUR_MAC: MacAddr = MacAddr([2, 0, 0, 0, 1, 0]);
const OUR_MAC1: MacAddr = MacAddr([2, 0, 0, 0, 1, 1]);
const PEER_MAC: MacAddr = MacAddr([2, 0, 0, 0, 2, 0]);
const K: AuthKey = [7; 32];

fn beacon(key: Option<AuthKey>, peer_id: Option<u64>) -> Beacon {
    let mut c = BeaconConfig::new(1, 100)
        .with_name("SFT-A")
        .with_adapter(AdapterConfig::new(0, OUR_MAC))
        .with_adapter(AdapterConfig::new(1, OUR_MAC1));
    c.key = key;
    c.peer_id = peer_id;
    Beacon::new(c, Duration::ZERO).unwrap()
}

/// A state packet of server `id`.
fn state(id: u64, incarnation: u64, sequence: u64) -> StateRepr {
    StateRepr {
        flags: StateFlags::SERVING,
        server_id: id,
        name: name_field(b"SFT-B").unwrap(),
        incarnation,
        sequence,
        generation: 3,
        role: sft3::wire::state::Role::MirroredPrimary,
        mirror_state: sft3::wire::state::MirrorState::Mirrored,
        priority: 0,
        msl_state: sft3::wire::state::MslLinkState::Up,
        msl_age_ms: 1,
        engine_net: Net(0xabcd),
        interval_us: 5000,
        working_adapters: 2,
        total_score: 2000,
        adapters: Default::default(),
    }
}

/// The whole frame carrying `s`, from `src` to `dst`, in `framing`.
fn frame_with(
    s: &StateRepr,
    key: Option<&AuthKey>,
    src: MacAddr,
    dst: MacAddr,
    framing: Framing,
) -> Vec<u8> {
    let mut payload = [0u8; 256];
    let n = s.emit(&mut payload, key).unwrap();
    let ipx = ipx_header(
        IpxAddr::new(Net(0), src, Socket::SFT3_STATE),
        IpxAddr::new(Net(0), dst, Socket::SFT3_STATE),
        n,
    );
    let mut buf = [0u8; MAX_FRAME_LEN];
    let len = emit_ipx_frame(&mut buf, dst, src, framing, &ipx, &payload[..n]).unwrap();
    buf[..len].to_vec()
}

fn frame(s: &StateRepr, key: Option<&AuthKey>) -> Vec<u8> {
    frame_with(s, key, PEER_MAC, MacAddr::BROADCAST, Framing::EthernetII)
}

fn events(b: &mut Beacon) -> Vec<BeaconEvent> {
    std::iter::from_fn(|| b.poll_event()).collect()
}

/// Everything observable except the counters.
fn snapshot(b: &Beacon) -> (Option<StateRepr>, Vec<PathView>, Option<u64>, Option<u64>) {
    (
        b.peer_state().cloned(),
        b.paths().to_vec(),
        b.peer_id(),
        b.peer_incarnation(),
    )
}

#[test]
fn forged_packets_with_a_key_change_nothing() {
    let mut b = beacon(Some(K), None);
    b.handle_frame(MS, 0, &frame(&state(2, 100, 1), Some(&K)));
    assert_eq!(events(&mut b).len(), 2);
    let before = snapshot(&b);
    // Untagged; tagged with another key; a higher incarnation (a fake restart); another
    // role; a genuine packet with one payload byte flipped.
    let mut forged = vec![
        frame(&state(2, 100, 2), None),
        frame(&state(2, 101, 1), Some(&[8; 32])),
        frame(&state(2, 100, 99), Some(&[0; 32])),
    ];
    let good = frame(&state(2, 100, 5), Some(&K));
    for i in 14 + 30 + 5..good.len() {
        let mut f = good.clone();
        f[i] ^= 0x20;
        forged.push(f);
    }
    for f in &forged {
        b.handle_frame(2 * MS, 0, f);
        b.handle_frame(2 * MS, 1, f);
    }
    assert_eq!(b.counters().dropped.bad_auth, 2 * forged.len() as u64);
    assert_eq!(b.counters().dropped.total(), 2 * forged.len() as u64);
    assert_eq!(snapshot(&b), before);
    assert!(events(&mut b).is_empty());
    // The genuine one still passes.
    b.handle_frame(3 * MS, 1, &good);
    assert_eq!(events(&mut b), vec![BeaconEvent::PathUp { adapter: 1 }]);
}

#[test]
fn without_a_key_tagged_packets_are_accepted_and_counted() {
    let mut b = beacon(None, None);
    b.handle_frame(MS, 0, &frame(&state(2, 100, 1), Some(&K)));
    assert_eq!(b.counters().unverified_tags, 1);
    assert_eq!(b.counters().received, 1);
}

#[test]
fn a_third_server_is_ignored() {
    // Configured peer: server 3 is never heard.
    let mut b = beacon(None, Some(2));
    for seq in 1..10 {
        b.handle_frame(seq * MS, 0, &frame(&state(3, 100, u64::from(seq)), None));
    }
    assert_eq!(b.counters().dropped.third_server, 9);
    assert!(events(&mut b).is_empty());
    assert_eq!(b.path(0).unwrap().status, PathStatus::Never);
    assert_eq!(b.peer_id(), Some(2));
    // Learnt peer: the first server heard stays the peer.
    let mut b = beacon(None, None);
    b.handle_frame(MS, 0, &frame(&state(2, 100, 1), None));
    let before = snapshot(&b);
    b.handle_frame(2 * MS, 0, &frame(&state(3, 500, 1), None));
    b.handle_frame(2 * MS, 1, &frame(&state(3, 500, 2), None));
    assert_eq!(b.counters().dropped.third_server, 2);
    assert_eq!(snapshot(&b), before);
    // The MSL handshake names the peer: another id forgets the old one.
    b.set_peer_id(3);
    assert!(b.paths().iter().all(|p| p.status == PathStatus::Never));
    b.handle_frame(3 * MS, 0, &frame(&state(3, 500, 3), None));
    assert_eq!(b.path(0).unwrap().status, PathStatus::Up);
    assert_eq!(b.peer_incarnation(), Some(500));
}

#[test]
fn our_own_packets_are_ignored() {
    let mut b = beacon(Some(K), None);
    let mut buf = [0u8; MAX_FRAME_LEN];
    let mut own = Vec::new();
    while let Some((a, len)) = b.poll_transmit(Duration::ZERO, &mut buf) {
        own.push((a, buf[..len].to_vec()));
    }
    assert_eq!(own.len(), 2);
    for (a, f) in &own {
        // Looped back, or heard by our other adapter on the same segment.
        b.handle_frame(MS, *a, f);
        b.handle_frame(MS, 1 - *a, f);
    }
    assert_eq!(b.counters().dropped.own, 4);
    assert_eq!(b.peer_id(), None);
    assert!(events(&mut b).is_empty());
}

#[test]
fn truncated_and_garbage_frames_are_counted() {
    let mut b = beacon(None, None);
    let good = frame(&state(2, 100, 1), None);
    // The IPX length says how long the packet is: cut it short and the frame does not parse.
    for n in 0..good.len() {
        b.handle_frame(MS, 0, &good[..n]);
    }
    let c = b.counters();
    assert_eq!(c.received, 0);
    assert_eq!(
        c.dropped.malformed + c.other_traffic,
        good.len() as u64,
        "{c:?}"
    );
    assert!(c.dropped.malformed > 0);
    assert!(events(&mut b).is_empty());
    // Another program on our socket; another version; another IPX socket; not IPX.
    let mut foreign = good.clone();
    foreign[14 + 30] ^= 0xff;
    let mut version = good.clone();
    version[14 + 30 + 4] = 9;
    let mut socket = good.clone();
    socket[14 + 16] = 0x04;
    let mut arp = good.clone();
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    for f in [&foreign, &version, &socket, &arp] {
        b.handle_frame(MS, 0, f);
    }
    let c = b.counters();
    assert_eq!(
        (c.dropped.foreign, c.dropped.wrong_version),
        (1, 1),
        "{c:?}"
    );
    // Unknown adapter, unicast to someone else.
    b.handle_frame(MS, 7, &good);
    let other = frame_with(
        &state(2, 100, 1),
        None,
        PEER_MAC,
        MacAddr([2, 9, 9, 9, 9, 9]),
        Framing::EthernetII,
    );
    b.handle_frame(MS, 0, &other);
    let c = b.counters();
    assert_eq!((c.dropped.unknown_adapter, c.dropped.not_for_us), (1, 1));
    assert_eq!(c.received, 0);
    assert!(events(&mut b).is_empty());
    assert_eq!(b.peer_id(), None);
    // After all that, the genuine packet is accepted.
    b.handle_frame(MS, 0, &good);
    assert_eq!(b.counters().received, 1);
}

#[test]
fn every_framing_is_accepted() {
    let mut b = beacon(Some(K), None);
    for (i, framing) in Framing::ALL.into_iter().enumerate() {
        let s = state(2, 100, i as u64 + 1);
        b.handle_frame(MS, 0, &frame_with(&s, Some(&K), PEER_MAC, OUR_MAC, framing));
    }
    assert_eq!(b.counters().received, 4);
    assert_eq!(b.path(0).unwrap().peer_mac, Some(PEER_MAC));
}

#[test]
fn reordered_older_packets_prove_the_path_but_do_not_replace_the_state() {
    let mut b = beacon(None, None);
    let mut newer = state(2, 100, 10);
    newer.generation = 9;
    b.handle_frame(MS, 0, &frame(&newer, None));
    b.handle_frame(MS, 1, &frame(&state(2, 100, 9), None));
    let c = b.counters();
    assert_eq!((c.received, c.reordered), (2, 1));
    assert_eq!(b.peer_state().unwrap().generation, 9);
    assert_eq!(b.path(1).unwrap().status, PathStatus::Up);
    // Beyond the window: dropped.
    b.handle_frame(MS, 0, &frame(&state(2, 100, 200), None));
    b.handle_frame(MS, 1, &frame(&state(2, 100, 11), None));
    assert_eq!(b.counters().dropped.replayed, 1);
}

#[test]
fn config_errors() {
    let mut c = BeaconConfig::new(1, 1)
        .with_adapter(AdapterConfig::new(3, OUR_MAC))
        .with_adapter(AdapterConfig::new(3, OUR_MAC1));
    assert_eq!(
        Beacon::new(c.clone(), Duration::ZERO).err(),
        Some(BeaconConfigError::DuplicateAdapter(3))
    );
    c.adapters.pop();
    c.silent_after = 0;
    assert_eq!(
        Beacon::new(c.clone(), Duration::ZERO).err(),
        Some(BeaconConfigError::ZeroSilentAfter)
    );
    c.silent_after = 4;
    c.interval = Duration::from_secs(5000);
    assert!(matches!(
        Beacon::new(c.clone(), Duration::ZERO),
        Err(BeaconConfigError::BadInterval(_))
    ));
    c.interval = Duration::ZERO;
    assert!(Beacon::new(c, Duration::ZERO).is_err());
}

#[test]
fn a_late_driver_gets_one_packet_per_adapter_not_a_burst() {
    let mut b = beacon(None, None);
    let mut buf = [0u8; MAX_FRAME_LEN];
    let mut count =
        |b: &mut Beacon, t: Duration| std::iter::from_fn(|| b.poll_transmit(t, &mut buf)).count();
    assert_eq!(count(&mut b, Duration::ZERO), 2);
    assert_eq!(count(&mut b, 4 * MS), 0);
    assert_eq!(count(&mut b, 50 * MS), 2);
    assert_eq!(b.poll_timeout(), Some(55 * MS));
    // A buffer too small: counted, the adapter skips its turn.
    let mut small = [0u8; 40];
    assert_eq!(b.poll_transmit(60 * MS, &mut small), None);
    assert_eq!(b.counters().tx_errors, 2);
    assert_eq!(b.sequence(), 4);
}

proptest! {
    #[test]
    fn random_bytes_never_panic_nor_change_state(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        keyed in any::<bool>(),
    ) {
        let mut b = beacon(keyed.then_some(K), None);
        let before = snapshot(&b);
        b.handle_frame(MS, 0, &bytes);
        prop_assert_eq!(snapshot(&b), before);
        prop_assert!(b.poll_event().is_none());
        prop_assert_eq!(b.counters().received, 0);
    }

    #[test]
    fn mangled_valid_frames_never_panic(
        flips in proptest::collection::vec((0usize..200, any::<u8>()), 1..6),
        cut in 0usize..200,
    ) {
        let mut b = beacon(Some(K), None);
        let mut f = frame(&state(2, 100, 1), Some(&K));
        for (i, x) in flips {
            if let Some(byte) = f.get_mut(i) {
                *byte ^= x;
            }
        }
        f.truncate(cut.max(1));
        b.handle_frame(MS, 0, &f);
        let c = b.counters();
        prop_assert_eq!(c.received + c.dropped.total() + c.other_traffic, 1);
    }
}

#[test]
fn our_packets_carry_the_local_state_and_the_path_ages() {
    use sft3::beacon::LocalState;
    use sft3::wire::state::{AdapterFlags, AdapterHealth, MSL_AGE_NEVER, PEER_AGE_NEVER};
    use sft3::wire::IpxFrame;
    let mut b = beacon(None, None);
    let entry = |index, score| AdapterHealth {
        index,
        flags: AdapterFlags::WORKING,
        score,
        peer_age_ms: 77,
    };
    let mut l = LocalState {
        generation: 42,
        working_adapters: 2,
        total_score: 1500,
        ..LocalState::default()
    };
    l.adapters.push(entry(0, 1000));
    l.adapters.push(entry(5, 500));
    b.set_local(l.clone());
    let mut buf = [0u8; MAX_FRAME_LEN];
    let sent = |b: &mut Beacon, t: Duration, buf: &mut [u8]| {
        let (_, len) = b.poll_transmit(t, buf).unwrap();
        let f = IpxFrame::parse(&buf[..len]).unwrap();
        StateRepr::parse_bytes(f.ipx.payload(), None).unwrap()
    };
    let s = sent(&mut b, Duration::ZERO, &mut buf);
    assert_eq!(
        (s.generation, s.working_adapters, s.total_score),
        (42, 2, 1500)
    );
    assert_eq!(s.msl_age_ms, MSL_AGE_NEVER);
    // Adapter 0 is ours and never heard the peer; adapter 5 is not ours: kept as given.
    assert_eq!(s.adapters[0].peer_age_ms, PEER_AGE_NEVER);
    assert_eq!(s.adapters[1].peer_age_ms, 77);
    b.handle_frame(MS, 0, &frame(&state(2, 100, 1), None));
    l.msl_last_heard = Some(2 * MS);
    b.set_local(l.clone());
    b.poll_transmit(Duration::ZERO, &mut buf).unwrap(); // adapter 1's turn at 0
    let s = sent(&mut b, 5 * MS, &mut buf);
    assert_eq!(s.adapters[0].peer_age_ms, 4);
    assert_eq!(s.msl_age_ms, 3);
    assert_eq!(s.sequence, 3);
    // A score above 1000 cannot be sent: counted, nothing goes out.
    l.adapters[0].score = 1001;
    b.set_local(l);
    assert_eq!(b.poll_transmit(10 * MS, &mut buf), None);
    assert_eq!(b.counters().tx_errors, 2);
}
