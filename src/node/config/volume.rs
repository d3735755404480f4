//! `[volume]`: the mirrored volume and its change journal (optional: without the section
//! the daemon mirrors roles only, with no data).
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `path` | required | the volume: a regular file (created at `size` if missing) or a block device |
//! | `size` | the file's or device's size | bytes, or with a unit: `512MiB`, `1GiB` (KiB, MiB, GiB: powers of 1024; K, M, G: of 1000); a whole number of 4 KiB blocks |
//! | `region_size` | `64KiB` ([`DEFAULT_REGION_SIZE`], why there) | the unit of change tracking and resync: a power of two, 4 KiB to 16 MiB |
//! | `journal` | `path` + `.journal` | the change journal file |
//! | `resync_window` | 32 | region copies in flight during a resync |
//! | `resync_rate` | 0 (unlimited) | resync bytes per second at most, suffixes as `size`; client writes always go first |

use std::path::{Path, PathBuf};

use super::{key_err, ConfigError, Section};
use crate::journal::DEFAULT_REGION_SIZE;
use crate::units::parse_size;

/// `[volume]`, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeSection {
    /// The volume file or block device.
    pub path: PathBuf,
    /// The configured size (a file is created at this size; an existing one must match).
    pub size: Option<u64>,
    /// Bytes per region.
    pub region_size: u32,
    /// The change journal file.
    pub journal: PathBuf,
    /// Region copies in flight during a resync.
    pub resync_window: usize,
    /// Resync bytes per second at most (0: unlimited).
    pub resync_rate: u64,
}

impl Section {
    /// A size key: an integer or a string with a unit.
    fn size(&mut self, k: &str) -> Result<Option<u64>, ConfigError> {
        match self.take(k) {
            None => Ok(None),
            Some(toml::Value::Integer(i)) if i >= 0 => Ok(Some(i as u64)),
            Some(toml::Value::String(s)) => parse_size(&s)
                .map(Some)
                .map_err(|r| key_err(self.key(k), r)),
            Some(v) => Err(key_err(
                self.key(k),
                format!("expected a byte count, found {}", v.type_str()),
            )),
        }
    }
}

pub(super) fn parse(
    root: &mut toml::Table,
    base: Option<&Path>,
) -> Result<Option<VolumeSection>, ConfigError> {
    let Some(mut s) = super::table(root, "volume")? else {
        return Ok(None);
    };
    let path = s
        .string("path")?
        .ok_or_else(|| key_err(s.key("path"), "required key missing"))?;
    if path.is_empty() {
        return Err(key_err(s.key("path"), "empty path"));
    }
    let path = super::resolve(base, &path);
    let size = s.size("size")?;
    if let Some(n) = size {
        if n == 0 || !n.is_multiple_of(4096) {
            return Err(key_err(
                s.key("size"),
                format!("{n}: a volume is a whole, non-zero number of 4 KiB blocks"),
            ));
        }
    }
    let region_size = s.size("region_size")?.unwrap_or(DEFAULT_REGION_SIZE as u64);
    if !region_size.is_power_of_two() || !(4096..=16 << 20).contains(&region_size) {
        return Err(key_err(
            s.key("region_size"),
            format!("{region_size}: a power of two from 4KiB to 16MiB"),
        ));
    }
    let journal = match s.string("journal")? {
        Some(j) if j.is_empty() => return Err(key_err(s.key("journal"), "empty path")),
        Some(j) => super::resolve(base, &j),
        None => {
            let mut p = path.clone().into_os_string();
            p.push(".journal");
            PathBuf::from(p)
        }
    };
    if journal == path {
        return Err(key_err(
            s.key("journal"),
            "the journal cannot be the volume itself",
        ));
    }
    let resync_window = s.int("resync_window", 1, 4096)?.unwrap_or(32) as usize;
    let resync_rate = s.size("resync_rate")?.unwrap_or(0);
    s.finish()?;
    Ok(Some(VolumeSection {
        path,
        size,
        region_size: region_size as u32,
        journal,
        resync_window,
        resync_rate,
    }))
}
