//! `sft3 bench soak`: false failovers of a mirrored pair on an overloaded machine with a
//! flooded MSL, and keepalived's flaps under the same load, at the same time.
//!
//! | piece | how |
//! |---|---|
//! | pair | `lab::daemon::start` with the daemon's default timers (`--stall-fence-ms` to change), the station in c1 |
//! | keepalived | [`Keepalived`], VRRPv3 with `--advert-ms` (10) adverts, running beside the pair in the same namespaces |
//! | CPU load | `stress-ng --cpu N --io M` (default 16 + 4: ten times the 2 cores of the CI machines), nice 0, started after the pair is mirrored |
//! | MSL load | one thread in each server namespace floods the MSL veth toward the peer with full-MTU raw frames (EtherType `0x88B6`, batches of 32 with `sendmmsg`): the daemons' heartbeats share the device, its queue and the receive backlog with it, but the daemons' BPF filter keeps the flood out of their sockets (the daemon has no bulk source of its own before the journal) |
//! | state changes | any change of either daemon's `state` (polled every 100 ms) |
//! | gaps | the largest `peer_longest_gap_us` (over the LAN adapters) and `msl.longest_gap_us` each daemon reported, read every 100 ms and at the end (a restarted daemon starts its counters again; the unloaded start adds nothing near the loaded maxima) |
//! | false failover | `false_failovers`: an admin-log decision of severity WARNING or CRITICAL after the start (a take-over, a secondary shutting down on a "failed" MSL, a peer declared down, a stall step-down), but for the two stall warnings that change no role, counted apart; `takeovers`: those that made a server primary; `decisions`: every admin-log line (with the consequences: resyncs, restarts) |
//! | host | `host_stalls`: times a SCHED_FIFO 50 probe thread sharing nothing with the daemons woke 15 ms (the stall fence) or more late, `host_stall_max_ms` the longest, `host_steal_ms` the steal time the hypervisor counted (`bench::host_probe`): a decision at the same instant as a host stall was forced on the daemons from outside |
//! | stalls | `stall_fence_trips`: primaries that stepped down after a stall; `stall_pauses`: stalled primaries that paused to ask the secondary, `stall_pauses_resumed` of them serving on; `stall_notices`: other servers noting a stall (silence not counted for 10 ms) |
//! | keepalived flaps | a router entering the master state after the start (`(VI_1) Entering MASTER STATE` in its log); the master it took over from was never killed |
//! | `--rt-priority N` | both daemons' threads SCHED_FIFO N set from outside (`sched_setscheduler`, re-applied when the supervisor restarts one); without it the daemons run at their own `[server] rt_priority` (50) |
//! | `--keepalived-rt-priority N` | keepalived's `vrrp_rt_priority N` |
//!
//! Prints one JSON line; the decisions' text goes to stderr.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use clap::Args;

use super::failover::{default_prefix, parse_rfc3339, Bed, KaMode};
use super::failover_ka::{self, Keepalived};
use super::failover_sniff::Sighting;
use super::{json_line, Json};
use crate::lab::daemon::DaemonOptions;
use crate::lab::{Lab, LabConfig, Node};
use crate::link::{Link, LinkKind, RawLink};

/// The daemons' default stall fence: a host stall this long is one they notice.
const FENCE: Duration = Duration::from_millis(15);

/// `sft3 bench soak`.
#[derive(Args, Debug)]
pub struct SoakArgs {
    /// How long the load lasts.
    #[arg(long, default_value_t = 5.0)]
    pub minutes: f64,
    /// stress-ng CPU workers (`--cpu 0 --io 0`: no stress-ng).
    #[arg(long, default_value_t = 16)]
    pub cpu: u32,
    /// stress-ng I/O (sync) workers.
    #[arg(long, default_value_t = 4)]
    pub io: u32,
    /// Do not flood the MSL.
    #[arg(long)]
    pub no_flood: bool,
    /// Run keepalived beside the pair.
    #[arg(long, value_enum, default_value_t = KaMode::Auto)]
    pub keepalived: KaMode,
    /// keepalived's advertisement interval, ms.
    #[arg(long, default_value_t = 10)]
    pub advert_ms: u32,
    /// `[role] stall_fence_ms` of both daemons (the daemon's default: 15).
    #[arg(long, default_value_t = 15)]
    pub stall_fence_ms: u32,
    /// Give both daemons' threads SCHED_FIFO at this priority (re-applied when a daemon
    /// restarts): the proposed fix for false failovers under CPU starvation.
    #[arg(long)]
    pub rt_priority: Option<u32>,
    /// keepalived's `vrrp_rt_priority` (SCHED_RR), for the same comparison.
    #[arg(long)]
    pub keepalived_rt_priority: Option<u32>,
    /// Lab prefix [default: `sk` + this process id in base 36].
    #[arg(long)]
    pub prefix: Option<String>,
}

