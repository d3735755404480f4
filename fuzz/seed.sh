#!/usr/bin/env bash
# Builds fuzz/corpus/<target>/ from real frames and the golden test vectors.
#
#   fuzz/seed.sh            # (re)seed every target; existing corpus files are kept
#
# Sources: every frame of captures/third-party/*.pcap* / *.cap (at most 300 distinct frames
# per file), the hex and byte-string vectors of tests/wire_*.rs (the hand-built state and MSL
# golden vectors included), IPX frames built around the vectors of protocols the captures
# lack (NCP, SPX, diagnostics, state, MSL), capture files (small ones whole, variants in every
# pcap flavour and in pcapng), and a few filter and address strings. Seed files are named by
# their SHA-1, as libFuzzer names corpus entries. Needs python3 only.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 - "$@" <<'PY'
import codecs, hashlib, os, re, struct, sys, glob

ROOT = os.getcwd()
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
PER_FILE = 300
seeds = {}  # target -> set of bytes


def add(target, data):
    seeds.setdefault(target, set()).add(bytes(data))


# --- capture files -----------------------------------------------------------------------
def pcap_frames(b):
    magic = b[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\x34\xcd\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d", b"\xa1\xb2\xcd\x34"):
        e = ">"
    else:
        return None
    rec = 24 if magic in (b"\x34\xcd\xb2\xa1", b"\xa1\xb2\xcd\x34") else 16
    o, out = 24, []
    while o + rec <= len(b):
        _, _, incl, _ = struct.unpack(e + "IIII", b[o : o + 16])
        out.append(b[o + rec : o + rec + incl])
        o += rec + incl
    return out


def pcapng_frames(b):
    if b[:4] != b"\x0a\x0d\x0d\x0a":
        return None
    o, e, out = 0, "<", []
    while o + 12 <= len(b):
        if b[o : o + 4] == b"\x0a\x0d\x0d\x0a":
            e = "<" if b[o + 8 : o + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        t, n = struct.unpack(e + "II", b[o : o + 8])
        if n < 12:
            break
        body = b[o + 8 : o + n - 4]
        if t == 6:
            cap = struct.unpack(e + "I", body[12:16])[0]
            out.append(body[20 : 20 + cap])
        elif t == 3:
            out.append(body[4:])
        o += n
    return out


frames = []
cap_files = sorted(
    glob.glob("captures/third-party/*.pcap")
    + glob.glob("captures/third-party/*.pcapng")
    + glob.glob("captures/third-party/*.cap")
)
for path in cap_files:
    b = open(path, "rb").read()
    fs = pcap_frames(b)
    if fs is None:
        fs = pcapng_frames(b) or []
    uniq = list(dict.fromkeys(fs))[:PER_FILE]
    frames += uniq
    add("capture", b if len(b) <= 32768 else b[:16384])  # a cut file is a seed too

# --- test vectors -----------------------------------------------------------------------
def unhex(s):
    s = s.replace("\\\n", " ")  # Rust string line continuations
    words = [w for w in s.split() if not w.endswith(":")]
    h = "".join(words)
    if not h or len(h) % 2 or not re.fullmatch(r"[0-9a-fA-F]+", h):
        return None
    return bytes.fromhex(h)


vectors = {}  # test file stem -> {name: bytes}
for path in sorted(glob.glob("tests/wire_*.rs")):
    stem = os.path.basename(path)[5:-3]
    src = open(path).read()
    v = vectors.setdefault(stem, {})
    for name, s in re.findall(r'const (\w+): &str =\s*"((?:[^"\\]|\\.)*)";', src, re.S):
        b = unhex(s)
        if b:
            v[name] = b
    for name, s in re.findall(r'const (\w+): &\[u8\] =\s*b"((?:[^"\\]|\\.)*)";', src, re.S):
        s = re.sub(r"\\\n\s*", "", s)
        v[name] = codecs.escape_decode(s.encode())[0]
    for name, body in re.findall(r"const (\w+): &\[\(&str, &str\)\] = &\[(.*?)\n\];", src, re.S):
        parts = re.findall(r'\(\s*"(?:[^"\\]|\\.)*",\s*"([^"]*)",?\s*\)', body)
        b = b"".join(unhex(p) or b"" for p in parts)
        if b:
            v[name] = b
    for name, s in re.findall(r'const (TRAILER_\w+): &str = "([^"]*)";', src):
        v[name] = unhex(s)

# The state and MSL golden vectors are field tables: assemble the whole packets.
st = vectors.get("state", {})
if "BODY" in st:
    st["UNTAGGED"] = st["BODY"] + st.get("TRAILER_NONE", b"\x00")
    st["TAGGED"] = st["BODY"] + st.get("TRAILER_TAG", b"")
MSL_LINK = bytes.fromhex("020000000002" "020000000001" "88b5")


# --- frames: link header, IPX payload -----------------------------------------------------
def ipx_of(f):
    """(ipx packet bytes trimmed to its length, framing) or None."""
    if len(f) < 14:
        return None
    o = 12
    tl = int.from_bytes(f[o : o + 2], "big")
    if tl in (0x8100, 0x88A8):
        o += 4
        tl = int.from_bytes(f[o : o + 2], "big")
    o += 2
    if tl == 0x8137:
        p = f[o:]
    elif tl <= 1500:
        body = f[o : o + tl]
        if body[:2] == b"\xff\xff":
            p = body
        elif body[:3] == b"\xe0\xe0\x03":
            p = body[3:]
        elif body[:3] == b"\xaa\xaa\x03" and body[6:8] == b"\x81\x37":
            p = body[8:]
        else:
            return None
    else:
        return None
    if len(p) < 30:
        return None
    n = int.from_bytes(p[2:4], "big")
    return p[: max(30, min(n, len(p)))]


def ipx_frame(payload, ptype, src_sock, dst_sock):
    """An Ethernet_II IPX frame (no checksum) around `payload`."""
    n = 30 + len(payload)
    h = b"\xff\xff" + n.to_bytes(2, "big") + bytes([0, ptype])
    h += bytes.fromhex("00000028" "ffffffffffff") + dst_sock.to_bytes(2, "big")
    h += bytes.fromhex("00000028" "00aa00a3e3a4") + src_sock.to_bytes(2, "big")
    f = bytes.fromhex("ffffffffffff" "00aa00a3e3a4" "8137") + h + payload
    return f + b"\x00" * max(0, 60 - len(f))


DIAG = 0x0456
PAIR = {(False, True): 0, (True, False): 1, (True, True): 2, (False, False): 3}

for f in frames:
    add("frame", f)
    p = ipx_of(f)
    if p is None:
        continue
    payload = p[30:]
    for t in ("rip", "sap", "spx", "ncp", "netbios", "state", "msl"):
        add(t, payload)
    src = int.from_bytes(p[28:30], "big")
    dst = int.from_bytes(p[16:18], "big")
    add("diag", bytes([PAIR[(src == DIAG, dst == DIAG)]]) + payload)

for stem, vs in vectors.items():
    for name, b in vs.items():
        add("frame", b)  # whole frames among them; the rest are cheap
        if stem in ("rip", "sap", "spx", "ncp", "netbios", "state", "msl"):
            add(stem, b)
        if stem == "diag":
            for sel in range(4):
                add("diag", bytes([sel]) + b)

# Protocols the captures lack, inside IPX frames with the right sockets and types.
for b in vectors.get("ncp", {}).values():
    add("frame", ipx_frame(b, 17, 0x4003, 0x0451))
for b in vectors.get("spx", {}).values():
    add("frame", ipx_frame(b, 5, 0x4003, 0x8060))
for b in vectors.get("diag", {}).values():
    add("frame", ipx_frame(b, 4, DIAG, 0x4002))
add("frame", ipx_frame(b"\x00", 4, 0x4002, DIAG))
for name in ("UNTAGGED", "TAGGED"):
    if name in st:
        add("frame", ipx_frame(st[name], 4, 0x5354, 0x5354))
for name, b in vectors.get("msl", {}).items():
    whole = b if b[12:14] == b"\x88\xb5" else MSL_LINK + b
    part = whole[14:]
    add("frame", whole)
    add("msl", whole)
    add("msl", part)
    plen = int.from_bytes(part[4:6], "big") if len(part) >= 6 else 0
    if len(part) >= 44 + plen:
        add("msl", part[44 : 44 + plen])  # the payload alone (handshake, ack blocks)
add("msl", bytes.fromhex("0004") + b"gen 0a0b")  # a close payload

# --- capture variants ---------------------------------------------------------------------
small = [f for f in frames if len(f) <= 200][:6] or [b"\x00" * 60]


def pcap(e, magic, recs, modified=False, link=1):
    out = struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, 65535, link)
    for i, f in enumerate(recs):
        out += struct.pack(e + "IIII", 1700000000 + i, 123456 * i % 1000000, len(f), len(f))
        if modified:
            out += struct.pack(e + "IHBB", 0, 0, 0, 0)
        out += f
    return out


def opt(e, code, val):
    pad = (-len(val)) % 4
    return struct.pack(e + "HH", code, len(val)) + val + b"\x00" * pad


def block(e, t, body):
    n = 12 + len(body) + (-len(body)) % 4
    return struct.pack(e + "II", t, n) + body + b"\x00" * ((-len(body)) % 4) + struct.pack(e + "I", n)


def pcapng(e, recs):
    shb = struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1) + opt(e, 0, b"")
    idb = struct.pack(e + "HHI", 1, 0, 0) + opt(e, 9, b"\x09") + opt(e, 14, struct.pack(e + "q", 1)) + opt(e, 0, b"")
    idb2 = struct.pack(e + "HHI", 1, 0, 64) + opt(e, 9, b"\x86") + opt(e, 0, b"")
    out = block(e, 0x0A0D0D0A, shb) + block(e, 1, idb) + block(e, 1, idb2)
    for i, f in enumerate(recs):
        ts = 1700000000123456789 + i
        epb = struct.pack(e + "IIIII", i % 2, ts >> 32, ts & 0xFFFFFFFF, len(f), len(f) + 4) + f
        epb += b"\x00" * ((-len(f)) % 4) + opt(e, 1, b"fuzz seed") + opt(e, 0, b"")
        out += block(e, 6, epb)
        out += block(e, 3, struct.pack(e + "I", len(f)) + f)
        out += block(e, 2, struct.pack(e + "HHIIII", 0, 0, 0, i, len(f), len(f)) + f)
        out += block(e, 0x0BAD, b"skip")
    return out


