//! MSL frames: golden bytes, round trips, integrity and authentication, tampering,
//! versioning, MTU limits and hostile input.
//!
//! The golden vectors are built by hand from docs/protocol.md; CRC32C values and tags were
//! computed with independent implementations (the Python `crc32c` and `blake3` packages).

use proptest::prelude::*;
use sft3::wire::ethernet::{VlanTag, TPID_8021Q};
use sft3::wire::msl::*;
use sft3::wire::state::{name_field, AuthKey, Role, StateFlags};
use sft3::wire::{MacAddr, WireError};

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

fn cat(parts: &[(&str, &str)]) -> Vec<u8> {
    parts.iter().flat_map(|(_, h)| hex(h)).collect()
}

/// The key of the tagged vectors: bytes 0x00 to 0x1f.
fn key() -> AuthKey {
    core::array::from_fn(|i| i as u8)
}

const A: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
const B: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);
const INC_A: u64 = 0x0000_018f_0000_0001;
const INC_B: u64 = 0x0000_018f_0000_0002;

/// A heartbeat from A to B, CRC32C: a whole 62-byte Ethernet frame.
const HEARTBEAT: &[(&str, &str)] = &[
    ("dst MAC", "02 00 00 00 00 02"),
    ("src MAC", "02 00 00 00 00 01"),
    ("EtherType MSL", "88 b5"),
    ("version 1", "01"),
    ("type heartbeat", "05"),
    ("flags ACK, class control", "02"),
    ("header length 44", "2c"),
    ("payload length 0", "00 00"),
    ("window 256", "01 00"),
    ("sender incarnation", "00 00 01 8f 00 00 00 01"),
    ("receiver incarnation", "00 00 01 8f 00 00 00 02"),
    ("sequence 0x10", "00 00 00 10"),
    ("cumulative ack 0x20", "00 00 00 20"),
    ("message id", "00 00 00 00"),
    ("fragment offset", "00 00 00 00"),
    ("message length", "00 00 00 00"),
    ("CRC32C", "40 75 57 a1"),
];

/// A data frame from A to B, class event, authenticated; MSL part only.
const DATA_AUTH: &[(&str, &str)] = &[
    ("version 1", "01"),
    ("type data", "03"),
    ("flags AUTH|ACK, class event", "13"),
    ("header length 44", "2c"),
    ("payload length 5", "00 05"),
    ("window 64", "00 40"),
    ("sender incarnation", "00 00 01 8f 00 00 00 01"),
    ("receiver incarnation", "00 00 01 8f 00 00 00 02"),
    ("sequence 0x11", "00 00 00 11"),
    ("cumulative ack 0x21", "00 00 00 21"),
    ("message id 7", "00 00 00 07"),
    ("fragment offset 0", "00 00 00 00"),
    ("message length 5", "00 00 00 05"),
    ("payload \"hello\"", "68 65 6c 6c 6f"),
    (
        "BLAKE3 keyed tag",
        "2c 88 d4 a5 cd 53 24 b5 2f 00 40 b1 68 a4 f8 b8",
    ),
];

/// An ack from B to A with two SACK blocks, CRC32C; MSL part only.
const ACK: &[(&str, &str)] = &[
    ("version 1", "01"),
    ("type ack", "04"),
    ("flags ACK, class control", "02"),
    ("header length 44", "2c"),
    ("payload length 16", "00 10"),
    ("window 512", "02 00"),
    ("sender incarnation", "00 00 01 8f 00 00 00 02"),
    ("receiver incarnation", "00 00 01 8f 00 00 00 01"),
    ("sequence 5", "00 00 00 05"),
    ("cumulative ack 0x11", "00 00 00 11"),
    ("message id", "00 00 00 00"),
    ("fragment offset", "00 00 00 00"),
    ("message length", "00 00 00 00"),
    ("block 0x30..0x32", "00 00 00 30 00 00 00 32"),
    ("block 0x35..0x40", "00 00 00 35 00 00 00 40"),
    ("CRC32C", "83 f0 d6 06"),
];

