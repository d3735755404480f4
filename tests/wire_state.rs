//! Server-state ("I'm alive") packets: golden bytes, round trips, authentication, tampering,
//! versioning and hostile input.
//!
//! The golden vectors are built by hand from docs/protocol.md; the tag was computed with an
//! independent BLAKE3 (the Python `blake3` package) over the same bytes.

use proptest::prelude::*;
use sft3::wire::addr::{IpxAddr, MacAddr, Net, Node, Socket};
use sft3::wire::frame::{emit_ipx_frame, IpxFrame};
use sft3::wire::state::*;
use sft3::wire::{Framing, WireError};

/// Parses whitespace-separated hex.
fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

/// The key of the tagged vectors: bytes 0x00 to 0x1f.
fn key() -> AuthKey {
    core::array::from_fn(|i| i as u8)
}

/// Everything before the trailer, field by field (body length 106 = 0x6a).
const BODY: &[(&str, &str)] = &[
    ("magic \"SFT3\"", "53 46 54 33"),
    ("version 1", "01"),
    ("flags SERVING|DATA_CONSISTENT", "03"),
    ("body length 106", "00 6a"),
    ("server id", "11 22 33 44 55 66 77 88"),
    (
        "name \"SFT3-A\", NUL-padded to 32",
        "53 46 54 33 2d 41 00 00 00 00 00 00 00 00 00 00
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
    ),
    ("incarnation", "00 00 01 8f 2a 3b 4c 5d"),
    ("sequence 7", "00 00 00 00 00 00 00 07"),
    ("generation", "01 02 03 04 05 06 07 08"),
    ("role mirrored-primary", "03"),
    ("mirror state mirrored", "05"),
    ("priority 10", "0a"),
    ("MSL up", "01"),
    ("MSL age 3 ms", "00 00 00 03"),
    ("engine network cafe0001", "ca fe 00 01"),
    ("interval 5000 us", "00 00 13 88"),
    ("total score 1800", "00 00 07 08"),
    ("working adapters 2", "02"),
    ("adapter entries 2", "02"),
    (
        "#0: index 0, flags 1f, score 1000, peer age 2 ms",
        "00 1f 03 e8 00 02",
    ),
    (
        "#1: index 1, flags 13, score 800, peer never heard",
        "01 13 03 20 ff ff",
    ),
];

/// Trailer of the untagged vector: kind 0.
const TRAILER_NONE: &str = "00";
/// Trailer of the tagged vector: kind 1, then BLAKE3-keyed(key, BODY || 01)[..16].
const TRAILER_TAG: &str = "01 4a cb 05 f7 f1 07 d7 8d 26 12 0c 8c 1a 93 04 a0";

fn body() -> Vec<u8> {
    BODY.iter().flat_map(|(_, h)| hex(h)).collect()
}

fn golden(trailer: &str) -> Vec<u8> {
    let mut v = body();
    v.extend(hex(trailer));
    v
}

fn golden_repr() -> StateRepr {
    let mut adapters = arrayvec::ArrayVec::new();
    adapters.push(AdapterHealth {
        index: 0,
        flags: AdapterFlags(0x1f),
        score: 1000,
        peer_age_ms: 2,
    });
    adapters.push(AdapterHealth {
        index: 1,
        flags: AdapterFlags::CARRIER
            .union(AdapterFlags::OPER_UP)
            .union(AdapterFlags::WORKING),
        score: 800,
        peer_age_ms: PEER_AGE_NEVER,
    });
    StateRepr {
        flags: StateFlags::SERVING.union(StateFlags::DATA_CONSISTENT),
        server_id: 0x1122_3344_5566_7788,
        name: name_field(b"SFT3-A").unwrap(),
        incarnation: 0x0000_018f_2a3b_4c5d,
        sequence: 7,
        generation: 0x0102_0304_0506_0708,
        role: Role::MirroredPrimary,
        mirror_state: MirrorState::Mirrored,
        priority: 10,
        msl_state: MslLinkState::Up,
        msl_age_ms: 3,
        engine_net: Net(0xcafe_0001),
        interval_us: 5000,
        working_adapters: 2,
        total_score: 1800,
        adapters,
    }
}

