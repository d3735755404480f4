//! Resync with real processes (`sft3 run` in the lab's namespaces, a `[volume]` each):
//! writes through `sft3 ctl write` while the secondary is away, then the secondary returns
//! and is resynced; `kill -9` of the target, then of the source, in the middle of a resync
//! (paced by `resync_rate` so there is a middle), then an MSL cut in the middle (the
//! target shuts down, scenario 3, and is restarted), and each time the resync resumes from
//! where it was (fewer regions than at the start) and both volumes end with the same
//! sha256. Needs root: skipped otherwise (`SFT3_REQUIRE_PRIVILEGED=1` makes a skip a
//! failure).

mod common;
mod lab_scenarios_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::pattern;
use lab_scenarios_common::{serial, Bed, SFT3};
use sft3::lab::daemon::DaemonOptions;
use sft3::lab::testing::privileged;
use sft3::lab::{FaultAction, Node};

/// 64 MiB volumes; resync paced at 32 MiB/s so a resync of 24 MiB lasts ~0.75 s.
const VOLUME: &str = "[volume]\npath = \"volume.img\"\nsize = \"64MiB\"\nresync_rate = \"32MiB\"\n";

fn image(bed: &Bed, n: Node) -> PathBuf {
    bed.servers.node_dir(n).join("volume.img")
}

fn sha256(p: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(p)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

/// `sft3 ctl write` of `len` pseudo-random bytes at `offset` into `node`'s daemon.
fn ctl_write(bed: &Bed, node: Node, offset: u64, len: usize, seed: u64) {
    let file = bed.servers.dir().join(format!("data-{seed}.bin"));
    std::fs::write(&file, pattern(seed, len)).unwrap();
    let sock = bed.servers.socket_path(node);
    let out = Command::new(SFT3)
        .args(["ctl", "write", "--offset", &offset.to_string(), "--socket"])
        .arg(&sock)
        .arg(&file)
        .output()
        .expect("sft3 ctl write");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("not mirrored (journaled)"), "{said}");
}

fn resync_of(bed: &Bed, node: Node) -> Option<serde_json::Value> {
    let v = bed.servers.status(node).ok()?;
    let r = &v["volume"]["resync"];
    (!r.is_null()).then(|| r.clone())
}