/// A hello from B (receiver incarnation still unknown), CRC32C; MSL part only.
const HELLO: &[(&str, &str)] = &[
    ("version 1", "01"),
    ("type hello", "01"),
    ("flags none, class control", "00"),
    ("header length 44", "2c"),
    ("payload length 96", "00 60"),
    ("window 64", "00 40"),
    ("sender incarnation", "00 00 01 8f 00 00 00 02"),
    ("receiver incarnation unknown", "00 00 00 00 00 00 00 00"),
    ("sequence 0", "00 00 00 00"),
    ("cumulative ack 0", "00 00 00 00"),
    ("message id", "00 00 00 00"),
    ("fragment offset", "00 00 00 00"),
    ("message length", "00 00 00 00"),
    ("hs: server id", "11 22 33 44 55 66 77 88"),
    (
        "hs: name \"SFT3-B\"",
        "53 46 54 33 2d 42 00 00 00 00 00 00 00 00 00 00
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
    ),
    ("hs: versions 1..=1", "01 01"),
    ("hs: role syncing-secondary", "02"),
    ("hs: flags TRACKING_CHANGES", "04"),
    ("hs: priority 5", "05"),
    ("hs: history entries 3", "03"),
    ("hs: max frame 1500", "05 dc"),
    ("hs: volume size 4 GiB", "00 00 00 01 00 00 00 00"),
    ("hs: region size 4096", "00 00 10 00"),
    ("hs: engine version 1.2", "00 01 00 02"),
    ("hs: tracked since", "01 02 03 04 05 06 07 08"),
    ("hs: generation (current)", "0a 0b 0c 0d 0e 0f 10 11"),
    ("hs: generation", "01 02 03 04 05 06 07 08"),
    ("hs: generation (oldest)", "00 00 00 00 00 00 00 01"),
    ("CRC32C", "51 1f 4e 91"),
];

fn header(frame_type: FrameType) -> MslRepr {
    MslRepr {
        frame_type,
        priority: Priority::Control,
        flags: flag::ACK,
        window: 0,
        sender_incarnation: INC_A,
        receiver_incarnation: INC_B,
        seq: 0,
        ack: 0,
        message_id: 0,
        fragment_offset: 0,
        message_len: 0,
        payload_len: 0,
    }
}

#[test]
fn golden_heartbeat() {
    let bytes = cat(HEARTBEAT);
    assert_eq!(bytes.len(), 62);
    let f = MslLinkFrame::parse(&bytes, None).unwrap();
    assert_eq!(f.eth.dst, B);
    assert_eq!(f.eth.src, A);
    let r = MslRepr::parse(&f.msl).unwrap();
    let want = MslRepr {
        window: 256,
        seq: 0x10,
        ack: 0x20,
        ..header(FrameType::Heartbeat)
    };
    assert_eq!(r, want);
    assert!(!f.msl.is_authenticated());
    assert_eq!(f.msl.integrity(), &hex("40 75 57 a1")[..]);
    let mut out = [0u8; 100];
    let n = emit_msl_frame(&mut out, &ethernet_repr(B, A, None), &want, &[], None).unwrap();
    assert_eq!(&out[..n], &bytes[..]);
}

#[test]
fn golden_data_authenticated() {
    let bytes = cat(DATA_AUTH);
    let k = key();
    let f = MslFrame::new_verified(&bytes[..], Some(&k)).unwrap();
    assert_eq!(f.payload(), b"hello");
    assert!(f.is_first_fragment() && f.is_last_fragment());
    let want = MslRepr {
        priority: Priority::Event,
        window: 64,
        seq: 0x11,
        ack: 0x21,
        message_id: 7,
        message_len: 5,
        payload_len: 5,
        ..header(FrameType::Data)
    };
    assert_eq!(MslRepr::parse(&f).unwrap(), want);
    let mut out = [0u8; 100];
    let n = want
        .emit_with_payload(&mut out, b"hello", Some(&k))
        .unwrap();
    assert_eq!(&out[..n], &bytes[..]);
    // No key, or the wrong key: refused.
    assert!(matches!(
        MslFrame::new_verified(&bytes[..], None),
        Err(WireError::BadAuth { .. })
    ));
    let mut other = k;
    other[31] ^= 0x80;
    assert!(matches!(
        MslFrame::new_verified(&bytes[..], Some(&other)),
        Err(WireError::BadAuth { .. })
    ));
}

