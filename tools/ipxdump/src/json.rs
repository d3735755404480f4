//! NDJSON output: one object per frame.
//!
//! `{"n":1,"ts":1214474789.360507,"len":60,"framing":"llc","eth":{...},"ipx":{...},
//! "proto":"rip","detail":{...},"error":null}`. 64-bit identifiers (server ids, incarnations,
//! generations) are hex strings, since JSON numbers lose precision past 2^53.

use std::fmt::Write as _;
use std::io::{self, Write};

use sft3::wire::diag::DiagReply;
use sft3::wire::ipx::ChecksumStatus;
use sft3::wire::msl::{parse_close, AckRepr, FrameType, HandshakeRepr, MslRepr};
use sft3::wire::ncp::{function_name, NcpReply, NcpRepr, NcpRequest};
use sft3::wire::netbios::NbIpxBody;
use sft3::wire::rip::RipOp;
use sft3::wire::sap::SapRepr;
use sft3::wire::state::AuthKind;
use sft3::wire::{Detail, Dissection, IpxAddr, IpxPacket};

use crate::timefmt::write_epoch;

/// Writes one frame as a JSON line. `d` is `None` for a non-Ethernet link type.
pub fn write_frame(
    out: &mut impl Write,
    line: &mut String,
    n: u64,
    ts_ns: i128,
    frame: &[u8],
    d: Option<&Dissection<'_>>,
) -> io::Result<()> {
    let l = line;
    l.clear();
    let _ = write!(l, "{{\"n\":{n},\"ts\":");
    let _ = write_epoch(l, ts_ns);
    let _ = write!(l, ",\"len\":{},\"framing\":", frame.len());
    match d {
        None => l.push_str(
            "\"other\",\"eth\":null,\"ipx\":null,\"proto\":null,\"detail\":null,\
             \"error\":\"link type is not Ethernet\"",
        ),
        Some(d) => dissection(l, d),
    }
    l.push_str("}\n");
    out.write_all(l.as_bytes())
}

fn dissection(l: &mut String, d: &Dissection<'_>) {
    let _ = write!(
        l,
        "\"{}\",\"eth\":",
        d.framing.map_or("other", |f| f.name())
    );
    match &d.eth {
        Some(e) => {
            let _ = write!(l, "{{\"src\":\"{}\",\"dst\":\"{}\",\"vlan\":", e.src, e.dst);
            match e.vlan {
                Some(t) => {
                    let _ = write!(l, "{}", t.vid());
                }
                None => l.push_str("null"),
            }
            l.push('}');
        }
        None => l.push_str("null"),
    }
    l.push_str(",\"ipx\":");
    match &d.ipx {
        Some(p) => ipx(l, p),
        None => l.push_str("null"),
    }
    l.push_str(",\"proto\":");
    match d.proto {
        Some(p) => {
            let _ = write!(l, "\"{}\"", p.name());
        }
        None => l.push_str("null"),
    }
    l.push_str(",\"detail\":");
    match &d.detail {
        Some(detail) => self::detail(l, detail),
        None => l.push_str("null"),
    }
    l.push_str(",\"error\":");
    match &d.error {
        Some(e) => string(l, e.to_string().as_bytes()),
        None => l.push_str("null"),
    }
}

fn addr(l: &mut String, a: &IpxAddr) {
    let _ = write!(
        l,
        "{{\"net\":\"{}\",\"node\":\"{}\",\"socket\":{}}}",
        a.net,
        a.node.hex(),
        a.socket.0
    );
}

fn ipx(l: &mut String, p: &IpxPacket<&[u8]>) {
    let status = match p.verify_checksum() {
        ChecksumStatus::None => "none",
        ChecksumStatus::Good => "good",
        ChecksumStatus::Bad { .. } => "bad",
    };
    let _ = write!(
        l,
        "{{\"checksum\":{},\"checksum_status\":\"{status}\",\"length\":{},\"hops\":{},\"type\":{},\"dst\":",
        p.checksum(),
        p.length(),
        p.hops(),
        p.packet_type().0
    );
    addr(l, &p.dst());
    l.push_str(",\"src\":");
    addr(l, &p.src());
    l.push('}');
}

