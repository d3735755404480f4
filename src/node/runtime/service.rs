//! The seam between the role machine and what serves clients: [`Service`].
//!
//! | role action | `Service` call | today ([`RecordingService`]) |
//! |---|---|---|
//! | `StartServing` / `StopServing` | [`Service::start_serving`] / [`Service::stop_serving`] | recorded |
//! | `Advertise` / `Withdraw` | [`Service::advertise`] / [`Service::withdraw`] | recorded |
//! | `StartTracking` / `StopTracking` | [`Service::start_tracking`] / [`Service::stop_tracking`] | recorded; no generation is started (no journal) |
//! | `StartResync` | [`Service::start_resync`] | recorded; [`ResyncStart::NothingToCopy`] |
//!
//! With a `[volume]` the daemon's service is the volume thread (`node::volume`), which
//! answers [`ResyncStart::Started`] and reports its progress through the daemon's inputs.
//! Without one it is [`RecordingService`]: the daemon has no volume, and a resync of no data
//! is complete the moment it starts, which is what [`ResyncStart::NothingToCopy`] says (the
//! daemon then tells the role machine "image done, disk done" itself). The engine issue
//! adds answering clients and RIP/SAP.

use std::sync::{Arc, Mutex};

use crate::role::{ResyncKind, ResyncRole};

/// How a resync began.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResyncStart {
    /// Under way: progress will be reported (a later issue's channel).
    Started,
    /// There is nothing to copy (no volume): the resync is complete now.
    NothingToCopy,
}

/// What the role machine's service actions drive. Calls come from the control-plane
/// thread and must return quickly: real work belongs on the implementation's own threads.
pub trait Service: Send {
    /// Start answering clients.
    fn start_serving(&mut self);
    /// Stop answering clients.
    fn stop_serving(&mut self);
    /// Advertise the engine's network (RIP) and name (SAP).
    fn advertise(&mut self);
    /// Withdraw them (RIP/SAP with hop count 16).
    fn withdraw(&mut self);
    /// Start tracking changed regions (the journal starts a new generation).
    fn start_tracking(&mut self);
    /// Stop tracking (mirrored again).
    fn stop_tracking(&mut self);
    /// Start a resync as `role`, copying `kind`.
    fn start_resync(&mut self, role: ResyncRole, kind: ResyncKind) -> ResyncStart;
}

/// What a [`RecordingService`] was last asked (shown by `sft3 status`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceLog {
    /// Serving clients (as asked).
    pub serving: bool,
    /// The network and name are advertised (as asked).
    pub advertising: bool,
    /// Tracking changes (as asked).
    pub tracking: bool,
    /// The last resync asked for, if any.
    pub last_resync: Option<(ResyncRole, ResyncKind)>,
    /// Every call, in order, by name (`start_serving`, `withdraw`, ...), for tests.
    pub calls: Vec<&'static str>,
}

/// The service without a volume: records what was asked, serves nothing. Clones share the
/// record.
#[derive(Clone, Debug, Default)]
pub struct RecordingService {
    log: Arc<Mutex<ServiceLog>>,
}

impl RecordingService {
    /// A service that has been asked nothing.
    pub fn new() -> RecordingService {
        RecordingService::default()
    }

    /// What it was asked so far.
    pub fn log(&self) -> ServiceLog {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn record(&self, call: &'static str, f: impl FnOnce(&mut ServiceLog)) {
        let mut l = self.log.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut l);
        // Bounded: a long-running daemon keeps the last calls only.
        if l.calls.len() >= 256 {
            l.calls.drain(..128);
        }
        l.calls.push(call);
    }
}

impl Service for RecordingService {
    fn start_serving(&mut self) {
        self.record("start_serving", |l| l.serving = true);
    }

    fn stop_serving(&mut self) {
        self.record("stop_serving", |l| l.serving = false);
    }

    fn advertise(&mut self) {
        self.record("advertise", |l| l.advertising = true);
    }

    fn withdraw(&mut self) {
        self.record("withdraw", |l| l.advertising = false);
    }

    fn start_tracking(&mut self) {
        self.record("start_tracking", |l| l.tracking = true);
    }

    fn stop_tracking(&mut self) {
        self.record("stop_tracking", |l| l.tracking = false);
    }

    fn start_resync(&mut self, role: ResyncRole, kind: ResyncKind) -> ResyncStart {
        self.record("start_resync", |l| l.last_resync = Some((role, kind)));
        ResyncStart::NothingToCopy
    }
}
