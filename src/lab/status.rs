//! What exists: namespaces, links with carrier and operstate, faults in force; as text or
//! JSON.
//!
//! Read from `ip -o link show` (one line per link:
//! `IDX: NAME[@PEER]: <FLAGS> mtu N ... [master BR] state S ... link/ether MAC ...`).

use crate::json::json_str;
use std::fmt::Write as _;

use super::cmd;
use super::fault::{self, Fault};
use super::{Lab, LabError, Node};
use crate::link::OperState;
use crate::wire::MacAddr;

/// One interface as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkState {
    /// Interface name.
    pub name: String,
    /// Administratively up (`ip link set up`).
    pub admin_up: bool,
    /// Carrier present (`LOWER_UP`).
    pub carrier: bool,
    /// Operational state.
    pub oper: OperState,
    /// MTU.
    pub mtu: u32,
    /// MAC address (None for devices without one).
    pub mac: Option<MacAddr>,
    /// The bridge this interface is a port of.
    pub master: Option<String>,
}

/// Parses `ip -o link show` output.
pub fn parse_links(text: &str) -> Vec<LinkState> {
    text.lines().filter_map(parse_link).collect()
}

fn parse_link(line: &str) -> Option<LinkState> {
    let mut parts = line.splitn(3, ": ");
    parts.next()?;
    let name = parts.next()?.split('@').next()?.to_string();
    let rest = parts.next()?;
    let flags = rest.strip_prefix('<')?.split('>').next()?;
    let flags: Vec<&str> = flags.split(',').collect();
    let words: Vec<&str> = rest.split_whitespace().collect();
    let after = |key: &str| {
        words
            .iter()
            .position(|w| *w == key)
            .and_then(|i| words.get(i + 1))
            .copied()
    };
    Some(LinkState {
        name,
        admin_up: flags.contains(&"UP"),
        carrier: flags.contains(&"LOWER_UP"),
        oper: OperState::from_kernel(&after("state").unwrap_or("").to_ascii_lowercase()),
        mtu: after("mtu").and_then(|m| m.parse().ok()).unwrap_or(0),
        mac: after("link/ether").and_then(|m| m.parse().ok()),
        master: after("master").map(str::to_string),
    })
}

/// Links in namespace `ns` (`None`: the root namespace).
pub fn links(ns: Option<&str>) -> Result<Vec<LinkState>, LabError> {
    let out = match ns {
        Some(ns) => cmd::run(&["ip", "-n", ns, "-o", "link", "show"])?,
        None => cmd::run(&["ip", "-o", "link", "show"])?,
    };
    Ok(parse_links(&out))
}

/// Names of all named network namespaces (`ip netns list`).
pub fn namespaces() -> Result<Vec<String>, LabError> {
    let out = cmd::run(&["ip", "netns", "list"])?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect())
}

/// One lab namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NsStatus {
    /// The namespace's name.
    pub name: String,
    /// The node it is.
    pub node: Node,
    /// Its lab interfaces (loopback left out).
    pub links: Vec<LinkState>,
    /// nftables tables in it (`family name`).
    pub nft_tables: Vec<String>,
}

/// Everything that exists of a lab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabStatus {
    /// The lab's prefix.
    pub prefix: String,
    /// Lab namespaces that exist.
    pub namespaces: Vec<NsStatus>,
    /// Interfaces with lab names in the root namespace (should be none).
    pub root_links: Vec<String>,
    /// Faults in force.
    pub faults: Vec<Fault>,
}

