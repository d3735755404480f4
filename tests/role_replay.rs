//! Replay: a live server's recorded traffic, fed into the same server's sans-IO composition,
//! gives the decisions the live server took (issue 5, "Replay").
//!
//! Each directory of `captures/lab/` (made by `tests/lab_scenarios.rs` with `SFT3_RECORD`,
//! see its README) holds one server's recordings (`X-lan0.pcap`, `X-lan1.pcap`,
//! `X-msl.pcap`: every frame on its adapters, both directions), its generated
//! configuration and its admin log lines (`decisions.txt`). The replay builds that server
//! as `sft3::node::start_with` does — [`Plane`] over a beacon, health, the comparator and a
//! role machine from the configuration, and an [`Msl`] endpoint of the same configuration
//! and incarnation — and feeds it, on the capture's timestamps, every frame the server
//! received (its own, by source MAC, are skipped), the MSL frames through the `Msl` into
//! `Plane::msl_event`, running timers and the 100 ms tick as the daemon's loop does. What
//! it sends goes nowhere (the recording holds the peer's answers to the live server).
//!
//! Plane time 0 is the process's first own frame (a state packet or its MSL hello, sent the
//! moment it starts) less 1 ms; frames before that were never read by the live process. The
//! replay stops when the plane ends the server (scenarios 3 and 4), and compares the
//! severity and text of every notice with the recorded lines of that process (the
//! evidence in parentheses holds measured times, printed but not compared).
//!
//! The replay follows its input, not the recorded log: scenario 1 replayed without the
//! station's frames (and on past the recording's end) gives scenario 5's decision instead.
//! Each replay takes a few milliseconds.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sft3::capture::{CaptureReader, Timestamp};
use sft3::lab::{LabConfig, Node};
use sft3::link::LinkStatus;
use sft3::msl::driver::DriverEvent;
use sft3::msl::Msl;
use sft3::node::config::NodeConfig;
use sft3::node::plane::TICK;
use sft3::node::{Exit, Plane, RecordingService};
use sft3::role::{RoleMachine, RoleState, ShutdownReason};
use sft3::wire::MacAddr;

/// One received frame: when, on which adapter (`None`: the MSL), the bytes.
struct Frame {
    at: Timestamp,
    lan: Option<usize>,
    data: Vec<u8>,
}

fn ns(t: Timestamp) -> u128 {
    u128::from(t.secs) * 1_000_000_000 + u128::from(t.nanos)
}

/// A scenario directory: its configuration, the server it is, its recorded decisions.
struct Recording {
    dir: PathBuf,
    cfg: NodeConfig,
    node: Node,
    incarnation: u64,
    decisions: Vec<String>,
}

impl Recording {
    fn open(name: &str) -> Recording {
        Recording::open_process(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("captures/lab")
                .join(name),
            0,
        )
    }

    /// Process `k` (0: the first) of the server recorded in `dir`.
    fn open_process(dir: &Path, k: usize) -> Recording {
        let dir = dir.to_path_buf();
        let text = std::fs::read_to_string(dir.join("sft3.toml")).expect("sft3.toml");
        let cfg = NodeConfig::from_toml_str(&text).expect("the recorded configuration");
        let node = if cfg.server.id == 1 { Node::A } else { Node::B };
        let log = std::fs::read_to_string(dir.join("decisions.txt")).expect("decisions.txt");
        let all: Vec<&str> = log.lines().collect();
        let start = all
            .iter()
            .enumerate()
            .filter(|(_, l)| l.starts_with("INFO sft3 starting"))
            .nth(k)
            .map(|(i, _)| i)
            .expect("that process's first line");
        let lines = all.iter().copied().skip(start + 1);
        let starting = log
            .lines()
            .filter(|l| l.starts_with("INFO sft3 starting"))
            .nth(k)
            .expect("that process's first line");
        // `INFO sft3 starting: server 1 "SFT-A", incarnation N, msl ...`
        let incarnation = starting
            .split_once("incarnation ")
            .and_then(|(_, r)| r.split(',').next())
            .and_then(|n| n.parse().ok())
            .expect("the incarnation in the first line");
        // That process's decisions (what the runtime itself writes left out).
        let decisions = lines
            .take_while(|l| {
                !l.starts_with("INFO sft3 stopped") && !l.starts_with("INFO sft3 starting")
            })
            .map(str::to_string)
            .collect();
        Recording {
            dir,
            cfg,
            node,
            incarnation,
            decisions,
        }
    }

