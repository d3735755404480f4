//! Online verify (`sft3 ctl verify`): the primary hashes its regions and asks the secondary
//! for the same regions' hashes over the MSL event class, behind every write sent before
//! the request, so both hash the same writes. A mismatch is reported, marked dirty and
//! copied by a short resync while the pair stays mirrored.

use std::collections::BTreeMap;

use super::{text, VolumeIo, Worker};
use crate::journal::mirror::{MirrorMsg, Mode, MAX_VERIFY_REGIONS};
use crate::journal::Store;
use crate::msl::Priority;
use crate::node::volume::status::VerifyStatus;
use crate::node::volume::ServiceOut;
use crate::role::{ResyncKind, ResyncRole, Severity};

/// Verify requests in flight.
const IN_FLIGHT: usize = 4;
/// Bytes hashed per request (at most [`MAX_VERIFY_REGIONS`] regions).
const BATCH_BYTES: u64 = 4 << 20;

/// A verify run on the primary.
pub(in crate::node::volume) struct VerifyRun {
    id: u64,
    next: u64,
    /// Our hashes per request, by first region.
    waiting: BTreeMap<u64, Vec<[u8; 16]>>,
    mismatches: Vec<u64>,
    began: std::time::Duration,
}

impl<S: Store, I: VolumeIo> Worker<S, I> {
    /// Starts a verify; why not, when it cannot.
    pub(super) fn start_verify(&mut self) -> Result<String, String> {
        if !self.serving || self.path.mode() != Mode::Mirrored || self.source.is_some() {
            return Err(format!(
                "verify needs a mirrored pair, run on the primary (this server: {})",
                self.mode_name()
            ));
        }
        if self.verify.is_some() {
            return Err("a verify is running already".into());
        }
        let id = self.next_id();
        self.verify = Some(VerifyRun {
            id,
            next: 0,
            waiting: BTreeMap::new(),
            mismatches: Vec::new(),
            began: self.io.now(),
        });
        Ok(format!(
            "verify {id:016x} started: {} regions",
            self.geometry.regions
        ))
    }

    fn batch(&self) -> u64 {
        (BATCH_BYTES / u64::from(self.geometry.region_size)).clamp(1, MAX_VERIFY_REGIONS.into())
    }

    /// BLAKE3 of regions `first..first + count` (cut at the volume's end), 16 bytes each.
    fn hashes(&mut self, first: u64, count: u64) -> Result<Vec<[u8; 16]>, String> {
        let rs = u64::from(self.geometry.region_size);
        let end = (first + count).min(self.geometry.regions);
        let mut buf = vec![0u8; rs as usize];
        let mut out = Vec::with_capacity((end.saturating_sub(first)) as usize);
        for r in first..end {
            let off = r * rs;
            let len = rs.min(self.geometry.volume_size - off) as usize;
            self.data
                .read_at(&mut buf[..len], off)
                .map_err(|e| format!("reading region {r}: {e}"))?;
            let mut h = [0u8; 16];
            h.copy_from_slice(&blake3::hash(&buf[..len]).as_bytes()[..16]);
            out.push(h);
        }
        Ok(out)
    }

    /// Sends the next requests (after the turn's client writes, like the resync).
    pub(super) fn pump_verify(&mut self) {
        let batch = self.batch();
        loop {
            let Some(v) = self.verify.as_ref() else {
                return;
            };
            if v.waiting.len() >= IN_FLIGHT || v.next >= self.geometry.regions {
                break;
            }
            let (id, first) = (v.id, v.next);
            let ours = match self.hashes(first, batch) {
                Ok(h) => h,
                Err(e) => return self.end_verify(Some(e)),
            };
            let count = ours.len() as u32;
            if let Some(v) = self.verify.as_mut() {
                v.next = first + u64::from(count);
                v.waiting.insert(first, ours);
            }
            let m = MirrorMsg::VerifyRequest { id, first, count };
            if !self.io.send(Priority::Event, m.encode()) {
                return self.end_verify(Some("the MSL refused the request".into()));
            }
        }
        let done = self
            .verify
            .as_ref()
            .is_some_and(|v| v.waiting.is_empty() && v.next >= self.geometry.regions);
        if done {
            self.end_verify(None);
        }
    }

    /// The secondary's side: hash and answer.
    pub(super) fn on_verify_request(&mut self, id: u64, first: u64, count: u32) {
        match self.hashes(first, count.into()) {
            Ok(hashes) => {
                let m = MirrorMsg::VerifyHashes { id, first, hashes };
                self.io.send(Priority::Event, m.encode());
            }
            Err(e) => self.report_io(e),
        }
    }

    /// The primary's side: compare; mark what differs.
    pub(super) fn on_verify_hashes(&mut self, id: u64, first: u64, theirs: &[[u8; 16]]) {
        let Some(v) = self.verify.as_mut().filter(|v| v.id == id) else {
            return;
        };
        let Some(ours) = v.waiting.remove(&first) else {
            return;
        };
        let bad: Vec<u64> = ours
            .iter()
            .enumerate()
            .filter(|(i, h)| theirs.get(*i) != Some(h))
            .map(|(i, _)| first + i as u64)
            .collect();
        v.mismatches.extend(&bad);
        for r in bad {
            if let Err(e) = self.journal.mark(r..r + 1) {
                self.report_io(e.to_string());
            }
        }
    }

    /// Ends the run (an error, or done); a mismatch starts a short resync.
    pub(super) fn end_verify(&mut self, error: Option<String>) {
        let Some(v) = self.verify.take() else { return };
        let now = self.io.now();
        let n = v.mismatches.len();
        let mut listed: Vec<String> = v.mismatches.iter().take(16).map(u64::to_string).collect();
        if n > 16 {
            listed.push(format!("and {} more", n - 16));
        }
        let ev = match &error {
            Some(e) => format!("aborted: {e}"),
            None if n == 0 => format!(
                "{} regions equal in {:.1} s",
                self.geometry.regions,
                now.saturating_sub(v.began).as_secs_f64()
            ),
            None => format!(
                "{n} of {} regions differ (regions {}): marked for resync",
                self.geometry.regions,
                listed.join(", ")
            ),
        };
        let severity = if n > 0 || error.is_some() {
            Severity::Warning
        } else {
            Severity::Info
        };
        self.io
            .tell(ServiceOut::Notice(severity, text::VERIFY_DONE, ev));
        self.last_verify = Some(VerifyStatus {
            id: v.id,
            running: false,
            done: v.next.min(self.geometry.regions),
            total: self.geometry.regions,
            mismatches: n as u64,
            micros: now.saturating_sub(v.began).as_micros() as u64,
            error,
        });
        if n > 0 && self.serving && self.path.mode() == Mode::Mirrored && self.source.is_none() {
            self.start_resync(ResyncRole::Source, ResyncKind::Incremental);
            // The peer's role machine does not know of it: the peer takes it as the
            // mirrored secondary it is.
            if let Some(s) = self.source.as_mut() {
                s.core.set_repair();
            }
        }
    }

    /// The verify's status: the running one, else the last.
    pub(super) fn verify_status(&self) -> Option<VerifyStatus> {
        match &self.verify {
            Some(v) => Some(VerifyStatus {
                id: v.id,
                running: true,
                done: v.next.saturating_sub(v.waiting.len() as u64 * self.batch()),
                total: self.geometry.regions,
                mismatches: v.mismatches.len() as u64,
                micros: self.io.now().saturating_sub(v.began).as_micros() as u64,
                error: None,
            }),
            None => self.last_verify.clone(),
        }
    }
}
