//! Capture files: the third-party captures, hand-built pcapng, the writer, and garbage.

use std::io::Cursor;

use proptest::prelude::*;
use sft3::capture::{
    CaptureError, CaptureReader, Format, LinkType, PcapWriter, Timestamp, TsResolution,
};

#[path = "capture/support.rs"]
mod support;
use support::*;

/// `(file name, packets)` from SOURCES.md.
fn listed_counts() -> Vec<(String, usize)> {
    let text = std::fs::read_to_string(third_party().join("SOURCES.md")).unwrap();
    let mut out = Vec::new();
    let mut name = None;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("## ") {
            name = Some(n.trim().to_string());
        } else if let Some(rest) = line.split("packets: ").nth(1) {
            let count: usize = rest.split(';').next().unwrap().trim().parse().unwrap();
            out.push((name.take().expect("count before a file heading"), count));
        }
    }
    out
}

#[test]
fn every_third_party_capture_reads_with_its_listed_count() {
    let listed = listed_counts();
    let mut files: Vec<String> = std::fs::read_dir(third_party())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.ends_with(".txt") && !n.ends_with(".md"))
        .collect();
    files.sort();
    assert_eq!(files.len(), listed.len(), "files {files:?} vs SOURCES.md");
    for (name, count) in &listed {
        assert!(files.contains(name), "{name} listed but missing");
        let (packets, error) = read_all(Cursor::new(read(name)));
        assert!(error.is_none(), "{name}: {error:?}");
        assert_eq!(packets.len(), *count, "{name}");
        for p in &packets {
            assert_eq!(p.link_type, LinkType::ETHERNET, "{name}");
            assert!(p.data.len() <= p.orig_len as usize, "{name}");
            assert!(p.ts.nanos < 1_000_000_000);
        }
        // The file reader agrees with the in-memory one.
        let mut reader = CaptureReader::open(third_party().join(name)).unwrap();
        let mut n = 0;
        while let Some(p) = reader.next_packet() {
            assert_eq!(p.unwrap().data, packets[n].data);
            n += 1;
        }
        assert_eq!(n, *count);
    }
}

#[test]
fn civil_conversion_is_right() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    // `date -u -d '2008-06-26 10:06:29' +%s` prints 1214474789.
    let ts = parse_gmt("2008-06-26", "10:06:29.360507");
    assert_eq!(ts, Timestamp::new(1_214_474_789, 360_507_000));
}

#[test]
fn ipx_pcap_timestamps_match_tcpdump() {
    let name = "the-tcpdump-group_tcpdump__ipx.pcap";
    let expected =
        std::fs::read_to_string(third_party().join(format!("{name}.expected.txt"))).unwrap();
    let mut want = Vec::new();
    for line in expected.lines() {
        let mut words = line.split_whitespace();
        let (Some(num), Some(date), Some(time)) = (words.next(), words.next(), words.next()) else {
            continue;
        };
        // Frame lines start with the frame number; continuation lines do not.
        if let (Ok(num), true) = (num.parse::<usize>(), date.len() == 10) {
            assert_eq!(num, want.len() + 1);
            want.push(parse_gmt(date, time));
        }
    }
    assert_eq!(want.len(), 64);
    let mut reader = CaptureReader::new(Cursor::new(read(name))).unwrap();
    assert_eq!(reader.format(), Format::Pcap);
    assert_eq!(reader.link_type(), Some(LinkType::ETHERNET));
    let mut got = Vec::new();
    while let Some(p) = reader.next_packet() {
        got.push(p.unwrap().ts);
    }
    assert_eq!(got, want);
    assert_eq!(got[0].as_unix_nanos(), 1_214_474_789_360_507_000);
    assert_eq!(got[0].to_string(), "1214474789.360507");
}

