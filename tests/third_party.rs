//! Every frame of every third-party capture, decoded with `sft3::wire::dissect` and checked
//! against the decodes shipped beside the captures (tcpdump's output, libpcap's and
//! Wireshark's filter verdicts), against the facts in SOURCES.md, and against tshark.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sft3::wire::ethernet::{LlcControl, HEADER_LEN as ETH_HEADER_LEN};
use sft3::wire::ipx::{checksum, HEADER_LEN as IPX_HEADER_LEN};
use sft3::wire::netbios::{NbIpxBody, StreamType};
use sft3::wire::rip::RipOp;
use sft3::wire::sap::SapRepr;
use sft3::wire::{
    dissect, ChecksumStatus, Detail, Dissection, Encap, Framing, IpxAddr, IpxPacket, MacAddr, Net,
    Proto, Socket, WireError,
};

#[path = "third_party/support.rs"]
mod support;
use support::*;

const TCPDUMP_IPX: &str = "the-tcpdump-group_tcpdump__ipx.pcap";
const OOBR1: &str = "the-tcpdump-group_tcpdump__smb_print_trans-oobr1.pcap";
const INVALID_LEN: &str = "the-tcpdump-group_tcpdump__ipx-invalid-length.pcap";
const WS_RIP: &str = "wireshark_wireshark__ipx_rip.pcap";
const LLC: &str = "the-tcpdump-group_libpcap__llc.pcap";
const SC: &str = "google_google-ctf__sc.pcapng";
const IPXPKT: &str = "fragglet_ipxbox__ipxpkt.cap";

fn expected(name: &str) -> String {
    std::fs::read_to_string(third_party().join(format!("{name}.expected.txt"))).unwrap()
}

/// The IPX header bytes of a frame that carries IPX: from the checked view, or, when the view
/// refused the header (a bad length), straight from the bytes after the link header.
fn ipx_header<'a>(d: &Dissection<'a>, data: &'a [u8]) -> &'a [u8] {
    match &d.ipx {
        Some(p) => &p.clone().into_inner()[..IPX_HEADER_LEN],
        None => &data[d.link_len..d.link_len + IPX_HEADER_LEN],
    }
}

/// The header fields of [`ipx_header`]: (src, dst, type, length, hops, checksum).
fn raw_fields(h: &[u8]) -> (IpxAddr, IpxAddr, u8, u16, u8, u16) {
    (
        IpxAddr::from_bytes(&h[18..30]),
        IpxAddr::from_bytes(&h[6..18]),
        h[5],
        u16::from_be_bytes([h[2], h[3]]),
        h[4],
        u16::from_be_bytes([h[0], h[1]]),
    )
}

/// Checks every frame of a capture against tcpdump's line for it; returns our errors.
fn check_against_tcpdump(name: &str) -> Vec<Option<WireError>> {
    let frames = load(name);
    let lines = parse_tcpdump(&expected(name));
    assert_eq!(lines.len(), frames.len(), "{name}: one line per frame");
    let mut errors = Vec::new();
    for (i, (f, l)) in frames.iter().zip(&lines).enumerate() {
        let at = format!("{name} frame {}", i + 1);
        assert_eq!(l.frame, i + 1, "{at}");
        assert_eq!(gmt(f.ts), l.time, "{at}: timestamp");
        let d = dissect(&f.data);
        let p = d
            .ipx
            .as_ref()
            .unwrap_or_else(|| panic!("{at}: no IPX: {:?}", d.error));
        assert_eq!(p.src(), l.src, "{at}: source");
        assert_eq!(p.dst(), l.dst, "{at}: destination");
        let payload_len = p.payload().len();
        match &l.summary {
            Summary::Netbios(n) => {
                assert_eq!(d.proto, Some(Proto::Netbios), "{at}");
                assert_eq!(payload_len, *n, "{at}: NetBIOS length");
                if d.error.is_none() {
                    assert!(matches!(d.detail, Some(Detail::Netbios(_))), "{at}");
                }
            }
            Summary::NwlinkDgm(n) => {
                assert_eq!(d.proto, Some(Proto::Netbios), "{at}");
                assert!(
                    p.src().socket == Socket::NWLINK_DGM || p.dst().socket == Socket::NWLINK_DGM
                );
                assert_eq!(payload_len, *n, "{at}: NWLink datagram length");
                assert!(
                    matches!(d.detail, Some(Detail::Nmpi(_))),
                    "{at}: {:?}",
                    d.error
                );
            }
            Summary::RipResp(want) => {
                let Some(Detail::Rip(r)) = &d.detail else {
                    panic!("{at}: not RIP: {:?} {:?}", d.proto, d.error)
                };
                assert_eq!(r.op, RipOp::Response, "{at}");
                let got: Vec<(Net, u16, u16)> =
                    r.entries.iter().map(|e| (e.net, e.hops, e.ticks)).collect();
                assert_eq!(&got, want, "{at}: RIP entries");
            }
            Summary::SapResp(want) => {
                let Some(Detail::Sap(SapRepr::Response { nearest, entries })) = &d.detail else {
                    panic!("{at}: not a SAP response: {:?} {:?}", d.detail, d.error)
                };
                assert!(!nearest, "{at}: tcpdump printed a general response");
                let got: Vec<SapLine> = entries
                    .iter()
                    .map(|e| SapLine {
                        server_type: e.server_type.0,
                        name: e.name().to_vec(),
                        net: e.addr.net,
                        node: e.addr.node,
                    })
                    .collect();
                assert_eq!(&got, want, "{at}: SAP entries");
            }
            Summary::Invalid(n) => panic!("{at}: tcpdump says invalid length {n}"),
        }
        errors.push(d.error);
    }
    errors
}

