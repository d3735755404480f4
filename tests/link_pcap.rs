//! pcap record and replay (`sft3::link::pcap`): a recording of an exchange between two
//! in-memory links replays to the same frames (bytes, parse, timestamps); pacing against an
//! external clock; the source-MAC rule; damaged files; write errors; short receive buffers.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::{self, Cursor, Write};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use sft3::capture::{CaptureError, CaptureReader, Timestamp};
use sft3::link::pcap::{Pacing, Recorder, Replayer};
use sft3::link::{check_size, AdapterInfo, Link, LinkError, LinkStatus, OperState, RxMeta};
use sft3::wire::samples::{samples, MAX_FRAME_LEN};
use sft3::wire::{dissect, Dissection, MacAddr};

const MAC_A: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x0a]);
const MAC_B: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x0b]);
/// 2025-01-01, so timestamps look real and fit pcap's 32-bit seconds.
const EPOCH: u64 = 1_735_689_600;

/// A virtual clock shared by the test links and the recorder: nanoseconds after [`EPOCH`].
#[derive(Clone, Default)]
struct Clock(Rc<Cell<u64>>);

impl Clock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_nanos(EPOCH as u128 * 1_000_000_000 + self.0.get() as u128)
    }
    fn advance(&self, nanos: u64) {
        self.0.set(self.0.get() + nanos);
    }
}

type Queue = Rc<RefCell<VecDeque<(Vec<u8>, Timestamp)>>>;

/// One end of an in-memory wire: what it sends lands in the peer's queue, stamped with the
/// shared clock.
struct Loopback {
    info: AdapterInfo,
    rx: Queue,
    tx: Queue,
    clock: Clock,
}

fn info(name: &str, mac: MacAddr) -> AdapterInfo {
    AdapterInfo {
        name: name.into(),
        index: 0,
        mac,
        mtu: 1500,
    }
}

fn pair(clock: &Clock) -> (Loopback, Loopback) {
    let ab = Queue::default();
    let ba = Queue::default();
    let a = Loopback {
        info: info("a", MAC_A),
        rx: ba.clone(),
        tx: ab.clone(),
        clock: clock.clone(),
    };
    let b = Loopback {
        info: info("b", MAC_B),
        rx: ab,
        tx: ba,
        clock: clock.clone(),
    };
    (a, b)
}

impl Link for Loopback {
    fn info(&self) -> &AdapterInfo {
        &self.info
    }
    fn send(&mut self, frame: &[u8]) -> Result<(), LinkError> {
        check_size(&self.info, frame)?;
        self.tx
            .borrow_mut()
            .push_back((frame.to_vec(), self.clock.now()));
        Ok(())
    }
    fn recv(&mut self, buf: &mut [u8]) -> Result<Option<RxMeta>, LinkError> {
        let Some((f, ts)) = self.rx.borrow_mut().pop_front() else {
            return Ok(None);
        };
        let len = f.len().min(buf.len());
        buf[..len].copy_from_slice(&f[..len]);
        Ok(Some(RxMeta {
            len,
            orig_len: f.len(),
            ts,
        }))
    }
    fn status(&mut self) -> Result<LinkStatus, LinkError> {
        Ok(LinkStatus::UP)
    }
}

/// A file under the test target's temp dir, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> TempFile {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        TempFile(dir.join(format!("link_pcap-{}-{name}.pcap", std::process::id())))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Sample frame `i` of the recording set, sent by `src` (its Ethernet source address set to
/// `src`; no checksum or CRC covers it).
fn sample(i: usize, src: MacAddr) -> Vec<u8> {
    let s = samples().nth(i % 106).expect("sample");
    let mut buf = [0u8; MAX_FRAME_LEN];
    let n = s.build(i as u64, &mut buf).expect("build");
    buf[6..12].copy_from_slice(&src.0);
    let f = buf[..n].to_vec();
    assert_eq!(dissect(&f).error, None, "{s}");
    f
}

/// The frames of an exchange, in recording order: bytes, timestamp, sender.
type Exchange = Vec<(Vec<u8>, Timestamp, MacAddr)>;

