//! The lab: network namespaces on one host as test servers and clients (`sft3 lab`).
//!
//! | piece | namespace | interfaces (prefix `sft-`) | MAC (`NN` client number, `i` index) |
//! |---|---|---|---|
//! | the IPX LAN | `sft-lan` | bridge `sft-br`, one port per adapter (same name as the adapter) | bridge `12:53:00:00:00:00`, ports `12:…` |
//! | server A | `sft-a` | `sft-a-lan0`…, MSL `sft-a-msl` | `02:53:0a:00:00:i`, MSL `02:53:0a:00:01:00` |
//! | server B | `sft-b` | `sft-b-lan0`…, MSL `sft-b-msl` | `02:53:0b:00:00:i`, MSL `02:53:0b:00:01:00` |
//! | client N | `sft-cN` | `sft-cN-lan0` | `02:53:0c:NN:00:00` |
//!
//! Every adapter is one end of a veth pair created straight into its namespace, so nothing
//! is ever added to the host's root namespace; a LAN adapter's other end is a bridge port of
//! the same name in the LAN namespace, and the MSL pair joins A and B directly. Every name
//! carries the prefix, so `down` can remove exactly the lab and nothing else, and works on
//! whatever a crashed or half-done `up` left. MACs are locally administered and derived from
//! node and adapter, so captures read the same every run. IPv6 is off in every namespace so
//! captures hold only what the test sends.
//!
//! Faults live in the kernel, not in a state file, so `status` reads them back: a LAN cut is
//! a bridge port without its bridge; a carrier loss is a peer end set down; an MSL cut and a
//! loss rate are nftables netdev egress chains (`cut-DEV`, `loss-DEV`) on the peer end, in a
//! table named `PREFIXfault` (the kernel has no netem here). Delay, jitter, duplication and
//! reordering divert an adapter's incoming frames through a user-space forwarder
//! ([`forward`]; its pid file is the one piece of state outside the kernel).
//!
//! [`daemon`] runs the real daemons in the lab (`sft3 lab start | stop | kill`): `sft3 run`
//! in each server namespace under a small supervisor, a station in client 1, files under
//! `/run/sft3-lab/PREFIX/`; `down` stops them first.

pub mod cli;
pub mod cmd;
pub mod daemon;
mod fault;
pub mod forward;
mod status;
pub mod testing;

pub use fault::{Fault, FaultAction};
pub use forward::ForwardSpec;
pub use status::{LabStatus, LinkState, NsStatus};

use std::fmt;
use std::process::ExitStatus;

use thiserror::Error;

use crate::wire::MacAddr;

/// Linux's limit on an interface name (IFNAMSIZ minus the terminating NUL).
pub const IFNAME_MAX: usize = 15;

/// Why a lab operation failed.
#[derive(Debug, Error)]
pub enum LabError {
    /// Namespaces and links need privileges the process lacks.
    #[error(
        "sft3 lab needs CAP_SYS_ADMIN (network namespaces) and CAP_NET_ADMIN (links): \
         run it as root, e.g. `sudo sft3 lab ...`"
    )]
    NeedRoot,
    /// A program the lab shells out to is not installed.
    #[error("`{tool}` not found: install it with `apt-get install {package}`")]
    MissingTool {
        /// The program.
        tool: &'static str,
        /// The Debian/Ubuntu package that has it.
        package: &'static str,
    },
    /// A command failed; the message shows the command line and its stderr.
    #[error("`{cmd}` failed (exit {status}): {stderr}")]
    Command {
        /// The command line.
        cmd: String,
        /// Its exit status (-1 when killed by a signal).
        status: i32,
        /// What it printed on stderr.
        stderr: String,
    },
    /// A command could not be started, or a namespace not entered.
    #[error("{cmd}: {source}")]
    Spawn {
        /// What was attempted.
        cmd: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The configuration or an argument is invalid.
    #[error("{0}")]
    Config(String),
    /// The node or interface is not (or not yet) part of the lab.
    #[error("{0} (see `sft3 lab status`; `sft3 lab up` builds the lab)")]
    Missing(String),
}

/// A node of the lab: each is one network namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Node {
    /// The namespace holding the LAN bridge.
    Lan,
    /// Server A.
    A,
    /// Server B.
    B,
    /// Client N (numbered from 1).
    Client(u16),
}

impl Node {
    /// The name without prefix: `a`, `b`, `c3`, `lan`.
    pub fn short(&self) -> String {
        match self {
            Node::Lan => "lan".into(),
            Node::A => "a".into(),
            Node::B => "b".into(),
            Node::Client(n) => format!("c{n}"),
        }
    }

