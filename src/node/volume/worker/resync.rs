//! The volume thread's generations and resync sessions (source and target ends).

use arrayvec::ArrayVec;

use super::{mix, text, SourceRun, TargetRun, VolumeIo, Worker};
use crate::journal::mirror::Mode;
use crate::journal::resync::{
    decode_region, region_header, ResyncMsg, ResyncSource, SourceAction, SourceState, TargetAction,
    MAX_DIRTY_RUNS, REGION_HEADER,
};
use crate::journal::{JournalState, Store};
use crate::msl::{Priority, MAX_HISTORY};
use crate::node::volume::ServiceOut;
use crate::role::{Input, ResyncKind, ResyncProgress, ResyncRole, Severity};

impl<S: Store, I: VolumeIo> Worker<S, I> {
    // ---- generations ----

    pub(super) fn start_tracking(&mut self) {
        let mut st = self.journal.state();
        let old = st.history.first().copied();
        let id = self.next_id();
        let mut h: ArrayVec<u64, MAX_HISTORY> = ArrayVec::new();
        h.push(id);
        h.extend(st.history.iter().copied().take(MAX_HISTORY - 1));
        // Already tracking: the bitmap still covers everything since that generation.
        if st.tracked_since == 0 {
            st.tracked_since = old.unwrap_or(id);
        }
        st.history = h;
        self.save_state(st);
        if self.path.mode() == Mode::Mirrored {
            self.set_mode(Mode::Unmirrored);
        }
        let ev = format!(
            "generation {id:016x}, tracked since {:016x}",
            self.journal.state().tracked_since
        );
        self.io
            .tell(ServiceOut::Notice(Severity::Info, text::NEW_GENERATION, ev));
    }

    pub(super) fn stop_tracking(&mut self) {
        let mut st = self.journal.state();
        st.tracked_since = 0;
        self.save_state(st);
        self.set_mode(Mode::Mirrored);
    }

    /// Writes the state durably and tells the role machine.
    pub(super) fn save_state(&mut self, st: JournalState) {
        if let Err(e) = self.journal.set_state(st.clone()) {
            self.report_io(e.to_string());
        }
        self.io.tell(ServiceOut::Input(Input::Generations {
            history: st.history,
            tracked_since: st.tracked_since,
        }));
    }

