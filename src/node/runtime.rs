//! Starting and stopping one server: [`run`] (the daemon, `sft3 run`) and [`start`] (the
//! same node in the calling process, for tests), composed as
//!
//! | step | what | why here |
//! |---|---|---|
//! | 1 | open the admin log, bind the control socket | while the process may still create `/var/log/sft3`, `/run/sft3` |
//! | 2 | open the MSL link and one raw link per `[[lan]]` adapter, an rtnetlink watcher | needs `CAP_NET_RAW` |
//! | 3 | ([`run`] only) nice −10 and SCHED_FIFO `[server] rt_priority` (50) for this thread, then [`drop_capabilities`] | every later thread inherits them: the MSL driver and the control plane run real-time without keeping a capability (without `CAP_SYS_NICE` or `LimitRTPRIO` the start line warns and they run at nice −10) |
//! | 4 | spawn the MSL driver (`sft3-msl`) | its own thread ([`crate::msl::driver`]) |
//! | 5 | spawn the control plane (`sft3-node`) | beacon, health, comparator, role machine; see `event.rs` |
//! | 6 | spawn the control socket server (`sft3-control`, back to the normal scheduler at nice 0) | answers `sft3 status` from the published snapshot |
//!
//! The handshake the MSL announces (role, flags, generation history) follows the role
//! machine: the event loop passes each change to `Msl::set_announcement`, so a later
//! session (a reconnect, a restarted peer) hears the current role.
//! [`start`] skips step 3 (a test process runs two nodes and must keep its capabilities);
//! its threads set their own nice value when they may.
//!
//! **How a node ends** ([`Exit`]): stopped ([`NodeHandle::stop`], SIGTERM/SIGINT for
//! [`run`]: a clean shutdown, see `event.rs`); shut down by the role machine (scenario 3, an
//! operator command); or asked to restart as the secondary (scenario 4). [`run`] returns
//! `Ok` for the first and a [`NodeExit`] error for the other two, so `main` can pick an exit
//! status (a supervisor restarts the process for [`NodeExit::RestartAsSecondary`]: with its
//! capabilities gone, the process cannot reopen its sockets itself).

mod event;
pub mod plane;
mod service;
mod snapshot;

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime};

use anyhow::{anyhow, Context};
use thiserror::Error;

pub use plane::{Exit, MslSeen, Plane, PlaneConfig};
pub use service::{RecordingService, ResyncStart, Service, ServiceLog};

use crate::link::raw::RawOptions;
use crate::link::raw::{drop_capabilities, AsyncLinkWatcher, LinkWatcher};
use crate::link::{AsyncRawLink, Link, LinkKind, RawLink};
use crate::msl::driver::{set_thread_nice, set_thread_realtime, DriverOptions};
use crate::node::config::NodeConfig;
use crate::node::control::ControlServer;
use crate::node::log::AdminLog;
use crate::node::status::StatusSnapshot;
use crate::node::volume::{self, VolumeClient, VolumeStopper};
use crate::role::{RoleConfig, RoleMachine, ShutdownReason};

use event::{Ctx, Io, Published, Stop};
use snapshot::Identity;

/// The smallest MTU the MSL is run with (IPX's minimum packet; a hello fits).
const MIN_MSL_MTU: usize = 576;

/// The nice value of the control plane (the MSL driver's default too).
pub const CONTROL_PLANE_NICE: i32 = -10;

/// How [`start_with`] runs a node.
pub struct StartOptions {
    /// Lower the calling thread's nice value and drop every capability once the sockets
    /// are open ([`run`]). Irreversible for the process; off for [`start`].
    pub drop_capabilities: bool,
    /// Serve `[paths] control_socket` (default true).
    pub control_socket: bool,
    /// Append notices to `[paths] log_file` (default true; otherwise stderr only).
    pub log_file: bool,
    /// Sample `/sys/class/net/IF/statistics` every 100 ms (default true). Off when the
    /// node runs on a thread moved into another network namespace, where `/sys` still
    /// shows the process's own.
    pub sysfs_counters: bool,
    /// What the role actions drive; `None`: the `[volume]` when one is configured (see
    /// [`crate::node::volume`]), else a [`RecordingService`].
    pub service: Option<Box<dyn Service>>,
}

