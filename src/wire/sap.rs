//! SAP: NetWare's Service Advertising Protocol (socket `0x0452`).
//!
//! Requests (4 bytes):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | operation: 1 general request, 3 nearest-server request |
//! | 2 | 2 | server type wanted (`0xFFFF` = all) |
//!
//! Responses (2 + 64 × n bytes, n = 0..=7):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | operation: 2 general response, 4 nearest-server response |
//! | 2 + 64i | 2 | entry i: server type |
//! | 4 + 64i | 48 | entry i: server name, ASCII, NUL-terminated and NUL-padded |
//! | 52 + 64i | 12 | entry i: the server's full IPX address (network, node, socket) |
//! | 64 + 64i | 2 | entry i: intermediate networks (hops); 16 = server going down |
//!
//! Periodic broadcasts are general responses; they are often sent from an ephemeral source
//! socket, not from `0x0452` (the third-party `ipx.pcap` has Microsoft's from `0x4008`). The
//! payload given to [`SapPacket::new_checked`] is already trimmed by the IPX length, so
//! leftover bytes are an error, not link padding. Server type names follow Wireshark's table
//! (`ipxsap.server.type`, Wireshark 4.0).

use core::fmt;

use arrayvec::ArrayVec;

use super::addr::{IpxAddr, Socket};
use super::error::{need, room, Result, WireError};

/// The socket SAP listens on.
pub const SOCKET: Socket = Socket::SAP;
/// Size of the operation field.
pub const HEADER_LEN: usize = 2;
/// Size of a request: operation and server type.
pub const REQUEST_LEN: usize = 4;
/// Size of one server entry in a response.
pub const ENTRY_LEN: usize = 64;
/// Most entries one response may carry.
pub const MAX_ENTRIES: usize = 7;
/// Size of the server name field, terminator included.
pub const NAME_LEN: usize = 48;
/// Longest name: one byte of the field is kept for the NUL.
pub const MAX_NAME_LEN: usize = NAME_LEN - 1;
/// Hop count that announces a server is going down.
pub const HOPS_DOWN: u16 = 16;

/// A SAP server (object) type.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ServerType(pub u16);

impl ServerType {
    /// Print queue (or print group).
    pub const PRINT_QUEUE: ServerType = ServerType(0x0003);
    /// NetWare file server; what an SFT III pair advertises for its engine.
    pub const FILE_SERVER: ServerType = ServerType(0x0004);
    /// Job server.
    pub const JOB_SERVER: ServerType = ServerType(0x0005);
    /// Print server.
    pub const PRINT_SERVER: ServerType = ServerType(0x0007);
    /// Archive server.
    pub const ARCHIVE_SERVER: ServerType = ServerType(0x0009);
    /// Remote bridge or routing service.
    pub const REMOTE_BRIDGE: ServerType = ServerType(0x0024);
    /// Bridge server.
    pub const BRIDGE_SERVER: ServerType = ServerType(0x0026);
    /// Advertising print server.
    pub const ADVERTISING_PRINT_SERVER: ServerType = ServerType(0x0047);
    /// NetWare 386 remote console (RCONSOLE over SPX).
    pub const REMOTE_CONSOLE: ServerType = ServerType(0x0107);
    /// Time synchronization server (NetWare 4).
    pub const TIME_SYNC: ServerType = ServerType(0x026b);
    /// Directory server (NDS, NetWare 4).
    pub const DIRECTORY_SERVER: ServerType = ServerType(0x0278);
    /// Intel Netport 2, HP JetDirect or HP Quicksilver.
    pub const HP_JETDIRECT: ServerType = ServerType(0x030c);
    /// Microsoft Gateway Services for NetWare.
    pub const MS_GATEWAY_SERVICES: ServerType = ServerType(0x0640);
    /// Microsoft Internet Information Server.
    pub const MS_IIS: ServerType = ServerType(0x064e);
    /// Any type: the wildcard in a request.
    pub const ALL: ServerType = ServerType(0xffff);

