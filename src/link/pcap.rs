//! pcap recording around a link ([`Recorder`]), and replay of a capture as a link
//! ([`Replayer`]).
//!
//! Recordings are classic pcap, nanosecond resolution, link type Ethernet, both directions in
//! one file (see [`crate::capture`] for the byte layout):
//!
//! | offset | size | file header |
//! |---|---|---|
//! | 0 | 4 | magic `a1b23c4d` (nanoseconds), little-endian |
//! | 4 | 2+2 | version 2.4 |
//! | 8 | 8 | thiszone, sigfigs: 0 |
//! | 16 | 4 | snaplen 262144 |
//! | 20 | 4 | link type 1 (Ethernet) |
//!
//! | offset | size | record header, then the frame |
//! |---|---|---|
//! | 0 | 4 | seconds: a received frame's [`RxMeta::ts`], a sent frame's clock reading |
//! | 4 | 4 | nanoseconds |
//! | 8 | 4 | captured length (what reached the caller's buffer, or the whole sent frame) |
//! | 12 | 4 | original length on the wire ([`RxMeta::orig_len`]) |
//!
//! A replay can be paced three ways ([`Pacing`]): as fast as possible, against the wall
//! clock (recorded offsets from the first frame, divided by a speed factor), or against a
//! `now` the driver supplies ([`Replayer::set_now`]) for deterministic tests and the
//! simulator.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{check_size, AdapterInfo, Link, LinkError, LinkStatus, OperState, RxMeta};
use crate::capture::{
    CaptureError, CaptureReader, LinkType, PcapWriter, Timestamp, TsResolution, DEFAULT_SNAPLEN,
};
use crate::wire::MacAddr;

/// The default clock of a [`Recorder`]: a plain function pointer, so the recorder stays
/// `Send` when its link is.
pub type SystemClock = fn() -> Timestamp;

/// The system (wall) clock as a capture [`Timestamp`] (zero before 1970).
pub fn system_now() -> Timestamp {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| Timestamp::new(d.as_secs(), d.subsec_nanos()))
        .unwrap_or_default()
}

/// The writer half of a recorder, flushed when dropped (errors there cannot be reported:
/// call [`Recorder::flush`] or [`Recorder::finish`] to see them).
struct Sink<W: Write> {
    writer: Option<PcapWriter<W>>,
}

impl<W: Write> Drop for Sink<W> {
    fn drop(&mut self) {
        if let Some(w) = self.writer.as_mut() {
            let _ = w.flush();
        }
    }
}

/// A [`Link`] that records every frame it sends and receives to a pcap file.
///
/// Order and errors: a frame is sent (or received) first and recorded after, so recording
/// never costs a frame. `Ok` from a call means the operation happened; `Err` means it did
/// not. A failed write therefore cannot be returned by the call whose frame it was: it is
/// kept and returned, once, by the next call of [`send`](Link::send),
/// [`send_batch`](Link::send_batch), [`recv`](Link::recv) or [`flush`](Self::flush), which
/// then does nothing else (so the caller knows that frame was not sent or received). After an
/// I/O error the file may end mid-record, so recording stops and frames pass through
/// unrecorded ([`is_recording`](Self::is_recording) turns false): a full disk must not stop
/// the link. A frame the format cannot hold (a timestamp beyond 2106) is reported the same
/// way but only that frame is missing.
///
/// Sent frames are stamped by the recorder's clock after a successful send (the system clock
/// by default; [`with_clock`](Self::with_clock) takes any `FnMut() -> Timestamp`, such as the
/// simulator's virtual time). Received frames keep the link's [`RxMeta::ts`]; a frame
/// received into a too-small buffer is recorded as far as it was captured, with its
/// original length. A batch is recorded as far as the wrapped link's
/// [`send_batch`](Link::send_batch) reports it sent; if that fails part-way, the frames it
/// sent before failing are not recorded (the trait returns no count with an error).
pub struct Recorder<L: Link, C: FnMut() -> Timestamp = SystemClock, W: Write = BufWriter<File>> {
    link: L,
    clock: C,
    sink: Sink<W>,
    recorded: u64,
    pending: Option<CaptureError>,
}

