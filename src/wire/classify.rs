//! Which protocol an IPX packet carries, from its packet type and sockets.
//!
//! | rule (first match wins) | protocol |
//! |---|---|
//! | socket `0x0453` at either end | [`Proto::Rip`] |
//! | socket `0x0452` at either end | [`Proto::Sap`] |
//! | socket `0x0456` at either end | [`Proto::Diag`] |
//! | socket [`Socket::SFT3_STATE`] (`0x5354`) at either end | [`Proto::State`] |
//! | socket `0x0451` at either end | [`Proto::Ncp`] |
//! | socket `0x0455` or `0x0553` at either end | [`Proto::Netbios`] |
//! | packet type 1 | [`Proto::Rip`] |
//! | packet type 17 | [`Proto::Ncp`] |
//! | packet type 5 | [`Proto::Spx`] |
//! | anything else | [`Proto::Data`] |
//!
//! Sockets are checked before packet types because clients set the type loosely (SAP and
//! RIP go out as type 0 or 4, NCP as 17 or 0) while a well-known socket is unambiguous: a
//! type-4 packet on socket `0x0453` is RIP. Either end counts, since replies come from the
//! well-known socket to an ephemeral one (NCP replies from `0x0451` to the client's socket)
//! and some requests go the other way (SAP responses sent from `0x4008` to `0x0452`).
//! Among sockets the Novell services come first, sft3's own state socket next. Packet type
//! 20 ("propagated broadcast") alone does not make NetBIOS: tunnels such as ipxpkt (socket
//! `0x6181`) send other data with it, and tcpdump and Wireshark decode those as plain IPX too
//! (see the fragglet capture in captures/third-party).
//!
//! [`Proto::Msl`] is never returned: MSL frames have their own EtherType (`0x88B5`) and are
//! not IPX, so callers set it themselves.

use core::fmt;

use super::addr::Socket;
use super::ipx::PacketType;

/// The protocol an IPX packet (or an MSL frame) carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    /// IPX routing information.
    Rip,
    /// Service advertising.
    Sap,
    /// NetWare Core Protocol.
    Ncp,
    /// Sequenced packet exchange.
    Spx,
    /// NetBIOS over IPX.
    Netbios,
    /// IPX diagnostics.
    Diag,
    /// sft3 server-state packets.
    State,
    /// sft3 mirrored-server-link frames (EtherType `0x88B5`, not IPX).
    Msl,
    /// Anything else.
    Data,
}

impl Proto {
    /// Every value, in declaration order.
    pub const ALL: [Proto; 9] = [
        Proto::Rip,
        Proto::Sap,
        Proto::Ncp,
        Proto::Spx,
        Proto::Netbios,
        Proto::Diag,
        Proto::State,
        Proto::Msl,
        Proto::Data,
    ];

