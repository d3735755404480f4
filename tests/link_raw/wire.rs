//! The privileged half of `tests/link_raw.rs`: real frames across a veth pair.

use super::*;

/// An MSL frame carrying a sequence number in its first payload bytes (the filter checks
/// only the EtherType).
fn msl_frame(seq: u32, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 0x0b]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 0x0a]);
    f[12..14].copy_from_slice(&[0x88, 0xb5]);
    f[14..18].copy_from_slice(&seq.to_be_bytes());
    f
}

fn ipx_marker() -> Vec<u8> {
    sample_frame(
        Sample {
            kind: Kind::Data,
            framing: Framing::EthernetII,
        },
        99,
    )
}

#[test]
fn every_framing_crosses_the_veth() {
    if !privileged("every_framing_crosses_the_veth") {
        return;
    }
    let ns = VethPair::new("framing");
    let mut lan_a = open(&ns, "va", LinkKind::Lan);
    let mut lan_b = open(&ns, "vb", LinkKind::Lan);
    let mut msl_a = open(&ns, "va", LinkKind::Msl);
    let mut msl_b = open(&ns, "vb", LinkKind::Msl);
    let mut n = 0;
    for s in samples() {
        let f = sample_frame(s, 3);
        if s.kind.is_ipx() {
            lan_a.send(&f).expect("send");
            assert_eq!(next_frame(&mut lan_b), f, "{s}");
        } else {
            msl_a.send(&f).expect("send");
            assert_eq!(next_frame(&mut msl_b), f, "{s}");
        }
        n += 1;
    }
    assert_eq!(n, 106);
    // Nothing else arrived: each link saw only its own kind.
    let mut buf = [0u8; 2048];
    assert!(lan_b.recv(&mut buf).unwrap().is_none());
    assert!(msl_b.recv(&mut buf).unwrap().is_none());
}

#[test]
fn filters_hold_on_the_wire() {
    if !privileged("filters_hold_on_the_wire") {
        return;
    }
    let ns = VethPair::new("filter");
    let mut any_a = open(&ns, "va", LinkKind::Any);
    let mut lan_b = open(&ns, "vb", LinkKind::Lan);
    let mut msl_b = open(&ns, "vb", LinkKind::Msl);
    // Other traffic, then an MSL frame, then an IPX frame: the LAN link's first frame is the
    // IPX one, the MSL link's the MSL one (a veth delivers in order).
    for (_, f) in other_frames() {
        any_a.send(&f).unwrap();
    }
    let msl = msl_frame(7, 60);
    any_a.send(&msl).unwrap();
    let ipx = ipx_marker();
    any_a.send(&ipx).unwrap();
    any_a.send(&msl_frame(8, 60)).unwrap();
    assert_eq!(next_frame(&mut lan_b), ipx);
    assert_eq!(next_frame(&mut msl_b), msl);
    assert_eq!(next_frame(&mut msl_b), msl_frame(8, 60));
    let mut buf = [0u8; 2048];
    assert!(lan_b.recv(&mut buf).unwrap().is_none());
    assert!(msl_b.recv(&mut buf).unwrap().is_none());
}

/// `frame` with an 802.1Q tag for VLAN 10 after the MAC addresses.
fn vlan10(frame: &[u8]) -> Vec<u8> {
    let mut t = frame[..12].to_vec();
    t.extend_from_slice(&[0x81, 0x00, 0x00, 0x0a]);
    t.extend_from_slice(&frame[12..]);
    t
}

/// Regression: the kernel strips a received 802.1Q tag into metadata, so a LAN link on an
/// untagged interface received IPX frames tagged for VLAN 10, untagged.
#[test]
fn tagged_frames_do_not_reach_untagged_links() {
    if !privileged("tagged_frames_do_not_reach_untagged_links") {
        return;
    }
    let ns = VethPair::new("vlan");
    let mut any_a = open(&ns, "va", LinkKind::Any);
    let mut any_b = open(&ns, "vb", LinkKind::Any);
    let mut lan_b = open(&ns, "vb", LinkKind::Lan);
    let mut msl_b = open(&ns, "vb", LinkKind::Msl);
    let ipx = ipx_marker();
    let msl = msl_frame(9, 60);
    any_a.send(&vlan10(&ipx)).unwrap();
    any_a.send(&vlan10(&msl)).unwrap();
    any_a.send(&ipx).unwrap();
    any_a.send(&msl).unwrap();
    // The unfiltered link shows what the kernel did: the tagged frames arrive without the tag.
    for want in [&ipx, &msl, &ipx, &msl] {
        assert_eq!(&next_frame(&mut any_b), want);
    }
    // The filtered links get only the untagged copies, sent after the tagged ones.
    assert_eq!(next_frame(&mut lan_b), ipx);
    assert_eq!(next_frame(&mut msl_b), msl);
    let mut buf = [0u8; 2048];
    assert!(lan_b.recv(&mut buf).unwrap().is_none());
    assert!(msl_b.recv(&mut buf).unwrap().is_none());
}

