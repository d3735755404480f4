//! The recordings in `captures/own/`: `kinds.pcap` holds one frame of every sample kind in
//! every framing (`sft3::wire::samples`, variant 0).
//!
//! 1. Every frame dissects with the expected protocol and framing and no error, and is
//!    byte-identical to what `samples` builds now, so the recording cannot rot silently.
//! 2. Wireshark is the oracle for our emitters: `tshark`'s decode of every frame (Ethernet,
//!    LLC/SNAP, IPX header, RIP, SAP, SPX, NCP, NetBIOS/NMPI fields, protocol column, no
//!    malformed packets) must equal ours. Skipped with a message when tshark is missing,
//!    unless `SFT3_REQUIRE_ORACLES` is set (CI), which makes that a failure.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use sft3::capture::{CaptureReader, LinkType, Timestamp};
use sft3::wire::ncp::NcpRepr;
use sft3::wire::netbios::NbIpxBody;
use sft3::wire::samples::{samples, Sample, MAX_FRAME_LEN};
use sft3::wire::sap::SapRepr;
use sft3::wire::spx::SpxFlags;
use sft3::wire::{dissect, Detail, Encap, EthernetFrame, Net, Proto};

/// How to rebuild the recording when the sample format changes on purpose.
const REGENERATE: &str =
    "cargo run --release --example gen_capture -- --kinds captures/own/kinds.pcap";

/// The first frame's time: 2026-01-01T00:00:00Z; then +1 ms per frame.
const START_SECS: u64 = 1_767_225_600;

fn kinds_pcap() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("captures/own/kinds.pcap")
}

/// The recording's frames and timestamps.
fn read_kinds() -> Vec<(Timestamp, Vec<u8>)> {
    let path = kinds_pcap();
    let mut r = CaptureReader::open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; regenerate with `{REGENERATE}`", path.display()));
    assert_eq!(r.link_type(), Some(LinkType::ETHERNET));
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        out.push((p.ts, p.data.to_vec()));
    }
    out
}

#[test]
fn kinds_pcap_matches_the_samples() {
    let frames = read_kinds();
    let set: Vec<Sample> = samples().collect();
    assert_eq!(
        frames.len(),
        set.len(),
        "kinds.pcap has {} frames, the samples {}: regenerate with `{REGENERATE}`",
        frames.len(),
        set.len()
    );
    let mut buf = [0u8; MAX_FRAME_LEN];
    for (i, ((ts, data), s)) in frames.iter().zip(&set).enumerate() {
        let n = s.build(0, &mut buf).expect("sample builds");
        assert!(
            data[..] == buf[..n],
            "frame {} ({s}) differs from what the samples build now; if the format changed on \
             purpose, regenerate with `{REGENERATE}`",
            i + 1
        );
        let want =
            Timestamp::from_unix_nanos(START_SECS as u128 * 1_000_000_000 + i as u128 * 1_000_000);
        assert_eq!(*ts, want, "frame {} timestamp", i + 1);
        let d = dissect(data);
        assert_eq!(d.error, None, "frame {} ({s})", i + 1);
        assert_eq!(d.proto, Some(s.kind.proto()), "frame {} ({s})", i + 1);
        assert_eq!(d.framing, s.ipx_framing(), "frame {} ({s})", i + 1);
    }
}

