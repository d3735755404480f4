//! Byte counts as people write them (`1GiB`, `256MiB`, `1500`), for the command line and
//! the configuration alike.

/// Parses a byte count: a number with an optional suffix `K`/`M`/`G` (×1000^n),
/// `KiB`/`MiB`/`GiB` (×1024^n) or `B`, e.g. `1GiB`, `256MiB`, `1500`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        _ => {
            return Err(format!(
                "`{s}`: unknown unit (use B, KiB, MiB, GiB, K, M, G)"
            ))
        }
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("`{s}`: not a size (e.g. 1GiB, 256MiB, 1500)"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("`{s}`: not a size"));
    }
    Ok((v * mult as f64).round() as u64)
}
