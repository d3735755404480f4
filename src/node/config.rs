//! The daemon's configuration file (TOML), documented key by key in `docs/config.md`.
//!
//! | section | keys (default) |
//! |---|---|
//! | `[server]` | `id` (required), `name` (required), `priority` (0), `incarnation` (the clock at start), `rt_priority` (50; 0 = off) |
//! | `[msl]` | `interface` (required), `heartbeat_ms` (5), `silent_after` (4), `key_file` (none) |
//! | `[[lan]]` ×1..8 | `interface` (required), `net` (required), `framing` (`ethernet_ii`) |
//! | `[beacon]` | `interval_ms` (5), `silent_after` (4) |
//! | `[engine]` | `net` (required) |
//! | `[paths]` | `log_file` ([`DEFAULT_LOG_FILE`]), `control_socket` ([`DEFAULT_CONTROL_SOCKET`]) |
//! | `[role]` | `startup_wait_ms` (100), `stall_fence_ms` (15; 0 = off) |
//! | `[volume]` (optional) | `path` (required), `size`, `region_size` (64 KiB), `journal`, `resync_window` (32), `resync_rate` (0): see [`volume`] |
//!
//! The file is read into a [`toml::Table`] and walked by hand rather than through derived
//! `Deserialize` impls, so that every error names its key with its full path
//! (`[lan][1].net: "xyz" is not a hex IPX network number`) and every key this build does
//! not know is an error (the effect of `deny_unknown_fields`). Relative paths (`key_file`,
//! `log_file`, `control_socket`) are taken relative to the configuration file's directory.

use core::fmt;
use core::time::Duration;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::wire::addr::Net;
use crate::wire::auth::AuthKey;
use crate::wire::ethernet::Framing;
use crate::wire::state::{MAX_ADAPTERS, NAME_LEN};

pub mod volume;
pub use volume::VolumeSection;

/// The default admin log file.
pub const DEFAULT_LOG_FILE: &str = "/var/log/sft3/admin.log";
/// The default control socket (also what `sft3 status` asks without `--socket`/`--config`).
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/sft3/control.sock";

/// A configuration that could not be read or is not valid.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The text is not TOML.
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A key is missing, unknown, of the wrong type or out of range.
    #[error("{key}: {reason}")]
    Key {
        /// The key's path, e.g. `[lan][1].net` (a section alone for section-wide errors).
        key: String,
        /// Why it was refused.
        reason: String,
    },
}

fn key_err(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Key {
        key: key.into(),
        reason: reason.into(),
    }
}

/// `[server]`: who this server is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSection {
    /// The server id: unique in the pair, the last tie-break.
    pub id: u64,
    /// The server name (printable ASCII, at most [`NAME_LEN`] bytes).
    pub name: String,
    /// Tie-break preference, higher wins.
    pub priority: u8,
    /// The incarnation, when configured (tests); `None`: the clock at start, see
    /// [`NodeConfig::incarnation`].
    pub incarnation: Option<u64>,
    /// SCHED_FIFO priority (1..=99) of the MSL driver and control plane threads; 0 keeps
    /// them on the normal scheduler at nice −10.
    pub rt_priority: u8,
}

impl ServerSection {
    /// The name as a NUL-padded field (state packets, MSL hello).
    pub fn name_field(&self) -> [u8; NAME_LEN] {
        let mut f = [0u8; NAME_LEN];
        // Validated at load: ASCII, at most NAME_LEN bytes.
        let n = self.name.len().min(NAME_LEN);
        f[..n].copy_from_slice(&self.name.as_bytes()[..n]);
        f
    }
}

/// `[msl]`: the Mirrored Server Link adapter.
#[derive(Clone, PartialEq, Eq)]
pub struct MslSection {
    /// The dedicated MSL interface.
    pub interface: String,
    /// Heartbeat (and hello) interval in ms.
    pub heartbeat_ms: u64,
    /// The peer is silent after this many heartbeat intervals without a valid frame.
    pub silent_after: u32,
    /// The key file, as configured (resolved against the configuration's directory).
    pub key_file: Option<PathBuf>,
    /// The key read from `key_file`: MSL frames and state packets are then authenticated.
    pub key: Option<AuthKey>,
}

impl MslSection {
    /// The heartbeat interval.
    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms)
    }
}

impl fmt::Debug for MslSection {
    // Never print the key itself (the config may be logged).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MslSection")
            .field("interface", &self.interface)
            .field("heartbeat_ms", &self.heartbeat_ms)
            .field("silent_after", &self.silent_after)
            .field("key_file", &self.key_file)
            .field("key", &self.key.map(|_| "<32 bytes>"))
            .finish()
    }
}

