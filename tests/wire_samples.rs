//! The sample frames (`sft3::wire::samples`): every kind in every framing, for many variants,
//! dissects to the expected protocol with no error, carries what its kind says, verifies
//! with the sample key, and is deterministic.

use proptest::prelude::*;
use sft3::wire::ipx::ChecksumStatus;
use sft3::wire::msl::{FrameType, MslLinkFrame};
use sft3::wire::ncp::NcpRepr;
use sft3::wire::netbios::{NbIpxBody, StreamType};
use sft3::wire::rip::RipOp;
use sft3::wire::samples::{
    build, checksum_for, kinds, samples, Kind, Sample, MAX_FRAME_LEN, MSL_DATA_LEN, SAMPLE_KEY,
};
use sft3::wire::sap::SapRepr;
use sft3::wire::spx::{SpxFlags, CONN_ID_UNASSIGNED};
use sft3::wire::state::{AuthKind, StateRepr};
use sft3::wire::{dissect, Checksum, Detail, Framing, Proto, WireError};

/// Variants every test runs: the base, small ones, and extremes.
const VARIANTS: [u64; 10] = [0, 1, 2, 3, 7, 255, 256, 65_537, 1 << 40, u64::MAX];

fn frame(s: Sample, v: u64) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME_LEN];
    let n = s
        .build(v, &mut buf)
        .unwrap_or_else(|e| panic!("{s} variant {v}: {e}"));
    buf[..n].to_vec()
}

/// Checks one frame fully; panics with the sample's name on any mismatch.
fn check(s: Sample, v: u64) {
    let f = frame(s, v);
    let d = dissect(&f);
    let what = format!("{s} variant {v}");
    assert_eq!(d.error, None, "{what}");
    assert_eq!(d.proto, Some(s.kind.proto()), "{what}");
    assert_eq!(d.framing, s.ipx_framing(), "{what}");
    assert!(f.len() >= 60 && f.len() <= MAX_FRAME_LEN, "{what}");
    if let Some(p) = &d.ipx {
        let want = match s.kind {
            Kind::State | Kind::StateKeyed => ChecksumStatus::None,
            _ if checksum_for(s.framing, v) == Checksum::Sum => ChecksumStatus::Good,
            _ => ChecksumStatus::None,
        };
        assert_eq!(p.verify_checksum(), want, "{what}");
    }
    let detail = d.detail.unwrap_or_else(|| panic!("{what}: no detail"));
    check_detail(s.kind, v, &detail, &what);
    if s.kind == Kind::StateKeyed {
        let p = d.ipx.as_ref().expect("IPX").payload();
        StateRepr::parse_bytes(p, Some(&SAMPLE_KEY)).expect("tag verifies");
        let wrong = [7u8; 32];
        assert!(StateRepr::parse_bytes(p, Some(&wrong)).is_err(), "{what}");
    }
    if let Kind::Msl { keyed, .. } = s.kind {
        let key = keyed.then_some(&SAMPLE_KEY);
        MslLinkFrame::parse(&f, key).unwrap_or_else(|e| panic!("{what}: {e}"));
        if keyed {
            assert!(MslLinkFrame::parse(&f, None).is_err(), "{what}");
        }
    }
}

/// What each kind's parsed content must say.
fn check_detail(kind: Kind, v: u64, detail: &Detail<'_>, what: &str) {
    match (kind, detail) {
        (Kind::RipRequest, Detail::Rip(r)) => assert!(r.is_general_request(), "{what}"),
        (Kind::RipResponse, Detail::Rip(r)) => {
            assert_eq!(r.op, RipOp::Response, "{what}");
            assert!(r.entries.len() >= 3, "{what}");
            assert!(r.entries.iter().any(|e| e.is_unreachable()), "{what}");
        }
        (Kind::SapGeneralRequest, Detail::Sap(SapRepr::Request { nearest, .. }))
        | (Kind::SapNearestRequest, Detail::Sap(SapRepr::Request { nearest, .. })) => {
            assert_eq!(*nearest, kind == Kind::SapNearestRequest, "{what}")
        }
        (Kind::SapGeneralResponse, Detail::Sap(SapRepr::Response { nearest, entries })) => {
            assert!(!nearest && entries.len() >= 3, "{what}")
        }
        (Kind::SapNearestResponse, Detail::Sap(SapRepr::Response { nearest, entries })) => {
            assert!(*nearest && entries.len() == 1, "{what}")
        }
        (Kind::DiagRequest, Detail::DiagRequest(r)) => {
            assert!(r.exclusion_count() > 0, "{what}")
        }
        (Kind::DiagReply, Detail::DiagReply(r)) => {
            assert!(r.component_count() >= 3, "{what}");
            assert!(
                r.components().any(|c| c.networks().next().is_some()),
                "{what}"
            );
        }
        (Kind::SpxData, Detail::Spx(h, data)) => {
            assert!(
                !h.flags.contains(SpxFlags::SYS) && !data.is_empty(),
                "{what}"
            )
        }
        (Kind::SpxSystemAck, Detail::Spx(h, data)) => {
            assert!(h.flags.contains(SpxFlags::SYS) && data.is_empty(), "{what}")
        }
        (Kind::Spx2ConnectRequest, Detail::Spx(h, _)) => {
            assert!(h.flags.contains(SpxFlags::SPX2), "{what}");
            assert_eq!(h.dst_conn, CONN_ID_UNASSIGNED, "{what}");
        }
        (Kind::NcpCreate, Detail::Ncp(NcpRepr::Create(_)))
        | (Kind::NcpDestroy, Detail::Ncp(NcpRepr::Destroy(_)))
        | (Kind::NcpReply, Detail::Ncp(NcpRepr::Reply(_)))
        | (Kind::NcpBusy, Detail::Ncp(NcpRepr::Busy(_)))
        | (Kind::NcpBurst, Detail::Ncp(NcpRepr::Burst(_))) => {}
        (Kind::NcpRequest, Detail::Ncp(NcpRepr::Request(r))) => {
            assert_eq!(r.subfunction, None, "{what}");
            assert_eq!(r.sequence, v as u8, "{what}");
        }
        (Kind::NcpRequestSubfunction, Detail::Ncp(NcpRepr::Request(r))) => {
            assert!(r.subfunction.is_some(), "{what}")
        }
        (Kind::NetbiosNameQuery, Detail::Netbios(n)) => {
            assert!(n.routers.is_some(), "{what}");
            assert!(
                matches!(n.body, NbIpxBody::Name { op, .. } if op == StreamType::FIND_NAME),
                "{what}"
            );
        }
        (Kind::NmpiNameQuery, Detail::Nmpi(n)) => assert_eq!(n.message_id, v as u16, "{what}"),
        (Kind::State | Kind::StateKeyed, Detail::State { repr, auth }) => {
            assert_eq!(repr.sequence, v, "{what}");
            assert_eq!(repr.adapters.len(), 2, "{what}");
            let want = if kind.is_keyed() {
                AuthKind::Blake3
            } else {
                AuthKind::None
            };
            assert_eq!(*auth, want, "{what}");
        }
        (Kind::Data, Detail::Data(d)) => assert_eq!(d.len(), 48, "{what}"),
        (
            Kind::Msl { frame_type, keyed },
            Detail::Msl {
                repr,
                authenticated,
                payload,
            },
        ) => {
            assert_eq!(repr.frame_type, frame_type, "{what}");
            assert_eq!(repr.seq, v as u32, "{what}");
            assert_eq!(*authenticated, keyed, "{what}");
            if frame_type == FrameType::Data {
                assert_eq!(payload.len(), MSL_DATA_LEN, "{what}");
            }
        }
        _ => panic!("{what}: unexpected detail {detail:?}"),
    }
}

