//! The node's own MSL control message, the adapter summary, and the role machine's view of
//! a state packet.
//!
//! | byte | field |
//! |---|---|
//! | 0 | [`SUMMARY_TAG`] (`0x80`; role messages use 1 to 6) |
//! | 1 | adapters |
//! | 2 | working adapters |
//! | 3..7 | total score (u32, big-endian) |

use crate::health::Summary;
use crate::role::PeerStatus;
use crate::wire::state::StateRepr;

/// First byte of the adapter summary. It lets a server whose every LAN adapter failed
/// still learn that its peer is more functional (scenario 4), since it no longer hears the
/// peer's state packets.
pub const SUMMARY_TAG: u8 = 0x80;

/// The summary message.
pub fn encode_summary(s: &Summary) -> [u8; 7] {
    let t = s.total_score.to_be_bytes();
    [SUMMARY_TAG, s.adapters, s.working, t[0], t[1], t[2], t[3]]
}

/// A summary message, or `None` for anything else.
pub fn decode_summary(b: &[u8]) -> Option<Summary> {
    match *b {
        [SUMMARY_TAG, adapters, working, t0, t1, t2, t3] => Some(Summary {
            adapters,
            working,
            total_score: u32::from_be_bytes([t0, t1, t2, t3]),
        }),
        _ => None,
    }
}

/// The role machine's view of a state packet.
pub(crate) fn peer_status(st: &StateRepr) -> PeerStatus {
    PeerStatus {
        server_id: st.server_id,
        incarnation: st.incarnation,
        role: st.role,
        flags: st.flags,
        generation: st.generation,
        priority: st.priority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::RoleMessage;

    #[test]
    fn summary_message_round_trips_and_never_reads_as_a_role_message() {
        let s = Summary {
            adapters: 3,
            working: 2,
            total_score: 0x0102_0304,
        };
        let m = encode_summary(&s);
        assert_eq!(decode_summary(&m), Some(s));
        assert_eq!(RoleMessage::decode(&m), None);
        for cut in 0..m.len() {
            assert_eq!(decode_summary(&m[..cut]), None);
        }
        for msg in [
            RoleMessage::HandoverRequest,
            RoleMessage::Released,
            RoleMessage::SurvivorChosen { server_id: 7 },
        ] {
            assert_eq!(decode_summary(&msg.encode()), None);
        }
    }
}
