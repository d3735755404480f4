//! `ipxdump -i` drops every capability once its socket is open, and still captures. Needs
//! root (a network namespace, a veth pair); without it the test says so and skips, unless
//! SFT3_REQUIRE_PRIVILEGED=1 makes that a failure.

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::time::{Duration, Instant};

use sft3::lab::testing::{privileged, VethPair};
use sft3::link::raw::{effective_capabilities, LinkKind, RawLink};
use sft3::link::Link;
use sft3::wire::samples::{build, Kind};
use sft3::wire::Framing;

#[test]
fn live_capture_runs_with_no_capabilities() {
    if !privileged("live_capture_runs_with_no_capabilities") {
        return;
    }
    let ns = VethPair::new("caps");

    // `ip netns exec` execs in place, so the child's pid is ipxdump's.
    let mut child = ns
        .command(env!("CARGO_BIN_EXE_ipxdump"))
        .args(["-i", "vb", "-c", "3", "ipx"])
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
    ns.run(|| {
        let mut link = RawLink::open("va", LinkKind::Lan).expect("raw link");
        let mut buf = [0u8; 1514];
        for v in 0..3 {
            let len = build(Kind::RipRequest, Framing::EthernetII, v, &mut buf).unwrap();
            link.send(&buf[..len]).unwrap();
        }
    });
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
