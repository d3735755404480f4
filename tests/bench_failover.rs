//! `sft3 bench failover --trials 2` end to end (root: namespaces, raw sockets, daemons):
//! one JSON line with the documented keys. No timing assertion: the figures belong to
//! docs/benchmarks.md, not to a test on a shared machine.

use std::process::Command;

use sft3::lab::testing::privileged;

#[test]
fn failover_bench_prints_its_json_line() {
    if !privileged("failover_bench_prints_its_json_line") {
        return;
    }
    let prefix = sft3::lab::testing::unique_prefix('f');
    let out = Command::new(env!("CARGO_BIN_EXE_sft3"))
        .args(["bench", "failover", "--trials", "2", "--prefix", &prefix])
        .output()
        .expect("running sft3 bench failover");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stdout.lines().last().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("not one JSON line ({e}):\n{stdout}\n{stderr}"));
    assert_eq!(v["bench"], "failover", "{line}");
    assert_eq!(v["trials"], 2, "{line}");
    for k in [
        "p50_ms",
        "p99_ms",
        "max_ms",
        "wire_p50_ms",
        "restore_failures",
    ] {
        assert!(v.get(k).is_some(), "{k} missing: {line}\n{stderr}");
    }
    if sft3::lab::cmd::find_tool("keepalived").is_some() {
        for k in [
            "keepalived_p50_ms",
            "keepalived_p99_ms",
            "keepalived_max_ms",
        ] {
            assert!(v.get(k).is_some(), "{k} missing: {line}\n{stderr}");
        }
    } else {
        assert_eq!(v["keepalived"], "not installed", "{line}");
    }
    // Everything is torn down: no namespace of the benchmark's prefix, no directory.
    let ns = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    assert!(
        !String::from_utf8_lossy(&ns.stdout).contains(&prefix),
        "lab {prefix} left behind"
    );
    let cfg = sft3::lab::LabConfig {
        prefix: prefix.clone(),
        ..Default::default()
    };
    assert!(!sft3::lab::daemon::lab_dir(&cfg).exists(), "directory left");
}
