//! The control socket (server and client, in a temp dir: no root needed), the status
//! snapshot's JSON and text, and the admin log.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sft3::node::control::{query, respond, ControlServer};
use sft3::node::log::{notice_line, AdminLog};
use sft3::node::status::{
    rfc3339, AdapterSnapshot, DecisionSnapshot, MslSnapshot, PeerSnapshot, StatusSnapshot,
};
use sft3::role::{text, HaltReason, Notice, RoleState, Severity, ShutdownReason};

/// A JSON value, from a strict little parser (the crate has no JSON dependency).
#[derive(Debug, Clone, PartialEq)]
enum J {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(BTreeMap<String, J>),
}

impl J {
    fn get(&self, k: &str) -> &J {
        match self {
            J::Obj(m) => m
                .get(k)
                .unwrap_or_else(|| panic!("no key {k:?} in {self:?}")),
            _ => panic!("not an object: {self:?}"),
        }
    }
    fn str(&self) -> &str {
        match self {
            J::Str(s) => s,
            _ => panic!("not a string: {self:?}"),
        }
    }
    fn num(&self) -> f64 {
        match self {
            J::Num(n) => *n,
            _ => panic!("not a number: {self:?}"),
        }
    }
}

struct P<'a> {
    b: &'a [u8],
    i: usize,
}

impl P<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && b" \t\r\n".contains(&self.b[self.i]) {
            self.i += 1;
        }
    }
    fn eat(&mut self, s: &str) -> Result<(), String> {
        if self.b[self.i..].starts_with(s.as_bytes()) {
            self.i += s.len();
            Ok(())
        } else {
            Err(format!("expected {s:?} at {}", self.i))
        }
    }
    fn value(&mut self) -> Result<J, String> {
        self.ws();
        let c = *self.b.get(self.i).ok_or("unexpected end")?;
        let v = match c {
            b'n' => self.eat("null").map(|_| J::Null)?,
            b't' => self.eat("true").map(|_| J::Bool(true))?,
            b'f' => self.eat("false").map(|_| J::Bool(false))?,
            b'"' => J::Str(self.string()?),
            b'[' => {
                self.i += 1;
                let mut v = Vec::new();
                self.ws();
                if self.eat("]").is_err() {
                    loop {
                        v.push(self.value()?);
                        self.ws();
                        if self.eat(",").is_err() {
                            self.eat("]")?;
                            break;
                        }
                    }
                }
                J::Arr(v)
            }
            b'{' => {
                self.i += 1;
                let mut m = BTreeMap::new();
                self.ws();
                if self.eat("}").is_err() {
                    loop {
                        self.ws();
                        let k = self.string()?;
                        self.ws();
                        self.eat(":")?;
                        let v = self.value()?;
                        if m.insert(k.clone(), v).is_some() {
                            return Err(format!("duplicate key {k:?}"));
                        }
                        self.ws();
                        if self.eat(",").is_err() {
                            self.eat("}")?;
                            break;
                        }
                    }
                }
                J::Obj(m)
            }
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                while self.i < self.b.len() && b"-+.eE0123456789".contains(&self.b[self.i]) {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.b[start..self.i]).unwrap();
                if t.len() > 1 && t.starts_with('0') || t.starts_with("-0") && t.len() > 2 {
                    return Err(format!("leading zero in {t}"));
                }
                J::Num(t.parse().map_err(|_| format!("bad number {t}"))?)
            }
            _ => return Err(format!("unexpected {:?} at {}", c as char, self.i)),
        };
        Ok(v)
    }
    fn string(&mut self) -> Result<String, String> {
        self.eat("\"")?;
        let mut out = String::new();
        loop {
            let c = *self.b.get(self.i).ok_or("unterminated string")?;
            self.i += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let e = *self.b.get(self.i).ok_or("bad escape")?;
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'n' => out.push('\n'),
                        b't' => out.push('\t'),
                        b'r' => out.push('\r'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'u' => {
                            let h = std::str::from_utf8(
                                self.b.get(self.i..self.i + 4).ok_or("short \\u")?,
                            )
                            .map_err(|e| e.to_string())?;
                            let n = u32::from_str_radix(h, 16).map_err(|e| e.to_string())?;
                            out.push(char::from_u32(n).ok_or("bad \\u")?);
                            self.i += 4;
                        }
                        _ => return Err(format!("bad escape \\{}", e as char)),
                    }
                }
                c if c < 0x20 => return Err("control character in a string".into()),
                _ => {
                    // Copy the whole UTF-8 sequence.
                    let start = self.i - 1;
                    let len = match c {
                        0xf0.. => 4,
                        0xe0.. => 3,
                        0xc0.. => 2,
                        _ => 1,
                    };
                    let s = std::str::from_utf8(&self.b[start..start + len])
                        .map_err(|e| e.to_string())?;
                    out.push_str(s);
                    self.i = start + len;
                }
            }
        }
    }
}

