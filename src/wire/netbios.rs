//! NetBIOS over IPX: recognition, and a light decode of Novell's NetBIOS header (socket
//! `0x0455`) and of Microsoft's NMPI / mailslot header (socket `0x0553`).
//!
//! Novell NetBIOS (NBIPX). Broadcasts (IPX packet type 20, "propagated") start with the eight
//! network numbers the packet has crossed; some type-4 replies carry them too:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 32 | eight router network numbers (only in some packets, see below) |
//! | +0 | 1 | name-type flags (name packets) or connection control (others) |
//! | +1 | 1 | data stream type ([`StreamType`]) |
//! | +2 | 16 | name packets (types 1-5): the NetBIOS name |
//! | +2 | 16 | session packets (types 6-8): eight little-endian u16 (see [`NbIpxBody::Session`]) |
//! | +2 | 32 | directed datagram (type 11): receiver's and sender's names, then the datagram |
//!
//! NMPI (Microsoft "direct hosting" name management and mailslots on socket `0x0553`) has its
//! own header: see [`nmpi`].
//!
//! There is no public specification; this follows Wireshark's `packet-nbipx.c` (reverse
//! engineered by its authors), including its rule for the router list: present in every
//! type-20 packet, and in a type-4 packet exactly when it is 50 bytes long and byte 33 is a
//! name-packet stream type (1-5). tcpdump only prints the length (`ipx-netbios 50`). The
//! golden tests assert the values `tshark -V` shows for the public captures.

use core::fmt;

use super::addr::{Net, Socket};
use super::error::{need, room, Result, WireError};
use super::ipx::PacketType;

pub mod nmpi;

pub use nmpi::{NmpiPacket, NmpiRepr, NMPI_HEADER_LEN};

/// Length of a NetBIOS name on the wire (15 characters and a suffix byte).
pub const NAME_LEN: usize = 16;
/// Length of the router list.
pub const ROUTERS_LEN: usize = 32;

/// Whether an IPX packet carries NetBIOS: packet type 20, or socket `0x0455` (Novell
/// NetBIOS) or `0x0553` (NWLink / NMPI datagrams) at either end.
pub fn is_netbios(packet_type: PacketType, src: Socket, dst: Socket) -> bool {
    netbios_kind(packet_type, src, dst).is_some()
}

/// Which NetBIOS header an IPX packet carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NetbiosKind {
    /// Novell NetBIOS ([`NbIpxPacket`]).
    NbIpx,
    /// Microsoft NMPI / mailslot ([`NmpiPacket`]).
    Nmpi,
}

/// The NetBIOS header of a packet, decided from its IPX type and sockets: socket `0x0553` at
/// either end means NMPI (even in a type-20 packet), socket `0x0455` or type 20 means Novell
/// NetBIOS, anything else is not NetBIOS.
pub fn netbios_kind(packet_type: PacketType, src: Socket, dst: Socket) -> Option<NetbiosKind> {
    if src == Socket::NWLINK_DGM || dst == Socket::NWLINK_DGM {
        Some(NetbiosKind::Nmpi)
    } else if src == Socket::NETBIOS || dst == Socket::NETBIOS || packet_type == PacketType::NETBIOS
    {
        Some(NetbiosKind::NbIpx)
    } else {
        None
    }
}

/// A 16-byte NetBIOS name: 15 characters padded with spaces, then a suffix byte that says
/// what the name is for (`<00>` workstation, `<1e>` browser election, ...).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NetbiosName(pub [u8; NAME_LEN]);

impl NetbiosName {
    /// Builds a name from up to 15 bytes (space-padded) and a suffix.
    pub fn new(name: &[u8], suffix: u8) -> Result<NetbiosName> {
        if name.len() > NAME_LEN - 1 {
            return Err(WireError::BadLength {
                what: "NetBIOS name",
                claimed: name.len(),
                reason: "more than 15 characters",
            });
        }
        let mut b = [b' '; NAME_LEN];
        b[..name.len()].copy_from_slice(name);
        b[NAME_LEN - 1] = suffix;
        Ok(NetbiosName(b))
    }

