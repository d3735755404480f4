//! The error type of capture-file reading and writing.

use core::fmt;
use std::io;

use thiserror::Error;

/// Why a capture file could not be read (or a packet could not be written).
///
/// The reader yields at most one of these and then ends: after an error the rest of the file
/// cannot be framed. Offsets are byte positions from the start of the file (or stream).
#[derive(Debug, Error)]
pub enum CaptureError {
    /// The first four bytes are no pcap or pcapng magic.
    #[error("not a pcap or pcapng file: it starts with {}", Hex(.magic))]
    NotCapture {
        /// The first four bytes of the file.
        magic: [u8; 4],
    },
    /// A file or section header carries a version this reader does not speak.
    #[error("unsupported {format} version {major}.{minor}")]
    UnsupportedVersion {
        /// "pcap" or "pcapng".
        format: &'static str,
        /// Major version found.
        major: u16,
        /// Minor version found.
        minor: u16,
    },
    /// The file ends in the middle of a header, record or block.
    #[error("truncated {what} at offset {offset}: need {need} bytes, have {have}")]
    Truncated {
        /// What was cut short.
        what: &'static str,
        /// Where it starts.
        offset: u64,
        /// Bytes it needs.
        need: u64,
        /// Bytes the file still had.
        have: u64,
    },
    /// A record claims more than [`MAX_RECORD_LEN`](super::MAX_RECORD_LEN) bytes: the file is
    /// corrupt (or not framed where we think it is).
    #[error("{what} at offset {offset} claims {len} bytes (more than {max}): corrupt file")]
    TooLong {
        /// Which record or block.
        what: &'static str,
        /// Where it starts.
        offset: u64,
        /// The length it claims.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A pcapng block total length is impossible.
    #[error(
        "pcapng block type {block_type:#x} at offset {offset}: bad total length {len}: {reason}"
    )]
    BadBlockLength {
        /// The block type.
        block_type: u32,
        /// Where the block starts.
        offset: u64,
        /// The leading total length.
        len: u32,
        /// Why it cannot be right.
        reason: &'static str,
    },
    /// The two copies of a pcapng block's total length differ.
    #[error(
        "pcapng block type {block_type:#x} at offset {offset}: total length {head} at the start \
         but {tail} at the end"
    )]
    BlockLengthMismatch {
        /// The block type.
        block_type: u32,
        /// Where the block starts.
        offset: u64,
        /// The leading total length.
        head: u32,
        /// The trailing total length.
        tail: u32,
    },
    /// A block's contents are inconsistent.
    #[error("malformed {what} at offset {offset}: {reason}")]
    Malformed {
        /// Which block.
        what: &'static str,
        /// Where the block starts.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// A packet names an interface its section has not described.
    #[error("packet at offset {offset} names interface {id}, but the section describes {count}")]
    UnknownInterface {
        /// Where the block starts.
        offset: u64,
        /// The interface id in the packet.
        id: u32,
        /// Interfaces described so far in the section.
        count: usize,
    },
    /// The writer cannot represent a packet in classic pcap.
    #[error("cannot write packet: {reason}")]
    Unrepresentable {
        /// What does not fit.
        reason: &'static str,
    },
    /// The underlying reader or writer failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

/// Space-separated hex bytes.
struct Hex<'a>(&'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}
