//! Adapter health: how well each LAN adapter works, its score, whether this server still
//! hears the network (scenario 5), and whether the peer is "more functional" (scenario 4).
//!
//! **Sans-IO.** [`Health`] never reads a clock, a file or a socket. The driver passes `now`
//! (a [`Duration`] since its epoch), feeds it link status changes
//! ([`Health::handle_link`]), counter samples ([`Health::handle_counters`], read with
//! [`sysfs::read_counters`], the only I/O here), received IPX frames
//! ([`Health::handle_frame`]), "the peer's verified state packet arrived on this adapter"
//! ([`Health::handle_peer_state`]) and timers ([`Health::handle_timeout`] at
//! [`Health::poll_timeout`]); it sends what [`Health::poll_probe`] returns. It reads the
//! result as [`AdapterHealth`] entries and a [`Summary`] for the state packet, an
//! [`Explanation`] per adapter for notices, and [`NetworkEvidence`] for scenario 5.
//!
//! **The score** of one adapter, 0 to [`MAX_SCORE`], is computed from its state at `now`:
//!
//! | condition | effect |
//! |---|---|
//! | no carrier, or operstate neither up nor unknown, or not reported yet | score 0, not working; nothing below counts |
//! | link usable | base 600 |
//! | the peer's state packet heard on it within `peer_fresh` (20 ms) | +200, flag `HEARS_PEER` |
//! | another station's IPX frame heard on it within `station_fresh` (3 s) | +200, flag `HEARS_IPX` |
//! | errors over the last `error_window` (1 s): any / ≥ 1 % / ≥ 10 % of frames | −100 / −250 / −500 |
//! | a station was heard on it before, but none for `station_fresh` | −100 ("gone quiet") |
//! | the last `probe_miss_limit` (3) probes unanswered, after one was answered | −200 |
//! | the result | clamped to 0 ..= 1000 |
//! | `WORKING` | link usable and score ≥ `working_min` (500) |
//!
//! Errors are `rx_errors + tx_errors + tx_dropped` against all frames (`rx_packets +
//! tx_packets` plus those): `rx_dropped` is left out because Linux counts in it frames that
//! no protocol wanted. The score is monotone: every bad condition only lowers it, every good
//! one only raises it. An adapter whose segment holds only the two servers never hears a
//! station and is never marked down for it: "quiet" and "probes unanswered" need a station
//! to have been heard before. A segment gone quiet alone (500) still counts as working,
//! since an idle segment is not a broken one; quiet with probes unanswered (300) does not,
//! nor does a usable link with heavy errors (100). Frames from our own MACs and the peer's
//! never count as stations (the peer's engine advertises RIP and SAP when it is primary).
//!
//! **Probes**: every `probe_interval` (1 s) each adapter broadcasts a RIP general request
//! or an IPX diagnostic configuration request (or both in turn, [`ProbeKind`]) in its
//! framing, from socket [`PROBE_SOCKET`]. Any RIP or SAP response or diagnostic reply from
//! another station within `probe_timeout` (500 ms) answers it; any IPX frame from another
//! station counts as a station heard. Station frames are not authenticated (nothing on a
//! NetWare segment is), so a forger on the segment can make an adapter look better: the
//! peer's own state packets, which are, weigh as much as all stations together.
//!
//! **More functional** (scenario 4): [`FunctionalComparator`] compares [`Summary`] values
//! with hysteresis; see its module ([`compare`]).
//!
//! | module | what |
//! |---|---|
//! | [`monitor`] | [`AdapterMonitor`]: one adapter's state and score |
//! | [`probe`] | probe frames, and what a received frame says about the segment |
//! | [`set`] | [`Health`]: every adapter, probes, timers, evidence |
//! | [`compare`] | [`FunctionalComparator`] |
//! | [`sysfs`] | reading `/sys/class/net/IF/statistics` |

pub mod compare;
pub mod monitor;
pub mod probe;
pub mod set;
pub mod sysfs;

use core::fmt;
use core::time::Duration;

