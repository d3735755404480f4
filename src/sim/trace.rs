//! The simulator's trace (one line per event, virtual timestamps), its digest, and the
//! seeded generator the fault schedules draw from.
//!
//! | line | example |
//! |---|---|
//! | time (s, µs precision) | `     0.250123` |
//! | who | `s1`, `s2` (a server), `--` (the world: faults, phases) |
//! | what | `fault: MSL cut`, `notice WARNING ...`, `service start_serving`, `msl up` |

use std::fmt::Write;
use std::time::Duration;

use crate::link::sim::rng::Rng as SimRng;

/// The trace of one seed.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    lines: Vec<String>,
    /// FNV-1a over every line so far (with a newline after each).
    hash: u64,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl Trace {
    /// An empty trace.
    pub fn new() -> Trace {
        Trace {
            lines: Vec::new(),
            hash: FNV_OFFSET,
        }
    }

    /// Adds a line: `who` is a server id, or 0 for the world.
    pub fn push(&mut self, at: Duration, who: u64, what: &str) {
        let mut line = String::with_capacity(24 + what.len());
        let _ = write!(line, "{:>6}.{:06} ", at.as_secs(), at.subsec_micros());
        if who == 0 {
            line.push_str("-- ");
        } else {
            let _ = write!(line, "s{who} ");
        }
        line.push_str(what);
        for b in line.bytes().chain(std::iter::once(b'\n')) {
            self.hash = (self.hash ^ b as u64).wrapping_mul(FNV_PRIME);
        }
        self.lines.push(line);
    }

    /// Every line, oldest first.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// The digest: FNV-1a 64 over the lines, each followed by a newline.
    pub fn digest(&self) -> u64 {
        if self.lines.is_empty() {
            return 0;
        }
        self.hash
    }

    /// The whole trace as text.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for l in &self.lines {
            s.push_str(l);
            s.push('\n');
        }
        s
    }
}

/// The schedules' generator: [`crate::link::sim::rng::Rng`] (xoshiro256** seeded through
/// SplitMix64, written out in this crate so no dependency update can change a trace), with
/// the draws the schedules need.
#[derive(Clone, Debug)]
pub struct Rng(SimRng);

impl Rng {
    /// The generator for `seed` (with a stream tag, so the schedule's draws and the
    /// network's never share a sequence).
    pub fn new(seed: u64, stream: u64) -> Rng {
        Rng(SimRng::new(
            seed ^ stream.wrapping_mul(0xd134_2543_de82_ef95),
        ))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (`n` > 0; 0 gives 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// A uniform float in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform float in `[lo, hi)`.
    pub fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// A duration of `lo..=hi` ms, in µs steps.
    pub fn ms(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_micros(self.range(lo * 1000, hi * 1000))
    }
}
