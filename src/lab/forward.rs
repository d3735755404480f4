//! Delay, jitter, duplication and reordering: a user-space forwarder spliced into a wire.
//!
//! The kernel here has no netem, so frames bound for adapter IF take a detour: an nftables
//! netdev egress chain `delay-DEV` on IF's peer end DEV (`meta mark != MARK fwd to D`)
//! diverts them into a spare veth pair `D` <-> `E` in DEV's namespace; the forwarder reads
//! them from `E`, holds each in a queue until its due time, and sends it on DEV with socket
//! mark [`MARK`], which the chain lets through to IF. Nothing is re-plumbed: IF keeps its
//! index and carrier, and the same works for LAN adapters and the MSL.
//!
//! The forwarder is `sft3 lab forward ...` in the background; its pid file `NS-DEV.pid` lives in
//! [`RUN_DIR`]. `fault clear` and `down` stop it; it also exits when its devices vanish.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use super::LabError;
use crate::link::{PacketSocket, SocketOptions};

/// The socket mark of frames the forwarder re-injects (lets them past the diverting chain).
pub const MARK: u32 = 0x5f3;

/// Where forwarders' pid files live.
pub const RUN_DIR: &str = "/run/sft3-lab";

/// How a forwarder treats frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ForwardSpec {
    /// Fixed delay, milliseconds.
    pub delay_ms: u32,
    /// Extra delay drawn uniformly from 0..=jitter, milliseconds (reorders frames too).
    pub jitter_ms: u32,
    /// Percentage of frames sent twice.
    pub duplicate: u8,
    /// Percentage of frames sent at once, overtaking the queue.
    pub reorder: u8,
    /// Seed of the random choices.
    pub seed: u64,
}

/// xorshift64*: small, seeded, good enough for fault draws.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn percent(&mut self, p: u8) -> bool {
        self.next() % 100 < u64::from(p)
    }
}

/// A send-only packet socket whose frames carry [`MARK`].
struct MarkedSender {
    fd: OwnedFd,
    ifindex: i32,
}

fn os_err(op: &str) -> LabError {
    LabError::Spawn {
        cmd: op.to_string(),
        source: std::io::Error::last_os_error(),
    }
}

impl MarkedSender {
    fn open(ifname: &str) -> Result<MarkedSender, LabError> {
        let cname =
            CString::new(ifname).map_err(|_| LabError::Config(format!("bad name {ifname}")))?;
        // SAFETY: cname is a valid NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) } as i32;
        if ifindex == 0 {
            return Err(LabError::Missing(format!("no interface `{ifname}`")));
        }
        // SAFETY: plain system call; protocol 0 means the socket receives nothing.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(os_err("packet socket"));
        }
        // SAFETY: `raw` is a fresh descriptor that we own from here on.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mark = MARK as libc::c_int;
        // SAFETY: `mark` is a c_int of the size passed; fd is open.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_MARK,
                &mark as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(os_err("SO_MARK"));
        }
        Ok(MarkedSender { fd, ifindex })
    }

    /// Sends one frame; a full queue or a dropping hook (ENOBUFS) counts as a loss.
    fn send(&self, frame: &[u8]) -> Result<(), LabError> {
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = self.ifindex;
        sll.sll_halen = 6;
        // SAFETY: frame and sll are valid for the lengths passed.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr() as *const libc::c_void,
                frame.len(),
                0,
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOBUFS) {
            return Err(os_err("forwarding a frame"));
        }
        Ok(())
    }
}

