//! Simulated adapters joined by wires and segments on virtual time, with seeded faults.
//!
//! | piece | what |
//! |---|---|
//! | [`SimNet`] | the network: adapters, media, the virtual clock, faults, the trace |
//! | [`SimAdapter`] | one adapter, a [`Link`] |
//! | wire ([`SimNet::wire`]) | two adapters, like a veth pair: carrier follows the peer |
//! | segment ([`SimNet::segment`]) | many adapters on one LAN, like a hub |
//! | [`Faults`] | per direction: cut, loss, duplication, reordering, delay, jitter, corruption |
//! | [`TraceEvent`] | what happened to each frame, when, between whom |
//!
//! **Deterministic, single-threaded.** A [`SimNet`] is a cheap handle (`Rc<RefCell<..>>`)
//! to the whole network; clones share it. Nothing moves by itself: the driver advances the
//! virtual clock with [`SimNet::advance_to`] / [`SimNet::advance`] and can jump straight to
//! [`SimNet::next_event_time`]. Ties are broken by the order frames were scheduled, so the
//! same script with the same seed gives the same trace, always.
//!
//! **Time** is a [`Duration`] since the sim's epoch (0 at creation). Received frames carry
//! it as a [`Timestamp`]: the epoch ([`SimNet::set_epoch`], the Unix epoch by default) plus
//! the delivery time.
//!
//! **Faults** are set per direction, for each sending adapter → receiving adapter pair:
//! each medium has a default ([`SimNet::set_medium_faults`]) that a per-direction setting
//! ([`SimNet::set_faults`]) overrides. So on a segment one receiver can lose frames while
//! another does not. A one-way cut ([`SimNet::cut`]) is kept apart from the faults, so
//! [`SimNet::restore`] leaves them as they were. Any of them can change at
//! any virtual time; a change applies to frames sent afterwards, except a cut, which also
//! drops frames still in flight in that direction when they arrive.
//!
//! **Randomness** comes from one `u64` seed: each direction draws from its own xoshiro256**
//! stream seeded from the net's seed and both adapters' ids, so traffic on one wire never
//! perturbs another's draws.
//!
//! **Segments flood**: a frame reaches every other adapter on the segment, unicast included,
//! as a hub would (and as a bridge does before it has learned an address). With
//! [`SimNet::set_unicast_filter`] a unicast frame reaches only the adapter with that MAC.
//!
//! **Carrier**: [`SimNet::set_carrier`] takes an adapter down: it reports
//! `{carrier: false, oper: Down}`, and on a wire its peer reports
//! `{carrier: false, oper: LowerLayerDown}`, as a Linux veth does (on a segment the others
//! stay up). A frame sent by an adapter without carrier is dropped silently (counted; `send`
//! returns `Ok`, as a socket on a veth without carrier does); a frame arriving at an adapter
//! without carrier is dropped.

mod fault;
pub mod rng;
mod state;
mod trace;

pub use fault::{Faults, SimCounters};
pub use trace::{frame_hash, TraceEvent, TraceKind};

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use thiserror::Error;

use self::state::{MediumKind, Net};
use crate::capture::Timestamp;
use crate::link::{check_size, AdapterInfo, Link, LinkError, LinkStatus, RxMeta};
use crate::wire::MacAddr;

/// An adapter's number in its [`SimNet`] (creation order, from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AdapterId(pub u32);

/// A wire's or segment's number in its [`SimNet`] (creation order, from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MediumId(pub u32);

/// A mistake in building a simulated network.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SimError {
    /// No adapter has that id in this net.
    #[error("no simulated adapter {0:?}")]
    UnknownAdapter(AdapterId),
    /// No wire or segment has that id in this net.
    #[error("no simulated wire or segment {0:?}")]
    UnknownMedium(MediumId),
    /// The adapter is already on a wire or segment (detach it first).
    #[error("simulated adapter {0:?} is already attached")]
    AlreadyAttached(AdapterId),
    /// A wire joins two adapters at most.
    #[error("simulated wire {0:?} already has two ends")]
    WireFull(MediumId),
}

/// The MTU adapters get unless told otherwise.
pub const DEFAULT_MTU: usize = 1500;

/// Interface indexes of simulated adapters start here, far from real ones.
pub const INDEX_BASE: u32 = 10_000;

