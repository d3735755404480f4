//! pcapng block bodies: section headers, interface descriptions and the three packet blocks.
//!
//! Every function takes a whole block (`type, length, body, length`) whose framing the reader
//! has already checked, so the body is `block[8..len - 4]`.

use super::{CaptureError, Endian, Interface, LinkType};

/// Section Header Block type (a palindrome, so it reads the same in either byte order).
pub(crate) const SHB: u32 = 0x0a0d_0d0a;
/// Interface Description Block type.
pub(crate) const IDB: u32 = 1;
/// Obsolete Packet Block type.
pub(crate) const PB: u32 = 2;
/// Simple Packet Block type.
pub(crate) const SPB: u32 = 3;
/// Enhanced Packet Block type.
pub(crate) const EPB: u32 = 6;
/// Smallest block: type, length, length.
pub(crate) const MIN_BLOCK_LEN: u32 = 12;

/// `if_tsresol`: timestamp resolution.
const OPT_IF_TSRESOL: u16 = 9;
/// `if_tsoffset`: seconds added to timestamps.
const OPT_IF_TSOFFSET: u16 = 14;
/// End of options.
const OPT_ENDOFOPT: u16 = 0;

/// The byte order a Section Header Block's byte-order magic (block offset 8) announces.
pub(crate) fn section_endian(bom: [u8; 4]) -> Option<Endian> {
    match bom {
        [0x4d, 0x3c, 0x2b, 0x1a] => Some(Endian::Little),
        [0x1a, 0x2b, 0x3c, 0x4d] => Some(Endian::Big),
        _ => None,
    }
}

/// The minimum total length of a block type the reader interprets.
pub(crate) fn min_len(block_type: u32) -> u32 {
    match block_type {
        SHB => 28,
        IDB => 20,
        PB | EPB => 32,
        SPB => 16,
        _ => MIN_BLOCK_LEN,
    }
}

/// A block's body (`block[8..len - 4]`); empty if the block is shorter than its framing.
fn body(block: &[u8]) -> &[u8] {
    block.get(8..block.len().saturating_sub(4)).unwrap_or(&[])
}

fn malformed(what: &'static str, offset: u64, reason: &'static str) -> CaptureError {
    CaptureError::Malformed {
        what,
        offset,
        reason,
    }
}

/// Checks a Section Header Block's version (its options are not needed).
pub(crate) fn parse_shb(block: &[u8], endian: Endian, offset: u64) -> Result<(), CaptureError> {
    let body = body(block);
    let (Some(major), Some(minor)) = (endian.u16(body, 4), endian.u16(body, 6)) else {
        return Err(malformed("section header block", offset, "too short"));
    };
    if major != 1 {
        return Err(CaptureError::UnsupportedVersion {
            format: "pcapng",
            major,
            minor,
        });
    }
    Ok(())
}

/// Parses an Interface Description Block.
pub(crate) fn parse_idb(
    block: &[u8],
    endian: Endian,
    offset: u64,
) -> Result<Interface, CaptureError> {
    const WHAT: &str = "interface description block";
    let body = body(block);
    let (Some(link), Some(snaplen)) = (endian.u16(body, 0), endian.u32(body, 4)) else {
        return Err(malformed(WHAT, offset, "too short"));
    };
    let mut iface = Interface {
        link_type: LinkType(u32::from(link)),
        snaplen,
        ts_units_per_sec: 1_000_000,
        ts_offset_secs: 0,
    };
    let mut opts = body.get(8..).unwrap_or(&[]);
    while opts.len() >= 4 {
        let (Some(code), Some(len)) = (endian.u16(opts, 0), endian.u16(opts, 2)) else {
            break;
        };
        if code == OPT_ENDOFOPT {
            break;
        }
        let len = usize::from(len);
        let Some(value) = opts.get(4..4 + len) else {
            return Err(malformed(WHAT, offset, "an option overruns the block"));
        };
        match code {
            OPT_IF_TSRESOL => {
                let &[res] = value else {
                    return Err(malformed(WHAT, offset, "if_tsresol is not 1 byte"));
                };
                iface.ts_units_per_sec = units_per_sec(res).ok_or_else(|| {
                    malformed(WHAT, offset, "if_tsresol too fine for 64-bit ticks")
                })?;
            }
            OPT_IF_TSOFFSET => {
                iface.ts_offset_secs = endian
                    .i64(value, 0)
                    .filter(|_| value.len() == 8)
                    .ok_or_else(|| malformed(WHAT, offset, "if_tsoffset is not 8 bytes"))?;
            }
            _ => {}
        }
        // Values are padded to 4 bytes; the last padding may be missing, which is harmless.
        opts = opts.get(4 + len.div_ceil(4) * 4..).unwrap_or(&[]);
    }
    Ok(iface)
}

