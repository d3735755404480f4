//! IPX RIP: the Routing Information Protocol of NetWare (socket `0x0453`, IPX packet type 1).
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | operation: 1 request, 2 response |
//! | 2 + 8i | 4 | entry i: network number |
//! | 6 + 8i | 2 | entry i: hops to that network |
//! | 8 + 8i | 2 | entry i: ticks (1/18 s) to that network |
//!
//! At least one and at most 50 entries (Novell's `rip.h`: `ROUTE_ENTRIES_PER_PACKET 50`,
//! `MIN_ROUTE_PACKET 40`, i.e. 30 header bytes + operation + one entry). In a request, network
//! `0xFFFFFFFF` ([`Net::ALL`]) asks for every known route (a general request); hops and ticks
//! are only meaningful in responses.
//!
//! The payload given to [`RipPacket::new_checked`] is already trimmed by the IPX length, so
//! bytes that do not make a whole entry are an error, not link padding.

use core::fmt;

use arrayvec::ArrayVec;

use super::addr::{Net, Socket};
use super::error::{need, room, Result, WireError};
use super::ipx::PacketType;

/// The socket RIP listens on.
pub const SOCKET: Socket = Socket::RIP;
/// The IPX packet type RIP packets carry.
pub const PACKET_TYPE: PacketType = PacketType::RIP;
/// Size of the operation field.
pub const HEADER_LEN: usize = 2;
/// Size of one route entry.
pub const ENTRY_LEN: usize = 8;
/// Most entries one packet may carry.
pub const MAX_ENTRIES: usize = 50;
/// Hop count meaning "unreachable" in a response.
pub const HOPS_UNREACHABLE: u16 = 16;

/// The RIP operation field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RipOp {
    /// A route request.
    Request,
    /// A route response (also the periodic broadcast).
    Response,
}

impl RipOp {
    /// The operation for a field value, or `None` if it is not 1 or 2.
    pub const fn from_u16(v: u16) -> Option<RipOp> {
        match v {
            1 => Some(RipOp::Request),
            2 => Some(RipOp::Response),
            _ => None,
        }
    }

    /// The field value.
    pub const fn to_u16(self) -> u16 {
        match self {
            RipOp::Request => 1,
            RipOp::Response => 2,
        }
    }
}

impl fmt::Display for RipOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RipOp::Request => "request",
            RipOp::Response => "response",
        })
    }
}

/// One route: a network and the cost to reach it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RipEntry {
    /// Network number ([`Net::ALL`] in a general request).
    pub net: Net,
    /// Routers to cross; [`HOPS_UNREACHABLE`] means the route is gone.
    pub hops: u16,
    /// Delay in ticks of 1/18 second.
    pub ticks: u16,
}

impl RipEntry {
    /// Reads an entry from the first 8 bytes of `b` (the caller checked the length).
    fn read(b: &[u8]) -> RipEntry {
        RipEntry {
            net: Net(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            hops: u16::from_be_bytes([b[4], b[5]]),
            ticks: u16::from_be_bytes([b[6], b[7]]),
        }
    }

    /// Writes the entry into the first 8 bytes of `b` (the caller checked the length).
    fn write(&self, b: &mut [u8]) {
        b[0..4].copy_from_slice(&self.net.0.to_be_bytes());
        b[4..6].copy_from_slice(&self.hops.to_be_bytes());
        b[6..8].copy_from_slice(&self.ticks.to_be_bytes());
    }

    /// True when the hop count says the network can no longer be reached.
    pub fn is_unreachable(&self) -> bool {
        self.hops >= HOPS_UNREACHABLE
    }
}

impl fmt::Display for RipEntry {
    /// tcpdump's form: `net/hops.ticks` (`a8f87967/1.2`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}.{}", self.net, self.hops, self.ticks)
    }
}

