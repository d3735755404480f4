//! The write path of a mirrored volume, sans-IO: in which order a client write is marked
//! in the journal, written here, sent to the peer and acknowledged.
//!
//! | step | when |
//! |---|---|
//! | mark its regions in the journal (durable: the extent goes hot) | first, always |
//! | write it to the local volume and make it durable | once marked |
//! | send it to the peer (with a version: see [`super::resync`]) | once marked, while mirrored or resyncing |
//! | acknowledge it | local copy durable, and the peer's too while mirrored |
//! | clear its regions' dirty bits | both copies durable, mirrored, and no other write pending there |
//!
//! **Why mark first, even while mirrored.** A primary that crashes after writing locally
//! but before the peer has the write leaves a region the peer never saw; the peer serves
//! on, and when this server returns as the resync target that region must be copied back
//! from the peer. Only a mark made *before* the local write can say so (DRBD's activity
//! log is always on for the same reason). With hot extents a mark costs one sync per 4 MiB
//! extent per flush period, not one per write.
//!
//! **Losing the peer.** A write sent but not acknowledged by the peer when mirroring ends
//! (the MSL broke, the peer died) is acknowledged once its local copy is durable: its
//! regions are dirty already, so the next resync sends them. While resyncing, writes are
//! sent to the target too but acknowledged on the local copy alone: the target is not
//! consistent yet, and the journal keeps the regions dirty until the resync copies them.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Range;

/// How writes are protected now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// No peer: the journal alone.
    Unmirrored,
    /// A resync runs: writes go to the target as well, the journal keeps them dirty.
    Resyncing,
    /// Both copies: a write is done when both are durable.
    Mirrored,
}

/// A client write, numbered by the path.
pub type WriteId = u64;

/// What the driver must do. `WriteLocal` actions must be carried out in the order given
/// (one queue), and so must `SendPeer` (the MSL keeps a class in order): then writes that
/// overlap land in the same order on both servers. `Mark` and `Ack` may complete in any
/// order; `Clear` at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteAction {
    /// Mark these regions in the journal (durably), then call [`WritePath::marked`].
    Mark {
        /// The write.
        id: WriteId,
        /// Its regions.
        regions: Range<u64>,
    },
    /// Write it locally and make it durable, then call [`WritePath::local_done`].
    WriteLocal {
        /// The write.
        id: WriteId,
    },
    /// Send it to the peer with this version; call [`WritePath::peer_done`] on its answer.
    SendPeer {
        /// The write.
        id: WriteId,
        /// Its version (grows with every write).
        version: u64,
    },
    /// Tell the client its write is done.
    Ack(WriteId),
    /// The regions are the same on both servers: clear their dirty bits, at once and in
    /// order with the marks (a mark asked for later must not be undone by this clear).
    Clear(Range<u64>),
}

#[derive(Clone, Debug)]
struct Pending {
    regions: Range<u64>,
    version: u64,
    marked: bool,
    local: bool,
    /// The peer must hold it before the acknowledgement.
    need_peer: bool,
    peer: bool,
    /// Sent to the peer (whether or not it must answer before the acknowledgement).
    sent: bool,
}

/// The write path (see the module documentation).
#[derive(Clone, Debug)]
pub struct WritePath {
    mode: Mode,
    next_id: WriteId,
    version: u64,
    pending: BTreeMap<WriteId, Pending>,
    /// Writes up to this id were released to the local volume and the peer.
    released: WriteId,
    /// Writes in flight per region (its bits are not cleared while any is).
    busy: HashMap<u64, u32>,
    actions: VecDeque<WriteAction>,
}