fn parse_json(s: &str) -> J {
    let mut p = P {
        b: s.as_bytes(),
        i: 0,
    };
    let v = p
        .value()
        .unwrap_or_else(|e| panic!("invalid JSON ({e}): {s}"));
    p.ws();
    assert_eq!(p.i, s.len(), "trailing bytes after JSON: {s}");
    v
}

fn at(secs: u64, micros: u32) -> SystemTime {
    UNIX_EPOCH + Duration::new(secs, micros * 1000)
}

fn full_snapshot() -> StatusSnapshot {
    let mut s = StatusSnapshot::new(1, "SFT-\"A\"\\", 1_764_037_800_000_000_000);
    s.state = RoleState::MirroredPrimary;
    s.serving = true;
    s.advertising = true;
    s.peer = Some(PeerSnapshot {
        id: 2,
        name: "SFT-B".into(),
        incarnation: 99,
    });
    s.generation = 7;
    s.adapters = vec![
        AdapterSnapshot {
            name: "eth0".into(),
            index: 0,
            carrier: true,
            oper: "up".into(),
            score: 1000,
            working: true,
            peer_heard_ms_ago: Some(3),
            peer_longest_gap_us: Some(5_210),
        },
        AdapterSnapshot {
            name: "eth1".into(),
            index: 1,
            carrier: false,
            oper: "down".into(),
            score: 0,
            working: false,
            peer_heard_ms_ago: None,
            peer_longest_gap_us: None,
        },
    ];
    s.msl = MslSnapshot {
        state: "up".into(),
        srtt_us: Some(41),
        retransmits: 1,
        frames_sent: 5120,
        frames_received: 5118,
        dropped: 2,
        longest_gap_us: 5_180,
    };
    s.last_decision = Some(DecisionSnapshot {
        reason: "servers are mirrored (line\nbreak\ttab \u{1})".into(),
        at: at(1_764_037_800, 123_456),
    });
    s
}

#[test]
fn rfc3339_text() {
    assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
    assert_eq!(
        rfc3339(at(1_764_037_800, 123_456)),
        "2025-11-25T02:30:00.123456Z"
    );
    // A leap day and the end of a century.
    assert_eq!(rfc3339(at(951_782_400, 0)), "2000-02-29T00:00:00.000000Z");
    assert_eq!(
        rfc3339(at(4_107_542_399, 999_999)),
        "2100-02-28T23:59:59.999999Z"
    );
    assert_eq!(
        rfc3339(UNIX_EPOCH - Duration::from_secs(5)),
        "1970-01-01T00:00:00.000000Z"
    );
}

#[test]
fn status_json_is_valid_and_complete() {
    let s = full_snapshot();
    let j = parse_json(&s.to_json());
    assert_eq!(j.get("role").str(), "primary");
    assert_eq!(j.get("state").str(), "mirrored-primary");
    assert_eq!(j.get("state_reason"), &J::Null);
    assert_eq!(j.get("mirrored"), &J::Bool(true));
    assert_eq!(j.get("serving"), &J::Bool(true));
    assert_eq!(j.get("tracking"), &J::Bool(false));
    assert_eq!(j.get("server").get("name").str(), "SFT-\"A\"\\");
    assert_eq!(j.get("server").get("id").num(), 1.0);
    assert_eq!(j.get("peer").get("name").str(), "SFT-B");
    assert_eq!(j.get("peer").get("incarnation").num(), 99.0);
    assert_eq!(j.get("generation").num(), 7.0);
    let J::Arr(ads) = j.get("adapters") else {
        panic!("adapters")
    };
    assert_eq!(ads.len(), 2);
    assert_eq!(ads[0].get("peer_heard_ms_ago").num(), 3.0);
    assert_eq!(ads[0].get("peer_longest_gap_us").num(), 5210.0);
    assert_eq!(ads[1].get("peer_longest_gap_us"), &J::Null);
    assert_eq!(ads[1].get("peer_heard_ms_ago"), &J::Null);
    assert_eq!(ads[1].get("carrier"), &J::Bool(false));
    assert_eq!(ads[1].get("oper").str(), "down");
    for k in ["name", "index", "carrier", "oper", "score", "working"] {
        ads[0].get(k);
    }
    let m = j.get("msl");
    assert_eq!(m.get("state").str(), "up");
    assert_eq!(m.get("srtt_us").num(), 41.0);
    assert_eq!(m.get("longest_gap_us").num(), 5180.0);
    for k in ["retransmits", "frames_sent", "frames_received", "dropped"] {
        m.get(k).num();
    }
    let d = j.get("last_decision");
    assert_eq!(
        d.get("reason").str(),
        "servers are mirrored (line\nbreak\ttab \u{1})"
    );
    assert_eq!(d.get("at").str(), "2025-11-25T02:30:00.123456Z");
}

