//! `sft3 bench ...`: benchmarks on a veth pair between two network namespaces.
//!
//! | command | measures | output (stdout) |
//! |---|---|---|
//! | `bench msl` | MSL bulk throughput against a naive raw send loop on the same pair | one JSON line |
//! | `bench msl-rtt` | control and event round trips, idle and under bulk | one JSON line per (class, load) |
//! | `bench failover` | kill -9 of the primary to the secondary's decision, against keepalived (VRRPv3) | one JSON line |
//! | `bench resync` | a resync of a lab pair's volumes: rate against the MSL bulk rate, MSL bytes per dirty byte, client write latency idle and during it | one JSON line |
//! | `bench soak` | false failovers and the longest heartbeat gaps under CPU overload and a flooded MSL, against keepalived | one JSON line |
//!
//! Progress and diagnostics go to stderr, so stdout holds only the JSON lines. See
//! `docs/benchmarks.md` for what is measured and the last figures.

pub mod failover;
pub mod failover_ka;
pub mod failover_sniff;
pub mod host_probe;
pub mod msl;
pub mod pair;
pub mod resync;
pub mod rtt;
pub mod soak;

use std::fmt::Write as _;

use clap::{Args, Subcommand};

/// `sft3 bench`: benchmarks (need root: they build network namespaces).
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Which benchmark.
    #[command(subcommand)]
    pub cmd: BenchCmd,
}

/// The benchmarks.
#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// MSL bulk throughput against a naive one-way raw send loop, same pair, same run.
    Msl(msl::MslArgs),
    /// MSL round-trip latency of 64-byte control and event messages, idle and under bulk.
    MslRtt(rtt::RttArgs),
    /// Failover detection time (kill -9 of the primary) against keepalived, same lab.
    Failover(failover::FailoverArgs),
    /// False failovers under CPU overload and a flooded MSL, against keepalived.
    Soak(soak::SoakArgs),
    /// Resync of a mirrored volume with real daemons: rate against the MSL bulk rate, bytes
    /// on the MSL per dirty byte, client write latency during it.
    Resync(resync::ResyncArgs),
}

/// Runs a benchmark; the exit code.
pub fn run(args: BenchArgs) -> anyhow::Result<i32> {
    match args.cmd {
        BenchCmd::Msl(a) => msl::run(&a),
        BenchCmd::MslRtt(a) => rtt::run(&a),
        BenchCmd::Failover(a) => failover::run(&a),
        BenchCmd::Soak(a) => soak::run(&a),
        BenchCmd::Resync(a) => resync::run(&a),
    }
}

pub use crate::units::parse_size;

/// The median of `v` (mean of the middle two for an even count; 0 when empty).
pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[m],
        _ => (v[m - 1] + v[m]) / 2.0,
    }
}

/// A JSON value for [`json_line`].
#[derive(Clone, Debug)]
pub enum Json {
    /// An integer.
    U(u64),
    /// A number, printed with the given decimals (non-finite prints as `null`).
    F(f64, usize),
    /// A boolean.
    B(bool),
    /// A string (escaped).
    S(String),
}

/// One JSON object on one line, keys in the order given (a tiny writer: the root crate
/// has no serde).
pub fn json_line(fields: &[(&str, Json)]) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{k}\":");
        match v {
            Json::U(n) => {
                let _ = write!(out, "{n}");
            }
            Json::F(x, d) if x.is_finite() => {
                let _ = write!(out, "{x:.d$}", d = *d);
            }
            Json::F(..) => out.push_str("null"),
            Json::B(b) => {
                let _ = write!(out, "{b}");
            }
            Json::S(s) => out.push_str(&crate::json::json_str(s)),
        }
    }
    out.push('}');
    out
}

/// An incarnation for a driver started now: nanoseconds since the epoch, so each run's
/// session is new to the peer (never 0).
pub(crate) fn incarnation() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        .max(1)
}

/// CPU time (user + system) this process has used so far, in seconds: all its threads,
/// and the kernel work (softirq included) that ran while one of them was on the CPU. On a
/// machine whose wall-clock figures wander from run to run (a shared VM), CPU seconds per
/// byte are the steadier measure of what a transfer costs.
pub(crate) fn process_cpu_seconds() -> f64 {
    // SAFETY: getrusage writes one rusage into the zeroed value it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return f64::NAN;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}
