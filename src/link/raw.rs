//! [`Link`] over a raw `AF_PACKET` socket on one interface.
//!
//! | property | how |
//! |---|---|
//! | socket | `socket(AF_PACKET, SOCK_RAW, 0)`, non-blocking, close-on-exec (socket2) |
//! | filter | classic BPF by [`LinkKind`] ([`bpf`]), attached *before* binding, so no other frame is ever queued |
//! | VLANs | `Lan`/`Msl` take untagged frames only: a tag the kernel stripped into metadata (`SKF_AD_VLAN_TAG_PRESENT`) rejects the frame; for a VLAN, open its VLAN device |
//! | binding | `ETH_P_ALL` on the interface's index |
//! | own frames | `PACKET_IGNORE_OUTGOING`: never read back |
//! | promiscuous | off unless [`RawOptions::promiscuous`] (`PACKET_MR_PROMISC`, `CAP_NET_ADMIN`) |
//! | timestamps | kernel receive time (`SO_TIMESTAMPNS` control message); wall clock if absent |
//! | batching | [`Link::send_batch`] with `sendmmsg` ([`RawLink::send_batch_vectored`]: frames in pieces), [`RawLink::recv_batch`] with `recvmmsg` |
//! | losses | `ENOBUFS` (egress drop), `ENETDOWN`/`ENXIO` (link down, gone): counted in [`RawLink::tx_dropped`], not errors; a down link receives nothing (`Ok(None)`) |
//! | full send buffer | `EAGAIN`: [`LinkError::is_would_block`]; `send_batch` returns a short count |
//! | info | index, MAC (`SIOCGIFHWADDR`) and MTU (`SIOCGIFMTU`) from the kernel |
//! | status | polled over rtnetlink (`RTM_GETLINK`), see [`state`] |
//! | events | carrier/operstate changes as they happen: [`watch::LinkWatcher`] (`RTMGRP_LINK`) |
//! | tokio | [`AsyncRawLink`]: readiness through `AsyncFd` |
//!
//! Opening needs `CAP_NET_RAW`: without it the error names the capability and the fix. Once
//! every socket is open, [`drop_capabilities`] empties the process's capability sets.

pub mod bpf;
pub mod caps;
pub mod state;
pub mod watch;

mod asyncfd;
mod mmsg;

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use socket2::{Domain, Socket, Type};

pub use asyncfd::AsyncRawLink;
pub use caps::{drop_capabilities, effective_capabilities};
pub use state::status_from_sysfs;
pub use watch::{AsyncLinkWatcher, LinkEvent, LinkWatcher};

use super::sys::{cap_err, io_err, setsockopt};
use super::{check_size, AdapterInfo, Link, LinkError, LinkStatus, RxMeta};
use crate::wire::MacAddr;

/// `ETH_P_ALL`: every protocol.
const ETH_P_ALL: u16 = 0x0003;

/// Which frames a [`RawLink`] receives (its BPF filter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkKind {
    /// An IPX LAN adapter: untagged IPX in Ethernet_II, raw 802.3, 802.2 LLC and SNAP.
    Lan,
    /// The mirrored server link: untagged EtherType `0x88B5` only.
    Msl,
    /// No filter: every frame, tagged or not (tools and tests).
    Any,
}

/// How to open a [`RawLink`].
#[derive(Clone, Debug)]
pub struct RawOptions {
    /// The filter.
    pub kind: LinkKind,
    /// Receive frames addressed to other stations too (needs `CAP_NET_ADMIN`).
    pub promiscuous: bool,
    /// Receive buffer size in bytes (`SO_RCVBUFFORCE` when privileged, else `SO_RCVBUF`,
    /// which the kernel caps at `net.core.rmem_max`); `None` keeps the default.
    pub recv_buffer: Option<usize>,
    /// Send buffer size in bytes, likewise.
    pub send_buffer: Option<usize>,
}

