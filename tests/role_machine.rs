//! `RoleMachine` alone, fed inputs by hand: decisions do not depend on the order news
//! arrives in, unknown roles never trigger a promotion, and no input sequence panics.

use std::time::Duration;

use arrayvec::ArrayVec;
use proptest::prelude::*;
use sft3::msl::HandshakeRepr;
use sft3::role::{
    text, Action, Command, Input, LanPath, LanView, OwnHealth, PeerStatus, ResyncKind,
    ResyncProgress, RoleConfig, RoleMachine, RoleMessage, RoleState,
};
use sft3::wire::state::{Role, StateFlags};

const MS: Duration = Duration::from_millis(1);

fn handshake(role: Role, flags: StateFlags, history: &[u64]) -> HandshakeRepr {
    HandshakeRepr {
        server_id: 1,
        name: [0; 32],
        min_version: 1,
        max_version: 1,
        role,
        flags,
        priority: 2,
        max_frame: 1500,
        volume_size: 0,
        region_size: 0,
        engine_version: 0,
        tracked_since: 0,
        history: history.iter().copied().collect(),
        max_message: None,
    }
}

fn lan(up: bool, age: Duration) -> Input {
    let mut v = LanView::default();
    for index in 0..2 {
        v.paths.push(LanPath {
            index,
            up,
            age: Some(age),
        });
    }
    Input::Lan(v)
}

fn serving_primary() -> PeerStatus {
    PeerStatus {
        server_id: 1,
        incarnation: 7,
        role: Role::MirroredPrimary,
        flags: StateFlags::SERVING.union(StateFlags::DATA_CONSISTENT),
        generation: 1,
        priority: 2,
    }
}

fn drain(m: &mut RoleMachine) -> Vec<Action> {
    std::iter::from_fn(|| m.poll_action()).collect()
}

/// Server 2 (priority 1, history [1]), hearing the network with both adapters at 1 ms.
fn server_2() -> RoleMachine {
    let mut cfg = RoleConfig::new(2, 1);
    cfg.history = [1].into_iter().collect();
    // Fed by hand, without a timer loop: gaps between inputs are not stalls here.
    cfg.stall_fence = None;
    let mut m = RoleMachine::new(cfg, Duration::ZERO);
    m.handle(
        MS,
        Input::OwnHealth(OwnHealth {
            hears_network: true,
            working_adapters: 2,
            evidence: "2/2 adapters".into(),
        }),
    );
    m
}

/// Server 2, a mirrored secondary of server 1, at 100 ms.
fn mirrored_secondary() -> RoleMachine {
    let mut m = server_2();
    m.handle(MS, lan(true, Duration::ZERO));
    m.handle(MS, Input::PeerState(serving_primary()));
    let flags = StateFlags::SERVING.union(StateFlags::DATA_CONSISTENT);
    let hs = handshake(Role::UnmirroredPrimary, flags, &[1]);
    m.handle(
        2 * MS,
        Input::MslUp {
            incarnation: 7,
            handshake: hs,
        },
    );
    assert_eq!(m.state(), RoleState::SyncingSecondary);
    m.handle(
        3 * MS,
        Input::PeerMessage(RoleMessage::StartResync {
            kind: ResyncKind::Incremental,
        }),
    );
    m.handle(10 * MS, Input::Resync(ResyncProgress::ImageDone));
    m.handle(50 * MS, Input::Resync(ResyncProgress::DiskDone));
    assert_eq!(m.state(), RoleState::MirroredSecondary);
    m.handle(100 * MS, lan(true, Duration::ZERO));
    drain(&mut m);
    m
}

#[test]
fn primary_death_decided_the_same_in_either_order() {
    let silent = Input::MslSilent { since: 100 * MS };
    let lan_silent = lan(false, 20 * MS);
    for order in [[silent.clone(), lan_silent.clone()], [lan_silent, silent]] {
        let mut m = mirrored_secondary();
        let [first, second] = order;
        m.handle(120 * MS, first);
        assert_eq!(
            m.state(),
            RoleState::MirroredSecondary,
            "not on half the evidence"
        );
        m.handle(120 * MS, second);
        assert_eq!(m.state(), RoleState::UnmirroredPrimary);
        let acts = drain(&mut m);
        assert!(acts.contains(&Action::StartServing));
        assert!(acts
            .iter()
            .any(|a| matches!(a, Action::Notify(n) if n.text == text::PRIMARY_DOWN)));
    }
}

