//! Per-frame cost of the wire layer: parsing (`dissect`, or the verifying parsers) and emitting
//! (`samples::build`, which uses only the library's emit APIs) of representative frames.
//!
//! ```text
//! cargo bench --bench wire -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Every case has `Throughput::Elements(1)`: the time criterion reports is per frame. IPX
//! frames are Ethernet_II; the MSL data frames carry 1400 payload bytes. `dissect` checks an
//! untagged MSL frame's CRC32C but cannot check a tag (no key): the `*_verified` cases do, with
//! the sample key. Emit cases rotate the variant so that each frame differs.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use sft3::wire::frame::{emit_ipx_frame, IpxFrame};
use sft3::wire::msl::{FrameType, MslLinkFrame, MslRepr};
use sft3::wire::ncp::{NcpPacket, NcpRepr};
use sft3::wire::samples::{build, samples, Kind, MAX_FRAME_LEN, SAMPLE_KEY};
use sft3::wire::state::StateRepr;
use sft3::wire::{dissect, Checksum, Framing, IpxAddr, IpxRepr, PacketType};

/// The representative kinds: (case name, kind).
const CASES: [(&str, Kind); 7] = [
    ("rip_response", Kind::RipResponse),
    ("sap_response", Kind::SapGeneralResponse),
    ("ncp_request", Kind::NcpRequest),
    ("state", Kind::State),
    ("state_keyed", Kind::StateKeyed),
    (
        "msl_data_1400_crc",
        Kind::Msl {
            frame_type: FrameType::Data,
            keyed: false,
        },
    ),
    (
        "msl_data_1400_key",
        Kind::Msl {
            frame_type: FrameType::Data,
            keyed: true,
        },
    ),
];

fn frame(kind: Kind, variant: u64) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME_LEN];
    let n = build(kind, Framing::EthernetII, variant, &mut buf).expect("sample builds");
    buf[..n].to_vec()
}

fn per_frame<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(1));
    g
}

fn parse(c: &mut Criterion) {
    let mut g = per_frame(c, "parse");
    let data = frame(Kind::Data, 0);
    g.bench_function("ipx_header", |b| {
        b.iter(|| IpxFrame::parse(black_box(&data)).map(|f| f.ipx_repr()))
    });
    for (name, kind) in CASES {
        let f = frame(kind, 0);
        g.bench_function(name, |b| b.iter(|| dissect(black_box(&f)).proto));
    }
    // The same NCP frame parsed without `dissect`: shows what its large result costs.
    let ncp = frame(Kind::NcpRequest, 0);
    g.bench_function("ncp_request_direct", |b| {
        b.iter(|| {
            let f = IpxFrame::parse(black_box(&ncp)).expect("IPX");
            NcpRepr::parse(&NcpPacket::new_checked(f.ipx.payload()).expect("NCP")).is_ok()
        })
    });
    let state = frame(Kind::StateKeyed, 0);
    g.bench_function("state_keyed_verified", |b| {
        b.iter(|| {
            let f = IpxFrame::parse(black_box(&state)).expect("IPX");
            StateRepr::parse_bytes(f.ipx.payload(), Some(&SAMPLE_KEY)).map(|s| s.sequence)
        })
    });
    let msl = frame(CASES[6].1, 0);
    g.bench_function("msl_data_1400_key_verified", |b| {
        b.iter(|| {
            let f = MslLinkFrame::parse(black_box(&msl), Some(&SAMPLE_KEY)).expect("MSL");
            MslRepr::parse(&f.msl).map(|m| m.seq)
        })
    });
    let all: Vec<Vec<u8>> = samples()
        .enumerate()
        .map(|(i, s)| {
            let mut buf = [0u8; MAX_FRAME_LEN];
            let n = s.build(i as u64, &mut buf).expect("sample builds");
            buf[..n].to_vec()
        })
        .collect();
    let mut i = 0;
    g.bench_function("all_kinds", |b| {
        b.iter(|| {
            let f = &all[i];
            i = (i + 1) % all.len();
            dissect(black_box(f)).proto
        })
    });
    g.finish();
}

fn emit(c: &mut Criterion) {
    let mut g = per_frame(c, "emit");
    let mut buf = [0u8; MAX_FRAME_LEN];
    let header = IpxRepr {
        checksum: Checksum::None,
        hops: 0,
        packet_type: PacketType::PEP,
        dst: "0a1b0001:001b210a0001:6061"
            .parse::<IpxAddr>()
            .expect("address"),
        src: "0a1b0001:00a0c9123456:4010"
            .parse::<IpxAddr>()
            .expect("address"),
        payload_len: 0,
    };
    let (dst, src) = (header.dst.node, header.src.node);
    g.bench_function("ipx_header", |b| {
        b.iter(|| {
            emit_ipx_frame(
                black_box(&mut buf),
                dst,
                src,
                Framing::EthernetII,
                black_box(&header),
                &[],
            )
        })
    });
    for (name, kind) in CASES {
        let mut v = 0u64;
        g.bench_function(name, |b| {
            b.iter(|| {
                v = v.wrapping_add(1);
                build(kind, Framing::EthernetII, black_box(v), &mut buf)
            })
        });
    }
    let set: Vec<_> = samples().collect();
    let mut i = 0;
    g.bench_function("all_kinds", |b| {
        b.iter(|| {
            let s = set[i % set.len()];
            i += 1;
            s.build(black_box(i as u64), &mut buf)
        })
    });
    g.finish();
}

criterion_group!(benches, parse, emit);
criterion_main!(benches);
