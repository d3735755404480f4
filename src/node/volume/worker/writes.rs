//! Client writes (through the write path: mark, write, send, acknowledge) and the peer's
//! mirrored writes and verify messages, on the volume's thread.

use super::{text, ClientWrite, VolumeIo, Worker};
use crate::journal::mirror::{MirrorMsg, Mode, WriteAction, WriteId};
use crate::journal::Store;
use crate::msl::Priority;
use crate::node::volume::{ServiceOut, WriteDone, MAX_IO};
use crate::role::Severity;

impl<S: Store, I: VolumeIo> Worker<S, I> {
    // ---- client writes ----

    pub(super) fn client_write(
        &mut self,
        offset: u64,
        data: Vec<u8>,
        reply: tokio::sync::oneshot::Sender<Result<WriteDone, String>>,
    ) {
        let refuse = if let Some(f) = &self.failed {
            Some(format!("volume failed earlier: {f}"))
        } else if !self.serving {
            Some("this server is not serving: write to the primary".to_string())
        } else if data.is_empty() || data.len() as u64 > MAX_IO {
            Some(format!("a write is 1 to {MAX_IO} bytes"))
        } else if offset
            .checked_add(data.len() as u64)
            .is_none_or(|e| e > self.geometry.volume_size)
        {
            Some(format!(
                "bytes {offset}..{} are past the volume's end ({})",
                offset.saturating_add(data.len() as u64),
                self.geometry.volume_size
            ))
        } else {
            None
        };
        if let Some(why) = refuse {
            self.counts.1 += 1;
            let _ = reply.send(Err(why));
            return;
        }
        let regions = self.journal.regions_of(offset, data.len() as u64);
        let (id, version) = self.path.submit(regions);
        self.writes.insert(
            id,
            ClientWrite {
                offset,
                data,
                t0: self.io.now(),
                version,
                reply: Some(reply),
            },
        );
        self.run_path();
    }

    fn run_path(&mut self) {
        while let Some(a) = self.path.poll_action() {
            match a {
                WriteAction::Mark { id, regions } => match self.journal.mark(regions) {
                    Ok(_) => self.path.marked(id),
                    Err(e) => self.fail_write(id, text::JOURNAL_FAILED, e.to_string()),
                },
                WriteAction::WriteLocal { id } => {
                    let Some(w) = self.writes.get(&id) else {
                        continue;
                    };
                    let r = self
                        .data
                        .write_at(&w.data, w.offset)
                        .and_then(|_| self.data.sync());
                    let (regions, version) = (
                        self.journal.regions_of(w.offset, w.data.len() as u64),
                        w.version,
                    );
                    match r {
                        Ok(()) => {
                            if let Some(s) = self.source.as_mut() {
                                s.core.on_write(regions, version);
                            }
                            self.path.local_done(id);
                        }
                        Err(e) => self.fail_write(id, text::VOLUME_FAILED, e.to_string()),
                    }
                }
                WriteAction::SendPeer { id, version } => {
                    let Some(w) = self.writes.get(&id) else {
                        continue;
                    };
                    let m = MirrorMsg::Write {
                        version,
                        offset: w.offset,
                        data: w.data.clone(),
                    };
                    // Not sent (no session): the regions are dirty; a write that waits for
                    // the peer is released when the session's end is reported.
                    self.io.send(Priority::Event, m.encode());
                }
                WriteAction::Ack(id) => {
                    if let Some(mut w) = self.writes.remove(&id) {
                        self.counts.0 += 1;
                        let done = WriteDone {
                            version: w.version,
                            mirrored: self.path.mode() == Mode::Mirrored,
                            micros: self.io.now().saturating_sub(w.t0).as_micros() as u64,
                        };
                        if let Some(r) = w.reply.take() {
                            let _ = r.send(Ok(done));
                        }
                    }
                }
                // While a session copies regions, only its acks clear them (a verify's
                // mismatch may sit in a region this write touched only in part). Once it
                // sent its `End` no region was dirty: what a write dirtied since, its
                // clear undoes.
                WriteAction::Clear(run) if self.copying_done() => {
                    run.for_each(|r| self.journal.clear(r))
                }
                WriteAction::Clear(_) => {}
            }
        }
    }

    /// This server stopped serving (for [`ABANDON_AFTER`], or it is becoming the peer's
    /// resync target) while writes waited for the peer's copy, which may never come (a
    /// serving peer takes no writes): their outcome is unknown to the client (the local
    /// copy is durable and journaled, but the peer's data may be the one kept), so they
    /// are refused as such. Their regions stay dirty.
    pub(super) fn abandon_waiting(&mut self) {
        self.stopped_serving = None;
        for (_, mut w) in self.writes.drain() {
            self.counts.1 += 1;
            if let Some(r) = w.reply.take() {
                let _ = r.send(Err(
                    "this server stopped serving before the peer confirmed the write: it may or may not be kept".into(),
                ));
            }
        }
        self.path.release_waiting();
        self.run_path();
    }

