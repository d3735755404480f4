//! keepalived in the lab: the anchor the failover benchmarks compare against.
//!
//! | what | value |
//! |---|---|
//! | addresses | server A `10.53.0.1/24`, B `10.53.0.2/24` on its first LAN adapter; virtual `10.53.0.100` |
//! | VRRP | version 3, router id 53, `advert_int` from the benchmark (10 ms by default), A priority 150, B 100 |
//! | states | both start `BACKUP` with `nopreempt`: a restarted router stays backup, so each trial kills the current master |
//! | processes | `keepalived -n -P` (foreground, VRRP only) in the server's namespace, in its own process group: the parent and its VRRP child die together on `kill(-pgid, SIGKILL)`, so no priority-0 "I am leaving" advert is ever sent (as with a power cut) |
//! | files | `DIR/ka-a.conf`, `ka-a.log`, pid files, under the benchmark's scratch directory |
//!
//! keepalived logs to its console (`-l`), which goes to `ka-X.log`: the benchmark times
//! take-overs on the wire ([`super::failover_sniff`]), not from this log.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;

use crate::lab::{cmd, LabConfig, Node};

/// The virtual address.
pub const VIP: [u8; 4] = [10, 53, 0, 100];

/// The keepalived binary, if installed.
pub fn find() -> Option<PathBuf> {
    cmd::find_tool("keepalived")
}

/// Two keepalived routers in the lab's server namespaces. Stopped on drop.
#[derive(Debug)]
pub struct Keepalived {
    lab: LabConfig,
    dir: PathBuf,
    exe: PathBuf,
    children: [Option<Child>; 2],
}

fn idx(node: Node) -> usize {
    usize::from(node == Node::B)
}

fn short(node: Node) -> &'static str {
    if node == Node::B {
        "b"
    } else {
        "a"
    }
}

impl Keepalived {
    /// Gives both servers their IPv4 address and writes the configurations (advertisements
    /// every `advert_ms`, a multiple of 10 ms: VRRPv3 counts centiseconds).
    pub fn setup(lab: &LabConfig, dir: &Path, advert_ms: u32) -> anyhow::Result<Keepalived> {
        Keepalived::setup_rt(lab, dir, advert_ms, None)
    }

    /// [`Keepalived::setup`] with `vrrp_rt_priority` (SCHED_RR) when `rt` is given.
    pub fn setup_rt(
        lab: &LabConfig,
        dir: &Path,
        advert_ms: u32,
        rt: Option<u32>,
    ) -> anyhow::Result<Keepalived> {
        let exe = find().context("keepalived is not installed (apt-get install keepalived)")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let cs = advert_ms.div_ceil(10).max(1);
        for node in [Node::A, Node::B] {
            let ns = lab.ns(node);
            let dev = lab.lan_if(node, 0);
            let addr = format!("10.53.0.{}/24", idx(node) + 1);
            let have = cmd::run(&["ip", "-n", &ns, "-4", "addr", "show", "dev", &dev])?;
            if !have.contains(&addr) {
                cmd::run(&["ip", "-n", &ns, "addr", "add", &addr, "dev", &dev])?;
            }
            cmd::run(&["ip", "-n", &ns, "link", "set", "lo", "up"])?;
            let prio = if node == Node::A { 150 } else { 100 };
            let text = format!(
                "# Written by `sft3 bench failover` (lab `{p}`).\n\
                 global_defs {{\n  router_id {p}{s}\n  vrrp_version 3\n  \
                 script_user root\n  enable_script_security\n{rt}}}\n\
                 vrrp_instance VI_1 {{\n  state BACKUP\n  nopreempt\n  interface {dev}\n  \
                 virtual_router_id 53\n  priority {prio}\n  advert_int {adv}\n  \
                 virtual_ipaddress {{\n    10.53.0.100/24\n  }}\n}}\n",
                p = lab.prefix,
                s = short(node),
                adv = format_args!("{}.{:02}", cs / 100, cs % 100),
                rt = rt.map_or(String::new(), |p| format!("  vrrp_rt_priority {p}\n")),
            );
            let path = dir.join(format!("ka-{}.conf", short(node)));
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(Keepalived {
            lab: lab.clone(),
            dir: dir.to_path_buf(),
            exe,
            children: [None, None],
        })
    }

    /// Starts `node`'s router.
    pub fn start(&mut self, node: Node) -> anyhow::Result<()> {
        let s = short(node);
        let f = |name: &str| self.dir.join(name).display().to_string();
        // After a SIGKILL the pid files stay, and keepalived then refuses to start
        // ("daemon is already running").
        for f in ["", "-vrrp", "-chk"] {
            let _ = std::fs::remove_file(self.dir.join(format!("ka-{s}{f}.pid")));
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("ka-{s}.log")))?;
        let child = Command::new("ip")
            .args(["netns", "exec", &self.lab.ns(node)])
            .arg(&self.exe)
            .args(["-n", "-P", "-l", "-D", "-G", "-f"])
            .arg(f(&format!("ka-{s}.conf")))
            .arg("-p")
            .arg(f(&format!("ka-{s}.pid")))
            .arg("-r")
            .arg(f(&format!("ka-{s}-vrrp.pid")))
            .arg("-c")
            .arg(f(&format!("ka-{s}-chk.pid")))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .context("starting keepalived")?;
        self.children[idx(node)] = Some(child);
        Ok(())
    }

    /// `node`'s console log (keepalived's own lines: `(VI_1) Entering MASTER STATE`, ...).
    pub fn log(&self, node: Node) -> String {
        std::fs::read_to_string(self.dir.join(format!("ka-{}.log", short(node))))
            .unwrap_or_default()
    }

    /// Times `node` entered the master state, by its log.
    pub fn masters(&self, node: Node) -> usize {
        self.log(node).matches("Entering MASTER STATE").count()
    }

    /// Whether `node`'s router was started and not killed.
    pub fn running(&self, node: Node) -> bool {
        self.children[idx(node)].is_some()
    }

    /// SIGKILL to `node`'s whole process group (parent and VRRP child at once); returns the
    /// wall clock read just before `kill(2)`.
    pub fn kill(&mut self, node: Node) -> Option<SystemTime> {
        let mut child = self.children[idx(node)].take()?;
        let pgid = child.id() as i32;
        let t = SystemTime::now();
        // SAFETY: a plain system call on the process group we created.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let _ = child.wait();
        Some(t)
    }

    /// Stops both: SIGTERM to each group, SIGKILL after 2 s.
    pub fn stop(&mut self) {
        for c in self.children.iter_mut() {
            let Some(mut child) = c.take() else { continue };
            let pgid = child.id() as i32;
            // SAFETY: plain system calls on the process group we created.
            unsafe { libc::kill(-pgid, libc::SIGTERM) };
            let t0 = Instant::now();
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if t0.elapsed() > Duration::from_secs(2) {
                    unsafe { libc::kill(-pgid, libc::SIGKILL) };
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            // The VRRP child may outlive a parent that was killed: the group goes too.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        self.stop();
    }
}
