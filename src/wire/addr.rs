//! IPX addresses: network numbers, node (MAC) addresses, sockets, and the full triple.
//!
//! Text forms follow NetWare and tcpdump habits: a network is 8 hex digits (`0000abcd`), a node
//! 12 hex digits (`00a0c9123456`, colons accepted on input), a socket 4 hex digits (`0451`), and a
//! full address joins them with `:` or `.` (`0000abcd:00a0c9123456:0451`).

use core::fmt;
use core::str::FromStr;

use thiserror::Error;

/// A text address that could not be parsed; says which part and why.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid IPX {part} `{text}`: {reason}")]
pub struct AddrParseError {
    /// Which part of the address (network, node, socket, address).
    pub part: &'static str,
    /// The offending text.
    pub text: String,
    /// Why it was refused.
    pub reason: &'static str,
}

fn perr(part: &'static str, text: &str, reason: &'static str) -> AddrParseError {
    AddrParseError {
        part,
        text: text.to_string(),
        reason,
    }
}

fn parse_hex(part: &'static str, s: &str, max_digits: usize) -> Result<u64, AddrParseError> {
    let t = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    if t.is_empty() {
        return Err(perr(part, s, "empty"));
    }
    if t.len() > max_digits {
        return Err(perr(part, s, "too many hex digits"));
    }
    // from_str_radix alone would also take a leading `+`.
    if !t.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(perr(part, s, "not hexadecimal"));
    }
    u64::from_str_radix(t, 16).map_err(|_| perr(part, s, "not hexadecimal"))
}

/// A 48-bit IEEE 802 MAC address, which is also an IPX node number on Ethernet.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

/// An IPX node number. On Ethernet it is the adapter's MAC address.
pub type Node = MacAddr;

impl MacAddr {
    /// The broadcast address `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    /// The all-zero address.
    pub const ZERO: MacAddr = MacAddr([0; 6]);
    /// Node 1: SFT III's mirrored server engine lives at node 1 of its internal network.
    pub const ENGINE: MacAddr = MacAddr([0, 0, 0, 0, 0, 1]);

    /// Reads an address from the first six bytes of `b` (the caller checked the length).
    #[inline]
    pub fn from_bytes(b: &[u8]) -> MacAddr {
        let mut a = [0u8; 6];
        a.copy_from_slice(&b[..6]);
        MacAddr(a)
    }

    /// The six bytes.
    #[inline]
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// True for `ff:ff:ff:ff:ff:ff`.
    pub fn is_broadcast(&self) -> bool {
        self.0 == [0xff; 6]
    }

    /// True when the group bit is set (broadcast included).
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }

    /// A displayable compact form: 12 lower-case hex digits, no separators (`00a0c9123456`).
    pub fn hex(&self) -> CompactHex<'_> {
        CompactHex(&self.0)
    }
}

/// Displays bytes as contiguous lower-case hex (see [`MacAddr::hex`]).
pub struct CompactHex<'a>(&'a [u8]);

impl fmt::Display for CompactHex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 32];
        for chunk in self.0.chunks(16) {
            let n = hex_into(&mut buf, chunk);
            f.write_str(as_str(&buf[..n]))?;
        }
        Ok(())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes `bytes` as lower-case hex into `out` (which must hold twice as many); returns the
/// length. Hand-rolled because addresses are printed for every frame ipxdump shows.
fn hex_into(out: &mut [u8], bytes: &[u8]) -> usize {
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 0xf) as usize];
    }
    2 * bytes.len()
}

fn as_str(b: &[u8]) -> &str {
    // Only ASCII hex digits and separators are ever written.
    core::str::from_utf8(b).unwrap_or("?")
}

/// The 24 hex digits of an address with separators: `nnnnnnnn` `sep` `node` `sep` `ssss`.
fn write_addr(f: &mut fmt::Formatter<'_>, a: &IpxAddr, sep: u8) -> fmt::Result {
    let mut buf = [0u8; 26];
    hex_into(&mut buf[0..8], &a.net.0.to_be_bytes());
    buf[8] = sep;
    hex_into(&mut buf[9..21], &a.node.0);
    buf[21] = sep;
    hex_into(&mut buf[22..26], &a.socket.0.to_be_bytes());
    f.write_str(as_str(&buf))
}

