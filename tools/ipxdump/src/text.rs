//! Text output: one line per frame in tcpdump's habit, more with `-v`/`-vv`, `-x` hex.

use std::fmt::Write as _;
use std::io::{self, Write};

use sft3::wire::ethernet::Encap;
use sft3::wire::ipx::ChecksumStatus;
use sft3::wire::{Detail, Dissection, EthernetRepr, IpxAddr, IpxPacket};

use crate::describe;
use crate::timefmt::{write_ts, TsStyle};

/// What the text output shows.
#[derive(Clone, Copy, Debug)]
pub struct TextOptions {
    /// `-e`: the link-level header.
    pub link: bool,
    /// `-v` count.
    pub verbose: u8,
    /// `-x`: hex dump of the frame.
    pub hex: bool,
    /// `-t` count.
    pub ts: TsStyle,
}

/// Formats frames as text. Reuses one line buffer, so printing allocates nothing per frame.
pub struct Printer {
    opts: TextOptions,
    prev_ts: Option<i128>,
    line: String,
}

impl Printer {
    /// A printer with these options.
    pub fn new(opts: TextOptions) -> Printer {
        Printer {
            opts,
            prev_ts: None,
            line: String::with_capacity(512),
        }
    }

    /// Prints one frame. `d` is `None` when the capture's link type is not Ethernet.
    pub fn print(
        &mut self,
        out: &mut impl Write,
        ts_ns: i128,
        frame: &[u8],
        d: Option<&Dissection<'_>>,
    ) -> io::Result<()> {
        let l = &mut self.line;
        l.clear();
        let prev = self.prev_ts.replace(ts_ns).unwrap_or(ts_ns);
        let _ = write_ts(l, self.opts.ts, ts_ns, prev);
        match d {
            None => {
                let _ = write!(l, "not Ethernet: {} bytes", frame.len());
            }
            Some(d) => line(l, frame, d, &self.opts),
        }
        l.push('\n');
        if self.opts.hex {
            hex_dump(l, frame);
        }
        out.write_all(l.as_bytes())
    }
}

fn line(l: &mut String, frame: &[u8], d: &Dissection<'_>, o: &TextOptions) {
    let Some(eth) = &d.eth else {
        let _ = write!(l, "ethernet [malformed: {}]", err(d));
        return;
    };
    l.push_str(d.framing.map_or("other", |f| f.name()));
    l.push(' ');
    if o.link {
        link_header(l, eth, frame.len());
    }
    if let Some(ipx) = &d.ipx {
        let (src, dst) = (ipx.src(), ipx.dst());
        let _ = write!(l, "{} > {} ", src.dotted(), dst.dotted());
        if let Some(p) = d.proto {
            l.push_str(p.name());
            l.push_str(": ");
        }
        match &d.detail {
            Some(detail) => describe::summary(l, detail, ipx, o.verbose),
            None => l.push_str("[malformed]"),
        }
        if o.verbose > 0 {
            ipx_fields(l, ipx);
        }
    } else if let Some(p) = d.proto {
        // MSL: not IPX, addressed by MAC.
        if !o.link {
            let _ = write!(l, "{} > {} ", eth.src, eth.dst);
        }
        let _ = write!(l, "{}: ", p.name());
        if let Some(Detail::Msl {
            repr,
            authenticated,
            payload,
        }) = &d.detail
        {
            describe::msl_summary(l, repr, *authenticated, payload, o.verbose);
        }
    } else if d.framing.is_some() {
        // The IPX header itself is bad: show the addresses where they would be, as tcpdump does.
        let raw = &frame[d.link_len.min(frame.len())..];
        if raw.len() >= sft3::wire::ipx::HEADER_LEN {
            let dst = IpxAddr::from_bytes(&raw[6..18]);
            let src = IpxAddr::from_bytes(&raw[18..30]);
            let _ = write!(l, "{} > {} ", src.dotted(), dst.dotted());
        }
        l.push_str("ipx:");
    } else if d.error.is_none() {
        if !o.link {
            let _ = write!(l, "{} > {} ", eth.src, eth.dst);
        }
        describe::other_summary(l, eth, &frame[d.link_len.min(frame.len())..]);
    }
    if d.error.is_some() {
        let _ = write!(l, " [malformed: {}]", err(d));
    }
    if o.verbose > 0 {
        if let Some(detail) = &d.detail {
            describe::verbose_lines(l, detail, o.verbose);
        }
    }
}

fn err(d: &Dissection<'_>) -> String {
    d.error.map(|e| e.to_string()).unwrap_or_default()
}

fn ipx_fields(l: &mut String, p: &IpxPacket<&[u8]>) {
    let _ = write!(
        l,
        " (len {}, hops {}, type {:#04x}, checksum ",
        p.length(),
        p.hops(),
        p.packet_type().0
    );
    match p.verify_checksum() {
        ChecksumStatus::None => l.push_str("none)"),
        ChecksumStatus::Good => {
            let _ = write!(l, "{:#06x} ok)", p.checksum());
        }
        ChecksumStatus::Bad { computed } => {
            let _ = write!(l, "{:#06x} bad, should be {computed:#06x})", p.checksum());
        }
    }
}

fn link_header(l: &mut String, eth: &EthernetRepr, len: usize) {
    let _ = write!(l, "{} > {}, ", eth.src, eth.dst);
    if let Some(tag) = eth.vlan {
        let _ = write!(l, "vlan {} p {}, ", tag.vid(), tag.pcp());
    }
    match eth.encap {
        Encap::EthernetII { ethertype } => {
            let _ = write!(l, "ethertype {ethertype:#06x}");
        }
        Encap::Raw8023 => l.push_str("802.3 raw"),
        Encap::Llc {
            dsap,
            ssap,
            control,
        } => {
            let _ = write!(l, "802.3 LLC {dsap:02x}/{ssap:02x} ctrl {control}");
        }
        Encap::Snap { oui, ethertype } => {
            let _ = write!(
                l,
                "802.3 SNAP oui {:02x}{:02x}{:02x} type {ethertype:#06x}",
                oui[0], oui[1], oui[2]
            );
        }
    }
    let _ = write!(l, ", length {len}: ");
}

/// tcpdump's `-x` layout: offset, then 16 bytes in groups of two.
fn hex_dump(l: &mut String, frame: &[u8]) {
    for (i, row) in frame.chunks(16).enumerate() {
        let _ = write!(l, "\t0x{:04x}: ", i * 16);
        for pair in row.chunks(2) {
            l.push(' ');
            for b in pair {
                let _ = write!(l, "{b:02x}");
            }
        }
        l.push('\n');
    }
}