    fn from_slice(b: &[u8]) -> NetbiosName {
        let mut n = [0u8; NAME_LEN];
        n.copy_from_slice(&b[..NAME_LEN]);
        NetbiosName(n)
    }

    /// The 15 name bytes without trailing spaces.
    pub fn name(&self) -> &[u8] {
        let n = &self.0[..NAME_LEN - 1];
        let end = n.iter().rposition(|&c| c != b' ').map_or(0, |i| i + 1);
        &n[..end]
    }

    /// The suffix byte.
    pub fn suffix(&self) -> u8 {
        self.0[NAME_LEN - 1]
    }
}

impl fmt::Display for NetbiosName {
    /// As Wireshark shows it: printable ASCII as is, other bytes as `<xx>`, then the suffix
    /// as `<xx>` (`<01><02>__MSBROWSE__<02><01>`, `FOOBARMACHINE<7b>`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &c in self.name() {
            if c.is_ascii_graphic() || c == b' ' {
                write!(f, "{}", c as char)?;
            } else {
                write!(f, "<{c:02x}>")?;
            }
        }
        write!(f, "<{:02x}>", self.suffix())
    }
}

impl fmt::Debug for NetbiosName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NetbiosName({self})")
    }
}

/// The data stream type byte of Novell NetBIOS: what the packet does.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamType(pub u8);

impl StreamType {
    /// Find name (query).
    pub const FIND_NAME: StreamType = StreamType(1);
    /// Name recognized (answer to a find).
    pub const NAME_RECOGNIZED: StreamType = StreamType(2);
    /// Check name (add name: is it free?).
    pub const CHECK_NAME: StreamType = StreamType(3);
    /// Name in use (answer to a check).
    pub const NAME_IN_USE: StreamType = StreamType(4);
    /// Deregister name.
    pub const DEREGISTER_NAME: StreamType = StreamType(5);
    /// Session data.
    pub const SESSION_DATA: StreamType = StreamType(6);
    /// Session end.
    pub const SESSION_END: StreamType = StreamType(7);
    /// Session end acknowledgement.
    pub const SESSION_END_ACK: StreamType = StreamType(8);
    /// Status query.
    pub const STATUS_QUERY: StreamType = StreamType(9);
    /// Status response.
    pub const STATUS_RESPONSE: StreamType = StreamType(10);
    /// Directed datagram.
    pub const DIRECTED_DATAGRAM: StreamType = StreamType(11);

    /// Wireshark's name for the type ("Find name", ...), `None` when unknown.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "Find name",
            2 => "Name recognized",
            3 => "Check name",
            4 => "Name in use",
            5 => "Deregister name",
            6 => "Session data",
            7 => "Session end",
            8 => "Session end ACK",
            9 => "Status query",
            10 => "Status response",
            11 => "Directed datagram",
            _ => return None,
        })
    }

    /// Types 1-5 carry a name.
    pub fn is_name_op(self) -> bool {
        (1..=5).contains(&self.0)
    }

    /// Types 6-8 carry a session header.
    pub fn is_session(self) -> bool {
        (6..=8).contains(&self.0)
    }
}

impl fmt::Display for StreamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "Unknown ({:#04x})", self.0),
        }
    }
}

impl fmt::Debug for StreamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamType({:#04x})", self.0)
    }
}

/// Name-type flag bits of a name packet.
pub mod name_flags {
    /// Group name (clear: unique name).
    pub const GROUP: u8 = 0x80;
    /// Name in use.
    pub const IN_USE: u8 = 0x40;
    /// Name registered.
    pub const REGISTERED: u8 = 0x04;
    /// Name duplicated.
    pub const DUPLICATED: u8 = 0x02;
    /// Name deregistered.
    pub const DEREGISTERED: u8 = 0x01;
}

