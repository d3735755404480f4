//! The driver thread's loop: receive a batch, feed the core, take a transmit batch, send
//! it, sleep until the next frame, wake-up or timer.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrayvec::ArrayVec;
use tokio::sync::mpsc::UnboundedSender;

use super::wake;
use super::{DriverError, DriverEvent, Shared, PRIORITIES};
use crate::capture::Timestamp;
use crate::link::raw::LinkWatcher;
use crate::link::{Link, LinkStatus, OperState, RawLink, RxMeta};
use crate::msl::{MslEvent, TxParts};

/// Frames taken from the kernel per `recvmmsg`.
const RX_BATCH: usize = 64;
/// Most frames per `sendmmsg` (the link's own limit).
const TX_BATCH_MAX: usize = 64;
/// Shortest sleep while frames wait for room in the socket's send buffer.
const MIN_WAIT_OUT: Duration = Duration::from_micros(100);
/// How often link events are read while the loop is too busy to sleep.
const WATCH_EVERY: Duration = Duration::from_millis(1);
/// A real-time driver busy this long without a pause sleeps [`BUSY_PAUSE`]: at most 91 %
/// of a CPU, under the kernel's real-time budget (95 % by default,
/// `kernel.sched_rt_runtime_us`). Over the budget the kernel stops every real-time thread
/// of the CPU for the rest of its period (up to 50 ms), this driver's heartbeats with them,
/// and the peer sees the MSL fail: seen during 1 GiB resyncs on two vCPUs, where the
/// secondary then shut down as scenario 3 says.
const BUSY_SLICE: Duration = Duration::from_millis(2);
/// See [`BUSY_SLICE`].
const BUSY_PAUSE: Duration = Duration::from_micros(200);

/// The thread's own counters, copied out for [`super::DriverStatus`].
#[derive(Clone, Copy, Debug)]
pub(super) struct Stats {
    pub link: LinkStatus,
    pub tx_dropped: u64,
    pub tx_link_down: u64,
    pub tx_calls: u64,
    pub rx_truncated: u64,
    pub priority_raised: bool,
}

impl Default for Stats {
    fn default() -> Stats {
        // Not known until the watcher's first answer: assume a working adapter.
        Stats {
            link: LinkStatus {
                carrier: true,
                oper: OperState::Unknown,
            },
            tx_dropped: 0,
            tx_link_down: 0,
            tx_calls: 0,
            rx_truncated: 0,
            priority_raised: false,
        }
    }
}

/// Everything the thread owns.
pub(super) struct Worker {
    link: RawLink,
    watcher: Option<LinkWatcher>,
    shared: Arc<Shared>,
    tx: UnboundedSender<DriverEvent>,
    epoch: Instant,
    rx_bufs: Vec<Box<[u8]>>,
    metas: Vec<RxMeta>,
    /// Head buffers: a data frame's headers (its payload stays in the core's send queue,
    /// shared through `tx_parts`), or a whole control frame.
    tx_bufs: Vec<Box<[u8]>>,
    /// Frame `i` is `tx_parts[i]` over `tx_bufs[i]`; `None` once the kernel took it, so the
    /// message it shares is not held longer than needed.
    tx_parts: Vec<Option<TxParts>>,
    /// Frames `tx_start..tx_count` of `tx_bufs` are built and not yet taken by the kernel.
    tx_start: usize,
    tx_count: usize,
    batch: usize,
    batch_bytes: usize,
    /// The last batch ended at a limit (more frames may be ready).
    tx_full: bool,
    released: [u64; 4],
    last_link: Option<LinkStatus>,
    stats: Stats,
    events: Vec<MslEvent>,
    nice: Option<i32>,
    /// When link events were last read during a busy stretch.
    last_watch: Duration,
    /// The thread runs SCHED_FIFO or SCHED_RR (read when it starts).
    realtime: bool,
    /// When the current stretch of work without a pause began (real-time only).
    busy_since: Option<Duration>,
}

