//! sft3 server-state ("I'm alive") packets: the payload of an IPX packet (type 4, PEP) sent to
//! socket [`Socket::SFT3_STATE`] (`0x5354`) every 5 ms by each server on every LAN adapter.
//!
//! All integers are big-endian. `N` is the adapter count (at most [`MAX_ADAPTERS`]).
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `53 46 54 33` ("SFT3") |
//! | 4 | 1 | format version ([`VERSION`] = 1) |
//! | 5 | 1 | flags ([`StateFlags`]) |
//! | 6 | 2 | body length `B`: offset of the auth trailer |
//! | 8 | 8 | sender server id |
//! | 16 | 32 | sender name, ASCII, NUL-padded |
//! | 48 | 8 | incarnation (new at each process start) |
//! | 56 | 8 | sequence number (per sender and incarnation, +1 per packet) |
//! | 64 | 8 | generation of the sender's data |
//! | 72 | 1 | role ([`Role`]) |
//! | 73 | 1 | mirror state ([`MirrorState`]) |
//! | 74 | 1 | tie-break priority (higher wins) |
//! | 75 | 1 | sender's view of the MSL ([`MslLinkState`]) |
//! | 76 | 4 | ms since the sender last heard an MSL frame (`FFFFFFFF` = never) |
//! | 80 | 4 | the engine's internal IPX network number |
//! | 84 | 4 | state packet interval, µs |
//! | 88 | 4 | total health score of all adapters |
//! | 92 | 1 | working adapters |
//! | 93 | 1 | `N`: adapter entries that follow |
//! | 94 + 6i | 6 | adapter i: index u8, flags u8 ([`AdapterFlags`]), score u16, peer age ms u16 |
//! | 94 + 6N | B − 94 − 6N | extension bytes (later minor revisions; skipped, but authenticated) |
//! | B | 1 | auth kind: 0 none, 1 BLAKE3 keyed, 16-byte tag |
//! | B + 1 | 0 or 16 | tag over bytes `0 .. B + 1` |
//!
//! The packet ends exactly after the trailer (the IPX length trims link padding).
//!
//! Authentication: a receiver with a key accepts only tagged packets whose tag verifies; one
//! without a key accepts tagged packets unverified (it cannot check them; `auth_kind` lets it
//! say so). Replay: `(incarnation, sequence)` are under the tag, but rejecting an old or
//! repeated pair is the receiver's job above this layer (it keeps the last pair per sender).

use arrayvec::ArrayVec;

use super::addr::{IpxAddr, Net, Socket};
use super::error::{need, room, Result, WireError};
use super::ipx::{Checksum, IpxRepr, PacketType};

mod fields;

pub use super::auth::{auth_tag, AuthKey, TAG_LEN};
use super::auth::{tag_matches, verified};
pub use fields::{
    name_field, trim_name, AdapterFlags, AdapterHealth, MirrorState, MslLinkState, NameDisplay,
    Role, StateFlags,
};

/// The socket state packets are sent to and from.
pub const SOCKET: Socket = Socket::SFT3_STATE;
/// The IPX packet type state packets carry.
pub const PACKET_TYPE: PacketType = PacketType::PEP;
/// "SFT3".
pub const MAGIC: u32 = 0x5346_5433;
/// The format version this build speaks.
pub const VERSION: u8 = 1;
/// Bytes before the adapter entries.
pub const FIXED_LEN: usize = 94;
/// Size of one adapter entry.
pub const ADAPTER_LEN: usize = 6;
/// Most adapter entries one packet carries (the summary fields cover any others).
pub const MAX_ADAPTERS: usize = 8;
/// Highest adapter score.
pub const MAX_SCORE: u16 = 1000;
/// Peer age meaning "never heard (or 65.535 s or more)".
pub const PEER_AGE_NEVER: u16 = 0xffff;
/// MSL age meaning "never heard".
pub const MSL_AGE_NEVER: u32 = 0xffff_ffff;
/// Length of a server name field.
pub const NAME_LEN: usize = 32;

/// The authentication kind of a packet's trailer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthKind {
    /// No tag (kind 0).
    None,
    /// BLAKE3 keyed hash truncated to 16 bytes (kind 1).
    Blake3,
}

impl AuthKind {
    /// Bytes of tag after the kind byte.
    pub const fn tag_len(self) -> usize {
        match self {
            AuthKind::None => 0,
            AuthKind::Blake3 => TAG_LEN,
        }
    }
}

