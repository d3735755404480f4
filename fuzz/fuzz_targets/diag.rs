//! IPX diagnostics: the first byte picks the socket pair (which decides request or reply),
//! the rest is the IPX payload. See `sft3_fuzz::diag`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sft3::wire::addr::Socket;

/// Socket pairs: a request (to 0x0456), a reply (from it), both ends 0x0456 (the length
/// decides), and neither (not diagnostics).
const PAIRS: [(Socket, Socket); 4] = [
    (Socket(0x4008), Socket::DIAGNOSTIC),
    (Socket::DIAGNOSTIC, Socket(0x4008)),
    (Socket::DIAGNOSTIC, Socket::DIAGNOSTIC),
    (Socket(0x4008), Socket(0x4009)),
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, payload)) = data.split_first() else {
        return;
    };
    let (src, dst) = PAIRS[(sel & 3) as usize];
    sft3_fuzz::diag(src, dst, payload);
});
