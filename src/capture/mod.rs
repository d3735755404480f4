//! pcap and pcapng capture files: a streaming reader and a pcap writer.
//!
//! **pcap** (libpcap's classic format). A 24-byte file header, then records:
//!
//! | offset | size | file header field |
//! |---|---|---|
//! | 0 | 4 | magic: `a1b2c3d4` (µs) or `a1b23c4d` (ns), in the writer's byte order |
//! | 4 | 2+2 | version major 2, minor 4 |
//! | 8 | 4 | thiszone (ignored, as libpcap does) |
//! | 12 | 4 | sigfigs (ignored) |
//! | 16 | 4 | snaplen |
//! | 20 | 4 | link type (low 26 bits; the top bits carry FCS information) |
//!
//! | offset | size | record header field |
//! |---|---|---|
//! | 0 | 4 | seconds |
//! | 4 | 4 | microseconds or nanoseconds (from the magic) |
//! | 8 | 4 | captured length (bytes that follow) |
//! | 12 | 4 | original length on the wire |
//!
//! The reader also takes Kuznetzov's "modified" pcap (magic `a1b2cd34`, 24-byte record headers)
//! and the pre-2.3 files whose captured and original lengths are swapped.
//!
//! **pcapng**. A sequence of blocks, each `type u32, total length u32, body, total length u32`
//! (length includes the 12 framing bytes, a multiple of 4). A Section Header Block starts each
//! section and fixes its byte order; the Interface Description Blocks of a section are numbered
//! from 0. Options are `code u16, length u16, value` padded to 4; code 0 ends the list.
//!
//! | block | type | body |
//! |---|---|---|
//! | Section Header (SHB) | `0A0D0D0A` | byte-order magic `1A2B3C4D`, major 1, minor, section length i64, options |
//! | Interface Description (IDB) | 1 | link type u16, reserved u16, snaplen u32, options (`if_tsresol` 9, `if_tsoffset` 14) |
//! | Packet (obsolete) | 2 | interface u16, drops u16, timestamp high, low, captured len, original len, data |
//! | Simple Packet (SPB) | 3 | original length, data (captured = min(original, IDB 0 snaplen, block room)) |
//! | Enhanced Packet (EPB) | 6 | interface u32, timestamp high, low, captured len, original len, data, options |
//! | anything else | — | skipped |
//!
//! Timestamps count `if_tsresol` units since 1970 (default 10^-6 s; a value with the top bit set
//! is a power of 2); `if_tsoffset` adds whole seconds.
//!
//! [`CaptureReader`] streams from any [`std::io::Read`] through one growable buffer and lends
//! each [`Packet`] without copying it. [`PcapWriter`] writes classic pcap.

mod error;
mod input;
mod pcap;
mod pcapng;
mod reader;
mod writer;

use core::fmt;

pub use error::CaptureError;
pub use reader::{CaptureReader, Format};
pub use writer::{PcapWriter, TsResolution};

/// The largest record or block the reader accepts (anything bigger is a corrupt length).
pub const MAX_RECORD_LEN: u32 = 256 * 1024 * 1024;

/// The snapshot length the writer announces by default (libpcap's maximum).
pub const DEFAULT_SNAPLEN: u32 = 262_144;

/// A capture timestamp: seconds and nanoseconds since 1970-01-01 00:00:00 UTC.
///
/// The reader always yields `nanos < 1_000_000_000`. `Display` prints `secs.micros` (as
/// `tcpdump -tt` does); a precision picks the digits: `{:.9}` prints nanoseconds, `{:.0}` none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Whole seconds since the Unix epoch.
    pub secs: u64,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

impl Timestamp {
    /// Builds a timestamp, carrying whole seconds out of `nanos` (saturating at `u64::MAX`).
    pub const fn new(secs: u64, nanos: u32) -> Self {
        Timestamp {
            secs: secs.saturating_add((nanos / 1_000_000_000) as u64),
            nanos: nanos % 1_000_000_000,
        }
    }

    /// Builds a timestamp from nanoseconds since the epoch.
    pub const fn from_unix_nanos(nanos: u128) -> Self {
        let secs = nanos / 1_000_000_000;
        Timestamp {
            secs: if secs > u64::MAX as u128 {
                u64::MAX
            } else {
                secs as u64
            },
            nanos: (nanos % 1_000_000_000) as u32,
        }
    }

    /// Nanoseconds since the epoch.
    pub const fn as_unix_nanos(&self) -> u128 {
        self.secs as u128 * 1_000_000_000 + self.nanos as u128
    }

    /// The microseconds within the second (truncated).
    pub const fn micros(&self) -> u32 {
        self.nanos / 1000
    }

