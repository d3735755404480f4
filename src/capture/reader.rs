//! [`CaptureReader`]: one streaming reader for pcap and pcapng.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::input::{Input, CHUNK};
use super::pcap::{self, Magic, PcapHeader, FILE_HEADER_LEN};
use super::pcapng::{self, PacketLoc, EPB, IDB, PB, SHB, SPB};
use super::{CaptureError, Endian, Interface, LinkType, Packet, Timestamp, MAX_RECORD_LEN};

/// The container format of a capture file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Classic libpcap format.
    Pcap,
    /// pcapng.
    PcapNg,
}

/// Per-format state.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Pcap(PcapHeader),
    /// The byte order of the current section.
    PcapNg(Endian),
}

/// A packet found in the buffer, by position (so no borrow is held while searching).
#[derive(Clone, Copy, Debug)]
struct Found {
    /// Bytes of the whole record or block, consumed on the next call.
    record_len: usize,
    data_off: usize,
    caplen: usize,
    ts: Timestamp,
    orig_len: u32,
    link_type: LinkType,
    interface_id: u32,
}

/// The outcome of reading one pcapng block.
enum Step {
    /// Clean end of file at a block boundary.
    End,
    /// A block that carries no packet (consumed).
    Other,
    /// A packet block (not consumed yet) and its total length.
    Packet(PacketLoc, usize),
}

/// Reads packets from a pcap or pcapng stream, detected by its magic.
///
/// ```no_run
/// # fn main() -> Result<(), sft3::capture::CaptureError> {
/// let mut reader = sft3::capture::CaptureReader::open("trace.pcapng")?;
/// while let Some(packet) = reader.next_packet() {
///     let packet = packet?;
///     println!("{} {} bytes", packet.ts, packet.data.len());
/// }
/// # Ok(())
/// # }
/// ```
///
/// The reader buffers internally (1 MiB reads), so pass it an unbuffered source: a `File`,
/// `std::io::stdin().lock()` (for `-r -`), or `&[u8]` / `std::io::Cursor` for in-memory captures.
/// After an error it yields nothing more.
pub struct CaptureReader<R> {
    input: Input<R>,
    kind: Kind,
    /// Interfaces of the current pcapng section, or the pcap file's single one.
    interfaces: Vec<Interface>,
    /// Bytes of the packet last lent out, consumed at the next call.
    pending: usize,
    done: bool,
}

impl CaptureReader<File> {
    /// Opens a capture file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CaptureError> {
        Self::new(File::open(path)?)
    }
}

