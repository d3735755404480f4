//! tokio readiness for a [`RawLink`]: waiting for frames without a thread per socket.
//!
//! | call | waits for | then |
//! |---|---|---|
//! | [`AsyncRawLink::readable`] | the socket to be readable | returns |
//! | [`AsyncRawLink::recv`] | a frame | [`Link::recv`] |
//! | [`AsyncRawLink::recv_batch`] | at least one frame | [`RawLink::recv_batch`] |
//!
//! Sends do not wait: a packet socket's send fails rather than blocks, and the protocol
//! cores retransmit.

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::RawLink;
use crate::link::{Link, LinkError, RxMeta};

/// A [`RawLink`] registered with the tokio reactor (create it inside a runtime).
#[derive(Debug)]
pub struct AsyncRawLink {
    fd: AsyncFd<RawLink>,
}

fn reactor_err(source: std::io::Error) -> LinkError {
    LinkError::Io {
        op: "waiting on the tokio reactor".into(),
        source,
    }
}

impl AsyncRawLink {
    /// Registers `link` for readability with the current tokio runtime (panics outside
    /// one, as tokio's own registrations do).
    pub fn new(link: RawLink) -> Result<AsyncRawLink, LinkError> {
        // SAFETY: RawLink owns its descriptor and never closes or replaces it while the
        // AsyncFd holds it (only dropping the link closes it, after deregistration).
        let fd = unsafe { AsyncFd::register_with_interest(link, Interest::READABLE) }
            .map_err(|e| reactor_err(e.into_parts().1))?;
        Ok(AsyncRawLink { fd })
    }

    /// The link, for sends, status and info.
    pub fn get_ref(&self) -> &RawLink {
        self.fd.get_ref()
    }

    /// The link, mutably.
    pub fn get_mut(&mut self) -> &mut RawLink {
        self.fd.get_mut()
    }

    /// Deregisters and returns the link.
    pub fn into_inner(self) -> RawLink {
        self.fd.into_inner()
    }

    /// Waits until the socket is readable (a frame may be waiting).
    pub async fn readable(&self) -> Result<(), LinkError> {
        let mut guard = self.fd.readable().await.map_err(reactor_err)?;
        guard.retain_ready();
        Ok(())
    }

    /// Waits for a frame and receives it into `buf`.
    pub async fn recv(&mut self, buf: &mut [u8]) -> Result<RxMeta, LinkError> {
        loop {
            let mut guard = self.fd.readable_mut().await.map_err(reactor_err)?;
            match guard.get_inner_mut().recv(buf)? {
                Some(meta) => return Ok(meta),
                None => guard.clear_ready(),
            }
        }
    }

    /// Waits for at least one frame, then receives as many as are waiting and fit.
    pub async fn recv_batch<B: AsMut<[u8]>>(
        &mut self,
        bufs: &mut [B],
        metas: &mut [RxMeta],
    ) -> Result<usize, LinkError> {
        if bufs.is_empty() || metas.is_empty() {
            return Ok(0);
        }
        loop {
            let mut guard = self.fd.readable_mut().await.map_err(reactor_err)?;
            match guard.get_inner_mut().recv_batch(bufs, metas)? {
                0 => guard.clear_ready(),
                n => return Ok(n),
            }
        }
    }
}