impl Default for StartOptions {
    fn default() -> StartOptions {
        StartOptions {
            drop_capabilities: false,
            control_socket: true,
            log_file: true,
            sysfs_counters: true,
            service: None,
        }
    }
}

/// Why [`run`] ended other than by a stop request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum NodeExit {
    /// The role machine shut this server down.
    #[error("server shut down ({0})")]
    ShutDown(ShutdownReason),
    /// The role machine handed over and asks to be restarted as the secondary.
    #[error("handed over to the peer: restart the daemon to rejoin as the secondary")]
    RestartAsSecondary,
}

/// A running node.
pub struct NodeHandle {
    stop: Arc<Stop>,
    control_stop: Arc<Stop>,
    published: Arc<Published>,
    node: Option<JoinHandle<Exit>>,
    control: Option<JoinHandle<()>>,
    recorder: Option<RecordingService>,
    volume: Option<VolumeStopper>,
}

impl NodeHandle {
    /// The latest published status (at most 100 ms old, and never older than the last
    /// decision).
    pub fn snapshot(&self) -> StatusSnapshot {
        let s = lock(&self.published.snapshot).clone();
        (*s).clone()
    }

    /// The most recent notices (at most 256), oldest first, as `text (evidence)`.
    pub fn notices(&self) -> Vec<String> {
        let n = lock(&self.published.notices).clone();
        (*n).clone()
    }

    /// What the default [`RecordingService`] was asked (`None` with another service).
    pub fn service_log(&self) -> Option<ServiceLog> {
        self.recorder.as_ref().map(RecordingService::log)
    }

    /// True once the node ended on its own (shut down, restart requested) or was stopped.
    pub fn is_finished(&self) -> bool {
        self.node.as_ref().is_none_or(|h| h.is_finished())
    }

    /// Stops the node cleanly (withdraw, final notice and state packets, MSL close) and
    /// waits for its threads; returns how it ended (not [`Exit::Stopped`] if it had ended
    /// on its own before).
    pub fn stop(mut self) -> Exit {
        self.finish()
    }

    fn finish(&mut self) -> Exit {
        self.stop.request();
        let exit = match self.node.take() {
            Some(h) => h.join().unwrap_or(Exit::Stopped),
            None => Exit::Stopped,
        };
        self.control_stop.request();
        if let Some(h) = self.control.take() {
            let _ = h.join();
        }
        // Last: the control plane no longer asks anything of it.
        if let Some(mut v) = self.volume.take() {
            v.stop();
        }
        exit
    }

    /// Waits until the node ends on its own or a stop is requested elsewhere.
    fn ended(&self) -> &tokio::sync::Notify {
        &self.published.ended
    }
}

