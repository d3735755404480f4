//! Client writes in the simulation and the check of what they left: no acknowledged write
//! is lost or overwritten by older data (issue 6's property), sector by sector.
//!
//! A write covers one block ([`BLOCK`] bytes, four sectors) and every sector of it says
//! which write it came from: the write's sequence number, its block, and a pattern of
//! both. So after the repair each sector of the volume names the write whose bytes it
//! holds, and the check is:
//!
//! | sector holds | allowed when |
//! |---|---|
//! | zeros | no write to the block was acknowledged |
//! | write `s` of this block | `s` was issued to the block and no later write to it was acknowledged |
//! | anything else | never (bytes nobody wrote, or another block's) |
//!
//! An unacknowledged write (in flight at a crash, refused, unanswered) may or may not have
//! landed, whole or by sector. A write acknowledged by one server alone (unmirrored) is
//! exempt once the operator chose the other server's data as the survivor
//! ([`WriteBook::survivor`]): that is the operator's decision to drop it (scenario 7).

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::sync::oneshot::error::TryRecvError;

use crate::journal::SECTOR;
use crate::node::volume::WriteDone;

use super::trace::{Rng, Trace};

/// Bytes per client write.
pub const BLOCK: usize = 4 * SECTOR;

/// One write waiting for its answer.
struct Pending {
    server: u64,
    block: u64,
    seq: u64,
    rx: tokio::sync::oneshot::Receiver<Result<WriteDone, String>>,
}

/// One acknowledged write.
#[derive(Clone, Copy, Debug)]
struct Ack {
    block: u64,
    seq: u64,
    server: u64,
    mirrored: bool,
    at: Duration,
    exempt: bool,
}

/// Counts of the writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Issued.
    pub issued: u64,
    /// Acknowledged with both copies durable.
    pub mirrored: u64,
    /// Acknowledged by one server alone (journaled).
    pub unmirrored: u64,
    /// Refused (not serving, failed volume, ...).
    pub refused: u64,
    /// Never answered (the process died or stopped first).
    pub unanswered: u64,
}

/// The client's writes: issued to whichever server serves, their answers, and the check.
pub struct WriteBook {
    blocks: u64,
    rng: Rng,
    seq: u64,
    /// Whether writes are issued now.
    pub on: bool,
    next_at: Duration,
    pending: Vec<Pending>,
    issued: BTreeSet<(u64, u64)>,
    acks: Vec<Ack>,
    /// Counts.
    pub stats: WriteStats,
}

impl WriteBook {
    /// Writes into a volume of `size` bytes, drawn from `rng`.
    pub fn new(size: u64, rng: Rng) -> WriteBook {
        WriteBook {
            blocks: size / BLOCK as u64,
            rng,
            seq: 0,
            on: true,
            next_at: Duration::ZERO,
            pending: Vec::new(),
            issued: BTreeSet::new(),
            acks: Vec::new(),
            stats: WriteStats::default(),
        }
    }

    /// When the next write is due (while on).
    pub fn next_at(&self) -> Option<Duration> {
        self.on.then_some(self.next_at)
    }

    /// True when a write is due at `now`.
    pub fn due(&self, now: Duration) -> bool {
        self.on && now >= self.next_at
    }

    /// The next write (offset, bytes, sequence number); the next one
    /// is due 1–15 ms later. A quarter of the writes go to eight hot blocks, so the same
    /// bytes are written again and again, during resyncs too.
    pub fn issue(&mut self, now: Duration) -> (u64, Vec<u8>, u64) {
        self.next_at = now + self.rng.ms(1, 15);
        let block = if self.rng.below(4) == 0 {
            self.rng.below(8.min(self.blocks))
        } else {
            self.rng.below(self.blocks)
        };
        self.seq += 1;
        self.issued.insert((block, self.seq));
        self.stats.issued += 1;
        (block * BLOCK as u64, block_bytes(block, self.seq), self.seq)
    }

    /// Skips the write due now (nobody serves); the next is due 1–15 ms later.
    pub fn skip(&mut self, now: Duration) {
        self.next_at = now + self.rng.ms(1, 15);
    }

