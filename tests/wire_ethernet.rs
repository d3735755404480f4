//! Ethernet framings and the IPX header: real frames from third-party captures, built frames
//! in every framing, round trips, and hostile input.

mod common;

use common::hex;
use proptest::prelude::*;
use sft3::wire::ethernet::{Encap, EthernetFrame, EthernetRepr, Framing, LlcControl, VlanTag};
use sft3::wire::ipx::{checksum, ChecksumStatus, IpxPacket, IpxRepr, PacketType};
use sft3::wire::{emit_ipx_frame, Checksum, IpxAddr, IpxFrame, MacAddr, Net, Socket, WireError};

/// tcpdump tests/ipx.pcap frame 5: 802.2 LLC, RIP response a8f87967/1.2.
const LLC_RIP: &str =
    "ffff ffff ffff 0003 471b c1a8 002c e0e0 03ff ff00 2800 0100 0000 00ff ffff ffff
    ff04 5300 0000 0000 0347 1bc1 a804 5300 02a8 f879 6700 0100 0200 0000";
/// Wireshark ipx_rip.pcap: raw 802.3, RIP from 00000028.00aa00a3e3a4, padded to 60 bytes.
const RAW_RIP: &str =
    "ffff ffff ffff 00aa 00a3 e3a4 0028 ffff 0028 0001 0000 0028 ffff ffff ffff 0453
    0000 0028 00aa 00a3 e3a4 0453 0002 3917 29e2 0001 0002 0000 0000 0000";
/// Wireshark wiki novell_eth2_netbios.pcapng frame 1: Ethernet_II, NetBIOS (type 0x14).
const ETH2_NB: &str =
    "ffff ffff ffff 000c 29d4 79b2 8137 ffff 0050 0014 0000 0000 ffff ffff ffff 0455
    0000 0000 000c 29d4 79b2 0455 0003 0000 0000 0000 0000 0000 0000 0000 0000 0000
    0000 0000 0000 0000 0000 0000 4003 464f 4f42 4152 4d41 4348 494e 4520 207b";
/// tcpdump tests/ipx-invalid-length.pcap: LLC frame whose IPX length (29) is below 30.
const BAD_LEN: &str =
    "0800 3e2b 6856 0003 47e1 2a76 0029 e0e0 03ff ff00 1d00 118d c23c 0018 003e 2b68
    5640 2b0a 8808 aa00 0000 0000 0104 5133 33c0 3e01 01d5 001d 0000 0000";

#[test]
fn llc_frame_from_tcpdump() {
    let b = hex(LLC_RIP);
    let eth = EthernetFrame::new_checked(&b[..]).unwrap();
    assert_eq!(eth.framing(), Some(Framing::Llc));
    assert_eq!(eth.type_or_length(), 44);
    assert_eq!(eth.header_len(), 17);
    let f = IpxFrame::parse(&b).unwrap();
    assert_eq!(f.eth.src, "00:03:47:1b:c1:a8".parse().unwrap());
    assert!(f.eth.dst.is_broadcast());
    let r = f.ipx_repr();
    assert_eq!(r.checksum, Checksum::None);
    assert_eq!(r.total_len(), 40);
    assert_eq!(r.packet_type, PacketType::RIP);
    assert_eq!(r.src.to_string(), "00000000:0003471bc1a8:0453");
    assert_eq!(r.dst.dotted().to_string(), "00000000.ffffffffffff.0453");
    assert_eq!(f.ipx.payload(), &hex("0002 a8f8 7967 0001 0002")[..]);
    assert_eq!(f.ipx.verify_checksum(), ChecksumStatus::None);
}

#[test]
fn raw_802_3_frame_from_wireshark_trims_padding() {
    let b = hex(RAW_RIP);
    assert_eq!(b.len(), 60);
    let f = IpxFrame::parse(&b).unwrap();
    assert_eq!(f.framing, Framing::Raw8023);
    let r = f.ipx_repr();
    assert_eq!(r.src.net, Net(0x28));
    assert_eq!(r.src.node, "00aa00a3e3a4".parse().unwrap());
    assert_eq!(r.payload_len, 10);
    assert_eq!(f.ipx.as_bytes().len(), 40);
}

