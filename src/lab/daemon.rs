//! Real daemons in the lab (`sft3 lab start | stop | kill`): `sft3 run` in each server
//! namespace under a small supervisor, and a station that makes the network audible.
//!
//! | file under `/run/sft3-lab/PREFIX/` | what |
//! |---|---|
//! | `a/sft3.toml`, `b/sft3.toml` | the generated configuration of server A (id 1) and B (id 2) |
//! | `a/admin.log` | the daemon's admin log (one line per decision) |
//! | `a/console.log` | the daemon's console (stderr: the same notices, errors) and the supervisor's lines |
//! | `a/control.sock` | the control socket `sft3 status` reads |
//! | `a/supervisor.pid`, `a/daemon.pid` | the supervisor and the current `sft3 run` process |
//! | `a/exits` | one line per daemon exit: `exit CODE` or `signal N` |
//! | `a/NAME.pcap` | with `trace`: every frame on adapter NAME (tcpdump in the namespace) |
//! | `key` | the pre-shared key (64 hex digits, mode 0600) when one is configured |
//! | `station.pid`, `station.log` | the station in client 1 (RIP requests every 100 ms) |
//!
//! **The supervisor** (`sft3 lab supervise`, hidden) runs `sft3 run --config a/sft3.toml`
//! and does what a systemd unit with `RestartForceExitStatus=5` and `RestartSec=100ms` does:
//! when the daemon exits with status 5 (it handed over to the more functional peer, scenario
//! 4) it starts it again 100 ms later, and it rejoins as the secondary; any other exit (0
//! stopped, 4 shut down by the role machine, killed by a signal) ends the supervisor too. A
//! SIGTERM to the supervisor is passed to the daemon (a clean shutdown), then SIGKILL after
//! 5 s.
//!
//! **The station** (`sft3 lab station`, hidden) sends a RIP request from client 1 every
//! 100 ms: a server passes the isolation check (scenario 5) only when it hears stations
//! other than its peer, as on a real network.
//!
//! **`sft3 status` inside the lab.** `sft3 lab exec a -- sft3 status --json` runs the command
//! in a private mount namespace where server A's directory is bind-mounted on `/run/sft3`,
//! so the default control socket `/run/sft3/control.sock` is A's, as on a real server.
//!
//! The API here ([`start`], [`Servers`]) is what `sft3 lab start` runs and what the lab
//! tests and the failover benchmark use: start both, kill or restart one, read a server's
//! status JSON and wait for a condition on it.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{LabConfig, LabError, Node};

/// Server id of A in the generated configurations (B is 2: on a simultaneous start the
/// tie-break makes B the primary).
pub const ID_A: u64 = 1;
/// Server id of B.
pub const ID_B: u64 = 2;
/// The IPX network of the lab's LAN (every LAN adapter is on the one bridge).
pub const LAN_NET: &str = "0000abcd";
/// The engine's internal network in the generated configurations.
pub const ENGINE_NET: &str = "5f700001";
/// The supervisor's delay before restarting a daemon that exited with status 5.
pub const RESTART_DELAY: Duration = Duration::from_millis(100);
/// Exit status of `sft3 run` asking to be restarted as the secondary.
pub const EXIT_RESTART: i32 = 5;
/// How long a stop waits after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// How [`start`] configures the daemons.
#[derive(Clone, Debug)]
pub struct DaemonOptions {
    /// A pre-shared key (32 bytes) for both servers: MSL frames and state packets are then
    /// authenticated.
    pub key: Option<[u8; 32]>,
    /// Record every adapter of both servers to `DIR/NAME.pcap` with tcpdump.
    pub trace: bool,
    /// Run the station in client 1 (needs at least one client; default true).
    pub station: bool,
    /// `[role] stall_fence_ms` (default 60: the lab shares a small, loaded machine; the
    /// daemon's default is 15).
    pub stall_fence_ms: u32,
    /// `[server] rt_priority` (default 50, the daemon's).
    pub rt_priority: u8,
    /// Extra TOML appended to both configurations (tables not otherwise written, e.g.
    /// `[beacon]`, `[volume]`); `{node}` in it becomes `a` or `b`.
    pub extra_toml: String,
    /// The `sft3` binary (default: this one, or the one beside the calling test binary).
    pub exe: Option<PathBuf>,
}

