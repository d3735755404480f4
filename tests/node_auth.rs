//! The daemon's control plane reports frames that fail authentication (issue 5, "Forged
//! traffic": counted and logged), without taking them for decisions, and at most once per
//! link per `AUTH_NOTICE_EVERY`.

use std::time::Duration;

use sft3::beacon::AdapterConfig;
use sft3::msl::DropCounters;
use sft3::node::{Plane, PlaneConfig, RecordingService};
use sft3::wire::MacAddr;

const MS: Duration = Duration::from_millis(1);

fn plane(id: u64, key: [u8; 32]) -> Plane {
    let mut cfg = PlaneConfig::new(id, 0, 100 * id);
    cfg.key = Some(key);
    cfg.lans = vec![AdapterConfig::new(0, MacAddr([2, 0, 0, 0, id as u8, 0]))];
    Plane::assemble(&cfg, Box::new(RecordingService::new()), Duration::ZERO).expect("plane")
}

fn notices(p: &mut Plane) -> Vec<String> {
    let mut v = Vec::new();
    while let Some(n) = p.poll_notice() {
        v.push(n.to_string());
    }
    v
}

#[test]
fn forged_state_packets_and_msl_frames_are_reported_not_decided() {
    let mut a = plane(1, [1; 32]);
    let mut b = plane(2, [2; 32]); // the wrong key: every packet of B fails A's check
    let mut buf = vec![0u8; 1600];
    let mut now = Duration::ZERO;
    let mut sent = 0;
    let decisions = a.decisions;
    while now < 50 * MS {
        now += MS;
        a.timers(now);
        let mut frames = Vec::new();
        b.transmit_due(now, &mut buf, |pos, f| frames.push((pos, f.to_vec())));
        for (pos, f) in frames {
            a.lan_frame(now, pos, &f);
            sent += 1;
        }
    }
    assert!(sent >= 5, "{sent}");
    assert!(a.beacon.counters().dropped.bad_auth >= sent);
    a.tick(now);
    let drops = DropCounters {
        bad_auth: 7,
        ..DropCounters::default()
    };
    a.msl_drops(now, &drops);
    let said = notices(&mut a);
    assert!(
        said.iter()
            .any(|n| n.contains("on the LAN") && n.contains("since start")),
        "{said:?}"
    );
    assert!(
        said.iter()
            .any(|n| n.contains("mirrored server link") && n.contains("7 failed")),
        "{said:?}"
    );
    assert_eq!(a.decisions, decisions, "a report is not a decision");
    // More of the same within 10 s: counted, not said again; after 10 s, said once more.
    let auth = |p: &mut Plane| -> Vec<String> {
        notices(p)
            .into_iter()
            .filter(|n| n.contains("failing authentication"))
            .collect()
    };
    let mut t = now;
    let mut feed = |a: &mut Plane, b: &mut Plane, until: Duration| {
        while t < until {
            t += MS;
            a.timers(t);
            b.transmit_due(t, &mut buf, |pos, f| a.lan_frame(t, pos, f));
            if t.as_millis().is_multiple_of(100) {
                a.tick(t);
            }
        }
    };
    feed(&mut a, &mut b, now + Duration::from_secs(2));
    assert!(auth(&mut a).is_empty());
    feed(&mut a, &mut b, now + Duration::from_secs(11));
    let again = auth(&mut a);
    assert_eq!(again.len(), 1, "{again:?}");
    assert!(again[0].contains("on the LAN"), "{again:?}");
}
