//! NetBIOS over IPX: real frames from the third-party captures (values as `tshark -V`,
//! Wireshark 4.0.17, shows them), round trips, and hostile input.

mod common;

use common::hex;
use proptest::prelude::*;
use sft3::wire::netbios::{
    is_netbios, name_flags, netbios_kind, NbIpxBody, NbIpxPacket, NbIpxRepr, NetbiosKind,
    NetbiosName, NmpiPacket, NmpiRepr, StreamType, NMPI_HEADER_LEN, ROUTERS_LEN,
};
use sft3::wire::{IpxFrame, Net, PacketType, Socket, WireError};

/// tcpdump ipx.pcap frame 1 (LLC, type 20): Find name <01><02>__MSBROWSE__<02><01>.
const TCPDUMP_1: &str = "ffff ffff ffff 0003 471b c1a8 0054 e0e0 03ff ff00 5000 1400 0000 00ff
    ffff ffff ff04 55a8 f879 6700 0000 0000 0104 5500 0000 0000 0000 0000 0000 0000 0000 0000
    0000 0000 0000 0000 0000 0000 0000 0000 0101 025f 5f4d 5342 524f 5753 455f 5f02 0100";
/// tcpdump ipx.pcap frame 4 (LLC, type 4, 162 bytes): directed datagram to ADMINTEST<00>.
const TCPDUMP_4: &str = "ffff ffff ffff 0003 471b c1a8 00c4 e0e0 03ff ff00 c000 0400 0000 00ff
    ffff ffff ff04 55a8 f879 6700 0000 0000 0104 5500 0b41 444d 494e 5445 5354 2020 2020 2020
    0001 025f 5f4d 5342 524f 5753 455f 5f02 01ff 534d 4225 0000 0000 0000 0000 0000 0000 0000
    0000 0000 0000 0000 0000 0000 0011 0000 2a00 0000 0000 0000 0000 e803 0000 0000 0000 0000
    2a00 5600 0300 0100 0100 0200 3b00 5c4d 4149 4c53 4c4f 545c 4252 4f57 5345 000c 00a0 bb0d
    0052 4144 4955 5300 194c 7c00 30f9 7f00 3003 0a08 1000 80a8 e74c 7c41 444d 494e 5445 5354
    0000";
/// tcpdump ipx.pcap frame 36 (LLC, type 20, socket 0x0553, `ipx-nwlink-dgm 187`): NMPI
/// mailslot write to INDIA-IT<00> from AVESH<00>.
const TCPDUMP_36: &str = "ffff ffff ffff 0013 2061 83a3 00dc e0e0 03ff ff00 d900 1400 0000 00ff
    ffff ffff ff05 5300 0000 0000 1320 6183 a305 5300 0000 0000 0000 0000 0000 0000 0000 0000
    0000 0000 0000 0000 0000 0000 0000 00fc 0200 0049 4e44 4941 2d49 5420 2020 2020 2020 0041
    5645 5348 2020 2020 2020 2020 2020 00ff 534d 4225 0000 0000 0000 0000 0000 0000 0000 0000
    0000 0000 0000 0000 0000 0011 0000 2100 0000 0000 0000 0000 e803 0000 0000 0000 0000 2100
    5600 0300 0100 0100 0200 3200 5c4d 4149 4c53 4c4f 545c 4252 4f57 5345 0001 0080 fc0a 0041
    5645 5348 0000 0000 0000 0000 0000 0005 0003 1201 000f 0155 aa00";
/// Wireshark wiki novell_eth2_netbios.pcapng frame 12 (Ethernet_II, type 4, 50 bytes): Name
/// recognized FOOBARMACHINE<7b>, router list present (first entry 0x00020000).
const ETH2_12: &str = "0050 5620 ca57 000c 29d4 79b2 8137 ffff 0050 0004 0000 0000 0050 5620
    ca57 0455 0000 0000 000c 29d4 79b2 0455 0002 0000 0000 0000 0000 0000 0000 0000 0000 0000
    0000 0000 0000 0000 0000 0000 4402 464f 4f42 4152 4d41 4348 494e 4520 207b";
/// novell_eth2_netbios.pcapng frame 13: session data, 38 bytes of data.
const ETH2_13: &str = "000c 29d4 79b2 0050 5620 ca57 8137 ffff 0056 0004 0000 0000 000c 29d4
    79b2 0455 0000 0000 0050 5620 ca57 0455 4006 d804 ffff 0000 2600 0000 2600 0000 0000 4845
    4c4c 4f57 4f52 4c44 4150 5020 207b 464f 4f42 4152 4d41 4348 494e 4520 207b 0004 1500 0900";
