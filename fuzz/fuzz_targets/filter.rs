//! ipxdump filter expressions: parse the input (as UTF-8, lossily), then evaluate the filter
//! on an empty `Facts` and on one of an IPX frame.
#![no_main]

use ipxdump::filter::{Facts, Filter, IpxFacts};
use libfuzzer_sys::fuzz_target;
use sft3::wire::{Framing, IpxAddr, MacAddr, Net, PacketType, Socket};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let f = match Filter::parse(&text) {
        Ok(Some(f)) => f,
        Ok(None) => return,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let _ = f.matches(&Facts::default());
    let ipx = Facts {
        framing: Some(Framing::Llc),
        ipx: Some(IpxFacts {
            packet_type: PacketType(4),
            src: IpxAddr::new(Net(0x28), MacAddr([0, 0x30, 0x47, 1, 2, 3]), Socket(0x4008)),
            dst: IpxAddr::new(Net(0x28), MacAddr::BROADCAST, Socket::SAP),
        }),
        proto: Some("sap"),
        error: false,
    };
    let _ = f.matches(&ipx);
});
