//! Shared checks of the sft3 fuzz targets: one function per wire format.
//!
//! Each check runs the checked view, every accessor and the `Repr` parser on arbitrary bytes
//! (none may panic), and when the bytes parse asserts the round trips that hold exactly for
//! that format: `emit` into a buffer of `buffer_len` bytes succeeds, writes the same bytes the
//! parser read (for formats without normalisation), re-parses to the same value, and refuses a
//! buffer one byte short. The per-protocol targets call one check on their input; the `frame`
//! target calls the one `classify` chose on the IPX payload of a whole frame.

use sft3::wire::addr::Socket;
use sft3::wire::diag::{DiagMessage, DiagReply, DiagReplyRepr, DiagRequest, DiagRequestRepr};
use sft3::wire::error::WireError;
use sft3::wire::ipx::PacketType;
use sft3::wire::msl::{
    emit_close, parse_close, AckPayload, AckRepr, FrameType, Handshake, HandshakeRepr, MslFrame,
    MslLinkFrame, MslRepr,
};
use sft3::wire::ncp::{
    function_name, subfunction_layout, BurstFlags, BurstPacket, BurstRepr, NcpPacket, NcpRepr,
};
use sft3::wire::netbios::{NbIpxPacket, NbIpxRepr, NmpiPacket, NmpiRepr};
use sft3::wire::rip::{RipPacket, RipRepr};
use sft3::wire::sap::{SapPacket, SapRepr};
use sft3::wire::spx::{SpxPacket, SpxRepr};
use sft3::wire::state::{AuthKey, AuthKind, StatePacket, StateRepr};

/// The fixed key of the keyed checks: bytes 0x00..=0x1f, the key of the golden vectors in
/// tests/wire_state.rs and tests/wire_msl.rs (so the tagged seeds verify).
pub const KEY: AuthKey = {
    let mut k = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        k[i] = i as u8;
        i += 1;
    }
    k
};

/// Another key: a tag made with [`KEY`] must never verify under it.
pub const OTHER_KEY: AuthKey = [0xa5; 32];

/// Asserts that `emit` refuses a buffer one byte shorter than it needs.
fn short_buffer_refused(len: usize, emit: impl FnOnce(&mut [u8]) -> Result<usize, WireError>) {
    if len == 0 {
        return;
    }
    let mut buf = vec![0u8; len - 1];
    match emit(&mut buf) {
        Err(WireError::BufferTooSmall { .. }) => {}
        other => panic!("emit into {} bytes (needs {len}): {other:?}", len - 1),
    }
}

/// RIP: the view, the entries, and an exact byte round trip.
pub fn rip(b: &[u8]) {
    let parsed = RipRepr::parse_bytes(b);
    let Ok(p) = RipPacket::new_checked(b) else {
        assert!(parsed.is_err());
        return;
    };
    let _ = (p.operation(), p.op().to_string());
    let n = p.entry_count();
    assert_eq!(p.entries().count(), n);
    assert!(p.entry(n).is_none() && p.entry(usize::MAX).is_none());
    for e in p.entries() {
        let _ = (e.to_string(), e.is_unreachable());
    }
    let r = parsed.expect("a checked RIP packet parses");
    let mut buf = vec![0u8; r.buffer_len()];
    let len = r.emit(&mut buf).expect("emit of a parsed RIP packet");
    assert_eq!(&buf[..len], b, "RIP emit gives other bytes");
    assert_eq!(RipRepr::parse_bytes(&buf).as_ref(), Ok(&r));
    short_buffer_refused(r.buffer_len(), |buf| r.emit(buf));
}

/// SAP: the view, the entries, and an exact byte round trip.
pub fn sap(b: &[u8]) {
    let parsed = SapRepr::parse_bytes(b);
    let Ok(p) = SapPacket::new_checked(b) else {
        assert!(parsed.is_err());
        return;
    };
    let _ = (p.op(), p.requested_type().map(|t| t.to_string()));
    let n = p.entry_count();
    assert_eq!(p.entries().count(), n);
    assert!(p.entry(n).is_none());
    for e in p.entries() {
        let _ = (
            format!("{e:?}"),
            e.display_name().to_string(),
            e.name(),
            e.is_down(),
        );
    }
    let r = parsed.expect("a checked SAP packet parses");
    let mut buf = vec![0u8; r.buffer_len()];
    let len = r.emit(&mut buf).expect("emit of a parsed SAP packet");
    assert_eq!(&buf[..len], b, "SAP emit gives other bytes");
    assert_eq!(SapRepr::parse_bytes(&buf).as_ref(), Ok(&r));
    short_buffer_refused(r.buffer_len(), |buf| r.emit(buf));
}