#[test]
fn own_frames_are_not_read_back() {
    if !privileged("own_frames_are_not_read_back") {
        return;
    }
    let ns = VethPair::new("own");
    let mut a = open(&ns, "va", LinkKind::Any);
    let mut lan_a = open(&ns, "va", LinkKind::Lan);
    let mut b = open(&ns, "vb", LinkKind::Any);
    for _ in 0..3 {
        a.send(&ipx_marker()).unwrap();
        lan_a.send(&ipx_marker()).unwrap();
    }
    // Both links on va see the peer's frame first: none of va's six frames came back.
    let from_b = msl_frame(1, 60);
    let ipx_from_b = sample_frame(
        Sample {
            kind: Kind::Data,
            framing: Framing::Llc,
        },
        100,
    );
    b.send(&from_b).unwrap();
    b.send(&ipx_from_b).unwrap();
    assert_eq!(next_frame(&mut a), from_b);
    assert_eq!(next_frame(&mut a), ipx_from_b);
    assert_eq!(next_frame(&mut lan_a), ipx_from_b);
    // b saw all six.
    for _ in 0..6 {
        assert_eq!(next_frame(&mut b), ipx_marker());
    }
}

#[test]
fn batches_arrive_complete_and_in_order() {
    if !privileged("batches_arrive_complete_and_in_order") {
        return;
    }
    const N: u32 = 5000;
    let ns = VethPair::new("batch");
    let mut tx = open(&ns, "va", LinkKind::Msl);
    let opts = RawOptions {
        recv_buffer: Some(8 << 20),
        ..RawOptions::new(LinkKind::Msl)
    };
    let mut rx = ns.run(move || RawLink::open_with("vb", &opts).expect("raw link"));
    let frames: Vec<Vec<u8>> = (0..N)
        .map(|i| msl_frame(i, 60 + (i as usize % 1400)))
        .collect();
    let mut bufs = vec![vec![0u8; 2048]; 256];
    let mut metas = vec![
        RxMeta {
            len: 0,
            orig_len: 0,
            ts: sft3::capture::Timestamp::new(0, 0)
        };
        256
    ];
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut sent = 0usize;
    let mut next = 0u32;
    let t0 = Instant::now();
    while next < N {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "stuck at {next} of {N}"
        );
        if sent < frames.len() {
            let end = (sent + 200).min(frames.len());
            let batch: Vec<&[u8]> = frames[sent..end].iter().map(|f| f.as_slice()).collect();
            sent += tx.send_batch(&batch).expect("send_batch");
        }
        let n = rx.recv_batch(&mut bufs, &mut metas).expect("recv_batch");
        for i in 0..n {
            let m = metas[i];
            let want = &frames[next as usize];
            assert_eq!(m.orig_len, want.len(), "frame {next}");
            assert_eq!(&bufs[i][..m.len], &want[..], "frame {next}");
            assert!(
                m.ts.secs >= before && m.ts.secs <= before + 60,
                "kernel timestamp"
            );
            next += 1;
        }
    }
    assert!(rx.recv_batch(&mut bufs, &mut metas).unwrap() == 0);
}

#[test]
fn short_buffers_cut_frames_and_report_the_real_length() {
    if !privileged("short_buffers_cut_frames_and_report_the_real_length") {
        return;
    }
    let ns = VethPair::new("cut");
    let mut tx = open(&ns, "va", LinkKind::Msl);
    let mut rx = open(&ns, "vb", LinkKind::Msl);
    tx.send(&msl_frame(5, 1000)).unwrap();
    let mut buf = [0u8; 100];
    let m = recv_wait(&mut rx, &mut buf).expect("frame");
    assert_eq!((m.len, m.orig_len), (100, 1000));
    assert_eq!(&buf[..], &msl_frame(5, 1000)[..100]);
}

#[test]
fn info_comes_from_the_kernel() {
    if !privileged("info_comes_from_the_kernel") {
        return;
    }
    let ns = VethPair::new("info");
    ns.ip(&[
        "link",
        "set",
        "va",
        "address",
        "02:53:46:54:33:0a",
        "mtu",
        "1400",
    ]);
    let mut a = open(&ns, "va", LinkKind::Lan);
    let info = a.info().clone();
    assert_eq!(info.name, "va");
    assert_eq!(info.mac.to_string(), "02:53:46:54:33:0a");
    assert_eq!(info.mtu, 1400);
    assert!(info.index > 0);
    assert!(matches!(
        a.send(&vec![0u8; 1415]),
        Err(LinkError::TooBig { .. })
    ));
    let err = RawLink::open("sft3-no-such-if", LinkKind::Lan).unwrap_err();
    assert!(matches!(err, LinkError::NoSuchInterface(_)), "{err}");
}