fn truncated(what: &'static str, offset: u64, need: usize, have: usize) -> CaptureError {
    CaptureError::Truncated {
        what,
        offset,
        need: need as u64,
        have: have as u64,
    }
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header (for pcapng, up to the first interface description) and returns a
    /// reader positioned at the first packet.
    pub fn new(inner: R) -> Result<Self, CaptureError> {
        Self::with_capacity(inner, CHUNK)
    }

    /// Like [`new`](Self::new) with a buffer of `capacity` bytes to start with (it grows for
    /// larger records; each read asks for the free space of the buffer).
    pub fn with_capacity(inner: R, capacity: usize) -> Result<Self, CaptureError> {
        let mut input = Input::new(inner, capacity);
        if !input.ensure(4)? {
            return Err(truncated("file header", 0, 4, input.avail().len()));
        }
        let mut magic = [0; 4];
        if let Some(first) = input.avail().get(..4) {
            magic.copy_from_slice(first);
        }
        let mut reader = match pcap::detect(magic) {
            None => return Err(CaptureError::NotCapture { magic }),
            Some(Magic::Pcap {
                endian,
                nanos,
                modified,
            }) => {
                if !input.ensure(FILE_HEADER_LEN)? {
                    let have = input.avail().len();
                    return Err(truncated("pcap file header", 0, FILE_HEADER_LEN, have));
                }
                let header = PcapHeader::parse(input.avail(), endian, nanos, modified)?;
                input.consume(FILE_HEADER_LEN);
                CaptureReader {
                    input,
                    kind: Kind::Pcap(header),
                    interfaces: vec![header.interface],
                    pending: 0,
                    done: false,
                }
            }
            Some(Magic::PcapNg) => CaptureReader {
                input,
                kind: Kind::PcapNg(Endian::Little),
                interfaces: Vec::new(),
                pending: 0,
                done: false,
            },
        };
        if let Kind::PcapNg(_) = reader.kind {
            // The first block is the SHB (its type is the magic); then read up to the first
            // interface so `link_type` is known before the first packet, as libpcap does.
            reader.block()?;
            while reader.interfaces.is_empty() && reader.next_is_metadata()? {
                if let Step::End = reader.block()? {
                    break;
                }
            }
        }
        Ok(reader)
    }

    /// The container format.
    pub fn format(&self) -> Format {
        match self.kind {
            Kind::Pcap(_) => Format::Pcap,
            Kind::PcapNg(_) => Format::PcapNg,
        }
    }

    /// The link type of interface 0 (of the current section), if described yet.
    pub fn link_type(&self) -> Option<LinkType> {
        self.interfaces.first().map(|i| i.link_type)
    }

    /// The snapshot length of interface 0 (of the current section), if described yet.
    pub fn snaplen(&self) -> Option<u32> {
        self.interfaces.first().map(|i| i.snaplen)
    }

    /// The interfaces described so far in the current section (one for pcap).
    pub fn interfaces(&self) -> &[Interface] {
        &self.interfaces
    }

    /// Stream offset of the next record or block to be read.
    pub fn position(&self) -> u64 {
        self.input.pos() + self.pending as u64
    }

    /// The next packet, borrowed until the next call; `None` at the end of the file.
    ///
    /// A file that ends mid-record yields one [`CaptureError::Truncated`]; any error ends the
    /// stream.
    #[inline]
    pub fn next_packet(&mut self) -> Option<Result<Packet<'_>, CaptureError>> {
        if self.done {
            return None;
        }
        self.input.consume(core::mem::take(&mut self.pending));
        let found = match self.kind {
            Kind::Pcap(header) => self.pcap_record(&header),
            Kind::PcapNg(_) => self.pcapng_packet(),
        };
        let f = match found {
            Ok(Some(f)) => f,
            Ok(None) => {
                self.done = true;
                return None;
            }
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        let end = f.data_off.saturating_add(f.caplen);
        if end > self.input.avail().len() || f.record_len > self.input.avail().len() {
            // Unreachable by construction; an error beats a panic.
            self.done = true;
            return Some(Err(CaptureError::Malformed {
                what: "record",
                offset: self.input.pos(),
                reason: "internal framing error",
            }));
        }
        self.pending = f.record_len;
        Some(Ok(Packet {
            ts: f.ts,
            orig_len: f.orig_len,
            data: self.input.avail().get(f.data_off..end).unwrap_or(&[]),
            link_type: f.link_type,
            interface_id: f.interface_id,
        }))
    }

    /// Locates the next pcap record.
    #[inline]
    fn pcap_record(&mut self, header: &PcapHeader) -> Result<Option<Found>, CaptureError> {
        let offset = self.input.pos();
        let hlen = header.record_header_len;
        if !self.input.ensure(hlen)? {
            return match self.input.avail().len() {
                0 => Ok(None),
                have => Err(truncated("pcap record header", offset, hlen, have)),
            };
        }
        let Some(rec) = header.record(self.input.avail()) else {
            return Err(truncated("pcap record header", offset, hlen, 0));
        };
        if rec.caplen > MAX_RECORD_LEN {
            return Err(CaptureError::TooLong {
                what: "pcap record",
                offset,
                len: rec.caplen.into(),
                max: MAX_RECORD_LEN.into(),
            });
        }
        let total = hlen + rec.caplen as usize;
        if !self.input.ensure(total)? {
            let have = self.input.avail().len();
            return Err(truncated("pcap record", offset, total, have));
        }
        Ok(Some(Found {
            record_len: total,
            data_off: hlen,
            caplen: rec.caplen as usize,
            ts: rec.ts,
            orig_len: rec.orig_len,
            link_type: header.interface.link_type,
            interface_id: 0,
        }))
    }

    /// Reads pcapng blocks up to the next packet.
    fn pcapng_packet(&mut self) -> Result<Option<Found>, CaptureError> {
        loop {
            let offset = self.input.pos();
            let (loc, record_len) = match self.block()? {
                Step::End => return Ok(None),
                Step::Other => continue,
                Step::Packet(loc, len) => (loc, len),
            };
            let Some(iface) = usize::try_from(loc.iface)
                .ok()
                .and_then(|i| self.interfaces.get(i))
            else {
                return Err(CaptureError::UnknownInterface {
                    offset,
                    id: loc.iface,
                    count: self.interfaces.len(),
                });
            };
            return Ok(Some(Found {
                record_len,
                data_off: loc.data_off,
                caplen: loc.caplen,
                ts: loc.ts_raw.map(|t| iface.timestamp(t)).unwrap_or_default(),
                orig_len: loc.orig_len,
                link_type: iface.link_type,
                interface_id: loc.iface,
            }));
        }
    }

    /// Whether another block follows and is not a packet block (for the look-ahead in `new`).
    fn next_is_metadata(&mut self) -> Result<bool, CaptureError> {
        let Kind::PcapNg(endian) = self.kind else {
            return Ok(false);
        };
        if !self.input.ensure(8)? {
            return Ok(false);
        }
        let block_type = endian.u32(self.input.avail(), 0).unwrap_or(EPB);
        Ok(!matches!(block_type, EPB | SPB | PB))
    }

    /// Reads one pcapng block: frames it, checks both lengths, handles section and interface
    /// blocks, skips unknown ones and leaves packet blocks in place for the caller to lend.
    fn block(&mut self) -> Result<Step, CaptureError> {
        let Kind::PcapNg(mut endian) = self.kind else {
            return Ok(Step::End);
        };
        let offset = self.input.pos();
        if !self.input.ensure(8)? {
            return match self.input.avail().len() {
                0 => Ok(Step::End),
                have => Err(truncated("pcapng block header", offset, 8, have)),
            };
        }
        let block_type = endian.u32(self.input.avail(), 0).unwrap_or(0);
        if block_type == SHB {
            // A new section may switch byte order: its byte-order magic decides.
            if !self.input.ensure(12)? {
                let have = self.input.avail().len();
                return Err(truncated("section header block", offset, 12, have));
            }
            let mut bom = [0; 4];
            if let Some(b) = self.input.avail().get(8..12) {
                bom.copy_from_slice(b);
            }
            endian = pcapng::section_endian(bom).ok_or(CaptureError::Malformed {
                what: "section header block",
                offset,
                reason: "bad byte-order magic",
            })?;
        }
        let len = endian.u32(self.input.avail(), 4).unwrap_or(0);
        let bad_len = |reason| CaptureError::BadBlockLength {
            block_type,
            offset,
            len,
            reason,
        };
        if len < pcapng::min_len(block_type) {
            return Err(bad_len("shorter than the block type's minimum"));
        }
        if len % 4 != 0 {
            return Err(bad_len("not a multiple of 4"));
        }
        if len > MAX_RECORD_LEN {
            return Err(CaptureError::TooLong {
                what: "pcapng block",
                offset,
                len: len.into(),
                max: MAX_RECORD_LEN.into(),
            });
        }
        let len = len as usize;
        if !self.input.ensure(len)? {
            let have = self.input.avail().len();
            return Err(truncated("pcapng block", offset, len, have));
        }
        let block = self.input.avail().get(..len).unwrap_or(&[]);
        let tail = endian.u32(block, len - 4).unwrap_or(0);
        if tail as usize != len {
            return Err(CaptureError::BlockLengthMismatch {
                block_type,
                offset,
                head: len as u32,
                tail,
            });
        }
        let step = match block_type {
            SHB => {
                pcapng::parse_shb(block, endian, offset)?;
                self.kind = Kind::PcapNg(endian);
                self.interfaces.clear();
                Step::Other
            }
            IDB => {
                let iface = pcapng::parse_idb(block, endian, offset)?;
                self.interfaces.push(iface);
                Step::Other
            }
            EPB | PB => Step::Packet(
                pcapng::parse_epb(block, endian, offset, block_type == PB)?,
                len,
            ),
            SPB => {
                let Some(first) = self.interfaces.first() else {
                    return Err(CaptureError::UnknownInterface {
                        offset,
                        id: 0,
                        count: 0,
                    });
                };
                Step::Packet(
                    pcapng::parse_spb(block, endian, offset, first.snaplen)?,
                    len,
                )
            }
            _ => Step::Other,
        };
        if let Step::Other = step {
            self.input.consume(len);
        }
        Ok(step)
    }
}
