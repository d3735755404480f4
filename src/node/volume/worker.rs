//! The volume's logic (see the module docs of [`super`]): generic over the volume's
//! [`Store`] and its surroundings ([`VolumeIo`]: the MSL, the control plane, a clock), so
//! the daemon's thread runs it over files and the MSL driver, and a simulation can run it
//! over `MemStore`s and simulated links. [`Worker::run`] is the thread's loop.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::status::{ResyncStatus, VerifyStatus, VolumeStatus};
use super::{ServiceOut, VolumeIn, WriteDone};
use crate::journal::mirror::{Mode, WriteId, WritePath};
use crate::journal::resync::{ResyncMsg, ResyncSource, ResyncTarget};
use crate::journal::{Geometry, Journal, Opened, Store};
use crate::msl::Priority;
use crate::node::config::VolumeSection;
use crate::role::Severity;

mod resync;
mod verify;
mod writes;

/// Cleared bits and hot extents are written back this often.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// ... and this often while this server is a resync's source: its cleared bits are the
/// resync's progress, and a crash of the source loses at most this much of it.
const FLUSH_RESYNCING: Duration = Duration::from_millis(100);
/// The status is republished at least this often.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);
/// After a turn that handled something, the status is republished this soon.
const BUSY_PUBLISH: Duration = Duration::from_millis(5);
/// Writes waiting for the peer when this server stopped serving are refused this long
/// after (a stall's pause serves again within milliseconds).
const ABANDON_AFTER: Duration = Duration::from_secs(1);
/// Messages handled per turn before the resync gets its share again.
const TURN: usize = 256;

/// Notices of the volume (reports: they change no role).
pub(crate) mod text {
    pub const JOURNAL_REBUILT: &str =
        "change journal not trusted: every region marked dirty; the next resync is full";
    pub const JOURNAL_FAILED: &str = "change journal failed: client writes refused";
    pub const VOLUME_FAILED: &str = "volume I/O failed";
    pub const NEW_GENERATION: &str = "new generation: tracking changes";
    pub const RESYNC_BEGUN: &str = "resync begun";
    pub const RESYNC_DONE: &str = "resync complete: volumes equal";
    pub const VERIFY_DONE: &str = "verify complete";
}

struct ClientWrite {
    offset: u64,
    data: Vec<u8>,
    t0: Duration,
    version: u64,
    reply: Option<tokio::sync::oneshot::Sender<Result<WriteDone, String>>>,
}

struct SourceRun {
    core: ResyncSource,
    began: Duration,
    /// Region copies sent, and their bytes.
    bytes: u64,
    regions: u64,
}

struct TargetRun {
    session: u64,
    began: Duration,
    bytes: u64,
    done: u64,
    total: u64,
}

/// What the volume's logic needs from around it: the MSL, the control plane and a clock.
/// The daemon's thread gives the MSL driver, a channel and `Instant`; a simulation gives
/// its own (the logic does no other I/O than its `Store`s').
pub trait VolumeIo: Send {
    /// Queues a message to the peer; false when the MSL refused it (no session, full).
    fn send(&mut self, priority: Priority, message: Vec<u8>) -> bool;
    /// Tells the control plane.
    fn tell(&mut self, out: ServiceOut);
    /// Time since an epoch of the caller's.
    fn now(&self) -> Duration;
    /// A number that differs between processes (session and generation ids are made
    /// from it, the server id and a counter).
    fn seed(&self) -> u64;
}

