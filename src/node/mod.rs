//! The daemon: one server of the pair, composed from the links, the MSL, the state packets,
//! adapter health and the role machine (`sft3 run`), with a local control socket for
//! `sft3 status`.
//!
//! | module | what |
//! |---|---|
//! | [`config`] | [`NodeConfig`](config::NodeConfig): the TOML configuration, checked key by key |
//! | [`status`] | [`StatusSnapshot`](status::StatusSnapshot): what `sft3 status` shows (text, JSON) |
//! | [`ctl`] | `sft3 ctl`: volume writes and reads, the online verify |
//! | [`control`] | the control socket: server and client |
//! | [`log`] | the admin log: console lines and the append-only file |
//! | [`volume`] | the mirrored volume's thread: journal, write path, resync over the MSL |
//! | [`runtime`] | [`run`] and [`start`]: the threads, the event loop, the [`Service`] seam |
//! | [`plane`] | [`Plane`]: the control plane without I/O (the daemon's, the simulator's, replays') |
//!
//! **Threads.** The MSL has its own driver thread ([`crate::msl::driver`]). Everything else
//! that decides roles runs on one *control-plane* thread (`sft3-node`): a tokio
//! current-thread runtime at nice −10 that owns the beacon, health, the functional
//! comparator and the role machine, wakes on LAN frames, link events, MSL events and the
//! cores' timers, and never does bulk work, so it cannot be starved by the engine. The
//! control socket is served on a third thread (`sft3-control`) from a snapshot the
//! control-plane thread publishes.

mod compose;
pub mod config;
pub mod control;
pub mod ctl;
pub mod log;
pub mod runtime;
pub mod status;
pub mod volume;

pub use runtime::plane;
pub use runtime::{
    run, start, start_with, Exit, MslSeen, NodeExit, NodeHandle, Plane, PlaneConfig,
    RecordingService, ResyncStart, Service, ServiceLog, StartOptions,
};
