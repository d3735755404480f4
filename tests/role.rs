//! The role state machine in a simulated two-server world: one test per scenario of DESIGN
//! §2 (1–8), asserting roles, actions and notice texts, and a seeded random sweep of fault
//! schedules checking the one-servicer invariant after every input.

mod common;

#[path = "role/world.rs"]
mod world;

#[path = "role/faults.rs"]
mod faults;

#[path = "role/node.rs"]
mod node;

use faults::{heal_and_settle, random_run};
use sft3::role::{
    text, Action, Command, HaltReason, Input, ResyncKind, ResyncRole, RoleMessage, RoleState,
    ShutdownReason,
};
use world::{World, MS, PATHS};

/// A primary and B its mirrored secondary, or the trace.
fn assert_mirrored(w: &World) {
    assert_eq!(
        w.states(),
        [
            Some(RoleState::MirroredPrimary),
            Some(RoleState::MirroredSecondary)
        ],
        "{}",
        w.trace()
    );
}

/// A (server 1, priority 2) is primary, B (server 2, priority 1) its mirrored secondary.
fn mirrored_pair() -> World {
    let mut w = World::new(2, 1);
    w.start(0);
    w.start(1);
    w.run(150);
    assert_mirrored(&w);
    assert!(w.violations.is_empty());
    w
}

fn assert_clean(w: &World) {
    assert!(w.violations.is_empty(), "{:?}\n{}", w.violations, w.trace());
}

#[test]
fn scenario_1_primary_dies_secondary_takes_over() {
    let mut w = mirrored_pair();
    let killed = w.now;
    w.kill(0, None);
    w.run(40);
    assert_eq!(
        w.nodes[1].state(),
        Some(RoleState::UnmirroredPrimary),
        "{}",
        w.trace()
    );
    assert!(w.nodes[1].serving);
    assert!(w.nodes[1].did(&Action::Advertise));
    assert!(w.nodes[1].did(&Action::StartTracking));
    let n = w.nodes[1]
        .notices
        .iter()
        .find(|n| n.text == text::PRIMARY_DOWN)
        .unwrap();
    // Detection within the MSL/LAN silence threshold plus a step or two.
    assert!(
        n.at - killed <= 25 * MS,
        "decided after {:?}",
        n.at - killed
    );
    assert!(n.evidence.contains("msl silent"), "{}", n.evidence);
    assert!(n.evidence.contains("path 0 silent"), "{}", n.evidence);
    // The repaired server comes back as secondary and is resynced incrementally.
    w.start(0);
    w.run(150);
    assert_eq!(
        w.states(),
        [
            Some(RoleState::MirroredSecondary),
            Some(RoleState::MirroredPrimary)
        ],
        "{}",
        w.trace()
    );
    assert!(w.nodes[1].did(&Action::StartResync {
        role: ResyncRole::Source,
        kind: ResyncKind::Incremental
    }));
    assert!(w.nodes[0].said(text::FOUND_PRIMARY));
    assert_eq!(w.nodes[0].history, w.nodes[1].history);
    assert_clean(&w);
}

#[test]
fn scenario_2_secondary_dies_primary_tracks() {
    let mut w = mirrored_pair();
    w.kill(1, None);
    w.run(40);
    assert_eq!(w.nodes[0].state(), Some(RoleState::UnmirroredPrimary));
    assert!(w.nodes[0].serving);
    assert!(w.nodes[0].said(text::SECONDARY_DOWN), "{}", w.trace());
    assert!(w.nodes[0].did(&Action::StartTracking));
    w.start(1);
    w.run(150);
    assert_mirrored(&w);
    assert!(w.nodes[0].did(&Action::StopTracking));
    assert_clean(&w);
}

#[test]
fn scenario_3_msl_fails_secondary_shuts_down() {
    let mut w = mirrored_pair();
    w.msl_cut = true;
    w.run(40);
    assert_eq!(
        w.nodes[1].shut_down,
        Some(ShutdownReason::MslFailed),
        "{}",
        w.trace()
    );
    assert!(w.nodes[1].said(text::MSL_FAILED_SECONDARY));
    assert!(w.nodes[1].did(&Action::ShutDown {
        reason: ShutdownReason::MslFailed
    }));
    assert_eq!(w.nodes[0].state(), Some(RoleState::UnmirroredPrimary));
    assert!(w.nodes[0].serving);
    assert!(w.nodes[0].said(text::MSL_FAILED_PRIMARY));
    assert!(w.nodes[0].did(&Action::StartTracking));
    // The MSL repaired, the admin brings the secondary up: image + changes.
    w.msl_cut = false;
    w.start(1);
    w.run(150);
    assert_mirrored(&w);
    assert_clean(&w);
}