impl<L: Link> Recorder<L> {
    /// Records `link` to a new file at `path` (truncating it), stamping sent frames with the
    /// system clock.
    pub fn create(link: L, path: impl AsRef<Path>) -> Result<Self, LinkError> {
        Recorder::with_clock(link, path, system_now as SystemClock)
    }
}

impl<L: Link, C: FnMut() -> Timestamp> Recorder<L, C> {
    /// Records `link` to a new file at `path`, stamping sent frames with `clock`.
    pub fn with_clock(link: L, path: impl AsRef<Path>, clock: C) -> Result<Self, LinkError> {
        let file = File::create(path).map_err(CaptureError::from)?;
        Recorder::new(link, BufWriter::with_capacity(1 << 16, file), clock)
    }
}

impl<L: Link, C: FnMut() -> Timestamp, W: Write> Recorder<L, C, W> {
    /// Records `link` to `writer` (give it a buffered one), stamping sent frames with
    /// `clock`. Writes the file header now.
    pub fn new(link: L, writer: W, clock: C) -> Result<Self, LinkError> {
        let writer = PcapWriter::with_options(
            writer,
            TsResolution::Nano,
            LinkType::ETHERNET,
            DEFAULT_SNAPLEN,
        )?;
        Ok(Recorder {
            link,
            clock,
            sink: Sink {
                writer: Some(writer),
            },
            recorded: 0,
            pending: None,
        })
    }

    /// The wrapped link.
    pub fn get_ref(&self) -> &L {
        &self.link
    }

    /// The wrapped link, mutably (frames sent or received through it are not recorded).
    pub fn get_mut(&mut self) -> &mut L {
        &mut self.link
    }

    /// Frames written to the file so far.
    pub fn frames_recorded(&self) -> u64 {
        self.recorded
    }

    /// False once an I/O error has stopped the recording.
    pub fn is_recording(&self) -> bool {
        self.sink.writer.is_some()
    }

    /// Returns a write error kept from an earlier call, else flushes the file.
    pub fn flush(&mut self) -> Result<(), LinkError> {
        self.take_pending()?;
        match self.sink.writer.as_mut() {
            Some(w) => Ok(w.flush()?),
            None => Ok(()),
        }
    }

    /// Flushes and returns the link and the writer (`None` if an I/O error stopped the
    /// recording). A kept write error, or the flush's, is returned instead.
    pub fn finish(mut self) -> Result<(L, Option<W>), LinkError> {
        self.take_pending()?;
        let writer = match self.sink.writer.take() {
            Some(w) => Some(w.into_inner()?),
            None => None,
        };
        Ok((self.link, writer))
    }

    fn take_pending(&mut self) -> Result<(), LinkError> {
        match self.pending.take() {
            Some(e) => Err(LinkError::Capture(e)),
            None => Ok(()),
        }
    }

    /// Appends one frame; a failure is kept for the next call.
    fn record(&mut self, ts: Timestamp, orig_len: usize, data: &[u8]) {
        let Some(w) = self.sink.writer.as_mut() else {
            return;
        };
        let orig = u32::try_from(orig_len).unwrap_or(u32::MAX);
        match w.write_packet(ts, orig, data) {
            Ok(()) => self.recorded += 1,
            Err(e) => {
                if let CaptureError::Io(_) = e {
                    // The file may now end mid-record: stop, rather than write after garbage.
                    self.sink.writer = None;
                }
                // Keep the first error; later ones of the same call add nothing.
                self.pending.get_or_insert(e);
            }
        }
    }
}

impl<L: Link, C: FnMut() -> Timestamp, W: Write> Link for Recorder<L, C, W> {
    fn info(&self) -> &AdapterInfo {
        self.link.info()
    }