/// Diagnostics: request and reply views, and round trips of what they use.
pub fn diag(src: Socket, dst: Socket, b: &[u8]) {
    if let Ok(q) = DiagRequest::new_checked(b) {
        assert_eq!(q.exclusions().count(), q.exclusion_count());
        let r = DiagRequestRepr::parse(&q).expect("a checked request parses");
        let mut buf = vec![0u8; r.buffer_len()];
        let len = r.emit(&mut buf).expect("emit of a parsed request");
        assert_eq!(
            &buf[..len],
            &b[..q.used_len()],
            "diag request emit gives other bytes"
        );
        assert_eq!(DiagRequestRepr::parse_bytes(&buf).as_ref(), Ok(&r));
        short_buffer_refused(r.buffer_len(), |buf| r.emit(buf));
    }
    if let Ok(p) = DiagReply::new_checked(b) {
        let _ = (p.major_version(), p.minor_version(), p.spx_socket());
        assert_eq!(p.used_len() + p.trailing_len(), b.len());
        assert_eq!(p.components().count(), p.component_count());
        for c in p.components() {
            let _ = (c.id().to_string(), c.id().name(), c.networks().count());
        }
        let r = DiagReplyRepr::parse(&p).expect("a checked reply parses");
        let mut buf = vec![0u8; r.buffer_len()];
        let len = r.emit(&mut buf).expect("emit of a parsed reply");
        assert_eq!(
            &buf[..len],
            &b[..p.used_len()],
            "diag reply emit gives other bytes"
        );
        assert_eq!(DiagReplyRepr::parse_bytes(&buf).as_ref(), Ok(&r));
        short_buffer_refused(r.buffer_len(), |buf| r.emit(buf));
    }
    if let Ok(m) = DiagMessage::parse(src, dst, b) {
        let mut buf = vec![0u8; m.buffer_len()];
        let len = m
            .emit(&mut buf)
            .expect("emit of a parsed diagnostic message");
        assert_eq!(len, buf.len());
        // With 0x0456 at both ends the direction is guessed from the length: a reply whose
        // emitted length is 1 + 6 × its first byte reads back as a request (documented).
        let ambiguous = src == dst && matches!(m, DiagMessage::Reply(_));
        if !ambiguous {
            assert_eq!(DiagMessage::parse(src, dst, &buf).as_ref(), Ok(&m));
        }
    }
}

/// SPX: the header view and an exact round trip of the header.
pub fn spx(b: &[u8]) {
    let Ok(p) = SpxPacket::new_checked(b) else {
        return;
    };
    let _ = (p.flags().to_string(), p.datastream_type().to_string());
    let _ = (p.src_conn(), p.dst_conn(), p.seq(), p.ack(), p.alloc());
    let _ = p.negotiation_size();
    let h = p.header_len();
    assert_eq!(h + p.payload().len(), b.len());
    let r = SpxRepr::parse(&p).expect("a checked SPX header parses");
    assert_eq!(r.buffer_len(), h);
    let mut buf = vec![0u8; r.buffer_len()];
    let len = r.emit(&mut buf).expect("emit of a parsed SPX header");
    assert_eq!(&buf[..len], &b[..h], "SPX emit gives other bytes");
    let q = SpxPacket::new_checked(&buf[..]).expect("emitted SPX header");
    assert_eq!(SpxRepr::parse(&q), Ok(r));
    short_buffer_refused(r.buffer_len(), |buf| r.emit(buf));
}

