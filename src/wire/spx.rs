//! The SPX header: IPX packet type 5, 12 bytes after the IPX header (14 in most SPX II packets).
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | connection control ([`SpxFlags`]) |
//! | 1 | 1 | datastream type ([`DatastreamType`]) |
//! | 2 | 2 | source connection id |
//! | 4 | 2 | destination connection id (`0xFFFF` while connecting) |
//! | 6 | 2 | sequence number |
//! | 8 | 2 | acknowledge number |
//! | 10 | 2 | allocation number |
//! | 12 | 2 | SPX II only: negotiation size (see below) |
//!
//! All fields are big-endian. SPX II marks its packets with connection-control bit `0x08` and
//! adds a two-byte negotiation-size field, except in the first packet of a session (the one
//! whose destination connection id is still `0xFFFF`). This module follows Wireshark's
//! `packet-ipx.c` (`dissect_spx`, `SPX_VII_PACKET = 0x08`, `SPX_NEG_SIZE = 0x04`,
//! `SPX2_HEADER_LEN = 14`), which agrees with the bit values in Novell's SPX II driver headers
//! (`SPX_SPXII 0x08`, `SPX_NEG 0x04`).

use core::fmt;

use super::error::{need, room, Result, WireError};

/// Size of the classic SPX header.
pub const HEADER_LEN: usize = 12;
/// Size of the SPX II header (classic header plus the negotiation size).
pub const SPX2_HEADER_LEN: usize = 14;
/// The destination connection id of a connection request: not yet assigned.
pub const CONN_ID_UNASSIGNED: u16 = 0xffff;

/// The connection-control byte: a set of flag bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SpxFlags(pub u8);

impl SpxFlags {
    /// No flags.
    pub const NONE: SpxFlags = SpxFlags(0);
    /// System packet: acknowledgement or keep-alive, carries no client data.
    pub const SYS: SpxFlags = SpxFlags(0x80);
    /// The sender wants an acknowledgement.
    pub const ACK: SpxFlags = SpxFlags(0x40);
    /// Attention: an out-of-band packet.
    pub const ATTN: SpxFlags = SpxFlags(0x20);
    /// End of message.
    pub const EOM: SpxFlags = SpxFlags(0x10);
    /// SPX II packet.
    pub const SPX2: SpxFlags = SpxFlags(0x08);
    /// SPX II: size negotiation.
    pub const NEG_SIZE: SpxFlags = SpxFlags(0x04);
    /// Reserved.
    pub const RESERVED: SpxFlags = SpxFlags(0x02);
    /// SPX II: extended header (reserved for future use).
    pub const EXT_HEADER: SpxFlags = SpxFlags(0x01);

    /// Every bit with its display name, most significant first.
    const NAMES: [(u8, &'static str); 8] = [
        (0x80, "SYS"),
        (0x40, "ACK"),
        (0x20, "ATTN"),
        (0x10, "EOM"),
        (0x08, "SPX2"),
        (0x04, "NEG"),
        (0x02, "RES"),
        (0x01, "EXT"),
    ];

    /// The raw byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// True when every bit of `other` is set.
    pub const fn contains(self, other: SpxFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl core::ops::BitOr for SpxFlags {
    type Output = SpxFlags;
    fn bitor(self, rhs: SpxFlags) -> SpxFlags {
        SpxFlags(self.0 | rhs.0)
    }
}

impl core::ops::BitOrAssign for SpxFlags {
    fn bitor_assign(&mut self, rhs: SpxFlags) {
        self.0 |= rhs.0;
    }
}

impl fmt::Display for SpxFlags {
    /// Set bits joined by `|`, most significant first (`SYS|ACK`); `-` when none is set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("-");
        }
        let mut first = true;
        for (bit, name) in SpxFlags::NAMES {
            if self.0 & bit != 0 {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for SpxFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpxFlags({:#04x} {})", self.0, self)
    }
}

/// The datastream type byte. `0xFE` and `0xFF` close a connection; other values belong to
/// the client.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct DatastreamType(pub u8);

impl DatastreamType {
    /// The sender is closing the connection.
    pub const END_OF_CONNECTION: DatastreamType = DatastreamType(0xfe);
    /// Acknowledges an end-of-connection.
    pub const END_OF_CONNECTION_ACK: DatastreamType = DatastreamType(0xff);

    /// `eoc` or `eoc-ack` for the two reserved values, `None` for client-defined ones.
    pub fn name(self) -> Option<&'static str> {
        match self.0 {
            0xfe => Some("eoc"),
            0xff => Some("eoc-ack"),
            _ => None,
        }
    }
}

impl fmt::Display for DatastreamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{:#04x}", self.0),
        }
    }
}

impl fmt::Debug for DatastreamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatastreamType({:#04x})", self.0)
    }
}

/// Whether a header with these flags and destination id carries the SPX II negotiation size.
fn has_neg_size(flags: SpxFlags, dst_conn: u16) -> bool {
    flags.contains(SpxFlags::SPX2) && dst_conn != CONN_ID_UNASSIGNED
}

/// A checked, zero-copy view of an SPX packet (the IPX payload of a type-5 packet).
#[derive(Debug, Clone)]
pub struct SpxPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> SpxPacket<T> {
    /// Checks the header is whole: 12 bytes, or 14 for an SPX II packet that carries the
    /// negotiation size.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        need("SPX header", b, HEADER_LEN)?;
        let p = SpxPacket { buffer };
        need("SPX II header", p.buffer.as_ref(), p.header_len())?;
        Ok(p)
    }

    /// Gives back the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u16_at(&self, off: usize) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[off], b[off + 1]])
    }

