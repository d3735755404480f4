//! Live capture with real raw sockets in a network namespace, and the missing-capability
//! message. Needs root (namespaces, veth, dropping to an unprivileged user); without it the
//! tests say so and skip, unless SFT3_REQUIRE_PRIVILEGED=1 makes that a failure.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sft3::lab::testing::{as_nobody, privileged, VethPair};
use sft3::link::{PacketSocket, SocketOptions};
use sft3::wire::rip::RipRepr;
use sft3::wire::{emit_ipx_frame, Checksum, Framing, IpxRepr, MacAddr, PacketType};

fn spawn_ipxdump(ns: &VethPair, args: &[&str]) -> Child {
    ns.command(env!("CARGO_BIN_EXE_ipxdump"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ipxdump")
}

/// Waits for ipxdump's "listening on" line so no frame is sent before the socket exists.
fn wait_listening(child: &mut Child) -> BufReader<std::process::ChildStderr> {
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("listening on vb"), "{line}");
    err
}

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            panic!("ipxdump did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn frames() -> Vec<Vec<u8>> {
    let src: MacAddr = "02:00:00:00:00:0a".parse().unwrap();
    let mut out = Vec::new();
    for (i, framing) in Framing::ALL.into_iter().enumerate() {
        let rip = RipRepr::general_request();
        let mut payload = vec![0u8; rip.buffer_len()];
        rip.emit(&mut payload).unwrap();
        let ipx = IpxRepr {
            checksum: if framing == Framing::Raw8023 {
                Checksum::None
            } else {
                Checksum::Sum
            },
            hops: 0,
            packet_type: PacketType::RIP,
            dst: "00000000:ffffffffffff:0453".parse().unwrap(),
            src: format!("0000000{i}:02000000000a:0453").parse().unwrap(),
            payload_len: payload.len(),
        };
        let mut buf = vec![0u8; 128];
        let n = emit_ipx_frame(&mut buf, MacAddr::BROADCAST, src, framing, &ipx, &payload).unwrap();
        buf.truncate(n);
        out.push(buf);
    }
    out
}

fn send_frames(ns: &VethPair) {
    ns.run(|| {
        let s = PacketSocket::open("va", &SocketOptions::default()).expect("raw socket on va");
        for f in frames() {
            s.send(&f).expect("send");
        }
    });
}

#[test]
fn live_capture_decodes_every_framing() {
    if !privileged("live_capture_decodes_every_framing") {
        return;
    }
    let ns = VethPair::new("live");
    let mut child = spawn_ipxdump(&ns, &["-i", "vb", "-c", "4", "--json", "rip"]);
    let _err = wait_listening(&mut child);
    send_frames(&ns);
    let st = wait_exit(&mut child, Duration::from_secs(10));
    assert!(st.success());
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    let framings: Vec<String> = out
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["proto"], "rip");
            assert!(v["error"].is_null(), "{l}");
            v["framing"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(framings, ["ethernet_ii", "raw_802_3", "llc", "snap"]);
}

#[test]
fn sigint_flushes_the_written_file() {
    if !privileged("sigint_flushes_the_written_file") {
        return;
    }
    let ns = VethPair::new("sigint");
    let file = std::env::temp_dir().join(format!("ipxdump-live-{}.pcap", std::process::id()));
    let mut child = spawn_ipxdump(&ns, &["-i", "vb", "-w", file.to_str().unwrap(), "ipx"]);
    let mut err = wait_listening(&mut child);
    send_frames(&ns);
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: plain kill(2) on our child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let st = wait_exit(&mut child, Duration::from_secs(5));
    assert!(st.success(), "ipxdump exit {st:?}");
    let mut summary = String::new();
    err.read_line(&mut summary).unwrap();
    assert!(summary.contains("4 matched"), "{summary}");
    let o = Command::new(env!("CARGO_BIN_EXE_ipxdump"))
        .args(["-r", file.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");
    std::fs::remove_file(&file).ok();
}

#[test]
fn missing_capability_names_it_and_the_fix() {
    if !privileged("missing_capability_names_it_and_the_fix") {
        return;
    }
    // Drop to nobody with no capabilities at all, as an unprivileged user would run it.
    let o = as_nobody(env!("CARGO_BIN_EXE_ipxdump"))
        .args(["-i", "lo"])
        .output()
        .expect("setpriv");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("needs CAP_NET_RAW"), "{err}");
    assert!(err.contains("setcap cap_net_raw,cap_net_admin+ep"), "{err}");
}

#[test]
fn live_lines_appear_before_the_capture_ends() {
    if !privileged("live_lines_appear_before_the_capture_ends") {
        return;
    }
    let ns = VethPair::new("flush");
    let mut child = spawn_ipxdump(&ns, &["-i", "vb", "rip"]);
    let _err = wait_listening(&mut child);
    send_frames(&ns);
    // ipxdump is still running: its first line must reach the pipe now, not at exit.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(10));
    // SAFETY: plain kill(2) on our child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    wait_exit(&mut child, Duration::from_secs(5));
    let line = line.expect("no line while the capture runs");
    assert!(line.contains("rip:"), "{line}");
}
