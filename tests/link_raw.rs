//! The raw AF_PACKET link (`sft3::link::raw`): the BPF filters run through a small classic
//! BPF interpreter against sample frames (no root needed), then real frames across a veth
//! pair in a network namespace: every framing, the filters on the wire, own frames not read
//! back, batches, link state and tokio readiness. The namespace tests need root; without it
//! they say so and skip, unless SFT3_REQUIRE_PRIVILEGED=1 makes that a failure.

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use libc::sock_filter;
use sft3::lab::testing::{as_nobody, privileged, VethPair};
use sft3::link::raw::{bpf, AsyncRawLink, LinkKind, RawLink, RawOptions};
use sft3::link::{Link, LinkError, OperState, RxMeta};
use sft3::wire::samples::{samples, Kind, Sample, MAX_FRAME_LEN};
use sft3::wire::Framing;

// ---------------------------------------------------------------------------------------
// A classic BPF interpreter: the subset the filters use (absolute loads, constant jumps,
// constant returns). A load past the end of the frame rejects it, as in the kernel. Of the
// ancillary loads (offsets from SKF_AD_OFF on, packet metadata) only "VLAN tag present" is
// modelled: the test frame's `vlan_present` flag, set when the kernel stripped a tag.

/// The ancillary offset of "VLAN tag present".
const AD_VLAN_TAG_PRESENT: u32 = (libc::SKF_AD_OFF + libc::SKF_AD_VLAN_TAG_PRESENT) as u32;

fn run_bpf(prog: &[sock_filter], pkt: &[u8], vlan_present: bool) -> u32 {
    let mut a: u32 = 0;
    let mut pc = 0usize;
    loop {
        let ins = prog[pc];
        let k = ins.k as usize;
        let code = ins.code as u32;
        match code & 0x07 {
            libc::BPF_LD => {
                let size = match code & 0x18 {
                    libc::BPF_W => 4,
                    libc::BPF_H => 2,
                    libc::BPF_B => 1,
                    _ => panic!("load size {code:#x}"),
                };
                assert_eq!(code & 0xe0, libc::BPF_ABS, "only absolute loads");
                if ins.k >= libc::SKF_AD_OFF as u32 {
                    assert_eq!(ins.k, AD_VLAN_TAG_PRESENT, "ancillary load");
                    assert_eq!(size, 4, "ancillary loads are words");
                    a = vlan_present as u32;
                    pc += 1;
                    continue;
                }
                let Some(b) = pkt.get(k..k + size) else {
                    return 0;
                };
                a = b.iter().fold(0u32, |acc, &x| (acc << 8) | x as u32);
                pc += 1;
            }
            libc::BPF_JMP => {
                assert_eq!(code & 0x08, libc::BPF_K, "only constant jumps");
                let taken = match code & 0xf0 {
                    libc::BPF_JA => {
                        pc += 1 + ins.k as usize;
                        continue;
                    }
                    libc::BPF_JEQ => a == ins.k,
                    libc::BPF_JGT => a > ins.k,
                    libc::BPF_JGE => a >= ins.k,
                    op => panic!("jump op {op:#x}"),
                };
                pc += 1 + if taken { ins.jt } else { ins.jf } as usize;
            }
            libc::BPF_RET => return ins.k,
            class => panic!("instruction class {class:#x}"),
        }
    }
}

/// What the kernel's checker demands: every jump lands inside, and the program ends in a
/// return (so the interpreter cannot run off the end).
fn check_program(prog: &[sock_filter]) {
    assert!(!prog.is_empty() && prog.len() <= 4096);
    for (i, ins) in prog.iter().enumerate() {
        if ins.code as u32 & 0x07 == libc::BPF_JMP {
            assert!(
                i + 1 + (ins.jt as usize) < prog.len(),
                "insn {i}: jt out of range"
            );
            assert!(
                i + 1 + (ins.jf as usize) < prog.len(),
                "insn {i}: jf out of range"
            );
        }
    }
    assert_eq!(prog.last().unwrap().code as u32 & 0x07, libc::BPF_RET);
}