    /// The type's name (Wireshark's wording), or `None` for types not listed here.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0003 => "Print Queue or Print Group",
            0x0004 => "File Server (SLIST source)",
            0x0005 => "Job Server",
            0x0007 => "Print Server or Silent Print Server",
            0x0009 => "Archive Server",
            0x0024 => "Remote Bridge or Routing Service",
            0x0026 => "Bridge Server or Asynchronous Bridge Server",
            0x0047 => "Advertising Print Server",
            0x0107 => "NetWare 386 or RSPX Remote Console",
            0x026b => "Time Synchronization Server (NetWare 4.x)",
            0x0278 => "Directory Server (NetWare 4.x)",
            0x030c => "Intel Netport 2 or HP JetDirect or HP Quicksilver",
            0x0640 => "Microsoft Gateway Services for NetWare",
            0x064e => "Microsoft Internet Information Server",
            0xffff => "Any Service or Wildcard",
            _ => return None,
        })
    }
}

impl fmt::Display for ServerType {
    /// Four hex digits, as tcpdump prints them (`0004`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}", self.0)
    }
}

impl fmt::Debug for ServerType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerType({:04x})", self.0)
    }
}

/// The SAP operation field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SapOp {
    /// 1: who offers services of a type?
    GeneralRequest,
    /// 2: the services I know (also the periodic broadcast).
    GeneralResponse,
    /// 3: which is the nearest server of a type? (a workstation at boot)
    NearestRequest,
    /// 4: the nearest server, one entry.
    NearestResponse,
}

impl SapOp {
    /// The operation for a field value, or `None` outside 1..=4.
    pub const fn from_u16(v: u16) -> Option<SapOp> {
        match v {
            1 => Some(SapOp::GeneralRequest),
            2 => Some(SapOp::GeneralResponse),
            3 => Some(SapOp::NearestRequest),
            4 => Some(SapOp::NearestResponse),
            _ => None,
        }
    }

    /// The field value.
    pub const fn to_u16(self) -> u16 {
        match self {
            SapOp::GeneralRequest => 1,
            SapOp::GeneralResponse => 2,
            SapOp::NearestRequest => 3,
            SapOp::NearestResponse => 4,
        }
    }

    /// True for the two request operations.
    pub const fn is_request(self) -> bool {
        matches!(self, SapOp::GeneralRequest | SapOp::NearestRequest)
    }
}

/// One advertised service.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SapEntry {
    /// Server type.
    pub server_type: ServerType,
    /// The name field as on the wire: name bytes, a NUL, then padding. Use
    /// [`name`](Self::name) to read it and [`new`](Self::new) to fill it.
    pub name: [u8; NAME_LEN],
    /// Where the service listens.
    pub addr: IpxAddr,
    /// Intermediate networks to the server; [`HOPS_DOWN`] says it is going away.
    pub hops: u16,
}

impl SapEntry {
    /// Builds an entry; a name longer than 47 bytes (no room for the NUL) is an error.
    pub fn new(server_type: ServerType, name: &[u8], addr: IpxAddr, hops: u16) -> Result<Self> {
        Ok(SapEntry {
            server_type,
            name: name_field(name)?,
            addr,
            hops,
        })
    }

    /// The name: the bytes before the first NUL.
    pub fn name(&self) -> &[u8] {
        let end = self.name.iter().position(|&c| c == 0).unwrap_or(NAME_LEN);
        &self.name[..end]
    }

    /// The name for display: printable ASCII as is, other bytes as `\xNN`.
    pub fn display_name(&self) -> DisplayName<'_> {
        DisplayName(self.name())
    }

    /// True when the entry announces the server is going down (hops 16 or more).
    pub fn is_down(&self) -> bool {
        self.hops >= HOPS_DOWN
    }

    /// Reads an entry from the first 64 bytes of `b` (the caller checked the length).
    fn read(b: &[u8]) -> SapEntry {
        let mut name = [0u8; NAME_LEN];
        name.copy_from_slice(&b[2..50]);
        SapEntry {
            server_type: ServerType(u16::from_be_bytes([b[0], b[1]])),
            name,
            addr: IpxAddr::from_bytes(&b[50..62]),
            hops: u16::from_be_bytes([b[62], b[63]]),
        }
    }

    /// Writes the entry into the first 64 bytes of `b` (the caller checked the length).
    fn write(&self, b: &mut [u8]) {
        b[0..2].copy_from_slice(&self.server_type.0.to_be_bytes());
        b[2..50].copy_from_slice(&self.name);
        self.addr.write(&mut b[50..62]);
        b[62..64].copy_from_slice(&self.hops.to_be_bytes());
    }
}