#[test]
fn tcpdump_ipx_pcap_decodes_as_tcpdump_prints_it() {
    let errors = check_against_tcpdump(TCPDUMP_IPX);
    assert_eq!(errors.len(), 64);
    assert!(errors.iter().all(Option::is_none), "{errors:?}");
}

#[test]
fn fuzzed_oobr1_addresses_decode_exactly_as_tcpdump_prints_them() {
    // Frames 3 and 4 carry garbage source nodes and sockets (a fuzzer's work on ipx.pcap's
    // first frames); the addresses must come out byte for byte.
    let errors = check_against_tcpdump(OOBR1);
    // The fuzzing left every length consistent, so nothing is malformed to us: no errors. The
    // NetBIOS layer decodes as tshark -V shows it: frames 1-3 Find name
    // <01><02>__MSBROWSE__<02><01>, frame 4 (type 4, 162 bytes, so no router list) an unknown
    // data stream type 0x20, which we keep as NbIpxBody::Other.
    assert_eq!(errors, [None; 4]);
    let frames = load(OOBR1);
    for (i, f) in frames.iter().enumerate() {
        let Some(Detail::Netbios(nb)) = dissect(&f.data).detail else {
            panic!("frame {}: not NetBIOS", i + 1)
        };
        match nb.body {
            NbIpxBody::Name { op, name, .. } => {
                assert!(i < 3, "frame {}", i + 1);
                assert_eq!(op, StreamType::FIND_NAME);
                assert_eq!(name.0, *b"\x01\x02__MSBROWSE__\x02\x01");
            }
            NbIpxBody::Other { op, .. } => assert_eq!((i, op), (3, StreamType(0x20))),
            body => panic!("frame {}: {body:?}", i + 1),
        }
    }
}

#[test]
fn invalid_ipx_length_is_a_typed_error_and_the_addresses_sit_where_tcpdump_read_them() {
    let frames = load(INVALID_LEN);
    let lines = parse_tcpdump(&expected(INVALID_LEN));
    assert_eq!((frames.len(), lines.len()), (1, 1));
    let (f, l) = (&frames[0], &lines[0]);
    assert_eq!(l.summary, Summary::Invalid(29));
    assert_eq!(gmt(f.ts), l.time);
    let d = dissect(&f.data);
    // The link layer is fine and says IPX; the IPX header refuses its own length.
    assert_eq!(d.framing, Some(Framing::Llc));
    assert_eq!(d.link_len, ETH_HEADER_LEN + 3);
    assert!(d.ipx.is_none() && d.proto.is_none() && d.detail.is_none());
    let err = d.error.expect("an error");
    assert!(
        matches!(
            err,
            WireError::BadLength {
                what: "IPX",
                claimed: 29,
                ..
            }
        ),
        "{err:?}"
    );
    let raw = &f.data[d.link_len..];
    assert_eq!(IpxPacket::new_checked(raw).unwrap_err(), err);
    let (src, dst, ty, len, _, _) = raw_fields(raw);
    assert_eq!((src, dst, ty, len), (l.src, l.dst, 0x11, 29));
}

