//! sft3 Mirrored Server Link (MSL) frames: Ethernet_II frames of EtherType [`ETHERTYPE_MSL`]
//! (`0x88B5`, IEEE 802 local experimental 1) on the dedicated link between the two servers.
//!
//! After the link header (addresses, optional 802.1Q tag, EtherType), all big-endian:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | version ([`VERSION`] = 1) |
//! | 1 | 1 | frame type ([`FrameType`]) |
//! | 2 | 1 | flags: `0x01` AUTH, `0x02` ACK, `0x04` ACK_NOW, `0x30` priority class |
//! | 3 | 1 | header length `H` in bytes (44 in version 1; more = extension, skipped) |
//! | 4 | 2 | payload length `P` |
//! | 6 | 2 | receive window, frames, of the stream named by the priority class |
//! | 8 | 8 | sender incarnation |
//! | 16 | 8 | receiver incarnation as the sender knows it (0 = not yet known) |
//! | 24 | 4 | sequence number (in the stream of the priority class) |
//! | 28 | 4 | cumulative ack: next sequence expected (valid when ACK is set) |
//! | 32 | 4 | message id (data frames); ack and heartbeat frames: the high half of the control counter |
//! | 36 | 4 | fragment offset in the message (data frames); ack and heartbeat frames: its low half |
//! | 40 | 4 | message total length (data frames; else 0) |
//! | H | P | payload (by frame type: [`HandshakeRepr`], [`AckRepr`], [`parse_close`]) |
//! | H + P | 4 or 16 | CRC32C of bytes `0 .. H + P`, or with AUTH a BLAKE3 keyed tag of them |
//!
//! The control counter (ack and heartbeat frames) counts those frames from 1 over the sender's
//! incarnation and never repeats; with the incarnations it makes every such frame unique, so
//! a receiver refuses a replayed one (the data frames' sequence numbers do that for data).
//!
//! Anything after the integrity field is Ethernet padding. Each priority class is its own
//! ordered stream with its own sequence space, so bulk resync never blocks events and
//! heartbeats. Rejecting frames of an old session (incarnations) is the transport's job.
//!
//! Integrity: without a key, frames carry CRC32C and a tagged frame is rejected (there is
//! nothing to check it with). With a key, only tagged frames whose tag verifies pass.

use core::fmt;

use super::addr::MacAddr;
use super::auth::{auth_tag, tag_matches, verified, AuthKey, TAG_LEN};
use super::error::{need, room, Result, WireError};
use super::ethernet::{Encap, EthernetFrame, EthernetRepr, VlanTag};

mod ack;
mod handshake;
mod trailer;

pub use ack::{AckPayload, AckRepr, SackBlock, MAX_SACK_BLOCKS, SACK_BLOCK_LEN};
pub use handshake::{
    emit_close, parse_close, CloseReason, Extension, Handshake, HandshakeRepr, EXT_HEADER_LEN,
    EXT_MAX_MESSAGE, HANDSHAKE_FIXED_LEN, MAX_HISTORY,
};
pub use trailer::Trailer;

/// The MSL EtherType: IEEE 802 "local experimental EtherType 1".
pub const ETHERTYPE_MSL: u16 = 0x88b5;
/// The frame format version this build speaks.
pub const VERSION: u8 = 1;
/// Header length written by this version.
pub const HEADER_LEN: usize = 44;
/// Length of the CRC32C trailer.
pub const CRC_LEN: usize = 4;

/// The flags byte's bits.
pub mod flag {
    /// The trailer is a 16-byte BLAKE3 keyed tag instead of a CRC32C.
    pub const AUTH: u8 = 0x01;
    /// The cumulative ack field is valid.
    pub const ACK: u8 = 0x02;
    /// The sender asks for an ack at once (end of a burst, probe).
    pub const ACK_NOW: u8 = 0x04;
    /// The two priority class bits.
    pub const PRIORITY_MASK: u8 = 0x30;
    /// Shift of the priority class bits.
    pub const PRIORITY_SHIFT: u8 = 4;
}

/// The MSL frame type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameType {
    /// Opens a session: payload is a [`HandshakeRepr`].
    Hello,
    /// Answers a hello: payload is a [`HandshakeRepr`].
    HelloAck,
    /// One fragment of a message.
    Data,
    /// Acknowledgement: payload is an [`AckRepr`] (selective-ack blocks, maybe none).
    Ack,
    /// Liveness; the payload is free for the transport (e.g. timestamps), maybe empty.
    Heartbeat,
    /// Orderly end of a session: payload is a reason code and text ([`parse_close`]).
    Close,
    /// Refusal of a frame or session (unknown session, mismatch): payload as for close.
    Reset,
}