/// novell_eth2_netbios.pcapng frame 20: session end.
const ETH2_20: &str = "0050 5620 ca57 000c 29d4 79b2 8137 ffff 0030 0004 0000 0000 0050 5620
    ca57 0455 0000 0000 000c 29d4 79b2 0455 4007 4e03 d804 0100 0000 0000 0000 0100 0000";
/// novell_eth2_netbios.pcapng frame 21: session end ACK.
const ETH2_21: &str = "000c 29d4 79b2 0050 5620 ca57 8137 ffff 0030 0004 0000 0000 000c 29d4
    79b2 0455 0000 0000 0050 5620 ca57 0455 4008 d804 4e03 0100 0000 0000 0000 0100 0000";
/// novell_llc_netbios.pcapng frame 3 (802.2 LLC, type 20): Find name FOOBARMACHINE<7b>.
const LLC_3: &str = "ffff ffff ffff 0050 5620 ca57 0053 e0e0 03ff ff00 5000 1400 0000 00ff
    ffff ffff ff04 5500 0000 0000 5056 20ca 5704 5500 0100 0000 0000 0000 0000 0000 0000 0000
    0000 0000 0000 0000 0000 0000 0000 0000 0146 4f4f 4241 524d 4143 4849 4e45 2020 7b";
/// novell_raw_netbios.pcapng frame 4 (raw 802.3, type 20): Check name HELLOWORLDAPP<7b>.
const RAW_4: &str = "ffff ffff ffff 0050 5620 ca57 0050 ffff 0050 0014 0000 0000 ffff ffff
    ffff 0455 0000 0000 0050 5620 ca57 0455 0003 0000 0000 0000 0000 0000 0000 0000 0000 0000
    0000 0000 0000 0000 0000 0000 4003 4845 4c4c 4f57 4f52 4c44 4150 5020 207b";

/// Parses a frame and its Novell NetBIOS header.
fn nbipx(frame: &str) -> (Vec<u8>, NbIpxRepr) {
    let b = hex(frame);
    let f = IpxFrame::parse(&b).unwrap();
    let r = f.ipx_repr();
    assert!(is_netbios(r.packet_type, r.src.socket, r.dst.socket));
    assert_eq!(
        netbios_kind(r.packet_type, r.src.socket, r.dst.socket),
        Some(NetbiosKind::NbIpx)
    );
    let payload = f.ipx.payload().to_vec();
    let p = NbIpxPacket::new_checked(&payload[..], r.packet_type).unwrap();
    let repr = NbIpxRepr::parse(&p).unwrap();
    // Every real header re-emits byte for byte.
    let mut out = vec![0u8; repr.buffer_len()];
    assert_eq!(repr.emit(&mut out), Ok(p.header_len()));
    assert_eq!(out[..], payload[..p.header_len()]);
    (payload, repr)
}

fn routers_with_first(first: u32) -> Option<[Net; 8]> {
    let mut r = [Net(0); 8];
    r[0] = Net(first);
    Some(r)
}

#[test]
fn find_name_msbrowse() {
    let (payload, r) = nbipx(TCPDUMP_1);
    assert_eq!(payload.len(), 50); // tcpdump: "ipx-netbios 50"
    assert_eq!(r.routers, Some([Net(0); 8]));
    let NbIpxBody::Name { flags, op, name } = r.body else {
        panic!("not a name packet: {r:?}")
    };
    assert_eq!(flags, 0x00);
    assert_eq!(op, StreamType::FIND_NAME);
    assert_eq!(op.to_string(), "Find name");
    assert_eq!(name.to_string(), "<01><02>__MSBROWSE__<02><01>");
    assert_eq!(name.suffix(), 0x01);
    assert_eq!(name.name(), b"\x01\x02__MSBROWSE__\x02");
}

#[test]
fn name_recognized_type4_with_routers() {
    let (payload, r) = nbipx(ETH2_12);
    assert_eq!(payload.len(), 50);
    // Wireshark: "IPX Network: 00 (0x00020000)".
    assert_eq!(r.routers, routers_with_first(0x0002_0000));
    let NbIpxBody::Name { flags, op, name } = r.body else {
        panic!("not a name packet: {r:?}")
    };
    // Wireshark: name type flag 0x44: unique, in use, registered.
    assert_eq!(flags, 0x44);
    assert_eq!(flags & name_flags::GROUP, 0);
    assert_ne!(flags & name_flags::IN_USE, 0);
    assert_ne!(flags & name_flags::REGISTERED, 0);
    assert_eq!(op, StreamType::NAME_RECOGNIZED);
    assert_eq!(name.to_string(), "FOOBARMACHINE<7b>");
    assert_eq!(name, NetbiosName::new(b"FOOBARMACHINE", 0x7b).unwrap());
}

