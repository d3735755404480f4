//! Probes: frames that parse back with the wire layer in each framing, their timing, and
//! what unanswered probes cost.

use sft3::health::*;
use sft3::link::LinkStatus;
use sft3::wire::diag::{DiagMessage, SOCKET as DIAG_SOCKET};
use sft3::wire::ipx::{IpxRepr, PacketType};
use sft3::wire::rip::RipRepr;
use sft3::wire::{Framing, IpxAddr, IpxFrame, MacAddr, Net, Socket};

mod health_common;
use health_common::*;

fn probing(kind: ProbeKind) -> Health {
    let cfg = HealthConfig {
        probe_kind: kind,
        ..HealthConfig::default()
    };
    let mut ad = adapters();
    ad[1].framing = Framing::Raw8023;
    ad[1].net = Net(0xabcd);
    let mut h = Health::new(cfg, &ad, ms(0));
    h.set_peer_macs(&[PEER0]);
    h.handle_link(ms(0), 0, LinkStatus::UP);
    h.handle_link(ms(0), 1, LinkStatus::UP);
    h
}

fn parse_probe(p: &Probe) -> (Framing, IpxRepr, Vec<u8>) {
    let f = IpxFrame::parse(&p.frame).unwrap();
    assert_eq!(f.eth.dst, MacAddr::BROADCAST);
    let ipx = IpxRepr::parse(&f.ipx).unwrap();
    (f.framing, ipx, f.ipx.payload().to_vec())
}

#[test]
fn rip_probes_parse_with_the_wire_layer() {
    let mut h = probing(ProbeKind::Rip);
    let a = h.poll_probe(ms(0)).unwrap();
    let b = h.poll_probe(ms(0)).unwrap();
    assert!(h.poll_probe(ms(0)).is_none());
    assert_eq!((a.adapter, b.adapter), (0, 1));
    for (p, framing, net, mac) in [
        (&a, Framing::EthernetII, Net::LOCAL, OWN0),
        (&b, Framing::Raw8023, Net(0xabcd), OWN1),
    ] {
        assert_eq!(p.kind, ProbeKind::Rip);
        let (fr, ipx, payload) = parse_probe(p);
        assert_eq!(fr, framing);
        assert_eq!(ipx.packet_type, PacketType::RIP);
        assert_eq!(ipx.dst, IpxAddr::new(net, MacAddr::BROADCAST, Socket::RIP));
        assert_eq!(ipx.src, IpxAddr::new(net, mac, PROBE_SOCKET));
        let rip = RipRepr::parse_bytes(&payload).unwrap();
        assert!(rip.is_general_request());
    }
    // The next ones are due one interval later.
    assert_eq!(h.poll_timeout(), Some(ms(500))); // the probes' deadlines come first
    assert!(h.poll_probe(ms(999)).is_none());
    assert!(h.poll_probe(ms(1000)).is_some());
}

#[test]
fn diag_probes_parse_and_alternate() {
    let mut h = probing(ProbeKind::Diag);
    let (_, ipx, payload) = parse_probe(&h.poll_probe(ms(0)).unwrap());
    assert_eq!(ipx.dst.socket, DIAG_SOCKET);
    match DiagMessage::parse(ipx.src.socket, ipx.dst.socket, &payload).unwrap() {
        DiagMessage::Request(r) => assert!(r.exclusions.is_empty()),
        other => panic!("{other:?}"),
    }
    let mut h = probing(ProbeKind::Alternate);
    let mut kinds = vec![];
    for t in 0..4 {
        while let Some(p) = h.poll_probe(ms(t * 1000)) {
            if p.adapter == 0 {
                kinds.push(p.kind);
            }
        }
    }
    use ProbeKind::*;
    assert_eq!(kinds, [Rip, Diag, Rip, Diag]);
}

#[test]
fn no_probe_on_a_down_link() {
    let mut h = probing(ProbeKind::Rip);
    h.handle_link(ms(0), 0, DOWN);
    let p = h.poll_probe(ms(0)).unwrap();
    assert_eq!(p.adapter, 1);
    assert!(h.poll_probe(ms(0)).is_none());
}

#[test]
fn unanswered_probes_after_answers_cost_points() {
    let mut h = probing(ProbeKind::Rip);
    // Never answered: misses alone do not count (a segment with only the two servers).
    for t in 0..5 {
        while h.poll_probe(ms(t * 1000)).is_some() {}
        h.handle_timeout(ms(t * 1000 + 600));
    }
    assert_eq!(h.monitors()[0].probe_misses(), 5);
    assert_eq!(score(&h, ms(4600), 0).score, BASE_SCORE);
    // A router answers, then the segment goes dead (carrier still up).
    while h.poll_probe(ms(5000)).is_some() {}
    h.handle_frame(ms(5010), 0, &rip_response(ROUTER)).unwrap();
    assert_eq!(h.monitors()[0].probe_counts(), (6, 1));
    assert_eq!(h.monitors()[0].probe_misses(), 0);
    assert_eq!(score(&h, ms(5010), 0).score, BASE_SCORE + STATION_BONUS);
    for t in 6..9 {
        while h.poll_probe(ms(t * 1000)).is_some() {}
        h.handle_timeout(ms(t * 1000 + 500));
    }
    assert_eq!(h.monitors()[0].probe_misses(), 3);
    let e = &h.explain(ms(8500))[0];
    // Station gone quiet and three probes unanswered: not working.
    assert_eq!(e.health.score, BASE_SCORE - QUIET_PENALTY - PROBE_PENALTY);
    assert!(!e.working());
    assert!(e.to_string().contains("3 probes unanswered -200"), "{e}");
    // An answer clears the misses.
    while h.poll_probe(ms(9000)).is_some() {}
    h.handle_frame(ms(9001), 0, &sap_response(ROUTER)).unwrap();
    assert_eq!(score(&h, ms(9001), 0).score, BASE_SCORE + STATION_BONUS);
}

#[test]
fn probes_in_every_framing_parse_back() {
    for framing in Framing::ALL {
        for kind in [ProbeKind::Rip, ProbeKind::Diag] {
            let cfg = AdapterConfig {
                index: 3,
                mac: OWN1,
                framing,
                net: Net(0x0102_0304),
            };
            let mut buf = [0u8; 128];
            let n = probe_frame(&cfg, kind, &mut buf).unwrap();
            assert!(n >= 60, "padded to the Ethernet minimum");
            let f = IpxFrame::parse(&buf[..n]).unwrap();
            assert_eq!((f.framing, f.eth.src), (framing, OWN1));
            let ipx = IpxRepr::parse(&f.ipx).unwrap();
            assert_eq!(ipx.src, IpxAddr::new(Net(0x0102_0304), OWN1, PROBE_SOCKET));
            match kind {
                ProbeKind::Rip => {
                    assert_eq!(ipx.packet_type, PacketType::RIP);
                    assert!(RipRepr::parse_bytes(f.ipx.payload())
                        .unwrap()
                        .is_general_request());
                }
                _ => assert!(matches!(
                    DiagMessage::parse(ipx.src.socket, ipx.dst.socket, f.ipx.payload()),
                    Ok(DiagMessage::Request(_))
                )),
            }
            // Our own probe, looped back, is not a station.
            assert_eq!(
                heard_from_frame(&buf[..n], &[OWN0, OWN1], &[]).unwrap(),
                Heard::Own
            );
        }
    }
}
