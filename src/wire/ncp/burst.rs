//! NCP packet burst (type `0x7777`): the 36-byte header, the missing-fragment list of system
//! packets, and the burst data of the others.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | type `0x7777` |
//! | 2 | 1 | flags ([`BurstFlags`]) |
//! | 3 | 1 | stream type |
//! | 4 | 4 | source connection id |
//! | 8 | 4 | destination connection id |
//! | 12 | 4 | packet sequence number |
//! | 16 | 4 | send delay (units of 100 µs) |
//! | 20 | 2 | burst sequence number |
//! | 22 | 2 | acknowledge sequence number |
//! | 24 | 4 | total burst length |
//! | 28 | 4 | burst offset (of this packet's data) |
//! | 32 | 2 | burst length (data bytes in this packet) |
//! | 34 | 2 | missing-fragment list count |
//! | 36 | .. | system packets: the missing fragments (offset u32, length u16 each); others: data |
//!
//! All fields are big-endian. Source: Wireshark `packet-ncp.c`, `dissect_ncp_common`
//! (`commhdr + 2` .. `+ 34`, flag bits `ABT 0x04 BSY 0x08 EOB 0x10 LST 0x40 SYS 0x80`); a
//! hand-built packet decodes with the same values in `tshark` 4.0.

use core::fmt;

use super::{be16, be32, NcpType};
use crate::wire::error::{need, room, Result, WireError};

/// Size of a packet-burst header.
pub const BURST_HEADER_LEN: usize = 36;

/// Flags of a packet-burst header.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BurstFlags(pub u8);

impl BurstFlags {
    /// System packet (acknowledgement or missing-fragment request).
    pub const SYS: BurstFlags = BurstFlags(0x80);
    /// The packet carries a missing-fragment list.
    pub const LST: BurstFlags = BurstFlags(0x40);
    /// End of burst.
    pub const EOB: BurstFlags = BurstFlags(0x10);
    /// Server busy.
    pub const BSY: BurstFlags = BurstFlags(0x08);
    /// Abort the burst.
    pub const ABT: BurstFlags = BurstFlags(0x04);

    /// True when every bit of `other` is set.
    pub const fn contains(self, other: BurstFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl fmt::Display for BurstFlags {
    /// Known bits joined by `|` (`SYS|EOB`), unknown ones as hex, `-` when none is set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(u8, &str); 5] = [
            (0x80, "SYS"),
            (0x40, "LST"),
            (0x10, "EOB"),
            (0x08, "BSY"),
            (0x04, "ABT"),
        ];
        if self.0 == 0 {
            return f.write_str("-");
        }
        let mut sep = "";
        for (bit, name) in NAMES {
            if self.0 & bit != 0 {
                write!(f, "{sep}{name}")?;
                sep = "|";
            }
        }
        let rest = self.0 & 0x23;
        if rest != 0 {
            write!(f, "{sep}{rest:#04x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for BurstFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BurstFlags({:#04x} {})", self.0, self)
    }
}

/// One entry of a burst system packet's missing-fragment list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MissingFragment {
    /// Offset of the missing data within the burst.
    pub offset: u32,
    /// Bytes missing.
    pub len: u16,
}

impl MissingFragment {
    /// Size on the wire.
    pub const LEN: usize = 6;

    /// Writes the entry into `buf`; returns 6.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        room("NCP missing fragment", buf.len(), Self::LEN)?;
        buf[0..4].copy_from_slice(&self.offset.to_be_bytes());
        buf[4..6].copy_from_slice(&self.len.to_be_bytes());
        Ok(Self::LEN)
    }
}

