//! `up` and `down`: converge on the topology, or remove every piece of it.
//!
//! Both compare against what the kernel has now, so they are idempotent and finish whatever an
//! interrupted run left: `up` creates what is missing, re-creates a veth pair that lost an end
//! and fixes settings that differ; `down` removes every namespace and link with a lab name.

use std::collections::HashMap;

use super::cmd;
use super::status::{self, LinkState};
use super::{DownReport, Lab, LabConfig, LabError, Node, UpReport};
use crate::link::OperState;
use crate::wire::MacAddr;

/// Turns IPv6 off in the thread's namespace so captures hold only what tests send.
fn quiet_ipv6(ns: &str) -> Result<(), LabError> {
    cmd::in_netns(ns, || {
        for scope in ["all", "default"] {
            let path = format!("/proc/sys/net/ipv6/conf/{scope}/disable_ipv6");
            // Missing when the kernel has no IPv6: nothing to quieten then.
            if std::fs::read_to_string(&path).is_ok_and(|v| v.trim() != "1") {
                let _ = std::fs::write(&path, "1");
            }
        }
    })
}

/// The `ip link set` words that bring `link` to the wanted settings (empty: nothing to do).
fn fixes(link: &LinkState, mtu: u32, mac: MacAddr, master: Option<&str>) -> Vec<String> {
    let mut w = Vec::new();
    if link.mtu != mtu {
        w.extend(["mtu".to_string(), mtu.to_string()]);
    }
    if link.mac != Some(mac) {
        w.extend(["address".to_string(), mac.to_string()]);
    }
    if let Some(br) = master {
        if link.master.as_deref() != Some(br) {
            w.extend(["master".to_string(), br.to_string()]);
        }
    }
    if !link.admin_up {
        w.push("up".into());
    }
    w
}

fn ip_ns(ns: &str, words: &[&str]) -> Result<String, LabError> {
    let mut args = vec!["ip", "-n", ns];
    args.extend_from_slice(words);
    cmd::run(&args)
}

impl Lab {
    /// Builds the lab, or finishes and repairs a partial one; a no-op when it is complete.
    /// Repair brings every lab link up and every bridge port back on the bridge, which clears
    /// LAN cuts and carrier faults; nftables faults (MSL cut, loss) stay until `fault clear`.
    pub fn up(&self) -> Result<UpReport, LabError> {
        cmd::require_privileges()?;
        cmd::require_tool("ip", "iproute2")?;
        let cfg: &LabConfig = &self.cfg;
        let mut rep = UpReport::default();

        let existing = status::namespaces()?;
        let mut state: HashMap<String, Vec<LinkState>> = HashMap::new();
        for node in cfg.nodes() {
            let ns = cfg.ns(node);
            if !existing.contains(&ns) {
                cmd::run(&["ip", "netns", "add", &ns])?;
                rep.namespaces_created += 1;
            }
            quiet_ipv6(&ns)?;
            state.insert(ns.clone(), status::links(Some(&ns))?);
        }

        let lan = cfg.ns(Node::Lan);
        let br = cfg.bridge();
        let br_mac = LabConfig::mac(Node::Lan, false, 0, true);
        let has = |state: &HashMap<String, Vec<LinkState>>, ns: &str, name: &str| {
            state
                .get(ns)
                .is_some_and(|v| v.iter().any(|l| l.name == name))
        };
        let mut created: Vec<(String, String)> = Vec::new();
        if !has(&state, &lan, &br) {
            let (mac, mtu) = (br_mac.to_string(), cfg.lan_mtu.to_string());
            ip_ns(
                &lan,
                &[
                    "link",
                    "add",
                    "name",
                    &br,
                    "address",
                    &mac,
                    "mtu",
                    &mtu,
                    "type",
                    "bridge",
                    "stp_state",
                    "0",
                    "forward_delay",
                    "0",
                ],
            )?;
            rep.links_created += 1;
            created.push((lan.clone(), br.clone()));
        }

        let specs = cfg.veths();
        for s in &specs {
            let (ens, ename, emac) = &s.end;
            let (pns, pname, pmac) = &s.peer;
            let (he, hp) = (has(&state, ens, ename), has(&state, pns, pname));
            if he && hp {
                continue;
            }
            // Half a pair (or an end whose peer went with a deleted namespace): start over.
            if he {
                ip_ns(ens, &["link", "del", "dev", ename])?;
            }
            if hp {
                ip_ns(pns, &["link", "del", "dev", pname])?;
            }
            let (emac, pmac, mtu) = (emac.to_string(), pmac.to_string(), s.mtu.to_string());
            ip_ns(
                ens,
                &[
                    "link", "add", "name", ename, "mtu", &mtu, "address", &emac, "type", "veth",
                    "peer", "name", pname, "mtu", &mtu, "address", &pmac, "netns", pns,
                ],
            )?;
            rep.links_created += 1;
            created.push((ens.clone(), ename.clone()));
            created.push((pns.clone(), pname.clone()));
        }
        if !created.is_empty() {
            for (ns, links) in state.iter_mut() {
                if created.iter().any(|(n, _)| n == ns) {
                    *links = status::links(Some(ns))?;
                }
            }
        }

        // Settings: bridge first so ports join a bridge that is up.
        let mut wanted: Vec<(String, String, u32, MacAddr, Option<String>)> =
            vec![(lan.clone(), br.clone(), cfg.lan_mtu, br_mac, None)];
        for s in specs {
            wanted.push((s.end.0, s.end.1, s.mtu, s.end.2, None));
            wanted.push((s.peer.0, s.peer.1, s.mtu, s.peer.2, s.peer_master));
        }
        for (ns, name, mtu, mac, master) in wanted {
            let link = state
                .get(&ns)
                .and_then(|v| v.iter().find(|l| l.name == name))
                .ok_or_else(|| LabError::Missing(format!("`{name}` did not appear in `{ns}`")))?;
            let words = fixes(link, mtu, mac, master.as_deref());
            if words.is_empty() {
                continue;
            }
            let mut args = vec!["link", "set", "dev", name.as_str()];
            args.extend(words.iter().map(String::as_str));
            ip_ns(&ns, &args)?;
            if !created.iter().any(|(n, l)| *n == ns && *l == name) {
                rep.links_fixed += 1;
            }
        }
        if !rep.is_noop() {
            self.settle()?;
        }
        Ok(rep)
    }

