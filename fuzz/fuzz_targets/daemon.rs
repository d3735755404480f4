//! The daemon's parsers on arbitrary bytes (role messages, the configuration file, LAN frames
//! into the beacon): see `sft3_fuzz::daemon`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sft3_fuzz::daemon(data));
