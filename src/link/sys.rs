//! Small system-call helpers shared by the socket-based links.

use std::io;
use std::os::fd::RawFd;

use super::error::LinkError;

/// This program's path, for the `setcap` hint in capability errors.
pub(crate) fn exe_name() -> String {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "<binary>".into())
}

/// Maps a failed call to [`LinkError::NeedCapability`] on EPERM/EACCES, else `Io`.
pub(crate) fn cap_err(op: String, cap: &'static str, e: io::Error) -> LinkError {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => LinkError::NeedCapability {
            op,
            cap,
            exe: exe_name(),
        },
        _ => LinkError::Io { op, source: e },
    }
}

/// A `map_err` adapter that names the operation.
pub(crate) fn io_err(op: impl Into<String>) -> impl FnOnce(io::Error) -> LinkError {
    let op = op.into();
    move |source| LinkError::Io { op, source }
}

/// `setsockopt(2)` with a typed value.
pub(crate) fn setsockopt<T>(fd: RawFd, level: i32, name: i32, val: &T) -> io::Result<()> {
    // SAFETY: `val` points to a live T of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            val as *const T as *const libc::c_void,
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