/// Runs the forwarder in the calling thread's namespace: frames read on `from` go out on
/// `to` (marked) per `spec`. `ready` is called once both sockets are open. Returns when a
/// device goes away.
pub fn forward(
    from: &str,
    to: &str,
    spec: ForwardSpec,
    ready: impl FnOnce(),
) -> Result<(), LabError> {
    let opts = SocketOptions {
        read_timeout: Some(Duration::from_millis(1)),
        ..SocketOptions::default()
    };
    let rx = PacketSocket::open(from, &opts).map_err(|e| LabError::Config(e.to_string()))?;
    let tx = MarkedSender::open(to)?;
    ready();
    let mut rng = Rng(spec.seed | 1);
    let mut queue: BinaryHeap<Reverse<(Instant, u64, Vec<u8>)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut buf = vec![0u8; 65536];
    loop {
        let now = Instant::now();
        while queue.peek().is_some_and(|Reverse((due, _, _))| *due <= now) {
            if let Some(Reverse((_, _, frame))) = queue.pop() {
                tx.send(&frame)?;
            }
        }
        let Some(m) = rx
            .recv(&mut buf)
            .map_err(|e| LabError::Config(e.to_string()))?
        else {
            continue;
        };
        // The due time counts from the frame's arrival, not from before the wait for it.
        let now = Instant::now();
        let frame = &buf[..m.len.min(buf.len())];
        let copies = if rng.percent(spec.duplicate) { 2 } else { 1 };
        for _ in 0..copies {
            let due = if rng.percent(spec.reorder) {
                now
            } else {
                let jitter = if spec.jitter_ms > 0 {
                    rng.next() % (u64::from(spec.jitter_ms) + 1)
                } else {
                    0
                };
                now + Duration::from_millis(u64::from(spec.delay_ms) + jitter)
            };
            seq += 1;
            queue.push(Reverse((due, seq, frame.to_vec())));
        }
    }
}

/// The pid file of the forwarder feeding `dev` in namespace `ns`. A lab device and its
/// bridge-side peer share a name, so the namespace is part of the key.
fn pid_file(ns: &str, dev: &str) -> std::path::PathBuf {
    std::path::Path::new(RUN_DIR).join(format!("{ns}-{dev}.pid"))
}

/// Whether process `pid` is gone (or a zombie, which is as good as gone).
fn exited(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses, which may itself hold `)`.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| matches!(rest.trim_start().chars().next(), Some('Z' | 'X'))),
        Err(_) => true,
    }
}

