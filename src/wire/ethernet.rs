//! Ethernet framings that carry IPX, and the ones that do not.
//!
//! NetWare bound IPX to an adapter with one of four frame types (`FRAME=` in AUTOEXEC.NCF):
//!
//! | framing | after the MAC addresses |
//! |---|---|
//! | Ethernet_II | EtherType `0x8137`, then IPX |
//! | Ethernet_802.3 ("raw") | 802.3 length, then IPX whose checksum field is `0xFFFF` |
//! | Ethernet_802.2 (LLC) | 802.3 length, DSAP `E0`, SSAP `E0`, control `03`, then IPX |
//! | Ethernet_SNAP | 802.3 length, `AA AA 03`, OUI `00 00 00`, type `0x8137`, then IPX |
//!
//! One 802.1Q tag (TPID `0x8100` or `0x88A8`) may sit before the type/length field. An 802.3
//! length trims the Ethernet padding; a length that does not fit the frame is an error.

use core::fmt;

use super::addr::MacAddr;
use super::error::{need, room, Result, WireError};

/// The IPX EtherType (Ethernet_II and SNAP).
pub const ETHERTYPE_IPX: u16 = 0x8137;
/// 802.1Q customer VLAN tag protocol identifier.
pub const TPID_8021Q: u16 = 0x8100;
/// 802.1ad service VLAN tag protocol identifier.
pub const TPID_8021AD: u16 = 0x88a8;
/// The LLC SAP NetWare uses for IPX.
pub const SAP_IPX: u8 = 0xe0;
/// The LLC SAP of SNAP.
pub const SAP_SNAP: u8 = 0xaa;
/// LLC unnumbered-information control byte.
pub const LLC_UI: u8 = 0x03;
/// Destination, source, type/length.
pub const HEADER_LEN: usize = 14;
/// Smallest Ethernet frame without FCS; shorter ones are padded on emit.
pub const MIN_FRAME_LEN: usize = 60;
/// Largest 802.3 length value; from `0x0600` on the field is an EtherType.
pub const MAX_8023_LEN: u16 = 1500;

/// The four ways to carry IPX on Ethernet (NetWare's `FRAME=` types).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Framing {
    /// Ethernet_II, EtherType 0x8137.
    EthernetII,
    /// Novell "raw" 802.3: the IPX header follows the length field directly.
    Raw8023,
    /// 802.3 with an 802.2 LLC header E0/E0/03.
    Llc,
    /// 802.3 with 802.2 SNAP: AA/AA/03, OUI 000000, type 0x8137.
    Snap,
}

impl Framing {
    /// All four framings, in NetWare's order.
    pub const ALL: [Framing; 4] = [
        Framing::EthernetII,
        Framing::Raw8023,
        Framing::Llc,
        Framing::Snap,
    ];

