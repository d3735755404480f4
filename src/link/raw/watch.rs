//! Link-state events (carrier, operstate, removal) from rtnetlink, as they happen.
//!
//! | offset | one `RTM_NEWLINK` / `RTM_DELLINK` message (host byte order) |
//! |---|---|
//! | 0..4 | `nlmsg_len`: whole message, header included (>= 32) |
//! | 4..6 | `nlmsg_type`: 16 `RTM_NEWLINK`, 17 `RTM_DELLINK` (2 error, 3 done, 4 overrun) |
//! | 6..8 | `nlmsg_flags` |
//! | 8..12 | `nlmsg_seq` |
//! | 12..16 | `nlmsg_pid`: 0 from the kernel |
//! | 16..32 | `ifinfomsg`: family u8 (only 0, `AF_UNSPEC`, is read), pad u8, type u16, index i32, flags u32, change u32 |
//! | 32.. | `rtattr`s: len u16 (header included), type u16, payload, padded to 4 |
//!
//! Attributes read: `IFLA_IFNAME` (3, NUL-terminated), `IFLA_MTU` (4, u32),
//! `IFLA_OPERSTATE` (16, u8 RFC 2863 value) and `IFLA_CARRIER` (33, u8); the rest are
//! skipped. A datagram holds one or more messages, each starting at a 4-byte boundary.
//!
//! [`LinkWatcher`] is a `NETLINK_ROUTE` socket bound to the `RTMGRP_LINK` multicast group in
//! the network namespace of the thread that opens it. It never blocks: [`LinkWatcher::poll`]
//! returns `Ok(None)` when no event is waiting; wait with `poll(2)` on its descriptor or
//! with [`AsyncLinkWatcher`]. The kernel sends an `RTM_NEWLINK` for every change to a link
//! (flags, MTU, address, carrier, operstate, ...), so consecutive events may carry the same
//! state: compare with the last one. If events come faster than they are read, the kernel
//! drops some and the next receive fails with `ENOBUFS` (reported as an error, after which
//! the watcher keeps working): re-read the state, e.g. with [`LinkWatcher::request_dump`].
//!
//! [`parse_link_messages`] is the pure parser: bounds-checked, never panics, no allocation.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use thiserror::Error;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::link::sys::io_err;
use crate::link::{LinkError, LinkStatus, OperState};

const NLMSG_HDR: usize = 16;
const IFINFO_LEN: usize = 16;
const RTA_HDR: usize = 4;

const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;

/// `ifi_family` of the link messages read: the generic view of a link.
const AF_UNSPEC: u8 = 0;

const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_CARRIER: u16 = 33;
/// `NLA_F_NESTED | NLA_F_NET_BYTEORDER` are flags, not part of the type.
const NLA_TYPE_MASK: u16 = 0x3fff;

/// `RTMGRP_LINK`: the link multicast group.
const RTMGRP_LINK: u32 = 1;
/// Longest interface name, without its NUL (`IFNAMSIZ - 1`).
pub const IFNAME_MAX: usize = 15;
/// Receive buffer: the kernel caps one netlink datagram at 32 KiB; room to spare.
const RECV_BUF: usize = 64 * 1024;

