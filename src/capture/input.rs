//! The reader's one buffer: large reads, rare compaction, growth only for large records.
//!
//! Bytes `buf[start..end]` are read but not yet consumed. A record that does not fit in the
//! space after `start` moves the unconsumed tail (shorter than that record) to the front, so
//! each byte is copied at most about once per buffer's worth of records, never per packet.

use std::io::{self, Read};

/// Default read size and initial buffer size.
pub(crate) const CHUNK: usize = 1 << 20;

/// A buffered reader that can lend `n` contiguous bytes.
pub(crate) struct Input<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[start]`.
    pos: u64,
    eof: bool,
}

impl<R: Read> Input<R> {
    /// Wraps `inner` with a buffer of `capacity` bytes (at least 64).
    pub(crate) fn new(inner: R, capacity: usize) -> Self {
        Input {
            inner,
            buf: vec![0; capacity.max(64)],
            start: 0,
            end: 0,
            pos: 0,
            eof: false,
        }
    }

    /// The unconsumed bytes in the buffer.
    #[inline]
    pub(crate) fn avail(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    /// Stream offset of the first unconsumed byte.
    #[inline]
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// Marks `n` bytes (at most those available) as consumed.
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.pos += n as u64;
        if self.start == self.end {
            // Empty: restart at the front for free.
            self.start = 0;
            self.end = 0;
        }
    }

    /// Makes at least `n` bytes available; `Ok(false)` when the stream ends first (whatever
    /// could be read stays available).
    #[inline]
    pub(crate) fn ensure(&mut self, n: usize) -> io::Result<bool> {
        if self.end - self.start >= n {
            return Ok(true);
        }
        self.fill(n)
    }

    #[cold]
    fn fill(&mut self, n: usize) -> io::Result<bool> {
        while self.end - self.start < n {
            if self.eof {
                return Ok(false);
            }
            if self.end == self.buf.len() || self.start + n > self.buf.len() {
                self.make_room(n);
            }
            let space = match self.buf.get_mut(self.end..) {
                Some(space) if !space.is_empty() => space,
                _ => return Ok(false), // make_room guarantees space; be safe anyway
            };
            let room = space.len();
            match self.inner.read(space) {
                Ok(0) => self.eof = true,
                // A reader claiming more than it was given is buggy: clamp rather than trust.
                Ok(got) => self.end += got.min(room),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Moves the unconsumed tail to the front and, if `n` still does not fit, grows the buffer
    /// (doubling, so a corrupt huge length on a short stream costs little before EOF shows).
    fn make_room(&mut self, n: usize) {
        let have = self.end - self.start;
        if self.buf.len() < n {
            let target = n.min(self.buf.len().saturating_mul(2)).max(have + 1);
            let mut grown = vec![0; target];
            if let (Some(dst), Some(src)) =
                (grown.get_mut(..have), self.buf.get(self.start..self.end))
            {
                dst.copy_from_slice(src);
            }
            self.buf = grown;
        } else if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
        }
        self.start = 0;
        self.end = have;
    }
}
