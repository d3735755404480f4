//! The lab: namespaces built and removed idempotently, frames across the bridge and the MSL,
//! and faults. Needs root; without it the tests say so and skip, unless
//! SFT3_REQUIRE_PRIVILEGED=1 makes that a failure. Each test's lab has its own prefix
//! (a letter, the PID in base 36, `-`), so tests run in parallel beside a developer's lab.

use std::process::Command;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sft3::lab::cmd::in_netns;
use sft3::lab::testing::{as_nobody, privileged, unique_prefix};
use sft3::lab::{Fault, FaultAction, ForwardSpec, Lab, LabConfig, Node};
use sft3::link::{OperState, PacketSocket, SocketOptions};
use sft3::wire::MacAddr;

/// A lab torn down on drop, even when the test fails.
struct TestLab(Lab);

impl TestLab {
    fn new(tag: char) -> TestLab {
        let cfg = LabConfig {
            prefix: unique_prefix(tag),
            lan_adapters: 2,
            clients: 2,
            ..LabConfig::default()
        };
        let lab = TestLab(Lab::new(cfg).expect("config"));
        lab.0.down().expect("clean start");
        lab
    }

    fn p(&self) -> &str {
        &self.0.config().prefix
    }
}

impl Drop for TestLab {
    fn drop(&mut self) {
        let _ = self.0.down();
    }
}

fn out(args: &[&str]) -> String {
    let o = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect(args[0]);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn sh(args: &[&str]) {
    out(args);
}

/// Nothing with the prefix anywhere: namespaces, root links, root nftables tables.
fn assert_nothing_left(p: &str) {
    let ns = out(&["ip", "netns", "list"]);
    assert!(
        !ns.lines().any(|l| l.starts_with(p)),
        "namespaces left: {ns}"
    );
    let links = out(&["ip", "-o", "link", "show"]);
    assert!(
        !links.contains(&format!(": {p}")),
        "root links left: {links}"
    );
    let tables = out(&["nft", "list", "tables"]);
    assert!(!tables.contains(p), "root nft tables left: {tables}");
}

fn sft3(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sft3"))
        .args(args)
        .output()
        .expect("run sft3")
}

#[test]
fn up_twice_status_down_twice() {
    if !privileged("up_twice_status_down_twice") {
        return;
    }
    let lab = TestLab::new('u');
    let p = lab.p().to_string();
    let r = lab.0.up().expect("up");
    assert_eq!(r.namespaces_created, 5, "{r:?}");
    assert!(
        lab.0.up().expect("second up").is_noop(),
        "second up changed things"
    );

    let st = lab.0.status().expect("status");
    assert_eq!(st.namespaces.len(), 5, "{st:?}");
    assert!(st.faults.is_empty(), "{:?}", st.faults);
    let a = st.node(Node::A).expect("server A");
    let names: Vec<&str> = a.links.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names.len(),
        3,
        "A has two LAN adapters and the MSL: {names:?}"
    );
    for ns in &st.namespaces {
        for l in &ns.links {
            // `up` returns once the kernel reports every link ready.
            assert!(l.admin_up && l.carrier && l.oper == OperState::Up, "{l:?}");
        }
    }
    let lan0 = a
        .links
        .iter()
        .find(|l| l.name == format!("{p}a-lan0"))
        .unwrap();
    assert_eq!(
        lan0.mac,
        Some("02:53:0a:00:00:00".parse::<MacAddr>().unwrap())
    );
    assert_eq!(lan0.mtu, 1500);
    let msl = a
        .links
        .iter()
        .find(|l| l.name == format!("{p}a-msl"))
        .unwrap();
    assert_eq!(
        msl.mac,
        Some("02:53:0a:00:01:00".parse::<MacAddr>().unwrap())
    );
    assert_eq!(msl.mtu, 9000);
    let c2 = st.node(Node::Client(2)).expect("client 2");
    assert_eq!(
        c2.links[0].mac,
        Some("02:53:0c:02:00:00".parse::<MacAddr>().unwrap())
    );
    let lan = st.node(Node::Lan).expect("LAN namespace");
    let ports = lan
        .links
        .iter()
        .filter(|l| l.master.as_deref() == Some(&format!("{p}br")))
        .count();
    assert_eq!(
        ports, 6,
        "2 + 2 server adapters and 2 clients: {:?}",
        lan.links
    );

    // The command line shows the same.
    let o = sft3(&["lab", "--prefix", &p, "status", "--json"]);
    assert!(o.status.success(), "{o:?}");
    let json = String::from_utf8_lossy(&o.stdout);
    assert!(json.contains(&format!("\"name\":\"{p}b-msl\"")), "{json}");
    assert!(json.contains("\"faults\":[]"), "{json}");

    let d = lab.0.down().expect("down");
    assert_eq!(d.namespaces.len(), 5);
    let d = lab.0.down().expect("second down");
    assert!(d.namespaces.is_empty() && d.root_links.is_empty(), "{d:?}");
    assert!(lab.0.status().unwrap().is_empty());
    assert_nothing_left(&p);
}

