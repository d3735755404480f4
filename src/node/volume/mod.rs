//! The mirrored volume of one server (`[volume]`): its own thread (`sft3-volume`) owns the
//! volume file, the change journal, the write path and the resync sessions, and carries
//! out what the role machine asks through the [`Service`] seam.
//!
//! | from | to the volume thread | what it does |
//! |---|---|---|
//! | role machine | `StartTracking` | a new generation (durable), told to the role machine; writes are acknowledged on the local copy and the journal |
//! | role machine | `StopTracking` | tracking ends (mirrored again) |
//! | role machine | `StartResync` source | a full resync marks every region; a session streams the dirty regions (MSL bulk class) |
//! | role machine | `StartResync` target | waits for the source's `Begin`; inconsistent until its `End` |
//! | role machine | serving on/off | only a serving server takes client writes; only a non-serving one applies the peer's |
//! | MSL, event class | the peer's mirrored writes and their `Durable` answers | see [`crate::journal::mirror`] |
//! | MSL, bulk class | resync messages | see [`crate::journal::resync`] |
//! | MSL session | ended | a mirrored write path stops waiting for the peer at once (the regions stay dirty) |
//! | control socket | `volume write`, `volume read` | client I/O until the engine serves clients |
//! | control socket | `volume verify` | an online verify (`sft3 ctl verify`, see `worker/verify.rs`) |
//!
//! The thread tells the control plane the journal's generations and the resync's progress
//! ("image done", "disk done") and reports notices; `sft3 status` shows [`VolumeStatus`].
//!
//! **Ordering.** Everything on the volume runs on this one thread, in order: a client
//! write is marked, written and made durable before the next message is looked at. So a
//! region read for a resync copy holds every write with a smaller version, which is what
//! keeps an older copy from overwriting a newer write at the target
//! ([`crate::journal::resync`]).
//!
//! **Priority.** Client writes and the peer's mirrored writes are handled before any resync
//! work in each turn; resync copies are bounded by `resync_window` in flight and, when
//! set, by `resync_rate`.

mod open;
mod status;
mod worker;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::msl::driver::MslHandle;
use crate::msl::Priority;
use crate::role::{Input, ResyncKind, ResyncRole, Severity};

use super::runtime::{ResyncStart, Service};

pub(crate) use open::open_journal;
pub use open::{open, OpenedVolume};
pub use status::{ResyncStatus, VerifyStatus, VolumeStatus};
pub(crate) use worker::{Parts, VolumeIo, Worker};

/// Longest client write or read through the control socket, bytes.
pub const MAX_IO: u64 = 16 << 20;

/// What the volume thread tells the control plane.
#[derive(Debug)]
pub enum ServiceOut {
    /// An input for the role machine (generations, resync progress).
    Input(Input),
    /// A report for the console and the log (not a role decision).
    Notice(Severity, &'static str, String),
}

/// An acknowledged client write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteDone {
    /// Its version.
    pub version: u64,
    /// Acknowledged with the peer's copy durable too.
    pub mirrored: bool,
    /// From arrival at the volume thread to the acknowledgement, µs.
    pub micros: u64,
}

/// What the volume thread is asked.
#[derive(Debug)]
pub(crate) enum VolumeIn {
    Serving(bool),
    StartTracking,
    StopTracking,
    StartResync(ResyncRole, ResyncKind),
    /// A message the peer sent on the event or bulk class.
    Msl(Priority, Vec<u8>),
    /// The MSL session began (true) or ended (false).
    Session(bool),
    Write {
        offset: u64,
        data: Vec<u8>,
        reply: tokio::sync::oneshot::Sender<Result<WriteDone, String>>,
    },
    Read {
        offset: u64,
        len: u64,
        reply: tokio::sync::oneshot::Sender<Result<Vec<u8>, String>>,
    },
    Verify {
        reply: tokio::sync::oneshot::Sender<Result<String, String>>,
    },
    Stop,
}

/// The control plane's side of the volume: the [`Service`] the role machine drives.
#[derive(Clone, Debug)]
pub struct VolumeService {
    tx: mpsc::Sender<VolumeIn>,
}

impl Service for VolumeService {
    fn start_serving(&mut self) {
        let _ = self.tx.send(VolumeIn::Serving(true));
    }
    fn stop_serving(&mut self) {
        let _ = self.tx.send(VolumeIn::Serving(false));
    }
    // The engine (a later issue) advertises its network and name.
    fn advertise(&mut self) {}
    fn withdraw(&mut self) {}
    fn start_tracking(&mut self) {
        let _ = self.tx.send(VolumeIn::StartTracking);
    }
    fn stop_tracking(&mut self) {
        let _ = self.tx.send(VolumeIn::StopTracking);
    }
    fn start_resync(&mut self, role: ResyncRole, kind: ResyncKind) -> ResyncStart {
        let _ = self.tx.send(VolumeIn::StartResync(role, kind));
        ResyncStart::Started
    }
}

/// Client I/O into the volume thread (the control socket's side). Cheap to clone.
#[derive(Clone, Debug)]
pub struct VolumeClient {
    tx: mpsc::Sender<VolumeIn>,
}