#[test]
fn scenario_4_adapter_failure_switches_over() {
    let mut w = mirrored_pair();
    w.nodes[0].verdict = true;
    w.run(5);
    assert!(w.nodes[0].said(text::SWITCHING_OVER), "{}", w.trace());
    assert!(w.nodes[0].did(&Action::SendToPeer(RoleMessage::HandoverRequest)));
    w.run(20);
    assert!(w.nodes[0].said(text::SWITCHED_OVER), "{}", w.trace());
    assert!(w.nodes[1].said(text::TAKING_OVER));
    assert_eq!(w.nodes[0].restarts_as_secondary, 1);
    assert!(w.nodes[1].serving);
    // The primary withdrew and stopped before it released the secondary.
    let pos = |a: &Action| w.nodes[0].actions.iter().position(|(_, x)| x == a).unwrap();
    assert!(pos(&Action::Withdraw) < pos(&Action::SendToPeer(RoleMessage::Released)));
    assert!(pos(&Action::StopServing) < pos(&Action::SendToPeer(RoleMessage::Released)));
    // The failed server restarts automatically as the secondary.
    w.nodes[0].verdict = false;
    w.run(150);
    assert_eq!(
        w.states(),
        [
            Some(RoleState::MirroredSecondary),
            Some(RoleState::MirroredPrimary)
        ],
        "{}",
        w.trace()
    );
    assert_clean(&w);
}

#[test]
fn scenario_4_secondary_refuses_when_isolated() {
    let mut w = mirrored_pair();
    w.nodes[1].hears_network = false;
    w.nodes[0].verdict = true;
    w.run(30);
    assert!(w.nodes[1].said(text::SWITCHOVER_REFUSED), "{}", w.trace());
    assert!(w.nodes[0].said(text::SWITCHOVER_FAILED));
    assert_eq!(w.nodes[0].state(), Some(RoleState::MirroredPrimary));
    assert!(w.nodes[0].serving && !w.nodes[1].serving);
    assert_clean(&w);
}

#[test]
fn scenario_5_isolated_secondary_stays_passive() {
    let mut w = mirrored_pair();
    w.nodes[1].hears_network = false;
    w.run(2);
    w.kill(0, None);
    w.run(60);
    assert_eq!(w.nodes[1].state(), Some(RoleState::MirroredSecondary));
    assert!(!w.nodes[1].serving);
    let n: Vec<_> = w.nodes[1]
        .notices
        .iter()
        .filter(|n| n.text == text::ISOLATED)
        .collect();
    assert_eq!(n.len(), 1, "said once: {}", w.trace());
    assert!(
        n[0].evidence.contains("does not hear the network"),
        "{}",
        n[0].evidence
    );
    // Once it hears the network again, it promotes.
    w.nodes[1].hears_network = true;
    w.run(2);
    assert_eq!(w.nodes[1].state(), Some(RoleState::UnmirroredPrimary));
    assert!(w.nodes[1].said(text::PRIMARY_DOWN));
    assert_clean(&w);
}

#[test]
fn scenario_6_simultaneous_start_tie_break() {
    for (pa, pb, winner) in [(2, 1, 0), (1, 2, 1), (5, 5, 1)] {
        let mut w = World::new(pa, pb);
        w.start(0);
        w.start(1);
        w.run(150);
        let loser = 1 - winner;
        assert_eq!(
            w.nodes[winner].state(),
            Some(RoleState::MirroredPrimary),
            "{}",
            w.trace()
        );
        assert_eq!(w.nodes[loser].state(), Some(RoleState::MirroredSecondary));
        assert!(w.nodes[winner].said(text::TIE_BREAK_WON));
        assert!(w.nodes[loser].said(text::TIE_BREAK_LOST));
        assert!(!w.nodes[loser].did(&Action::StartServing));
        assert_clean(&w);
    }
}

