//! Whole frames: Ethernet framing plus IPX, parsed and built in one step.

use super::addr::MacAddr;
use super::error::{room, Result, WireError};
use super::ethernet::{EthernetFrame, EthernetRepr, Framing};
use super::ipx::{Checksum, IpxPacket, IpxRepr, HEADER_LEN};

/// An Ethernet frame that carries IPX, viewed without copying.
#[derive(Debug, Clone)]
pub struct IpxFrame<'a> {
    /// The link-level header.
    pub eth: EthernetRepr,
    /// The IPX framing.
    pub framing: Framing,
    /// The IPX packet, trimmed to its length field.
    pub ipx: IpxPacket<&'a [u8]>,
}

impl<'a> IpxFrame<'a> {
    /// Parses a frame that must carry IPX. A frame of another protocol is
    /// [`WireError::WrongKind`]; lengths that disagree are [`WireError::BadLength`].
    pub fn parse(frame: &'a [u8]) -> Result<IpxFrame<'a>> {
        let eth = EthernetFrame::new_checked(frame)?;
        let framing = eth.framing().ok_or(WireError::WrongKind {
            expected: "IPX",
            reason: "the frame carries another protocol",
        })?;
        let repr = EthernetRepr::parse(&eth)?;
        let off = eth.header_len();
        let end = off + eth.payload().len();
        let ipx = IpxPacket::new_checked(&frame[off..end])?;
        if framing == Framing::Raw8023 && ipx.as_bytes().len() + 1 < end - off {
            // Raw 802.3 has no other length: an 802.3 length well past the IPX length means
            // the two disagree (one byte of slack for drivers that round up to even).
            return Err(WireError::BadLength {
                what: "IPX",
                claimed: ipx.length() as usize,
                reason: "shorter than the raw 802.3 length",
            });
        }
        Ok(IpxFrame {
            eth: repr,
            framing,
            ipx,
        })
    }

    /// The parsed IPX header.
    pub fn ipx_repr(&self) -> IpxRepr {
        // A checked packet always parses.
        IpxRepr::parse(&self.ipx).expect("checked IPX packet")
    }
}

/// Builds a complete IPX frame in `framing` into `buf`: link header, IPX header, payload,
/// checksum if asked for, padding to the Ethernet minimum. Returns the frame length.
///
/// Raw 802.3 cannot carry an IPX checksum (its `FF FF` is what identifies the framing), so
/// asking for one there is an error.
pub fn emit_ipx_frame(
    buf: &mut [u8],
    dst: MacAddr,
    src: MacAddr,
    framing: Framing,
    ipx: &IpxRepr,
    payload: &[u8],
) -> Result<usize> {
    if framing == Framing::Raw8023 && ipx.checksum == Checksum::Sum {
        return Err(WireError::BadField {
            field: "IPX checksum on raw 802.3",
            value: 0,
        });
    }
    let eth = EthernetRepr::ipx(dst, src, framing);
    let ipx_len = HEADER_LEN + payload.len();
    let total = eth.frame_len(ipx_len);
    room("IPX frame", buf.len(), total)?;
    let off = eth.emit(buf, ipx_len)?;
    ipx.emit_with_payload(&mut buf[off..off + ipx_len], payload)?;
    Ok(total)
}