add("capture", pcap("<", 0xA1B2C3D4, small))
add("capture", pcap(">", 0xA1B2C3D4, small))
add("capture", pcap("<", 0xA1B23C4D, small))
add("capture", pcap(">", 0xA1B2CD34, small, modified=True))
add("capture", pcap("<", 0xA1B2C3D4, small, link=0x04000001))
add("capture", pcapng("<", small))
add("capture", pcapng(">", small))
add("capture", pcapng("<", small) + pcapng(">", small[:2]))  # two sections
add("capture", pcap("<", 0xA1B2C3D4, small)[:-7])  # cut mid-record

# --- text targets -------------------------------------------------------------------------
for s in [
    "ipx", "sap", "rip or sap", "llc and sap", "not ipx", "!snap && (ncp || spx)",
    "framing 802.2 and dst socket 452", "src socket 0x4008 and not dst socket 4008",
    "type 0 and net 0", "type rip and src net 28", "type 0x11", "src node 00:30:47:c1:bf:a8",
    "dst node 003047c1bfa8", "broadcast and error", "other and not ipx", "(sap", "sap rip",
    "framing ethernet_ii or framing raw or framing snap", "state or msl or diag or data",
    "netbios and malformed", "socket 5354 or net ffffffff",
    "(" * 70 + "ipx" + ")" * 70, "!" * 70 + "ipx", "ipx && " * 2100 + "ipx",  # past the limits
]:
    add("filter", s.encode())