#[test]
fn status_json_of_every_state() {
    let states = [
        (RoleState::Starting, "none", "starting", None, false),
        (
            RoleState::SyncingSecondary,
            "secondary",
            "syncing-secondary",
            None,
            false,
        ),
        (
            RoleState::MirroredSecondary,
            "secondary",
            "mirrored-secondary",
            None,
            true,
        ),
        (
            RoleState::UnmirroredPrimary,
            "primary",
            "unmirrored-primary",
            None,
            false,
        ),
        (
            RoleState::ShutDown(ShutdownReason::MslFailed),
            "none",
            "shut-down",
            Some("msl-failed"),
            false,
        ),
        (
            RoleState::ShutDown(ShutdownReason::HandedOver),
            "none",
            "shut-down",
            Some("handed-over"),
            false,
        ),
        (
            RoleState::Halted(HaltReason::Diverged),
            "none",
            "halted",
            Some("diverged"),
            false,
        ),
        (
            RoleState::Halted(HaltReason::InconsistentDisk),
            "none",
            "halted",
            Some("inconsistent-disk"),
            false,
        ),
    ];
    for (state, role, name, reason, mirrored) in states {
        let mut s = StatusSnapshot::new(3, "C", 1);
        s.state = state;
        let j = parse_json(&s.to_json());
        assert_eq!(j.get("role").str(), role);
        assert_eq!(j.get("state").str(), name);
        assert_eq!(j.get("mirrored"), &J::Bool(mirrored));
        match reason {
            None => assert_eq!(j.get("state_reason"), &J::Null),
            Some(r) => assert_eq!(j.get("state_reason").str(), r),
        }
        // A fresh snapshot: no peer, no adapters, no decision.
        assert_eq!(j.get("peer"), &J::Null);
        assert_eq!(j.get("adapters"), &J::Arr(vec![]));
        assert_eq!(j.get("last_decision"), &J::Null);
        assert_eq!(j.get("msl").get("srtt_us"), &J::Null);
        let t = s.to_text();
        assert!(t.contains(name) && t.contains("peer        none"), "{t}");
    }
}

#[test]
fn status_text() {
    let t = full_snapshot().to_text();
    for want in [
        "role        primary (mirrored-primary), mirrored",
        "peer        SFT-B (id 2, incarnation 99)",
        "generation  7",
        "msl         up, srtt 41 us, sent 5120, received 5118, retransmits 1, dropped 2",
        "eth0",
        "peer heard 3 ms ago",
        "peer never heard",
        "at 2025-11-25T02:30:00.123456Z",
    ] {
        assert!(t.contains(want), "{want:?} missing from\n{t}");
    }
    assert!(t.ends_with('\n'));
}