impl Worker {
    pub(super) fn new(
        link: RawLink,
        watcher: Option<LinkWatcher>,
        shared: Arc<Shared>,
        tx: UnboundedSender<DriverEvent>,
        (batch, batch_bytes): (usize, usize),
        epoch: Instant,
        nice: Option<i32>,
    ) -> Worker {
        let size = link.info().max_frame();
        let batch = batch.clamp(1, TX_BATCH_MAX);
        let buf = || vec![0u8; size].into_boxed_slice();
        Worker {
            watcher,
            shared,
            tx,
            epoch,
            rx_bufs: (0..RX_BATCH).map(|_| buf()).collect(),
            metas: vec![
                RxMeta {
                    len: 0,
                    orig_len: 0,
                    ts: Timestamp::new(0, 0),
                };
                RX_BATCH
            ],
            tx_bufs: (0..batch).map(|_| buf()).collect(),
            tx_parts: vec![None; batch],
            tx_start: 0,
            tx_count: 0,
            batch,
            batch_bytes: batch_bytes.max(1),
            tx_full: false,
            released: [0; 4],
            last_link: None,
            stats: Stats::default(),
            events: Vec::new(),
            nice,
            last_watch: Duration::ZERO,
            realtime: false,
            busy_since: None,
            link,
        }
    }

    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Runs until a stop is requested or the link fails; a failure is also reported as
    /// [`DriverEvent::Failed`].
    pub(super) fn run(mut self) -> Result<(), DriverError> {
        if let Some(n) = self.nice {
            self.stats.priority_raised = super::set_thread_nice(n);
        }
        self.realtime = super::thread_is_realtime();
        let r = self.run_loop();
        if let Err(e) = &r {
            // Nothing will move frames any more: close the core so that senders get
            // `SendError::Closed` (and blocked ones wake up), and what was queued comes
            // back as `Lost` before the failure is reported.
            let shared = self.shared.clone();
            let mut core = shared.core();
            core.close(crate::msl::CloseReason::UNSPECIFIED);
            while let Some(ev) = core.poll_event() {
                let _ = self.tx.send(DriverEvent::Msl(ev));
            }
            drop(core);
            self.tx_parts.fill(None);
            let _ = self.tx.send(DriverEvent::Failed(e.to_string()));
            shared.room_freed();
        }
        r
    }

    fn run_loop(&mut self) -> Result<(), DriverError> {
        loop {
            // Clear the work flag before looking at the stop request: a stop requested
            // after this point sets it again, so `park` below will not sleep through it.
            self.shared.waker.take_dirty();
            let stop = *self.shared.stop.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(reason) = stop {
                return self.finish(reason);
            }
            let now = self.now();
            let n = self.link.recv_batch(&mut self.rx_bufs, &mut self.metas)?;
            let deadline = self.step(now, n);
            let want_out = self.flush()?;
            self.publish();
            self.pace(now);
            // A full receive batch or a full transmit batch means more is waiting.
            if n == RX_BATCH || (self.tx_full && !want_out) {
                // Under sustained load the loop never sleeps in `ppoll`: look at link
                // events now and then anyway (a non-blocking read).
                if now.saturating_sub(self.last_watch) >= WATCH_EVERY {
                    self.last_watch = now;
                    self.link_events();
                }
                // Under SCHED_FIFO a thread that never sleeps keeps its CPU from every
                // other thread of its priority (the control plane, the event consumer)
                // until it blocks: let them run between batches. (Under the normal
                // scheduler the kernel shares the CPU anyway, and a yield per batch would
                // cost bulk throughput.)
                if self.realtime {
                    std::thread::yield_now();
                }
                continue;
            }
            let mut timeout = deadline.map(|d| d.saturating_sub(self.now()));
            if want_out {
                // Timers are run by `poll_transmit`, which waits until the kernel took
                // the pending frames: a deadline already past must not make this spin.
                timeout = Some(timeout.map_or(MIN_WAIT_OUT, |t| t.max(MIN_WAIT_OUT)));
            }
            if !self.shared.waker.park() {
                continue;
            }
            let watcher = self.watcher.as_ref().map(|w| {
                use std::os::fd::AsRawFd;
                w.as_raw_fd()
            });
            let wait_from = self.now();
            let ready = {
                use std::os::fd::AsRawFd;
                wake::wait(
                    self.link.as_raw_fd(),
                    want_out,
                    self.shared.waker.fd(),
                    watcher,
                    timeout,
                )
            };
            self.shared.waker.unpark();
            if self.now().saturating_sub(wait_from) >= BUSY_PAUSE {
                self.busy_since = None; // it slept: a new stretch begins
            }
            let watcher_ready = ready.map_err(|source| DriverError::Io {
                op: "waiting for the MSL link",
                source,
            })?;
            if watcher_ready {
                self.link_events();
            }
        }
    }

    /// Real-time only: after [`BUSY_SLICE`] of work without a real sleep, sleeps
    /// [`BUSY_PAUSE`] (see there).
    fn pace(&mut self, now: Duration) {
        if !self.realtime {
            return;
        }
        let since = *self.busy_since.get_or_insert(now);
        if self.now().saturating_sub(since) >= BUSY_SLICE {
            std::thread::sleep(BUSY_PAUSE);
            self.busy_since = None;
        }
    }

