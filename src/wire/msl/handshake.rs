//! Payloads of MSL hello / hello-ack frames (the handshake) and of close / reset frames.
//!
//! Handshake, big-endian, `N` history entries (at most [`MAX_HISTORY`]):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | server id |
//! | 8 | 32 | server name, ASCII, NUL-padded |
//! | 40 | 1 | lowest MSL version the sender speaks |
//! | 41 | 1 | highest MSL version the sender speaks |
//! | 42 | 1 | role ([`Role`]) |
//! | 43 | 1 | flags ([`StateFlags`]) |
//! | 44 | 1 | tie-break priority |
//! | 45 | 1 | `N` |
//! | 46 | 2 | largest MSL frame the sender accepts (bytes after the link header) |
//! | 48 | 8 | volume size, bytes |
//! | 56 | 4 | region size, bytes (change-tracking granularity) |
//! | 60 | 4 | engine version |
//! | 64 | 8 | generation the change tracking started from (0 = not tracking) |
//! | 72 + 8i | 8 | generation history, newest (current) first |
//! | 72 + 8N | .. | extensions, to the end of the payload (none in the original form) |
//!
//! Each extension is a type-length-value entry; unknown types are skipped, so later minor
//! revisions can add more. A parser of the original form skips the whole area.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | type |
//! | 2 | 2 | `L`, bytes of value |
//! | 4 | `L` | value |
//!
//! | type | `L` | value |
//! |---|---|---|
//! | 1 ([`EXT_MAX_MESSAGE`]) | 8 | largest message the sender accepts, bytes (u64) |
//!
//! An entry that overruns the payload, a known type with another length, or a known type
//! given twice is an error. An absent extension means the value is unknown.
//!
//! The sender's incarnation is the frame header's; it is not repeated here.
//!
//! Close / reset: reason code u16 ([`CloseReason`]), then optional ASCII text to the end.

use core::fmt;

use arrayvec::ArrayVec;

use crate::wire::error::{need, room, Result, WireError};
use crate::wire::state::{trim_name, NameDisplay, Role, StateFlags, NAME_LEN};

/// Bytes before the generation history.
pub const HANDSHAKE_FIXED_LEN: usize = 72;
/// Most generation history entries.
pub const MAX_HISTORY: usize = 8;
/// Bytes of an extension entry's type and length.
pub const EXT_HEADER_LEN: usize = 4;
/// Extension type: the largest message the sender accepts (u64, big-endian).
pub const EXT_MAX_MESSAGE: u16 = 1;

/// One extension entry: its type and value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extension<'a> {
    /// The entry's type.
    pub kind: u16,
    /// Its value.
    pub value: &'a [u8],
}

/// Walks the extension area, checking that each entry fits; at most one error, at the end.
fn extensions(area: &[u8]) -> impl Iterator<Item = Result<Extension<'_>>> + '_ {
    let mut rest = area;
    core::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let entry = match rest {
            [t0, t1, l0, l1, tail @ ..] => {
                let len = usize::from(u16::from_be_bytes([*l0, *l1]));
                match tail.split_at_checked(len) {
                    Some((value, next)) => {
                        rest = next;
                        Ok(Extension {
                            kind: u16::from_be_bytes([*t0, *t1]),
                            value,
                        })
                    }
                    None => Err(WireError::BadLength {
                        what: "MSL handshake extension",
                        claimed: len,
                        reason: "runs past the payload",
                    }),
                }
            }
            _ => Err(WireError::Truncated {
                what: "MSL handshake extension header",
                need: EXT_HEADER_LEN,
                have: rest.len(),
            }),
        };
        if entry.is_err() {
            rest = &[];
        }
        Some(entry)
    })
}

/// Checks the extension area and returns the known values (`max message`).
fn check_extensions(area: &[u8]) -> Result<Option<u64>> {
    let mut max_message = None;
    for e in extensions(area) {
        let e = e?;
        if e.kind == EXT_MAX_MESSAGE {
            let v: [u8; 8] = e.value.try_into().map_err(|_| WireError::BadLength {
                what: "MSL handshake max-message extension",
                claimed: e.value.len(),
                reason: "must be 8",
            })?;
            if max_message.replace(u64::from_be_bytes(v)).is_some() {
                return Err(WireError::BadField {
                    field: "MSL handshake extension given twice",
                    value: u32::from(e.kind),
                });
            }
        }
    }
    Ok(max_message)
}

