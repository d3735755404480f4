//! NCP envelopes: golden vectors, round trips, and hostile input.
//!
//! No public capture holds an NCP session (one truncated reply only, below), so most golden
//! vectors are hand-built from the documented layout. Each was also put in an
//! Ethernet_II/IPX frame (type 17, socket 0x0451) and decoded with `tshark -V` (Wireshark
//! 4.0.17); the values asserted here are the ones tshark showed (function names, subfunction
//! and length fields, every burst header field).

mod common;

use common::hex;
use proptest::prelude::*;
use sft3::wire::ncp::{
    function_name, subfunction_layout, BurstFlags, BurstPacket, BurstRepr, MissingFragment,
    NcpPacket, NcpReply, NcpRepr, NcpRequest, NcpType, Subfunction, SubfunctionLayout,
    BURST_HEADER_LEN,
};
use sft3::wire::{IpxFrame, WireError};

/// Create service connection: sequence 0, connection 0xFFFF (none yet), function 0.
const CREATE: &str = "1111 00ff 00ff 00";
/// Request 0x17/0x11 (Get File Server Information): length word 1, subfunction 0x11.
const REQ_17_11: &str = "2222 0503 0100 1700 0111";
/// Request 0x48 Read From A File: handle 010203040506, offset 4096, 512 bytes.
const READ: &str = "2222 0603 0100 4800 0102 0304 0506 0000 1000 0200";
/// Request 0x57/0x01 (Open/Create File or Subdirectory): no length word; connection 268.
const REQ_57_01: &str = "2222 070c 0201 5701 0000 0000 00";
/// Reply: completion 0, status 0, two bytes of data (128 bytes read).
const REPLY: &str = "3333 0603 0100 0000 0080";
/// Positive acknowledge (server busy).
const BUSY: &str = "9999 0603 0100 0000";
/// Destroy service connection.
const DESTROY: &str = "5555 0903 0100 00";
/// Burst data packet: EOB, stream type 2, 8 data bytes at offset 512 of a 1024-byte burst.
const BURST_DATA: &str = "7777 1002 0000 1234 0000 5678 0000 0003 0000 000a 0004 0003 0000 0400
    0000 0200 0008 0000 0001 0203 0405 0607";
/// Burst system packet listing two missing fragments (0x100+512, 0x300+256).
const BURST_SYS: &str = "7777 c002 0000 5678 0000 1234 0000 0007 0000 0000 0005 0004 0000 0400
    0000 0000 0000 0002 0000 0100 0200 0000 0300 0100";
/// tcpdump tests/ipx-invalid-length.pcap: LLC frame whose IPX length (29) is below 30; the
/// 13 bytes after the IPX header start with a real NCP reply from socket 0x0451.
const TRUNCATED_FRAME: &str =
    "0800 3e2b 6856 0003 47e1 2a76 0029 e0e0 03ff ff00 1d00 118d c23c 0018
    003e 2b68 5640 2b0a 8808 aa00 0000 0000 0104 5133 33c0 3e01 01d5 001d 0000 0000";

fn repr(v: &str) -> NcpRepr {
    let b = hex(v);
    NcpRepr::parse(&NcpPacket::new_checked(&b[..]).unwrap()).unwrap()
}

fn round_trip(v: &str) {
    let b = hex(v);
    let r = repr(v);
    let mut out = vec![0u8; r.buffer_len()];
    assert_eq!(r.emit(&mut out), Ok(r.buffer_len()));
    assert_eq!(out[..], b[..r.buffer_len()], "{v}");
}

#[test]
fn create_and_destroy() {
    let r = repr(CREATE);
    assert_eq!(
        r,
        NcpRepr::Create(NcpRequest {
            sequence: 0,
            connection: 0xffff,
            task: 0,
            function: 0,
            subfunction: None,
        })
    );
    assert_eq!(r.ncp_type().to_string(), "create");
    let d = repr(DESTROY);
    assert!(matches!(
        d,
        NcpRepr::Destroy(NcpRequest {
            sequence: 9,
            connection: 3,
            task: 1,
            ..
        })
    ));
    assert_eq!(d.ncp_type().to_string(), "destroy");
    round_trip(CREATE);
    round_trip(DESTROY);
}

