//! The whole-pair simulator (`sft3::sim`): both servers' real compositions (state packets,
//! health, comparator, role machine, MSL core) on virtual time over simulated links.
//!
//! Named scenarios (DESIGN §2), determinism of a seed's trace, the random sweep CI runs
//! (2,000 seeds), and `sft3 sim` itself.

use std::time::Duration;

use sft3::role::RoleState;
use sft3::sim::pair::AdapterFault;
use sft3::sim::{run_seed, sweep_threads, Pair, SimConfig};

const MS: Duration = Duration::from_millis(1);

/// Both servers started (2 at 10 ms) and mirrored; returns the primary's index.
fn mirrored(p: &mut Pair) -> usize {
    p.start(0);
    p.run_until(10 * MS);
    p.start(1);
    p.run_until(400 * MS);
    let states = [p.state(0), p.state(1)];
    let primary = states
        .iter()
        .position(|s| *s == Some(RoleState::MirroredPrimary))
        .unwrap_or_else(|| panic!("not mirrored: {states:?}\n{}", p.trace.text()));
    assert_eq!(
        states[1 - primary],
        Some(RoleState::MirroredSecondary),
        "{}",
        p.trace.text()
    );
    assert!(p.serving(primary) && !p.serving(1 - primary));
    primary
}

/// Runs in 1 ms steps until `f` holds (or `limit` passes); the time it took.
fn run_until_true(
    p: &mut Pair,
    limit: Duration,
    mut f: impl FnMut(&Pair) -> bool,
) -> Option<Duration> {
    let t0 = p.now();
    while p.now() < t0 + limit {
        if f(p) {
            return Some(p.now() - t0);
        }
        let t = p.now() + MS;
        p.run_until(t);
        assert!(p.violation.is_none(), "{}", p.trace.text());
    }
    None
}

fn lines_of(p: &Pair, server: u64) -> Vec<String> {
    let tag = format!(" s{server} ");
    p.trace
        .lines()
        .iter()
        .filter(|l| l.contains(&tag))
        .cloned()
        .collect()
}

#[test]
fn dead_primary_is_taken_over() {
    let mut p = Pair::new(1, 2, [0, 0]);
    let primary = mirrored(&mut p);
    let sec = 1 - primary;
    // Power lost: the process and every carrier at once.
    p.crash(primary, None);
    for a in 0..=p.lans() {
        p.set_fault(
            primary,
            a,
            AdapterFault {
                carrier_down: true,
                ..AdapterFault::default()
            },
        );
    }
    let took = run_until_true(&mut p, 500 * MS, |p| p.serving(sec));
    let took = took.unwrap_or_else(|| panic!("no takeover\n{}", p.trace.text()));
    assert_eq!(p.state(sec), Some(RoleState::UnmirroredPrimary));
    assert!(took <= 40 * MS, "took {took:?}\n{}", p.trace.text());
    let said = lines_of(&p, sec as u64 + 1).join("\n");
    // Carrier lost on the MSL: the secondary knows at once; the LAN paths confirm.
    assert!(
        said.contains("primary server is down; now the primary server"),
        "{said}"
    );
    eprintln!("dead primary taken over in {took:?} of virtual time");

    // Killed without losing carrier (kill -9): the silences alone decide.
    let mut p = Pair::new(2, 2, [0, 0]);
    let primary = mirrored(&mut p);
    p.crash(primary, None);
    let took = run_until_true(&mut p, 500 * MS, |p| p.serving(1 - primary))
        .unwrap_or_else(|| panic!("no takeover\n{}", p.trace.text()));
    assert!(took <= 40 * MS, "took {took:?}\n{}", p.trace.text());
    eprintln!("killed primary taken over in {took:?} of virtual time");
}

#[test]
fn msl_cut_shuts_the_secondary_down() {
    let mut p = Pair::new(3, 2, [0, 0]);
    let primary = mirrored(&mut p);
    let sec = 1 - primary;
    p.set_split(0, true);
    let ended = run_until_true(&mut p, 500 * MS, |p| p.servers[sec].is_none())
        .unwrap_or_else(|| panic!("secondary still running\n{}", p.trace.text()));
    let said = lines_of(&p, sec as u64 + 1).join("\n");
    assert!(
        said.contains("mirrored server link failed; primary still active: secondary shutting down"),
        "{said}"
    );
    assert!(
        said.contains("process ended: ShutDown(MslFailed)"),
        "{said}"
    );
    assert_eq!(p.state(primary), Some(RoleState::UnmirroredPrimary));
    assert!(p.serving(primary));
    // It stays down: scenario 3 waits for the operator.
    p.run_until(p.now() + 500 * MS);
    assert!(p.servers[sec].is_none());
    eprintln!("secondary shut down {ended:?} after the MSL cut");
}

