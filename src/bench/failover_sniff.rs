//! A listener in the lab's LAN namespace for the failover benchmarks: what each server puts
//! on the wire, timestamped by the kernel as it enters the bridge.
//!
//! | what | frame | event |
//! |---|---|---|
//! | an sft3 state packet | IPX to socket `0x5354`, parsed as [`StateRepr`] | [`Sighting::Promoted`] when that server's role turns primary |
//! | a VRRP advertisement | IPv4 protocol 112 | [`Sighting::Master`] when the server advertises after a silence |
//! | a gratuitous ARP for the virtual address | ARP, sender = the VIP | likewise (it is master work) |
//!
//! One socket per server, on the server's bridge port (`PREFIXa-lan0` in `PREFIXlan`): a
//! bridge port sees every frame its server sends, and (outgoing frames ignored) only those.
//! The timestamp is the kernel's receive time (`SO_TIMESTAMPNS`, wall clock), the same clock
//! a benchmark reads just before `kill(2)`, so wire times and kill times compare directly.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::lab::{Lab, Node};
use crate::link::{Link, LinkKind, RawLink};
use crate::wire::state::{StateRepr, SOCKET};
use crate::wire::IpxFrame;

/// Something a server did on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sighting {
    /// Its state packets say primary (after packets that did not, or its first ones).
    Promoted,
    /// Its state packets stopped saying primary.
    Demoted,
    /// It advertises VRRP (or sends gratuitous ARPs for the VIP) after not doing so for
    /// the master-silence threshold: it became master.
    Master,
}

/// What the listener recorded, per server (index 0 = A, 1 = B).
#[derive(Debug, Default)]
struct Log {
    /// (kernel time, server, what).
    events: Vec<(SystemTime, usize, Sighting)>,
    /// Whether the server's last state packet said primary.
    primary: [Option<bool>; 2],
    /// The server's last VRRP master activity.
    last_master: [Option<SystemTime>; 2],
    /// The server's last state packet.
    last_state: [Option<SystemTime>; 2],
    /// State packets and VRRP/ARP frames seen, per server.
    state_packets: [u64; 2],
    vrrp_frames: [u64; 2],
}

/// The listener: two threads in the LAN namespace. Stops on drop.
#[derive(Debug)]
pub struct Sniffer {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    log: Arc<Mutex<Log>>,
}

/// Index of a server node in the listener's tables.
pub fn server_index(node: Node) -> usize {
    usize::from(node == Node::B)
}

fn lock(log: &Mutex<Log>) -> std::sync::MutexGuard<'_, Log> {
    log.lock().unwrap_or_else(|p| p.into_inner())
}

