//! The change journal: round trips, corruption detected at open (rebuilt, every region
//! dirty, never trusted silently), and crash safety: a crash at any write or sync, with any
//! subset of the unsynced sectors kept, never loses a region whose mark was acknowledged.

use std::io;

mod common;
use common::Rng;

use arrayvec::ArrayVec;
use sft3::journal::format::{self, Header, PAGE};
use sft3::journal::{
    FileStore, Geometry, Journal, JournalState, MemStore, Opened, Store, DEFAULT_EXTENT_REGIONS,
    DEFAULT_REGION_SIZE,
};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// 64 MiB in 64 KiB regions, 4 per extent: 1024 regions, 256 extents.
fn small() -> Geometry {
    Geometry::new(64 * MIB, 64 * 1024, 4).unwrap()
}

fn state(h: &[u64], tracked: u64) -> JournalState {
    JournalState {
        history: h.iter().copied().collect::<ArrayVec<u64, 8>>(),
        tracked_since: tracked,
        consistent: true,
    }
}

#[test]
fn memory_per_tib_is_about_one_bit_per_region() {
    let g = Geometry::new(1 << 40, DEFAULT_REGION_SIZE, DEFAULT_EXTENT_REGIONS).unwrap();
    assert_eq!(g.regions, 16 << 20);
    // 2 MiB of region bits and 32 KiB of extent bits per TiB.
    assert_eq!(g.memory_bytes(), 2 * MIB + 32 * KIB);
    // The file: two headers, 9 extent pages, 514 region pages (2.05 MiB).
    assert_eq!(g.file_len(), (2 + 9 + 514) * PAGE as u64);
}

#[test]
fn next_dirty_finds_what_the_scan_finds() {
    let g = Geometry::new(4096 * 700, 4096, 4).unwrap();
    let mut j = Journal::create(MemStore::new(), g, state(&[1], 0)).unwrap();
    let mut x = 12345u64;
    for _ in 0..40 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let r = (x >> 33) % g.regions;
        j.mark(r..r + 1 + (x % 3)).unwrap();
    }
    for from in 0..=g.regions + 2 {
        assert_eq!(
            j.next_dirty(from),
            j.dirty().find(|&r| r >= from),
            "from {from}"
        );
    }
}

#[test]
fn geometry_is_checked() {
    assert!(Geometry::new(0, 65536, 64).is_err());
    assert!(Geometry::new(MIB, 3000, 64).is_err());
    assert!(Geometry::new(MIB, 2048, 64).is_err());
    assert!(Geometry::new(MIB, 65536, 3).is_err());
    let g = Geometry::new(MIB + 1, 65536, 64).unwrap();
    assert_eq!(g.regions, 17); // the last region is short
}

#[test]
fn a_new_journal_is_created_clean_and_reopens_trusted() {
    let (mut j, how) = Journal::open(MemStore::new(), small()).unwrap();
    assert_eq!(how, Opened::Created);
    assert_eq!(j.dirty_count(), 0);
    j.set_state(state(&[7, 5], 5)).unwrap();
    assert!(j.mark(j.regions_of(3 * 65536 + 10, 200_000)).unwrap());
    // Regions 3..7 (the write ends inside region 6).
    assert_eq!(j.dirty().collect::<Vec<_>>(), [3, 4, 5, 6]);
    // A second write in the same extents needs no sync.
    assert!(!j.mark(4..5).unwrap());
    j.flush().unwrap();
    let (j2, how) = Journal::open(j.into_store(), small()).unwrap();
    assert_eq!(how, Opened::Trusted);
    assert_eq!(j2.dirty().collect::<Vec<_>>(), [3, 4, 5, 6]);
    assert_eq!(j2.state(), state(&[7, 5], 5));
}

