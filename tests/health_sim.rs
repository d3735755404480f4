//! Health over a simulated segment (link::sim): our server, the peer and a router that
//! answers RIP requests. Probes go out through a real `Link`, the router's answers and the
//! peer's frames come back through it; then the router is cut off (carrier stays up), then
//! our carrier drops.

use std::time::Duration;

use sft3::health::*;
use sft3::link::sim::{SimAdapter, SimNet};
use sft3::link::Link;
use sft3::wire::ipx::{Checksum, IpxRepr, PacketType};
use sft3::wire::rip::{RipEntry, RipRepr};
use sft3::wire::state::AdapterFlags;
use sft3::wire::{emit_ipx_frame, Framing, IpxFrame, MacAddr, Net, Socket};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Sends an IPX packet from `link`.
fn send_ipx(link: &mut SimAdapter, dst_mac: MacAddr, ipx: IpxRepr, payload: &[u8]) {
    let mut buf = [0u8; 1514];
    let mac = link.info().mac;
    let n = emit_ipx_frame(&mut buf, dst_mac, mac, Framing::EthernetII, &ipx, payload).unwrap();
    link.send(&buf[..n]).unwrap();
}

/// The router: answers every RIP request with one route.
fn router_step(r: &mut SimAdapter) {
    let mut buf = [0u8; 1514];
    while let Some(meta) = r.recv(&mut buf).unwrap() {
        let Ok(f) = IpxFrame::parse(&buf[..meta.len]) else {
            continue;
        };
        let ipx = IpxRepr::parse(&f.ipx).unwrap();
        if ipx.dst.socket != Socket::RIP {
            continue;
        }
        let Ok(req) = RipRepr::parse_bytes(f.ipx.payload()) else {
            continue;
        };
        if !req.is_general_request() {
            continue;
        }
        let resp = RipRepr::response(&[RipEntry {
            net: Net(0xbeef),
            hops: 1,
            ticks: 2,
        }]);
        let mut p = [0u8; 16];
        let n = resp.emit(&mut p).unwrap();
        let mut src = ipx.dst;
        src.node = r.info().mac;
        let reply = IpxRepr {
            checksum: Checksum::None,
            hops: 0,
            packet_type: PacketType::RIP,
            dst: ipx.src,
            src,
            payload_len: n,
        };
        send_ipx(r, f.eth.src, reply, &p[..n]);
    }
}

/// The peer's state packet (its contents do not matter here: the driver authenticates
/// state packets before telling health).
fn peer_state(b: &mut SimAdapter) {
    let mac = b.info().mac;
    let addr = sft3::wire::IpxAddr::new(Net::LOCAL, mac, Socket::SFT3_STATE);
    let mut bcast = addr;
    bcast.node = MacAddr::BROADCAST;
    let ipx = sft3::wire::state::ipx_header(addr, bcast, 4);
    send_ipx(b, MacAddr::BROADCAST, ipx, b"SFT3");
}

struct World {
    net: SimNet,
    a: SimAdapter,
    b: SimAdapter,
    r: SimAdapter,
    health: Health,
    peer_on: bool,
}

impl World {
    fn new() -> World {
        let net = SimNet::new(7);
        let a = net.add_adapter("a0");
        let b = net.add_adapter("b0");
        let r = net.add_adapter("r0");
        net.segment(&[a.id(), b.id(), r.id()]).unwrap();
        let mut health = Health::new(
            HealthConfig::default(),
            &[AdapterConfig::new(0, a.info().mac)],
            ms(0),
        );
        health.add_peer_mac(b.info().mac);
        World {
            net,
            a,
            b,
            r,
            health,
            peer_on: true,
        }
    }

    /// Runs in 5 ms steps until `until`.
    fn run_to(&mut self, until: Duration) {
        let mut buf = [0u8; 1514];
        while self.net.now() < until {
            let now = self.net.now();
            let status = self.a.status().unwrap();
            self.health.handle_link(now, 0, status);
            self.health.handle_timeout(now);
            while let Some(p) = self.health.poll_probe(now) {
                self.a.send(&p.frame).unwrap();
            }
            if self.peer_on {
                peer_state(&mut self.b);
            }
            while self.b.recv(&mut buf).unwrap().is_some() {}
            router_step(&mut self.r);
            while let Some(meta) = self.a.recv(&mut buf).unwrap() {
                let t = self.net.now();
                if let Ok(Heard::Peer) = self.health.handle_frame(t, 0, &buf[..meta.len]) {
                    self.health.handle_peer_state(t, 0);
                }
            }
            self.net.advance(ms(5));
        }
    }
}

#[test]
fn probes_over_a_simulated_segment() {
    let mut w = World::new();
    w.run_to(ms(2000));
    let now = w.net.now();
    let h = w.health.adapter_health(now)[0];
    assert_eq!(h.score, MAX_SCORE, "{}", w.health.explain(now)[0]);
    assert!(h
        .flags
        .contains(AdapterFlags::HEARS_IPX.union(AdapterFlags::HEARS_PEER)));
    assert!(w.health.hears_network(now).hears);
    let (sent, answered) = w.health.monitors()[0].probe_counts();
    assert_eq!((sent, answered), (2, 2));
    assert_eq!(w.health.frame_counters().peer, 400);

    // The router is cut off (carrier stays up): probes go unanswered, the segment goes
    // quiet; the peer is still heard.
    w.net.cut_both(w.a.id(), w.r.id());
    w.run_to(ms(6000));
    let now = w.net.now();
    let e = &w.health.explain(now)[0];
    assert_eq!(
        e.health.score,
        BASE_SCORE + PEER_BONUS - QUIET_PENALTY - PROBE_PENALTY,
        "{e}"
    );
    assert!(!w.health.hears_network(now).hears);
    assert!(w.health.monitors()[0].probe_misses() >= 3);

    // And the peer too: not working.
    w.peer_on = false;
    w.run_to(ms(6100));
    let now = w.net.now();
    assert!(!w.health.monitors()[0].is_working(now));

    // Carrier loss: 0 at the next status read.
    w.a.set_carrier(false);
    w.run_to(ms(6110));
    assert_eq!(w.health.adapter_health(w.net.now())[0].score, 0);
    assert_eq!(w.health.summary(w.net.now()).working, 0);
}