/// NCP: envelope, burst header, missing-fragment list, and an exact header round trip.
pub fn ncp(b: &[u8]) {
    if let Ok(bp) = BurstPacket::new_checked(b) {
        burst(&bp, b);
    }
    let Ok(p) = NcpPacket::new_checked(b) else {
        return;
    };
    let t = p.ncp_type();
    let _ = (
        t.to_string(),
        format!("{t:?}"),
        p.sequence(),
        p.connection(),
        p.task(),
    );
    let _ = (p.completion_code(), p.connection_status(), p.subfunction());
    if let Some(f) = p.function() {
        let _ = (function_name(f), subfunction_layout(f));
    }
    if let Some(bp) = p.burst() {
        burst(&bp, b);
    }
    let _ = p.data();
    let r = NcpRepr::parse(&p).expect("a checked NCP packet parses");
    assert_eq!(r.ncp_type(), t);
    assert_eq!(r.buffer_len() + p.params().len(), b.len());
    let mut buf = vec![0u8; r.buffer_len()];
    let len = r.emit(&mut buf).expect("emit of a parsed NCP header");
    assert_eq!(&buf[..len], &b[..len], "NCP emit gives other header bytes");
    short_buffer_refused(r.buffer_len(), |buf| r.emit(buf));
}

fn burst(p: &BurstPacket<&[u8]>, b: &[u8]) {
    let _ = (
        p.flags().to_string(),
        p.stream_type(),
        p.src_conn(),
        p.dst_conn(),
    );
    let _ = (p.packet_seq(), p.send_delay(), p.burst_seq(), p.ack_seq());
    let _ = (p.total_len(), p.burst_offset());
    if p.flags().contains(BurstFlags::SYS) {
        assert_eq!(p.missing_fragments().count(), p.fragment_count() as usize);
        assert!(p.data().is_empty());
    } else {
        assert_eq!(p.missing_fragments().count(), 0);
        assert_eq!(p.data().len(), p.burst_len() as usize);
    }
    for m in p.missing_fragments() {
        let mut out = [0u8; 6];
        assert_eq!(m.emit(&mut out), Ok(6));
        assert_eq!(
            u32::from_be_bytes([out[0], out[1], out[2], out[3]]),
            m.offset
        );
        assert!(m.emit(&mut out[..5]).is_err());
    }
    let r = BurstRepr::parse(p).expect("a checked burst header parses");
    let mut buf = [0u8; 36];
    assert_eq!(r.emit(&mut buf), Ok(36));
    assert_eq!(&buf[..], &b[..36], "burst emit gives other header bytes");
}

/// NetBIOS: Novell's header with and without the router list (both packet-type rules), and
/// NMPI; exact header round trips.
pub fn netbios(b: &[u8]) {
    for pt in [PacketType::NETBIOS, PacketType::PEP] {
        if let Ok(p) = NbIpxPacket::new_checked(b, pt) {
            nbipx(&p, b);
        }
    }
    for routers in [false, true] {
        if let Ok(p) = NbIpxPacket::new_with_routers(b, routers) {
            nbipx(&p, b);
        }
    }
    if let Ok(p) = NmpiPacket::new_checked(b) {
        let _ = (p.opcode(), p.name_type(), p.message_id(), p.routers());
        let _ = (p.name().to_string(), p.source().to_string(), p.payload());
        let r = NmpiRepr::parse(&p).expect("a checked NMPI header parses");
        let mut buf = vec![0u8; r.buffer_len()];
        let len = r.emit(&mut buf).expect("emit of a parsed NMPI header");
        assert_eq!(&buf[..len], &b[..len], "NMPI emit gives other bytes");
        let q = NmpiPacket::new_checked(&buf[..]).expect("emitted NMPI header");
        assert_eq!(NmpiRepr::parse(&q), Ok(r));
        short_buffer_refused(r.buffer_len(), |buf| r.emit(buf));
    }
}

fn nbipx(p: &NbIpxPacket<&[u8]>, b: &[u8]) {
    let st = p.stream_type();
    let _ = (st.to_string(), st.name(), p.routers(), p.payload());
    let h = p.header_len();
    assert_eq!(h + p.payload().len(), b.len());
    let r = NbIpxRepr::parse(p).expect("a checked NetBIOS header parses");
    assert_eq!(r.body.op(), st);
    assert_eq!(r.buffer_len(), h);
    let _ = format!("{r:?}");
    let mut buf = vec![0u8; r.buffer_len()];
    let len = r.emit(&mut buf).expect("emit of a parsed NetBIOS header");
    assert_eq!(&buf[..len], &b[..h], "NetBIOS emit gives other bytes");
    let q = NbIpxPacket::new_with_routers(&buf[..], r.routers.is_some()).expect("emitted header");
    assert_eq!(NbIpxRepr::parse(&q), Ok(r));
    short_buffer_refused(r.buffer_len(), |buf| r.emit(buf));
}