/// A simulated network: a cheap, cloneable handle; clones share the same network.
#[derive(Clone)]
pub struct SimNet {
    inner: Rc<RefCell<Net>>,
}

impl SimNet {
    /// An empty network at virtual time 0 whose randomness all derives from `seed`.
    pub fn new(seed: u64) -> SimNet {
        SimNet {
            inner: Rc::new(RefCell::new(Net::new(seed))),
        }
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.inner.borrow().seed
    }

    /// Sets the wall-clock time that virtual time 0 stands for in received timestamps.
    pub fn set_epoch(&self, epoch: Timestamp) {
        self.inner.borrow_mut().epoch = epoch;
    }

    /// The wall-clock time of virtual time 0.
    pub fn epoch(&self) -> Timestamp {
        self.inner.borrow().epoch
    }

    /// Virtual time now, since the epoch.
    pub fn now(&self) -> Duration {
        self.inner.borrow().now
    }

    /// Virtual time now as a timestamp (epoch + now).
    pub fn timestamp(&self) -> Timestamp {
        let n = self.inner.borrow();
        n.to_timestamp(n.now)
    }

    /// Moves the clock to `t` (never backwards: an earlier `t` does nothing) and delivers
    /// every frame due by then into its receiver's queue.
    pub fn advance_to(&self, t: Duration) {
        let mut n = self.inner.borrow_mut();
        if t > n.now {
            n.now = t;
        }
        let now = n.now;
        n.deliver_due(now);
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let t = self.now().saturating_add(d);
        self.advance_to(t);
    }

    /// When the next frame in flight arrives, if any (possibly now or earlier, when frames
    /// are due but not yet moved into a queue).
    pub fn next_event_time(&self) -> Option<Duration> {
        self.inner.borrow().next_event_time()
    }

    /// Advances to the next arrival, if any, and returns its time.
    pub fn advance_to_next(&self) -> Option<Duration> {
        let t = self.next_event_time()?;
        self.advance_to(t);
        Some(self.now())
    }

    /// Frames in flight (scheduled, not yet arrived).
    pub fn in_flight(&self) -> usize {
        self.inner.borrow().in_flight()
    }

    /// A new adapter named `name`, with a made-up locally administered MAC
    /// (`02:53:49:4d:hi:lo` from its id), index [`INDEX_BASE`] + id and MTU 1500; not
    /// attached to anything (no carrier) until put on a wire or segment.
    pub fn add_adapter(&self, name: &str) -> SimAdapter {
        let id = self.inner.borrow().adapters.len() as u32;
        let [.., hi, lo] = id.to_be_bytes();
        self.add_adapter_with(name, MacAddr([0x02, 0x53, 0x49, 0x4d, hi, lo]), DEFAULT_MTU)
    }

    /// A new adapter with the given MAC and MTU.
    pub fn add_adapter_with(&self, name: &str, mac: MacAddr, mtu: usize) -> SimAdapter {
        let mut n = self.inner.borrow_mut();
        let id = n.adapters.len() as u32;
        let info = AdapterInfo {
            name: name.to_string(),
            index: INDEX_BASE + id,
            mac,
            mtu,
        };
        n.adapters.push(state::AdapterState {
            info: info.clone(),
            up: true,
            medium: None,
            rx: Default::default(),
            counters: SimCounters::default(),
        });
        SimAdapter {
            net: self.clone(),
            id: AdapterId(id),
            info,
        }
    }

    /// Another handle to an existing adapter.
    pub fn adapter(&self, id: AdapterId) -> Option<SimAdapter> {
        let info = self.inner.borrow().adapter(id).ok()?.info.clone();
        Some(SimAdapter {
            net: self.clone(),
            id,
            info,
        })
    }

    /// Joins two unattached adapters with a wire.
    pub fn wire(&self, a: AdapterId, b: AdapterId) -> Result<MediumId, SimError> {
        self.inner
            .borrow_mut()
            .new_medium(MediumKind::Wire, &[a, b])
    }

    /// Puts unattached adapters on a new segment (more can join with [`SimNet::attach`]).
    pub fn segment(&self, ids: &[AdapterId]) -> Result<MediumId, SimError> {
        self.inner.borrow_mut().new_medium(MediumKind::Segment, ids)
    }