/// Evaluates one of the display filters in ipx_rip's expected.txt against our decode.
fn eval_filter(filter: &str, d: &Dissection) -> bool {
    let eth = d.eth.expect("link header");
    let p = d.ipx.as_ref().expect("IPX");
    let (lhs, op, rhs) = ["contains", ">=", "==", ">"]
        .iter()
        .find_map(|op| {
            let (l, r) = filter.split_once(&format!(" {op} "))?;
            Some((l.trim(), *op, r.trim()))
        })
        .unwrap_or_else(|| panic!("filter {filter:?}"));
    if lhs == "ipx.src.net" {
        let want = u32::from_str_radix(rhs.trim_start_matches("0x"), 16).unwrap();
        assert_eq!(op, "==");
        return p.src().net == Net(want);
    }
    let (field, slice) = match lhs.split_once('[') {
        Some((f, s)) => (f, Some(s.trim_end_matches(']'))),
        None => (lhs, None),
    };
    let bytes = match field {
        "eth.dst" => eth.dst.0,
        "eth.src" => eth.src.0,
        "ipx.src.node" => p.src().node.0,
        _ => panic!("field {field}"),
    };
    let v: &[u8] = match slice.map(|s| s.split_once(':').unwrap_or((s, "1"))) {
        None => &bytes,
        Some((start, n)) => {
            let start: i64 = start.parse().unwrap();
            let start = if start < 0 { 6 + start } else { start } as usize;
            &bytes[start..start + n.parse::<usize>().unwrap()]
        }
    };
    let want: Vec<u8> = rhs
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    match op {
        "==" => v == want.as_slice(),
        ">=" => v >= want.as_slice(),
        ">" => v > want.as_slice(),
        _ => v.windows(want.len()).any(|w| w == want.as_slice()),
    }
}

#[test]
fn wireshark_ipx_rip_filter_facts_hold() {
    let frames = load(WS_RIP);
    assert_eq!(frames.len(), 1);
    let d = dissect(&frames[0].data);
    assert_eq!(d.error, None);
    assert_eq!(d.framing, Some(Framing::Raw8023));
    assert_eq!(d.proto, Some(Proto::Rip));
    assert!(matches!(d.detail, Some(Detail::Rip(_))));
    let mut n = 0;
    for line in expected(WS_RIP).lines().filter(|l| !l.starts_with('#')) {
        let (filter, count) = line.split_once("=>").unwrap();
        let want = count.trim() == "1";
        assert_eq!(eval_filter(filter.trim(), &d), want, "{line}");
        n += 1;
    }
    assert_eq!(n, 12, "every filter line evaluated");
    // The summary line: a broadcast from 00:aa:00:a3:e3:a4 on network 0x28.
    let (eth, p) = (d.eth.unwrap(), d.ipx.unwrap());
    assert!(eth.dst.is_broadcast());
    assert_eq!(eth.src, MacAddr([0x00, 0xaa, 0x00, 0xa3, 0xe3, 0xa4]));
    assert_eq!(p.src().net, Net(0x28));
    assert_eq!(p.src().node, eth.src);
}

/// Whether an LLC control field is of the kind a libpcap `llc ROW` filter accepts.
fn llc_kind(row: &str, control: LlcControl) -> bool {
    let c0 = control.first();
    let u = c0 & 3 == 3;
    match row {
        "llc" => true,
        "i" => c0 & 1 == 0,
        "s" => c0 & 3 == 1,
        "rr" => c0 & 0x0f == 0x01,
        "rnr" => c0 & 0x0f == 0x05,
        "u" => u,
        "ui" => u && c0 & 0xef == 0x03,
        "sabme" => u && c0 & 0xef == 0x6f,
        "ua" => u && c0 & 0xef == 0x63,
        _ => panic!("unknown llc row {row}"),
    }
}

