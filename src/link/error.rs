//! The link layer's error type.

use std::io;

use thiserror::Error;

/// Why a link could not be opened or used.
#[derive(Debug, Error)]
pub enum LinkError {
    /// The process lacks a capability the operation needs.
    #[error(
        "{op} needs {cap}: run as root, or grant it with \
         `sudo setcap cap_net_raw,cap_net_admin+ep {exe}` \
         (under systemd: AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN)"
    )]
    NeedCapability {
        /// What was attempted.
        op: String,
        /// The capability missing (e.g. `CAP_NET_RAW`).
        cap: &'static str,
        /// The executable to grant it to.
        exe: String,
    },
    /// No interface has that name.
    #[error("no network interface named `{0}` (see `ip link`)")]
    NoSuchInterface(String),
    /// A frame larger than the adapter can carry.
    #[error("frame of {len} bytes exceeds {link}'s limit of {max} (MTU {mtu} + 14-byte header)")]
    TooBig {
        /// The adapter's name.
        link: String,
        /// The frame's length.
        len: usize,
        /// The largest frame the adapter takes.
        max: usize,
        /// The adapter's MTU.
        mtu: usize,
    },
    /// The other end is gone (a simulated wire removed, a replay finished and closed).
    #[error("{0}: link closed")]
    Closed(String),
    /// Reading or writing a capture file failed.
    #[error("capture file: {0}")]
    Capture(#[from] crate::capture::CaptureError),
    /// Any other system call failure.
    #[error("{op}: {source}")]
    Io {
        /// What was attempted.
        op: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl LinkError {
    /// True for an [`LinkError::Io`] whose source is [`io::ErrorKind::WouldBlock`]: the
    /// operation did nothing now (a full send buffer) and may succeed if tried again later.
    pub fn is_would_block(&self) -> bool {
        matches!(self, LinkError::Io { source, .. } if source.kind() == io::ErrorKind::WouldBlock)
    }
}