impl FrameType {
    /// The type for a field value, or `None`.
    pub const fn from_u8(v: u8) -> Option<FrameType> {
        Some(match v {
            1 => FrameType::Hello,
            2 => FrameType::HelloAck,
            3 => FrameType::Data,
            4 => FrameType::Ack,
            5 => FrameType::Heartbeat,
            6 => FrameType::Close,
            7 => FrameType::Reset,
            _ => return None,
        })
    }

    /// The field value.
    pub const fn to_u8(self) -> u8 {
        match self {
            FrameType::Hello => 1,
            FrameType::HelloAck => 2,
            FrameType::Data => 3,
            FrameType::Ack => 4,
            FrameType::Heartbeat => 5,
            FrameType::Close => 6,
            FrameType::Reset => 7,
        }
    }
}

impl fmt::Display for FrameType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FrameType::Hello => "hello",
            FrameType::HelloAck => "hello-ack",
            FrameType::Data => "data",
            FrameType::Ack => "ack",
            FrameType::Heartbeat => "heartbeat",
            FrameType::Close => "close",
            FrameType::Reset => "reset",
        })
    }
}

/// The priority class: which stream a frame belongs to; lower values are sent first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    /// Handshakes, heartbeats, acks of control frames.
    #[default]
    Control,
    /// Mirrored events (client latency depends on them).
    Event,
    /// Memory image and disk resync.
    Bulk,
    /// Online verify and other background work.
    Background,
}

impl Priority {
    /// The class for a 2-bit value (higher bits ignored).
    pub const fn from_bits(v: u8) -> Priority {
        match v & 3 {
            0 => Priority::Control,
            1 => Priority::Event,
            2 => Priority::Bulk,
            _ => Priority::Background,
        }
    }

    /// The 2-bit value.
    pub const fn bits(self) -> u8 {
        self as u8
    }

    /// A short lower-case name (`control`, `event`, `bulk`, `background`).
    pub const fn name(self) -> &'static str {
        match self {
            Priority::Control => "control",
            Priority::Event => "event",
            Priority::Bulk => "bulk",
            Priority::Background => "background",
        }
    }
}

/// Bytes a frame's integrity trailer takes.
pub const fn integrity_len(auth: bool) -> usize {
    if auth {
        TAG_LEN
    } else {
        CRC_LEN
    }
}

/// The largest payload that keeps a frame within `mtu` (the interface MTU: bytes after the
/// Ethernet header and any VLAN tag, 1500 on plain Ethernet).
pub const fn max_payload(mtu: usize, auth: bool) -> usize {
    let p = mtu.saturating_sub(HEADER_LEN + integrity_len(auth));
    if p > u16::MAX as usize {
        u16::MAX as usize
    } else {
        p
    }
}