#[test]
fn golden_ack() {
    let bytes = cat(ACK);
    let f = MslFrame::new_verified(&bytes[..], None).unwrap();
    assert_eq!(f.frame_type(), FrameType::Ack);
    let a = AckRepr::parse_bytes(f.payload()).unwrap();
    let blocks: Vec<_> = a.blocks.iter().map(|b| (b.start, b.end)).collect();
    assert_eq!(blocks, [(0x30, 0x32), (0x35, 0x40)]);
    assert!(a.blocks[1].contains(0x3f) && !a.blocks[1].contains(0x40));
    let mut payload = [0u8; 64];
    let n = a.emit(&mut payload).unwrap();
    let r = MslRepr {
        window: 512,
        sender_incarnation: INC_B,
        receiver_incarnation: INC_A,
        seq: 5,
        ack: 0x11,
        ..header(FrameType::Ack)
    };
    let mut out = [0u8; 100];
    let m = r.emit_with_payload(&mut out, &payload[..n], None).unwrap();
    assert_eq!(&out[..m], &bytes[..]);
}

fn golden_handshake() -> HandshakeRepr {
    HandshakeRepr {
        server_id: 0x1122_3344_5566_7788,
        name: name_field(b"SFT3-B").unwrap(),
        min_version: 1,
        max_version: 1,
        role: Role::SyncingSecondary,
        flags: StateFlags::TRACKING_CHANGES,
        priority: 5,
        max_frame: 1500,
        volume_size: 1 << 32,
        region_size: 4096,
        engine_version: 0x0001_0002,
        tracked_since: 0x0102_0304_0506_0708,
        history: [0x0a0b_0c0d_0e0f_1011, 0x0102_0304_0506_0708, 1]
            .into_iter()
            .collect(),
        max_message: None,
    }
}

#[test]
fn golden_hello() {
    let bytes = cat(HELLO);
    let f = MslFrame::new_verified(&bytes[..], None).unwrap();
    assert_eq!(f.frame_type(), FrameType::Hello);
    assert_eq!(f.receiver_incarnation(), 0);
    let h = HandshakeRepr::parse_bytes(f.payload()).unwrap();
    assert_eq!(h, golden_handshake());
    assert_eq!(h.name_display().to_string(), "SFT3-B");
    assert_eq!(h.current_generation(), Some(0x0a0b_0c0d_0e0f_1011));
    let mut payload = [0u8; 200];
    let n = h.emit(&mut payload).unwrap();
    assert_eq!(n, HANDSHAKE_FIXED_LEN + 24);
    let r = MslRepr {
        flags: 0,
        window: 64,
        sender_incarnation: INC_B,
        receiver_incarnation: 0,
        ..header(FrameType::Hello)
    };
    let mut out = [0u8; 200];
    let m = r.emit_with_payload(&mut out, &payload[..n], None).unwrap();
    assert_eq!(&out[..m], &bytes[..]);
}

#[test]
fn padding_and_vlan() {
    // Trailing bytes after the trailer are link padding: ignored.
    let mut bytes = cat(HEARTBEAT);
    bytes.extend([0u8; 6]);
    let f = MslLinkFrame::parse(&bytes, None).unwrap();
    assert_eq!(f.msl.frame_len(), 48);
    // A VLAN-tagged frame round trips.
    let tag = VlanTag {
        tpid: TPID_8021Q,
        tci: 0x2064,
    };
    let r = header(FrameType::Heartbeat);
    let mut out = [0u8; 100];
    let n = emit_msl_frame(&mut out, &ethernet_repr(B, A, Some(tag)), &r, &[1, 2], None).unwrap();
    assert_eq!(n, 18 + 44 + 2 + 4);
    let f = MslLinkFrame::parse(&out[..n], None).unwrap();
    assert_eq!(f.eth.vlan, Some(tag));
    assert_eq!(f.msl.payload(), &[1, 2]);
}

#[test]
fn every_bit_flip_of_a_crc_frame_is_rejected() {
    for frame in [cat(HEARTBEAT)] {
        for i in 12..frame.len() {
            for bit in 0..8 {
                let mut t = frame.clone();
                t[i] ^= 1 << bit;
                assert!(MslLinkFrame::parse(&t, None).is_err(), "byte {i} bit {bit}");
            }
        }
        // The MAC addresses are not covered: the MSL content is unchanged.
        let mut t = frame.clone();
        t[0] ^= 4;
        let f = MslLinkFrame::parse(&t, None).unwrap();
        assert_eq!(f.msl.covered(), &frame[14..58]);
    }
    for frame in [cat(ACK), cat(HELLO)] {
        for i in 0..frame.len() {
            for bit in 0..8 {
                let mut t = frame.clone();
                t[i] ^= 1 << bit;
                let e = MslFrame::new_verified(&t[..], None).unwrap_err();
                if i >= 4 {
                    // Past the type, flags and header length: the CRC catches it, or the
                    // changed payload length makes the frame not fit.
                    assert!(
                        matches!(
                            e,
                            WireError::BadChecksum { .. } | WireError::Truncated { .. }
                        ),
                        "byte {i} bit {bit}: {e}"
                    );
                }
            }
        }
    }
}

