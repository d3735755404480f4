//! Words for each protocol: the one-line summary and the `-v`/`-vv` detail lines.

use std::fmt::Write as _;

use sft3::wire::diag::DiagReply;
use sft3::wire::ethernet::Encap;
use sft3::wire::msl::{parse_close, AckRepr, FrameType, HandshakeRepr, MslRepr};
use sft3::wire::ncp::{function_name, NcpRepr};
use sft3::wire::netbios::{NbIpxBody, NbIpxRepr};
use sft3::wire::rip::{RipOp, RipRepr};
use sft3::wire::sap::SapRepr;
use sft3::wire::state::{AdapterFlags, AuthKind, NameDisplay, StateFlags, StateRepr};
use sft3::wire::{Detail, EthernetRepr, IpxPacket};

/// How many list entries the one-line summary shows before `(+N more)`.
const SHORT_LIST: usize = 3;

/// The one-line summary of an IPX packet's content.
pub fn summary(l: &mut String, d: &Detail<'_>, ipx: &IpxPacket<&[u8]>, verbose: u8) {
    match d {
        Detail::Rip(r) => rip(l, r, verbose),
        Detail::Sap(s) => sap(l, s, verbose),
        Detail::DiagRequest(r) => {
            let _ = write!(l, "configuration request, {} excluded", r.exclusion_count());
        }
        Detail::DiagReply(r) => diag_reply(l, r),
        Detail::Spx(s, data) => {
            let _ = write!(
                l,
                "{} conn {:04x}>{:04x} seq {} ack {} alloc {}",
                s.flags, s.src_conn, s.dst_conn, s.seq, s.ack, s.alloc
            );
            if let Some(n) = s.negotiation_size {
                let _ = write!(l, " neg {n}");
            }
            if s.datastream_type.0 != 0 {
                let _ = write!(l, " dst {}", s.datastream_type);
            }
            let _ = write!(l, " len {}", data.len());
        }
        Detail::Ncp(n) => ncp(l, n),
        Detail::Netbios(n) => netbios(l, n, ipx.payload().len()),
        Detail::Nmpi(n) => {
            let _ = write!(
                l,
                "nmpi op {:#04x} name {} from {} len {}",
                n.opcode,
                n.name,
                n.source,
                ipx.payload().len()
            );
        }
        Detail::State { repr, auth } => {
            state(l, repr);
            if *auth != AuthKind::None {
                l.push_str(" [tagged]");
            }
        }
        Detail::Msl {
            repr,
            authenticated,
            payload,
        } => msl_summary(l, repr, *authenticated, payload, verbose),
        Detail::Data(p) => {
            let _ = write!(l, "len {}", p.len());
        }
    }
}

fn rip(l: &mut String, r: &RipRepr, verbose: u8) {
    if r.op == RipOp::Request && r.is_general_request() {
        l.push_str("request all networks");
        return;
    }
    l.push_str(if r.op == RipOp::Request {
        "request"
    } else {
        "response"
    });
    list(l, r.entries.iter(), verbose, |l, e| {
        let _ = write!(l, "{e}");
    });
}

fn sap(l: &mut String, s: &SapRepr, verbose: u8) {
    match s {
        SapRepr::Request {
            nearest,
            server_type,
        } => {
            let kind = if *nearest { "nearest" } else { "general" };
            let _ = write!(l, "{kind} request type {server_type}");
            if let Some(n) = server_type.name() {
                let _ = write!(l, " ({n})");
            }
        }
        SapRepr::Response { nearest, entries } => {
            let kind = if *nearest { "nearest" } else { "general" };
            let _ = write!(l, "{kind} response");
            list(l, entries.iter(), verbose, |l, e| {
                let _ = write!(l, "{} '{}'", e.server_type, e.display_name());
                if e.is_down() {
                    l.push_str(" down");
                }
            });
        }
    }
}

/// Writes up to [`SHORT_LIST`] items (all with `-v`), then `(+N more)`.
fn list<T>(
    l: &mut String,
    items: impl ExactSizeIterator<Item = T>,
    verbose: u8,
    mut one: impl FnMut(&mut String, T),
) {
    let n = items.len();
    let show = if verbose > 0 { n } else { n.min(SHORT_LIST) };
    for (i, item) in items.take(show).enumerate() {
        l.push_str(if i == 0 { " " } else { ", " });
        one(l, item);
    }
    if show < n {
        let _ = write!(l, " (+{} more)", n - show);
    }
}

fn diag_reply(l: &mut String, r: &DiagReply<&[u8]>) {
    let _ = write!(
        l,
        "configuration reply v{}.{} spx socket {}:",
        r.major_version(),
        r.minor_version(),
        r.spx_socket()
    );
    for c in r.components() {
        let _ = write!(l, " {}", c.id());
        let nets = c.networks().count();
        if nets > 0 {
            let _ = write!(l, "[{nets} nets]");
        }
    }
}

