//! The resync cores driven over modelled links: region copies on one class, mirrored
//! client writes on another (so they overtake each other), acks and control back; random
//! writes during the resync, broken sessions, crashes of the source's journal. Whatever
//! happens, once a session completes the target's volume equals the source's.

use std::collections::VecDeque;

mod common;
use common::Rng;

use sft3::journal::resync::{
    ResyncMsg, ResyncSource, ResyncTarget, SourceAction, SourceState, TargetAction,
};
use sft3::journal::{Geometry, Journal, JournalState, MemStore, Opened};

const REGION: usize = 4096;
const REGIONS: u64 = 64;

fn geometry() -> Geometry {
    Geometry::new(REGIONS * REGION as u64, REGION as u32, 4).unwrap()
}

/// A mirrored client write on its way to the target.
struct Write {
    off: usize,
    data: Vec<u8>,
    version: u64,
}

struct World {
    src: Vec<u8>,
    dst: Vec<u8>,
    journal: Journal<MemStore>,
    source: ResyncSource,
    target: ResyncTarget,
    /// Source → target, bulk class (region copies) and control class (begin, end).
    bulk: VecDeque<ResyncMsg>,
    ctl: VecDeque<ResyncMsg>,
    /// Source → target, event class (mirrored writes).
    events: VecDeque<Write>,
    /// Target → source (acks, ready, done).
    back: VecDeque<ResyncMsg>,
    version: u64,
    /// The test's own record: the newest mirrored write applied per region at the target.
    written_at_target: std::collections::HashMap<u64, u64>,
    sessions: u64,
    /// Regions the target changed on its own (a primary that died before its peer had
    /// the write, back as the target): dirty in its journal until a session ends.
    target_dirty: std::collections::BTreeSet<u64>,
    target_consistent: bool,
    complete: bool,
    /// 1 in this many chances delivers a mirrored write: in some worlds the event class
    /// lags the bulk class (its retransmissions wait for a timeout), so a write arrives
    /// after a copy that already holds it.
    event_lag: u64,
}

impl World {
    fn new(rng: &mut Rng) -> World {
        let g = geometry();
        let (mut journal, how) = Journal::open(MemStore::new(), g).unwrap();
        assert_eq!(how, Opened::Created);
        journal.set_state(JournalState::default()).unwrap();
        let mut src = vec![0u8; REGIONS as usize * REGION];
        let dst = src.clone();
        // Unmirrored writes: the source changed some regions.
        for _ in 0..rng.below(40) + 1 {
            let r = rng.below(REGIONS);
            let b = rng.next() as u8;
            src[r as usize * REGION..(r as usize + 1) * REGION].fill(b);
            journal.mark(r..r + 1).unwrap();
        }
        let mut dst = dst;
        let mut target_dirty = std::collections::BTreeSet::new();
        for _ in 0..rng.below(6) {
            let r = rng.below(REGIONS);
            dst[r as usize * REGION] ^= 0x5a;
            target_dirty.insert(r);
        }
        let dirty = journal.dirty_count();
        World {
            src,
            dst,
            journal,
            source: ResyncSource::new(1, dirty, 8, 0),
            target: ResyncTarget::new(),
            bulk: VecDeque::new(),
            ctl: VecDeque::new(),
            events: VecDeque::new(),
            back: VecDeque::new(),
            version: 0,
            written_at_target: std::collections::HashMap::new(),
            sessions: 1,
            target_dirty,
            target_consistent: true,
            complete: false,
            event_lag: [1, 1, 6][rng.below(3) as usize],
        }
    }

    fn do_source(&mut self, actions: Vec<SourceAction>) {
        for a in actions {
            match a {
                SourceAction::Send(m) => self.ctl.push_back(m),
                SourceAction::SendRegion {
                    session,
                    region,
                    version,
                } => {
                    let r = region as usize;
                    self.bulk.push_back(ResyncMsg::Region {
                        session,
                        region,
                        version,
                        data: self.src[r * REGION..(r + 1) * REGION].to_vec(),
                    });
                }
                SourceAction::Clear(r) => self.journal.clear(r),
                SourceAction::Mark(r) => {
                    self.journal.mark(r).unwrap();
                }
                SourceAction::Complete => self.complete = true,
            }
        }
    }

