//! DESIGN section 2's scenarios 1–4 with real processes: `sft3 run` in the lab's server
//! namespaces (`sft3::lab::daemon`, what `sft3 lab start` runs), two LAN adapters each on
//! the one bridge, a station in client 1, faults from `sft3::lab` (kill -9, MSL cut, LAN
//! cut). Each test asserts roles through `sft3 lab exec NODE -- sft3 status --json` and the
//! admin log lines, and records the frames on both servers' adapters (tcpdump).
//!
//! ```text
//!  server A (id 1): a-lan0 a-lan1 ─┐                ┌─ b-lan0 b-lan1 : server B (id 2)
//!                 a-msl ═══════════╪═══ MSL ════════╪═ b-msl
//!                                  └──── bridge ────┘── c1-lan0: station (RIP every 100 ms)
//! ```
//!
//! Both start together: the tie-break makes B (higher id) the primary. Timings seen on the
//! 2-core machine shared with other jobs: start to mirrored with full scores ~0.3–1 s;
//! kill -9 of the primary to the secondary's takeover 19–20 ms; of the secondary to the
//! primary's "secondary server is down" ~25 ms; MSL cut to the secondary's exit 25–47 ms;
//! LAN cut (the adapter keeps its carrier, so it still counts as working, at a lower score)
//! to the switch-over 3.0–3.1 s (the comparator's hysteresis on scores), then ~150 ms to
//! the restarted B being the mirrored secondary; carrier loss to the switch-over 120–140 ms.
//! Each test takes 1.5–5 s of wall time, the file 11–14 s (one test at a time). Under heavy
//! load (load average 15) the pair can flap before the fault, and a restarted server can
//! hit the defect `quick_restart_of_a_killed_primary_rejoins_as_secondary` shows.
//!
//! With `SFT3_RECORD=DIR` each test copies the recording of the server whose decision it
//! checks (its LAN and MSL adapters) and that server's decisions (admin log lines,
//! timestamps stripped) to `DIR/SCENARIO/`: that is how `captures/lab/` was made
//! (`SFT3_RECORD=captures/lab cargo test --test lab_scenarios -- --test-threads=1`), and
//! `tests/role_replay.rs` replays them.
//!
//! Needs root: skipped otherwise (`SFT3_REQUIRE_PRIVILEGED=1` makes a skip a failure).

mod lab_scenarios_common;

use std::time::{Duration, Instant};

use lab_scenarios_common::{serial, Bed};
use sft3::lab::testing::privileged;
use sft3::lab::Node;
use sft3::role::text;

#[test]
fn scenario1_primary_killed_secondary_serves() {
    if !privileged("scenario1_primary_killed_secondary_serves") {
        return;
    }
    let _serial = serial();
    let bed = Bed::start('k', "scenario1-primary-killed", Node::A, None);
    let s = &bed.servers;
    let t0 = Instant::now();
    s.kill(Node::B, libc::SIGKILL).expect("kill -9 the primary");
    let took = s.wait_status(Node::A, Duration::from_secs(3), |v| v["role"] == "primary");
    assert!(took.is_some(), "{}", bed.dump("A did not take over"));
    eprintln!(
        "scenario 1: A primary {:.1} ms after kill -9 of B",
        t0.elapsed().as_secs_f64() * 1e3
    );
    let line = s.wait_log(Node::A, text::PRIMARY_DOWN, Duration::from_secs(1));
    assert!(line.is_some(), "{}", bed.dump("no log line"));
    let v = bed.exec_status(Node::A).expect("A answers");
    assert_eq!(v["role"], "primary", "{v}");
    assert_eq!(v["state"], "unmirrored-primary", "{v}");
    assert_eq!(v["mirrored"], false, "{v}");
    assert_eq!(v["serving"], true, "{v}");
    // B is gone: no daemon answers there (exit 3), and its supervisor did not restart it.
    let gone = s.wait_exits(Node::B, 1, Duration::from_secs(3));
    assert_eq!(gone.as_deref(), Some("signal 9"));
    let (code, err) = bed.exec_status_code(Node::B);
    assert_eq!(code, 3, "{err}");
    assert_eq!(s.exits(Node::B), vec!["signal 9".to_string()]);
}

