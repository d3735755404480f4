//! `sft3 ctl`: operator commands to a running daemon over its control socket.
//!
//! | command | what |
//! |---|---|
//! | `sft3 ctl write --offset N FILE` | writes FILE (`-`: stdin) into the volume at byte N, in 1 MiB requests, each acknowledged as the write path says (both copies durable while mirrored) |
//! | `sft3 ctl read --offset N --length L [--out FILE]` | reads the volume |
//! | `sft3 ctl verify` | an online verify: region hashes compared across the MSL; differences are reported, marked and resynced (exit 6 when any) |
//! | `sft3 ctl survivor SERVER_ID --yes` | after divergence (scenario 7): that server's data survives, the other's is overwritten by a full resync |
//! | `sft3 ctl promote`, `sft3 ctl demote` | the role machine's operator commands (it refuses what is unsafe, and says why in the log) |
//!
//! Exit codes: 0 done; 1 the daemon refused or failed; 2 usage or configuration; 3 no
//! daemon answers; 6 (`verify`) regions differed (marked for resync).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};

use super::config::{NodeConfig, DEFAULT_CONTROL_SOCKET};
use super::control::{query, query_bytes};

/// Exit code of `verify` when regions differed.
pub const EXIT_DIFFERED: i32 = 6;
/// Bytes per write request.
const CHUNK: usize = 1 << 20;

/// Which daemon: its control socket, directly or from its configuration.
#[derive(Args, Debug, Clone, Default)]
pub struct SocketArgs {
    /// The daemon's control socket [default: the configuration's, else /run/sft3/control.sock].
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Take the control socket's path from this configuration file.
    #[arg(long, short = 'c', value_name = "FILE", conflicts_with = "socket")]
    pub config: Option<PathBuf>,
}

impl SocketArgs {
    /// The socket's path (a configuration that cannot be read is an error naming it).
    pub fn path(&self) -> Result<PathBuf, super::config::ConfigError> {
        match (&self.socket, &self.config) {
            (Some(s), _) => Ok(s.clone()),
            (None, Some(c)) => Ok(NodeConfig::load(c)?.paths.control_socket),
            (None, None) => Ok(PathBuf::from(DEFAULT_CONTROL_SOCKET)),
        }
    }
}

/// `sft3 ctl`.
#[derive(Args, Debug)]
pub struct CtlArgs {
    #[command(subcommand)]
    cmd: CtlCommand,
}

#[derive(Subcommand, Debug)]
enum CtlCommand {
    /// Write a file into the mirrored volume (on the primary).
    Write {
        /// Byte offset in the volume.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// The bytes to write (`-`: standard input).
        file: PathBuf,
        #[command(flatten)]
        at: SocketArgs,
    },
    /// Read from the volume.
    Read {
        /// Byte offset in the volume.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// Bytes to read.
        #[arg(long)]
        length: u64,
        /// Where to put them [default: standard output].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        at: SocketArgs,
    },
    /// After diverged data (scenario 7): keep SERVER_ID's data; the other server's volume
    /// is overwritten by a full resync.
    Survivor {
        /// The server whose data survives.
        server_id: u64,
        /// Confirms that the other server's changes are discarded.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        at: SocketArgs,
    },
    /// Serve now (refused while a serving peer is heard or the data is inconsistent).
    Promote {
        #[command(flatten)]
        at: SocketArgs,
    },
    /// Stop serving: a switch-over when mirrored, otherwise a shutdown.
    Demote {
        #[command(flatten)]
        at: SocketArgs,
    },
    /// Compare the two volumes online (region hashes over the MSL); differences are marked
    /// and resynced.
    Verify {
        /// Start it and return; follow it with `sft3 status`.
        #[arg(long)]
        no_wait: bool,
        #[command(flatten)]
        at: SocketArgs,
    },
}

/// Runs `sft3 ctl`; the exit code.
pub fn run(args: CtlArgs) -> anyhow::Result<i32> {
    match args.cmd {
        CtlCommand::Write { offset, file, at } => write(&socket(&at)?, offset, &file),
        CtlCommand::Read {
            offset,
            length,
            out,
            at,
        } => read(&socket(&at)?, offset, length, out.as_deref()),
        CtlCommand::Verify { no_wait, at } => verify(&socket(&at)?, no_wait),
        CtlCommand::Survivor { server_id, yes, at } => {
            if !yes {
                bail!(
                    "the other server's changes since the divergence will be lost: \
                     add --yes to keep server {server_id}'s data"
                );
            }
            command(&socket(&at)?, &format!("survivor {server_id}"))
        }
        CtlCommand::Promote { at } => command(&socket(&at)?, "promote"),
        CtlCommand::Demote { at } => command(&socket(&at)?, "demote"),
    }
}

