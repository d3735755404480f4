//! Deterministic sample frames of every framing and packet kind, for tests, fuzz seeds,
//! recordings and benchmarks.
//!
//! | kind | protocol | content |
//! |---|---|---|
//! | `rip-request`, `rip-response` | RIP | general request; 3 to 6 routes, one unreachable |
//! | `sap-general-request`, `sap-general-response` | SAP | any type; 3 to 7 services |
//! | `sap-nearest-request`, `sap-nearest-response` | SAP | file server; one entry |
//! | `diag-request`, `diag-reply` | diagnostics | 1 to 3 exclusions; 4 components, 1 extended |
//! | `spx-data`, `spx-system-ack` | SPX | 32 data bytes; an acknowledgement |
//! | `spx2-connect-request` | SPX | SPX II flags, destination connection `FFFF` |
//! | `ncp-create`, `ncp-destroy` | NCP | create and destroy service connection |
//! | `ncp-request`, `ncp-request-subfunction` | NCP | function 0x21; 0x17 subfunction 0x11 |
//! | `ncp-reply`, `ncp-busy`, `ncp-burst` | NCP | reply to 0x21; positive ack; burst data |
//! | `netbios-name-query` | NetBIOS | type 20, find name |
//! | `nmpi-name-query` | NetBIOS | socket `0x0553`, query name |
//! | `state`, `state-keyed` | state | no tag; BLAKE3 tag with [`SAMPLE_KEY`] |
//! | `data` | data | type 4, 48 bytes between unassigned sockets |
//! | `msl-<type>-crc`, `msl-<type>-key` | MSL | each [`FrameType`], CRC32C or tag |
//!
//! Every IPX kind is built in each of the four framings (MSL frames are Ethernet_II only, on
//! their own EtherType). SNAP frames always carry a real IPX checksum, LLC frames of odd
//! variants too ([`checksum_for`]); raw 802.3 cannot, and state packets never do.
//!
//! The `variant` number varies addresses, sockets, sequence numbers, counts and names
//! deterministically, so a benchmark capture of millions of frames is not one frame repeated.
//! Variant 0 gives the plain base values (the recording in `captures/own/kinds.pcap`). The
//! same kind, framing and variant always give the same bytes.
//!
//! Frames are built only with the wire layer's emit APIs (headers around payloads written in
//! place, no allocation), so the samples also check the emitters: `tests/own_captures.rs`
//! compares them with Wireshark's decode.

use core::fmt;

use super::addr::{IpxAddr, MacAddr, Net, Socket};
use super::classify::Proto;
use super::error::{room, Result, WireError};
use super::ethernet::{EthernetRepr, Framing};
use super::ipx::{self, Checksum, IpxPacket, IpxRepr, PacketType};
use super::msl::FrameType;
use super::state::AuthKey;

mod ipx_kinds;
mod msl_kinds;

/// The authentication key of the keyed samples (`state-keyed`, `msl-*-key`). A sample key,
/// published here: never use it in production.
pub const SAMPLE_KEY: AuthKey = *b"sft3-sample-key/never-production";

/// A buffer of this size holds any sample frame (the largest is an MSL data frame).
pub const MAX_FRAME_LEN: usize = 1514;

/// The payload of the `msl-data-*` kinds, bytes.
pub const MSL_DATA_LEN: usize = 1400;

