//! Helpers for tests that need root: the project's skip policy and a throwaway namespace with
//! a veth pair. Used by the link, lab and ipxdump test suites so they all skip (or, under
//! `SFT3_REQUIRE_PRIVILEGED=1`, fail) the same way.

use std::process::{Command, Stdio};

use super::cmd;

/// True when the caller may create namespaces and raw sockets. Otherwise prints
/// `skipping TEST: ...` and returns false, or panics when `SFT3_REQUIRE_PRIVILEGED=1` (as
/// `.ci/run` sets it), so CI never passes by skipping.
pub fn privileged(test: &str) -> bool {
    if cmd::privileged() {
        return true;
    }
    if std::env::var("SFT3_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
        panic!("{test} needs root (network namespaces, raw sockets) and SFT3_REQUIRE_PRIVILEGED=1");
    }
    eprintln!("skipping {test}: needs root for network namespaces and raw sockets");
    false
}

/// A namespace holding a veth pair `va` <-> `vb`, both up; deleted on drop. The name carries
/// the tag and the process id, so parallel tests and processes never collide.
#[derive(Debug)]
pub struct VethPair {
    ns: String,
}

impl VethPair {
    /// Creates `sft3t-TAG-PID` (removing a leftover of the same name first) with the pair.
    pub fn new(tag: &str) -> VethPair {
        let ns = format!("sft3t-{tag}-{}", std::process::id());
        let _ = Command::new("ip")
            .args(["netns", "del", &ns])
            .stderr(Stdio::null())
            .status();
        sh(&["ip", "netns", "add", &ns]);
        let pair = VethPair { ns };
        pair.ip(&[
            "link", "add", "name", "va", "type", "veth", "peer", "name", "vb",
        ]);
        pair.ip(&["link", "set", "va", "up"]);
        pair.ip(&["link", "set", "vb", "up"]);
        pair
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.ns
    }

    /// Runs `ip -n NS ARGS...`, panicking with the command on failure.
    pub fn ip(&self, args: &[&str]) {
        let mut v = vec!["ip", "-n", &self.ns];
        v.extend_from_slice(args);
        sh(&v);
    }

    /// Runs `f` on a thread inside the namespace (sockets opened there stay in it).
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        cmd::in_netns(&self.ns, f).expect("running in the namespace")
    }

    /// A command that runs `program` inside the namespace (`ip netns exec`, which execs in
    /// place, so the child's pid is the program's).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, program]);
        c
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

/// Runs a command, panicking with it on failure (tests only).
pub fn sh(args: &[&str]) {
    let st = Command::new(args[0])
        .args(&args[1..])
        .status()
        .unwrap_or_else(|e| panic!("{}: {e}", args[0]));
    assert!(st.success(), "{args:?} failed");
}

/// A lab prefix unique to this process: `tag`, the process id in base 36, `-` (short, since
/// interface names must fit 15 bytes).
pub fn unique_prefix(tag: char) -> String {
    let mut pid = std::process::id();
    let mut digits = Vec::new();
    loop {
        digits.push(char::from_digit(pid % 36, 36).unwrap_or('0'));
        pid /= 36;
        if pid == 0 {
            break;
        }
    }
    digits.reverse();
    format!("{tag}{}-", digits.into_iter().collect::<String>())
}

/// A command that runs `program` as `nobody` with every capability dropped (via util-linux's
/// `setpriv`): how an unprivileged user would run it. The caller must be root.
pub fn as_nobody(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
    ])
    .arg(program);
    c
}