    /// Parses a short name (`a`, `c2`, `lan`).
    pub fn from_short(s: &str) -> Option<Node> {
        match s {
            "lan" => Some(Node::Lan),
            "a" => Some(Node::A),
            "b" => Some(Node::B),
            _ => {
                let digits = s.strip_prefix('c')?;
                // One spelling per client: `c01` is not `c1` (and not a lab namespace).
                if digits.is_empty()
                    || digits.starts_with('0')
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return None;
                }
                digits.parse().ok().filter(|&n| n > 0).map(Node::Client)
            }
        }
    }

    /// The other server across the MSL.
    fn msl_peer(&self) -> Option<Node> {
        match self {
            Node::A => Some(Node::B),
            Node::B => Some(Node::A),
            _ => None,
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.short())
    }
}

/// Sizes, names and MTUs of a lab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabConfig {
    /// Prefix of every namespace, interface and nftables table (default `sft-`).
    pub prefix: String,
    /// LAN adapters per server (default 1).
    pub lan_adapters: u8,
    /// Client namespaces (default 2).
    pub clients: u16,
    /// MTU of the LAN (bridge and LAN adapters; default 1500).
    pub lan_mtu: u32,
    /// MTU of the MSL pair (default 9000).
    pub msl_mtu: u32,
}

impl Default for LabConfig {
    fn default() -> Self {
        LabConfig {
            prefix: "sft-".into(),
            lan_adapters: 1,
            clients: 2,
            lan_mtu: 1500,
            msl_mtu: 9000,
        }
    }
}

/// One veth pair: `(namespace, name, MAC)` of each end, its MTU, and the bridge the peer
/// end joins, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VethSpec {
    /// The node end: namespace, interface name, MAC.
    pub end: (String, String, MacAddr),
    /// The other end.
    pub peer: (String, String, MacAddr),
    /// MTU of both ends.
    pub mtu: u32,
    /// The bridge the peer end is a port of (LAN pairs).
    pub peer_master: Option<String>,
}

impl LabConfig {
    /// Namespace of `node`.
    pub fn ns(&self, node: Node) -> String {
        format!("{}{}", self.prefix, node.short())
    }

    /// LAN adapter `i` of `node` (the bridge port in the LAN namespace has the same name).
    pub fn lan_if(&self, node: Node, i: u8) -> String {
        format!("{}{}-lan{i}", self.prefix, node.short())
    }

    /// The MSL adapter of server `node`.
    pub fn msl_if(&self, node: Node) -> String {
        format!("{}{}-msl", self.prefix, node.short())
    }

    /// The LAN bridge (in the LAN namespace).
    pub fn bridge(&self) -> String {
        format!("{}br", self.prefix)
    }

    /// The nftables table (family netdev) that holds faults, in each namespace.
    pub fn fault_table(&self) -> String {
        format!("{}fault", self.prefix)
    }

    /// The MAC of an adapter: `02:53:CLASS:NN:KIND:INDEX` (class `0a`/`0b`/`0c` for A, B,
    /// clients; `NN` the client number; kind 0 LAN, 1 MSL); bridge-side ports start `12`.
    pub fn mac(node: Node, msl: bool, index: u8, bridge_side: bool) -> MacAddr {
        let (class, num) = match node {
            Node::Lan => (0x00, 0),
            Node::A => (0x0a, 0),
            Node::B => (0x0b, 0),
            Node::Client(n) => (0x0c, n as u8),
        };
        let first = if bridge_side { 0x12 } else { 0x02 };
        MacAddr([first, 0x53, class, num, msl as u8, index])
    }

    /// Every node, LAN namespace first.
    pub fn nodes(&self) -> Vec<Node> {
        let mut v = vec![Node::Lan, Node::A, Node::B];
        v.extend((1..=self.clients).map(Node::Client));
        v
    }

    /// LAN adapters of `node` (none for the LAN namespace itself).
    pub fn adapters(&self, node: Node) -> u8 {
        match node {
            Node::Lan => 0,
            Node::A | Node::B => self.lan_adapters,
            Node::Client(_) => 1,
        }
    }