/// The volume's logic over a volume `S` and its journal, talking through `I`.
pub(crate) struct Worker<S: Store, I: VolumeIo> {
    cfg: VolumeSection,
    data: S,
    journal: Journal<S>,
    geometry: Geometry,
    /// The dirty bitmap's memory per TiB at this region size (for the status).
    bitmap_per_tib: u64,
    how: String,
    path: WritePath,
    serving: bool,
    source: Option<SourceRun>,
    target: ResyncTarget,
    target_run: Option<TargetRun>,
    writes: HashMap<WriteId, ClientWrite>,
    verify: Option<verify::VerifyRun>,
    last_verify: Option<VerifyStatus>,
    /// The role machine made this server a resync target (and, after it, the mirrored
    /// secondary): only then are the peer's writes and region copies applied.
    accepting: bool,
    /// The peer's writes and copies that came before the role machine's word (the MSL's
    /// bulk and event classes overtake its control class), in order; bytes held.
    held: std::collections::VecDeque<(Priority, Vec<u8>)>,
    held_bytes: usize,
    /// When this server stopped serving, while it has not served since (and has not
    /// answered its waiting writes yet).
    stopped_serving: Option<Duration>,
    /// The role machine asked for a resync as the target and it has not completed: only
    /// then is a `Begin` that is not a verify's repair taken (a later one replaces an
    /// earlier one, as the source's sessions do).
    expect_begin: bool,
    /// Messages to send once the volume is synced (acks of applied copies and writes).
    after_sync: Vec<(Priority, Vec<u8>)>,
    io: I,
    status: Arc<Mutex<Arc<VolumeStatus>>>,
    ids: u64,
    /// The resync's byte budget (`resync_rate`), refilled with time.
    budget: f64,
    budget_at: Duration,
    failed: Option<String>,
    counts: (u64, u64, u64),
    last_flush: Duration,
    last_publish: Option<Duration>,
}

/// A volume and its journal as opened, with how the journal was found.
pub(crate) struct Parts<S: Store> {
    pub cfg: VolumeSection,
    pub data: S,
    pub journal: Journal<S>,
    pub how: Opened,
}

impl<S: Store, I: VolumeIo> Worker<S, I> {
    pub(crate) fn new(
        vol: Parts<S>,
        mut io: I,
        status: Arc<Mutex<Arc<VolumeStatus>>>,
        server_id: u64,
    ) -> Worker<S, I> {
        let how = match &vol.how {
            Opened::Trusted => "trusted".to_string(),
            Opened::Created => "created".to_string(),
            Opened::Rebuilt(why) => format!("rebuilt: {why}"),
        };
        if let Opened::Rebuilt(why) = &vol.how {
            io.tell(ServiceOut::Notice(
                Severity::Warning,
                text::JOURNAL_REBUILT,
                format!("{}: {why}", vol.cfg.journal.display()),
            ));
        }
        let mode = if vol.journal.state().tracked_since != 0 {
            Mode::Unmirrored
        } else {
            Mode::Mirrored
        };
        let now = io.now();
        let geometry = *vol.journal.geometry();
        // Ids unique across servers and restarts: the server id, the seed, a counter.
        let clock = io.seed();
        Worker {
            cfg: vol.cfg,
            data: vol.data,
            journal: vol.journal,
            geometry,
            bitmap_per_tib: Geometry::new(1 << 40, geometry.region_size, geometry.extent_regions)
                .map_or(0, |t| t.memory_bytes()),
            how,
            path: WritePath::new(mode, 0),
            serving: false,
            source: None,
            target: ResyncTarget::new(),
            target_run: None,
            writes: HashMap::new(),
            verify: None,
            last_verify: None,
            accepting: false,
            held: std::collections::VecDeque::new(),
            held_bytes: 0,
            after_sync: Vec::new(),
            stopped_serving: None,
            expect_begin: false,
            io,
            status,
            ids: mix(clock ^ server_id.rotate_left(48)),
            budget: 0.0,
            budget_at: now,
            failed: None,
            counts: (0, 0, 0),
            last_flush: now,
            last_publish: None,
        }
    }