impl Drop for NodeHandle {
    fn drop(&mut self) {
        if self.node.is_some() || self.control.is_some() || self.volume.is_some() {
            self.finish();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts a node in this process with the defaults of [`StartOptions`] (capabilities
/// kept). Sockets open in the calling thread's network namespace.
pub fn start(cfg: NodeConfig) -> anyhow::Result<NodeHandle> {
    start_with(cfg, StartOptions::default())
}

/// Runs the daemon until SIGTERM or SIGINT (then a clean shutdown and `Ok`), or until the
/// role machine ends it ([`NodeExit`]). Drops every capability once its sockets are open.
pub fn run(cfg: NodeConfig) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the signal runtime")?;
    // Handlers first, so a signal during start-up already means a clean stop.
    let (mut term, mut int) = rt.block_on(async {
        Ok::<_, std::io::Error>((
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        ))
    })?;
    let opts = StartOptions {
        drop_capabilities: true,
        ..StartOptions::default()
    };
    let handle = start_with(cfg, opts)?;
    rt.block_on(async {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
            _ = handle.ended().notified() => {}
        }
    });
    match handle.stop() {
        Exit::Stopped => Ok(()),
        Exit::ShutDown(r) => Err(NodeExit::ShutDown(r).into()),
        Exit::RestartAsSecondary => Err(NodeExit::RestartAsSecondary.into()),
    }
}

/// Starts a node (see the module docs for the steps).
pub fn start_with(cfg: NodeConfig, opts: StartOptions) -> anyhow::Result<NodeHandle> {
    let incarnation = cfg.incarnation();
    let id = cfg.server.id;
    let mut log = if opts.log_file {
        let p = &cfg.paths.log_file;
        Some(AdminLog::open(p).with_context(|| format!("opening the admin log {}", p.display()))?)
    } else {
        None
    };
    let control = if opts.control_socket {
        let p = &cfg.paths.control_socket;
        let s = ControlServer::bind(p)
            .with_context(|| format!("binding the control socket {}", p.display()))?;
        Some(s)
    } else {
        None
    };
    let msl_link = RawLink::open_with(&cfg.msl.interface, &RawOptions::msl())
        .with_context(|| format!("opening the MSL adapter {}", cfg.msl.interface))?;
    let mut lans = Vec::with_capacity(cfg.lan.len());
    for l in &cfg.lan {
        let link = RawLink::open(&l.interface, LinkKind::Lan)
            .with_context(|| format!("opening the LAN adapter {}", l.interface))?;
        lans.push(link);
    }
    let mut watcher = LinkWatcher::open().context("opening the rtnetlink link watcher")?;
    watcher
        .request_dump()
        .context("asking for the links' state")?;
    // What the scheduler gave, for the start line (`None`: real-time not asked for).
    let mut realtime = None;
    if opts.drop_capabilities {
        // Threads started from here on inherit the policy, the priority and the empty sets.
        set_thread_nice(CONTROL_PLANE_NICE);
        let p = cfg.server.rt_priority;
        if p > 0 {
            realtime = Some(set_thread_realtime(p));
        }
        drop_capabilities().context("dropping capabilities")?;
    }

    // The volume before the role machine: it starts from the journal's generations and
    // consistency (scenario 8: an interrupted resync target must not serve).
    let opened = match (&cfg.volume, opts.service.is_none()) {
        (Some(v), true) => Some(volume::open(v)?),
        _ => None,
    };
    let epoch = Instant::now();
    let mut rcfg = cfg.role_config();
    if let Some(o) = &opened {
        let st = o.state();
        rcfg.data_consistent = st.consistent;
        rcfg.history = st.history;
        rcfg.tracked_since = st.tracked_since;
    }
    // The machine that decides is made on the control-plane thread right before its loop
    // (its stall fence counts every gap between calls); this one only gives the handshake.
    let role = RoleMachine::new(rcfg.clone(), epoch.elapsed());
    let mut mcfg = cfg.msl_config(incarnation, msl_link.info().mac, &role);
    // Frames as large as the MSL adapter takes: a 64 KiB resync copy is 8 jumbo frames,
    // not 46 of 1500 bytes (4 % of the bytes were headers).
    mcfg.mtu = msl_link.info().mtu.max(MIN_MSL_MTU);
    if let Some(o) = &opened {
        // The handshake refuses a peer whose volume does not match, before any copy.
        let g = o.journal.geometry();
        mcfg.compat.volume_size = g.volume_size;
        mcfg.compat.region_size = g.region_size;
    }
    // The driver's clock starts a few µs after `epoch`: MSL times read as plane times are
    // early by that much, which only makes an MSL silence look a little longer.
    let (msl, msl_rx) = crate::msl::driver::spawn(msl_link, mcfg, DriverOptions::default())
        .context("starting the MSL driver")?;

    let macs: Vec<_> = lans.iter().map(|l| l.info().mac).collect();
    let pcfg = cfg
        .plane_config(incarnation, &macs)
        .ok_or_else(|| anyhow!("too many LAN adapters"))?;
    let ifindex: Vec<_> = lans.iter().map(|l| l.info().index).collect();
    let names: Vec<String> = cfg.lan.iter().map(|l| l.interface.clone()).collect();

    let vol = match opened {
        Some(o) => Some(volume::spawn(o, msl.clone(), id).context("starting the volume thread")?),
        None => None,
    };
    let (service, recorder): (Box<dyn Service>, _) = match (opts.service, vol.as_ref()) {
        (Some(s), _) => (s, None),
        (None, Some(v)) => (Box::new(v.service.clone()), None),
        (None, None) => {
            let r = RecordingService::new();
            (Box::new(r.clone()), Some(r))
        }
    };
    let (commands_tx, commands_rx) = tokio::sync::mpsc::unbounded_channel();
    let (vol_io, vol_client, vol_stopper, vol_status) = match vol {
        Some(v) => (
            (Some(v.inbox), Some(v.out)),
            Some(v.client),
            Some(v.stopper),
            Some(v.status),
        ),
        None => ((None, None), None, None, None),
    };
    if let Some(l) = log.as_mut() {
        let lan: Vec<&str> = names.iter().map(String::as_str).collect();
        l.info(
            SystemTime::now(),
            &format!(
                "sft3 starting: server {id} {:?}, incarnation {incarnation}, msl {}, lan {}",
                cfg.server.name,
                cfg.msl.interface,
                lan.join(", ")
            ),
        );
        if realtime == Some(false) {
            l.message(
                SystemTime::now(),
                crate::role::Severity::Warning,
                &format!(
                    "real-time priority {} not permitted (needs CAP_SYS_NICE or \
                     LimitRTPRIO={}): running at nice {CONTROL_PLANE_NICE}; under heavy CPU \
                     load heartbeats may be late enough to fail over",
                    cfg.server.rt_priority, cfg.server.rt_priority
                ),
            );
        }
    }
    // The same composition as the simulator's (`Plane::assemble`); its role machine is
    // made again on the control-plane thread right before the loop.
    let plane = Plane::assemble(&pcfg, service, epoch.elapsed())
        .context("configuring the state packets")?;
    let initial: Vec<_> = lans
        .iter_mut()
        .enumerate()
        .filter_map(|(pos, link)| Some((pos, link.status().ok()?)))
        .collect();
    let identity = Identity {
        server_id: id,
        name: cfg.server.name.clone(),
        incarnation,
        adapters: names,
    };
    let published = Arc::new(Published {
        snapshot: Mutex::new(Arc::new(StatusSnapshot::new(
            id,
            &cfg.server.name,
            incarnation,
        ))),
        notices: Mutex::new(Arc::new(Vec::new())),
        ended: tokio::sync::Notify::new(),
    });
    let stop = Arc::new(Stop::default());
    let service_log: Option<Box<dyn Fn() -> ServiceLog + Send>> = recorder.clone().map(|r| {
        let f: Box<dyn Fn() -> ServiceLog + Send> = Box::new(move || r.log());
        f
    });
    let ctx = Ctx {
        epoch,
        identity,
        stop: stop.clone(),
        published: published.clone(),
        service_log,
        sysfs: opts.sysfs_counters,
        volume_status: vol_status,
    };
    let node = std::thread::Builder::new()
        .name("sft3-node".into())
        .spawn(move || {
            node_thread(
                plane,
                (rcfg, initial),
                (lans, ifindex),
                watcher,
                (msl, msl_rx, log),
                (vol_io.0, vol_io.1, commands_rx),
                ctx,
            )
        })
        .context("starting the control-plane thread")?;

    let control_stop = Arc::new(Stop::default());
    let control = match control {
        Some(server) => {
            let published = published.clone();
            let cs = control_stop.clone();
            let h = std::thread::Builder::new()
                .name("sft3-control".into())
                .spawn(move || control_thread(server, published, cs, (vol_client, commands_tx)))
                .context("starting the control socket thread")?;
            Some(h)
        }
        None => None,
    };
    Ok(NodeHandle {
        stop,
        control_stop,
        published,
        node: Some(node),
        control: Some(control).flatten(),
        recorder,
        volume: vol_stopper,
    })
}

/// The control plane's thread: nice −10, a current-thread runtime, the event loop.
fn node_thread(
    mut plane: Plane,
    (rcfg, initial): (RoleConfig, Vec<(usize, crate::link::LinkStatus)>),
    (lans, ifindex): (Vec<RawLink>, Vec<u32>),
    watcher: LinkWatcher,
    (msl, msl_rx, log): (
        crate::msl::driver::MslHandle,
        crate::msl::driver::MslReceiver,
        Option<AdminLog>,
    ),
    (volume, service_out, commands_rx): (
        Option<volume::VolumeInbox>,
        Option<tokio::sync::mpsc::UnboundedReceiver<volume::ServiceOut>>,
        tokio::sync::mpsc::UnboundedReceiver<crate::role::Command>,
    ),
    ctx: Ctx,
) -> Exit {
    // Without CAP_SYS_NICE (tests as a user) the thread keeps the process's priority.
    set_thread_nice(CONTROL_PLANE_NICE);
    let published = ctx.published.clone();
    let exit = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(async move {
            let mut io = Io {
                lans: Vec::with_capacity(lans.len()),
                bufs: Vec::new(),
                metas: Vec::new(),
                watcher: AsyncLinkWatcher::new(watcher).ok(),
                ifindex,
                msl_rx,
                msl,
                log,
                volume,
                service_out,
                commands: Some(commands_rx),
            };
            for l in lans {
                match AsyncRawLink::new(l) {
                    Ok(fd) => io.lans.push(fd),
                    Err(e) => {
                        eprintln!("sft3: cannot watch a LAN adapter: {e}");
                        return Exit::Stopped;
                    }
                }
                let (b, m) = event::rx_buffers();
                io.bufs.push(b);
                io.metas.push(m);
            }
            let now = ctx.epoch.elapsed();
            plane.role = RoleMachine::new(rcfg, now);
            for (pos, st) in initial {
                plane.lan_link(now, pos, st);
            }
            plane.tick(now);
            event::run(plane, io, ctx).await
        }),
        Err(e) => {
            eprintln!("sft3: cannot start the control-plane runtime: {e}");
            Exit::Stopped
        }
    };
    published.ended.notify_one();
    exit
}

/// The control socket's thread: serves until asked to stop.
fn control_thread(
    server: ControlServer,
    published: Arc<Published>,
    stop: Arc<Stop>,
    (volume, commands): (
        Option<VolumeClient>,
        tokio::sync::mpsc::UnboundedSender<crate::role::Command>,
    ),
) {
    // Status requests are not urgent: back to the normal scheduler and the default
    // priority (always permitted).
    set_thread_realtime(0);
    set_thread_nice(0);
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    rt.block_on(async move {
        let p = published.clone();
        // Only an Arc is cloned under the lock: the control plane must never wait for
        // this thread (see `event::Published`).
        let get = move || {
            let s = lock(&p.snapshot).clone();
            (*s).clone()
        };
        tokio::select! {
            r = server.serve(get, volume, Some(commands)) => {
                if let Err(e) = r {
                    eprintln!("sft3: control socket: {e}");
                }
            }
            _ = async {
                while !stop.flag.load(std::sync::atomic::Ordering::SeqCst) {
                    stop.notify.notified().await;
                }
            } => {}
        }
    });
}
