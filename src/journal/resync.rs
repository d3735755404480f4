//! The resync protocol, sans-IO: the source streams its dirty regions to the target while
//! client writes go on, and neither a crash, a broken link nor a concurrent write can make
//! the target keep older data than the source's.
//!
//! | message | from | carries | the receiver |
//! |---|---|---|---|
//! | [`Begin`](ResyncMsg::Begin) | source | session, regions to send, its write version, whether a verify asked | marks its volume inconsistent (durably), answers `Ready`; from now on drops mirrored writes at or below that version |
//! | [`Dirty`](ResyncMsg::Dirty) | target | session, runs of its own dirty regions | marks them dirty (durably): they are sent too |
//! | [`Ready`](ResyncMsg::Ready) | target | session | |
//! | [`Region`](ResyncMsg::Region) | source | session, region, version, the region's bytes | applies it unless it has seen a newer write to that region; answers `Ack` once durable |
//! | [`Ack`](ResyncMsg::Ack) | target | session, region, version, applied | the source clears the region's bit unless a write to it came after `version` |
//! | [`End`](ResyncMsg::End) | source | session, its generation history | adopts the history, clears its own dirty bits, marks its volume consistent (durably), answers `Done` |
//! | [`Done`](ResyncMsg::Done) | target | session | the resync is complete |
//!
//! **Versions.** The source numbers its client writes (`version`, growing). A region is
//! read for sending at the current version, and mirrored writes carry theirs. The target
//! remembers, per region touched in this session, the newest version it applied and
//! refuses an older region copy; the source clears a region's dirty bit only when no write
//! to it came after the copy's version, so a refused or overtaken copy is sent again later.
//!
//! **Late writes.** The event class (mirrored writes) and the bulk class (copies) are
//! ordered each, not with each other: a write can arrive after a copy that holds it (the
//! event class retransmitted it after a silence). Two rules keep it from putting older
//! bytes back. A write from before the session (its version at or below `Begin`'s) is
//! dropped: its regions are dirty at the source (the source waits for no peer while a
//! session runs, so no such write was acknowledged as mirrored), and this session's copies
//! carry it together with any unmirrored write after it. A write from the session is not
//! applied over a region whose copy already holds it ([`ResyncTarget::superseded`]).
//!
//! **The target's own changes.** A target may hold regions the source never saw: a
//! primary that wrote locally and died before its peer had the write comes back as the
//! target, with those regions dirty in its journal. After `Begin` it sends them as `Dirty`
//! runs (before `Ready`, in the same class, so the source has marked them before it
//! streams); the source copies them over like its own. The target clears its bits at `End`,
//! once every region either side marked is a copy of the source's.
//!
//! **Resuming.** The dirty bitmap is the progress: a bit is cleared only after the target
//! said its copy is durable, and the journal flushes cleared bits lazily, so after a crash
//! of either side, or a new MSL session, the source starts a new session with what is
//! still dirty. Nothing restarts from zero. The target stays inconsistent (it must not
//! serve, scenario 8) from `Begin` until `End`.
//!
//! The driver does the I/O the cores ask for: reading a region (at the version the core
//! gives, under the same lock as client writes, so no write slips between), writing it,
//! making it durable, marking the volume (in)consistent, sending the messages.

use std::collections::{BTreeMap, HashMap};

use thiserror::Error;

/// One message of the protocol (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResyncMsg {
    /// Source: a session begins, with this many regions to send.
    Begin {
        /// Session id (new for every session).
        session: u64,
        /// Regions to send (for progress).
        regions: u64,
        /// The source's write version now: a mirrored write at or below it that arrives
        /// from now on is already in this session's copies.
        version: u64,
        /// An online verify's repair (the role machines did not ask for it): a target
        /// that is the mirrored secondary takes it at once; any other session waits for
        /// the target's role machine to say "resync".
        repair: bool,
    },
    /// Target: inconsistent now; send.
    Ready {
        /// Session id.
        session: u64,
    },
    /// Source: a region's bytes.
    Region {
        /// Session id.
        session: u64,
        /// Region number.
        region: u64,
        /// The source's write version when it was read.
        version: u64,
        /// Its bytes (the region size; the last region may be shorter).
        data: Vec<u8>,
    },
    /// Target: a region copy was handled (and, if applied, is durable).
    Ack {
        /// Session id.
        session: u64,
        /// Region number.
        region: u64,
        /// The copy's version.
        version: u64,
        /// False when a newer write to the region had already arrived.
        applied: bool,
    },
    /// Target: regions of its own that may differ (sent after `Begin`, before `Ready`).
    Dirty {
        /// Session id.
        session: u64,
        /// Runs of regions: (first, count); at most [`MAX_DIRTY_RUNS`] per message.
        runs: Vec<(u64, u64)>,
    },
    /// Source: every region was sent and acknowledged.
    End {
        /// Session id.
        session: u64,
        /// The source's generation history, newest first (the target adopts it).
        history: Vec<u64>,
    },
    /// Target: consistent again.
    Done {
        /// Session id.
        session: u64,
    },
}

