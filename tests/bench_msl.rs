//! `sft3 bench msl` and `sft3 bench msl-rtt` end to end with small sizes: the JSON lines'
//! keys, the transfer's checksum, and no namespace left behind. No timing assertions.

use std::process::{Command, Stdio};

use sft3::bench::{json_line, median, parse_size, Json};

/// Runs `sft3 ARGS`; its stdout, after checking it succeeded and left no namespace.
fn sft3(args: &[&str]) -> String {
    let child = Command::new(env!("CARGO_BIN_EXE_sft3"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting sft3");
    let pid = child.id();
    let out = child.wait_with_output().expect("waiting for sft3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    assert!(out.status.success(), "sft3 {args:?} failed: {stderr}");
    let list = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    let list = String::from_utf8_lossy(&list.stdout);
    for end in ["a", "b"] {
        let ns = format!("sft3b-{end}-{pid}");
        assert!(!list.contains(&ns), "{ns} left behind: {list}");
    }
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn assert_keys(line: &str, keys: &[&str]) {
    assert!(
        line.starts_with('{') && line.ends_with('}'),
        "not one JSON object: {line}"
    );
    for k in keys {
        assert!(line.contains(&format!("\"{k}\":")), "no key {k} in {line}");
    }
}

#[test]
fn bench_msl_small_transfer() {
    if !sft3::lab::testing::privileged("bench_msl_small_transfer") {
        return;
    }
    let out = sft3(&[
        "bench",
        "msl",
        "--mtu",
        "1500",
        "--bytes",
        "4MiB",
        "--runs",
        "1",
        "--message-size",
        "100KiB",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one JSON line: {out}");
    let line = lines[0];
    println!("{line}");
    assert_keys(
        line,
        &[
            "mtu",
            "bytes",
            "seconds",
            "gbit_per_s",
            "retransmits",
            "baseline_gbit_per_s",
            "ratio",
            "loss_pct",
            "runs",
            "checksum_ok",
        ],
    );
    assert!(line.contains("\"checksum_ok\":true"), "{line}");
    assert!(line.contains("\"bytes\":4194304"), "{line}");
    assert!(line.contains("\"mtu\":1500"), "{line}");
}

#[test]
fn bench_msl_with_loss_through_a_hop() {
    if !sft3::lab::testing::privileged("bench_msl_with_loss_through_a_hop") {
        return;
    }
    if sft3::lab::cmd::find_tool("nft").is_none() {
        eprintln!("skipping bench_msl_with_loss_through_a_hop: nft (nftables) not installed");
        return;
    }
    let out = sft3(&[
        "bench", "msl", "--mtu", "9000", "--bytes", "4MiB", "--runs", "1", "--loss", "2",
    ]);
    let line = out.trim();
    println!("{line}");
    assert_keys(
        line,
        &[
            "checksum_ok",
            "baseline_lost",
            "lossless_gbit_per_s",
            "vs_lossless",
        ],
    );
    assert!(line.contains("\"checksum_ok\":true"), "{line}");
    assert!(line.contains("\"hop\":true"), "{line}");
    assert!(line.contains("\"loss_pct\":2"), "{line}");
}

#[test]
fn bench_msl_rtt_small() {
    if !sft3::lab::testing::privileged("bench_msl_rtt_small") {
        return;
    }
    let out = sft3(&[
        "bench",
        "msl-rtt",
        "--mtu",
        "9000",
        "--samples",
        "20",
        "--message-size",
        "256KiB",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "one line per (class, load): {out}");
    for (line, (class, load)) in lines.iter().zip([
        ("control", "idle"),
        ("event", "idle"),
        ("control", "bulk"),
        ("event", "bulk"),
    ]) {
        println!("{line}");
        assert_keys(
            line,
            &["class", "load", "samples", "p50_us", "p99_us", "max_us"],
        );
        assert!(line.contains(&format!("\"class\":\"{class}\"")), "{line}");
        assert!(line.contains(&format!("\"load\":\"{load}\"")), "{line}");
        assert!(line.contains("\"samples\":20"), "{line}");
    }
}

#[test]
fn sizes_parse() {
    assert_eq!(parse_size("1GiB"), Ok(1 << 30));
    assert_eq!(parse_size("256MiB"), Ok(256 << 20));
    assert_eq!(parse_size("1500"), Ok(1500));
    assert_eq!(parse_size("2k"), Ok(2000));
    assert_eq!(parse_size("1.5KiB"), Ok(1536));
    assert!(parse_size("").is_err());
    assert!(parse_size("12 parsecs").is_err());
    assert!(parse_size("GiB").is_err());
}

#[test]
fn json_writer_and_median() {
    let line = json_line(&[
        ("a", Json::U(3)),
        ("b", Json::F(1.23456, 2)),
        ("c", Json::B(true)),
        ("d", Json::S("x\"y\\z\n".into())),
        ("e", Json::F(f64::NAN, 1)),
    ]);
    assert_eq!(
        line,
        r#"{"a":3,"b":1.23,"c":true,"d":"x\"y\\z\u000a","e":null}"#
    );
    assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    assert_eq!(median(&[]), 0.0);
}