/// A kind of sample frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// RIP general request (network `FFFFFFFF`), broadcast.
    RipRequest,
    /// RIP response with several routes (one unreachable), broadcast.
    RipResponse,
    /// SAP general request for every server type.
    SapGeneralRequest,
    /// SAP general response (periodic broadcast) with several services.
    SapGeneralResponse,
    /// SAP nearest-server request for a file server.
    SapNearestRequest,
    /// SAP nearest-server response, one entry, to the asking client.
    SapNearestResponse,
    /// IPX diagnostics configuration request with an exclusion list.
    DiagRequest,
    /// IPX diagnostics configuration reply, simple and extended components.
    DiagReply,
    /// SPX data packet.
    SpxData,
    /// SPX system packet (acknowledgement).
    SpxSystemAck,
    /// SPX II connection request (destination connection `FFFF`).
    Spx2ConnectRequest,
    /// NCP create service connection (`0x1111`).
    NcpCreate,
    /// NCP request without subfunction (function 0x21, negotiate buffer size).
    NcpRequest,
    /// NCP request with a length-and-code subfunction (0x17 / 0x11).
    NcpRequestSubfunction,
    /// NCP reply (`0x3333`) to the 0x21 request.
    NcpReply,
    /// NCP destroy service connection (`0x5555`).
    NcpDestroy,
    /// NCP positive acknowledge, server busy (`0x9999`).
    NcpBusy,
    /// NCP packet burst (`0x7777`) data packet.
    NcpBurst,
    /// Novell NetBIOS find-name broadcast (IPX type 20, socket `0x0455`).
    NetbiosNameQuery,
    /// Microsoft NMPI query-name datagram (socket `0x0553`).
    NmpiNameQuery,
    /// sft3 server-state packet without authentication.
    State,
    /// sft3 server-state packet tagged with [`SAMPLE_KEY`].
    StateKeyed,
    /// Plain data: IPX type 4 between two unassigned sockets.
    Data,
    /// An sft3 MSL frame of the given type, CRC32C (`keyed` false) or tagged with
    /// [`SAMPLE_KEY`].
    Msl {
        /// The MSL frame type.
        frame_type: FrameType,
        /// True for a BLAKE3 tag, false for a CRC32C trailer.
        keyed: bool,
    },
}

const fn msl(frame_type: FrameType, keyed: bool) -> Kind {
    Kind::Msl { frame_type, keyed }
}

impl Kind {
    /// Every kind, in recording order.
    pub const ALL: [Kind; 37] = [
        Kind::RipRequest,
        Kind::RipResponse,
        Kind::SapGeneralRequest,
        Kind::SapGeneralResponse,
        Kind::SapNearestRequest,
        Kind::SapNearestResponse,
        Kind::DiagRequest,
        Kind::DiagReply,
        Kind::SpxData,
        Kind::SpxSystemAck,
        Kind::Spx2ConnectRequest,
        Kind::NcpCreate,
        Kind::NcpRequest,
        Kind::NcpRequestSubfunction,
        Kind::NcpReply,
        Kind::NcpDestroy,
        Kind::NcpBusy,
        Kind::NcpBurst,
        Kind::NetbiosNameQuery,
        Kind::NmpiNameQuery,
        Kind::State,
        Kind::StateKeyed,
        Kind::Data,
        msl(FrameType::Hello, false),
        msl(FrameType::Hello, true),
        msl(FrameType::HelloAck, false),
        msl(FrameType::HelloAck, true),
        msl(FrameType::Data, false),
        msl(FrameType::Data, true),
        msl(FrameType::Ack, false),
        msl(FrameType::Ack, true),
        msl(FrameType::Heartbeat, false),
        msl(FrameType::Heartbeat, true),
        msl(FrameType::Close, false),
        msl(FrameType::Close, true),
        msl(FrameType::Reset, false),
        msl(FrameType::Reset, true),
    ];

