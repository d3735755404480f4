//! Faults: MSL and LAN cuts, carrier loss, loss rates.
//!
//! | fault | how | seen as |
//! |---|---|---|
//! | MSL cut | nftables netdev egress `drop` on both MSL ends | silence, carrier stays up |
//! | LAN cut | the adapter's bridge port leaves the bridge (`nomaster`) | silence, carrier stays up |
//! | carrier down | the peer end of the veth set down | carrier loss (`NO-CARRIER`) |
//! | loss N% on IF | netdev egress `numgen random mod 100 < N drop` on IF's peer | random drops on receive |
//! | delay/dup/reorder on IF | egress `fwd` on IF's peer into a forwarder ([`super::forward`]) | late, doubled, out-of-order frames |
//!
//! The nftables chains are named `cut-DEV` and `loss-DEV` after the device DEV they hook (the
//! peer of the adapter that loses frames), in table `PREFIXfault`, family netdev, in DEV's
//! namespace. Egress, not ingress: `ETH_P_ALL` packet sockets see a frame before the ingress
//! hooks run, so an ingress drop would not hide it from the daemon. (A sender using
//! `PACKET_QDISC_BYPASS` skips egress hooks: the MSL's drops sit on the other server's
//! adapter, so they need the daemon's MSL socket not to set it. For the same reason an MSL
//! drop happens on the sender's own device, whose `send` then fails with `ENOBUFS`: the link
//! layer should count that as a lost frame.)

use std::fmt;

use super::cmd;
use super::status::{self, LabStatus};
use super::{Lab, LabError, Node};

/// A fault in force, as `status` reads it back from the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The MSL is cut (frames dropped both ways; carrier up).
    MslCut,
    /// LAN adapter `adapter` of `node` is off the bridge.
    LanCut {
        /// The node whose adapter is cut.
        node: Node,
        /// Its LAN adapter index.
        adapter: u8,
    },
    /// `iface` in `node` has lost carrier (its peer is down).
    CarrierDown {
        /// The node that sees the carrier loss.
        node: Node,
        /// The interface without carrier.
        iface: String,
    },
    /// Frames arriving on `iface` in `node` are dropped with this probability.
    Loss {
        /// The node.
        node: Node,
        /// The interface.
        iface: String,
        /// Percentage dropped.
        percent: u8,
    },
    /// Frames arriving on `iface` in `node` pass through a delay forwarder.
    Delay {
        /// The node.
        node: Node,
        /// The interface.
        iface: String,
    },
    /// Every frame arriving on `iface` in `node` is dropped (a one-sided cut).
    Drop {
        /// The node.
        node: Node,
        /// The interface.
        iface: String,
    },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::MslCut => write!(f, "msl cut"),
            Fault::LanCut { node, adapter } => write!(f, "lan cut {node} {adapter}"),
            Fault::CarrierDown { node, iface } => write!(f, "carrier down {node} {iface}"),
            Fault::Loss {
                node,
                iface,
                percent,
            } => write!(f, "loss {node} {iface} {percent}%"),
            Fault::Drop { node, iface } => write!(f, "drop {node} {iface}"),
            Fault::Delay { node, iface } => write!(f, "delay {node} {iface}"),
        }
    }
}

/// A change to the faults in force (`sft3 lab fault ...`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// Cut the MSL.
    MslCut,
    /// Restore the MSL.
    MslRestore,
    /// Take LAN adapter `adapter` of `node` off the bridge.
    LanCut {
        /// The node.
        node: Node,
        /// Its LAN adapter index.
        adapter: u8,
    },
    /// Put it back.
    LanRestore {
        /// The node.
        node: Node,
        /// Its LAN adapter index.
        adapter: u8,
    },
    /// Make `iface` of `node` lose carrier (sets its peer end down).
    CarrierDown {
        /// The node.
        node: Node,
        /// The interface (full name, or `lan0`, `msl`).
        iface: String,
    },
    /// Give it carrier back.
    CarrierUp {
        /// The node.
        node: Node,
        /// The interface (full name, or `lan0`, `msl`).
        iface: String,
    },
    /// Drop this percentage of frames arriving on `iface` of `node` (0 removes the fault).
    Loss {
        /// The node.
        node: Node,
        /// The interface (full name, or `lan0`, `msl`).
        iface: String,
        /// 0 to 100.
        percent: u8,
    },
    /// Pass frames arriving on `iface` of `node` through a forwarder that delays,
    /// duplicates and reorders them.
    Delay {
        /// The node.
        node: Node,
        /// The interface (full name, or `lan0`, `msl`).
        iface: String,
        /// What the forwarder does.
        spec: super::ForwardSpec,
    },
    /// Remove the forwarder from `iface` of `node`.
    DelayOff {
        /// The node.
        node: Node,
        /// The interface (full name, or `lan0`, `msl`).
        iface: String,
    },
    /// Remove every fault.
    Clear,
}