fn be16(b: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([b[o], b[o + 1]])
}
fn be32(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
fn be64(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_be_bytes(a)
}

fn check_version(b: &[u8]) -> Result<()> {
    need("MSL version", b, 1)?;
    if b[0] != VERSION {
        return Err(WireError::UnsupportedVersion {
            what: "MSL frame",
            found: b[0],
            supported: VERSION,
        });
    }
    Ok(())
}

/// A checked, zero-copy view of an MSL frame (the bytes after the link header).
#[derive(Debug, Clone)]
pub struct MslFrame<T: AsRef<[u8]>> {
    buffer: T,
    hlen: usize,
    plen: usize,
}

impl<T: AsRef<[u8]>> MslFrame<T> {
    /// Checks version, header length, frame type, that payload and trailer fit, and that a
    /// data fragment lies inside its message. Does not check integrity: see [`new_verified`].
    ///
    /// [`new_verified`]: Self::new_verified
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        check_version(b)?;
        need("MSL header", b, HEADER_LEN)?;
        let ty = FrameType::from_u8(b[1]).ok_or(WireError::BadField {
            field: "MSL frame type",
            value: b[1] as u32,
        })?;
        let hlen = b[3] as usize;
        if hlen < HEADER_LEN {
            return Err(WireError::BadLength {
                what: "MSL header",
                claimed: hlen,
                reason: "below the 44-byte version 1 header",
            });
        }
        let plen = be16(b, 4) as usize;
        let end = hlen + plen + integrity_len(b[2] & flag::AUTH != 0);
        need("MSL frame", b, end)?;
        if ty == FrameType::Data {
            let (off, total) = (be32(b, 36) as u64, be32(b, 40) as u64);
            if off + plen as u64 > total {
                return Err(WireError::BadLength {
                    what: "MSL fragment",
                    claimed: plen,
                    reason: "reaches past the message's total length",
                });
            }
        }
        Ok(MslFrame { buffer, hlen, plen })
    }

    /// The receive path: version check, structure, then one integrity check (CRC32C, or the
    /// tag with a key). With a key, every failure after the version check is
    /// [`WireError::BadAuth`]: the length fields of a frame that does not authenticate are
    /// only claims, and a forged frame must read as forged.
    pub fn new_verified(buffer: T, key: Option<&AuthKey>) -> Result<Self> {
        check_version(buffer.as_ref())?;
        verified(Self::new_checked(buffer), key, "MSL frame", Self::verify)
    }

    /// Checks the integrity trailer. Without a key: the CRC32C must match and a tagged frame
    /// is refused. With a key: the frame must be tagged and the tag must match.
    pub fn verify(&self, key: Option<&AuthKey>) -> Result<()> {
        let covered = self.covered();
        let trailer = self.integrity();
        match (key, self.is_authenticated()) {
            (None, false) => {
                let computed = super::crc::crc32c(covered);
                let carried = be32(trailer, 0);
                if computed != carried {
                    return Err(WireError::BadChecksum {
                        what: "MSL CRC32C",
                        carried,
                        computed,
                    });
                }
                Ok(())
            }
            (None, true) => Err(WireError::BadAuth {
                what: "MSL frame",
                reason: "tagged frame, but no key is configured",
            }),
            (Some(_), false) => Err(WireError::BadAuth {
                what: "MSL frame",
                reason: "no tag, but a key is configured",
            }),
            (Some(k), true) => {
                if tag_matches(trailer, &auth_tag(k, covered)) {
                    Ok(())
                } else {
                    Err(WireError::BadAuth {
                        what: "MSL frame",
                        reason: "tag does not match",
                    })
                }
            }
        }
    }

    /// The bytes the integrity trailer covers: header and payload.
    pub fn covered(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.hlen + self.plen]
    }

    /// The integrity trailer (CRC32C or tag).
    pub fn integrity(&self) -> &[u8] {
        let s = self.hlen + self.plen;
        &self.buffer.as_ref()[s..s + integrity_len(self.is_authenticated())]
    }

    /// Bytes the frame takes (without Ethernet padding).
    pub fn frame_len(&self) -> usize {
        self.hlen + self.plen + integrity_len(self.is_authenticated())
    }

    /// Frame type (checked in `new_checked`).
    pub fn frame_type(&self) -> FrameType {
        FrameType::from_u8(self.buffer.as_ref()[1]).unwrap_or(FrameType::Data)
    }
    /// The raw flags byte.
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[2]
    }
    /// True when the trailer is a tag.
    pub fn is_authenticated(&self) -> bool {
        self.flags() & flag::AUTH != 0
    }
    /// The priority class.
    pub fn priority(&self) -> Priority {
        Priority::from_bits(self.flags() >> flag::PRIORITY_SHIFT)
    }
    /// Header length.
    pub fn header_len(&self) -> usize {
        self.hlen
    }
    /// Payload length.
    pub fn payload_len(&self) -> usize {
        self.plen
    }
    /// Receive window in frames.
    pub fn window(&self) -> u16 {
        be16(self.buffer.as_ref(), 6)
    }
    /// Sender incarnation.
    pub fn sender_incarnation(&self) -> u64 {
        be64(self.buffer.as_ref(), 8)
    }
    /// Receiver incarnation as the sender knows it.
    pub fn receiver_incarnation(&self) -> u64 {
        be64(self.buffer.as_ref(), 16)
    }
    /// Sequence number.
    pub fn seq(&self) -> u32 {
        be32(self.buffer.as_ref(), 24)
    }
    /// Cumulative ack (meaningful when the ACK flag is set).
    pub fn ack(&self) -> u32 {
        be32(self.buffer.as_ref(), 28)
    }
    /// Message id.
    pub fn message_id(&self) -> u32 {
        be32(self.buffer.as_ref(), 32)
    }
    /// Fragment offset.
    pub fn fragment_offset(&self) -> u32 {
        be32(self.buffer.as_ref(), 36)
    }
    /// Message total length.
    pub fn message_len(&self) -> u32 {
        be32(self.buffer.as_ref(), 40)
    }
    /// True for the first fragment of a message (offset 0).
    pub fn is_first_fragment(&self) -> bool {
        self.fragment_offset() == 0
    }
    /// True for the last fragment of a message (it reaches the total length).
    pub fn is_last_fragment(&self) -> bool {
        self.fragment_offset() as u64 + self.plen as u64 == self.message_len() as u64
    }
    /// The payload.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.hlen..self.hlen + self.plen]
    }
}