fn be64(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_be_bytes(a)
}
fn be32(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

/// A checked, zero-copy view of a handshake payload.
#[derive(Debug, Clone)]
pub struct Handshake<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Handshake<T> {
    /// Checks the fixed part, the history count and that the history fits.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        need("MSL handshake", b, HANDSHAKE_FIXED_LEN)?;
        let n = b[45] as usize;
        if n > MAX_HISTORY {
            return Err(WireError::TooMany {
                what: "generation history entries",
                count: n,
                max: MAX_HISTORY,
            });
        }
        need("MSL handshake history", b, HANDSHAKE_FIXED_LEN + 8 * n)?;
        check_extensions(&b[HANDSHAKE_FIXED_LEN + 8 * n..])?;
        Ok(Handshake { buffer })
    }

    /// Server id.
    pub fn server_id(&self) -> u64 {
        be64(self.buffer.as_ref(), 0)
    }
    /// Server name, trimmed at its first NUL.
    pub fn name(&self) -> &[u8] {
        trim_name(&self.buffer.as_ref()[8..40])
    }
    /// Lowest and highest MSL versions the sender speaks.
    pub fn versions(&self) -> (u8, u8) {
        let b = self.buffer.as_ref();
        (b[40], b[41])
    }
    /// Role.
    pub fn role(&self) -> Role {
        Role::from_u8(self.buffer.as_ref()[42])
    }
    /// Flags.
    pub fn flags(&self) -> StateFlags {
        StateFlags(self.buffer.as_ref()[43])
    }
    /// Tie-break priority.
    pub fn priority(&self) -> u8 {
        self.buffer.as_ref()[44]
    }
    /// Largest MSL frame the sender accepts.
    pub fn max_frame(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[46], b[47]])
    }
    /// Volume size in bytes.
    pub fn volume_size(&self) -> u64 {
        be64(self.buffer.as_ref(), 48)
    }
    /// Region size in bytes.
    pub fn region_size(&self) -> u32 {
        be32(self.buffer.as_ref(), 56)
    }
    /// Engine version.
    pub fn engine_version(&self) -> u32 {
        be32(self.buffer.as_ref(), 60)
    }
    /// Generation the change tracking started from (0 = none).
    pub fn tracked_since(&self) -> u64 {
        be64(self.buffer.as_ref(), 64)
    }
    /// The generation history, newest first.
    pub fn history(&self) -> impl Iterator<Item = u64> + '_ {
        let b = self.buffer.as_ref();
        let n = b[45] as usize;
        b[HANDSHAKE_FIXED_LEN..HANDSHAKE_FIXED_LEN + 8 * n]
            .chunks_exact(8)
            .map(|c| be64(c, 0))
    }
    /// The extension area (after the history), raw.
    pub fn extension_bytes(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[HANDSHAKE_FIXED_LEN + 8 * b[45] as usize..]
    }
    /// The extension entries, in order (`new_checked` made sure they fit).
    pub fn extensions(&self) -> impl Iterator<Item = Extension<'_>> + '_ {
        extensions(self.extension_bytes()).map_while(|e| e.ok())
    }
    /// The largest message the sender accepts, when it says.
    pub fn max_message(&self) -> Option<u64> {
        check_extensions(self.extension_bytes()).ok().flatten()
    }
}

/// A parsed handshake payload.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HandshakeRepr {
    /// Server id.
    pub server_id: u64,
    /// Name field, NUL-padded ASCII.
    pub name: [u8; NAME_LEN],
    /// Lowest MSL version the sender speaks.
    pub min_version: u8,
    /// Highest MSL version the sender speaks.
    pub max_version: u8,
    /// Role.
    pub role: Role,
    /// Flags (serving, data consistent, tracking changes, waiting for the operator).
    pub flags: StateFlags,
    /// Tie-break priority (higher wins, then the higher server id).
    pub priority: u8,
    /// Largest MSL frame the sender accepts (bytes after the link header).
    pub max_frame: u16,
    /// Volume size in bytes (must match the peer's to mirror).
    pub volume_size: u64,
    /// Region size in bytes (must match).
    pub region_size: u32,
    /// Engine version (must be compatible).
    pub engine_version: u32,
    /// Generation the change tracking started from (0 = not tracking): when it equals the
    /// peer's current generation, an incremental resync is possible.
    pub tracked_since: u64,
    /// Generation history, newest (current) first.
    pub history: ArrayVec<u64, MAX_HISTORY>,
    /// Largest message the sender accepts, bytes (extension type 1); `None`
    /// when absent (a sender of the original form): unknown.
    pub max_message: Option<u64>,
}

impl HandshakeRepr {
    /// Reads a checked payload; a version range with min above max is an error.
    pub fn parse<T: AsRef<[u8]>>(h: &Handshake<T>) -> Result<HandshakeRepr> {
        let (min_version, max_version) = h.versions();
        if min_version > max_version {
            return Err(WireError::BadField {
                field: "MSL handshake version range",
                value: (min_version as u32) << 8 | max_version as u32,
            });
        }
        let mut name = [0u8; NAME_LEN];
        name.copy_from_slice(&h.buffer.as_ref()[8..40]);
        Ok(HandshakeRepr {
            server_id: h.server_id(),
            name,
            min_version,
            max_version,
            role: h.role(),
            flags: h.flags(),
            priority: h.priority(),
            max_frame: h.max_frame(),
            volume_size: h.volume_size(),
            region_size: h.region_size(),
            engine_version: h.engine_version(),
            tracked_since: h.tracked_since(),
            history: h.history().collect(), // new_checked bounded the count
            max_message: h.max_message(),
        })
    }