/// Server-state packets: structure, verification with and without a key, round trips with
/// and without a tag.
pub fn state(b: &[u8]) {
    let checked = StatePacket::new_checked(b);
    let unkeyed = StatePacket::new_verified(b, None);
    assert_eq!(
        checked.is_ok(),
        unkeyed.is_ok(),
        "new_verified(None) is new_checked"
    );
    let keyed = StatePacket::new_verified(b, Some(&KEY));
    if keyed.is_ok() {
        assert!(checked.is_ok());
        assert!(StatePacket::new_verified(b, Some(&OTHER_KEY)).is_err());
    }
    let Ok(p) = checked else {
        return;
    };
    let _ = (
        p.flags(),
        p.server_id(),
        p.name(),
        p.incarnation(),
        p.sequence(),
    );
    let _ = (
        p.generation(),
        p.role().to_string(),
        p.mirror_state().to_string(),
    );
    let _ = (
        p.priority(),
        p.msl_state().to_string(),
        p.msl_age_ms(),
        p.engine_net(),
    );
    let _ = (p.interval_us(), p.total_score(), p.working_adapters());
    let _ = (
        p.adapters().count(),
        p.extension().len(),
        p.auth_kind(),
        p.body_len(),
    );
    assert_eq!(keyed.is_ok(), p.verify(Some(&KEY)).is_ok());
    let Ok(r) = StateRepr::parse(&p) else {
        return;
    };
    let _ = (r.name_display().to_string(), r.functional_rank());
    let plain = p.auth_kind() == AuthKind::None;
    for key in [None, Some(&KEY)] {
        let mut buf = vec![0u8; r.buffer_len(key.is_some())];
        let len = r
            .emit(&mut buf, key)
            .expect("emit of a parsed state packet");
        assert_eq!(len, buf.len());
        let q = StatePacket::new_verified(&buf[..], key).expect("emitted state packet verifies");
        assert_eq!(StateRepr::parse(&q).as_ref(), Ok(&r));
        // Without extension bytes the packet is canonical: the same key gives the same bytes.
        let same_kind = (key.is_none() && plain) || (key.is_some() && keyed.is_ok());
        if p.extension().is_empty() && same_kind {
            assert_eq!(&buf[..], b, "state emit gives other bytes");
        }
        short_buffer_refused(r.buffer_len(key.is_some()), |buf| r.emit(buf, key));
    }
}

/// MSL: the frame header (as the bytes after a link header), verification with and without a
/// key, the payload parsers by frame type, and the same bytes as a whole Ethernet frame; the
/// ack, handshake and close payload parsers on the raw bytes too.
pub fn msl(b: &[u8]) {
    msl_frame(b);
    for key in [None, Some(&KEY)] {
        if let Ok(f) = MslLinkFrame::parse(b, key) {
            let _ = format!("{:?}", f.eth);
            msl_frame(&b[f.eth.header_len()..]);
        }
    }
    msl_payload(FrameType::Hello, b);
    msl_payload(FrameType::Ack, b);
    msl_payload(FrameType::Close, b);
}

