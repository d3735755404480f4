//! The wire layer: every byte format sft3 reads or writes, in smoltcp's style.
//!
//! Each format has a checked zero-copy view over a byte buffer (`Foo<T: AsRef<[u8]>>` with
//! `new_checked` and field accessors) and a parsed value (`FooRepr`) with `parse` and `emit`.
//! Parsing never panics and never allocates; malformed input is a [`WireError`].
//!
//! | module | format |
//! |---|---|
//! | [`addr`] | IPX network, node, socket, full address |
//! | [`auth`] | keyed BLAKE3 tags for our own formats |
//! | [`crc`] | CRC32C, the MSL frames' unkeyed integrity check |
//! | [`ethernet`] | Ethernet_II, raw 802.3, 802.2 LLC, SNAP; one 802.1Q tag |
//! | [`ipx`] | the IPX header and checksum |
//! | [`frame`] | a whole Ethernet + IPX frame |
//! | [`rip`] | IPX RIP (socket 0x0453) |
//! | [`sap`] | SAP (socket 0x0452) |
//! | [`diag`] | IPX diagnostics (socket 0x0456) |
//! | [`spx`] | the SPX header |
//! | [`ncp`] | NCP request/reply envelopes |
//! | [`netbios`] | NetBIOS over IPX recognition |
//! | [`state`] | sft3 server-state ("I'm alive") packets |
//! | [`msl`] | sft3 mirrored-server-link frames |
//! | [`classify`] | which protocol an IPX packet carries |
//! | [`dissect`](mod@dissect) | a whole frame to everything above, errors kept beside what decoded |
//! | [`samples`] | deterministic sample frames of every kind, for tests and benchmarks |

#![forbid(unsafe_code)]

pub mod addr;
pub mod auth;
pub mod classify;
pub mod crc;
pub mod diag;
pub mod dissect;
pub mod error;
pub mod ethernet;
pub mod frame;
pub mod ipx;
pub mod msl;
pub mod ncp;
pub mod netbios;
pub mod rip;
pub mod samples;
pub mod sap;
pub mod spx;
pub mod state;

pub use addr::{IpxAddr, MacAddr, Net, Node, Socket};
pub use classify::Proto;
pub use dissect::{dissect, Detail, Dissection};
pub use error::{Result, WireError};
pub use ethernet::{Encap, EthernetFrame, EthernetRepr, Framing, LlcControl};
pub use frame::{emit_ipx_frame, IpxFrame};
pub use ipx::{Checksum, ChecksumStatus, IpxPacket, IpxRepr, PacketType};
