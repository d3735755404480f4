//! The test bed of the daemon tests: two nodes (`sft3::node::start_with`) in one network
//! namespace over real raw sockets, a station on the LAN, a scratch directory.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sft3::health::{probe_frame, AdapterConfig, ProbeKind};
use sft3::lab::testing::VethPair;
use sft3::link::{Link, LinkKind, RawLink};
use sft3::node::config::NodeConfig;
use sft3::node::{start_with, NodeHandle, StartOptions};
use sft3::role::RoleState;

/// One test at a time: each runs two daemons whose timers (5 ms state packets, a 15 ms
/// stall fence) must not compete with another test's on a small machine.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// The namespace, its links, a station and a scratch directory.
pub struct Bed {
    pub pair: VethPair,
    pub dir: PathBuf,
    station_stop: Arc<AtomicBool>,
    pub station: Option<JoinHandle<()>>,
}

impl Bed {
    pub fn new(tag: &str, station: bool) -> Bed {
        let pair = VethPair::new(tag);
        pair.ip(&["link", "add", "br0", "type", "bridge"]);
        pair.ip(&["link", "set", "br0", "up"]);
        for x in ["a", "b", "c"] {
            let (end, port) = (format!("l{x}0"), format!("l{x}1"));
            pair.ip(&[
                "link", "add", "name", &end, "type", "veth", "peer", "name", &port,
            ]);
            pair.ip(&["link", "set", &port, "master", "br0"]);
            pair.ip(&["link", "set", &port, "up"]);
            pair.ip(&["link", "set", &end, "up"]);
        }
        let dir = std::env::temp_dir().join(format!("sft3-node-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let station_stop = Arc::new(AtomicBool::new(false));
        if !station {
            return Bed {
                pair,
                dir,
                station_stop,
                station: None,
            };
        }
        let mut link = pair
            .run(|| RawLink::open("lc0", LinkKind::Any))
            .expect("station link");
        let stop = station_stop.clone();
        let station = std::thread::spawn(move || {
            let me = AdapterConfig::new(0, link.info().mac);
            let mut buf = [0u8; 256];
            let len = probe_frame(&me, ProbeKind::Rip, &mut buf).expect("probe frame");
            while !stop.load(Ordering::Relaxed) {
                let _ = link.send(&buf[..len]);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Bed {
            pair,
            dir,
            station_stop,
            station: Some(station),
        }
    }

    pub fn config(&self, id: u64, msl: &str, lan: &str) -> NodeConfig {
        self.config_with(id, msl, lan, "")
    }

    /// The configuration with `extra` TOML appended (e.g. a `[volume]`).
    pub fn config_with(&self, id: u64, msl: &str, lan: &str, extra: &str) -> NodeConfig {
        let text = format!(
            r#"
[server]
id = {id}
name = "SFT-{id}"

[msl]
interface = "{msl}"

[[lan]]
interface = "{lan}"
net = "0000abcd"

[engine]
net = "5f700001"

[paths]
log_file = "{log}"
control_socket = "{sock}"

# CI runs these daemons on two loaded cores without real-time priority: a fence of 15 ms
# would (correctly) demote a primary whose thread waited that long for a CPU.
[role]
stall_fence_ms = 60
{extra}
"#,
            log = self.log(id).display(),
            sock = self.socket(id).display(),
        );
        NodeConfig::from_toml_str(&text).expect("test configuration")
    }

    pub fn log(&self, id: u64) -> PathBuf {
        self.dir.join(format!("node{id}.log"))
    }

    pub fn socket(&self, id: u64) -> PathBuf {
        self.dir.join(format!("node{id}.sock"))
    }

    /// Takes a server's LAN and MSL adapters down in one `ip -batch` (LAN first, within
    /// a millisecond): two separate `ip` runs can be far apart on a loaded machine, and an
    /// MSL silent while the LAN still carries state packets is scenario 3, not 1.
    pub fn go_dark(&self, msl: &str, lan: &str) {
        let batch = self.dir.join("dark.batch");
        std::fs::write(
            &batch,
            format!("link set {lan} down\nlink set {msl} down\n"),
        )
        .expect("batch file");
        self.pair.ip(&["-batch", &batch.display().to_string()]);
    }

    /// Starts a node inside the namespace.
    pub fn start(&self, id: u64, msl: &str, lan: &str) -> NodeHandle {
        self.start_cfg(self.config(id, msl, lan))
    }

    /// Starts a node with this configuration inside the namespace.
    pub fn start_cfg(&self, cfg: NodeConfig) -> NodeHandle {
        self.pair
            .run(move || {
                let opts = StartOptions {
                    // /sys shows the test process's namespace, not this one.
                    sysfs_counters: false,
                    ..StartOptions::default()
                };
                start_with(cfg, opts)
            })
            .expect("starting a node")
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        self.station_stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.station.take() {
            let _ = h.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls `f` every millisecond until it holds or `limit` passes; returns the time taken.
pub fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if f() {
            return Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}

pub fn mirrored_pair(a: &NodeHandle, b: &NodeHandle) -> bool {
    let (sa, sb) = (a.snapshot(), b.snapshot());
    let states = [sa.state, sb.state];
    states.contains(&RoleState::MirroredPrimary) && states.contains(&RoleState::MirroredSecondary)
}

pub fn dump(what: &str, a: &NodeHandle, b: &NodeHandle) -> String {
    format!(
        "{what}\nA: {}\n{:#?}\nB: {}\n{:#?}",
        a.snapshot().to_json(),
        a.notices(),
        b.snapshot().to_json(),
        b.notices()
    )
}

/// Both start; the tie-break makes B (higher id, equal priority) primary, A secondary;
/// the resync (nothing to copy: no engine yet) mirrors them.
pub fn start_pair(bed: &Bed) -> (NodeHandle, NodeHandle) {
    let a = bed.start(1, "va", "la0");
    let b = bed.start(2, "vb", "lb0");
    let t = wait_for(Duration::from_secs(5), || mirrored_pair(&a, &b));
    assert!(t.is_some(), "{}", dump("never mirrored", &a, &b));
    if bed.station.is_some() {
        // Both hear the station (score 600 + 200 peer + 200 stations) before any failure.
        let full = |h: &NodeHandle| h.snapshot().adapters[0].score >= 1000;
        let heard = wait_for(Duration::from_secs(3), || full(&a) && full(&b));
        assert!(heard.is_some(), "{}", dump("station not heard", &a, &b));
    }
    (a, b)
}
