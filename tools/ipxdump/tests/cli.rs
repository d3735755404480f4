//! ipxdump as a user runs it: real captures in, lines / JSON / stats out, clear errors.

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn capture(name: &str) -> String {
    root()
        .join("captures/third-party")
        .join(name)
        .display()
        .to_string()
}

const IPX: &str = "the-tcpdump-group_tcpdump__ipx.pcap";

fn ipxdump(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ipxdump"))
        .args(args)
        .output()
        .expect("run ipxdump")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "ipxdump failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).expect("utf-8 output")
}

#[test]
fn one_line_per_frame_with_tcpdump_facts() {
    let out = stdout(&ipxdump(&["-r", &capture(IPX)]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 64);
    assert_eq!(
        lines[4],
        "10:06:37.582596 llc 00000000.0003471bc1a8.0453 > 00000000.ffffffffffff.0453 rip: response a8f87967/1.2"
    );
    assert!(lines[5].contains("sap: general response 030c '0030C1BF575580D0NPIBF5755'"));
    assert!(lines[0].contains("a8f87967.000000000001.0455 > 00000000.ffffffffffff.0455 netbios:"));
    assert!(lines[0].ends_with("len 50"));
    assert!(lines[35].contains(".0553 netbios: nmpi"), "{}", lines[35]);
}

#[test]
fn verbose_link_and_timestamps() {
    let out = stdout(&ipxdump(&[
        "-r",
        &capture(IPX),
        "-c",
        "6",
        "-e",
        "-v",
        "-tttt",
    ]));
    assert!(out.starts_with("2008-06-26 10:06:29.360507 llc 00:03:47:1b:c1:a8 > ff:ff:ff:ff:ff:ff, 802.3 LLC e0/e0 ctrl 0x03, length"));
    assert!(out.contains("(len 40, hops 0, type 0x01, checksum none)"));
    // -v lists each SAP entry with its address.
    assert!(
        out.contains("\n    030c '0030C1BF575580D0NPIBF5755' at 00000000.0030c1bf5755.400c hops 1")
    );
    let none = stdout(&ipxdump(&["-r", &capture(IPX), "-c", "1", "-t"]));
    assert!(none.starts_with("llc "));
}

#[test]
fn json_lines_carry_the_documented_fields() {
    let out = stdout(&ipxdump(&["-r", &capture(IPX), "--json"]));
    let mut n = 0;
    for line in out.lines() {
        n += 1;
        let v: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
        assert_eq!(v["n"], n);
        for key in ["ts", "len", "framing", "ipx", "proto", "detail", "error"] {
            assert!(v.get(key).is_some(), "missing {key} in {line}");
        }
        assert_eq!(v["framing"], "llc");
        let ipx = &v["ipx"];
        for key in ["checksum", "length", "hops", "type", "dst", "src"] {
            assert!(ipx.get(key).is_some(), "missing ipx.{key}");
        }
    }
    assert_eq!(n, 64);
    let first: serde_json::Value = serde_json::from_str(out.lines().nth(4).unwrap()).unwrap();
    assert_eq!(first["proto"], "rip");
    assert_eq!(
        first["ipx"]["src"],
        serde_json::json!({"net": "00000000", "node": "0003471bc1a8", "socket": 1107})
    );
    assert_eq!(first["detail"]["entries"][0]["net"], "a8f87967");
    assert_eq!(first["detail"]["entries"][0]["ticks"], 2);
    assert_eq!(first["ts"].as_f64().unwrap(), 1214474797.582596);
}

#[test]
fn filters_select_frames() {
    let count = |f: &[&str]| {
        let mut args = vec!["-r".to_string(), capture(IPX)];
        args.extend(f.iter().map(|s| s.to_string()));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        stdout(&ipxdump(&a)).lines().count()
    };
    assert_eq!(count(&["sap"]), 27);
    assert_eq!(count(&["rip", "or", "sap"]), 37);
    assert_eq!(count(&["sap and src socket 4008"]), 18);
    assert_eq!(count(&["not", "llc"]), 0);
    assert_eq!(count(&["type 0x14 and dst socket 455"]), 21);
    assert_eq!(count(&["src net a8f87967"]), 8);
    assert_eq!(count(&["-c", "5", "netbios"]), 5);
    let bad = ipxdump(&["-r", &capture(IPX), "sap and frobnicate"]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("frobnicate"), "{err}");
}

#[test]
fn write_then_read_keeps_the_filtered_frames() {
    let dir = std::env::temp_dir().join(format!("ipxdump-w-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("sap.pcap");
    let w = ipxdump(&["-r", &capture(IPX), "-w", out.to_str().unwrap(), "sap"]);
    assert!(w.status.success());
    assert!(w.stdout.is_empty(), "-w prints nothing without --print");
    let direct = stdout(&ipxdump(&["-r", &capture(IPX), "sap"]));
    let reread = stdout(&ipxdump(&["-r", out.to_str().unwrap()]));
    assert_eq!(direct, reread);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn stats_count_by_framing_protocol_socket() {
    let out = stdout(&ipxdump(&["-r", &capture(IPX), "--stats", "--json"]));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["frames"], 64);
    assert_eq!(v["framing"]["llc"], 64);
    assert_eq!(v["proto"]["sap"], 27);
    assert_eq!(v["proto"]["rip"], 10);
    assert_eq!(v["dst_socket"]["0452"], 27);
    assert_eq!(v["errors"], 0);
    let text = stdout(&ipxdump(&["-r", &capture(IPX), "--stats"]));
    assert!(text.starts_with("frames 64 "));
}

#[test]
fn malformed_frames_are_reported_and_decoding_goes_on() {
    let out = stdout(&ipxdump(&[
        "-r",
        &capture("the-tcpdump-group_tcpdump__ipx-invalid-length.pcap"),
    ]));
    assert!(out.contains("0a8808aa.000000000001.0451 > 8dc23c00.18003e2b6856.402b"));
    assert!(out.contains("[malformed: bad IPX length 29: below the 30-byte header]"));
    let js = stdout(&ipxdump(&[
        "-r",
        &capture("the-tcpdump-group_tcpdump__ipx-invalid-length.pcap"),
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_str(js.trim()).unwrap();
    assert!(v["error"].as_str().unwrap().contains("29"));
    assert!(v["ipx"].is_null());
    // Non-IPX LLC frames are summarised, never an abort.
    let llc = stdout(&ipxdump(&[
        "-r",
        &capture("the-tcpdump-group_libpcap__llc.pcap"),
    ]));
    assert_eq!(llc.lines().count(), 10);
    assert!(llc.lines().next().unwrap().contains("other"));
}

#[test]
fn errors_are_one_clear_line() {
    for (args, needle) in [
        (
            vec!["-r", "/nonexistent/x.pcap"],
            "cannot open /nonexistent/x.pcap",
        ),
        (vec!["-r", "Cargo.toml"], "not a pcap or pcapng file"),
        (
            vec!["-i", "nosuchif0"],
            "no network interface named `nosuchif0`",
        ),
        (vec![], "-r FILE or -i IFACE"),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_ipxdump"))
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(!o.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("ipxdump: "), "{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// A classic pcap (microseconds, Ethernet) holding `frames` stamped `secs`.
fn pcap(frames: &[(u32, &[u8])]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&65535u32.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    for (secs, f) in frames {
        v.extend_from_slice(&secs.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&(f.len() as u32).to_le_bytes());
        v.extend_from_slice(&(f.len() as u32).to_le_bytes());
        v.extend_from_slice(f);
    }
    v
}

/// A pcapng (microsecond stamps, Ethernet) holding `frames` stamped `micros`.
fn pcapng(frames: &[(u64, &[u8])]) -> Vec<u8> {
    let mut v = Vec::new();
    let mut block = |ty: u32, body: &[u8]| {
        let len = 12 + body.len().next_multiple_of(4);
        v.extend_from_slice(&ty.to_le_bytes());
        v.extend_from_slice(&(len as u32).to_le_bytes());
        v.extend_from_slice(body);
        v.resize(v.len() + body.len().next_multiple_of(4) - body.len(), 0);
        v.extend_from_slice(&(len as u32).to_le_bytes());
    };
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(0x0a0d_0d0a, &shb);
    let mut idb = 1u16.to_le_bytes().to_vec();
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&65535u32.to_le_bytes());
    block(1, &idb);
    for (micros, f) in frames {
        let mut epb = 0u32.to_le_bytes().to_vec();
        epb.extend_from_slice(&((micros >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(*micros as u32).to_le_bytes());
        epb.extend_from_slice(&(f.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(f.len() as u32).to_le_bytes());
        epb.extend_from_slice(f);
        block(6, &epb);
    }
    v
}

fn temp(name: &str, bytes: &[u8]) -> PathBuf {
    let p = std::env::temp_dir().join(format!("ipxdump-{}-{name}", std::process::id()));
    std::fs::write(&p, bytes).unwrap();
    p
}

/// An MSL close frame whose text is `text`, with a correct CRC.
fn msl_close(text: &[u8]) -> Vec<u8> {
    use sft3::wire::ethernet::{Encap, EthernetRepr};
    use sft3::wire::msl::{emit_close, emit_msl_frame, CloseReason, FrameType, MslRepr, Priority};
    let mut payload = vec![0u8; 2 + text.len()];
    emit_close(&mut payload, CloseReason::SHUTDOWN, text).unwrap();
    let repr = MslRepr {
        frame_type: FrameType::Close,
        priority: Priority::Control,
        flags: 0,
        window: 0,
        sender_incarnation: 1,
        receiver_incarnation: 2,
        seq: 0,
        ack: 0,
        message_id: 0,
        fragment_offset: 0,
        message_len: 0,
        payload_len: payload.len(),
    };
    let eth = EthernetRepr {
        dst: "02:53:0b:00:01:00".parse().unwrap(),
        src: "02:53:0a:00:01:00".parse().unwrap(),
        vlan: None,
        encap: Encap::EthernetII {
            ethertype: sft3::wire::msl::ETHERTYPE_MSL,
        },
    };
    let mut buf = vec![0u8; 256];
    let n = emit_msl_frame(&mut buf, &eth, &repr, &payload, None).unwrap();
    buf.truncate(n);
    buf
}

#[test]
fn wire_text_cannot_reach_the_terminal_raw() {
    let frame = msl_close(b"bye\n\x1b[2J\\\xff");
    let file = temp("close.pcap", &pcap(&[(1, &frame)]));
    let out = stdout(&ipxdump(&["-r", file.to_str().unwrap()]));
    std::fs::remove_file(&file).ok();
    assert_eq!(out.lines().count(), 1, "{out:?}");
    assert!(!out.contains('\x1b'), "{out:?}");
    assert!(out.contains(r"'bye\x0a\x1b[2J\x5c\xff'"), "{out}");
    assert!(out.contains("[crc ok]"), "{out}");
}

#[test]
fn count_zero_is_refused_as_tcpdump_does() {
    let o = ipxdump(&["-r", &capture(IPX), "-c", "0"]);
    assert!(!o.status.success());
    assert!(o.stdout.is_empty());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("invalid packet count 0"), "{err}");
}

#[test]
fn write_dash_is_standard_output_and_print_needs_write() {
    let o = ipxdump(&["-r", &capture(IPX), "-w", "-", "sap"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.stdout[..4], [0xd4, 0xc3, 0xb2, 0xa1], "pcap magic");
    let file = temp("stdout.pcap", &o.stdout);
    let reread = stdout(&ipxdump(&["-r", file.to_str().unwrap()]));
    std::fs::remove_file(&file).ok();
    assert_eq!(reread, stdout(&ipxdump(&["-r", &capture(IPX), "sap"])));
    for args in [
        vec!["-r", IPX, "--print"],
        vec!["-r", IPX, "-w", "-", "--print"],
    ] {
        let o = ipxdump(&args);
        assert!(!o.status.success(), "{args:?}");
    }
}

#[test]
fn write_leaves_out_frames_pcap_cannot_stamp_and_goes_on() {
    let frame = msl_close(b"x");
    // 2200-01-01 is past classic pcap's 2106 limit; 1970 + 1 s is not.
    let late = 7_258_118_400u64 * 1_000_000;
    let input = temp(
        "late.pcapng",
        &pcapng(&[(late, &frame), (1_000_000, &frame)]),
    );
    let out = std::env::temp_dir().join(format!("ipxdump-{}-late-out.pcap", std::process::id()));
    let o = ipxdump(&["-r", input.to_str().unwrap(), "-w", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("2106"), "{err}");
    let reread = stdout(&ipxdump(&["-r", out.to_str().unwrap(), "-tt"]));
    std::fs::remove_file(&input).ok();
    std::fs::remove_file(&out).ok();
    assert_eq!(reread.lines().count(), 1, "{reread}");
    assert!(reread.starts_with("1.000000 "), "{reread}");
}

#[test]
fn delta_timestamps_match_tcpdump() {
    let out = stdout(&ipxdump(&["-r", &capture(IPX), "-ttt", "-c", "3"]));
    let ts: Vec<&str> = out.lines().map(|l| &l[..17]).collect();
    assert_eq!(
        ts,
        [
            " 00:00:00.000000 ",
            " 00:00:00.841238 ",
            " 00:00:00.841245 "
        ]
    );
}
