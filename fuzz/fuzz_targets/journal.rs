//! The change journal's header and page formats, and opening a journal file of any bytes:
//! see `sft3_fuzz::journal`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sft3_fuzz::journal(data));