/// Runs in one [`ResyncMsg::Dirty`] (64 KiB of runs).
pub const MAX_DIRTY_RUNS: usize = 4096;
/// Generation ids in one [`ResyncMsg::End`] (the handshake's limit).
pub const MAX_END_HISTORY: usize = 8;

/// Bytes before a region's data in a [`ResyncMsg::Region`] (type, session, region,
/// version).
pub const REGION_HEADER: usize = 25;

/// The head of a `Region` message: the driver reads the region's bytes right behind it,
/// into the buffer it sends, instead of copying them in.
pub fn region_header(session: u64, region: u64, version: u64) -> [u8; REGION_HEADER] {
    let mut h = [0u8; REGION_HEADER];
    h[0] = 3;
    h[1..9].copy_from_slice(&session.to_be_bytes());
    h[9..17].copy_from_slice(&region.to_be_bytes());
    h[17..25].copy_from_slice(&version.to_be_bytes());
    h
}

/// A `Region` message read in place: session, region, version and the data borrowed
/// (`None` for any other message).
pub fn decode_region(b: &[u8]) -> Option<(u64, u64, u64, &[u8])> {
    if b.first() != Some(&3) || b.len() < REGION_HEADER {
        return None;
    }
    let w = |i: usize| {
        let mut x = [0u8; 8];
        x.copy_from_slice(&b[1 + 8 * i..9 + 8 * i]);
        u64::from_be_bytes(x)
    };
    Some((w(0), w(1), w(2), &b[REGION_HEADER..]))
}

/// A resync message that could not be read.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MsgError {
    /// Empty, or of a type this build does not know.
    #[error("resync message: unknown type")]
    UnknownType,
    /// Shorter or longer than its type says.
    #[error("resync message of type {0}: wrong length")]
    Length(u8),
    /// A flag field holds neither 0 nor 1.
    #[error("resync message of type {0}: a flag is neither 0 nor 1")]
    Flag(u8),
}