/// Why a netlink datagram could not be read as link messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum NetlinkError {
    /// Fewer bytes left than a 16-byte `nlmsghdr`.
    #[error("netlink header truncated: {have} of 16 bytes")]
    HeaderTruncated {
        /// Bytes left in the datagram.
        have: usize,
    },
    /// `nlmsg_len` below the header size or past the end of the datagram.
    #[error("netlink message length {len} invalid with {have} bytes left")]
    BadMessageLength {
        /// The length field.
        len: u32,
        /// Bytes left in the datagram.
        have: usize,
    },
    /// A link message too short for its `ifinfomsg`.
    #[error("link message of {len} bytes too short for its header and ifinfomsg (32)")]
    InfoTruncated {
        /// The message length.
        len: usize,
    },
    /// `rta_len` below the attribute header size or past the end of the message.
    #[error("route attribute length {len} invalid with {have} bytes left")]
    BadAttributeLength {
        /// The length field.
        len: u16,
        /// Bytes left in the message.
        have: usize,
    },
    /// A known attribute whose payload is too short for its value.
    #[error("attribute {kind} has a {len}-byte payload, needs {need}")]
    ShortAttribute {
        /// The attribute type.
        kind: u16,
        /// Payload length.
        len: usize,
        /// Bytes the value needs.
        need: usize,
    },
    /// An `IFLA_IFNAME` longer than the kernel allows.
    #[error("interface name of {len} bytes (at most 15)")]
    NameTooLong {
        /// The name's length up to its NUL (or the whole payload).
        len: usize,
    },
    /// An `NLMSG_ERROR` message too short for its error code.
    #[error("netlink error message truncated")]
    ErrorTruncated,
    /// The kernel answered a request with an error (`NLMSG_ERROR`, errno positive).
    #[error("the kernel answered: {}", io::Error::from_raw_os_error(*.errno))]
    Kernel {
        /// The errno.
        errno: i32,
    },
    /// `NLMSG_OVERRUN`: data was lost.
    #[error("netlink overrun: link events lost")]
    Overrun,
}

/// One change to a link: a new or changed interface (`RTM_NEWLINK`) or a removed one
/// (`RTM_DELLINK`). Attributes the message lacked are `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkEvent {
    /// Interface index.
    pub index: u32,
    /// True for `RTM_DELLINK`: the interface is gone (or left the namespace).
    pub removed: bool,
    /// `ifi_flags`: `IFF_UP` (0x1), `IFF_RUNNING` (0x40), `IFF_LOWER_UP` (0x10000), ...
    pub flags: u32,
    /// Carrier (`IFLA_CARRIER`).
    pub carrier: Option<bool>,
    /// Operational state (`IFLA_OPERSTATE`).
    pub oper: Option<OperState>,
    /// MTU (`IFLA_MTU`).
    pub mtu: Option<u32>,
    name: [u8; IFNAME_MAX],
    name_len: u8,
    has_name: bool,
}

impl LinkEvent {
    /// An event for `index` with no attributes.
    pub fn new(index: u32, removed: bool) -> LinkEvent {
        LinkEvent {
            index,
            removed,
            flags: 0,
            carrier: None,
            oper: None,
            mtu: None,
            name: [0; IFNAME_MAX],
            name_len: 0,
            has_name: false,
        }
    }

    /// The interface name's bytes (`IFLA_IFNAME`), if the message carried one.
    pub fn name_bytes(&self) -> Option<&[u8]> {
        self.has_name
            .then(|| self.name.get(..self.name_len as usize).unwrap_or(&[]))
    }

