//! Builds the [`StatusSnapshot`] the control socket and [`NodeHandle`](super::NodeHandle)
//! serve, from the control plane's state.

use std::time::Duration;

use crate::msl::driver::DriverStatus;
use crate::msl::{MslState, Priority};
use crate::node::status::{
    AdapterSnapshot, DecisionSnapshot, MslSnapshot, PeerSnapshot, StatusSnapshot,
};
use crate::wire::state::{AdapterFlags, StateFlags};

use super::plane::Plane;
use super::service::ServiceLog;

/// Who this server is (fixed for the process).
#[derive(Clone, Debug)]
pub(super) struct Identity {
    pub server_id: u64,
    pub name: String,
    pub incarnation: u64,
    /// LAN interface names, by adapter position.
    pub adapters: Vec<String>,
}

/// The snapshot at `now` (`msl_status`: the MSL driver's, which the plane does not hold).
pub(super) fn build(
    id: &Identity,
    plane: &Plane,
    msl_status: &DriverStatus,
    service: Option<ServiceLog>,
    now: Duration,
) -> StatusSnapshot {
    let mut s = StatusSnapshot::new(id.server_id, &id.name, id.incarnation);
    s.state = plane.role.state();
    match service {
        Some(l) => {
            s.serving = l.serving;
            s.advertising = l.advertising;
            s.tracking = l.tracking;
        }
        // Another service: what the role machine asked of it.
        None => {
            s.serving = plane.role.is_serving();
            s.advertising = s.serving;
            s.tracking = plane.role.flags().contains(StateFlags::TRACKING_CHANGES);
        }
    }
    s.generation = plane.role.history().first().copied().unwrap_or(0);
    s.peer = peer(plane);
    let health = plane.health.adapter_health(now);
    let monitors = plane.health.monitors();
    for (pos, name) in id.adapters.iter().enumerate() {
        let h = health.get(pos);
        let link = monitors.get(pos).and_then(|m| m.link());
        let path = u8::try_from(pos).ok().and_then(|i| plane.beacon.path(i));
        s.adapters.push(AdapterSnapshot {
            name: name.clone(),
            index: pos as u8,
            carrier: link.is_some_and(|l| l.carrier),
            oper: link.map_or("unknown".into(), |l| oper_name(l.oper).into()),
            score: h.map_or(0, |h| h.score),
            working: h.is_some_and(|h| h.flags.contains(AdapterFlags::WORKING)),
            peer_heard_ms_ago: path
                .and_then(|p| p.last_heard)
                .map(|t| now.saturating_sub(t).as_millis() as u64),
            peer_longest_gap_us: path
                .filter(|p| p.packets >= 2)
                .map(|p| p.longest_gap.as_micros() as u64),
        });
    }
    s.msl = msl(msl_status);
    s.last_decision = plane
        .last_decision
        .as_ref()
        .map(|(reason, at)| DecisionSnapshot {
            reason: reason.clone(),
            // Plane time to wall-clock time.
            at: std::time::SystemTime::now() - now.saturating_sub(*at),
        });
    s
}

fn peer(plane: &Plane) -> Option<PeerSnapshot> {
    if let Some(p) = &plane.peer {
        return Some(PeerSnapshot {
            id: p.handshake.server_id,
            name: name_text(&p.handshake.name),
            incarnation: p.incarnation,
        });
    }
    plane.beacon.peer_state().map(|st| PeerSnapshot {
        id: st.server_id,
        name: name_text(&st.name),
        incarnation: st.incarnation,
    })
}

/// A NUL-padded name as text (non-ASCII bytes replaced).
fn name_text(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn msl(st: &DriverStatus) -> MslSnapshot {
    let state = match st.state {
        MslState::Connecting => "connecting".to_string(),
        MslState::Up => "up".to_string(),
        MslState::Silent => "silent".to_string(),
        MslState::Refused(r) => match r.name() {
            Some(n) => format!("refused: {n}"),
            None => format!("refused: {}", r.0),
        },
        MslState::Closed => "closed".to_string(),
    };
    let c = &st.counters;
    MslSnapshot {
        state,
        srtt_us: st.srtt[Priority::Control.bits() as usize].map(|d| d.as_micros() as u64),
        retransmits: c.retransmits,
        frames_sent: c.frames_sent,
        frames_received: c.frames_received,
        dropped: c.dropped.total() + st.tx_dropped,
        longest_gap_us: c.longest_rx_gap.as_micros() as u64,
    }
}

fn oper_name(o: crate::link::OperState) -> &'static str {
    use crate::link::OperState::*;
    match o {
        Unknown => "unknown",
        NotPresent => "notpresent",
        Down => "down",
        LowerLayerDown => "lowerlayerdown",
        Testing => "testing",
        Dormant => "dormant",
        Up => "up",
    }
}
