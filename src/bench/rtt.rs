//! `sft3 bench msl-rtt`: round trips of 64-byte messages on the control and event classes.
//!
//! | load | A (pinger) | B (echoer) |
//! |---|---|---|
//! | idle | sends one 64-byte message of the class, waits for its echo, repeats | its consumer sends every control/event message straight back on the same class |
//! | bulk | the same while another thread keeps A's Bulk queue full (1 MiB messages, A → B) | the same consumer also takes (and drops) the bulk |
//!
//! Scheduling is the daemon's: with `--rt-priority N` (default 50, the daemon's
//! `[server] rt_priority`) the drivers and the pinging and echoing threads run SCHED_FIFO at
//! N, as a node runs its MSL driver and the control plane that answers peer messages; with
//! 0 they run at nice -10 (the daemon's fallback without `CAP_SYS_NICE`). The bulk sender
//! runs at normal priority, as a resync would. (Without `CAP_SYS_NICE` everything stays at
//! normal priority.)
//!
//! One JSON line per (class, load) with p50/p99/max of the measured round trips (send call
//! to the echo handed out by A's receiver) and, for reference, the driver's smoothed RTT
//! of the class (`srtt_us`, which measures frame to ack, not message to message).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;

use super::msl::{start, wait_up, Tuning};
use super::pair::{End, Pair};
use super::{json_line, parse_size, Json};
use crate::msl::driver::{set_thread_nice, set_thread_realtime, DriverEvent, MslReceiver};
use crate::msl::{MslEvent, Priority};

/// `sft3 bench msl-rtt`.
#[derive(Args, Debug, Clone)]
pub struct RttArgs {
    /// MTU of the veth pair.
    #[arg(long, default_value_t = 1500)]
    pub mtu: usize,
    /// Round trips measured per (class, load).
    #[arg(long, default_value_t = 2000)]
    pub samples: usize,
    /// Size of the Bulk messages that load the link.
    #[arg(long, value_parser = parse_size, default_value = "1MiB")]
    pub message_size: u64,
    /// SCHED_FIFO priority of the drivers and the ping/echo threads (0: nice -10 instead).
    #[arg(long, default_value_t = 50)]
    pub rt_priority: u8,
    /// Driver and core settings (defaults: the library's).
    #[command(flatten)]
    pub tuning: Tuning,
}

/// The latency-critical threads' scheduling: SCHED_FIFO at `rt`, else nice -10. Threads
/// started afterwards inherit it.
fn raise(rt: u8) {
    if rt == 0 || !set_thread_realtime(rt) {
        set_thread_nice(EVENT_NICE);
    }
}

/// Back to the normal scheduler at nice 0 (for the bulk sender).
fn lower() {
    set_thread_realtime(0);
    set_thread_nice(0);
}

/// Nice value of the pinging and echoing threads: the drivers' default, as a node runs the
/// thread that answers events (`DriverOptions::nice`).
const EVENT_NICE: i32 = -10;

/// Length of each ping.
const PING_LEN: usize = 64;

