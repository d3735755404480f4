//! The two-server world the beacon tests share (included with `#[path]` by
//! tests/beacon.rs and tests/beacon_faults.rs): servers 1 and 2, two LAN adapters each, one
//! simulated segment per adapter, driven on virtual time.
#![allow(dead_code)]

use std::time::Duration;

use sft3::beacon::{AdapterConfig, Beacon, BeaconConfig, BeaconEvent, MAX_FRAME_LEN};
use sft3::link::sim::{Faults, MediumId, SimAdapter, SimNet};
use sft3::link::Link;
use sft3::wire::state::AuthKey;
use sft3::wire::Net;

pub const MS: Duration = Duration::from_millis(1);

/// One server: its beacon, its adapters (index i is `links[i]`), what it saw and sent.
pub struct Node {
    pub beacon: Beacon,
    pub links: Vec<SimAdapter>,
    /// (virtual time, event).
    pub events: Vec<(Duration, BeaconEvent)>,
    /// (virtual time, adapter, frame).
    pub sent: Vec<(Duration, u8, Vec<u8>)>,
}

pub struct World {
    pub net: SimNet,
    pub nodes: Vec<Node>,
    pub segments: Vec<MediumId>,
}

pub fn key(n: u8) -> AuthKey {
    [n; 32]
}

pub fn config(
    id: u64,
    incarnation: u64,
    links: &[SimAdapter],
    key: Option<AuthKey>,
) -> BeaconConfig {
    let mut c = BeaconConfig::new(id, incarnation).with_name(&format!("SFT-{id}"));
    c.key = key;
    for (i, l) in links.iter().enumerate() {
        let mut a = AdapterConfig::new(i as u8, l.info().mac);
        a.net = Net(0x1000 + i as u32);
        c = c.with_adapter(a);
    }
    c
}

impl World {
    /// Servers 1 and 2 (incarnation 100), adapters `s{id}-lan{i}`, segment i joins the i-th
    /// adapters; 100 µs delay on every segment plus `faults`. `tweak` edits each config.
    pub fn new(
        seed: u64,
        faults: Faults,
        tweak: impl Fn(usize, BeaconConfig) -> BeaconConfig,
    ) -> World {
        let net = SimNet::new(seed);
        net.record_trace(true);
        let links: Vec<Vec<SimAdapter>> = (1..=2)
            .map(|id| {
                (0..2)
                    .map(|i| net.add_adapter(&format!("s{id}-lan{i}")))
                    .collect()
            })
            .collect();
        let segments: Vec<MediumId> = (0..2)
            .map(|i| {
                let s = net.segment(&[links[0][i].id(), links[1][i].id()]).unwrap();
                net.set_medium_faults(
                    s,
                    Faults {
                        delay: Duration::from_micros(100),
                        ..faults
                    },
                );
                s
            })
            .collect();
        let nodes = links
            .into_iter()
            .enumerate()
            .map(|(n, links)| {
                let cfg = tweak(n, config(n as u64 + 1, 100, &links, None));
                Node {
                    beacon: Beacon::new(cfg, Duration::ZERO).unwrap(),
                    links,
                    events: Vec::new(),
                    sent: Vec::new(),
                }
            })
            .collect();
        World {
            net,
            nodes,
            segments,
        }
    }

    /// Runs one node at `now`: receive everything, timers, transmit everything due.
    pub fn run_node(&mut self, n: usize, now: Duration) {
        let node = &mut self.nodes[n];
        let mut buf = [0u8; 2048];
        for (i, l) in node.links.iter_mut().enumerate() {
            while let Some(m) = l.recv(&mut buf).unwrap() {
                node.beacon.handle_frame(now, i as u8, &buf[..m.len]);
            }
        }
        node.beacon.handle_timeout(now);
        let mut out = [0u8; MAX_FRAME_LEN];
        while let Some((a, len)) = node.beacon.poll_transmit(now, &mut out) {
            node.links[a as usize].send(&out[..len]).unwrap();
            node.sent.push((now, a, out[..len].to_vec()));
        }
        while let Some(e) = node.beacon.poll_event() {
            node.events.push((now, e));
        }
    }

    /// Runs everything until virtual time `t`.
    pub fn run_until(&mut self, t: Duration) {
        loop {
            let now = self.net.now();
            for n in 0..self.nodes.len() {
                self.run_node(n, now);
            }
            let next = self
                .nodes
                .iter()
                .filter_map(|n| n.beacon.poll_timeout())
                .chain(self.net.next_event_time())
                .min()
                .unwrap_or(t);
            if now >= t && next > now {
                return;
            }
            self.net.advance_to(next.min(t).max(now));
        }
    }

    /// Replaces node `n`'s beacon with a fresh one (a process restart).
    pub fn restart(&mut self, n: usize, incarnation: u64) {
        let links = &self.nodes[n].links;
        let cfg = config(n as u64 + 1, incarnation, links, None);
        self.nodes[n].beacon = Beacon::new(cfg, self.net.now()).unwrap();
    }

    pub fn events(&self, n: usize) -> Vec<(Duration, BeaconEvent)> {
        self.nodes[n].events.clone()
    }

    /// Cuts (or restores) segment `i` both ways between the two servers.
    pub fn cut(&self, i: usize, on: bool) {
        let (a, b) = (self.nodes[0].links[i].id(), self.nodes[1].links[i].id());
        if on {
            self.net.cut_both(a, b);
        } else {
            self.net.restore_both(a, b);
        }
    }
}

pub fn path_events(ev: &[(Duration, BeaconEvent)]) -> Vec<(Duration, BeaconEvent)> {
    ev.iter()
        .filter(|(_, e)| {
            matches!(
                e,
                BeaconEvent::PathUp { .. } | BeaconEvent::PathSilent { .. }
            )
        })
        .cloned()
        .collect()
}
