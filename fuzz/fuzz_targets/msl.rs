//! The msl parser on arbitrary bytes (an IPX payload, an MSL frame after its link header, or a whole MSL Ethernet frame): see `sft3_fuzz::msl`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sft3_fuzz::msl(data));