impl ResyncMsg {
    /// Encodes: a type byte (1 begin, 2 ready, 3 region, 4 ack, 5 end, 6 done, 7 dirty),
    /// then the session and the type's fields, big-endian; a region's bytes, the runs and
    /// the history last.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        let mut put = |ty: u8, fields: &[u64]| {
            out.push(ty);
            for f in fields {
                out.extend_from_slice(&f.to_be_bytes());
            }
        };
        match self {
            ResyncMsg::Begin {
                session,
                regions,
                version,
                repair,
            } => put(1, &[*session, *regions, *version, u64::from(*repair)]),
            ResyncMsg::Ready { session } => put(2, &[*session]),
            ResyncMsg::Region {
                session,
                region,
                version,
                data,
            } => {
                out.extend_from_slice(&region_header(*session, *region, *version));
                out.extend_from_slice(data);
            }
            ResyncMsg::Ack {
                session,
                region,
                version,
                applied,
            } => {
                put(4, &[*session, *region, *version]);
                out.push(u8::from(*applied));
            }
            ResyncMsg::End { session, history } => {
                put(5, &[*session]);
                history
                    .iter()
                    .for_each(|g| out.extend_from_slice(&g.to_be_bytes()));
            }
            ResyncMsg::Dirty { session, runs } => {
                put(7, &[*session]);
                for (a, n) in runs {
                    out.extend_from_slice(&a.to_be_bytes());
                    out.extend_from_slice(&n.to_be_bytes());
                }
            }
            ResyncMsg::Done { session } => put(6, &[*session]),
        }
        out
    }

    /// Decodes a message.
    pub fn decode(b: &[u8]) -> Result<ResyncMsg, MsgError> {
        let (&ty, rest) = b.split_first().ok_or(MsgError::UnknownType)?;
        let field = |i: usize| -> Result<u64, MsgError> {
            let s = rest.get(8 * i..8 * i + 8).ok_or(MsgError::Length(ty))?;
            let mut x = [0u8; 8];
            x.copy_from_slice(s);
            Ok(u64::from_be_bytes(x))
        };
        let exact = |n: usize| {
            if rest.len() == n {
                Ok(())
            } else {
                Err(MsgError::Length(ty))
            }
        };
        Ok(match ty {
            1 => {
                exact(32)?;
                ResyncMsg::Begin {
                    session: field(0)?,
                    regions: field(1)?,
                    version: field(2)?,
                    repair: match field(3)? {
                        0 => false,
                        1 => true,
                        _ => return Err(MsgError::Flag(ty)),
                    },
                }
            }
            2 | 6 => {
                exact(8)?;
                let session = field(0)?;
                match ty {
                    2 => ResyncMsg::Ready { session },
                    _ => ResyncMsg::Done { session },
                }
            }
            5 | 7 => {
                let words = rest.len() / 8;
                let per = if ty == 5 { 1 } else { 2 };
                let max = if ty == 5 {
                    MAX_END_HISTORY
                } else {
                    2 * MAX_DIRTY_RUNS
                };
                if rest.len() % 8 != 0 || words == 0 || (words - 1) % per != 0 || words - 1 > max {
                    return Err(MsgError::Length(ty));
                }
                let session = field(0)?;
                let tail = (1..words).map(field).collect::<Result<Vec<u64>, _>>()?;
                if ty == 5 {
                    ResyncMsg::End {
                        session,
                        history: tail,
                    }
                } else {
                    let runs: Vec<(u64, u64)> = tail.chunks(2).map(|c| (c[0], c[1])).collect();
                    ResyncMsg::Dirty { session, runs }
                }
            }
            3 => {
                let (session, region, version, data) =
                    decode_region(b).ok_or(MsgError::Length(ty))?;
                ResyncMsg::Region {
                    session,
                    region,
                    version,
                    data: data.to_vec(),
                }
            }
            4 => {
                exact(25)?;
                let applied = match rest[24] {
                    0 => false,
                    1 => true,
                    _ => return Err(MsgError::Length(ty)),
                };
                ResyncMsg::Ack {
                    session: field(0)?,
                    region: field(1)?,
                    version: field(2)?,
                    applied,
                }
            }
            _ => return Err(MsgError::UnknownType),
        })
    }
}

/// What a source core asks its driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceAction {
    /// Send this message (not a region: those come as `SendRegion`).
    Send(ResyncMsg),
    /// Read `region` now (no client write may come between) and send it as a `Region`
    /// message with this session and version.
    SendRegion {
        /// Session id.
        session: u64,
        /// Region number.
        region: u64,
        /// Its version.
        version: u64,
    },
    /// The region's copy is durable on the target and no write came after it: clear its
    /// dirty bit (the journal flushes it later).
    Clear(u64),
    /// The target's own dirty regions: mark them dirty in the journal (durably) before
    /// handling anything after this action; they are sent like the source's.
    Mark(std::ops::Range<u64>),
    /// The target is consistent: the resync is complete.
    Complete,
}

/// Where a source session stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceState {
    /// `Begin` sent, waiting for `Ready`.
    Begun,
    /// Sending regions.
    Streaming,
    /// `End` sent, waiting for `Done`.
    Ending,
    /// Done.
    Complete,
}

/// The source's side of one session. Feed it the target's messages and the client writes;
/// [`poll`](Self::poll) asks for the dirty regions through a closure and gives the actions.
#[derive(Clone, Debug)]
pub struct ResyncSource {
    session: u64,
    state: SourceState,
    /// Regions sent and not acknowledged, with the version of their copy.
    in_flight: BTreeMap<u64, u64>,
    /// The newest write version per region written during the session.
    written: HashMap<u64, u64>,
    /// Region copies handled per window.
    window: usize,
    /// Where the scan of the dirty bitmap stands (regions below were sent or are clean).
    cursor: u64,
    /// The current write version.
    version: u64,
    /// Regions acknowledged and cleared.
    done: u64,
    total: u64,
    begun: bool,
    /// The generation history `End` carries.
    history: Vec<u64>,
    /// A verify's repair (see [`ResyncMsg::Begin`]).
    repair: bool,
}

impl ResyncSource {
    /// A new session with `dirty` regions to send, at most `window` copies in flight, the
    /// source's write version now being `version`.
    pub fn new(session: u64, dirty: u64, window: usize, version: u64) -> ResyncSource {
        ResyncSource {
            session,
            state: SourceState::Begun,
            in_flight: BTreeMap::new(),
            written: HashMap::new(),
            window: window.max(1),
            cursor: 0,
            version,
            done: 0,
            total: dirty,
            begun: false,
            history: Vec::new(),
            repair: false,
        }
    }