/// Passes an operator command to the role machine; prints its acknowledgement.
fn command(sock: &Path, what: &str) -> anyhow::Result<i32> {
    let answer = query(sock, &format!("command {what}"))?;
    let line = answer_line(answer.as_bytes())?;
    println!("{}", line.trim_start_matches("ok "));
    Ok(0)
}

fn socket(at: &SocketArgs) -> anyhow::Result<PathBuf> {
    at.path().context("configuration")
}

/// The answer's first line, or the daemon's error as an error.
fn answer_line(out: &[u8]) -> anyhow::Result<String> {
    let end = out.iter().position(|&b| b == b'\n').unwrap_or(out.len());
    let line = String::from_utf8_lossy(&out[..end]).into_owned();
    match line.strip_prefix("error: ") {
        Some(e) => Err(anyhow!("the daemon refused: {e}")),
        None if line.starts_with("ok") => Ok(line),
        None => Err(anyhow!("unexpected answer {line:?}")),
    }
}

fn write(sock: &Path, offset: u64, file: &Path) -> anyhow::Result<i32> {
    let mut data = Vec::new();
    if file == Path::new("-") {
        std::io::stdin()
            .read_to_end(&mut data)
            .context("reading stdin")?;
    } else {
        data = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    }
    if data.is_empty() {
        bail!("nothing to write: {} is empty", file.display());
    }
    let mut lat = Vec::new();
    let mut mirrored = true;
    for (i, chunk) in data.chunks(CHUNK).enumerate() {
        let at = offset + (i * CHUNK) as u64;
        let out = query_bytes(sock, &format!("volume write {at} {}", chunk.len()), chunk)?;
        let line = answer_line(&out).with_context(|| format!("writing at byte {at}"))?;
        mirrored &= line.contains("mirrored true");
        let us = line.rsplit(' ').next().and_then(|u| u.parse::<u64>().ok());
        lat.extend(us);
    }
    lat.sort_unstable();
    println!(
        "wrote {} bytes at {offset} in {} requests, {}; acknowledgement p50 {} us, max {} us",
        data.len(),
        lat.len(),
        if mirrored {
            "mirrored"
        } else {
            "not mirrored (journaled)"
        },
        lat.get(lat.len() / 2).copied().unwrap_or(0),
        lat.last().copied().unwrap_or(0)
    );
    Ok(0)
}

fn read(sock: &Path, offset: u64, length: u64, out: Option<&Path>) -> anyhow::Result<i32> {
    let mut bytes = Vec::with_capacity(length as usize);
    let mut at = offset;
    while at < offset + length {
        let n = (offset + length - at).min(CHUNK as u64);
        let ans = query_bytes(sock, &format!("volume read {at} {n}"), &[])?;
        let line = answer_line(&ans)?;
        let body = &ans[line.len() + 1..];
        if body.len() as u64 != n {
            bail!("short read at byte {at}: {} of {n} bytes", body.len());
        }
        bytes.extend_from_slice(body);
        at += n;
    }
    match out {
        Some(p) => std::fs::write(p, &bytes).with_context(|| format!("writing {}", p.display()))?,
        None => std::io::stdout().write_all(&bytes)?,
    }
    Ok(0)
}

fn verify(sock: &Path, no_wait: bool) -> anyhow::Result<i32> {
    let started = answer_line(&query_bytes(sock, "volume verify", &[])?)?;
    println!("{}", started.trim_start_matches("ok "));
    if no_wait {
        return Ok(0);
    }
    let id = started
        .split_whitespace()
        .nth(2)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .ok_or_else(|| anyhow!("unexpected answer {started:?}"))?;
    let t0 = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let s = query(sock, "status json")?;
        let j: serde_json::Value = serde_json::from_str(&s).context("reading the status")?;
        let v = &j["volume"]["verify"];
        if v["id"].as_u64() != Some(id) {
            bail!("the verify is gone from the status (the daemon restarted?)");
        }
        let (done, total) = (
            v["done"].as_u64().unwrap_or(0),
            v["total"].as_u64().unwrap_or(0),
        );
        let diff = v["mismatches"].as_u64().unwrap_or(0);
        if v["running"].as_bool() == Some(true) {
            eprint!(
                "\rverify {done}/{total} regions, {diff} differ, {:.1} s",
                t0.elapsed().as_secs_f64()
            );
            continue;
        }
        eprintln!();
        if let Some(e) = v["error"].as_str() {
            bail!("verify aborted after {done} of {total} regions: {e}");
        }
        println!(
            "verify done: {total} regions, {diff} differ{}",
            if diff > 0 {
                " (marked and being resynced)"
            } else {
                ""
            }
        );
        return Ok(if diff > 0 { EXIT_DIFFERED } else { 0 });
    }
}