#[test]
fn half_built_lab_is_finished_by_up_and_removed_by_down() {
    if !privileged("half_built_lab_is_finished_by_up_and_removed_by_down") {
        return;
    }
    let lab = TestLab::new('h');
    let p = lab.p().to_string();
    let (nsa, nslan) = (format!("{p}a"), format!("{p}lan"));
    // What a crash part-way through `up` might leave: two namespaces, one pair, a fault
    // table, and (from a careless older version) a pair in the root namespace.
    sh(&["ip", "netns", "add", &nsa]);
    sh(&["ip", "netns", "add", &nslan]);
    let lan0 = format!("{p}a-lan0");
    sh(&[
        "ip", "-n", &nsa, "link", "add", "name", &lan0, "type", "veth", "peer", "name", &lan0,
        "netns", &nslan,
    ]);
    sh(&[
        "ip",
        "netns",
        "exec",
        &nsa,
        "nft",
        "add",
        "table",
        "netdev",
        &format!("{p}fault"),
    ]);
    let (r1, r2) = (format!("{p}c1-lan0"), format!("{p}c2-lan0"));
    sh(&[
        "ip", "link", "add", "name", &r1, "type", "veth", "peer", "name", &r2,
    ]);

    lab.0.down().expect("down a half-built lab");
    assert_nothing_left(&p);

    // Half built again, then `up` finishes it.
    sh(&["ip", "netns", "add", &nsa]);
    sh(&[
        "ip", "-n", &nsa, "link", "add", "name", &lan0, "type", "veth", "peer", "name", "x0",
    ]);
    let r = lab.0.up().expect("up over a half-built lab");
    assert_eq!(r.namespaces_created, 4, "{r:?}");
    assert!(lab.0.up().unwrap().is_noop());
    let st = lab.0.status().unwrap();
    assert_eq!(st.namespaces.len(), 5);
    assert!(st.faults.is_empty(), "{:?}", st.faults);
    lab.0.down().unwrap();
    assert_nothing_left(&p);
}

#[test]
fn exec_runs_in_the_node_and_passes_the_exit_status() {
    if !privileged("exec_runs_in_the_node_and_passes_the_exit_status") {
        return;
    }
    let lab = TestLab::new('e');
    let p = lab.p().to_string();
    let o = sft3(&["lab", "--prefix", &p, "--lan-adapters", "2", "up"]);
    assert!(o.status.success(), "{o:?}");
    let o = sft3(&[
        "lab", "--prefix", &p, "exec", "a", "--", "ip", "-br", "link",
    ]);
    assert!(o.status.success(), "{o:?}");
    let text = String::from_utf8_lossy(&o.stdout);
    for name in ["a-lan0", "a-lan1", "a-msl"] {
        assert!(text.contains(&format!("{p}{name}")), "{text}");
    }
    assert!(!text.contains(&format!("{p}b-lan0")), "{text}");
    let o = sft3(&[
        "lab", "--prefix", &p, "exec", "c1", "--", "sh", "-c", "exit 7",
    ]);
    assert_eq!(o.status.code(), Some(7));
    let o = sft3(&["lab", "--prefix", &p, "exec", "c9", "--", "true"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no lab namespace"),
        "{o:?}"
    );
}

#[test]
fn without_privileges_one_clear_line() {
    if !privileged("without_privileges_one_clear_line") {
        return;
    }
    let o = as_nobody(env!("CARGO_BIN_EXE_sft3"))
        .args(["lab", "status"])
        .output()
        .expect("setpriv");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("CAP_SYS_ADMIN") && err.contains("root"),
        "{err}"
    );
}

