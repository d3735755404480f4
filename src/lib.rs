//! sft3: NetWare SFT III server mirroring re-created over raw IPX on Ethernet.
//!
//! The crate is layered (see `docs/architecture.md`); lower layers never import upper ones:
//!
//! * [`wire`]: byte formats (Ethernet framings for IPX, IPX, RIP, SAP, diagnostics, SPX, NCP,
//!   the server-state packet, MSL frames). Pure parse/emit, no I/O, no allocation on parse.
//! * [`capture`]: pcap and pcapng files (read and write), the way frames are recorded and
//!   replayed.
//! * [`link`]: moving frames: raw `AF_PACKET` sockets, pcap record/replay, simulated wires.
//!   (`unsafe` code lives only here, in `lab`, `msl::driver`, `bench` and
//!   `journal::store`'s `posix_fallocate`: system calls.)
//! * [`lab`]: network namespaces as test hosts (`sft3 lab`).
//! * [`beacon`]: server-state ("I'm alive") packets on every LAN adapter: sending, replay
//!   and key checks, a per-adapter view of the peer and its silences (sans-IO).
//! * [`health`]: LAN adapter health (carrier, errors, traffic heard, probes), its score, and
//!   the "more functional" comparison of scenario 4 (sans-IO, plus a sysfs reader).
//! * [`msl`]: the Mirrored Server Link transport, a sans-IO core over MSL frames, and its
//!   driver (a dedicated thread over a raw link).
//! * [`role`]: the fault-tolerance state machine (sans-IO): roles, the scenarios of the
//!   design guide, decisions with SFT III-style notices and their evidence.
//! * [`journal`]: the change journal of a mirrored volume: the durable dirty-region bitmap
//!   (marked before a write is acknowledged, checksummed, rebuilt in full when it cannot
//!   be trusted) and the generation history.
//! * [`node`]: one server: the daemon behind `sft3 run` and `sft3 status` (config, the
//!   control-plane thread, the MSL driver, the admin log, the control socket).
//! * [`sim`]: the whole-pair simulator (`sft3 sim`): both servers' compositions on virtual
//!   time over simulated links, random faults, the invariants checked at every step.
//! * [`bench`](mod@bench): `sft3 bench`, benchmarks that build their own namespaces.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod beacon;
pub mod bench;
pub mod capture;
pub mod health;
pub mod journal;
mod json;
pub mod lab;
pub mod link;
pub mod msl;
pub mod node;
pub mod role;
pub mod sim;
pub mod units;
pub mod wire;
