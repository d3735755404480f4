//! The simulated servers' mirrored volumes: the daemon's volume logic
//! ([`Worker`](crate::node::volume::Worker)) over in-memory disks that survive a process's
//! restart, driven synchronously inside [`Server::step`](super::server::Server::step).
//!
//! | daemon | here |
//! |---|---|
//! | volume file and journal file | [`SimDisk`]: two [`MemStore`]s kept in the server's hardware; a kill -9 keeps every write (the page cache survives), a power cut keeps the synced bytes and a random part of the rest, torn by sector |
//! | `sft3-volume` thread and its channel | [`SimVolume`]: the messages queued by the service, the MSL routing and client writes are handled at the server's next step, then the turn's end (`end_turn`), as the thread's loop does |
//! | `ThreadIo`: MSL driver, control-plane channel, `Instant` | [`SimIo`]: what was sent and told is collected for the server to pass on; virtual time |

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::journal::{Geometry, JournalState, MemStore, Opened, Store, DEFAULT_EXTENT_REGIONS};
use crate::msl::Priority;
use crate::node::config::VolumeSection;
use crate::node::volume::{
    open_journal, Parts, ServiceOut, VolumeIn, VolumeIo, VolumeStatus, Worker, WriteDone,
};

use super::trace::Rng;

/// A store that outlives the process using it (a disk): a [`MemStore`] behind a shared
/// lock. Only one simulated process uses it at a time.
#[derive(Clone, Debug, Default)]
pub struct SimStore(Arc<Mutex<MemStore>>);

impl SimStore {
    fn lock(&self) -> MutexGuard<'_, MemStore> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The bytes as a reader sees them now.
    pub fn bytes(&self) -> Vec<u8> {
        self.lock().bytes().to_vec()
    }

    /// A power cut: the synced bytes survive, and of the sectors written since, each
    /// one kept or lost at random (a torn write).
    pub fn power_cut(&self, rng: &mut Rng) {
        self.lock().crash(|_, _| rng.below(2) == 0);
    }
}

impl Store for SimStore {
    fn len(&self) -> std::io::Result<u64> {
        self.lock().len()
    }
    fn set_len(&mut self, len: u64) -> std::io::Result<()> {
        self.lock().set_len(len)
    }
    fn read_at(&self, buf: &mut [u8], off: u64) -> std::io::Result<()> {
        self.lock().read_at(buf, off)
    }
    fn write_at(&mut self, buf: &[u8], off: u64) -> std::io::Result<()> {
        self.lock().write_at(buf, off)
    }
    fn sync(&mut self) -> std::io::Result<()> {
        self.lock().sync()
    }
}

/// How the simulated volumes are configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VolumeConfig {
    /// Bytes per volume (a whole number of regions).
    pub size: u64,
    /// Bytes per region.
    pub region_size: u32,
    /// Resync bytes per second at most (0: unlimited): slow enough that faults land in
    /// the middle of a resync.
    pub resync_rate: u64,
}

impl Default for VolumeConfig {
    fn default() -> VolumeConfig {
        VolumeConfig {
            size: 256 << 10,
            region_size: 4096,
            resync_rate: 2 << 20,
        }
    }
}

/// A server's disks: its volume and its change journal.
#[derive(Clone, Debug)]
pub struct SimDisk {
    /// The volume's bytes.
    pub data: SimStore,
    /// The journal's bytes.
    pub journal: SimStore,
    /// What the volume is configured with.
    pub cfg: VolumeConfig,
}

impl SimDisk {
    /// Two empty disks (the first process start creates the volume and its journal).
    pub fn new(cfg: VolumeConfig) -> SimDisk {
        SimDisk {
            data: SimStore::default(),
            journal: SimStore::default(),
            cfg,
        }
    }

    /// The geometry of the volume.
    pub fn geometry(&self) -> Geometry {
        Geometry::new(self.cfg.size, self.cfg.region_size, DEFAULT_EXTENT_REGIONS)
            .expect("the simulator's volume geometry is valid")
    }

    /// A power cut on both disks.
    pub fn power_cut(&self, rng: &mut Rng) {
        self.data.power_cut(rng);
        self.journal.power_cut(rng);
    }
}

/// The volume logic's surroundings in the simulation: what it sends and tells waits here
/// for the server to pass on.
pub struct SimIo {
    now: Duration,
    seed: u64,
    sent: Vec<(Priority, Vec<u8>)>,
    told: Vec<ServiceOut>,
}

impl VolumeIo for SimIo {
    fn send(&mut self, priority: Priority, message: Vec<u8>) -> bool {
        // The server queues it on the MSL core right after the turn (as the driver's
        // handle does at once); a refusal there is counted as the daemon's would be.
        self.sent.push((priority, message));
        true
    }
    fn tell(&mut self, out: ServiceOut) {
        self.told.push(out);
    }
    fn now(&self) -> Duration {
        self.now
    }
    fn seed(&self) -> u64 {
        self.seed
    }
}

