//! Helpers shared by the health tests.
#![allow(dead_code)]

use std::time::Duration;

use sft3::health::*;
use sft3::link::{LinkStatus, OperState};
use sft3::wire::ipx::{Checksum, IpxRepr, PacketType};
use sft3::wire::rip::{RipEntry, RipRepr};
use sft3::wire::sap::{SapEntry, SapRepr, ServerType};
use sft3::wire::state::AdapterHealth;
use sft3::wire::{emit_ipx_frame, Framing, IpxAddr, MacAddr, Net, Socket};

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub const OWN0: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x0a]);
pub const OWN1: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x0b]);
pub const PEER0: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x1a]);
pub const ROUTER: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x99]);
pub const CLIENT: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x77]);

pub const DOWN: LinkStatus = LinkStatus {
    carrier: false,
    oper: OperState::Down,
};

pub fn adapters() -> [AdapterConfig; 2] {
    [AdapterConfig::new(0, OWN0), AdapterConfig::new(1, OWN1)]
}

/// Health with both links up at 0, no probes (tests that want probes turn them on).
pub fn health() -> Health {
    let cfg = HealthConfig {
        probe_interval: None,
        ..HealthConfig::default()
    };
    let mut h = Health::new(cfg, &adapters(), ms(0));
    h.set_peer_macs(&[PEER0]);
    h.handle_link(ms(0), 0, LinkStatus::UP);
    h.handle_link(ms(0), 1, LinkStatus::UP);
    h
}

pub fn monitor(cfg: HealthConfig) -> AdapterMonitor {
    let mut m = AdapterMonitor::new(AdapterConfig::new(0, OWN0), cfg, ms(0));
    m.handle_link(ms(0), LinkStatus::UP);
    m
}

/// An IPX frame from `src_mac` with the given header fields and payload.
pub fn frame(
    src_mac: MacAddr,
    ptype: PacketType,
    src: Socket,
    dst: Socket,
    payload: &[u8],
) -> Vec<u8> {
    let ipx = IpxRepr {
        checksum: Checksum::None,
        hops: 0,
        packet_type: ptype,
        dst: IpxAddr::new(Net::LOCAL, OWN0, dst),
        src: IpxAddr::new(Net(0x1234), src_mac, src),
        payload_len: payload.len(),
    };
    let mut buf = vec![0u8; 1514];
    let n = emit_ipx_frame(&mut buf, OWN0, src_mac, Framing::EthernetII, &ipx, payload).unwrap();
    buf.truncate(n);
    buf
}

pub fn rip_response(from: MacAddr) -> Vec<u8> {
    let mut p = [0u8; 64];
    let r = RipRepr::response(&[RipEntry {
        net: Net(0x1234),
        hops: 1,
        ticks: 2,
    }]);
    let n = r.emit(&mut p).unwrap();
    frame(from, PacketType::RIP, Socket::RIP, PROBE_SOCKET, &p[..n])
}

pub fn sap_response(from: MacAddr) -> Vec<u8> {
    let e = SapEntry::new(
        ServerType::FILE_SERVER,
        b"FS1",
        IpxAddr::new(Net(0x1234), MacAddr::ENGINE, Socket::NCP),
        1,
    )
    .unwrap();
    let mut p = [0u8; 128];
    let n = SapRepr::general_response(&[e]).emit(&mut p).unwrap();
    frame(from, PacketType::PEP, Socket::SAP, Socket::SAP, &p[..n])
}

pub fn ncp(from: MacAddr) -> Vec<u8> {
    frame(
        from,
        PacketType::NCP,
        Socket(0x4003),
        Socket::NCP,
        &[0x22, 0x22, 1, 0, 1, 0],
    )
}

pub fn score(h: &Health, now: Duration, i: usize) -> AdapterHealth {
    h.adapter_health(now)[i]
}