/// Every sample in every framing, alternately sent by `a` (through the recorder) and by `b`
/// (received through the recorder), with the clock advancing between frames.
fn exchange(path: &std::path::Path) -> Exchange {
    let clock = Clock::default();
    let (a, mut b) = pair(&clock);
    let rec_clock = clock.clone();
    let mut rec = Recorder::with_clock(a, path, move || rec_clock.now()).expect("create");
    let mut want = Vec::new();
    let mut buf = [0u8; 2048];
    for i in 0..samples().count() {
        clock.advance(1_000_000 + 7_919 * i as u64);
        if i % 2 == 0 {
            let f = sample(i, MAC_A);
            rec.send(&f).expect("send");
            let got = b.recv(&mut buf).expect("recv").expect("frame at b");
            assert_eq!(&buf[..got.len], &f[..]);
            want.push((f, clock.now(), MAC_A));
        } else {
            let f = sample(i, MAC_B);
            b.send(&f).expect("send");
            let sent_at = clock.now();
            clock.advance(500);
            let got = rec.recv(&mut buf).expect("recv").expect("frame at a");
            assert_eq!(&buf[..got.len], &f[..]);
            assert_eq!(got.ts, sent_at);
            want.push((f, sent_at, MAC_B));
        }
    }
    assert!(rec.recv(&mut buf).expect("recv").is_none());
    assert_eq!(rec.frames_recorded(), want.len() as u64);
    rec.flush().expect("flush");
    drop(rec);
    want
}

/// Everything a dissection says, comparable.
fn facts(d: &Dissection<'_>) -> String {
    format!(
        "{:?} {} {:?} {:?} {:?} {:?} {:?}",
        d.eth,
        d.link_len,
        d.framing,
        d.ipx.as_ref().map(|p| p.as_bytes()),
        d.proto,
        d.detail,
        d.error
    )
}

/// Plays `r` to the end (fast pacing), returning the frames and their metadata.
fn drain<R: io::Read>(r: &mut Replayer<R>) -> Vec<(Vec<u8>, RxMeta)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    while let Some(m) = r.recv(&mut buf).expect("recv") {
        out.push((buf[..m.len].to_vec(), m));
    }
    out
}

#[test]
fn exchange_replays_to_identical_frames() {
    let tmp = TempFile::new("exchange");
    let want = exchange(&tmp.0);
    assert_eq!(want.len(), 106);
    let mut r = Replayer::open(&tmp.0, info("replay", MAC_A)).expect("open");
    assert_eq!(r.info().name, "replay");
    assert_eq!(r.info().mac, MAC_A);
    assert_eq!(r.status().expect("status"), LinkStatus::UP);
    let got = drain(&mut r);
    assert_eq!(got.len(), want.len());
    for (i, ((g, m), (w, ts, _))) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "frame {i} bytes");
        assert_eq!(m.ts, *ts, "frame {i} timestamp");
        assert_eq!((m.len, m.orig_len), (w.len(), w.len()), "frame {i}");
        let (dg, dw) = (dissect(g), dissect(w));
        assert_eq!(dg.error, None, "frame {i}");
        assert_eq!(facts(&dg), facts(&dw), "frame {i}");
        assert_eq!(dg.detail, dw.detail, "frame {i}");
    }
    assert!(r.is_finished());
    assert_eq!(r.stats().delivered, 106);
    // The end is visible: nothing more, carrier down.
    assert!(r.recv(&mut [0u8; 64]).expect("recv").is_none());
    let down = r.status().expect("status");
    assert_eq!((down.carrier, down.oper), (false, OperState::Down));
}

#[test]
fn own_frames_are_skipped_by_source_mac() {
    let tmp = TempFile::new("skip");
    let want = exchange(&tmp.0);
    // The recording adapter A: replaying skips what A sent, plays what it received.
    let mut r = Replayer::open(&tmp.0, info("a", MAC_A))
        .expect("open")
        .skip_source(MAC_A);
    let got = drain(&mut r);
    let from_b: Vec<_> = want.iter().filter(|w| w.2 == MAC_B).collect();
    assert_eq!(got.len(), from_b.len());
    for ((g, m), (w, ts, _)) in got.iter().zip(&from_b) {
        assert_eq!(g, w);
        assert_eq!(m.ts, *ts);
    }
    assert_eq!(r.stats().skipped_own, 53);
    // The other side's view: the first frame (sent by A) is read ahead at construction and
    // must be skipped by a later skip_source too.
    let mut r = Replayer::open(&tmp.0, info("b", MAC_B))
        .expect("open")
        .skip_source(MAC_B);
    let got = drain(&mut r);
    assert_eq!(got.len(), 53);
    assert!(got.iter().all(|(g, _)| g[6..12] == MAC_A.0));
    // Without the rule every frame plays.
    let mut r = Replayer::open(&tmp.0, info("x", MAC_A)).expect("open");
    assert_eq!(drain(&mut r).len(), 106);
}