/// What one turn of the volume produced.
#[derive(Default)]
pub struct TurnOut {
    /// Messages for the peer.
    pub sent: Vec<(Priority, Vec<u8>)>,
    /// Inputs and reports for the control plane.
    pub told: Vec<ServiceOut>,
}

/// The queue into a simulated volume (the thread's channel), shared with the service.
#[derive(Clone, Debug, Default)]
pub struct VolumeQueue(Arc<Mutex<Vec<VolumeIn>>>);

impl VolumeQueue {
    pub(crate) fn push(&self, m: VolumeIn) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(m);
    }

    fn take(&self) -> Vec<VolumeIn> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn is_empty(&self) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).is_empty()
    }
}

/// One process's volume: the daemon's logic over the server's disks.
pub struct SimVolume {
    worker: Worker<SimStore, SimIo>,
    /// What the service, the MSL routing and the clients queue for it.
    pub queue: VolumeQueue,
    /// Its latest status (as `sft3 status` shows it).
    pub status: Arc<Mutex<Arc<VolumeStatus>>>,
    /// When the turn's end is due again without a message.
    wake: Duration,
}

/// A simulated volume as opened, with the journal's state the role machine starts from.
pub struct Opening {
    /// The volume.
    pub volume: SimVolume,
    /// Generations and consistency, from the journal.
    pub state: JournalState,
    /// How the journal was found.
    pub how: Opened,
}

impl SimVolume {
    /// Opens `disk` for server `id` at `now` (the daemon's `volume::open`, then the
    /// thread). `seed` makes the process's session and generation ids.
    pub fn open(disk: &SimDisk, id: u64, seed: u64, now: Duration) -> Result<Opening, String> {
        let geometry = disk.geometry();
        let mut data = disk.data.clone();
        let created = data.len().map_err(|e| e.to_string())? == 0;
        if created {
            data.set_len(geometry.volume_size)
                .map_err(|e| e.to_string())?;
        }
        let existed = disk.journal.len().map_err(|e| e.to_string())? > 0;
        let (journal, how) = open_journal(disk.journal.clone(), geometry, created, existed)
            .map_err(|e| format!("opening the journal of s{id}: {e}"))?;
        let state = journal.state();
        let cfg = VolumeSection {
            path: format!("sim:s{id}/volume").into(),
            size: Some(geometry.volume_size),
            region_size: geometry.region_size,
            journal: format!("sim:s{id}/journal").into(),
            resync_window: 32,
            resync_rate: disk.cfg.resync_rate,
        };
        let io = SimIo {
            now,
            seed,
            sent: Vec::new(),
            told: Vec::new(),
        };
        let status = Arc::new(Mutex::new(Arc::new(VolumeStatus::default())));
        let parts = Parts {
            cfg,
            data,
            journal,
            how: how.clone(),
        };
        let worker = Worker::new(parts, io, status.clone(), id);
        Ok(Opening {
            volume: SimVolume {
                worker,
                queue: VolumeQueue::default(),
                status,
                wake: now,
            },
            state,
            how,
        })
    }

    /// True when a message waits or the turn's end is due at `now`.
    pub fn has_work(&self, now: Duration) -> bool {
        now >= self.wake || !self.queue.is_empty()
    }

    /// When the turn's end is due without a message.
    pub fn next_wake(&self) -> Duration {
        self.wake
    }

    /// A client write; its answer comes through the receiver once acknowledged or
    /// refused (dropped unanswered when the process dies first).
    pub fn write(
        &self,
        offset: u64,
        data: Vec<u8>,
    ) -> tokio::sync::oneshot::Receiver<Result<WriteDone, String>> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.queue.push(VolumeIn::Write {
            offset,
            data,
            reply,
        });
        rx
    }

    /// One turn at `now`: every queued message in order, then the turn's end (when a
    /// message came or the wake-up is due), as the thread's loop runs.
    pub fn turn(&mut self, now: Duration) -> TurnOut {
        self.worker.io_mut().now = now;
        let batch = self.queue.take();
        let busy = !batch.is_empty();
        if busy || now >= self.wake {
            for m in batch {
                self.worker.handle(m);
            }
            self.worker.end_turn(busy);
            self.wake = now + self.worker.wait();
        }
        self.take_out()
    }

    /// The process ends (its shutdown): applied writes synced and answered, the journal
    /// flushed.
    pub fn stop(&mut self, now: Duration) -> TurnOut {
        self.worker.io_mut().now = now;
        self.worker.stop();
        self.take_out()
    }

    fn take_out(&mut self) -> TurnOut {
        let io = self.worker.io_mut();
        TurnOut {
            sent: std::mem::take(&mut io.sent),
            told: std::mem::take(&mut io.told),
        }
    }

    /// The latest status.
    pub fn status(&self) -> Arc<VolumeStatus> {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
