//! The rip parser on arbitrary bytes (an IPX payload): see `sft3_fuzz::rip`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sft3_fuzz::rip(data));
