//! The IPX header (30 bytes), its checksum, and packet types.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | checksum (`0xFFFF` = none) |
//! | 2 | 2 | packet length, header included |
//! | 4 | 1 | transport control (hop count) |
//! | 5 | 1 | packet type |
//! | 6 | 12 | destination network, node, socket |
//! | 18 | 12 | source network, node, socket |

use core::fmt;

use super::addr::IpxAddr;
use super::error::{need, room, Result, WireError};

/// Size of the IPX header.
pub const HEADER_LEN: usize = 30;
/// The checksum value meaning "no checksum".
pub const NO_CHECKSUM: u16 = 0xffff;
/// Routers drop a packet whose transport control reaches this.
pub const MAX_HOPS: u8 = 16;

/// The IPX packet type byte.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PacketType(pub u8);

impl PacketType {
    /// Unknown / unspecified (used by SAP and much else).
    pub const UNKNOWN: PacketType = PacketType(0);
    /// Routing information.
    pub const RIP: PacketType = PacketType(1);
    /// Echo.
    pub const ECHO: PacketType = PacketType(2);
    /// Error.
    pub const ERROR: PacketType = PacketType(3);
    /// Packet exchange protocol (SAP and plain datagrams).
    pub const PEP: PacketType = PacketType(4);
    /// Sequenced packet exchange.
    pub const SPX: PacketType = PacketType(5);
    /// NetWare Core Protocol.
    pub const NCP: PacketType = PacketType(17);
    /// NetBIOS broadcast propagated across routers.
    pub const NETBIOS: PacketType = PacketType(20);

    /// A short lower-case name (`rip`, `pep`, `ncp`, ...), or `None` for unassigned values.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "unknown",
            1 => "rip",
            2 => "echo",
            3 => "error",
            4 => "pep",
            5 => "spx",
            17 => "ncp",
            20 => "netbios",
            _ => return None,
        })
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "type-{:#04x}", self.0),
        }
    }
}

impl fmt::Debug for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PacketType({:#04x})", self.0)
    }
}

/// The outcome of checking a packet's checksum field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumStatus {
    /// The field is `0xFFFF`: no checksum.
    None,
    /// The field matches the packet.
    Good,
    /// The field does not match; `computed` is what it should be.
    Bad {
        /// The checksum the packet should carry.
        computed: u16,
    },
}

/// Computes the IPX checksum over a whole packet (header included, `packet` trimmed to its
/// length field). The checksum field is skipped and the transport control byte counted as
/// zero, since routers change it in flight. The result is never `0xFFFF`.
pub fn checksum(packet: &[u8]) -> u16 {
    // One's-complement sum of big-endian words, as the Internet checksum.
    let mut sum: u64 = 0;
    if packet.len() >= 6 {
        sum += u16::from_be_bytes([packet[2], packet[3]]) as u64;
        sum += packet[5] as u64;
        let rest = &packet[6..];
        let mut chunks = rest.chunks_exact(8);
        for c in &mut chunks {
            sum += u16::from_be_bytes([c[0], c[1]]) as u64
                + u16::from_be_bytes([c[2], c[3]]) as u64
                + u16::from_be_bytes([c[4], c[5]]) as u64
                + u16::from_be_bytes([c[6], c[7]]) as u64;
        }
        let mut words = chunks.remainder().chunks_exact(2);
        for w in &mut words {
            sum += u16::from_be_bytes([w[0], w[1]]) as u64;
        }
        if let [last] = words.remainder() {
            sum += (*last as u64) << 8;
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // A zero sum stays zero so that 0xFFFF keeps meaning "none" (as NetWare and Linux do).
    if sum == 0 {
        0
    } else {
        !(sum as u16)
    }
}

/// A checked, zero-copy view of an IPX packet, trimmed to its length field.
#[derive(Debug, Clone)]
pub struct IpxPacket<T: AsRef<[u8]>> {
    buffer: T,
    len: usize,
}

impl<T: AsRef<[u8]>> IpxPacket<T> {
    /// Checks the header is whole and the length field lies between 30 and the bytes
    /// present (anything after it is link padding and is ignored).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        need("IPX header", b, HEADER_LEN)?;
        let len = u16::from_be_bytes([b[2], b[3]]) as usize;
        if len < HEADER_LEN {
            return Err(WireError::BadLength {
                what: "IPX",
                claimed: len,
                reason: "below the 30-byte header",
            });
        }
        if len > b.len() {
            return Err(WireError::BadLength {
                what: "IPX",
                claimed: len,
                reason: "longer than the bytes present",
            });
        }
        Ok(IpxPacket { buffer, len })
    }

    /// The underlying buffer (padding included).
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The packet bytes, header included, without padding.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.len]
    }

    /// The checksum field as carried.
    pub fn checksum(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The packet length field.
    pub fn length(&self) -> u16 {
        self.len as u16
    }

    /// Transport control: hops travelled so far.
    pub fn hops(&self) -> u8 {
        self.buffer.as_ref()[4]
    }

    /// Packet type.
    pub fn packet_type(&self) -> PacketType {
        PacketType(self.buffer.as_ref()[5])
    }

    /// Destination address.
    pub fn dst(&self) -> IpxAddr {
        IpxAddr::from_bytes(&self.buffer.as_ref()[6..18])
    }

    /// Source address.
    pub fn src(&self) -> IpxAddr {
        IpxAddr::from_bytes(&self.buffer.as_ref()[18..30])
    }

    /// The data after the header, up to the length field.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.len]
    }

    /// Verifies the checksum field against the packet.
    pub fn verify_checksum(&self) -> ChecksumStatus {
        let carried = self.checksum();
        if carried == NO_CHECKSUM {
            return ChecksumStatus::None;
        }
        let computed = checksum(self.as_bytes());
        if computed == carried {
            ChecksumStatus::Good
        } else {
            ChecksumStatus::Bad { computed }
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IpxPacket<T> {
    /// The data after the header, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let len = self.len;
        &mut self.buffer.as_mut()[HEADER_LEN..len]
    }

    /// Computes and stores the checksum over the current contents.
    pub fn fill_checksum(&mut self) {
        let c = checksum(self.as_bytes());
        self.buffer.as_mut()[0..2].copy_from_slice(&c.to_be_bytes());
    }
}

/// Whether a packet carries a checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Checksum {
    /// `0xFFFF`: no checksum (required on raw 802.3).
    #[default]
    None,
    /// A real IPX checksum, computed on emit.
    Sum,
}

