//! `sft3 bench msl`: MSL bulk throughput against a naive raw send loop, same pair, same run.
//!
//! | step (per run) | what | rate |
//! |---|---|---|
//! | baseline | A sends ⌈N / MTU⌉ MSL-EtherType frames of MTU + 14 bytes, one `Link::send` each (retrying on a full buffer); B counts them with `recv_batch` | payload bytes received (MTU per frame) × 8 / (first send → last frame received) |
//! | transport | a driver per end; A queues N bytes as Bulk messages with `send_blocking`; B checksums (CRC32C, hardware) what is delivered, in order | N × 8 / (first send → last byte delivered) |
//!
//! The JSON line holds the medians over the runs (the ratio is taken per run, then the
//! median); `retransmits` is the median of the runs' retransmitted frames.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;

use super::pair::{End, Pair};
use super::{json_line, median, parse_size, Json};
use crate::link::{Link, LinkError, RxMeta};
use crate::msl::driver::{self, DriverEvent, DriverOptions, DriverStatus, MslHandle, MslReceiver};
use crate::msl::{MslConfig, MslEvent, Priority};
use crate::wire::crc::Crc32c;
use crate::wire::MacAddr;

/// `sft3 bench msl`.
#[derive(Args, Debug, Clone)]
pub struct MslArgs {
    /// MTU of the veth pair (1500, 9000, ...).
    #[arg(long, default_value_t = 1500)]
    pub mtu: usize,
    /// Bytes to push per run (e.g. 1GiB, 256MiB).
    #[arg(long, value_parser = parse_size, default_value = "1GiB")]
    pub bytes: u64,
    /// Percent of frames dropped both ways (nftables netdev egress on the bridge's ports;
    /// implies --hop). Also measures the lossless transfer on the same pair per run.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..100))]
    pub loss: u8,
    /// Runs (the figures are their medians).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Size of each Bulk message.
    #[arg(long, value_parser = parse_size, default_value = "1MiB")]
    pub message_size: u64,
    /// Driver and core settings (defaults: the library's).
    #[command(flatten)]
    pub tuning: Tuning,
    /// Put a bridge in a middle namespace between the ends (implied by --loss, whose drops
    /// must be silent to the sender; see `bench::pair`).
    #[arg(long)]
    pub hop: bool,
    /// Skip the baseline (for profiling the transport alone; the ratio is then null).
    #[arg(long, hide = true)]
    pub skip_baseline: bool,
}

/// Settings of both ends that differ from the library's defaults only when given (for
/// diagnosis: the figures in the docs use the defaults).
#[derive(Args, Debug, Clone)]
pub struct Tuning {
    /// Frames per `sendmmsg` of the drivers (`DriverOptions::tx_batch`).
    #[arg(long, default_value_t = DriverOptions::default().tx_batch)]
    pub tx_batch: usize,
    /// Bytes per `sendmmsg` of the drivers (`DriverOptions::tx_batch_bytes`).
    #[arg(long, value_parser = parse_size, default_value = "64KiB")]
    pub tx_batch_bytes: u64,
    /// Frames in flight per stream (`MslConfig::window`; default the library's).
    #[arg(long)]
    pub window: Option<u16>,
    /// Lower bound of the retransmission timeout, µs (`MslConfig::rto_min`).
    #[arg(long)]
    pub rto_min_us: Option<u64>,
    /// Delivered bytes the consumer may hold per class (`DriverOptions::rx_budget`).
    #[arg(long, value_parser = parse_size)]
    pub rx_budget: Option<u64>,
    /// Payload bytes in flight per class (`MslConfig::max_in_flight_bytes`).
    #[arg(long, value_parser = parse_size)]
    pub max_in_flight: Option<u64>,
}

