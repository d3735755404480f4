//! Reading the lab's daemons: status JSON over the control socket, waiting for a condition,
//! the lines of `sft3 lab status`, and the mount namespace that lets `sft3 lab exec` run a
//! plain `sft3 status` against a server's daemon.
//!
//! | call | reads |
//! |---|---|
//! | [`Servers::status`], [`Servers::role`] | the control socket (`status json`) |
//! | [`Servers::wait_status`], [`Servers::wait_state`], [`Servers::wait_mirrored`] | the same, polled every 1–5 ms |
//! | [`Servers::wait_log`] | the admin log file |
//! | [`Servers::describe`], [`Servers::to_json`] | pid files, `/proc`, the control socket |

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{io_err, LabError, Node, Servers};

impl Servers {
    /// Whether `node`'s daemon process runs.
    pub fn running(&self, node: Node) -> bool {
        self.daemon_pid(node).is_some()
    }

    /// `node`'s status JSON, read from its control socket.
    pub fn status(&self, node: Node) -> Result<serde_json::Value, LabError> {
        let path = self.socket_path(node);
        let text = crate::node::control::query(&path, "status json")
            .map_err(io_err(format!("asking {} for its status", path.display())))?;
        serde_json::from_str(&text).map_err(|e| {
            LabError::Config(format!("bad status from {}: {e}: {text}", path.display()))
        })
    }

    /// `node`'s `role` (`primary`, `secondary`, `none`), or `None` when it does not answer.
    pub fn role(&self, node: Node) -> Option<String> {
        let v = self.status(node).ok()?;
        v.get("role")?.as_str().map(str::to_string)
    }

    /// Polls `node`'s status every millisecond until `pred` holds or `limit` passes;
    /// returns the status that satisfied it and the time taken. A server that does not
    /// answer is polled again.
    pub fn wait_status(
        &self,
        node: Node,
        limit: Duration,
        mut pred: impl FnMut(&serde_json::Value) -> bool,
    ) -> Option<(serde_json::Value, Duration)> {
        let t0 = Instant::now();
        loop {
            if let Ok(v) = self.status(node) {
                if pred(&v) {
                    return Some((v, t0.elapsed()));
                }
            }
            if t0.elapsed() >= limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Waits until `node`'s `state` is `state` (e.g. `mirrored-primary`).
    pub fn wait_state(&self, node: Node, state: &str, limit: Duration) -> Option<Duration> {
        self.wait_status(node, limit, |v| v["state"] == state)
            .map(|(_, t)| t)
    }

    /// Waits until the pair is mirrored and, with a station, both servers' adapters hear
    /// the network (full scores); returns which server is primary.
    pub fn wait_mirrored(&self, limit: Duration) -> Option<Node> {
        let t0 = Instant::now();
        let full = |v: &serde_json::Value| {
            v["adapters"].as_array().is_some_and(|a| {
                a.iter()
                    .all(|x| x["score"].as_u64().is_some_and(|s| s >= 1000))
            })
        };
        while t0.elapsed() < limit {
            if let (Ok(a), Ok(b)) = (self.status(Node::A), self.status(Node::B)) {
                let pair = [a["state"].as_str(), b["state"].as_str()];
                let heard = self.station_pid().is_none() || (full(&a) && full(&b));
                if heard {
                    match pair {
                        [Some("mirrored-primary"), Some("mirrored-secondary")] => {
                            return Some(Node::A)
                        }
                        [Some("mirrored-secondary"), Some("mirrored-primary")] => {
                            return Some(Node::B)
                        }
                        _ => {}
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    /// Waits until `node`'s admin log holds `text`; returns the matching line.
    pub fn wait_log(&self, node: Node, text: &str, limit: Duration) -> Option<String> {
        let t0 = Instant::now();
        loop {
            if let Some(l) = self.admin_log(node).lines().find(|l| l.contains(text)) {
                return Some(l.to_string());
            }
            if t0.elapsed() >= limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// One line per server for `sft3 lab status`.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for node in [Node::A, Node::B] {
            let dir = self.node_dir(node);
            let line = match (self.supervisor_pid(node), self.daemon_pid(node)) {
                (_, Some(pid)) => format!(
                    "daemon {node}: running, pid {pid} (role {}), {}",
                    self.role(node).unwrap_or_else(|| "?".into()),
                    dir.display()
                ),
                (Some(sup), None) => format!("daemon {node}: starting (supervisor pid {sup})"),
                (None, None) if dir.exists() => format!(
                    "daemon {node}: not running (last exit: {})",
                    self.exits(node).last().map_or("none", |e| e.as_str())
                ),
                (None, None) => format!("daemon {node}: not started"),
            };
            s.push_str(&line);
            s.push('\n');
        }
        if let Some(pid) = self.station_pid() {
            s.push_str(&format!("station: running in c1, pid {pid}\n"));
        }
        s
    }

    /// The daemons as JSON: `{"a":{"pid":N|null,"running":bool},"b":...}`.
    pub fn to_json(&self) -> serde_json::Value {
        let one = |node| {
            let pid = self.daemon_pid(node);
            serde_json::json!({"pid": pid, "running": pid.is_some(),
                "dir": self.node_dir(node).display().to_string()})
        };
        serde_json::json!({"a": one(Node::A), "b": one(Node::B), "station": self.station_pid()})
    }
}

/// Where `sft3 status` looks for the control socket by default: a lab command sees its
/// server's directory there.
pub const DEFAULT_RUN_DIR: &str = "/run/sft3";

/// Makes `cmd` run in a mount namespace of its own in which `dir` is bind-mounted on
/// [`DEFAULT_RUN_DIR`] (created on the host if missing, empty), so the default control
/// socket `/run/sft3/control.sock` is the lab server's. Nothing changes outside that
/// namespace.
pub fn bind_run_dir(cmd: &mut Command, dir: &Path) -> Result<(), LabError> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;
    fs::create_dir_all(DEFAULT_RUN_DIR).map_err(io_err(format!("creating {DEFAULT_RUN_DIR}")))?;
    let bad = |_| LabError::Config(format!("bad path {}", dir.display()));
    let src = CString::new(dir.as_os_str().as_bytes()).map_err(bad)?;
    let dst = CString::new(DEFAULT_RUN_DIR).map_err(|_| LabError::Config("bad path".into()))?;
    let root = CString::new("/").map_err(|_| LabError::Config("bad path".into()))?;
    // SAFETY: unshare and mount are plain system calls on C strings prepared before the
    // fork; nothing allocates between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Keep the bind mount out of the host's namespace.
            let rec_private = libc::MS_REC | libc::MS_PRIVATE;
            if libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                rec_private,
                std::ptr::null(),
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            if libc::mount(
                src.as_ptr(),
                dst.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(())
}