#[test]
fn scenario2_secondary_killed_primary_tracks() {
    if !privileged("scenario2_secondary_killed_primary_tracks") {
        return;
    }
    let _serial = serial();
    let bed = Bed::start('s', "scenario2-secondary-killed", Node::B, None);
    let s = &bed.servers;
    s.kill(Node::A, libc::SIGKILL)
        .expect("kill -9 the secondary");
    let took = s.wait_status(Node::B, Duration::from_secs(3), |v| {
        v["state"] == "unmirrored-primary"
    });
    assert!(took.is_some(), "{}", bed.dump("B not unmirrored"));
    eprintln!(
        "scenario 2: B unmirrored {:.1} ms after kill -9 of A (status polled)",
        took.map_or(0.0, |t| t.1.as_secs_f64() * 1e3)
    );
    let line = s.wait_log(Node::B, text::SECONDARY_DOWN, Duration::from_secs(1));
    assert!(line.is_some(), "{}", bed.dump("no log line"));
    let v = bed.exec_status(Node::B).expect("B answers");
    assert_eq!(v["role"], "primary", "{v}");
    assert_eq!(v["serving"], true, "{v}");
    assert_eq!(v["tracking"], true, "{v}");
    assert_eq!(v["mirrored"], false, "{v}");
}

#[test]
fn scenario3_msl_cut_secondary_shuts_down() {
    if !privileged("scenario3_msl_cut_secondary_shuts_down") {
        return;
    }
    let _serial = serial();
    let bed = Bed::start('m', "scenario3-msl-cut", Node::A, None);
    let s = &bed.servers;
    bed.lab
        .fault(&sft3::lab::FaultAction::MslCut)
        .expect("cut the MSL");
    let t0 = Instant::now();
    let gone = s.wait_exits(Node::A, 1, Duration::from_secs(3));
    assert!(gone.is_some(), "{}", bed.dump("A still running"));
    eprintln!(
        "scenario 3: A's daemon gone {:.1} ms after the MSL cut",
        t0.elapsed().as_secs_f64() * 1e3
    );
    let line = s.wait_log(Node::A, text::MSL_FAILED_SECONDARY, Duration::from_secs(1));
    assert!(line.is_some(), "{}", bed.dump("no shutdown line"));
    // Exit 4: shut down by the role machine; the supervisor does not restart it.
    assert_eq!(s.exits(Node::A), vec!["exit 4".to_string()]);
    let (code, err) = bed.exec_status_code(Node::A);
    assert_eq!(code, 3, "{err}");
    let b = s.wait_status(Node::B, Duration::from_secs(2), |v| {
        v["state"] == "unmirrored-primary"
    });
    assert!(b.is_some(), "{}", bed.dump("B not unmirrored"));
    let v = bed.exec_status(Node::B).expect("B answers");
    assert_eq!(v["role"], "primary", "{v}");
    assert_eq!(v["serving"], true, "{v}");
    let lb = s.admin_log(Node::B);
    assert!(
        lb.contains(text::MSL_FAILED_PRIMARY) || lb.contains(text::SECONDARY_DOWN),
        "{lb}"
    );
}

