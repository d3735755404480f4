//! The whole-pair simulator (`sft3 sim`): both servers' real compositions on virtual time
//! over simulated links, with random fault schedules, checking DESIGN §3's invariants
//! after every step.
//!
//! | piece | what |
//! |---|---|
//! | [`server`] | one server process: the daemon's [`Plane`](crate::node::Plane) (state packets, health, comparator, role machine) and the MSL core [`Msl`](crate::msl::Msl), driven as the daemon's threads drive them |
//! | [`pair`] | [`Pair`]: two servers (ids 1, 2) on a [`SimNet`](crate::link::sim::SimNet): an MSL wire, N LAN segments each with a station; the invariants |
//! | [`schedule`] | random faults: crashes and restarts, MSL and LAN cuts, carrier, loss, duplication, reordering, delay, corruption, degraded adapters, power loss |
//! | [`trace`] | the per-seed trace (virtual timestamps), its digest, the seeded generator |
//!
//! **One seed** ([`run_seed`]): server 1 starts at 0, server 2 within 150 ms; faults from
//! 150–400 ms until the end of the fault phase; then the repair: every fault removed, after
//! 100 ms any server that is down is started by the operator, after the settle time any
//! halted server is resolved by the operator (one survivor for the pair: the serving
//! server, else server 2), and after another settle time the pair must have converged:
//! both running, one mirrored primary serving, one mirrored secondary. Everything derives
//! from the seed (priorities, start times, faults, the network's randomness) and nothing
//! reads a clock, so a seed's trace is the same on every run and machine.

pub mod cli;
pub mod pair;
pub mod schedule;
pub mod server;
pub mod trace;
pub mod volume;
pub mod writes;

use std::time::{Duration, Instant};

pub use pair::{Pair, PairStats, HEAL_GRACE};
pub use trace::{Rng, Trace};
pub use volume::VolumeConfig;

use crate::role::{Command, RoleState};

/// How one seed runs.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// LAN adapters per server (1 to 8; default 2).
    pub lans: usize,
    /// Length of the fault phase (virtual time; default 1 s).
    pub fault_phase: Duration,
    /// Each of the two settle periods of the repair (default 500 ms).
    pub settle: Duration,
    /// Mirrored volumes and a writing client (default: none).
    pub volume: Option<VolumeConfig>,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            lans: 2,
            fault_phase: Duration::from_millis(1000),
            settle: Duration::from_millis(500),
            volume: None,
        }
    }
}

/// What one seed gave.
#[derive(Clone, Debug)]
pub struct SeedOutcome {
    /// The seed.
    pub seed: u64,
    /// The first violated invariant, or the failure to converge; `None`: passed.
    pub failure: Option<String>,
    /// The trace.
    pub trace: Trace,
    /// Counts.
    pub stats: PairStats,
    /// Virtual time simulated.
    pub simulated: Duration,
}

impl SeedOutcome {
    /// True when the seed passed.
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }
}

/// Runs one seed (see the module documentation).
pub fn run_seed(seed: u64, cfg: &SimConfig) -> SeedOutcome {
    let mut rng = Rng::new(seed, 1);
    let prios = [rng.below(3) as u8, rng.below(3) as u8];
    let lans = cfg.lans.clamp(1, 8);
    let mut p = Pair::new(seed, lans, prios);
    if let Some(v) = cfg.volume {
        p = p.with_volumes(v);
    }
    p.trace.push(
        Duration::ZERO,
        0,
        &format!(
            "seed {seed}: priorities {prios:?}, {lans} LAN adapters per server{}",
            match cfg.volume {
                Some(v) => format!(
                    ", volumes of {} bytes in regions of {}, resync at most {} bytes/s",
                    v.size, v.region_size, v.resync_rate
                ),
                None => String::new(),
            }
        ),
    );
    p.start(0);
    let late = rng.ms(0, 150);
    p.run_until(late);
    p.start(1);
    let mut t = rng.ms(150, 400);
    while t < cfg.fault_phase && p.violation.is_none() {
        p.run_until(t);
        schedule::random_fault(&mut p, &mut rng);
        t += rng.ms(20, 250);
    }
    p.run_until(cfg.fault_phase);
    let mut failure = repair_and_settle(&mut p, cfg);
    if failure.is_none() && p.writes.is_some() {
        failure = volumes_agree(&mut p);
    }
    if let Some(w) = &p.writes {
        p.stats.writes_acked += w.stats.mirrored + w.stats.unmirrored;
    }
    let simulated = p.now();
    SeedOutcome {
        seed,
        failure,
        trace: p.trace,
        stats: p.stats,
        simulated,
    }
}