/// Checks the magic and the version (the two fields read before authentication, so that a
/// foreign packet or a peer of another version is reported as such).
fn check_magic_version(b: &[u8]) -> Result<()> {
    need("state packet magic", b, 5)?;
    let magic = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    if magic != MAGIC {
        return Err(WireError::BadMagic {
            what: "state packet",
            found: magic,
        });
    }
    if b[4] != VERSION {
        return Err(WireError::UnsupportedVersion {
            what: "state packet",
            found: b[4],
            supported: VERSION,
        });
    }
    Ok(())
}

/// A checked, zero-copy view of a state packet (the IPX payload).
#[derive(Debug, Clone)]
pub struct StatePacket<T: AsRef<[u8]>> {
    buffer: T,
    body_len: usize,
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

impl<T: AsRef<[u8]>> StatePacket<T> {
    /// Checks magic, version, the adapter count, the body length and the trailer; the packet
    /// must end right after the tag. Does not verify the tag: see [`new_verified`].
    ///
    /// [`new_verified`]: Self::new_verified
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        check_magic_version(b)?;
        need("state packet", b, FIXED_LEN)?;
        let count = b[93] as usize;
        if count > MAX_ADAPTERS {
            return Err(WireError::TooMany {
                what: "state packet adapters",
                count,
                max: MAX_ADAPTERS,
            });
        }
        let body_len = be16(b, 6) as usize;
        if body_len < FIXED_LEN + count * ADAPTER_LEN {
            return Err(WireError::BadLength {
                what: "state packet body",
                claimed: body_len,
                reason: "shorter than its fields and adapter entries",
            });
        }
        need("state packet auth trailer", b, body_len + 1)?;
        let kind = match b[body_len] {
            0 => AuthKind::None,
            1 => AuthKind::Blake3,
            k => {
                return Err(WireError::BadField {
                    field: "state packet auth kind",
                    value: k as u32,
                })
            }
        };
        let total = body_len + 1 + kind.tag_len();
        need("state packet auth tag", b, total)?;
        if b.len() != total {
            return Err(WireError::BadLength {
                what: "state packet",
                claimed: b.len(),
                reason: "bytes after the auth trailer",
            });
        }
        Ok(StatePacket { buffer, body_len })
    }

    /// The receive path: checks magic and version, then (with a key) authenticates before
    /// anything else is trusted, then the structure. With a key, every failure after the
    /// version check is [`WireError::BadAuth`]: an unauthenticated length field is only a
    /// claim, and a forged packet must read as forged.
    pub fn new_verified(buffer: T, key: Option<&AuthKey>) -> Result<Self> {
        check_magic_version(buffer.as_ref())?;
        verified(Self::new_checked(buffer), key, "state packet", Self::verify)
    }

    /// Checks the trailer against `key`. With a key the packet must carry a matching tag; an
    /// untagged packet is rejected. Without a key every packet passes (a tag is not checked).
    pub fn verify(&self, key: Option<&AuthKey>) -> Result<()> {
        let Some(key) = key else { return Ok(()) };
        let b = self.buffer.as_ref();
        if self.auth_kind() != AuthKind::Blake3 {
            return Err(WireError::BadAuth {
                what: "state packet",
                reason: "no tag, but a key is configured",
            });
        }
        let covered = self.body_len + 1;
        let expected = auth_tag(key, &b[..covered]);
        if !tag_matches(&b[covered..], &expected) {
            return Err(WireError::BadAuth {
                what: "state packet",
                reason: "tag does not match",
            });
        }
        Ok(())
    }

    /// The trailer's auth kind.
    pub fn auth_kind(&self) -> AuthKind {
        if self.buffer.as_ref()[self.body_len] == 1 {
            AuthKind::Blake3
        } else {
            AuthKind::None
        }
    }