#[test]
fn every_bit_flip_of_an_authenticated_frame_is_bad_auth() {
    let k = key();
    let frame = cat(DATA_AUTH);
    for i in 0..frame.len() {
        for bit in 0..8 {
            let mut t = frame.clone();
            t[i] ^= 1 << bit;
            let e = MslFrame::new_verified(&t[..], Some(&k)).unwrap_err();
            if i == 0 {
                assert!(matches!(e, WireError::UnsupportedVersion { .. }), "{e}");
            } else {
                assert!(
                    matches!(e, WireError::BadAuth { .. }),
                    "byte {i} bit {bit}: {e}"
                );
            }
        }
    }
}

#[test]
fn keyed_receiver_rejects_crc_frames() {
    let bytes = cat(ACK);
    assert!(matches!(
        MslFrame::new_verified(&bytes[..], Some(&key())),
        Err(WireError::BadAuth { .. })
    ));
}

#[test]
fn version_mismatch_is_reported() {
    for key in [None, Some(key())] {
        let mut b = cat(DATA_AUTH);
        b[0] = 2;
        assert_eq!(
            MslFrame::new_verified(&b[..], key.as_ref()).unwrap_err(),
            WireError::UnsupportedVersion {
                what: "MSL frame",
                found: 2,
                supported: 1
            }
        );
    }
}

/// Builds an MSL frame by hand with a correct CRC32C.
fn with_crc(mut covered: Vec<u8>) -> Vec<u8> {
    let c = crc32c::crc32c(&covered);
    covered.extend(c.to_be_bytes());
    covered
}

#[test]
fn structural_errors() {
    let base = &cat(ACK)[..60];
    // Unknown frame type.
    let mut b = base.to_vec();
    b[1] = 9;
    assert!(matches!(
        MslFrame::new_verified(&with_crc(b)[..], None),
        Err(WireError::BadField { value: 9, .. })
    ));
    // Header length below 44.
    let mut b = base.to_vec();
    b[3] = 40;
    assert!(matches!(
        MslFrame::new_verified(&with_crc(b)[..], None),
        Err(WireError::BadLength { claimed: 40, .. })
    ));
    // A longer header: the extension is skipped, the payload starts after it.
    let mut b = base[..44].to_vec();
    b[3] = 48;
    b.extend([0xee; 4]);
    b.extend(&base[44..]);
    let f = MslFrame::new_verified(with_crc(b), None).unwrap();
    assert_eq!(f.header_len(), 48);
    assert_eq!(f.payload(), &base[44..]);
    // A data fragment past its message.
    let mut b = cat(DATA_AUTH)[..49].to_vec();
    b[2] = 0x02;
    b[43] = 4;
    assert!(matches!(
        MslFrame::new_verified(&with_crc(b)[..], None),
        Err(WireError::BadLength { .. })
    ));
    // Emit checks.
    let r = MslRepr {
        message_len: 3,
        ..header(FrameType::Data)
    };
    let mut out = [0u8; 100];
    assert!(r.emit_with_payload(&mut out, b"hello", None).is_err());
    assert!(matches!(
        header(FrameType::Ack).emit_with_payload(&mut out[..40], &[], None),
        Err(WireError::BufferTooSmall { .. })
    ));
    let ipx = sft3::wire::EthernetRepr::ipx(B, A, sft3::wire::Framing::EthernetII);
    assert!(emit_msl_frame(&mut out, &ipx, &r, &[], None).is_err());
    // Another EtherType is not MSL.
    let mut b = cat(HEARTBEAT);
    b[12..14].copy_from_slice(&[0x81, 0x37]);
    assert!(matches!(
        MslLinkFrame::parse(&b, None),
        Err(WireError::WrongKind { .. })
    ));
}

