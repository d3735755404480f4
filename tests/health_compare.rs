//! "More functional" (scenario 4): steady better gives a verdict after the hold time,
//! flapping and ties never do, and the evidence text; plus the comparator fed by real
//! `Health` values through a carrier loss.

use std::time::Duration;

use proptest::prelude::*;
use sft3::health::compare::{evidence, peer_better};
use sft3::health::*;
use sft3::link::{LinkStatus, OperState};
use sft3::wire::MacAddr;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn sum(adapters: u8, working: u8, total_score: u32) -> Summary {
    Summary {
        adapters,
        working,
        total_score,
    }
}

/// Feeds both summaries every 5 ms (as state packets would) from `from` to `to`, own
/// given by `own(t)`; returns the first time a verdict is given.
fn run(
    c: &mut FunctionalComparator,
    from: u64,
    to: u64,
    own: impl Fn(u64) -> Summary,
    peer: Summary,
) -> Option<(u64, Verdict)> {
    let mut t = from;
    while t <= to {
        c.handle_own(ms(t), own(t));
        c.handle_peer(ms(t), peer);
        let v = c.verdict(ms(t));
        if v != Verdict::Neither {
            return Some((t, v));
        }
        t += 5;
    }
    None
}

#[test]
fn steady_better_gives_a_verdict_after_the_hold() {
    let mut c = FunctionalComparator::new(ComparatorConfig::default());
    let peer = sum(2, 2, 2000);
    // Both healthy for a while: nothing.
    assert!(run(&mut c, 0, 500, |_| sum(2, 2, 2000), peer).is_none());
    // Own adapter 1 fails at 505.
    let (t, v) = run(&mut c, 505, 2000, |_| sum(2, 1, 1000), peer).unwrap();
    assert_eq!(t, 605, "hold is 100 ms");
    assert_eq!(
        v,
        Verdict::PeerMoreFunctional {
            since: ms(505),
            evidence: "own: 1/2 adapters working, score 1000; peer: 2/2, score 2000".into()
        }
    );
    // Not yet a verdict one tick earlier.
    assert_eq!(c.verdict(ms(604)), Verdict::Neither);
    // It holds while the peer stays better, and is forgotten at once when it does not.
    assert!(matches!(
        c.verdict(ms(700)),
        Verdict::PeerMoreFunctional { .. }
    ));
    c.handle_own(ms(700), sum(2, 2, 2000));
    assert_eq!(c.verdict(ms(700)), Verdict::Neither);
}

#[test]
fn flapping_adapter_never_gives_a_verdict() {
    let mut c = FunctionalComparator::new(ComparatorConfig::default());
    let peer = sum(2, 2, 2000);
    // Own adapter down 90 ms, up 10 ms, over and over for 10 s.
    let own = |t: u64| {
        if t % 100 < 90 {
            sum(2, 1, 1000)
        } else {
            sum(2, 2, 2000)
        }
    };
    assert_eq!(run(&mut c, 0, 10_000, own, peer), None);
    // Down 60 ms, up 60 ms: same.
    let mut c = FunctionalComparator::new(ComparatorConfig::default());
    let own = |t: u64| {
        if t % 120 < 60 {
            sum(2, 1, 1000)
        } else {
            sum(2, 2, 2000)
        }
    };
    assert_eq!(run(&mut c, 0, 10_000, own, peer), None);
}

#[test]
fn ties_and_small_score_differences_never_give_a_verdict() {
    let mut c = FunctionalComparator::new(ComparatorConfig::default());
    assert_eq!(
        run(&mut c, 0, 5_000, |_| sum(2, 2, 2000), sum(2, 2, 2000)),
        None
    );
    // Same working count, peer 299 higher: under the margin.
    assert_eq!(
        run(&mut c, 5_000, 10_000, |_| sum(2, 2, 1600), sum(2, 2, 1899)),
        None
    );
    // 300 higher: a verdict, after the hold.
    let (t, v) = run(&mut c, 10_000, 20_000, |_| sum(2, 2, 1600), sum(2, 2, 1900)).unwrap();
    assert_eq!(t, 10_100);
    let Verdict::PeerMoreFunctional { evidence, .. } = v else {
        unreachable!()
    };
    assert_eq!(
        evidence,
        "own: 2/2 adapters working, score 1600; peer: 2/2, score 1900"
    );
}

#[test]
fn own_better_is_the_mirror_image() {
    let mut c = FunctionalComparator::new(ComparatorConfig::default());
    let (t, v) = run(&mut c, 0, 1000, |_| sum(2, 2, 2000), sum(2, 1, 1000)).unwrap();
    assert_eq!(t, 100);
    assert_eq!(
        v,
        Verdict::OwnMoreFunctional {
            since: ms(0),
            evidence: "own: 2/2 adapters working, score 2000; peer: 1/2, score 1000".into()
        }
    );
    // Sides swap: a new run, no verdict until the hold passes again.
    c.handle_own(ms(105), sum(2, 0, 0));
    assert_eq!(c.verdict(ms(105)), Verdict::Neither);
    c.handle_peer(ms(205), sum(2, 1, 1000));
    assert!(matches!(
        c.verdict(ms(205)),
        Verdict::PeerMoreFunctional { since, .. } if since == ms(105)
    ));
}