    /// Connection control flags.
    pub fn flags(&self) -> SpxFlags {
        SpxFlags(self.buffer.as_ref()[0])
    }

    /// Datastream type.
    pub fn datastream_type(&self) -> DatastreamType {
        DatastreamType(self.buffer.as_ref()[1])
    }

    /// Source connection id.
    pub fn src_conn(&self) -> u16 {
        self.u16_at(2)
    }

    /// Destination connection id.
    pub fn dst_conn(&self) -> u16 {
        self.u16_at(4)
    }

    /// Sequence number of this packet.
    pub fn seq(&self) -> u16 {
        self.u16_at(6)
    }

    /// Sequence number the sender expects next.
    pub fn ack(&self) -> u16 {
        self.u16_at(8)
    }

    /// Highest sequence number the sender can take (its receive window).
    pub fn alloc(&self) -> u16 {
        self.u16_at(10)
    }

    /// The SPX II negotiation size, when this header carries one.
    pub fn negotiation_size(&self) -> Option<u16> {
        if has_neg_size(self.flags(), self.dst_conn()) {
            Some(self.u16_at(12))
        } else {
            None
        }
    }

    /// Bytes of header: 12, or 14 with the SPX II negotiation size.
    pub fn header_len(&self) -> usize {
        if has_neg_size(self.flags(), self.dst_conn()) {
            SPX2_HEADER_LEN
        } else {
            HEADER_LEN
        }
    }

    /// The data after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

/// A parsed SPX header (the data after it is not part of the value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SpxRepr {
    /// Connection control.
    pub flags: SpxFlags,
    /// Datastream type.
    pub datastream_type: DatastreamType,
    /// Source connection id.
    pub src_conn: u16,
    /// Destination connection id ([`CONN_ID_UNASSIGNED`] in a connection request).
    pub dst_conn: u16,
    /// Sequence number.
    pub seq: u16,
    /// Acknowledge number.
    pub ack: u16,
    /// Allocation number.
    pub alloc: u16,
    /// SPX II negotiation size: present exactly when `flags` has [`SpxFlags::SPX2`] and
    /// `dst_conn` is not [`CONN_ID_UNASSIGNED`].
    pub negotiation_size: Option<u16>,
}

impl SpxRepr {
    /// Reads the header of a checked packet.
    pub fn parse<T: AsRef<[u8]>>(packet: &SpxPacket<T>) -> Result<SpxRepr> {
        Ok(SpxRepr {
            flags: packet.flags(),
            datastream_type: packet.datastream_type(),
            src_conn: packet.src_conn(),
            dst_conn: packet.dst_conn(),
            seq: packet.seq(),
            ack: packet.ack(),
            alloc: packet.alloc(),
            negotiation_size: packet.negotiation_size(),
        })
    }

    /// Bytes `emit` writes: 12, or 14 with a negotiation size.
    pub fn buffer_len(&self) -> usize {
        if self.negotiation_size.is_some() {
            SPX2_HEADER_LEN
        } else {
            HEADER_LEN
        }
    }

    /// Writes the header into `buf`; the caller writes the data after it. Returns the
    /// header length. A negotiation size that the flags and destination id do not call for
    /// (or a missing one they do call for) is [`WireError::BadField`], since the packet
    /// would not read back the same.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if self.negotiation_size.is_some() != has_neg_size(self.flags, self.dst_conn) {
            return Err(WireError::BadField {
                field: "SPX II negotiation size presence",
                value: self.flags.0 as u32,
            });
        }
        let len = self.buffer_len();
        room("SPX header", buf.len(), len)?;
        buf[0] = self.flags.0;
        buf[1] = self.datastream_type.0;
        buf[2..4].copy_from_slice(&self.src_conn.to_be_bytes());
        buf[4..6].copy_from_slice(&self.dst_conn.to_be_bytes());
        buf[6..8].copy_from_slice(&self.seq.to_be_bytes());
        buf[8..10].copy_from_slice(&self.ack.to_be_bytes());
        buf[10..12].copy_from_slice(&self.alloc.to_be_bytes());
        if let Some(n) = self.negotiation_size {
            buf[12..14].copy_from_slice(&n.to_be_bytes());
        }
        Ok(len)
    }
}
