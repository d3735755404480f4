//! One-line summaries of the non-IPX Ethernet_II traffic a LAN carries (IP via etherparse).

use std::fmt::Write as _;

use etherparse::{EtherType, NetSlice, SlicedPacket, TransportSlice};

/// Writes e.g. `IPv4 10.0.0.1.68 > 10.0.0.255.67 UDP len 300`, or the EtherType when it is not IP.
pub fn summary(l: &mut String, ethertype: u16, payload: &[u8]) {
    let name = match ethertype {
        0x0800 => "IPv4",
        0x0806 => "ARP",
        0x86dd => "IPv6",
        0x88cc => "LLDP",
        0x8138 => "Novell (0x8138)",
        _ => "",
    };
    let sliced = match ethertype {
        0x0800 | 0x86dd => SlicedPacket::from_ether_type(EtherType(ethertype), payload).ok(),
        _ => None,
    };
    let Some(p) = sliced else {
        if name.is_empty() {
            let _ = write!(l, "ethertype {ethertype:#06x} len {}", payload.len());
        } else {
            let _ = write!(l, "{name} len {}", payload.len());
        }
        return;
    };
    let (src, dst): (String, String) = match &p.net {
        Some(NetSlice::Ipv4(v4)) => (
            v4.header().source_addr().to_string(),
            v4.header().destination_addr().to_string(),
        ),
        Some(NetSlice::Ipv6(v6)) => (
            v6.header().source_addr().to_string(),
            v6.header().destination_addr().to_string(),
        ),
        _ => (String::new(), String::new()),
    };
    let _ = write!(l, "{name} ");
    match &p.transport {
        Some(TransportSlice::Tcp(t)) => {
            let _ = write!(
                l,
                "{src}.{} > {dst}.{} TCP len {}",
                t.source_port(),
                t.destination_port(),
                t.payload().len()
            );
        }
        Some(TransportSlice::Udp(u)) => {
            let _ = write!(
                l,
                "{src}.{} > {dst}.{} UDP len {}",
                u.source_port(),
                u.destination_port(),
                u.payload().len()
            );
        }
        Some(TransportSlice::Icmpv4(_)) | Some(TransportSlice::Icmpv6(_)) => {
            let _ = write!(l, "{src} > {dst} ICMP");
        }
        None => {
            let _ = write!(l, "{src} > {dst} len {}", payload.len());
        }
    }
}
