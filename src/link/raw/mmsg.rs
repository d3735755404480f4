//! Batched receive and send: `recvmmsg` and `sendmmsg`, up to [`BATCH`] frames per call.
//!
//! | per message | receive | send |
//! |---|---|---|
//! | `iovec` | the caller's buffer | the caller's frame, or up to [`MAX_PIECES`] pieces of it |
//! | control | 32 bytes for one `SCM_TIMESTAMPNS` (`timespec`) | none |
//! | flags | `MSG_DONTWAIT \| MSG_TRUNC` (real length even when cut) | `MSG_DONTWAIT` |
//!
//! The headers live on the stack: no allocation per call.

use std::io;
use std::os::fd::RawFd;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::capture::Timestamp;
use crate::link::RxMeta;

/// Messages per system call.
pub(crate) const BATCH: usize = 64;

/// A placeholder to fill.
pub(crate) const EMPTY_META: RxMeta = RxMeta {
    len: 0,
    orig_len: 0,
    ts: Timestamp::new(0, 0),
};

/// Room for one control message carrying a `timespec` (`CMSG_SPACE(16)` on 64-bit Linux),
/// as u64 words for alignment.
type Control = [u64; 6];

fn empty_iov() -> libc::iovec {
    libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }
}

fn empty_hdr() -> libc::mmsghdr {
    // SAFETY: mmsghdr is plain data (pointers and integers); all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

fn wall_clock() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::new(d.as_secs(), d.subsec_nanos())
}

/// The `SCM_TIMESTAMPNS` of a received message, if the kernel attached one.
fn kernel_ts(hdr: &libc::msghdr) -> Option<Timestamp> {
    // SAFETY: hdr's control pointer and length describe the buffer the kernel filled; the
    // CMSG_* macros stay inside msg_controllen.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(hdr);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts: libc::timespec =
                    std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::timespec);
                return Some(Timestamp::new(ts.tv_sec.max(0) as u64, ts.tv_nsec as u32));
            }
            c = libc::CMSG_NXTHDR(hdr, c);
        }
    }
    None
}

/// Only these mean "nothing to do now": anything else is a real outcome for the caller.
fn would_block(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EINTR))
}

/// True for the errors of an interface that is down (`ENETDOWN`) or gone (`ENXIO`): a
/// state change, which [`Link::status`](crate::link::Link::status) reports, not a failure.
pub(crate) fn link_down(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENETDOWN) | Some(libc::ENXIO))
}

/// Receives waiting frames into `bufs`, describing them in `metas`; returns how many.
pub(crate) fn recv_batch<B: AsMut<[u8]>>(
    fd: RawFd,
    bufs: &mut [B],
    metas: &mut [RxMeta],
) -> io::Result<usize> {
    let want = bufs.len().min(metas.len());
    let mut done = 0;
    while done < want {
        let n = (want - done).min(BATCH);
        let mut iov = [(); BATCH].map(|_| empty_iov());
        let mut ctl: [Control; BATCH] = [[0; 6]; BATCH];
        let mut hdrs = [(); BATCH].map(|_| empty_hdr());
        for i in 0..n {
            let b = bufs[done + i].as_mut();
            iov[i].iov_base = b.as_mut_ptr() as *mut libc::c_void;
            iov[i].iov_len = b.len();
            let h = &mut hdrs[i].msg_hdr;
            h.msg_iov = &mut iov[i];
            h.msg_iovlen = 1;
            h.msg_control = ctl[i].as_mut_ptr() as *mut libc::c_void;
            h.msg_controllen = std::mem::size_of::<Control>() as _;
        }
        // SAFETY: the first n headers point at live iovecs (the caller's buffers, valid for
        // their lengths) and control buffers, all outliving the call.
        let got = unsafe {
            libc::recvmmsg(
                fd,
                hdrs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                std::ptr::null_mut(),
            )
        };
        if got < 0 {
            let e = io::Error::last_os_error();
            if would_block(&e) || done > 0 {
                break;
            }
            return Err(e);
        }
        let got = got as usize;
        for i in 0..got {
            let orig_len = hdrs[i].msg_len as usize;
            metas[done + i] = RxMeta {
                len: orig_len.min(iov[i].iov_len),
                orig_len,
                ts: kernel_ts(&hdrs[i].msg_hdr).unwrap_or_else(wall_clock),
            };
        }
        done += got;
        if got < n {
            break;
        }
    }
    Ok(done)
}