    fn send(&mut self, frame: &[u8]) -> Result<(), LinkError> {
        self.take_pending()?;
        self.link.send(frame)?;
        let ts = (self.clock)();
        self.record(ts, frame.len(), frame);
        Ok(())
    }

    fn send_batch(&mut self, frames: &[&[u8]]) -> Result<usize, LinkError> {
        self.take_pending()?;
        let n = self.link.send_batch(frames)?;
        for f in frames.iter().take(n) {
            let ts = (self.clock)();
            self.record(ts, f.len(), f);
        }
        Ok(n)
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<Option<RxMeta>, LinkError> {
        self.take_pending()?;
        let Some(meta) = self.link.recv(buf)? else {
            return Ok(None);
        };
        let captured = buf.get(..meta.len).unwrap_or(buf);
        self.record(meta.ts, meta.orig_len.max(captured.len()), captured);
        Ok(Some(meta))
    }

    fn status(&mut self) -> Result<LinkStatus, LinkError> {
        self.link.status()
    }
}

/// How a [`Replayer`] times the frames it plays.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pacing {
    /// Every frame is available at once.
    Fast,
    /// A frame is released when the wall clock has run its recorded offset from the file's
    /// first frame, divided by `speed` (2.0 plays twice as fast), counting from the first
    /// [`recv`](Link::recv) (or [`Replayer::next_deadline`]). A `speed` that is not a
    /// positive number plays as fast as possible.
    WallClock {
        /// The speed-up factor; 1.0 is the recorded pace.
        speed: f64,
    },
    /// A frame is released when `now - start` (see [`Replayer::set_now`]; `now` begins at
    /// `start`) reaches its recorded offset from the file's first frame. Nothing depends on
    /// the wall clock: the same `now` sequence gives the same frames.
    External {
        /// The `now` at which the first frame is released.
        start: Timestamp,
    },
}

/// What a [`Replayer`] has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Frames returned by `recv`.
    pub delivered: u64,
    /// Frames skipped because their source MAC is the one given to
    /// [`Replayer::skip_source`].
    pub skipped_own: u64,
    /// Frames skipped because their link type is not Ethernet.
    pub skipped_foreign: u64,
    /// Frames given to `send` (counted, then dropped or collected).
    pub sent: u64,
}

/// The frame read ahead, waiting for its time.
#[derive(Clone, Copy, Debug)]
struct Held {
    ts: Timestamp,
    orig_len: usize,
}

/// A [`Link`] that plays a capture file's frames as received frames.
///
/// * **Timing**: see [`Pacing`]. Offsets count from the first frame of the file, skipped
///   frames included, so the played frames keep their recorded spacing. `recv` returns each
///   frame with its recorded timestamp in [`RxMeta::ts`], and its recorded original length.
/// * **Direction**: a [`Recorder`]'s file holds both directions. Given the recording
///   adapter's MAC ([`skip_source`](Self::skip_source)), frames whose Ethernet source
///   address is that MAC (the frames it sent) are skipped, so only what it received is
///   played. Frames of other link types are skipped too.
/// * **Sending**: `send` checks the size against the MTU, counts the frame and drops it, or
///   keeps a copy when [`collect_sent`](Self::collect_sent) asked for it
///   ([`sent_frames`](Self::sent_frames)).
/// * **The end**: after the last frame `recv` returns `Ok(None)` forever and
///   [`is_finished`](Self::is_finished) is true. A damaged file (a truncated last record)
///   plays every whole frame, then `recv` returns the error once, then the replay is
///   finished. Once finished, [`status`](Link::status) reports the carrier down (oper state
///   `Down`), so a driver that only knows [`Link`] notices; before that it is up.
///   [`carrier_down_at_end(false)`](Self::carrier_down_at_end) keeps it up.
/// * **Identity**: [`info`](Link::info) is the [`AdapterInfo`] given to the constructor.
pub struct Replayer<R: Read = File> {
    reader: CaptureReader<R>,
    info: AdapterInfo,
    pacing: Pacing,
    skip_source: Option<MacAddr>,
    carrier_down_at_end: bool,
    collect: bool,
    /// The next frame to play: its metadata, its bytes in `data`.
    held: Option<Held>,
    data: Vec<u8>,
    /// The reader has ended (cleanly or with `error`).
    reader_done: bool,
    /// A read error not yet returned.
    error: Option<CaptureError>,
    first_ts: Option<Timestamp>,
    wall_start: Option<Instant>,
    now: Timestamp,
    stats: ReplayStats,
    sent_frames: Vec<Vec<u8>>,
}

