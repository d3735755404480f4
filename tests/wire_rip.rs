//! IPX RIP: real frames, round trips, and malformed input.

use proptest::prelude::*;
use sft3::wire::rip::{self, RipEntry, RipOp, RipPacket, RipRepr, MAX_ENTRIES};
use sft3::wire::{IpxFrame, Net, PacketType, Socket, WireError};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// tcpdump's ipx.pcap frame 5 (802.2 LLC): `ipx-rip-resp a8f87967/1.2`.
const TCPDUMP_FRAME_5: &str =
    "ffffffffffff0003471bc1a8002ce0e003ffff0028000100000000ffffffffffff04530000000000\
03471bc1a804530002a8f8796700010002000000";

/// Wireshark's ipx_rip.pcap, its only frame (raw 802.3, padded to 60 bytes): a response from
/// node 00:aa:00:a3:e3:a4 on network 0x28; tcpdump prints `ipx-rip-resp 391729e2/1.2`.
const WIRESHARK_RIP: &str =
    "ffffffffffff00aa00a3e3a40028ffff0028000100000028ffffffffffff04530000002800aa00a3\
e3a404530002391729e200010002000000000000";

fn payload_of(frame_hex: &str) -> Vec<u8> {
    let frame = hex(frame_hex);
    let f = IpxFrame::parse(&frame).expect("IPX frame");
    assert_eq!(f.ipx.dst().socket, Socket::RIP);
    assert_eq!(f.ipx.packet_type(), PacketType::RIP);
    f.ipx.payload().to_vec()
}

fn entry(net: u32, hops: u16, ticks: u16) -> RipEntry {
    RipEntry {
        net: Net(net),
        hops,
        ticks,
    }
}

#[test]
fn tcpdump_frame_5_is_one_route() {
    let p = payload_of(TCPDUMP_FRAME_5);
    assert_eq!(p, hex("0002a8f8796700010002"));
    let view = RipPacket::new_checked(&p[..]).unwrap();
    assert_eq!(view.operation(), 2);
    assert_eq!(view.op(), RipOp::Response);
    assert_eq!(view.entry_count(), 1);
    assert_eq!(view.entry(0), Some(entry(0xa8f8_7967, 1, 2)));
    assert_eq!(view.entry(1), None);
    let repr = RipRepr::parse(&view).unwrap();
    assert_eq!(repr.op, RipOp::Response);
    assert_eq!(&repr.entries[..], &[entry(0xa8f8_7967, 1, 2)]);
    assert_eq!(repr.entries[0].to_string(), "a8f87967/1.2");
    let mut out = [0u8; 64];
    let n = repr.emit(&mut out).unwrap();
    assert_eq!(&out[..n], &p[..]);
}

#[test]
fn wireshark_frame_is_one_route_from_net_28() {
    let frame = hex(WIRESHARK_RIP);
    let f = IpxFrame::parse(&frame).unwrap();
    assert_eq!(f.ipx.src().net, Net(0x28));
    let repr = RipRepr::parse_bytes(f.ipx.payload()).unwrap();
    assert_eq!(repr.op, RipOp::Response);
    assert_eq!(&repr.entries[..], &[entry(0x3917_29e2, 1, 2)]);
    assert!(!repr.entries[0].is_unreachable());
}

#[test]
fn general_request_bytes() {
    let r = RipRepr::general_request();
    assert!(r.is_general_request());
    assert_eq!(r.entries[0].net, Net::ALL);
    let mut out = [0u8; 10];
    assert_eq!(r.emit(&mut out), Ok(10));
    assert_eq!(out, [0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    assert_eq!(RipRepr::parse_bytes(&out), Ok(r));
    assert!(!RipRepr::request(Net(0x1234)).is_general_request());
    assert_eq!(rip::SOCKET, Socket(0x0453));
}

#[test]
fn response_takes_at_most_fifty() {
    let many: Vec<RipEntry> = (0..60).map(|i| entry(i, 1, 2)).collect();
    let r = RipRepr::response(&many);
    assert_eq!(r.entries.len(), MAX_ENTRIES);
    assert_eq!(r.buffer_len(), 2 + 50 * 8);
    let mut out = vec![0u8; r.buffer_len()];
    assert_eq!(r.emit(&mut out), Ok(402));
    assert_eq!(RipRepr::parse_bytes(&out), Ok(r));
}

#[test]
fn malformed_packets_are_typed_errors() {
    // A trailing partial entry (the IPX length already trimmed link padding).
    let mut p = hex("0002a8f8796700010002");
    p.extend_from_slice(&[0, 0, 0]);
    assert!(matches!(
        RipRepr::parse_bytes(&p),
        Err(WireError::BadLength { what: "RIP", .. })
    ));
    // 51 entries.
    let mut big = vec![0, 2];
    big.resize(2 + 51 * 8, 0);
    assert_eq!(
        RipRepr::parse_bytes(&big),
        Err(WireError::TooMany {
            what: "RIP entries",
            count: 51,
            max: 50
        })
    );
    // Unknown operation.
    assert_eq!(
        RipRepr::parse_bytes(&hex("0003a8f8796700010002")),
        Err(WireError::BadField {
            field: "RIP operation",
            value: 3
        })
    );
    // No entry at all.
    assert!(matches!(
        RipRepr::parse_bytes(&[0, 2]),
        Err(WireError::Truncated { .. })
    ));
}

#[test]
fn emit_errors() {
    let r = RipRepr::general_request();
    let mut small = [0u8; 9];
    assert!(matches!(
        r.emit(&mut small),
        Err(WireError::BufferTooSmall {
            need: 10,
            have: 9,
            ..
        })
    ));
    let empty = RipRepr::response(&[]);
    assert!(matches!(
        empty.emit(&mut [0u8; 64]),
        Err(WireError::BadLength { .. })
    ));
}

#[test]
fn every_prefix_of_a_real_packet_is_handled() {
    let p = payload_of(TCPDUMP_FRAME_5);
    for n in 0..p.len() {
        assert!(RipRepr::parse_bytes(&p[..n]).is_err(), "prefix {n}");
    }
    assert!(RipRepr::parse_bytes(&p).is_ok());
}

fn arb_entry() -> impl Strategy<Value = RipEntry> {
    (any::<u32>(), any::<u16>(), any::<u16>()).prop_map(|(n, h, t)| entry(n, h, t))
}

proptest! {
    #[test]
    fn emit_then_parse_round_trips(
        request in any::<bool>(),
        entries in prop::collection::vec(arb_entry(), 1..=MAX_ENTRIES),
    ) {
        let repr = RipRepr {
            op: if request { RipOp::Request } else { RipOp::Response },
            entries: entries.into_iter().collect(),
        };
        let mut buf = vec![0u8; repr.buffer_len()];
        prop_assert_eq!(repr.emit(&mut buf), Ok(buf.len()));
        let view = RipPacket::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(view.entries().collect::<Vec<_>>(), repr.entries.to_vec());
        prop_assert_eq!(RipRepr::parse(&view), Ok(repr));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(view) = RipPacket::new_checked(&bytes[..]) {
            let repr = RipRepr::parse(&view).unwrap();
            let mut out = vec![0u8; repr.buffer_len()];
            prop_assert_eq!(repr.emit(&mut out), Ok(bytes.len()));
            prop_assert_eq!(&out[..], &bytes[..]);
            for i in 0..=view.entry_count() {
                let _ = view.entry(i);
            }
        }
    }
}
