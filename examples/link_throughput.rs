//! One-way raw link throughput across a veth pair between two network namespaces: batched
//! (`sendmmsg`, [`Link::send_batch`]) against a naive loop of one `send()` per frame
//! ([`Link::send`]), on the same pair in the same run. Needs root.
//!
//! ```text
//! cargo run --release --example link_throughput -- [--frames N] [--runs R] [--batch B]
//! ```
//!
//! For each frame size (1514 bytes at MTU 1500, then 9014 bytes at MTU 9000) and each run,
//! the two modes alternate. A receiver thread in the other namespace drains an MSL link with
//! [`RawLink::recv_batch`] and counts what arrives; the delivered rate is frames received
//! divided by the time from the first send to the last frame received. Gbit/s counts the
//! frame bytes (Ethernet header included, no FCS, preamble or gap). Prints every run, the
//! medians and the batched/naive ratio.

use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sft3::link::raw::{LinkKind, RawLink, RawOptions};
use sft3::link::{Link, RxMeta};

struct Lab {
    tx: String,
    rx: String,
}

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("ip");
    assert!(st.success(), "ip {args:?} failed");
}

impl Lab {
    fn new() -> Lab {
        let pid = std::process::id();
        let lab = Lab {
            tx: format!("sft3bench-tx-{pid}"),
            rx: format!("sft3bench-rx-{pid}"),
        };
        for ns in [&lab.tx, &lab.rx] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
            ip(&["netns", "add", ns]);
        }
        ip(&[
            "-n", &lab.tx, "link", "add", "name", "btx", "type", "veth", "peer", "name", "brx",
            "netns", &lab.rx,
        ]);
        ip(&["-n", &lab.tx, "link", "set", "btx", "up"]);
        ip(&["-n", &lab.rx, "link", "set", "brx", "up"]);
        lab
    }

    fn set_mtu(&self, mtu: usize) {
        let m = mtu.to_string();
        ip(&["-n", &self.tx, "link", "set", "btx", "mtu", &m]);
        ip(&["-n", &self.rx, "link", "set", "brx", "mtu", &m]);
    }

    /// Opens an MSL link on `ifname` inside namespace `ns` (from a thread that enters it).
    fn open(ns: &str, ifname: &'static str) -> RawLink {
        let path = format!("/var/run/netns/{ns}");
        std::thread::spawn(move || {
            let fd = std::fs::File::open(&path).expect("netns handle");
            // SAFETY: fd is a valid namespace handle; only this thread changes namespace.
            let rc =
                unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&fd), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns");
            let opts = RawOptions {
                recv_buffer: Some(64 << 20),
                send_buffer: Some(8 << 20),
                ..RawOptions::new(LinkKind::Msl)
            };
            RawLink::open_with(ifname, &opts).expect("raw link (run as root)")
        })
        .join()
        .expect("namespace thread")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.tx, &self.rx] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Batched,
    Naive,
}

struct Run {
    sent_fps: f64,
    delivered: u64,
    delivered_fps: f64,
}

