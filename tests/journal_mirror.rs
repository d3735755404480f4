//! The write path's order, checked against crashes: a primary that writes, mirrors and
//! acknowledges at random moments, loses its peer, and crashes anywhere. After the crash,
//! every acknowledged write is where it must be, and every region where the two volumes
//! differ is dirty in the journal that survived, so the next resync can make them equal.

use std::collections::VecDeque;

mod common;
use common::Rng;

use sft3::journal::mirror::{Mode, WriteAction, WritePath};
use sft3::journal::{Geometry, Journal, JournalState, MemStore};

const REGION: usize = 4096;
const REGIONS: u64 = 32;

fn geometry() -> Geometry {
    Geometry::new(REGIONS * REGION as u64, REGION as u32, 4).unwrap()
}

#[derive(Clone)]
struct Write {
    off: usize,
    data: Vec<u8>,
    version: u64,
}

#[test]
fn acknowledged_writes_survive_and_differences_stay_dirty() {
    for seed in 1..=800u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let g = geometry();
        let mut journal = Journal::create(MemStore::new(), g, JournalState::default()).unwrap();
        let mut primary = vec![0u8; REGIONS as usize * REGION];
        let mut secondary = primary.clone();
        let mut path = WritePath::new(Mode::Mirrored, 0);
        let mut writes: std::collections::HashMap<u64, Write> = Default::default();
        // Actions waiting for the driver: marks and acks in any order, local writes and
        // sends each in their own queue (the contract), the peer's inbox, its answers.
        let mut todo: Vec<WriteAction> = Vec::new();
        let mut locals: VecDeque<u64> = VecDeque::new();
        let mut to_peer: VecDeque<Write> = VecDeque::new();
        let mut from_peer: VecDeque<u64> = VecDeque::new();
        // (write, acknowledged while mirrored)
        let mut acked: Vec<(Write, bool)> = Vec::new();
        let steps = 50 + rng.below(250);
        for _ in 0..steps {
            while let Some(a) = path.poll_action() {
                match a {
                    // In order, at once (the contract): a later mark must not be undone.
                    WriteAction::Clear(r) => r.for_each(|x| journal.clear(x)),
                    WriteAction::WriteLocal { id } => locals.push_back(id),
                    WriteAction::SendPeer { id, .. } => to_peer.push_back(writes[&id].clone()),
                    a => todo.push(a),
                }
            }
            match rng.below(10) {
                0 | 1 => {
                    let off = rng.below(primary.len() as u64 - 1) as usize;
                    let len = (1 + rng.below(REGION as u64 * 2) as usize).min(primary.len() - off);
                    let regions = journal.regions_of(off as u64, len as u64);
                    let (id, version) = path.submit(regions);
                    let b = (rng.next() as u8) | 1;
                    writes.insert(
                        id,
                        Write {
                            off,
                            data: vec![b; len],
                            version,
                        },
                    );
                }
                4 | 5 if !todo.is_empty() => {
                    let i = rng.below(todo.len() as u64) as usize;
                    match todo.remove(i) {
                        WriteAction::Mark { id, regions } => {
                            journal.mark(regions).unwrap();
                            path.marked(id);
                        }
                        WriteAction::WriteLocal { .. } | WriteAction::SendPeer { .. } => {
                            unreachable!("queued when polled")
                        }
                        WriteAction::Ack(id) => {
                            let mirrored = path.mode() == Mode::Mirrored;
                            acked.push((writes[&id].clone(), mirrored));
                        }
                        WriteAction::Clear(_) => unreachable!("applied when polled"),
                    }
                }
                2 | 3 if !locals.is_empty() => {
                    let id = locals.pop_front().unwrap();
                    let w = &writes[&id];
                    primary[w.off..w.off + w.data.len()].copy_from_slice(&w.data);
                    path.local_done(id);
                }
                6 => {
                    if let Some(w) = to_peer.pop_front() {
                        secondary[w.off..w.off + w.data.len()].copy_from_slice(&w.data);
                        from_peer.push_back(w.version);
                    }
                }
                7 => {
                    if let Some(v) = from_peer.pop_front() {
                        path.peer_done(v);
                    }
                }
                8 if rng.below(6) == 0 => journal.flush().unwrap(),
                9 if rng.below(20) == 0 && path.mode() == Mode::Mirrored => {
                    // The MSL breaks: what was on the wire is lost.
                    to_peer.clear();
                    from_peer.clear();
                    path.set_mode(Mode::Unmirrored);
                }
                _ => {}
            }
        }
        // Acks the driver already took count; the primary crashes now. A write is
        // acknowledged only after its `Ack` action was handled above.
        for (w, mirrored) in &acked {
            // Overlapping writes in flight together have no order (as on a disk): check
            // the writes nothing else overlapped.
            let overlapped = writes.values().any(|o| {
                o.version != w.version
                    && o.off < w.off + w.data.len()
                    && w.off < o.off + o.data.len()
            });
            if overlapped {
                continue;
            }
            assert_eq!(
                &primary[w.off..w.off + w.data.len()],
                &w.data[..],
                "seed {seed}: acked write lost locally"
            );
            if *mirrored {
                assert_eq!(
                    &secondary[w.off..w.off + w.data.len()],
                    &w.data[..],
                    "seed {seed}: acked mirrored write missing at the peer"
                );
            }
        }
        let mut store = journal.into_store();
        let mut k = Rng(seed ^ 0x5eed);
        store.crash(|_, _| k.below(2) == 0);
        let (j, _) = Journal::open(store, g).unwrap();
        for r in 0..REGIONS {
            let a = r as usize * REGION;
            if primary[a..a + REGION] != secondary[a..a + REGION] {
                assert!(
                    j.is_dirty(r),
                    "seed {seed}: region {r} differs and is not dirty"
                );
            }
        }
    }
}