impl fmt::Display for MacAddr {
    /// Colon form: `00:a0:c9:12:34:56`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for MacAddr {
    type Err = AddrParseError;
    /// Accepts `00a0c9123456`, `00:a0:c9:12:34:56` and `00-a0-c9-12-34-56`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits: String = s.chars().filter(|c| *c != ':' && *c != '-').collect();
        // No `0x` here: it would pass as two of the twelve digits ("0x00a0c9123456" is 14).
        if digits.len() != 12 || !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(perr("node", s, "expected 12 hex digits"));
        }
        let v = parse_hex("node", &digits, 12)?;
        let b = v.to_be_bytes();
        Ok(MacAddr([b[2], b[3], b[4], b[5], b[6], b[7]]))
    }
}

/// A 32-bit IPX network number. `0` means "this network"; `0xFFFFFFFF` means "all networks" in
/// a RIP request.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Net(pub u32);

impl Net {
    /// Network 0: the local segment.
    pub const LOCAL: Net = Net(0);
    /// All networks (RIP general request).
    pub const ALL: Net = Net(0xffff_ffff);
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl fmt::Debug for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Net({:08x})", self.0)
    }
}

impl FromStr for Net {
    type Err = AddrParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Net(parse_hex("network", s, 8)? as u32))
    }
}

/// A 16-bit IPX socket number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Socket(pub u16);

impl Socket {
    /// NetWare Core Protocol (file service).
    pub const NCP: Socket = Socket(0x0451);
    /// Service Advertising Protocol.
    pub const SAP: Socket = Socket(0x0452);
    /// Routing Information Protocol.
    pub const RIP: Socket = Socket(0x0453);
    /// NetBIOS over IPX.
    pub const NETBIOS: Socket = Socket(0x0455);
    /// IPX diagnostics.
    pub const DIAGNOSTIC: Socket = Socket(0x0456);
    /// Serialization (licence) packets.
    pub const SERIALIZATION: Socket = Socket(0x0457);
    /// NWLink / Microsoft NetBIOS datagrams over IPX (seen as `ipx-nwlink-dgm` by tcpdump).
    pub const NWLINK_DGM: Socket = Socket(0x0553);
    /// sft3 server-state ("I'm alive") packets. Chosen from the dynamic range Novell never
    /// assigned to a well-known service; documented in docs/protocol.md.
    pub const SFT3_STATE: Socket = Socket(0x5354);
}

impl fmt::Display for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}", self.0)
    }
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Socket({:04x})", self.0)
    }
}

impl FromStr for Socket {
    type Err = AddrParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Socket(parse_hex("socket", s, 4)? as u16))
    }
}

/// A full IPX address: network, node and socket.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct IpxAddr {
    /// Network number.
    pub net: Net,
    /// Node number.
    pub node: Node,
    /// Socket number.
    pub socket: Socket,
}

impl IpxAddr {
    /// Size on the wire: 4 + 6 + 2 bytes.
    pub const LEN: usize = 12;

    /// Builds an address from its parts.
    pub const fn new(net: Net, node: Node, socket: Socket) -> IpxAddr {
        IpxAddr { net, node, socket }
    }

    /// Reads an address from the first 12 bytes of `b` (the caller checked the length).
    #[inline]
    pub fn from_bytes(b: &[u8]) -> IpxAddr {
        IpxAddr {
            net: Net(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            node: MacAddr::from_bytes(&b[4..10]),
            socket: Socket(u16::from_be_bytes([b[10], b[11]])),
        }
    }

    /// Writes the address into the first 12 bytes of `b` (the caller checked the length).
    #[inline]
    pub fn write(&self, b: &mut [u8]) {
        b[0..4].copy_from_slice(&self.net.0.to_be_bytes());
        b[4..10].copy_from_slice(&self.node.0);
        b[10..12].copy_from_slice(&self.socket.0.to_be_bytes());
    }

    /// Displays with `.` separators (`0000abcd.00a0c9123456.0451`); `Display` uses `:`.
    pub fn dotted(&self) -> DottedAddr<'_> {
        DottedAddr(self)
    }
}