#[test]
fn ack_payload_errors() {
    assert!(matches!(
        AckRepr::parse_bytes(&[0; 12]),
        Err(WireError::BadLength { .. })
    ));
    assert!(matches!(
        AckRepr::parse_bytes(&[0; 72]),
        Err(WireError::TooMany { count: 9, .. })
    ));
    // Empty block.
    assert!(matches!(
        AckRepr::parse_bytes(&hex("00 00 00 05 00 00 00 05")),
        Err(WireError::BadField { .. })
    ));
    // A block across the wrap is fine.
    let a = AckRepr::parse_bytes(&hex("ff ff ff fe 00 00 00 02")).unwrap();
    assert_eq!(a.blocks[0].len(), 4);
    assert!(a.blocks[0].contains(0));
    assert_eq!(AckRepr::parse_bytes(&[]).unwrap(), AckRepr::default());
}

#[test]
fn handshake_errors() {
    let mut out = [0u8; 200];
    let n = golden_handshake().emit(&mut out).unwrap();
    let mut b = out[..n].to_vec();
    b[40] = 2; // min 2 > max 1
    assert!(matches!(
        HandshakeRepr::parse_bytes(&b),
        Err(WireError::BadField { .. })
    ));
    let mut b = out[..n].to_vec();
    b[45] = 9;
    assert!(matches!(
        HandshakeRepr::parse_bytes(&b),
        Err(WireError::TooMany { count: 9, .. })
    ));
    let mut b = out[..n].to_vec();
    b[45] = 4;
    assert!(matches!(
        HandshakeRepr::parse_bytes(&b),
        Err(WireError::Truncated { .. })
    ));
    // Extensions of unknown types after the history are skipped.
    let mut b = out[..n].to_vec();
    b.extend(hex("7f 00 00 03 01 02 03  00 09 00 00"));
    assert_eq!(HandshakeRepr::parse_bytes(&b).unwrap(), golden_handshake());
    for i in 0..n {
        let _ = HandshakeRepr::parse_bytes(&out[..i]).unwrap_err();
    }
}

/// The max-message extension, after the golden handshake's history: type 1, length 8,
/// 1 GiB.
const EXT_MAX_MESSAGE_1G: &str = "00 01 00 08 00 00 00 00 40 00 00 00";

#[test]
fn handshake_max_message_extension() {
    let h = HandshakeRepr {
        max_message: Some(1 << 30),
        ..golden_handshake()
    };
    let mut out = [0u8; 200];
    let n = h.emit(&mut out).unwrap();
    assert_eq!(n, h.buffer_len());
    assert_eq!(n, HANDSHAKE_FIXED_LEN + 24 + 12);
    // The golden handshake's bytes, then the extension.
    let mut want = cat(HELLO)[44..44 + 96].to_vec();
    want.extend(hex(EXT_MAX_MESSAGE_1G));
    assert_eq!(&out[..n], &want[..]);
    assert_eq!(HandshakeRepr::parse_bytes(&want).unwrap(), h);
    let v = Handshake::new_checked(&want[..]).unwrap();
    assert_eq!(v.max_message(), Some(1 << 30));
    assert_eq!(v.extension_bytes(), &hex(EXT_MAX_MESSAGE_1G)[..]);
    let e: Vec<_> = v.extensions().map(|e| (e.kind, e.value.len())).collect();
    assert_eq!(e, [(1, 8)]);
    // The original form (no extension) still parses: the limit is unknown.
    let old = &cat(HELLO)[44..44 + 96];
    assert_eq!(Handshake::new_checked(old).unwrap().max_message(), None);
    assert_eq!(HandshakeRepr::parse_bytes(old).unwrap().max_message, None);
    // Unknown extensions before and after it are skipped.
    let mut b = old.to_vec();
    b.extend(hex("12 34 00 02 aa bb"));
    b.extend(hex(EXT_MAX_MESSAGE_1G));
    b.extend(hex("ff ff 00 00"));
    assert_eq!(HandshakeRepr::parse_bytes(&b).unwrap(), h);
    // Errors: an entry past the end, a cut entry header, a wrong length, a repeat.
    type Check = fn(&WireError) -> bool;
    let bad: [(&str, Check); 4] = [
        ("00 01 00 09 00 00 00 00 40 00 00 00", |e| {
            matches!(e, WireError::BadLength { claimed: 9, .. })
        }),
        ("00 01 00", |e| {
            matches!(
                e,
                WireError::Truncated {
                    need: 4,
                    have: 3,
                    ..
                }
            )
        }),
        ("00 01 00 04 00 00 00 01", |e| {
            matches!(e, WireError::BadLength { claimed: 4, .. })
        }),
        (
            "00 01 00 08 00 00 00 00 40 00 00 00 00 01 00 08 00 00 00 00 40 00 00 00",
            |e| matches!(e, WireError::BadField { value: 1, .. }),
        ),
    ];
    for (ext, ok) in bad {
        let mut b = old.to_vec();
        b.extend(hex(ext));
        let e = HandshakeRepr::parse_bytes(&b).unwrap_err();
        assert!(ok(&e), "{ext}: {e:?}");
        assert!(Handshake::new_checked(&b[..]).is_err());
    }
    // Every prefix of the extended form fails or parses (as the original form, exactly at
    // the end of the history), never panics.
    for i in 0..n {
        match HandshakeRepr::parse_bytes(&out[..i]) {
            Ok(p) => assert_eq!((i, p.max_message), (HANDSHAKE_FIXED_LEN + 24, None)),
            Err(_) => assert!(i < n),
        }
    }
    // Too small an output buffer.
    assert!(matches!(
        h.emit(&mut out[..n - 1]),
        Err(WireError::BufferTooSmall { .. })
    ));
}