impl WritePath {
    /// A path in `mode` whose versions continue after `version`.
    pub fn new(mode: Mode, version: u64) -> WritePath {
        WritePath {
            mode,
            next_id: 0,
            version,
            pending: BTreeMap::new(),
            released: 0,
            busy: HashMap::new(),
            actions: VecDeque::new(),
        }
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The newest version given out.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Writes not acknowledged yet.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// A client write touching `regions`; its id and version.
    pub fn submit(&mut self, regions: Range<u64>) -> (WriteId, u64) {
        self.next_id += 1;
        self.version += 1;
        let id = self.next_id;
        for r in regions.clone() {
            *self.busy.entry(r).or_insert(0) += 1;
        }
        self.pending.insert(
            id,
            Pending {
                regions: regions.clone(),
                version: self.version,
                marked: false,
                local: false,
                need_peer: self.mode == Mode::Mirrored,
                peer: false,
                sent: false,
            },
        );
        self.actions.push_back(WriteAction::Mark { id, regions });
        (id, self.version)
    }

    /// The journal holds write `id`'s regions durably. Writes are released to the local
    /// volume and the peer in the order they were submitted, whatever order their marks
    /// complete in.
    pub fn marked(&mut self, id: WriteId) {
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        p.marked = true;
        let ids: Vec<WriteId> = self
            .pending
            .range(self.released + 1..)
            .map(|(&i, _)| i)
            .collect();
        for i in ids {
            let mode = self.mode;
            let Some(p) = self.pending.get_mut(&i) else {
                continue;
            };
            if !p.marked {
                break;
            }
            self.released = i;
            self.actions.push_back(WriteAction::WriteLocal { id: i });
            if mode != Mode::Unmirrored {
                p.sent = true;
                self.actions.push_back(WriteAction::SendPeer {
                    id: i,
                    version: p.version,
                });
            }
            self.settle(i);
        }
    }

    /// Write `id` is durable locally. A report for a write not yet released to the local
    /// volume is a driver bug and ignored: a copy made before the mark proves nothing.
    pub fn local_done(&mut self, id: WriteId) {
        if id > self.released {
            return;
        }
        if let Some(p) = self.pending.get_mut(&id) {
            p.local = true;
        }
        self.settle(id);
    }

    /// The peer holds the write of `version` durably.
    pub fn peer_done(&mut self, version: u64) {
        let Some((&id, _)) = self.pending.iter().find(|(_, p)| p.version == version) else {
            return;
        };
        if let Some(p) = self.pending.get_mut(&id) {
            p.peer = true;
        }
        self.settle(id);
    }

    /// The protection changes. Enter `Mirrored` only when no region is dirty but those of
    /// writes in flight (a resync just ended): a mirrored write clears whole regions.
    /// Leaving `Mirrored`, writes waiting for the peer no longer
    /// do (their regions are dirty); entering it, writes already sent still count on the
    /// local copy and the journal alone.
    pub fn set_mode(&mut self, mode: Mode) {
        if mode == self.mode {
            return;
        }
        self.mode = mode;
        if mode != Mode::Mirrored {
            self.release_waiting();
        }
    }

    /// The peer will not answer the writes waiting for it (it took them for another
    /// primary's, or this server stopped serving): they settle on the local copy and the
    /// journal; their regions stay dirty. The mode stays.
    pub fn release_waiting(&mut self) {
        let waiting: Vec<WriteId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.need_peer && !p.peer)
            .map(|(&id, _)| id)
            .collect();
        for id in waiting {
            if let Some(p) = self.pending.get_mut(&id) {
                p.need_peer = false;
            }
            self.settle(id);
        }
    }

    fn settle(&mut self, id: WriteId) {
        let Some(p) = self.pending.get(&id) else {
            return;
        };
        if !(p.marked && p.local && (!p.need_peer || p.peer)) {
            return;
        }
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        self.actions.push_back(WriteAction::Ack(id));
        let mut free = Vec::new();
        for r in p.regions.clone() {
            if let Some(n) = self.busy.get_mut(&r) {
                *n -= 1;
                if *n == 0 {
                    self.busy.remove(&r);
                    free.push(r);
                }
            }
        }
        // Both copies durable while mirrored, nothing else pending there: in sync.
        if p.need_peer && p.peer && self.mode == Mode::Mirrored {
            for run in runs(&free) {
                self.actions.push_back(WriteAction::Clear(run));
            }
        }
    }

    /// The next action, in order.
    pub fn poll_action(&mut self) -> Option<WriteAction> {
        self.actions.pop_front()
    }
}

/// Consecutive runs of sorted region numbers.
fn runs(regions: &[u64]) -> Vec<Range<u64>> {
    let mut out: Vec<Range<u64>> = Vec::new();
    for &r in regions {
        match out.last_mut() {
            Some(last) if last.end == r => last.end = r + 1,
            _ => out.push(r..r + 1),
        }
    }
    out
}

