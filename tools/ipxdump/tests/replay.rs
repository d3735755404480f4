//! A recording made by `sft3::link::pcap::Recorder` decodes with ipxdump: every sample frame
//! in every framing, sent and received, one JSON line each, no decode error, timestamps kept.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Command;

use sft3::capture::Timestamp;
use sft3::link::pcap::Recorder;
use sft3::link::{AdapterInfo, Link, LinkError, LinkStatus, RxMeta};
use sft3::wire::samples::{samples, MAX_FRAME_LEN};
use sft3::wire::MacAddr;

/// A link that accepts every frame and receives whatever the test queued.
struct Queued {
    info: AdapterInfo,
    inbox: VecDeque<(Vec<u8>, Timestamp)>,
}

impl Link for Queued {
    fn info(&self) -> &AdapterInfo {
        &self.info
    }
    fn send(&mut self, _frame: &[u8]) -> Result<(), LinkError> {
        Ok(())
    }
    fn recv(&mut self, buf: &mut [u8]) -> Result<Option<RxMeta>, LinkError> {
        let Some((f, ts)) = self.inbox.pop_front() else {
            return Ok(None);
        };
        let len = f.len().min(buf.len());
        buf[..len].copy_from_slice(&f[..len]);
        Ok(Some(RxMeta {
            len,
            orig_len: f.len(),
            ts,
        }))
    }
    fn status(&mut self) -> Result<LinkStatus, LinkError> {
        Ok(LinkStatus::UP)
    }
}

/// Removes the file on drop.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn recorder_output_decodes_with_ipxdump() {
    let tmp = TempFile(
        PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("ipxdump-replay-{}.pcap", std::process::id())),
    );
    let link = Queued {
        info: AdapterInfo {
            name: "rec".into(),
            index: 0,
            mac: MacAddr([2, 0, 0, 0, 0, 1]),
            mtu: 1500,
        },
        inbox: VecDeque::new(),
    };
    // Virtual time: frame i at 1_700_000_000 + i ms.
    let ts = |i: u64| Timestamp::new(1_700_000_000, (i * 1_000_000) as u32);
    let tick = std::cell::Cell::new(0u64);
    let mut rec = Recorder::with_clock(link, &tmp.0, || ts(tick.get())).expect("create");
    let mut buf = [0u8; MAX_FRAME_LEN];
    let mut n = 0u64;
    for (i, s) in samples().enumerate() {
        let len = s.build(i as u64, &mut buf).expect("build");
        tick.set(n);
        if i % 2 == 0 {
            rec.send(&buf[..len]).expect("send");
        } else {
            rec.get_mut().inbox.push_back((buf[..len].to_vec(), ts(n)));
            let mut rx = [0u8; 2048];
            rec.recv(&mut rx).expect("recv").expect("frame");
        }
        n += 1;
    }
    rec.finish().expect("finish");

    let out = Command::new(env!("CARGO_BIN_EXE_ipxdump"))
        .args(["--json", "-r"])
        .arg(&tmp.0)
        .output()
        .expect("run ipxdump");
    assert!(
        out.status.success(),
        "ipxdump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len() as u64, n);
    for (i, line) in lines.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON");
        assert_eq!(v["error"], serde_json::Value::Null, "frame {i}: {line}");
        assert!(v["proto"].is_string(), "frame {i}: {line}");
        // The raw token: a float would lose the digits.
        let ts = line
            .split("\"ts\":")
            .nth(1)
            .and_then(|r| r.split(',').next());
        let ts = ts.expect("ts field");
        assert!(
            ts.starts_with(&format!("1700000000.{i:03}")),
            "frame {i} timestamp {ts}"
        );
    }
    // The text form decodes too, one line per frame.
    let out = Command::new(env!("CARGO_BIN_EXE_ipxdump"))
        .arg("-r")
        .arg(&tmp.0)
        .output()
        .expect("run ipxdump");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count() as u64,
        n
    );
}