/// One `[[lan]]` adapter; its position in the file is its adapter index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LanSection {
    /// The interface.
    pub interface: String,
    /// The segment's IPX network number.
    pub net: Net,
    /// The framing used on it.
    pub framing: Framing,
}

/// `[beacon]`: the server-state packets on the LAN adapters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BeaconSection {
    /// Interval between two state packets on one adapter, in ms.
    pub interval_ms: u64,
    /// A LAN path is silent after this many intervals without a valid packet.
    pub silent_after: u32,
}

impl BeaconSection {
    /// The state-packet interval.
    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
    }
}

/// `[engine]`: the file-service engine's identity on the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineSection {
    /// The engine's internal IPX network (advertised by the primary).
    pub net: Net,
}

/// `[paths]`: files the daemon writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathsSection {
    /// The append-only admin log.
    pub log_file: PathBuf,
    /// The control socket `sft3 status` connects to.
    pub control_socket: PathBuf,
}

/// `[role]`: the role machine's tunables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleSection {
    /// How long a starting server looks for a peer before serving alone, in ms.
    pub startup_wait_ms: u64,
    /// The stall fence in ms (0: off): after a gap this long between two runs of the role
    /// machine, a primary whose peer could have taken over stops serving.
    pub stall_fence_ms: u64,
}

impl RoleSection {
    /// The startup wait.
    pub fn startup_wait(&self) -> Duration {
        Duration::from_millis(self.startup_wait_ms)
    }

    /// The stall fence, `None` when off.
    pub fn stall_fence(&self) -> Option<Duration> {
        (self.stall_fence_ms > 0).then(|| Duration::from_millis(self.stall_fence_ms))
    }
}

/// One server's daemon configuration, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    /// `[server]`.
    pub server: ServerSection,
    /// `[msl]`.
    pub msl: MslSection,
    /// `[[lan]]`, in adapter-index order (1 to [`MAX_ADAPTERS`]).
    pub lan: Vec<LanSection>,
    /// `[beacon]`.
    pub beacon: BeaconSection,
    /// `[engine]`.
    pub engine: EngineSection,
    /// `[paths]`.
    pub paths: PathsSection,
    /// `[role]`.
    pub role: RoleSection,
    /// `[volume]`, if configured.
    pub volume: Option<VolumeSection>,
}

impl NodeConfig {
    /// Reads and validates the file at `path`; relative paths in it are taken relative to
    /// its directory.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().filter(|p| !p.as_os_str().is_empty());
        parse(&text, base)
    }

    /// Validates configuration text; relative paths stay relative (to the working
    /// directory).
    pub fn from_toml_str(text: &str) -> Result<NodeConfig, ConfigError> {
        parse(text, None)
    }

    /// The configured incarnation, or else `CLOCK_REALTIME` in ns now: call once at start
    /// (a restarted process must announce a larger one than before).
    pub fn incarnation(&self) -> u64 {
        self.server.incarnation.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                .max(1)
        })
    }
}

/// The keys of one table, taken one by one; what is left at the end is unknown.
struct Section {
    path: String,
    table: toml::Table,
}

impl Section {
    fn new(path: String, table: toml::Table) -> Section {
        Section { path, table }
    }

    fn key(&self, k: &str) -> String {
        format!("{}.{k}", self.path)
    }

    fn take(&mut self, k: &str) -> Option<toml::Value> {
        self.table.remove(k)
    }

    fn string(&mut self, k: &str) -> Result<Option<String>, ConfigError> {
        match self.take(k) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(key_err(
                self.key(k),
                format!("expected a string, found {}", v.type_str()),
            )),
        }
    }

    fn required_string(&mut self, k: &str) -> Result<String, ConfigError> {
        self.string(k)?
            .ok_or_else(|| key_err(self.key(k), "required key missing"))
    }

    fn int(&mut self, k: &str, min: i64, max: i64) -> Result<Option<i64>, ConfigError> {
        match self.take(k) {
            None => Ok(None),
            Some(toml::Value::Integer(i)) if (min..=max).contains(&i) => Ok(Some(i)),
            Some(toml::Value::Integer(i)) => Err(key_err(
                self.key(k),
                format!("{i} is out of range ({min} ..= {max})"),
            )),
            Some(v) => Err(key_err(
                self.key(k),
                format!("expected an integer, found {}", v.type_str()),
            )),
        }
    }

    fn net(&mut self, k: &str) -> Result<Net, ConfigError> {
        let s = self.required_string(k)?;
        let net: Net = s.parse().map_err(|_| {
            key_err(
                self.key(k),
                format!("{s:?} is not a hex IPX network number"),
            )
        })?;
        if net == Net::LOCAL || net == Net::ALL {
            return Err(key_err(
                self.key(k),
                format!("{s:?}: 00000000 and ffffffff are reserved network numbers"),
            ));
        }
        Ok(net)
    }

    fn path(
        &mut self,
        k: &str,
        default: &str,
        base: Option<&Path>,
    ) -> Result<PathBuf, ConfigError> {
        let s = self.string(k)?.unwrap_or_else(|| default.to_string());
        if s.is_empty() {
            return Err(key_err(self.key(k), "empty path"));
        }
        Ok(resolve(base, &s))
    }

    /// Ends the walk: any key left is unknown.
    fn finish(self) -> Result<(), ConfigError> {
        match self.table.keys().next() {
            None => Ok(()),
            Some(k) => Err(key_err(
                format!("{}.{k}", self.path),
                "unknown key (see docs/config.md)",
            )),
        }
    }
}

