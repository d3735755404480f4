//! Random fault schedules for the sweep: crashes and restarts, MSL and LAN cuts, stalls,
//! isolation, health verdicts, operator commands; and the repair after them.

use std::time::Duration;

use sft3::role::{Command, Input, RoleState};

use super::world::{World, MS, PATHS};

pub use crate::common::Rng;

/// One random fault schedule; returns the world for inspection.
pub fn random_run(seed: u64) -> World {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut w = World::new(rng.below(3) as u8, rng.below(3) as u8);
    w.delay = MS * (1 + rng.below(3) as u32);
    w.start(0);
    let late = rng.below(150);
    let mut next_fault = 100 + rng.below(100);
    for t in 0..1200u64 {
        if t == late {
            w.start(1);
        }
        if t == next_fault {
            next_fault += 10 + rng.below(150);
            let i = rng.below(2) as usize;
            match rng.below(12) {
                0 => {
                    let back =
                        (rng.below(4) > 0).then(|| Duration::from_millis(5 + rng.below(200)));
                    w.kill(i, back);
                }
                1 => {
                    if w.nodes[i].machine.is_none() && w.nodes[i].restart_at.is_none() {
                        w.start(i);
                    }
                }
                2 | 3 => w.msl_cut = !w.msl_cut,
                4 | 5 => {
                    let p = rng.below(PATHS as u64) as usize;
                    let cut = !w.lan_cut[p];
                    w.set_lan_cut(p, cut);
                }
                6 => w.nodes[i].hears_network = !w.nodes[i].hears_network,
                7 => {
                    w.nodes[i].verdict = !w.nodes[i].verdict;
                    w.nodes[1 - i].verdict = false;
                }
                8 => w.feed(i, Input::Command(Command::Promote)),
                10 => w.stall(i, Duration::from_millis(1 + rng.below(150))),
                9 => w.feed(i, Input::Command(Command::Demote)),
                _ => {
                    if w.halted_diverged(i) {
                        let id = w.nodes[rng.below(2) as usize].id;
                        w.feed(i, Input::Command(Command::ChooseSurvivor { server_id: id }));
                    }
                }
            }
        }
        w.step();
        if !w.violations.is_empty() {
            break;
        }
    }
    w
}

/// After a random schedule, repair everything (links, health, processes; the operator
/// picks a survivor for any halt) and check the pair converges to one mirrored primary.
pub fn heal_and_settle(w: &mut World) -> Result<(), String> {
    w.msl_cut = false;
    for p in 0..PATHS {
        w.set_lan_cut(p, false);
    }
    for i in 0..2 {
        w.nodes[i].hears_network = true;
        w.nodes[i].verdict = false;
    }
    w.run(50);
    for i in 0..2 {
        if w.nodes[i].machine.is_none() && w.nodes[i].restart_at.is_none() {
            w.start(i);
        }
    }
    w.run(300);
    // The operator resolves what waits for them, with one choice for the pair: the
    // server that serves, else a consistent one.
    let halted = |w: &World, i: usize| matches!(w.nodes[i].state(), Some(RoleState::Halted(_)));
    if halted(w, 0) || halted(w, 1) {
        let keep = if w.nodes[1].serving || (!w.nodes[0].serving && !w.nodes[0].consistent) {
            1
        } else {
            0
        };
        let survivor = w.nodes[keep].id;
        for i in 0..2 {
            if halted(w, i) {
                w.feed(
                    i,
                    Input::Command(Command::ChooseSurvivor {
                        server_id: survivor,
                    }),
                );
            }
        }
    }
    w.run(400);
    let states = w.states();
    let ok = matches!(
        states,
        [
            Some(RoleState::MirroredPrimary),
            Some(RoleState::MirroredSecondary)
        ] | [
            Some(RoleState::MirroredSecondary),
            Some(RoleState::MirroredPrimary)
        ]
    );
    if ok {
        Ok(())
    } else {
        Err(format!("not mirrored after healing: {states:?}"))
    }
}