#[test]
fn llc_and_raw_name_packets() {
    let (_, r) = nbipx(LLC_3);
    assert_eq!(r.routers, routers_with_first(0x0001_0000));
    assert!(matches!(
        r.body,
        NbIpxBody::Name { flags: 0x00, op: StreamType::FIND_NAME, name } if name.to_string() == "FOOBARMACHINE<7b>"
    ));
    let (_, r) = nbipx(RAW_4);
    assert_eq!(r.routers, routers_with_first(0x0003_0000));
    assert!(matches!(
        r.body,
        NbIpxBody::Name { flags: 0x40, op: StreamType::CHECK_NAME, name } if name.to_string() == "HELLOWORLDAPP<7b>"
    ));
}

#[test]
fn session_packets() {
    let (payload, r) = nbipx(ETH2_13);
    assert_eq!(r.routers, None);
    assert_eq!(
        r.body,
        NbIpxBody::Session {
            conn_ctrl: 0x40,
            op: StreamType::SESSION_DATA,
            src_conn: 0x04d8,
            dst_conn: 0xffff,
            send_seq: 0,
            total_len: 38,
            offset: 0,
            data_len: 38,
            recv_seq: 0,
            bytes_received: 0,
        }
    );
    let p = NbIpxPacket::new_checked(&payload[..], PacketType::PEP).unwrap();
    assert_eq!(p.payload().len(), 38);
    assert_eq!(&p.payload()[..13], b"HELLOWORLDAPP");

    let (_, end) = nbipx(ETH2_20);
    assert!(matches!(
        end.body,
        NbIpxBody::Session {
            op: StreamType::SESSION_END,
            src_conn: 0x034e,
            dst_conn: 0x04d8,
            send_seq: 1,
            recv_seq: 1,
            ..
        }
    ));
    let (_, ack) = nbipx(ETH2_21);
    assert!(matches!(
        ack.body,
        NbIpxBody::Session {
            op: StreamType::SESSION_END_ACK,
            src_conn: 0x04d8,
            dst_conn: 0x034e,
            ..
        }
    ));
    assert_eq!(StreamType::SESSION_END_ACK.to_string(), "Session end ACK");
}

#[test]
fn directed_datagram() {
    let (payload, r) = nbipx(TCPDUMP_4);
    assert_eq!(payload.len(), 162); // tcpdump: "ipx-netbios 162"
    assert_eq!(r.routers, None);
    let NbIpxBody::Datagram {
        conn_ctrl,
        receiver,
        sender,
    } = r.body
    else {
        panic!("not a datagram: {r:?}")
    };
    assert_eq!(conn_ctrl, 0);
    assert_eq!(receiver.to_string(), "ADMINTEST<00>");
    assert_eq!(sender.to_string(), "<01><02>__MSBROWSE__<02><01>");
    let p = NbIpxPacket::new_checked(&payload[..], PacketType::PEP).unwrap();
    assert_eq!(&p.payload()[..4], b"\xffSMB");
}

#[test]
fn nmpi_mailslot_write() {
    let b = hex(TCPDUMP_36);
    let f = IpxFrame::parse(&b).unwrap();
    let ipx = f.ipx_repr();
    assert_eq!(ipx.packet_type, PacketType::NETBIOS);
    assert_eq!(ipx.dst.socket, Socket::NWLINK_DGM);
    assert_eq!(
        netbios_kind(ipx.packet_type, ipx.src.socket, ipx.dst.socket),
        Some(NetbiosKind::Nmpi)
    );
    let payload = f.ipx.payload();
    assert_eq!(payload.len(), 187); // tcpdump: "ipx-nwlink-dgm 187"
    let p = NmpiPacket::new_checked(payload).unwrap();
    let r = NmpiRepr::parse(&p).unwrap();
    assert_eq!(r.routers, [Net(0); 8]);
    assert_eq!(r.opcode, NmpiRepr::MAILSLOT_WRITE);
    assert_eq!(r.name_type, 2); // Workgroup
    assert_eq!(r.message_id, 0);
    assert_eq!(r.name.to_string(), "INDIA-IT<00>");
    assert_eq!(r.source.to_string(), "AVESH<00>");
    assert_eq!(&p.payload()[..4], b"\xffSMB");
    let mut out = [0u8; NMPI_HEADER_LEN];
    assert_eq!(r.emit(&mut out), Ok(NMPI_HEADER_LEN));
    assert_eq!(out[..], payload[..NMPI_HEADER_LEN]);
}