fn ncp(l: &mut String, n: &NcpRepr) {
    match n {
        NcpRepr::Create(r) | NcpRepr::Request(r) | NcpRepr::Destroy(r) => {
            let kind = match n {
                NcpRepr::Create(_) => "create",
                NcpRepr::Destroy(_) => "destroy",
                _ => "request",
            };
            let _ = write!(
                l,
                "{kind} seq {} conn {} task {}",
                r.sequence, r.connection, r.task
            );
            if matches!(n, NcpRepr::Request(_)) {
                let _ = write!(l, " func {}", r.function);
                if let Some(s) = r.subfunction {
                    let _ = write!(l, "/{}", s.code);
                }
                if let Some(name) = function_name(r.function) {
                    let _ = write!(l, " ({name})");
                }
            }
        }
        NcpRepr::Reply(r) | NcpRepr::Busy(r) => {
            let kind = if matches!(n, NcpRepr::Busy(_)) {
                "busy"
            } else {
                "reply"
            };
            let _ = write!(
                l,
                "{kind} seq {} conn {} task {} cc {} status {:#04x}",
                r.sequence, r.connection, r.task, r.completion_code, r.connection_status
            );
        }
        NcpRepr::Burst(b) => {
            let _ = write!(
                l,
                "burst {} conn {:08x}>{:08x} seq {} burst {} ack {} off {}/{} len {}",
                b.flags,
                b.src_conn,
                b.dst_conn,
                b.packet_seq,
                b.burst_seq,
                b.ack_seq,
                b.burst_offset,
                b.total_len,
                b.burst_len
            );
        }
        NcpRepr::Other(t) => {
            let _ = write!(l, "type {:#06x}", t.0);
        }
    }
}

fn netbios(l: &mut String, n: &NbIpxRepr, len: usize) {
    match &n.body {
        NbIpxBody::Name { op, name, .. } => {
            let _ = write!(l, "{op} {name}");
        }
        NbIpxBody::Session {
            op,
            src_conn,
            dst_conn,
            send_seq,
            ..
        } => {
            let _ = write!(l, "{op} conn {src_conn:04x}>{dst_conn:04x} seq {send_seq}");
        }
        NbIpxBody::Datagram {
            receiver, sender, ..
        } => {
            let _ = write!(l, "datagram {sender} > {receiver}");
        }
        NbIpxBody::Other { op, .. } => {
            let _ = write!(l, "{op}");
        }
    }
    let _ = write!(l, " len {len}");
}

fn state(l: &mut String, s: &StateRepr) {
    let _ = write!(
        l,
        "{} id {:016x} {} {} gen {:016x} seq {} msl {}",
        s.name_display(),
        s.server_id,
        s.role,
        s.mirror_state,
        s.generation,
        s.sequence,
        s.msl_state
    );
    let _ = write!(
        l,
        " adapters {}/{} score {}",
        s.working_adapters,
        s.adapters.len(),
        s.total_score
    );
}

/// The one-line summary of an MSL frame.
pub fn msl_summary(l: &mut String, m: &MslRepr, authenticated: bool, payload: &[u8], verbose: u8) {
    let _ = write!(
        l,
        "{} {} seq {} ack {} win {}",
        m.frame_type,
        m.priority.name(),
        m.seq,
        m.ack,
        m.window
    );
    if m.frame_type != FrameType::Data {
        let _ = write!(l, " ctr {}", m.control_counter());
    }
    match m.frame_type {
        FrameType::Data => {
            let _ = write!(
                l,
                " msg {} off {}/{}",
                m.message_id, m.fragment_offset, m.message_len
            );
        }
        FrameType::Ack => {
            if let Ok(a) = AckRepr::parse_bytes(payload) {
                sack(l, &a, verbose);
            }
        }
        FrameType::Hello | FrameType::HelloAck => {
            if let Ok(h) = HandshakeRepr::parse_bytes(payload) {
                let _ = write!(
                    l,
                    " server {} id {:016x} v{}-{} {}",
                    h.name_display(),
                    h.server_id,
                    h.min_version,
                    h.max_version,
                    h.role
                );
            }
        }
        FrameType::Close | FrameType::Reset => {
            if let Ok((reason, text)) = parse_close(payload) {
                // Wire text never reaches the terminal raw: no newlines or escape sequences.
                let _ = write!(l, " reason {reason} '{}'", NameDisplay(text));
            }
        }
        FrameType::Heartbeat => {}
    }
    let _ = write!(l, " len {}", payload.len());
    l.push_str(if authenticated {
        " [tagged]"
    } else {
        " [crc ok]"
    });
}

fn sack(l: &mut String, a: &AckRepr, verbose: u8) {
    if a.blocks.is_empty() {
        return;
    }
    l.push_str(" sack");
    list(l, a.blocks.iter(), verbose, |l, b| {
        let _ = write!(l, "{}-{}", b.start, b.end);
    });
}