    /// Every veth pair of the topology.
    pub fn veths(&self) -> Vec<VethSpec> {
        let lan_ns = self.ns(Node::Lan);
        let mut v = Vec::new();
        for node in self.nodes() {
            for i in 0..self.adapters(node) {
                let name = self.lan_if(node, i);
                v.push(VethSpec {
                    end: (
                        self.ns(node),
                        name.clone(),
                        Self::mac(node, false, i, false),
                    ),
                    peer: (lan_ns.clone(), name, Self::mac(node, false, i, true)),
                    mtu: self.lan_mtu,
                    peer_master: Some(self.bridge()),
                });
            }
        }
        v.push(VethSpec {
            end: (
                self.ns(Node::A),
                self.msl_if(Node::A),
                Self::mac(Node::A, true, 0, false),
            ),
            peer: (
                self.ns(Node::B),
                self.msl_if(Node::B),
                Self::mac(Node::B, true, 0, false),
            ),
            mtu: self.msl_mtu,
            peer_master: None,
        });
        v
    }

    /// Checks names (characters, IFNAMSIZ), sizes and MTUs.
    pub fn validate(&self) -> Result<(), LabError> {
        let p = &self.prefix;
        let ok_chars = p
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !p.starts_with(|c: char| c.is_ascii_lowercase()) || !ok_chars {
            return Err(LabError::Config(format!(
                "lab prefix `{p}` must start with a lowercase letter and hold only a-z, 0-9, - and _"
            )));
        }
        if !(1..=16).contains(&self.lan_adapters) {
            return Err(LabError::Config(
                "LAN adapters per server must be 1 to 16".into(),
            ));
        }
        if self.clients > 99 {
            return Err(LabError::Config("at most 99 clients".into()));
        }
        for (what, mtu) in [("LAN", self.lan_mtu), ("MSL", self.msl_mtu)] {
            if !(576..=65535).contains(&mtu) {
                return Err(LabError::Config(format!(
                    "{what} MTU {mtu} is outside 576..=65535"
                )));
            }
        }
        let mut names = vec![self.bridge()];
        for s in self.veths() {
            names.push(s.end.1);
            names.push(s.peer.1);
        }
        if let Some(long) = names.iter().find(|n| n.len() > IFNAME_MAX) {
            return Err(LabError::Config(format!(
                "interface name `{long}` is longer than {IFNAME_MAX} characters: use a shorter prefix"
            )));
        }
        Ok(())
    }

    /// The node a namespace name belongs to, if it is one of this prefix's lab namespaces.
    pub fn node_of_ns(&self, ns: &str) -> Option<Node> {
        ns.strip_prefix(self.prefix.as_str())
            .and_then(Node::from_short)
    }

    /// True for an interface name this prefix's lab creates (bridge, LAN adapter, MSL).
    pub fn is_lab_link(&self, name: &str) -> bool {
        let Some(rest) = name.strip_prefix(self.prefix.as_str()) else {
            return false;
        };
        if rest == "br" {
            return true;
        }
        let Some((node, kind)) = rest.split_once('-') else {
            return false;
        };
        let index = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
        Node::from_short(node).is_some()
            && (kind == "msl"
                || kind.strip_prefix("lan").is_some_and(index)
                || Self::is_detour_kind(kind))
    }

    fn is_detour_kind(kind: &str) -> bool {
        kind.strip_prefix(['d', 'e'])
            .is_some_and(|d| d == "m" || (!d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())))
    }

    /// True for the spare pair a delay forwarder uses (`PREFIXa-d0`, `PREFIXb-em`).
    pub fn is_detour_link(&self, name: &str) -> bool {
        name.strip_prefix(self.prefix.as_str())
            .and_then(|r| r.split_once('-'))
            .is_some_and(|(n, k)| Node::from_short(n).is_some() && Self::is_detour_kind(k))
    }

    /// The spare pair `(D, E)` that diverts frames leaving `dev` through a forwarder:
    /// `PREFIXx-lanI` gives `PREFIXx-dI`/`PREFIXx-eI`, `PREFIXx-msl` gives `-dm`/`-em`.
    pub fn detour_ifs(&self, dev: &str) -> Option<(String, String)> {
        let rest = dev.strip_prefix(self.prefix.as_str())?;
        let (node, kind) = rest.split_once('-')?;
        let tag = if kind == "msl" {
            "m"
        } else {
            kind.strip_prefix("lan")?
        };
        let p = &self.prefix;
        Some((format!("{p}{node}-d{tag}"), format!("{p}{node}-e{tag}")))
    }

    /// Resolves a node argument: a short name (`a`, `c1`, `lan`) or a full namespace name.
    pub fn parse_node(&self, s: &str) -> Result<Node, LabError> {
        self.node_of_ns(s)
            .or_else(|| Node::from_short(s))
            .ok_or_else(|| {
                LabError::Config(format!(
                    "unknown lab node `{s}`: use a, b, c1, c2, ... or lan (or {p}a, ...)",
                    p = self.prefix
                ))
            })
    }

    /// Resolves an interface argument on `node`: a full name, or the part after the node
    /// (`lan0`, `msl`).
    pub fn iface_name(&self, node: Node, s: &str) -> String {
        if s.starts_with(self.prefix.as_str()) {
            s.to_string()
        } else {
            format!("{}{}-{s}", self.prefix, node.short())
        }
    }

    /// The other end of a lab veth: `(node, iface)` given one end.
    pub fn peer_of(&self, node: Node, iface: &str) -> Option<(Node, String)> {
        let rest = iface.strip_prefix(self.prefix.as_str())?;
        let (owner, kind) = rest.split_once('-')?;
        let owner = Node::from_short(owner)?;
        if kind == "msl" {
            let peer = owner.msl_peer()?;
            return (node == owner).then(|| (peer, self.msl_if(peer)));
        }
        match node {
            Node::Lan => Some((owner, iface.to_string())),
            n if n == owner => Some((Node::Lan, iface.to_string())),
            _ => None,
        }
    }
}

