//! Helpers shared by the integration tests.
#![allow(dead_code)]

/// Decodes tcpdump-style hex (whitespace and `0x0000:` offsets ignored) into bytes.
pub fn hex(s: &str) -> Vec<u8> {
    let digits: String = s.split_whitespace().filter(|w| !w.ends_with(':')).collect();
    assert!(digits.len().is_multiple_of(2), "odd number of hex digits");
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("hex digit"))
        .collect()
}