/// A recording in memory of frames sent at the given offsets (nanoseconds).
fn timed_recording(offsets_ns: &[u64]) -> Vec<u8> {
    let clock = Clock::default();
    let (a, _b) = pair(&clock);
    let c = clock.clone();
    let mut rec = Recorder::new(a, Vec::new(), move || c.now()).expect("recorder");
    let mut last = 0;
    for (i, &off) in offsets_ns.iter().enumerate() {
        clock.advance(off - last);
        last = off;
        rec.send(&sample(i, MAC_A)).expect("send");
    }
    rec.finish().expect("finish").1.expect("writer")
}

#[test]
fn external_clock_releases_frames_exactly_at_their_offset() {
    let offsets = [0, 10_000_000, 10_000_000, 25_000_000, 1_000_000_000];
    let file = timed_recording(&offsets);
    let start = Timestamp::new(5_000, 0);
    let at = |ns: u64| Timestamp::from_unix_nanos(start.as_unix_nanos() + ns as u128);
    let mut r = Replayer::new(Cursor::new(file), info("t", MAC_B))
        .expect("open")
        .pacing(Pacing::External { start });
    let mut buf = [0u8; 2048];
    let mut recv = |r: &mut Replayer<_>| r.recv(&mut buf).expect("recv").map(|m| m.ts);
    // Before the start: nothing, not even the first frame.
    r.set_now(Timestamp::new(4_999, 999_999_999));
    assert_eq!(recv(&mut r), None);
    let mut released = Vec::new();
    for (i, &off) in offsets.iter().enumerate() {
        if i > 0 && off == offsets[i - 1] {
            continue;
        }
        assert_eq!(r.next_offset(), Some(Duration::from_nanos(off)));
        // One nanosecond early: held back.
        if off > 0 {
            r.set_now(at(off - 1));
            assert_eq!(recv(&mut r), None, "offset {off} released early");
        }
        r.set_now(at(off));
        while let Some(ts) = recv(&mut r) {
            released.push((off, ts));
        }
        let expect = offsets.iter().filter(|&&o| o <= off).count();
        assert_eq!(released.len(), expect, "at offset {off}");
    }
    // Recorded timestamps are kept, whatever the pacing.
    for (off, ts) in &released {
        let recorded = Timestamp::from_unix_nanos(EPOCH as u128 * 1_000_000_000 + *off as u128);
        assert_eq!(*ts, recorded);
    }
    assert!(r.is_finished());
    assert_eq!(r.next_offset(), None);
}

#[test]
fn wall_clock_pacing_plays_everything_in_order() {
    // Spaced 100 ms apart, played 1000 times faster.
    let offsets: Vec<u64> = (0..5).map(|i| i * 100_000_000).collect();
    let file = timed_recording(&offsets);
    let mut r = Replayer::new(Cursor::new(file.clone()), info("w", MAC_B))
        .expect("open")
        .pacing(Pacing::WallClock { speed: 1000.0 });
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 2048];
    let mut n = 0;
    while !r.is_finished() {
        assert!(Instant::now() < deadline, "replay stalled");
        if let Some(due) = r.next_deadline() {
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        if r.recv(&mut buf).expect("recv").is_some() {
            n += 1;
        }
    }
    assert_eq!(n, 5);
    // At the recorded pace, a frame an hour in is not due at the start.
    let far = timed_recording(&[0, 3_600_000_000_000]);
    let mut r = Replayer::new(Cursor::new(far), info("w", MAC_B))
        .expect("open")
        .pacing(Pacing::WallClock { speed: 1.0 });
    assert!(r.recv(&mut buf).expect("recv").is_some());
    assert!(r.recv(&mut buf).expect("recv").is_none());
    assert!(!r.is_finished());
    assert_eq!(r.status().expect("status"), LinkStatus::UP);
}

#[test]
fn truncated_capture_plays_whole_frames_then_reports_once() {
    let file = timed_recording(&[0, 1, 2, 3]);
    for cut in [1, 8, 17, 40] {
        let short = file[..file.len() - cut].to_vec();
        let mut r = Replayer::new(Cursor::new(short), info("t", MAC_B)).expect("open");
        let mut buf = [0u8; 2048];
        for i in 0..3 {
            assert!(
                r.recv(&mut buf).expect("whole frame").is_some(),
                "frame {i}"
            );
        }
        assert!(!r.is_finished());
        match r.recv(&mut buf) {
            Err(LinkError::Capture(CaptureError::Truncated { .. })) => {}
            other => panic!("cut {cut}: expected a truncation error, got {other:?}"),
        }
        for _ in 0..3 {
            assert!(r.recv(&mut buf).expect("after the error").is_none());
        }
        assert!(r.is_finished());
        assert!(!r.status().expect("status").carrier);
    }
    // A header alone is a valid, empty replay; a damaged header fails to open.
    let mut r = Replayer::new(Cursor::new(file[..24].to_vec()), info("e", MAC_B)).expect("open");
    assert!(r.is_finished());
    assert!(r.recv(&mut [0u8; 64]).expect("recv").is_none());
    assert!(Replayer::new(Cursor::new(file[..20].to_vec()), info("e", MAC_B)).is_err());
}