/// What [`send_batch`] did with the frames.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SendOutcome {
    /// Frames taken, in order from the first: sent or dropped. Fewer than given only when
    /// the socket would block.
    pub(crate) done: usize,
    /// Of those, frames the kernel dropped on the way out (`ENOBUFS`, or the link down).
    pub(crate) dropped: u64,
    /// Of the dropped, frames refused because the interface was down or gone.
    pub(crate) link_down: u64,
}

/// Most pieces (`iovec`s) of one frame in [`send_batch_vectored`].
pub(crate) const MAX_PIECES: usize = 3;

/// Sends `frames` in order. A frame the kernel drops (`ENOBUFS`: a full queue or an egress
/// filter; `ENETDOWN`/`ENXIO`: the link is down or gone) is counted and skipped, as
/// `send` does; only `EAGAIN` stops the batch early.
pub(crate) fn send_batch(fd: RawFd, frames: &[&[u8]]) -> io::Result<SendOutcome> {
    send_with(fd, frames.len(), |i, iov| {
        iov[0] = iovec_of(frames[i]);
        1
    })
}

/// As [`send_batch`], each frame given as pieces sent back to back (one `iovec` each, empty
/// pieces skipped): headers, a payload that lives elsewhere, a trailer.
pub(crate) fn send_batch_vectored(
    fd: RawFd,
    frames: &[[&[u8]; MAX_PIECES]],
) -> io::Result<SendOutcome> {
    send_with(fd, frames.len(), |i, iov| {
        let mut n = 0;
        for p in frames[i].iter().filter(|p| !p.is_empty()) {
            iov[n] = iovec_of(p);
            n += 1;
        }
        n
    })
}

/// An `iovec` over bytes the kernel only reads.
fn iovec_of(b: &[u8]) -> libc::iovec {
    libc::iovec {
        iov_base: b.as_ptr() as *mut libc::c_void,
        iov_len: b.len(),
    }
}

/// The loop shared by the sends: `fill(i, iov)` describes frame `i` in `iov` and returns
/// how many `iovec`s it used. The `iovec`s must point at memory that outlives the call.
fn send_with(
    fd: RawFd,
    count: usize,
    fill: impl Fn(usize, &mut [libc::iovec; MAX_PIECES]) -> usize,
) -> io::Result<SendOutcome> {
    let mut out = SendOutcome::default();
    while out.done < count {
        let done = out.done;
        let n = (count - done).min(BATCH);
        let mut iov = [(); BATCH].map(|_| [(); MAX_PIECES].map(|_| empty_iov()));
        let mut hdrs = [(); BATCH].map(|_| empty_hdr());
        for i in 0..n {
            let used = fill(done + i, &mut iov[i]).min(MAX_PIECES);
            hdrs[i].msg_hdr.msg_iov = iov[i].as_mut_ptr();
            hdrs[i].msg_hdr.msg_iovlen = used as _;
        }
        // SAFETY: the first n headers point at live iovecs (at most MAX_PIECES each, as
        // msg_iovlen says) over the caller's frames, which outlive the call.
        let sent =
            unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr(), n as libc::c_uint, libc::MSG_DONTWAIT) };
        if sent > 0 {
            // A short count hides the next frame's error: the next call reports it.
            out.done += sent as usize;
            continue;
        }
        if sent == 0 {
            break;
        }
        // sendmmsg returns -1 only when the first message failed: that frame's fate.
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::ENOBUFS) => {}
            _ if link_down(&e) => out.link_down += 1,
            _ if would_block(&e) => break,
            // A real failure after some frames went: report those; the caller's next
            // call meets the error on its first frame.
            _ if done > 0 => break,
            _ => return Err(e),
        }
        out.dropped += 1;
        out.done += 1;
    }
    Ok(out)
}