/// Receives on `iface` in `ns` until a frame holding `marker` arrives (true) or `wait`
/// passes (false). The socket is open when the function returns.
fn receiver(ns: String, iface: String, marker: [u8; 8], wait: Duration) -> JoinHandle<bool> {
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        in_netns(&ns, move || {
            let opts = SocketOptions {
                read_timeout: Some(Duration::from_millis(50)),
                ..SocketOptions::default()
            };
            let s = PacketSocket::open(&iface, &opts).expect("receive socket");
            tx.send(()).unwrap();
            let mut buf = [0u8; 2048];
            let t0 = Instant::now();
            while t0.elapsed() < wait {
                if let Some(m) = s.recv(&mut buf).expect("recv") {
                    if buf[..m.len].windows(8).any(|w| w == marker) {
                        return true;
                    }
                }
            }
            false
        })
        .expect("enter namespace")
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("receiver ready");
    h
}

/// Sends `count` broadcast frames holding `marker` from `iface` in `ns`.
fn send(ns: String, iface: String, marker: [u8; 8], count: usize) {
    in_netns(&ns, move || {
        let s = PacketSocket::open(&iface, &SocketOptions::default()).expect("send socket");
        let mut f = vec![0xffu8; 6];
        f.extend_from_slice(&[0x02, 0x53, 0, 0, 0, 0]);
        f.extend_from_slice(&[0x81, 0x37]);
        f.extend_from_slice(&marker);
        f.resize(60, 0);
        for _ in 0..count {
            // An egress drop on the sender's own device (the MSL's faults) is ENOBUFS.
            match s.send(&f) {
                Ok(_) => {}
                Err(sft3::link::LinkError::Io { source, .. })
                    if source.raw_os_error() == Some(libc::ENOBUFS) => {}
                Err(e) => panic!("send: {e}"),
            }
        }
    })
    .expect("enter namespace");
}