    /// Flags.
    pub fn flags(&self) -> StateFlags {
        StateFlags(self.buffer.as_ref()[5])
    }
    /// The body length field (offset of the auth trailer).
    pub fn body_len(&self) -> usize {
        self.body_len
    }
    /// Sender server id.
    pub fn server_id(&self) -> u64 {
        be64(self.buffer.as_ref(), 8)
    }
    /// The name field, trimmed at its first NUL.
    pub fn name(&self) -> &[u8] {
        trim_name(&self.buffer.as_ref()[16..48])
    }
    /// Incarnation.
    pub fn incarnation(&self) -> u64 {
        be64(self.buffer.as_ref(), 48)
    }
    /// Sequence number.
    pub fn sequence(&self) -> u64 {
        be64(self.buffer.as_ref(), 56)
    }
    /// Generation.
    pub fn generation(&self) -> u64 {
        be64(self.buffer.as_ref(), 64)
    }
    /// Role.
    pub fn role(&self) -> Role {
        Role::from_u8(self.buffer.as_ref()[72])
    }
    /// Mirror state.
    pub fn mirror_state(&self) -> MirrorState {
        MirrorState::from_u8(self.buffer.as_ref()[73])
    }
    /// Tie-break priority.
    pub fn priority(&self) -> u8 {
        self.buffer.as_ref()[74]
    }
    /// The sender's view of the MSL.
    pub fn msl_state(&self) -> MslLinkState {
        MslLinkState::from_u8(self.buffer.as_ref()[75])
    }
    /// ms since the sender's last MSL frame.
    pub fn msl_age_ms(&self) -> u32 {
        be32(self.buffer.as_ref(), 76)
    }
    /// The engine's internal network number.
    pub fn engine_net(&self) -> Net {
        Net(be32(self.buffer.as_ref(), 80))
    }
    /// State packet interval in µs.
    pub fn interval_us(&self) -> u32 {
        be32(self.buffer.as_ref(), 84)
    }
    /// Total health score.
    pub fn total_score(&self) -> u32 {
        be32(self.buffer.as_ref(), 88)
    }
    /// Working adapter count.
    pub fn working_adapters(&self) -> u8 {
        self.buffer.as_ref()[92]
    }
    /// The adapter entries.
    pub fn adapters(&self) -> impl Iterator<Item = AdapterHealth> + '_ {
        let b = self.buffer.as_ref();
        let n = b[93] as usize;
        b[FIXED_LEN..FIXED_LEN + n * ADAPTER_LEN]
            .chunks_exact(ADAPTER_LEN)
            .map(AdapterHealth::read)
    }
    /// Extension bytes between the adapter entries and the trailer (empty in version 1).
    pub fn extension(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[FIXED_LEN + b[93] as usize * ADAPTER_LEN..self.body_len]
    }
}

/// A parsed state packet (the trailer is not part of it: `emit` takes the key).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StateRepr {
    /// Flags.
    pub flags: StateFlags,
    /// Sender server id.
    pub server_id: u64,
    /// Sender name field, NUL-padded ASCII (see [`name_field`]).
    pub name: [u8; NAME_LEN],
    /// Changes at each process start.
    pub incarnation: u64,
    /// +1 per packet within an incarnation.
    pub sequence: u64,
    /// Current generation id of the sender's data.
    pub generation: u64,
    /// Role.
    pub role: Role,
    /// Mirror state.
    pub mirror_state: MirrorState,
    /// Configured tie-break preference (higher wins; then the higher server id).
    pub priority: u8,
    /// The sender's view of the MSL.
    pub msl_state: MslLinkState,
    /// ms since the sender last heard an MSL frame ([`MSL_AGE_NEVER`] = never).
    pub msl_age_ms: u32,
    /// The engine's internal network number (clients' routes can be checked against it).
    pub engine_net: Net,
    /// Interval between the sender's state packets, µs (sets the receiver's silence timer).
    pub interval_us: u32,
    /// Working adapters in total (all adapters, not only the listed ones).
    pub working_adapters: u8,
    /// Sum of all adapters' scores.
    pub total_score: u32,
    /// Per-adapter health, at most [`MAX_ADAPTERS`].
    pub adapters: ArrayVec<AdapterHealth, MAX_ADAPTERS>,
}

impl StateRepr {
    /// Reads a checked packet. An adapter score above [`MAX_SCORE`] is an error.
    pub fn parse<T: AsRef<[u8]>>(p: &StatePacket<T>) -> Result<StateRepr> {
        let mut adapters = ArrayVec::new();
        for a in p.adapters() {
            check_score(a.score)?;
            adapters.push(a); // new_checked bounded the count at MAX_ADAPTERS
        }
        let mut name = [0u8; NAME_LEN];
        name.copy_from_slice(&p.buffer.as_ref()[16..48]);
        Ok(StateRepr {
            flags: p.flags(),
            server_id: p.server_id(),
            name,
            incarnation: p.incarnation(),
            sequence: p.sequence(),
            generation: p.generation(),
            role: p.role(),
            mirror_state: p.mirror_state(),
            priority: p.priority(),
            msl_state: p.msl_state(),
            msl_age_ms: p.msl_age_ms(),
            engine_net: p.engine_net(),
            interval_us: p.interval_us(),
            working_adapters: p.working_adapters(),
            total_score: p.total_score(),
            adapters,
        })
    }