/// Whether the filter of `kind` takes `frame`, received untagged.
fn accepts(kind: LinkKind, frame: &[u8]) -> bool {
    accepts_meta(kind, frame, false)
}

/// Whether the filter of `kind` takes `frame`; `vlan_present`: the kernel stripped a tag
/// from it into metadata.
fn accepts_meta(kind: LinkKind, frame: &[u8], vlan_present: bool) -> bool {
    run_bpf(bpf::program(kind).unwrap(), frame, vlan_present) != 0
}

fn sample_frame(s: Sample, v: u64) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME_LEN];
    let n = s.build(v, &mut buf).unwrap();
    buf[..n].to_vec()
}

/// The frame with one 802.1Q tag (VLAN 5) after the MAC addresses.
fn tagged(frame: &[u8]) -> Vec<u8> {
    let mut t = frame[..12].to_vec();
    t.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
    t.extend_from_slice(&frame[12..]);
    t
}

/// Non-IPX traffic: IPv4/UDP, ARP, IPv6, STP (802.3 LLC 42/42), SNAP carrying IPv4, and
/// 802.3 frames that only look close to IPX.
fn other_frames() -> Vec<(&'static str, Vec<u8>)> {
    let eth = |ty: &[u8], body: &[u8]| {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 0x0b]);
        f.extend_from_slice(ty);
        f.extend_from_slice(body);
        f.resize(f.len().max(60), 0);
        f
    };
    let ipv4 = [
        0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x04, 0x53, 0x04, 0x53,
        0, 8, 0, 0,
    ];
    let arp = [
        0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 0x0b, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2,
    ];
    let ipv6 = [0x60, 0, 0, 0, 0, 0, 59, 64];
    vec![
        ("ipv4", eth(&[0x08, 0x00], &ipv4)),
        ("arp", eth(&[0x08, 0x06], &arp)),
        ("ipv6", eth(&[0x86, 0xdd], &ipv6)),
        ("stp", eth(&[0x00, 0x26], &[0x42, 0x42, 0x03, 0, 0, 0])),
        (
            "snap-ipv4",
            eth(&[0x00, 0x30], &[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]),
        ),
        (
            "snap-other-oui",
            eth(&[0x00, 0x30], &[0xaa, 0xaa, 0x03, 0, 0, 0x0c, 0x81, 0x37]),
        ),
        ("llc-e0-not-ui", eth(&[0x00, 0x30], &[0xe0, 0xe0, 0x07])),
        ("raw-not-ffff", eth(&[0x00, 0x30], &[0xff, 0xfe, 0, 0x30])),
        // An EtherType between 1501 and 1535 is neither a length nor a type.
        ("len-1501", eth(&[0x05, 0xdd], &[0xff, 0xff])),
        ("vlan-ipv4", tagged(&eth(&[0x08, 0x00], &ipv4))),
    ]
}

#[test]
fn filter_programs_are_well_formed() {
    check_program(&bpf::LAN);
    check_program(&bpf::MSL);
    assert!(bpf::program(LinkKind::Any).is_none());
}

#[test]
fn filters_sort_every_sample_frame() {
    for s in samples() {
        for v in [0, 1, 2, 77] {
            let f = sample_frame(s, v);
            assert_eq!(accepts(LinkKind::Lan, &f), s.kind.is_ipx(), "{s} v{v} lan");
            assert_eq!(accepts(LinkKind::Msl, &f), !s.kind.is_ipx(), "{s} v{v} msl");
            // A tag left in the data (the kernel strips it before the filter) is for another
            // VLAN: rejected.
            let t = tagged(&f);
            assert!(!accepts(LinkKind::Lan, &t), "{s} v{v} lan in-band tag");
            assert!(!accepts(LinkKind::Msl, &t), "{s} v{v} msl in-band tag");
        }
    }
}