    /// Waits for the answer to write `seq` (of `offset`) issued to `server`.
    pub fn pending(
        &mut self,
        server: u64,
        offset: u64,
        seq: u64,
        rx: tokio::sync::oneshot::Receiver<Result<WriteDone, String>>,
    ) {
        self.pending.push(Pending {
            server,
            block: offset / BLOCK as u64,
            seq,
            rx,
        });
    }

    /// Takes the answers that came; traces each.
    pub fn poll(&mut self, now: Duration, trace: &mut Trace) {
        let mut i = 0;
        while i < self.pending.len() {
            let p = &mut self.pending[i];
            let (server, block, seq) = (p.server, p.block, p.seq);
            let line = match p.rx.try_recv() {
                Err(TryRecvError::Empty) => {
                    i += 1;
                    continue;
                }
                Ok(Ok(done)) => {
                    if done.mirrored {
                        self.stats.mirrored += 1;
                    } else {
                        self.stats.unmirrored += 1;
                    }
                    self.acks.push(Ack {
                        block,
                        seq,
                        server,
                        mirrored: done.mirrored,
                        at: now,
                        exempt: false,
                    });
                    format!(
                        "client write {seq} (block {block}) acknowledged{}",
                        if done.mirrored {
                            ", mirrored"
                        } else {
                            ", alone"
                        }
                    )
                }
                Ok(Err(why)) => {
                    self.stats.refused += 1;
                    format!("client write {seq} (block {block}) refused: {why}")
                }
                Err(TryRecvError::Closed) => {
                    self.stats.unanswered += 1;
                    format!("client write {seq} (block {block}) unanswered")
                }
            };
            trace.push(now, server, &line);
            self.pending.swap_remove(i);
        }
    }

    /// True when no write waits for its answer.
    pub fn settled(&self) -> bool {
        self.pending.is_empty()
    }

    /// The operator chose server `survivor`'s data: what the other server acknowledged
    /// alone until now may be gone.
    pub fn survivor(&mut self, survivor: u64) {
        for a in &mut self.acks {
            if a.server != survivor && !a.mirrored {
                a.exempt = true;
            }
        }
    }

    /// Checks a volume's bytes against the acknowledged writes (see the module docs).
    pub fn check(&self, volume: &[u8]) -> Result<(), String> {
        let mut last: Vec<Option<&Ack>> = vec![None; self.blocks as usize];
        for a in self.acks.iter().filter(|a| !a.exempt) {
            let slot = &mut last[a.block as usize];
            if slot.is_none_or(|b| b.seq < a.seq) {
                *slot = Some(a);
            }
        }
        for (block, acked) in last.iter().enumerate() {
            let at = block * BLOCK;
            for k in 0..BLOCK / SECTOR {
                let off = at + k * SECTOR;
                let Some(sector) = volume.get(off..off + SECTOR) else {
                    return Err(format!("the volume ends before block {block}"));
                };
                let held = match read_sector(sector) {
                    Some((b, s)) if b == block as u64 && self.issued.contains(&(b, s)) => s,
                    None => 0,
                    Some(_) => {
                        return Err(format!(
                            "block {block} sector {k} holds bytes no write to it wrote"
                        ))
                    }
                };
                if let Some(a) = acked.filter(|a| held < a.seq) {
                    let had = if held == 0 {
                        "zeros".to_string()
                    } else {
                        format!("write {held}")
                    };
                    return Err(format!(
                        "block {block} sector {k} holds {had}, older than write {} acknowledged by s{} ({}) at {:.6}s",
                        a.seq,
                        a.server,
                        if a.mirrored { "mirrored" } else { "alone" },
                        a.at.as_secs_f64()
                    ));
                }
            }
        }
        Ok(())
    }
}

/// What the sector at byte `at` of `volume` holds, in words.
pub fn describe_sector(volume: &[u8], at: usize) -> String {
    let from = at - at % SECTOR;
    match volume.get(from..from + SECTOR).map(read_sector) {
        None => "nothing (past the end)".into(),
        Some(None) => "zeros".into(),
        Some(Some((u64::MAX, _))) => "bytes no write made".into(),
        Some(Some((block, seq))) => format!("write {seq} (block {block})"),
    }
}