/// A parsed MSL header. Whether a frame is tagged is not part of it: `emit` takes the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MslRepr {
    /// Frame type.
    pub frame_type: FrameType,
    /// Priority class (stream).
    pub priority: Priority,
    /// `flag::ACK`, `flag::ACK_NOW` and reserved bits (AUTH and priority bits are ignored
    /// here on emit and cleared on parse).
    pub flags: u8,
    /// Receive window, frames.
    pub window: u16,
    /// Sender incarnation.
    pub sender_incarnation: u64,
    /// Receiver incarnation as the sender knows it (0 = unknown).
    pub receiver_incarnation: u64,
    /// Sequence number.
    pub seq: u32,
    /// Cumulative ack: next sequence number expected.
    pub ack: u32,
    /// Message id (data frames).
    pub message_id: u32,
    /// Fragment offset (data frames).
    pub fragment_offset: u32,
    /// Message total length (data frames).
    pub message_len: u32,
    /// Payload length.
    pub payload_len: usize,
}

const REPR_FLAGS: u8 = !(flag::AUTH | flag::PRIORITY_MASK);

impl MslRepr {
    /// Ack and heartbeat frames: the sender's control counter (message id and fragment
    /// offset, which those frames do not use, as one 64-bit number).
    pub fn control_counter(&self) -> u64 {
        u64::from(self.message_id) << 32 | u64::from(self.fragment_offset)
    }

    /// Sets the control counter (ack and heartbeat frames only).
    pub fn set_control_counter(&mut self, n: u64) {
        self.message_id = (n >> 32) as u32;
        self.fragment_offset = n as u32;
    }
}

impl MslRepr {
    /// Reads a checked frame.
    pub fn parse<T: AsRef<[u8]>>(f: &MslFrame<T>) -> Result<MslRepr> {
        Ok(MslRepr {
            frame_type: f.frame_type(),
            priority: f.priority(),
            flags: f.flags() & REPR_FLAGS,
            window: f.window(),
            sender_incarnation: f.sender_incarnation(),
            receiver_incarnation: f.receiver_incarnation(),
            seq: f.seq(),
            ack: f.ack(),
            message_id: f.message_id(),
            fragment_offset: f.fragment_offset(),
            message_len: f.message_len(),
            payload_len: f.payload_len(),
        })
    }

    /// Bytes `emit` writes, with (`auth`) or without a tag.
    pub fn buffer_len(&self, auth: bool) -> usize {
        HEADER_LEN + self.payload_len + integrity_len(auth)
    }

    /// Writes header and trailer around a payload the caller already put at
    /// `buf[HEADER_LEN..HEADER_LEN + payload_len]` (so a fragment is copied once, straight
    /// into the frame). With a key the trailer is a tag, else a CRC32C. Returns the length.
    pub fn emit(&self, buf: &mut [u8], key: Option<&AuthKey>) -> Result<usize> {
        self.check_emit()?;
        let len = self.buffer_len(key.is_some());
        room("MSL frame", buf.len(), len)?;
        self.emit_header(buf, key)?;
        let end = HEADER_LEN + self.payload_len;
        let (covered, trailer) = buf[..len].split_at_mut(end);
        trailer.copy_from_slice(Trailer::over(&[covered], key).as_bytes());
        Ok(len)
    }

    /// Writes only the [`HEADER_LEN`]-byte header (flags say whether `key` tags the frame),
    /// for a payload and a [`Trailer`] that are sent from elsewhere (a vectored send).
    /// Returns [`HEADER_LEN`].
    pub fn emit_header(&self, buf: &mut [u8], key: Option<&AuthKey>) -> Result<usize> {
        self.check_emit()?;
        room("MSL header", buf.len(), HEADER_LEN)?;
        let auth = if key.is_some() { flag::AUTH } else { 0 };
        let b = &mut buf[..HEADER_LEN];
        b[0] = VERSION;
        b[1] = self.frame_type.to_u8();
        b[2] = (self.flags & REPR_FLAGS) | (self.priority.bits() << flag::PRIORITY_SHIFT) | auth;
        b[3] = HEADER_LEN as u8;
        b[4..6].copy_from_slice(&(self.payload_len as u16).to_be_bytes());
        b[6..8].copy_from_slice(&self.window.to_be_bytes());
        b[8..16].copy_from_slice(&self.sender_incarnation.to_be_bytes());
        b[16..24].copy_from_slice(&self.receiver_incarnation.to_be_bytes());
        b[24..28].copy_from_slice(&self.seq.to_be_bytes());
        b[28..32].copy_from_slice(&self.ack.to_be_bytes());
        b[32..36].copy_from_slice(&self.message_id.to_be_bytes());
        b[36..40].copy_from_slice(&self.fragment_offset.to_be_bytes());
        b[40..44].copy_from_slice(&self.message_len.to_be_bytes());
        Ok(HEADER_LEN)
    }

