//! The journal layer: which regions of a mirrored volume may differ between the two
//! servers, kept durably while a server runs alone, and the generation history that
//! decides the direction of a resync (DESIGN §6).
//!
//! | part | what |
//! |---|---|
//! | [`store`] | the bytes: a real file ([`FileStore`]) or memory that models crashes ([`MemStore`]) |
//! | [`format`](mod@format) | the journal file: two checksummed header slots, the extent map, the region bitmap |
//! | [`Journal`] | mark before acknowledging, flush lazily, clear after resync; trusted or rebuilt at open |
//! | [`mirror`] | the write path's order (sans-IO): mark, then write here and send, acknowledge on both copies (or the journal), clear when in sync |
//! | [`resync`] | the resync protocol's cores (sans-IO): versions keep a region copy from overwriting a newer write; the bitmap is the progress, so it resumes |
//!
//! **Regions.** The volume is cut into regions of `region_size` bytes (default 64 KiB)
//! and regions into extents of `extent_regions` (default 64: 4 MiB). Why 64 KiB: a region
//! is the unit of resync, sent as one MSL bulk message (seven 9000-byte frames): large
//! enough that per-message costs vanish beside the copy, small enough that a scattered
//! 4 KiB write resyncs at most 64 KiB. The bitmap takes 1 bit per region: 2 MiB of memory
//! per TiB of volume (plus 32 KiB for the extents); DRBD's 4 KiB bits take 32 MiB per
//! TiB. Why 4 MiB extents: a write's first touch of an extent costs one sync of the extent
//! map before it is acknowledged (DRBD's activity log uses the same size); later writes
//! there cost nothing until the region pages are flushed.

mod bits;
pub mod format;
pub mod mirror;
pub mod resync;
pub mod store;
mod tracker;

pub use format::{FormatError, Geometry};
pub use store::{FileStore, MemStore, Store, SECTOR};
pub use tracker::{Journal, JournalCounters, JournalError, JournalState, Opened};

/// Default region size: 64 KiB (see the module documentation).
pub const DEFAULT_REGION_SIZE: u32 = 64 << 10;
/// Default regions per extent: 64 (4 MiB extents).
pub const DEFAULT_EXTENT_REGIONS: u32 = 64;
