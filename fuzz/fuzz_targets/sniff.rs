//! The failover benchmark's frame classifier on arbitrary bytes: see `sft3_fuzz::sniff`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sft3_fuzz::sniff(data));