fn msl_frame(b: &[u8]) {
    let checked = MslFrame::new_checked(b);
    let unkeyed = MslFrame::new_verified(b, None);
    let keyed = MslFrame::new_verified(b, Some(&KEY));
    if unkeyed.is_ok() || keyed.is_ok() {
        assert!(checked.is_ok());
    }
    let Ok(f) = checked else {
        return;
    };
    assert_eq!(unkeyed.is_ok(), f.verify(None).is_ok());
    assert_eq!(keyed.is_ok(), f.verify(Some(&KEY)).is_ok());
    assert!(
        !(unkeyed.is_ok() && keyed.is_ok()),
        "a frame is either CRC or tagged"
    );
    if keyed.is_ok() {
        assert!(f.verify(Some(&OTHER_KEY)).is_err());
    }
    let _ = (
        f.frame_type().to_string(),
        f.flags(),
        f.priority(),
        f.window(),
    );
    let _ = (
        f.sender_incarnation(),
        f.receiver_incarnation(),
        f.seq(),
        f.ack(),
    );
    let _ = (f.message_id(), f.fragment_offset(), f.message_len());
    let _ = (f.is_first_fragment(), f.is_last_fragment(), f.integrity());
    assert!(f.frame_len() <= b.len());
    assert_eq!(f.covered().len(), f.header_len() + f.payload_len());
    let payload = f.payload();
    msl_payload(f.frame_type(), payload);
    let r = MslRepr::parse(&f).expect("a checked MSL frame parses");
    assert_eq!(r.payload_len, payload.len());
    for key in [None, Some(&KEY)] {
        let mut buf = vec![0u8; r.buffer_len(key.is_some())];
        let len = r
            .emit_with_payload(&mut buf, payload, key)
            .expect("emit of a parsed MSL frame");
        assert_eq!(len, buf.len());
        let g = MslFrame::new_verified(&buf[..], key).expect("emitted MSL frame verifies");
        assert_eq!(MslRepr::parse(&g), Ok(r));
        assert_eq!(g.payload(), payload);
        // A version-1 header (44 bytes) that verified under the same key is canonical.
        let verified = if key.is_some() { &keyed } else { &unkeyed };
        if f.header_len() == 44 && verified.is_ok() {
            assert_eq!(&buf[..], &b[..f.frame_len()], "MSL emit gives other bytes");
        }
        short_buffer_refused(r.buffer_len(key.is_some()), |buf| {
            r.emit_with_payload(buf, payload, key)
        });
    }
}

fn msl_payload(t: FrameType, b: &[u8]) {
    match t {
        FrameType::Hello | FrameType::HelloAck => {
            let parsed = HandshakeRepr::parse_bytes(b);
            let Ok(h) = Handshake::new_checked(b) else {
                assert!(parsed.is_err());
                return;
            };
            let _ = (h.server_id(), h.name(), h.versions(), h.role(), h.flags());
            let _ = (
                h.priority(),
                h.max_frame(),
                h.volume_size(),
                h.region_size(),
            );
            let _ = (h.engine_version(), h.tracked_since(), h.history().count());
            let _ = (h.extensions().count(), h.max_message());
            let Ok(r) = parsed else {
                return;
            };
            assert_eq!(h.max_message(), r.max_message);
            let _ = (r.name_display().to_string(), r.current_generation());
            let mut buf = vec![0u8; r.buffer_len()];
            r.emit(&mut buf).expect("emit of a parsed handshake");
            // The fixed part and the history come back byte for byte; extensions are
            // re-emitted in canonical form (unknown entries are skipped by the parser).
            let fixed = b.len() - h.extension_bytes().len();
            assert_eq!(
                &buf[..fixed],
                &b[..fixed],
                "handshake emit gives other bytes"
            );
            assert_eq!(HandshakeRepr::parse_bytes(&buf).as_ref(), Ok(&r));
            short_buffer_refused(r.buffer_len(), |buf| r.emit(buf));
        }
        FrameType::Ack => {
            let parsed = AckRepr::parse_bytes(b);
            let Ok(p) = AckPayload::new_checked(b) else {
                assert!(parsed.is_err());
                return;
            };
            assert_eq!(p.blocks().count(), p.block_count());
            for blk in p.blocks() {
                let _ = (blk.len(), blk.is_empty(), blk.contains(blk.start));
            }
            let Ok(r) = parsed else {
                return;
            };
            let mut buf = vec![0u8; r.buffer_len()];
            let len = r.emit(&mut buf).expect("emit of a parsed ack payload");
            assert_eq!(&buf[..len], b, "ack emit gives other bytes");
            assert_eq!(AckRepr::parse_bytes(&buf).as_ref(), Ok(&r));
            short_buffer_refused(r.buffer_len(), |buf| r.emit(buf));
        }
        FrameType::Close | FrameType::Reset => {
            let Ok((reason, text)) = parse_close(b) else {
                return;
            };
            let _ = (reason.to_string(), format!("{reason:?}"));
            let mut buf = vec![0u8; 2 + text.len()];
            assert_eq!(emit_close(&mut buf, reason, text), Ok(b.len()));
            assert_eq!(&buf[..], b, "close emit gives other bytes");
            short_buffer_refused(buf.len(), |buf| emit_close(buf, reason, text));
        }
        FrameType::Data | FrameType::Heartbeat => {}
    }
}

