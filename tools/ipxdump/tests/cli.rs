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