impl Default for DaemonOptions {
    fn default() -> DaemonOptions {
        DaemonOptions {
            key: None,
            trace: false,
            station: true,
            stall_fence_ms: 60,
            rt_priority: 50,
            extra_toml: String::new(),
            exe: None,
        }
    }
}

/// Parses 64 hex digits (surrounding whitespace allowed) into a key.
pub fn parse_key_hex(text: &str) -> Result<[u8; 32], LabError> {
    let t = text.trim();
    let bad = || LabError::Config("a key is 64 hex digits (32 bytes)".into());
    if t.len() != 64 || !t.is_ascii() {
        return Err(bad());
    }
    let mut key = [0u8; 32];
    for (i, k) in key.iter_mut().enumerate() {
        *k = u8::from_str_radix(t.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16).map_err(|_| bad())?;
    }
    Ok(key)
}

/// The lab's daemons: paths, processes and status. Cheap; holds no handles (the processes
/// are found again through their pid files, so `sft3 lab stop` works from another process).
#[derive(Clone, Debug)]
pub struct Servers {
    cfg: LabConfig,
}

/// The directory of `prefix`'s daemons: `/run/sft3-lab/PREFIX`.
pub fn lab_dir(cfg: &LabConfig) -> PathBuf {
    Path::new(super::forward::RUN_DIR).join(&cfg.prefix)
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LabError {
    let cmd = what.into();
    move |source| LabError::Spawn { cmd, source }
}

fn check_server(node: Node) -> Result<(), LabError> {
    match node {
        Node::A | Node::B => Ok(()),
        n => Err(LabError::Config(format!("`{n}` is not a server (a or b)"))),
    }
}

/// The `sft3` binary: this process's, or (from a test or another binary) the one beside it
/// or one directory up.
pub fn sft3_exe() -> Result<PathBuf, LabError> {
    let exe = std::env::current_exe().map_err(io_err("finding the sft3 binary"))?;
    if exe.file_name().is_some_and(|n| n == "sft3") {
        return Ok(exe);
    }
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    [dir.join("sft3"), dir.join("../sft3")]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| LabError::Missing("no sft3 binary found beside this program".into()))
}

/// Starts both servers (and the station) on `cfg`'s lab, building the lab first if needed.
pub fn start(cfg: &LabConfig, opts: &DaemonOptions) -> Result<Servers, LabError> {
    let lab = super::Lab::new(cfg.clone())?;
    lab.up()?;
    let s = Servers { cfg: cfg.clone() };
    for node in [Node::A, Node::B] {
        if s.supervisor_running(node) {
            return Err(LabError::Config(format!(
                "server {node} of lab `{}` is already running (`sft3 lab stop` first)",
                cfg.prefix
            )));
        }
    }
    s.write_configs(opts)?;
    let exe = match &opts.exe {
        Some(e) => e.clone(),
        None => sft3_exe()?,
    };
    if opts.station && cfg.clients > 0 {
        s.start_station(&exe)?;
    }
    if opts.trace {
        for node in [Node::A, Node::B] {
            s.start_trace(node)?;
        }
    }
    for node in [Node::A, Node::B] {
        s.start_one_with(node, &exe)?;
    }
    Ok(s)
}

impl Servers {
    /// The daemons of `cfg`'s lab (started or not).
    pub fn new(cfg: &LabConfig) -> Servers {
        Servers { cfg: cfg.clone() }
    }

    /// The lab's configuration.
    pub fn config(&self) -> &LabConfig {
        &self.cfg
    }

    /// `/run/sft3-lab/PREFIX`.
    pub fn dir(&self) -> PathBuf {
        lab_dir(&self.cfg)
    }