impl VolumeClient {
    /// Writes `data` at `offset`; resolves once acknowledged (see
    /// [`crate::journal::mirror`] for when).
    pub async fn write(&self, offset: u64, data: Vec<u8>) -> Result<WriteDone, String> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.tx
            .send(VolumeIn::Write {
                offset,
                data,
                reply,
            })
            .map_err(|_| "the volume is closed".to_string())?;
        rx.await
            .map_err(|_| "the volume closed before answering".to_string())?
    }

    /// Starts an online verify (see `sft3 ctl verify`); its progress and result are in the
    /// status.
    pub async fn verify(&self) -> Result<String, String> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.tx
            .send(VolumeIn::Verify { reply })
            .map_err(|_| "the volume is closed".to_string())?;
        rx.await
            .map_err(|_| "the volume closed before answering".to_string())?
    }

    /// Reads `len` bytes at `offset`.
    pub async fn read(&self, offset: u64, len: u64) -> Result<Vec<u8>, String> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.tx
            .send(VolumeIn::Read { offset, len, reply })
            .map_err(|_| "the volume is closed".to_string())?;
        rx.await
            .map_err(|_| "the volume closed before answering".to_string())?
    }
}

/// Where the event loop forwards the MSL's event and bulk classes and session changes.
#[derive(Clone, Debug)]
pub struct VolumeInbox {
    tx: mpsc::Sender<VolumeIn>,
}

/// Routes an MSL event when a volume is configured: the event and bulk classes go to the
/// volume alone (a lost copy needs nothing: its regions stay dirty), the session's start and
/// ends to both. Gives the event back when the control plane sees it too. The daemon's
/// event loop and the simulator route through this one function.
pub(crate) fn route_msl(
    ev: crate::msl::MslEvent,
    mut to_volume: impl FnMut(VolumeIn),
) -> Option<crate::msl::MslEvent> {
    use crate::msl::MslEvent;
    match ev {
        MslEvent::Delivered { priority, message } if priority != Priority::Control => {
            to_volume(VolumeIn::Msl(priority, message));
            return None;
        }
        MslEvent::Lost { priority, .. } if priority != Priority::Control => return None,
        MslEvent::Up { .. } => to_volume(VolumeIn::Session(true)),
        MslEvent::Closed { .. } | MslEvent::Restarted { .. } | MslEvent::Refused { .. } => {
            to_volume(VolumeIn::Session(false))
        }
        _ => {}
    }
    Some(ev)
}

impl VolumeInbox {
    /// Routes an MSL event (see [`route_msl`]); the event back when the plane sees it too.
    pub(crate) fn route(&self, ev: crate::msl::MslEvent) -> Option<crate::msl::MslEvent> {
        route_msl(ev, |m| {
            let _ = self.tx.send(m);
        })
    }

    /// The MSL session began or ended.
    pub fn session(&self, up: bool) {
        let _ = self.tx.send(VolumeIn::Session(up));
    }
}

/// A running volume thread and its ends.
pub struct VolumeRuntime {
    /// For the role machine.
    pub service: VolumeService,
    /// For the control socket.
    pub client: VolumeClient,
    /// For the event loop's MSL routing.
    pub inbox: VolumeInbox,
    /// What the thread tells the control plane.
    pub out: tokio::sync::mpsc::UnboundedReceiver<ServiceOut>,
    /// The latest status (the thread replaces the `Arc`; readers clone it).
    pub status: Arc<Mutex<Arc<VolumeStatus>>>,
    /// Stops and joins the thread.
    pub stopper: VolumeStopper,
}

/// Stops the volume thread (the journal is flushed and the volume synced first).
pub struct VolumeStopper {
    tx: mpsc::Sender<VolumeIn>,
    join: Option<JoinHandle<()>>,
}

impl VolumeStopper {
    /// Asks the thread to stop and waits for it.
    pub fn stop(&mut self) {
        let _ = self.tx.send(VolumeIn::Stop);
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

impl Drop for VolumeStopper {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The volume thread's surroundings: the MSL driver, the control plane's channel, the
/// monotonic clock.
struct ThreadIo {
    msl: MslHandle,
    out: tokio::sync::mpsc::UnboundedSender<ServiceOut>,
    epoch: std::time::Instant,
}

impl worker::VolumeIo for ThreadIo {
    fn send(&mut self, priority: Priority, message: Vec<u8>) -> bool {
        self.msl.send(priority, message).is_ok()
    }
    fn tell(&mut self, out: ServiceOut) {
        // The control plane gone: the node is stopping.
        let _ = self.out.send(out);
    }
    fn now(&self) -> std::time::Duration {
        self.epoch.elapsed()
    }
    fn seed(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    }
}

/// Starts the volume thread over an opened volume, sending on `msl`.
pub fn spawn(vol: OpenedVolume, msl: MslHandle, server_id: u64) -> std::io::Result<VolumeRuntime> {
    let (tx, rx) = mpsc::channel();
    let (out_tx, out) = tokio::sync::mpsc::unbounded_channel();
    let status = Arc::new(Mutex::new(Arc::new(VolumeStatus::default())));
    let parts = worker::Parts {
        cfg: vol.cfg,
        data: vol.data,
        journal: vol.journal,
        how: vol.how,
    };
    let io = ThreadIo {
        msl,
        out: out_tx,
        epoch: std::time::Instant::now(),
    };
    let worker = worker::Worker::new(parts, io, status.clone(), server_id);
    let join = std::thread::Builder::new()
        .name("sft3-volume".into())
        .spawn(move || worker.run(rx))?;
    Ok(VolumeRuntime {
        service: VolumeService { tx: tx.clone() },
        client: VolumeClient { tx: tx.clone() },
        inbox: VolumeInbox { tx: tx.clone() },
        out,
        status,
        stopper: VolumeStopper {
            tx,
            join: Some(join),
        },
    })
}