    pub(super) fn run(mut self, rx: Receiver<VolumeIn>) {
        self.publish();
        'outer: loop {
            let first = match rx.recv_timeout(self.wait()) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let busy = first.is_some();
            let mut next = first;
            for _ in 0..TURN {
                let Some(m) = next.take() else { break };
                if matches!(m, VolumeIn::Stop) {
                    break 'outer;
                }
                self.handle(m);
                next = rx.try_recv().ok();
            }
            if let Some(m) = next {
                if matches!(m, VolumeIn::Stop) {
                    break;
                }
                self.handle(m);
            }
            self.end_turn(busy);
        }
        self.stop();
    }

    /// The end of the process's volume: what was applied is synced and answered, the
    /// journal flushed; writes still waiting are refused.
    pub(crate) fn stop(&mut self) {
        self.sync_and_answer();
        if let Err(e) = self.journal.flush() {
            eprintln!("sft3: flushing the change journal at stop: {e}");
        }
        for (_, w) in self.writes.drain() {
            if let Some(r) = w.reply {
                let _ = r.send(Err("the server stopped".into()));
            }
        }
        self.publish();
    }

    /// Its surroundings (a simulation reads what was sent and told).
    pub(crate) fn io_mut(&mut self) -> &mut I {
        &mut self.io
    }

    /// How long it may wait for a message before [`Worker::end_turn`] is due again (the
    /// thread's receive timeout).
    pub(crate) fn wait(&self) -> Duration {
        if self.resync_wants_time() {
            Duration::from_millis(2)
        } else {
            PUBLISH_EVERY
        }
    }

    /// After a batch of messages (`busy`) or a wait: one sync for what was applied, then
    /// the resync's and the verify's share, the periodic flush and status.
    pub(crate) fn end_turn(&mut self, busy: bool) {
        self.sync_and_answer();
        self.pump_source();
        self.pump_verify();
        self.sync_and_answer();
        self.periodic(busy);
    }

    /// One message (in the order they came).
    pub(crate) fn handle(&mut self, m: VolumeIn) {
        match m {
            VolumeIn::Serving(on) => {
                self.serving = on;
                if on {
                    self.stopped_serving = None;
                    self.stop_accepting();
                } else {
                    // A pause (a stall check) serves again within milliseconds; a server
                    // that stopped for good answers its waiting writes after a while.
                    self.stopped_serving = Some(self.io.now());
                }
            }
            VolumeIn::StartTracking => self.start_tracking(),
            VolumeIn::StopTracking => self.stop_tracking(),
            VolumeIn::StartResync(role, kind) => self.start_resync(role, kind),
            VolumeIn::Msl(p, m)
                if for_target(p, &m) && (!self.accepting || self.unasked_begin(p, &m)) =>
            {
                // A session the role machine has not asked for yet (its word comes on
                // the control class, which the bulk class can overtake): held, and all
                // that follows, until it does.
                self.accepting = false;
                if self.held_bytes + m.len() > MAX_HELD {
                    self.counts.1 += 1;
                    return;
                }
                self.held_bytes += m.len();
                self.held.push_back((p, m));
            }
            VolumeIn::Msl(Priority::Event, m) => self.on_mirror(&m),
            VolumeIn::Msl(_, m) => self.on_resync_msg(&m),
            VolumeIn::Session(up) => {
                if !up {
                    // A new session may not carry what this one lost: stop waiting for the
                    // peer now (the regions stay dirty; the role machine starts the next
                    // resync) and drop the session's state.
                    self.end_source();
                    if self.path.mode() != Mode::Unmirrored {
                        self.set_mode(Mode::Unmirrored);
                    }
                    self.target.reset();
                    self.after_sync.clear();
                    self.stop_accepting();
                    self.end_verify(Some("the MSL session ended".into()));
                }
            }
            VolumeIn::Write {
                offset,
                data,
                reply,
            } => self.client_write(offset, data, reply),
            VolumeIn::Read { offset, len, reply } => {
                let _ = reply.send(self.read(offset, len));
            }
            VolumeIn::Verify { reply } => {
                let _ = reply.send(self.start_verify());
            }
            VolumeIn::Stop => {}
        }
    }

    // ---- housekeeping ----

    fn periodic(&mut self, busy: bool) {
        let now = self.io.now();
        if self
            .stopped_serving
            .is_some_and(|t| now.saturating_sub(t) >= ABANDON_AFTER)
        {
            self.abandon_waiting();
        }
        let every = if self.source.is_some() {
            FLUSH_RESYNCING
        } else {
            FLUSH_EVERY
        };
        if now.saturating_sub(self.last_flush) >= every {
            self.last_flush = now;
            if let Err(e) = self.journal.flush() {
                self.report_io(e.to_string());
            }
        }
        let due = if busy { BUSY_PUBLISH } else { PUBLISH_EVERY };
        if self
            .last_publish
            .is_none_or(|t| now.saturating_sub(t) >= due)
        {
            self.publish();
        }
    }

    fn mode_name(&self) -> &'static str {
        match (self.serving, self.path.mode()) {
            (false, _) => "secondary",
            (true, Mode::Unmirrored) => "unmirrored",
            (true, Mode::Resyncing) => "resyncing",
            (true, Mode::Mirrored) => "mirrored",
        }
    }

    fn publish(&mut self) {
        let now = self.io.now();
        self.last_publish = Some(now);
        let st = self.journal.state();
        let g = &self.geometry;
        let resync = if let Some(s) = &self.source {
            let (done, total) = s.core.progress();
            Some(ResyncStatus {
                role: "source",
                session: s.core.session(),
                done,
                total,
                bytes: s.bytes,
                micros: now.saturating_sub(s.began).as_micros() as u64,
            })
        } else {
            self.target_run.as_ref().map(|t| ResyncStatus {
                role: "target",
                session: t.session,
                done: t.done,
                total: t.total.max(t.done),
                bytes: t.bytes,
                micros: now.saturating_sub(t.began).as_micros() as u64,
            })
        };
        let mode = self.mode_name();
        let s = VolumeStatus {
            path: self.cfg.path.display().to_string(),
            size: g.volume_size,
            region_size: g.region_size,
            regions: g.regions,
            dirty_regions: self.journal.dirty_count(),
            bitmap_bytes_per_tib: self.bitmap_per_tib,
            consistent: st.consistent,
            history: st.history.to_vec(),
            tracked_since: st.tracked_since,
            mode,
            journal: self.how.clone(),
            writes: self.counts.0,
            write_errors: self.counts.1,
            peer_writes: self.counts.2,
            resync,
            verify: self.verify_status(),
        };
        let mut g = self.status.lock().unwrap_or_else(|p| p.into_inner());
        *g = Arc::new(s);
    }
}

/// The most bytes of the peer's held before the role machine's word (then dropped and
/// counted: the source's session stalls, and the next one starts over).
const MAX_HELD: usize = 64 << 20;

/// True for what a source or primary sends to its target or secondary: the peer's writes,
/// verify requests, and `Begin`, `Region`, `End`.
fn for_target(p: Priority, m: &[u8]) -> bool {
    match (p, m.first()) {
        (Priority::Event, Some(&t)) => t == 0x11 || t == 0x13,
        (_, Some(&t)) => matches!(t, 1 | 3 | 5),
        _ => false,
    }
}

impl<S: Store, I: VolumeIo> Worker<S, I> {
    /// True for a `Begin` of a session the role machine has not asked for (one not
    /// repairing a verify's mismatches).
    fn unasked_begin(&self, p: Priority, m: &[u8]) -> bool {
        p == Priority::Bulk
            && m.first() == Some(&1)
            && !self.expect_begin
            && matches!(
                ResyncMsg::decode(m),
                Ok(ResyncMsg::Begin { repair: false, .. })
            )
    }
}

/// A 64-bit mixer (splitmix64's finaliser): ids that look random from a counter.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