/// A mirrored write on the MSL's event class: the primary's write, and the secondary's
/// answer once its copy is durable.
///
/// | type | message | fields (big-endian) |
/// |---|---|---|
/// | `0x11` | [`Write`](MirrorMsg::Write) | version u64, offset u64, then the data |
/// | `0x12` | [`Durable`](MirrorMsg::Durable) | version u64 |
/// | `0x13` | [`VerifyRequest`](MirrorMsg::VerifyRequest) | id u64, first region u64, count u32 |
/// | `0x14` | [`VerifyHashes`](MirrorMsg::VerifyHashes) | id u64, first region u64, then 16 bytes per region |
///
/// Verify messages travel in the same class as the writes, so the secondary hashes a
/// region with every write sent before the request applied, as the primary did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MirrorMsg {
    /// Primary: apply these bytes at `offset` (version `version`).
    Write {
        /// The write's version (see [`super::resync`]).
        version: u64,
        /// Byte offset in the volume.
        offset: u64,
        /// The bytes.
        data: Vec<u8>,
    },
    /// Secondary: the write of `version` is durable here.
    Durable {
        /// Its version.
        version: u64,
    },
    /// Primary: hash regions `first..first + count` (at most [`MAX_VERIFY_REGIONS`]).
    VerifyRequest {
        /// The verify run's id.
        id: u64,
        /// First region.
        first: u64,
        /// Regions.
        count: u32,
    },
    /// Secondary: the regions' hashes (BLAKE3, first 16 bytes), in order.
    VerifyHashes {
        /// The verify run's id.
        id: u64,
        /// First region.
        first: u64,
        /// One hash per region.
        hashes: Vec<[u8; 16]>,
    },
}

/// Regions in one verify request.
pub const MAX_VERIFY_REGIONS: u32 = 1024;

/// A mirror message that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MirrorMsgError {
    /// Empty, or of a type this build does not know.
    #[error("mirror message: unknown type")]
    UnknownType,
    /// Shorter or longer than its type says.
    #[error("mirror message of type {0:#04x}: wrong length")]
    Length(u8),
}

impl MirrorMsg {
    /// Encodes (see the type's table).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            MirrorMsg::Write {
                version,
                offset,
                data,
            } => {
                let mut out = Vec::with_capacity(17 + data.len());
                out.push(0x11);
                out.extend_from_slice(&version.to_be_bytes());
                out.extend_from_slice(&offset.to_be_bytes());
                out.extend_from_slice(data);
                out
            }
            MirrorMsg::Durable { version } => {
                let mut out = vec![0x12];
                out.extend_from_slice(&version.to_be_bytes());
                out
            }
            MirrorMsg::VerifyRequest { id, first, count } => {
                let mut out = vec![0x13];
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&first.to_be_bytes());
                out.extend_from_slice(&count.to_be_bytes());
                out
            }
            MirrorMsg::VerifyHashes { id, first, hashes } => {
                let mut out = Vec::with_capacity(17 + 16 * hashes.len());
                out.push(0x14);
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&first.to_be_bytes());
                hashes.iter().for_each(|h| out.extend_from_slice(h));
                out
            }
        }
    }

    /// Decodes a message.
    pub fn decode(b: &[u8]) -> Result<MirrorMsg, MirrorMsgError> {
        let (&ty, rest) = b.split_first().ok_or(MirrorMsgError::UnknownType)?;
        let word = |i: usize| -> Result<u64, MirrorMsgError> {
            let s = rest
                .get(8 * i..8 * i + 8)
                .ok_or(MirrorMsgError::Length(ty))?;
            let mut x = [0u8; 8];
            x.copy_from_slice(s);
            Ok(u64::from_be_bytes(x))
        };
        match ty {
            0x11 => Ok(MirrorMsg::Write {
                version: word(0)?,
                offset: word(1)?,
                data: rest.get(16..).ok_or(MirrorMsgError::Length(ty))?.to_vec(),
            }),
            0x12 if rest.len() == 8 => Ok(MirrorMsg::Durable { version: word(0)? }),
            0x13 if rest.len() == 20 => {
                let mut c = [0u8; 4];
                c.copy_from_slice(&rest[16..20]);
                let count = u32::from_be_bytes(c);
                if count == 0 || count > MAX_VERIFY_REGIONS {
                    return Err(MirrorMsgError::Length(ty));
                }
                Ok(MirrorMsg::VerifyRequest {
                    id: word(0)?,
                    first: word(1)?,
                    count,
                })
            }
            0x14 if rest.len() >= 16
                && (rest.len() - 16) % 16 == 0
                && (rest.len() - 16) / 16 <= MAX_VERIFY_REGIONS as usize =>
            {
                let hashes = rest[16..]
                    .chunks_exact(16)
                    .map(|c| {
                        let mut h = [0u8; 16];
                        h.copy_from_slice(c);
                        h
                    })
                    .collect();
                Ok(MirrorMsg::VerifyHashes {
                    id: word(0)?,
                    first: word(1)?,
                    hashes,
                })
            }
            0x12..=0x14 => Err(MirrorMsgError::Length(ty)),
            _ => Err(MirrorMsgError::UnknownType),
        }
    }
}