    fn own_macs(&self) -> Vec<MacAddr> {
        let mut v: Vec<MacAddr> = (0..self.cfg.lan.len())
            .map(|i| LabConfig::mac(self.node, false, i as u8, false))
            .collect();
        v.push(LabConfig::mac(self.node, true, 0, false));
        v
    }

    /// Every frame of the three recordings, by time, but those from `drop_src`; and the
    /// time of this process's first frame.
    fn frames(&self, drop_src: Option<MacAddr>) -> (Vec<Frame>, Timestamp) {
        let own = self.own_macs();
        let n = self.node.short();
        let mut files: Vec<(PathBuf, Option<usize>)> = (0..self.cfg.lan.len())
            .map(|i| (self.dir.join(format!("{n}-lan{i}.pcap")), Some(i)))
            .collect();
        files.push((self.dir.join(format!("{n}-msl.pcap")), None));
        let mut frames = Vec::new();
        let mut first_own: Option<Timestamp> = None;
        for (path, lan) in files {
            let mut r = CaptureReader::open(&path).expect("a recording");
            while let Some(p) = r.next_packet() {
                let p = p.expect("a recorded frame");
                let src = p.data.get(6..12).unwrap_or_default();
                if own.iter().any(|m| m.0[..] == *src) {
                    // This process's first frame: an MSL frame with its incarnation as
                    // the sender's (bytes 8..16 of the MSL header), or a state packet with
                    // it (bytes 48..56 of the IPX payload).
                    let inc = &self.incarnation.to_be_bytes()[..];
                    let at = if lan.is_none() { 14 + 8 } else { 14 + 30 + 48 };
                    let ours = p.data.get(at..at + 8) == Some(inc);
                    if ours && first_own.is_none_or(|t| ns(p.ts) < ns(t)) {
                        first_own = Some(p.ts);
                    }
                    continue;
                }
                if drop_src.is_some_and(|m| m.0[..] == *src) {
                    continue;
                }
                frames.push(Frame {
                    at: p.ts,
                    lan,
                    data: p.data.to_vec(),
                });
            }
        }
        frames.sort_by_key(|f| ns(f.at));
        (frames, first_own.expect("the process sent something"))
    }
}

/// The server as `node::start_with` composes it (the same `NodeConfig` methods and
/// `Plane::assemble`), at plane time 0.
fn compose(rec: &Recording) -> (Plane, Msl) {
    let cfg = &rec.cfg;
    let now = Duration::ZERO;
    let role = RoleMachine::new(cfg.role_config(), now);
    let msl_mac = LabConfig::mac(rec.node, true, 0, false);
    let msl = Msl::new(cfg.msl_config(rec.incarnation, msl_mac, &role), now);
    let macs: Vec<MacAddr> = (0..cfg.lan.len())
        .map(|i| LabConfig::mac(rec.node, false, i as u8, false))
        .collect();
    let pcfg = cfg
        .plane_config(rec.incarnation, &macs)
        .expect("plane configuration");
    let mut plane = Plane::assemble(&pcfg, Box::new(RecordingService::new()), now)
        .expect("beacon configuration");
    for pos in 0..cfg.lan.len() {
        plane.lan_link(now, pos, LinkStatus::UP);
    }
    plane.msl_event(now, DriverEvent::Link(LinkStatus::UP));
    plane.tick(now);
    (plane, msl)
}

/// What a replay ended with.
struct Replayed {
    /// The notices as `SEVERITY text (evidence)`.
    notices: Vec<String>,
    /// How the plane ended the server, if it did.
    exit: Option<Exit>,
    /// The role machine's state at the end.
    state: RoleState,
}