#[test]
fn unflushed_marks_survive_as_whole_extents() {
    let (mut j, _) = Journal::open(MemStore::new(), small()).unwrap();
    j.mark(9..10).unwrap(); // extent 2 = regions 8..12
                            // No flush: the region page never reached the disk; the extent did.
    let mut store = j.into_store();
    store.crash(|_, _| false);
    let (j, how) = Journal::open(store, small()).unwrap();
    assert_eq!(how, Opened::Trusted);
    assert_eq!(j.dirty().collect::<Vec<_>>(), [8, 9, 10, 11]);
}

#[test]
fn cleared_regions_stay_clean_after_a_flush_and_their_extent_clears() {
    let (mut j, _) = Journal::open(MemStore::new(), small()).unwrap();
    j.mark(8..12).unwrap();
    j.mark(40..41).unwrap();
    j.flush().unwrap();
    for r in 8..12 {
        j.clear(r);
    }
    j.flush().unwrap();
    j.flush().unwrap();
    let (j, _) = Journal::open(j.into_store(), small()).unwrap();
    assert_eq!(j.dirty().collect::<Vec<_>>(), [40]);
    assert_eq!(j.dirty_count(), 1);
}

fn rebuilt(store: MemStore) -> (Journal<MemStore>, String) {
    match Journal::open(store, small()).unwrap() {
        (j, Opened::Rebuilt(why)) => (j, why),
        (_, other) => panic!("expected a rebuild, got {other:?}"),
    }
}

fn journal_with_state() -> MemStore {
    let (mut j, _) = Journal::open(MemStore::new(), small()).unwrap();
    j.set_state(state(&[9, 8], 8)).unwrap();
    j.mark(0..1).unwrap();
    j.flush().unwrap();
    j.into_store()
}

#[test]
fn a_damaged_bitmap_page_rebuilds_with_every_region_dirty_and_keeps_the_generations() {
    let mut store = journal_with_state();
    let g = small();
    let (page, _) = g.region_page(500);
    store.corrupt(|b| b[page as usize * PAGE + 100] ^= 0x10);
    let (j, why) = rebuilt(store);
    assert!(
        why.contains("region bitmap") && why.contains("checksum"),
        "{why}"
    );
    assert_eq!(j.dirty_count(), g.regions);
    assert_eq!(j.state().history.as_slice(), [9, 8]);
    // The rebuild is durable: the next open trusts it, still all dirty.
    let (j, how) = Journal::open(j.into_store(), g).unwrap();
    assert_eq!(how, Opened::Trusted);
    assert_eq!(j.dirty_count(), g.regions);
}

#[test]
fn a_truncated_journal_is_rebuilt() {
    let mut store = journal_with_state();
    store.corrupt(|b| b.truncate(3 * PAGE + 17));
    let (j, why) = rebuilt(store);
    assert!(why.contains("truncated") || why.contains("page"), "{why}");
    assert_eq!(j.dirty_count(), small().regions);
}

#[test]
fn a_misplaced_page_is_caught() {
    let mut store = journal_with_state();
    let g = small();
    let (a, _) = g.region_page(0);
    store.corrupt(|b| {
        // Copy the extent page over the region page: valid CRC, wrong place.
        let src = b[2 * PAGE..3 * PAGE].to_vec();
        b[a as usize * PAGE..(a as usize + 1) * PAGE].copy_from_slice(&src);
    });
    let (_, why) = rebuilt(store);
    assert!(why.contains("says it is page"), "{why}");
}

#[test]
fn one_damaged_header_slot_falls_back_to_the_other() {
    let store = journal_with_state();
    // The newest header is in one of the two slots; damage each in turn.
    for slot in 0..2usize {
        let mut s = store.clone();
        let newest = {
            let h0 = Header::parse(&s.bytes()[..PAGE]).unwrap();
            let h1 = Header::parse(&s.bytes()[PAGE..2 * PAGE]).unwrap();
            usize::from(h1.sequence > h0.sequence)
        };
        s.corrupt(|b| b[slot * PAGE + 40] ^= 1);
        let (j, how) = Journal::open(s, small()).unwrap();
        assert_eq!(how, Opened::Trusted, "slot {slot}");
        if slot == newest {
            // The older slot holds the state before the last header write.
            assert!(j.state().history.len() <= 2);
        } else {
            assert_eq!(j.state().history.as_slice(), [9, 8]);
        }
    }
}