#[test]
fn scenario_6_lone_server_waits_then_serves() {
    let mut w = World::new(1, 1);
    w.start(0);
    w.run(99);
    assert_eq!(w.nodes[0].state(), Some(RoleState::Starting));
    w.run(3);
    assert_eq!(w.nodes[0].state(), Some(RoleState::UnmirroredPrimary));
    assert!(w.nodes[0].said(text::SERVING_ALONE));
}

/// Both served alone during a partition: each holds a generation the other lacks.
fn diverged_pair() -> World {
    let mut w = World::new(1, 1);
    w.nodes[0].history = [101, 1].into_iter().collect();
    w.nodes[1].history = [102, 1].into_iter().collect();
    w.start(0);
    w.start(1);
    w.run(20);
    w
}

#[test]
fn scenario_7_diverged_histories_wait_for_the_operator() {
    let mut w = diverged_pair();
    for i in 0..2 {
        assert!(w.halted_diverged(i), "{}", w.trace());
        assert!(w.nodes[i].said(text::DIVERGED));
        assert!(!w.nodes[i].serving);
    }
    w.run(200);
    assert!(
        w.halted_diverged(0) && w.halted_diverged(1),
        "still waiting"
    );
    // The operator picks server 2 on server 2's console only.
    w.feed(1, Input::Command(Command::ChooseSurvivor { server_id: 2 }));
    w.run(150);
    assert_eq!(
        w.states(),
        [
            Some(RoleState::MirroredSecondary),
            Some(RoleState::MirroredPrimary)
        ],
        "{}",
        w.trace()
    );
    assert!(w.nodes[0].did(&Action::StartResync {
        role: ResyncRole::Target,
        kind: ResyncKind::Full
    }));
    assert!(w.nodes[0].said(text::OP_SURVIVOR_PEER));
    assert!(!w.nodes[0].did(&Action::StartServing));
    assert_eq!(w.nodes[0].history, w.nodes[1].history);
    assert_eq!(
        w.nodes[0].history.get(1),
        Some(&102),
        "the survivor's data won"
    );
    assert_clean(&w);
}

#[test]
fn scenario_7_returning_server_newer_than_serving_primary() {
    let mut w = World::new(1, 1);
    w.nodes[0].history = [101, 1].into_iter().collect();
    w.nodes[1].history = [1].into_iter().collect();
    // B starts alone and serves: a new generation that A's history lacks, while A holds 101.
    w.start(1);
    w.run(120);
    assert!(w.nodes[1].serving);
    w.start(0);
    w.run(30);
    assert!(w.halted_diverged(0), "{}", w.trace());
    assert!(w.nodes[0].said(text::DIVERGED));
    assert!(w.nodes[1].said(text::DIVERGED_SERVING), "{}", w.trace());
    assert!(w.nodes[1].serving && !w.nodes[0].serving);
    assert_clean(&w);
}

#[test]
fn scenario_8_primary_dies_during_resync() {
    let mut w = mirrored_pair();
    w.kill(1, None);
    w.run(40);
    w.start(1);
    w.run(20); // image done, disk resync under way
    assert_eq!(
        w.nodes[1].state(),
        Some(RoleState::SyncingSecondary),
        "{}",
        w.trace()
    );
    w.kill(0, None);
    w.run(60);
    assert_eq!(
        w.nodes[1].state(),
        Some(RoleState::Halted(HaltReason::InconsistentDisk)),
        "{}",
        w.trace()
    );
    assert!(w.nodes[1].said(text::DISK_INCONSISTENT));
    assert!(!w.nodes[1].serving);
    // The old primary returns: it serves and resyncs the halted one.
    w.start(0);
    w.run(250);
    assert_mirrored(&w);
    assert_clean(&w);
}

#[test]
fn stalled_primary_fences_itself() {
    let mut w = mirrored_pair();
    // Starved for 40 ms: the secondary sees it dead and takes over meanwhile.
    w.stall(0, 40 * MS);
    w.run(45);
    assert!(w.nodes[1].said(text::PRIMARY_DOWN), "{}", w.trace());
    assert!(w.nodes[0].said(text::STALLED), "{}", w.trace());
    assert_eq!(w.nodes[0].restarts_as_secondary, 1);
    w.run(150);
    assert_eq!(
        w.states(),
        [
            Some(RoleState::MirroredSecondary),
            Some(RoleState::MirroredPrimary)
        ],
        "{}",
        w.trace()
    );
    assert_clean(&w);
    // A short hiccup (under the fence) changes nothing.
    let mut w = mirrored_pair();
    w.stall(0, 8 * MS);
    w.run(50);
    assert_eq!(
        w.states(),
        [
            Some(RoleState::MirroredPrimary),
            Some(RoleState::MirroredSecondary)
        ]
    );
    assert!(!w.nodes[0].said(text::STALLED));
}

