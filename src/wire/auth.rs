//! Keyed authentication tags shared by the server-state packet and MSL frames.
//!
//! A tag is the BLAKE3 keyed hash of the covered bytes, truncated to 16 bytes. The two formats
//! share the key without domain separation: their first bytes (magic `SFT3` vs MSL version 1)
//! are under the tag, so one can never pass for the other.

use super::error::{Result, WireError};

/// Length of a truncated BLAKE3 tag (state packets and MSL frames).
pub const TAG_LEN: usize = 16;

/// A shared 32-byte authentication key (BLAKE3 keyed mode).
pub type AuthKey = [u8; 32];

/// The keyed BLAKE3 hash of `bytes`, truncated to [`TAG_LEN`] bytes.
pub fn auth_tag(key: &AuthKey, bytes: &[u8]) -> [u8; TAG_LEN] {
    let h = blake3::keyed_hash(key, bytes);
    let mut t = [0u8; TAG_LEN];
    t.copy_from_slice(&h.as_bytes()[..TAG_LEN]);
    t
}

/// Compares a carried tag with the expected one in constant time.
pub(crate) fn tag_matches(carried: &[u8], expected: &[u8; TAG_LEN]) -> bool {
    carried.len() == TAG_LEN
        && carried
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The receive path shared by the tagged formats: structure first, then `verify`. With a key,
/// a structural error reads as an authentication failure, since the length fields of bytes
/// that do not authenticate are only claims and a forgery must read as a forgery.
pub(crate) fn verified<V>(
    checked: Result<V>,
    key: Option<&AuthKey>,
    what: &'static str,
    verify: impl FnOnce(&V, Option<&AuthKey>) -> Result<()>,
) -> Result<V> {
    let v = match (checked, key) {
        (Ok(v), _) => v,
        (Err(e), None) => return Err(e),
        (Err(_), Some(_)) => {
            return Err(WireError::BadAuth {
                what,
                reason: "malformed, so it does not authenticate",
            })
        }
    };
    verify(&v, key)?;
    Ok(v)
}

/// [`auth_tag`] of the concatenation of `parts`, without concatenating them (a frame's
/// header and a payload that lives elsewhere).
pub fn auth_tag_parts(key: &AuthKey, parts: &[&[u8]]) -> [u8; TAG_LEN] {
    let mut h = blake3::Hasher::new_keyed(key);
    for p in parts {
        h.update(p);
    }
    let mut t = [0u8; TAG_LEN];
    t.copy_from_slice(&h.finalize().as_bytes()[..TAG_LEN]);
    t
}