#[test]
fn msl_silence_with_stale_lan_evidence_waits() {
    let mut m = mirrored_secondary();
    m.handle(120 * MS, Input::MslSilent { since: 100 * MS });
    // The LAN still counts as up, but nothing arrived since the MSL's last frame.
    m.handle(120 * MS, lan(true, 19 * MS));
    assert_eq!(m.state(), RoleState::MirroredSecondary);
    // A state packet from the serving primary 21 ms after the MSL's last frame: scenario 3.
    m.handle(121 * MS, Input::PeerState(serving_primary()));
    assert_eq!(
        m.state(),
        RoleState::ShutDown(sft3::role::ShutdownReason::MslFailed)
    );
}

#[test]
fn unknown_role_is_never_a_reason_to_promote() {
    let mut m = mirrored_secondary();
    let mut st = serving_primary();
    st.role = Role::Unknown(0x42);
    st.flags = StateFlags(0);
    m.handle(120 * MS, Input::MslSilent { since: 101 * MS });
    m.handle(120 * MS, Input::PeerState(st));
    // The peer is alive and its role unclear: even the operator's promote waits.
    m.handle(121 * MS, Input::Command(Command::Promote));
    assert_eq!(m.state(), RoleState::MirroredSecondary);
    // With the MSL silent and the peer alive on the LAN in an unknown role: no promotion.
    let mut m = mirrored_secondary();
    m.handle(101 * MS, Input::PeerState(st));
    m.handle(200 * MS, Input::MslSilent { since: 101 * MS });
    m.handle(200 * MS, lan(true, Duration::ZERO));
    m.handle(200 * MS, Input::PeerState(st));
    assert_eq!(m.state(), RoleState::MirroredSecondary);
}

#[test]
fn operator_promote_refused_while_a_primary_serves() {
    let mut m = mirrored_secondary();
    m.handle(101 * MS, Input::Command(Command::Promote));
    assert_eq!(m.state(), RoleState::MirroredSecondary);
    assert!(drain(&mut m)
        .iter()
        .any(|a| matches!(a, Action::Notify(n) if n.text == text::OP_PROMOTE_REFUSED)));
}

fn any_input() -> impl Strategy<Value = Input> {
    let role = (0u8..10).prop_map(Role::from_u8);
    let flags = any::<u8>().prop_map(StateFlags);
    let hist = proptest::collection::vec(0u64..6, 0..8)
        .prop_map(|v| v.into_iter().collect::<ArrayVec<u64, 8>>());
    prop_oneof![
        (role.clone(), flags, hist.clone(), any::<u8>(), 0u64..4).prop_map(
            |(role, flags, history, priority, inc)| {
                let mut h = handshake(role, flags, &history);
                h.priority = priority;
                Input::MslUp {
                    incarnation: inc,
                    handshake: h,
                }
            }
        ),
        (0u32..500).prop_map(|t| Input::MslSilent { since: t * MS }),
        Just(Input::MslRecovered),
        Just(Input::MslRestarted),
        Just(Input::MslCarrierLost),
        any::<bool>().prop_map(|d| Input::MslRefused {
            diverged: d,
            detail: String::new()
        }),
        (any::<bool>(), 0u32..40).prop_map(|(up, a)| lan(up, a * MS)),
        (role, any::<u8>(), 0u64..4, 0u64..6).prop_map(|(role, f, inc, g)| {
            Input::PeerState(PeerStatus {
                server_id: 1,
                incarnation: inc,
                role,
                flags: StateFlags(f),
                generation: g,
                priority: 1,
            })
        }),
        (any::<bool>(), 0u8..3).prop_map(|(h, w)| Input::OwnHealth(OwnHealth {
            hears_network: h,
            working_adapters: w,
            evidence: String::new()
        })),
        any::<bool>().prop_map(|more| Input::PeerMoreFunctional {
            more,
            evidence: String::new()
        }),
        Just(Input::Resync(ResyncProgress::ImageDone)),
        Just(Input::Resync(ResyncProgress::DiskDone)),
        (hist, 0u64..6).prop_map(|(history, tracked_since)| Input::Generations {
            history,
            tracked_since
        }),
        proptest::collection::vec(any::<u8>(), 0..10).prop_map(|b| {
            Input::PeerMessage(RoleMessage::decode(&b).unwrap_or(RoleMessage::Released))
        }),
        (0u8..4, 0u64..3).prop_map(|(c, id)| Input::Command(match c {
            0 => Command::Promote,
            1 => Command::Demote,
            2 => Command::Shutdown,
            _ => Command::ChooseSurvivor { server_id: id },
        })),
    ]
}

