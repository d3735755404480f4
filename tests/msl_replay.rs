//! The MSL core over a pcap replay: a session recorded on one side (with loss, duplication
//! and reordering on the wire) and replayed into a fresh endpoint of the same configuration
//! gives exactly the messages the live endpoint delivered. The same core thus runs on the
//! simulated link, on recordings, and (tests/msl_veth.rs) on real links.

mod msl_common;

use std::io::Cursor;
use std::time::Duration;

use msl_common::{config, message, Rng, MS};
use sft3::capture::{CaptureReader, Timestamp};
use sft3::link::pcap::{Pacing, Recorder, Replayer};
use sft3::link::sim::{Faults, SimNet};
use sft3::link::Link;
use sft3::msl::{Msl, MslEvent, MslState, Priority};
use sft3::wire::msl::MslLinkFrame;
use sft3::wire::MacAddr;

const MTU: usize = 1500;

fn since(t: Timestamp, epoch: Timestamp) -> Duration {
    let ns = |t: Timestamp| u128::from(t.secs) * 1_000_000_000 + u128::from(t.nanos);
    Duration::from_nanos(ns(t).saturating_sub(ns(epoch)) as u64)
}

/// Messages with their classes, in delivery order.
type Messages = Vec<(Priority, Vec<u8>)>;

/// The messages of one class, in order (order holds within a class only).
fn of(v: &[(Priority, Vec<u8>)], p: Priority) -> Vec<&[u8]> {
    v.iter().filter(|m| m.0 == p).map(|m| &m.1[..]).collect()
}

fn delivered(ev: &mut Msl, out: &mut Vec<(Priority, Vec<u8>)>) {
    while let Some(e) = ev.poll_event() {
        if let MslEvent::Delivered { priority, message } = e {
            out.push((priority, message));
        }
    }
}

/// Runs a lossy session from A to B on the simulator with B's adapter recorded; returns the
/// recording, what B delivered, and B's configuration's incarnation.
fn record_session(seed: u64) -> (Vec<u8>, Messages, Timestamp) {
    let net = SimNet::new(seed);
    let epoch = net.timestamp();
    let a = net.add_adapter_with("msl-a", MacAddr([2, 0, 0, 0, 0, 1]), MTU);
    let b = net.add_adapter_with("msl-b", MacAddr([2, 0, 0, 0, 0, 2]), MTU);
    net.wire(a.id(), b.id()).unwrap();
    let f = Faults {
        loss: 0.1,
        duplicate: 0.05,
        reorder: 0.1,
        ..Faults::default()
    };
    net.set_faults_both(a.id(), b.id(), f);
    let clock = {
        let n = net.clone();
        move || n.timestamp()
    };
    let mut links: (Box<dyn Link>, Recorder<_, _, Vec<u8>>) =
        (Box::new(a), Recorder::new(b, Vec::new(), clock).unwrap());
    let mut ep = [
        Msl::new(config(1, 100, MacAddr([2, 0, 0, 0, 0, 1]), MTU), net.now()),
        Msl::new(config(2, 200, MacAddr([2, 0, 0, 0, 0, 2]), MTU), net.now()),
    ];
    let mut rng = Rng(seed);
    let mut sent = Vec::new();
    for i in 0..60 {
        let p = [Priority::Event, Priority::Bulk][i % 2];
        let m = message(&mut rng, 20_000);
        ep[0].send(p, &m).unwrap();
        sent.push((p, m));
    }
    let mut got = Vec::new();
    let mut buf = vec![0u8; MTU + 64];
    let mut rx = vec![0u8; MTU + 64];
    while got.len() < sent.len() {
        assert!(net.now() < Duration::from_secs(60), "seed {seed}: stuck");
        let now = net.now();
        for (i, e) in ep.iter_mut().enumerate() {
            let link: &mut dyn Link = if i == 0 { &mut *links.0 } else { &mut links.1 };
            while let Some(m) = link.recv(&mut rx).unwrap() {
                e.handle_frame(now, &rx[..m.len]);
            }
            while let Some(n) = e.poll_transmit(now, &mut buf) {
                link.send(&buf[..n]).unwrap();
            }
        }
        delivered(&mut ep[1], &mut got);
        while ep[0].poll_event().is_some() {}
        let next = [
            net.next_event_time(),
            ep[0].poll_timeout(),
            ep[1].poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(now + MS);
        net.advance_to(next.max(now + Duration::from_micros(1)));
    }
    for p in [Priority::Event, Priority::Bulk] {
        assert!(
            of(&got, p) == of(&sent, p),
            "seed {seed}: the live session delivered {p:?} in order"
        );
    }
    let (_, w) = links.1.finish().unwrap();
    (w.unwrap(), got, epoch)
}

#[test]
fn a_replayed_recording_delivers_what_the_live_endpoint_delivered() {
    for seed in 1..=20u64 {
        let (pcap, live, epoch) = record_session(seed);
        // The recording is an ordinary capture: every frame is an MSL frame.
        let mut reader = CaptureReader::new(Cursor::new(&pcap)).unwrap();
        let mut frames = 0;
        while let Some(rec) = reader.next_packet() {
            MslLinkFrame::parse(rec.unwrap().data, None).expect("an MSL frame");
            frames += 1;
        }
        assert!(frames > 100, "seed {seed}: only {frames} frames recorded");

        // Replay what B received into a new B of the same configuration.
        let b_mac = MacAddr([2, 0, 0, 0, 0, 2]);
        let info = sft3::link::AdapterInfo {
            name: "replay-b".into(),
            index: 0,
            mac: b_mac,
            mtu: MTU,
        };
        let mut replay = Replayer::new(Cursor::new(pcap), info)
            .unwrap()
            .skip_source(b_mac)
            .pacing(Pacing::Fast);
        let mut b = Msl::new(config(2, 200, b_mac, MTU), Duration::ZERO);
        let mut got = Vec::new();
        let mut buf = vec![0u8; MTU + 64];
        let mut rx = vec![0u8; MTU + 64];
        let mut up = false;
        while let Some(m) = replay.recv(&mut rx).unwrap() {
            let now = since(m.ts, epoch);
            b.handle_frame(now, &rx[..m.len]);
            while b.poll_transmit(now, &mut buf).is_some() {}
            up |= b.state() == MslState::Up;
            delivered(&mut b, &mut got);
        }
        assert!(up, "seed {seed}: the replayed session came up");
        assert!(
            got.len() == live.len() && got == live,
            "seed {seed}: replay delivered {} messages, not the same as the live {}",
            got.len(),
            live.len()
        );
        assert!(replay.stats().skipped_own > 0);
    }
}
