//! The IPX sample kinds: payloads written with each protocol's `emit`, framed in place.
//!
//! | kind | IPX source → destination | type |
//! |---|---|---|
//! | RIP, SAP, diagnostics requests | client → LAN broadcast, service socket | 1 / 4 |
//! | RIP, SAP responses | server A, service socket → broadcast (nearest: client) | 1 / 4 |
//! | diagnostics reply | server A, `0x0456` → client | 4 |
//! | SPX | client ↔ server A socket `0x8104` (remote console) | 5 |
//! | NCP | client ↔ engine (internal network, node 1, `0x0451`) via server A's MAC | 17 |
//! | NetBIOS, NMPI | client `0x0455` / `0x0553` → broadcast | 20 / 4 |
//! | state | server A or B, `0x5354` → broadcast | 4 |
//! | data | client → server A socket `0x6061` | 4 |

use arrayvec::ArrayVec;

use super::{ipx_frame, Env, Name, MSL_DATA_LEN, SAMPLE_KEY};
use crate::wire::addr::{MacAddr, Net, Socket};
use crate::wire::diag::{
    ComponentId, DiagComponent, DiagReplyRepr, DiagRequestRepr, LocalNetwork, NetType,
};
use crate::wire::error::{room, Result};
use crate::wire::ethernet::Framing;
use crate::wire::frame::emit_ipx_frame;
use crate::wire::ipx::PacketType;
use crate::wire::ncp::{BurstFlags, BurstRepr, NcpReply, NcpRepr, NcpRequest, Subfunction};
use crate::wire::netbios::{NbIpxBody, NbIpxRepr, NetbiosName, NmpiRepr, StreamType};
use crate::wire::rip::{RipEntry, RipRepr, HOPS_UNREACHABLE};
use crate::wire::sap::{SapEntry, SapRepr, ServerType};
use crate::wire::spx::{DatastreamType, SpxFlags, SpxRepr, CONN_ID_UNASSIGNED};
use crate::wire::state::{
    self, AdapterFlags, AdapterHealth, MirrorState, MslLinkState, Role, StateFlags, StateRepr,
};

use super::Kind;

/// The remote-console socket the SPX samples talk to.
const SPX_SERVER_SOCKET: Socket = Socket(0x8104);
/// The unassigned socket the plain-data sample goes to.
const DATA_SOCKET: Socket = Socket(0x6061);
/// NCP function "Negotiate Buffer Size" (no subfunction).
const NCP_NEGOTIATE_BUFFER: u8 = 0x21;
/// NCP function "File server environment" (length-and-code subfunction).
const NCP_FILE_SERVER_ENV: u8 = 0x17;
/// Its subfunction "Get File Server Information".
const NCP_GET_SERVER_INFO: u8 = 0x11;
/// NMPI opcode "query name" (Wireshark `INAME_QUERY`).
const NMPI_QUERY_NAME: u8 = 0xf3;