    /// The directory of server `node`: `/run/sft3-lab/PREFIX/a`.
    pub fn node_dir(&self, node: Node) -> PathBuf {
        self.dir().join(node.short())
    }

    /// Its generated configuration.
    pub fn config_path(&self, node: Node) -> PathBuf {
        self.node_dir(node).join("sft3.toml")
    }

    /// Its admin log.
    pub fn log_path(&self, node: Node) -> PathBuf {
        self.node_dir(node).join("admin.log")
    }

    /// Its console (the daemon's stderr, and the supervisor's lines).
    pub fn console_path(&self, node: Node) -> PathBuf {
        self.node_dir(node).join("console.log")
    }

    /// Its control socket.
    pub fn socket_path(&self, node: Node) -> PathBuf {
        self.node_dir(node).join("control.sock")
    }

    /// The recording of adapter `iface` (full name) of `node`, with `trace`.
    pub fn pcap_path(&self, node: Node, iface: &str) -> PathBuf {
        self.node_dir(node).join(format!("{iface}.pcap"))
    }

    /// The adapters of `node` a trace records: its LAN adapters, then the MSL.
    pub fn adapters(&self, node: Node) -> Vec<String> {
        let mut v: Vec<String> = (0..self.cfg.lan_adapters)
            .map(|i| self.cfg.lan_if(node, i))
            .collect();
        v.push(self.cfg.msl_if(node));
        v
    }

    /// The admin log's text (empty if none yet).
    pub fn admin_log(&self, node: Node) -> String {
        fs::read_to_string(self.log_path(node)).unwrap_or_default()
    }

    /// The console's text (empty if none yet).
    pub fn console(&self, node: Node) -> String {
        fs::read_to_string(self.console_path(node)).unwrap_or_default()
    }

