//! Writes sample frames (`sft3::wire::samples`) to a pcap file.
//!
//! ```text
//! cargo run --release --example gen_capture -- --kinds OUT.pcap    # each kind × framing once
//! cargo run --release --example gen_capture -- --count N OUT.pcap  # N frames with variants
//! ```
//!
//! `--kinds` writes the recording set (variant 0 of every sample, as in
//! `captures/own/kinds.pcap`); `--count N` writes frame `i` as sample `i mod 106` with variant
//! `i`, for decoding benchmarks. Timestamps start at 2026-01-01T00:00:00Z and advance 1 ms per
//! frame, so the output is byte-identical across runs.

use std::process::ExitCode;

use sft3::capture::{PcapWriter, Timestamp};
use sft3::wire::samples::{self, Sample, MAX_FRAME_LEN};

/// 2026-01-01T00:00:00Z.
const START_SECS: u64 = 1_767_225_600;

fn usage() -> ExitCode {
    eprintln!("usage: gen_capture (--kinds | --count N) OUT.pcap");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut count: Option<u64> = None;
    let mut kinds = false;
    let mut out: Option<&str> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--kinds" => kinds = true,
            "--count" => match it.next().and_then(|n| n.parse().ok()) {
                Some(n) => count = Some(n),
                None => return usage(),
            },
            "-h" | "--help" => return usage(),
            s if out.is_none() && !s.starts_with('-') => out = Some(s),
            _ => return usage(),
        }
    }
    let (Some(out), true) = (out, kinds != count.is_some()) else {
        return usage();
    };
    match write(out, kinds, count.unwrap_or(0)) {
        Ok(n) => {
            eprintln!("gen_capture: wrote {n} frames to {out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen_capture: {out}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes the frames; returns how many.
fn write(out: &str, kinds: bool, count: u64) -> Result<u64, Box<dyn std::error::Error>> {
    let set: Vec<Sample> = samples::samples().collect();
    let n = if kinds { set.len() as u64 } else { count };
    let mut w = PcapWriter::create(out)?;
    let mut buf = [0u8; MAX_FRAME_LEN];
    for i in 0..n {
        let sample = set[(i % set.len() as u64) as usize];
        let variant = if kinds { 0 } else { i };
        let len = sample.build(variant, &mut buf)?;
        let ts = Timestamp::from_unix_nanos(
            (START_SECS as u128) * 1_000_000_000 + i as u128 * 1_000_000,
        );
        w.write_packet(ts, len as u32, &buf[..len])?;
    }
    w.into_inner()?;
    Ok(n)
}
