//! The two background processes of [`super`]: the supervisor (`sft3 lab supervise DIR`) and
//! the station (`sft3 lab station IFACE`).
//!
//! | process | runs in | loop | ends on |
//! |---|---|---|---|
//! | supervisor | the server's namespace | `sft3 run --config DIR/sft3.toml`; again after exit 5 | SIGTERM (passed on), any exit but 5 |
//! | station | client 1's namespace | a RIP request every 100 ms | SIGTERM, the adapter vanishing |
//!
//! Also the process helpers the lab's daemon control shares: pid files, liveness checks
//! that survive pid reuse (the process's arguments must name the server), signals, and
//! detached children in a namespace.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::{io_err, LabError, EXIT_RESTART, RESTART_DELAY, STOP_GRACE};
use crate::node::status::rfc3339;

/// Set by SIGTERM or SIGINT.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn install_stop_handler() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: the handler only stores to an atomic (async-signal-safe).
        unsafe {
            libc::signal(
                sig,
                on_stop as extern "C" fn(libc::c_int) as libc::sighandler_t,
            );
        }
    }
}

fn say(text: &str) {
    eprintln!("{} supervisor: {text}", rfc3339(SystemTime::now()));
}

/// The shell's convention: the exit code, or 128 + the signal.
fn code_of(st: std::process::ExitStatus) -> (i32, String) {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(c), _) => (c, format!("exit {c}")),
        (None, Some(s)) => (128 + s, format!("signal {s}")),
        _ => (1, "exit ?".into()),
    }
}

/// Runs the daemon of the server whose directory is `dir` until it ends other than by
/// asking to be restarted (exit 5); returns the exit code to end with (the daemon's).
pub fn supervise(dir: &Path) -> Result<i32, LabError> {
    install_stop_handler();
    let exe = std::env::current_exe().map_err(io_err("finding the sft3 binary"))?;
    let cfg = dir.join("sft3.toml");
    let pid_file = dir.join("daemon.pid");
    let _ = std::fs::write(
        dir.join("supervisor.pid"),
        format!("{}\n", std::process::id()),
    );
    let mut starts = 0u64;
    loop {
        let mut child = Command::new(&exe)
            .arg("run")
            .arg("--config")
            .arg(&cfg)
            .stdin(Stdio::null())
            .spawn()
            .map_err(io_err(format!(
                "{} run --config {}",
                exe.display(),
                cfg.display()
            )))?;
        starts += 1;
        let pid = child.id() as i32;
        let _ = std::fs::write(&pid_file, format!("{pid}\n"));
        say(&format!("started `sft3 run` (pid {pid}, start {starts})"));
        let mut term_sent: Option<Instant> = None;
        let status = loop {
            match child.try_wait() {
                Ok(Some(st)) => break st,
                Ok(None) => {}
                Err(e) => return Err(io_err("waiting for the daemon")(e)),
            }
            if STOP.load(Ordering::SeqCst) {
                match term_sent {
                    None => {
                        signal(pid, libc::SIGTERM);
                        term_sent = Some(Instant::now());
                    }
                    Some(t) if t.elapsed() > STOP_GRACE => signal(pid, libc::SIGKILL),
                    Some(_) => {}
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let (code, what) = code_of(status);
        append(&dir.join("exits"), &what);
        say(&format!("`sft3 run` (pid {pid}) ended: {what}"));
        if STOP.load(Ordering::SeqCst) {
            return Ok(0);
        }
        if code != EXIT_RESTART {
            return Ok(code);
        }
        say(&format!(
            "restarting it as the secondary in {} ms",
            RESTART_DELAY.as_millis()
        ));
        std::thread::sleep(RESTART_DELAY);
        if STOP.load(Ordering::SeqCst) {
            return Ok(0);
        }
    }
}

/// Sends a RIP general request on `iface` every 100 ms until SIGTERM: a station the
/// servers hear (their isolation check needs one).
pub fn station(iface: &str) -> Result<i32, LabError> {
    use crate::health::{probe_frame, AdapterConfig, ProbeKind};
    use crate::link::{Link, LinkKind, RawLink};
    install_stop_handler();
    // The adapter may still be settling right after `lab up`: retry for a while.
    let t0 = Instant::now();
    let mut link = loop {
        match RawLink::open(iface, LinkKind::Any) {
            Ok(l) => break l,
            Err(e) if t0.elapsed() > Duration::from_secs(10) || STOP.load(Ordering::SeqCst) => {
                return Err(LabError::Config(format!("station: opening {iface}: {e}")));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let me = AdapterConfig::new(0, link.info().mac);
    // Room for a probe (64 bytes after padding) with slack.
    let mut buf = [0u8; 256];
    let len = probe_frame(&me, ProbeKind::Rip, &mut buf)
        .map_err(|e| LabError::Config(format!("station: building a RIP request: {e}")))?;
    let frame = buf.get(..len).unwrap_or(&buf);
    let mut failures = 0u32;
    while !STOP.load(Ordering::SeqCst) {
        match link.send(frame) {
            Ok(()) => failures = 0,
            // A cut or downed adapter is a lab fault: keep going; a vanished one ends us.
            Err(_) => {
                failures += 1;
                if failures > 600 && !Path::new(&format!("/sys/class/net/{iface}")).exists() {
                    return Ok(1);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(0)
}

// ---- process helpers (pid files, signals, detached children) ----

/// Reads a pid file.
pub(super) fn read_pid(path: &Path) -> Option<i32> {
    fs::read_to_string(path)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&p| p > 0)
}

/// True when `pid` runs (not a zombie) with `needle` among its arguments (pids get reused).
pub(super) fn alive_with(pid: i32, needle: &str) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let zombie = stat
        .rsplit_once(')')
        .is_some_and(|(_, r)| matches!(r.trim_start().chars().next(), Some('Z' | 'X')));
    if zombie {
        return false;
    }
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    cmdline
        .split(|&b| b == 0)
        .any(|a| a == needle.as_bytes() || a.ends_with(needle.as_bytes()))
}

pub(super) fn signal(pid: i32, sig: i32) {
    // SAFETY: a plain system call on a pid the caller checked.
    unsafe { libc::kill(pid, sig) };
}

/// Spawns `argv` detached (own session, stdin null, output appended to `log`) inside
/// namespace `ns`, reaping it from a thread should this process outlive it.
pub(super) fn spawn_detached(ns: &str, argv: &[String], log: &Path) -> Result<u32, LabError> {
    use std::os::unix::process::CommandExt;
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(io_err(format!("opening {}", log.display())))?;
    let err = out
        .try_clone()
        .map_err(io_err(format!("opening {}", log.display())))?;
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns])
        .args(argv)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    // SAFETY: setsid is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(io_err(format!("ip netns exec {ns} {}", argv.join(" "))))?;
    let pid = child.id();
    std::thread::spawn(move || child.wait());
    Ok(pid)
}

/// SIGTERM to `pid` if it still runs with `needle` in its arguments; SIGKILL after `grace`.
pub(super) fn stop_pid(pid: i32, needle: &str, grace: Duration) {
    if !alive_with(pid, needle) {
        return;
    }
    signal(pid, libc::SIGTERM);
    let t0 = Instant::now();
    while alive_with(pid, needle) {
        if t0.elapsed() > grace {
            signal(pid, libc::SIGKILL);
            let t1 = Instant::now();
            while alive_with(pid, needle) && t1.elapsed() < Duration::from_secs(2) {
                std::thread::sleep(Duration::from_millis(5));
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Appends one line to the file (best effort).
fn append(path: &Path, line: &str) {
    if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(f, "{line}");
    }
}