    /// The interface name, if the message carried one and it is UTF-8.
    pub fn name(&self) -> Option<&str> {
        self.name_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// Sets the name; [`NetlinkError::NameTooLong`] past 15 bytes.
    pub fn set_name(&mut self, name: &[u8]) -> Result<(), NetlinkError> {
        if name.len() > IFNAME_MAX {
            return Err(NetlinkError::NameTooLong { len: name.len() });
        }
        self.name = [0; IFNAME_MAX];
        self.name[..name.len()].copy_from_slice(name);
        self.name_len = name.len() as u8;
        self.has_name = true;
        Ok(())
    }

    /// Carrier and operstate, when the message carried both; a removed link is
    /// carrier false, [`OperState::NotPresent`].
    pub fn status(&self) -> Option<LinkStatus> {
        if self.removed {
            return Some(LinkStatus {
                carrier: false,
                oper: OperState::NotPresent,
            });
        }
        Some(LinkStatus {
            carrier: self.carrier?,
            oper: self.oper?,
        })
    }
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(
        b.get(off..off.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(
        b.get(off..off.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// The link messages of one datagram, in order; see [`parse_link_messages`].
#[derive(Clone, Debug)]
pub struct LinkMessages<'a> {
    rest: &'a [u8],
}

impl<'a> LinkMessages<'a> {
    /// The bytes not yet parsed (empty after a framing error).
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }
}

/// Iterates over the link events in a netlink datagram. Messages other than
/// `RTM_NEWLINK`/`RTM_DELLINK` (no-ops, dump ends, acknowledgements, other families) are
/// skipped; an `NLMSG_ERROR` with an errno and an `NLMSG_OVERRUN` are errors. A malformed
/// message yields one error: inside a message (bad attribute), the iterator goes on with
/// the next one; in the framing (bad `nlmsghdr`), it ends, since nothing after can be found.
pub fn parse_link_messages(buf: &[u8]) -> LinkMessages<'_> {
    LinkMessages { rest: buf }
}

impl Iterator for LinkMessages<'_> {
    type Item = Result<LinkEvent, NetlinkError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.rest.is_empty() {
            let b = self.rest;
            let (Some(len), Some(ty), true) = (u32_at(b, 0), u16_at(b, 4), b.len() >= NLMSG_HDR)
            else {
                self.rest = &[];
                return Some(Err(NetlinkError::HeaderTruncated { have: b.len() }));
            };
            let ulen = len as usize;
            if ulen < NLMSG_HDR || ulen > b.len() {
                self.rest = &[];
                return Some(Err(NetlinkError::BadMessageLength { len, have: b.len() }));
            }
            let msg = &b[..ulen];
            // The last message need not be padded: clamp to the end.
            self.rest = b.get(align4(ulen)..).unwrap_or(&[]);
            match ty {
                // Another family's view of a link (AF_BRIDGE for a bridge port, sent as an
                // RTM_DELLINK when the port leaves its bridge) is not the link itself.
                RTM_NEWLINK | RTM_DELLINK
                    if msg.get(NLMSG_HDR).is_some_and(|&f| f != AF_UNSPEC) => {}
                RTM_NEWLINK | RTM_DELLINK => return Some(parse_link(msg, ty == RTM_DELLINK)),
                NLMSG_ERROR => match u32_at(msg, NLMSG_HDR) {
                    None => return Some(Err(NetlinkError::ErrorTruncated)),
                    Some(0) => {} // an acknowledgement
                    Some(e) => {
                        let errno = (e as i32).checked_neg().unwrap_or(i32::MAX);
                        return Some(Err(NetlinkError::Kernel { errno }));
                    }
                },
                NLMSG_OVERRUN => return Some(Err(NetlinkError::Overrun)),
                NLMSG_NOOP | NLMSG_DONE => {}
                _ => {}
            }
        }
        None
    }
}

/// Parses one whole `RTM_NEWLINK`/`RTM_DELLINK` message (header included).
fn parse_link(msg: &[u8], removed: bool) -> Result<LinkEvent, NetlinkError> {
    let info = NLMSG_HDR + IFINFO_LEN;
    let (Some(index), Some(flags), Some(mut attrs)) = (
        u32_at(msg, NLMSG_HDR + 4),
        u32_at(msg, NLMSG_HDR + 8),
        msg.get(info..),
    ) else {
        return Err(NetlinkError::InfoTruncated { len: msg.len() });
    };
    let mut ev = LinkEvent::new(index, removed);
    ev.flags = flags;
    while !attrs.is_empty() {
        let (Some(len), Some(ty)) = (u16_at(attrs, 0), u16_at(attrs, 2)) else {
            return Err(NetlinkError::BadAttributeLength {
                len: 0,
                have: attrs.len(),
            });
        };
        let ulen = len as usize;
        if ulen < RTA_HDR || ulen > attrs.len() {
            return Err(NetlinkError::BadAttributeLength {
                len,
                have: attrs.len(),
            });
        }
        let payload = &attrs[RTA_HDR..ulen];
        let kind = ty & NLA_TYPE_MASK;
        let short = |need: usize| NetlinkError::ShortAttribute {
            kind,
            len: payload.len(),
            need,
        };
        match kind {
            IFLA_IFNAME => {
                let name = payload.split(|&c| c == 0).next().unwrap_or(&[]);
                ev.set_name(name)?;
            }
            IFLA_MTU => ev.mtu = Some(u32_at(payload, 0).ok_or_else(|| short(4))?),
            IFLA_OPERSTATE => {
                ev.oper = Some(OperState::from_rfc2863(
                    *payload.first().ok_or_else(|| short(1))?,
                ));
            }
            IFLA_CARRIER => ev.carrier = Some(*payload.first().ok_or_else(|| short(1))? != 0),
            _ => {}
        }
        attrs = attrs.get(align4(ulen)..).unwrap_or(&[]);
    }
    Ok(ev)
}

fn parse_err(e: NetlinkError) -> LinkError {
    LinkError::Io {
        op: "reading a link event".into(),
        source: io::Error::new(io::ErrorKind::InvalidData, e),
    }
}

/// Link events from the kernel: a non-blocking `NETLINK_ROUTE` socket in the `RTMGRP_LINK`
/// group of the opening thread's network namespace. No privilege is needed.
#[derive(Debug)]
pub struct LinkWatcher {
    fd: OwnedFd,
    filter: Option<u32>,
    buf: Box<[u8]>,
    /// The unread part of the last datagram is `buf[pos..end]`.
    pos: usize,
    end: usize,
    seq: u32,
}

impl LinkWatcher {
    /// Opens a watcher for every link in the calling thread's network namespace.
    pub fn open() -> Result<LinkWatcher, LinkError> {
        // SAFETY: plain system call; the result is checked.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if raw < 0 {
            return Err(io_err("opening a route netlink socket")(
                io::Error::last_os_error(),
            ));
        }
        // SAFETY: `raw` is a fresh descriptor we own from here on.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_nl is plain data; all-zero is a valid value.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        sa.nl_groups = RTMGRP_LINK;
        // SAFETY: sa is a valid sockaddr_nl of the size passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &sa as *const libc::sockaddr_nl as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io_err("joining the rtnetlink link group")(
                io::Error::last_os_error(),
            ));
        }
        Ok(LinkWatcher {
            fd,
            filter: None,
            buf: vec![0u8; RECV_BUF].into_boxed_slice(),
            pos: 0,
            end: 0,
            seq: 0,
        })
    }

    /// Opens a watcher that reports only interface `index`.
    pub fn for_index(index: u32) -> Result<LinkWatcher, LinkError> {
        let mut w = LinkWatcher::open()?;
        w.set_filter(Some(index));
        Ok(w)
    }

    /// Reports only interface `index` (`None`: every interface).
    pub fn set_filter(&mut self, index: Option<u32>) {
        self.filter = index;
    }

    /// Asks the kernel for the current state of every link: the answers arrive through
    /// [`poll`](Self::poll) as ordinary events, in order with the changes, so a driver can
    /// start (or resynchronise after `ENOBUFS`) without a race.
    pub fn request_dump(&mut self) -> Result<(), LinkError> {
        self.seq = self.seq.wrapping_add(1);
        let mut req = [0u8; NLMSG_HDR + IFINFO_LEN];
        req[0..4].copy_from_slice(&((NLMSG_HDR + IFINFO_LEN) as u32).to_ne_bytes());
        req[4..6].copy_from_slice(&libc::RTM_GETLINK.to_ne_bytes());
        let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
        req[6..8].copy_from_slice(&flags.to_ne_bytes());
        req[8..12].copy_from_slice(&self.seq.to_ne_bytes());
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
            return Err(io_err("requesting a link dump")(io::Error::last_os_error()));
        }
        Ok(())
    }

    /// The next event if one is waiting, `Ok(None)` if none is. Errors: a malformed
    /// message (`InvalidData`, wrapping a [`NetlinkError`]; the rest of its datagram is
    /// still read when the framing allows), lost events (`ENOBUFS`), or a socket failure.
    pub fn poll(&mut self) -> Result<Option<LinkEvent>, LinkError> {
        loop {
            while self.pos < self.end {
                let unread = self.buf.get(self.pos..self.end).unwrap_or(&[]);
                let mut it = parse_link_messages(unread);
                let item = it.next();
                self.pos = self.end - it.remaining().len();
                match item {
                    None => self.pos = self.end,
                    Some(Err(e)) => return Err(parse_err(e)),
                    Some(Ok(ev)) => match self.filter {
                        Some(i) if i != ev.index => {}
                        _ => return Ok(Some(ev)),
                    },
                }
            }
            if !self.receive()? {
                return Ok(None);
            }
        }
    }

    /// Reads one datagram from the kernel into the buffer; false when none is waiting.
    fn receive(&mut self) -> Result<bool, LinkError> {
        loop {
            // SAFETY: sockaddr_nl is plain data; all-zero is a valid value.
            let mut from: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
            let mut from_len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            // SAFETY: buf and from are valid for the lengths passed.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr() as *mut libc::c_void,
                    self.buf.len(),
                    libc::MSG_DONTWAIT,
                    &mut from as *mut libc::sockaddr_nl as *mut libc::sockaddr,
                    &mut from_len,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                return match e.raw_os_error() {
                    Some(libc::EAGAIN) => Ok(false),
                    Some(libc::EINTR) => continue,
                    Some(libc::ENOBUFS) => Err(io_err(
                        "reading link events (some were lost: re-read the link state)",
                    )(e)),
                    _ => Err(io_err("reading link events")(e)),
                };
            }
            // Only the kernel (port 0) speaks for the links; ignore anything else.
            if from.nl_pid != 0 {
                continue;
            }
            self.pos = 0;
            self.end = (n as usize).min(self.buf.len());
            return Ok(true);
        }
    }
}