/// A summary of a frame that carries no IPX (and is not MSL).
pub fn other_summary(l: &mut String, eth: &EthernetRepr, payload: &[u8]) {
    match eth.encap {
        Encap::EthernetII { ethertype } => {
            crate::ip::summary(l, ethertype, payload);
        }
        Encap::Llc {
            dsap,
            ssap,
            control,
        } => {
            let _ = write!(
                l,
                "802.2 LLC dsap {dsap:#04x} ssap {ssap:#04x} ctrl {control} len {}",
                payload.len()
            );
        }
        Encap::Snap { oui, ethertype } => {
            let _ = write!(
                l,
                "SNAP oui {:02x}{:02x}{:02x} type {ethertype:#06x} len {}",
                oui[0],
                oui[1],
                oui[2],
                payload.len()
            );
        }
        Encap::Raw8023 => {
            let _ = write!(l, "802.3 raw len {}", payload.len());
        }
    }
}

fn flag_names(l: &mut String, bits: u8, names: &[(u8, &str)]) {
    let mut first = true;
    for (b, n) in names {
        if bits & b != 0 {
            if !first {
                l.push('|');
            }
            l.push_str(n);
            first = false;
        }
    }
    if first {
        l.push('-');
    }
}

const STATE_FLAGS: [(u8, &str); 4] = [
    (StateFlags::SERVING.0, "serving"),
    (StateFlags::DATA_CONSISTENT.0, "consistent"),
    (StateFlags::TRACKING_CHANGES.0, "tracking"),
    (StateFlags::OPERATOR_WAIT.0, "operator-wait"),
];

const ADAPTER_FLAGS: [(u8, &str); 5] = [
    (AdapterFlags::CARRIER.0, "carrier"),
    (AdapterFlags::OPER_UP.0, "up"),
    (AdapterFlags::HEARS_IPX.0, "hears-ipx"),
    (AdapterFlags::HEARS_PEER.0, "hears-peer"),
    (AdapterFlags::WORKING.0, "working"),
];

/// Extra lines for `-v` (entries with addresses, all header fields) and `-vv` (every field).
pub fn verbose_lines(l: &mut String, d: &Detail<'_>, verbose: u8) {
    match d {
        Detail::Sap(SapRepr::Response { entries, .. }) => {
            for e in entries {
                let _ = write!(
                    l,
                    "\n    {} '{}' at {} hops {}",
                    e.server_type,
                    e.display_name(),
                    e.addr.dotted(),
                    e.hops
                );
                if let Some(n) = e.server_type.name() {
                    let _ = write!(l, " ({n})");
                }
            }
        }
        Detail::DiagReply(r) if verbose > 1 => {
            for c in r.components() {
                for n in c.networks() {
                    let _ = write!(
                        l,
                        "\n    {}: {} net {} node {}",
                        c.id(),
                        n.net_type.0,
                        n.net,
                        n.node.hex()
                    );
                }
            }
        }
        Detail::DiagRequest(r) if verbose > 1 => {
            for n in r.exclusions() {
                let _ = write!(l, "\n    exclude {}", n.hex());
            }
        }
        Detail::State { repr: s, .. } => {
            let _ = write!(
                l,
                "\n    incarnation {:016x} priority {} flags ",
                s.incarnation, s.priority
            );
            flag_names(l, s.flags.0, &STATE_FLAGS);
            let _ = write!(
                l,
                " engine net {} interval {} us msl age {} ms",
                s.engine_net, s.interval_us, s.msl_age_ms
            );
            for a in &s.adapters {
                let _ = write!(l, "\n    adapter {} score {} ", a.index, a.score);
                flag_names(l, a.flags.0, &ADAPTER_FLAGS);
                let _ = write!(l, " peer age {} ms", a.peer_age_ms);
            }
        }
        Detail::Msl {
            repr: m, payload, ..
        } => {
            let _ = write!(
                l,
                "\n    incarnation {:016x} peer {:016x} flags {:#04x}",
                m.sender_incarnation, m.receiver_incarnation, m.flags
            );
            if verbose > 1 {
                if let (FrameType::Hello | FrameType::HelloAck, Ok(h)) =
                    (m.frame_type, HandshakeRepr::parse_bytes(payload))
                {
                    let _ = write!(
                        l,
                        "\n    volume {} region {} engine {} max frame {} history",
                        h.volume_size, h.region_size, h.engine_version, h.max_frame
                    );
                    for g in &h.history {
                        let _ = write!(l, " {g:016x}");
                    }
                }
            }
        }
        Detail::Ncp(NcpRepr::Request(r)) if verbose > 1 => {
            if let Some(s) = r.subfunction {
                let _ = write!(l, "\n    subfunction {} length {:?}", s.code, s.length);
            }
        }
        _ => {}
    }
}