/// Waits until `node` reports a resync session other than `not` at least `fraction`
/// done; its planned regions and its session.
fn wait_resync_part(bed: &Bed, node: Node, fraction: f64, not: u64) -> (u64, u64) {
    let t0 = std::time::Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        if let Some(r) = resync_of(bed, node) {
            let (done, total) = (r["done"].as_u64().unwrap(), r["total"].as_u64().unwrap());
            let session = r["session"].as_u64().unwrap();
            if session != not && total > 0 && done as f64 >= fraction * total as f64 {
                return (total, session);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("{}", bed.dump("no resync in progress"));
}

/// The source's regions planned in the newest session, from B's admin log.
fn last_planned(bed: &Bed, node: Node) -> u64 {
    let log = bed.servers.admin_log(node);
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("resync begun"))
        .expect("a resync begun line");
    // "... as the source, N of M regions, session ..."
    let n = line.split("as the source, ").nth(1).unwrap_or("");
    n.split_whitespace()
        .next()
        .unwrap_or("0")
        .parse()
        .unwrap_or(0)
}

/// A away; B writes 24 MiB alone at `offset`.
fn away_and_write(bed: &Bed, offset: u64, seed: u64) {
    let s = &bed.servers;
    s.stop_one(Node::A);
    assert!(s
        .wait_state(Node::B, "unmirrored-primary", Duration::from_secs(3))
        .is_some());
    ctl_write(bed, Node::B, offset, 24 << 20, seed);
}

/// B's next resync session (after `session`, which planned `planned` regions) starts
/// with fewer regions: it resumed, not restarted from zero.
fn assert_resumed(bed: &Bed, planned: u64, session: u64, what: &str) {
    let _ = wait_resync_part(bed, Node::B, 0.0, session);
    let again = last_planned(bed, Node::B);
    assert!(
        again < planned,
        "restarted from zero: {again} of {planned}\n{}",
        bed.dump("")
    );
    eprintln!("{what}: the resync resumed with {again} of {planned} regions");
}

fn wait_equal(bed: &Bed) {
    let mirrored = bed.servers.wait_mirrored(Duration::from_secs(20));
    assert!(mirrored.is_some(), "{}", bed.dump("not mirrored again"));
    let (a, b) = (sha256(&image(bed, Node::A)), sha256(&image(bed, Node::B)));
    assert_eq!(a, b, "{}", bed.dump("volumes differ"));
    eprintln!("sha256 of both volumes: {a}");
}

#[test]
fn resync_resumes_after_kill_9_of_either_side() {
    if !privileged("resync_resumes_after_kill_9_of_either_side") {
        return;
    }
    let _serial = serial();
    let opts = DaemonOptions {
        extra_toml: VOLUME.into(),
        ..DaemonOptions::default()
    };
    // B primary, A secondary, both volumes equal (a full resync of zeros at first).
    let bed = Bed::start_with('r', "resync-kill", Node::B, opts);
    let s = &bed.servers;
    wait_equal(&bed);

    // A away: B writes 24 MiB alone.
    away_and_write(&bed, 8 << 20, 1);
    let journaled = s.wait_status(Node::B, Duration::from_secs(2), |v| {
        v["volume"]["dirty_regions"].as_u64() >= Some(384)
    });
    assert!(journaled.is_some(), "{}", bed.dump("writes not journaled"));

    // A back; kill -9 the target a third of the way in; back again: it resumes.
    s.start_one(Node::A).unwrap();
    let (planned, session) = wait_resync_part(&bed, Node::B, 0.3, 0);
    assert!(planned >= 384, "{planned}");
    s.kill(Node::A, libc::SIGKILL).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    s.start_one(Node::A).unwrap();
    assert_resumed(&bed, planned, session, "target killed");
    wait_equal(&bed);

    // A away again; B writes; A back; kill -9 the source (the primary) mid-resync. A, an
    // inconsistent target, must not serve (scenario 8); B back finishes the job.
    away_and_write(&bed, 0, 2);
    s.start_one(Node::A).unwrap();
    // Half way: the source's progress is flushed every 100 ms.
    let (planned, session) = wait_resync_part(&bed, Node::B, 0.5, 0);
    s.kill(Node::B, libc::SIGKILL).unwrap();
    let halted = s.wait_status(Node::A, Duration::from_secs(3), |v| {
        v["state"] == "halted" && v["serving"] == false
    });
    assert!(
        halted.is_some(),
        "{}",
        bed.dump("the inconsistent target did not halt")
    );
    s.start_one(Node::B).unwrap();
    assert_resumed(&bed, planned, session, "source killed");
    wait_equal(&bed);

    // The MSL cut mid-resync: the target, its LAN still up, shuts down (scenario 3); the
    // link back and the target restarted, the resync resumes.
    away_and_write(&bed, 16 << 20, 3);
    s.start_one(Node::A).unwrap();
    let (planned, session) = wait_resync_part(&bed, Node::B, 0.5, 0);
    let before = s.exits(Node::A).len();
    bed.lab.fault(&FaultAction::MslCut).expect("cut the MSL");
    let gone = s.wait_exits(Node::A, before + 1, Duration::from_secs(3));
    assert!(
        gone.is_some(),
        "{}",
        bed.dump("the target still runs with the MSL cut")
    );
    // Exit 4: the role machine shut it down (scenario 3), not a crash.
    assert_eq!(s.exits(Node::A).last().map(String::as_str), Some("exit 4"));
    bed.lab
        .fault(&FaultAction::MslRestore)
        .expect("restore the MSL");
    s.start_one(Node::A).unwrap();
    assert_resumed(&bed, planned, session, "MSL cut");
    wait_equal(&bed);
}
