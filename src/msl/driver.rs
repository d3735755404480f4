//! The MSL driver: runs one [`Msl`] over a [`RawLink`] on a dedicated thread.
//!
//! ```text
//!  senders ──send()──▶ Mutex<Msl> ◀── driver thread ──sendmmsg/recvmmsg──▶ RawLink (MSL NIC)
//!                          │               │  ▲ ppoll: link, eventfd, rtnetlink
//!  MslReceiver ◀──events───┘───────────────┘  └─ wake(): a send, a release, a close
//! ```
//!
//! **Why a thread of its own.** Heartbeats, acks and retransmissions must go out on time
//! whatever the rest of the process does (a resync reading a disk, a busy tokio runtime):
//! the thread does nothing but move frames, sleeps in `ppoll(2)` until a frame, a wake-up
//! or the core's next timer, and takes at most one receive batch and one transmit batch per
//! turn, so a heartbeat waits behind at most one batch of bulk frames.
//!
//! **Sending.** [`MslHandle::send`] queues a message in the core under a mutex the thread
//! holds only while it feeds frames in and takes frames out (never across a system call),
//! so errors ([`SendError`]) are returned at once; [`MslHandle::send_blocking`] and
//! [`MslHandle::send_wait`] wait for room when a class's queue is full.
//!
//! **Receiving.** Events arrive in order on [`MslReceiver`]. Delivered bytes count against
//! the core's receive budget ([`MslConfig::rx_budget`]) until the receiver hands them out,
//! so a consumer that falls behind closes the peer's window instead of growing memory.
//!
//! **Link state.** An rtnetlink watcher on the adapter reports carrier and operstate changes
//! as [`DriverEvent::Link`] the moment the kernel sees them: faster than the silence timer.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::sync::Notify;

mod alloc;
mod pi;
mod thread;
mod wake;

pub use alloc::tune_allocator;

use super::SendError;
use super::{CloseReason, Msl, MslConfig, MslCounters, MslEvent, MslState, PeerInfo, Priority};
use crate::link::{Link, LinkError, LinkStatus, RawLink};
use wake::Waker;

/// How the driver runs.
#[derive(Clone, Debug)]
pub struct DriverOptions {
    /// Most frames handed to the kernel in one `sendmmsg` (1–64). Larger batches cost fewer
    /// system calls; smaller ones let a heartbeat overtake more of the bulk. Default 32.
    pub tx_batch: usize,
    /// Most bytes handed to the kernel in one `sendmmsg` (the batch ends at whichever limit
    /// comes first). A frame queued while a batch is in the kernel waits for all of it: 32
    /// jumbo frames would be 288 KB, so the default, 64 KiB, bounds that wait to about
    /// seven 9000-byte frames (at MTU 1500 the frame count binds first).
    pub tx_batch_bytes: usize,
    /// Watch the adapter's carrier and operstate over rtnetlink (default true).
    pub watch_link: bool,
    /// Bytes of delivered messages the receiver may hold before the peer's window closes,
    /// per class (sets [`MslConfig::rx_budget`]; default 64 MiB).
    pub rx_budget: usize,
    /// Name of the thread (default `sft3-msl`).
    pub thread_name: String,
    /// Nice value for the driver thread (default -10), so that on a busy host it wins the
    /// CPU against the process's other threads and heartbeats leave on time. Lowering it
    /// below 0 needs `CAP_SYS_NICE`; without it the thread keeps the process's priority
    /// and [`DriverStatus::priority_raised`] says so. `None` leaves it alone.
    pub nice: Option<i32>,
}

impl Default for DriverOptions {
    fn default() -> DriverOptions {
        DriverOptions {
            tx_batch: 32,
            tx_batch_bytes: 64 << 10,
            watch_link: true,
            rx_budget: 64 << 20,
            thread_name: "sft3-msl".into(),
            nice: Some(-10),
        }
    }
}

/// News from the driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DriverEvent {
    /// The core's news (up, delivered, silent, restarted, refused...).
    Msl(MslEvent),
    /// The adapter's carrier or operstate changed (also sent once at start).
    Link(LinkStatus),
    /// The thread stopped on an error (after this, nothing more arrives).
    Failed(String),
}

/// Why the driver could not start or stopped.
#[derive(Debug, Error)]
pub enum DriverError {
    /// The link failed.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// A system call of the driver's own failed.
    #[error("{op}: {source}")]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The driver thread panicked (a bug).
    #[error("the MSL driver thread panicked")]
    Panicked,
}

