//! The lab bed shared by `lab_scenarios.rs` and `lab_forged.rs`: a lab with two LAN
//! adapters per server and one client, both daemons started and mirrored (B primary), the
//! recordings on; stopped and removed on drop, after copying the recording when
//! `SFT3_RECORD` names a directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use sft3::lab::daemon::{start, DaemonOptions, Servers};
use sft3::lab::testing::unique_prefix;
use sft3::lab::{Lab, LabConfig, Node};

/// One lab test at a time: each runs two daemons with 5 ms timers on a small machine.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// The `sft3` binary under test.
pub const SFT3: &str = env!("CARGO_BIN_EXE_sft3");

/// A started lab.
pub struct Bed {
    /// The lab.
    pub lab: Lab,
    /// Its daemons.
    pub servers: Servers,
    /// The scenario's name (the recording's directory).
    pub name: String,
    /// The server whose recording and decisions are kept.
    pub recorded: Node,
}

impl Bed {
    /// Builds lab `tag`, starts both daemons (with `key`), waits until they are mirrored
    /// with B primary and every adapter hears the network.
    pub fn start(tag: char, name: &str, recorded: Node, key: Option<[u8; 32]>) -> Bed {
        let opts = DaemonOptions {
            key,
            trace: true,
            ..DaemonOptions::default()
        };
        Bed::start_with(tag, name, recorded, opts)
    }

    /// [`Bed::start`] with these daemon options (the binary under test is set here).
    pub fn start_with(tag: char, name: &str, recorded: Node, opts: DaemonOptions) -> Bed {
        let cfg = LabConfig {
            prefix: unique_prefix(tag),
            lan_adapters: 2,
            clients: 1,
            ..LabConfig::default()
        };
        let lab = Lab::new(cfg.clone()).expect("lab config");
        lab.down().expect("clean start");
        let opts = DaemonOptions {
            exe: Some(PathBuf::from(SFT3)),
            ..opts
        };
        let servers = start(&cfg, &opts).expect("starting the daemons");
        let bed = Bed {
            lab,
            servers,
            name: name.to_string(),
            recorded,
        };
        let primary = bed.servers.wait_mirrored(Duration::from_secs(8));
        assert_eq!(primary, Some(Node::B), "{}", bed.dump("not mirrored"));
        bed
    }

    /// Runs `sft3 lab exec NODE -- sft3 ARGS...`.
    pub fn exec(&self, node: Node, args: &[&str]) -> Output {
        Command::new(SFT3)
            .args(["lab", "--prefix", &self.lab.config().prefix, "exec"])
            .arg(node.short())
            .arg("--")
            .arg(SFT3)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("running sft3 lab exec")
    }

    /// `sft3 lab exec NODE -- sft3 status --json`, parsed (None unless it exits 0).
    pub fn exec_status(&self, node: Node) -> Option<serde_json::Value> {
        let out = self.exec(node, &["status", "--json"]);
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// The exit code of `sft3 lab exec NODE -- sft3 status --json`, and its stderr.
    pub fn exec_status_code(&self, node: Node) -> (i32, String) {
        let out = self.exec(node, &["status", "--json"]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code().unwrap_or(-1), err)
    }

    /// Both servers' status, logs and consoles, for a failure message.
    pub fn dump(&self, what: &str) -> String {
        let s = &self.servers;
        let mut out = format!("{what}\n");
        for n in [Node::A, Node::B] {
            out.push_str(&format!(
                "--- {n}: {:?}\nstatus: {}\nconsole:\n{}\n",
                s.exits(n),
                s.status(n)
                    .map(|v| v.to_string())
                    .unwrap_or_else(|e| e.to_string()),
                s.console(n)
            ));
        }
        out.push_str(&format!(
            "--- station: pid {:?}\n{}\n",
            s.station_pid(),
            std::fs::read_to_string(s.dir().join("station.log")).unwrap_or_default()
        ));
        out
    }

    /// Copies the recorded server's recordings, configuration and decisions to
    /// `DIR/NAME/` (after stopping the recordings).
    fn keep_recording(&self, dir: &Path) {
        let s = &self.servers;
        let node = self.recorded;
        let out = dir.join(&self.name);
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out).expect("recording directory");
        let prefix = &self.lab.config().prefix;
        for iface in s.adapters(node) {
            // Names without the per-run prefix: `a-lan0.pcap`.
            let short = iface.strip_prefix(prefix.as_str()).unwrap_or(&iface);
            let _ = std::fs::copy(s.pcap_path(node, &iface), out.join(format!("{short}.pcap")));
        }
        let cfg = std::fs::read_to_string(s.config_path(node)).unwrap_or_default();
        std::fs::write(out.join("sft3.toml"), cfg.replace(prefix.as_str(), "sft-"))
            .expect("writing the configuration");
        let decisions: String = s
            .admin_log(node)
            .lines()
            .map(|l| l.split_once(' ').map_or(l, |(_, rest)| rest))
            .map(|l| format!("{}\n", l.replace(prefix.as_str(), "sft-")))
            .collect();
        std::fs::write(out.join("decisions.txt"), decisions).expect("writing decisions");
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        for n in [Node::A, Node::B] {
            self.servers.stop_trace(n);
        }
        let record = std::env::var_os("SFT3_RECORD")
            .filter(|_| self.name.starts_with("scenario") || self.name.starts_with("defect"));
        if let Some(dir) = record {
            let dir = PathBuf::from(dir);
            // Relative to the workspace, not the test's working directory.
            let dir = if dir.is_relative() {
                Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)
            } else {
                dir
            };
            self.keep_recording(&dir);
        }
        self.servers.stop();
        let _ = self.lab.down();
    }
}
