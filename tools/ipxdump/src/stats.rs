//! `--stats`: counts by framing, protocol, packet type, socket and error.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use sft3::wire::Dissection;

/// Running counts over the frames that matched the filter.
#[derive(Default, Debug)]
pub struct Stats {
    frames: u64,
    bytes: u64,
    framing: BTreeMap<&'static str, u64>,
    proto: BTreeMap<&'static str, u64>,
    packet_type: BTreeMap<u8, u64>,
    dst_socket: BTreeMap<u16, u64>,
    src_socket: BTreeMap<u16, u64>,
    errors: BTreeMap<String, u64>,
}

impl Stats {
    /// Counts one frame (`d` is `None` for a non-Ethernet link type).
    pub fn add(&mut self, len: usize, d: Option<&Dissection<'_>>) {
        self.frames += 1;
        self.bytes += len as u64;
        let Some(d) = d else {
            *self.framing.entry("not-ethernet").or_default() += 1;
            return;
        };
        *self
            .framing
            .entry(d.framing.map_or("other", |f| f.name()))
            .or_default() += 1;
        if let Some(p) = d.proto {
            *self.proto.entry(p.name()).or_default() += 1;
        }
        if let Some(p) = &d.ipx {
            *self.packet_type.entry(p.packet_type().0).or_default() += 1;
            *self.dst_socket.entry(p.dst().socket.0).or_default() += 1;
            *self.src_socket.entry(p.src().socket.0).or_default() += 1;
        }
        if let Some(e) = &d.error {
            // Group by kind, not by the numbers in the message.
            let kind = format!("{e:?}");
            let kind = kind.split([' ', '{', '(']).next().unwrap_or("error");
            *self.errors.entry(kind.to_string()).or_default() += 1;
        }
    }

    /// Frames errors were counted for.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Writes the tables as text, or as one JSON object.
    pub fn write(&self, out: &mut impl Write, json: bool) -> io::Result<()> {
        let mut s = String::new();
        if json {
            self.json(&mut s);
        } else {
            self.text(&mut s);
        }
        out.write_all(s.as_bytes())
    }

    fn text(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "frames {}  bytes {}  errors {}",
            self.frames,
            self.bytes,
            self.error_count()
        );
        table(
            s,
            "framing",
            self.framing.iter().map(|(k, v)| (k.to_string(), *v)),
        );
        table(
            s,
            "protocol",
            self.proto.iter().map(|(k, v)| (k.to_string(), *v)),
        );
        table(
            s,
            "ipx packet type",
            self.packet_type
                .iter()
                .map(|(k, v)| (format!("{k:#04x}"), *v)),
        );
        table(
            s,
            "destination socket",
            self.dst_socket
                .iter()
                .map(|(k, v)| (format!("{k:04x}"), *v)),
        );
        table(
            s,
            "source socket",
            self.src_socket
                .iter()
                .map(|(k, v)| (format!("{k:04x}"), *v)),
        );
        table(
            s,
            "errors",
            self.errors.iter().map(|(k, v)| (k.clone(), *v)),
        );
    }

    fn json(&self, s: &mut String) {
        let _ = write!(
            s,
            "{{\"frames\":{},\"bytes\":{},\"errors\":{},",
            self.frames,
            self.bytes,
            self.error_count()
        );
        obj(
            s,
            "framing",
            self.framing.iter().map(|(k, v)| (k.to_string(), *v)),
        );
        s.push(',');
        obj(
            s,
            "proto",
            self.proto.iter().map(|(k, v)| (k.to_string(), *v)),
        );
        s.push(',');
        obj(
            s,
            "packet_type",
            self.packet_type.iter().map(|(k, v)| (k.to_string(), *v)),
        );
        s.push(',');
        obj(
            s,
            "dst_socket",
            self.dst_socket
                .iter()
                .map(|(k, v)| (format!("{k:04x}"), *v)),
        );
        s.push(',');
        obj(
            s,
            "src_socket",
            self.src_socket
                .iter()
                .map(|(k, v)| (format!("{k:04x}"), *v)),
        );
        s.push(',');
        obj(
            s,
            "error_kinds",
            self.errors.iter().map(|(k, v)| (k.clone(), *v)),
        );
        s.push_str("}\n");
    }
}

fn table(s: &mut String, title: &str, rows: impl Iterator<Item = (String, u64)>) {
    let mut rows: Vec<_> = rows.collect();
    if rows.is_empty() {
        return;
    }
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let _ = writeln!(s, "{title}:");
    for (k, v) in rows {
        let _ = writeln!(s, "  {k:<20} {v:>12}");
    }
}

fn obj(s: &mut String, name: &str, rows: impl Iterator<Item = (String, u64)>) {
    let _ = write!(s, "\"{name}\":{{");
    for (i, (k, v)) in rows.enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "\"{k}\":{v}");
    }
    s.push('}');
}