#[test]
fn pcapng_captures_read_with_interfaces_and_times() {
    // (file, packets, first frame time from `tshark -T fields -e frame.time_epoch`, interface)
    let cases = [
        (
            "ajbanjara_Wireshark__novell_eth2_netbios.pcapng",
            21,
            Timestamp::new(1_576_357_116, 667_728_660),
            1,
        ),
        (
            "ajbanjara_Wireshark__novell_llc_netbios.pcapng",
            16,
            Timestamp::new(1_576_356_043, 857_432_587),
            1,
        ),
        (
            "ajbanjara_Wireshark__novell_raw_netbios.pcapng",
            18,
            Timestamp::new(1_576_357_408, 146_492_286),
            1,
        ),
        (
            "google_google-ctf__sc.pcapng",
            16827,
            Timestamp::new(1_568_950_115, 76_799_000),
            0,
        ),
    ];
    for (name, count, first, iface) in cases {
        let reader = CaptureReader::new(Cursor::new(read(name))).unwrap();
        assert_eq!(reader.format(), Format::PcapNg);
        assert_eq!(reader.link_type(), Some(LinkType::ETHERNET), "{name}");
        assert_eq!(reader.snaplen(), Some(262_144));
        let (packets, error) = read_all(Cursor::new(read(name)));
        assert!(error.is_none(), "{name}: {error:?}");
        assert_eq!(packets.len(), count, "{name}");
        assert_eq!(packets[0].ts, first, "{name}");
        assert_eq!(packets[0].interface_id, iface, "{name}");
        assert!(packets.windows(2).all(|w| w[0].ts <= w[1].ts), "{name}");
    }
    let (sc, _) = read_all(Cursor::new(read("google_google-ctf__sc.pcapng")));
    assert_eq!(
        sc.last().unwrap().ts,
        Timestamp::new(1_568_950_909, 640_940_000)
    );
    assert_eq!(sc[0].data.len(), 68);
}

fn sample_packets(n: usize) -> Vec<(Timestamp, u32, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let len = (i * 37) % 1600 + if i == 7 { 70_000 } else { 0 };
            let data: Vec<u8> = (0..len).map(|j| (i * 7 + j) as u8).collect();
            let ts = Timestamp::new(
                1_700_000_000 + i as u64,
                ((i as u64 * 987_654_321) % 1_000_000_000) as u32,
            );
            (ts, len as u32 + (i as u32 % 3), data)
        })
        .collect()
}

#[test]
fn writer_round_trips_in_both_resolutions() {
    let packets = sample_packets(300);
    for resolution in [TsResolution::Micro, TsResolution::Nano] {
        let mut w =
            PcapWriter::with_options(Vec::new(), resolution, LinkType::ETHERNET, 262_144).unwrap();
        assert_eq!(w.resolution(), resolution);
        for (ts, orig, data) in &packets {
            w.write_packet(*ts, *orig, data).unwrap();
        }
        w.flush().unwrap();
        let bytes = w.into_inner().unwrap();
        for step in [usize::MAX, 4096, 7] {
            let mut reader =
                CaptureReader::with_capacity(Trickle { data: &bytes, step }, 100).unwrap();
            assert_eq!(reader.link_type(), Some(LinkType::ETHERNET));
            assert_eq!(reader.snaplen(), Some(262_144));
            let mut i = 0;
            while let Some(p) = reader.next_packet() {
                let p = p.unwrap();
                let (ts, orig, data) = &packets[i];
                let want_ts = match resolution {
                    TsResolution::Nano => *ts,
                    TsResolution::Micro => Timestamp::new(ts.secs, ts.nanos / 1000 * 1000),
                };
                assert_eq!(p.ts, want_ts);
                assert_eq!(p.orig_len, *orig);
                assert_eq!(p.data, &data[..]);
                assert_eq!(p.interface_id, 0);
                i += 1;
            }
            assert_eq!(i, packets.len());
        }
    }
}

#[test]
fn writer_defaults_and_refusals() {
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    w.write_packet(Timestamp::new(5, 1_500_000_999), 0, &[1, 2, 3])
        .unwrap();
    assert!(matches!(
        w.write_packet(Timestamp::new(1 << 32, 0), 3, &[1, 2, 3]),
        Err(CaptureError::Unrepresentable { .. })
    ));
    let bytes = w.into_inner().unwrap();
    assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
    assert_eq!(&bytes[16..24], &[0x00, 0x00, 0x04, 0x00, 1, 0, 0, 0]);
    let (packets, error) = read_all(&bytes[..]);
    assert!(error.is_none());
    assert_eq!(packets.len(), 1);
    // nanos carried into seconds; orig_len raised to the data length.
    assert_eq!(packets[0].ts, Timestamp::new(6, 500_000_000));
    assert_eq!(packets[0].orig_len, 3);
}

