//! IPX diagnostics (socket `0x0456`): the configuration request and its reply.
//!
//! Configuration request (usually broadcast):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | exclusion count n (0..=80) |
//! | 1 + 6i | 6 | node i that must not answer |
//!
//! Configuration reply:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | major version |
//! | 1 | 1 | minor version |
//! | 2 | 2 | SPX diagnostic socket (where SPX diagnostic sessions go; 0 = none) |
//! | 4 | 1 | number of components |
//! | 5 | ... | components, back to back |
//!
//! A component is its id byte; ids 5, 6 and 7 (external bridge, file server / internal
//! bridge, non-dedicated IPX/SPX) add a network list:
//!
//! | size | field |
//! |---|---|
//! | 1 | component id |
//! | 1 | number of local networks m (extended ids only) |
//! | 1 | network i (m times): type (0 LAN board, 1 virtual board, 2 redirected remote line) |
//! | 4 | network i: network number |
//! | 6 | network i: node address |
//!
//! Sources (Wireshark has no dissector for it): Novell's `nwdiagd.h`/`nwdiagd.c` (UnixWare
//! NetWare, 1991-94: the structures, component ids 0..=8, `MAX_EXCLUSIONS 80`,
//! `MAX_LOCAL_NETWORKS 4`), Novell's DOS diagnostics header (`MAX_COMPONENTS 10`), and the
//! `enin` tool by Jacek Lipkowski (a reply parser, and replies of NETX, Client32, the MS
//! client, a JetDirect and NetWare servers: id 9 is simple; the JetDirect adds a byte).
//!
//! Choices: ids 0..=4, 8 (IPX only) and 9 (DOS application) are simple; other ids are errors,
//! as their length cannot be known. Bytes after the last component or excluded node are
//! ignored, as Novell's responder and `enin` do. Limits: [`MAX_EXCLUSIONS`],
//! [`MAX_COMPONENTS`], [`MAX_NETWORKS`] per component (above Novell's 10 and 4, for busier
//! routers).
//!
//! Request and reply share the socket and carry no type field: [`DiagDirection::guess`] tells
//! them apart by which end uses `0x0456` (requests go *to* it from an ephemeral socket,
//! replies come *from* it back to the asker's socket).

use core::fmt;

use arrayvec::ArrayVec;

use super::addr::{MacAddr, Net, Node, Socket};
use super::error::{need, room, Result, WireError};

/// The diagnostic socket.
pub const SOCKET: Socket = Socket::DIAGNOSTIC;
/// Most nodes a request may exclude.
pub const MAX_EXCLUSIONS: usize = 80;
/// Most components a reply may list here.
pub const MAX_COMPONENTS: usize = 16;
/// Most local networks one extended component may list here.
pub const MAX_NETWORKS: usize = 16;
/// Size of the reply's fixed part: versions, SPX socket, component count.
pub const REPLY_HEADER_LEN: usize = 5;
/// Size of one local-network record.
pub const NETWORK_LEN: usize = 11;

/// A component id in a configuration reply.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct ComponentId(pub u8);

impl ComponentId {
    /// IPX/SPX with SPX active.
    pub const IPX_SPX: ComponentId = ComponentId(0);
    /// Bridge (router) driver.
    pub const BRIDGE_DRIVER: ComponentId = ComponentId(1);
    /// Shell driver.
    pub const SHELL_DRIVER: ComponentId = ComponentId(2);
    /// Shell (workstation redirector).
    pub const SHELL: ComponentId = ComponentId(3);
    /// VAP shell.
    pub const VAP_SHELL: ComponentId = ComponentId(4);
    /// External bridge (router); extended.
    pub const EXTERNAL_BRIDGE: ComponentId = ComponentId(5);
    /// File server / internal bridge; extended.
    pub const FILE_SERVER: ComponentId = ComponentId(6);
    /// Non-dedicated IPX/SPX (non-dedicated server); extended.
    pub const NONDEDICATED_IPX_SPX: ComponentId = ComponentId(7);
    /// IPX only (SPX not active).
    pub const IPX_ONLY: ComponentId = ComponentId(8);
    /// DOS application (seen from NETX and Client32; name from `enin`).
    pub const DOS_APPLICATION: ComponentId = ComponentId(9);

