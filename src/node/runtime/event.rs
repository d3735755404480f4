//! The control plane's event loop: one tokio current-thread runtime on its own thread
//! (`sft3-node`, nice −10), waking on the first of
//!
//! | source | what happens |
//! |---|---|
//! | stop request | clean shutdown (below) |
//! | an MSL driver event | [`Plane::msl_event`] (then every event already queued); with a volume, its event and bulk classes and the session's ends go to the volume thread |
//! | the volume thread | generations and resync progress into the role machine, reports into the notices |
//! | an operator command (`sft3 ctl survivor/promote/demote`) | [`Plane::command`] |
//! | a LAN socket readable | up to [`RX_BATCH`] frames per adapter into [`Plane::lan_frame`] |
//! | rtnetlink link change | [`Plane::lan_link`] for the adapter it names |
//! | the cores' next timer, or the 100 ms tick | timers; counters from sysfs; own health; snapshot |
//!
//! and after each wake-up sends what the plane produced: the MSL messages it queued
//! ([`Plane::poll_msl_message`]) into the MSL driver, its notices ([`Plane::poll_notice`])
//! to the console and the admin log with the wall-clock time, and every state packet and
//! probe that is due. The plane itself does no I/O. Nothing here blocks but the wait
//! itself, and nothing allocates per frame but the role machine's inputs.
//!
//! **Clean shutdown** (stop request or signal): the role machine is told
//! `Command::Shutdown` (it withdraws, stops serving and gives the final notice), one last
//! round of state packets announces the shut-down role, the control messages still queued
//! (a switch-over's release) are given up to 50 ms to be acknowledged, then the MSL session
//! is closed (the peer's MSL reports the close at once, and its LAN paths fall silent
//! within the silence threshold, which is how it tells a stopped peer from a broken MSL).
//! When the role machine itself ended the server (scenario 3's shutdown, scenario 4's
//! restart as secondary), the same steps run without the command.

use std::future::{poll_fn, Future};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Notify;

use crate::beacon::MAX_FRAME_LEN;
use crate::link::raw::AsyncLinkWatcher;
use crate::link::{AsyncRawLink, Link, RxMeta};
use crate::msl::driver::{DriverEvent, MslHandle, MslReceiver};
use crate::msl::CloseReason;
use crate::node::log::AdminLog;
use crate::node::status::StatusSnapshot;
use crate::node::volume::{ServiceOut, VolumeInbox, VolumeStatus};
use crate::role::{Command, Input};
use tokio::sync::mpsc::UnboundedReceiver;

use super::plane::{Exit, Plane, TICK};
use super::service::ServiceLog;
use super::snapshot::{self, Identity};

/// Frames taken from one LAN adapter per wake-up (then the others get their turn).
pub(super) const RX_BATCH: usize = 16;
/// Receive buffer per frame (a LAN frame is at most 1514 bytes; larger ones are cut).
pub(super) const RX_BUF: usize = 2048;

/// Receive buffers for one adapter.
pub(super) fn rx_buffers() -> (Vec<Box<[u8]>>, Vec<RxMeta>) {
    let bufs = (0..RX_BATCH)
        .map(|_| vec![0u8; RX_BUF].into_boxed_slice())
        .collect();
    let meta = RxMeta {
        len: 0,
        orig_len: 0,
        ts: crate::capture::Timestamp::default(),
    };
    (bufs, vec![meta; RX_BATCH])
}

/// A stop request: a flag and a wake-up.
#[derive(Default)]
pub(super) struct Stop {
    pub flag: AtomicBool,
    pub notify: Notify,
}

impl Stop {
    pub fn request(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_one();
    }
}

/// What the loop shares with the handles.
///
/// The control plane runs real-time and the readers (the status socket's thread, a test)
/// do not: a reader preempted while it held a lock would stall the control plane behind it
/// (priority inversion; measured under a tenfold CPU overload: 15-28 ms, enough to trip the
/// stall fence). So readers hold a lock only to clone an `Arc`, and the control plane
/// never waits for one: it `try_lock`s, and when that fails it publishes again next turn.
pub(super) struct Published {
    pub snapshot: Mutex<Arc<StatusSnapshot>>,
    pub notices: Mutex<Arc<Vec<String>>>,
    /// Signalled once when the loop has ended.
    pub ended: Notify,
}

