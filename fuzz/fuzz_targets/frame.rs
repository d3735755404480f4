//! A whole Ethernet frame: the dissector (framings, IPX, classify, every protocol, MSL), the
//! IPX frame parser, the link header view, the IPX checksum, and a frame round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sft3::wire::ipx::{Checksum, ChecksumStatus};
use sft3::wire::{dissect, EthernetFrame, EthernetRepr, IpxFrame, Proto};

fuzz_target!(|data: &[u8]| {
    let d = dissect(data);
    // ipxdump prints all of it: formatting must not panic either.
    let _ = format!("{d:?}");
    if let Some(e) = d.error {
        let _ = e.to_string();
    }
    if let Some(p) = &d.ipx {
        let payload = p.payload();
        let (src, dst) = (p.src().socket, p.dst().socket);
        match d.proto {
            Some(Proto::Rip) => sft3_fuzz::rip(payload),
            Some(Proto::Sap) => sft3_fuzz::sap(payload),
            Some(Proto::Diag) => sft3_fuzz::diag(src, dst, payload),
            Some(Proto::Spx) => sft3_fuzz::spx(payload),
            Some(Proto::Ncp) => sft3_fuzz::ncp(payload),
            Some(Proto::Netbios) => sft3_fuzz::netbios(payload),
            Some(Proto::State) => sft3_fuzz::state(payload),
            _ => {}
        }
    } else if d.proto == Some(Proto::Msl) {
        sft3_fuzz::msl(data);
    }

    if let Ok(eth) = EthernetFrame::new_checked(data) {
        let _ = (
            eth.dst_addr().is_multicast(),
            eth.src_addr().to_string(),
            eth.vlan(),
        );
        let _ = (
            eth.type_or_length(),
            eth.encap(),
            eth.framing().map(|f| f.to_string()),
        );
        assert!(eth.header_len() + eth.payload().len() <= data.len());
        let r = EthernetRepr::parse(&eth).expect("a checked link header parses");
        assert_eq!(r.header_len(), eth.header_len());
        assert_eq!(d.link_len, eth.header_len());
    }

    let f = match IpxFrame::parse(data) {
        Ok(f) => f,
        Err(_) => {
            assert!(
                d.ipx.is_none(),
                "dissect found IPX that IpxFrame::parse refuses"
            );
            return;
        }
    };
    assert!(
        d.ipx.is_some(),
        "IpxFrame::parse found IPX that dissect did not"
    );
    let p = &f.ipx;
    let _ = (
        p.checksum(),
        p.length(),
        p.hops(),
        p.packet_type().to_string(),
    );
    let _ = (p.dst().to_string(), p.src().dotted().to_string());
    let status = p.verify_checksum();
    let repr = f.ipx_repr();
    assert_eq!(repr.total_len(), p.as_bytes().len());

    // Rebuild the frame from the parsed link header, IPX header and payload: it must parse
    // back to the same values (the link padding and the 802.3 slack byte are not kept).
    let payload = p.payload();
    let mut buf = vec![0u8; f.eth.frame_len(repr.total_len())];
    let off = f
        .eth
        .emit(&mut buf, repr.total_len())
        .expect("emit of a parsed link header");
    let n = repr
        .emit_with_payload(&mut buf[off..], payload)
        .expect("emit of a parsed IPX packet");
    assert_eq!(n, repr.total_len());
    let g = IpxFrame::parse(&buf).expect("a rebuilt frame parses");
    assert_eq!(g.eth, f.eth);
    assert_eq!(g.framing, f.framing);
    assert_eq!(g.ipx_repr(), repr);
    assert_eq!(g.ipx.payload(), payload);
    match (g.ipx.verify_checksum(), repr.checksum) {
        (ChecksumStatus::None, Checksum::None) | (ChecksumStatus::Good, Checksum::Sum) => {}
        other => panic!("rebuilt frame checksum: {other:?}"),
    }
    // The checksum skips the hop count, so a good one is reproduced exactly.
    if status == ChecksumStatus::Good {
        assert_eq!(g.ipx.checksum(), p.checksum());
    }
});