    /// The name used in JSON output and configuration (`ethernet_ii`, `raw_802_3`, `llc`,
    /// `snap`).
    pub const fn name(self) -> &'static str {
        match self {
            Framing::EthernetII => "ethernet_ii",
            Framing::Raw8023 => "raw_802_3",
            Framing::Llc => "llc",
            Framing::Snap => "snap",
        }
    }

    /// NetWare's `FRAME=` name.
    pub const fn netware_name(self) -> &'static str {
        match self {
            Framing::EthernetII => "ETHERNET_II",
            Framing::Raw8023 => "ETHERNET_802.3",
            Framing::Llc => "ETHERNET_802.2",
            Framing::Snap => "ETHERNET_SNAP",
        }
    }

    /// Parses either name form, case-insensitively.
    pub fn from_name(s: &str) -> Option<Framing> {
        let l = s.to_ascii_lowercase();
        Framing::ALL
            .into_iter()
            .find(|f| f.name() == l || f.netware_name().to_ascii_lowercase() == l)
            .or(match l.as_str() {
                "ethernet2" | "eth2" | "ii" => Some(Framing::EthernetII),
                "raw" | "802.3" | "802_3" => Some(Framing::Raw8023),
                "802.2" | "802_2" => Some(Framing::Llc),
                _ => None,
            })
    }

    /// Bytes between the MAC addresses' type/length field end and the IPX header.
    pub const fn encap_len(self) -> usize {
        match self {
            Framing::EthernetII | Framing::Raw8023 => 0,
            Framing::Llc => 3,
            Framing::Snap => 8,
        }
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What follows the MAC addresses (and VLAN tag), IPX or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encap {
    /// An EtherType (≥ 0x0600). 0x8137 is IPX.
    EthernetII {
        /// The EtherType.
        ethertype: u16,
    },
    /// 802.3 length then `FF FF`: Novell raw IPX.
    Raw8023,
    /// 802.3 length then an 802.2 LLC header (not SNAP).
    Llc {
        /// Destination service access point.
        dsap: u8,
        /// Source service access point.
        ssap: u8,
        /// Control field.
        control: LlcControl,
    },
    /// 802.3 length then LLC AA/AA/03 and a SNAP header.
    Snap {
        /// Organisationally unique identifier.
        oui: [u8; 3],
        /// Protocol id (an EtherType when the OUI is 000000).
        ethertype: u16,
    },
}

impl Encap {
    /// The IPX framing this encapsulation is, if it carries IPX.
    pub fn ipx_framing(&self) -> Option<Framing> {
        match *self {
            Encap::EthernetII { ethertype } if ethertype == ETHERTYPE_IPX => {
                Some(Framing::EthernetII)
            }
            Encap::Raw8023 => Some(Framing::Raw8023),
            Encap::Llc {
                dsap: SAP_IPX,
                ssap: SAP_IPX,
                control: LlcControl::UI,
            } => Some(Framing::Llc),
            Encap::Snap {
                oui: [0, 0, 0],
                ethertype,
            } if ethertype == ETHERTYPE_IPX => Some(Framing::Snap),
            _ => None,
        }
    }

    /// The encapsulation that carries IPX in `framing`.
    pub const fn for_framing(framing: Framing) -> Encap {
        match framing {
            Framing::EthernetII => Encap::EthernetII {
                ethertype: ETHERTYPE_IPX,
            },
            Framing::Raw8023 => Encap::Raw8023,
            Framing::Llc => Encap::Llc {
                dsap: SAP_IPX,
                ssap: SAP_IPX,
                control: LlcControl::UI,
            },
            Framing::Snap => Encap::Snap {
                oui: [0, 0, 0],
                ethertype: ETHERTYPE_IPX,
            },
        }
    }

    /// Length of the LLC/SNAP header after the type/length field.
    fn header_len(&self) -> usize {
        match *self {
            Encap::EthernetII { .. } | Encap::Raw8023 => 0,
            Encap::Llc { control, .. } => 2 + control.len(),
            Encap::Snap { .. } => 8,
        }
    }
}

/// The 802.2 LLC control field: one byte for unnumbered (U) frames, two for information (I)
/// and supervisory (S) frames. The low two bits of the first byte say which (`11` = U).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LlcControl {
    /// An unnumbered frame's one control byte (UI = `0x03`, SABME, UA, ...).
    U(u8),
    /// An I or S frame's two control bytes, in wire order.
    Is([u8; 2]),
}

impl LlcControl {
    /// Unnumbered information, the control byte NetWare's 802.2 framing uses.
    pub const UI: LlcControl = LlcControl::U(LLC_UI);

    /// The first control byte (the one that carries the format bits).
    pub const fn first(self) -> u8 {
        match self {
            LlcControl::U(c) => c,
            LlcControl::Is([c, _]) => c,
        }
    }

    /// Bytes on the wire: 1 or 2.
    pub const fn len(self) -> usize {
        match self {
            LlcControl::U(_) => 1,
            LlcControl::Is(_) => 2,
        }
    }

    /// Never true; present because `len` is (clippy's convention).
    pub const fn is_empty(self) -> bool {
        false
    }
}

impl fmt::Display for LlcControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LlcControl::U(c) => write!(f, "{c:#04x}"),
            LlcControl::Is([a, b]) => write!(f, "0x{a:02x}{b:02x}"),
        }
    }
}

