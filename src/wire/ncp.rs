//! NCP envelopes carried in IPX (packet type 17, server socket `0x0451`).
//!
//! Every NCP packet starts with a big-endian 16-bit type ([`NcpType`]). Requests (`0x1111`
//! create service connection, `0x2222` request, `0x5555` destroy service connection):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | type |
//! | 2 | 1 | sequence number |
//! | 3 | 1 | connection number, low byte |
//! | 4 | 1 | task number |
//! | 5 | 1 | connection number, high byte |
//! | 6 | 1 | function |
//! | 7 | 2+1 or 1 | subfunction structure (some functions, see [`subfunction_layout`]) |
//!
//! Replies (`0x3333` reply, `0x9999` positive acknowledge, "server busy"): the same first six
//! bytes, then completion code (offset 6) and connection status (offset 7), 8 bytes in all.
//!
//! Packet burst (`0x7777`) has its own 36-byte header: see [`burst`]. Function codes, their
//! subfunction layouts and names: see [`functions`].
//!
//! Sources: Wireshark `epan/dissectors/packet-ncp.c` (`dissect_ncp_common`: the common header,
//! the burst header offsets `commhdr + 2 .. + 34` and the `ABT BSY EOB LST SYS` flag bits) and
//! `packet-ncp-int.h` (the type values); ncpfs / Linux `ncp.h` (`struct ncp_request_header`,
//! `struct ncp_reply_header`). Which functions carry a subfunction, with or without the length
//! word, and the names in [`function_name`] were checked against Wireshark 4.0's NCP dissector
//! (generated from `tools/ncp2222.py`) by decoding hand-built requests with `tshark`.

use core::fmt;

use super::error::{need, room, Result, WireError};

pub mod burst;
pub mod functions;

pub use burst::{BurstFlags, BurstPacket, BurstRepr, MissingFragment, BURST_HEADER_LEN};
pub use functions::{function_name, subfunction_layout, SubfunctionLayout};

/// Size of a request header.
pub const REQUEST_HEADER_LEN: usize = 7;
/// Size of a reply header.
pub const REPLY_HEADER_LEN: usize = 8;

/// The 16-bit NCP packet type.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NcpType(pub u16);

impl NcpType {
    /// Create service connection (log in at the transport level; "allocate slot").
    pub const CREATE: NcpType = NcpType(0x1111);
    /// Service request.
    pub const REQUEST: NcpType = NcpType(0x2222);
    /// Service reply.
    pub const REPLY: NcpType = NcpType(0x3333);
    /// Destroy service connection ("deallocate slot").
    pub const DESTROY: NcpType = NcpType(0x5555);
    /// Packet burst.
    pub const BURST: NcpType = NcpType(0x7777);
    /// Positive acknowledgement: the server is busy with the request.
    pub const BUSY: NcpType = NcpType(0x9999);

    /// `create`, `request`, `reply`, `destroy`, `burst` or `busy`; `None` for other values.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x1111 => "create",
            0x2222 => "request",
            0x3333 => "reply",
            0x5555 => "destroy",
            0x7777 => "burst",
            0x9999 => "busy",
            _ => return None,
        })
    }

    /// Bytes of fixed header this type has (2 for an unknown type: just the type).
    pub fn header_len(self) -> usize {
        match self {
            NcpType::CREATE | NcpType::REQUEST | NcpType::DESTROY => REQUEST_HEADER_LEN,
            NcpType::REPLY | NcpType::BUSY => REPLY_HEADER_LEN,
            NcpType::BURST => BURST_HEADER_LEN,
            _ => 2,
        }
    }

    fn is_request(self) -> bool {
        matches!(self, NcpType::CREATE | NcpType::REQUEST | NcpType::DESTROY)
    }

    fn is_reply(self) -> bool {
        matches!(self, NcpType::REPLY | NcpType::BUSY)
    }
}

impl fmt::Display for NcpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "type-{:#06x}", self.0),
        }
    }
}

impl fmt::Debug for NcpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NcpType({:#06x})", self.0)
    }
}

/// The subfunction of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Subfunction {
    /// The subfunction code.
    pub code: u8,
    /// The length word before it, for [`SubfunctionLayout::LengthAndCode`] functions.
    pub length: Option<u16>,
}

fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Checks a request's subfunction structure and returns it with the bytes it takes.
fn check_subfunction(b: &[u8]) -> Result<(Option<Subfunction>, usize)> {
    let function = b[6];
    match subfunction_layout(function) {
        SubfunctionLayout::None => Ok((None, 0)),
        SubfunctionLayout::Code => {
            need("NCP subfunction", b, REQUEST_HEADER_LEN + 1)?;
            let code = b[7];
            Ok((Some(Subfunction { code, length: None }), 1))
        }
        SubfunctionLayout::LengthAndCode => {
            need("NCP subfunction", b, REQUEST_HEADER_LEN + 3)?;
            let length = be16(b, 7);
            let after = b.len() - (REQUEST_HEADER_LEN + 2);
            if length == 0 || length as usize > after {
                return Err(WireError::BadLength {
                    what: "NCP subfunction",
                    claimed: length as usize,
                    reason: if length == 0 {
                        "leaves no room for the subfunction"
                    } else {
                        "longer than the bytes present"
                    },
                });
            }
            let code = b[9];
            let length = Some(length);
            Ok((Some(Subfunction { code, length }), 3))
        }
    }
}