/// What `up` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpReport {
    /// Namespaces created.
    pub namespaces_created: usize,
    /// Links (bridge, veth pairs) created, or re-created because half of a pair was missing.
    pub links_created: usize,
    /// Settings changed on existing links (MTU, MAC, bridge port, up).
    pub links_fixed: usize,
}

impl UpReport {
    /// True when `up` found everything in place.
    pub fn is_noop(&self) -> bool {
        *self == UpReport::default()
    }
}

/// What `down` removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DownReport {
    /// Namespaces removed.
    pub namespaces: Vec<String>,
    /// Interfaces removed from the root namespace (left by an older or interrupted lab).
    pub root_links: Vec<String>,
}

/// A lab on this host, by configuration. Cheap: holds no handles.
#[derive(Clone, Debug)]
pub struct Lab {
    cfg: LabConfig,
}

mod build;

impl Lab {
    /// A lab with this configuration (checked).
    pub fn new(cfg: LabConfig) -> Result<Lab, LabError> {
        cfg.validate()?;
        Ok(Lab { cfg })
    }

    /// The configuration.
    pub fn config(&self) -> &LabConfig {
        &self.cfg
    }

    /// The namespace of `node`.
    pub fn ns(&self, node: Node) -> String {
        self.cfg.ns(node)
    }

    /// Runs a command inside `node`'s namespace (`ip netns exec`) with inherited stdio, and
    /// returns its exit status. On a server whose daemon `sft3 lab start` configured, the
    /// command sees that server's directory on `/run/sft3` (see [`daemon`]), so a plain
    /// `sft3 status` reads that server's daemon. A command `sft3` that is not on `PATH`
    /// runs this `sft3` binary (from a build tree).
    pub fn exec(&self, node: Node, argv: &[String]) -> Result<ExitStatus, LabError> {
        cmd::require_privileges()?;
        let ns = self.ns(node);
        if !status::namespaces()?.contains(&ns) {
            return Err(LabError::Missing(format!("no lab namespace `{ns}`")));
        }
        if argv.is_empty() {
            return Err(LabError::Config("no command to run".into()));
        }
        let mut cmd = std::process::Command::new("ip");
        cmd.args(["netns", "exec", &ns]);
        match argv.split_first() {
            // `sft3 lab exec a -- sft3 status` from a build tree: the same binary.
            Some((prog, rest)) if prog == "sft3" && cmd::find_tool("sft3").is_none() => {
                cmd.arg(daemon::sft3_exe()?).args(rest);
            }
            _ => {
                cmd.args(argv);
            }
        }
        let dir = daemon::Servers::new(&self.cfg).node_dir(node);
        if matches!(node, Node::A | Node::B) && dir.is_dir() {
            // The server's directory on /run/sft3, in a mount namespace of the command's
            // own, so `sft3 status` finds that server's default control socket.
            daemon::bind_run_dir(&mut cmd, &dir)?;
        }
        cmd.status().map_err(|e| LabError::Spawn {
            cmd: format!("ip netns exec {ns} {}", argv.join(" ")),
            source: e,
        })
    }

    /// Runs `f` on a thread inside `node`'s namespace (to open sockets there).
    pub fn in_node<T, F>(&self, node: Node, f: F) -> Result<T, LabError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        cmd::in_netns(&self.ns(node), f)
    }
}
