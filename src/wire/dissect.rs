//! One call from raw frame bytes to everything the wire layer can say about them.
//!
//! [`dissect`] finds the framing, the IPX header, the protocol ([`classify`]) and its parsed
//! form, or sft3's MSL frame on its own EtherType. Nothing is lost on bad input: the layers that
//! decoded are kept and the first error is recorded, so an inspection tool can show both.
//!
//! [`classify`]: super::classify::classify

use super::classify::{classify, Proto};
use super::diag::{DiagDirection, DiagReply, DiagRequest};
use super::error::WireError;
use super::ethernet::{Encap, EthernetFrame, EthernetRepr, Framing};
use super::frame::IpxFrame;
use super::ipx::IpxPacket;
use super::msl::{MslFrame, MslRepr, ETHERTYPE_MSL};
use super::ncp::{NcpPacket, NcpRepr};
use super::netbios::{netbios_kind, NbIpxPacket, NbIpxRepr, NetbiosKind, NmpiPacket, NmpiRepr};
use super::rip::RipRepr;
use super::sap::SapRepr;
use super::spx::{SpxPacket, SpxRepr};
use super::state::{AuthKind, StatePacket, StateRepr};

/// The parsed upper-layer content of a frame.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // kept inline: boxing would allocate on the parse path
pub enum Detail<'a> {
    /// A RIP request or response.
    Rip(RipRepr),
    /// A SAP request or response.
    Sap(SapRepr),
    /// An IPX diagnostics configuration request (a view: its list of up to 80 excluded
    /// nodes is read in place rather than copied).
    DiagRequest(DiagRequest<&'a [u8]>),
    /// An IPX diagnostics configuration reply (a view, for the same reason).
    DiagReply(DiagReply<&'a [u8]>),
    /// An SPX header and the data after it.
    Spx(SpxRepr, &'a [u8]),
    /// An NCP envelope.
    Ncp(NcpRepr),
    /// Novell NetBIOS over IPX.
    Netbios(NbIpxRepr),
    /// Microsoft NMPI / mailslot datagram over IPX (socket 0x0553).
    Nmpi(NmpiRepr),
    /// An sft3 server-state packet (the tag, if any, is not verified here: no key).
    State {
        /// The packet's fields.
        repr: StateRepr,
        /// Whether (and how) the packet is tagged.
        auth: AuthKind,
    },
    /// An sft3 MSL frame (CRC checked when untagged; a tag needs the key).
    Msl {
        /// The header.
        repr: MslRepr,
        /// True when the frame carries a keyed tag instead of a CRC.
        authenticated: bool,
        /// The payload.
        payload: &'a [u8],
    },
    /// Data of no known protocol.
    Data(&'a [u8]),
}

/// Everything decoded from one frame.
#[derive(Clone, Debug)]
pub struct Dissection<'a> {
    /// The link header, when at least that parsed.
    pub eth: Option<EthernetRepr>,
    /// Length of the link header (0 when it did not parse).
    pub link_len: usize,
    /// The IPX framing, for frames that carry IPX.
    pub framing: Option<Framing>,
    /// The IPX packet, when its header parsed.
    pub ipx: Option<IpxPacket<&'a [u8]>>,
    /// The protocol, when known (IPX classified, or MSL).
    pub proto: Option<Proto>,
    /// The parsed protocol content.
    pub detail: Option<Detail<'a>>,
    /// The first error met, if any.
    pub error: Option<WireError>,
}

impl<'a> Dissection<'a> {
    fn empty() -> Dissection<'a> {
        Dissection {
            eth: None,
            link_len: 0,
            framing: None,
            ipx: None,
            proto: None,
            detail: None,
            error: None,
        }
    }
}

/// Decodes a whole Ethernet frame. Never panics; never allocates.
pub fn dissect(frame: &[u8]) -> Dissection<'_> {
    let mut d = Dissection::empty();
    let eth = match EthernetFrame::new_checked(frame) {
        Ok(e) => e,
        Err(e) => {
            d.error = Some(e);
            return d;
        }
    };
    d.eth = EthernetRepr::parse(&eth).ok();
    d.link_len = eth.header_len();
    d.framing = eth.framing();
    if let Encap::EthernetII {
        ethertype: ETHERTYPE_MSL,
    } = eth.encap()
    {
        d.proto = Some(Proto::Msl);
        let start = eth.header_len();
        let end = start + eth.payload().len();
        match dissect_msl(&frame[start..end]) {
            Ok(detail) => d.detail = Some(detail),
            Err(e) => d.error = Some(e),
        }
        return d;
    }
    if d.framing.is_none() {
        return d;
    }
    let f = match IpxFrame::parse(frame) {
        Ok(f) => f,
        Err(e) => {
            d.error = Some(e);
            return d;
        }
    };
    let p = f.ipx;
    let proto = classify(p.packet_type(), p.src().socket, p.dst().socket);
    d.proto = Some(proto);
    match dissect_ipx(proto, &p) {
        Ok(detail) => d.detail = Some(detail),
        Err(e) => d.error = Some(e),
    }
    d.ipx = Some(p);
    d
}