/// Replays `rec`, without the frames from `drop_src`, and on for `extra` past its last
/// frame (silence).
fn replay(rec: &Recording, drop_src: Option<MacAddr>, extra: Duration) -> Replayed {
    let (frames, first_own) = rec.frames(drop_src);
    let epoch = ns(first_own).saturating_sub(1_000_000);
    let (mut plane, mut msl) = compose(rec);
    let mut notices = Vec::new();
    let mut buf = vec![0u8; 16384];
    let mut next_tick = TICK;
    let mut i = frames
        .iter()
        .position(|f| ns(f.at) >= epoch)
        .unwrap_or(frames.len());
    let end = frames.last().map_or(Duration::ZERO, |f| {
        Duration::from_nanos((ns(f.at) - epoch) as u64)
    }) + extra;
    let mut now = Duration::ZERO;
    // SFT3_REPLAY_TRACE=1: what went in and came out, as it happened.
    let trace = std::env::var_os("SFT3_REPLAY_TRACE").is_some();
    let mut last_state = None;
    loop {
        // The MSL driver's turn, then the control plane's (as the daemon and simulator).
        while let Some(f) = frames.get(i).filter(|f| ns(f.at) - epoch <= now.as_nanos()) {
            match f.lan {
                None => msl.handle_frame(now, &f.data),
                Some(pos) => {
                    if trace {
                        if let Some(v) = f
                            .data
                            .get(44..)
                            .and_then(|b| sft3::wire::state::StatePacket::new_checked(b).ok())
                        {
                            let key = (v.incarnation(), v.role(), v.flags());
                            if last_state.as_ref() != Some(&key) {
                                eprintln!("{now:?} lan{pos} state packet {key:?}");
                                last_state = Some(key);
                            }
                        }
                    }
                    plane.lan_frame(now, pos, &f.data)
                }
            }
            i += 1;
        }
        if msl.poll_timeout().is_some_and(|t| t <= now) {
            msl.handle_timeout(now);
        }
        while let Some(ev) = msl.poll_event() {
            if trace {
                eprintln!("{now:?} msl {ev:?}");
            }
            plane.msl_event(now, DriverEvent::Msl(ev));
        }
        plane.timers(now);
        if now >= next_tick {
            plane.tick(now);
            next_tick = now + TICK;
        }
        while let Some((p, m)) = plane.poll_msl_message() {
            let _ = msl.send(p, &m);
        }
        while let Some(n) = plane.poll_notice() {
            if trace {
                eprintln!("{now:?} notice {} {}", n.severity.name(), n.text);
            }
            let mut t = format!("{} {}", n.severity.name(), n.text);
            if !n.evidence.is_empty() {
                t.push_str(&format!(" ({})", n.evidence));
            }
            notices.push(t);
        }
        plane.transmit_due(now, &mut buf, |_, _| {});
        while msl.poll_transmit(now, &mut buf).is_some() {}
        if plane.exit.is_some() || now > end {
            break;
        }
        let next_frame = frames
            .get(i)
            .map(|f| Duration::from_nanos((ns(f.at) - epoch) as u64));
        let next = [
            next_frame,
            plane.next_deadline(),
            msl.poll_timeout(),
            Some(next_tick),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(now + TICK);
        now = next.max(now + Duration::from_micros(1));
    }
    Replayed {
        notices,
        exit: plane.exit,
        state: plane.role.state(),
    }
}

/// The severity and text of a notice line (the evidence dropped).
fn decision(line: &str) -> &str {
    match line.find(" (") {
        Some(i) => &line[..i],
        None => line,
    }
}

fn check(name: &str) -> Replayed {
    let rec = Recording::open(name);
    let r = replay(&rec, None, Duration::ZERO);
    let got = &r.notices;
    eprintln!("{name}: replayed\n  {}", got.join("\n  "));
    eprintln!("{name}: recorded\n  {}", rec.decisions.join("\n  "));
    let got: Vec<&str> = got.iter().map(|l| decision(l)).collect();
    let want: Vec<&str> = rec.decisions.iter().map(|l| decision(l)).collect();
    assert_eq!(got, want, "{name}: the replay decided otherwise");
    r
}

#[test]
fn scenario1_primary_killed() {
    let r = check("scenario1-primary-killed");
    assert_eq!(r.state, RoleState::UnmirroredPrimary);
}

#[test]
fn scenario2_secondary_killed() {
    let r = check("scenario2-secondary-killed");
    assert_eq!(r.state, RoleState::UnmirroredPrimary);
}

#[test]
fn scenario3_msl_cut() {
    let r = check("scenario3-msl-cut");
    assert_eq!(r.exit, Some(Exit::ShutDown(ShutdownReason::MslFailed)));
}

#[test]
fn scenario4_lan_cut() {
    let r = check("scenario4-lan-cut");
    assert_eq!(r.exit, Some(Exit::RestartAsSecondary));
}

/// The replay follows its input: scenario 1's recording without the station's frames is
/// scenario 5 (the secondary no longer hears the network when the primary dies, and does
/// not promote itself).
#[test]
fn scenario1_without_the_station_is_isolated() {
    let rec = Recording::open("scenario1-primary-killed");
    let station = LabConfig::mac(Node::Client(1), false, 0, false);
    let r = replay(&rec, Some(station), Duration::from_secs(3));
    eprintln!("{}", r.notices.join("\n"));
    let last = r.notices.last().map(|l| decision(l));
    assert_eq!(
        last,
        Some(format!("CRITICAL {}", sft3::role::text::ISOLATED).as_str()),
        "{:#?}",
        r.notices
    );
    assert_ne!(r.state, RoleState::UnmirroredPrimary);
}

/// Replays process `k` of a recording made elsewhere: `SFT3_REPLAY=DIR:K cargo test --test
/// role_replay replay_from_env -- --ignored --nocapture` prints its decisions and the
/// recorded ones (to study a recording before checking it in).
#[test]
#[ignore = "a tool: needs SFT3_REPLAY=DIR:K"]
fn replay_from_env() {
    let spec = std::env::var("SFT3_REPLAY").expect("SFT3_REPLAY=DIR:K");
    let (dir, k) = spec.rsplit_once(':').expect("DIR:K");
    let rec = Recording::open_process(Path::new(dir), k.parse().expect("K"));
    let r = replay(&rec, None, Duration::ZERO);
    eprintln!("replayed:\n  {}", r.notices.join("\n  "));
    eprintln!("recorded:\n  {}", rec.decisions.join("\n  "));
    eprintln!("end: {:?} {:?}", r.state, r.exit);
}

/// A defect found by the lab, recorded (`captures/lab/defect-quick-restart/`, A's second
/// process): A took over from a killed B; B's restarted process's first state packet (new
/// incarnation, `starting`) reached A before its MSL hello, and A halted with "another primary
/// server is serving: tie-break lost" on the dead process's "serving" (the control plane
/// told the role machine "path up" before the packet's content; it now feeds the content
/// first). Replayed, A must take the restarted B as its secondary. Only up to there: the rest
/// of the recording is B reacting to the live A, which halted.
#[test]
fn quick_restart_after_a_takeover_makes_the_peer_secondary() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/lab/defect-quick-restart");
    let rec = Recording::open_process(&dir, 1);
    let r = replay(&rec, None, Duration::from_secs(1));
    eprintln!("{}", r.notices.join("\n"));
    let down = format!("WARNING {}", sft3::role::text::PRIMARY_DOWN);
    let at = r
        .notices
        .iter()
        .position(|n| decision(n) == down)
        .unwrap_or_else(|| panic!("no takeover: {:#?}", r.notices));
    assert_eq!(
        r.notices.get(at + 1).map(|n| decision(n)),
        Some(format!("INFO {}", sft3::role::text::RESYNC_SOURCE).as_str()),
        "{:#?}",
        r.notices
    );
}