fn nft(ns: &str, args: &[&str], script: Option<&str>) -> Result<String, LabError> {
    let mut argv = vec!["ip", "netns", "exec", ns, "nft"];
    argv.extend_from_slice(args);
    cmd::run_input(&argv, script)
}

/// nftables tables in namespace `ns`, as `family name`.
pub(super) fn nft_tables(ns: &str) -> Result<Vec<String>, LabError> {
    Ok(nft(ns, &["list", "tables"], None)?
        .lines()
        .filter_map(|l| l.trim().strip_prefix("table "))
        .map(str::to_string)
        .collect())
}

/// Chains of the fault table in `ns`, with the loss percentage of `loss-` chains.
fn fault_chains(ns: &str, table: &str) -> Result<Vec<(String, Option<u8>)>, LabError> {
    let text = nft(ns, &["list", "table", "netdev", table], None)?;
    let mut out: Vec<(String, Option<u8>)> = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("chain ") {
            let name = rest.trim_end_matches('{').trim().to_string();
            out.push((name, None));
        } else if let Some(rest) = line.strip_prefix("numgen random mod 100 < ") {
            let pct = rest.split_whitespace().next().and_then(|p| p.parse().ok());
            if let Some(last) = out.last_mut() {
                last.1 = pct;
            }
        }
    }
    Ok(out)
}

/// Reads the faults in force from links and fault tables.
pub(super) fn faults_in_force(
    lab: &Lab,
    st: &LabStatus,
    have_nft: bool,
) -> Result<Vec<Fault>, LabError> {
    let cfg = &lab.cfg;
    let table = cfg.fault_table();
    let mut out = Vec::new();
    for ns in &st.namespaces {
        for l in &ns.links {
            if !cfg.is_lab_link(&l.name) || l.name == cfg.bridge() {
                continue;
            }
            if l.admin_up && !l.carrier {
                out.push(Fault::CarrierDown {
                    node: ns.node,
                    iface: l.name.clone(),
                });
            }
            if ns.node == Node::Lan && l.master.is_none() {
                let rest = &l.name[cfg.prefix.len()..];
                if let Some((owner, idx)) = rest.split_once("-lan") {
                    if let (Some(node), Ok(adapter)) = (Node::from_short(owner), idx.parse()) {
                        out.push(Fault::LanCut { node, adapter });
                    }
                }
            }
        }
        if have_nft
            && ns
                .nft_tables
                .iter()
                .any(|t| *t == format!("netdev {table}"))
        {
            for (chain, pct) in fault_chains(&ns.name, &table)? {
                // Chains are named after the device they hook; the fault is on its peer.
                let (kind, dev) = chain.split_once('-').unwrap_or(("", ""));
                let Some((node, iface)) = cfg.peer_of(ns.node, dev) else {
                    continue;
                };
                match kind {
                    "cut" => out.push(Fault::Drop { node, iface }),
                    "delay" => out.push(Fault::Delay { node, iface }),
                    "loss" => out.push(Fault::Loss {
                        node,
                        iface,
                        percent: pct.unwrap_or(100), // a plain `drop`
                    }),
                    _ => {}
                }
            }
        }
    }
    // Both MSL ends carry a cut chain: that is the MSL cut, reported once. One end alone is
    // a one-sided drop and stays reported as such, naming the side.
    let msl_drop = |f: &Fault, n: Node| matches!(f, Fault::Drop { node, iface } if *node == n && *iface == cfg.msl_if(n));
    if out.iter().any(|f| msl_drop(f, Node::A)) && out.iter().any(|f| msl_drop(f, Node::B)) {
        let at = out
            .iter()
            .position(|f| msl_drop(f, Node::A) || msl_drop(f, Node::B))
            .unwrap_or(0);
        out.retain(|f| !msl_drop(f, Node::A) && !msl_drop(f, Node::B));
        out.insert(at.min(out.len()), Fault::MslCut);
    }
    Ok(out)
}