/// Builds an IPX kind (the caller handled MSL).
pub(super) fn build(kind: Kind, framing: Framing, env: &Env, buf: &mut [u8]) -> Result<usize> {
    let client = env.client_addr();
    let bcast = MacAddr::BROADCAST;
    // Requests go from the client to everyone, responses from server A.
    let from_client = |socket, ptype| env.ipx(framing, ptype, client, env.broadcast(socket));
    let from_server =
        |socket, ptype, dst| env.ipx(framing, ptype, env.on_lan(env.server_a, socket), dst);
    let (c, a) = (env.client, env.server_a);
    let rip = Socket::RIP;
    let sap = Socket::SAP;
    match kind {
        Kind::RipRequest => ipx_frame(
            buf,
            framing,
            bcast,
            c,
            from_client(rip, PacketType::RIP),
            |b| RipRepr::general_request().emit(b),
        ),
        Kind::RipResponse => {
            let h = from_server(rip, PacketType::RIP, env.broadcast(rip));
            ipx_frame(buf, framing, bcast, a, h, |b| rip_response(env).emit(b))
        }
        Kind::SapGeneralRequest => {
            let h = from_client(sap, PacketType::PEP);
            ipx_frame(buf, framing, bcast, c, h, |b| {
                SapRepr::general_request(ServerType::ALL).emit(b)
            })
        }
        Kind::SapGeneralResponse => {
            let h = from_server(sap, PacketType::PEP, env.broadcast(sap));
            ipx_frame(buf, framing, bcast, a, h, |b| sap_response(env)?.emit(b))
        }
        Kind::SapNearestRequest => {
            let h = from_client(sap, PacketType::PEP);
            let r = SapRepr::Request {
                nearest: true,
                server_type: ServerType::FILE_SERVER,
            };
            ipx_frame(buf, framing, bcast, c, h, |b| r.emit(b))
        }
        Kind::SapNearestResponse => {
            let h = from_server(sap, PacketType::PEP, client);
            let name = Name::new(b"SFT3-PAIR-", env.v);
            let e = SapEntry::new(
                ServerType::FILE_SERVER,
                name.as_bytes(),
                env.engine(Socket::NCP),
                1,
            )?;
            let mut entries = ArrayVec::new();
            entries.push(e);
            let r = SapRepr::Response {
                nearest: true,
                entries,
            };
            ipx_frame(buf, framing, c, a, h, |b| r.emit(b))
        }
        Kind::DiagRequest => {
            let h = from_client(Socket::DIAGNOSTIC, PacketType::PEP);
            let mut r = DiagRequestRepr::default();
            for i in 0..1 + env.pick(4, 3) {
                let n = env.x.rotate_left(8 * i as u32).to_be_bytes();
                r.exclusions
                    .push(MacAddr([0x00, 0xa0, 0xc9, n[0], n[1], i as u8]));
            }
            ipx_frame(buf, framing, bcast, c, h, |b| r.emit(b))
        }
        Kind::DiagReply => {
            let h = from_server(Socket::DIAGNOSTIC, PacketType::PEP, client);
            ipx_frame(buf, framing, c, a, h, |b| diag_reply(env).emit(b))
        }
        Kind::SpxData | Kind::SpxSystemAck | Kind::Spx2ConnectRequest => {
            spx(kind, framing, env, buf)
        }
        Kind::NcpCreate
        | Kind::NcpRequest
        | Kind::NcpRequestSubfunction
        | Kind::NcpReply
        | Kind::NcpDestroy
        | Kind::NcpBusy
        | Kind::NcpBurst => ncp(kind, framing, env, buf),
        Kind::NetbiosNameQuery => {
            let s = Socket::NETBIOS;
            let h = env.ipx(
                framing,
                PacketType::NETBIOS,
                env.on_lan(c, s),
                env.broadcast(s),
            );
            let mut routers = [Net(0); 8];
            routers[0] = env.lan;
            let r = NbIpxRepr {
                routers: Some(routers),
                body: NbIpxBody::Name {
                    flags: 0,
                    op: StreamType::FIND_NAME,
                    name: NetbiosName::new(
                        Name::new(b"SFT3-", env.v % 1_000_000_000).as_bytes(),
                        0x20,
                    )?,
                },
            };
            ipx_frame(buf, framing, bcast, c, h, |b| r.emit(b))
        }
        Kind::NmpiNameQuery => {
            let s = Socket::NWLINK_DGM;
            let h = env.ipx(framing, PacketType::PEP, env.on_lan(c, s), env.broadcast(s));
            let mut routers = [Net(0); 8];
            routers[0] = env.lan;
            let r = NmpiRepr {
                routers,
                opcode: NMPI_QUERY_NAME,
                name_type: 1,
                message_id: env.v as u16,
                name: NetbiosName::new(b"SFT3-PAIR", 0x20)?,
                source: NetbiosName::new(
                    Name::new(b"WKSTA-", env.v % 1_000_000_000).as_bytes(),
                    0,
                )?,
            };
            ipx_frame(buf, framing, bcast, c, h, |b| r.emit(b))
        }
        Kind::State | Kind::StateKeyed => {
            let keyed = kind == Kind::StateKeyed;
            // The keyed sample comes from server B, the secondary.
            let node = if keyed { env.server_b } else { env.server_a };
            let s = state::SOCKET;
            let h = state::ipx_header(env.on_lan(node, s), env.broadcast(s), 0);
            let r = state_repr(env, keyed)?;
            let key = keyed.then_some(&SAMPLE_KEY);
            ipx_frame(buf, framing, bcast, node, h, |b| r.emit(b, key))
        }
        Kind::Data => {
            // The one kind built with emit_ipx_frame, so that it is checked too.
            let h = env.ipx(framing, PacketType::PEP, client, env.on_lan(a, DATA_SOCKET));
            let mut payload = [0u8; 48];
            fill(&mut payload, env.v);
            emit_ipx_frame(buf, a, c, framing, &h, &payload)
        }
        Kind::Msl { .. } => Err(crate::wire::error::WireError::WrongKind {
            expected: "an IPX sample kind",
            reason: "MSL frames are not IPX",
        }),
    }
}

