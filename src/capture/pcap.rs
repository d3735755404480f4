//! Classic pcap: magic detection, the file header and record headers.

use super::{CaptureError, Endian, Interface, LinkType, Timestamp};

/// pcap file header length.
pub(crate) const FILE_HEADER_LEN: usize = 24;
/// pcap record header length (the modified format appends 8 bytes).
pub(crate) const RECORD_HEADER_LEN: usize = 16;
/// Kuznetzov's modified pcap record header length.
const MODIFIED_RECORD_HEADER_LEN: usize = 24;
/// Link-type bits of the header's link-type field (libpcap's `LT_LINKTYPE`).
const LINKTYPE_MASK: u32 = 0x03ff_ffff;

/// The pcapng Section Header Block type, which is also the pcapng file magic.
pub(crate) const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// What the first four bytes say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Magic {
    /// Classic pcap.
    Pcap {
        /// File byte order.
        endian: Endian,
        /// Nanosecond (not microsecond) timestamps.
        nanos: bool,
        /// Kuznetzov's format with 24-byte record headers.
        modified: bool,
    },
    /// pcapng (a Section Header Block).
    PcapNg,
}

/// Identifies the format from the first four bytes.
pub(crate) fn detect(magic: [u8; 4]) -> Option<Magic> {
    let pcap = |endian, nanos, modified| Magic::Pcap {
        endian,
        nanos,
        modified,
    };
    Some(match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => pcap(Endian::Little, false, false),
        [0xa1, 0xb2, 0xc3, 0xd4] => pcap(Endian::Big, false, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => pcap(Endian::Little, true, false),
        [0xa1, 0xb2, 0x3c, 0x4d] => pcap(Endian::Big, true, false),
        [0x34, 0xcd, 0xb2, 0xa1] => pcap(Endian::Little, false, true),
        [0xa1, 0xb2, 0xcd, 0x34] => pcap(Endian::Big, false, true),
        PCAPNG_MAGIC => Magic::PcapNg,
        _ => return None,
    })
}

/// How the captured and original lengths are stored (libpcap's `lengths_swapped`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LenOrder {
    /// captured, then original (version 2.4).
    Normal,
    /// original, then captured (versions before 2.3).
    Swapped,
    /// Version 2.3 wrote either order; the smaller one is the captured length.
    Maybe,
}

/// A parsed pcap file header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PcapHeader {
    endian: Endian,
    nanos: bool,
    order: LenOrder,
    /// Record header length (16, or 24 for the modified format).
    pub(crate) record_header_len: usize,
    /// The single interface of the file.
    pub(crate) interface: Interface,
}

/// A parsed record header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecordHeader {
    pub(crate) ts: Timestamp,
    pub(crate) caplen: u32,
    pub(crate) orig_len: u32,
}

impl PcapHeader {
    /// Parses the 24-byte file header whose magic `detect` classified as pcap.
    pub(crate) fn parse(
        b: &[u8],
        endian: Endian,
        nanos: bool,
        modified: bool,
    ) -> Result<Self, CaptureError> {
        let field = |off| endian.u32(b, off);
        let (Some(snaplen), Some(link), Some(major), Some(minor)) =
            (field(16), field(20), endian.u16(b, 4), endian.u16(b, 6))
        else {
            return Err(CaptureError::Truncated {
                what: "pcap file header",
                offset: 0,
                need: FILE_HEADER_LEN as u64,
                have: b.len() as u64,
            });
        };
        if major != 2 {
            return Err(CaptureError::UnsupportedVersion {
                format: "pcap",
                major,
                minor,
            });
        }
        let order = match minor {
            0..=2 => LenOrder::Swapped,
            3 => LenOrder::Maybe,
            _ => LenOrder::Normal,
        };
        Ok(PcapHeader {
            endian,
            nanos,
            order,
            record_header_len: if modified {
                MODIFIED_RECORD_HEADER_LEN
            } else {
                RECORD_HEADER_LEN
            },
            interface: Interface {
                link_type: LinkType(link & LINKTYPE_MASK),
                snaplen,
                ts_units_per_sec: if nanos { 1_000_000_000 } else { 1_000_000 },
                ts_offset_secs: 0,
            },
        })
    }

    /// Parses a record header from the front of `b` (`None` if `b` is shorter than 16 bytes).
    #[inline]
    pub(crate) fn record(&self, b: &[u8]) -> Option<RecordHeader> {
        let e = self.endian;
        let secs = e.u32(b, 0)? as u64;
        let frac = e.u32(b, 4)?;
        let (mut caplen, mut orig_len) = (e.u32(b, 8)?, e.u32(b, 12)?);
        match self.order {
            LenOrder::Normal => {}
            LenOrder::Swapped => core::mem::swap(&mut caplen, &mut orig_len),
            LenOrder::Maybe => {
                if caplen > orig_len {
                    core::mem::swap(&mut caplen, &mut orig_len);
                }
            }
        }
        // An out-of-range fraction carries into the seconds rather than being rejected.
        let ts = if self.nanos {
            Timestamp::new(secs, frac)
        } else if frac < 1_000_000 {
            Timestamp {
                secs,
                nanos: frac * 1000,
            }
        } else {
            Timestamp::new(secs + (frac / 1_000_000) as u64, (frac % 1_000_000) * 1000)
        };
        Some(RecordHeader {
            ts,
            caplen,
            orig_len,
        })
    }
}