impl Lab {
    pub(super) fn require_iface(&self, node: Node, iface: &str) -> Result<String, LabError> {
        let ns = self.ns(node);
        if !status::namespaces()?.contains(&ns) {
            return Err(LabError::Missing(format!("no lab namespace `{ns}`")));
        }
        if !status::links(Some(&ns))?.iter().any(|l| l.name == iface) {
            // Short names (`lan0`) expand to the node's own adapters; the LAN node's ports
            // carry their owner's name, so there only full names work.
            let hint = if node == Node::Lan {
                format!(
                    "; the lan node's ports need full interface names, e.g. `{}`",
                    self.cfg.lan_if(Node::A, 0)
                )
            } else {
                String::new()
            };
            return Err(LabError::Missing(format!(
                "no interface `{iface}` in `{ns}`{hint}"
            )));
        }
        Ok(ns)
    }

    /// The other end of `iface` (on `node`): its node, name and namespace, both checked.
    pub(super) fn peer(&self, node: Node, iface: &str) -> Result<(Node, String, String), LabError> {
        self.require_iface(node, iface)?;
        let (pnode, piface) = self.cfg.peer_of(node, iface).ok_or_else(|| {
            LabError::Config(format!(
                "`{iface}` in {node} is not one end of a lab veth pair"
            ))
        })?;
        let pns = self.require_iface(pnode, &piface)?;
        Ok((pnode, piface, pns))
    }

    /// Adds (or replaces) chain `KIND-PEER` holding `rule`, on the egress of `iface`'s peer
    /// end: frames die on the wire before reaching `iface`, so even the `ETH_P_ALL` packet
    /// sockets on `iface` (which see frames before any ingress hook) never get them.
    pub(super) fn set_chain(
        &self,
        node: Node,
        iface: &str,
        kind: &str,
        rule: &str,
    ) -> Result<(), LabError> {
        cmd::require_tool("nft", "nftables")?;
        let (_, dev, ns) = self.peer(node, iface)?;
        let t = self.cfg.fault_table();
        let script = format!(
            "add table netdev {t}\n\
             add chain netdev {t} {kind}-{dev} {{ type filter hook egress device \"{dev}\" priority 0; policy accept; }}\n\
             flush chain netdev {t} {kind}-{dev}\n\
             add rule netdev {t} {kind}-{dev} {rule}\n"
        );
        nft(&ns, &["-f", "-"], Some(&script)).map(|_| ())
    }

    /// Removes the chain [`set_chain`](Self::set_chain) made, if present, and the table when
    /// it is left empty.
    pub(super) fn del_chain(&self, node: Node, iface: &str, kind: &str) -> Result<(), LabError> {
        if cmd::find_tool("nft").is_none() {
            return Ok(()); // Without nft there can be no chain to remove.
        }
        let (_, dev, ns) = self.peer(node, iface)?;
        let t = self.cfg.fault_table();
        if !nft_tables(&ns)?.contains(&format!("netdev {t}")) {
            return Ok(());
        }
        let chain = format!("{kind}-{dev}");
        let chains = fault_chains(&ns, &t)?;
        if chains.iter().any(|(c, _)| *c == chain) {
            nft(&ns, &["delete", "chain", "netdev", &t, &chain], None)?;
        }
        if chains.iter().all(|(c, _)| *c == chain) {
            nft(&ns, &["delete", "table", "netdev", &t], None)?;
        }
        Ok(())
    }

    /// Sets `iface`'s peer end `state` (`up`/`down`).
    fn peer_state(&self, node: Node, iface: &str, state: &str) -> Result<(), LabError> {
        let iface = self.cfg.iface_name(node, iface);
        let (_, piface, pns) = self.peer(node, &iface)?;
        cmd::run(&["ip", "-n", &pns, "link", "set", "dev", &piface, state]).map(|_| ())
    }

    fn lan_port(&self, node: Node, adapter: u8, words: &[&str]) -> Result<(), LabError> {
        if node == Node::Lan {
            return Err(LabError::Config(
                "the LAN namespace has no adapters to cut: name a, b or cN".into(),
            ));
        }
        let port = self.cfg.lan_if(node, adapter);
        let lan = self.require_iface(Node::Lan, &port)?;
        let mut args = vec!["ip", "-n", &lan, "link", "set", "dev", &port];
        args.extend_from_slice(words);
        cmd::run(&args).map(|_| ())
    }