#[test]
fn working_adapters_come_before_score() {
    // Fewer working adapters never wins, whatever the score.
    assert!(!peer_better(&sum(3, 2, 1200), &sum(3, 1, 3000), 300));
    assert!(peer_better(&sum(3, 1, 3000), &sum(3, 2, 1200), 300));
    // A margin of 0 still needs a strictly higher score.
    assert!(!peer_better(&sum(1, 1, 800), &sum(1, 1, 800), 0));
    assert!(peer_better(&sum(1, 1, 800), &sum(1, 1, 801), 0));
    assert_eq!(
        evidence(&sum(2, 1, 1000), &sum(2, 2, 2000)),
        "own: 1/2 adapters working, score 1000; peer: 2/2, score 2000"
    );
}

#[test]
fn stale_or_forgotten_peer_gives_no_verdict() {
    let mut c = FunctionalComparator::new(ComparatorConfig::default());
    c.handle_own(ms(0), sum(2, 1, 1000));
    c.handle_peer(ms(0), sum(2, 2, 2000));
    assert_eq!(c.poll_timeout(), Some(ms(100)));
    // Only the own side is refreshed: the peer's summary (200 ms max age) is still fresh
    // at 150, stale after 200.
    c.handle_own(ms(150), sum(2, 1, 1000));
    assert!(matches!(
        c.verdict(ms(150)),
        Verdict::PeerMoreFunctional { .. }
    ));
    assert_eq!(c.verdict(ms(201)), Verdict::Neither);
    // A peer heard again after the gap starts a new run.
    c.handle_peer(ms(300), sum(2, 2, 2000));
    assert_eq!(c.verdict(ms(300)), Verdict::Neither);
    assert_eq!(c.poll_timeout(), Some(ms(400)));
    c.handle_peer(ms(400), sum(2, 2, 2000));
    assert!(matches!(
        c.verdict(ms(400)),
        Verdict::PeerMoreFunctional { since, .. } if since == ms(300)
    ));
    c.forget_peer();
    assert_eq!(c.verdict(ms(400)), Verdict::Neither);
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn poll_timeout_never_returns_a_passed_time() {
    let mut c = FunctionalComparator::new(ComparatorConfig::default());
    c.handle_own(ms(0), sum(2, 1, 1000));
    c.handle_peer(ms(0), sum(2, 2, 2000));
    c.handle_timeout(ms(100));
    // The hold passed: only the staleness edge is left.
    assert_eq!(c.poll_timeout(), Some(ms(200) + Duration::from_nanos(1)));
    c.handle_timeout(ms(201));
    assert_eq!(c.poll_timeout(), None);
    assert_eq!(c.verdict(ms(201)), Verdict::Neither);
}

/// Scenario 4 end to end at the health level: the primary's adapter loses carrier; the
/// hold time later the secondary's comparator (fed the summaries both would put in their
/// state packets) says "own more functional" and the primary's "peer more functional".
#[test]
fn carrier_loss_on_the_primary_moves_the_verdict_to_the_secondary() {
    let cfg = HealthConfig {
        probe_interval: None,
        ..HealthConfig::default()
    };
    let mac = |n| MacAddr([2, 0, 0, 0, n, 1]);
    let mut a = Health::new(
        cfg.clone(),
        &[AdapterConfig::new(0, mac(1)), AdapterConfig::new(1, mac(2))],
        ms(0),
    );
    let mut b = Health::new(
        cfg,
        &[AdapterConfig::new(0, mac(3)), AdapterConfig::new(1, mac(4))],
        ms(0),
    );
    for i in 0..2 {
        a.handle_link(ms(0), i, LinkStatus::UP);
        b.handle_link(ms(0), i, LinkStatus::UP);
    }
    let mut ca = FunctionalComparator::new(ComparatorConfig::default());
    let mut cb = FunctionalComparator::new(ComparatorConfig::default());
    let mut verdict_b = None;
    for t in (0..1000).step_by(5) {
        let now = ms(t);
        if t == 300 {
            a.handle_link(
                now,
                1,
                LinkStatus {
                    carrier: false,
                    oper: OperState::Down,
                },
            );
        }
        // Each hears the other's state packets on every adapter still up.
        for i in 0..2 {
            if t < 300 || i == 0 {
                a.handle_peer_state(now, i);
                b.handle_peer_state(now, i);
            }
        }
        let (sa, sb) = (a.summary(now), b.summary(now));
        ca.handle_own(now, sa);
        ca.handle_peer(now, sb);
        cb.handle_own(now, sb);
        cb.handle_peer(now, sa);
        // The two always agree: never both "own", never both "peer".
        let (va, vb) = (ca.verdict(now), cb.verdict(now));
        match (&va, &vb) {
            (Verdict::Neither, Verdict::Neither) => {}
            (
                Verdict::PeerMoreFunctional { .. },
                Verdict::OwnMoreFunctional { since, evidence },
            ) => {
                verdict_b.get_or_insert((t, *since, evidence.clone()));
            }
            _ => panic!("at {t}: {va:?} / {vb:?}"),
        }
    }
    let (t, since, ev) = verdict_b.expect("the verdict");
    assert_eq!((t, since), (400, ms(300)));
    // The primary's adapter 1 is dead; the secondary's adapter 1 is up but no longer
    // hears the peer there.
    assert_eq!(
        ev,
        "own: 2/2 adapters working, score 1400; peer: 1/2, score 800"
    );
}

proptest! {
    /// Both servers never see each other as more functional at the same time.
    #[test]
    fn the_comparison_is_antisymmetric(
        aw in 0u8..4, at in 0u32..4000, bw in 0u8..4, bt in 0u32..4000, margin in 0u32..500
    ) {
        let (a, b) = (sum(4, aw, at), sum(4, bw, bt));
        prop_assert!(!(peer_better(&a, &b, margin) && peer_better(&b, &a, margin)));
    }
}
