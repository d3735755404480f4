//! SAP: real frames, round trips, and malformed input.

use proptest::prelude::*;
use sft3::wire::sap::{
    self, SapEntry, SapOp, SapPacket, SapRepr, ServerType, HOPS_DOWN, MAX_ENTRIES, NAME_LEN,
};
use sft3::wire::{IpxAddr, IpxFrame, MacAddr, Net, Socket, WireError};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// tcpdump's ipx.pcap frame 6 (802.2 LLC): a JetDirect's general response, sent from 0x0452.
const FRAME_6: &str =
    "ffffffffffff0030c1bf57550063e0e003ffff0060000000000000ffffffffffff04520000000000\
30c1bf575504520002030c303033304331424635373535383044304e504942463537353500000000\
00000000000000000000000000000000000000000000000030c1bf5755400c0001";

/// Frame 7: a Microsoft IIS general response with a 47-byte name, sent from socket 0x4008;
/// the 802.3 length covers one byte (0x6a) past the IPX length.
const FRAME_7: &str =
    "ffffffffffff001485accdad0064e0e003ffff0060000400000000ffffffffffff04520000000000\
1485accdad40080002064e454b544121212121212121212121214135353639423230414245353131\
4345394341343030303034433736323833320000000000001485accdad400000016a";

/// Frame 8: the same service type from another host.
const FRAME_8: &str =
    "ffffffffffff0013206183a30064e0e003ffff0060000400000000ffffffffffff04520000000000\
13206183a340080002064e4156455348212121212121212121214135353639423230414245353131\
43453943413430303030344337363238333200000000000013206183a3400000010b";

fn payload_of(frame_hex: &str) -> (Socket, Vec<u8>) {
    let frame = hex(frame_hex);
    let f = IpxFrame::parse(&frame).expect("IPX frame");
    assert_eq!(f.ipx.dst().socket, Socket::SAP);
    (f.ipx.src().socket, f.ipx.payload().to_vec())
}

fn addr(node: [u8; 6], socket: u16) -> IpxAddr {
    IpxAddr::new(Net(0), MacAddr(node), Socket(socket))
}

/// Parses a one-entry general response and checks it against tcpdump's and tshark's decode
/// (`tshark -O ipxsap`: type, name, network, node, socket, intermediate networks).
fn check_one(frame: &str, src_socket: u16, ty: u16, name: &str, node: [u8; 6], socket: u16) {
    let (src, p) = payload_of(frame);
    assert_eq!(src, Socket(src_socket));
    assert_eq!(p.len(), 2 + 64);
    let view = SapPacket::new_checked(&p[..]).unwrap();
    assert_eq!(view.op(), SapOp::GeneralResponse);
    assert_eq!(view.entry_count(), 1);
    assert_eq!(view.requested_type(), None);
    let repr = SapRepr::parse(&view).unwrap();
    let SapRepr::Response { nearest, entries } = &repr else {
        panic!("not a response: {repr:?}");
    };
    assert!(!nearest);
    let e = &entries[0];
    assert_eq!(e.server_type, ServerType(ty));
    assert_eq!(e.name(), name.as_bytes());
    assert_eq!(e.display_name().to_string(), name);
    assert_eq!(e.addr, addr(node, socket));
    assert_eq!(e.hops, 1);
    assert!(!e.is_down());
    let mut out = [0u8; 66];
    assert_eq!(repr.emit(&mut out), Ok(66));
    assert_eq!(&out[..], &p[..]);
    // Rebuilding the entry from its parts gives the same bytes.
    let rebuilt = SapEntry::new(ServerType(ty), name.as_bytes(), e.addr, 1).unwrap();
    assert_eq!(&rebuilt, e);
}

#[test]
fn frame_6_jetdirect() {
    check_one(
        FRAME_6,
        0x0452,
        0x030c,
        "0030C1BF575580D0NPIBF5755",
        [0x00, 0x30, 0xc1, 0xbf, 0x57, 0x55],
        0x400c,
    );
    assert_eq!(
        ServerType::HP_JETDIRECT.name(),
        Some("Intel Netport 2 or HP JetDirect or HP Quicksilver")
    );
}

#[test]
fn frame_7_iis_with_47_byte_name() {
    let name = "EKTA!!!!!!!!!!!A5569B20ABE511CE9CA400004C762832";
    assert_eq!(name.len(), 47);
    check_one(
        FRAME_7,
        0x4008,
        0x064e,
        name,
        [0x00, 0x14, 0x85, 0xac, 0xcd, 0xad],
        0x4000,
    );
    assert_eq!(ServerType::MS_IIS, ServerType(0x064e));
    assert_eq!(ServerType::MS_IIS.to_string(), "064e");
}

#[test]
fn frame_8_iis() {
    check_one(
        FRAME_8,
        0x4008,
        0x064e,
        "AVESH!!!!!!!!!!A5569B20ABE511CE9CA400004C762832",
        [0x00, 0x13, 0x20, 0x61, 0x83, 0xa3],
        0x4000,
    );
}

#[test]
fn requests() {
    let q = SapRepr::general_request(ServerType::FILE_SERVER);
    let mut out = [0u8; 4];
    assert_eq!(q.emit(&mut out), Ok(4));
    assert_eq!(out, [0, 1, 0, 4]);
    assert_eq!(SapRepr::parse_bytes(&out), Ok(q));
    let nearest = SapRepr::parse_bytes(&[0, 3, 0xff, 0xff]).unwrap();
    assert_eq!(
        nearest,
        SapRepr::Request {
            nearest: true,
            server_type: ServerType::ALL
        }
    );
    assert_eq!(nearest.op(), SapOp::NearestRequest);
    let v = SapPacket::new_checked(&[0u8, 1, 0x02, 0x78][..]).unwrap();
    assert_eq!(v.requested_type(), Some(ServerType::DIRECTORY_SERVER));
    assert_eq!(v.entry_count(), 0);
    assert_eq!(v.entry(0), None);
    assert_eq!(sap::SOCKET, Socket(0x0452));
}