#[test]
fn libpcap_llc_verdicts_agree_with_our_framing_and_control_decode() {
    let frames = load(LLC);
    assert_eq!(frames.len(), 10);
    let ds: Vec<Dissection> = frames.iter().map(|f| dissect(&f.data)).collect();
    let mut rows = 0;
    for line in expected(LLC).lines().filter(|l| !l.starts_with('#')) {
        let toks: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(toks[0], "llc", "{line}");
        let (row, verdicts) = match toks.len() {
            11 => ("llc", &toks[1..]),
            _ => (toks[1], &toks[2..]),
        };
        let verdicts: Vec<bool> = verdicts.iter().map(|t| *t == "1").collect();
        assert_eq!(verdicts.len(), 10, "{line}");
        for (i, (d, want)) in ds.iter().zip(&verdicts).enumerate() {
            let got = match d.eth.map(|e| e.encap) {
                Some(Encap::Llc { control, .. }) => llc_kind(row, control),
                _ => false,
            };
            assert_eq!(got, *want, "llc {row}, frame {}", i + 1);
        }
        rows += 1;
    }
    assert_eq!(rows, 9);
    for (i, d) in ds.iter().enumerate() {
        let at = format!("frame {}", i + 1);
        assert_eq!(d.error, None, "{at}");
        let encap = d.eth.unwrap().encap;
        if [3, 5, 7, 8].contains(&(i + 1)) {
            assert_eq!(encap, Encap::Raw8023, "{at}");
            assert_eq!(d.framing, Some(Framing::Raw8023), "{at}");
            assert_eq!(d.proto, Some(Proto::Netbios), "{at}");
            assert!(matches!(d.detail, Some(Detail::Netbios(_))), "{at}");
            assert_eq!(d.link_len, ETH_HEADER_LEN);
        } else {
            let Encap::Llc {
                dsap,
                ssap,
                control,
            } = encap
            else {
                panic!("{at}: {encap:?}")
            };
            // NetBEUI: DSAP F0, SSAP F0 (command) or F1 (response bit set).
            assert_eq!((dsap, ssap & 0xfe), (0xf0, 0xf0), "{at}");
            assert_eq!(d.framing, None, "{at}: not IPX");
            assert!(d.ipx.is_none() && d.proto.is_none(), "{at}");
            // The control bytes are the frame's, and the link header ends after them.
            let b = &frames[i].data[ETH_HEADER_LEN + 2..];
            let (want, clen) = if b[0] & 3 == 3 {
                (LlcControl::U(b[0]), 1)
            } else {
                (LlcControl::Is([b[0], b[1]]), 2)
            };
            assert_eq!(control, want, "{at}");
            assert_eq!(d.link_len, ETH_HEADER_LEN + 2 + clen, "{at}");
        }
    }
    // Frame 9 (RR, N(R)=0, F) made RR N(R)=1, F: the second control byte now ends in binary
    // 11, as a U-format first byte does; the control is still two bytes.
    let mut rr = frames[8].data.clone();
    rr[ETH_HEADER_LEN + 3] = 0x03;
    let d = dissect(&rr);
    let llc = Encap::Llc {
        dsap: 0xf0,
        ssap: 0xf1,
        control: LlcControl::Is([0x01, 0x03]),
    };
    assert_eq!(d.eth.map(|e| e.encap), Some(llc));
    let rr_ctl = LlcControl::Is([0x01, 0x03]);
    assert!(llc_kind("rr", rr_ctl) && !llc_kind("u", rr_ctl));
    // An I frame with N(S)=0 whose second byte ends in 11 is not UI, so not IPX even on E0/E0.
    let mut i_frame = frames[8].data.clone();
    i_frame[ETH_HEADER_LEN..ETH_HEADER_LEN + 4].copy_from_slice(&[0xe0, 0xe0, 0x00, 0x03]);
    let d = dissect(&i_frame);
    assert_eq!(d.framing, None);
    assert!(matches!(
        d.eth.map(|e| e.encap),
        Some(Encap::Llc {
            control: LlcControl::Is([0x00, 0x03]),
            ..
        })
    ));
    assert_eq!(
        d.link_len,
        ETH_HEADER_LEN + 4,
        "link header of a two-byte control"
    );
}

/// Per-capture tallies of what we decoded.
#[derive(Debug, Default)]
struct Tally {
    ipx_frames: usize,
    framings: HashMap<Framing, usize>,
    types: BTreeMap<u8, usize>,
    sockets: BTreeSet<u16>,
    errors: Vec<(usize, WireError)>,
}

fn tally(name: &str) -> Tally {
    let mut t = Tally::default();
    for (i, f) in load(name).iter().enumerate() {
        let d = dissect(&f.data);
        if let Some(e) = d.error {
            t.errors.push((i + 1, e));
        }
        let Some(framing) = d.framing else { continue };
        t.ipx_frames += 1;
        *t.framings.entry(framing).or_default() += 1;
        let (src, dst, ty, ..) = raw_fields(ipx_header(&d, &f.data));
        *t.types.entry(ty).or_default() += 1;
        t.sockets.extend([src.socket.0, dst.socket.0]);
    }
    t
}

#[test]
fn every_capture_matches_the_facts_in_sources_md() {
    let listed = parse_sources();
    let names: Vec<&str> = listed.iter().map(|l| l.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        capture_names(),
        "SOURCES.md and the directory list the same files"
    );
    for l in &listed {
        let name = l.name.as_str();
        assert!(
            l.ipx_frames > 0 && !l.framings.is_empty() && !l.types.is_empty(),
            "{name}"
        );
        let t = tally(name);
        assert_eq!(t.ipx_frames, l.ipx_frames, "{name}: IPX frames");
        assert_eq!(t.framings, l.framings, "{name}: frame types");
        assert_eq!(t.types, l.types, "{name}: packet types");
        assert_eq!(t.sockets, l.sockets, "{name}: sockets");
        match name {
            INVALID_LEN => {
                assert_eq!(t.errors.len(), 1, "{name}");
                assert!(matches!(
                    t.errors[0],
                    (1, WireError::BadLength { claimed: 29, .. })
                ));
            }
            // OOBR1 is fuzzed but self-consistent: no errors (see the test above).
            _ => assert!(t.errors.is_empty(), "{name}: {:?}", t.errors),
        }
    }
}

