//! The link layer: how frames leave and enter the program.
//!
//! A [`Link`] is one adapter: it sends and receives whole Ethernet frames (no FCS), reports
//! its carrier and operational state, and says who it is ([`AdapterInfo`]). Calls never
//! block: [`Link::recv`] returns `Ok(None)` when nothing is waiting, and waiting is the
//! driver's business (tokio's `AsyncFd` over a socket, virtual time in the simulator). That
//! keeps the protocol cores above sans-IO: the same core runs over a raw socket, a pcap replay
//! and a simulated wire.
//!
//! | module | what |
//! |---|---|
//! | [`afpacket`] | a raw `AF_PACKET` socket on one interface |
//! | [`error`] | [`LinkError`], which names a missing capability and the fix |
//! | [`raw`] | [`Link`] over `AF_PACKET`: BPF filters, batching, link state, tokio readiness, dropping capabilities |
//! | [`pcap`] | a recorder around any link, and a replayer that is a link |
//! | [`sim`] | simulated adapters, wires and segments on virtual time with seeded faults |

pub mod afpacket;
pub mod error;
pub mod pcap;
pub mod raw;
pub mod sim;
mod sys;

pub use afpacket::{PacketSocket, RecvMeta, SocketOptions};
pub use error::LinkError;
pub use pcap::{Pacing, Recorder, Replayer};
pub use raw::{AsyncRawLink, LinkKind, RawLink};

use crate::capture::Timestamp;
use crate::wire::MacAddr;

/// Length of the Ethernet header a frame adds to the MTU (FCS not included).
pub const ETH_OVERHEAD: usize = 14;

/// Who an adapter is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterInfo {
    /// Interface name (`eth0`, `sft-a-lan0`, or a simulated adapter's name).
    pub name: String,
    /// Interface index (0 for adapters that are not kernel interfaces).
    pub index: u32,
    /// The adapter's MAC address, which is also its IPX node number.
    pub mac: MacAddr,
    /// The MTU: the largest payload after the 14-byte Ethernet header.
    pub mtu: usize,
}

impl AdapterInfo {
    /// The largest whole frame the adapter sends: MTU plus the Ethernet header.
    pub fn max_frame(&self) -> usize {
        self.mtu + ETH_OVERHEAD
    }
}

/// An interface's operational state, as the kernel reports it (RFC 2863 `ifOperStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OperState {
    /// The kernel does not know (many virtual devices).
    Unknown,
    /// The device is gone.
    NotPresent,
    /// Administratively or physically down.
    Down,
    /// Down because a lower layer is (a veth whose peer is down).
    LowerLayerDown,
    /// In test mode.
    Testing,
    /// Waiting for an external event.
    Dormant,
    /// Up: frames can pass.
    Up,
}

impl OperState {
    /// The state for an RFC 2863 `ifOperStatus` value, as rtnetlink's `IFLA_OPERSTATE`
    /// carries it.
    pub fn from_rfc2863(v: u8) -> OperState {
        match v {
            1 => OperState::NotPresent,
            2 => OperState::Down,
            3 => OperState::LowerLayerDown,
            4 => OperState::Testing,
            5 => OperState::Dormant,
            6 => OperState::Up,
            _ => OperState::Unknown,
        }
    }

    /// Parses the kernel's words (`/sys/class/net/IF/operstate`).
    pub fn from_kernel(s: &str) -> OperState {
        match s.trim() {
            "notpresent" => OperState::NotPresent,
            "down" => OperState::Down,
            "lowerlayerdown" => OperState::LowerLayerDown,
            "testing" => OperState::Testing,
            "dormant" => OperState::Dormant,
            "up" => OperState::Up,
            _ => OperState::Unknown,
        }
    }
}

/// Carrier and operational state of an adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkStatus {
    /// Carrier detected.
    pub carrier: bool,
    /// Operational state.
    pub oper: OperState,
}

impl LinkStatus {
    /// An adapter that passes frames.
    pub const UP: LinkStatus = LinkStatus {
        carrier: true,
        oper: OperState::Up,
    };

    /// True when frames can pass: carrier, and operstate up (or unknown, which virtual
    /// devices report while working).
    pub fn is_usable(&self) -> bool {
        self.carrier && matches!(self.oper, OperState::Up | OperState::Unknown)
    }
}

/// What the link says about one received frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxMeta {
    /// Bytes written into the caller's buffer.
    pub len: usize,
    /// The frame's full length (larger than `len` when the buffer was too small).
    pub orig_len: usize,
    /// When the frame arrived, on the link's clock (wall clock for sockets and replays of
    /// them, virtual time for the simulator).
    pub ts: Timestamp,
}

/// One adapter: send and receive whole Ethernet frames, report carrier and operstate.
pub trait Link {
    /// Name, index, MAC and MTU.
    fn info(&self) -> &AdapterInfo;

    /// Sends one frame. A frame longer than [`AdapterInfo::max_frame`] is
    /// [`LinkError::TooBig`].
    ///
    /// A frame lost on the way out is `Ok`, as a frame lost on a wire would be: dropped by
    /// the kernel or a filter, or sent while the adapter is down, without carrier or gone.
    /// Links count such frames (e.g. [`RawLink::tx_dropped`]); the state is
    /// [`status`](Link::status)'s business, and the transport above recovers the loss. A
    /// link that cannot take the frame *now* (a full send buffer) returns an error for
    /// which [`LinkError::is_would_block`] is true.
    fn send(&mut self, frame: &[u8]) -> Result<(), LinkError>;

    /// Sends several frames, in order, in as few system calls as the link can; returns how
    /// many were taken, lost frames (see [`send`](Link::send)) included: fewer only when
    /// the link would block, and the rest can be sent later.
    fn send_batch(&mut self, frames: &[&[u8]]) -> Result<usize, LinkError> {
        for (i, f) in frames.iter().enumerate() {
            match self.send(f) {
                Ok(()) => {}
                Err(e) if e.is_would_block() => return Ok(i),
                Err(e) => return Err(e),
            }
        }
        Ok(frames.len())
    }

    /// Receives one frame into `buf` if one is waiting; `Ok(None)` when none is, including
    /// while the adapter is down or after it vanished (ask [`status`](Link::status)).
    fn recv(&mut self, buf: &mut [u8]) -> Result<Option<RxMeta>, LinkError>;

    /// Carrier and operational state now.
    fn status(&mut self) -> Result<LinkStatus, LinkError>;
}

/// Checks a frame against an adapter's size limit (shared by every [`Link`]).
pub fn check_size(info: &AdapterInfo, frame: &[u8]) -> Result<(), LinkError> {
    if frame.len() > info.max_frame() {
        return Err(LinkError::TooBig {
            link: info.name.clone(),
            len: frame.len(),
            max: info.max_frame(),
            mtu: info.mtu,
        });
    }
    Ok(())
}
