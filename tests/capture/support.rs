//! Helpers for tests/capture.rs: whole-file reading, hand-built pcap and pcapng, a trickling
//! reader and GMT date arithmetic.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sft3::capture::{CaptureError, CaptureReader, LinkType, Timestamp};

/// The directory of the third-party captures.
pub fn third_party() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/third-party")
}

/// The bytes of one third-party capture.
pub fn read(name: &str) -> Vec<u8> {
    std::fs::read(third_party().join(name)).expect("capture file")
}

/// An owned copy of a packet, for comparisons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owned {
    pub ts: Timestamp,
    pub orig_len: u32,
    pub data: Vec<u8>,
    pub link_type: LinkType,
    pub interface_id: u32,
}

/// Reads everything: the packets before the first error, and that error.
pub fn read_all<R: Read>(r: R) -> (Vec<Owned>, Option<CaptureError>) {
    let mut reader = match CaptureReader::new(r) {
        Ok(reader) => reader,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut packets = Vec::new();
    let mut error = None;
    while let Some(item) = reader.next_packet() {
        match item {
            Ok(p) => {
                assert!(error.is_none(), "packet after an error");
                packets.push(Owned {
                    ts: p.ts,
                    orig_len: p.orig_len,
                    data: p.data.to_vec(),
                    link_type: p.link_type,
                    interface_id: p.interface_id,
                });
            }
            Err(e) => {
                assert!(error.is_none(), "second error {e} after {error:?}");
                error = Some(e);
            }
        }
    }
    assert!(
        reader.next_packet().is_none(),
        "reader restarted after its end"
    );
    (packets, error)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `YYYY-MM-DD HH:MM:SS.ffffff` (GMT) into a timestamp.
pub fn parse_gmt(date: &str, time: &str) -> Timestamp {
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let (hms, frac) = time.split_once('.').unwrap();
    let t: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    let secs = days_from_civil(d[0], d[1], d[2]) * 86_400 + t[0] * 3600 + t[1] * 60 + t[2];
    assert_eq!(frac.len(), 6);
    Timestamp::new(secs as u64, frac.parse::<u32>().unwrap() * 1000)
}

/// A source that returns at most `step` bytes per read, to exercise the buffer's refills.
pub struct Trickle<'a> {
    pub data: &'a [u8],
    pub step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Builds pcapng blocks in either byte order.
pub struct Ng {
    pub big: bool,
    pub out: Vec<u8>,
}

impl Ng {
    pub fn u16(&self, v: u16) -> [u8; 2] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    pub fn u32(&self, v: u32) -> [u8; 4] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    pub fn block(&mut self, block_type: u32, body: &[u8]) {
        let mut body = body.to_vec();
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        let len = body.len() as u32 + 12;
        let (t, l) = (self.u32(block_type), self.u32(len));
        self.out.extend_from_slice(&t);
        self.out.extend_from_slice(&l);
        self.out.extend_from_slice(&body);
        self.out.extend_from_slice(&l);
    }
    pub fn shb(&mut self) {
        let mut b = self.u32(0x1a2b_3c4d).to_vec();
        b.extend_from_slice(&self.u16(1));
        b.extend_from_slice(&self.u16(0));
        b.extend_from_slice(&[0xff; 8]); // section length unknown
        self.block(0x0a0d_0d0a, &b);
    }
    pub fn idb(&mut self, link: u16, snaplen: u32, opts: &[(u16, &[u8])]) {
        let mut b = self.u16(link).to_vec();
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&self.u32(snaplen));
        for (code, value) in opts {
            b.extend_from_slice(&self.u16(*code));
            b.extend_from_slice(&self.u16(value.len() as u16));
            b.extend_from_slice(value);
            while !b.len().is_multiple_of(4) {
                b.push(0);
            }
        }
        b.extend_from_slice(&[0; 4]); // opt_endofopt
        self.block(1, &b);
    }
    pub fn epb(&mut self, iface: u32, raw_ts: u64, orig: u32, data: &[u8]) {
        let mut b = self.u32(iface).to_vec();
        b.extend_from_slice(&self.u32((raw_ts >> 32) as u32));
        b.extend_from_slice(&self.u32(raw_ts as u32));
        b.extend_from_slice(&self.u32(data.len() as u32));
        b.extend_from_slice(&self.u32(orig));
        b.extend_from_slice(data);
        self.block(6, &b);
    }
    pub fn pb(&mut self, iface: u16, raw_ts: u64, data: &[u8]) {
        let mut b = self.u16(iface).to_vec();
        b.extend_from_slice(&self.u16(0));
        b.extend_from_slice(&self.u32((raw_ts >> 32) as u32));
        b.extend_from_slice(&self.u32(raw_ts as u32));
        b.extend_from_slice(&self.u32(data.len() as u32));
        b.extend_from_slice(&self.u32(data.len() as u32));
        b.extend_from_slice(data);
        self.block(2, &b);
    }
    pub fn spb(&mut self, orig: u32, data: &[u8]) {
        let mut b = self.u32(orig).to_vec();
        b.extend_from_slice(data);
        self.block(3, &b);
    }
}

/// Two sections: big-endian (two interfaces, odd resolutions, every packet block, an unknown
/// block) then little-endian.
pub fn two_sections() -> Vec<u8> {
    let mut ng = Ng {
        big: true,
        out: Vec::new(),
    };
    ng.shb();
    ng.block(0x0bad_f00d, &[1, 2, 3, 4, 5]); // unknown: skipped
    ng.idb(1, 8, &[(9, &[0x80 | 20]), (14, &(-10i64).to_be_bytes())]); // 2^-20 s, -10 s
    ng.idb(228, 0, &[(9, &[3]), (2, b"eth9")]); // milliseconds
    ng.epb(
        0,
        (100 << 20) | (1 << 19),
        5,
        &[0xaa, 0xbb, 0xcc, 0xdd, 0xee],
    );
    ng.epb(1, 1_234_567, 3, &[9, 8, 7]);
    ng.pb(1, 2_000, &[1]);
    ng.spb(12, &[0x11; 12]); // cut to IDB 0's snaplen of 8
    let mut le = Ng {
        big: false,
        out: ng.out,
    };
    le.shb();
    le.idb(113, 65_535, &[]);
    le.epb(0, 7_000_001, 2, &[0x42, 0x43]);
    le.out
}

/// The error reading `bytes` ends with (there must be one).
pub fn first_error(bytes: &[u8]) -> CaptureError {
    read_all(bytes).1.expect("an error")
}

/// A classic pcap file header and records built by hand, in either byte order.
pub fn hand_pcap(
    magic: u32,
    big: bool,
    minor: u16,
    records: &[(u32, u32, u32, u32, &[u8])],
) -> Vec<u8> {
    let u32b = |v: u32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u16b = |v: u16| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let modified = magic == 0xa1b2_cd34;
    let mut out = u32b(magic).to_vec();
    out.extend_from_slice(&u16b(2));
    out.extend_from_slice(&u16b(minor));
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&u32b(96));
    out.extend_from_slice(&u32b(0x1000_0001)); // Ethernet with an FCS-length nibble
    for &(secs, frac, first, second, data) in records {
        for v in [secs, frac, first, second] {
            out.extend_from_slice(&u32b(v));
        }
        if modified {
            out.extend_from_slice(&[0; 8]);
        }
        out.extend_from_slice(data);
    }
    out
}