/// The data pattern: byte `i` is `7 i` (mod 256).
const PATTERN: [u8; MSL_DATA_LEN] = {
    let mut p = [0u8; MSL_DATA_LEN];
    let mut i = 0;
    while i < MSL_DATA_LEN {
        p[i] = (i as u8).wrapping_mul(7);
        i += 1;
    }
    p
};

/// Fills `b` (at most [`MSL_DATA_LEN`] bytes) with the data pattern, its first eight bytes
/// XORed with the variant. A copy, so that emit benchmarks do not time a byte loop.
pub(super) fn fill(b: &mut [u8], v: u64) {
    let n = b.len().min(MSL_DATA_LEN);
    b[..n].copy_from_slice(&PATTERN[..n]);
    for (out, s) in b.iter_mut().zip(v.to_be_bytes()) {
        *out ^= s;
    }
}

/// Routes of server A: the engine network first, more networks behind a router, and one
/// unreachable route.
fn rip_response(env: &Env) -> RipRepr {
    let n = 3 + env.pick(8, 4) as u16;
    let mut entries: ArrayVec<RipEntry, 8> = ArrayVec::new();
    entries.push(RipEntry {
        net: env.engine,
        hops: 1,
        ticks: 2,
    });
    for i in 1..n - 1 {
        entries.push(RipEntry {
            net: Net(0x0a1c_0000 + (env.lan.0 & 0xfff0) + i as u32),
            hops: i + 1,
            ticks: 2 * i + 2,
        });
    }
    entries.push(RipEntry {
        net: Net(0x0a1d_0000 ^ (env.x >> 16) as u32 & 0xffff),
        hops: HOPS_UNREACHABLE,
        ticks: 0xffff,
    });
    RipRepr::response(&entries)
}

/// Services of the engine, as server A advertises them.
fn sap_response(env: &Env) -> Result<SapRepr> {
    const SERVICES: [(ServerType, &[u8], u16); 7] = [
        (ServerType::FILE_SERVER, b"SFT3-PAIR-", 0x0451),
        (ServerType::DIRECTORY_SERVER, b"SFT3-TREE-", 0x4006),
        (ServerType::TIME_SYNC, b"SFT3-PAIR-", 0x4007),
        (ServerType::PRINT_QUEUE, b"QUEUE-", 0x8060),
        (ServerType::PRINT_SERVER, b"PSERVER-", 0x8061),
        (ServerType::ARCHIVE_SERVER, b"BACKUP-", 0x8062),
        (ServerType::REMOTE_CONSOLE, b"SFT3-PAIR-", 0x8104),
    ];
    let n = 3 + env.pick(12, 5) as usize;
    // Filled in place: a SapRepr is 456 bytes, and copies showed in the emit benchmark.
    let mut entries = ArrayVec::new();
    for (i, &(t, prefix, socket)) in SERVICES.iter().take(n).enumerate() {
        let name = Name::new(prefix, env.v.wrapping_add(i as u64 / 3));
        let addr = env.engine(Socket(socket));
        entries.push(SapEntry::new(t, name.as_bytes(), addr, 1)?);
    }
    Ok(SapRepr::Response {
        nearest: false,
        entries,
    })
}