    /// The lower-case name used in output and filters: `rip`, `sap`, `ncp`, `spx`,
    /// `netbios`, `diag`, `state`, `msl` or `data`.
    pub const fn name(self) -> &'static str {
        match self {
            Proto::Rip => "rip",
            Proto::Sap => "sap",
            Proto::Ncp => "ncp",
            Proto::Spx => "spx",
            Proto::Netbios => "netbios",
            Proto::Diag => "diag",
            Proto::State => "state",
            Proto::Msl => "msl",
            Proto::Data => "data",
        }
    }

    /// The value with this [`name`](Self::name), case-insensitively.
    pub fn from_name(s: &str) -> Option<Proto> {
        Proto::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Classifies an IPX packet by the rules in the module documentation.
pub fn classify(packet_type: PacketType, src: Socket, dst: Socket) -> Proto {
    let either = |s: Socket| src == s || dst == s;
    if either(Socket::RIP) {
        Proto::Rip
    } else if either(Socket::SAP) {
        Proto::Sap
    } else if either(Socket::DIAGNOSTIC) {
        Proto::Diag
    } else if either(Socket::SFT3_STATE) {
        Proto::State
    } else if either(Socket::NCP) {
        Proto::Ncp
    } else if either(Socket::NETBIOS) || either(Socket::NWLINK_DGM) {
        Proto::Netbios
    } else {
        match packet_type {
            PacketType::RIP => Proto::Rip,
            PacketType::NCP => Proto::Ncp,
            PacketType::SPX => Proto::Spx,
            _ => Proto::Data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPH: Socket = Socket(0x4008);
    const EPH2: Socket = Socket(0x4003);

    fn c(t: u8, src: u16, dst: u16) -> Proto {
        classify(PacketType(t), Socket(src), Socket(dst))
    }

    #[test]
    fn well_known_sockets_either_end() {
        assert_eq!(
            classify(PacketType::RIP, Socket::RIP, Socket::RIP),
            Proto::Rip
        );
        // SAP responses from an ephemeral socket to 0x0452 (tcpdump ipx.pcap frame 7).
        assert_eq!(classify(PacketType::PEP, EPH, Socket::SAP), Proto::Sap);
        assert_eq!(classify(PacketType::UNKNOWN, Socket::SAP, EPH), Proto::Sap);
        assert_eq!(
            classify(PacketType::PEP, EPH, Socket::DIAGNOSTIC),
            Proto::Diag
        );
        assert_eq!(
            classify(PacketType::PEP, Socket::DIAGNOSTIC, EPH),
            Proto::Diag
        );
        assert_eq!(
            classify(PacketType::PEP, Socket::SFT3_STATE, Socket::SFT3_STATE),
            Proto::State
        );
        // NCP replies go from 0x0451 to the client's socket.
        assert_eq!(classify(PacketType::NCP, Socket::NCP, EPH2), Proto::Ncp);
        assert_eq!(classify(PacketType::UNKNOWN, EPH2, Socket::NCP), Proto::Ncp);
        assert_eq!(
            classify(PacketType::PEP, Socket::NETBIOS, Socket::NETBIOS),
            Proto::Netbios
        );
        assert_eq!(
            classify(PacketType::NETBIOS, Socket::NWLINK_DGM, Socket::NWLINK_DGM),
            Proto::Netbios
        );
    }

    #[test]
    fn packet_types_when_no_socket_is_known() {
        assert_eq!(c(1, 0x4000, 0x4001), Proto::Rip);
        assert_eq!(c(17, 0x4000, 0x4001), Proto::Ncp);
        assert_eq!(c(5, 0x4000, 0x4001), Proto::Spx);
        assert_eq!(c(20, 0x6181, 0x6181), Proto::Data);
        assert_eq!(c(0, 0x17df, 0x17e0), Proto::Data);
        assert_eq!(c(4, 0x6181, 0x6181), Proto::Data);
        assert_eq!(c(2, 0x4000, 0x4001), Proto::Data);
    }

    #[test]
    fn precedence() {
        // A socket beats any packet type.
        assert_eq!(c(4, 0x0453, 0x0453), Proto::Rip);
        assert_eq!(c(5, 0x0452, 0x4000), Proto::Sap);
        assert_eq!(c(20, 0x0451, 0x4000), Proto::Ncp);
        assert_eq!(c(17, 0x0455, 0x0455), Proto::Netbios);
        assert_eq!(c(1, 0x5354, 0x5354), Proto::State);
        assert_eq!(c(17, 0x4000, 0x0456), Proto::Diag);
        // Between sockets: RIP > SAP > diag > state > NCP > NetBIOS.
        assert_eq!(c(0, 0x0452, 0x0453), Proto::Rip);
        assert_eq!(c(0, 0x0456, 0x0452), Proto::Sap);
        assert_eq!(c(0, 0x5354, 0x0456), Proto::Diag);
        assert_eq!(c(0, 0x0451, 0x5354), Proto::State);
        assert_eq!(c(0, 0x0455, 0x0451), Proto::Ncp);
        // Between types, when no socket decides: RIP, NCP, SPX and NetBIOS are distinct.
        assert_eq!(c(5, 0x8104, 0x4000), Proto::Spx);
    }

    #[test]
    fn names_round_trip() {
        let names: Vec<&str> = Proto::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(
            names,
            ["rip", "sap", "ncp", "spx", "netbios", "diag", "state", "msl", "data"]
        );
        for p in Proto::ALL {
            assert_eq!(Proto::from_name(p.name()), Some(p));
            assert_eq!(p.to_string(), p.name());
        }
        assert_eq!(Proto::from_name("NCP"), Some(Proto::Ncp));
        assert_eq!(Proto::from_name("ipx"), None);
    }

    #[test]
    fn msl_is_never_classified() {
        for t in 0..=255u8 {
            for s in [
                0x0451u16, 0x0452, 0x0453, 0x0455, 0x0456, 0x0553, 0x5354, 0x88b5, 0x4000,
            ] {
                assert_ne!(c(t, s, 0x4000), Proto::Msl);
            }
        }
    }
}
