//! A throwaway pair of network namespaces joined by a veth, for benchmarks.
//!
//! | piece | name |
//! |---|---|
//! | namespaces | `sft3b-a-PID`, `sft3b-b-PID` (PID: this process), with a hop also `sft3b-m-PID` |
//! | direct | veth `sft3b-va` in A ↔ `sft3b-vb` in B, both up, at the chosen MTU |
//! | with a hop | `sft3b-va` ↔ `sft3b-ma`, bridge `sft3b-br` in M, `sft3b-mb` ↔ `sft3b-vb` |
//! | loss | nftables table `netdev sft3bench`, chain `loss-DEV` on DEV's egress: `numgen random mod 100 < N drop`; DEV is `sft3b-va` and `sft3b-vb` (direct) or `sft3b-ma` and `sft3b-mb` (hop) |
//!
//! **Why a hop for loss.** An egress drop on the sender's own device is reported to the
//! sending socket (`ENOBUFS`). `send` counts the frame as lost, but `sendmmsg` returns a
//! short count instead, and the link layer then sends the same frame again (which passes,
//! 99 times in 100): a driver that batches sees about p/32 + p² of its frames lost instead
//! of p. Dropping on the bridge's ports in a middle namespace is silent, as on a wire.
//!
//! Deleting a namespace deletes its end of the veth (and with it the other end) and its
//! nftables tables, so [`Pair`]'s `Drop` (which also runs while a panic unwinds) leaves
//! nothing behind. A process killed outright cannot clean up: [`Pair::new`] first removes
//! the pairs of earlier processes that no longer exist.

use std::process::{Command, Stdio};
use std::thread::JoinHandle;

use crate::lab::{cmd, LabError};
use crate::link::raw::{RawLink, RawOptions};

/// Namespace names start with this, then `a-`/`b-` and the process id.
const NS_PREFIX: &str = "sft3b-";
/// The nftables table holding the loss chains.
const TABLE: &str = "sft3bench";

/// One end of the pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Namespace A, device `sft3b-va`.
    A,
    /// Namespace B, device `sft3b-vb`.
    B,
}

impl End {
    /// The veth device of this end.
    pub fn dev(self) -> &'static str {
        match self {
            End::A => "sft3b-va",
            End::B => "sft3b-vb",
        }
    }
}

/// Why a benchmark could not set up its pair.
#[derive(Debug, thiserror::Error)]
pub enum PairError {
    /// Not root.
    #[error(
        "the benchmark needs CAP_SYS_ADMIN and CAP_NET_ADMIN (it builds two network \
         namespaces joined by a veth pair) and CAP_NET_RAW: run it as root, e.g. \
         `sudo sft3 bench ...`"
    )]
    NeedRoot,
    /// A command failed or a tool is missing (the message names the package).
    #[error(transparent)]
    Lab(#[from] LabError),
}

/// Two namespaces joined by a veth pair; both removed on drop.
#[derive(Debug)]
pub struct Pair {
    ns: [String; 2],
    /// The middle namespace, when there is a hop.
    mid: Option<String>,
    mtu: usize,
}

/// Devices of the middle namespace: toward A, toward B, the bridge.
const MID_DEVS: [&str; 3] = ["sft3b-ma", "sft3b-mb", "sft3b-br"];

impl Pair {
    /// Builds the pair with `mtu` on both ends, joined directly (removing leftovers of dead
    /// processes first).
    pub fn new(mtu: usize) -> Result<Pair, PairError> {
        Pair::build(mtu, false)
    }

    /// Builds the pair with a bridge in a middle namespace between the ends (where
    /// [`set_loss`](Self::set_loss) then drops frames silently).
    pub fn with_hop(mtu: usize) -> Result<Pair, PairError> {
        Pair::build(mtu, true)
    }

