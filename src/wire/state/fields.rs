//! The typed fields of a state packet (also used by the MSL handshake): names, roles,
//! mirror and MSL states, flags, per-adapter health. One adapter entry:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | adapter index (the sender's numbering) |
//! | 1 | 1 | flags ([`AdapterFlags`]) |
//! | 2 | 2 | score, 0 to 1000 |
//! | 4 | 2 | ms since the peer was last heard on this adapter (`FFFF` = never) |
//!
//! Enumerations are tolerant: a value this build does not know parses to a catch-all variant
//! instead of failing (a state packet is proof of life even when its role is new to us).

use core::fmt;

use super::NAME_LEN;
use crate::wire::error::{Result, WireError};

/// Builds a NUL-padded name field; a name longer than [`NAME_LEN`] is an error.
pub fn name_field(name: &[u8]) -> Result<[u8; NAME_LEN]> {
    if name.len() > NAME_LEN {
        return Err(WireError::BadLength {
            what: "server name",
            claimed: name.len(),
            reason: "longer than 32 bytes",
        });
    }
    let mut f = [0u8; NAME_LEN];
    f[..name.len()].copy_from_slice(name);
    Ok(f)
}

/// A name field up to its first NUL.
pub fn trim_name(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&c| c == 0).unwrap_or(field.len());
    &field[..end]
}

/// Displays name bytes: printable ASCII as is, anything else as `\xNN`.
pub struct NameDisplay<'a>(pub &'a [u8]);

impl fmt::Display for NameDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &c in self.0 {
            if (0x20..0x7f).contains(&c) && c != b'\\' {
                write!(f, "{}", c as char)?;
            } else {
                write!(f, "\\x{c:02x}")?;
            }
        }
        Ok(())
    }
}

macro_rules! u8_enum {
    ($(#[$m:meta])* $name:ident, $other:ident, $what:literal,
     { $($(#[$vm:meta])* $v:ident = $n:literal, $s:literal;)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $v,)*
            /// A value this build does not know (kept so the packet still counts as a sign of
            /// life). Canonical only for values that no named variant has.
            $other(u8),
        }

        impl $name {
            /// The variant for a field value (never fails).
            pub const fn from_u8(v: u8) -> $name {
                match v { $($n => $name::$v,)* x => $name::$other(x) }
            }
            /// The field value.
            pub const fn to_u8(self) -> u8 {
                match self { $($name::$v => $n,)* $name::$other(x) => x }
            }
            /// A short lower-case name.
            pub const fn name(self) -> &'static str {
                match self { $($name::$v => $s,)* $name::$other(_) => $what }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $name::$other(x) => write!(f, "{}-{:#04x}", $what, x),
                    _ => f.write_str(self.name()),
                }
            }
        }
    };
}

u8_enum!(
    /// A server's role. Unknown values parse as `Unknown`: the packet is still proof of life,
    /// and dropping it would make the receiver think the peer dead (and maybe promote itself).
    /// The role layer treats `Unknown` as "alive, role unclear": never a reason to promote.
    Role, Unknown, "unknown-role", {
        /// Just started; looking for a peer.
        Starting = 1, "starting";
        /// Secondary receiving the memory image or disk changes; not yet protecting.
        SyncingSecondary = 2, "syncing-secondary";
        /// Primary of a mirrored pair.
        MirroredPrimary = 3, "mirrored-primary";
        /// Secondary of a mirrored pair.
        MirroredSecondary = 4, "mirrored-secondary";
        /// Primary serving alone (tracks disk changes).
        UnmirroredPrimary = 5, "unmirrored-primary";
        /// Shut down on purpose (e.g. a secondary after an MSL failure).
        ShutDown = 6, "shut-down";
        /// Halted: must not serve, waits for the operator (diverged data, torn resync).
        Halted = 7, "halted";
    }
);

impl Role {
    /// True for the two primary roles (the server answers clients).
    pub const fn is_primary(self) -> bool {
        matches!(self, Role::MirroredPrimary | Role::UnmirroredPrimary)
    }
}

u8_enum!(
    /// Where the pair stands in mirroring, as the sender sees it.
    MirrorState, Unknown, "unknown-mirror-state", {
        /// No peer: serving alone or not serving.
        Unmirrored = 1, "unmirrored";
        /// MSL handshake in progress.
        Handshaking = 2, "handshaking";
        /// Memory image being transferred.
        ImageTransfer = 3, "image-transfer";
        /// Changed disk regions being copied in the background.
        DiskResync = 4, "disk-resync";
        /// Fully mirrored: the pair is protected.
        Mirrored = 5, "mirrored";
        /// Generation histories diverged; mirroring refused until the operator chooses.
        Diverged = 6, "diverged";
    }
);

/// The sender's view of the MSL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MslLinkState {
    /// Not known (0), e.g. just started.
    Unknown,
    /// Frames arrive.
    Up,
    /// Carrier present but no frame for longer than the silence threshold.
    Silent,
    /// The MSL adapter reports no carrier.
    CarrierLost,
    /// A value this build does not know (canonical only for values above 3).
    Other(u8),
}