    /// `Some(true)` for ids followed by a network list, `Some(false)` for a bare id, `None`
    /// for ids whose layout is unknown.
    pub const fn is_extended(self) -> Option<bool> {
        match self.0 {
            0..=4 | 8 | 9 => Some(false),
            5..=7 => Some(true),
            _ => None,
        }
    }

    /// A short name, or `None` for unknown ids.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "IPX/SPX",
            1 => "bridge driver",
            2 => "shell driver",
            3 => "shell",
            4 => "VAP shell",
            5 => "external bridge",
            6 => "file server/internal bridge",
            7 => "non-dedicated IPX/SPX",
            8 => "IPX only",
            9 => "DOS application",
            _ => return None,
        })
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "component-{}", self.0),
        }
    }
}

/// The type of a local network in an extended component.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct NetType(pub u8);

impl NetType {
    /// A LAN adapter.
    pub const LAN_BOARD: NetType = NetType(0);
    /// A virtual board (a server's internal network).
    pub const VIRTUAL_BOARD: NetType = NetType(1);
    /// A redirected remote line.
    pub const REDIRECTED_REMOTE_LINE: NetType = NetType(2);

    /// A short name, or `None` for other values.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "LAN board",
            1 => "virtual board",
            2 => "redirected remote line",
            _ => return None,
        })
    }
}

/// One local network of an extended component.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct LocalNetwork {
    /// What kind of attachment it is.
    pub net_type: NetType,
    /// Its network number.
    pub net: Net,
    /// The responder's node on it.
    pub node: Node,
}

impl LocalNetwork {
    /// Reads a record from the first 11 bytes of `b` (the caller checked the length).
    fn read(b: &[u8]) -> LocalNetwork {
        LocalNetwork {
            net_type: NetType(b[0]),
            net: Net(u32::from_be_bytes([b[1], b[2], b[3], b[4]])),
            node: MacAddr::from_bytes(&b[5..11]),
        }
    }

    /// Writes the record into the first 11 bytes of `b` (the caller checked the length).
    fn write(&self, b: &mut [u8]) {
        b[0] = self.net_type.0;
        b[1..5].copy_from_slice(&self.net.0.to_be_bytes());
        b[5..11].copy_from_slice(&self.node.0);
    }
}

/// A zero-copy component inside a checked reply.
#[derive(Clone, Copy, Debug)]
pub struct ComponentRef<'a> {
    id: ComponentId,
    /// The network records (whole, 11 bytes each); empty for simple ids.
    nets: &'a [u8],
}

impl<'a> ComponentRef<'a> {
    /// The component id.
    pub fn id(&self) -> ComponentId {
        self.id
    }

    /// The local networks (none for a simple component).
    pub fn networks(&self) -> impl Iterator<Item = LocalNetwork> + 'a {
        self.nets.chunks_exact(NETWORK_LEN).map(LocalNetwork::read)
    }

    /// Splits the first component off `b`, checking its id, count and length.
    fn split(b: &'a [u8]) -> Result<(ComponentRef<'a>, &'a [u8])> {
        need("IPX diagnostic component", b, 1)?;
        let id = ComponentId(b[0]);
        match id.is_extended() {
            None => Err(WireError::BadField {
                field: "IPX diagnostic component id",
                value: id.0 as u32,
            }),
            Some(false) => Ok((ComponentRef { id, nets: &[] }, &b[1..])),
            Some(true) => {
                need("IPX diagnostic component", b, 2)?;
                let m = b[1] as usize;
                if m > MAX_NETWORKS {
                    return Err(WireError::TooMany {
                        what: "networks in an IPX diagnostic component",
                        count: m,
                        max: MAX_NETWORKS,
                    });
                }
                let end = 2 + m * NETWORK_LEN;
                need("IPX diagnostic component", b, end)?;
                Ok((
                    ComponentRef {
                        id,
                        nets: &b[2..end],
                    },
                    &b[end..],
                ))
            }
        }
    }
}