/// Polls `status()` until `want` holds (operstate follows through the kernel's linkwatch,
/// which may lag by up to a second).
fn wait_status(link: &mut RawLink, carrier: bool, oper: OperState) {
    let t0 = Instant::now();
    loop {
        let st = link.status().expect("status");
        if st.carrier == carrier && st.oper == oper {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "status {st:?}, want carrier {carrier} {oper:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn status_follows_the_peer() {
    if !privileged("status_follows_the_peer") {
        return;
    }
    let ns = VethPair::new("state");
    let mut a = open(&ns, "va", LinkKind::Lan);
    wait_status(&mut a, true, OperState::Up);
    assert!(a.status().unwrap().is_usable());
    ns.ip(&["link", "set", "vb", "down"]);
    wait_status(&mut a, false, OperState::LowerLayerDown);
    assert!(!a.status().unwrap().is_usable());
    ns.ip(&["link", "set", "vb", "up"]);
    wait_status(&mut a, true, OperState::Up);
    ns.ip(&["link", "set", "va", "down"]);
    wait_status(&mut a, false, OperState::Down);
}

#[test]
fn async_link_waits_for_frames() {
    if !privileged("async_link_waits_for_frames") {
        return;
    }
    let ns = VethPair::new("async");
    let mut tx = open(&ns, "va", LinkKind::Msl);
    let rx = open(&ns, "vb", LinkKind::Msl);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut rx = AsyncRawLink::new(rx).expect("register");
        let sender = async {
            for i in 0..3 {
                tokio::time::sleep(Duration::from_millis(30)).await;
                tx.send(&msl_frame(i, 64)).unwrap();
            }
        };
        let receiver = async {
            let mut buf = [0u8; 2048];
            for i in 0..2 {
                let m = rx.recv(&mut buf).await.expect("recv");
                assert_eq!(&buf[..m.len], &msl_frame(i, 64)[..]);
            }
            rx.readable().await.expect("readable");
            let mut bufs = [[0u8; 128]; 4];
            let mut metas = [RxMeta {
                len: 0,
                orig_len: 0,
                ts: sft3::capture::Timestamp::new(0, 0),
            }; 4];
            let n = rx.recv_batch(&mut bufs, &mut metas).await.expect("batch");
            assert_eq!(n, 1);
            assert_eq!(&bufs[0][..64], &msl_frame(2, 64)[..]);
        };
        let both = async { tokio::join!(sender, receiver) };
        tokio::time::timeout(Duration::from_secs(5), both)
            .await
            .expect("frames within 5 s");
    });
}

/// Runs `nft ARGS` inside the pair's namespace.
fn nft(ns: &VethPair, args: &str) {
    sft3::lab::testing::sh(&["ip", "netns", "exec", ns.name(), "nft", args]);
}

/// Regression: a frame dropped on egress (ENOBUFS) used to stop `send_batch` at 0 forever
/// instead of being counted and skipped as `send` does.
#[test]
fn egress_drops_are_counted_by_send_batch() {
    if !privileged("egress_drops_are_counted_by_send_batch") {
        return;
    }
    let ns = VethPair::new("egress");
    let table = format!("sft3t_egress_{}", std::process::id());
    nft(&ns, &format!("add table netdev {table}"));
    nft(
        &ns,
        &format!("add chain netdev {table} c {{ type filter hook egress device va priority 0; }}"),
    );
    nft(&ns, &format!("add rule netdev {table} c drop"));
    let mut tx = open(&ns, "va", LinkKind::Msl);
    let mut rx = open(&ns, "vb", LinkKind::Msl);
    let frames: Vec<Vec<u8>> = (0..150).map(|i| msl_frame(i, 60)).collect();
    let batch: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
    assert_eq!(tx.send_batch(&batch).expect("send_batch"), 150);
    assert_eq!(tx.tx_dropped(), 150);
    assert_eq!(tx.tx_link_down(), 0);
    tx.send(&frames[0]).expect("send");
    assert_eq!(tx.tx_dropped(), 151);
    let mut buf = [0u8; 2048];
    assert!(rx.recv(&mut buf).unwrap().is_none(), "nothing passed");
    // Lift the drop: the same batch now arrives whole.
    nft(&ns, &format!("delete table netdev {table}"));
    assert_eq!(tx.send_batch(&batch).expect("send_batch"), 150);
    assert_eq!(tx.tx_dropped(), 151);
    for f in &frames {
        assert_eq!(&next_frame(&mut rx), f);
    }
}