    /// Feeds `n` received frames and pending releases to the core, collects its events and
    /// the next transmit batch; returns the core's next deadline.
    fn step(&mut self, now: Duration, n: usize) -> Option<Duration> {
        let shared = self.shared.clone();
        let mut core = shared.core();
        for (i, p) in PRIORITIES.iter().enumerate() {
            let t = shared.taken[i].load(Relaxed);
            if t > self.released[i] {
                core.release(*p, (t - self.released[i]) as usize);
                self.released[i] = t;
            }
        }
        let queued_before: usize = PRIORITIES.iter().map(|p| core.queued_bytes(*p)).sum();
        for (buf, m) in self.rx_bufs.iter().zip(&self.metas).take(n) {
            if m.len < m.orig_len {
                self.stats.rx_truncated += 1;
            }
            core.handle_frame(now, buf.get(..m.len).unwrap_or(buf));
        }
        while let Some(e) = core.poll_event() {
            self.events.push(e);
        }
        if self.tx_start == self.tx_count {
            self.tx_start = 0;
            self.tx_count = 0;
            // A batch ends at `batch` frames or `batch_bytes` bytes: whatever the kernel
            // takes in one call goes out before a frame queued after it (an event), so with
            // jumbo frames the byte bound keeps that wait at a few frames.
            let mut bytes = 0;
            self.tx_full = false;
            while !self.tx_full {
                match core.poll_transmit_parts(now, &mut self.tx_bufs[self.tx_count]) {
                    Some(parts) => {
                        bytes += parts.frame_len();
                        self.tx_parts[self.tx_count] = Some(parts);
                        self.tx_count += 1;
                        self.tx_full = self.tx_count == self.batch || bytes >= self.batch_bytes;
                    }
                    None => break,
                }
            }
        }
        let queued_after: usize = PRIORITIES.iter().map(|p| core.queued_bytes(*p)).sum();
        let deadline = core.poll_timeout();
        drop(core);
        if queued_after < queued_before {
            shared.room_freed();
        }
        for e in self.events.drain(..) {
            if let Err(back) = self.tx.send(DriverEvent::Msl(e)) {
                // Nobody listens: delivered bytes must not stay held against the budget.
                if let DriverEvent::Msl(MslEvent::Delivered { priority, message }) = back.0 {
                    let c = priority.bits() as usize;
                    shared.taken[c].fetch_add(message.len() as u64, Relaxed);
                    shared.waker.wake(); // release it on the next turn, not the next timer
                }
            }
        }
        deadline
    }

    /// Hands the built frames to the kernel; true when some wait for room in the socket.
    fn flush(&mut self) -> Result<bool, DriverError> {
        if self.tx_start == self.tx_count {
            return Ok(false);
        }
        let r = {
            // Every frame in the range is Some, with its head in its buffer.
            let frames: ArrayVec<[&[u8]; 3], TX_BATCH_MAX> = (self.tx_start..self.tx_count)
                .map(|i| {
                    let parts = self.tx_parts[i].as_ref();
                    parts
                        .and_then(|p| p.pieces(&self.tx_bufs[i]))
                        .unwrap_or([&[]; 3])
                })
                .collect();
            self.link.send_batch_vectored(&frames)
        };
        self.stats.tx_calls += 1;
        match r {
            Ok(k) => {
                for p in &mut self.tx_parts[self.tx_start..self.tx_start + k] {
                    *p = None;
                }
                self.tx_start += k;
            }
            Err(e) if e.is_would_block() => {}
            Err(e) => return Err(e.into()),
        }
        self.stats.tx_dropped = self.link.tx_dropped();
        self.stats.tx_link_down = self.link.tx_link_down();
        Ok(self.tx_start < self.tx_count)
    }

    fn publish(&self) {
        *self.shared.stats.lock().unwrap_or_else(|p| p.into_inner()) = self.stats;
    }

    /// Reads the watcher's events; a change of carrier or operstate goes up. Lost events
    /// (`ENOBUFS`) or a bad message ask the kernel for the whole state again.
    fn link_events(&mut self) {
        let Some(w) = self.watcher.as_mut() else {
            return;
        };
        loop {
            match w.poll() {
                Ok(Some(ev)) => {
                    let Some(st) = ev.status() else { continue };
                    if self.last_link != Some(st) {
                        self.last_link = Some(st);
                        self.stats.link = st;
                        let _ = self.tx.send(DriverEvent::Link(st));
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    if w.request_dump().is_err() {
                        // The silence timer still notices a dead link; stop watching.
                        self.watcher = None;
                    }
                    break;
                }
            }
        }
        self.publish();
    }

    /// Closes the session and sends what the close produced (the close frame).
    fn finish(&mut self, reason: crate::msl::CloseReason) -> Result<(), DriverError> {
        let now = self.now();
        {
            let shared = self.shared.clone();
            let mut core = shared.core();
            core.close(reason);
            while let Some(e) = core.poll_event() {
                self.events.push(e);
            }
        }
        // Frames still in the batch go first (they were due before the close); what the
        // kernel cannot take now is dropped, as on a wire.
        let _ = self.flush();
        self.tx_start = self.tx_count;
        self.tx_parts.fill(None);
        let _ = self.step(now, 0);
        let _ = self.flush();
        self.publish();
        Ok(())
    }
}
