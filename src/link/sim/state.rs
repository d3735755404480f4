//! The simulator's state behind the `SimNet` handle: adapters, media, the in-flight queue.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::time::Duration;

use super::fault::{Faults, SimCounters};
use super::rng::Rng;
use super::trace::{frame_hash, TraceEvent, TraceKind};
use super::{AdapterId, MediumId, SimError};
use crate::capture::Timestamp;
use crate::link::{AdapterInfo, LinkStatus, OperState};
use crate::wire::MacAddr;

/// Whether a medium joins two adapters (a veth-like wire) or many (a hub-like segment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum MediumKind {
    Wire,
    Segment,
}

pub(super) struct Medium {
    pub kind: MediumKind,
    pub members: Vec<u32>,
    pub faults: Faults,
    pub filter_unicast: bool,
}

pub(super) struct AdapterState {
    pub info: AdapterInfo,
    pub up: bool,
    pub medium: Option<u32>,
    pub rx: VecDeque<(Duration, Vec<u8>)>,
    pub counters: SimCounters,
}

/// A copy of a frame on its way to one receiver.
struct InFlight {
    at: Duration,
    seq: u64,
    from: u32,
    to: u32,
    frame: Vec<u8>,
}

// Ordered by delivery time, then by scheduling order, reversed so the heap pops the earliest.
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for InFlight {}

/// Receive queue length past which arriving frames are dropped, unless changed.
pub(super) const DEFAULT_RX_CAPACITY: usize = 65_536;

pub(super) struct Net {
    pub seed: u64,
    pub now: Duration,
    pub epoch: Timestamp,
    pub adapters: Vec<AdapterState>,
    pub media: Vec<Medium>,
    /// Per-direction settings that override the medium's faults.
    pub faults: BTreeMap<(u32, u32), Faults>,
    /// Directions cut with `SimNet::cut`, kept apart from the faults so a restore leaves
    /// no per-direction setting behind.
    pub cuts: BTreeSet<(u32, u32)>,
    /// One stream per direction, made on first use (BTreeMap: no hash-order randomness).
    rngs: BTreeMap<(u32, u32), Rng>,
    queue: BinaryHeap<InFlight>,
    seq: u64,
    pub trace: Option<Vec<TraceEvent>>,
    pub rx_capacity: usize,
}

impl Net {
    pub fn new(seed: u64) -> Net {
        Net {
            seed,
            now: Duration::ZERO,
            epoch: Timestamp::default(),
            adapters: Vec::new(),
            media: Vec::new(),
            faults: BTreeMap::new(),
            cuts: BTreeSet::new(),
            rngs: BTreeMap::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            trace: None,
            rx_capacity: DEFAULT_RX_CAPACITY,
        }
    }

    pub fn to_timestamp(&self, t: Duration) -> Timestamp {
        Timestamp::from_unix_nanos(self.epoch.as_unix_nanos().saturating_add(t.as_nanos()))
    }

    pub fn adapter(&self, id: AdapterId) -> Result<&AdapterState, SimError> {
        self.adapters
            .get(id.0 as usize)
            .ok_or(SimError::UnknownAdapter(id))
    }

    pub fn new_medium(
        &mut self,
        kind: MediumKind,
        ids: &[AdapterId],
    ) -> Result<MediumId, SimError> {
        for (i, id) in ids.iter().enumerate() {
            if self.adapter(*id)?.medium.is_some() || ids[..i].contains(id) {
                return Err(SimError::AlreadyAttached(*id));
            }
        }
        let m = self.media.len() as u32;
        self.media.push(Medium {
            kind,
            members: ids.iter().map(|id| id.0).collect(),
            faults: Faults::NONE,
            filter_unicast: false,
        });
        for id in ids {
            self.adapters[id.0 as usize].medium = Some(m);
        }
        Ok(MediumId(m))
    }

    pub fn attach(&mut self, medium: MediumId, id: AdapterId) -> Result<(), SimError> {
        if self.adapter(id)?.medium.is_some() {
            return Err(SimError::AlreadyAttached(id));
        }
        let m = self
            .media
            .get_mut(medium.0 as usize)
            .ok_or(SimError::UnknownMedium(medium))?;
        if m.kind == MediumKind::Wire && m.members.len() >= 2 {
            return Err(SimError::WireFull(medium));
        }
        m.members.push(id.0);
        self.adapters[id.0 as usize].medium = Some(medium.0);
        Ok(())
    }

