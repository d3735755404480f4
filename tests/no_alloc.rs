//! The parse path allocates nothing: every frame of every capture, dissected under a counting
//! allocator, costs zero heap allocations. (One test per file: the counter is process-wide.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use sft3::capture::CaptureReader;
use sft3::wire::dissect;

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn dissecting_every_captured_frame_allocates_nothing() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/captures");
    let mut frames: Vec<Vec<u8>> = Vec::new();
    for dir in ["third-party", "own"] {
        let Ok(entries) = std::fs::read_dir(format!("{root}/{dir}")) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            let name = path.display().to_string();
            if !(name.ends_with(".pcap") || name.ends_with(".pcapng") || name.ends_with(".cap")) {
                continue;
            }
            let mut r = CaptureReader::open(&path).unwrap();
            while let Some(p) = r.next_packet() {
                frames.push(p.unwrap().data.to_vec());
            }
        }
    }
    assert!(frames.len() > 17_000, "captures missing: {}", frames.len());
    let before = ALLOCS.load(Ordering::Relaxed);
    let mut decoded = 0usize;
    for f in &frames {
        let d = dissect(f);
        decoded += usize::from(d.detail.is_some());
        if let Some(p) = &d.ipx {
            std::hint::black_box(p.verify_checksum());
        }
    }
    let after = ALLOCS.load(Ordering::Relaxed);
    assert!(decoded > 17_000);
    assert_eq!(
        after - before,
        0,
        "dissect allocated {} times",
        after - before
    );
}
