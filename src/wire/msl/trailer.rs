//! An MSL frame's integrity trailer computed apart from the frame, for a vectored send
//! (header, payload and trailer in three buffers):
//!
//! | key | bytes | value |
//! |---|---|---|
//! | none | 4 | CRC32C of header then payload, big-endian |
//! | some | 16 | BLAKE3 keyed tag of header then payload, truncated |
//!
//! Fed part by part, so the payload is never concatenated with its header: the result is
//! the trailer [`MslRepr::emit`](super::MslRepr::emit) writes after the same bytes.

use crate::wire::auth::{auth_tag_parts, AuthKey, TAG_LEN};

use super::{integrity_len, CRC_LEN};

/// An integrity trailer (CRC32C or tag), or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Trailer {
    bytes: [u8; TAG_LEN],
    len: u8,
}

impl Trailer {
    /// No trailer (a frame built whole, trailer included).
    pub const EMPTY: Trailer = Trailer {
        bytes: [0; TAG_LEN],
        len: 0,
    };

    /// The trailer of a frame whose covered bytes (MSL header, then payload) are the
    /// concatenation of `parts`: with a key the tag, else the CRC32C.
    pub fn over(parts: &[&[u8]], key: Option<&AuthKey>) -> Trailer {
        let mut bytes = [0u8; TAG_LEN];
        match key {
            None => {
                let crc = crate::wire::crc::crc32c_parts(parts);
                bytes[..CRC_LEN].copy_from_slice(&crc.to_be_bytes());
            }
            Some(k) => bytes = auth_tag_parts(k, parts),
        }
        Trailer {
            bytes,
            len: integrity_len(key.is_some()) as u8,
        }
    }

    /// The bytes to send.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Its length: 0, [`CRC_LEN`] or [`TAG_LEN`].
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True for [`Trailer::EMPTY`].
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