fn resolve(base: Option<&Path>, s: &str) -> PathBuf {
    let p = PathBuf::from(s);
    match base {
        Some(b) if p.is_relative() => b.join(p),
        _ => p,
    }
}

/// Takes a sub-table; `None` when absent.
fn table(root: &mut toml::Table, name: &str) -> Result<Option<Section>, ConfigError> {
    match root.remove(name) {
        None => Ok(None),
        Some(toml::Value::Table(t)) => Ok(Some(Section::new(format!("[{name}]"), t))),
        Some(v) => Err(key_err(
            format!("[{name}]"),
            format!("expected a table, found {}", v.type_str()),
        )),
    }
}

fn required_table(root: &mut toml::Table, name: &str) -> Result<Section, ConfigError> {
    table(root, name)?.ok_or_else(|| key_err(format!("[{name}]"), "required section missing"))
}

fn optional_table(root: &mut toml::Table, name: &str) -> Result<Section, ConfigError> {
    Ok(table(root, name)?.unwrap_or_else(|| Section::new(format!("[{name}]"), toml::Table::new())))
}

fn syntax_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let (line, column) = match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            (line, column)
        }
        None => (0, 0),
    };
    ConfigError::Syntax {
        line,
        column,
        message: e.message().trim().to_string(),
    }
}

fn interface(s: &mut Section, k: &str) -> Result<String, ConfigError> {
    let name = s.required_string(k)?;
    // IFNAMSIZ is 16 with the NUL; the kernel also refuses "/", whitespace, "." and "..".
    let ok = !name.is_empty()
        && name.len() < 16
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|c| c.is_ascii_graphic() && c != b'/' && c != b':');
    if !ok {
        return Err(key_err(
            s.key(k),
            format!(
                "{name:?} is not an interface name (1 to 15 characters, no '/', ':' or spaces)"
            ),
        ));
    }
    Ok(name)
}

/// Reads a key file: exactly 32 bytes, or 64 hex digits (whitespace around them allowed).
fn read_key(key: &str, path: &Path) -> Result<AuthKey, ConfigError> {
    let bytes = std::fs::read(path)
        .map_err(|e| key_err(key, format!("cannot read {}: {e}", path.display())))?;
    if bytes.len() == 32 {
        let mut k = [0u8; 32];
        k.copy_from_slice(&bytes);
        return Ok(k);
    }
    let text = core::str::from_utf8(&bytes).map(str::trim).unwrap_or("");
    if text.len() == 64 && text.bytes().all(|c| c.is_ascii_hexdigit()) {
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            // Checked above: 64 ASCII hex digits.
            *b = u8::from_str_radix(text.get(2 * i..2 * i + 2).unwrap_or("00"), 16).unwrap_or(0);
        }
        return Ok(k);
    }
    Err(key_err(
        key,
        format!(
            "{}: expected 32 raw bytes or 64 hex digits, found {} bytes",
            path.display(),
            bytes.len()
        ),
    ))
}

fn ms(s: &mut Section, k: &str, default: u64, min: i64, max: i64) -> Result<u64, ConfigError> {
    // Ranges are non-negative, so the cast is exact.
    Ok(s.int(k, min, max)?.map_or(default, |v| v as u64))
}