/// Sends from (ns, iface) and reports, per receiver, whether the frames arrived.
fn exchange(
    lab: &TestLab,
    step: u8,
    from: (Node, &str),
    to: &[(Node, &str)],
    expect: bool,
) -> Vec<bool> {
    let p = lab.p();
    let mut marker = *b"sft3lab\0";
    marker[7] = step;
    // A positive result returns as soon as it arrives; a negative one waits a second.
    let wait = if expect {
        Duration::from_secs(5)
    } else {
        Duration::from_secs(1)
    };
    let rx: Vec<_> = to
        .iter()
        .map(|(n, i)| receiver(lab.0.ns(*n), format!("{p}{i}"), marker, wait))
        .collect();
    send(lab.0.ns(from.0), format!("{p}{}", from.1), marker, 20);
    rx.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn frames_cross_the_lan_and_msl_and_faults_stop_them() {
    if !privileged("frames_cross_the_lan_and_msl_and_faults_stop_them") {
        return;
    }
    let lab = TestLab::new('f');
    lab.0.up().expect("up");
    let a0 = (Node::A, "a-lan0");
    let to = [(Node::Client(1), "c1-lan0"), (Node::B, "b-lan0")];
    let a_msl = (Node::A, "a-msl");
    let b_msl = [(Node::B, "b-msl")];

    assert_eq!(exchange(&lab, 1, a0, &to, true), [true, true], "LAN");
    assert_eq!(exchange(&lab, 2, a_msl, &b_msl, true), [true], "MSL");

    let cut = FaultAction::LanCut {
        node: Node::A,
        adapter: 0,
    };
    lab.0.fault(&cut).unwrap();
    assert_eq!(
        lab.0.status().unwrap().faults,
        [Fault::LanCut {
            node: Node::A,
            adapter: 0
        }]
    );
    assert_eq!(exchange(&lab, 3, a0, &to, false), [false, false], "LAN cut");
    lab.0
        .fault(&FaultAction::LanRestore {
            node: Node::A,
            adapter: 0,
        })
        .unwrap();
    assert_eq!(
        exchange(&lab, 4, a0, &to, true),
        [true, true],
        "LAN restored"
    );

    lab.0
        .fault(&FaultAction::Loss {
            node: Node::Client(1),
            iface: "lan0".into(),
            percent: 100,
        })
        .unwrap();
    let st = lab.0.status().unwrap();
    assert_eq!(
        st.faults,
        [Fault::Loss {
            node: Node::Client(1),
            iface: format!("{}c1-lan0", lab.p()),
            percent: 100
        }]
    );
    assert_eq!(
        exchange(&lab, 5, a0, &to, false),
        [false, true],
        "loss 100% on c1 only"
    );
    lab.0.fault(&FaultAction::Clear).unwrap();
    assert!(lab.0.status().unwrap().faults.is_empty());
    assert_eq!(exchange(&lab, 6, a0, &to, true), [true, true], "cleared");

    lab.0.fault(&FaultAction::MslCut).unwrap();
    assert_eq!(lab.0.status().unwrap().faults, [Fault::MslCut]);
    assert_eq!(exchange(&lab, 7, a_msl, &b_msl, false), [false], "MSL cut");
    lab.0.fault(&FaultAction::MslRestore).unwrap();
    assert!(lab.0.status().unwrap().faults.is_empty());
    assert_eq!(
        exchange(&lab, 8, a_msl, &b_msl, true),
        [true],
        "MSL restored"
    );

    // Carrier: A's adapter sees carrier loss when its bridge port goes down.
    lab.0
        .fault(&FaultAction::CarrierDown {
            node: Node::A,
            iface: "lan1".into(),
        })
        .unwrap();
    let st = lab.0.status().unwrap();
    let name = format!("{}a-lan1", lab.p());
    assert!(
        st.faults.contains(&Fault::CarrierDown {
            node: Node::A,
            iface: name.clone()
        }),
        "{:?}",
        st.faults
    );
    let l = st
        .node(Node::A)
        .unwrap()
        .links
        .iter()
        .find(|l| l.name == name)
        .unwrap();
    assert!(l.admin_up && !l.carrier, "{l:?}");
    lab.0
        .fault(&FaultAction::CarrierUp {
            node: Node::A,
            iface: "lan1".into(),
        })
        .unwrap();
    assert!(lab.0.status().unwrap().faults.is_empty());

    // The command line drives the same faults.
    let p = lab.p().to_string();
    let o = sft3(&["lab", "--prefix", &p, "fault", "loss", "b", "msl", "30"]);
    assert!(o.status.success(), "{o:?}");
    let o = sft3(&["lab", "--prefix", &p, "status"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains(&format!("loss b {p}b-msl 30%")), "{text}");
    let o = sft3(&["lab", "--prefix", &p, "fault", "clear"]);
    assert!(o.status.success(), "{o:?}");
    assert!(lab.0.status().unwrap().faults.is_empty());
}

#[test]
fn config_checks_names_and_sizes() {
    let long = LabConfig {
        prefix: "muchtoolong-".into(),
        ..LabConfig::default()
    };
    let e = Lab::new(long).unwrap_err().to_string();
    assert!(e.contains("longer than 15"), "{e}");
    let bad = LabConfig {
        prefix: "Sft ".into(),
        ..LabConfig::default()
    };
    assert!(Lab::new(bad).is_err());
    assert!(Lab::new(LabConfig::default()).is_ok());
    let cfg = LabConfig::default();
    assert!(cfg.is_lab_link("sft-c12-lan0") && cfg.is_lab_link("sft-br"));
    assert!(!cfg.is_lab_link("sft-x-lan0") && !cfg.is_lab_link("eth0"));
    assert_eq!(
        cfg.peer_of(Node::A, "sft-a-msl"),
        Some((Node::B, "sft-b-msl".into()))
    );
    // One spelling per client: `c01` is nobody's namespace.
    assert_eq!(Node::from_short("c1"), Some(Node::Client(1)));
    for bad in ["c01", "c0", "c", "c1x", "c+1"] {
        assert_eq!(Node::from_short(bad), None, "{bad}");
    }
    assert_eq!(
        cfg.peer_of(Node::Lan, "sft-c1-lan0"),
        Some((Node::Client(1), "sft-c1-lan0".into()))
    );
}

/// Counts frames holding `marker` on `iface` in `ns` for `wait`, with the time of the first.
fn counter(
    ns: String,
    iface: String,
    marker: [u8; 8],
    wait: Duration,
) -> JoinHandle<(usize, Option<Instant>)> {
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        in_netns(&ns, move || {
            let opts = SocketOptions {
                read_timeout: Some(Duration::from_millis(50)),
                ..SocketOptions::default()
            };
            let s = PacketSocket::open(&iface, &opts).expect("receive socket");
            tx.send(()).unwrap();
            let (mut n, mut first) = (0, None);
            let mut buf = [0u8; 2048];
            let t0 = Instant::now();
            while t0.elapsed() < wait {
                if let Some(m) = s.recv(&mut buf).expect("recv") {
                    if buf[..m.len].windows(8).any(|w| w == marker) {
                        n += 1;
                        first.get_or_insert_with(Instant::now);
                    }
                }
            }
            (n, first)
        })
        .expect("enter namespace")
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("receiver ready");
    h
}

#[test]
fn delay_forwarder_delays_and_duplicates() {
    if !privileged("delay_forwarder_delays_and_duplicates") {
        return;
    }
    let lab = TestLab::new('d');
    let p = lab.p().to_string();
    lab.0.up().expect("up");
    let spec = ForwardSpec {
        delay_ms: 200,
        duplicate: 100,
        ..ForwardSpec::default()
    };
    let c1 = Node::Client(1);
    lab.0
        .fault(&FaultAction::Delay {
            node: c1,
            iface: "lan0".into(),
            spec,
        })
        .expect("delay");
    let iface = format!("{p}c1-lan0");
    assert_eq!(
        lab.0.status().unwrap().faults,
        [Fault::Delay {
            node: c1,
            iface: iface.clone()
        }]
    );
    let marker = *b"sft3dly1";
    let wait = Duration::from_secs(2);
    let rc = counter(lab.0.ns(c1), iface.clone(), marker, wait);
    let rb = counter(lab.0.ns(Node::B), format!("{p}b-lan0"), marker, wait);
    let sent = Instant::now();
    send(lab.0.ns(Node::A), format!("{p}a-lan0"), marker, 1);
    let (n, first) = rc.join().unwrap();
    assert_eq!(n, 2, "duplicated once");
    // Correctness, not speed: a delayed frame cannot arrive before its delay.
    assert!(first.unwrap() - sent >= Duration::from_millis(200));
    assert_eq!(rb.join().unwrap().0, 1, "B's adapter is not affected");

    let pid_file = format!("/run/sft3-lab/{p}lan-{p}c1-lan0.pid");
    let pid = std::fs::read_to_string(&pid_file).expect("pid file");
    lab.0
        .fault(&FaultAction::DelayOff {
            node: c1,
            iface: "lan0".into(),
        })
        .unwrap();
    assert!(lab.0.status().unwrap().faults.is_empty());
    assert!(!std::path::Path::new(&pid_file).exists());
    assert!(
        !std::path::Path::new(&format!("/proc/{}/cmdline", pid.trim())).exists()
            || std::fs::read(format!("/proc/{}/cmdline", pid.trim()))
                .unwrap_or_default()
                .is_empty(),
        "forwarder still running"
    );
    assert_eq!(
        exchange(&lab, 9, (Node::A, "a-lan0"), &[(c1, "c1-lan0")], true),
        [true]
    );

    // The MSL, through the command line; `clear` removes it.
    let o = sft3(&[
        "lab",
        "--prefix",
        &p,
        "fault",
        "delay",
        "a",
        "msl",
        "--delay-ms",
        "10",
    ]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(
        exchange(&lab, 10, (Node::B, "b-msl"), &[(Node::A, "a-msl")], true),
        [true]
    );
    let o = sft3(&["lab", "--prefix", &p, "fault", "clear"]);
    assert!(o.status.success(), "{o:?}");
    assert!(lab.0.status().unwrap().faults.is_empty());
    let links = out(&["ip", "-n", &lab.0.ns(Node::B), "-o", "link"]);
    assert!(!links.contains(&format!("{p}b-dm")), "{links}");
}

#[test]
fn down_leaves_namespaces_the_lab_did_not_make() {
    if !privileged("down_leaves_namespaces_the_lab_did_not_make") {
        return;
    }
    let lab = TestLab::new('z');
    let foreign = format!("{}c01", lab.p());
    sh(&["ip", "netns", "add", &foreign]);
    let left = lab.0.down().map(|_| out(&["ip", "netns", "list"]));
    let _ = Command::new("ip").args(["netns", "del", &foreign]).status();
    let left = left.expect("down");
    assert!(
        left.lines()
            .any(|l| l.split_whitespace().next() == Some(foreign.as_str())),
        "down removed `{foreign}`: {left}"
    );
}

#[test]
fn delays_on_both_ends_of_a_lan_pair_coexist() {
    if !privileged("delays_on_both_ends_of_a_lan_pair_coexist") {
        return;
    }
    let lab = TestLab::new('w');
    let p = lab.p().to_string();
    lab.0.up().expect("up");
    let spec = ForwardSpec {
        delay_ms: 5,
        ..ForwardSpec::default()
    };
    let a_lan0 = format!("{p}a-lan0");
    // Same device name, two namespaces: A's adapter and its bridge port.
    lab.0
        .fault(&FaultAction::Delay {
            node: Node::A,
            iface: "lan0".into(),
            spec,
        })
        .expect("delay on a");
    lab.0
        .fault(&FaultAction::Delay {
            node: Node::Lan,
            iface: a_lan0.clone(),
            spec,
        })
        .expect("delay on the lan port");
    let pids = [
        format!("/run/sft3-lab/{p}lan-{a_lan0}.pid"),
        format!("/run/sft3-lab/{p}a-{a_lan0}.pid"),
    ];
    for f in &pids {
        assert!(std::path::Path::new(f).exists(), "{f}");
    }
    let c1 = Node::Client(1);
    assert_eq!(
        exchange(&lab, 1, (Node::A, "a-lan0"), &[(c1, "c1-lan0")], true),
        [true],
        "A to the LAN through the port's forwarder"
    );
    assert_eq!(
        exchange(&lab, 2, (c1, "c1-lan0"), &[(Node::A, "a-lan0")], true),
        [true],
        "the LAN to A through A's forwarder"
    );
    let faults = lab.0.status().unwrap().faults;
    assert_eq!(faults.len(), 2, "{faults:?}");
    lab.0.fault(&FaultAction::Clear).expect("clear");
    assert!(lab.0.status().unwrap().faults.is_empty());
    for f in &pids {
        assert!(!std::path::Path::new(f).exists(), "{f} left");
    }

    // The LAN node takes full names only, and says so.
    let err = lab
        .0
        .fault(&FaultAction::CarrierDown {
            node: Node::Lan,
            iface: "lan0".into(),
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("full interface names"), "{err}");

    // Half an MSL cut is reported as the one-sided drop it is, naming the side.
    let b = lab.0.ns(Node::B);
    let t = format!("{p}fault");
    let script = format!(
        "add table netdev {t}\n\
         add chain netdev {t} cut-{p}b-msl {{ type filter hook egress device \"{p}b-msl\" priority 0; policy accept; }}\n\
         add rule netdev {t} cut-{p}b-msl drop\n"
    );
    let mut nft = Command::new("ip")
        .args(["netns", "exec", &b, "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("nft");
    use std::io::Write;
    nft.stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(nft.wait().unwrap().success());
    assert_eq!(
        lab.0.status().unwrap().faults,
        [Fault::Drop {
            node: Node::A,
            iface: format!("{p}a-msl")
        }]
    );
    lab.0.fault(&FaultAction::MslCut).expect("cut");
    assert_eq!(lab.0.status().unwrap().faults, [Fault::MslCut]);
}