/// Whether the oracle must be present (CI sets `SFT3_REQUIRE_ORACLES=1`).
fn oracles_required() -> bool {
    std::env::var("SFT3_REQUIRE_ORACLES").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The tshark fields compared (checked with `tshark -G fields`, Wireshark 4.0).
const FIELDS: &[&str] = &[
    "frame.number",
    "_ws.col.Protocol",
    "_ws.col.Info",
    "_ws.malformed",
    "eth.src",
    "eth.dst",
    "eth.type",
    "eth.len",
    "llc.dsap",
    "llc.ssap",
    "llc.oui",
    "llc.type",
    "ipx.checksum",
    "ipx.len",
    "ipx.hops",
    "ipx.packet_type",
    "ipx.dst.net",
    "ipx.dst.node",
    "ipx.dst.socket",
    "ipx.src.net",
    "ipx.src.node",
    "ipx.src.socket",
    "ipxrip.request",
    "ipxrip.response",
    "ipxrip.packet_type",
    "ipxrip.route_vector",
    "ipxrip.hops",
    "ipxrip.ticks",
    "ipxsap.request",
    "ipxsap.response",
    "ipxsap.packet_type",
    "ipxsap.server.type",
    "ipxsap.server.name",
    "ipxsap.server.network",
    "ipxsap.server.node",
    "ipxsap.server.socket",
    "ipxsap.server.intermediate_networks",
    "spx.ctl",
    "spx.ctl.v2",
    "spx.ctl.neg_size",
    "spx.type",
    "spx.src",
    "spx.dst",
    "spx.seq",
    "spx.ack",
    "spx.alloc",
    "spx.neg_size",
    "ncp.type",
    "ncp.seq",
    "ncp.connection",
    "ncp.task",
    "ncp.func",
    "ncp.subfunc",
    "ncp.length",
    "ncp.completion_code",
    "ncp.connection_status",
    "ncp.system_flags",
    "ncp.stream_type",
    "ncp.src_connection",
    "ncp.dst_connection",
    "ncp.packet_seqno",
    "ncp.delay_time",
    "ncp.burst_seqno",
    "ncp.ack_seqno",
    "ncp.burst_len",
    "ncp.data_offset",
    "ncp.data_bytes",
    "ncp.missing_fraglist_count",
    "nmpi.packettype",
    "nmpi.name_flags",
    "nmpi.ipx_network",
    "nmpi.opcode",
    "nmpi.name_type",
    "nmpi.messageid",
];

/// tshark's values, one map per frame; numbers normalised to decimal (`0x0453` → `1107`),
/// repeated fields joined with `;`.
fn tshark_rows() -> Vec<HashMap<&'static str, String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n").arg("-r").arg(kinds_pcap());
    cmd.args(["-T", "fields", "-E", "separator=/t", "-E", "aggregator=;"]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("tshark prints UTF-8");
    text.lines()
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), FIELDS.len(), "tshark row: {line}");
            FIELDS
                .iter()
                .zip(cols)
                .map(|(f, v)| {
                    // Columns are text; only field values are normalised.
                    let v = if f.starts_with("_ws.") {
                        v.to_string()
                    } else {
                        norm(v)
                    };
                    (*f, v)
                })
                .collect()
        })
        .collect()
}