#[test]
fn pcapng_sections_in_both_byte_orders() {
    let bytes = two_sections();
    let mut reader = CaptureReader::new(&bytes[..]).unwrap();
    assert_eq!(reader.link_type(), Some(LinkType::ETHERNET));
    assert_eq!(
        reader.interfaces().len(),
        1,
        "look-ahead stops at the first interface"
    );
    let mut got = Vec::new();
    while let Some(p) = reader.next_packet() {
        let p = p.unwrap();
        got.push((
            p.ts,
            p.orig_len,
            p.data.to_vec(),
            p.link_type,
            p.interface_id,
        ));
    }
    assert_eq!(reader.link_type(), Some(LinkType::LINUX_SLL));
    let want = vec![
        (
            Timestamp::new(90, 500_000_000),
            5,
            vec![0xaa, 0xbb, 0xcc, 0xdd, 0xee],
            LinkType(1),
            0,
        ),
        (
            Timestamp::new(1234, 567_000_000),
            3,
            vec![9, 8, 7],
            LinkType(228),
            1,
        ),
        (Timestamp::new(2, 0), 1, vec![1], LinkType(228), 1),
        (Timestamp::default(), 12, vec![0x11; 8], LinkType(1), 0),
        (
            Timestamp::new(7, 1000),
            2,
            vec![0x42, 0x43],
            LinkType(113),
            0,
        ),
    ];
    assert_eq!(got, want);
}

#[test]
fn malformed_inputs_give_typed_errors() {
    let e = first_error(b"<!DOCTYPE html>");
    assert!(matches!(e, CaptureError::NotCapture { magic } if &magic == b"<!DO"));
    assert!(e.to_string().contains("3c 21 44 4f"), "{e}");
    assert!(matches!(
        first_error(b""),
        CaptureError::Truncated { have: 0, .. }
    ));

    // A pcap record claiming 300 MiB.
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    w.write_packet(Timestamp::new(1, 0), 4, &[1, 2, 3, 4])
        .unwrap();
    let mut bytes = w.into_inner().unwrap();
    bytes[32..36].copy_from_slice(&(300u32 << 20).to_le_bytes());
    assert!(matches!(
        first_error(&bytes),
        CaptureError::TooLong { offset: 24, .. }
    ));

    // Unsupported pcap version.
    let mut v = PcapWriter::new(Vec::new()).unwrap().into_inner().unwrap();
    v[4] = 1;
    assert!(matches!(
        first_error(&v),
        CaptureError::UnsupportedVersion { major: 1, .. }
    ));

    let good = two_sections();
    // Trailing length differs from the leading one (the SHB's last byte).
    let mut b = good.clone();
    b[27] ^= 4;
    assert!(matches!(
        first_error(&b),
        CaptureError::BlockLengthMismatch { offset: 0, .. }
    ));
    // A block length that is not a multiple of 4 (the unknown block at 28).
    let mut b = good.clone();
    b[35] = 21;
    assert!(matches!(
        first_error(&b),
        CaptureError::BadBlockLength {
            offset: 28,
            len: 21,
            ..
        }
    ));
    // An EPB naming interface 5.
    let mut ng = Ng {
        big: false,
        out: Vec::new(),
    };
    ng.shb();
    ng.idb(1, 0, &[]);
    ng.epb(5, 0, 1, &[0]);
    let (packets, e) = read_all(&ng.out[..]);
    assert!(packets.is_empty());
    assert!(matches!(
        e,
        Some(CaptureError::UnknownInterface {
            id: 5,
            count: 1,
            ..
        })
    ));
    // A Simple Packet Block before any interface.
    let mut ng = Ng {
        big: true,
        out: Vec::new(),
    };
    ng.shb();
    ng.spb(1, &[0]);
    assert!(matches!(
        first_error(&ng.out),
        CaptureError::UnknownInterface { id: 0, .. }
    ));
}

/// Every prefix reads as some packets, then at most one error (a truncation unless whole).
fn check_prefixes(bytes: &[u8]) {
    let (all, error) = read_all(bytes);
    assert!(error.is_none());
    for cut in 0..bytes.len() {
        let (packets, error) = read_all(&bytes[..cut]);
        assert!(packets.len() <= all.len());
        assert_eq!(packets[..], all[..packets.len()], "cut {cut}");
        // A cut at a record boundary reads cleanly; anywhere else it is one truncation error.
        if let Some(e) = error {
            assert!(
                matches!(e, CaptureError::Truncated { .. }),
                "cut {cut}: {e}"
            );
        }
    }
}

