//! Running `ip` and `nft`, checking privileges, and entering a namespace from a thread.
//!
//! Every change the lab makes goes through [`run`]: one place that shows the failing command
//! line with its stderr, so an error says exactly what the kernel refused.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};

use super::LabError;

/// Formats a command line for messages, quoting words with spaces.
pub fn show(args: &[&str]) -> String {
    args.iter()
        .map(|a| {
            if a.is_empty() || a.contains(char::is_whitespace) {
                format!("'{a}'")
            } else {
                (*a).to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `args[0]` with the rest as arguments, feeding `stdin` if given; returns stdout.
/// A non-zero exit is [`LabError::Command`] with the command line and its stderr.
pub fn run_input(args: &[&str], stdin: Option<&str>) -> Result<String, LabError> {
    let (prog, rest) = args
        .split_first()
        .ok_or(LabError::Config("empty command".into()))?;
    let mut cmd = Command::new(prog);
    cmd.args(rest)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = cmd.spawn().map_err(|e| LabError::Spawn {
        cmd: show(args),
        source: e,
    })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A failed write shows up as the command's own error below.
        let _ = pipe.write_all(text.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| LabError::Spawn {
        cmd: show(args),
        source: e,
    })?;
    if !out.status.success() {
        let mut line = show(args);
        if let Some(text) = stdin {
            line.push_str(" <<< ");
            line.push_str(&text.replace('\n', "; "));
        }
        return Err(LabError::Command {
            cmd: line,
            status: out.status.code().unwrap_or(-1),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// [`run_input`] without stdin.
pub fn run(args: &[&str]) -> Result<String, LabError> {
    run_input(args, None)
}

/// Runs a command and reports only whether it succeeded (for existence checks).
pub fn succeeds(args: &[&str]) -> bool {
    let Some((prog, rest)) = args.split_first() else {
        return false;
    };
    Command::new(prog)
        .args(rest)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Finds `tool` on `PATH` (or in the sbin directories, which a non-login root shell may
/// lack).
pub fn find_tool(tool: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(Into::into))
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// Fails with the apt package to install when `tool` is missing.
pub fn require_tool(tool: &'static str, package: &'static str) -> Result<(), LabError> {
    match find_tool(tool) {
        Some(_) => Ok(()),
        None => Err(LabError::MissingTool { tool, package }),
    }
}

/// `CAP_NET_ADMIN`'s bit in the capability sets.
const CAP_NET_ADMIN: u32 = 12;
/// `CAP_SYS_ADMIN`'s bit in the capability sets.
const CAP_SYS_ADMIN: u32 = 21;

/// True when the effective capability set holds `CAP_SYS_ADMIN` and `CAP_NET_ADMIN`
/// (creating and entering namespaces, configuring links).
pub fn privileged() -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    let cap_eff = text
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    cap_eff & (1 << CAP_SYS_ADMIN) != 0 && cap_eff & (1 << CAP_NET_ADMIN) != 0
}

/// Fails with [`LabError::NeedRoot`] unless [`privileged`].
pub fn require_privileges() -> Result<(), LabError> {
    if privileged() {
        Ok(())
    } else {
        Err(LabError::NeedRoot)
    }
}

/// Runs `f` on a new thread that has entered network namespace `ns` (a name under
/// `/run/netns`), and returns its result. Sockets opened there stay in that namespace.
/// A panic in `f` is re-raised in the caller.
pub fn in_netns<T, F>(ns: &str, f: F) -> Result<T, LabError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let path = format!("/run/netns/{ns}");
    let handle = File::open(&path).map_err(|e| LabError::Spawn {
        cmd: format!("open {path}"),
        source: e,
    })?;
    let joined = std::thread::spawn(move || {
        // SAFETY: `handle` is an open namespace file for the thread's whole call; setns only
        // changes this (new, unshared-state) thread's network namespace.
        let rc = unsafe { libc::setns(handle.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(f())
    })
    .join();
    match joined {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(LabError::Spawn {
            cmd: format!("setns {path}"),
            source: e,
        }),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