    pub(super) fn next_id(&mut self) -> u64 {
        self.ids = self.ids.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.ids).max(1)
    }

    // ---- resync ----

    pub(super) fn start_resync(&mut self, role: ResyncRole, kind: ResyncKind) {
        match role {
            ResyncRole::Target => {
                // The peer's data wins: a copy this server was sending ends (its regions
                // stay dirty). The source's `Begin` starts the session; it may be here
                // already.
                self.end_source();
                self.abandon_waiting();
                self.target_run = None;
                self.accepting = true;
                self.expect_begin = true;
                self.held_bytes = 0;
                for (p, m) in std::mem::take(&mut self.held) {
                    if p == Priority::Event {
                        self.on_mirror(&m);
                    } else {
                        self.on_resync_msg(&m);
                    }
                }
            }
            ResyncRole::Source => {
                if kind == ResyncKind::Full {
                    if let Err(e) = self.journal.mark_all() {
                        self.report_io(e.to_string());
                        return;
                    }
                }
                // No write waits for the peer while a session runs (one waiting now is
                // answered on the local copy; its regions stay dirty and are copied):
                // the target drops the writes from before the session (see
                // `crate::journal::resync`).
                self.set_mode(Mode::Resyncing);
                // No engine image yet (a later issue): that phase is empty.
                self.input(ResyncProgress::ImageDone);
                let session = self.next_id();
                let mut core = ResyncSource::new(
                    session,
                    self.journal.dirty_count(),
                    self.cfg.resync_window,
                    self.path.version(),
                );
                core.set_history(&self.journal.state().history);
                let ev = format!(
                    "{kind:?}, as the source, {} of {} regions, session {session:016x}",
                    self.journal.dirty_count(),
                    self.geometry.regions
                );
                self.io
                    .tell(ServiceOut::Notice(Severity::Info, text::RESYNC_BEGUN, ev));
                self.source = Some(SourceRun {
                    core,
                    began: self.io.now(),
                    bytes: 0,
                    regions: 0,
                });
                self.budget = 0.0;
                self.budget_at = self.io.now();
            }
        }
    }

    /// A resync this server was the source of ends unfinished (the role machine moved
    /// on, or the session ended): what was not acknowledged stays dirty.
    pub(super) fn end_source(&mut self) {
        self.source = None;
        if self.path.mode() == Mode::Resyncing {
            self.set_mode(Mode::Unmirrored);
        }
    }

    pub(super) fn stop_accepting(&mut self) {
        self.accepting = false;
        self.held.clear();
        self.held_bytes = 0;
    }

    pub(super) fn input(&mut self, p: ResyncProgress) {
        self.io.tell(ServiceOut::Input(Input::Resync(p)));
    }

    /// No resync session copies regions (none runs, or its `End` was sent).
    pub(super) fn copying_done(&self) -> bool {
        self.source
            .as_ref()
            .is_none_or(|s| matches!(s.core.state(), SourceState::Ending | SourceState::Complete))
    }

    pub(super) fn resync_wants_time(&self) -> bool {
        self.source.is_some() && self.cfg.resync_rate > 0
    }

    pub(super) fn on_resync_msg(&mut self, m: &[u8]) {
        // A region's bytes stay where they arrived: the core needs only the numbers.
        let (msg, data) = match decode_region(m) {
            Some((session, region, version, data)) => (
                ResyncMsg::Region {
                    session,
                    region,
                    version,
                    data: Vec::new(),
                },
                data,
            ),
            None => match ResyncMsg::decode(m) {
                Ok(msg) => (msg, &[][..]),
                Err(_) => {
                    self.counts.1 += 1;
                    return;
                }
            },
        };
        match msg {
            ResyncMsg::Ready { .. }
            | ResyncMsg::Ack { .. }
            | ResyncMsg::Done { .. }
            | ResyncMsg::Dirty { .. } => {
                let Some(s) = self.source.as_mut() else {
                    return;
                };
                let acts = s.core.on_msg(&msg);
                self.source_actions(acts);
            }
            ResyncMsg::Begin { .. } | ResyncMsg::Region { .. } | ResyncMsg::End { .. } => {
                if self.serving {
                    self.counts.1 += 1;
                    return;
                }
                if matches!(msg, ResyncMsg::End { .. }) {
                    // Everything applied before must be durable before "consistent".
                    self.sync_and_answer();
                }
                let act = self.target.on_msg(&msg);
                self.target_action(act, msg, data);
            }
        }
    }

    pub(super) fn target_action(&mut self, act: Option<TargetAction>, msg: ResyncMsg, data: &[u8]) {
        match act {
            None => {}
            Some(TargetAction::MarkInconsistentThenSend(ready)) => {
                let session = self.target.session().unwrap_or(0);
                let mut st = self.journal.state();
                st.consistent = false;
                if let Err(e) = self.journal.set_state(st) {
                    self.report_io(e.to_string());
                    return;
                }
                let total = match msg {
                    ResyncMsg::Begin { regions, .. } => regions,
                    _ => 0,
                };
                self.input(ResyncProgress::ImageDone);
                self.send_own_dirty(session);
                self.io.send(Priority::Bulk, ready.encode());
                self.target_run = Some(TargetRun {
                    session,
                    began: self.io.now(),
                    bytes: 0,
                    done: 0,
                    total: total + self.journal.dirty_count(),
                });
            }
            Some(TargetAction::WriteThenSend { region, ack }) => {
                let off = region * u64::from(self.geometry.region_size);
                let fits = off + data.len() as u64 <= self.geometry.volume_size;
                if !fits {
                    self.counts.1 += 1;
                    return;
                }
                if let Err(e) = self.data.write_at(data, off) {
                    self.report_io(e.to_string());
                    return;
                }
                if let Some(t) = self.target_run.as_mut() {
                    t.bytes += data.len() as u64;
                    t.done += 1;
                }
                self.after_sync.push((Priority::Bulk, ack.encode()));
            }
            Some(TargetAction::Send(ack)) => {
                if let Some(t) = self.target_run.as_mut() {
                    t.done += 1;
                }
                self.after_sync.push((Priority::Bulk, ack.encode()));
            }
            Some(TargetAction::MarkConsistentThenSend(done)) => {
                let ResyncMsg::End { history, .. } = msg else {
                    return;
                };
                // Every region either side marked is the source's copy now.
                let dirty: Vec<u64> = self.journal.dirty().collect();
                dirty.into_iter().for_each(|r| self.journal.clear(r));
                let st = JournalState {
                    history: history.iter().copied().take(MAX_HISTORY).collect(),
                    tracked_since: 0,
                    consistent: true,
                };
                let r = self.journal.flush().map_err(|e| e.to_string());
                if let Err(e) = r {
                    self.report_io(e);
                    return;
                }
                self.save_state(st);
                self.io.send(Priority::Bulk, done.encode());
                self.set_mode(Mode::Mirrored);
                self.target_run = None;
                // The status first: the role machine's "mirrored" publishes it.
                self.publish();
                // What the role machine asked for is done: a later session waits for its word.
                self.expect_begin = false;
                self.input(ResyncProgress::DiskDone);
                self.io.tell(ServiceOut::Notice(
                    Severity::Info,
                    text::RESYNC_DONE,
                    "as the target".into(),
                ));
            }
        }
    }

    /// The target's own dirty regions, in runs, before `Ready` (see `journal::resync`).
    pub(super) fn send_own_dirty(&mut self, session: u64) {
        let mut runs: Vec<(u64, u64)> = Vec::new();
        let mut next = self.journal.next_dirty(0);
        while let Some(r) = next {
            match runs.last_mut() {
                Some((a, n)) if *a + *n == r => *n += 1,
                _ => {
                    if runs.len() == MAX_DIRTY_RUNS {
                        let m = ResyncMsg::Dirty {
                            session,
                            runs: std::mem::take(&mut runs),
                        };
                        self.io.send(Priority::Bulk, m.encode());
                    }
                    runs.push((r, 1));
                }
            }
            next = self.journal.next_dirty(r + 1);
        }
        if !runs.is_empty() {
            self.io
                .send(Priority::Bulk, ResyncMsg::Dirty { session, runs }.encode());
        }
    }

    pub(super) fn pump_source(&mut self) {
        let Some(s) = self.source.as_mut() else {
            return;
        };
        if self.cfg.resync_rate > 0 {
            let now = self.io.now();
            let rate = self.cfg.resync_rate as f64;
            let dt = now.saturating_sub(self.budget_at).as_secs_f64();
            // At most a tenth of a second's worth saved up.
            self.budget = (self.budget + dt * rate).min(rate / 10.0 + self.cfg.region_size as f64);
            self.budget_at = now;
            if self.budget < f64::from(self.cfg.region_size) {
                return;
            }
        }
        let j = &self.journal;
        let acts = s.core.poll(|from| j.next_dirty(from));
        self.source_actions(acts);
    }

    pub(super) fn source_actions(&mut self, acts: Vec<SourceAction>) {
        for a in acts {
            match a {
                SourceAction::Send(m) => {
                    if matches!(m, ResyncMsg::End { .. }) {
                        // No region is dirty now: from here on a write waits for both
                        // copies and clears its regions (an MSL break undoes this).
                        self.set_mode(Mode::Mirrored);
                    }
                    self.io.send(Priority::Bulk, m.encode());
                }
                SourceAction::SendRegion {
                    session,
                    region,
                    version,
                } => {
                    let rs = u64::from(self.geometry.region_size);
                    let off = region * rs;
                    let len = rs.min(self.geometry.volume_size - off);
                    // Read straight behind the header, into the buffer that is sent.
                    let mut m = Vec::with_capacity(REGION_HEADER + len as usize);
                    m.extend_from_slice(&region_header(session, region, version));
                    m.resize(REGION_HEADER + len as usize, 0);
                    if let Err(e) = self.data.read_at(&mut m[REGION_HEADER..], off) {
                        self.report_io(e.to_string());
                        self.source = None;
                        return;
                    }
                    self.budget -= len as f64;
                    if let Some(s) = self.source.as_mut() {
                        s.bytes += len;
                        s.regions += 1;
                    }
                    self.io.send(Priority::Bulk, m);
                }
                SourceAction::Clear(r) => self.journal.clear(r),
                SourceAction::Mark(run) => {
                    let run =
                        run.start.min(self.geometry.regions)..run.end.min(self.geometry.regions);
                    if let Err(e) = self.journal.mark(run) {
                        self.report_io(e.to_string());
                    }
                }
                SourceAction::Complete => {
                    let now = self.io.now();
                    let ev = self.source.as_ref().map_or(String::new(), |s| {
                        format!(
                            "as the source, {} regions copied, {} bytes in {:.3} s",
                            s.regions,
                            s.bytes,
                            now.saturating_sub(s.began).as_secs_f64()
                        )
                    });
                    self.source = None;
                    if let Err(e) = self.journal.flush() {
                        self.report_io(e.to_string());
                    }
                    self.publish();
                    self.input(ResyncProgress::DiskDone);
                    self.io
                        .tell(ServiceOut::Notice(Severity::Info, text::RESYNC_DONE, ev));
                }
            }
        }
    }
}
