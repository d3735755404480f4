//! [`Journal`]: which regions of the volume may differ from the peer's, kept so that a
//! crash of the lone server at any moment loses none of them.
//!
//! **The rule.** A write to a region is acknowledged only after the region is known dirty
//! *durably*. Syncing the bitmap at every first write to a region would cost a sync per
//! region; instead, as DRBD's activity log does, the region bit is set in memory and its
//! **extent** (a run of `extent_regions` regions, 64 by default: 4 MiB) is made *hot* on
//! disk before [`Journal::mark`] returns. Region pages reach the disk later
//! ([`Journal::flush`]), and then the hot extents go cold. After a crash the dirty set is
//! the region bits on disk *plus every region of every hot extent*: a superset of what was
//! written, never less.
//!
//! | step | what is written | synced before |
//! |---|---|---|
//! | the first new dirty region of a cold extent | the extent's page, its bit set (hot) | the write is acknowledged |
//! | later writes in that extent, or to regions already dirty | nothing | |
//! | [`flush`](Journal::flush) (every second, and at a clean stop) | changed region pages, then the hot extents' pages with their bits cleared (cold) | it returns |
//! | a region resynced ([`clear`](Journal::clear)) | its bit cleared in memory, on disk at the next flush | |
//! | a new generation, a change of flags ([`set_state`](Journal::set_state)) | the header, into the older of its two slots | it returns |
//!
//! **Trust.** Every page and header slot carries a CRC32C and its place. At
//! [`open`](Journal::open), a missing or short file, a damaged page or header, or a layout
//! other than the configured one means the journal cannot say what differs: the journal
//! is rewritten with **every region dirty** (so the next resync is full) and the reason is
//! returned for the admin log. It is never trusted silently.

use std::collections::BTreeSet;
use std::io;

use arrayvec::ArrayVec;
use thiserror::Error;

use super::bits::Bits;
use super::format::{
    emit_page, parse_page, FormatError, Geometry, Header, BITS_PER_PAGE, FLAG_CONSISTENT,
    HEADER_SLOTS, PAGE,
};
use super::store::Store;
use crate::wire::msl::MAX_HISTORY;

/// Bytes of bits in one page.
const PAGE_BITS_BYTES: usize = (BITS_PER_PAGE / 8) as usize;

/// An I/O failure of the journal (the caller must not acknowledge the write it was for).
#[derive(Debug, Error)]
#[error("journal: {op}: {source}")]
pub struct JournalError {
    /// What was being done.
    pub op: &'static str,
    /// The error.
    #[source]
    pub source: io::Error,
}

fn io_err(op: &'static str) -> impl FnOnce(io::Error) -> JournalError {
    move |source| JournalError { op, source }
}

/// What [`Journal::open`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opened {
    /// The journal was valid: its dirty set is exact (or a superset, after a crash).
    Trusted,
    /// Nothing could be trusted (the reason, for the admin log): every region is dirty now.
    Rebuilt(String),
    /// A new journal (no file, or an empty one): every region is clean, no generation.
    Created,
}

/// The generation state kept in the header.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct JournalState {
    /// Generation ids, newest first.
    pub history: ArrayVec<u64, MAX_HISTORY>,
    /// The generation change tracking started from (0: not tracking).
    pub tracked_since: u64,
    /// The volume is consistent (no resync into it was cut short).
    pub consistent: bool,
}

/// Counters for the status output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JournalCounters {
    /// [`Journal::mark`] calls that had to sync an extent first.
    pub extent_syncs: u64,
    /// Region pages written by flushes.
    pub pages_written: u64,
    /// Header writes.
    pub header_writes: u64,
}

/// The change journal of one volume (see the module documentation).
#[derive(Debug)]
pub struct Journal<S: Store> {
    store: S,
    geometry: Geometry,
    header: Header,
    /// The slot the current header is in (the next header goes to the other).
    slot: u64,
    regions: Bits,
    /// Hot extents (new dirty regions since the last flush), as on disk.
    extents: Bits,
    /// Region pages changed in memory since they were last written.
    stale_pages: BTreeSet<u64>,
    counters: JournalCounters,
}