impl AsRawFd for LinkWatcher {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for LinkWatcher {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A [`LinkWatcher`] registered with the tokio reactor (create it inside a runtime).
#[derive(Debug)]
pub struct AsyncLinkWatcher {
    fd: AsyncFd<LinkWatcher>,
}

impl AsyncLinkWatcher {
    /// Registers `watcher` for readability with the current tokio runtime (panics outside
    /// one, as tokio's own registrations do).
    pub fn new(watcher: LinkWatcher) -> Result<AsyncLinkWatcher, LinkError> {
        // SAFETY: LinkWatcher owns its descriptor and never closes or replaces it while the
        // AsyncFd holds it (only dropping the watcher closes it, after deregistration).
        let fd = unsafe { AsyncFd::register_with_interest(watcher, Interest::READABLE) }
            .map_err(|e| io_err("registering with the tokio reactor")(e.into_parts().1))?;
        Ok(AsyncLinkWatcher { fd })
    }

    /// The watcher, for [`LinkWatcher::request_dump`] and filters.
    pub fn get_mut(&mut self) -> &mut LinkWatcher {
        self.fd.get_mut()
    }

    /// Deregisters and returns the watcher.
    pub fn into_inner(self) -> LinkWatcher {
        self.fd.into_inner()
    }

    /// Waits for the next event.
    pub async fn next(&mut self) -> Result<LinkEvent, LinkError> {
        loop {
            // Events already read into the buffer need no readiness.
            if let Some(ev) = self.fd.get_mut().poll()? {
                return Ok(ev);
            }
            let mut guard = self
                .fd
                .readable_mut()
                .await
                .map_err(io_err("waiting on the tokio reactor"))?;
            match guard.get_inner_mut().poll()? {
                Some(ev) => return Ok(ev),
                None => guard.clear_ready(),
            }
        }
    }
}