#[test]
fn golden_untagged_parses_and_emits() {
    let bytes = golden(TRAILER_NONE);
    assert_eq!(bytes.len(), 107);
    let p = StatePacket::new_verified(&bytes[..], None).unwrap();
    assert_eq!(p.auth_kind(), AuthKind::None);
    assert_eq!(p.body_len(), 106);
    assert_eq!(p.name(), b"SFT3-A");
    assert_eq!(p.role(), Role::MirroredPrimary);
    assert_eq!(p.engine_net(), Net(0xcafe0001));
    assert!(p.extension().is_empty());
    let r = StateRepr::parse(&p).unwrap();
    assert_eq!(r, golden_repr());
    assert_eq!(r.name_display().to_string(), "SFT3-A");
    assert_eq!(r.functional_rank(), (2, 1800));
    let mut out = [0u8; 200];
    assert_eq!(r.buffer_len(false), 107);
    let n = r.emit(&mut out, None).unwrap();
    assert_eq!(&out[..n], &bytes[..]);
}

#[test]
fn golden_tagged_parses_and_emits() {
    let bytes = golden(TRAILER_TAG);
    assert_eq!(bytes.len(), 123);
    let k = key();
    let r = StateRepr::parse_bytes(&bytes, Some(&k)).unwrap();
    assert_eq!(r, golden_repr());
    let mut out = [0u8; 200];
    assert_eq!(r.buffer_len(true), 123);
    let n = r.emit(&mut out, Some(&k)).unwrap();
    assert_eq!(&out[..n], &bytes[..]);
    // An unkeyed receiver accepts the tagged packet unverified and can tell it was tagged.
    let p = StatePacket::new_verified(&bytes[..], None).unwrap();
    assert_eq!(p.auth_kind(), AuthKind::Blake3);
}

#[test]
fn keyed_receiver_rejects_untagged_and_wrong_key() {
    let k = key();
    let plain = golden(TRAILER_NONE);
    assert!(matches!(
        StatePacket::new_verified(&plain[..], Some(&k)),
        Err(WireError::BadAuth { .. })
    ));
    let mut other = k;
    other[0] ^= 1;
    let tagged = golden(TRAILER_TAG);
    assert!(matches!(
        StatePacket::new_verified(&tagged[..], Some(&other)),
        Err(WireError::BadAuth { .. })
    ));
}

#[test]
fn every_bit_flip_of_a_tagged_packet_is_rejected() {
    let k = key();
    let bytes = golden(TRAILER_TAG);
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut t = bytes.clone();
            t[i] ^= 1 << bit;
            let e = StatePacket::new_verified(&t[..], Some(&k)).unwrap_err();
            match i {
                0..=3 => assert!(matches!(e, WireError::BadMagic { .. }), "{i}.{bit}: {e}"),
                4 => assert!(
                    matches!(e, WireError::UnsupportedVersion { .. }),
                    "{i}.{bit}: {e}"
                ),
                _ => assert!(matches!(e, WireError::BadAuth { .. }), "{i}.{bit}: {e}"),
            }
        }
    }
}

#[test]
fn version_and_magic_are_reported() {
    for key in [None, Some(key())] {
        let mut b = golden(TRAILER_TAG);
        b[4] = 2;
        assert_eq!(
            StatePacket::new_verified(&b[..], key.as_ref()).unwrap_err(),
            WireError::UnsupportedVersion {
                what: "state packet",
                found: 2,
                supported: 1
            }
        );
        let mut b = golden(TRAILER_NONE);
        b[0] = b'X';
        assert_eq!(
            StatePacket::new_verified(&b[..], key.as_ref()).unwrap_err(),
            WireError::BadMagic {
                what: "state packet",
                found: 0x5846_5433
            }
        );
    }
}

