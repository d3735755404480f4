//! Timestamps in tcpdump's styles, without a time-zone database (always UTC).

use std::fmt::{self, Write};

/// How to print the time of each frame (tcpdump's `-t` count).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsStyle {
    /// `10:06:29.360507` (default).
    TimeOfDay,
    /// No timestamp (`-t`).
    None,
    /// Seconds since the epoch (`-tt`).
    Epoch,
    /// Delta since the previous frame (`-ttt`).
    Delta,
    /// Date and time (`-tttt`).
    DateTime,
}

impl TsStyle {
    /// The style for a count of `-t` flags.
    pub fn from_count(n: u8) -> TsStyle {
        match n {
            0 => TsStyle::TimeOfDay,
            1 => TsStyle::None,
            2 => TsStyle::Epoch,
            3 => TsStyle::Delta,
            _ => TsStyle::DateTime,
        }
    }
}

pub use sft3::capture::civil_from_days;

/// The days [`civil_from_days`] takes without overflow, with room to spare (about ±3e15
/// years); timestamps beyond print as its ends.
const DAYS_LIMIT: i128 = 1 << 50;

/// Writes `ns` (nanoseconds since the epoch) in `style`; `prev_ns` feeds the delta style.
/// Writes nothing (not even a space) for [`TsStyle::None`]; otherwise a trailing space.
/// Any `i128` is fine: nothing wraps.
pub fn write_ts(out: &mut impl Write, style: TsStyle, ns: i128, prev_ns: i128) -> fmt::Result {
    let secs = ns.div_euclid(1_000_000_000);
    let micros = (ns.rem_euclid(1_000_000_000) / 1000) as u32;
    match style {
        TsStyle::None => Ok(()),
        TsStyle::Epoch => write!(out, "{secs}.{micros:06} "),
        TsStyle::Delta => {
            // tcpdump 4.99: a sign (space or `-`), then the magnitude as hours:minutes:seconds
            // within a day, as its ts_hmsfrac_print does.
            let d = ns.saturating_sub(prev_ns);
            let sign = if d < 0 { '-' } else { ' ' };
            let d = d.unsigned_abs();
            let ds = (d / 1_000_000_000 % 86_400) as u32;
            let du = (d % 1_000_000_000 / 1000) as u32;
            write!(
                out,
                "{sign}{:02}:{:02}:{:02}.{du:06} ",
                ds / 3600,
                ds / 60 % 60,
                ds % 60
            )
        }
        TsStyle::TimeOfDay | TsStyle::DateTime => {
            let days = secs.div_euclid(86_400).clamp(-DAYS_LIMIT, DAYS_LIMIT) as i64;
            let sod = secs.rem_euclid(86_400) as u32;
            if style == TsStyle::DateTime {
                let (y, m, d) = civil_from_days(days);
                write!(out, "{y:04}-{m:02}-{d:02} ")?;
            }
            write!(
                out,
                "{:02}:{:02}:{:02}.{micros:06} ",
                sod / 3600,
                sod / 60 % 60,
                sod % 60
            )
        }
    }
}

/// The timestamp as JSON wants it: seconds since the epoch with microseconds (`1214474789.360507`).
pub fn write_epoch(out: &mut impl Write, ns: i128) -> fmt::Result {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000) / 1000;
    write!(out, "{secs}.{frac:06}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_tcpdump() {
        // tcpdump ipx.pcap frame 1: 2008-06-26 10:06:29.360507 (GMT).
        let ns = 1_214_474_789_360_507_000i128;
        let mut v = String::new();
        write_ts(&mut v, TsStyle::DateTime, ns, 0).unwrap();
        assert_eq!(v, "2008-06-26 10:06:29.360507 ");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    fn ts(style: TsStyle, ns: i128, prev: i128) -> String {
        let mut v = String::new();
        write_ts(&mut v, style, ns, prev).unwrap();
        v
    }

    #[test]
    fn deltas_match_tcpdump_4_99() {
        let s = 1_000_000_000i128;
        assert_eq!(ts(TsStyle::Delta, 5 * s, 5 * s), " 00:00:00.000000 ");
        assert_eq!(ts(TsStyle::Delta, s + 1_000_000, s), " 00:00:00.001000 ");
        assert_eq!(ts(TsStyle::Delta, 3725 * s + 7000, 0), " 01:02:05.000007 ");
        assert_eq!(ts(TsStyle::Delta, 0, s), "-00:00:01.000000 ");
    }

    #[test]
    fn huge_timestamps_do_not_wrap() {
        let huge = i128::MAX;
        for style in [
            TsStyle::Epoch,
            TsStyle::Delta,
            TsStyle::TimeOfDay,
            TsStyle::DateTime,
        ] {
            let _ = ts(style, huge, i128::MIN);
            let _ = ts(style, i128::MIN, huge);
        }
        // Past i64 seconds: the epoch style prints the true value, not a wrapped one.
        let ns = (i128::from(i64::MAX) + 1) * 1_000_000_000;
        assert_eq!(ts(TsStyle::Epoch, ns, 0), "9223372036854775808.000000 ");
        assert!(!ts(TsStyle::DateTime, ns, 0).starts_with('-'));
    }
}
