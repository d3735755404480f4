//! The payload of an MSL ack frame: selective-ack blocks.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 8i | 4 | block i: first sequence number received (inclusive) |
//! | 8i + 4 | 4 | block i: sequence number after the last one received (exclusive) |
//!
//! Zero to [`MAX_SACK_BLOCKS`] blocks; the frame's payload length gives the count. Blocks
//! name frames received above the cumulative ack, in the stream of the frame's priority
//! class. Sequence arithmetic wraps: a block is valid when `end - start` (mod 2³²) is between
//! 1 and 2³¹ − 1.

use arrayvec::ArrayVec;

use crate::wire::error::{room, Result, WireError};

/// Size of one block.
pub const SACK_BLOCK_LEN: usize = 8;
/// Most blocks one ack carries.
pub const MAX_SACK_BLOCKS: usize = 8;

/// A run of received sequence numbers, `start .. end` (wrapping).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SackBlock {
    /// First sequence number of the run.
    pub start: u32,
    /// The sequence number after the run.
    pub end: u32,
}

impl SackBlock {
    /// Number of sequence numbers in the block (wrapping).
    pub const fn len(&self) -> u32 {
        self.end.wrapping_sub(self.start)
    }

    /// True for an empty block (invalid on the wire).
    pub const fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// True when `seq` lies in the block (wrapping).
    pub const fn contains(&self, seq: u32) -> bool {
        seq.wrapping_sub(self.start) < self.len()
    }

    fn check(&self) -> Result<()> {
        let n = self.len();
        if n == 0 || n >= 1 << 31 {
            return Err(WireError::BadField {
                field: "SACK block length",
                value: n,
            });
        }
        Ok(())
    }

    fn read(b: &[u8]) -> SackBlock {
        SackBlock {
            start: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            end: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
}

/// A checked, zero-copy view of an ack payload.
#[derive(Debug, Clone)]
pub struct AckPayload<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> AckPayload<T> {
    /// Checks the payload is whole blocks, at most [`MAX_SACK_BLOCKS`].
    pub fn new_checked(buffer: T) -> Result<Self> {
        let n = buffer.as_ref().len();
        if n % SACK_BLOCK_LEN != 0 {
            return Err(WireError::BadLength {
                what: "MSL ack payload",
                claimed: n,
                reason: "ends inside a SACK block",
            });
        }
        if n / SACK_BLOCK_LEN > MAX_SACK_BLOCKS {
            return Err(WireError::TooMany {
                what: "SACK blocks",
                count: n / SACK_BLOCK_LEN,
                max: MAX_SACK_BLOCKS,
            });
        }
        Ok(AckPayload { buffer })
    }

    /// Number of blocks.
    pub fn block_count(&self) -> usize {
        self.buffer.as_ref().len() / SACK_BLOCK_LEN
    }

    /// The blocks in order.
    pub fn blocks(&self) -> impl Iterator<Item = SackBlock> + '_ {
        self.buffer
            .as_ref()
            .chunks_exact(SACK_BLOCK_LEN)
            .map(SackBlock::read)
    }
}

/// A parsed ack payload.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct AckRepr {
    /// Selective-ack blocks.
    pub blocks: ArrayVec<SackBlock, MAX_SACK_BLOCKS>,
}

impl AckRepr {
    /// Reads a checked payload; an empty or over-long block is an error.
    pub fn parse<T: AsRef<[u8]>>(p: &AckPayload<T>) -> Result<AckRepr> {
        let mut blocks = ArrayVec::new();
        for blk in p.blocks() {
            blk.check()?;
            blocks.push(blk); // new_checked bounded the count
        }
        Ok(AckRepr { blocks })
    }

    /// Parses payload bytes in one step.
    pub fn parse_bytes(payload: &[u8]) -> Result<AckRepr> {
        AckRepr::parse(&AckPayload::new_checked(payload)?)
    }

    /// Bytes `emit` writes.
    pub fn buffer_len(&self) -> usize {
        self.blocks.len() * SACK_BLOCK_LEN
    }

    /// Writes the blocks; returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        for blk in &self.blocks {
            blk.check()?;
        }
        let len = self.buffer_len();
        room("MSL ack payload", buf.len(), len)?;
        for (blk, out) in self
            .blocks
            .iter()
            .zip(buf[..len].chunks_exact_mut(SACK_BLOCK_LEN))
        {
            out[0..4].copy_from_slice(&blk.start.to_be_bytes());
            out[4..8].copy_from_slice(&blk.end.to_be_bytes());
        }
        Ok(len)
    }
}