pub use compare::{ComparatorConfig, FunctionalComparator, Verdict};
pub use monitor::{error_penalty, AdapterMonitor, Counters, Explanation, ScoreItem, StationSeen};
pub use probe::{heard_from_frame, probe_frame, Heard, ProbeKind, StationKind, PROBE_SOCKET};
pub use set::{AdapterEvidence, FrameCounters, Health, NetworkEvidence, Probe};

pub use crate::wire::state::{AdapterFlags, AdapterHealth, MAX_SCORE};
use crate::wire::{Framing, MacAddr, Net};

/// Score of a usable link before bonuses and deductions.
pub const BASE_SCORE: u16 = 600;
/// Bonus for hearing the peer's state packets.
pub const PEER_BONUS: u16 = 200;
/// Bonus for hearing other stations.
pub const STATION_BONUS: u16 = 200;
/// Deduction when a station was heard before but none lately.
pub const QUIET_PENALTY: u16 = 100;
/// Deduction when probes that used to be answered are not any more.
pub const PROBE_PENALTY: u16 = 200;
/// Error-ratio steps (at least this many bad frames per mille of all frames, and at least
/// one) and their deductions; the largest step reached applies.
pub const ERROR_STEPS: [(u32, u16); 3] = [(0, 100), (10, 250), (100, 500)];

/// Timers and thresholds of the health layer (DESIGN §5 timing where it applies).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthConfig {
    /// The peer counts as heard on an adapter this long after its last state packet there
    /// (4 state packet intervals: the same silence threshold as the paths).
    pub peer_fresh: Duration,
    /// Another station counts as heard this long after its last frame.
    pub station_fresh: Duration,
    /// Window over which counter deltas give the error ratio.
    pub error_window: Duration,
    /// Interval between probes on each adapter (`None`: no probes).
    pub probe_interval: Option<Duration>,
    /// A probe not answered within this is a miss.
    pub probe_timeout: Duration,
    /// Consecutive misses before the probe deduction applies.
    pub probe_miss_limit: u32,
    /// What the probes ask.
    pub probe_kind: ProbeKind,
    /// Lowest score of a working adapter.
    pub working_min: u16,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            peer_fresh: Duration::from_millis(20),
            station_fresh: Duration::from_secs(3),
            error_window: Duration::from_secs(1),
            probe_interval: Some(Duration::from_secs(1)),
            probe_timeout: Duration::from_millis(500),
            probe_miss_limit: 3,
            probe_kind: ProbeKind::Rip,
            working_min: 500,
        }
    }
}

/// Who one LAN adapter is, for probes and for telling our frames from others'.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AdapterConfig {
    /// The index announced in state packets.
    pub index: u8,
    /// The adapter's MAC.
    pub mac: MacAddr,
    /// The IPX framing probes are sent in.
    pub framing: Framing,
    /// The segment's IPX network number ([`Net::LOCAL`] when not known).
    pub net: Net,
}

impl AdapterConfig {
    /// An adapter in Ethernet_II framing on an unnumbered segment.
    pub fn new(index: u8, mac: MacAddr) -> AdapterConfig {
        AdapterConfig {
            index,
            mac,
            framing: Framing::EthernetII,
            net: Net::LOCAL,
        }
    }
}

/// How functional one server is: what "more functional" compares (scenario 4), and what
/// a state packet's summary fields carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Summary {
    /// Adapters in total.
    pub adapters: u8,
    /// Adapters with the `WORKING` flag.
    pub working: u8,
    /// Sum of every adapter's score.
    pub total_score: u32,
}

impl Summary {
    /// The order of [`StateRepr::functional_rank`](crate::wire::state::StateRepr::functional_rank):
    /// working adapters first, then total score.
    pub fn rank(&self) -> (u8, u32) {
        (self.working, self.total_score)
    }

    /// The summary a state packet announces. The adapter count is the number of entries
    /// listed (at most 8), or the working count if that is larger.
    pub fn from_state(s: &crate::wire::state::StateRepr) -> Summary {
        Summary {
            adapters: (s.adapters.len() as u8).max(s.working_adapters),
            working: s.working_adapters,
            total_score: s.total_score,
        }
    }
}

impl fmt::Display for Summary {
    /// `1/2 adapters working, score 1000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} adapters working, score {}",
            self.working, self.adapters, self.total_score
        )
    }
}