#[test]
fn requests() {
    let snap = full_snapshot;
    assert_eq!(respond("status\n", snap), full_snapshot().to_text());
    assert_eq!(
        respond("  status   json \r\n", snap),
        full_snapshot().to_json() + "\n"
    );
    assert!(respond("promote\n", snap).starts_with("error: unknown request \"promote\""));
    assert!(respond("", snap).starts_with("error:"));
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sft3-node-control-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn round_trip_over_the_socket() {
    let d = scratch("rt");
    // The directory does not exist yet: bind creates it.
    let path = d.join("run/control.sock");
    let server = ControlServer::bind(&path).unwrap();
    assert_eq!(server.path(), path);

    // The daemon serves from its own thread, on a current-thread runtime.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            tokio::select! {
                r = server.serve(full_snapshot, None, None) => panic!("serve ended: {r:?}"),
                _ = stop_rx => {}
            }
        });
    });
    let text = query(&path, "status").unwrap();
    assert_eq!(text, full_snapshot().to_text());
    let json = query(&path, "status json").unwrap();
    assert!(json.ends_with('\n'));
    assert_eq!(
        parse_json(json.trim_end()).get("state").str(),
        "mirrored-primary"
    );
    assert!(query(&path, "reboot").unwrap().starts_with("error:"));
    // A second daemon on the same path is refused while the first answers.
    let e = ControlServer::bind(&path).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse, "{e}");

    // Several clients at once, one silent: the others still get answers.
    let silent = std::os::unix::net::UnixStream::connect(&path).unwrap();
    let answers: Vec<String> = (0..4)
        .map(|_| {
            let p = path.clone();
            std::thread::spawn(move || query(&p, "status json").unwrap())
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert!(answers.iter().all(|a| *a == json));
    drop(silent);

    // Stopping the server removes the socket file.
    stop_tx.send(()).unwrap();
    serving.join().unwrap();
    assert!(!path.exists(), "socket file left behind");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn no_daemon_and_stale_sockets() {
    let d = scratch("stale");
    std::fs::create_dir_all(&d).unwrap();
    let path = d.join("control.sock");
    let e = query(&path, "status").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(
        e.to_string(),
        format!(
            "no sft3 daemon at {}: is `sft3 run` running?",
            path.display()
        )
    );

    // A socket file nobody listens on (a daemon killed with -9).
    let dead = std::os::unix::net::UnixListener::bind(&path).unwrap();
    drop(dead);
    let e = query(&path, "status").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(e.to_string().contains("is `sft3 run` running?"), "{e}");
    // ... is replaced by bind.
    let server = ControlServer::bind(&path).unwrap();
    drop(server);
    assert!(!path.exists());

    // A regular file at the path is not ours to remove.
    std::fs::write(&path, "not a socket").unwrap();
    let e = ControlServer::bind(&path).unwrap_err();
    assert!(e.to_string().contains("not a socket"), "{e}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a socket");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn admin_log_appends_lines() {
    let d = scratch("log");
    let path = d.join("var/log/admin.log");
    let notice = Notice {
        at: Duration::from_millis(12_345),
        severity: Severity::Warning,
        text: text::SECONDARY_DOWN,
        evidence: "MSL silent 21 ms;\nlan0 silent 22 ms".into(),
    };
    let t = at(1_764_037_800, 5);
    let line = notice_line(t, &notice);
    assert_eq!(
        line,
        "2025-11-25T02:30:00.000005Z WARNING secondary server is down; still the primary server \
         (MSL silent 21 ms; lan0 silent 22 ms)"
    );
    {
        let mut log = AdminLog::open(&path).unwrap();
        assert_eq!(log.path(), path);
        log.info(t, "sft3 started");
        log.notice(t, &notice);
        assert_eq!(log.write_errors(), 0);
    }
    // Reopening appends.
    let mut log = AdminLog::open(&path).unwrap();
    let bare = Notice {
        evidence: String::new(),
        severity: Severity::Info,
        text: text::MIRRORED,
        ..notice
    };
    log.notice(t, &bare);
    let got = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(
        lines,
        [
            "2025-11-25T02:30:00.000005Z INFO sft3 started",
            line.as_str(),
            "2025-11-25T02:30:00.000005Z INFO servers are mirrored",
        ]
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// Runs the `sft3` binary; returns (exit code, stdout, stderr).
fn sft3(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sft3"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn status_command() {
    let d = scratch("cli");
    std::fs::create_dir_all(&d).unwrap();
    let sock = d.join("c.sock");
    let s = sock.to_str().unwrap();

    // No daemon: exit 3 and the hint.
    let (code, out, err) = sft3(&["status", "--json", "--socket", s]);
    assert_eq!((code, out.as_str()), (3, ""), "{err}");
    assert!(err.contains("is `sft3 run` running?"), "{err}");

    // A daemon: exit 0 and its answer, from --socket or from --config.
    let server = ControlServer::bind(&sock).unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            tokio::select! {
                r = server.serve(full_snapshot, None, None) => panic!("serve ended: {r:?}"),
                _ = stop_rx => {}
            }
        });
    });
    let (code, out, err) = sft3(&["status", "--json", "--socket", s]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, full_snapshot().to_json() + "\n");
    let cfg = d.join("n.toml");
    std::fs::write(
        &cfg,
        "[server]\nid = 1\nname = \"A\"\n[msl]\ninterface = \"m0\"\n[[lan]]\n\
         interface = \"e0\"\nnet = \"1\"\n[engine]\nnet = \"2\"\n[paths]\n\
         control_socket = \"c.sock\"\n",
    )
    .unwrap();
    let (code, out, err) = sft3(&["status", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, full_snapshot().to_text());
    stop_tx.send(()).unwrap();
    serving.join().unwrap();

    std::fs::remove_dir_all(&d).unwrap();
}