/// A snapshot for the status output.
#[derive(Clone, Debug)]
pub struct DriverStatus {
    /// The session's state.
    pub state: MslState,
    /// The peer, once its hello was accepted.
    pub peer: Option<PeerInfo>,
    /// The core's counters.
    pub counters: MslCounters,
    /// Smoothed RTT per class (control, event, bulk, background), once measured.
    pub srtt: [Option<Duration>; 4],
    /// Data frames in flight per class.
    pub in_flight: [usize; 4],
    /// Bytes queued and not yet acknowledged per class.
    pub queued: [usize; 4],
    /// Delivered bytes the receiver has not taken yet, per class.
    pub held: [usize; 4],
    /// The adapter's carrier and operstate, as last reported.
    pub link: LinkStatus,
    /// Frames the kernel dropped on the way out (full queue, egress filter, link down).
    pub tx_dropped: u64,
    /// Of those, frames refused because the interface was down or gone.
    pub tx_link_down: u64,
    /// `sendmmsg` calls (frames sent divided by this is the batching achieved).
    pub tx_calls: u64,
    /// Frames received longer than the adapter's MTU, cut (the core then drops them).
    pub rx_truncated: u64,
    /// The thread runs at the requested [`DriverOptions::nice`] value.
    pub priority_raised: bool,
}

/// What the driver thread and the handles share.
struct Shared {
    /// With priority inheritance: senders may run at a lower priority than the thread.
    core: pi::PiMutex<Msl>,
    waker: Waker,
    /// Bytes the receiver has taken, per class (the thread releases the difference).
    taken: [AtomicU64; 4],
    /// Room freed in a send queue (blocking and async senders wait on these).
    room: (Mutex<()>, Condvar),
    room_async: Notify,
    stop: Mutex<Option<CloseReason>>,
    stats: Mutex<thread::Stats>,
    thread: Mutex<Option<JoinHandle<Result<(), DriverError>>>>,
}

impl Shared {
    fn core(&self) -> pi::PiGuard<'_, Msl> {
        // No poisoning: after a panic while holding the lock (a bug in the core) the state
        // is still the best there is.
        self.core.lock()
    }

    /// Wakes the senders waiting for room in a send queue (room was freed, or the core
    /// closed and they must see the error).
    fn room_freed(&self) {
        let (lock, cv) = &self.room;
        drop(lock.lock().unwrap_or_else(|p| p.into_inner()));
        cv.notify_all();
        self.room_async.notify_waiters();
    }

    fn request_stop(&self, reason: CloseReason) {
        let mut s = self.stop.lock().unwrap_or_else(|p| p.into_inner());
        s.get_or_insert(reason);
        drop(s);
        self.waker.wake();
    }
}

/// Stops the thread when the last handle goes.
struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.request_stop(CloseReason::SHUTDOWN);
        let h = self
            .0
            .thread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(h) = h {
            let _ = h.join();
        }
    }
}

/// Sends on the link and controls the driver. Cheap to clone; the thread stops (with a
/// close to the peer) when the last clone is dropped or [`shutdown`](Self::shutdown) runs.
#[derive(Clone)]
pub struct MslHandle {
    owner: Arc<Owner>,
}

/// Events of the driver, in order. Taking a [`MslEvent::Delivered`] releases its bytes from
/// the receive budget.
pub struct MslReceiver {
    rx: UnboundedReceiver<DriverEvent>,
    shared: Arc<Shared>,
    /// A runtime for the blocking calls, built on first use.
    rt: Option<tokio::runtime::Runtime>,
}

/// Starts a driver for `link` with the core configured by `cfg` (its MTU is capped to the
/// link's, its MAC taken from the link when unset). Call from the thread whose network
/// namespace the link lives in if the rtnetlink watcher is wanted (it opens there).
pub fn spawn(
    link: RawLink,
    mut cfg: MslConfig,
    opts: DriverOptions,
) -> Result<(MslHandle, MslReceiver), DriverError> {
    let info = link.info().clone();
    cfg.mtu = cfg.mtu.min(info.mtu);
    if cfg.local_mac == crate::wire::MacAddr::ZERO {
        cfg.local_mac = info.mac;
    }
    cfg.rx_budget = Some(opts.rx_budget);
    let watcher = if opts.watch_link {
        let mut w = crate::link::raw::LinkWatcher::for_index(info.index)?;
        w.request_dump()?;
        Some(w)
    } else {
        None
    };
    let waker = Waker::new().map_err(|source| DriverError::Io {
        op: "creating the driver's eventfd",
        source,
    })?;
    let epoch = std::time::Instant::now();
    let shared = Arc::new(Shared {
        core: pi::PiMutex::new(Msl::new(cfg, Duration::ZERO)),
        waker,
        taken: Default::default(),
        room: (Mutex::new(()), Condvar::new()),
        room_async: Notify::new(),
        stop: Mutex::new(None),
        stats: Mutex::new(thread::Stats::default()),
        thread: Mutex::new(None),
    });
    let (tx, rx): (UnboundedSender<DriverEvent>, _) = tokio::sync::mpsc::unbounded_channel();
    let worker = thread::Worker::new(
        link,
        watcher,
        shared.clone(),
        tx,
        (opts.tx_batch, opts.tx_batch_bytes),
        epoch,
        opts.nice,
    );
    let h = std::thread::Builder::new()
        .name(opts.thread_name)
        .spawn(move || worker.run())
        .map_err(|source| DriverError::Io {
            op: "starting the driver thread",
            source,
        })?;
    *shared.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(h);
    let receiver = MslReceiver {
        rx,
        shared: shared.clone(),
        rt: None,
    };
    Ok((
        MslHandle {
            owner: Arc::new(Owner(shared)),
        },
        receiver,
    ))
}