/// A parsed component.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct DiagComponent {
    /// The component id.
    pub id: ComponentId,
    /// Local networks: empty for simple ids; extended ids carry a list (maybe empty).
    pub networks: ArrayVec<LocalNetwork, MAX_NETWORKS>,
}

impl DiagComponent {
    /// A component without a network list.
    pub fn simple(id: ComponentId) -> DiagComponent {
        DiagComponent {
            id,
            networks: ArrayVec::new(),
        }
    }

    /// Bytes on the wire, or an error when the id and the list do not agree.
    fn wire_len(&self) -> Result<usize> {
        match self.id.is_extended() {
            None => Err(WireError::BadField {
                field: "IPX diagnostic component id",
                value: self.id.0 as u32,
            }),
            Some(false) if !self.networks.is_empty() => Err(WireError::BadField {
                field: "networks on a simple IPX diagnostic component",
                value: self.id.0 as u32,
            }),
            Some(false) => Ok(1),
            Some(true) => Ok(2 + self.networks.len() * NETWORK_LEN),
        }
    }
}

/// A checked, zero-copy view of a configuration request (the IPX payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagRequest<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> DiagRequest<T> {
    /// Checks the count (at most 80) and that the listed nodes are all present. Bytes after
    /// the list are ignored.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        need("IPX diagnostic request", b, 1)?;
        let n = b[0] as usize;
        if n > MAX_EXCLUSIONS {
            return Err(WireError::TooMany {
                what: "IPX diagnostic exclusions",
                count: n,
                max: MAX_EXCLUSIONS,
            });
        }
        need("IPX diagnostic exclusion list", b, 1 + 6 * n)?;
        Ok(DiagRequest { buffer })
    }

    /// Number of excluded nodes.
    pub fn exclusion_count(&self) -> usize {
        self.buffer.as_ref()[0] as usize
    }

    /// Bytes the request uses (count and list); anything after is ignored.
    pub fn used_len(&self) -> usize {
        1 + 6 * self.exclusion_count()
    }

    /// The excluded nodes in order.
    pub fn exclusions(&self) -> impl Iterator<Item = Node> + '_ {
        let b = self.buffer.as_ref();
        b.get(1..self.used_len())
            .unwrap_or(&[])
            .chunks_exact(6)
            .map(MacAddr::from_bytes)
    }
}

/// A parsed configuration request.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct DiagRequestRepr {
    /// Nodes that must not answer (those that already did, when a tool re-broadcasts).
    pub exclusions: ArrayVec<Node, MAX_EXCLUSIONS>,
}

impl DiagRequestRepr {
    /// Reads a checked request.
    pub fn parse<T: AsRef<[u8]>>(packet: &DiagRequest<T>) -> Result<DiagRequestRepr> {
        Ok(DiagRequestRepr {
            exclusions: packet.exclusions().take(MAX_EXCLUSIONS).collect(),
        })
    }

    /// Parses the bytes of an IPX payload in one step.
    pub fn parse_bytes(payload: &[u8]) -> Result<DiagRequestRepr> {
        DiagRequestRepr::parse(&DiagRequest::new_checked(payload)?)
    }

    /// True when `node` is told not to answer.
    pub fn excludes(&self, node: Node) -> bool {
        self.exclusions.contains(&node)
    }