/// A JSON string from bytes: printable ASCII as is, everything else `\u00XX`.
fn string(l: &mut String, b: &[u8]) {
    l.push('"');
    for &c in b {
        match c {
            b'"' => l.push_str("\\\""),
            b'\\' => l.push_str("\\\\"),
            0x20..=0x7e => l.push(c as char),
            _ => {
                let _ = write!(l, "\\u{c:04x}");
            }
        }
    }
    l.push('"');
}

fn opt_name(l: &mut String, n: Option<&str>) {
    match n {
        Some(n) => string(l, n.as_bytes()),
        None => l.push_str("null"),
    }
}

fn detail(l: &mut String, d: &Detail<'_>) {
    match d {
        Detail::Rip(r) => {
            let op = if r.op == RipOp::Request {
                "request"
            } else {
                "response"
            };
            let _ = write!(l, "{{\"op\":\"{op}\",\"entries\":[");
            for (i, e) in r.entries.iter().enumerate() {
                comma(l, i);
                let _ = write!(
                    l,
                    "{{\"net\":\"{}\",\"hops\":{},\"ticks\":{}}}",
                    e.net, e.hops, e.ticks
                );
            }
            l.push_str("]}");
        }
        Detail::Sap(SapRepr::Request {
            nearest,
            server_type,
        }) => {
            let op = if *nearest {
                "nearest_request"
            } else {
                "general_request"
            };
            let _ = write!(l, "{{\"op\":\"{op}\",\"server_type\":{}}}", server_type.0);
        }
        Detail::Sap(SapRepr::Response { nearest, entries }) => {
            let op = if *nearest {
                "nearest_response"
            } else {
                "general_response"
            };
            let _ = write!(l, "{{\"op\":\"{op}\",\"entries\":[");
            for (i, e) in entries.iter().enumerate() {
                comma(l, i);
                let _ = write!(l, "{{\"type\":{},\"type_name\":", e.server_type.0);
                opt_name(l, e.server_type.name());
                l.push_str(",\"name\":");
                string(l, e.name());
                l.push_str(",\"addr\":");
                addr(l, &e.addr);
                let _ = write!(l, ",\"hops\":{}}}", e.hops);
            }
            l.push_str("]}");
        }
        Detail::DiagRequest(r) => {
            l.push_str("{\"op\":\"request\",\"exclusions\":[");
            for (i, n) in r.exclusions().enumerate() {
                comma(l, i);
                let _ = write!(l, "\"{}\"", n.hex());
            }
            l.push_str("]}");
        }
        Detail::DiagReply(r) => diag_reply(l, r),
        Detail::Spx(s, data) => {
            let _ = write!(
                l,
                "{{\"flags\":\"{}\",\"connection_control\":{},\"datastream_type\":{},\
                 \"src_conn\":{},\"dst_conn\":{},\"seq\":{},\"ack\":{},\"alloc\":{},\
                 \"negotiation_size\":{},\"data_len\":{}}}",
                s.flags,
                s.flags.0,
                s.datastream_type.0,
                s.src_conn,
                s.dst_conn,
                s.seq,
                s.ack,
                s.alloc,
                s.negotiation_size.map_or("null".into(), |n| n.to_string()),
                data.len()
            );
        }
        Detail::Ncp(n) => ncp(l, n),
        Detail::Netbios(n) => {
            l.push_str("{\"kind\":\"novell\"");
            match &n.body {
                NbIpxBody::Name { op, name, flags } => {
                    let _ = write!(l, ",\"op\":{},\"name_flags\":{flags},\"name\":", op.0);
                    string(l, name.to_string().as_bytes());
                }
                NbIpxBody::Session {
                    op,
                    src_conn,
                    dst_conn,
                    send_seq,
                    ..
                } => {
                    let _ = write!(
                        l,
                        ",\"op\":{},\"src_conn\":{src_conn},\"dst_conn\":{dst_conn},\"send_seq\":{send_seq}",
                        op.0
                    );
                }
                NbIpxBody::Datagram {
                    receiver, sender, ..
                } => {
                    l.push_str(",\"op\":11,\"receiver\":");
                    string(l, receiver.to_string().as_bytes());
                    l.push_str(",\"sender\":");
                    string(l, sender.to_string().as_bytes());
                }
                NbIpxBody::Other { op, .. } => {
                    let _ = write!(l, ",\"op\":{}", op.0);
                }
            }
            l.push('}');
        }
        Detail::Nmpi(n) => {
            let _ = write!(
                l,
                "{{\"kind\":\"nmpi\",\"opcode\":{},\"name_type\":{},\"message_id\":{},\"name\":",
                n.opcode, n.name_type, n.message_id
            );
            string(l, n.name.to_string().as_bytes());
            l.push_str(",\"source\":");
            string(l, n.source.to_string().as_bytes());
            l.push('}');
        }
        Detail::State { repr: s, auth } => {
            l.push_str("{\"name\":");
            string(l, s.name());
            let _ = write!(
                l,
                ",\"server_id\":\"{:016x}\",\"incarnation\":\"{:016x}\",\"sequence\":{},\
                 \"generation\":\"{:016x}\",\"role\":\"{}\",\"mirror_state\":\"{}\",\
                 \"priority\":{},\"flags\":{},\"msl_state\":\"{}\",\"msl_age_ms\":{},\
                 \"engine_net\":\"{}\",\"interval_us\":{},\"working_adapters\":{},\
                 \"total_score\":{},\"authenticated\":{},\"adapters\":[",
                s.server_id,
                s.incarnation,
                s.sequence,
                s.generation,
                s.role,
                s.mirror_state,
                s.priority,
                s.flags.0,
                s.msl_state,
                s.msl_age_ms,
                s.engine_net,
                s.interval_us,
                s.working_adapters,
                s.total_score,
                *auth != AuthKind::None
            );
            for (i, a) in s.adapters.iter().enumerate() {
                comma(l, i);
                let _ = write!(
                    l,
                    "{{\"index\":{},\"flags\":{},\"score\":{},\"peer_age_ms\":{}}}",
                    a.index, a.flags.0, a.score, a.peer_age_ms
                );
            }
            l.push_str("]}");
        }
        Detail::Msl {
            repr,
            authenticated,
            payload,
        } => msl(l, repr, *authenticated, payload),
        Detail::Data(p) => {
            let _ = write!(l, "{{\"len\":{}}}", p.len());
        }
    }
}

