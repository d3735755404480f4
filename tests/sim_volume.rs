//! The simulator with mirrored volumes (`sft3 sim --volume`): both servers' volume logic
//! over in-memory disks, a client writing to whichever server serves, and after every
//! repair the check that the volumes are equal and hold every acknowledged write.
//!
//! - a fault at every step of a resync: the source or the target killed, a power cut on
//!   either (unsynced bytes torn), the MSL cut, every 8 ms from the resync's start on;
//! - a random sweep of 300 seeds with volumes (faults of every kind, resyncs interrupted
//!   wherever they fall).

use std::time::Duration;

use sft3::role::RoleState;
use sft3::sim::pair::AdapterFault;
use sft3::sim::{sweep_threads, volumes_agree, Pair, Rng, SimConfig, VolumeConfig};

const MS: Duration = Duration::from_millis(1);

/// A pair with volumes whose resync is slow enough to be hit at many points.
fn pair(seed: u64) -> Pair {
    Pair::new(seed, 2, [1, 0]).with_volumes(VolumeConfig {
        resync_rate: 1 << 20,
        ..VolumeConfig::default()
    })
}

/// True while either server copies regions as a resync's source or target.
fn resyncing(p: &Pair) -> bool {
    (0..2).any(|i| p.volume_status(i).is_some_and(|st| st.resync.is_some()))
}

/// Runs in 5 ms steps until the pair is mirrored (at most 5 s: the client keeps writing,
/// which slows a resync down).
fn until_mirrored(p: &mut Pair) {
    let limit = p.now() + 5000 * MS;
    while !mirrored(p) && p.now() < limit {
        let t = p.now() + 5 * MS;
        p.run_until(t);
    }
    assert!(mirrored(p), "not mirrored:\n{}", p.trace.text());
}

fn mirrored(p: &Pair) -> bool {
    let st = [p.state(0), p.state(1)];
    st.contains(&Some(RoleState::MirroredPrimary))
        && st.contains(&Some(RoleState::MirroredSecondary))
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    KillSource,
    KillTarget,
    PowerSource,
    PowerTarget,
    CutMsl,
}

/// Server 1 runs alone and takes writes; server 2 comes back and a resync starts; `fault`
/// strikes `at` after it started. Then the pair heals; the volumes must agree. Returns
/// whether a resync was running when the fault struck.
fn fault_during_resync(fault: Fault, at: Duration) -> bool {
    let mut p = pair(7);
    p.start(0);
    p.run_until(10 * MS);
    p.start(1);
    until_mirrored(&mut p);
    // Server 2 down: server 1 writes alone (journaled), then server 2 is back.
    p.crash(1, None);
    let t = p.now() + 300 * MS;
    p.run_until(t);
    p.start(1);
    let began = p.now();
    let mut t = began;
    while !resyncing(&p) && t < began + 200 * MS {
        t += MS;
        p.run_until(t);
    }
    assert!(resyncing(&p), "no resync began:\n{}", p.trace.text());
    let t = p.now() + at;
    p.run_until(t);
    let hit = resyncing(&p);
    // Server 1 is the source (it served alone); server 2 the target.
    let mut rng = Rng::new(at.as_micros() as u64, 5);
    match fault {
        Fault::KillSource => p.crash(0, Some(50 * MS)),
        Fault::KillTarget => p.crash(1, Some(50 * MS)),
        Fault::PowerSource => {
            p.crash(0, Some(50 * MS));
            p.power_cut(0, &mut rng);
        }
        Fault::PowerTarget => {
            p.crash(1, Some(50 * MS));
            p.power_cut(1, &mut rng);
        }
        Fault::CutMsl => {
            let cut = AdapterFault {
                cut: true,
                ..AdapterFault::default()
            };
            p.set_fault(0, 0, cut);
            let t = p.now() + 60 * MS;
            p.run_until(t);
            p.set_fault(0, 0, AdapterFault::default());
        }
    }
    let t = p.now() + 200 * MS;
    p.run_until(t);
    // A secondary that lost the MSL shut down (scenario 3): the operator starts it.
    for i in 0..2 {
        if p.servers[i].is_none() && p.restart_at[i].is_none() {
            p.start(i);
        }
    }
    // A server halted by the fault (two histories that diverged) waits for the operator:
    // the pair must not get there from a single fault during a resync.
    until_mirrored(&mut p);
    if let Some(why) = volumes_agree(&mut p) {
        panic!("{fault:?} at {at:?}: {why}\n{}", p.trace.text());
    }
    let w = p.writes.as_ref().map(|w| w.stats).unwrap_or_default();
    assert!(w.unmirrored > 0, "server 1 wrote alone");
    hit
}

#[test]
fn a_fault_at_every_step_of_a_resync_leaves_equal_volumes() {
    for fault in [
        Fault::KillSource,
        Fault::KillTarget,
        Fault::PowerSource,
        Fault::PowerTarget,
        Fault::CutMsl,
    ] {
        let points: Vec<Duration> = (0..20).map(|k| k * 8 * MS).collect();
        let hits = points
            .iter()
            .filter(|&&at| fault_during_resync(fault, at))
            .count();
        // The resync (tens of regions at 1 MiB/s, while the client keeps writing) lasts
        // longer than the 160 ms the points span.
        assert!(
            hits >= points.len() - 2,
            "{fault:?}: only {hits} of {} faults struck a running resync",
            points.len()
        );
    }
}

#[test]
fn sweep_of_300_seeds_with_volumes_holds_every_invariant() {
    let cfg = SimConfig {
        volume: Some(VolumeConfig::default()),
        ..SimConfig::default()
    };
    let (s, traces) = sweep_threads(0, 300, 2, &cfg);
    let (failures, acked) = (s.failures, s.stats.writes_acked);
    assert!(
        failures.is_empty(),
        "{failures:?}\nfirst trace:\n{}",
        traces.first().cloned().unwrap_or_default()
    );
    assert!(acked > 10_000, "only {acked} writes acknowledged");
}

#[test]
fn the_checker_catches_a_lost_write() {
    // The property's own test: a volume that lost an acknowledged write is caught.
    let mut p = pair(3);
    p.start(0);
    p.run_until(10 * MS);
    p.start(1);
    until_mirrored(&mut p);
    assert!(volumes_agree(&mut p).is_none(), "{}", p.trace.text());
    let w = p.writes.as_ref().map(|w| w.stats).unwrap_or_default();
    assert!(w.mirrored > 0);
    // Zero the whole of both volumes behind the servers' backs.
    for i in 0..2 {
        let d = p.disk(i).expect("a disk");
        let mut s = d.data.clone();
        let len = d.data.bytes().len();
        sft3::journal::Store::write_at(&mut s, &vec![0u8; len], 0).unwrap();
    }
    let why = volumes_agree(&mut p).expect("the loss is seen");
    assert!(why.contains("holds zeros, older than write"), "{why}");
}