    pub fn detach(&mut self, id: AdapterId) {
        let Some(a) = self.adapters.get_mut(id.0 as usize) else {
            return;
        };
        if let Some(m) = a.medium.take() {
            if let Some(m) = self.media.get_mut(m as usize) {
                m.members.retain(|&x| x != id.0);
            }
        }
    }

    /// The other end of a wire, if `id` is on a wire that has one.
    fn wire_peer(&self, id: u32) -> Option<Option<u32>> {
        let m = &self.media[self.adapters[id as usize].medium? as usize];
        if m.kind != MediumKind::Wire {
            return None;
        }
        Some(m.members.iter().copied().find(|&x| x != id))
    }

    pub fn status(&self, id: AdapterId) -> LinkStatus {
        let Some(a) = self.adapters.get(id.0 as usize) else {
            return LinkStatus {
                carrier: false,
                oper: OperState::NotPresent,
            };
        };
        let lower_down = LinkStatus {
            carrier: false,
            oper: OperState::LowerLayerDown,
        };
        if !a.up || a.medium.is_none() {
            return LinkStatus {
                carrier: false,
                oper: OperState::Down,
            };
        }
        match self.wire_peer(id.0) {
            // A veth whose peer is down or gone reports no carrier, lower layer down.
            Some(None) => lower_down,
            Some(Some(p)) if !self.adapters[p as usize].up => lower_down,
            _ => LinkStatus::UP,
        }
    }

    fn usable(&self, id: u32) -> bool {
        self.status(AdapterId(id)).is_usable()
    }

    /// The faults frames from `from` to `to` meet now: the direction's own setting or its
    /// medium's, cut also when the direction is in the cut set.
    pub fn direction_faults(&self, from: u32, to: u32) -> Faults {
        let mut f = self.set_faults_of(from, to);
        f.cut |= self.cuts.contains(&(from, to));
        f
    }

    /// The direction's own setting, else its medium's (the cut set not applied).
    pub fn set_faults_of(&self, from: u32, to: u32) -> Faults {
        if let Some(f) = self.faults.get(&(from, to)) {
            return *f;
        }
        self.adapters
            .get(from as usize)
            .and_then(|a| a.medium)
            .map_or(Faults::NONE, |m| self.media[m as usize].faults)
    }

    fn record(&mut self, kind: TraceKind, at: Duration, from: u32, to: Option<u32>, f: &[u8]) {
        if let Some(trace) = self.trace.as_mut() {
            trace.push(TraceEvent {
                at,
                kind,
                from: AdapterId(from),
                to: to.map(AdapterId),
                len: f.len(),
                hash: frame_hash(f),
            });
        }
    }

    /// Sends a frame (already size-checked) from `from` at the current time.
    pub fn send(&mut self, from: u32, frame: &[u8]) {
        let now = self.now;
        if !self.usable(from) {
            self.adapters[from as usize].counters.tx_no_carrier += 1;
            self.record(TraceKind::NoCarrierTx, now, from, None, frame);
            return;
        }
        let c = &mut self.adapters[from as usize].counters;
        c.tx_frames += 1;
        c.tx_bytes += frame.len() as u64;
        self.record(TraceKind::Sent, now, from, None, frame);
        let Some(m) = self.adapters[from as usize].medium else {
            return;
        };
        let medium = &self.media[m as usize];
        // A unicast destination (group bit clear) picks its receiver when filtering is on.
        let dest = (medium.filter_unicast && frame.len() >= 6 && frame[0] & 1 == 0)
            .then(|| MacAddr::from_bytes(frame));
        let receivers: Vec<u32> = medium
            .members
            .iter()
            .copied()
            .filter(|&r| r != from)
            .filter(|&r| match dest {
                None => true,
                Some(d) => self.adapters[r as usize].info.mac == d,
            })
            .collect();
        for to in receivers {
            self.send_one(from, to, frame);
        }
    }

