//! The sap parser on arbitrary bytes (an IPX payload): see `sft3_fuzz::sap`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sft3_fuzz::sap(data));
