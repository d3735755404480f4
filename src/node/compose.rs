//! One server's cores configured from its [`NodeConfig`]: what `node::start_with` builds,
//! and what a replay of a recorded capture builds to feed that server's composition the
//! same way (tests/role_replay.rs). One place, so the two cannot drift apart.

use crate::beacon::AdapterConfig as BeaconAdapter;
use crate::msl::MslConfig;
use crate::node::config::NodeConfig;
use crate::node::PlaneConfig;
use crate::role::{RoleConfig, RoleMachine};
use crate::wire::MacAddr;

impl NodeConfig {
    /// The role machine's configuration: server id, priority and the `[role]` timers.
    pub fn role_config(&self) -> RoleConfig {
        let mut r = RoleConfig::new(self.server.id, self.server.priority);
        r.startup_wait = self.role.startup_wait();
        r.stall_fence = self.role.stall_fence();
        r
    }

    /// The MSL core's configuration for process `incarnation` on the MSL adapter `mac`; the
    /// handshake announces `role`'s current role, flags and history.
    pub fn msl_config(&self, incarnation: u64, mac: MacAddr, role: &RoleMachine) -> MslConfig {
        let mut m = MslConfig::new(self.server.id, incarnation, mac);
        m.name = self.server.name_field();
        m.heartbeat_interval = self.msl.heartbeat();
        m.silent_after_missed = self.msl.silent_after;
        m.key = self.msl.key;
        m.priority = self.server.priority;
        m.role = role.role();
        m.flags = role.flags();
        m.history = role.history().iter().copied().collect();
        m.tracked_since = role.config().tracked_since;
        m
    }

    /// The control plane's configuration for process `incarnation`, its LAN adapters
    /// (`[[lan]]` in order) having the MACs `lan_macs`. `None` with more than 255 adapters.
    pub fn plane_config(&self, incarnation: u64, lan_macs: &[MacAddr]) -> Option<PlaneConfig> {
        let mut p = PlaneConfig::new(self.server.id, self.server.priority, incarnation);
        p.role = self.role_config();
        p.name = self.server.name.clone();
        p.key = self.msl.key;
        p.engine_net = self.engine.net;
        p.beacon_interval = self.beacon.interval();
        p.beacon_silent_after = self.beacon.silent_after;
        for (pos, (l, mac)) in self.lan.iter().zip(lan_macs).enumerate() {
            p.lans.push(BeaconAdapter {
                index: u8::try_from(pos).ok()?,
                mac: *mac,
                net: l.net,
                framing: l.framing,
                peer_mac: None,
            });
        }
        Some(p)
    }
}
