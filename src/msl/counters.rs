//! What an endpoint counted, for the status output and tests.

use core::time::Duration;

use crate::wire::WireError;

/// Frames dropped, by reason. None of them changed any state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropCounters {
    /// Not an MSL frame (another EtherType).
    pub not_msl: u64,
    /// Structurally malformed (truncated, bad lengths or fields).
    pub malformed: u64,
    /// CRC32C mismatch.
    pub bad_crc: u64,
    /// Authentication failed (forged, untagged with a key, tagged without one).
    pub bad_auth: u64,
    /// Another MSL frame version.
    pub wrong_version: u64,
    /// Frames of another session (old or unknown incarnations), or before the session.
    pub stale_incarnation: u64,
    /// Data beyond the receive window.
    pub out_of_window: u64,
    /// Data already received.
    pub duplicate: u64,
    /// An ack for frames never sent, or an unparsable SACK payload.
    pub bad_ack: u64,
    /// A handshake or reset payload that does not parse.
    pub bad_handshake: u64,
    /// Frames sent to another MAC.
    pub not_for_us: u64,
    /// Refusals from a peer whose own hello we found compatible (the checks are
    /// symmetric, so the refusal answered a damaged frame).
    pub contradictory_reset: u64,
    /// Frames that arrived after [`Msl::close`](crate::msl::Msl::close).
    pub closed: u64,
    /// Refusals from another incarnation than the current session's peer (delayed or
    /// replayed ones of an earlier process).
    pub foreign_reset: u64,
    /// New data frames refused while the class's receive window was closed because the
    /// layer above holds its [`rx_budget`](crate::msl::MslConfig::rx_budget); the sender
    /// sends them again once the window reopens.
    pub rx_blocked: u64,
    /// Ack and heartbeat frames whose control counter was seen before (replays, or
    /// duplicates made by the network): never proof that the peer lives.
    pub replayed: u64,
}

impl DropCounters {
    /// Every dropped frame.
    pub fn total(&self) -> u64 {
        self.not_msl
            + self.malformed
            + self.bad_crc
            + self.bad_auth
            + self.wrong_version
            + self.stale_incarnation
            + self.out_of_window
            + self.duplicate
            + self.bad_ack
            + self.bad_handshake
            + self.not_for_us
            + self.contradictory_reset
            + self.foreign_reset
            + self.closed
            + self.rx_blocked
            + self.replayed
    }

    pub(crate) fn count_wire(&mut self, e: &WireError) {
        match e {
            WireError::BadChecksum { .. } => self.bad_crc += 1,
            WireError::BadAuth { .. } => self.bad_auth += 1,
            WireError::UnsupportedVersion { .. } => self.wrong_version += 1,
            WireError::WrongKind { .. } => self.not_msl += 1,
            _ => self.malformed += 1,
        }
    }
}

/// An endpoint's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MslCounters {
    /// Frames handed out by `poll_transmit`.
    pub frames_sent: u64,
    /// Bytes in them (whole Ethernet frames).
    pub bytes_sent: u64,
    /// Frames that passed every check.
    pub frames_received: u64,
    /// Data frames sent, first transmissions.
    pub data_sent: u64,
    /// Data frames sent again.
    pub retransmits: u64,
    /// Frames found lost by SACK (before any timeout).
    pub fast_lost: u64,
    /// Retransmission timeouts that fired.
    pub timeouts: u64,
    /// Ack frames sent.
    pub acks_sent: u64,
    /// Heartbeats sent.
    pub heartbeats_sent: u64,
    /// Hellos and hello-acks sent.
    pub hellos_sent: u64,
    /// Resets sent.
    pub resets_sent: u64,
    /// Messages accepted by `send`.
    pub messages_queued: u64,
    /// Messages delivered upward.
    pub messages_delivered: u64,
    /// Messages handed back as lost (peer restart, session end).
    pub messages_lost: u64,
    /// Fragments that did not continue the message being reassembled (a peer bug).
    pub bad_fragments: u64,
    /// Sessions established.
    pub sessions: u64,
    /// Peer restarts seen.
    pub peer_restarts: u64,
    /// Dropped frames by reason.
    pub dropped: DropCounters,
    /// The longest interval between two consecutive valid frames of a session (from the
    /// handshake frame that opened it), on the caller's clock: how close the MSL came to
    /// falling silent. A silence that ended counts too.
    pub longest_rx_gap: Duration,
}