impl RawOptions {
    /// An MSL link: large socket buffers. The kernel's default receive buffer (about
    /// 200 KiB) overflows at veth speed under bulk traffic, and every overflow is a
    /// retransmission: a 1 GiB resync through the daemon retransmitted 11-17 % of its
    /// frames with it, against none in `bench msl`, which always used these sizes.
    pub fn msl() -> RawOptions {
        RawOptions {
            recv_buffer: Some(32 << 20),
            send_buffer: Some(4 << 20),
            ..RawOptions::new(LinkKind::Msl)
        }
    }

    /// Defaults for a kind: not promiscuous, default buffers.
    pub fn new(kind: LinkKind) -> RawOptions {
        RawOptions {
            kind,
            promiscuous: false,
            recv_buffer: None,
            send_buffer: None,
        }
    }
}

/// A raw `AF_PACKET` link on one interface. Never blocks: `recv` returns `Ok(None)` when no
/// frame is waiting; wait with [`AsyncRawLink`] or `poll(2)` on [`AsRawFd::as_raw_fd`].
#[derive(Debug)]
pub struct RawLink {
    sock: Socket,
    info: AdapterInfo,
    kind: LinkKind,
    netlink: state::Netlink,
    tx_dropped: u64,
    tx_link_down: u64,
}

/// An `ifreq` naming `ifname`, for the `SIOCGIF*` ioctls.
fn ifreq(ifname: &str) -> Option<libc::ifreq> {
    let b = ifname.as_bytes();
    if b.is_empty() || b.len() >= libc::IFNAMSIZ || b.contains(&0) {
        return None;
    }
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(b) {
        *d = *s as libc::c_char;
    }
    Some(ifr)
}