/// Regression: the interface going down was a hard error (`ENETDOWN` from `recv` once,
/// from every `send` while down; `ENXIO` once the device is gone). Now `recv` gives
/// `Ok(None)` and sends count the frames as lost; `status` reports the state.
#[test]
fn link_down_is_a_state_not_an_error() {
    if !privileged("link_down_is_a_state_not_an_error") {
        return;
    }
    let ns = VethPair::new("down");
    let mut a = open(&ns, "va", LinkKind::Msl);
    let mut b = open(&ns, "vb", LinkKind::Msl);
    wait_status(&mut a, true, OperState::Up);
    let mut buf = [0u8; 2048];
    // Own interface down: the socket's pending ENETDOWN is not an error.
    ns.ip(&["link", "set", "va", "down"]);
    for _ in 0..3 {
        assert!(a.recv(&mut buf).expect("recv while down").is_none());
    }
    a.send(&msl_frame(1, 60)).expect("send while down");
    assert_eq!((a.tx_dropped(), a.tx_link_down()), (1, 1));
    let f2 = msl_frame(2, 60);
    assert_eq!(a.send_batch(&[&f2, &f2, &f2]).expect("batch while down"), 3);
    assert_eq!((a.tx_dropped(), a.tx_link_down()), (4, 4));
    wait_status(&mut a, false, OperState::Down);
    // The peer saw nothing; back up, frames pass again.
    assert!(b.recv(&mut buf).expect("peer recv").is_none());
    ns.ip(&["link", "set", "va", "up"]);
    wait_status(&mut a, true, OperState::Up);
    a.send(&msl_frame(3, 60)).expect("send after up");
    assert_eq!(next_frame(&mut b), msl_frame(3, 60));
    assert_eq!(a.tx_dropped(), 4);
    // The device vanishes (deleting the peer deletes both ends).
    ns.ip(&["link", "del", "vb"]);
    for _ in 0..3 {
        assert!(a.recv(&mut buf).expect("recv after removal").is_none());
        assert!(b.recv(&mut buf).expect("peer recv after removal").is_none());
    }
    a.send(&msl_frame(4, 60)).expect("send after removal");
    assert_eq!(a.send_batch(&[&f2, &f2]).expect("batch after removal"), 2);
    assert_eq!((a.tx_dropped(), a.tx_link_down()), (7, 7));
}

/// A full send buffer is an `Io` error of kind `WouldBlock` from `send`, and a short count
/// from `send_batch`: the frame was not sent and may be sent later.
#[test]
fn full_send_buffer_would_block() {
    if !privileged("full_send_buffer_would_block") {
        return;
    }
    let ns = VethPair::new("eagain");
    // A slow token bucket holds frames in the qdisc, where they stay charged to the socket.
    let tc = format!(
        "tc -n {} qdisc add dev va root tbf rate 8kbit burst 1600 limit 10000000",
        ns.name()
    );
    sft3::lab::testing::sh(&tc.split(' ').collect::<Vec<_>>());
    let opts = RawOptions {
        send_buffer: Some(4096),
        ..RawOptions::new(LinkKind::Msl)
    };
    let mut a = ns.run(move || RawLink::open_with("va", &opts).expect("raw link"));
    let f = msl_frame(1, 1000);
    let err = (0..10_000)
        .find_map(|_| a.send(&f).err())
        .expect("the send buffer fills");
    assert!(err.is_would_block(), "{err}");
    assert!(
        matches!(&err, LinkError::Io { source, .. } if source.kind() == std::io::ErrorKind::WouldBlock)
    );
    assert_eq!(a.tx_dropped(), 0);
    let batch = [f.as_slice(); 8];
    assert!(a.send_batch(&batch).expect("batch") < batch.len());
}

/// Regression: a read timeout under 1 µs became a zero `timeval`, which the kernel takes
/// as "block forever".
#[test]
fn packet_socket_zero_timeout_does_not_block_forever() {
    if !privileged("packet_socket_zero_timeout_does_not_block_forever") {
        return;
    }
    let ns = VethPair::new("tmo");
    let (tx, rx) = std::sync::mpsc::channel();
    // A thread, so a regression fails at the liveness bound instead of hanging the run.
    let _ = ns.run(move || {
        std::thread::spawn(move || {
            let opts = sft3::link::SocketOptions {
                read_timeout: Some(Duration::ZERO),
                // The MSL EtherType: nothing else in the namespace sends it.
                protocol: 0x88b5,
                ..Default::default()
            };
            let s = sft3::link::PacketSocket::open("va", &opts).expect("packet socket");
            let mut buf = [0u8; 2048];
            let _ = tx.send(s.recv(&mut buf).map(|m| m.is_none()).unwrap_or(false));
        })
    });
    let timed_out = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("recv returned within 5 s");
    assert!(
        timed_out,
        "recv gave a frame or an error instead of Ok(None)"
    );
}