/// Stops the forwarder whose pid file is `path`, if it is still the one for `dev` in `ns`,
/// waits briefly for it to exit (so a replacement does not race it), and removes the file.
fn stop(path: &std::path::Path, ns: &str, dev: &str) {
    let pid = std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok());
    if let Some(pid) = pid.filter(|&p| p > 0) {
        // Only a process that is still the forwarder for this device (pids get reused): its
        // arguments are `... forward NS E DEV ...`.
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        let ours = args.iter().position(|a| *a == b"forward").is_some_and(|i| {
            args.get(i + 1) == Some(&ns.as_bytes()) && args.get(i + 3) == Some(&dev.as_bytes())
        });
        if ours {
            // SAFETY: plain system call on a pid we checked.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let t0 = Instant::now();
            while !exited(pid) && t0.elapsed() < Duration::from_secs(2) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    let _ = std::fs::remove_file(path);
}

impl super::Lab {
    /// Splices a forwarder into the frames arriving on `iface` of `node` (replacing any
    /// forwarder already there).
    pub(super) fn start_delay(
        &self,
        node: super::Node,
        iface: &str,
        spec: ForwardSpec,
    ) -> Result<(), LabError> {
        use super::cmd;
        cmd::require_tool("nft", "nftables")?;
        let cfg = &self.cfg;
        let iface = cfg.iface_name(node, iface);
        let (_, dev, ns) = self.peer(node, &iface)?;
        let (d, e) = cfg
            .detour_ifs(&dev)
            .ok_or_else(|| LabError::Config(format!("`{dev}` cannot take a forwarder")))?;
        self.stop_delay(&ns, &dev)?;
        let links = super::status::links(Some(&ns))?;
        if !links.iter().any(|l| l.name == d) || !links.iter().any(|l| l.name == e) {
            let _ = cmd::run(&["ip", "-n", &ns, "link", "del", "dev", &d]);
            let _ = cmd::run(&["ip", "-n", &ns, "link", "del", "dev", &e]);
            cmd::run(&[
                "ip", "-n", &ns, "link", "add", "name", &d, "mtu", "65535", "type", "veth", "peer",
                "name", &e, "mtu", "65535",
            ])?;
        }
        for dev in [&d, &e] {
            cmd::run(&["ip", "-n", &ns, "link", "set", "dev", dev, "up"])?;
        }
        let exe = std::env::current_exe().map_err(|e| LabError::Spawn {
            cmd: "finding the sft3 binary".into(),
            source: e,
        })?;
        let exe = if exe.file_name().is_some_and(|n| n == "sft3") {
            exe
        } else {
            // Called from a test or another binary: the sft3 binary sits beside it or above.
            let dir = exe.parent().map(|p| p.to_path_buf()).unwrap_or_default();
            [dir.join("sft3"), dir.join("../sft3")]
                .into_iter()
                .find(|p| p.is_file())
                .ok_or_else(|| LabError::Missing("no sft3 binary to run the forwarder".into()))?
        };
        let args: Vec<String> = vec![
            "lab".into(),
            "--prefix".into(),
            cfg.prefix.clone(),
            "forward".into(),
            ns.clone(),
            e.clone(),
            dev.clone(),
            format!("--delay-ms={}", spec.delay_ms),
            format!("--jitter-ms={}", spec.jitter_ms),
            format!("--duplicate={}", spec.duplicate),
            format!("--reorder={}", spec.reorder),
            format!("--seed={}", spec.seed),
        ];
        let mut child = std::process::Command::new(&exe)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|err| LabError::Spawn {
                cmd: format!("{} {}", exe.display(), args.join(" ")),
                source: err,
            })?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            use std::io::BufRead;
            let _ = std::io::BufReader::new(out).read_line(&mut line);
        }
        if line.trim() != "ready" {
            let _ = child.kill();
            let _ = child.wait();
            return Err(LabError::Config(format!(
                "the forwarder on `{dev}` did not start (run `{} {}` to see why)",
                exe.display(),
                args.join(" ")
            )));
        }
        let pid = pid_file(&ns, &dev);
        let done = std::fs::create_dir_all(RUN_DIR)
            .and_then(|()| std::fs::write(&pid, format!("{}\n", child.id())))
            .map_err(|err| LabError::Spawn {
                cmd: format!("writing {}", pid.display()),
                source: err,
            })
            .and_then(|()| {
                let rule = format!("meta mark != {MARK:#x} fwd to \"{d}\"");
                self.set_chain(node, &iface, "delay", &rule)
            });
        if let Err(err) = done {
            // Leave nothing half-done: no forwarder, pid file or spare pair without a chain.
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_file(&pid);
            let _ = cmd::run(&["ip", "-n", &ns, "link", "del", "dev", &d]);
            return Err(err);
        }
        // Reap the forwarder when it exits, should this process outlive it (tests do).
        std::thread::spawn(move || child.wait());
        Ok(())
    }

    /// Stops the forwarder whose frames leave `dev` in namespace `ns` (the caller removes
    /// the chain and the spare pair).
    pub(super) fn stop_delay(&self, ns: &str, dev: &str) -> Result<(), LabError> {
        stop(&pid_file(ns, dev), ns, dev);
        Ok(())
    }

    /// Stops every forwarder of this prefix's lab.
    pub(super) fn stop_all_delays(&self) {
        let Ok(dir) = std::fs::read_dir(RUN_DIR) else {
            return;
        };
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // `PREFIX<node>-DEV.pid`: node names hold no `-`.
            let Some(key) = name.strip_suffix(".pid") else {
                continue;
            };
            let Some((node, dev)) = key
                .strip_prefix(self.cfg.prefix.as_str())
                .and_then(|rest| rest.split_once('-'))
            else {
                continue;
            };
            if super::Node::from_short(node).is_some() && self.cfg.is_lab_link(dev) {
                stop(&entry.path(), &format!("{}{node}", self.cfg.prefix), dev);
            }
        }
    }
}
