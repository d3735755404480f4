//! Probe frames, and what a received frame says about the segment.
//!
//! A probe is one broadcast IPX frame in the adapter's framing, sent from socket
//! [`PROBE_SOCKET`] on the adapter's network (0 = "this segment"):
//!
//! | kind | IPX type | destination | payload |
//! |---|---|---|---|
//! | RIP | 1 | `NET:ffffffffffff:0453` | RIP general request: op 1, net `ffffffff`, hops and ticks `ffff` |
//! | diagnostic | 4 | `NET:ffffffffffff:0456` | configuration request, no exclusions (`00`) |
//!
//! Routers (every NetWare server is one) answer the RIP request; every station with a
//! diagnostic responder (clients too) answers the diagnostic request. Replies come back to
//! [`PROBE_SOCKET`] on our node, but any RIP or SAP response or diagnostic reply from another
//! station counts as an answer: it proves the segment passes frames both ways.

use core::fmt;

use crate::wire::classify::{classify, Proto};
use crate::wire::diag::{DiagDirection, DiagRequestRepr};
use crate::wire::ipx::{Checksum, IpxRepr, PacketType};
use crate::wire::rip::{RipOp, RipPacket, RipRepr};
use crate::wire::sap::{SapOp, SapPacket};
use crate::wire::{emit_ipx_frame, IpxAddr, IpxFrame, MacAddr, Result, Socket};

use super::AdapterConfig;

/// The socket probes are sent from (a dynamic socket: "SH", sft3 health).
pub const PROBE_SOCKET: Socket = Socket(0x5348);

/// Room for the largest probe frame (64 bytes after Ethernet padding, with slack).
pub const PROBE_BUF_LEN: usize = 128;

/// What the probes ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    /// A RIP general request (answered by routers and servers). The default: one answer
    /// per router, and every segment with a NetWare server on it has one.
    Rip,
    /// An IPX diagnostic configuration request (answered by every station with a
    /// responder, clients too: many answers at once on a busy segment).
    Diag,
    /// RIP and diagnostic requests in turn.
    Alternate,
}

impl ProbeKind {
    /// The kind of probe number `n` (0, 1, 2, ...): RIP or diagnostic, never `Alternate`.
    pub fn nth(self, n: u64) -> ProbeKind {
        match self {
            ProbeKind::Alternate if n.is_multiple_of(2) => ProbeKind::Rip,
            ProbeKind::Alternate => ProbeKind::Diag,
            k => k,
        }
    }
}

/// Builds a probe of `kind` for the adapter `cfg` into `buf` (at least
/// [`PROBE_BUF_LEN`] bytes); returns the frame length. `Alternate` builds a RIP probe.
pub fn probe_frame(cfg: &AdapterConfig, kind: ProbeKind, buf: &mut [u8]) -> Result<usize> {
    let mut payload = [0u8; 16];
    let (len, packet_type, socket) = match kind {
        ProbeKind::Rip | ProbeKind::Alternate => (
            RipRepr::general_request().emit(&mut payload)?,
            PacketType::RIP,
            Socket::RIP,
        ),
        ProbeKind::Diag => (
            DiagRequestRepr::default().emit(&mut payload)?,
            PacketType::PEP,
            Socket::DIAGNOSTIC,
        ),
    };
    let ipx = IpxRepr {
        // Raw 802.3 cannot carry a checksum; nobody needs one on a broadcast probe.
        checksum: Checksum::None,
        hops: 0,
        packet_type,
        dst: IpxAddr::new(cfg.net, MacAddr::BROADCAST, socket),
        src: IpxAddr::new(cfg.net, cfg.mac, PROBE_SOCKET),
        payload_len: len,
    };
    emit_ipx_frame(
        buf,
        MacAddr::BROADCAST,
        cfg.mac,
        cfg.framing,
        &ipx,
        &payload[..len],
    )
}

/// What kind of frame another station sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StationKind {
    /// A RIP response (a router's answer or periodic broadcast).
    RipResponse,
    /// A RIP request.
    RipRequest,
    /// A SAP response (an answer or periodic broadcast).
    SapResponse,
    /// A SAP request.
    SapRequest,
    /// An IPX diagnostic reply.
    DiagReply,
    /// An IPX diagnostic request.
    DiagRequest,
    /// Any other IPX frame (NCP from a client, NetBIOS, a malformed RIP, ...).
    Other(Proto),
}

impl StationKind {
    /// True for the kinds that answer a probe (they prove the segment works both ways).
    pub fn answers_probe(self) -> bool {
        matches!(
            self,
            StationKind::RipResponse | StationKind::SapResponse | StationKind::DiagReply
        )
    }

    /// Classifies an IPX packet.
    pub fn of(ipx: &IpxRepr, payload: &[u8]) -> StationKind {
        let proto = classify(ipx.packet_type, ipx.src.socket, ipx.dst.socket);
        match proto {
            Proto::Rip => match RipPacket::new_checked(payload).map(|p| p.op()) {
                Ok(RipOp::Response) => StationKind::RipResponse,
                Ok(RipOp::Request) => StationKind::RipRequest,
                Err(_) => StationKind::Other(proto),
            },
            Proto::Sap => match SapPacket::new_checked(payload).map(|p| p.op()) {
                Ok(SapOp::GeneralResponse | SapOp::NearestResponse) => StationKind::SapResponse,
                Ok(_) => StationKind::SapRequest,
                Err(_) => StationKind::Other(proto),
            },
            Proto::Diag => match DiagDirection::guess(ipx.src.socket, ipx.dst.socket, payload) {
                Some(DiagDirection::Reply) => StationKind::DiagReply,
                Some(DiagDirection::Request) => StationKind::DiagRequest,
                None => StationKind::Other(proto),
            },
            p => StationKind::Other(p),
        }
    }
}

impl fmt::Display for StationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StationKind::RipResponse => f.write_str("RIP response"),
            StationKind::RipRequest => f.write_str("RIP request"),
            StationKind::SapResponse => f.write_str("SAP response"),
            StationKind::SapRequest => f.write_str("SAP request"),
            StationKind::DiagReply => f.write_str("diagnostic reply"),
            StationKind::DiagRequest => f.write_str("diagnostic request"),
            StationKind::Other(p) => write!(f, "{p} frame"),
        }
    }
}

/// Who sent a received IPX frame, as health sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Heard {
    /// One of our own adapters (a looped-back or bridged frame): not evidence of anything.
    Own,
    /// The peer server (its state packets are authenticated and fed separately; its other
    /// frames, e.g. its engine's RIP and SAP, say nothing about the rest of the network).
    Peer,
    /// Another station.
    Station {
        /// The Ethernet source.
        node: MacAddr,
        /// The IPX source address.
        src: IpxAddr,
        /// What it sent.
        kind: StationKind,
    },
}

/// Parses a received frame (which must be IPX) and says who sent it. `own` and `peer` are
/// the MACs of our adapters and the peer's. A frame that is not IPX, or malformed, is an
/// error and counts for nothing.
pub fn heard_from_frame(frame: &[u8], own: &[MacAddr], peer: &[MacAddr]) -> Result<Heard> {
    let f = IpxFrame::parse(frame)?;
    let node = f.eth.src;
    if own.contains(&node) {
        return Ok(Heard::Own);
    }
    if peer.contains(&node) {
        return Ok(Heard::Peer);
    }
    let ipx = IpxRepr::parse(&f.ipx)?;
    Ok(Heard::Station {
        node,
        src: ipx.src,
        kind: StationKind::of(&ipx, f.ipx.payload()),
    })
}