/// A parsed IPX header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpxRepr {
    /// Checksum presence.
    pub checksum: Checksum,
    /// Transport control (hop count).
    pub hops: u8,
    /// Packet type.
    pub packet_type: PacketType,
    /// Destination.
    pub dst: IpxAddr,
    /// Source.
    pub src: IpxAddr,
    /// Bytes of data after the header.
    pub payload_len: usize,
}

impl IpxRepr {
    /// Reads the header of a checked packet. The checksum is not verified here: use
    /// [`IpxPacket::verify_checksum`] (a tool wants to show bad packets, not lose them).
    pub fn parse<T: AsRef<[u8]>>(packet: &IpxPacket<T>) -> Result<IpxRepr> {
        Ok(IpxRepr {
            checksum: if packet.checksum() == NO_CHECKSUM {
                Checksum::None
            } else {
                Checksum::Sum
            },
            hops: packet.hops(),
            packet_type: packet.packet_type(),
            dst: packet.dst(),
            src: packet.src(),
            payload_len: packet.len - HEADER_LEN,
        })
    }

    /// The value of the length field.
    pub fn total_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Writes the header into `buf`. With [`Checksum::Sum`] the checksum field is left zero:
    /// write the payload, then call [`IpxPacket::fill_checksum`] (or use
    /// [`emit_with_payload`](Self::emit_with_payload)).
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        room("IPX header", buf.len(), HEADER_LEN)?;
        let total = self.total_len();
        if total > u16::MAX as usize {
            return Err(WireError::BadLength {
                what: "IPX",
                claimed: total,
                reason: "exceeds the 16-bit length field",
            });
        }
        let c = match self.checksum {
            Checksum::None => NO_CHECKSUM,
            Checksum::Sum => 0,
        };
        buf[0..2].copy_from_slice(&c.to_be_bytes());
        buf[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        buf[4] = self.hops;
        buf[5] = self.packet_type.0;
        self.dst.write(&mut buf[6..18]);
        self.src.write(&mut buf[18..30]);
        Ok(())
    }

    /// Writes header and payload into `buf` (which must hold `30 + payload.len()` bytes),
    /// filling the checksum if one is asked for. `payload_len` is taken from `payload`.
    /// Returns the packet length.
    pub fn emit_with_payload(&self, buf: &mut [u8], payload: &[u8]) -> Result<usize> {
        let repr = IpxRepr {
            payload_len: payload.len(),
            ..*self
        };
        let total = repr.total_len();
        room("IPX packet", buf.len(), total)?;
        repr.emit(buf)?;
        buf[HEADER_LEN..total].copy_from_slice(payload);
        if repr.checksum == Checksum::Sum {
            let c = checksum(&buf[..total]);
            buf[0..2].copy_from_slice(&c.to_be_bytes());
        }
        Ok(total)
    }
}