#[test]
fn unknown_enum_values_still_prove_life() {
    let mut b = golden(TRAILER_NONE);
    b[72] = 0x42;
    b[73] = 0;
    b[75] = 9;
    let r = StateRepr::parse_bytes(&b, None).unwrap();
    assert_eq!(r.role, Role::Unknown(0x42));
    assert!(!r.role.is_primary());
    assert_eq!(r.role.to_string(), "unknown-role-0x42");
    assert_eq!(r.mirror_state, MirrorState::Unknown(0));
    assert_eq!(r.msl_state, MslLinkState::Other(9));
}

#[test]
fn structural_errors() {
    // Score above 1000.
    let mut b = golden(TRAILER_NONE);
    b[96..98].copy_from_slice(&1001u16.to_be_bytes());
    assert!(matches!(
        StateRepr::parse_bytes(&b, None),
        Err(WireError::BadField { value: 1001, .. })
    ));
    // Nine adapters.
    let mut b = golden(TRAILER_NONE);
    b[93] = 9;
    assert!(matches!(
        StatePacket::new_checked(&b[..]),
        Err(WireError::TooMany {
            count: 9,
            max: 8,
            ..
        })
    ));
    // Body length shorter than the adapter entries.
    let mut b = golden(TRAILER_NONE);
    b[7] = 100;
    assert!(matches!(
        StatePacket::new_checked(&b[..]),
        Err(WireError::BadLength { claimed: 100, .. })
    ));
    // Bytes after the trailer.
    let mut b = golden(TRAILER_NONE);
    b.push(0);
    assert!(matches!(
        StatePacket::new_checked(&b[..]),
        Err(WireError::BadLength { .. })
    ));
    // Unknown auth kind.
    let mut b = golden(TRAILER_NONE);
    b[106] = 7;
    assert!(matches!(
        StatePacket::new_checked(&b[..]),
        Err(WireError::BadField { value: 7, .. })
    ));
    assert!(matches!(
        StatePacket::new_verified(&b[..], Some(&key())),
        Err(WireError::BadAuth { .. })
    ));
    // Too small an output buffer.
    let mut out = [0u8; 100];
    assert!(matches!(
        golden_repr().emit(&mut out, None),
        Err(WireError::BufferTooSmall { need: 107, .. })
    ));
}

#[test]
fn extension_bytes_are_skipped_and_authenticated() {
    let k = key();
    let mut b = body();
    b[7] = 106 + 3;
    b.extend([0xe1, 0xe2, 0xe3, 1]);
    let tag = auth_tag(&k, &b);
    b.extend(tag);
    let p = StatePacket::new_verified(&b[..], Some(&k)).unwrap();
    assert_eq!(p.extension(), &[0xe1, 0xe2, 0xe3]);
    assert_eq!(StateRepr::parse(&p).unwrap(), golden_repr());
    b[107] ^= 1;
    assert!(StatePacket::new_verified(&b[..], Some(&k)).is_err());
}

#[test]
fn prefixes_are_errors() {
    for trailer in [TRAILER_NONE, TRAILER_TAG] {
        let b = golden(trailer);
        for n in 0..b.len() {
            assert!(StatePacket::new_checked(&b[..n]).is_err());
            assert!(StatePacket::new_verified(&b[..n], Some(&key())).is_err());
        }
    }
}

#[test]
fn names() {
    assert!(matches!(
        name_field(&[b'a'; 33]),
        Err(WireError::BadLength { claimed: 33, .. })
    ));
    assert_eq!(trim_name(&name_field(b"AB").unwrap()), b"AB");
    assert_eq!(NameDisplay(b"A\x01\\").to_string(), "A\\x01\\x5c");
}

