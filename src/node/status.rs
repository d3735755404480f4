//! What `sft3 status` shows: a snapshot of the daemon, as text for people and as JSON.
//!
//! The JSON is one object (keys always present, `null` when unknown):
//!
//! ```json
//! {"server":{"id":1,"name":"SFT-A","incarnation":1764037800000000000},
//!  "role":"primary","state":"mirrored-primary","state_reason":null,"mirrored":true,
//!  "serving":true,"advertising":true,"tracking":false,
//!  "peer":{"id":2,"name":"SFT-B","incarnation":1764037801000000000},"generation":7,
//!  "adapters":[{"name":"eth0","index":0,"carrier":true,"oper":"up","score":1000,
//!               "working":true,"peer_heard_ms_ago":3,"peer_longest_gap_us":5210}],
//!  "msl":{"state":"up","srtt_us":41,"retransmits":0,"frames_sent":5120,
//!         "frames_received":5118,"dropped":0,"longest_gap_us":5180},
//!  "last_decision":{"reason":"servers are mirrored","at":"2026-11-25T02:30:00.123456Z"},
//!  "volume":null}
//! ```
//!
//! `volume` is `null` without a `[volume]`; otherwise [`VolumeStatus::to_json`]'s object
//! (docs/config.md lists its keys), with the running resync's progress, rate and ETA.
//!
//! `role` is `"primary"`, `"secondary"` or `"none"`; `state` is the role machine's state in
//! the state packets' words (`starting`, `syncing-secondary`, `mirrored-primary`,
//! `mirrored-secondary`, `unmirrored-primary`, `shut-down`, `halted`) and `state_reason` says
//! why for the last two (`msl-failed`, `handed-over`, `operator`; `diverged`,
//! `inconsistent-disk`).
//!
//! The gaps (`peer_longest_gap_us` per adapter, `msl.longest_gap_us`) are the longest
//! interval seen between two consecutive valid heartbeats on that path since the daemon
//! started (for a LAN path, within one incarnation of the peer): how close each path came
//! to being declared silent (4 intervals, 20 ms by default).

use core::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::json::json_str;
use crate::node::volume::VolumeStatus;
use crate::role::RoleState;

/// A peer server, as the MSL handshake or its state packets named it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerSnapshot {
    /// Its server id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its incarnation (process start).
    pub incarnation: u64,
}

/// One LAN adapter's health.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterSnapshot {
    /// The interface name.
    pub name: String,
    /// Its adapter index (position in the configuration).
    pub index: u8,
    /// Carrier present.
    pub carrier: bool,
    /// The kernel's operstate (`up`, `down`, `dormant`, ...).
    pub oper: String,
    /// The health score, 0 to 1000.
    pub score: u16,
    /// Counted as working.
    pub working: bool,
    /// Time since the peer's last state packet on it (`None`: never heard).
    pub peer_heard_ms_ago: Option<u64>,
    /// The longest interval between two of the peer's state packets on it, µs (`None`:
    /// fewer than two heard).
    pub peer_longest_gap_us: Option<u64>,
}

/// The MSL's state and counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MslSnapshot {
    /// The session state (`connecting`, `up`, `silent`, `refused: ...`, `closed`).
    pub state: String,
    /// Smoothed round-trip time of the control class, once measured.
    pub srtt_us: Option<u64>,
    /// Data frames sent again.
    pub retransmits: u64,
    /// Frames sent.
    pub frames_sent: u64,
    /// Frames received.
    pub frames_received: u64,
    /// Frames dropped (invalid, unauthenticated, stale, or refused by the kernel).
    pub dropped: u64,
    /// The longest interval between two valid frames of a session, µs (0: none yet).
    pub longest_gap_us: u64,
}

/// The role machine's last decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecisionSnapshot {
    /// The notice text, with its evidence.
    pub reason: String,
    /// When (wall clock).
    pub at: SystemTime,
}

