//! Dropping capabilities once the sockets are open.
//!
//! | set | after [`drop_capabilities`] |
//! |---|---|
//! | ambient | empty (`PR_CAP_AMBIENT_CLEAR_ALL`) |
//! | bounding | empty where `CAP_SETPCAP` allows (`PR_CAPBSET_DROP`), else unchanged |
//! | effective, permitted, inheritable | empty (`capset`) |
//!
//! Capabilities are per thread: call this on the main thread before any other thread starts
//! (runtime threads inherit the emptied sets). Open sockets keep working: the kernel checks
//! `CAP_NET_RAW` when a socket is opened, not when it is read.

use std::io;

/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const CAP_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Clears the calling thread's ambient, effective, permitted and inheritable capability sets
/// (and the bounding set, best effort). Irreversible for this process.
pub fn drop_capabilities() -> io::Result<()> {
    // Bounding set first: dropping from it needs CAP_SETPCAP, which capset removes below.
    // Best effort: without CAP_SETPCAP the emptied permitted set already stops any regain
    // short of exec'ing a file with capabilities.
    for cap in 0..=last_cap() {
        // SAFETY: prctl with integer arguments only.
        unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
    }
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    // EINVAL: a kernel without ambient capabilities (before 4.3) has nothing to clear.
    if rc != 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
        return Err(io::Error::last_os_error());
    }
    let mut hdr = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let data = [CapData::default(); 2];
    // SAFETY: hdr and data are valid for the version-3 layout (a header and two data words).
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The highest capability number the kernel knows (`/proc/sys/kernel/cap_last_cap`).
fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// The `CapEff` mask of a process from `/proc/PID/status` (`None` for this process).
pub fn effective_capabilities(pid: Option<u32>) -> io::Result<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".to_string(),
    };
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no CapEff line"))
}