impl<S: Store> Journal<S> {
    /// A new journal over `store` (whatever it held is replaced): every region clean,
    /// `state` in the header.
    pub fn create(store: S, geometry: Geometry, state: JournalState) -> Result<Self, JournalError> {
        let mut j = Journal::blank(store, geometry, state);
        j.rewrite_all()?;
        Ok(j)
    }

    /// Opens the journal in `store` for a volume of `geometry`. A missing (empty) journal
    /// is created clean ([`Opened::Created`]); one that cannot be trusted is rebuilt with
    /// every region dirty ([`Opened::Rebuilt`]). Only I/O errors fail.
    pub fn open(store: S, geometry: Geometry) -> Result<(Self, Opened), JournalError> {
        let len = store.len().map_err(io_err("reading its length"))?;
        if len == 0 {
            let j = Journal::create(store, geometry, JournalState::default())?;
            return Ok((j, Opened::Created));
        }
        match Journal::load(&store, geometry, len) {
            Ok((header, slot, regions, extents)) => {
                let mut j = Journal {
                    store,
                    geometry,
                    header,
                    slot,
                    regions,
                    extents,
                    stale_pages: BTreeSet::new(),
                    counters: JournalCounters::default(),
                };
                // Every region of a hot extent counts as dirty: its region page may be
                // older than the writes the extent covered. Make that durable.
                let mut expanded = false;
                for e in j.extents.ones().collect::<Vec<_>>() {
                    for r in j.extent_regions(e) {
                        if j.regions.set(r) {
                            j.stale_pages.insert(j.geometry.region_page(r).0);
                            expanded = true;
                        }
                    }
                }
                if expanded {
                    j.flush()?;
                }
                Ok((j, Opened::Trusted))
            }
            Err((why, state)) => {
                let mut j = Journal::blank(store, geometry, state);
                j.regions.set_all();
                j.extents.set_all();
                j.rewrite_all()?;
                Ok((j, Opened::Rebuilt(why)))
            }
        }
    }

    fn blank(store: S, geometry: Geometry, state: JournalState) -> Self {
        let header = Header {
            geometry,
            flags: if state.consistent { FLAG_CONSISTENT } else { 0 },
            sequence: 0,
            tracked_since: state.tracked_since,
            history: state.history,
        };
        Journal {
            store,
            geometry,
            header,
            slot: HEADER_SLOTS - 1,
            regions: Bits::new(geometry.regions),
            extents: Bits::new(geometry.extents),
            stale_pages: BTreeSet::new(),
            counters: JournalCounters::default(),
        }
    }

    /// Reads and checks everything; on failure the reason and whatever header state could
    /// still be read (a damaged bitmap keeps the generations; a damaged header does not).
    #[allow(clippy::type_complexity)]
    fn load(
        store: &S,
        geometry: Geometry,
        len: u64,
    ) -> Result<(Header, u64, Bits, Bits), (String, JournalState)> {
        let lost = JournalState::default();
        let mut best: Option<(Header, u64)> = None;
        let mut why = Vec::new();
        let mut page = [0u8; PAGE];
        for slot in 0..HEADER_SLOTS {
            let off = slot * PAGE as u64;
            if off + PAGE as u64 > len {
                why.push(format!("header slot {slot}: beyond the end ({len} bytes)"));
                continue;
            }
            if let Err(e) = store.read_at(&mut page, off) {
                why.push(format!("header slot {slot}: {e}"));
                continue;
            }
            match Header::parse(&page) {
                Ok(h) if best.as_ref().is_none_or(|(b, _)| h.sequence > b.sequence) => {
                    best = Some((h, slot))
                }
                Ok(_) => {}
                Err(e) => why.push(format!("header slot {slot}: {e}")),
            }
        }
        let Some((header, slot)) = best else {
            return Err((format!("no valid header ({})", why.join("; ")), lost));
        };
        let state = JournalState {
            history: header.history.clone(),
            tracked_since: header.tracked_since,
            consistent: header.flags & FLAG_CONSISTENT != 0,
        };
        if header.geometry != geometry {
            let (h, c) = (&header.geometry, &geometry);
            return Err((
                format!(
                    "the journal describes {} bytes in {}-byte regions ({} per extent), \
                     the volume is {} bytes in {}-byte regions ({} per extent)",
                    h.volume_size,
                    h.region_size,
                    h.extent_regions,
                    c.volume_size,
                    c.region_size,
                    c.extent_regions
                ),
                state,
            ));
        }
        if len < geometry.file_len() {
            let e = FormatError::Truncated {
                len,
                need: geometry.file_len(),
            };
            return Err((e.to_string(), state));
        }
        let mut read_bits = |first: u64, pages: u64, bits: u64| -> Result<Bits, String> {
            let mut b = Bits::new(bits);
            for p in 0..pages {
                let n = first + p;
                store
                    .read_at(&mut page, n * PAGE as u64)
                    .map_err(|e| format!("page {n}: {e}"))?;
                let body = parse_page(&page, n as u32).map_err(|e| format!("page {n}: {e}"))?;
                b.or_bytes(p as usize * PAGE_BITS_BYTES, body);
            }
            Ok(b)
        };
        let g = geometry;
        let extents = read_bits(HEADER_SLOTS, g.extent_pages, g.extents)
            .map_err(|w| (format!("extent map: {w}"), state.clone()))?;
        let regions = read_bits(HEADER_SLOTS + g.extent_pages, g.region_pages, g.regions)
            .map_err(|w| (format!("region bitmap: {w}"), state.clone()))?;
        Ok((header, slot, regions, extents))
    }