    /// Attaches an unattached adapter to a segment, or to a wire with a free end.
    pub fn attach(&self, medium: MediumId, id: AdapterId) -> Result<(), SimError> {
        self.inner.borrow_mut().attach(medium, id)
    }

    /// Unplugs an adapter from its wire or segment (its frames in flight are lost).
    pub fn detach(&self, id: AdapterId) {
        self.inner.borrow_mut().detach(id)
    }

    /// On a segment, deliver a unicast frame only to the adapter with its destination MAC
    /// (broadcast and multicast still reach all); off by default (flooding).
    pub fn set_unicast_filter(&self, medium: MediumId, on: bool) {
        if let Some(m) = self.inner.borrow_mut().media.get_mut(medium.0 as usize) {
            m.filter_unicast = on;
        }
    }

    /// Sets the faults of every direction on a medium that has no per-direction setting.
    pub fn set_medium_faults(&self, medium: MediumId, faults: Faults) {
        if let Some(m) = self.inner.borrow_mut().media.get_mut(medium.0 as usize) {
            m.faults = faults;
        }
    }

    /// The faults frames from `from` to `to` meet now.
    pub fn faults(&self, from: AdapterId, to: AdapterId) -> Faults {
        self.inner.borrow().direction_faults(from.0, to.0)
    }

    /// Sets the faults of one direction, overriding the medium's.
    pub fn set_faults(&self, from: AdapterId, to: AdapterId, faults: Faults) {
        self.inner
            .borrow_mut()
            .faults
            .insert((from.0, to.0), faults);
    }

    /// Sets the faults of both directions between two adapters.
    pub fn set_faults_both(&self, a: AdapterId, b: AdapterId, faults: Faults) {
        self.set_faults(a, b, faults);
        self.set_faults(b, a, faults);
    }

    /// Changes one direction's faults in place, starting from its own setting or else its
    /// medium's (a [`cut`](Self::cut) is kept apart and not copied into the setting).
    pub fn update_faults(&self, from: AdapterId, to: AdapterId, change: impl FnOnce(&mut Faults)) {
        let mut f = self.inner.borrow().set_faults_of(from.0, to.0);
        change(&mut f);
        self.set_faults(from, to, f);
    }

    /// Drops a direction's own setting: it follows its medium's faults again (a
    /// [`cut`](Self::cut) stays until [`restore`](Self::restore)).
    pub fn clear_faults(&self, from: AdapterId, to: AdapterId) {
        self.inner.borrow_mut().faults.remove(&(from.0, to.0));
    }

    /// Cuts one direction: nothing from `from` reaches `to` until [`restore`](Self::restore),
    /// whatever the faults say meanwhile. The cut is kept apart from the faults: it leaves
    /// no per-direction setting behind.
    pub fn cut(&self, from: AdapterId, to: AdapterId) {
        self.inner.borrow_mut().cuts.insert((from.0, to.0));
    }

    /// Cuts both directions between two adapters.
    pub fn cut_both(&self, a: AdapterId, b: AdapterId) {
        self.cut(a, b);
        self.cut(b, a);
    }

    /// Restores one direction after a cut: lifts [`cut`](Self::cut), and clears the `cut`
    /// flag of the direction's own setting if it has one (its other faults stay). A
    /// medium-wide cut (in [`set_medium_faults`](Self::set_medium_faults)) is lifted there.
    pub fn restore(&self, from: AdapterId, to: AdapterId) {
        let mut n = self.inner.borrow_mut();
        n.cuts.remove(&(from.0, to.0));
        if let Some(f) = n.faults.get_mut(&(from.0, to.0)) {
            f.cut = false;
        }
    }

    /// Restores both directions between two adapters.
    pub fn restore_both(&self, a: AdapterId, b: AdapterId) {
        self.restore(a, b);
        self.restore(b, a);
    }

    /// Brings an adapter's carrier up or down (unknown ids are ignored).
    pub fn set_carrier(&self, id: AdapterId, up: bool) {
        if let Some(a) = self.inner.borrow_mut().adapters.get_mut(id.0 as usize) {
            a.up = up;
        }
    }

    /// An adapter's carrier and operstate now (`NotPresent` for an unknown id).
    pub fn status(&self, id: AdapterId) -> LinkStatus {
        self.inner.borrow().status(id)
    }