/// The repair phase; `Some(why)` when an invariant broke or the pair did not converge.
fn repair_and_settle(p: &mut Pair, cfg: &SimConfig) -> Option<String> {
    if let Some(v) = &p.violation {
        return Some(v.clone());
    }
    let now = p.now();
    p.trace.push(
        now,
        0,
        &format!("repair: every fault removed ({})", p.describe()),
    );
    p.repair_all();
    p.run_until(now + Duration::from_millis(100));
    for i in 0..2 {
        if p.servers[i].is_none() && p.restart_at[i].is_none() {
            p.trace
                .push(p.now(), 0, &format!("operator starts s{}", i + 1));
            p.start(i);
        }
    }
    let t = p.now() + cfg.settle;
    p.run_until(t);
    let halted = |p: &Pair, i: usize| matches!(p.state(i), Some(RoleState::Halted(_)));
    if halted(p, 0) || halted(p, 1) {
        let survivor = if p.serving(0) { 1 } else { 2 };
        if let Some(w) = p.writes.as_mut() {
            w.survivor(survivor);
        }
        for i in 0..2 {
            if halted(p, i) {
                let now = p.now();
                if let Some(s) = p.servers[i].as_mut() {
                    s.command(
                        now,
                        Command::ChooseSurvivor {
                            server_id: survivor,
                        },
                        &mut p.trace,
                    );
                }
            }
        }
    }
    let t = p.now() + cfg.settle;
    p.run_until(t);
    if let Some(v) = &p.violation {
        return Some(v.clone());
    }
    let states = [p.state(0), p.state(1)];
    let mirrored = matches!(
        states,
        [
            Some(RoleState::MirroredPrimary),
            Some(RoleState::MirroredSecondary)
        ] | [
            Some(RoleState::MirroredSecondary),
            Some(RoleState::MirroredPrimary)
        ]
    );
    let serving = [p.serving(0), p.serving(1)];
    let primary_serves =
        (0..2).all(|i| serving[i] == (states[i] == Some(RoleState::MirroredPrimary)));
    let now = p.now();
    let verdict = format!("end: {}", p.describe());
    p.trace.push(now, 0, &verdict);
    if mirrored && primary_serves {
        None
    } else {
        let why = format!("not converged after the repair: {}", p.describe());
        p.trace.push(now, 0, &format!("FAILURE: {why}"));
        Some(why)
    }
}

/// How long the volumes may take to be in sync once the pair has converged.
const SYNC_LIMIT: Duration = Duration::from_secs(4);

/// After the repair, with volumes: the client stops writing, and once every write is
/// answered and the resync is done (within 4 s), both volumes must be equal and hold
/// every acknowledged write ([`writes`]); `Some(why)` otherwise.
pub fn volumes_agree(p: &mut Pair) -> Option<String> {
    if let Some(w) = p.writes.as_mut() {
        w.on = false;
    }
    let limit = p.now() + SYNC_LIMIT;
    loop {
        let t = p.now() + Duration::from_millis(10);
        p.run_until(t);
        if let Some(v) = &p.violation {
            return Some(v.clone());
        }
        if in_sync(p) {
            break;
        }
        if p.now() >= limit {
            let why = format!(
                "volumes not in sync {SYNC_LIMIT:?} after the pair converged: {}",
                volume_state(p)
            );
            p.trace.push(p.now(), 0, &format!("FAILURE: {why}"));
            return Some(why);
        }
    }
    let (Some(a), Some(b)) = (p.disk(0), p.disk(1)) else {
        return None;
    };
    let (a, b) = (a.data.bytes(), b.data.bytes());
    let now = p.now();
    let why = if let Some(at) = a.iter().zip(&b).position(|(x, y)| x != y) {
        Some(format!(
            "the volumes differ at byte {at} after the resync: s1 holds {}, s2 {}",
            writes::describe_sector(&a, at),
            writes::describe_sector(&b, at)
        ))
    } else {
        p.writes.as_ref().and_then(|w| w.check(&a).err())
    };
    match &why {
        Some(w) => p.trace.push(now, 0, &format!("FAILURE: {w}")),
        None => p
            .trace
            .push(now, 0, "volumes equal, every acknowledged write held"),
    }
    why
}