    /// Writes every page and the header, then syncs.
    fn rewrite_all(&mut self) -> Result<(), JournalError> {
        let len = self.geometry.file_len();
        self.store
            .set_len(len)
            .map_err(io_err("setting the file's length"))?;
        for p in 0..self.geometry.extent_pages {
            self.write_extent_page(HEADER_SLOTS + p)?;
        }
        for p in 0..self.geometry.region_pages {
            self.write_region_page(HEADER_SLOTS + self.geometry.extent_pages + p)?;
        }
        self.stale_pages.clear();
        // Both slots: a stale valid header from an earlier journal must not win.
        self.write_header()?;
        self.write_header()
    }

    fn region_range(&self, e: u64) -> std::ops::Range<u64> {
        let n = u64::from(self.geometry.extent_regions);
        e * n..((e + 1) * n).min(self.geometry.regions)
    }

    fn extent_regions(&self, e: u64) -> std::ops::Range<u64> {
        self.region_range(e)
    }

    fn write_bits_page(&mut self, file_page: u64, extent: bool) -> Result<(), JournalError> {
        let g = self.geometry;
        let first = if extent {
            HEADER_SLOTS
        } else {
            HEADER_SLOTS + g.extent_pages
        };
        let start = (file_page - first) as usize * PAGE_BITS_BYTES;
        let bits = if extent {
            self.extents.bytes(start, PAGE_BITS_BYTES)
        } else {
            self.regions.bytes(start, PAGE_BITS_BYTES)
        };
        let mut out = [0u8; PAGE];
        emit_page(bits, file_page as u32, &mut out);
        self.store
            .write_at(&out, file_page * PAGE as u64)
            .map_err(io_err("writing a bitmap page"))
    }

    fn write_extent_page(&mut self, file_page: u64) -> Result<(), JournalError> {
        self.write_bits_page(file_page, true)
    }

    fn write_region_page(&mut self, file_page: u64) -> Result<(), JournalError> {
        self.write_bits_page(file_page, false)?;
        self.counters.pages_written += 1;
        Ok(())
    }

    /// Writes the header into the other slot with the next sequence, then syncs.
    fn write_header(&mut self) -> Result<(), JournalError> {
        let slot = (self.slot + 1) % HEADER_SLOTS;
        self.header.sequence += 1;
        let mut out = [0u8; PAGE];
        self.header.emit(&mut out);
        self.store
            .write_at(&out, slot * PAGE as u64)
            .map_err(io_err("writing the header"))?;
        self.store.sync().map_err(io_err("syncing the header"))?;
        self.slot = slot;
        self.counters.header_writes += 1;
        Ok(())
    }

    /// The volume's geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// The generations and flags in the header.
    pub fn state(&self) -> JournalState {
        JournalState {
            history: self.header.history.clone(),
            tracked_since: self.header.tracked_since,
            consistent: self.header.flags & FLAG_CONSISTENT != 0,
        }
    }