/// Server A's configuration: IPX/SPX, bridge driver, shell driver, and the file server with
/// its two networks (the LAN board and the engine's virtual board).
fn diag_reply(env: &Env) -> DiagReplyRepr {
    let mut fs = DiagComponent::simple(ComponentId::FILE_SERVER);
    fs.networks.push(LocalNetwork {
        net_type: NetType::LAN_BOARD,
        net: env.lan,
        node: env.server_a,
    });
    fs.networks.push(LocalNetwork {
        net_type: NetType::VIRTUAL_BOARD,
        net: env.engine,
        node: MacAddr::ENGINE,
    });
    let mut components = ArrayVec::new();
    components.push(DiagComponent::simple(ComponentId::IPX_SPX));
    components.push(DiagComponent::simple(ComponentId::BRIDGE_DRIVER));
    components.push(DiagComponent::simple(ComponentId::SHELL_DRIVER));
    components.push(fs);
    DiagReplyRepr {
        major: 1,
        minor: 0,
        spx_socket: Socket(0x4004),
        components,
    }
}

/// The SPX kinds: a remote-console session between the client and server A.
fn spx(kind: Kind, framing: Framing, env: &Env, buf: &mut [u8]) -> Result<usize> {
    let client = env.client_addr();
    let server = env.on_lan(env.server_a, SPX_SERVER_SOCKET);
    let client_conn = 0x1a2b ^ env.x as u16;
    let server_conn = 0x0c0d ^ (env.x >> 16) as u16;
    let seq = env.v as u16;
    let (src, dst, smac, dmac, repr, data_len) = match kind {
        Kind::SpxData => {
            let r = SpxRepr {
                flags: SpxFlags(SpxFlags::ACK.0 | SpxFlags::EOM.0),
                datastream_type: DatastreamType(0),
                src_conn: client_conn,
                dst_conn: server_conn,
                seq,
                ack: seq,
                alloc: seq.wrapping_add(4),
                negotiation_size: None,
            };
            (client, server, env.client, env.server_a, r, 32)
        }
        Kind::SpxSystemAck => {
            let r = SpxRepr {
                flags: SpxFlags::SYS,
                datastream_type: DatastreamType(0),
                src_conn: server_conn,
                dst_conn: client_conn,
                seq,
                ack: seq.wrapping_add(1),
                alloc: seq.wrapping_add(8),
                negotiation_size: None,
            };
            (server, client, env.server_a, env.client, r, 0)
        }
        _ => {
            // The first packet of an SPX II session: no negotiation size yet.
            let r = SpxRepr {
                flags: SpxFlags(
                    SpxFlags::SYS.0 | SpxFlags::ACK.0 | SpxFlags::SPX2.0 | SpxFlags::NEG_SIZE.0,
                ),
                datastream_type: DatastreamType(0),
                src_conn: client_conn,
                dst_conn: CONN_ID_UNASSIGNED,
                seq: 0,
                ack: 0,
                alloc: 3,
                negotiation_size: None,
            };
            (client, server, env.client, env.server_a, r, 0)
        }
    };
    let h = env.ipx(framing, PacketType::SPX, src, dst);
    ipx_frame(buf, framing, dmac, smac, h, |b| {
        let n = repr.emit(b)?;
        room("SPX sample data", b.len(), n + data_len)?;
        fill(&mut b[n..n + data_len], env.v);
        Ok(n + data_len)
    })
}