/// The bytes of write `seq` to `block`: each sector names both.
fn block_bytes(block: u64, seq: u64) -> Vec<u8> {
    let mut v = vec![0u8; BLOCK];
    for sector in v.chunks_mut(SECTOR) {
        sector[..8].copy_from_slice(&seq.to_le_bytes());
        sector[8..16].copy_from_slice(&block.to_le_bytes());
        for (i, b) in sector.iter_mut().enumerate().skip(16) {
            *b = fill(block, seq, i);
        }
    }
    v
}

fn fill(block: u64, seq: u64, i: usize) -> u8 {
    (seq.wrapping_mul(31) ^ block.wrapping_mul(7)).wrapping_add(i as u64) as u8
}

/// The (block, seq) a sector names, `None` for zeros; `Some((u64::MAX, 0))` for bytes no
/// write made.
fn read_sector(s: &[u8]) -> Option<(u64, u64)> {
    if s.iter().all(|&b| b == 0) {
        return None;
    }
    let word = |r: std::ops::Range<usize>| {
        s.get(r)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_le_bytes)
    };
    let (Some(seq), Some(block)) = (word(0..8), word(8..16)) else {
        return Some((u64::MAX, 0));
    };
    let ok = s
        .iter()
        .enumerate()
        .skip(16)
        .all(|(i, &b)| b == fill(block, seq, i));
    Some(if ok { (block, seq) } else { (u64::MAX, 0) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sector_names_its_write_and_damage_is_seen() {
        let b = block_bytes(5, 77);
        assert_eq!(read_sector(&b[SECTOR..2 * SECTOR]), Some((5, 77)));
        assert_eq!(read_sector(&[0u8; SECTOR]), None);
        let mut bad = b[..SECTOR].to_vec();
        bad[100] ^= 1;
        assert_eq!(read_sector(&bad), Some((u64::MAX, 0)));
    }

    fn book_with(acks: &[(u64, u64, u64, bool)]) -> WriteBook {
        let mut w = WriteBook::new(8 * BLOCK as u64, Rng::new(1, 1));
        for &(block, seq, server, mirrored) in acks {
            w.issued.insert((block, seq));
            w.acks.push(Ack {
                block,
                seq,
                server,
                mirrored,
                at: Duration::ZERO,
                exempt: false,
            });
        }
        w
    }

    #[test]
    fn the_check_wants_the_newest_acknowledged_write_or_a_later_one() {
        let mut vol = vec![0u8; 8 * BLOCK];
        let w = book_with(&[(2, 3, 1, true), (2, 9, 1, true)]);
        assert!(w.check(&vol).unwrap_err().contains("holds zeros"));
        vol[2 * BLOCK..3 * BLOCK].copy_from_slice(&block_bytes(2, 3));
        assert!(w
            .check(&vol)
            .unwrap_err()
            .contains("write 3, older than write 9"));
        vol[2 * BLOCK..3 * BLOCK].copy_from_slice(&block_bytes(2, 9));
        w.check(&vol).unwrap();
        // A later write that was issued (unacknowledged) may have landed, by sector.
        let mut w2 = book_with(&[(2, 3, 1, true), (2, 9, 1, true)]);
        w2.issued.insert((2, 12));
        vol[2 * BLOCK..2 * BLOCK + SECTOR].copy_from_slice(&block_bytes(2, 12)[..SECTOR]);
        w2.check(&vol).unwrap();
        // ... but not one never issued to this block.
        assert!(w.check(&vol).unwrap_err().contains("no write to it wrote"));
    }

    #[test]
    fn an_operators_survivor_exempts_the_others_lone_writes_only() {
        let mut vol = vec![0u8; 8 * BLOCK];
        vol[BLOCK..2 * BLOCK].copy_from_slice(&block_bytes(1, 1));
        let mut w = book_with(&[(1, 1, 2, true), (1, 4, 1, false)]);
        assert!(w.check(&vol).is_err());
        w.survivor(1);
        assert!(w.check(&vol).is_err(), "the survivor's own write stays");
        w.survivor(2);
        w.check(&vol).unwrap();
        let mut m = book_with(&[(1, 4, 1, true)]);
        m.survivor(2);
        assert!(m.check(&vol).is_err(), "a mirrored write is on both");
    }
}