    /// Converts `raw` ticks of `units_per_sec` (non-zero) since the epoch.
    pub(crate) fn from_units(raw: u64, units_per_sec: u64) -> Self {
        // The two resolutions seen in practice avoid the 128-bit division.
        match units_per_sec {
            1_000_000 => Timestamp {
                secs: raw / 1_000_000,
                nanos: (raw % 1_000_000) as u32 * 1000,
            },
            1_000_000_000 => Timestamp {
                secs: raw / 1_000_000_000,
                nanos: (raw % 1_000_000_000) as u32,
            },
            0 => Timestamp::default(),
            ups => {
                let frac = (raw % ups) as u128 * 1_000_000_000 / ups as u128;
                Timestamp {
                    secs: raw / ups,
                    // frac < 10^9 because raw % ups < ups.
                    nanos: frac as u32,
                }
            }
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = f.precision().unwrap_or(6).min(9);
        if digits == 0 {
            return write!(f, "{}", self.secs);
        }
        let frac = self.nanos.min(999_999_999) / 10u32.pow(9 - digits as u32);
        write!(f, "{}.{:0width$}", self.secs, frac, width = digits)
    }
}

/// A link-layer header type (the `LINKTYPE_*` registry of tcpdump.org).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback (4-byte host-order address family).
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet (DIX and 802.3), the one sft3 speaks.
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IP (no link header).
    pub const RAW: LinkType = LinkType(101);
    /// IEEE 802.11 wireless.
    pub const IEEE802_11: LinkType = LinkType(105);
    /// OpenBSD loopback (4-byte network-order address family).
    pub const LOOP: LinkType = LinkType(108);
    /// Linux "cooked" capture, version 1.
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Linux "cooked" capture, version 2.
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// tcpdump's name for the type (`EN10MB` etc.), if it is one of the constants above.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            LinkType::NULL => "NULL",
            LinkType::ETHERNET => "EN10MB",
            LinkType::RAW => "RAW",
            LinkType::IEEE802_11 => "IEEE802_11",
            LinkType::LOOP => "LOOP",
            LinkType::LINUX_SLL => "LINUX_SLL",
            LinkType::LINUX_SLL2 => "LINUX_SLL2",
            _ => return None,
        })
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "LINKTYPE_{}", self.0),
        }
    }
}

/// One captured frame, borrowed from the reader's buffer until the next read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// When the frame was captured (zero for pcapng Simple Packet Blocks, which carry none).
    pub ts: Timestamp,
    /// The frame's length on the wire: `data` is shorter when the capture cut it at the snaplen
    /// (a corrupt file may even claim less than `data.len()`).
    pub orig_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
    /// The link-layer type of `data`.
    pub link_type: LinkType,
    /// The pcapng interface (within its section) that captured it; 0 for pcap.
    pub interface_id: u32,
}

/// What the reader knows about one capture interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interface {
    /// The link-layer type of its packets.
    pub link_type: LinkType,
    /// Its snapshot length; 0 means unlimited.
    pub snaplen: u32,
    /// Timestamp ticks per second (non-zero).
    pub ts_units_per_sec: u64,
    /// Seconds added to every timestamp (pcapng `if_tsoffset`).
    pub ts_offset_secs: i64,
}

impl Interface {
    /// Converts a raw timestamp of this interface.
    #[inline]
    pub(crate) fn timestamp(&self, raw: u64) -> Timestamp {
        let mut ts = Timestamp::from_units(raw, self.ts_units_per_sec);
        if self.ts_offset_secs != 0 {
            ts.secs = ts.secs.saturating_add_signed(self.ts_offset_secs);
        }
        ts
    }
}

/// Byte order of a file or section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endian {
    Little,
    Big,
}

impl Endian {
    /// The `N` bytes at `off`, if present.
    #[inline]
    fn bytes<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
        b.get(off..off.checked_add(N)?)?.try_into().ok()
    }

    /// The u16 at `off`, if present.
    #[inline]
    pub(crate) fn u16(self, b: &[u8], off: usize) -> Option<u16> {
        let v = Self::bytes::<2>(b, off)?;
        Some(match self {
            Endian::Little => u16::from_le_bytes(v),
            Endian::Big => u16::from_be_bytes(v),
        })
    }

    /// The u32 at `off`, if present.
    #[inline]
    pub(crate) fn u32(self, b: &[u8], off: usize) -> Option<u32> {
        let v = Self::bytes::<4>(b, off)?;
        Some(match self {
            Endian::Little => u32::from_le_bytes(v),
            Endian::Big => u32::from_be_bytes(v),
        })
    }

    /// The i64 at `off`, if present.
    #[inline]
    pub(crate) fn i64(self, b: &[u8], off: usize) -> Option<i64> {
        let v = Self::bytes::<8>(b, off)?;
        Some(match self {
            Endian::Little => i64::from_le_bytes(v),
            Endian::Big => i64::from_be_bytes(v),
        })
    }
}

/// Days since 1970-01-01 to a civil (year, month, day), proleptic Gregorian (Howard Hinnant's
/// algorithm): how capture timestamps and the daemon's log lines print dates without a
/// calendar dependency.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}