/// Hex values (`0x...`) to decimal, item by item; anything else as printed.
fn norm(v: &str) -> String {
    v.split(';')
        .map(|item| match item.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).map_or(item.to_string(), |n| n.to_string()),
            None => item.to_string(),
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// Joins values with `;`, as tshark aggregates repeated fields.
fn list<T: ToString>(it: impl IntoIterator<Item = T>) -> String {
    it.into_iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(";")
}

/// `"1"` when set, absent otherwise (how tshark prints these booleans).
fn flag(b: bool) -> String {
    if b { "1" } else { "" }.to_string()
}

/// Our decode of a frame, as the tshark fields it should match, and text the Info column
/// must contain.
fn ours(frame: &[u8]) -> (Vec<(&'static str, String)>, Vec<String>) {
    let d = dissect(frame);
    let eth = d.eth.expect("link header");
    let mut e: Vec<(&'static str, String)> = vec![
        ("_ws.malformed", String::new()),
        ("eth.src", eth.src.to_string()),
        ("eth.dst", eth.dst.to_string()),
    ];
    let mut info = Vec::new();
    let tl = EthernetFrame::new_checked(frame)
        .expect("link")
        .type_or_length();
    match eth.encap {
        Encap::EthernetII { ethertype } => {
            e.push(("eth.type", ethertype.to_string()));
            e.push(("eth.len", String::new()));
        }
        Encap::Raw8023 => e.push(("eth.len", tl.to_string())),
        Encap::Llc { dsap, ssap, .. } => {
            e.push(("eth.len", tl.to_string()));
            e.push(("llc.dsap", dsap.to_string()));
            e.push(("llc.ssap", ssap.to_string()));
        }
        Encap::Snap { oui, ethertype } => {
            e.push(("eth.len", tl.to_string()));
            let oui = u32::from_be_bytes([0, oui[0], oui[1], oui[2]]);
            e.push(("llc.oui", oui.to_string()));
            e.push(("llc.type", ethertype.to_string()));
        }
    }
    match &d.ipx {
        Some(p) => {
            let (src, dst) = (p.src(), p.dst());
            e.extend([
                ("ipx.checksum", p.checksum().to_string()),
                ("ipx.len", p.length().to_string()),
                ("ipx.hops", p.hops().to_string()),
                ("ipx.packet_type", p.packet_type().0.to_string()),
                ("ipx.dst.net", dst.net.0.to_string()),
                ("ipx.dst.node", dst.node.to_string()),
                ("ipx.dst.socket", dst.socket.0.to_string()),
                ("ipx.src.net", src.net.0.to_string()),
                ("ipx.src.node", src.node.to_string()),
                ("ipx.src.socket", src.socket.0.to_string()),
            ]);
        }
        None => e.push(("ipx.len", String::new())),
    }
    let protocol = match (d.proto, &d.detail) {
        (Some(Proto::Rip), _) => "IPX RIP",
        (Some(Proto::Sap), _) => "IPX SAP",
        (Some(Proto::Spx), _) => "SPX",
        (Some(Proto::Ncp), _) => "NCP",
        (_, Some(Detail::Netbios(_))) => "NBIPX",
        (_, Some(Detail::Nmpi(_))) => "NMPI",
        (Some(Proto::Msl), _) => "0x88b5",
        // Wireshark has no dissector for diagnostics, sft3 state packets or plain data.
        _ => "IPX",
    };
    e.push(("_ws.col.Protocol", protocol.to_string()));
    match d.detail.expect("detail") {
        Detail::Rip(r) => {
            let request = r.op == sft3::wire::rip::RipOp::Request;
            e.extend([
                ("ipxrip.packet_type", r.op.to_u16().to_string()),
                ("ipxrip.request", flag(request)),
                ("ipxrip.response", flag(!request)),
                (
                    "ipxrip.route_vector",
                    list(r.entries.iter().map(|x| x.net.0)),
                ),
                ("ipxrip.hops", list(r.entries.iter().map(|x| x.hops))),
                ("ipxrip.ticks", list(r.entries.iter().map(|x| x.ticks))),
            ]);
        }
        Detail::Sap(s) => {
            e.push(("ipxsap.packet_type", s.op().to_u16().to_string()));
            match s {
                SapRepr::Request { server_type, .. } => e.extend([
                    ("ipxsap.request", flag(true)),
                    ("ipxsap.response", flag(false)),
                    ("ipxsap.server.type", server_type.0.to_string()),
                ]),
                SapRepr::Response { entries, .. } => e.extend([
                    ("ipxsap.request", flag(false)),
                    ("ipxsap.response", flag(true)),
                    (
                        "ipxsap.server.type",
                        list(entries.iter().map(|x| x.server_type.0)),
                    ),
                    (
                        "ipxsap.server.name",
                        list(
                            entries
                                .iter()
                                .map(|x| String::from_utf8_lossy(x.name()).into_owned()),
                        ),
                    ),
                    (
                        "ipxsap.server.network",
                        list(entries.iter().map(|x| x.addr.net.0)),
                    ),
                    (
                        "ipxsap.server.node",
                        list(entries.iter().map(|x| x.addr.node)),
                    ),
                    (
                        "ipxsap.server.socket",
                        list(entries.iter().map(|x| x.addr.socket.0)),
                    ),
                    (
                        "ipxsap.server.intermediate_networks",
                        list(entries.iter().map(|x| x.hops)),
                    ),
                ]),
            }
        }
        Detail::Spx(h, _) => {
            let f = h.flags;
            e.extend([
                // Wireshark's spx.ctl is the high nibble (mask 0xF0); the SPX II bits are
                // separate booleans, shown only on SPX II packets.
                ("spx.ctl", (f.bits() >> 4).to_string()),
                ("spx.type", h.datastream_type.0.to_string()),
                ("spx.src", h.src_conn.to_string()),
                ("spx.dst", h.dst_conn.to_string()),
                ("spx.seq", h.seq.to_string()),
                ("spx.ack", h.ack.to_string()),
                ("spx.alloc", h.alloc.to_string()),
                (
                    "spx.neg_size",
                    h.negotiation_size.map_or(String::new(), |n| n.to_string()),
                ),
            ]);
            if f.contains(SpxFlags::SPX2) {
                e.push(("spx.ctl.v2", "1".into()));
                e.push((
                    "spx.ctl.neg_size",
                    u8::from(f.contains(SpxFlags::NEG_SIZE)).to_string(),
                ));
            } else {
                e.push(("spx.ctl.v2", String::new()));
            }
        }
        Detail::Ncp(n) => {
            e.push(("ncp.type", n.ncp_type().0.to_string()));
            match n {
                NcpRepr::Create(r) | NcpRepr::Destroy(r) | NcpRepr::Request(r) => {
                    e.extend([
                        ("ncp.seq", r.sequence.to_string()),
                        ("ncp.connection", r.connection.to_string()),
                        ("ncp.task", r.task.to_string()),
                    ]);
                    if let NcpRepr::Request(_) = n {
                        e.push(("ncp.func", r.function.to_string()));
                        match r.subfunction {
                            Some(s) => {
                                e.push(("ncp.subfunc", s.code.to_string()));
                                if let Some(l) = s.length {
                                    e.push(("ncp.length", l.to_string()));
                                }
                            }
                            None => {
                                e.push(("ncp.subfunc", String::new()));
                                if let Some(name) = sft3::wire::ncp::function_name(r.function) {
                                    info.push(name.to_string());
                                }
                            }
                        }
                    }
                }
                NcpRepr::Reply(r) | NcpRepr::Busy(r) => e.extend([
                    ("ncp.seq", r.sequence.to_string()),
                    ("ncp.connection", r.connection.to_string()),
                    ("ncp.task", r.task.to_string()),
                    ("ncp.completion_code", r.completion_code.to_string()),
                    ("ncp.connection_status", r.connection_status.to_string()),
                ]),
                NcpRepr::Burst(b) => e.extend([
                    ("ncp.system_flags", b.flags.0.to_string()),
                    ("ncp.stream_type", b.stream_type.to_string()),
                    ("ncp.src_connection", b.src_conn.to_string()),
                    ("ncp.dst_connection", b.dst_conn.to_string()),
                    ("ncp.packet_seqno", b.packet_seq.to_string()),
                    ("ncp.delay_time", b.send_delay.to_string()),
                    ("ncp.burst_seqno", b.burst_seq.to_string()),
                    ("ncp.ack_seqno", b.ack_seq.to_string()),
                    // Wireshark's names: "burst length" is the whole burst, "data
                    // offset"/"data bytes" this packet's part.
                    ("ncp.burst_len", b.total_len.to_string()),
                    ("ncp.data_offset", b.burst_offset.to_string()),
                    ("ncp.data_bytes", b.burst_len.to_string()),
                    ("ncp.missing_fraglist_count", b.fragment_count.to_string()),
                ]),
                NcpRepr::Other(_) => {}
            }
        }
        Detail::Netbios(n) => {
            e.push(("nmpi.packettype", n.body.op().0.to_string()));
            if let Some(r) = n.routers {
                e.push(("nmpi.ipx_network", nonzero(&r)));
            }
            if let NbIpxBody::Name { flags, name, .. } = n.body {
                e.push(("nmpi.name_flags", flags.to_string()));
                info.push(name.to_string());
            }
        }
        Detail::Nmpi(n) => {
            e.extend([
                ("nmpi.opcode", n.opcode.to_string()),
                ("nmpi.name_type", n.name_type.to_string()),
                ("nmpi.messageid", n.message_id.to_string()),
                ("nmpi.ipx_network", nonzero(&n.routers)),
            ]);
            info.push(n.name.to_string());
        }
        // No tshark fields to compare (see the protocol column above).
        Detail::DiagRequest(_)
        | Detail::DiagReply(_)
        | Detail::State { .. }
        | Detail::Msl { .. }
        | Detail::Data(_) => {}
    }
    (e, info)
}

/// Wireshark's SAP dissector (packet-ipx.c `dissect_ipxsap`, since its rewrite to a
/// `switch` on the operation, still so in 4.0) sets the hidden boolean `ipxsap.response` on
/// queries (operations 1 and 3) and `ipxsap.request` on responses (2 and 4): swapped. Its
/// `ipxsap.packet_type` and Info column ("General Query") agree with us and with Novell's
/// operation codes, so ours is right. When tshark shows exactly that swap, the two flags are
/// taken out of the comparison and the disagreement returned as a note.
fn sap_flags_swapped(
    expected: &mut Vec<(&'static str, String)>,
    row: &HashMap<&'static str, String>,
) -> Option<String> {
    let get =
        |e: &[(&str, String)], f: &str| e.iter().find(|(k, _)| *k == f).map(|(_, v)| v.clone());
    let (req, resp) = (
        get(expected, "ipxsap.request")?,
        get(expected, "ipxsap.response")?,
    );
    if row["ipxsap.request"] != resp || row["ipxsap.response"] != req {
        return None;
    }
    expected.retain(|(k, _)| *k != "ipxsap.request" && *k != "ipxsap.response");
    Some(format!(
        "ipxsap.request `{}` / ipxsap.response `{}` swapped against ours",
        row["ipxsap.request"], row["ipxsap.response"]
    ))
}

/// The non-zero networks of a router list: Wireshark lists only those.
fn nonzero(r: &[Net; 8]) -> String {
    list(r.iter().filter(|n| n.0 != 0).map(|n| n.0))
}

#[test]
fn tshark_agrees_with_our_decode() {
    let ok = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !oracles_required(),
            "SFT3_REQUIRE_ORACLES is set but tshark is not installed"
        );
        eprintln!("tshark not installed: skipping the Wireshark cross-check of kinds.pcap");
        return;
    }
    let frames = read_kinds();
    let rows = tshark_rows();
    assert_eq!(rows.len(), frames.len(), "tshark saw another frame count");
    let set: Vec<Sample> = samples().collect();
    let mut failures = Vec::new();
    let mut known = Vec::new();
    let mut compared = 0;
    for (i, ((_, data), row)) in frames.iter().zip(&rows).enumerate() {
        let s = set.get(i).map_or("?".to_string(), |s| s.to_string());
        assert_eq!(row["frame.number"], (i + 1).to_string());
        let (mut expected, info) = ours(data);
        if let Some(note) = sap_flags_swapped(&mut expected, row) {
            known.push(format!("frame {} ({s}): {note}", i + 1));
        }
        for (field, want) in expected {
            compared += 1;
            let got = &row[field];
            if *got != want {
                failures.push(format!(
                    "frame {} ({s}) {field}: tshark `{got}`, ours `{want}`",
                    i + 1
                ));
            }
        }
        for text in info {
            if !row["_ws.col.Info"].contains(&text) {
                failures.push(format!(
                    "frame {} ({s}) info `{}` lacks `{text}`",
                    i + 1,
                    row["_ws.col.Info"]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "tshark disagrees on {} of {compared} values:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!(
        "tshark agrees on all {compared} values of {} frames; {} known Wireshark bugs:",
        frames.len(),
        known.len()
    );
    for k in &known {
        eprintln!("  {k}");
    }
    // Every SAP frame shows the swap with Wireshark 4.0; a fixed Wireshark shows none.
    assert!(
        known.is_empty() || known.len() == 16,
        "partial SAP flag swap: {known:?}"
    );
}

/// The IPX checksum as Linux computes it (`net/ipx/ipx_route.c`, `ipx_cksum`): Wireshark does
/// not verify IPX checksums, so this independent port is the oracle for the SNAP frames' sums.
fn linux_ipx_cksum(packet: &[u8]) -> u16 {
    let word = |i: usize| u16::from_be_bytes([packet[2 * i], packet[2 * i + 1]]) as u32;
    // Skip the checksum word; mask out the transport control byte.
    let mut sum = word(1) + (word(2) & 0x00ff);
    let words = packet.len() / 2;
    for i in 3..words {
        sum += word(i);
    }
    if packet.len() % 2 == 1 {
        sum += (packet[packet.len() - 1] as u32) << 8;
    }
    sum = (sum & 0xffff) + (sum >> 16);
    if sum >= 0x10000 {
        sum += 1;
    }
    // Leave 0 alone, as Linux does, so that 0xFFFF keeps meaning "no checksum".
    if sum != 0 {
        sum = !sum;
    }
    sum as u16
}

#[test]
fn checksummed_frames_match_linux_ipx_cksum() {
    let mut checked = 0;
    for (i, (_, data)) in read_kinds().iter().enumerate() {
        let Some(p) = dissect(data).ipx else { continue };
        if p.checksum() == 0xffff {
            continue;
        }
        assert_eq!(
            p.checksum(),
            linux_ipx_cksum(p.as_bytes()),
            "frame {} checksum",
            i + 1
        );
        checked += 1;
    }
    // The SNAP frame of every IPX kind but the two state kinds.
    assert_eq!(checked, 21);
}
