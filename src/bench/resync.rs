//! `sft3 bench resync`: how fast, and how lean, a resync is, with real daemons in the lab.
//!
//! | step | what |
//! |---|---|
//! | reference | the MSL's bulk rate on a fresh veth pair of the lab's MSL MTU, 64 KiB Bulk messages (the resync's), in this run |
//! | lab | both daemons with `[volume]` of `--volume-size` in their lab directories; mirrored |
//! | idle writes | a client writes 4 KiB at random offsets through the primary's control socket every 5 ms for 1 s (mirrored: both copies durable) |
//! | unmirrored | the secondary stops; the primary writes `--dirty-fraction` of the volume's regions (random regions, pseudo-random bytes, 1 MiB requests) |
//! | resync | the secondary starts again (with `--full`, or a fraction of 1, its volume and journal are new: a full resync); the client writes as before until the pair is mirrored |
//! | check | the volume files compared byte for byte |
//!
//! `seconds` runs from the source's "resync begun" to its "resync complete" (admin log
//! times); `dirty_bytes` is the source's dirty regions at the start times the region size;
//! `msl_bytes` is what crossed the MSL adapter of the source both ways meanwhile (kernel
//! counters: frames with their Ethernet headers, acks, heartbeats).

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use clap::Args;

use super::failover::{default_prefix, other, parse_rfc3339, Bed};
use super::{json_line, parse_size, Json};
use crate::lab::daemon::{DaemonOptions, Servers};
use crate::lab::Node;
use crate::node::control::query_bytes;

/// `sft3 bench resync`.
#[derive(Args, Debug, Clone)]
pub struct ResyncArgs {
    /// Size of each server's volume.
    #[arg(long, value_parser = parse_size, default_value = "1GiB")]
    pub volume_size: u64,
    /// Fraction of the volume's regions written while unmirrored (0 < F <= 1; 1 means a
    /// full resync).
    #[arg(long, default_value_t = 0.1)]
    pub dirty_fraction: f64,
    /// A full resync whatever the fraction: the returning secondary's volume is new.
    #[arg(long)]
    pub full: bool,
    /// Bytes of the MSL bulk reference.
    #[arg(long, value_parser = parse_size, default_value = "1GiB")]
    pub msl_bytes: u64,
    /// `[volume] resync_window` of the daemons [default: the daemon's].
    #[arg(long)]
    pub resync_window: Option<u32>,
    /// `[volume] resync_rate` of the daemons, bytes per second [default: no limit].
    #[arg(long, value_parser = parse_size)]
    pub resync_rate: Option<u64>,
    /// Where the volume files go [default: each server's lab directory]; e.g. /dev/shm to
    /// take the disk out of the measurement.
    #[arg(long, value_name = "DIR")]
    pub volume_dir: Option<std::path::PathBuf>,
    /// Lab prefix [default: `rs` and this process's id].
    #[arg(long)]
    pub prefix: Option<String>,
}

const REGION: u64 = 64 << 10;
const CHUNK: usize = 1 << 20;