    /// Parses payload bytes in one step.
    pub fn parse_bytes(payload: &[u8]) -> Result<HandshakeRepr> {
        HandshakeRepr::parse(&Handshake::new_checked(payload)?)
    }

    /// The name, trimmed at its first NUL.
    pub fn name(&self) -> &[u8] {
        trim_name(&self.name)
    }

    /// The name for display.
    pub fn name_display(&self) -> NameDisplay<'_> {
        NameDisplay(self.name())
    }

    /// The current generation (the newest history entry), if any.
    pub fn current_generation(&self) -> Option<u64> {
        self.history.first().copied()
    }

    /// Bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        let ext = self.max_message.map_or(0, |_| EXT_HEADER_LEN + 8);
        HANDSHAKE_FIXED_LEN + 8 * self.history.len() + ext
    }

    /// Writes the payload; returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if self.min_version > self.max_version {
            return Err(WireError::BadField {
                field: "MSL handshake version range",
                value: (self.min_version as u32) << 8 | self.max_version as u32,
            });
        }
        let len = self.buffer_len();
        room("MSL handshake", buf.len(), len)?;
        let b = &mut buf[..len];
        b[0..8].copy_from_slice(&self.server_id.to_be_bytes());
        b[8..40].copy_from_slice(&self.name);
        b[40] = self.min_version;
        b[41] = self.max_version;
        b[42] = self.role.to_u8();
        b[43] = self.flags.0;
        b[44] = self.priority;
        b[45] = self.history.len() as u8;
        b[46..48].copy_from_slice(&self.max_frame.to_be_bytes());
        b[48..56].copy_from_slice(&self.volume_size.to_be_bytes());
        b[56..60].copy_from_slice(&self.region_size.to_be_bytes());
        b[60..64].copy_from_slice(&self.engine_version.to_be_bytes());
        b[64..72].copy_from_slice(&self.tracked_since.to_be_bytes());
        for (g, out) in self
            .history
            .iter()
            .zip(b[HANDSHAKE_FIXED_LEN..].chunks_exact_mut(8))
        {
            out.copy_from_slice(&g.to_be_bytes());
        }
        if let Some(m) = self.max_message {
            let e = &mut b[HANDSHAKE_FIXED_LEN + 8 * self.history.len()..];
            e[0..2].copy_from_slice(&EXT_MAX_MESSAGE.to_be_bytes());
            e[2..4].copy_from_slice(&8u16.to_be_bytes());
            e[4..12].copy_from_slice(&m.to_be_bytes());
        }
        Ok(len)
    }
}

/// Why a session was closed or reset. Unknown codes are kept (the text still helps).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CloseReason(pub u16);

impl CloseReason {
    /// No reason given.
    pub const UNSPECIFIED: CloseReason = CloseReason(0);
    /// The sender is shutting down on purpose.
    pub const SHUTDOWN: CloseReason = CloseReason(1);
    /// No MSL version in common.
    pub const VERSION_MISMATCH: CloseReason = CloseReason(2);
    /// Volume size, region size or engine version differ.
    pub const CONFIG_MISMATCH: CloseReason = CloseReason(3);
    /// The generation histories diverged; the operator must choose.
    pub const DIVERGED: CloseReason = CloseReason(4);
    /// A frame failed authentication.
    pub const AUTH_FAILURE: CloseReason = CloseReason(5);
    /// The frame names a session (incarnations) the sender does not have.
    pub const UNKNOWN_SESSION: CloseReason = CloseReason(6);
    /// The peer was silent too long.
    pub const TIMEOUT: CloseReason = CloseReason(7);

    /// A short name, or `None` for an unassigned code.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "unspecified",
            1 => "shutdown",
            2 => "version-mismatch",
            3 => "config-mismatch",
            4 => "diverged",
            5 => "auth-failure",
            6 => "unknown-session",
            7 => "timeout",
            _ => return None,
        })
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "reason-{}", self.0),
        }
    }
}

impl fmt::Debug for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloseReason({self})")
    }
}

/// Reads a close or reset payload: the reason and the text after it.
pub fn parse_close(payload: &[u8]) -> Result<(CloseReason, &[u8])> {
    need("MSL close reason", payload, 2)?;
    Ok((
        CloseReason(u16::from_be_bytes([payload[0], payload[1]])),
        &payload[2..],
    ))
}

/// Writes a close or reset payload; returns the bytes written.
pub fn emit_close(buf: &mut [u8], reason: CloseReason, text: &[u8]) -> Result<usize> {
    let len = 2 + text.len();
    room("MSL close payload", buf.len(), len)?;
    buf[0..2].copy_from_slice(&reason.0.to_be_bytes());
    buf[2..len].copy_from_slice(text);
    Ok(len)
}