impl Replayer<File> {
    /// Opens a capture file (pcap or pcapng) to play as adapter `info`, as fast as possible.
    pub fn open(path: impl AsRef<Path>, info: AdapterInfo) -> Result<Self, LinkError> {
        Replayer::new(File::open(path).map_err(CaptureError::from)?, info)
    }
}

impl<R: Read> Replayer<R> {
    /// Plays the capture read from `input` (unbuffered: the reader buffers) as adapter
    /// `info`, as fast as possible. Fails only if the file header is bad; errors later in
    /// the file come from `recv`.
    pub fn new(input: R, info: AdapterInfo) -> Result<Self, LinkError> {
        let reader = CaptureReader::new(input)?;
        let mut r = Replayer {
            reader,
            info,
            pacing: Pacing::Fast,
            skip_source: None,
            carrier_down_at_end: true,
            collect: false,
            held: None,
            data: Vec::new(),
            reader_done: false,
            error: None,
            first_ts: None,
            wall_start: None,
            now: Timestamp::default(),
            stats: ReplayStats::default(),
            sent_frames: Vec::new(),
        };
        r.fill();
        Ok(r)
    }

    /// Sets the pacing (before the first `recv`).
    pub fn pacing(mut self, pacing: Pacing) -> Self {
        if let Pacing::External { start } = pacing {
            self.now = start;
        }
        self.pacing = pacing;
        self
    }

    /// Skips frames whose Ethernet source address is `mac`: the frames the recording
    /// adapter sent itself. Skipped frames are not played but still count for timing.
    pub fn skip_source(mut self, mac: MacAddr) -> Self {
        self.skip_source = Some(mac);
        // The frame read ahead at construction may be one to skip.
        if self.held.is_some() && self.data.get(6..12) == Some(&mac.0[..]) {
            self.held = None;
            self.stats.skipped_own += 1;
            self.fill();
        }
        self
    }

    /// Whether `status` reports the carrier down once the replay is finished (default true).
    pub fn carrier_down_at_end(mut self, down: bool) -> Self {
        self.carrier_down_at_end = down;
        self
    }

    /// Keeps a copy of every frame given to `send` (default: count and drop).
    pub fn collect_sent(mut self, collect: bool) -> Self {
        self.collect = collect;
        self
    }

    /// Sets the driver's `now` for [`Pacing::External`] (ignored by the other pacings).
    pub fn set_now(&mut self, now: Timestamp) {
        self.now = now;
    }

    /// The `now` last set (the start, before any [`set_now`](Self::set_now)).
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// True when every frame has been played and any error returned: `recv` gives
    /// `Ok(None)` from now on.
    pub fn is_finished(&self) -> bool {
        self.reader_done && self.held.is_none() && self.error.is_none()
    }

    /// The recorded offset (from the file's first frame) of the next frame to play, if any.
    pub fn next_offset(&self) -> Option<Duration> {
        let h = self.held?;
        Some(since(h.ts, self.first_ts.unwrap_or(h.ts)))
    }