#[test]
fn both_headers_damaged_loses_the_generations_too() {
    let mut store = journal_with_state();
    store.corrupt(|b| {
        b[10] ^= 1;
        b[PAGE + 10] ^= 1;
    });
    let (j, why) = rebuilt(store);
    assert!(why.contains("no valid header"), "{why}");
    assert!(j.state().history.is_empty());
    assert_eq!(j.dirty_count(), small().regions);
}

#[test]
fn another_layout_is_not_trusted() {
    let store = journal_with_state();
    let other = Geometry::new(64 * MIB, 128 * 1024, 4).unwrap();
    match Journal::open(store, other).unwrap() {
        (j, Opened::Rebuilt(why)) => {
            assert!(why.contains("131072-byte regions"), "{why}");
            assert_eq!(j.dirty_count(), other.regions);
        }
        (_, o) => panic!("{o:?}"),
    }
}

#[test]
fn header_and_page_formats_round_trip() {
    let g = small();
    let h = Header {
        geometry: g,
        flags: format::FLAG_CONSISTENT,
        sequence: 42,
        tracked_since: 3,
        history: [5u64, 4, 3].into_iter().collect(),
    };
    let mut out = [0u8; PAGE];
    h.emit(&mut out);
    assert_eq!(&out[..8], b"SFT3JRNL");
    assert_eq!(Header::parse(&out).unwrap(), h);
    let mut p = [0u8; PAGE];
    format::emit_page(&[0xa5; 10], 7, &mut p);
    assert_eq!(
        &format::parse_page(&p, 7).unwrap()[..11],
        &[0xa5; 10][..]
            .iter()
            .copied()
            .chain([0])
            .collect::<Vec<_>>()[..]
    );
    assert!(format::parse_page(&p, 8).is_err());
    assert!(format::parse_page(&[0u8; PAGE], 0).is_err());
}

/// A store that fails every write and sync after a budget (the power goes out there).
struct Failing {
    inner: MemStore,
    budget: u64,
}

impl Failing {
    fn spend(&mut self) -> io::Result<()> {
        if self.budget == 0 {
            return Err(io::Error::other("power lost"));
        }
        self.budget -= 1;
        Ok(())
    }
}

impl Store for Failing {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.spend()?;
        self.inner.set_len(len)
    }
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        self.inner.read_at(buf, off)
    }
    fn write_at(&mut self, buf: &[u8], off: u64) -> io::Result<()> {
        self.spend()?;
        self.inner.write_at(buf, off)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.spend()?;
        self.inner.sync()
    }
}