impl LabStatus {
    /// True when nothing of the lab exists.
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty() && self.root_links.is_empty()
    }

    /// The namespace of `node`, if it exists.
    pub fn node(&self, node: Node) -> Option<&NsStatus> {
        self.namespaces.iter().find(|n| n.node == node)
    }

    /// Human-readable report.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        if self.is_empty() {
            let _ = writeln!(s, "no lab with prefix `{}`", self.prefix);
            return s;
        }
        for ns in &self.namespaces {
            let _ = writeln!(s, "{}", ns.name);
            for l in &ns.links {
                let _ = writeln!(
                    s,
                    "  {:<15} {:<4} carrier={:<3} oper={:<14} mtu={:<5} {}{}",
                    l.name,
                    if l.admin_up { "up" } else { "down" },
                    if l.carrier { "yes" } else { "no" },
                    format!("{:?}", l.oper),
                    l.mtu,
                    l.mac.map(|m| m.to_string()).unwrap_or_default(),
                    l.master
                        .as_ref()
                        .map(|m| format!(" master={m}"))
                        .unwrap_or_default(),
                );
            }
            for t in &ns.nft_tables {
                let _ = writeln!(s, "  nft table {t}");
            }
        }
        for l in &self.root_links {
            let _ = writeln!(s, "stray link in the root namespace: {l}");
        }
        if self.faults.is_empty() {
            let _ = writeln!(s, "faults: none");
        } else {
            let _ = writeln!(s, "faults:");
            for f in &self.faults {
                let _ = writeln!(s, "  {f}");
            }
        }
        s
    }

    /// JSON report (one object).
    pub fn to_json(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "{{\"prefix\":{},\"namespaces\":[",
            json_str(&self.prefix)
        );
        for (i, ns) in self.namespaces.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(
                s,
                "{{\"name\":{},\"node\":{},\"links\":[",
                json_str(&ns.name),
                json_str(&ns.node.short())
            );
            for (j, l) in ns.links.iter().enumerate() {
                if j > 0 {
                    s.push(',');
                }
                let _ = write!(
                    s,
                    "{{\"name\":{},\"admin_up\":{},\"carrier\":{},\"operstate\":{},\"mtu\":{},\"mac\":{},\"master\":{}}}",
                    json_str(&l.name),
                    l.admin_up,
                    l.carrier,
                    json_str(&format!("{:?}", l.oper).to_ascii_lowercase()),
                    l.mtu,
                    l.mac.map(|m| json_str(&m.to_string())).unwrap_or("null".into()),
                    l.master.as_deref().map(json_str).unwrap_or("null".into()),
                );
            }
            s.push_str("],\"nft_tables\":[");
            let tables: Vec<String> = ns.nft_tables.iter().map(|t| json_str(t)).collect();
            s.push_str(&tables.join(","));
            s.push_str("]}");
        }
        s.push_str("],\"root_links\":[");
        let roots: Vec<String> = self.root_links.iter().map(|t| json_str(t)).collect();
        s.push_str(&roots.join(","));
        s.push_str("],\"faults\":[");
        let faults: Vec<String> = self
            .faults
            .iter()
            .map(|f| json_str(&f.to_string()))
            .collect();
        s.push_str(&faults.join(","));
        s.push_str("]}");
        s
    }
}

impl Lab {
    /// What exists of this prefix's lab, whatever sizes built it.
    pub fn status(&self) -> Result<LabStatus, LabError> {
        cmd::require_privileges()?;
        let cfg = &self.cfg;
        let have_nft = cmd::find_tool("nft").is_some();
        let mut namespaces = Vec::new();
        let mut names = namespaces_of(self)?;
        names.sort_by_key(|(_, node)| *node);
        for (name, node) in names {
            let links = links(Some(&name))?
                .into_iter()
                .filter(|l| l.name != "lo")
                .collect();
            let nft_tables = if have_nft {
                fault::nft_tables(&name)?
            } else {
                Vec::new()
            };
            namespaces.push(NsStatus {
                name,
                node,
                links,
                nft_tables,
            });
        }
        let root_links = links(None)?
            .into_iter()
            .filter(|l| cfg.is_lab_link(&l.name))
            .map(|l| l.name)
            .collect();
        let mut st = LabStatus {
            prefix: cfg.prefix.clone(),
            namespaces,
            root_links,
            faults: Vec::new(),
        };
        st.faults = fault::faults_in_force(self, &st, have_nft)?;
        Ok(st)
    }
}

/// This prefix's lab namespaces that exist, with their nodes.
pub(super) fn namespaces_of(lab: &Lab) -> Result<Vec<(String, Node)>, LabError> {
    Ok(namespaces()?
        .into_iter()
        .filter_map(|n| lab.cfg.node_of_ns(&n).map(|node| (n, node)))
        .collect())
}
