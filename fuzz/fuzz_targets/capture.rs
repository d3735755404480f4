//! pcap / pcapng files read to the end, twice: with the default 1 MiB buffer and with a
//! 64-byte one that has to grow and compact. Both must yield the same packets and errors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sft3::capture::CaptureReader;

/// Everything a reader says about a file, for comparing two readers.
fn read_all<R: std::io::Read>(
    reader: Result<CaptureReader<R>, sft3::capture::CaptureError>,
) -> Vec<String> {
    let mut r = match reader {
        Ok(r) => r,
        Err(e) => return vec![format!("open: {e}")],
    };
    let mut out = vec![format!(
        "{:?} {:?} {:?}",
        r.format(),
        r.link_type(),
        r.snaplen()
    )];
    while let Some(p) = r.next_packet() {
        match p {
            Ok(p) => {
                assert!(p.ts.nanos < 1_000_000_000);
                let _ = (p.ts.to_string(), format!("{:.9}", p.ts));
                out.push(format!(
                    "{:?} {} {:?} {} {:02x?}",
                    p.ts, p.orig_len, p.link_type, p.interface_id, p.data
                ));
            }
            Err(e) => out.push(format!("error: {e}")),
        }
    }
    let _ = (r.interfaces().len(), r.position());
    out
}

fuzz_target!(|data: &[u8]| {
    let big = read_all(CaptureReader::new(data));
    let small = read_all(CaptureReader::with_capacity(data, 64));
    assert_eq!(big, small, "the buffer size changed what was read");
});