    /// A short lower-case name (`rip-response`, `msl-data-key`, ...).
    pub const fn name(self) -> &'static str {
        use FrameType as F;
        match self {
            Kind::RipRequest => "rip-request",
            Kind::RipResponse => "rip-response",
            Kind::SapGeneralRequest => "sap-general-request",
            Kind::SapGeneralResponse => "sap-general-response",
            Kind::SapNearestRequest => "sap-nearest-request",
            Kind::SapNearestResponse => "sap-nearest-response",
            Kind::DiagRequest => "diag-request",
            Kind::DiagReply => "diag-reply",
            Kind::SpxData => "spx-data",
            Kind::SpxSystemAck => "spx-system-ack",
            Kind::Spx2ConnectRequest => "spx2-connect-request",
            Kind::NcpCreate => "ncp-create",
            Kind::NcpRequest => "ncp-request",
            Kind::NcpRequestSubfunction => "ncp-request-subfunction",
            Kind::NcpReply => "ncp-reply",
            Kind::NcpDestroy => "ncp-destroy",
            Kind::NcpBusy => "ncp-busy",
            Kind::NcpBurst => "ncp-burst",
            Kind::NetbiosNameQuery => "netbios-name-query",
            Kind::NmpiNameQuery => "nmpi-name-query",
            Kind::State => "state",
            Kind::StateKeyed => "state-keyed",
            Kind::Data => "data",
            Kind::Msl { frame_type, keyed } => match (frame_type, keyed) {
                (F::Hello, false) => "msl-hello-crc",
                (F::Hello, true) => "msl-hello-key",
                (F::HelloAck, false) => "msl-hello-ack-crc",
                (F::HelloAck, true) => "msl-hello-ack-key",
                (F::Data, false) => "msl-data-crc",
                (F::Data, true) => "msl-data-key",
                (F::Ack, false) => "msl-ack-crc",
                (F::Ack, true) => "msl-ack-key",
                (F::Heartbeat, false) => "msl-heartbeat-crc",
                (F::Heartbeat, true) => "msl-heartbeat-key",
                (F::Close, false) => "msl-close-crc",
                (F::Close, true) => "msl-close-key",
                (F::Reset, false) => "msl-reset-crc",
                (F::Reset, true) => "msl-reset-key",
            },
        }
    }

    /// The kind with this [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The protocol [`dissect`](super::dissect::dissect) reports for this kind.
    pub const fn proto(self) -> Proto {
        match self {
            Kind::RipRequest | Kind::RipResponse => Proto::Rip,
            Kind::SapGeneralRequest
            | Kind::SapGeneralResponse
            | Kind::SapNearestRequest
            | Kind::SapNearestResponse => Proto::Sap,
            Kind::DiagRequest | Kind::DiagReply => Proto::Diag,
            Kind::SpxData | Kind::SpxSystemAck | Kind::Spx2ConnectRequest => Proto::Spx,
            Kind::NcpCreate
            | Kind::NcpRequest
            | Kind::NcpRequestSubfunction
            | Kind::NcpReply
            | Kind::NcpDestroy
            | Kind::NcpBusy
            | Kind::NcpBurst => Proto::Ncp,
            Kind::NetbiosNameQuery | Kind::NmpiNameQuery => Proto::Netbios,
            Kind::State | Kind::StateKeyed => Proto::State,
            Kind::Data => Proto::Data,
            Kind::Msl { .. } => Proto::Msl,
        }
    }

    /// True for kinds carried in IPX (all but MSL).
    pub const fn is_ipx(self) -> bool {
        !matches!(self, Kind::Msl { .. })
    }

    /// True for the kinds authenticated with [`SAMPLE_KEY`].
    pub const fn is_keyed(self) -> bool {
        matches!(self, Kind::StateKeyed | Kind::Msl { keyed: true, .. })
    }

    /// The framings this kind is built in: all four for IPX kinds, Ethernet_II for MSL.
    pub const fn framings(self) -> &'static [Framing] {
        if self.is_ipx() {
            &Framing::ALL
        } else {
            &[Framing::EthernetII]
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every kind, in recording order (the same as [`Kind::ALL`]).
pub fn kinds() -> &'static [Kind] {
    &Kind::ALL
}

/// One kind in one framing: an entry of the recording set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sample {
    /// The kind.
    pub kind: Kind,
    /// The framing (Ethernet_II for MSL).
    pub framing: Framing,
}

impl Sample {
    /// Builds the frame of this sample for `variant` (see [`build`]).
    pub fn build(&self, variant: u64, buf: &mut [u8]) -> Result<usize> {
        build(self.kind, self.framing, variant, buf)
    }