/// Everything `sft3 status` shows; the daemon builds one per request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusSnapshot {
    /// This server's id.
    pub server_id: u64,
    /// This server's name.
    pub server_name: String,
    /// This process's incarnation.
    pub incarnation: u64,
    /// The role machine's state.
    pub state: RoleState,
    /// Clients are served (the service was told to).
    pub serving: bool,
    /// The engine's network and name are advertised.
    pub advertising: bool,
    /// Changes are tracked for a later resync.
    pub tracking: bool,
    /// The peer, once known.
    pub peer: Option<PeerSnapshot>,
    /// The current generation (0: none yet).
    pub generation: u64,
    /// Every LAN adapter, in index order.
    pub adapters: Vec<AdapterSnapshot>,
    /// The MSL.
    pub msl: MslSnapshot,
    /// The last decision, if any.
    pub last_decision: Option<DecisionSnapshot>,
    /// The mirrored volume, when one is configured.
    pub volume: Option<VolumeStatus>,
}

impl StatusSnapshot {
    /// A snapshot of a server that has decided nothing yet: starting, no peer, no adapters.
    pub fn new(server_id: u64, server_name: &str, incarnation: u64) -> StatusSnapshot {
        StatusSnapshot {
            server_id,
            server_name: server_name.to_string(),
            incarnation,
            state: RoleState::Starting,
            serving: false,
            advertising: false,
            tracking: false,
            peer: None,
            generation: 0,
            adapters: Vec::new(),
            msl: MslSnapshot {
                state: "connecting".to_string(),
                ..MslSnapshot::default()
            },
            last_decision: None,
            volume: None,
        }
    }