#[test]
fn recognition() {
    let (t20, t4, t0) = (PacketType::NETBIOS, PacketType::PEP, PacketType::UNKNOWN);
    let eph = Socket(0x4000);
    assert!(is_netbios(t20, eph, eph));
    assert!(is_netbios(t4, Socket::NETBIOS, eph));
    assert!(is_netbios(t0, eph, Socket::NETBIOS));
    assert!(is_netbios(t0, Socket::NWLINK_DGM, eph));
    assert!(!is_netbios(t4, eph, eph));
    assert!(!is_netbios(t4, Socket::SAP, Socket::SAP));
    assert_eq!(
        netbios_kind(t20, eph, Socket::NWLINK_DGM),
        Some(NetbiosKind::Nmpi)
    );
    assert_eq!(netbios_kind(t20, eph, eph), Some(NetbiosKind::NbIpx));
}

#[test]
fn router_list_rule() {
    // A type-20 packet always has the list: a bare 18-byte name body is too short.
    let (payload, _) = nbipx(ETH2_12);
    let bare = &payload[ROUTERS_LEN..];
    assert!(matches!(
        NbIpxPacket::new_checked(bare, PacketType::NETBIOS),
        Err(WireError::Truncated { .. })
    ));
    // Type 4, not 50 bytes: no list; the same body parses on its own.
    let p = NbIpxPacket::new_checked(bare, PacketType::PEP).unwrap();
    assert_eq!(p.routers(), None);
    assert_eq!(p.stream_type(), StreamType::NAME_RECOGNIZED);
    // Explicit choice.
    let p = NbIpxPacket::new_with_routers(&payload[..], true).unwrap();
    assert_eq!(p.header_len(), 50);
}

#[test]
fn names() {
    assert!(matches!(
        NetbiosName::new(b"SIXTEEN-CHARS-XX", 0),
        Err(WireError::BadLength { claimed: 16, .. })
    ));
    let n = NetbiosName::new(b"", 0x20).unwrap();
    assert_eq!(n.name(), b"");
    assert_eq!(n.to_string(), "<20>");
    let n = NetbiosName(*b"A B            \x1e");
    assert_eq!(n.name(), b"A B");
    assert_eq!(n.to_string(), "A B<1e>");
    assert_eq!(StreamType(0x42).to_string(), "Unknown (0x42)");
}

#[test]
fn emit_refuses_mismatched_stream_types() {
    let name = NetbiosName::new(b"X", 0).unwrap();
    let mut buf = [0u8; 64];
    for (body, ok) in [
        (
            NbIpxBody::Name {
                flags: 0,
                op: StreamType::SESSION_DATA,
                name,
            },
            false,
        ),
        (
            NbIpxBody::Other {
                first: 0,
                op: StreamType::FIND_NAME,
            },
            false,
        ),
        (
            NbIpxBody::Other {
                first: 0,
                op: StreamType::DIRECTED_DATAGRAM,
            },
            false,
        ),
        (
            NbIpxBody::Other {
                first: 0,
                op: StreamType::STATUS_QUERY,
            },
            true,
        ),
    ] {
        let r = NbIpxRepr {
            routers: None,
            body,
        };
        assert_eq!(r.emit(&mut buf).is_ok(), ok, "{body:?}");
    }
    let r = NbIpxRepr {
        routers: Some([Net(1); 8]),
        body: NbIpxBody::Name {
            flags: 0,
            op: StreamType::FIND_NAME,
            name,
        },
    };
    assert!(matches!(
        r.emit(&mut buf[..49]),
        Err(WireError::BufferTooSmall {
            need: 50,
            have: 49,
            ..
        })
    ));
}