/// One 802.1Q / 802.1ad tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VlanTag {
    /// Tag protocol identifier (0x8100 or 0x88a8).
    pub tpid: u16,
    /// Tag control information: priority (3 bits), DEI (1), VLAN id (12).
    pub tci: u16,
}

impl VlanTag {
    /// The 12-bit VLAN id.
    pub fn vid(&self) -> u16 {
        self.tci & 0x0fff
    }
    /// The 3-bit priority code point.
    pub fn pcp(&self) -> u8 {
        (self.tci >> 13) as u8
    }
}

/// A checked, zero-copy view of an Ethernet frame (without FCS).
#[derive(Debug, Clone)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
    /// Offset of the type/length field (12, or 16 after a VLAN tag).
    tl_off: usize,
    /// Offset and end of the payload after LLC/SNAP, trimmed by the 802.3 length.
    payload: (usize, usize),
    encap: Encap,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Checks the frame's structure: addresses, at most one VLAN tag, type or length, the
    /// LLC/SNAP header, and an 802.3 length that fits the bytes present.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        need("Ethernet header", b, HEADER_LEN)?;
        let mut tl_off = 12;
        let tpid = u16::from_be_bytes([b[12], b[13]]);
        if tpid == TPID_8021Q || tpid == TPID_8021AD {
            need("802.1Q tag", b, HEADER_LEN + 4)?;
            tl_off = 16;
        }
        let tl = u16::from_be_bytes([b[tl_off], b[tl_off + 1]]);
        let start = tl_off + 2;
        let (encap, payload) = if tl >= 0x0600 {
            (Encap::EthernetII { ethertype: tl }, (start, b.len()))
        } else if tl > MAX_8023_LEN {
            return Err(WireError::BadLength {
                what: "802.3",
                claimed: tl as usize,
                reason: "neither a length (<= 1500) nor an EtherType (>= 0x0600)",
            });
        } else {
            let end = start + tl as usize;
            if end > b.len() {
                return Err(WireError::BadLength {
                    what: "802.3",
                    claimed: tl as usize,
                    reason: "longer than the frame",
                });
            }
            let body = &b[start..end];
            let encap = parse_8023(body)?;
            (encap, (start + encap.header_len(), end))
        };
        Ok(EthernetFrame {
            buffer,
            tl_off,
            payload,
            encap,
        })
    }

    /// The whole underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Destination MAC address.
    pub fn dst_addr(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[0..6])
    }

    /// Source MAC address.
    pub fn src_addr(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[6..12])
    }

    /// The VLAN tag, if one is present.
    pub fn vlan(&self) -> Option<VlanTag> {
        (self.tl_off == 16).then(|| {
            let b = self.buffer.as_ref();
            VlanTag {
                tpid: u16::from_be_bytes([b[12], b[13]]),
                tci: u16::from_be_bytes([b[14], b[15]]),
            }
        })
    }

    /// The raw type/length field.
    pub fn type_or_length(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[self.tl_off], b[self.tl_off + 1]])
    }

    /// The encapsulation found after the addresses.
    pub fn encap(&self) -> Encap {
        self.encap
    }

    /// The IPX framing, when the frame carries IPX.
    pub fn framing(&self) -> Option<Framing> {
        self.encap.ipx_framing()
    }

    /// Length of the link-level header (addresses, tag, type/length, LLC/SNAP).
    pub fn header_len(&self) -> usize {
        self.payload.0
    }

    /// The payload after LLC/SNAP, trimmed to the 802.3 length. For Ethernet_II the padding
    /// is still there: the upper protocol's own length trims it.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.payload.0..self.payload.1]
    }
}

fn parse_8023(body: &[u8]) -> Result<Encap> {
    if body.len() >= 2 && body[0] == 0xff && body[1] == 0xff {
        return Ok(Encap::Raw8023);
    }
    need("802.2 LLC header", body, 3)?;
    let (dsap, ssap, c0) = (body[0], body[1], body[2]);
    if dsap == SAP_SNAP && ssap == SAP_SNAP && c0 == LLC_UI {
        need("SNAP header", body, 8)?;
        return Ok(Encap::Snap {
            oui: [body[3], body[4], body[5]],
            ethertype: u16::from_be_bytes([body[6], body[7]]),
        });
    }
    let control = if c0 & 0x3 == 0x3 {
        LlcControl::U(c0)
    } else {
        need("802.2 LLC header", body, 4)?;
        LlcControl::Is([c0, body[3]])
    };
    Ok(Encap::Llc {
        dsap,
        ssap,
        control,
    })
}