for s in [
    "0000abcd:00a0c9123456:0451", "0000abcd.00a0c9123456.0451", "abcd.00:a0:c9:12:34:56.451",
    "a8f87967:000000000001:0455", "00-a0-c9-12-34-56", "0x0451", "0XFFFFFFFF", "ffff",
    "ethernet_ii", "ETHERNET_802.3", "802.2", "snap", "eth2", "raw",
]:
    add("addr", s.encode())

# --- journal --------------------------------------------------------------------------------
# A header slot and a bitmap page as the journal writes them (docs: src/journal/format.rs),
# with CRC32C computed here, and a few damaged copies.
def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
    return c ^ 0xFFFFFFFF

def journal_header(seq, history):
    h = bytearray(4096)
    h[0:8] = b"SFT3JRNL"
    h[8:10] = struct.pack(">H", 1)
    h[12:16] = struct.pack(">I", 65536)
    h[16:24] = struct.pack(">Q", 1 << 20)
    h[24:28] = struct.pack(">I", 4)
    h[28:32] = struct.pack(">I", 1)
    h[32:40] = struct.pack(">Q", seq)
    h[40:48] = struct.pack(">Q", history[-1] if history else 0)
    h[48] = len(history)
    for i, g in enumerate(history):
        h[56 + 8 * i:64 + 8 * i] = struct.pack(">Q", g)
    h[4092:4096] = struct.pack(">I", crc32c(bytes(h[:4092])))
    return bytes(h)