/// Displays an [`IpxAddr`] with `.` separators.
pub struct DottedAddr<'a>(&'a IpxAddr);

impl fmt::Display for DottedAddr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_addr(f, self.0, b'.')
    }
}

impl fmt::Display for IpxAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_addr(f, self, b':')
    }
}

impl FromStr for IpxAddr {
    type Err = AddrParseError;
    /// Accepts `net:node:socket` and `net.node.socket`; the node may itself use colons
    /// (`0000abcd.00:a0:c9:12:34:56.0451`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (net, rest) = if let Some(i) = s.find('.') {
            (&s[..i], &s[i + 1..])
        } else if let Some(i) = s.find(':') {
            (&s[..i], &s[i + 1..])
        } else {
            return Err(perr(
                "address",
                s,
                "expected net:node:socket or net.node.socket",
            ));
        };
        let j = rest
            .rfind(['.', ':'])
            .ok_or_else(|| perr("address", s, "missing socket"))?;
        Ok(IpxAddr {
            net: net.parse()?,
            node: rest[..j].parse()?,
            socket: rest[j + 1..].parse()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip() {
        let a: IpxAddr = "0000abcd:00a0c9123456:0451".parse().unwrap();
        assert_eq!(a.net, Net(0xabcd));
        assert_eq!(a.node, MacAddr([0x00, 0xa0, 0xc9, 0x12, 0x34, 0x56]));
        assert_eq!(a.socket, Socket::NCP);
        assert_eq!(a.to_string(), "0000abcd:00a0c9123456:0451");
        assert_eq!(a.dotted().to_string(), "0000abcd.00a0c9123456.0451");
        let b: IpxAddr = "0000abcd.00a0c9123456.0451".parse().unwrap();
        assert_eq!(a, b);
        let c: IpxAddr = "abcd.00:a0:c9:12:34:56.451".parse().unwrap();
        assert_eq!(a, c);
    }

    #[test]
    fn bad_text_names_the_part() {
        let e = "0000abcd:00a0c912345:0451".parse::<IpxAddr>().unwrap_err();
        assert_eq!(e.part, "node");
        let e = "123456789:00a0c9123456:0451"
            .parse::<IpxAddr>()
            .unwrap_err();
        assert_eq!(e.part, "network");
        let e = "1:00a0c9123456:zz".parse::<IpxAddr>().unwrap_err();
        assert_eq!(e.part, "socket");
        assert!("nonsense".parse::<IpxAddr>().is_err());
    }

    #[test]
    fn only_hex_digits_are_digits() {
        // Found by the `addr` fuzz target: a `0X` prefix counted as two of a node's 12 digits.
        assert!("0XFFFFa0-cFFF".parse::<MacAddr>().is_err());
        assert!("0x00a0c91234".parse::<MacAddr>().is_err());
        assert!("0000abcd:0x00a0c91234:0451".parse::<IpxAddr>().is_err());
        // u64::from_str_radix takes a leading `+`; addresses do not.
        assert!("+451".parse::<Socket>().is_err());
        assert!("0x+451".parse::<Socket>().is_err());
        assert!("+abcd".parse::<Net>().is_err());
        assert!("+0a0c9123456".parse::<MacAddr>().is_err());
        assert_eq!("0x451".parse::<Socket>(), Ok(Socket::NCP));
        assert_eq!("0XABCD".parse::<Net>(), Ok(Net(0xabcd)));
    }

    #[test]
    fn bytes_round_trip() {
        let a: IpxAddr = "a8f87967:000000000001:0455".parse().unwrap();
        let mut b = [0u8; 12];
        a.write(&mut b);
        assert_eq!(b, [0xa8, 0xf8, 0x79, 0x67, 0, 0, 0, 0, 0, 1, 0x04, 0x55]);
        assert_eq!(IpxAddr::from_bytes(&b), a);
    }
}