/// A checked, zero-copy view of a RIP packet (the IPX payload).
#[derive(Debug, Clone)]
pub struct RipPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> RipPacket<T> {
    /// Checks the operation, that the rest is whole entries, and that there are 1 to 50.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        need("RIP packet", b, HEADER_LEN + ENTRY_LEN)?;
        let op = u16::from_be_bytes([b[0], b[1]]);
        if RipOp::from_u16(op).is_none() {
            return Err(WireError::BadField {
                field: "RIP operation",
                value: op as u32,
            });
        }
        let body = b.len() - HEADER_LEN;
        if !body.is_multiple_of(ENTRY_LEN) {
            return Err(WireError::BadLength {
                what: "RIP",
                claimed: b.len(),
                reason: "ends inside a route entry",
            });
        }
        let count = body / ENTRY_LEN;
        if count > MAX_ENTRIES {
            return Err(WireError::TooMany {
                what: "RIP entries",
                count,
                max: MAX_ENTRIES,
            });
        }
        Ok(RipPacket { buffer })
    }

    /// The raw operation field.
    pub fn operation(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The operation (checked in `new_checked`).
    pub fn op(&self) -> RipOp {
        match self.operation() {
            1 => RipOp::Request,
            _ => RipOp::Response,
        }
    }

    /// Number of route entries.
    pub fn entry_count(&self) -> usize {
        (self.buffer.as_ref().len() - HEADER_LEN) / ENTRY_LEN
    }

    /// Entry `i`, or `None` past the end.
    pub fn entry(&self, i: usize) -> Option<RipEntry> {
        let off = HEADER_LEN + i.checked_mul(ENTRY_LEN)?;
        self.buffer
            .as_ref()
            .get(off..off.checked_add(ENTRY_LEN)?)
            .map(RipEntry::read)
    }

    /// The entries in order.
    pub fn entries(&self) -> impl Iterator<Item = RipEntry> + '_ {
        self.buffer.as_ref()[HEADER_LEN..]
            .chunks_exact(ENTRY_LEN)
            .map(RipEntry::read)
    }
}

/// A parsed RIP packet.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RipRepr {
    /// Request or response.
    pub op: RipOp,
    /// The route entries (1 to 50 on the wire).
    pub entries: ArrayVec<RipEntry, MAX_ENTRIES>,
}

impl RipRepr {
    /// Reads a checked packet.
    pub fn parse<T: AsRef<[u8]>>(packet: &RipPacket<T>) -> Result<RipRepr> {
        // new_checked bounded the count at 50; `take` keeps `collect` from ever panicking.
        Ok(RipRepr {
            op: packet.op(),
            entries: packet.entries().take(MAX_ENTRIES).collect(),
        })
    }

    /// Parses the bytes of an IPX payload in one step.
    pub fn parse_bytes(payload: &[u8]) -> Result<RipRepr> {
        RipRepr::parse(&RipPacket::new_checked(payload)?)
    }

    /// The general request: "send me every route you know" (network [`Net::ALL`]). Hops and
    /// ticks mean nothing in a request; they are sent as `0xFFFF` (unknown).
    pub fn general_request() -> RipRepr {
        RipRepr::request(Net::ALL)
    }

    /// A request for the route to one network (NetWare's "get local target").
    pub fn request(net: Net) -> RipRepr {
        let mut entries = ArrayVec::new();
        entries.push(RipEntry {
            net,
            hops: 0xffff,
            ticks: 0xffff,
        });
        RipRepr {
            op: RipOp::Request,
            entries,
        }
    }

    /// A response carrying `entries` (at most 50: the rest are left out; call again with the
    /// remainder to build the next packet).
    pub fn response(entries: &[RipEntry]) -> RipRepr {
        RipRepr {
            op: RipOp::Response,
            entries: entries.iter().copied().take(MAX_ENTRIES).collect(),
        }
    }

    /// True for a request that asks for every route.
    pub fn is_general_request(&self) -> bool {
        self.op == RipOp::Request && self.entries.iter().any(|e| e.net == Net::ALL)
    }

    /// Bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.entries.len() * ENTRY_LEN
    }

    /// Writes the packet into `buf`; returns the bytes written. A packet without entries is
    /// [`WireError::BadLength`] (receivers reject it).
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if self.entries.is_empty() {
            return Err(WireError::BadLength {
                what: "RIP",
                claimed: HEADER_LEN,
                reason: "a RIP packet needs at least one route entry",
            });
        }
        let len = self.buffer_len();
        room("RIP packet", buf.len(), len)?;
        buf[0..2].copy_from_slice(&self.op.to_u16().to_be_bytes());
        for (e, out) in self
            .entries
            .iter()
            .zip(buf[HEADER_LEN..len].chunks_exact_mut(ENTRY_LEN))
        {
            e.write(out);
        }
        Ok(len)
    }
}