#[test]
fn ethernet_ii_frame_from_wireshark_wiki() {
    let b = hex(ETH2_NB);
    let f = IpxFrame::parse(&b).unwrap();
    assert_eq!(f.framing, Framing::EthernetII);
    let r = f.ipx_repr();
    assert_eq!(r.packet_type, PacketType::NETBIOS);
    assert_eq!(r.payload_len, 50);
    assert_eq!(r.dst.socket, Socket::NETBIOS);
}

#[test]
fn ipx_length_below_header_is_a_typed_error() {
    let b = hex(BAD_LEN);
    match IpxFrame::parse(&b) {
        Err(WireError::BadLength { claimed: 29, .. }) => {}
        other => panic!("expected BadLength 29, got {other:?}"),
    }
}

#[test]
fn inconsistent_8023_lengths_are_errors() {
    let mut b = hex(LLC_RIP);
    b[12..14].copy_from_slice(&200u16.to_be_bytes()); // longer than the frame
    assert!(matches!(
        EthernetFrame::new_checked(&b[..]),
        Err(WireError::BadLength { what: "802.3", .. })
    ));
    b[12..14].copy_from_slice(&1501u16.to_be_bytes()); // neither length nor type
    assert!(EthernetFrame::new_checked(&b[..]).is_err());
    let mut raw = hex(RAW_RIP);
    raw[12..14].copy_from_slice(&46u16.to_be_bytes()); // 802.3 says 46, IPX says 40
    assert!(matches!(
        IpxFrame::parse(&raw),
        Err(WireError::BadLength { what: "IPX", .. })
    ));
}

#[test]
fn non_ipx_frames_are_recognised_not_rejected() {
    // An IPv4 Ethernet_II header and a NetBEUI LLC (F0/F0) frame.
    let mut ip = [0u8; 60];
    ip[12] = 0x08;
    let eth = EthernetFrame::new_checked(&ip[..]).unwrap();
    assert_eq!(eth.encap(), Encap::EthernetII { ethertype: 0x0800 });
    assert_eq!(eth.framing(), None);
    assert!(matches!(
        IpxFrame::parse(&ip),
        Err(WireError::WrongKind { .. })
    ));
    let mut nb = [0u8; 60];
    nb[12..14].copy_from_slice(&4u16.to_be_bytes());
    nb[14..18].copy_from_slice(&[0xf0, 0xf0, 0x0a, 0x00]);
    let eth = EthernetFrame::new_checked(&nb[..]).unwrap();
    assert_eq!(
        eth.encap(),
        Encap::Llc {
            dsap: 0xf0,
            ssap: 0xf0,
            control: LlcControl::Is([0x0a, 0x00])
        }
    );
}

#[test]
fn golden_frames_in_every_framing() {
    let ipx = IpxRepr {
        checksum: Checksum::None,
        hops: 0,
        packet_type: PacketType::PEP,
        dst: "00000001:ffffffffffff:0452".parse().unwrap(),
        src: "00000001:020000000001:4000".parse().unwrap(),
        payload_len: 2,
    };
    let dst = MacAddr::BROADCAST;
    let src: MacAddr = "02:00:00:00:00:01".parse().unwrap();
    let ipx_hdr = "ffff 0020 0004 0000 0001 ffff ffff ffff 0452 0000 0001 0200 0000 0001 4000 0001";
    let cases = [
        (Framing::EthernetII, "8137"),
        (Framing::Raw8023, "0020"),
        (Framing::Llc, "0023 e0e0 03"),
        (Framing::Snap, "0028 aaaa 0300 0000 8137"),
    ];
    for (framing, link) in cases {
        let mut buf = [0u8; 128];
        let n = emit_ipx_frame(&mut buf, dst, src, framing, &ipx, &[0, 1]).unwrap();
        let mut want = hex(&format!("ffff ffff ffff 0200 0000 0001 {link} {ipx_hdr}"));
        want.resize(60, 0); // padded to the Ethernet minimum
        assert_eq!(&buf[..n], &want[..], "{framing}");
        let f = IpxFrame::parse(&buf[..n]).unwrap();
        assert_eq!(f.framing, framing);
        assert_eq!(f.ipx_repr(), ipx);
    }
}