/// Runs the benchmark; prints the JSON line.
pub fn run(args: &ResyncArgs) -> anyhow::Result<i32> {
    let f = args.dirty_fraction;
    if !(f > 0.0 && f <= 1.0) {
        bail!("--dirty-fraction {f}: use 0 < F <= 1");
    }
    if args.volume_size == 0 || !args.volume_size.is_multiple_of(REGION) {
        bail!("--volume-size: a positive multiple of 64 KiB");
    }
    let full = args.full || f >= 1.0;
    let mut bed = Bed::new(args.prefix.clone().unwrap_or_else(|| default_prefix("rs")))?;
    let mtu = bed.lab.config().msl_mtu as usize;
    eprintln!("bench resync: MSL bulk reference, MTU {mtu}, 64 KiB messages");
    let msl_gbit = super::msl::bulk_rate(mtu, args.msl_bytes, REGION)?;

    let prefix = bed.lab.config().prefix.clone();
    let path = match &args.volume_dir {
        Some(d) => format!("{}/{prefix}{{node}}.img", d.display()),
        None => "volume.img".to_string(),
    };
    let opts = DaemonOptions {
        extra_toml: format!(
            "[volume]\npath = \"{path}\"\nsize = {}\n{}",
            args.volume_size,
            args.resync_window
                .map_or(String::new(), |w| format!("resync_window = {w}\n"))
                + &args
                    .resync_rate
                    .map_or(String::new(), |r| format!("resync_rate = {r}\n"))
        ),
        ..DaemonOptions::default()
    };
    let primary = bed.start_pair(&opts)?;
    let secondary = other(primary);
    // A second handle on the same daemons (paths only), so `bed` stays borrowable.
    let servers = Servers::new(bed.lab.config());
    let sock = servers.socket_path(primary);
    let idle = client_load(&sock, args.volume_size, Duration::from_secs(1), None)?;
    eprintln!("idle mirrored writes: {}", describe(&idle));

    servers.stop_one(secondary);
    servers
        .wait_state(primary, "unmirrored-primary", Duration::from_secs(5))
        .context("the primary did not go on alone")?;
    let regions = args.volume_size / REGION;
    let want = ((regions as f64 * f).ceil() as u64).clamp(1, regions);
    let t0 = Instant::now();
    dirty(&sock, regions, want)?;
    eprintln!(
        "wrote {want} of {regions} regions unmirrored in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let image = |n: Node| match &args.volume_dir {
        Some(d) => d.join(format!("{prefix}{}.img", n.short())),
        None => servers.node_dir(n).join("volume.img"),
    };
    if full {
        let img = image(secondary);
        let mut journal = img.clone().into_os_string();
        journal.push(".journal");
        let _ = std::fs::remove_file(&img);
        let _ = std::fs::remove_file(journal);
    }
    let msl_if = bed.lab.config().msl_if(primary);
    let ns = bed.lab.config().ns(primary);
    let before = msl_counters(&ns, &msl_if)?;
    let retx0 = msl_retransmits(&servers, primary);
    servers.start_one(secondary)?;
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (sock, stop, size) = (sock.clone(), stop.clone(), args.volume_size);
        std::thread::spawn(move || client_load(&sock, size, Duration::from_secs(600), Some(stop)))
    };
    let mirrored = servers.wait_mirrored(Duration::from_secs(600));
    stop.store(true, Ordering::SeqCst);
    let during = load.join().expect("client thread")?;
    mirrored.context("the pair did not mirror again within 600 s")?;
    let after = msl_counters(&ns, &msl_if)?;
    eprintln!("writes during the resync: {}", describe(&during));
    eprintln!(
        "MSL: {} bytes sent, {} received, {} retransmits; the source: {}",
        after.0 - before.0,
        after.1 - before.1,
        msl_retransmits(&servers, primary).saturating_sub(retx0),
        servers
            .admin_log(primary)
            .lines()
            .rev()
            .find(|l| l.contains("resync complete"))
            .unwrap_or("")
    );

    for l in servers.admin_log(primary).lines() {
        if l.contains("resync") || l.contains("mirror") || l.contains("secondary") {
            eprintln!("source: {l}");
        }
    }
    let (begun, done, planned) = resync_times(&servers.admin_log(primary))?;
    let seconds = done
        .duration_since(begun)
        .unwrap_or_default()
        .as_secs_f64()
        .max(1e-6);
    let dirty_bytes = (planned * REGION).min(args.volume_size);
    let msl_bytes = (after.0 + after.1).saturating_sub(before.0 + before.1);
    let equal = same_files(&image(Node::A), &image(Node::B))?;
    if args.volume_dir.is_some() {
        for n in [Node::A, Node::B] {
            let img = image(n);
            let mut journal = img.clone().into_os_string();
            journal.push(".journal");
            let _ = std::fs::remove_file(&img);
            let _ = std::fs::remove_file(journal);
        }
    }
    let gbit = dirty_bytes as f64 * 8.0 / seconds / 1e9;
    println!(
        "{}",
        json_line(&[
            ("volume_bytes", Json::U(args.volume_size)),
            ("dirty_bytes", Json::U(dirty_bytes)),
            ("msl_bytes", Json::U(msl_bytes)),
            ("seconds", Json::F(seconds, 3)),
            ("gbit_per_s", Json::F(gbit, 3)),
            ("msl_bulk_gbit_per_s", Json::F(msl_gbit, 3)),
            ("volumes_equal", Json::B(equal)),
            (
                "kind",
                Json::S(if full { "full" } else { "incremental" }.into())
            ),
            (
                "msl_bytes_per_dirty_byte",
                Json::F(msl_bytes as f64 / dirty_bytes as f64, 4)
            ),
            ("rate_vs_msl_bulk", Json::F(gbit / msl_gbit, 3)),
            ("write_p50_ms_idle", Json::F(idle.p(0.5), 3)),
            ("write_p99_ms_idle", Json::F(idle.p(0.99), 3)),
            ("write_p50_ms_resync", Json::F(during.p(0.5), 3)),
            ("write_p99_ms_resync", Json::F(during.p(0.99), 3)),
            ("writes_during_resync", Json::U(during.ms.len() as u64)),
        ])
    );
    Ok(if equal { 0 } else { 1 })
}

/// Client write latencies, ms.
struct Latencies {
    ms: Vec<f64>,
}