#[test]
fn starcraft_capture_is_all_llc_type_0_on_two_sockets() {
    let frames = load(SC);
    assert_eq!(frames.len(), 16827);
    let mut sockets = BTreeSet::new();
    for (i, f) in frames.iter().enumerate() {
        let d = dissect(&f.data);
        let at = format!("frame {}", i + 1);
        assert_eq!(d.error, None, "{at}");
        assert_eq!(d.framing, Some(Framing::Llc), "{at}");
        let p = d.ipx.as_ref().expect("IPX");
        assert_eq!(p.packet_type().0, 0, "{at}");
        // No well-known socket and type 0: plain data.
        assert_eq!(d.proto, Some(Proto::Data), "{at}");
        assert!(matches!(d.detail, Some(Detail::Data(b)) if b.len() == p.payload().len()));
        sockets.extend([p.src().socket.0, p.dst().socket.0]);
    }
    assert_eq!(sockets, BTreeSet::from([0x17df, 0x17e0]));
}

#[test]
fn ipxpkt_zero_checksum_is_bad_and_transport_control_is_127() {
    let notes = std::fs::read_to_string(third_party().join("SOURCES.md")).unwrap();
    let section = notes.split("## ").find(|s| s.starts_with(IPXPKT)).unwrap();
    assert!(section.contains("checksum 0x0000 and transport control 127"));
    let frames = load(IPXPKT);
    assert_eq!(frames.len(), 97);
    for (i, f) in frames.iter().enumerate() {
        let d = dissect(&f.data);
        let at = format!("frame {}", i + 1);
        assert_eq!(d.framing, Some(Framing::EthernetII), "{at}");
        let p = d.ipx.as_ref().expect("IPX");
        assert_eq!((p.checksum(), p.hops()), (0x0000, 127), "{at}");
        assert_eq!(
            (p.src().socket, p.dst().socket),
            (Socket(0x6181), Socket(0x6181))
        );
        assert_eq!(d.error, None, "{at}");
        // Type 0x14 (frames 1, 4, 7, 8, 12) on the tunnel socket is still data: as tcpdump
        // (`ipx-#6181`) and tshark (`ipx:data`), we go by socket, not by type 20 alone.
        assert_eq!(d.proto, Some(Proto::Data), "{at}");
        let ty = p.packet_type().0;
        assert_eq!(ty == 0x14, [1, 4, 7, 8, 12].contains(&(i + 1)), "{at}");
        // 0x0000 is a real checksum value (the complement of a 0xFFFF sum), so it is only
        // Bad because the sum over these bytes is not 0xFFFF: the computed value is not 0.
        let computed = checksum(p.as_bytes());
        assert_ne!(computed, 0, "{at}: the zero checksum would be right");
        assert_eq!(
            p.verify_checksum(),
            ChecksumStatus::Bad { computed },
            "{at}"
        );
    }
}

#[test]
fn tshark_agrees_on_every_ipx_frame() {
    if !tshark_available() {
        return;
    }
    for name in capture_names() {
        let frames = load(&name);
        let rows = tshark_ipx(&name);
        assert_eq!(rows.len(), frames.len(), "{name}");
        for (i, (f, row)) in frames.iter().zip(&rows).enumerate() {
            let at = format!("{name} frame {}", i + 1);
            let d = dissect(&f.data);
            let Some(t) = row else {
                assert_eq!(d.framing, None, "{at}: tshark sees no IPX");
                continue;
            };
            assert!(d.framing.is_some(), "{at}: tshark sees IPX, we do not");
            let (src, dst, ty, len, hops, sum) = raw_fields(ipx_header(&d, &f.data));
            if let Some(p) = &d.ipx {
                // The checked view and the raw bytes are the same thing.
                let view = (p.src(), p.dst(), p.packet_type().0, p.length(), p.hops());
                assert_eq!(view, (src, dst, ty, len, hops), "{at}");
                assert_eq!(p.checksum(), sum, "{at}");
            }
            assert_eq!((src, dst), (t.src, t.dst), "{at}: addresses");
            assert_eq!(
                (ty, len, hops, sum),
                (t.packet_type, t.len, t.hops, t.checksum),
                "{at}"
            );
        }
    }
}