/// Runs the benchmark; prints the JSON line.
pub fn run(args: &MslArgs) -> anyhow::Result<i32> {
    if args.mtu < 576 || args.mtu > 65535 {
        bail!("--mtu {}: use 576..65535 (1500, 9000)", args.mtu);
    }
    if args.bytes == 0 || args.message_size == 0 || args.runs == 0 {
        bail!("--bytes, --message-size and --runs must be positive");
    }
    if args.message_size > 1 << 30 {
        bail!("--message-size is at most 1GiB (the MSL's default max_message)");
    }
    let hop = args.hop || args.loss > 0;
    let pair = if hop {
        Pair::with_hop(args.mtu)?
    } else {
        Pair::new(args.mtu)?
    };
    pair.set_loss(args.loss)?;
    eprintln!(
        "bench msl: veth {} <-> {} (MTU {}{}), {} bytes in {}-byte Bulk messages, loss {} %, {} runs",
        pair.ns(End::A),
        pair.ns(End::B),
        args.mtu,
        if hop { ", through a bridge" } else { "" },
        args.bytes,
        args.message_size,
        args.loss,
        args.runs
    );
    let msgs = Arc::new(Messages::new(args.bytes, args.message_size as usize));
    let expected = msgs.hash();
    let (mut secs, mut gbit, mut base, mut ratio, mut retx) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut lossless, mut vs_lossless) = (vec![], vec![]);
    let (mut cpu, mut base_cpu) = (vec![], vec![]);
    let gib = args.bytes as f64 / (1u64 << 30) as f64;
    let mut base_lost = 0u64;
    for r in 0..args.runs {
        let b = if args.skip_baseline {
            Baseline::default()
        } else {
            baseline(&pair, args.bytes)?
        };
        eprintln!(
            "run {r} baseline: {:.3} Gbit/s, {} of {} frames arrived ({} lost, {} dropped at send), {:.3} s",
            b.gbit, b.received, b.sent, b.sent - b.received, b.tx_dropped, b.seconds
        );
        let t = checked_transport(&pair, &msgs, args, expected, &format!("run {r}"))?;
        if args.loss > 0 {
            // The same transfer without loss, same pair, same run: the reference for
            // "at least half the lossless throughput".
            pair.clear_loss()?;
            let l = checked_transport(&pair, &msgs, args, expected, &format!("run {r} lossless"));
            pair.set_loss(args.loss)?;
            let l = l?;
            lossless.push(l.gbit);
            vs_lossless.push(t.gbit / l.gbit);
        }
        secs.push(t.seconds);
        gbit.push(t.gbit);
        base.push(b.gbit);
        ratio.push(if b.gbit > 0.0 {
            t.gbit / b.gbit
        } else {
            f64::NAN
        });
        retx.push(t.sender.counters.retransmits as f64);
        cpu.push(t.cpu / gib);
        base_cpu.push(b.cpu / gib);
        eprintln!(
            "run {r} CPU: transport {:.3} s/GiB, baseline {:.3} s/GiB",
            t.cpu / gib,
            b.cpu / gib
        );
        base_lost += b.sent - b.received;
    }
    pair.clear_loss()?;
    let mut fields = vec![
        ("mtu", Json::U(args.mtu as u64)),
        ("bytes", Json::U(args.bytes)),
        ("seconds", Json::F(median(&secs), 4)),
        ("gbit_per_s", Json::F(median(&gbit), 3)),
        ("retransmits", Json::U(median(&retx).round() as u64)),
        ("baseline_gbit_per_s", Json::F(median(&base), 3)),
        ("ratio", Json::F(median(&ratio), 3)),
        ("loss_pct", Json::U(args.loss as u64)),
        ("runs", Json::U(args.runs as u64)),
        ("checksum_ok", Json::B(true)),
        ("message_size", Json::U(args.message_size)),
        ("baseline_lost", Json::U(base_lost)),
        ("hop", Json::B(hop)),
        ("cpu_s_per_gib", Json::F(median(&cpu), 3)),
        ("baseline_cpu_s_per_gib", Json::F(median(&base_cpu), 3)),
    ];
    if args.loss > 0 {
        fields.push(("lossless_gbit_per_s", Json::F(median(&lossless), 3)));
        fields.push(("vs_lossless", Json::F(median(&vs_lossless), 3)));
    }
    println!("{}", json_line(&fields));
    Ok(0)
}

