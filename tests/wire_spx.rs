//! The SPX header: golden vectors, round trips, and hostile input.
//!
//! No public capture holds an SPX session, so the golden vectors are hand-built from the
//! documented layout. Each was also put in an Ethernet_II/IPX frame (type 5, sockets
//! 0x4010/0x4020) and decoded with `tshark -V` (Wireshark 4.0.17); the values asserted here
//! are the ones tshark showed.

mod common;

use common::hex;
use proptest::prelude::*;
use sft3::wire::spx::{
    DatastreamType, SpxFlags, SpxPacket, SpxRepr, CONN_ID_UNASSIGNED, HEADER_LEN, SPX2_HEADER_LEN,
};
use sft3::wire::WireError;

/// ACK|EOM data packet with 5 bytes of data ("hello").
const DATA: &str = "5000 1234 5678 0003 0002 0005 6865 6c6c 6f";
/// SPX II connection request: SYS|ACK|SPX2, destination id 0xFFFF, so no negotiation size.
const SPX2_CONNECT: &str = "c800 4a01 ffff 0000 0000 0003";
/// SPX II data packet: 14-byte header, negotiation size 1476, 4 bytes of data.
const SPX2_DATA: &str = "5800 4a01 2b02 0001 0000 0007 05c4 dead beef";
/// End of connection (datastream type 0xFE).
const EOC: &str = "50fe 4a01 2b02 0002 0000 0007";

#[test]
fn classic_data_packet() {
    let b = hex(DATA);
    let p = SpxPacket::new_checked(&b[..]).unwrap();
    assert_eq!(p.header_len(), HEADER_LEN);
    assert_eq!(p.payload(), b"hello");
    let r = SpxRepr::parse(&p).unwrap();
    assert_eq!(
        r,
        SpxRepr {
            flags: SpxFlags::ACK | SpxFlags::EOM,
            datastream_type: DatastreamType(0),
            src_conn: 4660,
            dst_conn: 22136,
            seq: 3,
            ack: 2,
            alloc: 5,
            negotiation_size: None,
        }
    );
    assert_eq!(r.flags.to_string(), "ACK|EOM");
    let mut out = [0u8; 12];
    assert_eq!(r.emit(&mut out), Ok(12));
    assert_eq!(out[..], b[..12]);
}

#[test]
fn spx2_connection_request_has_no_negotiation_size() {
    let b = hex(SPX2_CONNECT);
    let p = SpxPacket::new_checked(&b[..]).unwrap();
    let r = SpxRepr::parse(&p).unwrap();
    assert_eq!(r.flags, SpxFlags(0xc8));
    assert_eq!(r.flags.to_string(), "SYS|ACK|SPX2");
    assert!(r.flags.contains(SpxFlags::SYS | SpxFlags::SPX2));
    assert_eq!(r.dst_conn, CONN_ID_UNASSIGNED);
    assert_eq!(r.src_conn, 18945);
    assert_eq!(r.alloc, 3);
    assert_eq!(r.negotiation_size, None);
    assert_eq!(r.buffer_len(), 12);
    assert!(p.payload().is_empty());
}

#[test]
fn spx2_data_packet_has_14_byte_header() {
    let b = hex(SPX2_DATA);
    let p = SpxPacket::new_checked(&b[..]).unwrap();
    assert_eq!(p.header_len(), SPX2_HEADER_LEN);
    assert_eq!(p.negotiation_size(), Some(1476));
    assert_eq!(p.payload(), &[0xde, 0xad, 0xbe, 0xef]);
    let r = SpxRepr::parse(&p).unwrap();
    assert_eq!(r.flags.to_string(), "ACK|EOM|SPX2");
    assert_eq!(
        (r.src_conn, r.dst_conn, r.seq, r.ack, r.alloc),
        (18945, 11010, 1, 0, 7)
    );
    let mut out = [0u8; 14];
    assert_eq!(r.emit(&mut out), Ok(14));
    assert_eq!(out[..], b[..14]);
    // Twelve bytes are not enough for an SPX II header with the size field.
    assert!(matches!(
        SpxPacket::new_checked(&b[..12]),
        Err(WireError::Truncated {
            need: 14,
            have: 12,
            ..
        })
    ));
}

