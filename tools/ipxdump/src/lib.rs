//! The library half of `ipxdump`: filter expressions, text and JSON output, statistics. Kept
//! apart from the command line so tests and fuzz targets can reach them. Decoding itself is
//! the sft3 library's [`sft3::wire::dissect`].

pub mod describe;
pub mod filter;
mod ip;
pub mod json;
pub mod stats;
pub mod text;
pub mod timefmt;

use filter::{Facts, IpxFacts};
use sft3::wire::Dissection;

/// What the filter sees of a frame (`d` is `None` for a non-Ethernet link type).
pub fn facts(d: Option<&Dissection<'_>>) -> Facts {
    let Some(d) = d else {
        return Facts {
            error: true,
            ..Facts::default()
        };
    };
    Facts {
        framing: d.framing,
        ipx: d.ipx.as_ref().map(|p| IpxFacts {
            packet_type: p.packet_type(),
            src: p.src(),
            dst: p.dst(),
        }),
        proto: d.proto.map(|p| p.name()),
        error: d.error.is_some(),
    }
}
