//! `RawLink::send_batch_vectored` across a veth pair: frames given in pieces arrive whole
//! and in order, the size check covers the sum of the pieces, and egress drops are counted
//! and skipped as `send_batch` does. Needs root (skips otherwise, unless
//! SFT3_REQUIRE_PRIVILEGED=1).

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use sft3::lab::testing::{privileged, sh, VethPair};
use sft3::link::raw::{LinkKind, RawLink};
use sft3::link::{Link, LinkError};

fn open(ns: &VethPair, ifname: &'static str) -> RawLink {
    ns.run(move || RawLink::open(ifname, LinkKind::Msl).expect("raw link"))
}

/// An untagged frame of EtherType 0x88B5 with `len` bytes after the header.
fn msl_frame(i: u32, len: usize) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[2, 0, 0, 0, 0, 9, 0x88, 0xb5]);
    f.extend((0..len).map(|j| (j as u32).wrapping_mul(31).wrapping_add(i) as u8));
    f
}

/// The next frame (waits up to 5 s, a liveness bound).
fn next_frame(link: &mut RawLink) -> Vec<u8> {
    let mut buf = vec![0u8; 65536];
    let t0 = Instant::now();
    loop {
        if let Some(m) = link.recv(&mut buf).expect("recv") {
            assert_eq!(m.len, m.orig_len);
            buf.truncate(m.len);
            return buf;
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "a frame within 5 s");
        let mut pfd = libc::pollfd {
            fd: link.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: pfd is one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, 100) };
    }
}

/// Cuts `f` in three at `a` and `b` (clamped).
fn cut(f: &[u8], a: usize, b: usize) -> [&[u8]; 3] {
    let a = a.min(f.len());
    let b = b.clamp(a, f.len());
    [&f[..a], &f[a..b], &f[b..]]
}

#[test]
fn vectored_frames_arrive_whole_and_in_order() {
    if !privileged("vectored_frames_arrive_whole_and_in_order") {
        return;
    }
    let ns = VethPair::new("vect");
    let mut tx = open(&ns, "va");
    let mut rx = open(&ns, "vb");
    let frames: Vec<Vec<u8>> = (0..100)
        .map(|i| msl_frame(i, 50 + 14 * i as usize))
        .collect();
    // Headers, payload and trailer of every shape, empty pieces included.
    let batch: Vec<[&[u8]; 3]> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| match i % 4 {
            0 => cut(f, 58, f.len() - 4),
            1 => cut(f, f.len(), f.len()),
            2 => cut(f, 0, 14),
            _ => cut(f, 14, 14),
        })
        .collect();
    assert_eq!(tx.send_batch_vectored(&batch).expect("vectored batch"), 100);
    assert_eq!(tx.tx_dropped(), 0);
    for f in &frames {
        assert_eq!(&next_frame(&mut rx), f);
    }

    // The size check is on the whole frame, not on each piece.
    let max = tx.info().max_frame();
    let big = msl_frame(0, max - 13);
    let e = tx
        .send_batch_vectored(&[cut(&big, 14, 800)])
        .expect_err("one byte too long");
    assert!(
        matches!(e, LinkError::TooBig { len, .. } if len == max + 1),
        "{e}"
    );
    let fits = msl_frame(0, max - 14);
    assert_eq!(tx.send_batch_vectored(&[cut(&fits, 14, 800)]).unwrap(), 1);
    assert_eq!(next_frame(&mut rx), fits);
}

#[test]
fn egress_drops_are_counted_by_send_batch_vectored() {
    if !privileged("egress_drops_are_counted_by_send_batch_vectored") {
        return;
    }
    let ns = VethPair::new("vdrop");
    let table = format!("sft3t_vdrop_{}", std::process::id());
    let nft = |args: &str| sh(&["ip", "netns", "exec", ns.name(), "nft", args]);
    nft(&format!("add table netdev {table}"));
    nft(&format!(
        "add chain netdev {table} c {{ type filter hook egress device va priority 0; }}"
    ));
    nft(&format!("add rule netdev {table} c drop"));
    let mut tx = open(&ns, "va");
    let mut rx = open(&ns, "vb");
    let frames: Vec<Vec<u8>> = (0..150).map(|i| msl_frame(i, 60)).collect();
    let batch: Vec<[&[u8]; 3]> = frames.iter().map(|f| cut(f, 20, 70)).collect();
    assert_eq!(tx.send_batch_vectored(&batch).expect("batch"), 150);
    assert_eq!((tx.tx_dropped(), tx.tx_link_down()), (150, 0));
    let mut buf = [0u8; 2048];
    assert!(rx.recv(&mut buf).unwrap().is_none(), "nothing passed");
    nft(&format!("delete table netdev {table}"));
    assert_eq!(tx.send_batch_vectored(&batch).expect("batch"), 150);
    assert_eq!(tx.tx_dropped(), 150);
    for f in &frames {
        assert_eq!(&next_frame(&mut rx), f);
    }
}
