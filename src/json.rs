//! The one JSON string escaper of the crate's hand-written JSON (`sft3 lab status --json`,
//! `sft3 bench`, `sft3 status --json`): the root crate has no serde_json.

use core::fmt::Write;

/// A JSON string literal: quotes, backslashes and control characters escaped.
pub(crate) fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
