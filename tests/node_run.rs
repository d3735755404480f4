//! Two daemons (`sft3::node::start`) in one network namespace, over real raw sockets:
//!
//! ```text
//!  node A (id 1) ── va ═══ MSL veth ═══ vb ── node B (id 2)
//!        └─ la0 ── la1 ─┐            ┌─ lb1 ── lb0 ─┘
//!                       └── br0 ─────┘
//!                            └─ lc1 ── lc0: a station (RIP requests every 100 ms)
//! ```
//!
//! The station is what lets a server pass the isolation check (scenario 5): it hears the
//! network. Needs root (namespaces, raw sockets): skipped otherwise, per the project's
//! skip policy (`SFT3_REQUIRE_PRIVILEGED=1` makes a skip a failure).

use std::path::Path;
use std::time::{Duration, Instant};

use sft3::lab::testing::privileged;
use sft3::node::status::StatusSnapshot;
use sft3::role::RoleState;

mod node_bed;
use node_bed::{dump, mirrored_pair, serial, start_pair, wait_for, Bed};

/// CPU time (user + system) of this process's `sft3-node` threads over `window`, as a
/// fraction of one core.
fn control_plane_cpu(window: Duration) -> f64 {
    fn ticks() -> u64 {
        let mut total = 0;
        for t in std::fs::read_dir("/proc/self/task")
            .into_iter()
            .flatten()
            .flatten()
        {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            if comm.trim() != "sft3-node" {
                continue;
            }
            let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
            // Fields after the ")" closing the name: state is field 3; utime 14, stime 15.
            let rest = stat.rsplit_once(')').map_or("", |r| r.1);
            let f: Vec<&str> = rest.split_whitespace().collect();
            let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            total += n(11) + n(12);
        }
        total
    }
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let t0 = ticks();
    std::thread::sleep(window);
    (ticks() - t0) as f64 / hz / window.as_secs_f64()
}

fn check_json(s: &StatusSnapshot) {
    let j = s.to_json();
    for key in [
        "\"role\":",
        "\"state\":",
        "\"mirrored\":",
        "\"peer\":",
        "\"generation\":",
        "\"adapters\":",
        "\"last_decision\":",
        "\"msl\":",
        "\"server\":",
    ] {
        assert!(j.contains(key), "{key} missing in {j}");
    }
}

#[test]
fn pair_mirrors_then_survives_a_dead_primary() {
    if !privileged("pair_mirrors_then_survives_a_dead_primary") {
        return;
    }
    let _serial = serial();
    let bed = Bed::new("nrun", true);
    let (a, b) = start_pair(&bed);
    let (sa, sb) = (a.snapshot(), b.snapshot());
    assert_eq!(sb.state, RoleState::MirroredPrimary, "{}", dump("", &a, &b));
    assert_eq!(sa.state, RoleState::MirroredSecondary);
    assert_eq!(sb.role(), "primary");
    assert_eq!(sa.role(), "secondary");
    assert!(sa.mirrored() && sb.mirrored());
    assert_eq!(sa.peer.as_ref().map(|p| p.id), Some(2));
    assert_eq!(sb.peer.as_ref().map(|p| p.id), Some(1));
    let log_b = b.service_log().expect("recording service");
    assert!(log_b.serving && log_b.advertising, "{log_b:?}");
    assert!(!a.service_log().expect("recording service").serving);
    check_json(&sa);
    check_json(&sb);
    assert!(sa.last_decision.is_some());
    assert_eq!(sa.adapters.len(), 1);
    assert!(
        wait_for(Duration::from_secs(2), || {
            let s = a.snapshot();
            s.adapters[0].working && s.adapters[0].peer_heard_ms_ago.is_some_and(|ms| ms < 50)
        })
        .is_some(),
        "{}",
        a.snapshot().to_json()
    );

    // Idle, the control planes sleep between state packets: no spinning.
    let busy = control_plane_cpu(Duration::from_millis(500));
    assert!(
        busy < 0.5,
        "control planes used {busy:.2} of a core while idle"
    );
    eprintln!("control planes (both nodes) used {busy:.3} of a core while idle");

    // `sft3 status` over the control socket.
    let text = sft3::node::control::query(&bed.socket(1), "status json").expect("status");
    assert!(text.contains("\"role\":\"secondary\""), "{text}");

    // The primary dies: its MSL and LAN adapters go dark at once (power lost).
    let t0 = Instant::now();
    bed.go_dark("vb", "lb0");
    let took = wait_for(Duration::from_secs(2), || a.snapshot().role() == "primary");
    assert!(
        took.is_some(),
        "{}",
        dump("secondary did not take over", &a, &b)
    );
    eprintln!(
        "secondary took over {:.1} ms after the primary went dark",
        t0.elapsed().as_secs_f64() * 1e3
    );
    assert!(a.service_log().expect("recording").serving);
    let notices = a.notices().join("\n");
    assert!(
        notices.contains("primary server is down; now the primary server"),
        "{notices}"
    );
    // The same line is in the log file.
    let log = std::fs::read_to_string(bed.log(1)).expect("log file");
    assert!(
        log.contains("primary server is down; now the primary server"),
        "{log}"
    );
    drop(b);
    a.stop();
    assert!(!Path::new(&bed.socket(1)).exists(), "socket left behind");
}