fn parse(text: &str, base: Option<&Path>) -> Result<NodeConfig, ConfigError> {
    let mut root: toml::Table = text.parse().map_err(|e| syntax_error(text, &e))?;

    let mut s = required_table(&mut root, "server")?;
    let id = s
        .int("id", 1, i64::MAX)?
        .ok_or_else(|| key_err(s.key("id"), "required key missing"))? as u64;
    let name = s.required_string("name")?;
    if name.is_empty() || name.len() > NAME_LEN || !name.bytes().all(|c| c.is_ascii_graphic()) {
        return Err(key_err(
            s.key("name"),
            format!("{name:?}: 1 to {NAME_LEN} printable ASCII characters without spaces"),
        ));
    }
    let priority = s.int("priority", 0, 255)?.unwrap_or(0) as u8;
    let incarnation = s.int("incarnation", 1, i64::MAX)?.map(|v| v as u64);
    let rt_priority = s.int("rt_priority", 0, 99)?.unwrap_or(50) as u8;
    s.finish()?;
    let server = ServerSection {
        id,
        name,
        priority,
        incarnation,
        rt_priority,
    };

    let mut s = required_table(&mut root, "msl")?;
    let msl_if = interface(&mut s, "interface")?;
    let heartbeat_ms = ms(&mut s, "heartbeat_ms", 5, 1, 10_000)?;
    let msl_silent = ms(&mut s, "silent_after", 4, 2, 1000)? as u32;
    let key_file = s.string("key_file")?;
    let (key_file, key) = match key_file {
        None => (None, None),
        Some(f) if f.is_empty() => return Err(key_err(s.key("key_file"), "empty path")),
        Some(f) => {
            let p = resolve(base, &f);
            let k = read_key(&s.key("key_file"), &p)?;
            (Some(p), Some(k))
        }
    };
    s.finish()?;
    let msl = MslSection {
        interface: msl_if,
        heartbeat_ms,
        silent_after: msl_silent,
        key_file,
        key,
    };

    let lan = parse_lan(&mut root, &msl.interface)?;

    let mut s = optional_table(&mut root, "beacon")?;
    let beacon = BeaconSection {
        interval_ms: ms(&mut s, "interval_ms", 5, 1, 10_000)?,
        silent_after: ms(&mut s, "silent_after", 4, 2, 1000)? as u32,
    };
    s.finish()?;

    let mut s = required_table(&mut root, "engine")?;
    let engine = EngineSection { net: s.net("net")? };
    if let Some(i) = lan.iter().position(|l| l.net == engine.net) {
        return Err(key_err(
            s.key("net"),
            format!("{} is also the network of [lan][{i}]", engine.net),
        ));
    }
    s.finish()?;

    let mut s = optional_table(&mut root, "paths")?;
    let paths = PathsSection {
        log_file: s.path("log_file", DEFAULT_LOG_FILE, base)?,
        control_socket: s.path("control_socket", DEFAULT_CONTROL_SOCKET, base)?,
    };
    s.finish()?;

    let mut s = optional_table(&mut root, "role")?;
    let role = RoleSection {
        startup_wait_ms: ms(&mut s, "startup_wait_ms", 100, 0, 600_000)?,
        stall_fence_ms: ms(&mut s, "stall_fence_ms", 15, 0, 10_000)?,
    };
    s.finish()?;

    let volume = volume::parse(&mut root, base)?;

    if let Some(k) = root.keys().next() {
        return Err(key_err(
            k.clone(),
            "unknown key or section (see docs/config.md)",
        ));
    }
    Ok(NodeConfig {
        server,
        msl,
        lan,
        beacon,
        engine,
        paths,
        role,
        volume,
    })
}

fn parse_lan(root: &mut toml::Table, msl_if: &str) -> Result<Vec<LanSection>, ConfigError> {
    let items = match root.remove("lan") {
        None => return Err(key_err("[[lan]]", "at least one LAN adapter is required")),
        Some(toml::Value::Array(a)) => a,
        Some(v) => {
            return Err(key_err(
                "[[lan]]",
                format!("expected an array of tables, found {}", v.type_str()),
            ))
        }
    };
    if items.is_empty() || items.len() > MAX_ADAPTERS {
        return Err(key_err(
            "[[lan]]",
            format!("{} adapters: 1 to {MAX_ADAPTERS} are allowed", items.len()),
        ));
    }
    let mut lan: Vec<LanSection> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let path = format!("[lan][{i}]");
        let t = match item {
            toml::Value::Table(t) => t,
            v => {
                return Err(key_err(
                    path,
                    format!("expected a table, found {}", v.type_str()),
                ))
            }
        };
        let mut s = Section::new(path, t);
        let name = interface(&mut s, "interface")?;
        if name == msl_if {
            return Err(key_err(
                s.key("interface"),
                format!("{name:?} is the MSL interface; the MSL needs its own adapter"),
            ));
        }
        if let Some(j) = lan.iter().position(|l| l.interface == name) {
            return Err(key_err(
                s.key("interface"),
                format!("{name:?} is already [lan][{j}]"),
            ));
        }
        let net = s.net("net")?;
        let framing = match s.string("framing")? {
            None => Framing::EthernetII,
            Some(f) => Framing::from_name(&f).ok_or_else(|| {
                key_err(
                    s.key("framing"),
                    format!("{f:?}: expected \"ethernet_ii\", \"802.3\", \"802.2\" or \"snap\""),
                )
            })?,
        };
        s.finish()?;
        lan.push(LanSection {
            interface: name,
            net,
            framing,
        });
    }
    Ok(lan)
}