/// A checked, zero-copy view of an NCP packet (the payload of an IPX packet).
#[derive(Debug, Clone)]
pub struct NcpPacket<T: AsRef<[u8]>> {
    buffer: T,
    /// Header bytes, the subfunction structure included.
    header_len: usize,
}

impl<T: AsRef<[u8]>> NcpPacket<T> {
    /// Checks the header of the packet's type is whole: a request's subfunction structure
    /// (with a length word that fits), a reply's 8 bytes, a burst packet's header and list.
    /// An unknown type needs only its two bytes.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        need("NCP type", b, 2)?;
        let t = NcpType(be16(b, 0));
        let mut header_len = t.header_len();
        need("NCP header", b, header_len)?;
        if t == NcpType::REQUEST {
            header_len += check_subfunction(b)?.1;
        } else if t == NcpType::BURST {
            BurstPacket::new_checked(b)?;
        }
        Ok(NcpPacket { buffer, header_len })
    }

    /// The packet type.
    pub fn ncp_type(&self) -> NcpType {
        NcpType(be16(self.buffer.as_ref(), 0))
    }

    fn common(&self, off: usize) -> Option<u8> {
        let t = self.ncp_type();
        (t.is_request() || t.is_reply()).then(|| self.buffer.as_ref()[off])
    }

    /// Sequence number (requests and replies).
    pub fn sequence(&self) -> Option<u8> {
        self.common(2)
    }

    /// Connection number, low byte | high byte << 8 (requests and replies).
    pub fn connection(&self) -> Option<u16> {
        let lo = self.common(3)?;
        let hi = self.common(5)?;
        Some(u16::from_le_bytes([lo, hi]))
    }

    /// Task number (requests and replies).
    pub fn task(&self) -> Option<u8> {
        self.common(4)
    }

    /// Function code (requests only).
    pub fn function(&self) -> Option<u8> {
        self.ncp_type()
            .is_request()
            .then(|| self.buffer.as_ref()[6])
    }

    /// The subfunction structure of a service request (`0x2222`) whose function has one.
    pub fn subfunction(&self) -> Option<Subfunction> {
        if self.ncp_type() != NcpType::REQUEST {
            return None;
        }
        // Checked in new_checked; an error cannot happen here.
        check_subfunction(self.buffer.as_ref()).ok()?.0
    }

    /// Completion code, 0 for success (replies only).
    pub fn completion_code(&self) -> Option<u8> {
        self.ncp_type().is_reply().then(|| self.buffer.as_ref()[6])
    }

    /// Connection status flags (replies only).
    pub fn connection_status(&self) -> Option<u8> {
        self.ncp_type().is_reply().then(|| self.buffer.as_ref()[7])
    }

    /// The packet-burst view, for type `0x7777`.
    pub fn burst(&self) -> Option<BurstPacket<&[u8]>> {
        if self.ncp_type() != NcpType::BURST {
            return None;
        }
        BurstPacket::new_checked(self.buffer.as_ref()).ok()
    }

    /// The bytes after the fixed header of the type: for a request, everything after the
    /// function byte (the subfunction structure included).
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[self.ncp_type().header_len()..]
    }

    /// The bytes after the header and, for a request, after the subfunction structure.
    pub fn params(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len..]
    }
}

/// A parsed request header (create, request, destroy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NcpRequest {
    /// Sequence number.
    pub sequence: u8,
    /// Connection number.
    pub connection: u16,
    /// Task number.
    pub task: u8,
    /// Function code.
    pub function: u8,
    /// The subfunction, for service requests whose function has one.
    pub subfunction: Option<Subfunction>,
}

/// A parsed reply header (reply, positive acknowledge).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NcpReply {
    /// Sequence number (of the request answered).
    pub sequence: u8,
    /// Connection number.
    pub connection: u16,
    /// Task number.
    pub task: u8,
    /// Completion code: 0 for success.
    pub completion_code: u8,
    /// Connection status flags.
    pub connection_status: u8,
}

/// A parsed NCP envelope, by kind. The type field is implied by the variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NcpRepr {
    /// `0x1111`: create service connection.
    Create(NcpRequest),
    /// `0x2222`: service request.
    Request(NcpRequest),
    /// `0x5555`: destroy service connection.
    Destroy(NcpRequest),
    /// `0x3333`: service reply.
    Reply(NcpReply),
    /// `0x9999`: positive acknowledge (server busy, request in progress).
    Busy(NcpReply),
    /// `0x7777`: packet burst.
    Burst(BurstRepr),
    /// Any other type; only the type is decoded.
    Other(NcpType),
}