#[test]
fn close_payload() {
    let mut out = [0u8; 32];
    let n = emit_close(&mut out, CloseReason::DIVERGED, b"gen 0a0b").unwrap();
    assert_eq!(&out[..n], &hex("00 04 67 65 6e 20 30 61 30 62")[..]);
    let (r, text) = parse_close(&out[..n]).unwrap();
    assert_eq!(r, CloseReason::DIVERGED);
    assert_eq!(r.to_string(), "diverged");
    assert_eq!(text, b"gen 0a0b");
    assert_eq!(CloseReason(99).to_string(), "reason-99");
    assert!(parse_close(&[1]).is_err());
}

#[test]
fn mtu() {
    assert_eq!(max_payload(1500, false), 1452);
    assert_eq!(max_payload(1500, true), 1440);
    assert_eq!(max_payload(10, true), 0);
    assert_eq!(max_payload(1 << 20, false), 65535);
    for auth in [false, true] {
        let k = key();
        let key = auth.then_some(&k);
        let p = vec![0x5a; max_payload(1500, auth)];
        let r = MslRepr {
            message_len: p.len() as u32,
            ..header(FrameType::Data)
        };
        let mut out = [0u8; 1600];
        let n = emit_msl_frame(&mut out, &ethernet_repr(B, A, None), &r, &p, key).unwrap();
        assert_eq!(n, 14 + 1500);
        MslLinkFrame::parse(&out[..n], key).unwrap();
    }
}

#[test]
fn prefixes_are_errors() {
    let k = key();
    for (bytes, key) in [(cat(DATA_AUTH), Some(&k)), (cat(ACK), None)] {
        for n in 0..bytes.len() {
            assert!(MslFrame::new_verified(&bytes[..n], key).is_err());
            assert!(MslFrame::new_checked(&bytes[..n]).is_err());
        }
    }
}