proptest! {
    /// Any input sequence: no panic, and serving actions alternate with `is_serving`.
    #[test]
    fn any_inputs_are_harmless(inputs in proptest::collection::vec((0u32..5, any_input()), 0..60)) {
        let mut m = RoleMachine::new(RoleConfig::new(2, 1), Duration::ZERO);
        let mut now = Duration::ZERO;
        let mut serving = false;
        for (dt, input) in inputs {
            now += dt * MS;
            m.handle(now, input);
            if let Some(t) = m.poll_timeout() {
                if t <= now + 5 * MS {
                    m.handle_timeout(now.max(t));
                }
            }
            for a in drain(&mut m) {
                match a {
                    Action::StartServing => { prop_assert!(!serving); serving = true; }
                    Action::StopServing => { prop_assert!(serving); serving = false; }
                    _ => {}
                }
            }
            prop_assert_eq!(serving, m.is_serving());
            prop_assert_eq!(m.flags().contains(StateFlags::SERVING), serving);
        }
    }
}

/// Two primaries met over a lossy MSL that never fell silent on this side: the peer's
/// `Status` is held back by retransmissions, but its state packets say it serves. They are
/// the dual-primary check's second witness: the tie-break runs after `dual_confirm` of
/// them, not when the MSL finally delivers.
#[test]
fn state_packets_reveal_a_second_primary_while_the_msl_lags() {
    let mut m = server_2();
    let consistent = StateFlags::DATA_CONSISTENT;
    m.handle(
        2 * MS,
        Input::MslUp {
            incarnation: 7,
            handshake: handshake(Role::ShutDown, consistent, &[1]),
        },
    );
    assert!(m.state().is_primary(), "{:?}", m.state());
    drain(&mut m);
    // The peer serves too (it decided on its own during a partition); the MSL stays up
    // here and carries nothing, the LAN shows it.
    let mut t = 10 * MS;
    while t <= 40 * MS {
        m.handle(t, lan(true, Duration::ZERO));
        m.handle(t, Input::PeerState(serving_primary()));
        m.handle_timeout(t);
        t += 5 * MS;
    }
    let acts = drain(&mut m);
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::Notify(n) if n.text == text::DUAL_STOP)),
        "{acts:?}"
    );
    assert!(acts.contains(&Action::StopServing), "{acts:?}");
}

#[test]
fn tracking_follows_the_journal_after_a_resync_target_adopts_generations() {
    // It tracked changes (an unmirrored primary that died), came back, and as the resync
    // target adopted the source's history: it tracks nothing now, and a take-over later
    // must start a new generation.
    let mut cfg = RoleConfig::new(1, 0);
    cfg.history = [5, 3].into_iter().collect();
    cfg.tracked_since = 3;
    let mut m = RoleMachine::new(cfg, Duration::ZERO);
    assert!(m.flags().contains(StateFlags::TRACKING_CHANGES));
    m.handle(
        Duration::from_millis(1),
        Input::Generations {
            history: [9, 3].into_iter().collect(),
            tracked_since: 0,
        },
    );
    assert!(!m.flags().contains(StateFlags::TRACKING_CHANGES));
    assert_eq!(m.history(), &[9, 3]);
}