fn ioctl(fd: RawFd, req: libc::c_ulong, ifr: &mut libc::ifreq) -> io::Result<()> {
    // SAFETY: ifr is a valid ifreq the kernel reads the name from and writes the answer to.
    let rc = unsafe { libc::ioctl(fd, req as _, ifr as *mut libc::ifreq) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn set_buffer(fd: RawFd, force: i32, plain: i32, size: usize) -> io::Result<()> {
    let v = size.min(i32::MAX as usize) as libc::c_int;
    setsockopt(fd, libc::SOL_SOCKET, force, &v)
        .or_else(|_| setsockopt(fd, libc::SOL_SOCKET, plain, &v))
}

impl RawLink {
    /// Opens a link of `kind` on interface `ifname` with default options.
    pub fn open(ifname: &str, kind: LinkKind) -> Result<RawLink, LinkError> {
        RawLink::open_with(ifname, &RawOptions::new(kind))
    }

    /// Opens a link on interface `ifname`.
    pub fn open_with(ifname: &str, opts: &RawOptions) -> Result<RawLink, LinkError> {
        let cname = CString::new(ifname).map_err(|_| LinkError::NoSuchInterface(ifname.into()))?;
        // SAFETY: cname is a valid NUL-terminated string.
        let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
        if index == 0 {
            return Err(LinkError::NoSuchInterface(ifname.into()));
        }
        // Protocol 0: the socket receives nothing until bound, so the filter is in place
        // before the first frame is queued.
        let sock =
            Socket::new(Domain::PACKET, Type::RAW.nonblocking().cloexec(), None).map_err(|e| {
                cap_err(
                    format!("opening a raw packet socket on {ifname}"),
                    "CAP_NET_RAW",
                    e,
                )
            })?;
        let fd = sock.as_raw_fd();
        let one: libc::c_int = 1;
        // Older kernels (< 4.20) lack the option; their links read their own frames back.
        let _ = setsockopt(fd, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &one);
        setsockopt(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, &one)
            .map_err(io_err("enabling receive timestamps"))?;
        if let Some(p) = bpf::program(opts.kind) {
            sock.attach_filter(p)
                .map_err(io_err(format!("attaching the {:?} filter", opts.kind)))?;
        }
        if let Some(n) = opts.recv_buffer {
            set_buffer(fd, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, n)
                .map_err(io_err("setting the receive buffer"))?;
        }
        if let Some(n) = opts.send_buffer {
            set_buffer(fd, libc::SO_SNDBUFFORCE, libc::SO_SNDBUF, n)
                .map_err(io_err("setting the send buffer"))?;
        }
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ALL.to_be();
        sll.sll_ifindex = index as i32;
        // SAFETY: sll is a valid sockaddr_ll of the size passed.
        let rc = unsafe {
            libc::bind(
                fd,
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            let e = io::Error::last_os_error();
            return Err(cap_err(format!("binding to {ifname}"), "CAP_NET_RAW", e));
        }
        if opts.promiscuous {
            // SAFETY: packet_mreq is plain data; all-zero is valid.
            let mut mreq: libc::packet_mreq = unsafe { std::mem::zeroed() };
            mreq.mr_ifindex = index as i32;
            mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
            setsockopt(fd, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mreq).map_err(|e| {
                cap_err(format!("promiscuous mode on {ifname}"), "CAP_NET_ADMIN", e)
            })?;
        }
        let info = Self::query_info(fd, ifname, index)?;
        let netlink = state::Netlink::open().map_err(io_err("opening a route netlink socket"))?;
        Ok(RawLink {
            sock,
            info,
            kind: opts.kind,
            netlink,
            tx_dropped: 0,
            tx_link_down: 0,
        })
    }

    fn query_info(fd: RawFd, ifname: &str, index: u32) -> Result<AdapterInfo, LinkError> {
        let mut ifr = ifreq(ifname).ok_or_else(|| LinkError::NoSuchInterface(ifname.into()))?;
        ioctl(fd, libc::SIOCGIFHWADDR, &mut ifr)
            .map_err(io_err(format!("reading {ifname}'s MAC address")))?;
        // SAFETY: SIOCGIFHWADDR filled the hwaddr member of the union.
        let sa = unsafe { ifr.ifr_ifru.ifru_hwaddr };
        let mut mac = [0u8; 6];
        for (d, s) in mac.iter_mut().zip(sa.sa_data.iter()) {
            *d = *s as u8;
        }
        let mut ifr = ifreq(ifname).ok_or_else(|| LinkError::NoSuchInterface(ifname.into()))?;
        ioctl(fd, libc::SIOCGIFMTU, &mut ifr).map_err(io_err(format!("reading {ifname}'s MTU")))?;
        // SAFETY: SIOCGIFMTU filled the mtu member of the union.
        let mtu = unsafe { ifr.ifr_ifru.ifru_mtu };
        Ok(AdapterInfo {
            name: ifname.to_string(),
            index,
            mac: MacAddr(mac),
            mtu: mtu.max(0) as usize,
        })
    }

    /// Frames the kernel dropped on the way out: `ENOBUFS` (a full queue, or an egress
    /// filter such as the lab's MSL cut) and frames refused because the interface was down
    /// or gone (`ENETDOWN`/`ENXIO`, also counted in [`tx_link_down`](Self::tx_link_down)).
    /// They count as lost on the wire, not as errors, from both `send` and `send_batch`.
    pub fn tx_dropped(&self) -> u64 {
        self.tx_dropped
    }

    /// Of [`tx_dropped`](Self::tx_dropped), the frames refused because the interface was
    /// administratively down (`ENETDOWN`) or had vanished (`ENXIO`).
    pub fn tx_link_down(&self) -> u64 {
        self.tx_link_down
    }

    /// The link's filter.
    pub fn kind(&self) -> LinkKind {
        self.kind
    }

    /// Re-reads the MTU from the kernel (after `ip link set IF mtu N`).
    pub fn refresh_info(&mut self) -> Result<&AdapterInfo, LinkError> {
        self.info = Self::query_info(self.sock.as_raw_fd(), &self.info.name, self.info.index)?;
        Ok(&self.info)
    }

    /// [`Link::send_batch`] with each frame in up to three pieces sent back to back
    /// (`sendmmsg` with one `iovec` per non-empty piece): e.g. headers, a payload that lives
    /// elsewhere and a trailer, so the payload is never copied into a frame buffer. Size
    /// checks, drops (`ENOBUFS`, link down: counted and skipped) and the returned count are
    /// those of `send_batch`.
    pub fn send_batch_vectored(&mut self, frames: &[[&[u8]; 3]]) -> Result<usize, LinkError> {
        for f in frames {
            let len: usize = f.iter().map(|p| p.len()).sum();
            if len > self.info.max_frame() {
                return Err(LinkError::TooBig {
                    link: self.info.name.clone(),
                    len,
                    max: self.info.max_frame(),
                    mtu: self.info.mtu,
                });
            }
        }
        let out = mmsg::send_batch_vectored(self.sock.as_raw_fd(), frames)
            .map_err(io_err(format!("sending frames on {}", self.info.name)))?;
        self.tx_dropped += out.dropped;
        self.tx_link_down += out.link_down;
        Ok(out.done)
    }

    /// Receives up to `min(bufs.len(), metas.len())` waiting frames in one `recvmmsg` call;
    /// returns how many (0 when none is waiting). Frame `i` is in `bufs[i]`, described by
    /// `metas[i]`; a frame longer than its buffer is cut (`len < orig_len`). The interface
    /// going down or away (`ENETDOWN`/`ENXIO`, reported once by the kernel) is 0 too:
    /// [`Link::status`] says why nothing arrives.
    pub fn recv_batch<B: AsMut<[u8]>>(
        &mut self,
        bufs: &mut [B],
        metas: &mut [RxMeta],
    ) -> Result<usize, LinkError> {
        match mmsg::recv_batch(self.sock.as_raw_fd(), bufs, metas) {
            Ok(n) => Ok(n),
            Err(e) if mmsg::link_down(&e) => Ok(0),
            Err(e) => Err(io_err(format!("receiving frames on {}", self.info.name))(e)),
        }
    }
}

impl AsRawFd for RawLink {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl AsFd for RawLink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl Link for RawLink {
    fn info(&self) -> &AdapterInfo {
        &self.info
    }

    /// One `send(2)` with `MSG_DONTWAIT`. A frame the kernel drops (`ENOBUFS`) or refuses
    /// because the interface is down or gone (`ENETDOWN`/`ENXIO`) is `Ok`, counted in
    /// [`RawLink::tx_dropped`]. A full send buffer is [`LinkError::Io`] whose source has
    /// [`io::ErrorKind::WouldBlock`] ([`LinkError::is_would_block`]): the frame was not
    /// sent, and sending it again later may succeed.
    fn send(&mut self, frame: &[u8]) -> Result<(), LinkError> {
        check_size(&self.info, frame)?;
        // One send(2) per frame: the plain path (and the benchmark's baseline).
        loop {
            match self.sock.send_with_flags(frame, libc::MSG_DONTWAIT) {
                Ok(_) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                // The kernel dropped it on the way out: a loss, as on a wire, for the
                // transport above to recover from.
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    self.tx_dropped += 1;
                    return Ok(());
                }
                // The link is down: status() reports it; the frame is lost like on a wire.
                Err(e) if mmsg::link_down(&e) => {
                    self.tx_dropped += 1;
                    self.tx_link_down += 1;
                    return Ok(());
                }
                Err(e) => {
                    let name = &self.info.name;
                    let op = if e.kind() == io::ErrorKind::WouldBlock {
                        format!("sending a frame on {name} (send buffer full: try again)")
                    } else {
                        format!("sending a frame on {name}")
                    };
                    return Err(io_err(op)(e));
                }
            }
        }
    }

    /// `sendmmsg` in batches of 64. Frames dropped as in [`send`](Link::send) are counted
    /// and skipped; the count returned includes them, and is short only when the send
    /// buffer is full.
    fn send_batch(&mut self, frames: &[&[u8]]) -> Result<usize, LinkError> {
        for f in frames {
            check_size(&self.info, f)?;
        }
        let out = mmsg::send_batch(self.sock.as_raw_fd(), frames)
            .map_err(io_err(format!("sending frames on {}", self.info.name)))?;
        self.tx_dropped += out.dropped;
        self.tx_link_down += out.link_down;
        Ok(out.done)
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<Option<RxMeta>, LinkError> {
        let mut meta = [mmsg::EMPTY_META];
        let n = self.recv_batch(&mut [buf], &mut meta)?;
        Ok((n == 1).then_some(meta[0]))
    }

    fn status(&mut self) -> Result<LinkStatus, LinkError> {
        self.netlink
            .status(self.info.index)
            .map_err(io_err(format!("reading {}'s link state", self.info.name)))
    }
}
