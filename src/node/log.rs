//! The admin log: every decision as one timestamped line on the console (stderr) and
//! appended to a file, flushed at once.
//!
//! ```text
//! 2026-11-25T02:30:00.123456Z WARNING secondary server is down; still the primary server (MSL silent 21 ms; lan0 silent 22 ms)
//! ```
//!
//! The time is the wall clock (RFC 3339, UTC, microseconds), then the severity, the
//! notice's SFT III wording ([`crate::role::text`]) and its evidence in parentheses.
//! The daemon's own lines (started, stopping) use the same shape with [`AdminLog::info`].

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::status::rfc3339;
use crate::role::{Notice, Severity};

/// The console and the append-only log file.
#[derive(Debug)]
pub struct AdminLog {
    file: File,
    path: PathBuf,
    /// Writes to the file that failed (the console line still went out).
    write_errors: u64,
}

impl AdminLog {
    /// Opens (creating it and its directories) the log file at `path` for appending.
    pub fn open(path: &Path) -> io::Result<AdminLog> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                io::Error::new(e.kind(), format!("cannot open {}: {e}", path.display()))
            })?;
        Ok(AdminLog {
            file,
            path: path.to_path_buf(),
            write_errors: 0,
        })
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many lines could not be written to the file.
    pub fn write_errors(&self) -> u64 {
        self.write_errors
    }

    /// Logs a role decision (`wall`: when it was taken, on the wall clock).
    pub fn notice(&mut self, wall: SystemTime, notice: &Notice) {
        let line = notice_line(wall, notice);
        self.emit(&line);
    }

    /// Logs a line of the daemon's own (start, stop, errors) with a severity.
    pub fn message(&mut self, wall: SystemTime, severity: Severity, text: &str) {
        let line = format!("{} {} {}", rfc3339(wall), severity.name(), text);
        self.emit(&line);
    }

    /// [`AdminLog::message`] at [`Severity::Info`].
    pub fn info(&mut self, wall: SystemTime, text: &str) {
        self.message(wall, Severity::Info, text);
    }

    fn emit(&mut self, line: &str) {
        // One write per line, so a concurrent reader never sees half a line.
        let mut buf = String::with_capacity(line.len() + 1);
        buf.push_str(line);
        buf.push('\n');
        let _ = io::stderr().lock().write_all(buf.as_bytes());
        if let Err(e) = self
            .file
            .write_all(buf.as_bytes())
            .and_then(|()| self.file.flush())
        {
            self.write_errors += 1;
            // Say it once, then only count: a full disk must not flood the console.
            if self.write_errors == 1 {
                let _ = writeln!(
                    io::stderr().lock(),
                    "{} WARNING admin log {}: {e} (further errors only counted)",
                    rfc3339(SystemTime::now()),
                    self.path.display()
                );
            }
        }
    }
}

/// The line [`AdminLog::notice`] writes, without the newline.
pub fn notice_line(wall: SystemTime, notice: &Notice) -> String {
    let mut s = format!(
        "{} {} {}",
        rfc3339(wall),
        notice.severity.name(),
        notice.text
    );
    if !notice.evidence.is_empty() {
        s.push_str(" (");
        // One line per notice, whatever the evidence holds.
        s.push_str(&notice.evidence.replace(['\n', '\r'], " "));
        s.push(')');
    }
    s
}
