//! NMPI: Microsoft's "direct hosting" name management and mailslot header, on IPX socket
//! `0x0553` (tcpdump: `ipx-nwlink-dgm`).
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 32 | eight router network numbers |
//! | 32 | 1 | opcode (`0xFC` mailslot write, ...) |
//! | 33 | 1 | name type (1 machine, 2 workgroup, 3 browser) |
//! | 34 | 2 | message id, little-endian |
//! | 36 | 16 | requested name |
//! | 52 | 16 | source name |
//! | 68 | .. | data (an SMB for a mailslot write) |
//!
//! Source: Wireshark `packet-nbipx.c` (`dissect_nmpi`), after Microsoft's SMBPUB.DOC on
//! connectionless IPX transport. The golden test asserts what `tshark -V` shows for tcpdump's
//! `ipx.pcap` frame 36.

use super::{read_routers, write_routers, NetbiosName};
use crate::wire::addr::Net;
use crate::wire::error::{need, room, Result};

/// Length of an NMPI header (router list included).
pub const NMPI_HEADER_LEN: usize = 68;

/// A checked, zero-copy view of an NMPI packet (socket `0x0553`).
#[derive(Debug, Clone)]
pub struct NmpiPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> NmpiPacket<T> {
    /// Checks the 68-byte header is whole.
    pub fn new_checked(buffer: T) -> Result<Self> {
        need("NMPI header", buffer.as_ref(), NMPI_HEADER_LEN)?;
        Ok(NmpiPacket { buffer })
    }

    /// The router list.
    pub fn routers(&self) -> [Net; 8] {
        read_routers(self.buffer.as_ref())
    }

    /// Opcode (`0xF1` claim name ... `0xFC` mailslot write, `0xFD` find mailslot name,
    /// `0xFE` mailslot name found).
    pub fn opcode(&self) -> u8 {
        self.buffer.as_ref()[32]
    }

    /// Name type: 1 machine, 2 workgroup, 3 browser.
    pub fn name_type(&self) -> u8 {
        self.buffer.as_ref()[33]
    }

    /// Message id.
    pub fn message_id(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_le_bytes([b[34], b[35]])
    }

    /// The name sought, claimed or written to.
    pub fn name(&self) -> NetbiosName {
        NetbiosName::from_slice(&self.buffer.as_ref()[36..])
    }

    /// The sender's name.
    pub fn source(&self) -> NetbiosName {
        NetbiosName::from_slice(&self.buffer.as_ref()[52..])
    }

    /// The data after the header (an SMB mailslot message for opcode `0xFC`).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[NMPI_HEADER_LEN..]
    }
}

/// A parsed NMPI header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NmpiRepr {
    /// Router list.
    pub routers: [Net; 8],
    /// Opcode.
    pub opcode: u8,
    /// Name type.
    pub name_type: u8,
    /// Message id.
    pub message_id: u16,
    /// Requested name.
    pub name: NetbiosName,
    /// Source name.
    pub source: NetbiosName,
}

impl NmpiRepr {
    /// NMPI opcode: mailslot write.
    pub const MAILSLOT_WRITE: u8 = 0xfc;

    /// Reads a checked header.
    pub fn parse<T: AsRef<[u8]>>(p: &NmpiPacket<T>) -> Result<NmpiRepr> {
        Ok(NmpiRepr {
            routers: p.routers(),
            opcode: p.opcode(),
            name_type: p.name_type(),
            message_id: p.message_id(),
            name: p.name(),
            source: p.source(),
        })
    }

    /// Bytes `emit` writes (68).
    pub fn buffer_len(&self) -> usize {
        NMPI_HEADER_LEN
    }

    /// Writes the header; the caller writes any data after it. Returns 68.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        room("NMPI header", buf.len(), NMPI_HEADER_LEN)?;
        write_routers(buf, &self.routers);
        buf[32] = self.opcode;
        buf[33] = self.name_type;
        buf[34..36].copy_from_slice(&self.message_id.to_le_bytes());
        buf[36..52].copy_from_slice(&self.name.0);
        buf[52..68].copy_from_slice(&self.source.0);
        Ok(NMPI_HEADER_LEN)
    }
}