#[test]
fn lan_adapter_failure_switches_over() {
    let mut p = Pair::new(4, 2, [0, 0]);
    let primary = mirrored(&mut p);
    let sec = 1 - primary;
    // One of the primary's two LAN adapters fails: the secondary is more functional.
    p.set_fault(
        primary,
        1,
        AdapterFault {
            carrier_down: true,
            ..AdapterFault::default()
        },
    );
    let took = run_until_true(&mut p, 1000 * MS, |p| p.serving(sec))
        .unwrap_or_else(|| panic!("no switch-over\n{}", p.trace.text()));
    let old = lines_of(&p, primary as u64 + 1).join("\n");
    assert!(
        old.contains("LAN adapter failure: secondary more functional: switching over"),
        "{old}"
    );
    assert!(old.contains("process ended: RestartAsSecondary"), "{old}");
    let new = lines_of(&p, sec as u64 + 1).join("\n");
    assert!(
        new.contains("primary server released; now the primary server"),
        "{new}"
    );
    // The old primary restarts (its supervisor) and rejoins as the secondary.
    let back = run_until_true(&mut p, 1000 * MS, |p| {
        p.state(primary) == Some(RoleState::MirroredSecondary)
            && p.state(sec) == Some(RoleState::MirroredPrimary)
    });
    assert!(back.is_some(), "{}", p.trace.text());
    assert!(!p.serving(primary));
    eprintln!("switched over {took:?} after the primary's LAN adapter failed");
}

#[test]
fn isolated_secondary_stays_passive() {
    let mut p = Pair::new(5, 2, [0, 0]);
    // No station on any segment: neither server hears the network.
    p.stations_on = false;
    p.start(0);
    p.start(1);
    p.run_until(400 * MS);
    let primary = (0..2)
        .find(|&i| p.state(i).is_some_and(RoleState::is_primary))
        .unwrap_or_else(|| panic!("no primary\n{}", p.trace.text()));
    let sec = 1 - primary;
    assert_eq!(
        p.state(sec),
        Some(RoleState::MirroredSecondary),
        "{}",
        p.trace.text()
    );
    // Started together, each may hear the other's first probe before its first state
    // packet: health forgets it once the packet names the peer's MAC, so the isolation
    // check holds at once.
    p.crash(primary, None);
    p.run_until(p.now() + 500 * MS);
    assert!(!p.serving(sec), "{}", p.trace.text());
    assert!(!p.state(sec).is_some_and(RoleState::is_primary));
    let said = lines_of(&p, sec as u64 + 1).join("\n");
    assert!(
        said.contains("primary server is down; isolated: not promoting"),
        "{said}"
    );
}

#[test]
fn host_pause_is_no_failover() {
    // The host runs neither server for 60 ms (three silence thresholds): the primary, back
    // past its stall fence, pauses, asks the secondary over the MSL and serves on; the
    // secondary, deaf just after its own stall, hears it before it would decide anything.
    let mut p = Pair::new(1, 2, [0, 0]);
    let primary = mirrored(&mut p);
    let sec = 1 - primary;
    let t0 = p.now();
    p.freeze(0, 60 * MS);
    p.freeze(1, 60 * MS);
    p.run_until(t0 + 300 * MS);
    assert!(p.violation.is_none(), "{}", p.trace.text());
    assert_eq!(
        p.state(primary),
        Some(RoleState::MirroredPrimary),
        "{}",
        p.trace.text()
    );
    assert_eq!(
        p.state(sec),
        Some(RoleState::MirroredSecondary),
        "{}",
        p.trace.text()
    );
    assert!(p.serving(primary) && !p.serving(sec));
    let said = |i: usize, what: &str| lines_of(&p, i as u64 + 1).iter().any(|l| l.contains(what));
    assert!(
        said(primary, sft3::role::text::STALLED_ASKING),
        "{}",
        p.trace.text()
    );
    assert!(
        said(primary, sft3::role::text::STALL_CLEARED),
        "{}",
        p.trace.text()
    );
    assert!(
        !said(sec, sft3::role::text::PRIMARY_DOWN),
        "{}",
        p.trace.text()
    );
    assert!(
        !said(primary, sft3::role::text::STALLED),
        "{}",
        p.trace.text()
    );
}

#[test]
fn a_seed_gives_the_same_trace_every_time() {
    let cfg = SimConfig::default();
    for seed in [0, 7, 3119, 123_456_789] {
        let a = run_seed(seed, &cfg);
        let b = run_seed(seed, &cfg);
        assert_eq!(a.trace.lines(), b.trace.lines(), "seed {seed}");
        assert_eq!(a.trace.digest(), b.trace.digest());
        assert_ne!(a.trace.digest(), 0);
        assert!(a.trace.lines().len() > 10, "{}", a.trace.text());
    }
    let d: Vec<u64> = (0..5).map(|s| run_seed(s, &cfg).trace.digest()).collect();
    for i in 0..d.len() {
        for j in i + 1..d.len() {
            assert_ne!(d[i], d[j], "seeds {i} and {j} gave the same trace");
        }
    }
}