#[test]
fn request_with_length_and_subfunction() {
    let b = hex(REQ_17_11);
    let p = NcpPacket::new_checked(&b[..]).unwrap();
    assert_eq!(p.ncp_type(), NcpType::REQUEST);
    assert_eq!(
        (p.sequence(), p.connection(), p.task()),
        (Some(5), Some(3), Some(1))
    );
    assert_eq!(p.function(), Some(0x17));
    assert_eq!(function_name(0x17), Some("File server environment"));
    assert_eq!(
        p.subfunction(),
        Some(Subfunction {
            code: 0x11,
            length: Some(1)
        })
    );
    assert_eq!(p.data(), &[0x00, 0x01, 0x11]);
    assert!(p.params().is_empty());
    assert_eq!(p.completion_code(), None);
    round_trip(REQ_17_11);
}

#[test]
fn plain_request() {
    let b = hex(READ);
    let p = NcpPacket::new_checked(&b[..]).unwrap();
    assert_eq!(p.function(), Some(0x48));
    assert_eq!(function_name(0x48), Some("Read From A File"));
    assert_eq!(p.subfunction(), None);
    assert_eq!(p.data(), &hex("00 0102 0304 0506 0000 1000 0200")[..]);
    assert_eq!(p.params(), p.data());
    round_trip(READ);
}

#[test]
fn request_with_bare_subfunction() {
    let b = hex(REQ_57_01);
    let r = repr(REQ_57_01);
    let NcpRepr::Request(q) = r else {
        panic!("not a request: {r:?}")
    };
    assert_eq!(q.connection, 268);
    assert_eq!(q.task, 2);
    assert_eq!(
        q.subfunction,
        Some(Subfunction {
            code: 1,
            length: None
        })
    );
    assert_eq!(function_name(0x57), Some("Name space services"));
    let p = NcpPacket::new_checked(&b[..]).unwrap();
    assert_eq!(p.params().len(), 5);
    round_trip(REQ_57_01);
}

#[test]
fn reply_and_busy() {
    let b = hex(REPLY);
    let p = NcpPacket::new_checked(&b[..]).unwrap();
    assert_eq!(
        (p.completion_code(), p.connection_status()),
        (Some(0), Some(0))
    );
    assert_eq!(p.function(), None);
    assert_eq!(p.data(), &[0x00, 0x80]);
    assert_eq!(
        repr(REPLY),
        NcpRepr::Reply(NcpReply {
            sequence: 6,
            connection: 3,
            task: 1,
            completion_code: 0,
            connection_status: 0,
        })
    );
    let busy = repr(BUSY);
    assert!(matches!(busy, NcpRepr::Busy(NcpReply { sequence: 6, .. })));
    assert_eq!(busy.ncp_type().to_string(), "busy");
    round_trip(REPLY);
    round_trip(BUSY);
}