    fn build(mtu: usize, hop: bool) -> Result<Pair, PairError> {
        if !cmd::privileged() {
            return Err(PairError::NeedRoot);
        }
        cmd::require_tool("ip", "iproute2")?;
        remove_stale();
        let pid = std::process::id();
        let pair = Pair {
            ns: [format!("{NS_PREFIX}a-{pid}"), format!("{NS_PREFIX}b-{pid}")],
            mid: hop.then(|| format!("{NS_PREFIX}m-{pid}")),
            mtu,
        };
        for ns in pair.all() {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
        // From here on, Drop removes whatever part was made.
        for ns in pair.all() {
            cmd::run(&["ip", "netns", "add", ns])?;
        }
        let (a, b) = (pair.ns(End::A), pair.ns(End::B));
        match &pair.mid {
            None => {
                cmd::run(&[
                    "ip", "-n", a, "link", "add", "name", "sft3b-va", "type", "veth", "peer",
                    "name", "sft3b-vb", "netns", b,
                ])?;
            }
            Some(m) => {
                let [ma, mb, br] = MID_DEVS;
                for (end, peer) in [(End::A, ma), (End::B, mb)] {
                    cmd::run(&[
                        "ip",
                        "-n",
                        m,
                        "link",
                        "add",
                        "name",
                        peer,
                        "type",
                        "veth",
                        "peer",
                        "name",
                        end.dev(),
                        "netns",
                        pair.ns(end),
                    ])?;
                }
                cmd::run(&["ip", "-n", m, "link", "add", "name", br, "type", "bridge"])?;
                for dev in [ma, mb] {
                    cmd::run(&["ip", "-n", m, "link", "set", dev, "master", br])?;
                }
            }
        }
        pair.set_mtu(mtu)?;
        for end in [End::A, End::B] {
            cmd::run(&["ip", "-n", pair.ns(end), "link", "set", end.dev(), "up"])?;
        }
        if let Some(m) = &pair.mid {
            for dev in MID_DEVS {
                cmd::run(&["ip", "-n", m, "link", "set", dev, "up"])?;
            }
        }
        pair.wait_ready()?;
        Ok(pair)
    }

    /// Waits until the ends have carrier and the bridge's ports forward: the kernel applies
    /// a veth's carrier (and a bridge port's state) through its link watcher, up to a
    /// second late, and frames sent before are dropped.
    fn wait_ready(&self) -> Result<(), PairError> {
        let mut devs: Vec<(&str, &str, bool)> = vec![
            (self.ns(End::A), End::A.dev(), false),
            (self.ns(End::B), End::B.dev(), false),
        ];
        if let Some(m) = &self.mid {
            devs.push((m, MID_DEVS[0], true));
            devs.push((m, MID_DEVS[1], true));
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        for (ns, dev, port) in devs {
            loop {
                let out = cmd::run(&["ip", "-n", ns, "-d", "-o", "link", "show", "dev", dev])?;
                let up = out.contains("LOWER_UP")
                    && (!port || out.contains("bridge_slave state forwarding"));
                if up {
                    break;
                }
                if std::time::Instant::now() > deadline {
                    return Err(PairError::Lab(LabError::Config(format!(
                        "{dev} in {ns} not up and forwarding after 5 s: {}",
                        out.trim()
                    ))));
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// Every namespace of the pair.
    fn all(&self) -> impl Iterator<Item = &String> {
        self.ns.iter().chain(self.mid.as_ref())
    }

    /// True when the ends are joined through a bridge in a middle namespace.
    pub fn has_hop(&self) -> bool {
        self.mid.is_some()
    }

    /// The devices whose egress [`set_loss`](Self::set_loss) hooks, with their namespace.
    fn loss_devs(&self) -> [(&str, &str); 2] {
        match &self.mid {
            None => [
                (self.ns(End::A), End::A.dev()),
                (self.ns(End::B), End::B.dev()),
            ],
            Some(m) => [(m.as_str(), MID_DEVS[0]), (m.as_str(), MID_DEVS[1])],
        }
    }

    /// The namespace of `end`.
    pub fn ns(&self, end: End) -> &str {
        match end {
            End::A => &self.ns[0],
            End::B => &self.ns[1],
        }
    }

    /// The MTU both ends have.
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// Sets the MTU of both ends (links opened before keep their old idea of it).
    pub fn set_mtu(&self, mtu: usize) -> Result<(), PairError> {
        let m = mtu.to_string();
        for end in [End::A, End::B] {
            cmd::run(&[
                "ip",
                "-n",
                self.ns(end),
                "link",
                "set",
                end.dev(),
                "mtu",
                &m,
            ])?;
        }
        if let Some(mid) = &self.mid {
            for dev in MID_DEVS {
                cmd::run(&["ip", "-n", mid, "link", "set", dev, "mtu", &m])?;
            }
        }
        Ok(())
    }

    /// Opens an MSL link on `end`'s device with large socket buffers (the default receive
    /// buffer overflows at veth speed).
    pub fn open(&self, end: End) -> anyhow::Result<RawLink> {
        let opts = RawOptions::msl();
        let r = cmd::in_netns(self.ns(end), move || RawLink::open_with(end.dev(), &opts))?;
        Ok(r?)
    }

    /// Runs `f` inside `end`'s namespace on a thread of its own, for as long as `f` runs
    /// (sockets it opens and threads it starts live in that namespace).
    pub fn spawn_in<T, F>(&self, end: End, name: &str, f: F) -> std::io::Result<JoinHandle<T>>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let ns = self.ns(end).to_string();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || match cmd::in_netns(&ns, f) {
                Ok(v) => v,
                Err(e) => panic!("entering namespace {ns}: {e}"),
            })
    }

    /// Drops `percent` % of the frames both ways (netdev egress, so the receiving packet
    /// socket never sees them): on the ends' own devices when direct, on the bridge's ports
    /// with a hop (see the module docs); 0 removes the rules.
    pub fn set_loss(&self, percent: u8) -> Result<(), PairError> {
        self.clear_loss()?;
        if percent == 0 {
            return Ok(());
        }
        cmd::require_tool("nft", "nftables")?;
        // numgen's range is 0-99: nft refuses `< 100`, and 100 % is a plain drop.
        let rule = if percent >= 100 {
            "drop".to_string()
        } else {
            format!("numgen random mod 100 < {percent} drop")
        };
        for (ns, dev) in self.loss_devs() {
            let script = format!(
                "add table netdev {TABLE}\n\
                 add chain netdev {TABLE} loss-{dev} {{ type filter hook egress device \"{dev}\" priority 0; policy accept; }}\n\
                 add rule netdev {TABLE} loss-{dev} {rule}\n"
            );
            cmd::run_input(
                &["ip", "netns", "exec", ns, "nft", "-f", "-"],
                Some(&script),
            )?;
        }
        Ok(())
    }

    /// Removes the loss rules, if any.
    pub fn clear_loss(&self) -> Result<(), PairError> {
        if cmd::find_tool("nft").is_none() {
            return Ok(()); // Without nft there can be no rule.
        }
        let mut seen = Vec::new();
        for (ns, _) in self.loss_devs() {
            if seen.contains(&ns) {
                continue;
            }
            seen.push(ns);
            let tables = cmd::run(&["ip", "netns", "exec", ns, "nft", "list", "tables"])?;
            if tables
                .lines()
                .any(|l| l.trim() == format!("table netdev {TABLE}"))
            {
                cmd::run(&[
                    "ip", "netns", "exec", ns, "nft", "delete", "table", "netdev", TABLE,
                ])?;
            }
        }
        Ok(())
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for ns in self.all() {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Deletes `sft3b-{a,b}-PID` namespaces whose process is gone (a run killed by a signal).
fn remove_stale() {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(NS_PREFIX) else {
            continue;
        };
        let pid = ["a-", "b-", "m-"]
            .iter()
            .find_map(|p| rest.strip_prefix(p))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                let _ = Command::new("ip")
                    .args(["netns", "del", &name])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}