fn comma(l: &mut String, i: usize) {
    if i > 0 {
        l.push(',');
    }
}

fn diag_reply(l: &mut String, r: &DiagReply<&[u8]>) {
    let _ = write!(
        l,
        "{{\"op\":\"reply\",\"major\":{},\"minor\":{},\"spx_socket\":{},\"components\":[",
        r.major_version(),
        r.minor_version(),
        r.spx_socket().0
    );
    for (i, c) in r.components().enumerate() {
        comma(l, i);
        let _ = write!(l, "{{\"id\":{},\"name\":", c.id().0);
        opt_name(l, c.id().name());
        l.push_str(",\"networks\":[");
        for (j, n) in c.networks().enumerate() {
            comma(l, j);
            let _ = write!(
                l,
                "{{\"type\":{},\"net\":\"{}\",\"node\":\"{}\"}}",
                n.net_type.0,
                n.net,
                n.node.hex()
            );
        }
        l.push_str("]}");
    }
    l.push_str("]}");
}

fn request(l: &mut String, kind: &str, r: &NcpRequest) {
    let _ = write!(
        l,
        "{{\"type\":\"{kind}\",\"sequence\":{},\"connection\":{},\"task\":{},\"function\":{},\"function_name\":",
        r.sequence, r.connection, r.task, r.function
    );
    opt_name(l, function_name(r.function));
    l.push_str(",\"subfunction\":");
    match r.subfunction {
        Some(s) => {
            let _ = write!(l, "{}", s.code);
        }
        None => l.push_str("null"),
    }
    l.push('}');
}