/// The MSL flood: a thread per server namespace. Stops on drop.
struct Flood {
    stop: Arc<AtomicBool>,
    frames: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Flood {
    fn start(lab: &Lab) -> anyhow::Result<Flood> {
        let stop = Arc::new(AtomicBool::new(false));
        let frames = Arc::new(AtomicU64::new(0));
        let mut threads = Vec::new();
        let cfg: &LabConfig = lab.config();
        for node in [Node::A, Node::B] {
            let dev = cfg.msl_if(node);
            let link = lab.in_node(node, move || RawLink::open(&dev, LinkKind::Any))??;
            let peer = LabConfig::mac(super::failover::other(node), true, 0, false);
            let (stop, frames) = (stop.clone(), frames.clone());
            threads.push(
                std::thread::Builder::new()
                    .name("sft3-flood".into())
                    .spawn(move || flood(link, peer.0, &stop, &frames))?,
            );
        }
        Ok(Flood {
            stop,
            frames,
            threads,
        })
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn flood(mut link: RawLink, peer: [u8; 6], stop: &AtomicBool, frames: &AtomicU64) {
    let len = link.info().max_frame();
    let mut f = vec![0x5au8; len];
    f[..6].copy_from_slice(&peer);
    f[6..12].copy_from_slice(&link.info().mac.0);
    f[12..14].copy_from_slice(&0x88b6u16.to_be_bytes());
    let batch: Vec<&[u8]> = (0..32).map(|_| &f[..]).collect();
    while !stop.load(Ordering::Relaxed) {
        match link.send_batch(&batch) {
            Ok(n) => {
                frames.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) if e.is_would_block() => std::thread::yield_now(),
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

/// stress-ng in its own process group; killed on drop.
struct Stress(Child);

impl Stress {
    fn start(cpu: u32, io: u32, secs: u64) -> anyhow::Result<Stress> {
        let exe = crate::lab::cmd::find_tool("stress-ng")
            .context("stress-ng is not installed (apt-get install stress-ng)")?;
        let child = Command::new(exe)
            .args(["--cpu", &cpu.to_string(), "--io", &io.to_string()])
            .args(["--timeout", &format!("{}s", secs + 5), "--quiet"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()
            .context("starting stress-ng")?;
        Ok(Stress(child))
    }
}

impl Drop for Stress {
    fn drop(&mut self) {
        let pgid = self.0.id() as i32;
        // SAFETY: plain system calls on the process group we created.
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(3) {
            if let Ok(Some(_)) = self.0.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

/// Puts every thread of `pid` in SCHED_FIFO at `prio` (best effort).
fn set_fifo(pid: i32, prio: u32) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return;
    };
    for t in tasks.flatten() {
        let Some(tid) = t.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let param = libc::sched_param {
            sched_priority: prio.min(99) as i32,
        };
        // SAFETY: a plain system call with a valid sched_param.
        unsafe { libc::sched_setscheduler(tid, libc::SCHED_FIFO, &param) };
    }
}

/// Admin-log lines at or after `after`.
fn lines_after(log: &str, after: SystemTime) -> Vec<String> {
    log.lines()
        .filter(|l| {
            l.split(' ')
                .next()
                .and_then(parse_rfc3339)
                .is_some_and(|t| t >= after)
        })
        .map(str::to_string)
        .collect()
}

/// `(longest LAN gap over the adapters, MSL gap)` in ms from a status JSON.
fn gaps(v: &serde_json::Value) -> (f64, f64) {
    let lan = v["adapters"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["peer_longest_gap_us"].as_u64())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    let msl = v["msl"]["longest_gap_us"].as_u64().unwrap_or(0);
    (lan as f64 / 1e3, msl as f64 / 1e3)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split(' ')
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs the soak; prints one JSON line. Exit code 1 when a false failover happened.
pub fn run(a: &SoakArgs) -> anyhow::Result<i32> {
    if a.minutes.is_nan() || a.minutes <= 0.0 {
        bail!("--minutes must be positive");
    }
    let secs = (a.minutes * 60.0).round().max(1.0) as u64;
    let prefix = a.prefix.clone().unwrap_or_else(|| default_prefix("sk"));
    let with_ka = a.keepalived == KaMode::Auto && failover_ka::find().is_some();
    let mut bed = Bed::new(prefix)?;
    bed.sniff(Duration::from_millis(u64::from(a.advert_ms) * 3))?;
    let opts = DaemonOptions {
        stall_fence_ms: a.stall_fence_ms,
        rt_priority: 50, // the daemon's own default
        ..DaemonOptions::default()
    };
    let primary = bed.start_pair(&opts)?;
    if with_ka {
        let mut ka = Keepalived::setup_rt(
            bed.lab.config(),
            &bed.scratch,
            a.advert_ms,
            a.keepalived_rt_priority,
        )?;
        ka.start(Node::A)?;
        ka.start(Node::B)?;
        bed.ka = Some(ka);
        std::thread::sleep(Duration::from_secs(1));
    }
    let servers = bed.servers.clone().context("no daemons")?;
    let state0 = [Node::A, Node::B].map(|n| {
        servers
            .status(n)
            .map(|v| v["state"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    });
    let masters0 = bed
        .ka
        .as_ref()
        .map_or(0, |k| k.masters(Node::A) + k.masters(Node::B));
    let mut rt_pids = [None, None];
    if let Some(p) = a.rt_priority {
        for (i, n) in [Node::A, Node::B].into_iter().enumerate() {
            rt_pids[i] = servers.daemon_pid(n);
            if let Some(pid) = rt_pids[i] {
                set_fifo(pid, p);
            }
        }
    }
    let probe = super::host_probe::HostProbe::start(50).context("starting the host probe")?;
    let t_start = SystemTime::now();
    let flood = if a.no_flood {
        None
    } else {
        Some(Flood::start(&bed.lab)?)
    };
    // `--cpu 0 --io 0`: no stress-ng at all (its own 0 means one worker per CPU).
    let stress = if a.cpu == 0 && a.io == 0 {
        None
    } else {
        Some(Stress::start(a.cpu, a.io, secs)?)
    };
    eprintln!(
        "soak: {secs} s, stress-ng --cpu {} --io {}, MSL flood {}, keepalived {}; primary {primary}",
        a.cpu,
        a.io,
        if flood.is_some() { "on" } else { "off" },
        if with_ka { "on" } else { "off" }
    );
    let t0 = Instant::now();
    let mut state_changes = 0u64;
    // The daemons' gap counters start again with a restarted process: the maximum over
    // every status read (every 100 ms) and the last one.
    let mut max_gaps = [(0.0f64, 0.0f64); 2];
    let mut last = state0.clone();
    let mut load = String::new();
    while t0.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(100));
        for (i, n) in [Node::A, Node::B].into_iter().enumerate() {
            let v = servers.status(n).ok();
            if let Some(v) = &v {
                let (lan, msl) = gaps(v);
                max_gaps[i] = (max_gaps[i].0.max(lan), max_gaps[i].1.max(msl));
            }
            let st = v.map_or_else(
                || "no answer".to_string(),
                |v| v["state"].as_str().unwrap_or("").to_string(),
            );
            if st != last[i] {
                state_changes += 1;
                eprintln!(
                    "soak: {:.1} s: server {n}: {} -> {st}",
                    t0.elapsed().as_secs_f64(),
                    last[i]
                );
                last[i] = st;
            }
        }
        if let Some(p) = a.rt_priority {
            for (i, n) in [Node::A, Node::B].into_iter().enumerate() {
                let pid = servers.daemon_pid(n);
                if let Some(new) = pid.filter(|_| pid != rt_pids[i]) {
                    rt_pids[i] = pid;
                    set_fifo(new, p);
                }
            }
        }
        if t0.elapsed() >= Duration::from_secs(secs / 2) && load.is_empty() {
            load = loadavg();
        }
    }
    let flood_frames = flood
        .as_ref()
        .map_or(0, |f| f.frames.load(Ordering::Relaxed));
    let elapsed = t0.elapsed().as_secs_f64();
    drop(stress);
    drop(flood);
    let probe_rt = probe.realtime;
    let (host_stalls, steal) = probe.finish();
    for st in &host_stalls {
        eprintln!(
            "soak: host probe woke {:.1} ms late at {} (host steal meanwhile {} ms)",
            st.late.as_secs_f64() * 1e3,
            crate::node::status::rfc3339(st.at),
            st.steal.as_millis()
        );
    }
    let flaps = bed.ka.as_ref().map_or(0, |k| {
        (k.masters(Node::A) + k.masters(Node::B)).saturating_sub(masters0)
    });
    let wire_masters = bed
        .sniffer
        .as_ref()
        .map_or(0, |s| s.count(None, Sighting::Master, t_start));
    let mut decisions = Vec::new();
    for n in [Node::A, Node::B] {
        for l in lines_after(&servers.admin_log(n), t_start) {
            eprintln!("soak: server {n} decided: {l}");
            decisions.push(l);
        }
    }
    let takeovers = decisions
        .iter()
        .filter(|l| l.contains("now the primary server"))
        .count();
    // A decision on a presumed failure (the daemon's own INFO lines are consequences:
    // resyncs, "mirrored", restarts). Two warnings change no role and are counted apart:
    // a stall noticed (silence not counted for a moment) and a stalled primary pausing to
    // ask its secondary (which resumes, INFO, or steps down, CRITICAL: counted).
    use crate::role::text;
    let count = |what: &str| decisions.iter().filter(|l| l.contains(what)).count();
    let (stall_deaf, stall_pauses) = (count(text::STALLED_DEAF), count(text::STALLED_ASKING));
    let failovers = decisions
        .iter()
        .filter(|l| matches!(l.split(' ').nth(1), Some("WARNING" | "CRITICAL")))
        .filter(|l| !l.contains(text::STALLED_DEAF) && !l.contains(text::STALLED_ASKING))
        .count();
    let stalls = count(text::STALLED);
    let stall_resumed = count(text::STALL_CLEARED);
    for (i, n) in [Node::A, Node::B].into_iter().enumerate() {
        if let Ok(v) = servers.status(n) {
            let (lan, msl) = gaps(&v);
            max_gaps[i] = (max_gaps[i].0.max(lan), max_gaps[i].1.max(msl));
        }
    }
    let [ga, gb] = max_gaps;
    let mtu = bed.lab.config().msl_mtu;
    drop(bed);

    let minutes = elapsed / 60.0;
    let mut fields: Vec<(&str, Json)> = vec![
        ("bench", Json::S("soak".into())),
        ("minutes", Json::F(minutes, 2)),
        ("cpu", Json::U(u64::from(a.cpu))),
        ("io", Json::U(u64::from(a.io))),
        ("loadavg", Json::S(load)),
        ("stall_fence_ms", Json::U(u64::from(a.stall_fence_ms))),
        (
            "rt_priority",
            a.rt_priority
                .map_or(Json::S("none".into()), |p| Json::U(u64::from(p))),
        ),
        ("false_failovers", Json::U(failovers as u64)),
        ("takeovers", Json::U(takeovers as u64)),
        ("decisions", Json::U(decisions.len() as u64)),
        ("stall_fence_trips", Json::U(stalls as u64)),
        ("stall_pauses", Json::U(stall_pauses as u64)),
        ("stall_pauses_resumed", Json::U(stall_resumed as u64)),
        ("stall_notices", Json::U(stall_deaf as u64)),
        (
            "host_stalls",
            Json::U(host_stalls.iter().filter(|x| x.late >= FENCE).count() as u64),
        ),
        (
            "host_stall_max_ms",
            Json::F(
                host_stalls
                    .iter()
                    .map(|x| x.late.as_secs_f64() * 1e3)
                    .fold(0.0, f64::max),
                1,
            ),
        ),
        (
            "host_steal_ms",
            steal.map_or(Json::F(f64::NAN, 0), |d| Json::U(d.as_millis() as u64)),
        ),
        ("host_probe_realtime", Json::B(probe_rt)),
        ("state_changes", Json::U(state_changes)),
        ("lan_gap_max_ms_a", Json::F(ga.0, 3)),
        ("lan_gap_max_ms_b", Json::F(gb.0, 3)),
        ("msl_gap_max_ms_a", Json::F(ga.1, 3)),
        ("msl_gap_max_ms_b", Json::F(gb.1, 3)),
        (
            "flood_frames_per_s",
            Json::F(flood_frames as f64 / elapsed, 0),
        ),
        (
            "flood_gbit_s",
            Json::F(
                flood_frames as f64 * f64::from(mtu + 14) * 8.0 / elapsed / 1e9,
                2,
            ),
        ),
    ];
    if with_ka {
        fields.push(("keepalived_advert_ms", Json::U(u64::from(a.advert_ms))));
        fields.push((
            "keepalived_rt_priority",
            a.keepalived_rt_priority
                .map_or(Json::S("none".into()), |p| Json::U(u64::from(p))),
        ));
        fields.push(("keepalived_flaps", Json::U(flaps as u64)));
        fields.push((
            "keepalived_flaps_per_min",
            Json::F(flaps as f64 / minutes, 2),
        ));
        fields.push((
            "keepalived_wire_master_starts",
            Json::U(wire_masters as u64),
        ));
    }
    fields.push((
        "date",
        Json::S(crate::node::status::rfc3339(SystemTime::now())),
    ));
    println!("{}", json_line(&fields));
    Ok(if decisions.is_empty() && state_changes == 0 {
        0
    } else {
        1
    })
}