/// Ticks per second for an `if_tsresol` value: 10^n, or 2^n with the top bit set.
fn units_per_sec(res: u8) -> Option<u64> {
    let exp = u32::from(res & 0x7f);
    if res & 0x80 != 0 {
        1u64.checked_shl(exp).filter(|_| exp < 64)
    } else {
        10u64.checked_pow(exp)
    }
}

/// Where a packet block's data is and what it says about it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PacketLoc {
    /// Offset of the data from the start of the block.
    pub(crate) data_off: usize,
    /// Captured bytes.
    pub(crate) caplen: usize,
    /// Length on the wire.
    pub(crate) orig_len: u32,
    /// Interface id within the section.
    pub(crate) iface: u32,
    /// Raw timestamp in interface units (none for Simple Packet Blocks).
    pub(crate) ts_raw: Option<u64>,
}

/// Parses an Enhanced Packet Block (`obsolete == false`) or an obsolete Packet Block, which share
/// a layout except for the 16-bit interface id and drop count of the latter.
pub(crate) fn parse_epb(
    block: &[u8],
    endian: Endian,
    offset: u64,
    obsolete: bool,
) -> Result<PacketLoc, CaptureError> {
    let what = if obsolete {
        "packet block"
    } else {
        "enhanced packet block"
    };
    let body = body(block);
    let iface = if obsolete {
        endian.u16(body, 0).map(u32::from)
    } else {
        endian.u32(body, 0)
    };
    let (Some(iface), Some(hi), Some(lo), Some(caplen), Some(orig_len)) = (
        iface,
        endian.u32(body, 4),
        endian.u32(body, 8),
        endian.u32(body, 12),
        endian.u32(body, 16),
    ) else {
        return Err(malformed(what, offset, "too short"));
    };
    let caplen = caplen as usize;
    // The data's padding is not required to fit: some writers omit it on the last block.
    if caplen > body.len().saturating_sub(20) {
        return Err(malformed(what, offset, "captured length exceeds the block"));
    }
    Ok(PacketLoc {
        data_off: 8 + 20,
        caplen,
        orig_len,
        iface,
        ts_raw: Some((u64::from(hi) << 32) | u64::from(lo)),
    })
}

/// Parses a Simple Packet Block: the captured length is the original length cut to the
/// snaplen of interface 0 (`snaplen`, 0 = unlimited) and to the block.
pub(crate) fn parse_spb(
    block: &[u8],
    endian: Endian,
    offset: u64,
    snaplen: u32,
) -> Result<PacketLoc, CaptureError> {
    let body = body(block);
    let Some(orig_len) = endian.u32(body, 0) else {
        return Err(malformed("simple packet block", offset, "too short"));
    };
    let mut caplen = (orig_len as usize).min(body.len().saturating_sub(4));
    if snaplen != 0 {
        caplen = caplen.min(snaplen as usize);
    }
    Ok(PacketLoc {
        data_off: 8 + 4,
        caplen,
        orig_len,
        iface: 0,
        ts_raw: None,
    })
}