    /// The daemon exits the supervisor saw, oldest first (`exit 5`, `signal 9`).
    pub fn exits(&self, node: Node) -> Vec<String> {
        fs::read_to_string(self.node_dir(node).join("exits"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The pid of `node`'s running daemon (`sft3 run`), if any.
    pub fn daemon_pid(&self, node: Node) -> Option<i32> {
        let pid = read_pid(&self.node_dir(node).join("daemon.pid"))?;
        let cfg = self.config_path(node);
        alive_with(pid, &cfg.to_string_lossy()).then_some(pid)
    }

    /// The pid of `node`'s running supervisor, if any.
    pub fn supervisor_pid(&self, node: Node) -> Option<i32> {
        let pid = read_pid(&self.node_dir(node).join("supervisor.pid"))?;
        let dir = self.node_dir(node);
        alive_with(pid, &dir.to_string_lossy()).then_some(pid)
    }

    fn supervisor_running(&self, node: Node) -> bool {
        self.supervisor_pid(node).is_some()
    }

    /// The pid of the running station, if any.
    pub fn station_pid(&self) -> Option<i32> {
        let pid = read_pid(&self.dir().join("station.pid"))?;
        alive_with(pid, "station").then_some(pid)
    }

    fn write_configs(&self, opts: &DaemonOptions) -> Result<(), LabError> {
        let dir = self.dir();
        fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
        let key_path = dir.join("key");
        let _ = fs::remove_file(&key_path);
        if let Some(key) = opts.key {
            use std::os::unix::fs::OpenOptionsExt;
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&key_path)
                .and_then(|mut f| f.write_all(format!("{hex}\n").as_bytes()))
                .map_err(io_err(format!("writing {}", key_path.display())))?;
        }
        for node in [Node::A, Node::B] {
            let nd = self.node_dir(node);
            fs::create_dir_all(&nd).map_err(io_err(format!("creating {}", nd.display())))?;
            for f in ["exits", "admin.log", "console.log", "daemon.pid"] {
                let _ = fs::remove_file(nd.join(f));
            }
            let text = self.config_text(node, opts, &key_path);
            let path = self.config_path(node);
            fs::write(&path, text).map_err(io_err(format!("writing {}", path.display())))?;
        }
        Ok(())
    }

    /// The generated configuration of `node` (see docs/config.md).
    fn config_text(&self, node: Node, opts: &DaemonOptions, key_path: &Path) -> String {
        let (id, name) = if node == Node::A {
            (ID_A, "SFT-A")
        } else {
            (ID_B, "SFT-B")
        };
        let mut t = format!(
            "# Generated by `sft3 lab start` for server {node} of lab `{p}`.\n\
             [server]\nid = {id}\nname = \"{name}\"\nrt_priority = {rt}\n\n[msl]\ninterface = \"{msl}\"\n",
            rt = opts.rt_priority,
            p = self.cfg.prefix,
            msl = self.cfg.msl_if(node),
        );
        if opts.key.is_some() {
            t.push_str(&format!("key_file = \"{}\"\n", key_path.display()));
        }
        for i in 0..self.cfg.lan_adapters {
            t.push_str(&format!(
                "\n[[lan]]\ninterface = \"{}\"\nnet = \"{LAN_NET}\"\n",
                self.cfg.lan_if(node, i)
            ));
        }
        t.push_str(&format!(
            "\n[engine]\nnet = \"{ENGINE_NET}\"\n\n[paths]\nlog_file = \"{}\"\n\
             control_socket = \"{}\"\n\n[role]\nstall_fence_ms = {}\n",
            self.log_path(node).display(),
            self.socket_path(node).display(),
            opts.stall_fence_ms,
        ));
        if !opts.extra_toml.is_empty() {
            t.push('\n');
            t.push_str(&opts.extra_toml.replace("{node}", &node.short()));
            t.push('\n');
        }
        t
    }

    fn start_station(&self, exe: &Path) -> Result<(), LabError> {
        if self.station_pid().is_some() {
            return Ok(());
        }
        let argv = vec![
            exe.display().to_string(),
            "lab".into(),
            "--prefix".into(),
            self.cfg.prefix.clone(),
            "station".into(),
            self.cfg.lan_if(Node::Client(1), 0),
        ];
        let pid = spawn_detached(
            &self.cfg.ns(Node::Client(1)),
            &argv,
            &self.dir().join("station.log"),
        )?;
        let path = self.dir().join("station.pid");
        fs::write(&path, format!("{pid}\n")).map_err(io_err(format!("writing {}", path.display())))
    }

    fn start_trace(&self, node: Node) -> Result<(), LabError> {
        super::cmd::require_tool("tcpdump", "tcpdump")?;
        for iface in self.adapters(node) {
            let pcap = self.pcap_path(node, &iface);
            let argv: Vec<String> = [
                "tcpdump",
                "-i",
                &iface,
                "-U",
                "--immediate-mode",
                "-s",
                "0",
                "-w",
                &pcap.to_string_lossy(),
            ]
            .map(String::from)
            .to_vec();
            let pid = spawn_detached(
                &self.cfg.ns(node),
                &argv,
                &self.node_dir(node).join("tcpdump.log"),
            )?;
            let pf = self.node_dir(node).join(format!("{iface}.tcpdump.pid"));
            fs::write(&pf, format!("{pid}\n"))
                .map_err(io_err(format!("writing {}", pf.display())))?;
        }
        // tcpdump opens its sockets after a moment: frames before that are not recorded.
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(2) {
            let ready = self
                .adapters(node)
                .iter()
                .all(|i| fs::metadata(self.pcap_path(node, i)).is_ok_and(|m| m.len() >= 24));
            if ready {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// Stops the recordings of `node` (they are complete once this returns).
    pub fn stop_trace(&self, node: Node) {
        for iface in self.adapters(node) {
            let pf = self.node_dir(node).join(format!("{iface}.tcpdump.pid"));
            if let Some(pid) = read_pid(&pf) {
                stop_pid(pid, "tcpdump", Duration::from_secs(2));
            }
            let _ = fs::remove_file(pf);
        }
    }

    /// Starts server `node` again (after a kill, or a stop of that one), with its existing
    /// configuration.
    pub fn start_one(&self, node: Node) -> Result<(), LabError> {
        self.start_one_with(node, &sft3_exe()?)
    }

    /// [`Servers::start_one`] with a given `sft3` binary.
    pub fn start_one_with(&self, node: Node, exe: &Path) -> Result<(), LabError> {
        check_server(node)?;
        // Right after a kill the supervisor may still be recording the daemon's end.
        let t0 = Instant::now();
        while self.supervisor_running(node)
            && self.daemon_pid(node).is_none()
            && t0.elapsed() < Duration::from_secs(2)
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        if self.supervisor_running(node) {
            return Err(LabError::Config(format!(
                "server {node} is already running"
            )));
        }
        let dir = self.node_dir(node);
        if !self.config_path(node).is_file() {
            return Err(LabError::Missing(format!(
                "no configuration {} (`sft3 lab start` writes it)",
                self.config_path(node).display()
            )));
        }
        let _ = fs::remove_file(dir.join("daemon.pid"));
        let argv = vec![
            exe.display().to_string(),
            "lab".into(),
            "--prefix".into(),
            self.cfg.prefix.clone(),
            "supervise".into(),
            dir.display().to_string(),
        ];
        let pid = spawn_detached(&self.cfg.ns(node), &argv, &self.console_path(node))?;
        let path = dir.join("supervisor.pid");
        fs::write(&path, format!("{pid}\n"))
            .map_err(io_err(format!("writing {}", path.display())))?;
        // The daemon's pid file appears once the supervisor has started it.
        let t0 = Instant::now();
        while self.daemon_pid(node).is_none() && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    }

    /// Sends `sig` to `node`'s daemon (`libc::SIGKILL`: the server dies at once, as with a
    /// power cut). Returns the pid signalled.
    pub fn kill(&self, node: Node, sig: i32) -> Result<i32, LabError> {
        check_server(node)?;
        let pid = self
            .daemon_pid(node)
            .ok_or_else(|| LabError::Missing(format!("no daemon running on server {node}")))?;
        signal(pid, sig);
        Ok(pid)
    }

    /// Stops `node`: SIGTERM to its supervisor (the daemon shuts down cleanly), SIGKILL to
    /// both after [`STOP_GRACE`]. Its recordings go on (the server may be started again);
    /// [`Servers::stop`] ends them.
    pub fn stop_one(&self, node: Node) {
        if let Some(pid) = self.supervisor_pid(node) {
            stop_pid(pid, &self.node_dir(node).to_string_lossy(), STOP_GRACE);
        }
        if let Some(pid) = self.daemon_pid(node) {
            stop_pid(pid, &self.config_path(node).to_string_lossy(), STOP_GRACE);
        }
    }

    /// Stops both servers, their recordings and the station.
    pub fn stop(&self) {
        for node in [Node::A, Node::B] {
            if let Some(pid) = self.supervisor_pid(node) {
                signal(pid, libc::SIGTERM);
            }
        }
        for node in [Node::A, Node::B] {
            self.stop_one(node);
            self.stop_trace(node);
        }
        if let Some(pid) = self.station_pid() {
            stop_pid(pid, "station", Duration::from_secs(2));
        }
        let _ = fs::remove_file(self.dir().join("station.pid"));
    }

    /// Waits until `node`'s supervisor has seen `n` daemon exits in all (the process is
    /// then gone, sockets closed); returns the last exit (`signal 9`, `exit 4`).
    pub fn wait_exits(&self, node: Node, n: usize, limit: Duration) -> Option<String> {
        let t0 = Instant::now();
        loop {
            let exits = self.exits(node);
            if exits.len() >= n {
                return exits.last().cloned();
            }
            if t0.elapsed() >= limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

mod run;
use run::{alive_with, read_pid, signal, spawn_detached, stop_pid};
pub use run::{station, supervise};
mod query;
pub use query::{bind_run_dir, DEFAULT_RUN_DIR};