#[test]
fn a_crash_at_any_point_never_loses_an_acknowledged_mark() {
    let g = small();
    for seed in 1..=1500u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let (j, _) = Journal::open(MemStore::new(), g).unwrap();
        let base = j.into_store();
        let budget = rng.below(60);
        let store = Failing {
            inner: base,
            budget,
        };
        let (mut j, _) = match Journal::open(store, g) {
            Ok(x) => x,
            Err(_) => continue,
        };
        // Regions whose mark was acknowledged and not cleared since.
        let mut must = std::collections::BTreeSet::new();
        let mut acked_state: Option<JournalState> = None;
        for _ in 0..40 {
            let r = match rng.below(10) {
                0..=4 => {
                    let a = rng.below(g.regions);
                    let n = 1 + rng.below(6);
                    let range = a..(a + n).min(g.regions);
                    j.mark(range.clone()).map(|_| must.extend(range))
                }
                5 | 6 => {
                    if let Some(&r) = must
                        .iter()
                        .nth(rng.below(must.len().max(1) as u64) as usize)
                    {
                        j.clear(r);
                        must.remove(&r);
                    }
                    Ok(())
                }
                7 | 8 => j.flush(),
                _ => {
                    let s = state(&[rng.below(1000) + 1], 0);
                    j.set_state(s.clone()).map(|_| acked_state = Some(s))
                }
            };
            if r.is_err() {
                break; // the power went out during this operation: it was not acknowledged
            }
        }
        let mut store = j.into_store().inner;
        let keep_mode = rng.below(3);
        let mut k = Rng(seed ^ 0xdead_beef);
        store.crash(|_, _| match keep_mode {
            0 => false,
            1 => true,
            _ => k.below(2) == 0,
        });
        let (j, how) = Journal::open(store, g).unwrap();
        if let Opened::Rebuilt(_) = how {
            assert_eq!(j.dirty_count(), g.regions, "seed {seed}");
            continue;
        }
        for r in &must {
            assert!(j.is_dirty(*r), "seed {seed}: region {r} lost ({how:?})");
        }
        if let Some(s) = acked_state {
            // A header write that returned is durable (a later unacknowledged one may also
            // have landed: then it is that one's).
            let got = j.state();
            assert!(
                got == s || got.history.len() == 1,
                "seed {seed}: state {got:?}, acknowledged {s:?}"
            );
        }
    }
}

#[test]
fn a_real_file_round_trips() {
    let dir = std::env::temp_dir().join(format!("sft3-journal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("journal");
    let g = small();
    {
        let (mut j, how) = Journal::open(FileStore::open(&path, true).unwrap(), g).unwrap();
        assert_eq!(how, Opened::Created);
        j.mark(100..103).unwrap();
        j.flush().unwrap();
    }
    assert_eq!(std::fs::metadata(&path).unwrap().len(), g.file_len());
    let (j, how) = Journal::open(FileStore::open(&path, false).unwrap(), g).unwrap();
    assert_eq!(how, Opened::Trusted);
    assert_eq!(j.dirty().collect::<Vec<_>>(), [100, 101, 102]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_header_built_from_the_documented_layout_parses_and_emits_the_same_bytes() {
    // Built from the table in src/journal/format.rs, with the CRC of the independent
    // `crc32c` crate: what another implementation would write.
    let mut h = vec![0u8; PAGE];
    h[0..8].copy_from_slice(b"SFT3JRNL");
    h[8..10].copy_from_slice(&1u16.to_be_bytes());
    h[12..16].copy_from_slice(&65536u32.to_be_bytes());
    h[16..24].copy_from_slice(&(64 * MIB).to_be_bytes());
    h[24..28].copy_from_slice(&4u32.to_be_bytes());
    h[28..32].copy_from_slice(&1u32.to_be_bytes());
    h[32..40].copy_from_slice(&3u64.to_be_bytes());
    h[40..48].copy_from_slice(&7u64.to_be_bytes());
    h[48] = 3;
    for (i, g) in [9u64, 8, 7].iter().enumerate() {
        h[56 + 8 * i..64 + 8 * i].copy_from_slice(&g.to_be_bytes());
    }
    let crc = crc32c::crc32c(&h[..PAGE - 4]);
    h[PAGE - 4..].copy_from_slice(&crc.to_be_bytes());
    let parsed = Header::parse(&h).unwrap();
    assert_eq!(parsed.geometry, small());
    assert_eq!(parsed.history.as_slice(), [9, 8, 7]);
    assert_eq!((parsed.sequence, parsed.tracked_since), (3, 7));
    let mut out = [0u8; PAGE];
    parsed.emit(&mut out);
    assert_eq!(&out[..], &h[..]);
    // One flipped bit anywhere is refused.
    for bit in [0usize, 8 * 9, 8 * 40 + 3, 8 * 200, 8 * (PAGE - 1)] {
        let mut d = h.clone();
        d[bit / 8] ^= 1 << (bit % 8);
        assert!(Header::parse(&d).is_err(), "bit {bit}");
    }
}