#[test]
fn replayer_send_counts_drops_or_collects() {
    let file = timed_recording(&[0]);
    let mut r = Replayer::new(Cursor::new(file.clone()), info("s", MAC_B)).expect("open");
    r.send(&[1u8; 60]).expect("send");
    assert!(matches!(
        r.send(&[0u8; 1515]),
        Err(LinkError::TooBig { len: 1515, .. })
    ));
    assert_eq!(r.stats().sent, 1);
    assert!(r.sent_frames().is_empty());
    let mut r = Replayer::new(Cursor::new(file), info("s", MAC_B))
        .expect("open")
        .collect_sent(true);
    r.send_batch(&[&[1u8; 60], &[2u8; 64]]).expect("batch");
    assert_eq!(r.sent_frames(), &[vec![1u8; 60], vec![2u8; 64]]);
    assert_eq!(r.take_sent().len(), 2);
    assert!(r.sent_frames().is_empty());
}

#[test]
fn short_receive_buffer_is_recorded_with_its_original_length() {
    let clock = Clock::default();
    let (a, mut b) = pair(&clock);
    let c = clock.clone();
    let mut rec = Recorder::new(a, Vec::new(), move || c.now()).expect("recorder");
    let f = sample(3, MAC_B);
    b.send(&f).expect("send");
    let mut small = [0u8; 20];
    let m = rec.recv(&mut small).expect("recv").expect("frame");
    assert_eq!((m.len, m.orig_len), (20, f.len()));
    let file = rec.finish().expect("finish").1.expect("writer");
    let mut reader = CaptureReader::new(Cursor::new(file.clone())).expect("reader");
    let p = reader.next_packet().expect("packet").expect("ok");
    assert_eq!((p.data, p.orig_len as usize), (&f[..20], f.len()));
    let mut r = Replayer::new(Cursor::new(file), info("r", MAC_A)).expect("open");
    let m = r.recv(&mut [0u8; 2048]).expect("recv").expect("frame");
    assert_eq!((m.len, m.orig_len), (20, f.len()));
}

/// A writer that fails once `limit` bytes have been written.
struct FailAfter {
    limit: usize,
    written: Rc<RefCell<Vec<u8>>>,
}

