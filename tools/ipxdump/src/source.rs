//! Where frames come from (a capture file or a live interface) and where `-w` writes them.

use std::fs::File;
use std::io::{self, BufWriter, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::UNIX_EPOCH;

use anyhow::{Context, Result};
use sft3::capture::{CaptureReader, LinkType, PcapWriter, Timestamp};
use sft3::link::{PacketSocket, SocketOptions};

/// One frame handed to the decoder.
pub struct Frame<'a> {
    /// Capture time, nanoseconds since the epoch.
    pub ts_ns: i128,
    /// Length on the wire.
    pub orig_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
    /// True when the bytes start with an Ethernet header.
    pub ethernet: bool,
}

/// A capture file or a live socket.
pub enum Source {
    /// Reading a pcap/pcapng file.
    File {
        /// The reader.
        reader: CaptureReader<Box<dyn Read>>,
        /// The file's name, for messages.
        name: String,
    },
    /// Capturing on an interface.
    Live {
        /// The raw socket.
        sock: PacketSocket,
        /// The receive buffer.
        buf: Vec<u8>,
        /// The interface's name.
        iface: String,
    },
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

impl Source {
    /// Opens a capture file (`-` is standard input).
    pub fn file(path: &Path) -> Result<Source> {
        let name = path.display().to_string();
        let input: Box<dyn Read> = if name == "-" {
            Box::new(io::stdin())
        } else {
            Box::new(File::open(path).with_context(|| format!("cannot open {name}"))?)
        };
        let reader = CaptureReader::new(input).with_context(|| format!("cannot read {name}"))?;
        Ok(Source::File { reader, name })
    }

    /// Opens a live capture on `iface`; Ctrl-C ends it cleanly (output flushed, `-w` closed).
    pub fn live(iface: &str, promiscuous: bool) -> Result<Source> {
        let opts = SocketOptions {
            promiscuous,
            ignore_outgoing: false, // like tcpdump: show what this host sends too
            ..SocketOptions::default()
        };
        let sock = PacketSocket::open(iface, &opts)?;
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
            libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        }
        Ok(Source::Live {
            sock,
            buf: vec![0u8; 65_536],
            iface: iface.to_string(),
        })
    }

    /// The next frame, or `None` at the end of the file / after Ctrl-C.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>> {
        match self {
            Source::File { reader, name } => match reader.next_packet() {
                None => Ok(None),
                Some(Err(e)) => Err(e).with_context(|| format!("reading {name}")),
                Some(Ok(p)) => Ok(Some(Frame {
                    ts_ns: p.ts.as_unix_nanos() as i128,
                    orig_len: p.orig_len,
                    data: p.data,
                    ethernet: p.link_type == LinkType::ETHERNET,
                })),
            },
            Source::Live { sock, buf, .. } => loop {
                if STOP.load(Ordering::Relaxed) {
                    return Ok(None);
                }
                if let Some(meta) = sock.recv(buf)? {
                    let ts = meta.ts.duration_since(UNIX_EPOCH).unwrap_or_default();
                    return Ok(Some(Frame {
                        ts_ns: ts.as_nanos() as i128,
                        orig_len: meta.orig_len as u32,
                        data: &buf[..meta.len],
                        ethernet: true,
                    }));
                }
            },
        }
    }

    /// Drops every capability once the socket and any `-w` file are open (they need
    /// CAP_NET_RAW, and root's CAP_DAC_OVERRIDE for the file), then says it is listening.
    pub fn start(&self) -> Result<()> {
        if let Source::Live { iface, .. } = self {
            sft3::link::raw::drop_capabilities().context("dropping capabilities")?;
            eprintln!("ipxdump: listening on {iface}, Ctrl-C to stop");
        }
        Ok(())
    }

    /// Says on stderr how many frames were seen, for live captures (as tcpdump does).
    pub fn report(&self, seen: u64, matched: u64) {
        if let Source::Live { iface, .. } = self {
            eprintln!("ipxdump: {seen} frames captured on {iface}, {matched} matched the filter");
        }
    }
}

/// The `-w` output: a classic pcap file with microsecond timestamps, as tcpdump writes (`-`
/// for standard output).
pub struct PcapOut {
    w: PcapWriter<BufWriter<Box<dyn io::Write>>>,
    name: String,
    /// Frames left out because classic pcap cannot hold their time.
    skipped: u64,
}

/// The last second a classic pcap record can hold (its seconds field is a `u32`: 2106-02-07).
const PCAP_MAX_SECS: i128 = u32::MAX as i128;

impl PcapOut {
    /// Creates (or truncates) the file; `-` writes to standard output.
    pub fn create(path: &Path) -> Result<PcapOut> {
        let stdout = path.as_os_str() == "-";
        let name = if stdout {
            "standard output".to_string()
        } else {
            path.display().to_string()
        };
        let f: Box<dyn io::Write> = if stdout {
            Box::new(io::stdout())
        } else {
            Box::new(File::create(path).with_context(|| format!("cannot create {name}"))?)
        };
        let w =
            PcapWriter::new(BufWriter::new(f)).with_context(|| format!("cannot write {name}"))?;
        Ok(PcapOut {
            w,
            name,
            skipped: 0,
        })
    }

    /// Appends one frame. A frame stamped after 2106-02-07 (beyond classic pcap) is left
    /// out, with one warning on stderr, rather than ending the run; one stamped before 1970
    /// is written as 1970-01-01 00:00:00.
    pub fn write(&mut self, ts_ns: i128, orig_len: u32, data: &[u8]) -> Result<()> {
        if ts_ns.div_euclid(1_000_000_000) > PCAP_MAX_SECS {
            if self.skipped == 0 {
                eprintln!(
                    "ipxdump: warning: {}: leaving out frames stamped after 2106-02-07 (classic pcap cannot hold their time)",
                    self.name
                );
            }
            self.skipped += 1;
            return Ok(());
        }
        let ts = Timestamp::from_unix_nanos(ts_ns.max(0) as u128);
        self.w
            .write_packet(ts, orig_len, data)
            .with_context(|| format!("writing {}", self.name))
    }

    /// Flushes the file and says how many frames were left out, if any.
    pub fn finish(&mut self) -> Result<()> {
        if self.skipped > 0 {
            eprintln!(
                "ipxdump: {}: {} frame(s) left out (stamped after 2106-02-07)",
                self.name, self.skipped
            );
        }
        self.w
            .flush()
            .with_context(|| format!("writing {}", self.name))
    }
}