impl MslHandle {
    fn shared(&self) -> &Shared {
        &self.owner.0
    }

    /// Queues a message; it goes out once the session is up. Errors at once when it is too
    /// large, the class's queue is full or the driver stopped.
    pub fn send(&self, priority: Priority, message: impl Into<Box<[u8]>>) -> Result<(), SendError> {
        let r = self.shared().core().send_owned(priority, message.into());
        if r.is_ok() {
            self.shared().waker.wake();
        }
        r
    }

    /// Like [`send`](Self::send), but waits while the class's queue is full.
    pub fn send_blocking(
        &self,
        priority: Priority,
        message: impl Into<Box<[u8]>>,
    ) -> Result<(), SendError> {
        let mut message = Some(message.into());
        let (lock, cv) = &self.shared().room;
        loop {
            let m = message.take().unwrap_or_default();
            match self.try_queue(priority, m) {
                Ok(()) => return Ok(()),
                Err((SendError::QueueFull, m)) => message = Some(m),
                Err((e, _)) => return Err(e),
            }
            let g = lock.lock().unwrap_or_else(|p| p.into_inner());
            // Room is signalled under `lock`; re-check under it so no signal is missed.
            if self.has_room(priority, message.as_ref().map_or(0, |m| m.len())) {
                continue;
            }
            let _ = cv.wait_timeout(g, Duration::from_millis(50));
        }
    }