/// A checked, zero-copy view of a packet-burst packet.
#[derive(Debug, Clone)]
pub struct BurstPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> BurstPacket<T> {
    /// Checks the type is `0x7777`, the 36-byte header is whole, a system packet holds its
    /// missing-fragment list and another packet holds the data its burst length claims.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        need("NCP burst header", b, BURST_HEADER_LEN)?;
        let t = be16(b, 0);
        if t != NcpType::BURST.0 {
            return Err(WireError::WrongKind {
                expected: "NCP packet burst",
                reason: "the NCP type is not 0x7777",
            });
        }
        let burst_len = be16(b, 32) as usize;
        if BurstFlags(b[2]).contains(BurstFlags::SYS) {
            let list = be16(b, 34) as usize * MissingFragment::LEN;
            need("NCP burst fragment list", b, BURST_HEADER_LEN + list)?;
        } else if burst_len > b.len() - BURST_HEADER_LEN {
            return Err(WireError::BadLength {
                what: "NCP burst",
                claimed: burst_len,
                reason: "longer than the bytes present",
            });
        }
        Ok(BurstPacket { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Flags.
    pub fn flags(&self) -> BurstFlags {
        BurstFlags(self.b()[2])
    }

    /// Stream type.
    pub fn stream_type(&self) -> u8 {
        self.b()[3]
    }

    /// Source connection id.
    pub fn src_conn(&self) -> u32 {
        be32(self.b(), 4)
    }

    /// Destination connection id.
    pub fn dst_conn(&self) -> u32 {
        be32(self.b(), 8)
    }

    /// Packet sequence number.
    pub fn packet_seq(&self) -> u32 {
        be32(self.b(), 12)
    }

    /// Delay between packets, in units of 100 µs.
    pub fn send_delay(&self) -> u32 {
        be32(self.b(), 16)
    }

    /// Burst sequence number.
    pub fn burst_seq(&self) -> u16 {
        be16(self.b(), 20)
    }

    /// Acknowledge sequence number.
    pub fn ack_seq(&self) -> u16 {
        be16(self.b(), 22)
    }

    /// Total length of the burst.
    pub fn total_len(&self) -> u32 {
        be32(self.b(), 24)
    }

    /// Offset of this packet's data within the burst.
    pub fn burst_offset(&self) -> u32 {
        be32(self.b(), 28)
    }

    /// Data bytes in this packet.
    pub fn burst_len(&self) -> u16 {
        be16(self.b(), 32)
    }

    /// Entries in the missing-fragment list (system packets).
    pub fn fragment_count(&self) -> u16 {
        be16(self.b(), 34)
    }

    /// The missing fragments a system packet lists (none for other packets).
    pub fn missing_fragments(&self) -> impl Iterator<Item = MissingFragment> + '_ {
        let n = if self.flags().contains(BurstFlags::SYS) {
            self.fragment_count() as usize
        } else {
            0
        };
        self.b()[BURST_HEADER_LEN..]
            .chunks_exact(MissingFragment::LEN)
            .take(n)
            .map(|c| MissingFragment {
                offset: be32(c, 0),
                len: be16(c, 4),
            })
    }

    /// The burst data of a non-system packet (`burst_len` bytes); empty for system packets.
    pub fn data(&self) -> &[u8] {
        if self.flags().contains(BurstFlags::SYS) {
            return &[];
        }
        let end = BURST_HEADER_LEN + self.burst_len() as usize;
        &self.b()[BURST_HEADER_LEN..end]
    }
}

/// A parsed packet-burst header (the fragment list or data after it is not part of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BurstRepr {
    /// Flags.
    pub flags: BurstFlags,
    /// Stream type.
    pub stream_type: u8,
    /// Source connection id.
    pub src_conn: u32,
    /// Destination connection id.
    pub dst_conn: u32,
    /// Packet sequence number.
    pub packet_seq: u32,
    /// Delay between packets, in units of 100 µs.
    pub send_delay: u32,
    /// Burst sequence number.
    pub burst_seq: u16,
    /// Acknowledge sequence number.
    pub ack_seq: u16,
    /// Total burst length.
    pub total_len: u32,
    /// Offset of this packet's data in the burst.
    pub burst_offset: u32,
    /// Data bytes in this packet.
    pub burst_len: u16,
    /// Missing-fragment list entries (system packets).
    pub fragment_count: u16,
}

impl BurstRepr {
    /// Reads a checked burst header.
    pub fn parse<T: AsRef<[u8]>>(p: &BurstPacket<T>) -> Result<BurstRepr> {
        Ok(BurstRepr {
            flags: p.flags(),
            stream_type: p.stream_type(),
            src_conn: p.src_conn(),
            dst_conn: p.dst_conn(),
            packet_seq: p.packet_seq(),
            send_delay: p.send_delay(),
            burst_seq: p.burst_seq(),
            ack_seq: p.ack_seq(),
            total_len: p.total_len(),
            burst_offset: p.burst_offset(),
            burst_len: p.burst_len(),
            fragment_count: p.fragment_count(),
        })
    }

    /// Writes the 36-byte header (type included); the caller writes the fragment list
    /// ([`MissingFragment::emit`]) or the data after it. Returns 36.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        room("NCP burst header", buf.len(), BURST_HEADER_LEN)?;
        buf[0..2].copy_from_slice(&NcpType::BURST.0.to_be_bytes());
        buf[2] = self.flags.0;
        buf[3] = self.stream_type;
        buf[4..8].copy_from_slice(&self.src_conn.to_be_bytes());
        buf[8..12].copy_from_slice(&self.dst_conn.to_be_bytes());
        buf[12..16].copy_from_slice(&self.packet_seq.to_be_bytes());
        buf[16..20].copy_from_slice(&self.send_delay.to_be_bytes());
        buf[20..22].copy_from_slice(&self.burst_seq.to_be_bytes());
        buf[22..24].copy_from_slice(&self.ack_seq.to_be_bytes());
        buf[24..28].copy_from_slice(&self.total_len.to_be_bytes());
        buf[28..32].copy_from_slice(&self.burst_offset.to_be_bytes());
        buf[32..34].copy_from_slice(&self.burst_len.to_be_bytes());
        buf[34..36].copy_from_slice(&self.fragment_count.to_be_bytes());
        Ok(BURST_HEADER_LEN)
    }
}
