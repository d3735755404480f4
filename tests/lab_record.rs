//! A lab exchange recorded to pcap replays to identical parsed frames, and ipxdump decodes
//! the recording (issue 3).
//!
//! Server A's LAN adapter, wrapped in a [`Recorder`], sends every IPX sample kind in every
//! framing (several variants) across the lab's bridge to a client, which echoes each frame
//! back; A's MSL adapter does the same with every MSL kind towards B. The recordings then
//! replay ([`Replayer`], as fast as possible) to exactly the frames A received (skipping its
//! own by source MAC), byte for byte and dissection for dissection, or to the whole exchange
//! in order; and `ipxdump --json` decodes every frame without error.
//!
//! Needs root; without it the test says so and skips, unless SFT3_REQUIRE_PRIVILEGED=1
//! makes that a failure. The lab has its own prefix (`r`, the PID in base 36, `-`), so the
//! test runs beside a developer's lab; it and the recordings are removed on drop.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sft3::lab::testing::{privileged, unique_prefix};
use sft3::lab::{FaultAction, Lab, LabConfig, Node};
use sft3::link::pcap::{Pacing, Recorder, Replayer};
use sft3::link::raw::{LinkKind, RawLink};
use sft3::link::{AdapterInfo, Link, RxMeta};
use sft3::wire::dissect;
use sft3::wire::samples::{samples, Sample, MAX_FRAME_LEN};
use sft3::wire::MacAddr;

/// Variants of each sample sent (variant 0 is the plain base frame).
const VARIANTS: u64 = 3;
/// Liveness bound for one frame to arrive (not a timing target).
const WAIT: Duration = Duration::from_secs(10);

/// A lab and its recordings, removed on drop even when the test fails.
struct TestLab {
    lab: Lab,
    files: Vec<PathBuf>,
}

impl TestLab {
    fn new(tag: char) -> TestLab {
        let cfg = LabConfig {
            prefix: unique_prefix(tag),
            lan_adapters: 1,
            clients: 1,
            ..LabConfig::default()
        };
        let lab = Lab::new(cfg).expect("lab config");
        lab.down().expect("clean start");
        TestLab {
            lab,
            files: Vec::new(),
        }
    }

    /// A recording path in the temp directory, removed on drop.
    fn file(&mut self, name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("{}{name}.pcap", self.lab.config().prefix));
        self.files.push(p.clone());
        p
    }

    /// Opens a raw link of `kind` on `iface` inside `node`'s namespace.
    fn open(&self, node: Node, iface: String, kind: LinkKind) -> RawLink {
        self.lab
            .in_node(node, move || RawLink::open(&iface, kind))
            .expect("enter namespace")
            .unwrap_or_else(|e| panic!("open raw link: {e}"))
    }
}