fn one_run(
    tx: &mut RawLink,
    rx: &mut RawLink,
    frame: &[u8],
    n: u64,
    mode: Mode,
    batch: usize,
) -> Run {
    let done = AtomicBool::new(false);
    let t0 = Instant::now();
    let (send_end, (count, last)) = std::thread::scope(|s| {
        let receiver = s.spawn(|| {
            let mut bufs = vec![vec![0u8; frame.len()]; 64];
            let empty = RxMeta {
                len: 0,
                orig_len: 0,
                ts: sft3::capture::Timestamp::new(0, 0),
            };
            let mut metas = vec![empty; 64];
            let mut count = 0u64;
            let mut last = Instant::now();
            loop {
                let got = rx.recv_batch(&mut bufs, &mut metas).expect("recv_batch") as u64;
                if got > 0 {
                    count += got;
                    last = Instant::now();
                    continue;
                }
                if done.load(Ordering::Acquire) && last.elapsed() > Duration::from_millis(200)
                    || count >= n
                {
                    return (count, last);
                }
                let mut pfd = libc::pollfd {
                    fd: std::os::fd::AsRawFd::as_raw_fd(rx),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: pfd is one valid pollfd.
                unsafe { libc::poll(&mut pfd, 1, 10) };
            }
        });
        let frames: Vec<&[u8]> = vec![frame; batch];
        let mut sent = 0u64;
        while sent < n {
            match mode {
                Mode::Batched => {
                    let k = ((n - sent) as usize).min(batch);
                    sent += tx.send_batch(&frames[..k]).expect("send_batch") as u64;
                }
                Mode::Naive => match tx.send(frame) {
                    Ok(()) => sent += 1,
                    Err(sft3::link::LinkError::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => panic!("send: {e}"),
                },
            }
        }
        let send_end = t0.elapsed();
        done.store(true, Ordering::Release);
        (send_end, receiver.join().expect("receiver"))
    });
    let rx_time = last.duration_since(t0).max(send_end);
    Run {
        sent_fps: n as f64 / send_end.as_secs_f64(),
        delivered: count,
        delivered_fps: count as f64 / rx_time.as_secs_f64(),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn main() -> ExitCode {
    let mut frames = 200_000u64;
    let mut runs = 5usize;
    let mut batch = 64usize;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = it.next().and_then(|s| s.parse::<u64>().ok());
        match (a.as_str(), v) {
            ("--frames", Some(v)) => frames = v,
            ("--runs", Some(v)) => runs = v as usize,
            ("--batch", Some(v)) => batch = v as usize,
            _ => {
                eprintln!("usage: link_throughput [--frames N] [--runs R] [--batch B]");
                return ExitCode::from(2);
            }
        }
    }
    let lab = Lab::new();
    println!(
        "{frames} frames per run, {runs} runs, batch {batch}; veth btx -> brx across namespaces"
    );
    for (size, mtu) in [(1514usize, 1500usize), (9014, 9000)] {
        lab.set_mtu(mtu);
        let mut tx = Lab::open(&lab.tx, "btx");
        let mut rx = Lab::open(&lab.rx, "brx");
        let mut frame = vec![0u8; size];
        frame[..6].copy_from_slice(&rx.info().mac.0);
        frame[6..12].copy_from_slice(&tx.info().mac.0);
        frame[12..14].copy_from_slice(&[0x88, 0xb5]);
        let mut res: [(Vec<f64>, Vec<f64>, u64); 2] = Default::default();
        // A warm-up run of each mode, not counted.
        for mode in [Mode::Batched, Mode::Naive] {
            one_run(&mut tx, &mut rx, &frame, frames / 10, mode, batch);
        }
        for r in 0..runs {
            for (i, mode) in [Mode::Batched, Mode::Naive].into_iter().enumerate() {
                let run = one_run(&mut tx, &mut rx, &frame, frames, mode, batch);
                let name = if mode == Mode::Batched {
                    "batched"
                } else {
                    "naive"
                };
                println!(
                    "{size:>5} B run {r} {name:<7}: sent {:>9.0} f/s, delivered {:>9.0} f/s ({:.2} Gbit/s), {} of {frames} arrived",
                    run.sent_fps,
                    run.delivered_fps,
                    run.delivered_fps * size as f64 * 8.0 / 1e9,
                    run.delivered
                );
                res[i].0.push(run.delivered_fps);
                res[i].1.push(run.sent_fps);
                res[i].2 += frames - run.delivered;
            }
        }
        let b = median(res[0].0.clone());
        let nv = median(res[1].0.clone());
        println!(
            "{size:>5} B median delivered: batched {b:.0} f/s ({:.2} Gbit/s), naive {nv:.0} f/s ({:.2} Gbit/s); ratio {:.2}x; lost: batched {}, naive {}",
            b * size as f64 * 8.0 / 1e9,
            nv * size as f64 * 8.0 / 1e9,
            b / nv,
            res[0].2,
            res[1].2
        );
        println!(
            "{size:>5} B median sent:      batched {:.0} f/s, naive {:.0} f/s",
            median(res[0].1.clone()),
            median(res[1].1.clone())
        );
    }
    ExitCode::SUCCESS
}
