//! Helpers for tests/third_party.rs: loading the captures, GMT time text, and parsers for the
//! expected decodes (tcpdump lines, SOURCES.md facts, tshark field rows).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use sft3::capture::{CaptureReader, Timestamp};
use sft3::wire::{Framing, IpxAddr, MacAddr, Net};

/// The directory of the third-party captures.
pub fn third_party() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/third-party")
}

/// One captured frame, owned.
pub struct Frame {
    /// Capture timestamp.
    pub ts: Timestamp,
    /// The bytes captured.
    pub data: Vec<u8>,
}

/// Every frame of a third-party capture, read with the project's reader.
pub fn load(name: &str) -> Vec<Frame> {
    let mut reader = CaptureReader::open(third_party().join(name)).expect(name);
    let mut out = Vec::new();
    while let Some(p) = reader.next_packet() {
        let p = p.unwrap_or_else(|e| panic!("{name}: {e}"));
        out.push(Frame {
            ts: p.ts,
            data: p.data.to_vec(),
        });
    }
    out
}

/// The capture files (not the text beside them), sorted.
pub fn capture_names() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(third_party())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.ends_with(".txt") && !n.ends_with(".md"))
        .collect();
    v.sort();
    v
}

/// `YYYY-MM-DD HH:MM:SS.uuuuuu` in GMT, as `tcpdump -tttt` prints it.
pub fn gmt(ts: Timestamp) -> String {
    // Days to civil date (H. Hinnant's algorithm), valid for any date after 1970.
    let days = (ts.secs / 86_400) as i64;
    let sod = ts.secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s) = (sod / 3600, sod / 60 % 60, sod % 60);
    format!(
        "{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}.{:06}",
        ts.micros()
    )
}

/// One SAP response entry as tcpdump prints it (the socket is not printed).
#[derive(Debug, Clone, PartialEq)]
pub struct SapLine {
    /// Server type.
    pub server_type: u16,
    /// Server name bytes.
    pub name: Vec<u8>,
    /// Server network.
    pub net: Net,
    /// Server node.
    pub node: MacAddr,
}

/// What tcpdump printed after the addresses.
#[derive(Debug, Clone, PartialEq)]
pub enum Summary {
    /// `ipx-netbios N`: IPX payload length N.
    Netbios(usize),
    /// `ipx-nwlink-dgm N`: socket 0x0553 payload length N.
    NwlinkDgm(usize),
    /// `ipx-rip-resp NET/HOPS.TICKS ...`.
    RipResp(Vec<(Net, u16, u16)>),
    /// `ipx-sap-resp TYPE 'NAME' addr NET.NODE ...`.
    SapResp(Vec<SapLine>),
    /// `[length N < 30] (invalid)`.
    Invalid(usize),
}

/// One line of `tcpdump -# -n -tttt` output for an IPX frame.
#[derive(Debug, Clone)]
pub struct TcpdumpLine {
    /// Frame number (1-based).
    pub frame: usize,
    /// `YYYY-MM-DD HH:MM:SS.uuuuuu`.
    pub time: String,
    /// Source address.
    pub src: IpxAddr,
    /// Destination address.
    pub dst: IpxAddr,
    /// The decoded summary.
    pub summary: Summary,
}

/// Parses a tcpdump `.expected.txt` (every line must be an IPX line).
pub fn parse_tcpdump(text: &str) -> Vec<TcpdumpLine> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut w = line.split_whitespace();
            let mut next = || w.next().unwrap_or_else(|| panic!("short line {line:?}"));
            let frame = next().parse().unwrap();
            let time = format!("{} {}", next(), next());
            assert_eq!(next(), "IPX", "{line}");
            let src = next().parse().unwrap();
            assert_eq!(next(), ">", "{line}");
            let dst = next().strip_suffix(':').unwrap().parse().unwrap();
            // Times and addresses hold ':' but never ": ".
            let rest = line.split_once(": ").unwrap().1;
            TcpdumpLine {
                frame,
                time,
                src,
                dst,
                summary: parse_summary(rest),
            }
        })
        .collect()
}

fn parse_summary(s: &str) -> Summary {
    if let Some(n) = s.strip_prefix("ipx-netbios ") {
        Summary::Netbios(n.trim().parse().unwrap())
    } else if let Some(n) = s.strip_prefix("ipx-nwlink-dgm ") {
        Summary::NwlinkDgm(n.trim().parse().unwrap())
    } else if let Some(r) = s.strip_prefix("ipx-rip-resp") {
        Summary::RipResp(
            r.split_whitespace()
                .map(|e| {
                    let (net, ht) = e.split_once('/').unwrap();
                    let (h, t) = ht.split_once('.').unwrap();
                    (net.parse().unwrap(), h.parse().unwrap(), t.parse().unwrap())
                })
                .collect(),
        )
    } else if let Some(mut r) = s.strip_prefix("ipx-sap-resp") {
        let mut entries = Vec::new();
        while !r.trim().is_empty() {
            let (ty, after) = r.trim_start().split_once(" '").unwrap();
            let (name, after) = after.split_once("' addr ").unwrap();
            let (addr, after) = after.split_once(' ').unwrap_or((after, ""));
            let (net, node) = addr.split_once('.').unwrap();
            entries.push(SapLine {
                server_type: u16::from_str_radix(ty, 16).unwrap(),
                name: name.as_bytes().to_vec(),
                net: net.parse().unwrap(),
                node: node.parse().unwrap(),
            });
            r = after;
        }
        Summary::SapResp(entries)
    } else if let Some(r) = s.strip_prefix("[length ") {
        Summary::Invalid(r.split_once(' ').unwrap().0.parse().unwrap())
    } else {
        panic!("unknown tcpdump summary {s:?}")
    }
}

