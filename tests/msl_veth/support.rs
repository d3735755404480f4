//! Support for the veth tests: a driver per device with a thread collecting its events,
//! pseudo-random bulk senders, the nftables cut, and the test serialisation lock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sft3::lab::testing::VethPair;
use sft3::link::raw::{LinkKind, RawOptions};
use sft3::link::RawLink;
use sft3::msl::driver::{spawn, DriverEvent, DriverOptions, MslHandle, MslReceiver};
use sft3::msl::{CloseReason, MslConfig, MslEvent, Priority};
use sft3::wire::MacAddr;
pub const MS: Duration = Duration::from_millis(1);
/// The configured heartbeat interval and missed intervals (the core's defaults, set
/// explicitly since the cut test measures against them).
pub const HEARTBEAT: Duration = Duration::from_millis(5);
pub const MISSED: u32 = 4;
/// Liveness bound for anything that should happen "soon".
pub const SOON: Duration = Duration::from_secs(5);

/// One test at a time: they time things, and the machine has two cores.
pub static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Locks, ignoring poison (a panicking test thread must not hide the first failure).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// splitmix64: the test's own deterministic randomness.
pub struct Rng(u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn fill(&mut self, buf: &mut [u8]) {
        for c in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
    }
}

/// The namespace with `va` <-> `vb` at `mtu`.
pub fn veth(tag: &str, mtu: u32) -> VethPair {
    let p = VethPair::new(tag);
    if mtu != 1500 {
        let m = mtu.to_string();
        p.ip(&["link", "set", "va", "mtu", &m]);
        p.ip(&["link", "set", "vb", "mtu", &m]);
    }
    p
}