    /// Like [`send`](Self::send), but waits (asynchronously) while the class's queue is full.
    pub async fn send_wait(
        &self,
        priority: Priority,
        message: impl Into<Box<[u8]>>,
    ) -> Result<(), SendError> {
        let mut m: Box<[u8]> = message.into();
        loop {
            let notified = self.shared().room_async.notified();
            match self.try_queue(priority, m) {
                Ok(()) => return Ok(()),
                Err((SendError::QueueFull, back)) => m = back,
                Err((e, _)) => return Err(e),
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
        }
    }

    /// Queues `m`, or gives it back with the reason.
    fn try_queue(&self, priority: Priority, m: Box<[u8]>) -> Result<(), (SendError, Box<[u8]>)> {
        let mut core = self.shared().core();
        let max = core.config().max_queued;
        let queued = core.queued_bytes(priority);
        if queued > 0 && queued + m.len() > max {
            return Err((SendError::QueueFull, m));
        }
        let r = core.send_owned(priority, m);
        drop(core);
        match r {
            Ok(()) => {
                self.shared().waker.wake();
                Ok(())
            }
            Err(e) => Err((e, Box::default())),
        }
    }

    fn has_room(&self, priority: Priority, len: usize) -> bool {
        let core = self.shared().core();
        let q = core.queued_bytes(priority);
        q == 0 || q + len <= core.config().max_queued
    }

    /// A snapshot of the session, the counters and the link.
    pub fn status(&self) -> DriverStatus {
        let s = self.shared();
        let stats = *s.stats.lock().unwrap_or_else(|p| p.into_inner());
        let core = s.core();
        let c = |i: usize| PRIORITIES[i];
        DriverStatus {
            state: core.state(),
            peer: core.peer().cloned(),
            counters: core.counters(),
            srtt: core::array::from_fn(|i| core.srtt(c(i))),
            in_flight: core::array::from_fn(|i| core.in_flight(c(i))),
            queued: core::array::from_fn(|i| core.queued_bytes(c(i))),
            held: core::array::from_fn(|i| core.held_bytes(c(i))),
            link: stats.link,
            tx_dropped: stats.tx_dropped,
            tx_link_down: stats.tx_link_down,
            tx_calls: stats.tx_calls,
            priority_raised: stats.priority_raised,
            rx_truncated: stats.rx_truncated,
        }
    }

    /// Runs `f` on the core under its lock (for what the handle does not wrap, e.g. a
    /// new role in the next hello). Keep it short: the driver thread waits meanwhile. Do
    /// not call `poll_event`, `release`, `poll_transmit` or `handle_frame` from here: events
    /// and frames are the driver's, and the receive budget is released by [`MslReceiver`].
    pub fn with_core<T>(&self, f: impl FnOnce(&mut Msl) -> T) -> T {
        let r = f(&mut self.shared().core());
        self.shared().waker.wake();
        r
    }

    /// Closes the session with `reason` (a close frame to the peer; unacked messages come
    /// back as [`MslEvent::Lost`]), stops the thread and waits for it. Idempotent; when two
    /// threads call it at once, one of them may return before the thread has ended.
    pub fn shutdown(&self, reason: CloseReason) -> Result<(), DriverError> {
        let s = self.shared();
        s.request_stop(reason);
        let h = s.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        match h {
            None => Ok(()),
            Some(h) => h.join().map_err(|_| DriverError::Panicked)?,
        }
    }
}

/// Puts the calling thread under SCHED_FIFO at `priority` (1..=99; threads it starts later
/// inherit it), or back under the normal scheduler with 0. False when not permitted:
/// SCHED_FIFO needs `CAP_SYS_NICE` or an `RLIMIT_RTPRIO` of at least `priority`. A thread
/// that must keep its heartbeats on time under a CPU oversubscribed tenfold needs it: nice
/// −10 alone let gaps reach 37–64 ms there (docs/benchmarks.md, "False failovers").
pub fn set_thread_realtime(priority: u8) -> bool {
    let (policy, p) = if priority == 0 {
        (libc::SCHED_OTHER, 0)
    } else {
        (libc::SCHED_FIFO, i32::from(priority.min(99)))
    };
    let param = libc::sched_param { sched_priority: p };
    // SAFETY: a plain system call on the calling thread (0); the result is checked.
    unsafe { libc::sched_setscheduler(0, policy, &param) == 0 }
}

/// True when the calling thread runs under a real-time policy (SCHED_FIFO or SCHED_RR).
pub fn thread_is_realtime() -> bool {
    // SAFETY: a plain system call about the calling thread (0).
    let p = unsafe { libc::sched_getscheduler(0) };
    p == libc::SCHED_FIFO || p == libc::SCHED_RR
}

/// Sets the calling thread's nice value (on Linux, per thread; threads it starts later
/// inherit it). False when not permitted: going below the current value needs
/// `CAP_SYS_NICE`. A latency-critical consumer of [`MslReceiver`] (the thread that answers
/// events) should run at the driver's priority, so that bulk work on other threads cannot
/// keep it from the CPU.
pub fn set_thread_nice(nice: i32) -> bool {
    // SAFETY: plain system calls on the calling thread; the result is checked.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) == 0
    }
}

/// The classes in index order (their `bits()`).
const PRIORITIES: [Priority; 4] = [
    Priority::Control,
    Priority::Event,
    Priority::Bulk,
    Priority::Background,
];

impl Drop for MslReceiver {
    /// Events still queued are released: a consumer that goes away must not leave its
    /// classes' windows closed for good.
    fn drop(&mut self) {
        self.rx.close();
        while let Ok(ev) = self.rx.try_recv() {
            self.took(Some(ev));
        }
        // Dropping a runtime inside an async context panics; this one owns no tasks.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl MslReceiver {
    /// The next event; `None` once the driver stopped and every event was taken.
    pub async fn recv(&mut self) -> Option<DriverEvent> {
        let ev = self.rx.recv().await;
        self.took(ev)
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<DriverEvent> {
        let ev = self.rx.try_recv().ok();
        self.took(ev)
    }

    /// Waits up to `timeout` for the next event (from a thread that is not inside a tokio
    /// runtime). `None` on timeout or when the driver stopped.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Option<DriverEvent> {
        if let Some(ev) = self.try_recv() {
            return Some(ev);
        }
        let rt = match self.rt.take() {
            Some(rt) => rt,
            None => tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .ok()?,
        };
        // The timer must be created inside the runtime: `timeout` registers it at once.
        let rx = &mut self.rx;
        let ev = rt
            .block_on(async { tokio::time::timeout(timeout, rx.recv()).await })
            .ok()
            .flatten();
        self.rt = Some(rt);
        self.took(ev)
    }

    /// Counts a delivered message as taken, so the thread can release its bytes.
    fn took(&self, ev: Option<DriverEvent>) -> Option<DriverEvent> {
        if let Some(DriverEvent::Msl(MslEvent::Delivered { priority, message })) = &ev {
            self.shared.taken[priority.bits() as usize].fetch_add(message.len() as u64, Relaxed);
            self.shared.waker.wake();
        }
        ev
    }
}