#[test]
fn checksum_matches_known_value_and_is_refused_on_raw() {
    // 0xcdcc is what Linux's ipx_cksum algorithm gives for these bytes (computed
    // independently with a Python transcription of it).
    let ipx = IpxRepr {
        checksum: Checksum::Sum,
        hops: 3,
        packet_type: PacketType::NCP,
        dst: "0000abcd:00a0c9123456:0451".parse().unwrap(),
        src: "00000001:000000000001:4003".parse().unwrap(),
        payload_len: 0,
    };
    let mut buf = [0u8; 64];
    let n = ipx.emit_with_payload(&mut buf, b"hello").unwrap();
    let p = IpxPacket::new_checked(&buf[..n]).unwrap();
    assert_eq!(p.verify_checksum(), ChecksumStatus::Good);
    let c = p.checksum();
    assert_eq!(c, 0xcdcc);
    // Hops change in flight and must not change the checksum.
    buf[4] = 9;
    assert_eq!(checksum(&buf[..n]), c);
    buf[n - 1] ^= 1;
    assert!(matches!(
        IpxPacket::new_checked(&buf[..n]).unwrap().verify_checksum(),
        ChecksumStatus::Bad { .. }
    ));
    let mut frame = [0u8; 128];
    assert!(emit_ipx_frame(
        &mut frame,
        MacAddr::BROADCAST,
        MacAddr::ZERO,
        Framing::Raw8023,
        &ipx,
        b""
    )
    .is_err());
}

#[test]
fn vlan_tag_is_tolerated() {
    let mut repr = EthernetRepr::ipx(MacAddr::BROADCAST, MacAddr::ZERO, Framing::Llc);
    repr.vlan = Some(VlanTag {
        tpid: 0x8100,
        tci: 0x2005,
    });
    let mut buf = [0u8; 80];
    let h = repr.emit(&mut buf, 30).unwrap();
    assert_eq!(h, 21);
    let ipx = IpxRepr {
        checksum: Checksum::None,
        hops: 0,
        packet_type: PacketType(0),
        dst: IpxAddr::default(),
        src: IpxAddr::default(),
        payload_len: 0,
    };
    ipx.emit(&mut buf[h..]).unwrap();
    let f = IpxFrame::parse(&buf[..60]).unwrap();
    let tag = f.eth.vlan.unwrap();
    assert_eq!((tag.vid(), tag.pcp()), (5, 1));
    assert_eq!(f.framing, Framing::Llc);
}

fn arb_addr() -> impl Strategy<Value = IpxAddr> {
    (any::<u32>(), any::<[u8; 6]>(), any::<u16>())
        .prop_map(|(n, m, s)| IpxAddr::new(Net(n), MacAddr(m), Socket(s)))
}

proptest! {
    #[test]
    fn frames_round_trip(
        fi in 0usize..4,
        vlan in proptest::option::of(any::<u16>()),
        sum in any::<bool>(),
        hops in any::<u8>(),
        ty in any::<u8>(),
        dst in arb_addr(),
        src in arb_addr(),
        payload in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let framing = Framing::ALL[fi];
        let checksum = if sum && framing != Framing::Raw8023 { Checksum::Sum } else { Checksum::None };
        let ipx = IpxRepr { checksum, hops, packet_type: PacketType(ty), dst, src, payload_len: payload.len() };
        let mut eth = EthernetRepr::ipx(dst.node, src.node, framing);
        eth.vlan = vlan.map(|tci| VlanTag { tpid: 0x8100, tci });
        let mut buf = vec![0u8; 1600];
        let h = eth.emit(&mut buf, ipx.total_len()).unwrap();
        let n = ipx.emit_with_payload(&mut buf[h..], &payload).unwrap();
        let total = eth.frame_len(n);
        let f = IpxFrame::parse(&buf[..total]).unwrap();
        prop_assert_eq!(f.eth, eth);
        prop_assert_eq!(f.ipx_repr(), ipx);
        prop_assert_eq!(f.ipx.payload(), &payload[..]);
        let want = if sum && framing != Framing::Raw8023 { ChecksumStatus::Good } else { ChecksumStatus::None };
        prop_assert_eq!(f.ipx.verify_checksum(), want);
    }

    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(f) = IpxFrame::parse(&b) {
            let _ = f.ipx.verify_checksum();
            let _ = f.ipx_repr();
        }
        let _ = EthernetFrame::new_checked(&b[..]).map(|e| e.payload().len());
    }

    #[test]
    fn every_prefix_of_a_real_frame_is_safe(cut in 0usize..60) {
        let b = hex(LLC_RIP);
        let _ = IpxFrame::parse(&b[..cut.min(b.len())]);
    }
}