/// The facts SOURCES.md lists for one capture.
#[derive(Debug, Default)]
pub struct Listed {
    /// File name.
    pub name: String,
    /// Frames tshark decodes as IPX.
    pub ipx_frames: usize,
    /// Frames per IPX framing.
    pub framings: HashMap<Framing, usize>,
    /// Frames per IPX packet type.
    pub types: BTreeMap<u8, usize>,
    /// Every source and destination socket.
    pub sockets: BTreeSet<u16>,
}

fn hex(s: &str) -> u32 {
    u32::from_str_radix(s.trim().trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("{s:?}"))
}

fn framing_label(label: &str) -> Framing {
    match label {
        "Ethernet II (0x8137)" => Framing::EthernetII,
        "Novell raw 802.3 (0xFFFF)" => Framing::Raw8023,
        "802.3 + 802.2 LLC (E0/E0)" => Framing::Llc,
        _ if label.contains("SNAP") => Framing::Snap,
        _ => panic!("unknown frame type label {label:?} in SOURCES.md"),
    }
}

/// Parses SOURCES.md: one [`Listed`] per `## file` section.
pub fn parse_sources() -> Vec<Listed> {
    let text = std::fs::read_to_string(third_party().join("SOURCES.md")).unwrap();
    let mut out: Vec<Listed> = Vec::new();
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("## ") {
            out.push(Listed {
                name: n.trim().to_string(),
                ..Listed::default()
            });
            continue;
        }
        let Some(cur) = out.last_mut() else { continue };
        if let Some(r) = line.split("IPX frames (tshark): ").nth(1) {
            cur.ipx_frames = r.split(';').next().unwrap().trim().parse().unwrap();
        } else if let Some(r) = line.strip_prefix("- Frame types: ") {
            for part in r.split(", ") {
                let (label, n) = part.rsplit_once(": ").unwrap();
                cur.framings
                    .insert(framing_label(label), n.parse().unwrap());
            }
        } else if let Some(r) = line.strip_prefix("- IPX packet types: ") {
            let (types, sockets) = r.split_once("; sockets seen: ").unwrap();
            for t in types.split(", ") {
                let (ty, n) = t.split_once(':').unwrap();
                cur.types.insert(hex(ty) as u8, n.trim().parse().unwrap());
            }
            cur.sockets = sockets.split(", ").map(|s| hex(s) as u16).collect();
        }
    }
    out
}

/// The IPX fields tshark shows for one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct TsharkIpx {
    /// Source address.
    pub src: IpxAddr,
    /// Destination address.
    pub dst: IpxAddr,
    /// Packet type.
    pub packet_type: u8,
    /// Length field.
    pub len: u16,
    /// Transport control.
    pub hops: u8,
    /// Checksum field.
    pub checksum: u16,
}

/// Whether the oracle must be present (CI sets `SFT3_REQUIRE_ORACLES=1`).
fn oracles_required() -> bool {
    std::env::var("SFT3_REQUIRE_ORACLES").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Whether tshark runs here; panics when it does not but is required.
pub fn tshark_available() -> bool {
    let ok = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !oracles_required(),
            "SFT3_REQUIRE_ORACLES is set but tshark is not installed"
        );
        eprintln!("tshark not installed: skipping the tshark cross-check");
    }
    ok
}

/// tshark's IPX fields for every frame of `name` (`None` for frames it does not see as IPX).
pub fn tshark_ipx(name: &str) -> Vec<Option<TsharkIpx>> {
    const FIELDS: [&str; 11] = [
        "frame.number",
        "ipx.src.net",
        "ipx.src.node",
        "ipx.src.socket",
        "ipx.dst.net",
        "ipx.dst.node",
        "ipx.dst.socket",
        "ipx.packet_type",
        "ipx.len",
        "ipx.hops",
        "ipx.checksum",
    ];
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(third_party().join(name));
    cmd.args(["-n", "-T", "fields", "-E", "separator=/t"]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    assert!(out.status.success(), "tshark failed on {name}");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), FIELDS.len(), "{name}: {line:?}");
        assert_eq!(f[0].parse::<usize>().unwrap(), i + 1, "{name}: frame order");
        // A comma would mean two IPX layers in one frame: none of these captures has one.
        assert!(!line.contains(','), "{name}: nested IPX in {line:?}");
        if f[1].is_empty() {
            rows.push(None);
            continue;
        }
        let addr = |net: &str, node: &str, sock: &str| {
            IpxAddr::new(
                Net(hex(net)),
                node.parse().unwrap(),
                sft3::wire::Socket(hex(sock) as u16),
            )
        };
        rows.push(Some(TsharkIpx {
            src: addr(f[1], f[2], f[3]),
            dst: addr(f[4], f[5], f[6]),
            packet_type: hex(f[7]) as u8,
            len: f[8].parse().unwrap(),
            hops: f[9].parse().unwrap(),
            checksum: hex(f[10]) as u16,
        }));
    }
    rows
}