#[test]
fn stall_of_both_servers_is_no_failover() {
    // A host that does not run either server for 40 ms (a virtual machine descheduled):
    // the primary pauses, asks, hears "secondary" and serves on; nobody takes over.
    let mut w = mirrored_pair();
    w.stall(0, 40 * MS);
    w.stall(1, 40 * MS);
    w.run(100);
    assert_mirrored(&w);
    assert!(w.nodes[0].serving, "{}", w.trace());
    assert!(w.nodes[0].said(text::STALLED_ASKING), "{}", w.trace());
    assert!(w.nodes[0].said(text::STALL_CLEARED), "{}", w.trace());
    assert!(!w.nodes[0].said(text::STALLED), "{}", w.trace());
    assert!(!w.nodes[1].said(text::PRIMARY_DOWN), "{}", w.trace());
    assert_eq!(w.nodes[0].restarts_as_secondary, 0);
    // The pause stopped replies but kept the routes.
    assert!(w.nodes[0].did(&Action::StopServing));
    assert!(!w.nodes[0].did(&Action::Withdraw), "{}", w.trace());
    assert_clean(&w);
}

#[test]
fn stalled_primary_without_an_answer_steps_down() {
    // Stalled, and the MSL cut meanwhile: its question goes nowhere. It never serves
    // again on its own word: it steps down (the secondary, seeing both paths silent on
    // the LAN too while the primary was stalled, took over).
    let mut w = mirrored_pair();
    w.msl_cut = true;
    w.stall(0, 40 * MS);
    w.run(120);
    assert!(w.nodes[0].said(text::STALLED), "{}", w.trace());
    assert_eq!(w.nodes[0].restarts_as_secondary, 1, "{}", w.trace());
    assert!(w.nodes[1].serving, "{}", w.trace());
    assert_clean(&w);
}

#[test]
fn stall_check_messages_round_trip() {
    use sft3::wire::state::Role;
    for m in [
        RoleMessage::StallCheck { nonce: 0xdead_beef },
        RoleMessage::StallAnswer {
            nonce: 7,
            role: Role::MirroredSecondary,
        },
    ] {
        assert_eq!(RoleMessage::decode(&m.encode()), Some(m));
    }
    assert_eq!(RoleMessage::decode(&[8, 1, 2, 3]), None);
    assert_eq!(RoleMessage::decode(&[9, 1, 2, 3, 4]), None);
    assert_eq!(RoleMessage::decode(&[9, 1, 2, 3, 4, 5, 6]), None);
}

#[test]
fn healed_partition_one_primary_stops() {
    let mut w = mirrored_pair();
    w.msl_cut = true;
    for p in 0..PATHS {
        w.set_lan_cut(p, true);
    }
    w.run(60);
    assert!(w.nodes[0].serving && w.nodes[1].serving, "{}", w.trace());
    for p in 0..PATHS {
        w.set_lan_cut(p, false);
    }
    w.run(30);
    assert!(w.nodes[0].serving, "{}", w.trace());
    assert!(w.halted_diverged(1));
    assert!(w.nodes[1].said(text::DUAL_STOP));
    assert_clean(&w);
}

#[test]
fn role_messages_round_trip() {
    for m in [
        RoleMessage::HandoverRequest,
        RoleMessage::HandoverAccept,
        RoleMessage::HandoverRefuse,
        RoleMessage::Released,
        RoleMessage::StartResync {
            kind: ResyncKind::Full,
        },
        RoleMessage::StartResync {
            kind: ResyncKind::Incremental,
        },
        RoleMessage::SurvivorChosen {
            server_id: u64::MAX - 3,
        },
    ] {
        assert_eq!(RoleMessage::decode(&m.encode()), Some(m));
    }
    for bad in [&[][..], &[0], &[5, 3], &[6, 1, 2], &[1, 0]] {
        assert_eq!(RoleMessage::decode(bad), None);
    }
}