#[test]
fn burst_data_packet() {
    let b = hex(BURST_DATA);
    let p = NcpPacket::new_checked(&b[..]).unwrap();
    assert_eq!(p.ncp_type().to_string(), "burst");
    assert_eq!(p.sequence(), None);
    let bp = p.burst().unwrap();
    assert_eq!(bp.data(), &[0, 1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(bp.missing_fragments().count(), 0);
    let NcpRepr::Burst(r) = repr(BURST_DATA) else {
        panic!("not a burst")
    };
    assert_eq!(
        r,
        BurstRepr {
            flags: BurstFlags::EOB,
            stream_type: 2,
            src_conn: 4660,
            dst_conn: 22136,
            packet_seq: 3,
            send_delay: 10,
            burst_seq: 4,
            ack_seq: 3,
            total_len: 1024,
            burst_offset: 512,
            burst_len: 8,
            fragment_count: 0,
        }
    );
    assert_eq!(r.flags.to_string(), "EOB");
    round_trip(BURST_DATA);
}

#[test]
fn burst_system_packet_lists_missing_fragments() {
    let b = hex(BURST_SYS);
    let bp = BurstPacket::new_checked(&b[..]).unwrap();
    assert_eq!(bp.flags().to_string(), "SYS|LST");
    assert_eq!(
        (bp.src_conn(), bp.dst_conn(), bp.packet_seq()),
        (22136, 4660, 7)
    );
    assert_eq!((bp.burst_seq(), bp.ack_seq(), bp.total_len()), (5, 4, 1024));
    let frags: Vec<_> = bp.missing_fragments().collect();
    assert_eq!(
        frags,
        [
            MissingFragment {
                offset: 0x100,
                len: 512
            },
            MissingFragment {
                offset: 0x300,
                len: 256
            }
        ]
    );
    assert!(bp.data().is_empty());
    // Re-emit header and list.
    let NcpRepr::Burst(r) = repr(BURST_SYS) else {
        panic!("not a burst")
    };
    let mut out = vec![0u8; BURST_HEADER_LEN + 12];
    let mut n = r.emit(&mut out).unwrap();
    for f in &frags {
        n += f.emit(&mut out[n..]).unwrap();
    }
    assert_eq!(out, b);
    // The list must be whole.
    assert!(matches!(
        BurstPacket::new_checked(&b[..b.len() - 1]),
        Err(WireError::Truncated { .. })
    ));
}

#[test]
fn burst_length_beyond_data_is_an_error() {
    let mut b = hex(BURST_DATA);
    b.truncate(b.len() - 1);
    assert!(matches!(
        NcpPacket::new_checked(&b[..]),
        Err(WireError::BadLength { claimed: 8, .. })
    ));
    let not_burst = hex(&format!("2222{}", &BURST_DATA.replace(' ', "")[4..]));
    assert!(matches!(
        BurstPacket::new_checked(&not_burst[..]),
        Err(WireError::WrongKind { .. })
    ));
}

#[test]
fn real_truncated_reply_from_tcpdump() {
    let f = hex(TRUNCATED_FRAME);
    assert!(matches!(
        IpxFrame::parse(&f),
        Err(WireError::BadLength { claimed: 29, .. })
    ));
    // The bytes after the 30-byte IPX header (LLC frame: 14 + 3 + 30) hold a reply.
    let ncp = &f[47..];
    let r = NcpRepr::parse(&NcpPacket::new_checked(ncp).unwrap()).unwrap();
    assert_eq!(
        r,
        NcpRepr::Reply(NcpReply {
            sequence: 0xc0,
            connection: 0x013e,
            task: 1,
            completion_code: 0xd5,
            connection_status: 0,
        })
    );
    assert!(matches!(
        NcpPacket::new_checked(&ncp[..7]),
        Err(WireError::Truncated {
            need: 8,
            have: 7,
            ..
        })
    ));
}

#[test]
fn subfunction_length_must_fit() {
    // Length word 5 but only 1 byte follows it.
    let b = hex("2222 0503 0100 1700 0511");
    assert!(matches!(
        NcpPacket::new_checked(&b[..]),
        Err(WireError::BadLength { claimed: 5, .. })
    ));
    // Length word 0 leaves no room for the subfunction.
    let b = hex("2222 0503 0100 1700 0011");
    assert!(matches!(
        NcpPacket::new_checked(&b[..]),
        Err(WireError::BadLength { claimed: 0, .. })
    ));
    // Function 0x17 without its structure.
    let b = hex("2222 0503 0100 17");
    assert!(matches!(
        NcpPacket::new_checked(&b[..]),
        Err(WireError::Truncated { need: 10, .. })
    ));
}

#[test]
fn unknown_types_and_names() {
    let b = hex("4c69 0000");
    let p = NcpPacket::new_checked(&b[..]).unwrap();
    assert_eq!(NcpRepr::parse(&p).unwrap(), NcpRepr::Other(NcpType(0x4c69)));
    assert_eq!(p.data(), &[0, 0]);
    assert_eq!(NcpType(0x4c69).to_string(), "type-0x4c69");
    let names: Vec<_> = [0x1111, 0x2222, 0x3333, 0x5555, 0x7777, 0x9999]
        .map(|t| NcpType(t).name().unwrap())
        .to_vec();
    assert_eq!(
        names,
        ["create", "request", "reply", "destroy", "burst", "busy"]
    );
    for (f, n) in [
        (0x15, "Message services"),
        (0x16, "Directory services"),
        (0x21, "Negotiate Buffer Size"),
        (0x42, "Close File"),
        (0x49, "Write to a File"),
        (0x4c, "Open File"),
        (0x61, "Get Big Packet NCP Max Packet Size"),
        (0x68, "NDS services"),
    ] {
        assert_eq!(function_name(f), Some(n));
    }
    assert_eq!(function_name(0xfe), None);
    assert_eq!(subfunction_layout(0x16), SubfunctionLayout::LengthAndCode);
    assert_eq!(subfunction_layout(0x68), SubfunctionLayout::Code);
    assert_eq!(subfunction_layout(0x48), SubfunctionLayout::None);
}

#[test]
fn emit_refuses_values_that_would_not_read_back() {
    let mut buf = [0u8; 16];
    let q = NcpRequest {
        sequence: 1,
        connection: 2,
        task: 3,
        function: 0x17,
        subfunction: None,
    };
    assert!(matches!(
        NcpRepr::Request(q).emit(&mut buf),
        Err(WireError::BadField { .. })
    ));
    let sub = Some(Subfunction {
        code: 1,
        length: None,
    });
    let q2 = NcpRequest {
        subfunction: sub,
        ..q
    };
    assert!(matches!(
        NcpRepr::Request(q2).emit(&mut buf),
        Err(WireError::BadField { .. })
    ));
    let q3 = NcpRequest {
        function: 0x48,
        subfunction: sub,
        ..q
    };
    assert!(matches!(
        NcpRepr::Create(q3).emit(&mut buf),
        Err(WireError::BadField { .. })
    ));
    assert!(matches!(
        NcpRepr::Other(NcpType::REPLY).emit(&mut buf),
        Err(WireError::BadField { .. })
    ));
    let ok = NcpRequest {
        function: 0x48,
        ..q
    };
    assert!(matches!(
        NcpRepr::Request(ok).emit(&mut buf[..6]),
        Err(WireError::BufferTooSmall {
            need: 7,
            have: 6,
            ..
        })
    ));
}

#[test]
fn every_prefix_is_ok_or_err() {
    for v in [
        CREATE, REQ_17_11, READ, REQ_57_01, REPLY, BUSY, DESTROY, BURST_DATA, BURST_SYS,
    ] {
        let b = hex(v);
        for n in 0..=b.len() {
            if let Ok(p) = NcpPacket::new_checked(&b[..n]) {
                let _ = NcpRepr::parse(&p).unwrap();
                let _ = (p.data(), p.params(), p.subfunction(), p.burst());
            }
        }
        assert!(NcpPacket::new_checked(&b[..]).is_ok());
    }
}

fn request() -> impl Strategy<Value = NcpRequest> {
    (any::<(u8, u16, u8, u8, u8, u16)>()).prop_map(
        |(sequence, connection, task, function, code, len)| {
            let subfunction = match subfunction_layout(function) {
                SubfunctionLayout::None => None,
                SubfunctionLayout::Code => Some(Subfunction { code, length: None }),
                SubfunctionLayout::LengthAndCode => Some(Subfunction {
                    code,
                    length: Some(len % 64 + 1),
                }),
            };
            NcpRequest {
                sequence,
                connection,
                task,
                function,
                subfunction,
            }
        },
    )
}

fn reply() -> impl Strategy<Value = NcpReply> {
    any::<(u8, u16, u8, u8, u8)>().prop_map(|(sequence, connection, task, cc, cs)| NcpReply {
        sequence,
        connection,
        task,
        completion_code: cc,
        connection_status: cs,
    })
}

fn burst() -> impl Strategy<Value = BurstRepr> {
    (
        any::<(u8, u8, u32, u32, u32, u32)>(),
        any::<(u16, u16, u32, u32, u16, u16)>(),
    )
        .prop_map(
            |((flags, st, src, dst, pseq, delay), (bseq, aseq, total, off, blen, count))| {
                BurstRepr {
                    flags: BurstFlags(flags),
                    stream_type: st,
                    src_conn: src,
                    dst_conn: dst,
                    packet_seq: pseq,
                    send_delay: delay,
                    burst_seq: bseq,
                    ack_seq: aseq,
                    total_len: total,
                    burst_offset: off,
                    burst_len: blen % 256,
                    fragment_count: count % 32,
                }
            },
        )
}

fn ncp_repr() -> impl Strategy<Value = NcpRepr> {
    prop_oneof![
        request().prop_map(|r| NcpRepr::Create(NcpRequest {
            subfunction: None,
            ..r
        })),
        request().prop_map(NcpRepr::Request),
        request().prop_map(|r| NcpRepr::Destroy(NcpRequest {
            subfunction: None,
            ..r
        })),
        reply().prop_map(NcpRepr::Reply),
        reply().prop_map(NcpRepr::Busy),
        burst().prop_map(NcpRepr::Burst),
        any::<u16>()
            .prop_filter("unknown type", |t| NcpType(*t).name().is_none())
            .prop_map(|t| NcpRepr::Other(NcpType(t))),
    ]
}

/// Bytes that must follow the header for the packet to be whole.
fn tail_len(r: &NcpRepr) -> usize {
    match r {
        NcpRepr::Request(NcpRequest {
            subfunction: Some(Subfunction {
                length: Some(l), ..
            }),
            ..
        }) => *l as usize - 1,
        NcpRepr::Burst(b) if b.flags.contains(BurstFlags::SYS) => {
            b.fragment_count as usize * MissingFragment::LEN
        }
        NcpRepr::Burst(b) => b.burst_len as usize,
        _ => 0,
    }
}

proptest! {
    #[test]
    fn emit_then_parse(r in ncp_repr(), fill in any::<u8>()) {
        let n = r.buffer_len();
        let mut buf = vec![fill; n + tail_len(&r)];
        prop_assert_eq!(r.emit(&mut buf).unwrap(), n);
        let p = NcpPacket::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(NcpRepr::parse(&p).unwrap(), r);
        prop_assert_eq!(p.params().len(), tail_len(&r));
    }

    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..80), t in 0usize..7) {
        let mut b = b;
        // Steer the type field towards the known types half of the time.
        let types = [0x1111u16, 0x2222, 0x3333, 0x5555, 0x7777, 0x9999];
        if b.len() >= 2 && t < types.len() {
            b[0..2].copy_from_slice(&types[t].to_be_bytes());
        }
        if let Ok(p) = NcpPacket::new_checked(&b[..]) {
            let r = NcpRepr::parse(&p).unwrap();
            let _ = (p.data(), p.params(), p.sequence(), p.connection(), p.function());
            let _ = (p.completion_code(), p.connection_status(), p.subfunction());
            if let Some(bp) = p.burst() {
                let _ = bp.missing_fragments().count();
                let _ = bp.data();
            }
            let mut out = vec![0u8; r.buffer_len()];
            prop_assert_eq!(r.emit(&mut out).unwrap(), r.buffer_len());
            prop_assert_eq!(&out[..], &b[..r.buffer_len()]);
        }
        let _ = BurstPacket::new_checked(&b[..]);
    }
}