/// Runs the benchmark; prints one JSON line per (class, load).
pub fn run(args: &RttArgs) -> anyhow::Result<i32> {
    if args.samples == 0 || args.message_size == 0 || args.message_size > 1 << 30 {
        bail!("--samples must be positive, --message-size within 1..=1GiB");
    }
    let pair = Pair::new(args.mtu)?;
    eprintln!(
        "bench msl-rtt: veth {} <-> {} (MTU {}), {} samples per class and load",
        pair.ns(End::A),
        pair.ns(End::B),
        args.mtu,
        args.samples
    );
    // The drivers inherit this thread's scheduling.
    raise(args.rt_priority);
    let (ha, mut ra) = start(&pair, End::A, &args.tuning)?;
    let (hb, mut rb) = start(&pair, End::B, &args.tuning)?;
    wait_up(&mut ra, "A")?;
    wait_up(&mut rb, "B")?;
    let stop_echo = AtomicBool::new(false);
    let bulk_bytes = AtomicU64::new(0);
    std::thread::scope(|s| -> anyhow::Result<()> {
        // B's consumer: echoes pings, drops bulk.
        let echo = s.spawn(|| -> anyhow::Result<()> {
            // Answering events is latency-critical: run at the drivers' priority.
            raise(args.rt_priority);
            while !stop_echo.load(Relaxed) {
                match rb.recv_timeout(Duration::from_millis(50)) {
                    Some(DriverEvent::Msl(MslEvent::Delivered { priority, message })) => {
                        if priority == Priority::Bulk {
                            bulk_bytes.fetch_add(message.len() as u64, Relaxed);
                        } else if let Err(e) = hb.send(priority, message) {
                            bail!("echo: {e}");
                        }
                    }
                    Some(DriverEvent::Failed(e)) => bail!("B's driver failed: {e}"),
                    _ => {}
                }
            }
            Ok(())
        });
        let r = (|| -> anyhow::Result<()> {
            for load in ["idle", "bulk"] {
                let stop_bulk = AtomicBool::new(false);
                std::thread::scope(|s2| -> anyhow::Result<()> {
                    let bulk = (load == "bulk").then(|| {
                        s2.spawn(|| {
                            // Bulk work runs at normal priority (it would inherit the
                            // pinger's raised one).
                            lower();
                            let m = vec![0x5au8; args.message_size as usize];
                            while !stop_bulk.load(Relaxed) {
                                if ha.send_blocking(Priority::Bulk, m.as_slice()).is_err() {
                                    break;
                                }
                            }
                        })
                    });
                    let r = measure_load(args, load, &ha, &mut ra, &bulk_bytes, bulk.is_some());
                    stop_bulk.store(true, Relaxed);
                    if let Some(b) = bulk {
                        let _ = b.join();
                    }
                    r
                })?;
            }
            Ok(())
        })();
        stop_echo.store(true, Relaxed);
        let e = echo.join().expect("echo thread panicked");
        r.and(e)
    })?;
    ha.shutdown(crate::msl::CloseReason::SHUTDOWN)?;
    hb.shutdown(crate::msl::CloseReason::SHUTDOWN)?;
    Ok(0)
}

/// Both classes under one load; prints their lines.
fn measure_load(
    args: &RttArgs,
    load: &str,
    ha: &crate::msl::driver::MslHandle,
    ra: &mut MslReceiver,
    bulk_bytes: &AtomicU64,
    bulk: bool,
) -> anyhow::Result<()> {
    raise(args.rt_priority);
    if bulk {
        // Let the bulk fill the pipe first.
        std::thread::sleep(Duration::from_millis(300));
    }
    for (class, prio) in [("control", Priority::Control), ("event", Priority::Event)] {
        let b0 = bulk_bytes.load(Relaxed);
        let t0 = Instant::now();
        let mut rtts = Vec::with_capacity(args.samples);
        for i in 0..args.samples as u64 {
            let mut ping = [0u8; PING_LEN];
            ping[..8].copy_from_slice(&i.to_be_bytes());
            let t = Instant::now();
            ha.send(prio, ping.as_slice())?;
            loop {
                match ra.recv_timeout(Duration::from_secs(2)) {
                    Some(DriverEvent::Msl(MslEvent::Delivered { priority, message }))
                        if priority == prio && message.get(..8) == Some(&i.to_be_bytes()[..]) =>
                    {
                        break
                    }
                    Some(DriverEvent::Failed(e)) => bail!("A's driver failed: {e}"),
                    Some(_) => {}
                    None => bail!("{class}/{load}: ping {i} not echoed within 2 s"),
                }
            }
            rtts.push(t.elapsed());
        }
        let elapsed = t0.elapsed().as_secs_f64();
        let st = ha.status();
        if bulk {
            let moved = bulk_bytes.load(Relaxed) - b0;
            eprintln!(
                "{class}/{load}: bulk delivered meanwhile at {:.3} Gbit/s; retransmits so far {}",
                moved as f64 * 8.0 / elapsed / 1e9,
                st.counters.retransmits
            );
        }
        rtts.sort();
        let n = rtts.len();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let pct = |p: usize| rtts[((n * p).div_ceil(100)).clamp(1, n) - 1];
        let srtt = st.srtt[prio.bits() as usize];
        println!(
            "{}",
            json_line(&[
                ("class", Json::S(class.into())),
                ("load", Json::S(load.into())),
                ("samples", Json::U(n as u64)),
                ("p50_us", Json::F(us(pct(50)), 1)),
                ("p99_us", Json::F(us(pct(99)), 1)),
                ("max_us", Json::F(us(rtts[n - 1]), 1)),
                (
                    "srtt_us",
                    srtt.map_or(Json::F(f64::NAN, 1), |d| Json::F(us(d), 1))
                ),
                ("mtu", Json::U(args.mtu as u64)),
                ("rt_priority", Json::U(u64::from(args.rt_priority))),
            ])
        );
    }
    Ok(())
}