#[test]
fn clean_stop_of_the_primary_hands_over() {
    if !privileged("clean_stop_of_the_primary_hands_over") {
        return;
    }
    let _serial = serial();
    let bed = Bed::new("nstop", true);
    let (a, b) = start_pair(&bed);
    let t0 = Instant::now();
    let exit = b.stop();
    assert_eq!(exit, sft3::node::Exit::Stopped);
    let took = wait_for(Duration::from_secs(2), || a.snapshot().role() == "primary");
    assert!(
        took.is_some(),
        "{}\n{:#?}",
        a.snapshot().to_json(),
        a.notices()
    );
    eprintln!(
        "secondary took over {:.1} ms after the primary's clean stop began",
        t0.elapsed().as_secs_f64() * 1e3
    );
    let log = std::fs::read_to_string(bed.log(2)).expect("log file");
    assert!(log.contains("operator: shutting down"), "{log}");
    a.stop();
}

#[test]
fn isolated_secondary_does_not_promote() {
    if !privileged("isolated_secondary_does_not_promote") {
        return;
    }
    let _serial = serial();
    // No station: the segment holds only the two servers, so neither hears the network
    // (the peer's own frames never count).
    let bed = Bed::new("niso", false);
    let (a, b) = start_pair(&bed);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        a.snapshot().adapters[0].score < 1000,
        "{}",
        a.snapshot().to_json()
    );
    bed.go_dark("vb", "lb0");
    let said = wait_for(Duration::from_secs(2), || {
        a.notices()
            .iter()
            .any(|n| n.starts_with("primary server is down; isolated: not promoting"))
    });
    assert!(said.is_some(), "{}", dump("no isolation notice", &a, &b));
    std::thread::sleep(Duration::from_millis(100));
    assert_ne!(a.snapshot().role(), "primary");
    assert!(!a.service_log().expect("recording").serving);
    drop(b);
    a.stop();
}

#[test]
fn msl_cut_shuts_the_secondary_down() {
    if !privileged("msl_cut_shuts_the_secondary_down") {
        return;
    }
    let _serial = serial();
    // Scenario 3: the MSL fails while both servers still hear each other on the LAN: the
    // secondary shuts itself down, the primary goes on unmirrored.
    let bed = Bed::new("nmsl", true);
    let (a, b) = start_pair(&bed);
    bed.pair.ip(&["link", "set", "va", "down"]);
    let ended = wait_for(Duration::from_secs(2), || a.is_finished());
    assert!(
        ended.is_some(),
        "{}",
        dump("secondary still running", &a, &b)
    );
    let notices = a.notices().join("\n");
    assert!(
        notices
            .contains("mirrored server link failed; primary still active: secondary shutting down"),
        "{notices}"
    );
    let primary = wait_for(Duration::from_secs(1), || {
        b.snapshot().state == RoleState::UnmirroredPrimary
    });
    assert!(
        primary.is_some(),
        "{}",
        dump("primary not unmirrored", &a, &b)
    );
    assert_eq!(
        a.stop(),
        sft3::node::Exit::ShutDown(sft3::role::ShutdownReason::MslFailed)
    );
    assert!(b.service_log().expect("recording").serving);
    b.stop();
}

