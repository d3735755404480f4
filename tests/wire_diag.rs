//! IPX diagnostics: known replies, round trips, direction guessing, and malformed input.
//!
//! No public capture holds IPX diagnostics (captures/third-party/SOURCES.md). The replies
//! below are the signature table of Jacek Lipkowski's `enin` (Enumerate IPX Nodes, GPL-2.0),
//! which matched whole replies received from real stacks; the NetWare 3.x one is only a
//! prefix there, and its network list here is made up to complete it.

use proptest::prelude::*;
use sft3::wire::diag::{
    self, ComponentId, DiagComponent, DiagDirection, DiagMessage, DiagReply, DiagReplyRepr,
    DiagRequest, DiagRequestRepr, LocalNetwork, NetType, MAX_COMPONENTS, MAX_EXCLUSIONS,
    MAX_NETWORKS,
};
use sft3::wire::{MacAddr, Net, Socket, WireError};

const NETX: &[u8] = b"\x01\x01\x40\x01\x04\x00\x02\x03\x09";
const CLIENT32: &[u8] = b"\x01\x00\x40\x01\x04\x00\x02\x03\x09";
const MS_CLIENT: &[u8] = b"\x01\x01\x40\x02\x03\x00\x02\x03";
const JETDIRECT: &[u8] = b"\x01\x00\x48\x01\x02\x00\x02\x43";
const SMC_SWITCH: &[u8] = b"\x01\x00\x00\x00\x01\x00";
/// enin's NetWare 3.x prefix (`01 00 40 03 03 00 01 06`) completed with two networks: a LAN
/// board and the internal network (virtual board, node 1).
const NETWARE3: &[u8] = b"\x01\x00\x40\x03\x03\x00\x01\x06\x02\
\x00\xa8\xf8\x79\x67\x00\x03\x47\x1b\xc1\xa8\
\x01\x00\x00\xab\xcd\x00\x00\x00\x00\x00\x01";

fn ids(r: &DiagReplyRepr) -> Vec<u8> {
    r.components.iter().map(|c| c.id.0).collect()
}

fn emit_reply(r: &DiagReplyRepr) -> Vec<u8> {
    let mut out = vec![0u8; r.buffer_len()];
    assert_eq!(r.emit(&mut out), Ok(out.len()));
    out
}

#[test]
fn workstation_replies() {
    for (bytes, minor, socket) in [(NETX, 1, 0x4001), (CLIENT32, 0, 0x4001)] {
        let r = DiagReplyRepr::parse_bytes(bytes).unwrap();
        assert_eq!((r.major, r.minor), (1, minor));
        assert_eq!(r.spx_socket, Socket(socket));
        assert_eq!(ids(&r), [0, 2, 3, 9]);
        assert!(r.components.iter().all(|c| c.networks.is_empty()));
        assert_eq!(emit_reply(&r), bytes);
    }
    let r = DiagReplyRepr::parse_bytes(MS_CLIENT).unwrap();
    assert_eq!(r.spx_socket, Socket(0x4002));
    assert_eq!(ids(&r), [0, 2, 3]);
    assert_eq!(emit_reply(&r), MS_CLIENT);
    assert_eq!(ComponentId(9).to_string(), "DOS application");
    assert_eq!(ComponentId(42).to_string(), "component-42");
}

#[test]
fn jetdirect_reply_has_a_trailing_byte() {
    let v = DiagReply::new_checked(JETDIRECT).unwrap();
    assert_eq!(v.used_len(), 7);
    assert_eq!(v.trailing_len(), 1);
    assert_eq!(v.spx_socket(), Socket(0x4801));
    let r = DiagReplyRepr::parse(&v).unwrap();
    assert_eq!(
        ids(&r),
        [ComponentId::IPX_SPX.0, ComponentId::SHELL_DRIVER.0]
    );
    assert_eq!(emit_reply(&r), &JETDIRECT[..7]);
}

#[test]
fn switch_reply_has_no_spx() {
    let r = DiagReplyRepr::parse_bytes(SMC_SWITCH).unwrap();
    assert_eq!(r.spx_socket, Socket(0));
    assert_eq!(ids(&r), [0]);
}