#[test]
fn every_prefix_is_ok_or_err() {
    for v in [
        TCPDUMP_1, TCPDUMP_4, ETH2_12, ETH2_13, ETH2_20, LLC_3, RAW_4, TCPDUMP_36,
    ] {
        let b = hex(v);
        let f = IpxFrame::parse(&b).unwrap();
        let payload = f.ipx.payload();
        for n in 0..=payload.len() {
            for t in [PacketType::NETBIOS, PacketType::PEP, PacketType::UNKNOWN] {
                if let Ok(p) = NbIpxPacket::new_checked(&payload[..n], t) {
                    let _ = NbIpxRepr::parse(&p).unwrap();
                    let _ = p.payload();
                }
            }
            if let Ok(p) = NmpiPacket::new_checked(&payload[..n]) {
                let _ = NmpiRepr::parse(&p).unwrap();
            }
        }
    }
}

fn name() -> impl Strategy<Value = NetbiosName> {
    any::<[u8; 16]>().prop_map(NetbiosName)
}

fn body() -> impl Strategy<Value = NbIpxBody> {
    prop_oneof![
        (any::<u8>(), 1u8..=5, name()).prop_map(|(flags, op, name)| NbIpxBody::Name {
            flags,
            op: StreamType(op),
            name
        }),
        (any::<u8>(), 6u8..=8, any::<[u16; 8]>()).prop_map(|(c, op, w)| NbIpxBody::Session {
            conn_ctrl: c,
            op: StreamType(op),
            src_conn: w[0],
            dst_conn: w[1],
            send_seq: w[2],
            total_len: w[3],
            offset: w[4],
            data_len: w[5],
            recv_seq: w[6],
            bytes_received: w[7],
        }),
        (any::<u8>(), name(), name()).prop_map(|(conn_ctrl, receiver, sender)| {
            NbIpxBody::Datagram {
                conn_ctrl,
                receiver,
                sender,
            }
        }),
        (any::<u8>(), any::<u8>())
            .prop_filter("unknown op", |(_, op)| *op == 0
                || *op == 9
                || *op == 10
                || *op > 11)
            .prop_map(|(first, op)| NbIpxBody::Other {
                first,
                op: StreamType(op)
            }),
    ]
}

proptest! {
    #[test]
    fn emit_then_parse_type20(routers in any::<[u32; 8]>(), body in body(), data in proptest::collection::vec(any::<u8>(), 0..40)) {
        let r = NbIpxRepr { routers: Some(routers.map(Net)), body };
        let mut buf = vec![0u8; r.buffer_len() + data.len()];
        let n = r.emit(&mut buf).unwrap();
        buf[n..].copy_from_slice(&data);
        let p = NbIpxPacket::new_checked(&buf[..], PacketType::NETBIOS).unwrap();
        prop_assert_eq!(NbIpxRepr::parse(&p).unwrap(), r);
        prop_assert_eq!(p.payload(), &data[..]);
    }

    #[test]
    fn emit_then_parse_without_routers(body in body(), data in proptest::collection::vec(any::<u8>(), 0..40)) {
        let r = NbIpxRepr { routers: None, body };
        let mut buf = vec![0u8; r.buffer_len() + data.len()];
        let n = r.emit(&mut buf).unwrap();
        buf[n..].copy_from_slice(&data);
        let p = NbIpxPacket::new_with_routers(&buf[..], false).unwrap();
        prop_assert_eq!(NbIpxRepr::parse(&p).unwrap(), r);
    }

    #[test]
    fn nmpi_emit_then_parse(routers in any::<[u32; 8]>(), op in any::<u8>(), nt in any::<u8>(), id in any::<u16>(), a in name(), b in name()) {
        let r = NmpiRepr { routers: routers.map(Net), opcode: op, name_type: nt, message_id: id, name: a, source: b };
        let mut buf = [0u8; NMPI_HEADER_LEN];
        r.emit(&mut buf).unwrap();
        prop_assert_eq!(NmpiRepr::parse(&NmpiPacket::new_checked(&buf[..]).unwrap()).unwrap(), r);
    }

    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..90), t in any::<u8>()) {
        for pt in [PacketType(t), PacketType::NETBIOS, PacketType::PEP] {
            if let Ok(p) = NbIpxPacket::new_checked(&b[..], pt) {
                let r = NbIpxRepr::parse(&p).unwrap();
                let _ = p.payload();
                let _ = format!("{:?} {}", r, r.body.op());
                let mut out = vec![0u8; r.buffer_len()];
                prop_assert_eq!(r.emit(&mut out).unwrap(), p.header_len());
                prop_assert_eq!(&out[..], &b[..p.header_len()]);
            }
        }
        if let Ok(p) = NmpiPacket::new_checked(&b[..]) {
            let r = NmpiRepr::parse(&p).unwrap();
            let _ = (r.name.to_string(), r.source.to_string(), p.payload());
        }
    }
}
