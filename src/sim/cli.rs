//! `sft3 sim --seeds N [--start S] [--trace SEED] [--json] [--trace-dir DIR] [--volume]`.
//!
//! | flag | what |
//! |---|---|
//! | `--seeds N` | run N seeds (default 100) |
//! | `--start S` | from seed S (default 0) |
//! | `--trace SEED` | run that one seed and print its whole trace and digest |
//! | `--json` | the summary as one JSON object |
//! | `--trace-dir DIR` | write each failing seed's trace to `DIR/seed-N.trace` |
//! | `--fault-ms`, `--settle-ms`, `--lans` | the [`SimConfig`] |
//! | `--volume` | each server mirrors a volume ([`VolumeConfig`]'s defaults) and a client writes to the one serving; after the repair the volumes must be equal and hold every acknowledged write |
//! | `--resync-rate B` | with `--volume`: resync bytes per second at most (default 2 MiB/s, so faults land mid-resync; 0: unlimited) |
//!
//! Exit status 0 when every seed passed, 1 otherwise (2 for usage errors, from clap).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{run_seed, sweep, SimConfig, VolumeConfig};

/// Arguments of `sft3 sim`.
#[derive(Args, Debug, Clone)]
pub struct SimArgs {
    /// How many seeds to run.
    #[arg(long, default_value_t = 100)]
    pub seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    pub start: u64,
    /// Run only this seed and print its trace.
    #[arg(long, value_name = "SEED")]
    pub trace: Option<u64>,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Write the trace of every failing seed into this directory.
    #[arg(long, value_name = "DIR")]
    pub trace_dir: Option<PathBuf>,
    /// Length of the fault phase per seed, in ms of virtual time.
    #[arg(long, default_value_t = 1000)]
    pub fault_ms: u64,
    /// Each settle period after the repair, in ms of virtual time.
    #[arg(long, default_value_t = 500)]
    pub settle_ms: u64,
    /// LAN adapters per server.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=8))]
    pub lans: u8,
    /// Mirror a volume on each server, with a client writing.
    #[arg(long)]
    pub volume: bool,
    /// With --volume: resync bytes per second at most (0: unlimited).
    #[arg(long, value_name = "BYTES", default_value_t = VolumeConfig::default().resync_rate)]
    pub resync_rate: u64,
}

impl SimArgs {
    fn config(&self) -> SimConfig {
        SimConfig {
            lans: self.lans as usize,
            fault_phase: Duration::from_millis(self.fault_ms),
            settle: Duration::from_millis(self.settle_ms),
            volume: self.volume.then_some(VolumeConfig {
                resync_rate: self.resync_rate,
                ..VolumeConfig::default()
            }),
        }
    }

    /// The flags that change what a seed does (for a reproduction command).
    fn config_flags(&self) -> String {
        let d = SimConfig::default();
        let mut s = String::new();
        if self.fault_ms != d.fault_phase.as_millis() as u64 {
            s.push_str(&format!(" --fault-ms {}", self.fault_ms));
        }
        if self.settle_ms != d.settle.as_millis() as u64 {
            s.push_str(&format!(" --settle-ms {}", self.settle_ms));
        }
        if self.lans as usize != d.lans {
            s.push_str(&format!(" --lans {}", self.lans));
        }
        if self.volume {
            s.push_str(" --volume");
            if self.resync_rate != VolumeConfig::default().resync_rate {
                s.push_str(&format!(" --resync-rate {}", self.resync_rate));
            }
        }
        s
    }
}

/// Runs `sft3 sim`; returns the exit status.
pub fn run(args: SimArgs) -> i32 {
    let cfg = args.config();
    if let Some(seed) = args.trace {
        let o = run_seed(seed, &cfg);
        print!("{}", o.trace.text());
        println!(
            "seed {seed}: {} (digest {:016x}, {} lines)",
            o.failure.as_deref().unwrap_or("ok"),
            o.trace.digest(),
            o.trace.lines().len()
        );
        return i32::from(!o.ok());
    }
    let flags = args.config_flags();
    let summary = sweep(args.start, args.seeds, &cfg, |o| {
        let Some(why) = &o.failure else { return };
        eprintln!("seed {}: FAILED: {why}", o.seed);
        match &args.trace_dir {
            Some(dir) => {
                let path = dir.join(format!("seed-{}.trace", o.seed));
                let written = std::fs::create_dir_all(dir)
                    .and_then(|()| std::fs::write(&path, o.trace.text()));
                match written {
                    Ok(()) => eprintln!("  trace: {}", path.display()),
                    Err(e) => eprintln!("  trace not written to {}: {e}", path.display()),
                }
            }
            None => {
                // The end of the trace: what led to the failure.
                let lines = o.trace.lines();
                let from = lines.len().saturating_sub(60);
                for l in &lines[from..] {
                    eprintln!("  {l}");
                }
            }
        }
        eprintln!("  reproduce: sft3 sim --trace {}{flags}", o.seed);
    });
    if args.json {
        println!("{}", summary.to_json());
    } else {
        println!(
            "sim: {} seeds ({}..{}), {} failed, {:.1} seeds/s ({:.1} s simulated in {:.2} s); {} decisions, {} takeovers ({} times a server started serving), {} faults, {} process starts, {} times both served (longest {:?})",
            summary.seeds,
            args.start,
            args.start.saturating_add(summary.seeds),
            summary.failures.len(),
            summary.seeds_per_sec(),
            summary.simulated.as_secs_f64(),
            summary.elapsed.as_secs_f64(),
            summary.stats.decisions,
            summary.stats.takeovers,
            summary.stats.serve_starts,
            summary.stats.faults,
            summary.stats.starts,
            summary.stats.dual_serving,
            summary.stats.dual_serving_max,
        );
        if args.volume {
            println!(
                "volumes: {} client writes acknowledged; equal after every repair: {}",
                summary.stats.writes_acked,
                if summary.failures.is_empty() {
                    "yes"
                } else {
                    "no (see the failures)"
                }
            );
        }
        if !summary.failures.is_empty() {
            let seeds: Vec<String> = summary.failures.iter().map(|f| f.0.to_string()).collect();
            println!("failing seeds: {}", seeds.join(" "));
        }
    }
    i32::from(!summary.failures.is_empty())
}