#[test]
fn every_sample_dissects_as_its_kind() {
    for s in samples() {
        for v in VARIANTS {
            check(s, v);
        }
    }
}

#[test]
fn recording_set_covers_every_kind_and_framing() {
    let all: Vec<Sample> = samples().collect();
    assert_eq!(all.len(), 23 * 4 + 14);
    assert_eq!(kinds().len(), 37);
    for k in kinds() {
        assert_eq!(Kind::from_name(k.name()), Some(*k));
        let n = all.iter().filter(|s| s.kind == *k).count();
        assert_eq!(n, if k.is_ipx() { 4 } else { 1 }, "{k}");
    }
    let mut names: Vec<&str> = kinds().iter().map(|k| k.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), kinds().len(), "names are unique");
    for f in Framing::ALL {
        assert!(all
            .iter()
            .any(|s| s.framing == f && s.kind == Kind::NcpBurst));
    }
}

#[test]
fn samples_are_deterministic_and_variants_differ() {
    for s in samples() {
        assert_eq!(frame(s, 5), frame(s, 5), "{s}");
        assert_ne!(frame(s, 0), frame(s, 1), "{s}: variant 1 repeats variant 0");
        assert_ne!(frame(s, 1), frame(s, 2), "{s}: variant 2 repeats variant 1");
    }
}

#[test]
fn some_non_raw_frames_carry_a_real_checksum() {
    let mut good = 0;
    for s in samples() {
        let f = frame(s, 1);
        if let Some(p) = dissect(&f).ipx {
            if p.verify_checksum() == ChecksumStatus::Good {
                assert_ne!(s.framing, Framing::Raw8023, "{s}");
                good += 1;
            }
        }
    }
    // SNAP and LLC (odd variant) of every kind but the two state kinds.
    assert_eq!(good, 2 * 21);
}

#[test]
fn short_buffers_are_errors_not_panics() {
    for s in samples() {
        let len = frame(s, 3).len();
        for short in [0, 1, 13, 14, 30, 43, 44, 59, len - 1] {
            let mut buf = vec![0u8; short.min(len - 1)];
            match s.build(3, &mut buf) {
                Err(WireError::BufferTooSmall { .. }) => {}
                other => panic!("{s} into {short} bytes: {other:?}"),
            }
        }
    }
}

#[test]
fn msl_kinds_are_ethernet_ii_only() {
    let mut buf = [0u8; MAX_FRAME_LEN];
    for k in kinds().iter().filter(|k| !k.is_ipx()) {
        assert_eq!(k.framings(), &[Framing::EthernetII]);
        for f in [Framing::Raw8023, Framing::Llc, Framing::Snap] {
            assert!(matches!(
                build(*k, f, 0, &mut buf),
                Err(WireError::WrongKind { .. })
            ));
        }
    }
}

#[test]
fn keyed_kinds_are_the_authenticated_ones() {
    for k in kinds() {
        let tagged = matches!(k, Kind::StateKeyed | Kind::Msl { keyed: true, .. });
        assert_eq!(k.is_keyed(), tagged, "{k}");
        assert_eq!(k.proto() == Proto::Msl, !k.is_ipx(), "{k}");
    }
}

proptest! {
    #[test]
    fn any_variant_dissects_cleanly(i in 0usize..106, v in any::<u64>()) {
        let s = samples().nth(i).unwrap();
        check(s, v);
    }
}