/// Both volumes mirrored, no resync running, nothing dirty, every write answered.
fn in_sync(p: &Pair) -> bool {
    p.writes.as_ref().is_none_or(|w| w.settled())
        && (0..2).all(|i| {
            p.volume_status(i).is_some_and(|st| {
                st.resync.is_none()
                    && st.dirty_regions == 0
                    && (st.mode == "mirrored" || st.mode == "secondary")
            })
        })
}

fn volume_state(p: &Pair) -> String {
    let each = (0..2).map(|i| match p.volume_status(i) {
        Some(st) => format!(
            "s{}: {} dirty {} resync {:?}",
            i + 1,
            st.mode,
            st.dirty_regions,
            st.resync.as_ref().map(|r| (r.role, r.done, r.total))
        ),
        None => format!("s{}: no volume", i + 1),
    });
    each.collect::<Vec<_>>().join(", ")
}

/// What a sweep of seeds gave.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Seeds run.
    pub seeds: u64,
    /// The failing seeds, with why.
    pub failures: Vec<(u64, String)>,
    /// Totals over the seeds.
    pub stats: PairStats,
    /// Virtual time simulated, in total.
    pub simulated: Duration,
    /// Wall-clock time taken.
    pub elapsed: Duration,
}

impl Summary {
    /// Seeds per second of wall-clock time.
    pub fn seeds_per_sec(&self) -> f64 {
        self.seeds as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The summary as one JSON object.
    pub fn to_json(&self) -> String {
        let failing: Vec<String> = self.failures.iter().map(|f| f.0.to_string()).collect();
        format!(
            "{{\"seeds\":{},\"failures\":{},\"failing_seeds\":[{}],\"seeds_per_sec\":{:.1},\"simulated_s\":{:.3},\"elapsed_s\":{:.3},\"decisions\":{},\"serve_starts\":{},\"takeovers\":{},\"faults\":{},\"process_starts\":{},\"dual_serving\":{},\"dual_serving_max_ms\":{:.3},\"writes_acked\":{}}}",
            self.seeds,
            self.failures.len(),
            failing.join(","),
            self.seeds_per_sec(),
            self.simulated.as_secs_f64(),
            self.elapsed.as_secs_f64(),
            self.stats.decisions,
            self.stats.serve_starts,
            self.stats.takeovers,
            self.stats.faults,
            self.stats.starts,
            self.stats.dual_serving,
            self.stats.dual_serving_max.as_secs_f64() * 1e3,
            self.stats.writes_acked,
        )
    }
}

/// Runs seeds `start .. start + n`; `each` sees every outcome (to print a failing trace).
pub fn sweep(start: u64, n: u64, cfg: &SimConfig, mut each: impl FnMut(&SeedOutcome)) -> Summary {
    let t0 = Instant::now();
    let mut s = Summary::default();
    for seed in start..start.saturating_add(n) {
        let o = run_seed(seed, cfg);
        s.seeds += 1;
        s.simulated += o.simulated;
        s.stats.add(&o.stats);
        if let Some(f) = &o.failure {
            s.failures.push((seed, f.clone()));
        }
        each(&o);
    }
    s.elapsed = t0.elapsed();
    s
}

/// Runs seeds `start .. start + n` on `threads` threads (contiguous ranges); the summaries
/// added up (elapsed: the wall-clock time of the whole), and the traces of the failing seeds.
pub fn sweep_threads(start: u64, n: u64, threads: u64, cfg: &SimConfig) -> (Summary, Vec<String>) {
    let t0 = Instant::now();
    let threads = threads.max(1);
    let per = n.div_ceil(threads);
    let parts: Vec<(Summary, Vec<String>)> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..threads)
            .map(|k| {
                let from = start + k * per;
                let count = per.min((start + n).saturating_sub(from));
                sc.spawn(move || {
                    let mut traces = Vec::new();
                    let s = sweep(from, count, cfg, |o| {
                        if !o.ok() {
                            traces.push(o.trace.text());
                        }
                    });
                    (s, traces)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut total = Summary::default();
    let mut traces = Vec::new();
    for (s, t) in parts {
        total.seeds += s.seeds;
        total.failures.extend(s.failures);
        total.stats.add(&s.stats);
        total.simulated += s.simulated;
        traces.extend(t);
    }
    total.elapsed = t0.elapsed();
    (total, traces)
}
