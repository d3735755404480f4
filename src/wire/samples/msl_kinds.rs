//! The MSL sample kinds: one frame of each type between server A's and server B's MSL
//! adapters (Ethernet_II, EtherType `0x88B5`), with a CRC32C or a tag.
//!
//! | type | direction | stream | payload |
//! |---|---|---|---|
//! | hello | A → B | control | A's handshake, 3 generations of history |
//! | hello-ack | B → A | control | B's handshake |
//! | data | A → B | event | 1400 bytes of a 4200-byte message (in place, zero-copy) |
//! | ack | B → A | event | 2 or 3 selective-ack blocks above the cumulative ack |
//! | heartbeat | A → B | control | 8-byte send time, ns |
//! | close | A → B | control | reason "shutdown" and a text |
//! | reset | B → A | control | reason "unknown-session", no text |

use arrayvec::ArrayVec;

use super::ipx_kinds::fill;
use super::{Env, MSL_DATA_LEN};
use crate::wire::error::Result;
use crate::wire::msl::{
    self, emit_close, emit_msl_frame, flag, AckRepr, CloseReason, FrameType, HandshakeRepr,
    MslRepr, Priority, SackBlock,
};
use crate::wire::state::{name_field, AuthKey, Role, StateFlags};

/// The message the data sample is a fragment of, bytes (three fragments).
const MESSAGE_LEN: u32 = 3 * MSL_DATA_LEN as u32;

/// Builds the MSL frame of `frame_type`, tagged with `key` or with a CRC32C.
pub(super) fn build(
    frame_type: FrameType,
    key: Option<&AuthKey>,
    env: &Env,
    buf: &mut [u8],
) -> Result<usize> {
    let inc_a = 0x0000_018f_2a3b_4c5d ^ (env.x & 0xffff_ffff);
    let inc_b = 0x0000_018f_2a3b_9e01 ^ (env.x >> 32);
    let seq = env.v as u32;
    let from_a = matches!(
        frame_type,
        FrameType::Hello | FrameType::Data | FrameType::Heartbeat | FrameType::Close
    );
    let (src, dst, sender, receiver) = if from_a {
        (env.msl_a, env.msl_b, inc_a, inc_b)
    } else {
        (env.msl_b, env.msl_a, inc_b, inc_a)
    };
    let mut repr = MslRepr {
        frame_type,
        priority: Priority::Control,
        flags: 0,
        window: 64,
        sender_incarnation: sender,
        // A hello is sent before the peer's incarnation is known.
        receiver_incarnation: if frame_type == FrameType::Hello {
            0
        } else {
            receiver
        },
        seq,
        ack: 0,
        message_id: 0,
        fragment_offset: 0,
        message_len: 0,
        payload_len: 0,
    };
    let eth = msl::ethernet_repr(dst, src, None);
    let mut scratch = [0u8; 160];
    let payload_len = match frame_type {
        FrameType::Hello | FrameType::HelloAck => {
            handshake(env, frame_type == FrameType::Hello)?.emit(&mut scratch)?
        }
        FrameType::Data => {
            repr.priority = Priority::Event;
            repr.flags = flag::ACK;
            repr.ack = env.v as u32 / 2;
            repr.message_id = env.v as u32 / 3;
            repr.fragment_offset = (env.v % 3) as u32 * MSL_DATA_LEN as u32;
            repr.message_len = MESSAGE_LEN;
            return data_in_place(&eth, repr, env, key, buf);
        }
        FrameType::Ack => {
            repr.priority = Priority::Event;
            repr.flags = flag::ACK;
            repr.ack = seq.wrapping_add(1);
            let mut ack = AckRepr::default();
            let mut start = repr.ack.wrapping_add(2);
            for i in 0..2 + env.pick(36, 2) as u32 {
                let end = start.wrapping_add(1 + i);
                ack.blocks.push(SackBlock { start, end });
                start = end.wrapping_add(2);
            }
            ack.emit(&mut scratch)?
        }
        FrameType::Heartbeat => {
            // Send time: 5 ms per variant.
            scratch[..8].copy_from_slice(&env.v.wrapping_mul(5_000_000).to_be_bytes());
            8
        }
        FrameType::Close => emit_close(
            &mut scratch,
            CloseReason::SHUTDOWN,
            b"operator requested shutdown",
        )?,
        FrameType::Reset => emit_close(&mut scratch, CloseReason::UNKNOWN_SESSION, b"")?,
    };
    emit_msl_frame(buf, &eth, &repr, &scratch[..payload_len], key)
}

/// Server A's (`a`) or B's handshake.
fn handshake(env: &Env, a: bool) -> Result<HandshakeRepr> {
    let generation = 42 + env.v / 1000;
    let mut history = ArrayVec::new();
    for g in 0..3 {
        history.push(generation.saturating_sub(g));
    }
    Ok(HandshakeRepr {
        server_id: if a {
            0x5346_5433_0000_000a
        } else {
            0x5346_5433_0000_000b
        },
        name: name_field(if a { b"SFT3-A" } else { b"SFT3-B" })?,
        min_version: 1,
        max_version: 1,
        role: if a {
            Role::MirroredPrimary
        } else {
            Role::Starting
        },
        flags: StateFlags(StateFlags::SERVING.0 | StateFlags::DATA_CONSISTENT.0),
        priority: if a { 100 } else { 50 },
        max_frame: 1500,
        volume_size: 64 << 30,
        region_size: 1 << 20,
        engine_version: 0x0001_0000,
        tracked_since: if a { generation } else { 0 },
        history,
        max_message: None,
    })
}

/// A data fragment written straight into the frame: link header, payload, then the MSL
/// header and trailer around it (the transport's zero-copy path).
fn data_in_place(
    eth: &crate::wire::ethernet::EthernetRepr,
    repr: MslRepr,
    env: &Env,
    key: Option<&AuthKey>,
    buf: &mut [u8],
) -> Result<usize> {
    let repr = MslRepr {
        payload_len: MSL_DATA_LEN,
        ..repr
    };
    let msl_len = repr.buffer_len(key.is_some());
    let off = eth.emit(buf, msl_len)?;
    let start = off + msl::HEADER_LEN;
    fill(&mut buf[start..start + MSL_DATA_LEN], env.v);
    repr.emit(&mut buf[off..off + msl_len], key)?;
    Ok(eth.frame_len(msl_len))
}