impl Sniffer {
    /// Starts listening on both servers' first LAN bridge ports. `vip` is the VRRP virtual
    /// address (for its gratuitous ARPs); a server that sent no VRRP frame for
    /// `master_silence` and sends one becomes [`Sighting::Master`] again.
    pub fn start(lab: &Lab, vip: [u8; 4], master_silence: Duration) -> anyhow::Result<Sniffer> {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Log::default()));
        let mut threads = Vec::new();
        for node in [Node::A, Node::B] {
            let port = lab.config().lan_if(node, 0);
            // Open in the namespace (the socket stays there), read from a plain thread.
            let mut link =
                lab.in_node(Node::Lan, move || RawLink::open(&port, LinkKind::Any))??;
            let (stop, log) = (stop.clone(), log.clone());
            let idx = server_index(node);
            threads.push(
                std::thread::Builder::new()
                    .name("sft3-sniff".into())
                    .spawn(move || listen(&mut link, idx, vip, master_silence, &stop, &log))?,
            );
        }
        Ok(Sniffer { stop, threads, log })
    }

    /// The first `what` of server `node` at or after `after`, waiting up to `limit`.
    pub fn wait_for(
        &self,
        node: Node,
        what: Sighting,
        after: SystemTime,
        limit: Duration,
    ) -> Option<SystemTime> {
        let idx = server_index(node);
        let t0 = std::time::Instant::now();
        loop {
            let hit = lock(&self.log)
                .events
                .iter()
                .find(|(t, i, w)| *i == idx && *w == what && *t >= after)
                .map(|e| e.0);
            if hit.is_some() || t0.elapsed() >= limit {
                return hit;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Every `what` of `node` at or after `after`.
    pub fn count(&self, node: Option<Node>, what: Sighting, after: SystemTime) -> usize {
        let idx = node.map(server_index);
        lock(&self.log)
            .events
            .iter()
            .filter(|(t, i, w)| *w == what && *t >= after && idx.is_none_or(|x| x == *i))
            .count()
    }

    /// The server whose VRRP advertisements were seen last (the current master), if any.
    pub fn vrrp_master(&self) -> Option<Node> {
        let l = lock(&self.log);
        match l.last_master {
            [Some(a), Some(b)] => Some(if a >= b { Node::A } else { Node::B }),
            [Some(_), None] => Some(Node::A),
            [None, Some(_)] => Some(Node::B),
            [None, None] => None,
        }
    }

    /// When `node` last did VRRP master work.
    pub fn last_vrrp(&self, node: Node) -> Option<SystemTime> {
        lock(&self.log).last_master[server_index(node)]
    }

    /// When `node`'s last state packet was seen.
    pub fn last_state(&self, node: Node) -> Option<SystemTime> {
        lock(&self.log).last_state[server_index(node)]
    }

    /// (state packets, VRRP frames) seen from `node`.
    pub fn frames(&self, node: Node) -> (u64, u64) {
        let l = lock(&self.log);
        let i = server_index(node);
        (l.state_packets[i], l.vrrp_frames[i])
    }
}

impl Drop for Sniffer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// What one frame is, for the listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// An sft3 state packet: is its sender primary?
    State {
        /// Its role is a primary one.
        primary: bool,
    },
    /// VRRP master work (an advertisement, or a gratuitous ARP for the VIP).
    Vrrp,
}

/// Classifies a frame (anything else is `None`).
pub fn classify(frame: &[u8], vip: [u8; 4]) -> Option<Seen> {
    let ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    match ethertype {
        0x0800 => {
            // IPv4, protocol 112 (VRRP).
            (*frame.get(14 + 9)? == 112).then_some(Seen::Vrrp)
        }
        0x0806 => {
            // ARP: the sender protocol address at 14 + 14.
            (frame.get(28..32)? == vip).then_some(Seen::Vrrp)
        }
        _ => {
            let f = IpxFrame::parse(frame).ok()?;
            if f.ipx.dst().socket != SOCKET {
                return None;
            }
            let st = StateRepr::parse_bytes(f.ipx.payload(), None).ok()?;
            Some(Seen::State {
                primary: st.role.is_primary(),
            })
        }
    }
}

fn listen(
    link: &mut RawLink,
    idx: usize,
    vip: [u8; 4],
    master_silence: Duration,
    stop: &AtomicBool,
    log: &Mutex<Log>,
) {
    use std::os::fd::AsRawFd;
    let mut buf = vec![0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let mut pfd = libc::pollfd {
            fd: link.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the call's duration.
        unsafe { libc::poll(&mut pfd, 1, 20) };
        while let Ok(Some(meta)) = link.recv(&mut buf) {
            let at = UNIX_EPOCH + Duration::new(meta.ts.secs, meta.ts.nanos);
            let Some(seen) = buf.get(..meta.len).and_then(|f| classify(f, vip)) else {
                continue;
            };
            let mut l = lock(log);
            match seen {
                Seen::State { primary } => {
                    l.state_packets[idx] += 1;
                    l.last_state[idx] = Some(at);
                    let was = l.primary[idx].replace(primary);
                    if was != Some(primary) {
                        let what = if primary {
                            Sighting::Promoted
                        } else {
                            Sighting::Demoted
                        };
                        // A first packet that is not primary is no news.
                        if primary || was.is_some() {
                            l.events.push((at, idx, what));
                        }
                    }
                }
                Seen::Vrrp => {
                    l.vrrp_frames[idx] += 1;
                    let fresh = l.last_master[idx]
                        .is_none_or(|t| at.duration_since(t).unwrap_or_default() >= master_silence);
                    if fresh {
                        l.events.push((at, idx, Sighting::Master));
                    }
                    l.last_master[idx] = Some(at);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::beacon::{AdapterConfig, Beacon, BeaconConfig, LocalState, MAX_FRAME_LEN};
    use crate::wire::state::Role;
    use crate::wire::MacAddr;

    fn eth(ethertype: u16, body: &[u8]) -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn classifies_vrrp_arp_and_state_packets() {
        let vip = [10, 53, 0, 100];
        let mut ip = [0u8; 32];
        ip[0] = 0x45;
        ip[9] = 112;
        assert_eq!(classify(&eth(0x0800, &ip), vip), Some(Seen::Vrrp));
        ip[9] = 17;
        assert_eq!(classify(&eth(0x0800, &ip), vip), None);
        let mut arp = [0u8; 28];
        arp[14..18].copy_from_slice(&vip);
        assert_eq!(classify(&eth(0x0806, &arp), vip), Some(Seen::Vrrp));
        arp[17] = 1;
        assert_eq!(classify(&eth(0x0806, &arp), vip), None);
        // Truncated frames are nothing, never a panic.
        for n in 0..20 {
            let f = eth(0x0800, &ip);
            let _ = classify(&f[..n.min(f.len())], vip);
        }

        let mac = MacAddr([2, 0, 0, 0, 9, 0]);
        let cfg = BeaconConfig::new(9, 1).with_adapter(AdapterConfig::new(0, mac));
        let mut b = Beacon::new(cfg, Duration::ZERO).unwrap();
        let mut buf = [0u8; MAX_FRAME_LEN];
        let (_, len) = b.poll_transmit(Duration::ZERO, &mut buf).unwrap();
        assert_eq!(
            classify(&buf[..len], vip),
            Some(Seen::State { primary: false })
        );
        b.set_local(LocalState {
            role: Role::UnmirroredPrimary,
            ..LocalState::default()
        });
        let (_, len) = b.poll_transmit(Duration::from_millis(5), &mut buf).unwrap();
        assert_eq!(
            classify(&buf[..len], vip),
            Some(Seen::State { primary: true })
        );
    }
}
