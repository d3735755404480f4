//! The volume's part of `sft3 status`: the journal, the write path, and a running resync's
//! progress (percentage, rate, ETA, as `drbdadm status` shows it).

use core::fmt::Write as _;

use crate::json::json_str;

/// A resync in progress.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResyncStatus {
    /// `"source"` or `"target"`.
    pub role: &'static str,
    /// Its session id.
    pub session: u64,
    /// Regions copied (acknowledged by the target, or applied here as the target).
    pub done: u64,
    /// Regions planned (writes during the resync may add some).
    pub total: u64,
    /// Region bytes copied in this session.
    pub bytes: u64,
    /// Time since the session began, µs.
    pub micros: u64,
}

impl ResyncStatus {
    fn seconds(&self) -> f64 {
        self.micros as f64 / 1e6
    }

    /// Percent done (100 when nothing was planned).
    pub fn percent(&self) -> f64 {
        if self.total == 0 {
            100.0
        } else {
            100.0 * self.done.min(self.total) as f64 / self.total as f64
        }
    }

    /// Bytes per second so far.
    pub fn rate(&self) -> f64 {
        if self.seconds() > 0.0 {
            self.bytes as f64 / self.seconds()
        } else {
            0.0
        }
    }

    /// Seconds left at the rate so far (`None` before any progress).
    pub fn eta(&self) -> Option<f64> {
        (self.done > 0 && self.seconds() > 0.0).then(|| {
            self.total.saturating_sub(self.done) as f64 * self.seconds() / self.done as f64
        })
    }
}

/// An online verify, running or the last one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyStatus {
    /// Its id.
    pub id: u64,
    /// Still running.
    pub running: bool,
    /// Regions compared.
    pub done: u64,
    /// Regions in the volume.
    pub total: u64,
    /// Regions that differed (marked for resync).
    pub mismatches: u64,
    /// Time taken so far, µs.
    pub micros: u64,
    /// Why it stopped early.
    pub error: Option<String>,
}

/// The volume, as `sft3 status` shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VolumeStatus {
    /// The volume file or device.
    pub path: String,
    /// Its size, bytes.
    pub size: u64,
    /// Bytes per region.
    pub region_size: u32,
    /// Regions in the volume.
    pub regions: u64,
    /// Regions that may differ from the peer's.
    pub dirty_regions: u64,
    /// Memory of the dirty bitmap per TiB of volume at this region size, bytes.
    pub bitmap_bytes_per_tib: u64,
    /// The volume may serve (no resync into it was cut short).
    pub consistent: bool,
    /// Generation history, newest first.
    pub history: Vec<u64>,
    /// The generation tracking started from (0: not tracking).
    pub tracked_since: u64,
    /// How client writes are protected: `unmirrored`, `resyncing`, `mirrored`, or
    /// `secondary` (this server applies the peer's).
    pub mode: &'static str,
    /// How the journal was found at start: `trusted`, `created`, `rebuilt: why`.
    pub journal: String,
    /// Client writes acknowledged.
    pub writes: u64,
    /// Client writes refused or failed.
    pub write_errors: u64,
    /// The peer's mirrored writes applied here.
    pub peer_writes: u64,
    /// A resync, while one runs.
    pub resync: Option<ResyncStatus>,
    /// The running verify, else the last one.
    pub verify: Option<VerifyStatus>,
}

impl VolumeStatus {
    /// The JSON object.
    pub fn to_json(&self) -> String {
        let mut s = String::with_capacity(256);
        let hist: Vec<String> = self.history.iter().map(u64::to_string).collect();
        let _ = write!(
            s,
            "{{\"path\":{},\"size\":{},\"region_size\":{},\"regions\":{},\"dirty_regions\":{},\
             \"bitmap_bytes_per_tib\":{},\"consistent\":{},\"history\":[{}],\"tracked_since\":{},\
             \"mode\":{},\"journal\":{},\"writes\":{},\"write_errors\":{},\"peer_writes\":{},",
            json_str(&self.path),
            self.size,
            self.region_size,
            self.regions,
            self.dirty_regions,
            self.bitmap_bytes_per_tib,
            self.consistent,
            hist.join(","),
            self.tracked_since,
            json_str(self.mode),
            json_str(&self.journal),
            self.writes,
            self.write_errors,
            self.peer_writes,
        );
        match &self.verify {
            None => s.push_str("\"verify\":null,"),
            Some(v) => {
                let _ = write!(
                    s,
                    "\"verify\":{{\"id\":{},\"running\":{},\"done\":{},\"total\":{},\
                     \"mismatches\":{},\"seconds\":{:.3},\"error\":{}}},",
                    v.id,
                    v.running,
                    v.done,
                    v.total,
                    v.mismatches,
                    v.micros as f64 / 1e6,
                    v.error.as_deref().map_or("null".to_string(), json_str)
                );
            }
        }
        s.push_str("\"resync\":");
        match &self.resync {
            None => s.push_str("null}"),
            Some(r) => {
                let _ = write!(
                    s,
                    "{{\"role\":{},\"session\":{},\"done\":{},\"total\":{},\"percent\":{:.1},\
                     \"bytes\":{},\"bytes_per_s\":{:.0},\"eta_s\":{}}}}}",
                    json_str(r.role),
                    r.session,
                    r.done,
                    r.total,
                    r.percent(),
                    r.bytes,
                    r.rate(),
                    r.eta().map_or("null".to_string(), |e| format!("{e:.1}"))
                );
            }
        }
        s
    }

    /// Lines for the text status (each ends in a newline).
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "volume      {} ({} MiB, {} KiB regions), {}, {}",
            self.path,
            self.size >> 20,
            self.region_size >> 10,
            if self.consistent {
                "consistent"
            } else {
                "INCONSISTENT"
            },
            self.mode
        );
        let _ = writeln!(
            s,
            "journal     {}; {} of {} regions dirty; bitmap {} KiB per TiB",
            self.journal,
            self.dirty_regions,
            self.regions,
            self.bitmap_bytes_per_tib >> 10
        );
        if let Some(v) = &self.verify {
            let _ = writeln!(
                s,
                "verify      {} {}/{} regions, {} differ, {:.1} s{}",
                if v.running { "running" } else { "last" },
                v.done,
                v.total,
                v.mismatches,
                v.micros as f64 / 1e6,
                v.error
                    .as_deref()
                    .map_or(String::new(), |e| format!(" ({e})"))
            );
        }
        if let Some(r) = &self.resync {
            let width = 30usize;
            let filled = ((r.percent() / 100.0) * width as f64) as usize;
            let _ = writeln!(
                s,
                "resync      {} [{}{}] {:.1}% ({}/{} regions), {:.1} MiB/s, eta {}",
                r.role,
                "#".repeat(filled.min(width)),
                ".".repeat(width - filled.min(width)),
                r.percent(),
                r.done,
                r.total,
                r.rate() / (1 << 20) as f64,
                r.eta()
                    .map_or("unknown".to_string(), |e| format!("{e:.1} s"))
            );
        }
        s
    }
}
