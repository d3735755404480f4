//! Waking the driver thread: an `eventfd` other threads write to, a flag that says whether
//! the thread is asleep (so a busy thread costs them no system call), and `ppoll(2)` with a
//! nanosecond timeout (`poll(2)` rounds to milliseconds, too coarse for 2 ms timers).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::Duration;

/// The wake-up side shared between the driver thread and everyone who hands it work.
#[derive(Debug)]
pub(crate) struct Waker {
    fd: OwnedFd,
    /// The thread is about to sleep or sleeping.
    parked: AtomicBool,
    /// Work was handed over since the thread last looked.
    dirty: AtomicBool,
}

impl Waker {
    pub(crate) fn new() -> io::Result<Waker> {
        // SAFETY: plain system call; the result is checked.
        let raw = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Waker {
            // SAFETY: a fresh descriptor we own from here on.
            fd: unsafe { OwnedFd::from_raw_fd(raw) },
            parked: AtomicBool::new(false),
            dirty: AtomicBool::new(false),
        })
    }

    /// Says there is work; writes the eventfd only when the thread sleeps. (`dirty` then
    /// `parked`, against the thread's `parked` then `dirty`: with sequentially consistent
    /// order one of the two sides always sees the other, so no wake-up is lost.)
    pub(crate) fn wake(&self) {
        self.dirty.store(true, SeqCst);
        if self.parked.load(SeqCst) {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a valid u64. A full counter (EAGAIN) already wakes.
            unsafe {
                libc::write(
                    self.fd.as_raw_fd(),
                    &one as *const u64 as *const libc::c_void,
                    8,
                )
            };
        }
    }

    /// Clears the work flag; true when work was handed over since the last call.
    pub(crate) fn take_dirty(&self) -> bool {
        self.dirty.swap(false, SeqCst)
    }

    /// Marks the thread asleep; false (and not asleep) when work arrived meanwhile.
    pub(crate) fn park(&self) -> bool {
        self.parked.store(true, SeqCst);
        if self.dirty.load(SeqCst) {
            self.parked.store(false, SeqCst);
            return false;
        }
        true
    }

    /// Marks the thread awake and empties the eventfd.
    pub(crate) fn unpark(&self) {
        self.parked.store(false, SeqCst);
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64; EAGAIN (nothing written) is fine.
        unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                &mut v as *mut u64 as *mut libc::c_void,
                8,
            )
        };
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Sleeps until the link is readable (or writable, with `want_out`), the waker or the
/// watcher fires, or `timeout` passes (`None`: no timeout). True when the watcher has
/// something to read (the link is simply tried every turn).
pub(crate) fn wait(
    link: RawFd,
    want_out: bool,
    waker: RawFd,
    watcher: Option<RawFd>,
    timeout: Option<Duration>,
) -> io::Result<bool> {
    let mut fds = [
        libc::pollfd {
            fd: link,
            events: libc::POLLIN | if want_out { libc::POLLOUT } else { 0 },
            revents: 0,
        },
        libc::pollfd {
            fd: waker,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            // A negative fd is ignored by poll.
            fd: watcher.unwrap_or(-1),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let tsp = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: fds is a valid array of the length passed; tsp is null or points at `ts`.
    let rc = unsafe { libc::ppoll(fds.as_mut_ptr(), fds.len() as _, tsp, std::ptr::null()) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EINTR) {
            return Ok(false);
        }
        return Err(e);
    }
    let bad = libc::POLLERR | libc::POLLHUP | libc::POLLNVAL;
    Ok(fds[2].revents & (libc::POLLIN | bad) != 0)
}