    fn poll_source(&mut self) {
        let j = &self.journal;
        let acts = self.source.poll(|from| j.dirty().find(|&r| r >= from));
        self.do_source(acts);
    }

    /// The link went silent and came back in the same MSL session: what was queued is
    /// still delivered (late), the source wrote alone meanwhile (journaled, not sent),
    /// and a new resync session starts.
    fn silence_and_recover(&mut self, rng: &mut Rng) {
        for _ in 0..1 + rng.below(4) {
            self.client_write(rng);
            self.events.pop_back();
        }
        self.sessions += 1;
        self.source = ResyncSource::new(self.sessions, self.journal.dirty_count(), 8, self.version);
        self.complete = false;
    }

    fn client_write(&mut self, rng: &mut Rng) {
        let off = rng.below(REGIONS * REGION as u64 - 300) as usize;
        let len = 1 + rng.below(2 * REGION as u64) as usize;
        let len = len.min(self.src.len() - off);
        let b = rng.next() as u8;
        self.version += 1;
        self.src[off..off + len].fill(b);
        let regions = self.journal.regions_of(off as u64, len as u64);
        self.journal.mark(regions.clone()).unwrap();
        self.source.on_write(regions, self.version);
        self.events.push_back(Write {
            off,
            data: vec![b; len],
            version: self.version,
        });
    }

    fn deliver_to_target(&mut self, m: ResyncMsg) {
        match self.target.on_msg(&m) {
            Some(TargetAction::MarkInconsistentThenSend(r)) => {
                self.target_consistent = false;
                // Its own dirty regions first, in runs (the driver's part of the protocol).
                let session = self.target.session().unwrap();
                let mut runs: Vec<(u64, u64)> = Vec::new();
                for &d in &self.target_dirty {
                    match runs.last_mut() {
                        Some((a, n)) if *a + *n == d => *n += 1,
                        _ => runs.push((d, 1)),
                    }
                }
                if !runs.is_empty() {
                    self.back.push_back(ResyncMsg::Dirty { session, runs });
                }
                self.back.push_back(r);
            }
            Some(TargetAction::WriteThenSend { region, ack }) => {
                if let ResyncMsg::Region { data, version, .. } = m {
                    // The rule: a write that arrived is never overwritten by an
                    // older copy, not even for a while.
                    let newest = self.written_at_target.get(&region).copied().unwrap_or(0);
                    assert!(
                        version >= newest,
                        "region {region}: copy of version {version} over a write of {newest}"
                    );
                    let r = region as usize;
                    self.dst[r * REGION..(r + 1) * REGION].copy_from_slice(&data);
                }
                self.back.push_back(ack);
            }
            Some(TargetAction::Send(a)) => self.back.push_back(a),
            Some(TargetAction::MarkConsistentThenSend(d)) => {
                self.target_consistent = true;
                self.target_dirty.clear();
                self.back.push_back(d);
            }
            None => {}
        }
    }

    fn deliver_write(&mut self, w: Write) {
        // As the volume applies it: not from before the session (its bytes are in the
        // copies), not over a region whose copy already holds it.
        if self.target.from_before_session(w.version) {
            return;
        }
        let regions = self.journal.regions_of(w.off as u64, w.data.len() as u64);
        for r in regions.clone() {
            if self.target.superseded(r, w.version) {
                continue;
            }
            let a = (r as usize * REGION).max(w.off);
            let b = ((r as usize + 1) * REGION).min(w.off + w.data.len());
            self.dst[a..b].copy_from_slice(&w.data[a - w.off..b - w.off]);
        }
        for r in regions.clone() {
            let v = self.written_at_target.entry(r).or_insert(0);
            *v = (*v).max(w.version);
        }
        self.target.on_write(regions, w.version);
    }

    /// A broken MSL session: what was on its way is lost; a new session starts.
    fn new_session(&mut self) {
        self.bulk.clear();
        self.ctl.clear();
        self.back.clear();
        // Mirrored writes lost in the break: their regions are dirty in the journal.
        self.events.clear();
        self.sessions += 1;
        self.source = ResyncSource::new(self.sessions, self.journal.dirty_count(), 8, self.version);
        self.complete = false;
    }