impl fmt::Debug for SapEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SapEntry")
            .field("server_type", &self.server_type)
            .field("name", &format_args!("{}", self.display_name()))
            .field("addr", &format_args!("{}", self.addr))
            .field("hops", &self.hops)
            .finish()
    }
}

/// Turns a name into the 48-byte field, refusing names with no room for the NUL.
fn name_field(name: &[u8]) -> Result<[u8; NAME_LEN]> {
    if name.len() > MAX_NAME_LEN {
        return Err(WireError::BadLength {
            what: "SAP server name",
            claimed: name.len(),
            reason: "longer than 47 bytes: no room for the NUL terminator",
        });
    }
    let mut f = [0u8; NAME_LEN];
    f[..name.len()].copy_from_slice(name);
    Ok(f)
}

/// Displays a server name (see [`SapEntry::display_name`]).
pub struct DisplayName<'a>(&'a [u8]);

impl fmt::Display for DisplayName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &c in self.0 {
            if c.is_ascii_graphic() || c == b' ' {
                write!(f, "{}", c as char)?;
            } else {
                write!(f, "\\x{c:02x}")?;
            }
        }
        Ok(())
    }
}

/// A checked, zero-copy view of a SAP packet (the IPX payload).
#[derive(Debug, Clone)]
pub struct SapPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> SapPacket<T> {
    /// Checks the operation and the length it implies: exactly 4 bytes for a request; whole
    /// 64-byte entries, at most 7, each name NUL-terminated, for a response.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        need("SAP packet", b, HEADER_LEN)?;
        let raw = u16::from_be_bytes([b[0], b[1]]);
        let op = SapOp::from_u16(raw).ok_or(WireError::BadField {
            field: "SAP operation",
            value: raw as u32,
        })?;
        if op.is_request() {
            need("SAP request", b, REQUEST_LEN)?;
            if b.len() != REQUEST_LEN {
                return Err(WireError::BadLength {
                    what: "SAP request",
                    claimed: b.len(),
                    reason: "a request is exactly 4 bytes",
                });
            }
        } else {
            let body = &b[HEADER_LEN..];
            if body.len() % ENTRY_LEN != 0 {
                return Err(WireError::BadLength {
                    what: "SAP response",
                    claimed: b.len(),
                    reason: "ends inside a server entry",
                });
            }
            let count = body.len() / ENTRY_LEN;
            if count > MAX_ENTRIES {
                return Err(WireError::TooMany {
                    what: "SAP entries",
                    count,
                    max: MAX_ENTRIES,
                });
            }
            // The name must end inside its field, or emit could not give the same bytes.
            if body.chunks_exact(ENTRY_LEN).any(|e| !e[2..50].contains(&0)) {
                return Err(WireError::BadField {
                    field: "SAP server name (no NUL terminator)",
                    value: NAME_LEN as u32,
                });
            }
        }
        Ok(SapPacket { buffer })
    }

    /// The operation (checked in `new_checked`).
    pub fn op(&self) -> SapOp {
        let b = self.buffer.as_ref();
        SapOp::from_u16(u16::from_be_bytes([b[0], b[1]])).unwrap_or(SapOp::GeneralResponse)
    }

    /// The server type asked for, in a request.
    pub fn requested_type(&self) -> Option<ServerType> {
        let b = self.buffer.as_ref();
        self.op()
            .is_request()
            .then(|| ServerType(u16::from_be_bytes([b[2], b[3]])))
    }

    /// Number of server entries (0 for a request).
    pub fn entry_count(&self) -> usize {
        if self.op().is_request() {
            0
        } else {
            (self.buffer.as_ref().len() - HEADER_LEN) / ENTRY_LEN
        }
    }

    /// Entry `i` of a response, or `None` past the end.
    pub fn entry(&self, i: usize) -> Option<SapEntry> {
        if i >= self.entry_count() {
            return None;
        }
        let off = HEADER_LEN + i * ENTRY_LEN;
        self.buffer
            .as_ref()
            .get(off..off + ENTRY_LEN)
            .map(SapEntry::read)
    }

    /// The entries of a response in order (none for a request).
    pub fn entries(&self) -> impl Iterator<Item = SapEntry> + '_ {
        (0..self.entry_count()).filter_map(|i| self.entry(i))
    }
}