    /// Applies a fault change.
    pub fn fault(&self, action: &FaultAction) -> Result<(), LabError> {
        cmd::require_privileges()?;
        let cfg = &self.cfg;
        match action {
            FaultAction::MslCut => {
                cmd::require_tool("nft", "nftables")?;
                self.set_chain(Node::A, &cfg.msl_if(Node::A), "cut", "drop")?;
                if let Err(err) = self.set_chain(Node::B, &cfg.msl_if(Node::B), "cut", "drop") {
                    // Half a cut is a different fault: undo A's side rather than leave it.
                    let _ = self.del_chain(Node::A, &cfg.msl_if(Node::A), "cut");
                    return Err(err);
                }
                Ok(())
            }
            FaultAction::MslRestore => {
                for n in [Node::A, Node::B] {
                    self.del_chain(n, &cfg.msl_if(n), "cut")?;
                }
                Ok(())
            }
            FaultAction::LanCut { node, adapter } => self.lan_port(*node, *adapter, &["nomaster"]),
            FaultAction::LanRestore { node, adapter } => {
                self.lan_port(*node, *adapter, &["master", &cfg.bridge()])
            }
            FaultAction::CarrierDown { node, iface } => self.peer_state(*node, iface, "down"),
            FaultAction::CarrierUp { node, iface } => self.peer_state(*node, iface, "up"),
            FaultAction::Loss {
                node,
                iface,
                percent,
            } => {
                if *percent > 100 {
                    return Err(LabError::Config(format!("loss {percent}% is over 100")));
                }
                let iface = cfg.iface_name(*node, iface);
                if *percent == 0 {
                    self.del_chain(*node, &iface, "loss")
                } else {
                    // nft rejects `< 100` (numgen's range is 0-99): all means a plain drop.
                    let rule = if *percent == 100 {
                        "drop".to_string()
                    } else {
                        format!("numgen random mod 100 < {percent} drop")
                    };
                    self.set_chain(*node, &iface, "loss", &rule)
                }
            }
            FaultAction::Delay { node, iface, spec } => self.start_delay(*node, iface, *spec),
            FaultAction::DelayOff { node, iface } => {
                let iface = cfg.iface_name(*node, iface);
                let (_, dev, ns) = self.peer(*node, &iface)?;
                self.del_chain(*node, &iface, "delay")?;
                self.stop_delay(&ns, &dev)?;
                if let Some((d, _)) = cfg.detour_ifs(&dev) {
                    let _ = cmd::run(&["ip", "-n", &ns, "link", "del", "dev", &d]);
                }
                Ok(())
            }
            FaultAction::Clear => self.clear_faults(),
        }
    }

    /// Removes the fault tables, brings every lab link up and every bridge port back.
    fn clear_faults(&self) -> Result<(), LabError> {
        let cfg = &self.cfg;
        let have_nft = cmd::find_tool("nft").is_some();
        let table = format!("netdev {}", cfg.fault_table());
        self.stop_all_delays();
        for (ns, node) in status::namespaces_of(self)? {
            if have_nft && nft_tables(&ns)?.contains(&table) {
                nft(
                    &ns,
                    &["delete", "table", "netdev", &cfg.fault_table()],
                    None,
                )?;
            }
            let links = status::links(Some(&ns))?;
            let has_bridge = links.iter().any(|l| l.name == cfg.bridge());
            for l in links.iter().filter(|l| cfg.is_lab_link(&l.name)) {
                if cfg.is_detour_link(&l.name) {
                    // One end takes the pair; the other is then already gone.
                    let _ = cmd::run(&["ip", "-n", &ns, "link", "del", "dev", &l.name]);
                    continue;
                }
                let br = cfg.bridge();
                let mut args = vec!["ip", "-n", &ns, "link", "set", "dev", &l.name];
                if node == Node::Lan && has_bridge && l.name != br && l.master.is_none() {
                    args.extend(["master", br.as_str()]);
                }
                if !l.admin_up {
                    args.push("up");
                }
                if args.len() > 7 {
                    cmd::run(&args)?;
                }
            }
        }
        Ok(())
    }
}