/// The sockets the loop waits on.
pub(super) struct Io {
    pub lans: Vec<AsyncRawLink>,
    /// Receive buffers and their descriptions, per adapter.
    pub bufs: Vec<Vec<Box<[u8]>>>,
    pub metas: Vec<Vec<RxMeta>>,
    pub watcher: Option<AsyncLinkWatcher>,
    /// Kernel interface index of each LAN adapter, by position.
    pub ifindex: Vec<u32>,
    pub msl_rx: MslReceiver,
    /// Where the plane's MSL messages go.
    pub msl: MslHandle,
    /// Where its notices go (`None`: stderr only).
    pub log: Option<AdminLog>,
    /// The volume thread's MSL inbox, when a volume is configured.
    pub volume: Option<VolumeInbox>,
    /// What the volume thread tells the control plane.
    pub service_out: Option<UnboundedReceiver<ServiceOut>>,
    /// Operator commands from the control socket (`sft3 ctl`).
    pub commands: Option<UnboundedReceiver<Command>>,
}

/// Everything else the loop needs.
pub(super) struct Ctx {
    pub epoch: Instant,
    pub identity: Identity,
    pub stop: Arc<Stop>,
    pub published: Arc<Published>,
    pub service_log: Option<Box<dyn Fn() -> ServiceLog + Send>>,
    /// Read `/sys/class/net/IF/statistics` (false when sysfs shows another namespace).
    pub sysfs: bool,
    /// The volume thread's status, when a volume is configured.
    pub volume_status: Option<Arc<Mutex<Arc<VolumeStatus>>>>,
}