/// A parsed SAP packet.
// Boxing the entries would put a heap allocation on the parse path.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SapRepr {
    /// A general (1) or nearest-server (3) request.
    Request {
        /// True for a nearest-server request.
        nearest: bool,
        /// The type wanted ([`ServerType::ALL`] for any).
        server_type: ServerType,
    },
    /// A general (2) or nearest-server (4) response.
    Response {
        /// True for a nearest-server response.
        nearest: bool,
        /// The advertised services, 0 to 7.
        entries: ArrayVec<SapEntry, MAX_ENTRIES>,
    },
}

impl SapRepr {
    /// Reads a checked packet.
    pub fn parse<T: AsRef<[u8]>>(packet: &SapPacket<T>) -> Result<SapRepr> {
        let op = packet.op();
        Ok(match op {
            SapOp::GeneralRequest | SapOp::NearestRequest => SapRepr::Request {
                nearest: op == SapOp::NearestRequest,
                server_type: packet.requested_type().unwrap_or(ServerType::ALL),
            },
            // new_checked bounded the count at 7; `take` keeps `collect` from ever panicking.
            SapOp::GeneralResponse | SapOp::NearestResponse => SapRepr::Response {
                nearest: op == SapOp::NearestResponse,
                entries: packet.entries().take(MAX_ENTRIES).collect(),
            },
        })
    }

    /// Parses the bytes of an IPX payload in one step.
    pub fn parse_bytes(payload: &[u8]) -> Result<SapRepr> {
        SapRepr::parse(&SapPacket::new_checked(payload)?)
    }

    /// A general request for servers of `server_type`.
    pub fn general_request(server_type: ServerType) -> SapRepr {
        SapRepr::Request {
            nearest: false,
            server_type,
        }
    }

    /// A general response (what a periodic broadcast is) carrying `entries`; at most 7 are
    /// taken: build another packet for the rest.
    pub fn general_response(entries: &[SapEntry]) -> SapRepr {
        SapRepr::Response {
            nearest: false,
            entries: entries.iter().copied().take(MAX_ENTRIES).collect(),
        }
    }

    /// The operation this packet carries.
    pub fn op(&self) -> SapOp {
        match *self {
            SapRepr::Request { nearest: false, .. } => SapOp::GeneralRequest,
            SapRepr::Request { nearest: true, .. } => SapOp::NearestRequest,
            SapRepr::Response { nearest: false, .. } => SapOp::GeneralResponse,
            SapRepr::Response { nearest: true, .. } => SapOp::NearestResponse,
        }
    }

    /// Bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            SapRepr::Request { .. } => REQUEST_LEN,
            SapRepr::Response { entries, .. } => HEADER_LEN + entries.len() * ENTRY_LEN,
        }
    }

    /// Writes the packet into `buf`; returns the bytes written. An entry whose name field
    /// has no NUL is [`WireError::BadLength`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if let SapRepr::Response { entries, .. } = self {
            if entries.iter().any(|e| !e.name.contains(&0)) {
                return Err(WireError::BadLength {
                    what: "SAP server name",
                    claimed: NAME_LEN,
                    reason: "longer than 47 bytes: no room for the NUL terminator",
                });
            }
        }
        let len = self.buffer_len();
        room("SAP packet", buf.len(), len)?;
        buf[0..2].copy_from_slice(&self.op().to_u16().to_be_bytes());
        match self {
            SapRepr::Request { server_type, .. } => {
                buf[2..4].copy_from_slice(&server_type.0.to_be_bytes());
            }
            SapRepr::Response { entries, .. } => {
                for (e, out) in entries
                    .iter()
                    .zip(buf[HEADER_LEN..len].chunks_exact_mut(ENTRY_LEN))
                {
                    e.write(out);
                }
            }
        }
        Ok(len)
    }
}