impl Drop for TestLab {
    fn drop(&mut self) {
        let _ = self.lab.down();
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// Waits (polling, 1 ms apart) for one frame on `link`.
fn recv_one(link: &mut impl Link, what: &str) -> (Vec<u8>, RxMeta) {
    let mut buf = vec![0u8; 65536];
    let t0 = Instant::now();
    loop {
        if let Some(m) = link.recv(&mut buf).expect("recv") {
            assert_eq!(m.len, m.orig_len, "{what}: frame cut");
            return (buf[..m.len].to_vec(), m);
        }
        assert!(
            t0.elapsed() < WAIT,
            "{what}: no frame on {} within {WAIT:?}",
            link.info().name
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn set_macs(frame: &mut [u8], dst: MacAddr, src: MacAddr) {
    frame[..6].copy_from_slice(&dst.0);
    frame[6..12].copy_from_slice(&src.0);
}

/// What one side of the exchange did, in order.
#[derive(Default)]
struct Exchange {
    /// The sample behind each round.
    samples: Vec<Sample>,
    /// Frames the recording adapter sent.
    sent: Vec<Vec<u8>>,
    /// Frames it received (the echoes) and their metadata.
    received: Vec<(Vec<u8>, RxMeta)>,
}

/// Sends every variant of each sample from `rec` to `peer`, which echoes it back.
///
/// Each frame leaves with the sender's real MAC as source (so a replay can tell directions
/// apart) and the peer's as destination unless it is a broadcast; the echo goes back from
/// the peer's MAC to the sender's (a bridge drops frames with a group source address).
fn exchange<I: Iterator<Item = Sample>>(
    rec: &mut Recorder<RawLink>,
    peer: &mut RawLink,
    set: I,
) -> Exchange {
    let (own, other) = (rec.info().mac, peer.info().mac);
    let mut ex = Exchange::default();
    let mut buf = [0u8; MAX_FRAME_LEN];
    for s in set {
        for v in 0..VARIANTS {
            let what = format!("{s} variant {v}");
            let n = s.build(v, &mut buf).expect("build sample");
            let mut frame = buf[..n].to_vec();
            let group = frame[0] & 1 == 1;
            let dst = if group {
                MacAddr(frame[..6].try_into().unwrap())
            } else {
                other
            };
            set_macs(&mut frame, dst, own);
            rec.send(&frame)
                .unwrap_or_else(|e| panic!("{what}: send: {e}"));

            let (got, _) = recv_one(peer, &format!("{what} at the peer"));
            assert_eq!(got, frame, "{what}: the peer got other bytes");
            let mut echo = got;
            set_macs(&mut echo, own, other);
            peer.send(&echo)
                .unwrap_or_else(|e| panic!("{what}: echo: {e}"));

            let (back, meta) = recv_one(rec, &format!("{what} echoed"));
            assert_eq!(back, echo, "{what}: the echo came back changed");
            ex.samples.push(s);
            ex.sent.push(frame);
            ex.received.push((back, meta));
        }
    }
    ex
}

/// Every frame a replay gives, until it is finished.
fn drain(mut r: Replayer) -> (Vec<(Vec<u8>, RxMeta)>, Replayer) {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    while let Some(m) = r.recv(&mut buf).expect("replay recv") {
        out.push((buf[..m.len].to_vec(), m));
    }
    assert!(r.is_finished(), "replay stopped before the end");
    (out, r)
}

/// The recording replays as the adapter to exactly what it received, and as a whole file to
/// the exchange in order.
fn check_replay(path: &Path, info: &AdapterInfo, ex: &Exchange) {
    let r = Replayer::open(path, info.clone())
        .expect("open recording")
        .pacing(Pacing::Fast)
        .skip_source(info.mac);
    let (played, r) = drain(r);
    assert_eq!(
        played.len(),
        ex.received.len(),
        "frames played as {}",
        info.name
    );
    assert_eq!(r.stats().skipped_own, ex.sent.len() as u64);
    for (i, ((p, pm), (g, gm))) in played.iter().zip(&ex.received).enumerate() {
        let s = ex.samples[i];
        assert_eq!(p, g, "{s} round {i}: replayed bytes differ");
        assert_eq!(
            (pm.len, pm.orig_len, pm.ts),
            (gm.len, gm.orig_len, gm.ts),
            "{s} round {i}"
        );
        let (dp, dg) = (dissect(p), dissect(g));
        assert_eq!(
            format!("{dp:?}"),
            format!("{dg:?}"),
            "{s} round {i}: dissections differ"
        );
        assert_eq!(dp.error, None, "{s} round {i}");
        assert_eq!(dp.proto, Some(s.kind.proto()), "{s} round {i}");
        assert_eq!(dp.framing, s.ipx_framing(), "{s} round {i}");
    }

    let whole = Replayer::open(path, info.clone())
        .expect("open recording")
        .pacing(Pacing::Fast);
    let (all, _) = drain(whole);
    let expected: Vec<&Vec<u8>> = ex
        .sent
        .iter()
        .zip(&ex.received)
        .flat_map(|(s, (r, _))| [s, r])
        .collect();
    assert_eq!(all.len(), expected.len(), "frames in the whole file");
    for (i, ((f, _), e)) in all.iter().zip(expected).enumerate() {
        assert_eq!(f, e, "whole file, frame {i} ({})", ex.samples[i / 2]);
    }
}

/// Builds ipxdump (the root package's tests cannot name another package's binary) and
/// returns its path beside this test binary's directory.
fn ipxdump() -> PathBuf {
    // This binary is target/<profile>/deps/lab_record-HASH: build ipxdump in that profile.
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let mut args = vec!["build", "-q", "-p", "ipxdump"];
    if dir.ends_with("release") {
        args.push("--release");
    }
    let st = Command::new(env!("CARGO"))
        .args(&args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .status()
        .expect("run cargo build -p ipxdump");
    assert!(st.success(), "cargo build -p ipxdump: {st}");
    let bin = dir.join(format!("ipxdump{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.is_file(), "no {}", bin.display());
    bin
}

/// `ipxdump -r FILE --json` prints one line per frame, each with no error and the
/// protocol and framing of the round it belongs to.
fn check_ipxdump(bin: &Path, path: &Path, ex: &Exchange) {
    let o = Command::new(bin)
        .arg("-r")
        .arg(path)
        .arg("--json")
        .stdin(Stdio::null())
        .output()
        .expect("run ipxdump");
    assert!(
        o.status.success(),
        "ipxdump: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8(o.stdout).expect("UTF-8 JSON");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2 * ex.samples.len(), "ipxdump lines");
    for (i, l) in lines.iter().enumerate() {
        let s = ex.samples[i / 2];
        let proto = format!("\"proto\":\"{}\"", s.kind.proto().name());
        let framing = format!(
            "\"framing\":\"{}\"",
            s.ipx_framing().map_or("other", |f| f.name())
        );
        assert!(l.contains("\"error\":null"), "{s}: {l}");
        assert!(l.contains(&proto), "{s}: want {proto}: {l}");
        assert!(l.contains(&framing), "{s}: want {framing}: {l}");
    }
}

#[test]
fn lab_exchange_recorded_replays_and_decodes() {
    if !privileged("lab_exchange_recorded_replays_and_decodes") {
        return;
    }
    let mut t = TestLab::new('r');
    t.lab.up().expect("lab up");
    let cfg = t.lab.config().clone();
    let client = Node::Client(1);
    let (lan_file, msl_file) = (t.file("lan"), t.file("msl"));

    // The LAN: every IPX kind in every framing, A to the client and back.
    let a_lan = t.open(Node::A, cfg.lan_if(Node::A, 0), LinkKind::Lan);
    let mut c_lan = t.open(client, cfg.lan_if(client, 0), LinkKind::Lan);
    let a_lan_info = a_lan.info().clone();
    assert_eq!(a_lan_info.mac, LabConfig::mac(Node::A, false, 0, false));
    let mut rec = Recorder::create(a_lan, &lan_file).expect("create LAN recording");
    let lan = exchange(&mut rec, &mut c_lan, samples().filter(|s| s.kind.is_ipx()));
    assert_eq!(lan.samples.len() as u64, 23 * 4 * VARIANTS);
    assert_eq!(rec.frames_recorded(), 2 * lan.samples.len() as u64);
    rec.finish().expect("finish LAN recording");

    // The MSL: every MSL kind, A to B and back.
    let a_msl = t.open(Node::A, cfg.msl_if(Node::A), LinkKind::Msl);
    let mut b_msl = t.open(Node::B, cfg.msl_if(Node::B), LinkKind::Msl);
    let a_msl_info = a_msl.info().clone();
    let mut rec = Recorder::create(a_msl, &msl_file).expect("create MSL recording");
    let msl = exchange(&mut rec, &mut b_msl, samples().filter(|s| !s.kind.is_ipx()));
    assert_eq!(msl.samples.len() as u64, 14 * VARIANTS);
    rec.finish().expect("finish MSL recording");

    check_replay(&lan_file, &a_lan_info, &lan);
    check_replay(&msl_file, &a_msl_info, &msl);

    let bin = ipxdump();
    check_ipxdump(&bin, &lan_file, &lan);
    check_ipxdump(&bin, &msl_file, &msl);
}

/// An MSL cut in the lab drops frames at the sender's egress; a raw link counts that as a
/// loss (`tx_dropped`), not an error, so the transport above can retransmit when it heals.
#[test]
fn msl_cut_is_a_loss_not_an_error() {
    if !privileged("msl_cut_is_a_loss_not_an_error") {
        return;
    }
    let t = TestLab::new('m');
    t.lab.up().expect("lab up");
    let cfg = t.lab.config().clone();
    let a_msl = cfg.msl_if(Node::A);
    let mut link = t
        .lab
        .in_node(Node::A, move || {
            RawLink::open(&a_msl, LinkKind::Msl).expect("raw link")
        })
        .expect("in node");
    let mut frame = vec![0u8; 64];
    frame[..6].copy_from_slice(&[0xff; 6]);
    frame[6..12].copy_from_slice(&link.info().mac.0);
    frame[12..14].copy_from_slice(&[0x88, 0xb5]);
    t.lab.fault(&FaultAction::MslCut).expect("msl cut");
    for _ in 0..5 {
        link.send(&frame).expect("a dropped frame is not an error");
    }
    assert_eq!(link.tx_dropped(), 5);
    t.lab.fault(&FaultAction::MslRestore).expect("msl restore");
    link.send(&frame).expect("send");
    assert_eq!(link.tx_dropped(), 5);
}