    /// Applies one direction's faults to a frame and schedules what survives.
    fn send_one(&mut self, from: u32, to: u32, frame: &[u8]) {
        let now = self.now;
        let f = self.direction_faults(from, to);
        if f.cut {
            self.adapters[to as usize].counters.rx_cut += 1;
            self.record(TraceKind::Cut, now, from, Some(to), frame);
            return;
        }
        let seed = self.seed;
        let rng = self
            .rngs
            .entry((from, to))
            .or_insert_with(|| Rng::for_stream(seed, from, to));
        if rng.chance(f.loss) {
            self.adapters[to as usize].counters.rx_lost += 1;
            self.record(TraceKind::Lost, now, from, Some(to), frame);
            return;
        }
        let copies = if rng.chance(f.duplicate) { 2 } else { 1 };
        if copies == 2 {
            self.adapters[to as usize].counters.rx_duplicated += 1;
            self.record(TraceKind::Duplicated, now, from, Some(to), frame);
        }
        for _ in 0..copies {
            self.schedule_copy(from, to, frame, &f);
        }
    }

    fn schedule_copy(&mut self, from: u32, to: u32, frame: &[u8], f: &Faults) {
        let now = self.now;
        let seed = self.seed;
        let rng = self
            .rngs
            .entry((from, to))
            .or_insert_with(|| Rng::for_stream(seed, from, to));
        let jitter_ns = u64::try_from(f.jitter.as_nanos()).unwrap_or(u64::MAX);
        let jitter = if jitter_ns > 0 {
            rng.upto(jitter_ns)
        } else {
            0
        };
        let held = rng.chance(f.reorder);
        let corrupt = rng.chance(f.corrupt) && !frame.is_empty();
        let mut copy = frame.to_vec();
        if corrupt {
            flip_bits(rng, &mut copy, f.corrupt_bits);
        }
        let mut at = now
            .saturating_add(f.delay)
            .saturating_add(Duration::from_nanos(jitter));
        if held {
            at = at.saturating_add(f.reorder_delay);
            self.adapters[to as usize].counters.rx_reordered += 1;
            self.record(TraceKind::Reordered, now, from, Some(to), frame);
        }
        if corrupt {
            self.adapters[to as usize].counters.rx_corrupted += 1;
            self.record(TraceKind::Corrupted, now, from, Some(to), &copy);
        }
        self.seq += 1;
        self.queue.push(InFlight {
            at,
            seq: self.seq,
            from,
            to,
            frame: copy,
        });
    }

    pub fn next_event_time(&self) -> Option<Duration> {
        self.queue.peek().map(|e| e.at)
    }

    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }

    /// Moves every frame due by `t` into its receiver's queue, in delivery order.
    pub fn deliver_due(&mut self, t: Duration) {
        while self.queue.peek().is_some_and(|e| e.at <= t) {
            let Some(e) = self.queue.pop() else { break };
            let (from, to) = (e.from, e.to);
            let same_medium = self.adapters[from as usize].medium.is_some()
                && self.adapters[from as usize].medium == self.adapters[to as usize].medium;
            if self.direction_faults(from, to).cut || !same_medium {
                self.adapters[to as usize].counters.rx_cut += 1;
                self.record(TraceKind::Cut, e.at, from, Some(to), &e.frame);
            } else if !self.usable(to) {
                self.adapters[to as usize].counters.rx_no_carrier += 1;
                self.record(TraceKind::NoCarrierRx, e.at, from, Some(to), &e.frame);
            } else if self.adapters[to as usize].rx.len() >= self.rx_capacity {
                self.adapters[to as usize].counters.rx_overflow += 1;
                self.record(TraceKind::Overflow, e.at, from, Some(to), &e.frame);
            } else {
                self.record(TraceKind::Delivered, e.at, from, Some(to), &e.frame);
                let a = &mut self.adapters[to as usize];
                a.counters.rx_delivered += 1;
                a.counters.rx_bytes += e.frame.len() as u64;
                a.rx.push_back((e.at, e.frame));
            }
        }
    }
}

/// Flips `bits` distinct random bits of a non-empty frame (all of them if it has fewer).
fn flip_bits(rng: &mut Rng, frame: &mut [u8], bits: u32) {
    let total = frame.len() as u64 * 8;
    let want = u64::from(bits.max(1));
    if want >= total {
        frame.iter_mut().for_each(|b| *b = !*b);
        return;
    }
    // A mask of the bits already flipped keeps them distinct in O(bits) expected draws.
    let mut mask = vec![0u8; frame.len()];
    let mut done = 0;
    while done < want {
        let bit = rng.upto(total - 1);
        let (byte, b) = ((bit / 8) as usize, 1u8 << (bit % 8));
        if mask[byte] & b == 0 {
            mask[byte] |= b;
            frame[byte] ^= b;
            done += 1;
        }
    }
}