#[test]
fn lan_failure_switches_over_to_the_more_functional_server() {
    if !privileged("lan_failure_switches_over_to_the_more_functional_server") {
        return;
    }
    let _serial = serial();
    // Scenario 4: the primary's only LAN adapter fails; the secondary, still on the LAN,
    // is more functional. The primary asks, the secondary accepts, the primary withdraws
    // and releases, the secondary serves; the old primary ends, to restart as secondary.
    let bed = Bed::new("nsw", true);
    let (a, b) = start_pair(&bed);
    let t0 = Instant::now();
    bed.pair.ip(&["link", "set", "lb0", "down"]);
    let took = wait_for(Duration::from_secs(3), || {
        a.snapshot().state == RoleState::UnmirroredPrimary && b.is_finished()
    });
    assert!(took.is_some(), "{}", dump("no switch-over", &a, &b));
    eprintln!(
        "switched over {:.1} ms after the primary's LAN adapter failed",
        t0.elapsed().as_secs_f64() * 1e3
    );
    let nb = b.notices().join("\n");
    assert!(
        nb.contains("LAN adapter failure: secondary more functional: switching over"),
        "{nb}"
    );
    assert!(nb.contains("switched over to the secondary server"), "{nb}");
    let na = a.notices().join("\n");
    assert!(
        na.contains("primary server released; now the primary server"),
        "{na}"
    );
    let log_b = b.service_log().expect("recording");
    assert!(!log_b.serving && !log_b.advertising, "{log_b:?}");
    // Withdrawn and stopped before the release reached the secondary.
    let calls = log_b.calls;
    let last_withdraw = calls.iter().rposition(|c| *c == "withdraw");
    let last_stop = calls.iter().rposition(|c| *c == "stop_serving");
    assert!(last_withdraw < last_stop, "{calls:?}");
    assert_eq!(b.stop(), sft3::node::Exit::RestartAsSecondary);
    assert!(a.service_log().expect("recording").serving);
    a.stop();
}

#[test]
fn restarted_server_rejoins_as_secondary() {
    if !privileged("restarted_server_rejoins_as_secondary") {
        return;
    }
    let _serial = serial();
    // B (the higher id: it would win a tie-break) stops; A takes over. B starts again and
    // must find the serving primary (never a tie-break against it) and mirror it.
    let bed = Bed::new("nrej", true);
    let (a, b) = start_pair(&bed);
    b.stop();
    let took = wait_for(Duration::from_secs(2), || a.snapshot().role() == "primary");
    assert!(took.is_some(), "{}", a.snapshot().to_json());
    for round in 0..3 {
        let b = bed.start(2, "vb", "lb0");
        let ok = wait_for(Duration::from_secs(3), || mirrored_pair(&a, &b));
        assert!(ok.is_some(), "round {round}: {}", dump("no rejoin", &a, &b));
        assert_eq!(a.snapshot().state, RoleState::MirroredPrimary);
        let nb = b.notices().join("\n");
        assert!(
            nb.contains("primary server found: becoming the secondary server"),
            "round {round}: {nb}"
        );
        assert!(!nb.contains("tie-break"), "round {round}: {nb}");
        assert!(!b.service_log().expect("recording").serving);
        b.stop();
        let alone = wait_for(Duration::from_secs(2), || {
            a.snapshot().state == RoleState::UnmirroredPrimary
        });
        assert!(
            alone.is_some(),
            "round {round}: {}\n{:#?}",
            a.snapshot().to_json(),
            a.notices()
        );
    }
    a.stop();
}