    /// The framing [`dissect`](super::dissect::dissect) reports: `None` for MSL frames,
    /// which are not IPX.
    pub fn ipx_framing(&self) -> Option<Framing> {
        self.kind.is_ipx().then_some(self.framing)
    }
}

impl fmt::Display for Sample {
    /// `kind/framing` (`rip-request/llc`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.name(), self.framing.name())
    }
}

/// The recording set: every kind in each of its framings, kinds in [`Kind::ALL`] order and
/// framings in [`Framing::ALL`] order (106 samples).
pub fn samples() -> impl Iterator<Item = Sample> {
    Kind::ALL.into_iter().flat_map(|kind| {
        kind.framings()
            .iter()
            .map(move |&framing| Sample { kind, framing })
    })
}

/// Whether an IPX sample carries a checksum: always on SNAP, on LLC for odd variants, never
/// on Ethernet_II or raw 802.3 (whose `FFFF` checksum is what marks the framing).
pub const fn checksum_for(framing: Framing, variant: u64) -> Checksum {
    match framing {
        Framing::Snap => Checksum::Sum,
        Framing::Llc if variant & 1 == 1 => Checksum::Sum,
        _ => Checksum::None,
    }
}

/// Writes the frame of `kind` in `framing` for `variant` into `buf` (link header included,
/// padded to the Ethernet minimum, no FCS) and returns its length. A buffer of
/// [`MAX_FRAME_LEN`] always suffices; a smaller one may be [`WireError::BufferTooSmall`]. An MSL
/// kind in a framing other than Ethernet_II is [`WireError::WrongKind`].
pub fn build(kind: Kind, framing: Framing, variant: u64, buf: &mut [u8]) -> Result<usize> {
    let env = Env::new(variant);
    match kind {
        Kind::Msl { frame_type, keyed } => {
            if framing != Framing::EthernetII {
                return Err(WireError::WrongKind {
                    expected: "Ethernet_II",
                    reason: "MSL frames are Ethernet_II only",
                });
            }
            msl_kinds::build(frame_type, keyed.then_some(&SAMPLE_KEY), &env, buf)
        }
        _ => ipx_kinds::build(kind, framing, &env, buf),
    }
}