/// The MSL's bulk rate on a fresh veth pair of `mtu` with the library's defaults: `bytes`
/// in `message_size` Bulk messages, checked, in Gbit/s (the reference other benchmarks
/// compare with, measured in their own run).
pub(crate) fn bulk_rate(mtu: usize, bytes: u64, message_size: u64) -> anyhow::Result<f64> {
    let args = MslArgs {
        mtu,
        bytes,
        loss: 0,
        runs: 1,
        message_size,
        tuning: Tuning {
            tx_batch: DriverOptions::default().tx_batch,
            tx_batch_bytes: 64 << 10,
            window: None,
            rto_min_us: None,
            rx_budget: None,
            max_in_flight: None,
        },
        hop: false,
        skip_baseline: true,
    };
    let pair = Pair::new(mtu)?;
    let msgs = Arc::new(Messages::new(bytes, message_size as usize));
    let expected = msgs.hash();
    let t = checked_transport(&pair, &msgs, &args, expected, "msl bulk reference")?;
    Ok(t.gbit)
}

/// One transport run, reported on stderr; fails when the checksum does not match.
fn checked_transport(
    pair: &Pair,
    msgs: &Arc<Messages>,
    args: &MslArgs,
    expected: u32,
    label: &str,
) -> anyhow::Result<Transport> {
    let t = transport(pair, msgs, args)?;
    let ok = t.checksum == expected;
    eprintln!(
        "{label} transport: {:.3} Gbit/s, {:.3} s, checksum {}",
        t.gbit,
        t.seconds,
        if ok { "ok" } else { "MISMATCH" }
    );
    eprintln!("{label} sender:   {}", describe(&t.sender));
    eprintln!("{label} receiver: {}", describe(&t.receiver));
    if !ok {
        bail!(
            "{label}: checksum mismatch: sent {}, delivered {} ({} messages)",
            expected,
            t.checksum,
            t.messages
        );
    }
    Ok(t)
}

/// One line of a driver's counters for stderr.
fn describe(s: &DriverStatus) -> String {
    let c = &s.counters;
    let per_call = if s.tx_calls > 0 {
        c.frames_sent as f64 / s.tx_calls as f64
    } else {
        0.0
    };
    format!(
        "frames sent {} (data {}, acks {}) in {} sendmmsg ({per_call:.1}/call), received {}, \
         retransmits {} (fast {}, timeouts {}), dropped rx {} (rx_blocked {}, out_of_window {}, \
         duplicate {}), tx_dropped {}, srtt bulk {:?}",
        c.frames_sent,
        c.data_sent,
        c.acks_sent,
        s.tx_calls,
        c.frames_received,
        c.retransmits,
        c.fast_lost,
        c.timeouts,
        c.dropped.total(),
        c.dropped.rx_blocked,
        c.dropped.out_of_window,
        c.dropped.duplicate,
        s.tx_dropped,
        s.srtt[2]
    )
}

/// The messages of a run: slices of one pseudo-random pattern at varying offsets, so a
/// message delivered twice, late or out of order changes the hash.
pub(crate) struct Messages {
    pattern: Vec<u8>,
    size: usize,
    total: u64,
}

/// Spread of the messages' start offsets in the pattern.
const SPREAD: usize = 1 << 16;