    /// A write that cannot be made safe: refused, and no later write is taken.
    fn fail_write(&mut self, id: WriteId, what: &'static str, why: String) {
        if self.failed.is_none() {
            self.io
                .tell(ServiceOut::Notice(Severity::Critical, what, why.clone()));
        }
        self.failed = Some(why.clone());
        self.counts.1 += 1;
        if let Some(mut w) = self.writes.remove(&id) {
            if let Some(r) = w.reply.take() {
                let _ = r.send(Err(format!("{what}: {why}")));
            }
        }
    }

    pub(super) fn read(&self, offset: u64, len: u64) -> Result<Vec<u8>, String> {
        if len > MAX_IO
            || offset
                .checked_add(len)
                .is_none_or(|e| e > self.geometry.volume_size)
        {
            return Err(format!(
                "a read is at most {MAX_IO} bytes within the volume ({} bytes)",
                self.geometry.volume_size
            ));
        }
        let mut buf = vec![0u8; len as usize];
        self.data
            .read_at(&mut buf, offset)
            .map_err(|e| format!("reading the volume: {e}"))?;
        Ok(buf)
    }

    pub(super) fn set_mode(&mut self, mode: Mode) {
        self.path.set_mode(mode);
        self.run_path();
    }

    // ---- the peer's mirrored writes ----

    pub(super) fn on_mirror(&mut self, m: &[u8]) {
        match MirrorMsg::decode(m) {
            Ok(MirrorMsg::Durable { version }) => {
                self.path.peer_done(version);
                self.run_path();
            }
            Ok(MirrorMsg::Write {
                version,
                offset,
                data,
            }) => {
                // A serving server never takes the peer's writes (two primaries: the
                // role machine settles it); one past the end is a bug of the peer's.
                let end = offset.checked_add(data.len() as u64);
                if self.serving || end.is_none_or(|e| e > self.geometry.volume_size) {
                    self.counts.1 += 1;
                    return;
                }
                // Late, from before the resync session: its bytes are in the copies.
                if self.target.from_before_session(version) {
                    return;
                }
                let regions = self.journal.regions_of(offset, data.len() as u64);
                if let Err(e) = self.apply_peer_write(offset, &data, version, regions.clone()) {
                    self.report_io(e.to_string());
                    return;
                }
                self.counts.2 += 1;
                self.target.on_write(regions, version);
                self.after_sync
                    .push((Priority::Event, MirrorMsg::Durable { version }.encode()));
            }
            Ok(MirrorMsg::VerifyRequest { id, first, count }) => {
                if !self.serving {
                    self.on_verify_request(id, first, count);
                }
            }
            Ok(MirrorMsg::VerifyHashes { id, first, hashes }) => {
                self.on_verify_hashes(id, first, &hashes);
            }
            Err(_) => self.counts.1 += 1,
        }
    }

    /// Writes the peer's write (over `regions`), except over regions a resync copy holding
    /// it already replaced (the copy is newer: see
    /// [`crate::journal::resync::ResyncTarget::superseded`]).
    fn apply_peer_write(
        &mut self,
        offset: u64,
        data: &[u8],
        version: u64,
        regions: std::ops::Range<u64>,
    ) -> std::io::Result<()> {
        let rs = u64::from(self.geometry.region_size);
        let end = offset + data.len() as u64;
        if !regions.clone().any(|r| self.target.superseded(r, version)) {
            return self.data.write_at(data, offset);
        }
        for r in regions {
            if self.target.superseded(r, version) {
                continue;
            }
            let (a, b) = ((r * rs).max(offset), ((r + 1) * rs).min(end));
            self.data
                .write_at(&data[(a - offset) as usize..(b - offset) as usize], a)?;
        }
        Ok(())
    }

    pub(super) fn report_io(&mut self, why: String) {
        if self.failed.is_none() {
            self.io.tell(ServiceOut::Notice(
                Severity::Critical,
                text::VOLUME_FAILED,
                why.clone(),
            ));
        }
        self.failed = Some(why);
    }

    /// One sync for everything applied this turn, then the answers that promised it.
    pub(super) fn sync_and_answer(&mut self) {
        if self.after_sync.is_empty() {
            return;
        }
        if let Err(e) = self.data.sync() {
            // Unanswered: the peer keeps its regions dirty and resends.
            self.report_io(e.to_string());
            self.after_sync.clear();
            return;
        }
        for (p, m) in std::mem::take(&mut self.after_sync) {
            self.io.send(p, m);
        }
    }
}