/// The NCP kinds: the client and the engine (through server A's adapter).
fn ncp(kind: Kind, framing: Framing, env: &Env, buf: &mut [u8]) -> Result<usize> {
    let client = env.client_addr();
    let engine = env.engine(Socket::NCP);
    // Above 255, so the high byte of the connection number is exercised.
    let connection = 0x0105 ^ (env.x & 0x00f0) as u16;
    let task = 1 + env.pick(20, 4) as u8;
    let seq = env.v as u8;
    let req = |sequence, function, subfunction| NcpRequest {
        sequence,
        connection,
        task,
        function,
        subfunction,
    };
    let reply = NcpReply {
        sequence: seq,
        connection,
        task,
        completion_code: 0,
        connection_status: 0,
    };
    let to_engine = matches!(
        kind,
        Kind::NcpCreate | Kind::NcpRequest | Kind::NcpRequestSubfunction | Kind::NcpDestroy
    );
    // (envelope, parameter or data bytes after it)
    let (repr, extra): (NcpRepr, &[u8]) = match kind {
        Kind::NcpCreate => (
            NcpRepr::Create(NcpRequest {
                sequence: 0,
                connection: 0xffff,
                task: 0,
                function: 0,
                subfunction: None,
            }),
            &[],
        ),
        // Proposed buffer size 1024.
        Kind::NcpRequest => (
            NcpRepr::Request(req(seq, NCP_NEGOTIATE_BUFFER, None)),
            &[0x04, 0x00],
        ),
        Kind::NcpRequestSubfunction => {
            let sub = Subfunction {
                code: NCP_GET_SERVER_INFO,
                length: Some(1),
            };
            (
                NcpRepr::Request(req(seq.wrapping_add(1), NCP_FILE_SERVER_ENV, Some(sub))),
                &[],
            )
        }
        // Accepted buffer size 1024.
        Kind::NcpReply => (NcpRepr::Reply(reply), &[0x04, 0x00]),
        Kind::NcpDestroy => (NcpRepr::Destroy(req(seq.wrapping_add(2), 0, None)), &[]),
        Kind::NcpBusy => (NcpRepr::Busy(reply), &[]),
        _ => (NcpRepr::Burst(burst(env)), &[]),
    };
    let burst_data = if let NcpRepr::Burst(b) = repr {
        b.burst_len as usize
    } else {
        0
    };
    let (src, dst, smac, dmac) = if to_engine {
        (client, engine, env.client, env.server_a)
    } else {
        (engine, client, env.server_a, env.client)
    };
    let h = env.ipx(framing, PacketType::NCP, src, dst);
    ipx_frame(buf, framing, dmac, smac, h, |b| {
        let n = repr.emit(b)?;
        let end = n + extra.len() + burst_data;
        room("NCP sample", b.len(), end)?;
        b[n..n + extra.len()].copy_from_slice(extra);
        fill(&mut b[n + extra.len()..end], env.v);
        Ok(end)
    })
}

/// A burst-mode read reply: the last 128 bytes of a 1152-byte burst.
fn burst(env: &Env) -> BurstRepr {
    BurstRepr {
        flags: BurstFlags::EOB,
        stream_type: 2,
        src_conn: 0x0000_2a00 ^ (env.x >> 8) as u32 & 0xffff,
        dst_conn: 0x0000_1b00 ^ (env.x >> 24) as u32 & 0xffff,
        packet_seq: env.v as u32,
        send_delay: 100,
        burst_seq: env.v as u16,
        ack_seq: env.v as u16,
        total_len: 1152,
        burst_offset: 1024,
        burst_len: 128,
        fragment_count: 0,
    }
}

/// Server A's (or with `keyed`, server B's) state packet.
fn state_repr(env: &Env, keyed: bool) -> Result<StateRepr> {
    let both = AdapterFlags(
        AdapterFlags::CARRIER.0
            | AdapterFlags::OPER_UP.0
            | AdapterFlags::HEARS_IPX.0
            | AdapterFlags::HEARS_PEER.0
            | AdapterFlags::WORKING.0,
    );
    let mut adapters = ArrayVec::new();
    adapters.push(AdapterHealth {
        index: 0,
        flags: both,
        score: 1000,
        peer_age_ms: env.pick(16, 5) as u16,
    });
    adapters.push(AdapterHealth {
        index: 1,
        flags: both,
        score: 900 + env.pick(24, 101) as u16,
        peer_age_ms: env.pick(32, 5) as u16,
    });
    let total_score = adapters
        .iter()
        .map(|a: &AdapterHealth| a.score as u32)
        .sum();
    let (name, id, role): (&[u8], u64, Role) = if keyed {
        (b"SFT3-B", 0x5346_5433_0000_000b, Role::MirroredSecondary)
    } else {
        (b"SFT3-A", 0x5346_5433_0000_000a, Role::MirroredPrimary)
    };
    Ok(StateRepr {
        flags: StateFlags(StateFlags::SERVING.0 | StateFlags::DATA_CONSISTENT.0),
        server_id: id,
        name: state::name_field(name)?,
        incarnation: 0x0000_018f_2a3b_4c5d ^ (env.x & 0xffff_ffff),
        sequence: env.v,
        generation: 42 + env.v / 1000,
        role,
        mirror_state: MirrorState::Mirrored,
        priority: if keyed { 50 } else { 100 },
        msl_state: MslLinkState::Up,
        msl_age_ms: env.pick(40, 5) as u32,
        engine_net: env.engine,
        interval_us: 5000,
        working_adapters: 2,
        total_score,
        adapters,
    })
}
