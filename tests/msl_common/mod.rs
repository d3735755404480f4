//! The driver shared by the MSL transport tests: two endpoints on a simulated wire, run
//! on virtual time.
#![allow(dead_code)]

use std::time::Duration;

use sft3::link::sim::{Faults, SimAdapter, SimNet};
use sft3::link::Link;
use sft3::msl::{Compat, Msl, MslConfig, MslEvent, MslState, Priority};
use sft3::wire::msl::{FrameType, MslLinkFrame};
use sft3::wire::MacAddr;

pub const MS: Duration = Duration::from_millis(1);
pub const CLASSES: [Priority; 4] = [
    Priority::Control,
    Priority::Event,
    Priority::Bulk,
    Priority::Background,
];

/// splitmix64: the test's own deterministic randomness.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub fn config(id: u64, inc: u64, mac: MacAddr, mtu: usize) -> MslConfig {
    let mut c = MslConfig::new(id, inc, mac).with_name(if id == 1 { "SFT3-A" } else { "SFT3-B" });
    c.mtu = mtu;
    c.compat = Compat {
        volume_size: 1 << 30,
        region_size: 1 << 20,
        engine_version: 0x0001_0002,
    };
    c.history.push(0x1000 + id);
    c
}

/// Two endpoints on a simulated wire, and a driver loop on virtual time.
pub struct Pair {
    pub net: SimNet,
    pub ad: [SimAdapter; 2],
    pub ep: [Msl; 2],
    pub events: [Vec<(Duration, MslEvent)>; 2],
    pub buf: Vec<u8>,
    /// Rewrites each frame side `i` sends before it reaches the wire (a peer of another
    /// build, a man in the middle).
    pub tx_filter: Option<fn(usize, &mut Vec<u8>)>,
}

impl Pair {
    pub fn new(seed: u64, mtu: usize, cfg: impl Fn(usize, MslConfig) -> MslConfig) -> Pair {
        let net = SimNet::new(seed);
        let a = net.add_adapter_with("msl-a", MacAddr([2, 0, 0, 0, 0, 1]), mtu);
        let b = net.add_adapter_with("msl-b", MacAddr([2, 0, 0, 0, 0, 2]), mtu);
        net.wire(a.id(), b.id()).unwrap();
        let ea = Msl::new(cfg(0, config(1, 100, a.info().mac, mtu)), net.now());
        let eb = Msl::new(cfg(1, config(2, 200, b.info().mac, mtu)), net.now());
        Pair {
            net,
            ad: [a, b],
            ep: [ea, eb],
            events: [Vec::new(), Vec::new()],
            buf: vec![0u8; mtu + 64],
            tx_filter: None,
        }
    }

    pub fn faults(&self, f: Faults) {
        self.net
            .set_faults_both(self.ad[0].id(), self.ad[1].id(), f);
    }

    /// Everything due at the current instant: receive, time out, transmit, until quiet.
    pub fn settle(&mut self) {
        let now = self.net.now();
        for _ in 0..100_000 {
            let mut busy = false;
            for i in 0..2 {
                let mut rx = vec![0u8; 10_000];
                while let Some(m) = self.ad[i].recv(&mut rx).unwrap() {
                    self.ep[i].handle_frame(now, &rx[..m.len]);
                    busy = true;
                }
                self.ep[i].handle_timeout(now);
                while let Some(n) = self.ep[i].poll_transmit(now, &mut self.buf) {
                    match self.tx_filter {
                        Some(f) => {
                            let mut v = self.buf[..n].to_vec();
                            f(i, &mut v);
                            self.ad[i].send(&v).unwrap();
                        }
                        None => self.ad[i].send(&self.buf[..n]).unwrap(),
                    }
                    busy = true;
                }
                while let Some(e) = self.ep[i].poll_event() {
                    self.events[i].push((now, e));
                }
            }
            if !busy {
                return;
            }
        }
        panic!("no progress at {now:?}");
    }

    /// One driver step: settle, then jump to the next frame arrival or timer.
    pub fn step(&mut self) {
        self.settle();
        let now = self.net.now();
        let next = [
            self.net.next_event_time(),
            self.ep[0].poll_timeout(),
            self.ep[1].poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(now + 100 * MS);
        self.net
            .advance_to(next.max(now + Duration::from_micros(1)));
    }

    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Pair) -> bool) -> bool {
        while self.net.now() < limit {
            if done(self) {
                return true;
            }
            self.step();
        }
        done(self)
    }

    pub fn run_for(&mut self, d: Duration) {
        let end = self.net.now() + d;
        self.run_until(end, |_| false);
    }

    pub fn up(&mut self) {
        assert!(
            self.run_until(self.net.now() + 200 * MS, |p| p
                .ep
                .iter()
                .all(|e| e.state() == MslState::Up)),
            "no session: {:?} {:?}",
            self.ep[0].state(),
            self.ep[1].state()
        );
    }

    pub fn delivered(&self, i: usize) -> Vec<(Priority, Vec<u8>)> {
        self.events[i]
            .iter()
            .filter_map(|(_, e)| match e {
                MslEvent::Delivered { priority, message } => Some((*priority, message.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn count(&self, i: usize, f: impl Fn(&MslEvent) -> bool) -> usize {
        self.events[i].iter().filter(|(_, e)| f(e)).count()
    }
}

pub fn key(b: u8) -> [u8; 32] {
    core::array::from_fn(|i| b.wrapping_add(i as u8))
}

/// The type and class of an MSL frame.
pub fn class_of(frame: &[u8]) -> (FrameType, Priority) {
    let f = MslLinkFrame::parse(frame, None).unwrap();
    (f.msl.frame_type(), f.msl.priority())
}
pub fn message(rng: &mut Rng, max: usize) -> Vec<u8> {
    // Log-uniform sizes from 1 byte to `max`, so small and large messages both appear.
    let bits = (max as f64).log2();
    let len = (2f64.powf(rng.unit() * bits) as usize).clamp(1, max);
    let x = rng.next();
    (0..len)
        .map(|i| (x.wrapping_mul(i as u64 + 1) >> 24) as u8)
        .collect()
}

/// Both sides still carry messages both ways, and A's timer is not in the past.
pub fn still_works(p: &mut Pair) {
    let (a, b) = (p.delivered(0).len(), p.delivered(1).len());
    p.ep[0].send(Priority::Event, b"from-a").unwrap();
    p.ep[1].send(Priority::Event, b"from-b").unwrap();
    p.run_for(500 * MS);
    assert!(p.ep.iter().all(|e| e.state() == MslState::Up));
    assert_eq!(p.delivered(0).len(), a + 1);
    assert_eq!(p.delivered(1).len(), b + 1);
    let now = p.net.now();
    assert!(p.ep[0].poll_timeout().is_some_and(|t| t >= now));
}
