//! [`Plane::assemble`]: a plane from one server's identity and adapters, with the
//! daemon's defaults (what `node::start_with` builds from a configuration file), for the
//! simulator and for replays of recorded captures into one server's composition.

use std::time::Duration;

use crate::beacon::{AdapterConfig, Beacon, BeaconConfig, BeaconConfigError};
use crate::health::{
    AdapterConfig as HealthAdapter, ComparatorConfig, FunctionalComparator, Health, HealthConfig,
};
use crate::node::Service;
use crate::role::{RoleConfig, RoleMachine};
use crate::wire::addr::Net;
use crate::wire::auth::AuthKey;

use super::Plane;

/// What [`Plane::assemble`] needs.
#[derive(Clone, Debug)]
pub struct PlaneConfig {
    /// The role machine's configuration (server id, priority, timers, history).
    pub role: RoleConfig,
    /// This process's incarnation (must grow from one start to the next).
    pub incarnation: u64,
    /// The server's name (state packets).
    pub name: String,
    /// The key of the state packets (`None`: untagged).
    pub key: Option<AuthKey>,
    /// The LAN adapters, by position (their `index` is the position).
    pub lans: Vec<AdapterConfig>,
    /// The engine's internal network, announced in state packets.
    pub engine_net: Net,
    /// State packet interval (default 5 ms).
    pub beacon_interval: Duration,
    /// Missed state packets before a path is silent (default 4).
    pub beacon_silent_after: u32,
}

impl PlaneConfig {
    /// Server `server_id` with `priority`, the daemon's default timers, no adapters yet.
    pub fn new(server_id: u64, priority: u8, incarnation: u64) -> PlaneConfig {
        let b = BeaconConfig::new(server_id, incarnation);
        PlaneConfig {
            role: RoleConfig::new(server_id, priority),
            incarnation,
            name: format!("SFT-{server_id}"),
            key: None,
            lans: Vec::new(),
            engine_net: Net(0),
            beacon_interval: b.interval,
            beacon_silent_after: b.silent_after,
        }
    }
}

impl Plane {
    /// A plane as the daemon composes it: beacon, health (peer freshness = the paths'
    /// silence threshold), comparator and role machine made at `now`. Then feed each
    /// adapter's link status ([`Plane::lan_link`]) and run a first [`Plane::tick`].
    pub fn assemble(
        cfg: &PlaneConfig,
        service: Box<dyn Service>,
        now: Duration,
    ) -> Result<Plane, BeaconConfigError> {
        let id = cfg.role.server_id;
        let mut bcfg = BeaconConfig::new(id, cfg.incarnation).with_name(&cfg.name);
        bcfg.key = cfg.key;
        bcfg.interval = cfg.beacon_interval;
        bcfg.silent_after = cfg.beacon_silent_after;
        bcfg.adapters = cfg.lans.clone();
        let hadapters: Vec<HealthAdapter> = cfg
            .lans
            .iter()
            .map(|a| HealthAdapter {
                index: a.index,
                mac: a.mac,
                framing: a.framing,
                net: a.net,
            })
            .collect();
        let beacon = Beacon::new(bcfg, now)?;
        let hcfg = HealthConfig {
            peer_fresh: cfg.beacon_interval.saturating_mul(cfg.beacon_silent_after),
            ..HealthConfig::default()
        };
        let health = Health::new(hcfg, &hadapters, now);
        let comparator = FunctionalComparator::new(ComparatorConfig::default());
        let role = RoleMachine::new(cfg.role.clone(), now);
        Ok(Plane::new(
            beacon,
            health,
            comparator,
            role,
            service,
            Duration::ZERO,
            cfg.role.priority,
            cfg.engine_net,
        ))
    }
}
