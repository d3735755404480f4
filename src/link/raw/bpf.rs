//! Classic BPF socket filters: a LAN socket sees only IPX framings, an MSL socket only the
//! MSL EtherType.
//!
//! | bytes | Ethernet_II | 802.3 raw | 802.3 LLC | 802.3 SNAP |
//! |---|---|---|---|---|
//! | 12..14 | `81 37` | length ≤ 1500 | length ≤ 1500 | length ≤ 1500 |
//! | 14..16 | IPX | `FF FF` (IPX checksum) | `E0 E0` | `AA AA` |
//! | 16..22 | | | `03` | `03 00 00 00 81 37` |
//!
//! With one 802.1Q tag (`81 00` at 12) every offset moves by 4. The kernel usually strips a
//! received tag into packet metadata before a packet socket sees the frame, so the untagged
//! branch matches tagged frames too; the tagged branch covers frames whose tag stays in-band.
//!
//! The programs are written as instruction lists, one block per framing. A jump names its
//! target as an absolute instruction index, converted to the relative offsets BPF wants by
//! `jmp`. `tests/link_raw.rs` runs them through a small interpreter against sample frames.

use super::LinkKind;
use libc::sock_filter;

/// What an accepting program returns: keep the whole frame.
pub const ACCEPT_ALL: u32 = u32::MAX;

const LDH: u16 = (libc::BPF_LD | libc::BPF_H | libc::BPF_ABS) as u16;
const LDB: u16 = (libc::BPF_LD | libc::BPF_B | libc::BPF_ABS) as u16;
const LDW: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGT: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
const RET: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

const ETHERTYPE_IPX: u32 = 0x8137;
const ETHERTYPE_MSL: u32 = 0x88b5;
const ETHERTYPE_VLAN: u32 = 0x8100;
/// The largest 802.3 length field; larger values are EtherTypes.
const MAX_8023_LEN: u32 = 1500;

const fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

/// A conditional jump at instruction `at` to absolute indexes `t` (true) and `f` (false).
const fn jmp(at: usize, code: u16, k: u32, t: usize, f: usize) -> sock_filter {
    sock_filter {
        code,
        jt: (t - at - 1) as u8,
        jf: (f - at - 1) as u8,
        k,
    }
}

/// The IPX test for a frame whose type/length field is at `tl` (12, or 16 after a tag),
/// starting at instruction `base`; 15 instructions ending in reject (`base + 13`) and accept
/// (`base + 14`).
const fn lan_block(base: usize, tl: u32) -> [sock_filter; 15] {
    let (b, rej, acc) = (base, base + 13, base + 14);
    [
        /* 0 */ stmt(LDH, tl),
        /* 1 */ jmp(b + 1, JEQ, ETHERTYPE_IPX, acc, b + 2), // Ethernet_II
        /* 2 */ jmp(b + 2, JGT, MAX_8023_LEN, rej, b + 3), // another EtherType
        /* 3 */ stmt(LDH, tl + 2),
        /* 4 */ jmp(b + 4, JEQ, 0xffff, acc, b + 5), // raw 802.3: IPX checksum FFFF
        /* 5 */ jmp(b + 5, JEQ, 0xe0e0, b + 7, b + 6), // LLC DSAP/SSAP E0
        /* 6 */ jmp(b + 6, JEQ, 0xaaaa, b + 9, rej), // SNAP DSAP/SSAP AA
        /* 7 */ stmt(LDB, tl + 4),
        /* 8 */ jmp(b + 8, JEQ, 0x03, acc, rej), // LLC UI control
        /* 9 */ stmt(LDW, tl + 4),
        /* 10 */ jmp(b + 10, JEQ, 0x0300_0000, b + 11, rej), // control 03, OUI 000000
        /* 11 */ stmt(LDH, tl + 8),
        /* 12 */ jmp(b + 12, JEQ, ETHERTYPE_IPX, acc, rej),
        /* 13 */ stmt(RET, 0),
        /* 14 */ stmt(RET, ACCEPT_ALL),
    ]
}

const fn lan_program() -> [sock_filter; 32] {
    let tagged = lan_block(2, 16);
    let untagged = lan_block(17, 12);
    let mut p = [stmt(RET, 0); 32];
    p[0] = stmt(LDH, 12);
    // An 802.1Q tag: test after it (block at 2); otherwise the untagged block at 17.
    p[1] = jmp(1, JEQ, ETHERTYPE_VLAN, 2, 17);
    let mut i = 0;
    while i < 15 {
        p[2 + i] = tagged[i];
        p[17 + i] = untagged[i];
        i += 1;
    }
    p
}

/// The LAN filter: IPX in Ethernet_II, raw 802.3, 802.2 LLC and SNAP, with or without one
/// 802.1Q tag.
pub static LAN: [sock_filter; 32] = lan_program();

/// The MSL filter: EtherType `0x88B5`, with or without one 802.1Q tag.
pub static MSL: [sock_filter; 7] = [
    /* 0 */ stmt(LDH, 12),
    /* 1 */ jmp(1, JEQ, ETHERTYPE_MSL, 6, 2),
    /* 2 */ jmp(2, JEQ, ETHERTYPE_VLAN, 3, 5),
    /* 3 */ stmt(LDH, 16),
    /* 4 */ jmp(4, JEQ, ETHERTYPE_MSL, 6, 5),
    /* 5 */ stmt(RET, 0),
    /* 6 */ stmt(RET, ACCEPT_ALL),
];

/// The filter program for a kind of link; `None` for [`LinkKind::Any`].
pub fn program(kind: LinkKind) -> Option<&'static [sock_filter]> {
    match kind {
        LinkKind::Lan => Some(&LAN),
        LinkKind::Msl => Some(&MSL),
        LinkKind::Any => None,
    }
}
