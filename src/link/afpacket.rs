//! A raw `AF_PACKET` socket bound to one interface.
//!
//! Opening one needs `CAP_NET_RAW`; promiscuous mode needs `CAP_NET_ADMIN`. Without them the
//! error names the capability and the fix, never a panic and never a silent fallback.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, SystemTime};

use super::error::LinkError;
use super::sys::{cap_err, setsockopt};

/// `ETH_P_ALL`: every protocol.
pub const ETH_P_ALL: u16 = 0x0003;

fn os_err_now(op: String, cap: &'static str) -> LinkError {
    cap_err(op, cap, io::Error::last_os_error())
}

/// How to open a [`PacketSocket`].
#[derive(Clone, Debug)]
pub struct SocketOptions {
    /// Link-level protocol to receive (host order), e.g. [`ETH_P_ALL`].
    pub protocol: u16,
    /// Receive every frame on the segment, not just ours (needs `CAP_NET_ADMIN`).
    pub promiscuous: bool,
    /// Do not read back the frames this host sends.
    pub ignore_outgoing: bool,
    /// Longest a `recv` blocks before returning `Ok(None)`, so callers can check for signals
    /// (at least 1 µs: shorter, including zero, is taken as 1 µs; `None` blocks forever).
    pub read_timeout: Option<Duration>,
}

impl Default for SocketOptions {
    fn default() -> Self {
        SocketOptions {
            protocol: ETH_P_ALL,
            promiscuous: false,
            ignore_outgoing: true,
            read_timeout: Some(Duration::from_millis(200)),
        }
    }
}

/// What the kernel said about a received frame.
#[derive(Clone, Copy, Debug)]
pub struct RecvMeta {
    /// Bytes copied into the buffer.
    pub len: usize,
    /// Length of the frame on the wire (larger than `len` when the buffer was too small).
    pub orig_len: usize,
    /// When the frame was read.
    pub ts: SystemTime,
    /// True when this host sent the frame (`PACKET_OUTGOING`).
    pub outgoing: bool,
}

/// A raw packet socket bound to one interface.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
}

fn sockaddr_ll(protocol: u16, ifindex: i32) -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = protocol.to_be();
    sll.sll_ifindex = ifindex;
    sll
}

impl PacketSocket {
    /// Opens a raw socket on interface `ifname`.
    pub fn open(ifname: &str, opts: &SocketOptions) -> Result<PacketSocket, LinkError> {
        let cname = CString::new(ifname).map_err(|_| LinkError::NoSuchInterface(ifname.into()))?;
        // SAFETY: cname is a valid NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) } as i32;
        if ifindex == 0 {
            return Err(LinkError::NoSuchInterface(ifname.into()));
        }
        // Protocol 0: the socket receives nothing until bind sets the protocol together
        // with the interface, so no frame from another interface is ever queued.
        // SAFETY: plain system call; the result is checked.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(os_err_now(
                format!("opening a raw packet socket on {ifname}"),
                "CAP_NET_RAW",
            ));
        }
        // SAFETY: `raw` is a fresh descriptor that we own from here on.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let sock = PacketSocket { fd, ifindex };
        let sll = sockaddr_ll(opts.protocol, ifindex);
        // SAFETY: `sll` is a valid sockaddr_ll of the size passed.
        let rc = unsafe {
            libc::bind(
                sock.fd.as_raw_fd(),
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(os_err_now(format!("binding to {ifname}"), "CAP_NET_RAW"));
        }
        let fd = sock.fd.as_raw_fd();
        if opts.ignore_outgoing {
            let one: libc::c_int = 1;
            // Older kernels lack the option; reading our own frames back is then filtered above.
            let _ = setsockopt(fd, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &one);
        }
        if opts.promiscuous {
            // SAFETY: packet_mreq is plain data; all-zero is valid.
            let mut mreq: libc::packet_mreq = unsafe { std::mem::zeroed() };
            mreq.mr_ifindex = ifindex;
            mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
            setsockopt(fd, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mreq).map_err(|e| {
                cap_err(format!("promiscuous mode on {ifname}"), "CAP_NET_ADMIN", e)
            })?;
        }
        if let Some(t) = opts.read_timeout {
            // A zero timeval means "block forever": the shortest timeout is 1 µs.
            let t = t.max(Duration::from_micros(1));
            let tv = libc::timeval {
                tv_sec: t.as_secs() as libc::time_t,
                tv_usec: t.subsec_micros() as libc::suseconds_t,
            };
            setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv).map_err(|source| {
                LinkError::Io {
                    op: "setting the receive timeout".into(),
                    source,
                }
            })?;
        }
        Ok(sock)
    }

    /// The interface index the socket is bound to.
    pub fn ifindex(&self) -> i32 {
        self.ifindex
    }

    /// Receives one frame into `buf`. Returns `Ok(None)` when the read timeout passed or a
    /// signal interrupted the wait.
    pub fn recv(&self, buf: &mut [u8]) -> Result<Option<RecvMeta>, LinkError> {
        // SAFETY: sockaddr_ll is plain data; all-zero is valid.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut sll_len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: buf and sll are valid for the lengths passed; MSG_TRUNC makes the kernel
        // return the real frame length even when it is larger than buf.
        let n = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                libc::MSG_TRUNC,
                &mut sll as *mut libc::sockaddr_ll as *mut libc::sockaddr,
                &mut sll_len,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock
                | io::ErrorKind::TimedOut
                | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(LinkError::Io {
                    op: "receiving a frame".into(),
                    source: e,
                }),
            };
        }
        let orig_len = n as usize;
        Ok(Some(RecvMeta {
            len: orig_len.min(buf.len()),
            orig_len,
            ts: SystemTime::now(),
            outgoing: sll.sll_pkttype == libc::PACKET_OUTGOING,
        }))
    }

    /// Sends one complete frame.
    pub fn send(&self, frame: &[u8]) -> Result<usize, LinkError> {
        // SAFETY: frame is valid for its length.
        let n = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                frame.as_ptr() as *const libc::c_void,
                frame.len(),
                0,
            )
        };
        if n < 0 {
            return Err(LinkError::Io {
                op: "sending a frame".into(),
                source: io::Error::last_os_error(),
            });
        }
        Ok(n as usize)
    }
}