/// The random sweep CI runs: 2,000 seeds, on two threads.
#[test]
fn sweep_of_2000_seeds_holds_every_invariant() {
    let (s, traces) = sweep_threads(0, 2000, 2, &SimConfig::default());
    let (seeds, stats) = (s.seeds, s.stats);
    eprintln!(
        "{seeds} seeds in {:.1} s ({:.1} seeds/s): {} decisions, {} serve starts, {} partitions with two servers serving",
        s.elapsed.as_secs_f64(),
        s.seeds_per_sec(),
        stats.decisions,
        stats.serve_starts,
        stats.dual_serving
    );
    let failures = s.failures;
    assert_eq!(seeds, 2000);
    assert!(
        failures.is_empty(),
        "{failures:?}\nfirst trace:\n{}",
        traces.first().cloned().unwrap_or_default()
    );
}

#[test]
fn the_command_runs_seeds_and_summarises() {
    let bin = env!("CARGO_BIN_EXE_sft3");
    let out = std::process::Command::new(bin)
        .args(["sim", "--seeds", "20"])
        .output()
        .expect("running sft3 sim");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("sim: 20 seeds (0..20), 0 failed"), "{text}");
    assert!(text.contains("seeds/s"), "{text}");

    let out = std::process::Command::new(bin)
        .args(["sim", "--seeds", "20", "--start", "100", "--json"])
        .output()
        .expect("running sft3 sim --json");
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["seeds"], 20);
    assert_eq!(v["failures"], 0);
    assert!(v["seeds_per_sec"].as_f64().is_some_and(|x| x > 0.0));
    assert!(v["decisions"].as_u64().is_some_and(|x| x > 0));

    // --trace prints a seed's trace and its digest: the library's.
    let out = std::process::Command::new(bin)
        .args(["sim", "--trace", "7"])
        .output()
        .expect("running sft3 sim --trace");
    let text = String::from_utf8_lossy(&out.stdout);
    let o = run_seed(7, &SimConfig::default());
    assert!(text.starts_with(&o.trace.text()), "{text}");
    assert!(
        text.contains(&format!("digest {:016x}", o.trace.digest())),
        "{text}"
    );
}

/// Scenario 5's other side: a full partition where both still hear the network makes two
/// primaries; when it heals (the MSL lossy, the LAN clean) the tie-break loser stops
/// within the grace.
#[test]
fn primaries_meeting_over_a_lossy_msl_stop_within_the_grace() {
    let mut worst = Duration::ZERO;
    for seed in 0..20 {
        let mut p = Pair::new(100 + seed, 2, [0, 0]);
        mirrored(&mut p);
        // A full partition: each still hears its station, so both serve.
        for a in 0..=p.lans() {
            p.set_split(a, true);
        }
        p.run_until(p.now() + 100 * MS);
        assert!(p.serving(0) && p.serving(1), "{}", p.trace.text());
        // The MSL comes back lossy, and the LAN heals, clean.
        let lossy = sft3::link::sim::Faults {
            loss: 0.5,
            reorder: 0.3,
            reorder_delay: 10 * MS,
            ..sft3::link::sim::Faults::NONE
        };
        p.set_fault(
            0,
            0,
            AdapterFault {
                impaired: Some(lossy),
                ..AdapterFault::default()
            },
        );
        for a in 0..=p.lans() {
            p.set_split(a, false);
        }
        let healed = p.now();
        while p.serving(0) && p.serving(1) && p.now() < healed + Duration::from_secs(2) {
            let t = p.now() + MS;
            p.run_until(t);
        }
        worst = worst.max(p.now() - healed);
    }
    eprintln!("two primaries served for up to {worst:?} after a clean LAN path");
    assert!(worst <= sft3::sim::HEAL_GRACE, "{worst:?}");
}

/// The invariants are checked for real: a secondary made to serve behind its role
/// machine's back is caught at once.
#[test]
fn the_checker_catches_a_second_servicer() {
    let mut p = Pair::new(9, 2, [0, 0]);
    let primary = mirrored(&mut p);
    let sec = 1 - primary;
    if let Some(s) = p.servers[sec].as_ref() {
        s.service.0.lock().expect("service state").serving = true;
    }
    let now = p.now();
    p.check(now);
    let v = p.violation.clone().expect("a violation");
    assert!(
        v.contains("serves clients in state MirroredSecondary"),
        "{v}"
    );
}