/// Runs until a stop request or a role decision ends the process.
pub(super) async fn run(mut plane: Plane, mut io: Io, ctx: Ctx) -> Exit {
    let mut tx = vec![0u8; MAX_FRAME_LEN.max(RX_BUF)];
    let mut next_tick = Duration::ZERO;
    let mut published: Option<u64> = None;
    let mut msl_gone = false;
    let mut watch_errors = 0u32;
    let exit = loop {
        let now = ctx.epoch.elapsed();
        plane.timers(now);
        if now >= next_tick {
            if ctx.sysfs {
                sample_counters(&mut plane, &ctx, now);
            }
            plane.tick(now);
            plane.msl_drops(now, &io.msl.status().counters.dropped);
            next_tick = now + TICK;
            published = None;
        }
        drain(&mut plane, &mut io);
        send_due(&mut plane, &mut io, &mut tx, now);
        // Every tick and after every decision: `sft3 status` is at most 100 ms old, and
        // never misses a decision.
        if published != Some(plane.decisions) && publish(&plane, &io, &ctx, now) {
            published = Some(plane.decisions);
        }
        if let Some(e) = plane.exit {
            break e;
        }
        if ctx.stop.flag.load(Ordering::SeqCst) {
            break Exit::Stopped;
        }
        let deadline = plane
            .next_deadline()
            .map_or(next_tick, |d| d.min(next_tick));
        let sleep = tokio::time::sleep_until((ctx.epoch + deadline).into());
        // One receive future per adapter over its own buffers; the first with frames wins
        // (the others keep their readiness for the next turn).
        let lan_ready = {
            let mut futs: Vec<_> = io
                .lans
                .iter_mut()
                .zip(io.bufs.iter_mut().zip(io.metas.iter_mut()))
                .map(|(l, (b, m))| Box::pin(l.recv_batch(b, m)))
                .collect();
            poll_fn(move |cx| {
                for (pos, f) in futs.iter_mut().enumerate() {
                    if let Poll::Ready(r) = f.as_mut().poll(cx) {
                        return Poll::Ready((pos, r));
                    }
                }
                Poll::Pending
            })
        };
        let link_event = async {
            match io.watcher.as_mut() {
                Some(w) => w.next().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = ctx.stop.notify.notified() => {}
            ev = io.msl_rx.recv(), if !msl_gone => {
                let now = ctx.epoch.elapsed();
                match ev {
                    Some(ev) => msl_in(&mut plane, &io, now, ev),
                    None => {
                        // Once: a closed channel answers at once forever after.
                        msl_gone = true;
                        let e = DriverEvent::Failed("the driver stopped".into());
                        msl_in(&mut plane, &io, now, e);
                    }
                }
                while let Some(ev) = io.msl_rx.try_recv() {
                    msl_in(&mut plane, &io, ctx.epoch.elapsed(), ev);
                }
            }
            c = next_command(&mut io.commands) => {
                match c {
                    Some(c) => plane.command(ctx.epoch.elapsed(), c),
                    None => io.commands = None,
                }
            }
            out = service_out(&mut io.service_out) => {
                let now = ctx.epoch.elapsed();
                match out {
                    Some(ServiceOut::Input(i)) => plane.service_input(now, i),
                    Some(ServiceOut::Notice(sev, text, ev)) => plane.service_report(now, sev, text, ev),
                    None => io.service_out = None,
                }
            }
            ev = link_event => {
                let now = ctx.epoch.elapsed();
                match ev {
                    Ok(ev) => {
                        watch_errors = 0;
                        let pos = io.ifindex.iter().position(|&i| i == ev.index);
                        if let (Some(pos), Some(st)) = (pos, ev.status()) {
                            plane.lan_link(now, pos, st);
                        }
                    }
                    Err(e) => {
                        // Events lost (ENOBUFS, reported once): ask for the state again.
                        // A watcher that keeps failing would answer at once forever: drop
                        // it and rely on the paths' silence (slower, still correct).
                        watch_errors += 1;
                        let again = io.watcher.as_mut().map(|w| w.get_mut().request_dump());
                        if watch_errors > 8 || matches!(again, Some(Err(_))) {
                            eprintln!("sft3: rtnetlink watcher failed, link events off: {e}");
                            io.watcher = None;
                        }
                    }
                }
            }
            (pos, r) = lan_ready => {
                let n = match r {
                    Ok(n) => n,
                    Err(_) => {
                        // Counted; a socket that keeps failing must not spin the loop.
                        plane.lan_rx_errors += 1;
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        0
                    }
                };
                let now = ctx.epoch.elapsed();
                if let (Some(bufs), Some(metas)) = (io.bufs.get(pos), io.metas.get(pos)) {
                    for (b, m) in bufs.iter().zip(metas).take(n) {
                        plane.lan_frame(now, pos, &b[..m.len.min(b.len())]);
                    }
                }
            }
            _ = sleep => {}
        }
    };
    shutdown(&mut plane, &mut io, &mut tx, &ctx, exit);
    exit
}

/// An MSL driver event: the volume's classes and the session's ends go to the volume
/// thread (when there is one), everything else (and the session's ends too) to the plane.
fn msl_in(plane: &mut Plane, io: &Io, now: Duration, ev: DriverEvent) {
    let ev = match (&io.volume, ev) {
        (Some(v), DriverEvent::Msl(e)) => match v.route(e) {
            Some(e) => DriverEvent::Msl(e),
            None => return,
        },
        (Some(v), DriverEvent::Failed(why)) => {
            v.session(false);
            DriverEvent::Failed(why)
        }
        (_, ev) => ev,
    };
    plane.msl_event(now, ev);
}

/// The control socket's next operator command (never, without one).
async fn next_command(rx: &mut Option<UnboundedReceiver<Command>>) -> Option<Command> {
    match rx.as_mut() {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The volume thread's next message (never, without a volume).
async fn service_out(rx: &mut Option<UnboundedReceiver<ServiceOut>>) -> Option<ServiceOut> {
    match rx.as_mut() {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Sends every due state packet (with fresh local state) and probe.
fn send_due(plane: &mut Plane, io: &mut Io, tx: &mut [u8], now: Duration) {
    let lans = &mut io.lans;
    plane.transmit_due(now, tx, |pos, f| {
        if let Some(l) = lans.get_mut(pos) {
            // A full send buffer loses this packet; the next goes an interval later.
            let _ = l.get_mut().send(f);
        }
    });
}

/// Carries out what the plane queued: the handshake's announcement and MSL messages into
/// the driver, notices to the console and the log file (stamped with the wall-clock time
/// now).
fn drain(plane: &mut Plane, io: &mut Io) {
    if let Some(a) = plane.poll_announcement() {
        io.msl.with_core(|c| c.set_announcement(a));
    }
    while let Some((priority, m)) = plane.poll_msl_message() {
        if io.msl.send(priority, m).is_err() {
            plane.msl_send_errors += 1;
        }
    }
    while let Some(n) = plane.poll_notice() {
        match io.log.as_mut() {
            Some(log) => log.notice(SystemTime::now(), &n),
            None => eprintln!("{n}"),
        }
    }
}

fn sample_counters(plane: &mut Plane, ctx: &Ctx, now: Duration) {
    for (pos, name) in ctx.identity.adapters.iter().enumerate() {
        if let Ok(c) = crate::health::sysfs::read_counters(name) {
            plane.lan_counters(now, pos, c);
        }
    }
}

/// Publishes the status and the notices without waiting for a reader (see [`Published`]);
/// false when a reader held a lock (try again next turn).
fn publish(plane: &Plane, io: &Io, ctx: &Ctx, now: Duration) -> bool {
    let log = ctx.service_log.as_ref().map(|f| f());
    let mut snap = snapshot::build(&ctx.identity, plane, &io.msl.status(), log, now);
    // The volume thread runs at a normal priority: never wait for its lock.
    snap.volume = ctx
        .volume_status
        .as_ref()
        .and_then(|m| m.try_lock().ok().map(|g| (**g).clone()));
    let snap = Arc::new(snap);
    let notices = Arc::new(plane.notices.iter().cloned().collect::<Vec<_>>());
    let ok = put(&ctx.published.snapshot, snap);
    put(&ctx.published.notices, notices) && ok
}

/// Replaces the value behind `m` unless someone holds the lock. The old value is dropped
/// after the lock is released.
fn put<T>(m: &Mutex<Arc<T>>, v: Arc<T>) -> bool {
    let old = match m.try_lock() {
        Ok(mut g) => std::mem::replace(&mut *g, v),
        Err(std::sync::TryLockError::Poisoned(p)) => std::mem::replace(&mut *p.into_inner(), v),
        Err(std::sync::TryLockError::WouldBlock) => return false,
    };
    drop(old);
    true
}

/// The end: a clean shutdown unless the role machine already ended the server.
fn shutdown(plane: &mut Plane, io: &mut Io, tx: &mut [u8], ctx: &Ctx, exit: Exit) {
    let now = ctx.epoch.elapsed();
    if exit == Exit::Stopped {
        plane.role.handle(now, Input::Command(Command::Shutdown));
        plane.tick(now);
        plane.exit = None;
    }
    drain(plane, io);
    // One last round of state packets: the peer sees the final role at once.
    force_state_round(plane, io, tx, now);
    flush_control(io);
    let _ = io.msl.shutdown(CloseReason::SHUTDOWN);
    publish(plane, io, ctx, ctx.epoch.elapsed());
    if let Some(log) = io.log.as_mut() {
        log.info(
            SystemTime::now(),
            &format!("sft3 stopped: {exit:?}, state {:?}", plane.role.state()),
        );
    }
}

/// Waits (at most [`FLUSH_LIMIT`]) until the peer acknowledged every queued control
/// message: the close must not overtake the last role message (the switch-over's
/// release), or the peer would read a shutdown where a release was meant.
fn flush_control(io: &Io) {
    let t0 = Instant::now();
    while t0.elapsed() < FLUSH_LIMIT {
        let st = io.msl.status();
        if st.state != crate::msl::MslState::Up || st.queued[0] == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The longest [`flush_control`] waits: many round trips, far below a human's patience.
const FLUSH_LIMIT: Duration = Duration::from_millis(50);

/// Sends one state packet on every adapter now, whatever the schedule.
fn force_state_round(plane: &mut Plane, io: &mut Io, tx: &mut [u8], now: Duration) {
    let lans = &mut io.lans;
    plane.transmit_final_round(now, tx, |pos, f| {
        if let Some(l) = lans.get_mut(pos) {
            let _ = l.get_mut().send(f);
        }
    });
}
