//! The link layer: how frames leave and enter the program.
//!
//! For now this holds the raw `AF_PACKET` socket that `ipxdump -i` captures with; the links
//! issue grows it into the adapter abstraction (batching, BPF filters, link-state events, pcap
//! record/replay, the simulated link).

pub mod afpacket;

pub use afpacket::{LinkError, PacketSocket, RecvMeta, SocketOptions};