#[test]
fn end_of_connection() {
    let b = hex(EOC);
    let r = SpxRepr::parse(&SpxPacket::new_checked(&b[..]).unwrap()).unwrap();
    assert_eq!(r.datastream_type, DatastreamType::END_OF_CONNECTION);
    assert_eq!(r.datastream_type.to_string(), "eoc");
    assert_eq!(DatastreamType::END_OF_CONNECTION_ACK.to_string(), "eoc-ack");
    assert_eq!(DatastreamType(0x42).to_string(), "0x42");
}

#[test]
fn flag_names() {
    assert_eq!(SpxFlags::NONE.to_string(), "-");
    assert_eq!((SpxFlags::SYS | SpxFlags::ACK).to_string(), "SYS|ACK");
    assert_eq!(
        SpxFlags(0xff).to_string(),
        "SYS|ACK|ATTN|EOM|SPX2|NEG|RES|EXT"
    );
    assert_eq!(
        (SpxFlags::ATTN | SpxFlags::NEG_SIZE).to_string(),
        "ATTN|NEG"
    );
}

#[test]
fn emit_refuses_inconsistent_negotiation_size() {
    let base = SpxRepr::parse(&SpxPacket::new_checked(&hex(DATA)[..]).unwrap()).unwrap();
    let mut buf = [0u8; 14];
    // A size without the SPX II bit would not read back.
    let r = SpxRepr {
        negotiation_size: Some(576),
        ..base
    };
    assert!(matches!(r.emit(&mut buf), Err(WireError::BadField { .. })));
    // The SPX II bit on an established connection needs the size.
    let r = SpxRepr {
        flags: base.flags | SpxFlags::SPX2,
        ..base
    };
    assert!(matches!(r.emit(&mut buf), Err(WireError::BadField { .. })));
    // Too small a buffer.
    assert!(matches!(
        base.emit(&mut buf[..11]),
        Err(WireError::BufferTooSmall {
            need: 12,
            have: 11,
            ..
        })
    ));
}

#[test]
fn every_prefix_is_ok_or_err() {
    for v in [DATA, SPX2_CONNECT, SPX2_DATA, EOC] {
        let b = hex(v);
        for n in 0..=b.len() {
            if let Ok(p) = SpxPacket::new_checked(&b[..n]) {
                let _ = SpxRepr::parse(&p).unwrap();
                let _ = p.payload();
            } else {
                assert!(n < 14);
            }
        }
    }
}

fn spx_repr() -> impl Strategy<Value = SpxRepr> {
    (
        any::<[u16; 5]>(),
        any::<u8>(),
        any::<u8>(),
        any::<u16>(),
        any::<bool>(),
    )
        .prop_map(
            |([src, mut dst, seq, ack, alloc], flags, ds, neg, unassigned)| {
                if unassigned {
                    dst = CONN_ID_UNASSIGNED;
                }
                let flags = SpxFlags(flags);
                let negotiation_size =
                    (flags.contains(SpxFlags::SPX2) && dst != CONN_ID_UNASSIGNED).then_some(neg);
                SpxRepr {
                    flags,
                    datastream_type: DatastreamType(ds),
                    src_conn: src,
                    dst_conn: dst,
                    seq,
                    ack,
                    alloc,
                    negotiation_size,
                }
            },
        )
}

proptest! {
    #[test]
    fn emit_then_parse(r in spx_repr(), data in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut buf = vec![0u8; r.buffer_len() + data.len()];
        let n = r.emit(&mut buf).unwrap();
        prop_assert_eq!(n, r.buffer_len());
        buf[n..].copy_from_slice(&data);
        let p = SpxPacket::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(SpxRepr::parse(&p).unwrap(), r);
        prop_assert_eq!(p.payload(), &data[..]);
    }

    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..40)) {
        if let Ok(p) = SpxPacket::new_checked(&b[..]) {
            let r = SpxRepr::parse(&p).unwrap();
            let _ = r.flags.to_string();
            let mut out = vec![0u8; r.buffer_len()];
            prop_assert_eq!(r.emit(&mut out).unwrap(), p.header_len());
            prop_assert_eq!(&out[..], &b[..p.header_len()]);
        }
    }
}