    /// The length checks shared by `emit` and `emit_header`.
    fn check_emit(&self) -> Result<()> {
        if self.payload_len > u16::MAX as usize {
            return Err(WireError::BadLength {
                what: "MSL payload",
                claimed: self.payload_len,
                reason: "exceeds the 16-bit length field",
            });
        }
        if self.frame_type == FrameType::Data
            && self.fragment_offset as u64 + self.payload_len as u64 > self.message_len as u64
        {
            return Err(WireError::BadLength {
                what: "MSL fragment",
                claimed: self.payload_len,
                reason: "reaches past the message's total length",
            });
        }
        Ok(())
    }

    /// Writes header, `payload` and trailer into `buf` (`payload_len` is taken from
    /// `payload`). Returns the length.
    pub fn emit_with_payload(
        &self,
        buf: &mut [u8],
        payload: &[u8],
        key: Option<&AuthKey>,
    ) -> Result<usize> {
        let repr = MslRepr {
            payload_len: payload.len(),
            ..*self
        };
        room("MSL frame", buf.len(), repr.buffer_len(key.is_some()))?;
        buf[HEADER_LEN..HEADER_LEN + payload.len()].copy_from_slice(payload);
        repr.emit(buf, key)
    }
}

/// The link header of an MSL frame.
pub fn ethernet_repr(dst: MacAddr, src: MacAddr, vlan: Option<VlanTag>) -> EthernetRepr {
    EthernetRepr {
        dst,
        src,
        vlan,
        encap: Encap::EthernetII {
            ethertype: ETHERTYPE_MSL,
        },
    }
}

/// A whole Ethernet frame carrying an MSL frame, viewed without copying.
#[derive(Debug, Clone)]
pub struct MslLinkFrame<'a> {
    /// The link header.
    pub eth: EthernetRepr,
    /// The MSL frame (verified).
    pub msl: MslFrame<&'a [u8]>,
}

impl<'a> MslLinkFrame<'a> {
    /// Parses and verifies a frame that must be MSL; another EtherType is
    /// [`WireError::WrongKind`].
    pub fn parse(frame: &'a [u8], key: Option<&AuthKey>) -> Result<MslLinkFrame<'a>> {
        let eth = EthernetFrame::new_checked(frame)?;
        if eth.encap()
            != (Encap::EthernetII {
                ethertype: ETHERTYPE_MSL,
            })
        {
            return Err(WireError::WrongKind {
                expected: "MSL",
                reason: "the frame is not of EtherType 0x88b5",
            });
        }
        let repr = EthernetRepr::parse(&eth)?;
        let off = eth.header_len();
        let msl = MslFrame::new_verified(&frame[off..], key)?;
        Ok(MslLinkFrame { eth: repr, msl })
    }
}

/// Builds a complete MSL Ethernet frame into `buf`: link header (`eth` must be from
/// [`ethernet_repr`]), MSL header, payload, trailer. Returns the frame length.
pub fn emit_msl_frame(
    buf: &mut [u8],
    eth: &EthernetRepr,
    repr: &MslRepr,
    payload: &[u8],
    key: Option<&AuthKey>,
) -> Result<usize> {
    match eth.encap {
        Encap::EthernetII { ethertype } if ethertype == ETHERTYPE_MSL => {}
        Encap::EthernetII { ethertype } => {
            return Err(WireError::BadField {
                field: "MSL EtherType",
                value: ethertype as u32,
            })
        }
        _ => {
            return Err(WireError::WrongKind {
                expected: "MSL",
                reason: "MSL frames are Ethernet_II",
            })
        }
    }
    let msl_len = HEADER_LEN + payload.len() + integrity_len(key.is_some());
    let total = eth.frame_len(msl_len);
    room("MSL Ethernet frame", buf.len(), total)?;
    let off = eth.emit(buf, msl_len)?;
    repr.emit_with_payload(&mut buf[off..off + msl_len], payload, key)?;
    Ok(total)
}