/// The header body after the router list, by data stream type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NbIpxBody {
    /// Stream types 1-5: a name operation.
    Name {
        /// Name-type flags ([`name_flags`]).
        flags: u8,
        /// Which operation (1-5).
        op: StreamType,
        /// The name.
        name: NetbiosName,
    },
    /// Stream types 6-8: a session packet; the eight counters are little-endian.
    Session {
        /// Connection control (0x80 system, 0x40 ack required, 0x20 attention, 0x10 end of
        /// message, 0x08 resend).
        conn_ctrl: u8,
        /// Which operation (6-8).
        op: StreamType,
        /// Source connection id.
        src_conn: u16,
        /// Destination connection id.
        dst_conn: u16,
        /// Send sequence number.
        send_seq: u16,
        /// Total data length.
        total_len: u16,
        /// Offset of this packet's data.
        offset: u16,
        /// Data length in this packet.
        data_len: u16,
        /// Receive sequence number.
        recv_seq: u16,
        /// Bytes received.
        bytes_received: u16,
    },
    /// Stream type 11: a datagram to a name.
    Datagram {
        /// Connection control.
        conn_ctrl: u8,
        /// Receiver's name.
        receiver: NetbiosName,
        /// Sender's name.
        sender: NetbiosName,
    },
    /// Any other stream type: only the first two bytes are understood.
    Other {
        /// The first byte (meaning unknown).
        first: u8,
        /// The stream type.
        op: StreamType,
    },
}

impl NbIpxBody {
    /// Bytes of this body's header.
    pub fn header_len(&self) -> usize {
        match self {
            NbIpxBody::Name { .. } | NbIpxBody::Session { .. } => 2 + NAME_LEN,
            NbIpxBody::Datagram { .. } => 2 + 2 * NAME_LEN,
            NbIpxBody::Other { .. } => 2,
        }
    }

    /// The data stream type.
    pub fn op(&self) -> StreamType {
        match *self {
            NbIpxBody::Name { op, .. }
            | NbIpxBody::Session { op, .. }
            | NbIpxBody::Other { op, .. } => op,
            NbIpxBody::Datagram { .. } => StreamType::DIRECTED_DATAGRAM,
        }
    }
}

fn body_len(op: StreamType) -> usize {
    if op.is_name_op() || op.is_session() {
        2 + NAME_LEN
    } else if op == StreamType::DIRECTED_DATAGRAM {
        2 + 2 * NAME_LEN
    } else {
        2
    }
}

fn read_routers(b: &[u8]) -> [Net; 8] {
    let mut r = [Net(0); 8];
    for (i, n) in r.iter_mut().enumerate() {
        let o = i * 4;
        *n = Net(u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]));
    }
    r
}

fn write_routers(b: &mut [u8], routers: &[Net; 8]) {
    for (i, n) in routers.iter().enumerate() {
        b[i * 4..i * 4 + 4].copy_from_slice(&n.0.to_be_bytes());
    }
}

/// A checked, zero-copy view of a Novell NetBIOS packet (the IPX payload).
#[derive(Debug, Clone)]
pub struct NbIpxPacket<T: AsRef<[u8]>> {
    buffer: T,
    has_routers: bool,
}

impl<T: AsRef<[u8]>> NbIpxPacket<T> {
    /// Checks the header, deciding whether the router list is present as Wireshark does:
    /// always in a type-20 packet; in another only when the payload is 50 bytes and byte 33
    /// is a name-packet stream type.
    pub fn new_checked(buffer: T, packet_type: PacketType) -> Result<Self> {
        let b = buffer.as_ref();
        let has_routers = packet_type == PacketType::NETBIOS
            || (b.len() == ROUTERS_LEN + 2 + NAME_LEN
                && StreamType(b[ROUTERS_LEN + 1]).is_name_op());
        Self::new_with_routers(buffer, has_routers)
    }

    /// Checks the header when the caller knows whether the router list is present.
    pub fn new_with_routers(buffer: T, has_routers: bool) -> Result<Self> {
        let b = buffer.as_ref();
        let off = if has_routers { ROUTERS_LEN } else { 0 };
        need("NetBIOS header", b, off + 2)?;
        need("NetBIOS header", b, off + body_len(StreamType(b[off + 1])))?;
        Ok(NbIpxPacket {
            buffer,
            has_routers,
        })
    }

    fn off(&self) -> usize {
        if self.has_routers {
            ROUTERS_LEN
        } else {
            0
        }
    }