#[test]
fn truncated_files_never_panic() {
    check_prefixes(&read(
        "the-tcpdump-group_tcpdump__smb_print_trans-oobr1.pcap",
    ));
    check_prefixes(&read("trema_trema__ipx.cap"));
    check_prefixes(&read("ajbanjara_Wireshark__novell_raw_netbios.pcapng"));
    check_prefixes(&two_sections());
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = read_all(&bytes[..]);
    }

    #[test]
    fn random_bytes_after_a_magic_never_panic(
        magic in prop::sample::select(vec![
            [0xd4u8, 0xc3, 0xb2, 0xa1], [0xa1, 0xb2, 0x3c, 0x4d], [0x34, 0xcd, 0xb2, 0xa1],
            [0x0a, 0x0d, 0x0d, 0x0a],
        ]),
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut all = magic.to_vec();
        all.extend_from_slice(&bytes);
        let _ = read_all(&all[..]);
    }

    #[test]
    fn mutated_captures_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        which in 0usize..2,
    ) {
        let mut bytes = if which == 0 {
            two_sections()
        } else {
            read("the-tcpdump-group_tcpdump__smb_print_trans-oobr1.pcap")
        };
        for (at, v) in edits {
            let i = at.index(bytes.len());
            bytes[i] = v;
        }
        let _ = read_all(Trickle { data: &bytes, step: 13 });
    }
}

#[test]
fn timestamp_display_and_conversions() {
    let ts = Timestamp::new(1_214_474_789, 360_507_123);
    assert_eq!(ts.to_string(), "1214474789.360507");
    assert_eq!(format!("{ts:.9}"), "1214474789.360507123");
    assert_eq!(format!("{ts:.3}"), "1214474789.360");
    assert_eq!(format!("{ts:.0}"), "1214474789");
    assert_eq!(Timestamp::from_unix_nanos(ts.as_unix_nanos()), ts);
    assert_eq!(ts.micros(), 360_507);
    assert_eq!(LinkType::ETHERNET.to_string(), "EN10MB");
    assert_eq!(LinkType(147).to_string(), "LINKTYPE_147");
}

#[test]
fn pcap_magics_byte_orders_and_old_versions() {
    let data: &[u8] = &[1, 2, 3];
    for big in [false, true] {
        // (magic, minor, first length field, second, expected timestamp of frac 7)
        let cases = [
            (0xa1b2_c3d4, 4, 3, 60, Timestamp::new(10, 7_000)),
            (0xa1b2_3c4d, 4, 3, 60, Timestamp::new(10, 7)),
            (0xa1b2_cd34, 4, 3, 60, Timestamp::new(10, 7_000)),
            (0xa1b2_c3d4, 2, 60, 3, Timestamp::new(10, 7_000)), // pre-2.3: swapped
            (0xa1b2_c3d4, 3, 60, 3, Timestamp::new(10, 7_000)), // 2.3: either order
            (0xa1b2_c3d4, 3, 3, 60, Timestamp::new(10, 7_000)),
        ];
        for (magic, minor, first, second, ts) in cases {
            let bytes = hand_pcap(magic, big, minor, &[(10, 7, first, second, data)]);
            let reader = CaptureReader::new(&bytes[..]).unwrap();
            assert_eq!(reader.format(), Format::Pcap);
            assert_eq!(reader.snaplen(), Some(96));
            let (packets, error) = read_all(&bytes[..]);
            assert!(error.is_none(), "{magic:#x} {big} {error:?}");
            assert_eq!(packets.len(), 1);
            assert_eq!(packets[0].ts, ts, "{magic:#x} big {big}");
            assert_eq!(packets[0].orig_len, 60);
            assert_eq!(packets[0].data, data);
            assert_eq!(packets[0].link_type, LinkType::ETHERNET);
        }
    }
    // A microsecond field of a million or more carries into the seconds.
    let bytes = hand_pcap(0xa1b2_c3d4, false, 4, &[(10, 2_500_000, 0, 0, &[])]);
    assert_eq!(
        read_all(&bytes[..]).0[0].ts,
        Timestamp::new(12, 500_000_000)
    );
}

#[test]
fn huge_pcapng_block_is_refused_without_reading_it() {
    let mut ng = Ng {
        big: false,
        out: Vec::new(),
    };
    ng.shb();
    ng.idb(1, 0, &[]);
    let at = ng.out.len() as u64;
    ng.epb(0, 0, 1, &[0]);
    let len_at = at as usize + 4;
    ng.out[len_at..len_at + 4].copy_from_slice(&(512u32 << 20).to_le_bytes());
    assert!(matches!(
        first_error(&ng.out),
        CaptureError::TooLong { offset, .. } if offset == at
    ));
    // 200 MiB claimed by a short stream: a truncation, found without a 200 MiB buffer up front.
    ng.out[len_at..len_at + 4].copy_from_slice(&(200u32 << 20).to_le_bytes());
    assert!(matches!(
        first_error(&ng.out),
        CaptureError::Truncated { offset, .. } if offset == at
    ));
}