#[test]
fn a_mirrored_write_waits_for_the_peer_and_clears_its_regions() {
    let mut p = WritePath::new(Mode::Mirrored, 10);
    let (id, v) = p.submit(3..5);
    assert_eq!(v, 11);
    assert_eq!(
        p.poll_action(),
        Some(WriteAction::Mark { id, regions: 3..5 })
    );
    assert_eq!(p.poll_action(), None);
    p.marked(id);
    assert_eq!(p.poll_action(), Some(WriteAction::WriteLocal { id }));
    assert_eq!(
        p.poll_action(),
        Some(WriteAction::SendPeer { id, version: 11 })
    );
    p.local_done(id);
    assert_eq!(p.poll_action(), None); // the peer has not answered
    p.peer_done(11);
    assert_eq!(p.poll_action(), Some(WriteAction::Ack(id)));
    assert_eq!(p.poll_action(), Some(WriteAction::Clear(3..5)));
    assert_eq!(p.in_flight(), 0);
}

#[test]
fn losing_the_peer_acknowledges_on_the_local_copy_and_keeps_the_regions_dirty() {
    let mut p = WritePath::new(Mode::Mirrored, 0);
    let (id, _) = p.submit(7..8);
    p.marked(id);
    p.local_done(id);
    while p.poll_action().is_some() {}
    p.set_mode(Mode::Unmirrored);
    assert_eq!(p.poll_action(), Some(WriteAction::Ack(id)));
    assert_eq!(p.poll_action(), None); // no Clear: the peer may not have it
                                       // Unmirrored: no send, ack on the local copy.
    let (id2, _) = p.submit(1..2);
    p.marked(id2);
    assert_eq!(
        p.poll_action(),
        Some(WriteAction::Mark {
            id: id2,
            regions: 1..2
        })
    );
    assert_eq!(p.poll_action(), Some(WriteAction::WriteLocal { id: id2 }));
    p.local_done(id2);
    assert_eq!(p.poll_action(), Some(WriteAction::Ack(id2)));
    assert_eq!(p.poll_action(), None);
}

#[test]
fn the_local_write_never_starts_before_the_mark() {
    let mut p = WritePath::new(Mode::Unmirrored, 0);
    let (id, _) = p.submit(0..1);
    p.local_done(id); // a driver bug: reported before it was asked
    assert!(matches!(p.poll_action(), Some(WriteAction::Mark { .. })));
    assert_eq!(
        p.poll_action(),
        None,
        "nothing is acknowledged before the mark"
    );
    p.marked(id);
    assert_eq!(p.poll_action(), Some(WriteAction::WriteLocal { id }));
    assert_eq!(p.poll_action(), None, "the early report does not count");
    p.local_done(id);
    assert_eq!(p.poll_action(), Some(WriteAction::Ack(id)));
}