    /// Marks the session as an online verify's repair (before the first poll).
    pub fn set_repair(&mut self) {
        self.repair = true;
    }

    /// The generation history the target adopts at the end (newest first, at most
    /// [`MAX_END_HISTORY`] kept).
    pub fn set_history(&mut self, history: &[u64]) {
        self.history = history.iter().copied().take(MAX_END_HISTORY).collect();
    }

    /// The session id.
    pub fn session(&self) -> u64 {
        self.session
    }

    /// Where it stands.
    pub fn state(&self) -> SourceState {
        self.state
    }

    /// Regions acknowledged so far, and the total planned at the start (writes during the
    /// session may add a few).
    pub fn progress(&self) -> (u64, u64) {
        (self.done, self.total.max(self.done))
    }

    /// A client write of `regions` got version `version` (versions grow). Its regions are
    /// dirty in the journal already (tracking goes on during a resync).
    pub fn on_write(&mut self, regions: std::ops::Range<u64>, version: u64) {
        self.version = self.version.max(version);
        for r in regions {
            self.written.insert(r, version);
            // A region behind the cursor and not in flight was sent and cleared: it is
            // dirty again and must be found again.
            if r < self.cursor && !self.in_flight.contains_key(&r) {
                self.cursor = r;
            }
        }
    }

    /// The next actions. `next_dirty(from)` gives the first dirty region at or after
    /// `from`, if any.
    pub fn poll(&mut self, mut next_dirty: impl FnMut(u64) -> Option<u64>) -> Vec<SourceAction> {
        let mut out = Vec::new();
        match self.state {
            SourceState::Begun => {
                if !self.begun {
                    self.begun = true;
                    out.push(SourceAction::Send(ResyncMsg::Begin {
                        session: self.session,
                        regions: self.total,
                        version: self.version,
                        repair: self.repair,
                    }));
                }
            }
            SourceState::Streaming => {
                while self.in_flight.len() < self.window {
                    let Some(r) = next_dirty(self.cursor) else {
                        break;
                    };
                    self.cursor = r + 1;
                    if self.in_flight.contains_key(&r) {
                        continue;
                    }
                    self.in_flight.insert(r, self.version);
                    out.push(SourceAction::SendRegion {
                        session: self.session,
                        region: r,
                        version: self.version,
                    });
                }
                if self.in_flight.is_empty() && next_dirty(0).is_none() {
                    self.state = SourceState::Ending;
                    out.push(SourceAction::Send(ResyncMsg::End {
                        session: self.session,
                        history: self.history.clone(),
                    }));
                } else if self.in_flight.is_empty() && next_dirty(self.cursor).is_none() {
                    // Dirty regions before the cursor (written again): scan from the start.
                    self.cursor = 0;
                    out.extend(self.poll(next_dirty));
                }
            }
            SourceState::Ending | SourceState::Complete => {}
        }
        out
    }

    /// A message from the target (another session's is ignored).
    pub fn on_msg(&mut self, msg: &ResyncMsg) -> Vec<SourceAction> {
        let mut out = Vec::new();
        match *msg {
            ResyncMsg::Dirty { session, ref runs }
                if session == self.session && self.state == SourceState::Begun =>
            {
                for &(first, count) in runs {
                    let Some(end) = first.checked_add(count).filter(|_| count > 0) else {
                        continue;
                    };
                    self.total += count;
                    out.push(SourceAction::Mark(first..end));
                }
            }
            ResyncMsg::Ready { session }
                if session == self.session && self.state == SourceState::Begun =>
            {
                self.state = SourceState::Streaming;
            }
            ResyncMsg::Ack {
                session,
                region,
                version,
                applied: _,
            } if session == self.session && self.in_flight.get(&region) == Some(&version) => {
                self.in_flight.remove(&region);
                // Cleared only if no write came after the copy was read; a refused copy
                // (the target had a newer write) always has one after it.
                if self.written.get(&region).is_none_or(|&w| w <= version) {
                    self.written.remove(&region);
                    self.done += 1;
                    out.push(SourceAction::Clear(region));
                } else if region < self.cursor {
                    self.cursor = region;
                }
            }
            ResyncMsg::Done { session }
                if session == self.session && self.state == SourceState::Ending =>
            {
                self.state = SourceState::Complete;
                out.push(SourceAction::Complete);
            }
            _ => {}
        }
        out
    }
}