    /// For [`Pacing::WallClock`]: the instant the next frame is due (starting the replay's
    /// clock if `recv` has not yet), so a driver can sleep until then. `None` in the other
    /// pacings or when no frame is left.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        let Pacing::WallClock { speed } = self.pacing else {
            return None;
        };
        let offset = self.next_offset()?;
        let start = *self.wall_start.get_or_insert_with(Instant::now);
        Some(start + scale(offset, speed))
    }

    /// Counters.
    pub fn stats(&self) -> ReplayStats {
        self.stats
    }

    /// The frames given to `send`, when [`collect_sent`](Self::collect_sent) is on.
    pub fn sent_frames(&self) -> &[Vec<u8>] {
        &self.sent_frames
    }

    /// Takes the collected sent frames, leaving none.
    pub fn take_sent(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.sent_frames)
    }

    /// Reads ahead to the next frame to play, unless one is held or the file has ended.
    fn fill(&mut self) {
        while self.held.is_none() && !self.reader_done {
            let p = match self.reader.next_packet() {
                None => {
                    self.reader_done = true;
                    return;
                }
                Some(Err(e)) => {
                    self.reader_done = true;
                    self.error = Some(e);
                    return;
                }
                Some(Ok(p)) => p,
            };
            self.first_ts.get_or_insert(p.ts);
            if p.link_type != LinkType::ETHERNET {
                self.stats.skipped_foreign += 1;
                continue;
            }
            if let (Some(mac), Some(src)) = (self.skip_source, p.data.get(6..12)) {
                if src == mac.0 {
                    self.stats.skipped_own += 1;
                    continue;
                }
            }
            self.data.clear();
            self.data.extend_from_slice(p.data);
            self.held = Some(Held {
                ts: p.ts,
                orig_len: (p.orig_len as usize).max(p.data.len()),
            });
        }
    }

    /// Whether the held frame, at `offset` from the first, may be played now.
    fn due(&mut self, offset: Duration) -> bool {
        match self.pacing {
            Pacing::Fast => true,
            Pacing::WallClock { speed } => {
                let start = *self.wall_start.get_or_insert_with(Instant::now);
                start.elapsed() >= scale(offset, speed)
            }
            Pacing::External { start } => self.now >= start && since(self.now, start) >= offset,
        }
    }
}

/// `a - b`, zero when `b` is later.
fn since(a: Timestamp, b: Timestamp) -> Duration {
    let d = a.as_unix_nanos().saturating_sub(b.as_unix_nanos());
    let secs = u64::try_from(d / 1_000_000_000).unwrap_or(u64::MAX);
    Duration::new(secs, (d % 1_000_000_000) as u32)
}

/// A recorded offset divided by the speed factor (zero for a speed that is not positive).
fn scale(offset: Duration, speed: f64) -> Duration {
    if speed.is_nan() || speed <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(offset.as_secs_f64() / speed).unwrap_or(Duration::MAX)
}

impl<R: Read> Link for Replayer<R> {
    fn info(&self) -> &AdapterInfo {
        &self.info
    }

    fn send(&mut self, frame: &[u8]) -> Result<(), LinkError> {
        check_size(&self.info, frame)?;
        self.stats.sent += 1;
        if self.collect {
            self.sent_frames.push(frame.to_vec());
        }
        Ok(())
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<Option<RxMeta>, LinkError> {
        let Some(h) = self.held else {
            return match self.error.take() {
                Some(e) => Err(LinkError::Capture(e)),
                None => Ok(None),
            };
        };
        let offset = self.next_offset().unwrap_or_default();
        if !self.due(offset) {
            return Ok(None);
        }
        let len = self.data.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..len), self.data.get(..len)) {
            dst.copy_from_slice(src);
        }
        self.held = None;
        self.stats.delivered += 1;
        self.fill();
        Ok(Some(RxMeta {
            len,
            orig_len: h.orig_len,
            ts: h.ts,
        }))
    }

    fn status(&mut self) -> Result<LinkStatus, LinkError> {
        if self.carrier_down_at_end && self.is_finished() {
            return Ok(LinkStatus {
                carrier: false,
                oper: OperState::Down,
            });
        }
        Ok(LinkStatus::UP)
    }
}
