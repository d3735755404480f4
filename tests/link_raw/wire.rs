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