impl Latencies {
    fn p(&self, q: f64) -> f64 {
        let mut v = self.ms.clone();
        v.sort_by(f64::total_cmp);
        v.get(((v.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    }
}

fn describe(l: &Latencies) -> String {
    format!(
        "{} writes, p50 {:.3} ms, p99 {:.3} ms",
        l.ms.len(),
        l.p(0.5),
        l.p(0.99)
    )
}

/// 4 KiB writes at random offsets every 5 ms for `limit` or until `stop`; each one's round
/// trip through the control socket.
fn client_load(
    sock: &Path,
    size: u64,
    limit: Duration,
    stop: Option<Arc<AtomicBool>>,
) -> anyhow::Result<Latencies> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let data = vec![0x5au8; 4096];
    let mut ms = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < limit && !stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let off = (x % (size / 4096)) * 4096;
        let t = Instant::now();
        let out = query_bytes(sock, &format!("volume write {off} 4096"), &data)?;
        if !out.starts_with(b"ok") {
            bail!("client write refused: {}", String::from_utf8_lossy(&out));
        }
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(Latencies { ms })
}

/// Writes `want` of `regions` regions, chosen at random, with pseudo-random bytes.
fn dirty(sock: &Path, regions: u64, want: u64) -> anyhow::Result<()> {
    // A random choice of regions: a shuffled prefix (Fisher-Yates), then in order.
    let mut all: Vec<u64> = (0..regions).collect();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..want as usize {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = i + (x % (regions - i as u64)) as usize;
        all.swap(i, j);
    }
    let mut chosen = all[..want as usize].to_vec();
    chosen.sort_unstable();
    let mut buf = Vec::with_capacity(CHUNK);
    let mut start = None::<u64>;
    let flush = |start: u64, buf: &mut Vec<u8>| -> anyhow::Result<()> {
        let out = query_bytes(
            sock,
            &format!("volume write {} {}", start * REGION, buf.len()),
            buf,
        )?;
        if !out.starts_with(b"ok") {
            bail!("write refused: {}", String::from_utf8_lossy(&out));
        }
        buf.clear();
        Ok(())
    };
    for r in chosen {
        // A run continues while regions are adjacent and the request under 1 MiB.
        let next = start.map(|s| s + (buf.len() as u64) / REGION);
        if next != Some(r) || buf.len() >= CHUNK {
            if let Some(s) = start {
                flush(s, &mut buf)?;
            }
            start = Some(r);
        }
        for _ in 0..REGION / 8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf.extend_from_slice(&x.to_le_bytes());
        }
    }
    if let Some(s) = start {
        flush(s, &mut buf)?;
    }
    Ok(())
}

/// The MSL's retransmitted frames so far, from `node`'s status.
fn msl_retransmits(s: &Servers, node: Node) -> u64 {
    s.status(node)
        .ok()
        .and_then(|v| v["msl"]["retransmits"].as_u64())
        .unwrap_or(0)
}

/// Bytes sent and received on `dev` in namespace `ns` (kernel counters).
fn msl_counters(ns: &str, dev: &str) -> anyhow::Result<(u64, u64)> {
    let read = |what: &str| -> anyhow::Result<u64> {
        let out = Command::new("ip")
            .args(["netns", "exec", ns, "cat"])
            .arg(format!("/sys/class/net/{dev}/statistics/{what}"))
            .output()
            .context("ip netns exec")?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .with_context(|| format!("reading {what} of {dev} in {ns}"))
    };
    Ok((read("tx_bytes")?, read("rx_bytes")?))
}

/// The newest resync's begin and end times in the source's admin log, and the regions it
/// planned.
fn resync_times(log: &str) -> anyhow::Result<(SystemTime, SystemTime, u64)> {
    let lines: Vec<&str> = log.lines().collect();
    let b = lines
        .iter()
        .rposition(|l| l.contains("resync begun"))
        .context("no \"resync begun\" in the source's log")?;
    let e = lines[b..]
        .iter()
        .find(|l| l.contains("resync complete"))
        .context("no \"resync complete\" after it")?;
    let time = |l: &str| l.split_whitespace().next().and_then(parse_rfc3339);
    let planned = lines[b]
        .split("as the source, ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .context("no region count in the resync line")?;
    Ok((
        time(lines[b]).context("resync begun: no time")?,
        time(e).context("resync complete: no time")?,
        planned,
    ))
}

fn same_files(a: &Path, b: &Path) -> anyhow::Result<bool> {
    use std::io::Read;
    let mut fa = std::fs::File::open(a).with_context(|| a.display().to_string())?;
    let mut fb = std::fs::File::open(b).with_context(|| b.display().to_string())?;
    let (mut ba, mut bb) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
    loop {
        let na = fa.read(&mut ba)?;
        let mut nb = 0;
        while nb < na {
            let k = fb.read(&mut bb[nb..na])?;
            if k == 0 {
                return Ok(false);
            }
            nb += k;
        }
        if na == 0 {
            return Ok(fb.read(&mut bb[..1])? == 0);
        }
        if ba[..na] != bb[..na] {
            return Ok(false);
        }
    }
}