#[test]
fn scenario4_lan_cut_switches_over_and_rejoins() {
    if !privileged("scenario4_lan_cut_switches_over_and_rejoins") {
        return;
    }
    let _serial = serial();
    let bed = Bed::start('w', "scenario4-lan-cut", Node::B, None);
    let s = &bed.servers;
    let t0 = Instant::now();
    bed.lab
        .fault(&sft3::lab::FaultAction::LanCut {
            node: Node::B,
            adapter: 0,
        })
        .expect("cut B's lan0");
    let said = s.wait_log(Node::B, text::SWITCHED_OVER, Duration::from_secs(8));
    assert!(said.is_some(), "{}", bed.dump("no switch-over"));
    eprintln!(
        "scenario 4: switched over {:.1} ms after B's lan0 was cut",
        t0.elapsed().as_secs_f64() * 1e3
    );
    let lb = s.admin_log(Node::B);
    assert!(lb.contains(text::SWITCHING_OVER), "{lb}");
    assert!(
        s.wait_log(Node::A, text::TAKING_OVER, Duration::from_secs(1))
            .is_some(),
        "{}",
        bed.dump("A did not take over")
    );
    // The supervisor restarts B (exit 5) and it rejoins as the mirrored secondary.
    let rejoined = s.wait_status(Node::B, Duration::from_secs(5), |v| {
        v["state"] == "mirrored-secondary"
    });
    assert!(rejoined.is_some(), "{}", bed.dump("B did not rejoin"));
    eprintln!(
        "scenario 4: B mirrored secondary again {:.1} ms after the cut",
        t0.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(s.exits(Node::B), vec!["exit 5".to_string()]);
    let vb = bed.exec_status(Node::B).expect("B answers");
    assert_eq!(vb["role"], "secondary", "{vb}");
    let va = bed.exec_status(Node::A).expect("A answers");
    assert_eq!(va["role"], "primary", "{va}");
    assert_eq!(va["state"], "mirrored-primary", "{va}");
    assert!(
        s.admin_log(Node::B).contains(text::FOUND_PRIMARY),
        "{}",
        s.admin_log(Node::B)
    );
}

/// Runs `sft3 lab --prefix P ARGS...`; returns (exit code, stdout, stderr).
fn lab_cli(prefix: &str, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(lab_scenarios_common::SFT3)
        .args([
            "lab",
            "--prefix",
            prefix,
            "--lan-adapters",
            "2",
            "--clients",
            "1",
        ])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running sft3 lab");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Polls `sft3 lab exec NODE -- sft3 status --json` until `pred` holds.
fn cli_wait(prefix: &str, ns: &str, pred: impl Fn(&serde_json::Value) -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(5) {
        let (code, out, _) = lab_cli(
            prefix,
            &[
                "exec",
                ns,
                "--",
                lab_scenarios_common::SFT3,
                "status",
                "--json",
            ],
        );
        if code == 0 && serde_json::from_str(&out).is_ok_and(|v| pred(&v)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Removes the lab (daemons first) even when the test fails.
struct Down(String);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = lab_cli(&self.0, &["down"]);
    }
}

#[test]
fn cli_start_exec_kill_restart_stop() {
    if !privileged("cli_start_exec_kill_restart_stop") {
        return;
    }
    let _serial = serial();
    let p = sft3::lab::testing::unique_prefix('l');
    let _down = Down(p.clone());
    let _ = lab_cli(&p, &["down"]);
    let key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let (code, out, err) = lab_cli(&p, &["start", "--key", key]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("mirrored: server b is the primary"),
        "{out}{err}"
    );
    // A second start refuses: the daemons run.
    assert_ne!(lab_cli(&p, &["start"]).0, 0);
    let (code, out, err) = lab_cli(&p, &["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let st: serde_json::Value = serde_json::from_str(&out).expect("status JSON");
    assert_eq!(st["daemons"]["a"]["running"], true, "{st}");
    assert_eq!(st["daemons"]["b"]["running"], true, "{st}");
    // The issue's command, with the namespace's full name.
    let a = format!("{p}a");
    assert!(cli_wait(&p, &a, |v| v["role"] == "secondary"));
    let b_incarnation = {
        let (_, out, _) = lab_cli(
            &p,
            &[
                "exec",
                "b",
                "--",
                lab_scenarios_common::SFT3,
                "status",
                "--json",
            ],
        );
        serde_json::from_str::<serde_json::Value>(&out).expect("B's status")["server"]
            ["incarnation"]
            .clone()
    };
    let (code, out, err) = lab_cli(&p, &["kill", "b"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(cli_wait(&p, &a, |v| v["state"] == "unmirrored-primary"));
    let (code, out, err) = lab_cli(&p, &["start", "b"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("daemon b: running"), "{out}");
    let servers = sft3::lab::daemon::Servers::new(&sft3::lab::LabConfig {
        prefix: p.clone(),
        ..sft3::lab::LabConfig::default()
    });
    let dump = || {
        format!(
            "A:\n{}\nB:\n{}",
            servers.console(Node::A),
            servers.console(Node::B)
        )
    };
    // B answers as a new process. (Whether it rejoins as the secondary is what
    // `quick_restart_of_a_killed_primary_rejoins_as_secondary` checks: a known defect.)
    assert!(
        cli_wait(&p, "b", |v| v["server"]["incarnation"] != b_incarnation),
        "{}",
        dump()
    );
    let (code, out, _) = lab_cli(&p, &["status"]);
    assert_eq!(code, 0);
    assert!(out.contains("daemon a: running"), "{out}");
    assert_eq!(lab_cli(&p, &["stop"]).0, 0);
    let (_, out, _) = lab_cli(&p, &["status"]);
    assert!(out.contains("daemon a: not running"), "{out}");
    assert!(out.contains("daemon b: not running"), "{out}");
    // A clean stop: exit 0 of both daemons' last runs.
    assert_eq!(
        servers.exits(Node::A).last().map(String::as_str),
        Some("exit 0")
    );
    assert_eq!(
        servers.exits(Node::B).last().map(String::as_str),
        Some("exit 0")
    );
}

#[test]
fn scenario4_carrier_down_switches_over() {
    if !privileged("scenario4_carrier_down_switches_over") {
        return;
    }
    let _serial = serial();
    // Not recorded: a carrier loss is a link event, which a recording of frames lacks.
    let bed = Bed::start('d', "carrier-down", Node::B, None);
    let s = &bed.servers;
    let t0 = Instant::now();
    bed.lab
        .fault(&sft3::lab::FaultAction::CarrierDown {
            node: Node::B,
            iface: "lan0".into(),
        })
        .expect("take B's lan0 carrier down");
    let said = s.wait_log(Node::B, text::SWITCHED_OVER, Duration::from_secs(8));
    assert!(said.is_some(), "{}", bed.dump("no switch-over"));
    eprintln!(
        "scenario 4 (carrier): switched over {:.1} ms after B's lan0 lost its carrier",
        t0.elapsed().as_secs_f64() * 1e3
    );
    let lb = s.admin_log(Node::B);
    let asked = lb.lines().find(|l| l.contains(text::SWITCHING_OVER));
    assert!(
        asked.is_some_and(|l| l.contains("own: 1/2 adapters working")),
        "{lb}"
    );
    let rejoined = s.wait_status(Node::B, Duration::from_secs(5), |v| {
        v["state"] == "mirrored-secondary"
    });
    assert!(rejoined.is_some(), "{}", bed.dump("B did not rejoin"));
    assert_eq!(s.exits(Node::B), vec!["exit 5".to_string()]);
    let vb = bed.exec_status(Node::B).expect("B answers");
    assert_eq!(vb["adapters"][0]["carrier"], false, "{vb}");
    let va = bed.exec_status(Node::A).expect("A answers");
    assert_eq!(va["state"], "mirrored-primary", "{va}");
}

/// A killed primary, restarted right after the secondary took over (at once or a second
/// later), rejoins as the secondary. This once made the new primary halt within a
/// millisecond of the restart ("another primary server is serving: tie-break lost") while
/// the restarted server served the older data: the restarted process's first state packet
/// reached A before its MSL hello and A judged "two primaries" on the dead process's
/// "serving" (1 in 2–5 rounds; recording and replay: `captures/lab/defect-quick-restart/`,
/// `tests/role_replay.rs`).
#[test]
fn quick_restart_of_a_killed_primary_rejoins_as_secondary() {
    if !privileged("quick_restart_of_a_killed_primary_rejoins_as_secondary") {
        return;
    }
    let _serial = serial();
    let bed = Bed::start('q', "defect-quick-restart", Node::A, None);
    let s = &bed.servers;
    for round in 0..5 {
        s.kill(Node::B, libc::SIGKILL).expect("kill -9 the primary");
        let took = s.wait_status(Node::A, Duration::from_secs(3), |v| v["role"] == "primary");
        assert!(took.is_some(), "round {round}: {}", bed.dump("no takeover"));
        s.wait_exits(Node::B, round + 1, Duration::from_secs(3));
        s.start_one(Node::B).expect("restart B");
        let ok = s.wait_status(Node::B, Duration::from_secs(3), |v| {
            v["state"] == "mirrored-secondary"
        });
        assert!(
            ok.is_some(),
            "round {round}: {}",
            bed.dump("B did not rejoin")
        );
        let va = s.status(Node::A).expect("A answers");
        assert_eq!(va["state"], "mirrored-primary", "round {round}: {va}");
        // B is the primary again for the next round.
        s.stop_one(Node::A);
        let ok = s.wait_status(Node::B, Duration::from_secs(3), |v| v["role"] == "primary");
        assert!(ok.is_some(), "round {round}: {}", bed.dump("B not primary"));
        s.start_one(Node::A).expect("restart A");
        let ok = s.wait_mirrored(Duration::from_secs(5));
        assert_eq!(
            ok,
            Some(Node::B),
            "round {round}: {}",
            bed.dump("not mirrored")
        );
    }
}
