//! [`PcapWriter`]: classic pcap output (version 2.4, host-independent little-endian).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::pcap::{FILE_HEADER_LEN, RECORD_HEADER_LEN};
use super::{CaptureError, LinkType, Timestamp, DEFAULT_SNAPLEN, MAX_RECORD_LEN};

/// The timestamp resolution a pcap file is written with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TsResolution {
    /// Microseconds (magic `a1b2c3d4`), what every pcap reader understands.
    #[default]
    Micro,
    /// Nanoseconds (magic `a1b23c4d`).
    Nano,
}

/// Writes packets as a classic pcap file.
///
/// Each packet costs two `write_all` calls and no allocation: give it a buffered writer
/// ([`PcapWriter::create`] does). Data is written as given; `orig_len` is raised to the data's
/// length if smaller, so the file stays valid.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    inner: W,
    resolution: TsResolution,
}

impl PcapWriter<BufWriter<File>> {
    /// Creates (or truncates) a file with the default header: microseconds, Ethernet.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, CaptureError> {
        Self::new(BufWriter::with_capacity(1 << 20, File::create(path)?))
    }
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header for microsecond timestamps, link type Ethernet and snaplen
    /// [`DEFAULT_SNAPLEN`].
    pub fn new(inner: W) -> Result<Self, CaptureError> {
        Self::with_options(
            inner,
            TsResolution::Micro,
            LinkType::ETHERNET,
            DEFAULT_SNAPLEN,
        )
    }

    /// Writes the file header with the given resolution, link type and snaplen.
    pub fn with_options(
        mut inner: W,
        resolution: TsResolution,
        link_type: LinkType,
        snaplen: u32,
    ) -> Result<Self, CaptureError> {
        let magic: u32 = match resolution {
            TsResolution::Micro => 0xa1b2_c3d4,
            TsResolution::Nano => 0xa1b2_3c4d,
        };
        let mut h = [0u8; FILE_HEADER_LEN];
        h[0..4].copy_from_slice(&magic.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone and sigfigs stay 0.
        h[16..20].copy_from_slice(&snaplen.to_le_bytes());
        h[20..24].copy_from_slice(&link_type.0.to_le_bytes());
        inner.write_all(&h)?;
        Ok(PcapWriter { inner, resolution })
    }

    /// The resolution timestamps are written with.
    pub fn resolution(&self) -> TsResolution {
        self.resolution
    }

    /// Appends one packet. Microsecond files truncate the nanoseconds.
    ///
    /// Fails if `ts.secs` does not fit 32 bits or `data` is longer than
    /// [`MAX_RECORD_LEN`]; nothing is written then.
    #[inline]
    pub fn write_packet(
        &mut self,
        ts: Timestamp,
        orig_len: u32,
        data: &[u8],
    ) -> Result<(), CaptureError> {
        let ts = Timestamp::new(ts.secs, ts.nanos);
        let Ok(secs) = u32::try_from(ts.secs) else {
            return Err(CaptureError::Unrepresentable {
                reason: "timestamp seconds beyond 32 bits",
            });
        };
        let caplen = match u32::try_from(data.len()) {
            Ok(n) if n <= MAX_RECORD_LEN => n,
            _ => {
                return Err(CaptureError::Unrepresentable {
                    reason: "packet longer than the record limit",
                })
            }
        };
        let frac = match self.resolution {
            TsResolution::Micro => ts.nanos / 1000,
            TsResolution::Nano => ts.nanos,
        };
        let mut h = [0u8; RECORD_HEADER_LEN];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&frac.to_le_bytes());
        h[8..12].copy_from_slice(&caplen.to_le_bytes());
        h[12..16].copy_from_slice(&orig_len.max(caplen).to_le_bytes());
        self.inner.write_all(&h)?;
        self.inner.write_all(data)?;
        Ok(())
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        self.inner.flush()?;
        Ok(())
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> Result<W, CaptureError> {
        self.inner.flush()?;
        Ok(self.inner)
    }
}