    /// Bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        1 + 6 * self.exclusions.len()
    }

    /// Writes the request into `buf`; returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        room("IPX diagnostic request", buf.len(), len)?;
        buf[0] = self.exclusions.len() as u8;
        for (n, out) in self.exclusions.iter().zip(buf[1..len].chunks_exact_mut(6)) {
            out.copy_from_slice(&n.0);
        }
        Ok(len)
    }
}

/// A checked, zero-copy view of a configuration reply (the IPX payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagReply<T: AsRef<[u8]>> {
    buffer: T,
    /// Bytes used by the reply; anything after is ignored.
    len: usize,
}

impl<T: AsRef<[u8]>> DiagReply<T> {
    /// Walks every component, checking ids, counts and lengths.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        need("IPX diagnostic reply", b, REPLY_HEADER_LEN)?;
        let count = b[4] as usize;
        if count > MAX_COMPONENTS {
            return Err(WireError::TooMany {
                what: "IPX diagnostic components",
                count,
                max: MAX_COMPONENTS,
            });
        }
        let mut rest = &b[REPLY_HEADER_LEN..];
        for _ in 0..count {
            rest = ComponentRef::split(rest)?.1;
        }
        let len = b.len() - rest.len();
        Ok(DiagReply { buffer, len })
    }

    /// Major version of the diagnostics responder.
    pub fn major_version(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// Minor version of the diagnostics responder.
    pub fn minor_version(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// The SPX diagnostic socket (0: SPX diagnostics not offered).
    pub fn spx_socket(&self) -> Socket {
        let b = self.buffer.as_ref();
        Socket(u16::from_be_bytes([b[2], b[3]]))
    }

    /// Number of components.
    pub fn component_count(&self) -> usize {
        self.buffer.as_ref()[4] as usize
    }

    /// Bytes the reply uses (header and components).
    pub fn used_len(&self) -> usize {
        self.len
    }

    /// Bytes after the last component (ignored; a JetDirect sends one).
    pub fn trailing_len(&self) -> usize {
        self.buffer.as_ref().len() - self.len
    }

    /// The components in order.
    pub fn components(&self) -> Components<'_> {
        let b = self.buffer.as_ref();
        Components {
            rest: b.get(REPLY_HEADER_LEN..self.len).unwrap_or(&[]),
            left: self.component_count(),
        }
    }
}

/// Iterator over the components of a checked reply.
#[derive(Clone, Debug)]
pub struct Components<'a> {
    rest: &'a [u8],
    left: usize,
}

impl<'a> Iterator for Components<'a> {
    type Item = ComponentRef<'a>;

    fn next(&mut self) -> Option<ComponentRef<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // new_checked walked the reply, so this cannot fail; if it did, iteration ends.
        let (c, rest) = ComponentRef::split(self.rest).ok()?;
        self.rest = rest;
        Some(c)
    }
}

/// A parsed configuration reply.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct DiagReplyRepr {
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
    /// The SPX diagnostic socket (0 when SPX diagnostics are not offered).
    pub spx_socket: Socket,
    /// The components.
    pub components: ArrayVec<DiagComponent, MAX_COMPONENTS>,
}

impl DiagReplyRepr {
    /// Reads a checked reply.
    pub fn parse<T: AsRef<[u8]>>(packet: &DiagReply<T>) -> Result<DiagReplyRepr> {
        // new_checked bounded the counts; `take` keeps a full ArrayVec from ever panicking.
        Ok(DiagReplyRepr {
            major: packet.major_version(),
            minor: packet.minor_version(),
            spx_socket: packet.spx_socket(),
            components: packet
                .components()
                .map(|c| DiagComponent {
                    id: c.id(),
                    networks: c.networks().take(MAX_NETWORKS).collect(),
                })
                .take(MAX_COMPONENTS)
                .collect(),
        })
    }

    /// Parses the bytes of an IPX payload in one step.
    pub fn parse_bytes(payload: &[u8]) -> Result<DiagReplyRepr> {
        DiagReplyRepr::parse(&DiagReply::new_checked(payload)?)
    }