def journal_page(number, bits):
    p = bytearray(4096)
    p[:len(bits)] = bits
    p[4088:4092] = struct.pack(">I", number)
    p[4092:4096] = struct.pack(">I", crc32c(bytes(p[:4092])))
    return bytes(p)

hdr = journal_header(3, [9, 8, 7])
add("journal", hdr)
add("journal", journal_page(2, b"\x01"))
add("journal", journal_page(3, b"\xff\x0f"))
add("journal", hdr + hdr + journal_page(2, b"\x03") + journal_page(3, b"\x01\x80"))
add("journal", hdr[:100])
damaged = bytearray(hdr)
damaged[40] ^= 1
add("journal", bytes(damaged))
# Resync messages (docs/protocol.md, "Resync messages") and mirrored writes and verify
# ("Mirrored writes and verify"): the same target decodes and re-encodes them.
q = lambda *xs: b"".join(struct.pack(">Q", x) for x in xs)
add("journal", b"\x03" + q(1, 2, 3) + bytes(range(64)))           # region
add("journal", b"\x05" + q(1, 9, 8))                               # end with a history
add("journal", b"\x07" + q(1, 0, 4, 100, 1))                       # dirty runs
add("journal", b"\x11" + q(5, 4096) + b"data")                     # mirrored write
add("journal", b"\x12" + q(5))                                     # durable
add("journal", b"\x13" + q(1, 0) + struct.pack(">I", 64))          # verify request
add("journal", b"\x14" + q(1, 0) + bytes(32))                      # verify hashes

total = 0
for t, items in sorted(seeds.items()):
    d = os.path.join(CORPUS, t)
    os.makedirs(d, exist_ok=True)
    for b in items:
        with open(os.path.join(d, hashlib.sha1(b).hexdigest()), "wb") as fh:
            fh.write(b)
    total += len(items)
    print(f"{t:8} {len(items):5} seeds")
print(f"total    {total:5} seeds in {os.path.relpath(CORPUS, ROOT)}/")
PY