/// Runs `nft -f -` with `script` inside the pair's namespace.
pub fn nft(pair: &VethPair, script: &str) {
    use std::io::Write;
    let mut child = pair
        .command("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("running nft");
    child
        .stdin
        .take()
        .expect("nft stdin")
        .write_all(script.as_bytes())
        .expect("feeding nft");
    assert!(child.wait().expect("nft").success(), "nft failed: {script}");
}

/// Drops every frame leaving `va` and `vb` (the lab's MSL cut: egress, since packet sockets
/// see frames before any ingress hook). One script, so both directions die at once.
pub fn cut(pair: &VethPair) {
    nft(
        pair,
        "add table netdev msltest\n\
         add chain netdev msltest cut-va { type filter hook egress device \"va\" priority 0; policy drop; }\n\
         add chain netdev msltest cut-vb { type filter hook egress device \"vb\" priority 0; policy drop; }\n",
    );
}

pub fn restore(pair: &VethPair) {
    nft(pair, "delete table netdev msltest\n");
}

/// Bulk messages received (or sent) in order: their hash and boundaries.
pub struct Stream {
    pub hasher: blake3::Hasher,
    pub lens: Vec<u32>,
    pub bytes: u64,
}

impl Stream {
    pub fn new() -> Stream {
        Stream {
            hasher: blake3::Hasher::new(),
            lens: Vec::new(),
            bytes: 0,
        }
    }
    pub fn add(&mut self, m: &[u8]) {
        self.hasher.update(m);
        self.lens.push(m.len() as u32);
        self.bytes += m.len() as u64;
    }
}

/// What a side's collector saw.
pub struct Seen {
    /// Every event but deliveries, with when the collector took it.
    pub log: Vec<(Instant, DriverEvent)>,
    pub bulk: Stream,
    /// Event-class messages and when they arrived.
    pub events_in: Vec<(Instant, Vec<u8>)>,
    /// Deliveries of the other classes.
    pub other: u64,
}

pub struct Collector {
    pub seen: Mutex<Seen>,
    pub cv: Condvar,
    /// While set, the collector takes no event (a slow consumer).
    pub pause: AtomicBool,
    pub stop: AtomicBool,
    /// Bulk bytes received, readable without the lock.
    pub bulk_bytes: AtomicU64,
}

/// One end: a driver on a veth device and a thread taking its events.
pub struct Side {
    pub name: &'static str,
    pub handle: MslHandle,
    pub col: Arc<Collector>,
    /// Just before `spawn`, so at most the spawn's own duration before the driver's epoch.
    pub epoch: Instant,
    pub thread: Option<JoinHandle<()>>,
}

/// How a side starts.
pub struct Start {
    pub dev: &'static str,
    pub id: u64,
    pub incarnation: u64,
    pub opts: DriverOptions,
    /// Sends every event-class message back.
    pub echo: bool,
}

impl Start {
    pub fn new(dev: &'static str, id: u64, incarnation: u64) -> Start {
        Start {
            dev,
            id,
            incarnation,
            opts: DriverOptions::default(),
            echo: false,
        }
    }
}

impl Side {
    pub fn start(pair: &VethPair, name: &'static str, s: Start) -> Side {
        let mut cfg = MslConfig::new(s.id, s.incarnation, MacAddr::ZERO).with_name(name);
        cfg.mtu = 9000; // capped to the link's
        cfg.heartbeat_interval = HEARTBEAT;
        cfg.silent_after_missed = MISSED;
        // Senders block instead of queueing whole transfers at once.
        cfg.max_queued = 8 << 20;
        let (dev, opts) = (s.dev, s.opts);
        let (handle, rx, epoch) = pair.run(move || {
            let ro = RawOptions {
                recv_buffer: Some(16 << 20),
                send_buffer: Some(4 << 20),
                ..RawOptions::new(LinkKind::Msl)
            };
            let link = RawLink::open_with(dev, &ro).expect("opening the raw link");
            let epoch = Instant::now();
            let (h, rx) = spawn(link, cfg, opts).expect("spawning the driver");
            (h, rx, epoch)
        });
        let col = Arc::new(Collector {
            seen: Mutex::new(Seen {
                log: Vec::new(),
                bulk: Stream::new(),
                events_in: Vec::new(),
                other: 0,
            }),
            cv: Condvar::new(),
            pause: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            bulk_bytes: AtomicU64::new(0),
        });
        let echo = s.echo.then(|| handle.clone());
        let c = col.clone();
        let thread = std::thread::Builder::new()
            .name(format!("collect-{name}"))
            .spawn(move || collect(rx, c, echo))
            .expect("collector thread");
        Side {
            name,
            handle,
            col,
            epoch,
            thread: Some(thread),
        }
    }

    pub fn seen(&self) -> MutexGuard<'_, Seen> {
        lock(&self.col.seen)
    }

    /// Index of the next logged event, to wait for events after this point.
    pub fn mark(&self) -> usize {
        self.seen().log.len()
    }

    /// Waits until `f` says yes, panicking after `timeout` with the event log.
    pub fn wait<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut f: impl FnMut(&Seen) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        let mut g = self.seen();
        loop {
            if let Some(v) = f(&g) {
                return v;
            }
            let now = Instant::now();
            if now >= deadline {
                let log: Vec<String> = g.log.iter().map(|(_, e)| short(e)).collect();
                let st = self.handle.status();
                panic!(
                    "{}: no {what} within {timeout:?}; state {:?}, bulk {} B in {} messages, \
                     log {log:?}, counters {:?}",
                    self.name,
                    st.state,
                    g.bulk.bytes,
                    g.bulk.lens.len(),
                    st.counters
                );
            }
            g = self
                .col
                .cv
                .wait_timeout(g, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Waits for the first event from `mark` on that `f` accepts; its time and a copy.
    pub fn wait_event(
        &self,
        what: &str,
        mark: usize,
        timeout: Duration,
        f: impl Fn(&DriverEvent) -> bool,
    ) -> (Instant, DriverEvent) {
        self.wait(what, timeout, |s| {
            s.log.iter().skip(mark).find(|(_, e)| f(e)).cloned()
        })
    }

    pub fn wait_up(&self, mark: usize) -> MslEvent {
        match self.wait_event("Up", mark, SOON, |e| {
            matches!(e, DriverEvent::Msl(MslEvent::Up { .. }))
        }) {
            (_, DriverEvent::Msl(e)) => e,
            _ => unreachable!(),
        }
    }

    /// Events from the log matching `f`.
    pub fn count(&self, f: impl Fn(&DriverEvent) -> bool) -> usize {
        self.seen().log.iter().filter(|(_, e)| f(e)).count()
    }

    /// Panics on any Lost, Restarted, Refused, Closed or Failed event.
    pub fn assert_clean(&self) {
        let g = self.seen();
        for (_, e) in &g.log {
            let bad = matches!(
                e,
                DriverEvent::Failed(_)
                    | DriverEvent::Msl(
                        MslEvent::Lost { .. }
                            | MslEvent::Restarted { .. }
                            | MslEvent::Refused { .. }
                            | MslEvent::Closed { .. }
                    )
            );
            assert!(!bad, "{}: unexpected event {}", self.name, short(e));
        }
    }

    /// Prints the event log with times from `base`.
    pub fn print_log(&self, base: Instant) {
        let log: Vec<String> = self
            .seen()
            .log
            .iter()
            .map(|(t, e)| format!("{:.1?} {}", t.saturating_duration_since(base), short(e)))
            .collect();
        println!("{} events: {log:?}", self.name);
    }

    /// Shuts the driver down and stops the collector.
    pub fn stop(&mut self) {
        let _ = self.handle.shutdown(CloseReason::SHUTDOWN);
        self.col.stop.store(true, SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Side {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An event for messages, without message bytes.
pub fn short(e: &DriverEvent) -> String {
    match e {
        DriverEvent::Msl(MslEvent::Lost { priority, message }) => {
            format!("Lost({priority:?}, {} B)", message.len())
        }
        DriverEvent::Msl(MslEvent::Up { peer }) => format!("Up(inc {})", peer.incarnation),
        DriverEvent::Msl(e) => format!("{e:?}"),
        e => format!("{e:?}"),
    }
}

/// The collector thread: takes events unless paused, hashes bulk, echoes events if asked.
pub fn collect(mut rx: MslReceiver, col: Arc<Collector>, echo: Option<MslHandle>) {
    while !col.stop.load(SeqCst) {
        if col.pause.load(SeqCst) {
            std::thread::sleep(MS);
            continue;
        }
        let t0 = Instant::now();
        let Some(ev) = rx.recv_timeout(20 * MS) else {
            if t0.elapsed() < MS {
                // The driver stopped: the channel is closed and answers at once.
                std::thread::sleep(MS);
            }
            continue;
        };
        let now = Instant::now();
        match ev {
            DriverEvent::Msl(MslEvent::Delivered { priority, message }) => {
                if let (Priority::Event, Some(h)) = (priority, &echo) {
                    let _ = h.send(Priority::Event, message.clone());
                }
                let mut g = lock(&col.seen);
                match priority {
                    Priority::Bulk => {
                        g.bulk.add(&message);
                        col.bulk_bytes.store(g.bulk.bytes, SeqCst);
                    }
                    Priority::Event => g.events_in.push((now, message)),
                    _ => g.other += 1,
                }
            }
            other => lock(&col.seen).log.push((now, other)),
        }
        col.cv.notify_all();
    }
}

/// What a sender pushed.
pub struct Sent {
    pub hash: blake3::Hash,
    pub lens: Vec<u32>,
    pub bytes: u64,
    pub started: Instant,
}

/// Pushes `total` bytes of pseudo-random data as bulk messages of 1 B .. `max` (log-uniform
/// sizes; the first is 1 B and the second `max` B) from a thread.
pub fn push(h: &MslHandle, seed: u64, total: u64, max: usize) -> JoinHandle<Sent> {
    let h = h.clone();
    std::thread::spawn(move || {
        let mut rng = Rng(seed);
        let mut s = Stream::new();
        let mut buf = vec![0u8; max];
        let started = Instant::now();
        let max_bits = usize::BITS - max.leading_zeros();
        while s.bytes < total {
            let n = match s.lens.len() {
                0 => 1,
                1 => max,
                _ => {
                    let bits = rng.below(u64::from(max_bits) + 1);
                    1 + rng.below(1u64 << bits) as usize
                }
            };
            let n = n.min(max).min((total - s.bytes) as usize);
            rng.fill(&mut buf[..n]);
            s.add(&buf[..n]);
            h.send_blocking(Priority::Bulk, &buf[..n])
                .expect("queueing a bulk message");
        }
        drop(h);
        Sent {
            hash: s.hasher.finalize(),
            lens: s.lens,
            bytes: s.bytes,
            started,
        }
    })
}

/// Waits until `rx` has all of `sent` and compares hash and boundaries.
pub fn check_received(rx: &Side, sent: &Sent, timeout: Duration) -> Instant {
    let done = rx.wait("the whole transfer", timeout, |s| {
        (s.bulk.bytes >= sent.bytes).then(Instant::now)
    });
    let g = rx.seen();
    assert_eq!(g.bulk.bytes, sent.bytes, "bytes received");
    assert_eq!(g.bulk.lens.len(), sent.lens.len(), "messages received");
    assert!(g.bulk.lens == sent.lens, "message boundaries differ");
    assert_eq!(g.bulk.hasher.finalize(), sent.hash, "blake3 of the stream");
    done
}

/// Both sides up.
pub fn up_pair(pair: &VethPair, a: Start, b: Start) -> (Side, Side) {
    let a = Side::start(pair, "A", a);
    let b = Side::start(pair, "B", b);
    a.wait_up(0);
    b.wait_up(0);
    (a, b)
}

pub fn mib(b: u64) -> f64 {
    b as f64 / (1 << 20) as f64
}

pub fn is_silent(e: &DriverEvent) -> bool {
    matches!(e, DriverEvent::Msl(MslEvent::Silent { .. }))
}

pub fn is_recovered(e: &DriverEvent) -> bool {
    matches!(e, DriverEvent::Msl(MslEvent::Recovered { .. }))
}

pub fn is_carrier(up: bool) -> impl Fn(&DriverEvent) -> bool {
    move |e| matches!(e, DriverEvent::Link(l) if l.carrier == up)
}
