//! The text forms of IPX addresses, networks, nodes, sockets and framing names: whatever
//! parses prints back to a form that parses to the same value, and only hex digits (after an
//! optional `0x`, and for a node the `:`/`-` separators) are accepted as digits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sft3::wire::{Framing, IpxAddr, MacAddr, Net, Socket};

/// True when `s` is hex digits only, after an optional `0x`/`0X`.
fn all_hex(s: &str) -> bool {
    let t = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    t.bytes().all(|c| c.is_ascii_hexdigit())
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(a) = s.parse::<IpxAddr>() {
        assert_eq!(a.to_string().parse::<IpxAddr>(), Ok(a));
        assert_eq!(a.dotted().to_string().parse::<IpxAddr>(), Ok(a));
    }
    if let Ok(m) = s.parse::<MacAddr>() {
        assert_eq!(m.to_string().parse::<MacAddr>(), Ok(m));
        assert_eq!(m.hex().to_string().parse::<MacAddr>(), Ok(m));
        assert!(
            s.bytes()
                .all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'-'),
            "node {s:?}"
        );
    }
    if let Ok(n) = s.parse::<Net>() {
        assert_eq!(n.to_string().parse::<Net>(), Ok(n));
        assert!(all_hex(s), "network {s:?} accepted");
    }
    if let Ok(k) = s.parse::<Socket>() {
        assert_eq!(k.to_string().parse::<Socket>(), Ok(k));
        assert!(all_hex(s), "socket {s:?} accepted");
    }
    if let Some(f) = Framing::from_name(s) {
        assert_eq!(Framing::from_name(f.name()), Some(f));
        assert_eq!(Framing::from_name(f.netware_name()), Some(f));
    }
    if let Err(e) = s.parse::<IpxAddr>() {
        let _ = e.to_string();
    }
});