impl Messages {
    pub(crate) fn new(total: u64, size: usize) -> Messages {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let pattern = (0..size + SPREAD)
            .map(|_| {
                // xorshift64: cheap, and plenty for a checksum test.
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        Messages {
            pattern,
            size,
            total,
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.total.div_ceil(self.size as u64)
    }

    pub(crate) fn get(&self, i: u64) -> &[u8] {
        let len = (self.total - i * self.size as u64).min(self.size as u64) as usize;
        let off = (i as usize).wrapping_mul(4099) % SPREAD;
        &self.pattern[off..off + len]
    }

    /// The CRC32C of every message, in order: a message lost, doubled, reordered or
    /// damaged changes it. (CRC32C, not BLAKE3: on a small machine the consumer's checksum
    /// competes for the CPU with the drivers it measures, and CRC32C is many times cheaper.)
    fn hash(&self) -> u32 {
        let mut c = Crc32c::new();
        (0..self.count()).for_each(|i| c.update(self.get(i)));
        c.finish()
    }
}

#[derive(Default)]
struct Baseline {
    /// CPU seconds of the whole run (both ends).
    cpu: f64,
    sent: u64,
    received: u64,
    tx_dropped: u64,
    seconds: f64,
    gbit: f64,
}

/// The naive loop: one `send` per full-MTU frame from A, counted at B.
fn baseline(pair: &Pair, bytes: u64) -> anyhow::Result<Baseline> {
    let mut tx = pair.open(End::A)?;
    let mut rx = pair.open(End::B)?;
    let mtu = tx.info().mtu;
    let n = bytes.div_ceil(mtu as u64);
    let mut frame = vec![0u8; mtu + crate::link::ETH_OVERHEAD];
    frame[..6].copy_from_slice(&rx.info().mac.0);
    frame[6..12].copy_from_slice(&tx.info().mac.0);
    frame[12..14].copy_from_slice(&crate::wire::msl::ETHERTYPE_MSL.to_be_bytes());
    let done = std::sync::atomic::AtomicBool::new(false);
    let (t0, cpu0) = (Instant::now(), super::process_cpu_seconds());
    let (received, last) = std::thread::scope(|s| -> anyhow::Result<(u64, Instant)> {
        let receiver = s.spawn(|| count_frames(&mut rx, frame.len(), n, &done));
        let mut sent = 0u64;
        let r = (|| {
            while sent < n {
                match tx.send(&frame) {
                    Ok(()) => sent += 1,
                    Err(e) if e.is_would_block() => std::thread::yield_now(),
                    Err(e) => return Err(e),
                }
            }
            Ok::<(), LinkError>(())
        })();
        done.store(true, std::sync::atomic::Ordering::Release);
        let got = receiver.join().expect("baseline receiver panicked");
        r.context("baseline send")?;
        got
    })?;
    let cpu = super::process_cpu_seconds() - cpu0;
    let seconds = last.saturating_duration_since(t0).as_secs_f64();
    let gbit = if received > 0 && seconds > 0.0 {
        (received * mtu as u64) as f64 * 8.0 / seconds / 1e9
    } else {
        0.0
    };
    Ok(Baseline {
        sent: n,
        received,
        tx_dropped: tx.tx_dropped(),
        seconds,
        gbit,
        cpu,
    })
}

/// Counts frames until `n` arrived, or the sender is done and nothing came for 200 ms.
fn count_frames(
    rx: &mut crate::link::RawLink,
    size: usize,
    n: u64,
    done: &std::sync::atomic::AtomicBool,
) -> anyhow::Result<(u64, Instant)> {
    use std::os::fd::AsRawFd;
    let mut bufs = vec![vec![0u8; size]; 64];
    let empty = RxMeta {
        len: 0,
        orig_len: 0,
        ts: crate::capture::Timestamp::new(0, 0),
    };
    let mut metas = vec![empty; 64];
    let (mut count, mut last) = (0u64, Instant::now());
    loop {
        let got = rx.recv_batch(&mut bufs, &mut metas)? as u64;
        if got > 0 {
            count += got;
            last = Instant::now();
            if count >= n {
                return Ok((count, last));
            }
            continue;
        }
        if done.load(std::sync::atomic::Ordering::Acquire)
            && last.elapsed() > Duration::from_millis(200)
        {
            return Ok((count, last));
        }
        let mut pfd = libc::pollfd {
            fd: rx.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, its count, a 10 ms timeout.
        unsafe { libc::poll(&mut pfd, 1, 10) };
    }
}

/// Starts a driver on `end` (from inside its namespace, for the rtnetlink watcher) and
/// waits until its session is up.
pub(crate) fn start(
    pair: &Pair,
    end: End,
    tuning: &Tuning,
) -> anyhow::Result<(MslHandle, MslReceiver)> {
    let link = pair.open(end)?;
    let mut cfg = MslConfig::new(
        if end == End::A { 1 } else { 2 },
        super::incarnation(),
        MacAddr::ZERO,
    );
    cfg.mtu = link.info().mtu;
    if let Some(b) = tuning.max_in_flight {
        cfg.max_in_flight_bytes = b as usize;
    }
    if let Some(w) = tuning.window {
        cfg.window = w;
    }
    if let Some(us) = tuning.rto_min_us {
        cfg.rto_min = Duration::from_micros(us);
    }
    let opts = DriverOptions {
        tx_batch: tuning.tx_batch,
        tx_batch_bytes: tuning.tx_batch_bytes as usize,
        rx_budget: tuning
            .rx_budget
            .map_or(DriverOptions::default().rx_budget, |b| b as usize),
        thread_name: format!("sft3-msl-{end:?}"),
        ..DriverOptions::default()
    };
    let r = crate::lab::cmd::in_netns(pair.ns(end), move || driver::spawn(link, cfg, opts))?;
    Ok(r?)
}

/// Waits for `Up` on a receiver (other events before it are ignored).
pub(crate) fn wait_up(rx: &mut MslReceiver, who: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Some(DriverEvent::Msl(MslEvent::Up { .. })) => return Ok(()),
            Some(DriverEvent::Failed(e)) => bail!("{who}'s driver failed: {e}"),
            Some(_) => {}
            None => break,
        }
    }
    bail!("{who}: no MSL session within 10 s")
}

struct Transport {
    /// CPU seconds of the transfer: both drivers, the producer and the consumer.
    cpu: f64,
    seconds: f64,
    gbit: f64,
    checksum: u32,
    messages: u64,
    sender: DriverStatus,
    receiver: DriverStatus,
}

/// The transport: A's driver sends the messages, B's receiver hashes what is delivered.
fn transport(pair: &Pair, msgs: &Arc<Messages>, args: &MslArgs) -> anyhow::Result<Transport> {
    let (ha, mut ra) = start(pair, End::A, &args.tuning)?;
    let (hb, mut rb) = start(pair, End::B, &args.tuning)?;
    wait_up(&mut ra, "A")?;
    wait_up(&mut rb, "B")?;
    let total = msgs.total;
    let (t0, cpu0) = (Instant::now(), super::process_cpu_seconds());
    let (end, checksum, messages) = std::thread::scope(|s| {
        let rx_thread = std::thread::Builder::new().name("bench-rx".into());
        let receiver =
            rx_thread.spawn_scoped(s, move || -> anyhow::Result<(Instant, u32, u64)> {
                let mut h = Crc32c::new();
                let (mut got, mut count) = (0u64, 0u64);
                while got < total {
                    match rb.recv_timeout(Duration::from_secs(10)) {
                        Some(DriverEvent::Msl(MslEvent::Delivered { message, .. })) => {
                            let want = msgs.get(count).len();
                            if message.len() != want {
                                bail!(
                                    "message {count}: {} bytes delivered, {want} sent",
                                    message.len()
                                );
                            }
                            h.update(&message);
                            got += message.len() as u64;
                            count += 1;
                        }
                        Some(DriverEvent::Msl(
                            e @ (MslEvent::Lost { .. }
                            | MslEvent::Restarted { .. }
                            | MslEvent::Closed { .. }
                            | MslEvent::Refused { .. }),
                        )) => bail!("receiver: unexpected {e:?}"),
                        Some(DriverEvent::Failed(e)) => bail!("B's driver failed: {e}"),
                        Some(_) => {}
                        None => {
                            bail!("receiver: nothing delivered for 10 s ({got} of {total} bytes)")
                        }
                    }
                }
                Ok((Instant::now(), h.finish(), count))
            })?;
        // The sender runs detached: if the receiver gives up, a sender blocked on a full
        // queue must not keep the benchmark waiting (it ends with the process).
        let (sha, smsgs) = (ha.clone(), msgs.clone());
        let sender = std::thread::Builder::new().name("bench-tx".into()).spawn(
            move || -> Result<(), crate::msl::SendError> {
                for i in 0..smsgs.count() {
                    sha.send_blocking(Priority::Bulk, smsgs.get(i))?;
                }
                Ok(())
            },
        )?;
        let r = receiver.join().expect("transport receiver panicked");
        if r.is_ok() {
            sender
                .join()
                .expect("transport sender panicked")
                .context("send_blocking")?;
        }
        r
    })?;
    let cpu = super::process_cpu_seconds() - cpu0;
    let seconds = end.duration_since(t0).as_secs_f64();
    let sender = ha.status();
    let receiver = hb.status();
    // Events of A (none expected beyond Up) are dropped with the receiver.
    while ra.try_recv().is_some() {}
    ha.shutdown(crate::msl::CloseReason::SHUTDOWN)?;
    hb.shutdown(crate::msl::CloseReason::SHUTDOWN)?;
    Ok(Transport {
        cpu,
        seconds,
        gbit: total as f64 * 8.0 / seconds / 1e9,
        checksum,
        messages,
        sender,
        receiver,
    })
}