    /// The router list, when present.
    pub fn routers(&self) -> Option<[Net; 8]> {
        self.has_routers.then(|| read_routers(self.buffer.as_ref()))
    }

    /// The data stream type.
    pub fn stream_type(&self) -> StreamType {
        StreamType(self.buffer.as_ref()[self.off() + 1])
    }

    /// Bytes of header (router list included).
    pub fn header_len(&self) -> usize {
        self.off() + body_len(self.stream_type())
    }

    /// The data after the header (session data, a datagram's SMB, or the unknown rest).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

/// A parsed Novell NetBIOS header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NbIpxRepr {
    /// The router list, when present.
    pub routers: Option<[Net; 8]>,
    /// The body.
    pub body: NbIpxBody,
}

impl NbIpxRepr {
    /// Reads a checked header.
    pub fn parse<T: AsRef<[u8]>>(p: &NbIpxPacket<T>) -> Result<NbIpxRepr> {
        let b = &p.buffer.as_ref()[p.off()..];
        let op = StreamType(b[1]);
        let le = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
        let body = if op.is_name_op() {
            NbIpxBody::Name {
                flags: b[0],
                op,
                name: NetbiosName::from_slice(&b[2..]),
            }
        } else if op.is_session() {
            NbIpxBody::Session {
                conn_ctrl: b[0],
                op,
                src_conn: le(2),
                dst_conn: le(4),
                send_seq: le(6),
                total_len: le(8),
                offset: le(10),
                data_len: le(12),
                recv_seq: le(14),
                bytes_received: le(16),
            }
        } else if op == StreamType::DIRECTED_DATAGRAM {
            NbIpxBody::Datagram {
                conn_ctrl: b[0],
                receiver: NetbiosName::from_slice(&b[2..]),
                sender: NetbiosName::from_slice(&b[2 + NAME_LEN..]),
            }
        } else {
            NbIpxBody::Other { first: b[0], op }
        };
        Ok(NbIpxRepr {
            routers: p.routers(),
            body,
        })
    }

    /// Bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        self.routers.map_or(0, |_| ROUTERS_LEN) + self.body.header_len()
    }

    /// Writes the header; the caller writes any data after it. Returns the bytes written.
    /// A body whose stream type belongs to another variant is [`WireError::BadField`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let op = self.body.op();
        let consistent = match self.body {
            NbIpxBody::Name { .. } => op.is_name_op(),
            NbIpxBody::Session { .. } => op.is_session(),
            NbIpxBody::Datagram { .. } => true,
            NbIpxBody::Other { .. } => body_len(op) == 2,
        };
        if !consistent {
            return Err(WireError::BadField {
                field: "NetBIOS stream type for this body",
                value: op.0 as u32,
            });
        }
        let len = self.buffer_len();
        room("NetBIOS header", buf.len(), len)?;
        let mut o = 0;
        if let Some(r) = &self.routers {
            write_routers(buf, r);
            o = ROUTERS_LEN;
        }
        let b = &mut buf[o..len];
        b[1] = op.0;
        match self.body {
            NbIpxBody::Name { flags, name, .. } => {
                b[0] = flags;
                b[2..].copy_from_slice(&name.0);
            }
            NbIpxBody::Session {
                conn_ctrl,
                src_conn,
                dst_conn,
                send_seq,
                total_len,
                offset,
                data_len,
                recv_seq,
                bytes_received,
                ..
            } => {
                b[0] = conn_ctrl;
                let words = [
                    src_conn,
                    dst_conn,
                    send_seq,
                    total_len,
                    offset,
                    data_len,
                    recv_seq,
                    bytes_received,
                ];
                for (i, w) in words.iter().enumerate() {
                    b[2 + 2 * i..4 + 2 * i].copy_from_slice(&w.to_le_bytes());
                }
            }
            NbIpxBody::Datagram {
                conn_ctrl,
                receiver,
                sender,
            } => {
                b[0] = conn_ctrl;
                b[2..2 + NAME_LEN].copy_from_slice(&receiver.0);
                b[2 + NAME_LEN..].copy_from_slice(&sender.0);
            }
            NbIpxBody::Other { first, .. } => b[0] = first,
        }
        Ok(len)
    }
}
