//! The one error type of the wire layer.

use thiserror::Error;

/// Why a byte buffer could not be parsed (or a value could not be emitted).
///
/// Parsing never panics: every malformed input maps to one of these. The variants carry
/// enough numbers to print a useful one-line diagnosis (as `ipxdump` does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum WireError {
    /// The buffer ends before a structure does.
    #[error("truncated {what}: need {need} bytes, have {have}")]
    Truncated {
        /// Which structure was cut short.
        what: &'static str,
        /// Bytes the structure needs.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// A length field disagrees with the bytes present or with its own minimum.
    #[error("bad {what} length {claimed}: {reason}")]
    BadLength {
        /// Which length field.
        what: &'static str,
        /// The value the field claims.
        claimed: usize,
        /// Why it cannot be right.
        reason: &'static str,
    },
    /// A checksum or integrity code does not match the bytes.
    #[error("bad {what} checksum: carried {carried:#x}, computed {computed:#x}")]
    BadChecksum {
        /// Which checksum.
        what: &'static str,
        /// The value in the frame.
        carried: u32,
        /// The value computed over the frame.
        computed: u32,
    },
    /// A keyed authentication tag is missing or does not verify.
    #[error("{what} authentication failed: {reason}")]
    BadAuth {
        /// Which format.
        what: &'static str,
        /// Why (no tag, wrong tag, unexpected tag).
        reason: &'static str,
    },
    /// A magic number is not ours.
    #[error("bad {what} magic {found:#x}")]
    BadMagic {
        /// Which format.
        what: &'static str,
        /// The value found.
        found: u32,
    },
    /// A versioned format carries a version we do not speak.
    #[error("{what} version {found} is not supported (this build speaks {supported})")]
    UnsupportedVersion {
        /// Which format.
        what: &'static str,
        /// The version found.
        found: u8,
        /// The version this build speaks.
        supported: u8,
    },
    /// A field holds a value outside its defined range.
    #[error("bad {field} value {value:#x}")]
    BadField {
        /// Which field.
        field: &'static str,
        /// The value found.
        value: u32,
    },
    /// More list entries than the format allows.
    #[error("too many {what}: {count} (at most {max})")]
    TooMany {
        /// Which list.
        what: &'static str,
        /// Entries present or requested.
        count: usize,
        /// The format's limit.
        max: usize,
    },
    /// The frame is well formed but is not of the kind asked for.
    #[error("not {expected}: {reason}")]
    WrongKind {
        /// What the caller wanted (e.g. "IPX").
        expected: &'static str,
        /// What was found instead.
        reason: &'static str,
    },
    /// The output buffer is too small for `emit`.
    #[error("buffer too small to emit {what}: need {need} bytes, have {have}")]
    BufferTooSmall {
        /// What was being emitted.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
}

/// Result of wire-layer operations.
pub type Result<T> = core::result::Result<T, WireError>;

/// Checks that `buf` holds at least `need` bytes.
#[inline]
pub(crate) fn need(what: &'static str, buf: &[u8], need: usize) -> Result<()> {
    if buf.len() < need {
        Err(WireError::Truncated {
            what,
            need,
            have: buf.len(),
        })
    } else {
        Ok(())
    }
}

/// Checks that an output buffer of `have` bytes can take `need` bytes.
#[inline]
pub(crate) fn room(what: &'static str, have: usize, need: usize) -> Result<()> {
    if have < need {
        Err(WireError::BufferTooSmall { what, need, have })
    } else {
        Ok(())
    }
}
