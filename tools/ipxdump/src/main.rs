//! `ipxdump`: tcpdump for IPX.
//!
//! Reads pcap/pcapng files (`-r`) or captures live on an `AF_PACKET` socket (`-i`), decodes the
//! IPX framings and protocols (RIP, SAP, diagnostics, SPX, NCP, NetBIOS) and sft3's own
//! server-state and MSL frames, and prints one line per frame, NDJSON (`--json`) or statistics
//! (`--stats`).

mod source;

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{ArgAction, Parser};

use ipxdump::filter::Filter;
use ipxdump::text::{Printer, TextOptions};
use ipxdump::timefmt::TsStyle;
use ipxdump::{facts, json, stats};
use sft3::wire::dissect;
use source::{Frame, Source};

/// Command-line options, in tcpdump's habits.
#[derive(Parser, Debug)]
#[command(
    name = "ipxdump",
    version,
    about = "Inspect IPX traffic: framings, RIP, SAP, NCP, SPX, NetBIOS, diagnostics, sft3 state and MSL frames",
    after_help = "FILTER primitives: ipx rip sap ncp spx netbios diag state msl data | \
ethernet_ii raw_802_3 llc snap other | type N | [src|dst] socket S | [src|dst] net N | \
[src|dst] node M | broadcast | error; combined with and/or/not and parentheses. \
As in tcpdump, `and` and `or` have equal precedence and group left to right; `not` binds \
tightest. `ipx` matches a frame whose IPX header decoded (a bad header is `error`). \
Sockets and networks are hexadecimal.\n\nExamples:\n  ipxdump -r capture.pcap sap\n  \
ipxdump -i eth0 -v 'state or msl'\n  ipxdump -r big.pcapng --stats"
)]
struct Args {
    /// Read frames from a pcap or pcapng file (`-` for standard input).
    #[arg(short = 'r', value_name = "FILE", conflicts_with = "interface")]
    read: Option<PathBuf>,
    /// Capture live on this interface (needs CAP_NET_RAW).
    #[arg(short = 'i', value_name = "IFACE")]
    interface: Option<String>,
    /// Write the (filtered) frames to a pcap file instead of printing them (`-` for standard
    /// output). Frames stamped after 2106-02-07, which classic pcap cannot hold, are left out
    /// with a warning.
    #[arg(short = 'w', value_name = "FILE")]
    write: Option<PathBuf>,
    /// With -w FILE, print the frames as well.
    #[arg(long, requires = "write")]
    print: bool,
    /// Stop after N matching frames (N at least 1).
    #[arg(short = 'c', value_name = "N")]
    count: Option<u64>,
    /// Show the link-level header (MAC addresses, framing, lengths).
    #[arg(short = 'e')]
    link: bool,
    /// More detail: -v adds per-protocol fields, -vv every entry and field.
    #[arg(short = 'v', action = ArgAction::Count)]
    verbose: u8,
    /// Hex dump of each frame.
    #[arg(short = 'x')]
    hex: bool,
    /// Timestamps: -t none, -tt epoch, -ttt delta, -tttt date and time (default: time of day, UTC).
    #[arg(short = 't', action = ArgAction::Count)]
    ts: u8,
    /// Accepted for tcpdump habit; ipxdump never resolves names.
    #[arg(short = 'n', action = ArgAction::Count)]
    numeric: u8,
    /// Live capture: do not put the interface into promiscuous mode.
    #[arg(short = 'p')]
    no_promisc: bool,
    /// One JSON object per frame (NDJSON).
    #[arg(long)]
    json: bool,
    /// Print counts by framing, protocol, socket and errors instead of frames.
    #[arg(long)]
    stats: bool,
    /// Filter expression (see below).
    #[arg(value_name = "FILTER", trailing_var_arg = true)]
    filter: Vec<String>,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the chain of contexts, outermost first.
            let _ = writeln!(io::stderr(), "ipxdump: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run() -> Result<()> {
    let args = Args::parse();
    if args.count == Some(0) {
        bail!("invalid packet count 0"); // as tcpdump says
    }
    let to_stdout = args.write.as_ref().is_some_and(|p| p.as_os_str() == "-");
    if to_stdout && (args.print || args.stats) {
        bail!("-w - writes the pcap to standard output: --print and --stats would corrupt it");
    }
    let filter = Filter::parse(&args.filter.join(" "))?;
    let mut source = match (&args.read, &args.interface) {
        (Some(path), None) => Source::file(path)?,
        (None, Some(iface)) => Source::live(iface, !args.no_promisc)?,
        _ => bail!("say where frames come from: -r FILE or -i IFACE"),
    };
    let mut writer = match &args.write {
        Some(p) => Some(source::PcapOut::create(p)?),
        None => None,
    };
    source.start()?;
    let print = writer.is_none() || args.print;
    let stdout = io::stdout();
    // A big buffer for files (speed); a live capture shows each frame as it comes.
    let live = args.interface.is_some();
    let mut out = BufWriter::with_capacity(if live { 1 << 16 } else { 1 << 20 }, stdout.lock());
    let mut printer = Printer::new(TextOptions {
        link: args.link,
        verbose: args.verbose,
        hex: args.hex,
        ts: TsStyle::from_count(args.ts),
    });
    let mut stats = stats::Stats::default();
    let mut line = String::with_capacity(1024);
    let mut matched = 0u64;
    let mut n = 0u64;
    while let Some(frame) = source.next_frame()? {
        n += 1;
        let Frame {
            ts_ns,
            orig_len,
            data,
            ethernet,
        } = frame;
        let d = ethernet.then(|| dissect(data));
        if let Some(f) = &filter {
            if !f.matches(&facts(d.as_ref())) {
                continue;
            }
        }
        matched += 1;
        if let Some(w) = writer.as_mut() {
            w.write(ts_ns, orig_len, data)?;
        }
        let res = if args.stats {
            stats.add(data.len(), d.as_ref());
            Ok(())
        } else if !print {
            Ok(())
        } else if args.json {
            json::write_frame(&mut out, &mut line, n, ts_ns, data, d.as_ref())
        } else {
            printer.print(&mut out, ts_ns, data, d.as_ref())
        };
        let res = res.and_then(|()| if live { out.flush() } else { Ok(()) });
        if let Err(e) = res {
            if e.kind() == io::ErrorKind::BrokenPipe {
                return Ok(()); // `ipxdump ... | head` is not an error
            }
            return Err(e).context("writing output");
        }
        if args.count.is_some_and(|c| matched >= c) {
            break;
        }
    }
    if args.stats {
        stats
            .write(&mut out, args.json)
            .context("writing statistics")?;
    }
    if let Some(w) = writer.as_mut() {
        w.finish()?;
    }
    match out.flush() {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e).context("writing output"),
        _ => {
            source.report(n, matched);
            Ok(())
        }
    }
}