    /// Verifies and parses an IPX payload in one step (the receive path).
    pub fn parse_bytes(payload: &[u8], key: Option<&AuthKey>) -> Result<StateRepr> {
        StateRepr::parse(&StatePacket::new_verified(payload, key)?)
    }

    /// The name, trimmed at its first NUL.
    pub fn name(&self) -> &[u8] {
        trim_name(&self.name)
    }

    /// The name for display.
    pub fn name_display(&self) -> NameDisplay<'_> {
        NameDisplay(self.name())
    }

    /// How functional the sender is, for comparing two servers (scenario 4): working
    /// adapters first, then total score. Larger is better.
    pub fn functional_rank(&self) -> (u8, u32) {
        (self.working_adapters, self.total_score)
    }

    /// Bytes `emit` writes, with (`auth`) or without a tag.
    pub fn buffer_len(&self, auth: bool) -> usize {
        FIXED_LEN + self.adapters.len() * ADAPTER_LEN + 1 + if auth { TAG_LEN } else { 0 }
    }

    /// Writes the packet into `buf`; with a key the trailer carries a tag over all bytes
    /// before it. Returns the bytes written.
    pub fn emit(&self, buf: &mut [u8], key: Option<&AuthKey>) -> Result<usize> {
        for a in &self.adapters {
            check_score(a.score)?;
        }
        let len = self.buffer_len(key.is_some());
        room("state packet", buf.len(), len)?;
        let body_len = FIXED_LEN + self.adapters.len() * ADAPTER_LEN;
        let b = &mut buf[..len];
        b[0..4].copy_from_slice(&MAGIC.to_be_bytes());
        b[4] = VERSION;
        b[5] = self.flags.0;
        b[6..8].copy_from_slice(&(body_len as u16).to_be_bytes());
        b[8..16].copy_from_slice(&self.server_id.to_be_bytes());
        b[16..48].copy_from_slice(&self.name);
        b[48..56].copy_from_slice(&self.incarnation.to_be_bytes());
        b[56..64].copy_from_slice(&self.sequence.to_be_bytes());
        b[64..72].copy_from_slice(&self.generation.to_be_bytes());
        b[72] = self.role.to_u8();
        b[73] = self.mirror_state.to_u8();
        b[74] = self.priority;
        b[75] = self.msl_state.to_u8();
        b[76..80].copy_from_slice(&self.msl_age_ms.to_be_bytes());
        b[80..84].copy_from_slice(&self.engine_net.0.to_be_bytes());
        b[84..88].copy_from_slice(&self.interval_us.to_be_bytes());
        b[88..92].copy_from_slice(&self.total_score.to_be_bytes());
        b[92] = self.working_adapters;
        b[93] = self.adapters.len() as u8;
        for (a, out) in self
            .adapters
            .iter()
            .zip(b[FIXED_LEN..body_len].chunks_exact_mut(ADAPTER_LEN))
        {
            a.write(out);
        }
        match key {
            None => b[body_len] = 0,
            Some(k) => {
                b[body_len] = 1;
                let tag = auth_tag(k, &b[..body_len + 1]);
                b[body_len + 1..].copy_from_slice(&tag);
            }
        }
        Ok(len)
    }
}

fn check_score(score: u16) -> Result<()> {
    if score > MAX_SCORE {
        return Err(WireError::BadField {
            field: "adapter score",
            value: score as u32,
        });
    }
    Ok(())
}

/// The IPX header of a state packet from `src` to `dst` (both on socket `0x5354`, usually
/// `dst` is the segment broadcast): packet type 4, no IPX checksum (the tag or the Ethernet
/// FCS protects the payload), hop count 0.
pub fn ipx_header(src: IpxAddr, dst: IpxAddr, payload_len: usize) -> IpxRepr {
    IpxRepr {
        checksum: Checksum::None,
        hops: 0,
        packet_type: PACKET_TYPE,
        dst,
        src,
        payload_len,
    }
}