#[test]
fn server_reply_lists_its_networks() {
    let v = DiagReply::new_checked(NETWARE3).unwrap();
    assert_eq!(v.component_count(), 3);
    assert_eq!(v.trailing_len(), 0);
    let comps: Vec<_> = v.components().collect();
    assert_eq!(comps[2].id(), ComponentId::FILE_SERVER);
    assert_eq!(comps[0].networks().count(), 0);
    let r = DiagReplyRepr::parse(&v).unwrap();
    let fs = &r.components[2];
    assert_eq!(fs.id.is_extended(), Some(true));
    assert_eq!(
        &fs.networks[..],
        &[
            LocalNetwork {
                net_type: NetType::LAN_BOARD,
                net: Net(0xa8f8_7967),
                node: MacAddr([0x00, 0x03, 0x47, 0x1b, 0xc1, 0xa8]),
            },
            LocalNetwork {
                net_type: NetType::VIRTUAL_BOARD,
                net: Net(0xabcd),
                node: MacAddr::ENGINE,
            },
        ]
    );
    assert_eq!(emit_reply(&r), NETWARE3);
}

#[test]
fn requests() {
    // enin's broadcast: no exclusions.
    let r = DiagRequestRepr::parse_bytes(&[0]).unwrap();
    assert!(r.exclusions.is_empty());
    let mut r2 = DiagRequestRepr::default();
    r2.exclusions
        .push(MacAddr([0, 0x30, 0xc1, 0xbf, 0x57, 0x55]));
    r2.exclusions.push(MacAddr::ENGINE);
    let mut out = [0u8; 13];
    assert_eq!(r2.emit(&mut out), Ok(13));
    assert_eq!(out[0], 2);
    assert_eq!(&out[7..13], &[0, 0, 0, 0, 0, 1]);
    let v = DiagRequest::new_checked(&out[..]).unwrap();
    assert_eq!(v.exclusion_count(), 2);
    assert_eq!(v.used_len(), 13);
    let back = DiagRequestRepr::parse(&v).unwrap();
    assert!(back.excludes(MacAddr::ENGINE));
    assert!(!back.excludes(MacAddr::BROADCAST));
    assert_eq!(back, r2);
    // Bytes past the list are ignored.
    assert_eq!(DiagRequestRepr::parse_bytes(&[0, 0xee]), Ok(r));
}

#[test]
fn direction_is_guessed_from_sockets() {
    let d = diag::SOCKET;
    let eph = Socket(0x4005);
    assert_eq!(
        DiagDirection::guess(eph, d, &[0]),
        Some(DiagDirection::Request)
    );
    assert_eq!(
        DiagDirection::guess(d, eph, NETX),
        Some(DiagDirection::Reply)
    );
    assert_eq!(DiagDirection::guess(eph, eph, &[0]), None);
    // Both ends on 0x0456: the payload's shape decides.
    assert_eq!(
        DiagDirection::guess(d, d, &[0]),
        Some(DiagDirection::Request)
    );
    assert_eq!(DiagDirection::guess(d, d, NETX), Some(DiagDirection::Reply));
    match DiagMessage::parse(d, eph, NETWARE3).unwrap() {
        DiagMessage::Reply(r) => assert_eq!(r.components.len(), 3),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        DiagMessage::parse(eph, d, &[0]),
        Ok(DiagMessage::Request(_))
    ));
    assert!(matches!(
        DiagMessage::parse(eph, eph, &[0]),
        Err(WireError::WrongKind { .. })
    ));
}

#[test]
fn malformed_input_is_typed_errors() {
    assert!(matches!(
        DiagRequestRepr::parse_bytes(&[]),
        Err(WireError::Truncated { .. })
    ));
    let mut many = vec![81u8];
    many.resize(1 + 81 * 6, 0);
    assert_eq!(
        DiagRequestRepr::parse_bytes(&many),
        Err(WireError::TooMany {
            what: "IPX diagnostic exclusions",
            count: 81,
            max: MAX_EXCLUSIONS
        })
    );
    assert!(matches!(
        DiagRequestRepr::parse_bytes(&[2, 1, 2, 3, 4, 5, 6, 7]),
        Err(WireError::Truncated { .. })
    ));
    // Unknown component id: its length cannot be known.
    assert_eq!(
        DiagReplyRepr::parse_bytes(&[1, 0, 0x40, 0, 1, 10]),
        Err(WireError::BadField {
            field: "IPX diagnostic component id",
            value: 10
        })
    );
    assert!(matches!(
        DiagReplyRepr::parse_bytes(&[1, 0, 0x40, 0, 17]),
        Err(WireError::TooMany { count: 17, .. })
    ));
    assert!(matches!(
        DiagReplyRepr::parse_bytes(&[1, 0, 0x40, 0, 1, 5, 17]),
        Err(WireError::TooMany { count: 17, .. })
    ));
    // Emitting an unknown id, or networks on a simple id, is refused.
    let mut r = DiagReplyRepr::parse_bytes(NETX).unwrap();
    r.components[0].id = ComponentId(200);
    assert!(matches!(
        r.emit(&mut [0u8; 64]),
        Err(WireError::BadField { value: 200, .. })
    ));
    let mut r = DiagReplyRepr::parse_bytes(NETWARE3).unwrap();
    let nets = r.components[2].networks.clone();
    r.components[0].networks = nets;
    assert!(matches!(
        r.emit(&mut [0u8; 128]),
        Err(WireError::BadField { value: 0, .. })
    ));
    let r = DiagReplyRepr::parse_bytes(NETWARE3).unwrap();
    assert!(matches!(
        r.emit(&mut [0u8; 10]),
        Err(WireError::BufferTooSmall { .. })
    ));
}