/// The parsed link-level header of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EthernetRepr {
    /// Destination MAC address.
    pub dst: MacAddr,
    /// Source MAC address.
    pub src: MacAddr,
    /// The VLAN tag, if any.
    pub vlan: Option<VlanTag>,
    /// What follows the addresses.
    pub encap: Encap,
}

impl EthernetRepr {
    /// Reads the header from a checked frame.
    pub fn parse<T: AsRef<[u8]>>(frame: &EthernetFrame<T>) -> Result<EthernetRepr> {
        Ok(EthernetRepr {
            dst: frame.dst_addr(),
            src: frame.src_addr(),
            vlan: frame.vlan(),
            encap: frame.encap(),
        })
    }

    /// A header that carries IPX in `framing` (NetWare's per-adapter `FRAME=` choice).
    pub fn ipx(dst: MacAddr, src: MacAddr, framing: Framing) -> EthernetRepr {
        EthernetRepr {
            dst,
            src,
            vlan: None,
            encap: Encap::for_framing(framing),
        }
    }

    /// Header length: addresses, tag, type/length and LLC/SNAP.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + if self.vlan.is_some() { 4 } else { 0 } + self.encap.header_len()
    }

    /// Frame length for a payload of `payload_len` bytes, padded to the 60-byte minimum.
    pub fn frame_len(&self, payload_len: usize) -> usize {
        (self.header_len() + payload_len).max(MIN_FRAME_LEN)
    }

    /// Writes the header for a payload of `payload_len` bytes into `buf` and zeroes any
    /// padding up to [`frame_len`](Self::frame_len). Returns the header length: the payload
    /// goes at `buf[header_len..header_len + payload_len]`.
    pub fn emit(&self, buf: &mut [u8], payload_len: usize) -> Result<usize> {
        let hlen = self.header_len();
        let total = self.frame_len(payload_len);
        room("Ethernet frame", buf.len(), total)?;
        buf[0..6].copy_from_slice(&self.dst.0);
        buf[6..12].copy_from_slice(&self.src.0);
        let mut o = 12;
        if let Some(tag) = self.vlan {
            buf[12..14].copy_from_slice(&tag.tpid.to_be_bytes());
            buf[14..16].copy_from_slice(&tag.tci.to_be_bytes());
            o = 16;
        }
        let llc_len = self.encap.header_len();
        let tl = match self.encap {
            Encap::EthernetII { ethertype } => {
                if ethertype < 0x0600 {
                    return Err(WireError::BadField {
                        field: "EtherType",
                        value: ethertype as u32,
                    });
                }
                ethertype
            }
            _ => {
                let len = llc_len + payload_len;
                if len > MAX_8023_LEN as usize {
                    return Err(WireError::BadLength {
                        what: "802.3",
                        claimed: len,
                        reason: "payload does not fit an 802.3 frame (at most 1500)",
                    });
                }
                len as u16
            }
        };
        buf[o..o + 2].copy_from_slice(&tl.to_be_bytes());
        o += 2;
        match self.encap {
            Encap::EthernetII { .. } | Encap::Raw8023 => {}
            Encap::Llc {
                dsap,
                ssap,
                control,
            } => {
                buf[o] = dsap;
                buf[o + 1] = ssap;
                match control {
                    LlcControl::U(c) => buf[o + 2] = c,
                    LlcControl::Is(c) => buf[o + 2..o + 4].copy_from_slice(&c),
                }
            }
            Encap::Snap { oui, ethertype } => {
                buf[o..o + 3].copy_from_slice(&[SAP_SNAP, SAP_SNAP, LLC_UI]);
                buf[o + 3..o + 6].copy_from_slice(&oui);
                buf[o + 6..o + 8].copy_from_slice(&ethertype.to_be_bytes());
            }
        }
        buf[hlen + payload_len..total].fill(0);
        Ok(hlen)
    }
}