/// Mixes the variant so that nearby variants differ in many bits; variant 0 stays 0, so it
/// gives the base values (splitmix64's finalizer).
const fn mix(v: u64) -> u64 {
    let z = (v ^ (v >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The addresses and numbers of one variant, shared by all kinds.
struct Env {
    /// The variant itself (sequence numbers follow it).
    v: u64,
    /// The mixed variant (addresses and counts come from its bits).
    x: u64,
    /// The LAN's IPX network.
    lan: Net,
    /// The engine's internal network (SFT III's mirrored server engine).
    engine: Net,
    /// A client workstation.
    client: MacAddr,
    /// The client's ephemeral socket.
    client_socket: Socket,
    /// Server A's LAN adapter.
    server_a: MacAddr,
    /// Server B's LAN adapter.
    server_b: MacAddr,
    /// Server A's MSL adapter.
    msl_a: MacAddr,
    /// Server B's MSL adapter.
    msl_b: MacAddr,
    /// IPX transport control of the sample packets.
    hops: u8,
}

impl Env {
    fn new(v: u64) -> Env {
        let x = mix(v);
        let b = |shift: u32| (x >> shift) as u8;
        Env {
            v,
            x,
            lan: Net(0x0a1b_0001 ^ (x as u32 & 0x00ff_fff0)),
            engine: Net(0x5f7e_0003 ^ ((x >> 24) as u32 & 0x00ff_fff0)),
            client: MacAddr([0x00, 0xa0, 0xc9, 0x12 ^ b(8), 0x34 ^ b(16), 0x56 ^ b(24)]),
            // 0x4010..=0x440f: clear of Wireshark's IPX message sockets 0x4001 and 0x4003.
            client_socket: Socket(0x4010 + ((x >> 32) & 0x3ff) as u16),
            server_a: MacAddr([0x00, 0x1b, 0x21, 0x0a, b(40), 0x01]),
            server_b: MacAddr([0x00, 0x1b, 0x21, 0x0b, b(40), 0x02]),
            msl_a: MacAddr([0x02, 0x53, 0x46, 0x54, 0x33 ^ b(48), 0x0a]),
            msl_b: MacAddr([0x02, 0x53, 0x46, 0x54, 0x33 ^ b(48), 0x0b]),
            hops: (x >> 62) as u8,
        }
    }

    /// `n` in `0..m` from the mixed variant's bits at `shift`.
    fn pick(&self, shift: u32, m: u64) -> u64 {
        (self.x >> shift) % m
    }

    /// An address on the LAN.
    fn on_lan(&self, node: MacAddr, socket: Socket) -> IpxAddr {
        IpxAddr::new(self.lan, node, socket)
    }

    /// The LAN broadcast address of `socket`.
    fn broadcast(&self, socket: Socket) -> IpxAddr {
        IpxAddr::new(self.lan, MacAddr::BROADCAST, socket)
    }

    /// The engine's address (internal network, node 1).
    fn engine(&self, socket: Socket) -> IpxAddr {
        IpxAddr::new(self.engine, MacAddr::ENGINE, socket)
    }

    /// The client's address.
    fn client_addr(&self) -> IpxAddr {
        self.on_lan(self.client, self.client_socket)
    }

    /// An IPX header (payload length filled in by [`ipx_frame`]).
    fn ipx(
        &self,
        framing: Framing,
        packet_type: PacketType,
        src: IpxAddr,
        dst: IpxAddr,
    ) -> IpxRepr {
        IpxRepr {
            checksum: checksum_for(framing, self.v),
            hops: self.hops,
            packet_type,
            dst,
            src,
            payload_len: 0,
        }
    }
}

/// A name: `prefix` then `n` in decimal, kept in a fixed buffer (no allocation).
struct Name {
    buf: [u8; 48],
    len: usize,
}

impl Name {
    /// `prefix` (at most 27 bytes) followed by `n`.
    fn new(prefix: &[u8], n: u64) -> Name {
        let mut buf = [0u8; 48];
        let p = prefix.len().min(27);
        buf[..p].copy_from_slice(&prefix[..p]);
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut m = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (m % 10) as u8;
            m /= 10;
            if m == 0 {
                break;
            }
        }
        let d = &digits[i..];
        buf[p..p + d.len()].copy_from_slice(d);
        Name {
            buf,
            len: p + d.len(),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Writes a whole IPX frame in place: `payload` writes the data straight into `buf` and
/// returns its length, then the link and IPX headers (and the checksum) go around it.
fn ipx_frame(
    buf: &mut [u8],
    framing: Framing,
    dst_mac: MacAddr,
    src_mac: MacAddr,
    header: IpxRepr,
    payload: impl FnOnce(&mut [u8]) -> Result<usize>,
) -> Result<usize> {
    if framing == Framing::Raw8023 && header.checksum == Checksum::Sum {
        // As emit_ipx_frame: raw 802.3 is recognised by its FFFF checksum.
        return Err(WireError::BadField {
            field: "IPX checksum on raw 802.3",
            value: 0,
        });
    }
    let eth = EthernetRepr::ipx(dst_mac, src_mac, framing);
    let off = eth.header_len();
    let start = off + ipx::HEADER_LEN;
    room("sample frame", buf.len(), start)?;
    let n = payload(&mut buf[start..])?;
    let ipx_len = ipx::HEADER_LEN + n;
    eth.emit(buf, ipx_len)?;
    let header = IpxRepr {
        payload_len: n,
        ..header
    };
    header.emit(&mut buf[off..])?;
    if header.checksum == Checksum::Sum {
        IpxPacket::new_checked(&mut buf[off..off + ipx_len])?.fill_checksum();
    }
    Ok(eth.frame_len(ipx_len))
}