impl Write for FailAfter {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let mut w = self.written.borrow_mut();
        if w.len() + b.len() > self.limit {
            return Err(io::Error::other("disk full"));
        }
        w.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn write_error_is_reported_once_and_never_costs_a_frame() {
    let clock = Clock::default();
    let (a, mut b) = pair(&clock);
    let written = Rc::new(RefCell::new(Vec::new()));
    let f = sample(0, MAC_A);
    // Room for the header and one record: the second record fails.
    let w = FailAfter {
        limit: 24 + 16 + f.len() + 4,
        written: written.clone(),
    };
    let c = clock.clone();
    let mut rec = Recorder::new(a, w, move || c.now()).expect("recorder");
    let mut buf = [0u8; 2048];
    rec.send(&f).expect("first send");
    rec.send(&f)
        .expect("second send happens; its recording fails");
    assert_eq!(
        b.recv(&mut buf).expect("recv").map(|m| m.len),
        Some(f.len())
    );
    assert_eq!(
        b.recv(&mut buf).expect("recv").map(|m| m.len),
        Some(f.len())
    );
    assert!(!rec.is_recording());
    // The next call reports the error and does nothing else.
    match rec.send(&f) {
        Err(LinkError::Capture(CaptureError::Io(_))) => {}
        other => panic!("expected the write error, got {other:?}"),
    }
    assert!(
        b.recv(&mut buf).expect("recv").is_none(),
        "frame sent despite Err"
    );
    // Once reported, frames pass unrecorded.
    rec.send(&f).expect("send after the error");
    assert!(b.recv(&mut buf).expect("recv").is_some());
    b.send(&f).expect("send");
    assert!(rec.recv(&mut buf).expect("recv").is_some());
    rec.flush().expect("nothing pending");
    assert_eq!(rec.frames_recorded(), 1);
    // The same holds on the receive side: the frame is returned, the error comes next.
    let (a, mut b) = pair(&clock);
    let w = FailAfter {
        limit: 30,
        written: Rc::new(RefCell::new(Vec::new())),
    };
    let c = clock.clone();
    let mut rec = Recorder::new(a, w, move || c.now()).expect("recorder");
    b.send(&f).expect("send");
    b.send(&f).expect("send");
    assert!(rec.recv(&mut buf).expect("frame kept").is_some());
    assert!(matches!(rec.flush(), Err(LinkError::Capture(_))));
    assert!(rec.recv(&mut buf).expect("second frame").is_some());
}

#[test]
fn recorder_flushes_on_drop_and_delegates() {
    let tmp = TempFile::new("drop");
    let clock = Clock::default();
    let (a, mut b) = pair(&clock);
    {
        let mut rec = Recorder::create(a, &tmp.0).expect("create");
        assert_eq!(rec.info().mac, MAC_A);
        assert_eq!(rec.status().expect("status"), LinkStatus::UP);
        let f = sample(5, MAC_A);
        let n = rec.send_batch(&[&f, &f, &f]).expect("batch");
        assert_eq!(n, 3);
        assert!(matches!(
            rec.send(&[0u8; 1600]),
            Err(LinkError::TooBig { .. })
        ));
    }
    let mut buf = [0u8; 2048];
    for _ in 0..3 {
        assert!(b.recv(&mut buf).expect("recv").is_some());
    }
    let mut reader = CaptureReader::open(&tmp.0).expect("open");
    let mut n = 0;
    while let Some(p) = reader.next_packet() {
        let p = p.expect("packet");
        // Stamped by the system clock: after 2020.
        assert!(p.ts.secs > 1_577_836_800);
        n += 1;
    }
    assert_eq!(n, 3);
}

#[test]
fn nonpositive_speed_plays_as_fast_as_possible() {
    let file = timed_recording(&[0, 3_600_000_000_000]);
    for speed in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let mut r = Replayer::new(Cursor::new(file.clone()), info("w", MAC_B))
            .expect("open")
            .pacing(Pacing::WallClock { speed });
        assert_eq!(drain(&mut r).len(), 2, "speed {speed}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any frames at any (increasing) times replay byte-identical with their timestamps.
    #[test]
    fn any_frames_round_trip(
        frames in prop::collection::vec(
            (prop::collection::vec(any::<u8>(), 0..1515), 0u64..5_000_000_000),
            0..20,
        )
    ) {
        let clock = Clock::default();
        let (a, _b) = pair(&clock);
        let c = clock.clone();
        let mut rec = Recorder::new(a, Vec::new(), move || c.now()).expect("recorder");
        let mut want = Vec::new();
        for (f, gap) in &frames {
            clock.advance(*gap);
            rec.send(f).expect("send");
            want.push((f.clone(), clock.now()));
        }
        let file = rec.finish().expect("finish").1.expect("writer");
        let mut r = Replayer::new(Cursor::new(file), info("p", MAC_B)).expect("open");
        let got = drain(&mut r);
        prop_assert_eq!(got.len(), want.len());
        for ((g, m), (w, ts)) in got.iter().zip(&want) {
            prop_assert_eq!(g, w);
            prop_assert_eq!(m.ts, *ts);
        }
        prop_assert!(r.is_finished());
    }

    /// Every prefix of a recording opens (or fails to) without panicking, plays whole frames
    /// only, and reports at most one error.
    #[test]
    fn every_prefix_plays_whole_frames_then_one_error(cut in 0usize..400) {
        let file = timed_recording(&[0, 1, 2, 3, 4]);
        let short = &file[..file.len().saturating_sub(cut)];
        let Ok(mut r) = Replayer::new(Cursor::new(short.to_vec()), info("p", MAC_B)) else {
            prop_assert!(short.len() < 24);
            return Ok(());
        };
        let mut buf = [0u8; 2048];
        let (mut frames, mut errors) = (0, 0);
        for _ in 0..20 {
            match r.recv(&mut buf) {
                Ok(Some(m)) => {
                    prop_assert_eq!(m.len, m.orig_len);
                    frames += 1;
                }
                Ok(None) => {}
                Err(_) => errors += 1,
            }
        }
        // Record boundaries: the 24-byte header, then 16 bytes and the frame each.
        let mut ends = vec![24];
        for i in 0..5 {
            ends.push(ends[i] + 16 + sample(i, MAC_A).len());
        }
        prop_assert_eq!(ends[5], file.len());
        let whole = ends[1..].iter().filter(|&&e| e <= short.len()).count();
        prop_assert_eq!(frames, whole);
        prop_assert_eq!(errors, usize::from(!ends.contains(&short.len())));
        prop_assert!(r.is_finished());
    }
}