/// The daemon's own input parsers: a role message (round trip when it decodes), the
/// configuration file (typed errors only), and a beacon and a health monitor fed the bytes
/// as a LAN frame (counted and dropped, never a panic).
pub fn daemon(b: &[u8]) {
    use sft3::role::RoleMessage;
    if let Some(m) = RoleMessage::decode(b) {
        assert_eq!(
            RoleMessage::decode(&m.encode()),
            Some(m),
            "role message round trip"
        );
    }
    if let Ok(text) = std::str::from_utf8(b) {
        let _ = sft3::node::config::NodeConfig::from_toml_str(text);
    }
    beacon_frame(b);
}

fn beacon_frame(b: &[u8]) {
    use core::time::Duration;
    use sft3::beacon::{AdapterConfig, Beacon, BeaconConfig};
    use sft3::wire::MacAddr;
    let cfg =
        BeaconConfig::new(1, 1).with_adapter(AdapterConfig::new(0, MacAddr([2, 0, 0, 0, 0, 1])));
    if let Ok(mut beacon) = Beacon::new(cfg, Duration::ZERO) {
        beacon.handle_frame(Duration::from_millis(1), 0, b);
        while beacon.poll_event().is_some() {}
    }
}

/// The failover benchmark's frame sniffer (VRRP advertisements, gratuitous ARP, state
/// packets seen on the lab's bridge): any bytes classify or give `None`, never a panic.
pub fn sniff(b: &[u8]) {
    let vip = [10, 0, 0, 100];
    let _ = sft3::bench::failover_sniff::classify(b, vip);
}

/// The change journal's formats and its open: a resync or mirror message, a header slot or a bitmap
/// page from any bytes parses or is refused, never a panic; a header that parses emits the same bytes
/// back where they are canonical (the fields, the zero padding, the CRC); and a journal
/// file made of any bytes opens as trusted or rebuilt (every region dirty), never a panic.
pub fn journal(b: &[u8]) {
    // The resync protocol's messages: a message that decodes encodes back to the input.
    if let Ok(m) = sft3::journal::resync::ResyncMsg::decode(b) {
        assert_eq!(m.encode(), b);
    }
    // The mirrored writes' messages, the same way.
    if let Ok(m) = sft3::journal::mirror::MirrorMsg::decode(b) {
        assert_eq!(m.encode(), b);
    }
    use sft3::journal::format::{self, Header, PAGE};
    use sft3::journal::{Geometry, Journal, MemStore, Opened, Store};
    let mut page = [0u8; PAGE];
    let n = b.len().min(PAGE);
    page[..n].copy_from_slice(&b[..n]);
    if let Ok(h) = Header::parse(&page) {
        let mut out = [0u8; PAGE];
        h.emit(&mut out);
        assert_eq!(Header::parse(&out).as_ref(), Ok(&h));
        // Canonical input (zero padding) emits back to itself.
        let hl = 56 + 8 * h.history.len();
        let canonical = page[10..12] == [0, 0]
            && page[49..56].iter().all(|&x| x == 0)
            && page[hl..PAGE - 4].iter().all(|&x| x == 0);
        if canonical {
            assert_eq!(out, page);
        }
    }
    let _ = format::parse_page(&page, u32::from(b.first().copied().unwrap_or(0)));
    // A small volume: the file is the input, repeated or cut to a few pages.
    let Ok(g) = Geometry::new(1 << 20, 65536, 4) else {
        return;
    };
    let mut store = MemStore::new();
    let len = (b.len() * 37 % (g.file_len() as usize + PAGE)) as u64;
    if store.set_len(len).is_err() {
        return;
    }
    if !b.is_empty() {
        let mut off = 0u64;
        while off < len {
            let k = (len - off).min(b.len() as u64) as usize;
            let _ = store.write_at(&b[..k], off);
            off += k as u64;
        }
    }
    let _ = store.sync();
    if let Ok((j, how)) = Journal::open(store, g) {
        if let Opened::Rebuilt(_) = how {
            assert_eq!(j.dirty_count(), g.regions);
        }
        assert!(j.dirty_count() <= g.regions);
    }
}
