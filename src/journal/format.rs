//! The journal file's layout: two header slots, then the extent map, then the region
//! bitmap, in 4096-byte pages, every one checksummed.
//!
//! | offset | size | content |
//! |---|---|---|
//! | 0 | 4096 | header slot 0 |
//! | 4096 | 4096 | header slot 1 (the valid one with the higher sequence wins) |
//! | 8192 | 4096 × E | extent map: 1 bit per extent of `extent_regions` regions |
//! | 8192 + 4096 × E | 4096 × R | region bitmap: 1 bit per region |
//!
//! **Header slot** (big-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `SFT3JRNL` |
//! | 8 | 2 | format version (1) |
//! | 10 | 2 | zero |
//! | 12 | 4 | region size in bytes (a power of two, 4 KiB to 1 GiB) |
//! | 16 | 8 | volume size in bytes |
//! | 24 | 4 | regions per extent (a power of two) |
//! | 28 | 4 | flags: bit 0 the volume is consistent (no resync into it was cut short) |
//! | 32 | 8 | sequence: each header write is one more |
//! | 40 | 8 | the generation change tracking started from (0: not tracking) |
//! | 48 | 1 | generations in the history (at most 8) |
//! | 49 | 7 | zero |
//! | 56 | 64 | the history, newest first, 8 bytes each (unused: zero) |
//! | 120 | 3972 | zero |
//! | 4092 | 4 | CRC32C of bytes 0..4092 |
//!
//! **Bitmap page**: bytes 0..4088 hold 32,704 bits (bit `i % 8` of byte `i / 8`, least
//! significant first), then the page's number in the file (4 bytes: a page written to the
//! wrong place is caught) and the CRC32C of bytes 0..4092 (4 bytes). A page of zeros is
//! invalid: a file that grew without being written is not trusted.

use arrayvec::ArrayVec;
use thiserror::Error;

use crate::wire::crc::crc32c;
use crate::wire::msl::MAX_HISTORY;

/// Page size of the journal file.
pub const PAGE: usize = 4096;
/// The header's magic bytes.
pub const MAGIC: [u8; 8] = *b"SFT3JRNL";
/// The format version this build writes and reads.
pub const VERSION: u16 = 1;
/// Bits in one bitmap page.
pub const BITS_PER_PAGE: u64 = ((PAGE - 8) * 8) as u64;
/// Header slots at the start of the file.
pub const HEADER_SLOTS: u64 = 2;
/// Smallest and largest region sizes.
pub const REGION_SIZE_MIN: u32 = 4096;
/// See [`REGION_SIZE_MIN`].
pub const REGION_SIZE_MAX: u32 = 1 << 30;

/// Header flag: the volume is consistent (no resync into it was cut short).
pub const FLAG_CONSISTENT: u32 = 1;

/// Why journal bytes were refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// Not a journal (or its first bytes are damaged).
    #[error("not an sft3 journal (bad magic)")]
    BadMagic,
    /// Written by another format version.
    #[error("journal format version {found}, this build reads {VERSION}")]
    UnsupportedVersion {
        /// The version found.
        found: u16,
    },
    /// A checksum did not match.
    #[error("{what}: checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    BadChecksum {
        /// What was checked.
        what: &'static str,
        /// The stored CRC32C.
        stored: u32,
        /// The CRC32C of the bytes.
        computed: u32,
    },
    /// A page carries another page's number.
    #[error("page {at} says it is page {says}")]
    Misplaced {
        /// Where it was read.
        at: u32,
        /// The number it carries.
        says: u32,
    },
    /// Sizes that cannot describe a volume.
    #[error("bad geometry: {0}")]
    Geometry(&'static str),
    /// A field out of range.
    #[error("bad header: {0}")]
    Field(&'static str),
    /// Fewer bytes than the layout needs.
    #[error("truncated: {len} bytes, the layout needs {need}")]
    Truncated {
        /// Bytes present.
        len: u64,
        /// Bytes needed.
        need: u64,
    },
}

fn be32(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(x)
}

fn be64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(x)
}

/// How a volume is cut into regions and extents, and where each part of the file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Geometry {
    /// Volume size in bytes.
    pub volume_size: u64,
    /// Region size in bytes.
    pub region_size: u32,
    /// Regions per extent.
    pub extent_regions: u32,
    /// Regions (the last may be short).
    pub regions: u64,
    /// Extents.
    pub extents: u64,
    /// Pages of the extent map.
    pub extent_pages: u64,
    /// Pages of the region bitmap.
    pub region_pages: u64,
}

impl Geometry {
    /// Checks the sizes: a volume of at least one byte, a power-of-two region size within
    /// [`REGION_SIZE_MIN`]..=[`REGION_SIZE_MAX`], a power-of-two number of regions per
    /// extent.
    pub fn new(
        volume_size: u64,
        region_size: u32,
        extent_regions: u32,
    ) -> Result<Geometry, FormatError> {
        if volume_size == 0 {
            return Err(FormatError::Geometry("the volume is empty"));
        }
        if !region_size.is_power_of_two()
            || !(REGION_SIZE_MIN..=REGION_SIZE_MAX).contains(&region_size)
        {
            return Err(FormatError::Geometry(
                "the region size must be a power of two from 4 KiB to 1 GiB",
            ));
        }
        if !extent_regions.is_power_of_two() || extent_regions > 1 << 20 {
            return Err(FormatError::Geometry(
                "regions per extent must be a power of two up to 2^20",
            ));
        }
        let regions = volume_size.div_ceil(u64::from(region_size));
        let extents = regions.div_ceil(u64::from(extent_regions));
        let pages = |bits: u64| bits.div_ceil(BITS_PER_PAGE);
        let g = Geometry {
            volume_size,
            region_size,
            extent_regions,
            regions,
            extents,
            extent_pages: pages(extents),
            region_pages: pages(regions),
        };
        if g.page_count() > u64::from(u32::MAX) {
            return Err(FormatError::Geometry(
                "the journal would need over 2^32 pages",
            ));
        }
        Ok(g)
    }