fn msl_repr_and_payload() -> impl Strategy<Value = (MslRepr, Vec<u8>)> {
    (
        (1u8..=7, 0u8..4, any::<u8>(), any::<u16>()),
        (any::<u64>(), any::<u64>(), any::<u32>(), any::<u32>()),
        (any::<u32>(), any::<u32>(), any::<u32>()),
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(
            |((ty, pr, fl, win), (si, ri, seq, ack), (id, off, extra), p)| {
                let frame_type = FrameType::from_u8(ty).unwrap();
                let (fragment_offset, message_len) = if frame_type == FrameType::Data {
                    let off = off % (1 << 30);
                    (off, off + p.len() as u32 + extra % (1 << 30))
                } else {
                    (off, extra)
                };
                let r = MslRepr {
                    frame_type,
                    priority: Priority::from_bits(pr),
                    flags: fl & !(flag::AUTH | flag::PRIORITY_MASK),
                    window: win,
                    sender_incarnation: si,
                    receiver_incarnation: ri,
                    seq,
                    ack,
                    message_id: id,
                    fragment_offset,
                    message_len,
                    payload_len: p.len(),
                };
                (r, p)
            },
        )
}

fn handshake_repr() -> impl Strategy<Value = HandshakeRepr> {
    (
        (
            any::<u64>(),
            any::<[u8; 32]>(),
            any::<(u8, u8)>(),
            any::<u8>(),
        ),
        (any::<u8>(), any::<u8>(), any::<u16>(), any::<u64>()),
        (any::<u32>(), any::<u32>(), any::<u64>()),
        prop::collection::vec(any::<u64>(), 0..=MAX_HISTORY),
        any::<Option<u64>>(),
    )
        .prop_map(
            |((id, name, (a, b), role), (fl, pr, mf, vs), (rs, ev, ts), h, mm)| HandshakeRepr {
                server_id: id,
                name,
                min_version: a.min(b),
                max_version: a.max(b),
                role: Role::from_u8(role),
                flags: StateFlags(fl),
                priority: pr,
                max_frame: mf,
                volume_size: vs,
                region_size: rs,
                engine_version: ev,
                tracked_since: ts,
                history: h.into_iter().collect(),
                max_message: mm,
            },
        )
}

proptest! {
    #[test]
    fn round_trip((r, p) in msl_repr_and_payload(), keyed in any::<bool>(), k in any::<[u8; 32]>()) {
        let key = keyed.then_some(k);
        let mut buf = [0u8; 512];
        let eth = ethernet_repr(B, A, None);
        let n = emit_msl_frame(&mut buf, &eth, &r, &p, key.as_ref()).unwrap();
        prop_assert_eq!(n, 14 + r.buffer_len(keyed));
        let f = MslLinkFrame::parse(&buf[..n], key.as_ref()).unwrap();
        prop_assert_eq!(f.eth, eth);
        prop_assert_eq!(MslRepr::parse(&f.msl).unwrap(), r);
        prop_assert_eq!(f.msl.payload(), &p[..]);
        prop_assert_eq!(f.msl.is_authenticated(), keyed);
    }

    #[test]
    fn tampered_frames_never_pass_with_other_content(
        (r, p) in msl_repr_and_payload(), keyed in any::<bool>(), k in any::<[u8; 32]>(),
        pos in any::<prop::sample::Index>(), bit in 0u8..8
    ) {
        let key = keyed.then_some(k);
        let mut buf = [0u8; 512];
        let n = r.emit_with_payload(&mut buf, &p, key.as_ref()).unwrap();
        let i = pos.index(n);
        buf[i] ^= 1 << bit;
        let res = MslFrame::new_verified(&buf[..n], key.as_ref());
        prop_assert!(res.is_err(), "flip at {} accepted", i);
        if keyed && i > 0 {
            let is_bad_auth = matches!(res, Err(WireError::BadAuth { .. }));
            prop_assert!(is_bad_auth);
        }
    }

    #[test]
    fn ack_round_trip(blocks in prop::collection::vec((any::<u32>(), 1u32..(1 << 31)), 0..=MAX_SACK_BLOCKS)) {
        let a = AckRepr {
            blocks: blocks.iter().map(|&(s, n)| SackBlock { start: s, end: s.wrapping_add(n) }).collect(),
        };
        let mut buf = [0u8; 128];
        let len = a.emit(&mut buf).unwrap();
        prop_assert_eq!(len, a.buffer_len());
        prop_assert_eq!(AckRepr::parse_bytes(&buf[..len]).unwrap(), a);
    }

    #[test]
    fn handshake_round_trip(h in handshake_repr()) {
        let mut buf = [0u8; 256];
        let n = h.emit(&mut buf).unwrap();
        prop_assert_eq!(n, h.buffer_len());
        prop_assert_eq!(HandshakeRepr::parse_bytes(&buf[..n]).unwrap(), h);
    }

    #[test]
    fn random_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..300), k in any::<[u8; 32]>()) {
        let _ = MslLinkFrame::parse(&b, None);
        let _ = MslLinkFrame::parse(&b, Some(&k));
        if let Ok(f) = MslFrame::new_checked(&b[..]) {
            let _ = (f.payload(), f.integrity(), f.is_last_fragment());
            let _ = MslRepr::parse(&f);
        }
        let _ = HandshakeRepr::parse_bytes(&b);
        let _ = AckRepr::parse_bytes(&b);
        let _ = parse_close(&b);
    }

    #[test]
    fn random_frames_behind_a_good_link_header_never_panic(
        b in prop::collection::vec(any::<u8>(), 0..300), k in any::<[u8; 32]>()
    ) {
        let mut v = hex("02 00 00 00 00 02 02 00 00 00 00 01 88 b5 01");
        v.extend(b);
        let _ = MslLinkFrame::parse(&v, None);
        let _ = MslLinkFrame::parse(&v, Some(&k));
    }
}
