//! A mutex with priority inheritance (`PTHREAD_PRIO_INHERIT`) for the MSL core.
//!
//! The driver thread runs SCHED_FIFO; senders may not (the volume thread runs at the normal
//! priority and sends every region of a resync). With a plain mutex, a sender preempted
//! while it held the core kept the real-time driver waiting behind every thread of higher
//! priority than the sender's: the driver sent nothing, not even heartbeats, and the peer
//! declared the MSL failed (seen: 21 ms of silence in the middle of a 1 GiB resync on two
//! loaded vCPUs, and the secondary shut down, as scenario 3 says it must). With priority
//! inheritance the kernel runs the holder at the waiter's priority until it lets go.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};

/// A mutex whose holder inherits the priority of the threads waiting for it. No
/// poisoning: a panic while holding it leaves the value as it was (the core's state is
/// still the best there is).
pub(crate) struct PiMutex<T> {
    // Boxed: a pthread mutex must not move once initialised.
    raw: Box<UnsafeCell<libc::pthread_mutex_t>>,
    data: UnsafeCell<T>,
}

// SAFETY: access to `data` is serialised by the mutex.
unsafe impl<T: Send> Send for PiMutex<T> {}
// SAFETY: as above; `&PiMutex` only hands out the value under the lock.
unsafe impl<T: Send> Sync for PiMutex<T> {}

impl<T> PiMutex<T> {
    /// A new mutex (priority inheritance when the system offers it, else a plain one).
    pub(crate) fn new(value: T) -> PiMutex<T> {
        let raw = Box::new(UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER));
        // SAFETY: `attr` is initialised before use and destroyed after; `raw` points to
        // memory that lives (and stays put) as long as the mutex.
        unsafe {
            let mut attr: libc::pthread_mutexattr_t = core::mem::zeroed();
            if libc::pthread_mutexattr_init(&mut attr) == 0 {
                libc::pthread_mutexattr_setprotocol(&mut attr, libc::PTHREAD_PRIO_INHERIT);
                libc::pthread_mutex_init(raw.get(), &attr);
                libc::pthread_mutexattr_destroy(&mut attr);
            }
        }
        PiMutex {
            raw,
            data: UnsafeCell::new(value),
        }
    }

    /// Locks it.
    pub(crate) fn lock(&self) -> PiGuard<'_, T> {
        // SAFETY: an initialised mutex; a thread never locks it twice (the guard is the
        // only way in, and the core's code does not re-enter).
        unsafe {
            libc::pthread_mutex_lock(self.raw.get());
        }
        PiGuard { m: self }
    }
}

impl<T> Drop for PiMutex<T> {
    fn drop(&mut self) {
        // SAFETY: no guard outlives the mutex (it borrows it).
        unsafe {
            libc::pthread_mutex_destroy(self.raw.get());
        }
    }
}

/// The lock, held.
pub(crate) struct PiGuard<'a, T> {
    m: &'a PiMutex<T>,
}

impl<T> Deref for PiGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the lock is held for the guard's life.
        unsafe { &*self.m.data.get() }
    }
}

impl<T> DerefMut for PiGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the lock is held, and the guard is borrowed mutably.
        unsafe { &mut *self.m.data.get() }
    }
}

impl<T> Drop for PiGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: this thread holds the lock.
        unsafe {
            libc::pthread_mutex_unlock(self.m.raw.get());
        }
    }
}