/// Parses the payload of an IPX packet as `proto` (as [`classify`] chose it).
pub fn dissect_ipx<'a>(proto: Proto, p: &IpxPacket<&'a [u8]>) -> Result<Detail<'a>, WireError> {
    let len = p.length() as usize;
    let payload: &'a [u8] = &p.clone().into_inner()[super::ipx::HEADER_LEN..len];
    let (src, dst) = (p.src().socket, p.dst().socket);
    Ok(match proto {
        Proto::Rip => Detail::Rip(RipRepr::parse_bytes(payload)?),
        Proto::Sap => Detail::Sap(SapRepr::parse_bytes(payload)?),
        Proto::Diag => match DiagDirection::guess(src, dst, payload) {
            Some(DiagDirection::Request) => Detail::DiagRequest(DiagRequest::new_checked(payload)?),
            _ => Detail::DiagReply(DiagReply::new_checked(payload)?),
        },
        Proto::Spx => {
            let s = SpxPacket::new_checked(payload)?;
            let hlen = s.header_len();
            Detail::Spx(SpxRepr::parse(&s)?, &payload[hlen..])
        }
        Proto::Ncp => Detail::Ncp(NcpRepr::parse(&NcpPacket::new_checked(payload)?)?),
        Proto::Netbios => match netbios_kind(p.packet_type(), src, dst) {
            Some(NetbiosKind::Nmpi) => {
                Detail::Nmpi(NmpiRepr::parse(&NmpiPacket::new_checked(payload)?)?)
            }
            _ => Detail::Netbios(NbIpxRepr::parse(&NbIpxPacket::new_checked(
                payload,
                p.packet_type(),
            )?)?),
        },
        Proto::State => {
            let sp = StatePacket::new_checked(payload)?;
            Detail::State {
                repr: StateRepr::parse(&sp)?,
                auth: sp.auth_kind(),
            }
        }
        Proto::Msl | Proto::Data => Detail::Data(payload),
    })
}

/// Parses the bytes after an MSL frame's link header. An untagged frame's CRC32C is checked;
/// a tagged one cannot be verified without the key and is decoded as it stands.
pub fn dissect_msl(bytes: &[u8]) -> Result<Detail<'_>, WireError> {
    let f = MslFrame::new_checked(bytes)?;
    if !f.is_authenticated() {
        f.verify(None)?;
    }
    let repr = MslRepr::parse(&f)?;
    let hlen = bytes.len().min(f.header_len());
    let end = (hlen + repr.payload_len).min(bytes.len());
    Ok(Detail::Msl {
        repr,
        authenticated: f.is_authenticated(),
        payload: &bytes[hlen..end],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dissection_stays_small_enough_to_return_by_value() {
        // Every frame's result is moved out of `dissect`; large inline lists (diagnostics
        // replies can list 16 × 16 networks) are read through views instead.
        let size = core::mem::size_of::<Dissection<'static>>();
        assert!(size <= 640, "Dissection grew to {size} bytes");
    }
}