    fn step(&mut self, rng: &mut Rng, writes: bool) {
        match rng.below(12) {
            0..=2 => {
                if let Some(m) = self.bulk.pop_front() {
                    self.deliver_to_target(m);
                }
            }
            3 | 4 => {
                if let Some(m) = self.ctl.pop_front() {
                    self.deliver_to_target(m);
                }
            }
            5 | 6 if rng.below(self.event_lag) == 0 => {
                if let Some(w) = self.events.pop_front() {
                    self.deliver_write(w);
                }
            }
            7 | 8 => {
                if let Some(m) = self.back.pop_front() {
                    let acts = self.source.on_msg(&m);
                    self.do_source(acts);
                }
            }
            9 if writes => self.client_write(rng),
            10 if rng.below(8) == 0 => self.journal.flush().unwrap(),
            _ => {}
        }
        self.poll_source();
    }
}

#[test]
fn messages_round_trip_and_bad_ones_are_refused() {
    for m in [
        ResyncMsg::Begin {
            session: 1,
            regions: 9,
            version: 77,
            repair: true,
        },
        ResyncMsg::Ready { session: 2 },
        ResyncMsg::Region {
            session: 3,
            region: 4,
            version: 5,
            data: vec![1, 2, 3],
        },
        ResyncMsg::Ack {
            session: 6,
            region: 7,
            version: 8,
            applied: false,
        },
        ResyncMsg::End {
            session: 9,
            history: vec![7, 3],
        },
        ResyncMsg::Dirty {
            session: 9,
            runs: vec![(0, 4), (100, 1)],
        },
        ResyncMsg::Done { session: 10 },
    ] {
        assert_eq!(ResyncMsg::decode(&m.encode()), Ok(m));
    }
    assert!(ResyncMsg::decode(&[]).is_err());
    assert!(ResyncMsg::decode(&[7]).is_err());
    assert!(ResyncMsg::decode(&[2, 0, 0]).is_err());
    let mut ack = ResyncMsg::Ack {
        session: 1,
        region: 1,
        version: 1,
        applied: true,
    }
    .encode();
    *ack.last_mut().unwrap() = 2;
    assert!(ResyncMsg::decode(&ack).is_err());
}

#[test]
fn a_plain_resync_converges() {
    let mut rng = Rng(7);
    let mut w = World::new(&mut rng);
    assert_ne!(w.src, w.dst);
    for _ in 0..100_000 {
        if w.complete {
            break;
        }
        w.step(&mut rng, false);
    }
    assert!(w.complete);
    assert_eq!(w.source.state(), SourceState::Complete);
    assert!(w.target_consistent);
    assert_eq!(w.src, w.dst);
    assert_eq!(w.journal.dirty_count(), 0);
}

#[test]
fn writes_breaks_and_crashes_during_resync_never_leave_older_data() {
    for seed in 1..=400u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut w = World::new(&mut rng);
        for _ in 0..3000 {
            w.step(&mut rng, true);
            match rng.below(400) {
                0 => w.new_session(),
                2 => w.silence_and_recover(&mut rng),
                1 => {
                    // The source's process crashes: its journal reopens from what was
                    // durable (a torn mix of the unsynced sectors), then a new session.
                    let mut store = std::mem::replace(
                        &mut w.journal,
                        Journal::create(MemStore::new(), geometry(), JournalState::default())
                            .unwrap(),
                    )
                    .into_store();
                    let mut k = Rng(seed ^ rng.next());
                    store.crash(|_, _| k.below(2) == 0);
                    let (j, _) = Journal::open(store, geometry()).unwrap();
                    w.journal = j;
                    w.new_session();
                }
                _ => {}
            }
        }
        // Writes stop; everything in flight arrives; the resync must finish.
        for _ in 0..200_000 {
            if w.complete && w.events.is_empty() {
                break;
            }
            w.step(&mut rng, false);
        }
        assert!(
            w.complete,
            "seed {seed}: no completion ({:?})",
            w.source.state()
        );
        assert!(w.target_consistent, "seed {seed}");
        let differ = w.src.iter().zip(&w.dst).position(|(a, b)| a != b);
        assert!(
            differ.is_none(),
            "seed {seed}: volumes differ after the resync at byte {differ:?} (region {:?})",
            differ.map(|d| d / REGION)
        );
    }
}