    /// Pages in the file, headers included.
    pub fn page_count(&self) -> u64 {
        HEADER_SLOTS + self.extent_pages + self.region_pages
    }

    /// The file's length.
    pub fn file_len(&self) -> u64 {
        self.page_count() * PAGE as u64
    }

    /// The file page holding extent bit `e`, and the bit's index in it.
    pub fn extent_page(&self, e: u64) -> (u64, u64) {
        (HEADER_SLOTS + e / BITS_PER_PAGE, e % BITS_PER_PAGE)
    }

    /// The file page holding region bit `r`, and the bit's index in it.
    pub fn region_page(&self, r: u64) -> (u64, u64) {
        (
            HEADER_SLOTS + self.extent_pages + r / BITS_PER_PAGE,
            r % BITS_PER_PAGE,
        )
    }

    /// The extent of region `r`.
    pub fn extent_of(&self, r: u64) -> u64 {
        r / u64::from(self.extent_regions)
    }

    /// Bytes of memory the bitmaps take (the region bits and the extent bits).
    pub fn memory_bytes(&self) -> u64 {
        self.regions.div_ceil(8) + self.extents.div_ceil(8)
    }
}

/// One header slot's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The volume's geometry.
    pub geometry: Geometry,
    /// Flags ([`FLAG_CONSISTENT`]).
    pub flags: u32,
    /// Write sequence: the valid slot with the higher one is current.
    pub sequence: u64,
    /// The generation change tracking started from (0: not tracking).
    pub tracked_since: u64,
    /// Generation ids, newest first.
    pub history: ArrayVec<u64, MAX_HISTORY>,
}

impl Header {
    /// Parses a header slot (at least [`PAGE`] bytes).
    pub fn parse(b: &[u8]) -> Result<Header, FormatError> {
        let (b, stored, computed) = page_crcs(b)?;
        if b[..8] != MAGIC {
            return Err(FormatError::BadMagic);
        }
        if stored != computed {
            return Err(FormatError::BadChecksum {
                what: "journal header",
                stored,
                computed,
            });
        }
        let version = u16::from_be_bytes([b[8], b[9]]);
        if version != VERSION {
            return Err(FormatError::UnsupportedVersion { found: version });
        }
        let geometry = Geometry::new(be64(b, 16), be32(b, 12), be32(b, 24))?;
        let n = usize::from(b[48]);
        if n > MAX_HISTORY {
            return Err(FormatError::Field("history longer than 8"));
        }
        let history = (0..n).map(|i| be64(b, 56 + 8 * i)).collect();
        Ok(Header {
            geometry,
            flags: be32(b, 28),
            sequence: be64(b, 32),
            tracked_since: be64(b, 40),
            history,
        })
    }

    /// Writes the slot into `out` (its first [`PAGE`] bytes; everything else zero).
    pub fn emit(&self, out: &mut [u8; PAGE]) {
        out.fill(0);
        let g = &self.geometry;
        out[..8].copy_from_slice(&MAGIC);
        out[8..10].copy_from_slice(&VERSION.to_be_bytes());
        out[12..16].copy_from_slice(&g.region_size.to_be_bytes());
        out[16..24].copy_from_slice(&g.volume_size.to_be_bytes());
        out[24..28].copy_from_slice(&g.extent_regions.to_be_bytes());
        out[28..32].copy_from_slice(&self.flags.to_be_bytes());
        out[32..40].copy_from_slice(&self.sequence.to_be_bytes());
        out[40..48].copy_from_slice(&self.tracked_since.to_be_bytes());
        out[48] = self.history.len() as u8;
        for (i, g) in self.history.iter().enumerate() {
            out[56 + 8 * i..64 + 8 * i].copy_from_slice(&g.to_be_bytes());
        }
        let crc = crc32c(&out[..PAGE - 4]);
        out[PAGE - 4..].copy_from_slice(&crc.to_be_bytes());
    }
}

/// A whole page, its stored CRC32C (the last 4 bytes) and the one computed over the rest.
fn page_crcs(b: &[u8]) -> Result<(&[u8], u32, u32), FormatError> {
    let b = b.get(..PAGE).ok_or(FormatError::Truncated {
        len: b.len() as u64,
        need: PAGE as u64,
    })?;
    Ok((b, be32(b, PAGE - 4), crc32c(&b[..PAGE - 4])))
}

/// Checks bitmap page `number` (its bytes as read) and gives its bits.
pub fn parse_page(b: &[u8], number: u32) -> Result<&[u8], FormatError> {
    let (b, stored, computed) = page_crcs(b)?;
    if stored != computed || b.iter().all(|&x| x == 0) {
        return Err(FormatError::BadChecksum {
            what: "journal bitmap page",
            stored,
            computed,
        });
    }
    let says = be32(b, PAGE - 8);
    if says != number {
        return Err(FormatError::Misplaced { at: number, says });
    }
    Ok(&b[..PAGE - 8])
}

/// Writes bitmap page `number` with `bits` (at most 4088 bytes; the rest zero).
pub fn emit_page(bits: &[u8], number: u32, out: &mut [u8; PAGE]) {
    out.fill(0);
    let n = bits.len().min(PAGE - 8);
    out[..n].copy_from_slice(&bits[..n]);
    out[PAGE - 8..PAGE - 4].copy_from_slice(&number.to_be_bytes());
    let crc = crc32c(&out[..PAGE - 4]);
    out[PAGE - 4..].copy_from_slice(&crc.to_be_bytes());
}