    /// Replaces the generations and flags, durably, before it returns.
    pub fn set_state(&mut self, state: JournalState) -> Result<(), JournalError> {
        self.header.history = state.history;
        self.header.tracked_since = state.tracked_since;
        self.header.flags = if state.consistent { FLAG_CONSISTENT } else { 0 };
        self.write_header()
    }

    /// True when region `r` may differ from the peer's.
    pub fn is_dirty(&self, r: u64) -> bool {
        self.regions.get(r)
    }

    /// Regions that may differ.
    pub fn dirty_count(&self) -> u64 {
        self.regions.count()
    }

    /// The dirty regions, in order.
    pub fn dirty(&self) -> impl Iterator<Item = u64> + '_ {
        self.regions.ones()
    }

    /// The first dirty region at or after `from`.
    pub fn next_dirty(&self, from: u64) -> Option<u64> {
        self.regions.next_one(from)
    }

    /// Counters for the status output.
    pub fn counters(&self) -> JournalCounters {
        self.counters
    }

    /// The regions a write of `len` bytes at byte `off` of the volume touches.
    pub fn regions_of(&self, off: u64, len: u64) -> std::ops::Range<u64> {
        let rs = u64::from(self.geometry.region_size);
        if len == 0 {
            return 0..0;
        }
        (off / rs).min(self.geometry.regions)..(off + len).div_ceil(rs).min(self.geometry.regions)
    }

    /// Marks `regions` dirty. When it returns `Ok`, a crash can no longer lose them: the
    /// write they are for may be acknowledged. Returns whether it had to sync (the first
    /// write into an extent); an error means the write must not be acknowledged.
    pub fn mark(&mut self, regions: std::ops::Range<u64>) -> Result<bool, JournalError> {
        let mut pages = BTreeSet::new();
        for r in regions {
            if r >= self.geometry.regions {
                break;
            }
            // A region already dirty is durable already (flushed, or its extent is hot).
            if self.regions.set(r) {
                self.stale_pages.insert(self.geometry.region_page(r).0);
                let e = self.geometry.extent_of(r);
                if self.extents.set(e) {
                    pages.insert(self.geometry.extent_page(e).0);
                }
            }
        }
        if pages.is_empty() {
            return Ok(false);
        }
        for p in pages {
            self.write_extent_page(p)?;
        }
        self.store
            .sync()
            .map_err(io_err("syncing the extent map"))?;
        self.counters.extent_syncs += 1;
        Ok(true)
    }

    /// Region `r` is the same on both servers now (resynced, both copies durable): clear
    /// its bit. Made durable by a later [`flush`](Self::flush); until then a crash only
    /// resyncs it again.
    pub fn clear(&mut self, r: u64) {
        if self.regions.clear(r) {
            self.stale_pages.insert(self.geometry.region_page(r).0);
        }
    }

    /// Writes the changed region pages and syncs; then the hot extents go cold: the region
    /// pages now say everything about them.
    pub fn flush(&mut self) -> Result<(), JournalError> {
        let pages = std::mem::take(&mut self.stale_pages);
        self.write_pages_and_sync(&pages, false, "syncing the region bitmap")?;
        // Only now may an extent go cold: the region pages it covered are durable.
        let mut extent_pages = BTreeSet::new();
        for e in self.extents.ones().collect::<Vec<_>>() {
            self.extents.clear(e);
            extent_pages.insert(self.geometry.extent_page(e).0);
        }
        self.write_pages_and_sync(&extent_pages, true, "syncing the extent map")
    }

    /// Writes these bitmap pages (extent or region ones), then one sync if there were any.
    fn write_pages_and_sync(
        &mut self,
        pages: &BTreeSet<u64>,
        extent: bool,
        what: &'static str,
    ) -> Result<(), JournalError> {
        for &p in pages {
            if extent {
                self.write_extent_page(p)?;
            } else {
                self.write_region_page(p)?;
            }
        }
        if !pages.is_empty() {
            self.store.sync().map_err(io_err(what))?;
        }
        Ok(())
    }

    /// Marks every region dirty (the next resync is full) and makes it durable.
    pub fn mark_all(&mut self) -> Result<(), JournalError> {
        self.regions.set_all();
        self.extents.set_all();
        self.rewrite_all()
    }

    /// The store (tests inspect and crash it).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Gives the store back.
    pub fn into_store(self) -> S {
        self.store
    }
}