    /// `"primary"`, `"secondary"` or `"none"`.
    pub fn role(&self) -> &'static str {
        if self.state.is_primary() {
            "primary"
        } else if self.state.is_secondary() {
            "secondary"
        } else {
            "none"
        }
    }

    /// True for the two mirrored states (the pair is protected).
    pub fn mirrored(&self) -> bool {
        matches!(
            self.state,
            RoleState::MirroredPrimary | RoleState::MirroredSecondary
        )
    }

    /// The state's name (`mirrored-primary`, ...).
    pub fn state_name(&self) -> &'static str {
        self.state.wire_role().name()
    }

    /// Why the server shut down or halted.
    pub fn state_reason(&self) -> Option<String> {
        match self.state {
            RoleState::ShutDown(r) => Some(r.to_string()),
            RoleState::Halted(r) => Some(r.to_string()),
            _ => None,
        }
    }

    /// The JSON object (one line, no trailing newline).
    pub fn to_json(&self) -> String {
        let mut s = String::with_capacity(512);
        let _ = write!(
            s,
            "{{\"server\":{{\"id\":{},\"name\":{},\"incarnation\":{}}}",
            self.server_id,
            json_str(&self.server_name),
            self.incarnation
        );
        let _ = write!(
            s,
            ",\"role\":{},\"state\":{},\"state_reason\":{},\"mirrored\":{}",
            json_str(self.role()),
            json_str(self.state_name()),
            opt_str(self.state_reason().as_deref()),
            self.mirrored()
        );
        let _ = write!(
            s,
            ",\"serving\":{},\"advertising\":{},\"tracking\":{}",
            self.serving, self.advertising, self.tracking
        );
        match &self.peer {
            None => s.push_str(",\"peer\":null"),
            Some(p) => {
                let _ = write!(
                    s,
                    ",\"peer\":{{\"id\":{},\"name\":{},\"incarnation\":{}}}",
                    p.id,
                    json_str(&p.name),
                    p.incarnation
                );
            }
        }
        let _ = write!(s, ",\"generation\":{},\"adapters\":[", self.generation);
        for (i, a) in self.adapters.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(
                s,
                "{{\"name\":{},\"index\":{},\"carrier\":{},\"oper\":{},\"score\":{},\
                 \"working\":{},\"peer_heard_ms_ago\":{},\"peer_longest_gap_us\":{}}}",
                json_str(&a.name),
                a.index,
                a.carrier,
                json_str(&a.oper),
                a.score,
                a.working,
                opt_num(a.peer_heard_ms_ago),
                opt_num(a.peer_longest_gap_us)
            );
        }
        let m = &self.msl;
        let _ = write!(
            s,
            "],\"msl\":{{\"state\":{},\"srtt_us\":{},\"retransmits\":{},\"frames_sent\":{},\
             \"frames_received\":{},\"dropped\":{},\"longest_gap_us\":{}}}",
            json_str(&m.state),
            opt_num(m.srtt_us),
            m.retransmits,
            m.frames_sent,
            m.frames_received,
            m.dropped,
            m.longest_gap_us
        );
        match &self.last_decision {
            None => s.push_str(",\"last_decision\":null"),
            Some(d) => {
                let _ = write!(
                    s,
                    ",\"last_decision\":{{\"reason\":{},\"at\":{}}}",
                    json_str(&d.reason),
                    json_str(&rfc3339(d.at))
                );
            }
        }
        match &self.volume {
            None => s.push_str(",\"volume\":null}"),
            Some(v) => {
                let _ = write!(s, ",\"volume\":{}}}", v.to_json());
            }
        }
        s
    }

    /// The text for people (several lines, each ending in a newline).
    pub fn to_text(&self) -> String {
        let mut s = String::with_capacity(512);
        let _ = writeln!(
            s,
            "server      {} (id {}, incarnation {})",
            self.server_name, self.server_id, self.incarnation
        );
        let _ = write!(s, "role        {} ({}", self.role(), self.state_name());
        if let Some(r) = self.state_reason() {
            let _ = write!(s, ": {r}");
        }
        let _ = writeln!(
            s,
            "){}",
            if self.mirrored() {
                ", mirrored"
            } else {
                ", not mirrored"
            }
        );
        let _ = writeln!(
            s,
            "service     serving {}, advertising {}, tracking changes {}",
            yes(self.serving),
            yes(self.advertising),
            yes(self.tracking)
        );
        match &self.peer {
            None => s.push_str("peer        none\n"),
            Some(p) => {
                let _ = writeln!(
                    s,
                    "peer        {} (id {}, incarnation {})",
                    p.name, p.id, p.incarnation
                );
            }
        }
        let _ = writeln!(s, "generation  {}", self.generation);
        let m = &self.msl;
        let _ = write!(s, "msl         {}", m.state);
        if let Some(rtt) = m.srtt_us {
            let _ = write!(s, ", srtt {rtt} us");
        }
        let _ = writeln!(
            s,
            ", sent {}, received {}, retransmits {}, dropped {}, longest gap {}",
            m.frames_sent,
            m.frames_received,
            m.retransmits,
            m.dropped,
            gap_text(Some(m.longest_gap_us).filter(|&us| us > 0))
        );
        s.push_str("adapters\n");
        for a in &self.adapters {
            let heard = match a.peer_heard_ms_ago {
                Some(ms) => format!(
                    "peer heard {ms} ms ago, longest gap {}",
                    gap_text(a.peer_longest_gap_us)
                ),
                None => "peer never heard".to_string(),
            };
            let _ = writeln!(
                s,
                "  {:<2} {:<15} carrier {:<3} oper {:<8} score {:>4} {:<11} {}",
                a.index,
                a.name,
                if a.carrier { "on" } else { "off" },
                a.oper,
                a.score,
                if a.working { "working" } else { "not working" },
                heard
            );
        }
        if let Some(v) = &self.volume {
            s.push_str(&v.to_text());
        }
        match &self.last_decision {
            None => s.push_str("decision    none yet\n"),
            Some(d) => {
                let _ = writeln!(s, "decision    {} at {}", d.reason, rfc3339(d.at));
            }
        }
        s
    }
}

/// A gap in µs as `1.234 ms` (`none` when unknown).
fn gap_text(us: Option<u64>) -> String {
    us.map_or_else(
        || "none".to_string(),
        |us| format!("{}.{:03} ms", us / 1000, us % 1000),
    )
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn opt_str(v: Option<&str>) -> String {
    v.map_or_else(|| "null".to_string(), json_str)
}

fn opt_num(v: Option<u64>) -> String {
    v.map_or_else(|| "null".to_string(), |n| n.to_string())
}

/// RFC 3339 UTC text with microseconds: `2026-11-25T02:30:00.123456Z` (times before 1970
/// print as the epoch).
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, mo, day) = crate::capture::civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{mo:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_micros()
    )
}