impl MslLinkState {
    /// The variant for a field value (never fails).
    pub const fn from_u8(v: u8) -> MslLinkState {
        match v {
            0 => MslLinkState::Unknown,
            1 => MslLinkState::Up,
            2 => MslLinkState::Silent,
            3 => MslLinkState::CarrierLost,
            x => MslLinkState::Other(x),
        }
    }

    /// The field value.
    pub const fn to_u8(self) -> u8 {
        match self {
            MslLinkState::Unknown => 0,
            MslLinkState::Up => 1,
            MslLinkState::Silent => 2,
            MslLinkState::CarrierLost => 3,
            MslLinkState::Other(x) => x,
        }
    }
}

impl fmt::Display for MslLinkState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MslLinkState::Unknown => f.write_str("unknown"),
            MslLinkState::Up => f.write_str("up"),
            MslLinkState::Silent => f.write_str("silent"),
            MslLinkState::CarrierLost => f.write_str("carrier-lost"),
            MslLinkState::Other(x) => write!(f, "msl-state-{x:#04x}"),
        }
    }
}

macro_rules! flags_u8 {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $f:ident = $v:literal;)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub u8);

        impl $name {
            $($(#[$fm])* pub const $f: $name = $name($v);)*

            /// True when every bit of `other` is set.
            pub const fn contains(self, other: $name) -> bool {
                self.0 & other.0 == other.0
            }
            /// Both sets of bits.
            pub const fn union(self, other: $name) -> $name {
                $name(self.0 | other.0)
            }
        }
    };
}

flags_u8!(
    /// Server flags (state packets and the MSL handshake). Unknown bits are kept and ignored.
    StateFlags {
        /// The sender answers clients now (advertises the engine network).
        SERVING = 0x01;
        /// The sender's volume is consistent (not in the middle of a resync).
        DATA_CONSISTENT = 0x02;
        /// The sender tracks disk changes for a later resync.
        TRACKING_CHANGES = 0x04;
        /// The sender waits for an operator decision.
        OPERATOR_WAIT = 0x08;
    }
);

flags_u8!(
    /// Health flags of one LAN adapter. Unknown bits are kept and ignored.
    AdapterFlags {
        /// The adapter has carrier.
        CARRIER = 0x01;
        /// The interface's operstate is up.
        OPER_UP = 0x02;
        /// IPX traffic from others (routers, clients, SAP/RIP) is heard on it.
        HEARS_IPX = 0x04;
        /// The peer's state packets are heard on it.
        HEARS_PEER = 0x08;
        /// The health layer counts the adapter as working.
        WORKING = 0x10;
    }
);

/// The health summary of one LAN adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AdapterHealth {
    /// The sender's index of the adapter.
    pub index: u8,
    /// Link and traffic flags.
    pub flags: AdapterFlags,
    /// Health score, 0 (dead) to [`MAX_SCORE`](super::MAX_SCORE).
    pub score: u16,
    /// ms since the peer's last state packet on this adapter ([`PEER_AGE_NEVER`](super::PEER_AGE_NEVER) = never).
    pub peer_age_ms: u16,
}

impl AdapterHealth {
    pub(super) fn read(b: &[u8]) -> AdapterHealth {
        AdapterHealth {
            index: b[0],
            flags: AdapterFlags(b[1]),
            score: u16::from_be_bytes([b[2], b[3]]),
            peer_age_ms: u16::from_be_bytes([b[4], b[5]]),
        }
    }

    pub(super) fn write(&self, b: &mut [u8]) {
        b[0] = self.index;
        b[1] = self.flags.0;
        b[2..4].copy_from_slice(&self.score.to_be_bytes());
        b[4..6].copy_from_slice(&self.peer_age_ms.to_be_bytes());
    }
}