/// Regression: Linux strips a received 802.1Q tag into metadata, so a LAN link on an
/// untagged interface took IPX frames tagged for other VLANs.
#[test]
fn filters_reject_frames_whose_tag_was_stripped() {
    for s in samples() {
        for v in [0, 1, 77] {
            let f = sample_frame(s, v);
            assert!(
                accepts(LinkKind::Lan, &f) || accepts(LinkKind::Msl, &f),
                "{s}"
            );
            assert!(!accepts_meta(LinkKind::Lan, &f, true), "{s} v{v} lan");
            assert!(!accepts_meta(LinkKind::Msl, &f, true), "{s} v{v} msl");
        }
    }
    for (name, f) in other_frames() {
        assert!(
            !accepts_meta(LinkKind::Lan, &f, true),
            "lan accepted {name}"
        );
        assert!(
            !accepts_meta(LinkKind::Msl, &f, true),
            "msl accepted {name}"
        );
    }
}

#[test]
fn filters_reject_other_traffic() {
    for (name, f) in other_frames() {
        assert!(!accepts(LinkKind::Lan, &f), "lan accepted {name}");
        assert!(!accepts(LinkKind::Msl, &f), "msl accepted {name}");
    }
}

#[test]
fn filters_reject_truncated_frames_without_reading_past_the_end() {
    let lan = sample_frame(
        Sample {
            kind: Kind::RipRequest,
            framing: Framing::Snap,
        },
        0,
    );
    // The SNAP test reads up to byte 22; every shorter prefix is rejected.
    for n in 0..22 {
        assert!(!accepts(LinkKind::Lan, &lan[..n]), "prefix {n}");
    }
    assert!(accepts(LinkKind::Lan, &lan[..22]));
    for n in 0..14 {
        assert!(
            !accepts(LinkKind::Msl, &[0x88, 0xb5, 0, 0][..n.min(4)]),
            "{n}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Real sockets in a namespace.

/// Opens a raw link on a thread inside the pair's namespace.
fn open(ns: &VethPair, ifname: &'static str, kind: LinkKind) -> RawLink {
    ns.run(move || RawLink::open(ifname, kind).expect("raw link"))
}

/// Waits (up to 5 s, a liveness bound) for the next frame.
fn recv_wait(link: &mut RawLink, buf: &mut [u8]) -> Option<RxMeta> {
    let t0 = Instant::now();
    loop {
        if let Some(m) = link.recv(buf).expect("recv") {
            return Some(m);
        }
        if t0.elapsed() > Duration::from_secs(5) {
            return None;
        }
        let mut pfd = libc::pollfd {
            fd: link.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: pfd is one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, 100) };
    }
}

/// Receives the next frame and returns its bytes.
fn next_frame(link: &mut RawLink) -> Vec<u8> {
    let mut buf = vec![0u8; 65536];
    let m = recv_wait(link, &mut buf).expect("a frame within 5 s");
    assert_eq!(m.len, m.orig_len);
    buf.truncate(m.len);
    buf
}

#[path = "link_raw/wire.rs"]
mod wire;

/// Run by [`missing_capability_names_it`] as an unprivileged child: opens a link on `lo` and
/// prints the error.
#[test]
fn child_open_without_capabilities() {
    if std::env::var("SFT3_RAW_CHILD").as_deref() != Ok("1") {
        return;
    }
    match RawLink::open("lo", LinkKind::Lan) {
        Ok(_) => println!("CHILD-RESULT: opened"),
        Err(e) => println!("CHILD-RESULT: {e}"),
    }
}

#[test]
fn missing_capability_names_it() {
    if !privileged("missing_capability_names_it") {
        return;
    }
    // Re-run this test binary as nobody with no capabilities at all.
    let exe = std::env::current_exe().unwrap();
    let o = as_nobody(&exe)
        .args(["--exact", "child_open_without_capabilities", "--nocapture"])
        .env("SFT3_RAW_CHILD", "1")
        .output()
        .expect("setpriv");
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out
        .lines()
        .find(|l| l.starts_with("CHILD-RESULT:"))
        .unwrap_or_else(|| panic!("no result: {out}"));
    assert!(line.contains("needs CAP_NET_RAW"), "{line}");
    assert!(
        line.contains("setcap cap_net_raw,cap_net_admin+ep"),
        "{line}"
    );
}
