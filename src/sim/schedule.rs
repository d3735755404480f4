//! Random fault schedules: one fault every 20–250 ms of the fault phase, drawn from the
//! seed, each applied to the pair as it is at that moment (so a "restart" finds a server
//! down, a "restore" a cut).
//!
//! | draw | fault |
//! |---|---|
//! | crash | kill -9 of a server; restarted by its supervisor after 5–300 ms (3 in 4) or left down |
//! | restart | a server that is down starts again (new incarnation) |
//! | MSL cut / restore | both directions of the MSL wire |
//! | LAN cut / restore | one LAN adapter of one server cut from its segment |
//! | carrier | one adapter's carrier (MSL or LAN) down, or back up |
//! | impair | loss, duplication, reordering, delay and jitter, corruption on one adapter (any mix) |
//! | degrade | one LAN adapter: heavy loss and corruption (receive errors) |
//! | clear | one adapter back to normal |
//! | power | a server's process dies and its adapters lose carrier at once; with volumes, what its disks had not synced survives by sector or not (torn) |
//! | freeze | a server's whole process stops running for 1–150 ms (starved, SIGSTOP); one time in three both servers at once (the host paused) |
//! | station | the station on one LAN segment falls silent, or sends again (scenario 5) |
//! | split | the MSL or one LAN segment no longer joins the servers (each still hears its station): with all of them split, a full partition |

use std::time::Duration;

use crate::link::sim::Faults;

use super::pair::{AdapterFault, Pair};
use super::trace::Rng;

fn adapter_name(a: usize) -> String {
    if a == 0 {
        "msl".into()
    } else {
        format!("lan{}", a - 1)
    }
}

/// A random mix of impairments.
fn impairment(rng: &mut Rng) -> Faults {
    let mut f = Faults {
        delay: Duration::from_micros(100),
        jitter: Duration::from_micros(100),
        ..Faults::NONE
    };
    let mut any = false;
    while !any {
        if rng.below(2) == 0 {
            f.loss = rng.between(0.02, 0.5);
            any = true;
        }
        if rng.below(3) == 0 {
            f.duplicate = rng.between(0.02, 0.3);
            any = true;
        }
        if rng.below(3) == 0 {
            f.reorder = rng.between(0.02, 0.3);
            f.reorder_delay = rng.ms(1, 10);
            any = true;
        }
        if rng.below(3) == 0 {
            f.delay = rng.ms(0, 4);
            f.jitter = rng.ms(0, 4);
            any = true;
        }
        if rng.below(4) == 0 {
            f.corrupt = rng.between(0.01, 0.2);
            f.corrupt_bits = rng.range(1, 8) as u32;
            any = true;
        }
    }
    f
}

fn describe(f: &Faults) -> String {
    format!(
        "loss {:.2} dup {:.2} reorder {:.2}/{:?} delay {:?}+{:?} corrupt {:.2}",
        f.loss, f.duplicate, f.reorder, f.reorder_delay, f.delay, f.jitter, f.corrupt
    )
}

/// Applies one random fault to the pair now.
pub fn random_fault(p: &mut Pair, rng: &mut Rng) {
    let now = p.now();
    let i = rng.below(2) as usize;
    let id = i as u64 + 1;
    let lans = p.lans();
    let a = rng.below(1 + lans as u64) as usize;
    let lan = 1 + rng.below(lans as u64) as usize;
    let mut f = p.faults[i][a];
    let what = match rng.below(21) {
        20 => {
            let k = lan - 1;
            p.station_off[k] = !p.station_off[k];
            format!(
                "station {k} {}",
                if p.station_off[k] {
                    "silent"
                } else {
                    "sends again"
                }
            )
        }
        18 | 19 => {
            if p.servers[i].is_none() || p.frozen_until[i].is_some() {
                return;
            }
            let d = rng.ms(1, 150);
            let j = 1 - i;
            if rng.below(3) == 0 && p.servers[j].is_some() && p.frozen_until[j].is_none() {
                // The host does not run either server (a virtual machine descheduled).
                p.freeze(i, d);
                p.freeze(j, d);
                format!("host paused: both servers frozen for {d:?}")
            } else {
                p.freeze(i, d);
                format!("s{id} frozen for {d:?}")
            }
        }
        16 | 17 => {
            // A partition between the servers on one medium: each still hears its station.
            let m = rng.below(1 + lans as u64) as usize;
            let split = !p.split[m];
            p.set_split(m, split);
            format!(
                "{} {}",
                if m == 0 {
                    "MSL".to_string()
                } else {
                    format!("LAN segment {}", m - 1)
                },
                if split {
                    "split between the servers"
                } else {
                    "joined again"
                }
            )
        }
        0 | 1 => {
            let back = (rng.below(4) > 0).then(|| rng.ms(5, 300));
            p.crash(i, back);
            format!("crash s{id}, restart after {back:?}")
        }
        2 => {
            if p.servers[i].is_some() || p.restart_at[i].is_some() {
                return;
            }
            p.start(i);
            format!("restart s{id}")
        }
        3 | 4 => {
            let cut = !p.faults[0][0].cut;
            let mut m = p.faults[0][0];
            m.cut = cut;
            p.set_fault(0, 0, m);
            if cut { "MSL cut" } else { "MSL restored" }.to_string()
        }
        5 | 6 => {
            let mut l = p.faults[i][lan];
            l.cut = !l.cut;
            p.set_fault(i, lan, l);
            format!(
                "s{id} {} {}",
                adapter_name(lan),
                if l.cut { "cut" } else { "restored" }
            )
        }
        7 | 8 => {
            f.carrier_down = !f.carrier_down;
            p.set_fault(i, a, f);
            format!(
                "s{id} {} carrier {}",
                adapter_name(a),
                if f.carrier_down { "down" } else { "up" }
            )
        }
        9 | 10 => {
            let x = impairment(rng);
            f.impaired = Some(x);
            p.set_fault(i, a, f);
            format!("s{id} {} impaired: {}", adapter_name(a), describe(&x))
        }
        11 => {
            let x = Faults {
                loss: rng.between(0.3, 0.9),
                corrupt: rng.between(0.1, 0.4),
                corrupt_bits: 3,
                ..base()
            };
            let mut l = p.faults[i][lan];
            l.impaired = Some(x);
            p.set_fault(i, lan, l);
            format!("s{id} {} degraded: {}", adapter_name(lan), describe(&x))
        }
        12 | 13 => {
            p.set_fault(i, a, AdapterFault::default());
            format!("s{id} {} back to normal", adapter_name(a))
        }
        14 => {
            // Power lost: the process and every carrier at once.
            let back = (rng.below(2) > 0).then(|| rng.ms(20, 300));
            p.crash(i, back);
            p.power_cut(i, rng);
            for k in 0..=lans {
                let mut x = p.faults[i][k];
                x.carrier_down = true;
                p.set_fault(i, k, x);
            }
            format!("power lost on s{id} (process restart after {back:?}, carriers down)")
        }
        _ => {
            // Power back: carriers up.
            for k in 0..=lans {
                let mut x = p.faults[i][k];
                x.carrier_down = false;
                p.set_fault(i, k, x);
            }
            format!("power back on s{id} adapters")
        }
    };
    p.stats.faults += 1;
    p.trace.push(now, 0, &format!("fault: {what}"));
}

fn base() -> Faults {
    Faults {
        delay: Duration::from_micros(100),
        jitter: Duration::from_micros(100),
        ..Faults::NONE
    }
}
