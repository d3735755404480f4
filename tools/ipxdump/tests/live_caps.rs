//! `ipxdump -i` drops every capability once its socket is open, and still captures. Needs
//! root (a network namespace, a veth pair); without it the test says so and skips, unless
//! SFT3_REQUIRE_PRIVILEGED=1 makes that a failure.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sft3::link::raw::{effective_capabilities, LinkKind, RawLink};
use sft3::link::Link;
use sft3::wire::samples::{build, Kind};
use sft3::wire::Framing;

fn sh(args: &[&str]) {
    let st = Command::new(args[0])
        .args(&args[1..])
        .status()
        .expect(args[0]);
    assert!(st.success(), "{args:?} failed");
}

struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
fn live_capture_runs_with_no_capabilities() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        if std::env::var("SFT3_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
            panic!(
                "live_capture_runs_with_no_capabilities needs root and SFT3_REQUIRE_PRIVILEGED=1"
            );
        }
        eprintln!("skipping live_capture_runs_with_no_capabilities: needs root for network namespaces and raw sockets");
        return;
    }
    let name = format!("sft3caps-{}", std::process::id());
    let _ = Command::new("ip")
        .args(["netns", "del", &name])
        .stderr(std::process::Stdio::null())
        .status();
    sh(&["ip", "netns", "add", &name]);
    let ns = Netns(name);
    let n = ns.0.as_str();
    sh(&[
        "ip", "-n", n, "link", "add", "name", "va", "type", "veth", "peer", "name", "vb",
    ]);
    sh(&["ip", "-n", n, "link", "set", "va", "up"]);
    sh(&["ip", "-n", n, "link", "set", "vb", "up"]);

    // `ip netns exec` execs in place, so the child's pid is ipxdump's.
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            n,
            env!("CARGO_BIN_EXE_ipxdump"),
            "-i",
            "vb",
            "-c",
            "3",
            "ipx",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ipxdump");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("listening on vb"), "{line}");
    let caps = effective_capabilities(Some(child.id())).expect("read /proc/PID/status");
    assert_eq!(caps, 0, "ipxdump still holds capabilities {caps:#x}");

    // Send three IPX frames from the other end: a capability-less ipxdump still reads them.
    let path = format!("/var/run/netns/{n}");
    std::thread::spawn(move || {
        let fd = std::fs::File::open(&path).unwrap();
        // SAFETY: fd is a valid namespace handle; only this thread changes namespace.
        let rc = unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&fd), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0);
        let mut link = RawLink::open("va", LinkKind::Lan).expect("raw link");
        let mut buf = [0u8; 1514];
        for v in 0..3 {
            let len = build(Kind::RipRequest, Framing::EthernetII, v, &mut buf).unwrap();
            link.send(&buf[..len]).unwrap();
        }
    })
    .join()
    .unwrap();
    let t0 = Instant::now();
    let st = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if t0.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("ipxdump did not capture 3 frames within 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(st.success(), "{st:?}");
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out.lines().count(), 3, "{out}");
}