/// What a target core asks its driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetAction {
    /// Mark the volume inconsistent durably, then send the message (`Ready`).
    MarkInconsistentThenSend(ResyncMsg),
    /// Write the region's bytes, make them durable, then send the message (`Ack`).
    WriteThenSend {
        /// Region number.
        region: u64,
        /// The `Ack` to send once durable.
        ack: ResyncMsg,
    },
    /// Send the message now (an `Ack` of a refused copy).
    Send(ResyncMsg),
    /// Mark the volume consistent durably, then send the message (`Done`).
    MarkConsistentThenSend(ResyncMsg),
}

/// The target's side: which copies are older than what it holds.
#[derive(Clone, Debug, Default)]
pub struct ResyncTarget {
    session: Option<u64>,
    /// The newest version applied per region in this session (writes and copies), and
    /// after its `End` the copies newer than every write applied since (one entry per
    /// region copied: memory grows with the regions a session copies).
    applied: HashMap<u64, u64>,
    /// The newest mirrored write applied.
    writes_upto: u64,
    /// The last `Begin`'s version: mirrored writes at or below it are dropped.
    begin_version: u64,
    /// Regions received so far in this session, and planned.
    received: u64,
    planned: u64,
}

impl ResyncTarget {
    /// A target with no session.
    pub fn new() -> ResyncTarget {
        ResyncTarget::default()
    }

    /// The current session, if any.
    pub fn session(&self) -> Option<u64> {
        self.session
    }

    /// Regions applied or refused so far in this session, and the number planned.
    pub fn progress(&self) -> (u64, u64) {
        (self.received, self.planned.max(self.received))
    }

    /// True for a mirrored write from before the last `Begin` (see the module docs): it
    /// is dropped, unanswered (the source waits for no answer to it).
    pub fn from_before_session(&self, version: u64) -> bool {
        version <= self.begin_version
    }

    /// Forgets everything: the MSL session ended, and with it every message of the
    /// source's (a new source process numbers its writes from the start again).
    pub fn reset(&mut self) {
        *self = ResyncTarget::default();
    }

    /// True when a copy of `region` applied in this session already holds the client
    /// write of `version`: a copy holds every write with a version up to its own, so the
    /// write, arriving late (the event class retransmitted it after the bulk class's
    /// copy), must not put older bytes over it.
    pub fn superseded(&self, region: u64, version: u64) -> bool {
        self.applied.get(&region).is_some_and(|&v| v >= version)
    }

    /// A mirrored client write of `regions` with `version` was applied.
    pub fn on_write(&mut self, regions: std::ops::Range<u64>, version: u64) {
        self.writes_upto = self.writes_upto.max(version);
        if self.session.is_none() {
            // Between sessions only late writes are checked, and they come in version
            // order: nothing at or below this one can supersede a later write.
            if !self.applied.is_empty() {
                let upto = self.writes_upto;
                self.applied.retain(|_, v| *v > upto);
            }
            return;
        }
        for r in regions {
            let v = self.applied.entry(r).or_insert(version);
            *v = (*v).max(version);
        }
    }

    /// A message from the source.
    pub fn on_msg(&mut self, msg: &ResyncMsg) -> Option<TargetAction> {
        match *msg {
            ResyncMsg::Begin {
                session,
                regions,
                version,
                ..
            } => {
                // A new session replaces any other (the source restarted or the link did).
                self.session = Some(session);
                self.applied.clear();
                self.begin_version = version;
                self.received = 0;
                self.planned = regions;
                Some(TargetAction::MarkInconsistentThenSend(ResyncMsg::Ready {
                    session,
                }))
            }
            ResyncMsg::Region {
                session,
                region,
                version,
                ..
            } if Some(session) == self.session => {
                self.received += 1;
                let newer = self.applied.get(&region).is_some_and(|&v| v > version);
                let ack = ResyncMsg::Ack {
                    session,
                    region,
                    version,
                    applied: !newer,
                };
                if newer {
                    Some(TargetAction::Send(ack))
                } else {
                    self.applied.insert(region, version);
                    Some(TargetAction::WriteThenSend { region, ack })
                }
            }
            ResyncMsg::End { session, .. } if Some(session) == self.session => {
                // The copies' versions stay until the next `Begin`: a mirrored write the
                // event class delivers after the `End` may be older than a copy that holds
                // it (see `superseded`); `on_write` drops them as the writes catch up.
                self.session = None;
                self.applied.retain(|_, v| *v > self.writes_upto);
                Some(TargetAction::MarkConsistentThenSend(ResyncMsg::Done {
                    session,
                }))
            }
            _ => None,
        }
    }
}