    /// Bytes `emit` writes, or an error when a component's id and list disagree.
    fn wire_len(&self) -> Result<usize> {
        self.components
            .iter()
            .try_fold(REPLY_HEADER_LEN, |acc, c| Ok(acc + c.wire_len()?))
    }

    /// Bytes `emit` writes (an unknown id counts as one byte; `emit` refuses it).
    pub fn buffer_len(&self) -> usize {
        REPLY_HEADER_LEN
            + self
                .components
                .iter()
                .map(|c| c.wire_len().unwrap_or(1))
                .sum::<usize>()
    }

    /// Writes the reply into `buf`; returns the bytes written. An unknown id, or networks on
    /// a simple id, is [`WireError::BadField`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.wire_len()?;
        room("IPX diagnostic reply", buf.len(), len)?;
        buf[0] = self.major;
        buf[1] = self.minor;
        buf[2..4].copy_from_slice(&self.spx_socket.0.to_be_bytes());
        buf[4] = self.components.len() as u8;
        let mut o = REPLY_HEADER_LEN;
        for c in &self.components {
            buf[o] = c.id.0;
            o += 1;
            if c.id.is_extended() == Some(true) {
                buf[o] = c.networks.len() as u8;
                o += 1;
                for n in &c.networks {
                    n.write(&mut buf[o..o + NETWORK_LEN]);
                    o += NETWORK_LEN;
                }
            }
        }
        Ok(o)
    }
}

/// Which way a diagnostic packet goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DiagDirection {
    /// A configuration request.
    Request,
    /// A configuration reply.
    Reply,
}

impl DiagDirection {
    /// Guesses from the IPX sockets: destination `0x0456` from another socket is a request;
    /// source `0x0456` to another socket is a reply. When both are `0x0456` the payload
    /// decides: exactly `1 + 6 × first byte` bytes reads as a request, anything else as a
    /// reply. `None` when neither socket is `0x0456`.
    pub fn guess(src: Socket, dst: Socket, payload: &[u8]) -> Option<DiagDirection> {
        match (src == SOCKET, dst == SOCKET) {
            (false, true) => Some(DiagDirection::Request),
            (true, false) => Some(DiagDirection::Reply),
            (true, true) => Some(match payload.first() {
                Some(&n) if payload.len() == 1 + 6 * n as usize => DiagDirection::Request,
                _ => DiagDirection::Reply,
            }),
            (false, false) => None,
        }
    }
}

/// A diagnostic packet of either direction.
// Boxing the reply would put a heap allocation on the parse path.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum DiagMessage {
    /// A configuration request.
    Request(DiagRequestRepr),
    /// A configuration reply.
    Reply(DiagReplyRepr),
}

impl DiagMessage {
    /// Parses an IPX payload, telling request from reply with [`DiagDirection::guess`]. A
    /// packet with neither socket `0x0456` is [`WireError::WrongKind`].
    pub fn parse(src: Socket, dst: Socket, payload: &[u8]) -> Result<DiagMessage> {
        match DiagDirection::guess(src, dst, payload) {
            Some(DiagDirection::Request) => {
                DiagRequestRepr::parse_bytes(payload).map(DiagMessage::Request)
            }
            Some(DiagDirection::Reply) => {
                DiagReplyRepr::parse_bytes(payload).map(DiagMessage::Reply)
            }
            None => Err(WireError::WrongKind {
                expected: "IPX diagnostics",
                reason: "neither socket is 0x0456",
            }),
        }
    }

    /// Bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            DiagMessage::Request(r) => r.buffer_len(),
            DiagMessage::Reply(r) => r.buffer_len(),
        }
    }

    /// Writes the packet into `buf`; returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        match self {
            DiagMessage::Request(r) => r.emit(buf),
            DiagMessage::Reply(r) => r.emit(buf),
        }
    }
}