#[test]
fn carried_in_an_ipx_frame() {
    let r = golden_repr();
    let k = key();
    let mut payload = [0u8; 200];
    let n = r.emit(&mut payload, Some(&k)).unwrap();
    let mac = MacAddr([2, 0, 0, 0, 0, 1]);
    let src = IpxAddr::new(Net(0x10), mac, SOCKET);
    let dst = IpxAddr::new(Net(0x10), Node::BROADCAST, Socket(0x5354));
    let ipx = ipx_header(src, dst, n);
    let mut frame = [0u8; 300];
    let len = emit_ipx_frame(
        &mut frame,
        MacAddr::BROADCAST,
        mac,
        Framing::EthernetII,
        &ipx,
        &payload[..n],
    )
    .unwrap();
    let f = IpxFrame::parse(&frame[..len]).unwrap();
    assert_eq!(f.ipx.packet_type(), PACKET_TYPE);
    assert_eq!(f.ipx.dst().socket, Socket::SFT3_STATE);
    assert_eq!(
        StateRepr::parse_bytes(f.ipx.payload(), Some(&k)).unwrap(),
        r
    );
}

fn adapter() -> impl Strategy<Value = AdapterHealth> {
    (any::<u8>(), any::<u8>(), 0..=MAX_SCORE, any::<u16>()).prop_map(|(i, f, s, a)| AdapterHealth {
        index: i,
        flags: AdapterFlags(f),
        score: s,
        peer_age_ms: a,
    })
}

fn state_repr() -> impl Strategy<Value = StateRepr> {
    (
        (any::<u8>(), any::<u64>(), any::<[u8; 32]>(), any::<u64>()),
        (any::<u64>(), any::<u64>(), any::<u8>(), any::<u8>()),
        (any::<u8>(), any::<u8>(), any::<u32>(), any::<u32>()),
        (any::<u32>(), any::<u8>(), any::<u32>()),
        prop::collection::vec(adapter(), 0..=MAX_ADAPTERS),
    )
        .prop_map(
            |((fl, id, name, inc), (seq, gen, role, ms), (pr, msl, age, net), (iv, w, ts), ad)| {
                StateRepr {
                    flags: StateFlags(fl),
                    server_id: id,
                    name,
                    incarnation: inc,
                    sequence: seq,
                    generation: gen,
                    role: Role::from_u8(role),
                    mirror_state: MirrorState::from_u8(ms),
                    priority: pr,
                    msl_state: MslLinkState::from_u8(msl),
                    msl_age_ms: age,
                    engine_net: Net(net),
                    interval_us: iv,
                    working_adapters: w,
                    total_score: ts,
                    adapters: ad.into_iter().collect(),
                }
            },
        )
}

proptest! {
    #[test]
    fn round_trip(r in state_repr(), keyed in any::<bool>(), k in any::<[u8; 32]>()) {
        let key = keyed.then_some(k);
        let mut buf = [0u8; 256];
        let n = r.emit(&mut buf, key.as_ref()).unwrap();
        prop_assert_eq!(n, r.buffer_len(keyed));
        let p = StatePacket::new_verified(&buf[..n], key.as_ref()).unwrap();
        prop_assert_eq!(p.auth_kind() == AuthKind::Blake3, keyed);
        prop_assert_eq!(StateRepr::parse(&p).unwrap(), r);
    }

    #[test]
    fn tampered_tagged_packets_never_verify(
        r in state_repr(), k in any::<[u8; 32]>(), pos in any::<prop::sample::Index>(), bit in 0u8..8
    ) {
        let mut buf = [0u8; 256];
        let n = r.emit(&mut buf, Some(&k)).unwrap();
        let i = pos.index(n);
        buf[i] ^= 1 << bit;
        prop_assert!(StatePacket::new_verified(&buf[..n], Some(&k)).is_err());
    }

    #[test]
    fn random_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..200), k in any::<[u8; 32]>()) {
        let _ = StateRepr::parse_bytes(&b, None);
        let _ = StateRepr::parse_bytes(&b, Some(&k));
        if let Ok(p) = StatePacket::new_checked(&b[..]) {
            let _ = p.adapters().count();
            let _ = p.extension();
        }
    }

    #[test]
    fn random_bodies_behind_a_good_header_never_panic(
        b in prop::collection::vec(any::<u8>(), 0..200), k in any::<[u8; 32]>()
    ) {
        let mut v = hex("53 46 54 33 01");
        v.extend(b);
        let _ = StateRepr::parse_bytes(&v, None);
        let _ = StateRepr::parse_bytes(&v, Some(&k));
    }
}
