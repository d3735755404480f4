//! Link state (carrier, operstate) from rtnetlink, with sysfs as a fallback.
//!
//! | offset | `RTM_GETLINK` request (32 bytes) |
//! |---|---|
//! | 0..16 | `nlmsghdr`: length 32, type 18 (`RTM_GETLINK`), flags `NLM_F_REQUEST`, seq, pid 0 |
//! | 16..32 | `ifinfomsg`: family `AF_UNSPEC`, type, index, flags, change |
//!
//! The answer is one `RTM_NEWLINK` whose attributes include `IFLA_OPERSTATE` (u8, RFC 2863
//! value) and `IFLA_CARRIER` (u8). A netlink socket belongs to the network namespace it was
//! opened in, so the answer is right even for a thread that `setns`-ed into a namespace,
//! where `/sys/class/net` still shows the namespace that mounted sysfs. [`Link::status`](crate::link::Link::status)
//! polls (one request per call); [`super::watch`] delivers the
//! changes as events.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::link::{LinkStatus, OperState};

const RTM_NEWLINK: u16 = 16;
const NLMSG_ERROR: u16 = 2;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_CARRIER: u16 = 33;
const NLMSG_HDR: usize = 16;
const IFINFO_LEN: usize = 16;

/// A NETLINK_ROUTE socket for status queries on one interface index.
#[derive(Debug)]
pub(crate) struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

impl Netlink {
    /// Opens a route netlink socket in the current network namespace (no privilege needed).
    pub(crate) fn open() -> io::Result<Netlink> {
        // SAFETY: plain system call; the result is checked.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor we own from here on.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // The kernel answers synchronously; the timeout only guards against a lost reply.
        let tv = libc::timeval {
            tv_sec: 2,
            tv_usec: 0,
        };
        // SAFETY: tv is a valid timeval of the size passed.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const libc::timeval as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        Ok(Netlink { fd, seq: 0 })
    }

    /// Asks the kernel for the carrier and operstate of interface `index`.
    pub(crate) fn status(&mut self, index: u32) -> io::Result<LinkStatus> {
        self.seq = self.seq.wrapping_add(1);
        let mut req = [0u8; NLMSG_HDR + IFINFO_LEN];
        req[0..4].copy_from_slice(&((NLMSG_HDR + IFINFO_LEN) as u32).to_ne_bytes());
        req[4..6].copy_from_slice(&libc::RTM_GETLINK.to_ne_bytes());
        req[6..8].copy_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
        req[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        // ifinfomsg: family AF_UNSPEC (0), pad, type, then the index at offset 4.
        req[NLMSG_HDR + 4..NLMSG_HDR + 8].copy_from_slice(&(index as i32).to_ne_bytes());
        // SAFETY: req is valid for its length.
        let n = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                req.as_ptr() as *const libc::c_void,
                req.len(),
                0,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        // A netlink datagram can be up to 32 KiB (the kernel's cap); a shorter buffer
        // would cut a long reply (many attributes) and lose the answer.
        let mut buf = [0u8; 32 * 1024];
        loop {
            // SAFETY: buf is valid for its length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    0,
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            if let Some(st) = parse_reply(&buf[..n as usize], self.seq)? {
                return Ok(st);
            }
        }
    }
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

/// Parses the messages of one datagram; `Ok(None)` when none is the answer to `seq`.
fn parse_reply(mut b: &[u8], seq: u32) -> io::Result<Option<LinkStatus>> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed netlink reply");
    while b.len() >= NLMSG_HDR {
        let len = u32_at(b, 0).ok_or_else(bad)? as usize;
        let ty = u16_at(b, 4).ok_or_else(bad)?;
        let mseq = u32_at(b, 8).ok_or_else(bad)?;
        if len < NLMSG_HDR || len > b.len() {
            return Err(bad());
        }
        let msg = &b[..len];
        if mseq == seq {
            if ty == NLMSG_ERROR {
                let errno = u32_at(msg, NLMSG_HDR).ok_or_else(bad)? as i32;
                let errno = errno.checked_neg().ok_or_else(bad)?;
                return Err(io::Error::from_raw_os_error(errno));
            }
            if ty == RTM_NEWLINK {
                return Ok(Some(parse_link(
                    msg.get(NLMSG_HDR + IFINFO_LEN..).ok_or_else(bad)?,
                )));
            }
        }
        b = b.get(align4(len)..).unwrap_or(&[]);
    }
    Ok(None)
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Reads `IFLA_OPERSTATE` and `IFLA_CARRIER` from the attributes of an `RTM_NEWLINK`.
fn parse_link(mut attrs: &[u8]) -> LinkStatus {
    let mut st = LinkStatus {
        carrier: false,
        oper: OperState::Unknown,
    };
    while let (Some(len), Some(ty)) = (u16_at(attrs, 0), u16_at(attrs, 2)) {
        let len = len as usize;
        if len < 4 || len > attrs.len() {
            break;
        }
        let val = attrs.get(4).copied().unwrap_or(0);
        match ty {
            IFLA_OPERSTATE => st.oper = OperState::from_rfc2863(val),
            IFLA_CARRIER => st.carrier = val != 0,
            _ => {}
        }
        attrs = attrs.get(align4(len)..).unwrap_or(&[]);
    }
    st
}

/// Carrier and operstate from `/sys/class/net/IF/{carrier,operstate}`. Reading `carrier`
/// fails (EINVAL) while the interface is administratively down: that is carrier false. Only
/// right in the namespace that mounted `/sys`.
pub fn status_from_sysfs(ifname: &str) -> io::Result<LinkStatus> {
    let dir = std::path::Path::new("/sys/class/net").join(ifname);
    let oper = OperState::from_kernel(&std::fs::read_to_string(dir.join("operstate"))?);
    let carrier = std::fs::read_to_string(dir.join("carrier"))
        .map(|s| s.trim() == "1")
        .unwrap_or(false);
    Ok(LinkStatus { carrier, oper })
}