impl NcpRepr {
    /// Reads the envelope of a checked packet.
    pub fn parse<T: AsRef<[u8]>>(p: &NcpPacket<T>) -> Result<NcpRepr> {
        let t = p.ncp_type();
        let b = p.buffer.as_ref();
        let common = || (b[2], u16::from_le_bytes([b[3], b[5]]), b[4]);
        let request = |subfunction| {
            let (sequence, connection, task) = common();
            NcpRequest {
                sequence,
                connection,
                task,
                function: b[6],
                subfunction,
            }
        };
        let reply = || {
            let (sequence, connection, task) = common();
            NcpReply {
                sequence,
                connection,
                task,
                completion_code: b[6],
                connection_status: b[7],
            }
        };
        Ok(match t {
            NcpType::CREATE => NcpRepr::Create(request(None)),
            NcpType::REQUEST => NcpRepr::Request(request(check_subfunction(b)?.0)),
            NcpType::DESTROY => NcpRepr::Destroy(request(None)),
            NcpType::REPLY => NcpRepr::Reply(reply()),
            NcpType::BUSY => NcpRepr::Busy(reply()),
            NcpType::BURST => NcpRepr::Burst(BurstRepr::parse(&BurstPacket::new_checked(b)?)?),
            other => NcpRepr::Other(other),
        })
    }

    /// The packet type this value is emitted with.
    pub fn ncp_type(&self) -> NcpType {
        match self {
            NcpRepr::Create(_) => NcpType::CREATE,
            NcpRepr::Request(_) => NcpType::REQUEST,
            NcpRepr::Destroy(_) => NcpType::DESTROY,
            NcpRepr::Reply(_) => NcpType::REPLY,
            NcpRepr::Busy(_) => NcpType::BUSY,
            NcpRepr::Burst(_) => NcpType::BURST,
            NcpRepr::Other(t) => *t,
        }
    }

    /// Bytes `emit` writes: the fixed header plus a request's subfunction structure.
    pub fn buffer_len(&self) -> usize {
        let sub = match self {
            NcpRepr::Request(r) => match r.subfunction {
                Some(Subfunction {
                    length: Some(_), ..
                }) => 3,
                Some(_) => 1,
                None => 0,
            },
            _ => 0,
        };
        self.ncp_type().header_len() + sub
    }

    /// Writes the header (and a request's subfunction structure) into `buf`; the caller
    /// writes the rest. Returns the bytes written. A value that would not read back the
    /// same is [`WireError::BadField`]: a subfunction that does not match the function's
    /// [`subfunction_layout`] (or on a create/destroy), or `Other` with a known type.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        match self {
            NcpRepr::Request(r) => {
                let ok = match (subfunction_layout(r.function), r.subfunction) {
                    (SubfunctionLayout::None, None) => true,
                    (SubfunctionLayout::Code, Some(s)) => s.length.is_none(),
                    (SubfunctionLayout::LengthAndCode, Some(s)) => s.length.is_some(),
                    _ => false,
                };
                if !ok {
                    return Err(WireError::BadField {
                        field: "NCP subfunction for this function",
                        value: r.function as u32,
                    });
                }
            }
            NcpRepr::Create(r) | NcpRepr::Destroy(r) if r.subfunction.is_some() => {
                return Err(WireError::BadField {
                    field: "NCP subfunction outside a service request",
                    value: r.function as u32,
                });
            }
            NcpRepr::Other(t) if t.header_len() != 2 => {
                return Err(WireError::BadField {
                    field: "NCP type of an Other value",
                    value: t.0 as u32,
                });
            }
            _ => {}
        }
        room("NCP header", buf.len(), len)?;
        match self {
            NcpRepr::Burst(b) => return b.emit(buf),
            NcpRepr::Other(t) => buf[0..2].copy_from_slice(&t.0.to_be_bytes()),
            NcpRepr::Create(r) | NcpRepr::Request(r) | NcpRepr::Destroy(r) => {
                buf[0..2].copy_from_slice(&self.ncp_type().0.to_be_bytes());
                write_common(buf, r.sequence, r.connection, r.task);
                buf[6] = r.function;
                match r.subfunction {
                    Some(Subfunction {
                        code,
                        length: Some(l),
                    }) => {
                        buf[7..9].copy_from_slice(&l.to_be_bytes());
                        buf[9] = code;
                    }
                    Some(Subfunction { code, length: None }) => buf[7] = code,
                    None => {}
                }
            }
            NcpRepr::Reply(r) | NcpRepr::Busy(r) => {
                buf[0..2].copy_from_slice(&self.ncp_type().0.to_be_bytes());
                write_common(buf, r.sequence, r.connection, r.task);
                buf[6] = r.completion_code;
                buf[7] = r.connection_status;
            }
        }
        Ok(len)
    }
}

fn write_common(buf: &mut [u8], sequence: u8, connection: u16, task: u8) {
    let [lo, hi] = connection.to_le_bytes();
    buf[2] = sequence;
    buf[3] = lo;
    buf[4] = task;
    buf[5] = hi;
}