fn reply(l: &mut String, kind: &str, r: &NcpReply) {
    let _ = write!(
        l,
        "{{\"type\":\"{kind}\",\"sequence\":{},\"connection\":{},\"task\":{},\
         \"completion_code\":{},\"connection_status\":{}}}",
        r.sequence, r.connection, r.task, r.completion_code, r.connection_status
    );
}

fn ncp(l: &mut String, n: &NcpRepr) {
    match n {
        NcpRepr::Create(r) => request(l, "create", r),
        NcpRepr::Request(r) => request(l, "request", r),
        NcpRepr::Destroy(r) => request(l, "destroy", r),
        NcpRepr::Reply(r) => reply(l, "reply", r),
        NcpRepr::Busy(r) => reply(l, "busy", r),
        NcpRepr::Burst(b) => {
            let _ = write!(
                l,
                "{{\"type\":\"burst\",\"flags\":{},\"stream_type\":{},\"src_conn\":{},\"dst_conn\":{},\
                 \"packet_seq\":{},\"send_delay\":{},\"burst_seq\":{},\"ack_seq\":{},\
                 \"total_len\":{},\"burst_offset\":{},\"burst_len\":{},\"fragment_count\":{}}}",
                b.flags.0,
                b.stream_type,
                b.src_conn,
                b.dst_conn,
                b.packet_seq,
                b.send_delay,
                b.burst_seq,
                b.ack_seq,
                b.total_len,
                b.burst_offset,
                b.burst_len,
                b.fragment_count
            );
        }
        NcpRepr::Other(t) => {
            let _ = write!(l, "{{\"type\":\"other\",\"ncp_type\":{}}}", t.0);
        }
    }
}

fn msl(l: &mut String, m: &MslRepr, authenticated: bool, payload: &[u8]) {
    let _ = write!(
        l,
        "{{\"type\":\"{}\",\"priority\":\"{}\",\"flags\":{},\"window\":{},\
         \"sender_incarnation\":\"{:016x}\",\"receiver_incarnation\":\"{:016x}\",\
         \"seq\":{},\"ack\":{},\"message_id\":{},\"fragment_offset\":{},\"message_len\":{},\
         \"payload_len\":{},\"authenticated\":{authenticated}",
        m.frame_type,
        m.priority.name(),
        m.flags,
        m.window,
        m.sender_incarnation,
        m.receiver_incarnation,
        m.seq,
        m.ack,
        m.message_id,
        m.fragment_offset,
        m.message_len,
        m.payload_len
    );
    match m.frame_type {
        FrameType::Ack => {
            if let Ok(a) = AckRepr::parse_bytes(payload) {
                l.push_str(",\"sack\":[");
                for (i, b) in a.blocks.iter().enumerate() {
                    comma(l, i);
                    let _ = write!(l, "[{},{}]", b.start, b.end);
                }
                l.push(']');
            }
        }
        FrameType::Hello | FrameType::HelloAck => {
            if let Ok(h) = HandshakeRepr::parse_bytes(payload) {
                l.push_str(",\"handshake\":{\"name\":");
                string(l, h.name());
                let _ = write!(
                    l,
                    ",\"server_id\":\"{:016x}\",\"min_version\":{},\"max_version\":{},\"role\":\"{}\",\
                     \"max_frame\":{},\"volume_size\":{},\"region_size\":{},\"engine_version\":{},\
                     \"history\":[",
                    h.server_id,
                    h.min_version,
                    h.max_version,
                    h.role,
                    h.max_frame,
                    h.volume_size,
                    h.region_size,
                    h.engine_version
                );
                for (i, g) in h.history.iter().enumerate() {
                    comma(l, i);
                    let _ = write!(l, "\"{g:016x}\"");
                }
                l.push_str("]}");
            }
        }
        FrameType::Close | FrameType::Reset => {
            if let Ok((reason, text)) = parse_close(payload) {
                let _ = write!(l, ",\"reason\":{},\"text\":", reason.0);
                string(l, text);
            }
        }
        FrameType::Data | FrameType::Heartbeat => {}
    }
    l.push('}');
}