    /// Waits (up to 3 s) until every lab link reports operstate up: the kernel's link watch
    /// updates it up to a second after carrier appears, and callers expect a ready lab.
    fn settle(&self) -> Result<(), LabError> {
        let t0 = std::time::Instant::now();
        loop {
            let mut ready = true;
            for node in self.cfg.nodes() {
                let links = status::links(Some(&self.cfg.ns(node)))?;
                ready &= links
                    .iter()
                    .filter(|l| self.cfg.is_lab_link(&l.name))
                    .all(|l| l.carrier && l.oper == OperState::Up);
            }
            if ready || t0.elapsed() > std::time::Duration::from_secs(3) {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Removes every namespace and link of this prefix's lab, whatever sizes built it and
    /// however far `up` got. Deleting a namespace takes its links and nftables tables with it.
    pub fn down(&self) -> Result<DownReport, LabError> {
        cmd::require_privileges()?;
        cmd::require_tool("ip", "iproute2")?;
        let cfg = &self.cfg;
        let mut rep = DownReport::default();
        // Daemons first: they would keep the namespaces' links busy, and outlive them.
        let servers = super::daemon::Servers::new(cfg);
        servers.stop();
        let _ = std::fs::remove_dir_all(servers.dir());
        self.stop_all_delays();
        for (ns, _) in status::namespaces_of(self)? {
            // Links first: a process still inside the namespace would keep them alive.
            if let Ok(links) = status::links(Some(&ns)) {
                for l in links.iter().filter(|l| cfg.is_lab_link(&l.name)) {
                    // Deleting one end of a pair already took the other: ignore "not found".
                    let _ = ip_ns(&ns, &["link", "del", "dev", &l.name]);
                }
            }
            if let Err(e) = cmd::run(&["ip", "netns", "del", &ns]) {
                // Someone else removed it meanwhile: fine.
                if status::namespaces()?.contains(&ns) {
                    return Err(e);
                }
            }
            rep.namespaces.push(ns);
        }
        for l in status::links(None)?
            .into_iter()
            .filter(|l| cfg.is_lab_link(&l.name))
        {
            if let Err(e) = cmd::run(&["ip", "link", "del", "dev", &l.name]) {
                if status::links(None)?.iter().any(|x| x.name == l.name) {
                    return Err(e);
                }
            }
            rep.root_links.push(l.name);
        }
        Ok(rep)
    }
}