#[test]
fn names_and_down_servers() {
    let a = addr([0, 0, 0, 0, 0, 1], 0x0451);
    let long = [b'A'; 48];
    assert!(matches!(
        SapEntry::new(ServerType::FILE_SERVER, &long, a, 1),
        Err(WireError::BadLength { claimed: 48, .. })
    ));
    let ok = SapEntry::new(ServerType::FILE_SERVER, &long[..47], a, HOPS_DOWN).unwrap();
    assert!(ok.is_down());
    assert_eq!(ok.name().len(), 47);
    // A name field filled by hand with no NUL cannot be emitted.
    let mut bad = ok;
    bad.name = [b'B'; NAME_LEN];
    let r = SapRepr::general_response(&[ok, bad]);
    assert!(matches!(
        r.emit(&mut [0u8; 200]),
        Err(WireError::BadLength {
            what: "SAP server name",
            ..
        })
    ));
    // Non-printable bytes are escaped for display.
    let odd = SapEntry::new(ServerType(0x1234), b"A\x01B", a, 0).unwrap();
    assert_eq!(odd.display_name().to_string(), "A\\x01B");
    assert_eq!(ServerType(0x1234).name(), None);
    assert_eq!(
        ServerType::FILE_SERVER.name(),
        Some("File Server (SLIST source)")
    );
}

#[test]
fn malformed_packets_are_typed_errors() {
    let (_, p) = payload_of(FRAME_6);
    // A byte past the last entry.
    let mut long = p.clone();
    long.push(0);
    assert!(matches!(
        SapRepr::parse_bytes(&long),
        Err(WireError::BadLength { .. })
    ));
    // A name with no terminator.
    let mut unterminated = p.clone();
    unterminated[4..52].fill(b'X');
    assert!(matches!(
        SapRepr::parse_bytes(&unterminated),
        Err(WireError::BadField { .. })
    ));
    // Eight entries.
    let mut eight = vec![0, 2];
    for _ in 0..8 {
        eight.extend_from_slice(&p[2..]);
    }
    assert_eq!(
        SapRepr::parse_bytes(&eight),
        Err(WireError::TooMany {
            what: "SAP entries",
            count: 8,
            max: 7
        })
    );
    // Bad operation; a padded request.
    assert!(matches!(
        SapRepr::parse_bytes(&[0, 5, 0, 4]),
        Err(WireError::BadField { value: 5, .. })
    ));
    assert!(matches!(
        SapRepr::parse_bytes(&[0, 1, 0, 4, 0]),
        Err(WireError::BadLength { .. })
    ));
    // Too small an output buffer.
    let r = SapRepr::parse_bytes(&p).unwrap();
    assert!(matches!(
        r.emit(&mut [0u8; 65]),
        Err(WireError::BufferTooSmall { need: 66, .. })
    ));
}

#[test]
fn every_prefix_of_a_real_packet_is_handled() {
    for frame in [FRAME_6, FRAME_7, FRAME_8] {
        let (_, p) = payload_of(frame);
        for n in 0..p.len() {
            // Only the bare operation (an empty response) is a whole packet.
            assert_eq!(SapRepr::parse_bytes(&p[..n]).is_ok(), n == 2, "prefix {n}");
        }
    }
}

fn arb_entry() -> impl Strategy<Value = SapEntry> {
    (
        any::<u16>(),
        prop::collection::vec(1u8..=255, 0..=47),
        any::<u32>(),
        any::<[u8; 6]>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(ty, name, net, node, sock, hops)| {
            let a = IpxAddr::new(Net(net), MacAddr(node), Socket(sock));
            SapEntry::new(ServerType(ty), &name, a, hops).unwrap()
        })
}

fn arb_repr() -> impl Strategy<Value = SapRepr> {
    prop_oneof![
        (any::<bool>(), any::<u16>()).prop_map(|(nearest, t)| SapRepr::Request {
            nearest,
            server_type: ServerType(t)
        }),
        (
            any::<bool>(),
            prop::collection::vec(arb_entry(), 0..=MAX_ENTRIES)
        )
            .prop_map(|(nearest, e)| SapRepr::Response {
                nearest,
                entries: e.into_iter().collect()
            }),
    ]
}

proptest! {
    #[test]
    fn emit_then_parse_round_trips(repr in arb_repr()) {
        let mut buf = vec![0u8; repr.buffer_len()];
        prop_assert_eq!(repr.emit(&mut buf), Ok(buf.len()));
        prop_assert_eq!(SapRepr::parse_bytes(&buf), Ok(repr));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(view) = SapPacket::new_checked(&bytes[..]) {
            let repr = SapRepr::parse(&view).unwrap();
            let mut out = vec![0u8; repr.buffer_len()];
            prop_assert_eq!(repr.emit(&mut out), Ok(bytes.len()));
            prop_assert_eq!(&out[..], &bytes[..]);
        }
    }

    #[test]
    fn random_responses_never_panic(
        n in 0usize..9,
        fill in any::<u8>(),
        noise in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        // Response-shaped input reaches the entry checks far more often than plain noise.
        let mut b = vec![0u8, 2];
        b.resize(2 + n * 64, fill);
        for (d, s) in b[2..].iter_mut().zip(&noise) {
            *d = *s;
        }
        let _ = SapRepr::parse_bytes(&b);
    }
}