#[test]
fn random_fault_schedules_keep_one_servicer() {
    let seeds = 3000;
    let started = std::time::Instant::now();
    let mut served_at_end = 0;
    for seed in 0..seeds {
        let w = random_run(seed);
        assert!(
            w.violations.is_empty(),
            "seed {seed}: {:?}\n{}",
            w.violations,
            w.trace()
        );
        served_at_end += w.nodes.iter().any(|n| n.serving) as u32;
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{seeds} seeds ({:.0}/s); a server serves at the end in {served_at_end}",
        seeds as f64 / secs
    );
}

#[test]
fn random_runs_are_deterministic() {
    for seed in [7, 99, 12345] {
        assert_eq!(random_run(seed).trace(), random_run(seed).trace());
    }
}

#[test]
fn random_schedules_converge_after_repair() {
    let mut failed = Vec::new();
    for seed in 0..1000 {
        let mut w = random_run(seed);
        if let Err(e) = heal_and_settle(&mut w) {
            failed.push((seed, e));
        }
        assert!(w.violations.is_empty(), "seed {seed}: {:?}", w.violations);
    }
    assert!(
        failed.is_empty(),
        "{} seeds: {:?}",
        failed.len(),
        &failed[..failed.len().min(10)]
    );
}

/// The MSL breaks after the primary released the secondary but before the release arrived:
/// the primary stopped serving (mirrored to the end), the secondary had accepted. The
/// secondary must take over from what the LAN shows, not wait for the operator or the MSL.
#[test]
fn scenario_4_msl_breaks_during_the_switch_over() {
    let mut w = mirrored_pair();
    w.nodes[0].verdict = true;
    for _ in 0..50 {
        w.step();
        if w.nodes[0].said(text::SWITCHED_OVER) {
            break;
        }
    }
    assert!(w.nodes[0].said(text::SWITCHED_OVER), "{}", w.trace());
    assert!(!w.nodes[1].serving);
    w.msl_cut = true;
    w.nodes[0].verdict = false;
    w.run(300);
    assert!(w.nodes[1].serving, "{}", w.trace());
    assert!(!w.nodes[0].serving);
    w.msl_cut = false;
    w.run(300);
    assert_eq!(
        w.states(),
        [
            Some(RoleState::MirroredSecondary),
            Some(RoleState::MirroredPrimary)
        ],
        "{}",
        w.trace()
    );
    assert_clean(&w);
}

/// Both start while the MSL is down and their data differ: the LAN carries each one's
/// current generation, and the one whose history holds the other's current generation has
/// everything the other has (the other never wrote alone since). It serves; the other waits
/// for the MSL, then becomes its secondary. Priority does not override newer data.
#[test]
fn scenario_6_msl_down_at_start_newer_data_serves() {
    for newer in [0, 1] {
        let mut w = World::new(2, 1);
        w.nodes[newer].history = [101, 1].into_iter().collect();
        w.nodes[1 - newer].history = [1].into_iter().collect();
        w.msl_cut = true;
        w.start(0);
        w.start(1);
        w.run(300);
        assert!(w.nodes[newer].serving, "newer {newer}: {}", w.trace());
        assert!(!w.nodes[1 - newer].serving);
        assert!(!w.halted_diverged(1 - newer));
        w.msl_cut = false;
        w.run(300);
        assert_eq!(
            w.nodes[newer].state(),
            Some(RoleState::MirroredPrimary),
            "{}",
            w.trace()
        );
        assert_eq!(
            w.nodes[1 - newer].state(),
            Some(RoleState::MirroredSecondary)
        );
        assert_clean(&w);
    }
}

/// The same start with diverged data: neither can tell over the LAN alone, so neither serves;
/// when the MSL comes back the histories prove the divergence and the operator decides.
#[test]
fn scenario_7_msl_down_at_start_diverged_nobody_serves() {
    let mut w = World::new(2, 1);
    w.nodes[0].history = [101, 1].into_iter().collect();
    w.nodes[1].history = [102, 1].into_iter().collect();
    w.msl_cut = true;
    w.start(0);
    w.start(1);
    w.run(300);
    assert!(!w.nodes[0].serving && !w.nodes[1].serving, "{}", w.trace());
    w.msl_cut = false;
    w.run(100);
    assert!(
        w.halted_diverged(0) && w.halted_diverged(1),
        "{}",
        w.trace()
    );
    assert_clean(&w);
}
