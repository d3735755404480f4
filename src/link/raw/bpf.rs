//! Classic BPF socket filters: a LAN socket sees only untagged IPX framings, an MSL socket
//! only untagged frames of the MSL EtherType.
//!
//! | bytes | Ethernet_II | 802.3 raw | 802.3 LLC | 802.3 SNAP | MSL |
//! |---|---|---|---|---|---|
//! | metadata: VLAN tag present | no | no | no | no | no |
//! | 12..14 | `81 37` | length ≤ 1500 | length ≤ 1500 | length ≤ 1500 | `88 B5` |
//! | 14..16 | IPX | `FF FF` (IPX checksum) | `E0 E0` | `AA AA` | |
//! | 16..22 | | | `03` | `03 00 00 00 81 37` | |
//!
//! Both programs first load the ancillary field `SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT` and
//! reject the frame when it is non-zero. Linux strips one received 802.1Q/802.1ad tag into
//! packet metadata before a packet socket sees the frame, so without that test a link on an
//! untagged interface would take frames tagged for any VLAN as its own. To use a VLAN, open
//! the link on the VLAN device (`eth0.10`): it sees its frames untagged, no tag present.
//!
//! There is no branch for a tag left in the frame data (`81 00` at 12): the kernel untags
//! every received frame before the filter runs, so an in-band tag can only be an inner tag
//! behind a stripped (present, rejected) outer one. Were one to arrive anyway, it would be
//! for another VLAN, and `81 00` fails every type test above: rejected too.
//!
//! The programs are written as instruction lists. A jump names its target as an absolute
//! instruction index, converted to the relative offsets BPF wants by `jmp`.
//! `tests/link_raw.rs` runs them through a small interpreter against sample frames.

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

/// The load offset of the ancillary "VLAN tag present" field (`SKF_AD_OFF` is negative,
/// `-0x1000`: the kernel reads offsets from there on as packet metadata, not data).
const VLAN_TAG_PRESENT: u32 = (libc::SKF_AD_OFF + libc::SKF_AD_VLAN_TAG_PRESENT) as u32;

const ETHERTYPE_IPX: u32 = 0x8137;
const ETHERTYPE_MSL: u32 = 0x88b5;
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

/// Instructions 0 and 1 of both programs: a frame whose tag the kernel stripped (tag
/// present) jumps to `rej`.
const fn untagged_only(rej: usize) -> [sock_filter; 2] {
    [stmt(LDW, VLAN_TAG_PRESENT), jmp(1, JEQ, 0, 2, rej)]
}

/// The LAN filter: IPX in Ethernet_II, raw 802.3, 802.2 LLC and SNAP, untagged only.
pub static LAN: [sock_filter; 17] = {
    const REJ: usize = 15;
    const ACC: usize = 16;
    let [vlan, untagged] = untagged_only(REJ);
    [
        /* 0 */ vlan,
        /* 1 */ untagged,
        /* 2 */ stmt(LDH, 12),
        /* 3 */ jmp(3, JEQ, ETHERTYPE_IPX, ACC, 4), // Ethernet_II
        /* 4 */ jmp(4, JGT, MAX_8023_LEN, REJ, 5), // another EtherType
        /* 5 */ stmt(LDH, 14),
        /* 6 */ jmp(6, JEQ, 0xffff, ACC, 7), // raw 802.3: IPX checksum FFFF
        /* 7 */ jmp(7, JEQ, 0xe0e0, 9, 8), // LLC DSAP/SSAP E0
        /* 8 */ jmp(8, JEQ, 0xaaaa, 11, REJ), // SNAP DSAP/SSAP AA
        /* 9 */ stmt(LDB, 16),
        /* 10 */ jmp(10, JEQ, 0x03, ACC, REJ), // LLC UI control
        /* 11 */ stmt(LDW, 16),
        /* 12 */ jmp(12, JEQ, 0x0300_0000, 13, REJ), // control 03, OUI 000000
        /* 13 */ stmt(LDH, 20),
        /* 14 */ jmp(14, JEQ, ETHERTYPE_IPX, ACC, REJ),
        /* 15 */ stmt(RET, 0),
        /* 16 */ stmt(RET, ACCEPT_ALL),
    ]
};

/// The MSL filter: EtherType `0x88B5`, untagged only.
pub static MSL: [sock_filter; 6] = {
    let [vlan, untagged] = untagged_only(4);
    [
        /* 0 */ vlan,
        /* 1 */ untagged,
        /* 2 */ stmt(LDH, 12),
        /* 3 */ jmp(3, JEQ, ETHERTYPE_MSL, 5, 4),
        /* 4 */ stmt(RET, 0),
        /* 5 */ stmt(RET, ACCEPT_ALL),
    ]
};

/// The filter program for a kind of link; `None` for [`LinkKind::Any`].
pub fn program(kind: LinkKind) -> Option<&'static [sock_filter]> {
    match kind {
        LinkKind::Lan => Some(&LAN),
        LinkKind::Msl => Some(&MSL),
        LinkKind::Any => None,
    }
}