    /// An adapter's counters (zero for an unknown id).
    pub fn counters(&self, id: AdapterId) -> SimCounters {
        self.inner
            .borrow()
            .adapter(id)
            .map_or(SimCounters::default(), |a| a.counters)
    }

    /// Frames waiting in an adapter's receive queue (arrived, not yet taken).
    pub fn pending(&self, id: AdapterId) -> usize {
        self.inner.borrow().adapter(id).map_or(0, |a| a.rx.len())
    }

    /// Sets how many frames a receive queue holds before arrivals are dropped (default
    /// 65 536).
    pub fn set_rx_capacity(&self, frames: usize) {
        self.inner.borrow_mut().rx_capacity = frames;
    }

    /// Starts (clearing any earlier trace) or stops recording the trace.
    pub fn record_trace(&self, on: bool) {
        self.inner.borrow_mut().trace = on.then(Vec::new);
    }

    /// The trace so far (empty when not recording).
    pub fn trace(&self) -> Vec<TraceEvent> {
        self.inner.borrow().trace.clone().unwrap_or_default()
    }

    /// Takes the trace so far, leaving recording on with an empty trace.
    pub fn take_trace(&self) -> Vec<TraceEvent> {
        self.inner
            .borrow_mut()
            .trace
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }
}

impl fmt::Debug for SimNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.inner.borrow();
        f.debug_struct("SimNet")
            .field("seed", &n.seed)
            .field("now", &n.now)
            .field("adapters", &n.adapters.len())
            .field("in_flight", &n.in_flight())
            .finish()
    }
}

/// One simulated adapter: a [`Link`] on its [`SimNet`]. Clones are handles to the same
/// adapter.
#[derive(Clone)]
pub struct SimAdapter {
    net: SimNet,
    id: AdapterId,
    info: AdapterInfo,
}

impl SimAdapter {
    /// The adapter's id in its net.
    pub fn id(&self) -> AdapterId {
        self.id
    }

    /// The net the adapter is on.
    pub fn net(&self) -> &SimNet {
        &self.net
    }

    /// Brings this adapter's carrier up or down.
    pub fn set_carrier(&self, up: bool) {
        self.net.set_carrier(self.id, up);
    }

    /// This adapter's counters.
    pub fn counters(&self) -> SimCounters {
        self.net.counters(self.id)
    }

    /// Frames arrived and waiting.
    pub fn pending(&self) -> usize {
        self.net.pending(self.id)
    }
}

impl fmt::Debug for SimAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimAdapter")
            .field("id", &self.id)
            .field("info", &self.info)
            .finish()
    }
}

impl Link for SimAdapter {
    fn info(&self) -> &AdapterInfo {
        &self.info
    }

    /// Checks the size, then hands the frame to the wire or segment at the current virtual
    /// time. Without carrier the frame is dropped silently (counted), and `Ok` is returned.
    fn send(&mut self, frame: &[u8]) -> Result<(), LinkError> {
        let mut n = self.net.inner.borrow_mut();
        if let Err(e) = check_size(&self.info, frame) {
            if let Some(a) = n.adapters.get_mut(self.id.0 as usize) {
                a.counters.tx_too_big += 1;
            }
            return Err(e);
        }
        n.send(self.id.0, frame);
        Ok(())
    }

    /// The next frame whose delivery time is at or before now, in delivery order. A frame
    /// longer than `buf` is cut to fit (`orig_len` tells).
    fn recv(&mut self, buf: &mut [u8]) -> Result<Option<RxMeta>, LinkError> {
        let mut n = self.net.inner.borrow_mut();
        let now = n.now;
        n.deliver_due(now);
        let Some(a) = n.adapters.get_mut(self.id.0 as usize) else {
            return Ok(None);
        };
        let Some((at, frame)) = a.rx.pop_front() else {
            return Ok(None);
        };
        a.counters.rx_taken += 1;
        let len = frame.len().min(buf.len());
        buf[..len].copy_from_slice(&frame[..len]);
        Ok(Some(RxMeta {
            len,
            orig_len: frame.len(),
            ts: n.to_timestamp(at),
        }))
    }

    fn status(&mut self) -> Result<LinkStatus, LinkError> {
        Ok(self.net.status(self.id))
    }
}