#[test]
fn every_prefix_of_a_reply_is_an_error() {
    for bytes in [NETX, CLIENT32, MS_CLIENT, SMC_SWITCH, NETWARE3] {
        for n in 0..bytes.len() {
            assert!(
                DiagReplyRepr::parse_bytes(&bytes[..n]).is_err(),
                "prefix {n}"
            );
        }
    }
}

fn arb_component() -> impl Strategy<Value = DiagComponent> {
    let net = (any::<u8>(), any::<u32>(), any::<[u8; 6]>()).prop_map(|(t, n, m)| LocalNetwork {
        net_type: NetType(t),
        net: Net(n),
        node: MacAddr(m),
    });
    (0u8..=9, prop::collection::vec(net, 0..=MAX_NETWORKS)).prop_map(|(id, nets)| {
        let id = ComponentId(id);
        if id.is_extended() == Some(true) {
            DiagComponent {
                id,
                networks: nets.into_iter().collect(),
            }
        } else {
            DiagComponent::simple(id)
        }
    })
}

proptest! {
    #[test]
    fn reply_round_trips(
        major in any::<u8>(),
        minor in any::<u8>(),
        sock in any::<u16>(),
        comps in prop::collection::vec(arb_component(), 0..=MAX_COMPONENTS),
    ) {
        let r = DiagReplyRepr {
            major,
            minor,
            spx_socket: Socket(sock),
            components: comps.into_iter().collect(),
        };
        let mut buf = vec![0u8; r.buffer_len()];
        prop_assert_eq!(r.emit(&mut buf), Ok(buf.len()));
        prop_assert_eq!(DiagReplyRepr::parse_bytes(&buf), Ok(r.clone()));
        let msg = DiagMessage::Reply(r);
        prop_assert_eq!(DiagMessage::parse(diag::SOCKET, Socket(0x4000), &buf), Ok(msg));
    }

    #[test]
    fn request_round_trips(nodes in prop::collection::vec(any::<[u8; 6]>(), 0..=MAX_EXCLUSIONS)) {
        let r = DiagRequestRepr { exclusions: nodes.into_iter().map(MacAddr).collect() };
        let mut buf = vec![0u8; r.buffer_len()];
        prop_assert_eq!(r.emit(&mut buf), Ok(buf.len()));
        prop_assert_eq!(DiagRequestRepr::parse_bytes(&buf), Ok(r.clone()));
        let msg = DiagMessage::Request(r);
        prop_assert_eq!(DiagMessage::parse(Socket(0x4000), diag::SOCKET, &buf), Ok(msg));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(v) = DiagReply::new_checked(&bytes[..]) {
            let r = DiagReplyRepr::parse(&v).unwrap();
            prop_assert_eq!(emit_reply(&r), &bytes[..v.used_len()]);
        }
        if let Ok(v) = DiagRequest::new_checked(&bytes[..]) {
            let r = DiagRequestRepr::parse(&v).unwrap();
            let mut out = vec![0u8; r.buffer_len()];
            prop_assert_eq!(r.emit(&mut out), Ok(v.used_len()));
            prop_assert_eq!(&out[..], &bytes[..v.used_len()]);
        }
        let _ = DiagMessage::parse(diag::SOCKET, diag::SOCKET, &bytes);
    }

    #[test]
    fn reply_shaped_noise_never_panics(
        ids in prop::collection::vec(0u8..=12, 0..20),
        noise in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        // Mostly-known ids with small counts reach the network lists, which noise rarely does.
        let mut b = vec![1, 0, 0x40, 0, ids.len() as u8];
        for (i, id) in ids.iter().enumerate() {
            b.push(*id);
            if (5..=7).contains(id) {
                b.push(noise.get(i).copied().unwrap_or(0) % 20);
            }
        }
        b.extend_from_slice(&noise);
        let _ = DiagReplyRepr::parse_bytes(&b);
    }
}
