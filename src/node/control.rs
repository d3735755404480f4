//! The control socket: a Unix stream socket the daemon answers one request per connection on.
//!
//! | request (one line) | answer, then the daemon closes |
//! |---|---|
//! | `status` | [`StatusSnapshot::to_text`] |
//! | `status json` | [`StatusSnapshot::to_json`] and a newline |
//! | `volume write OFFSET LENGTH`, then LENGTH bytes | once acknowledged: `ok version V mirrored true|false us N` and a newline |
//! | `volume read OFFSET LENGTH` | `ok LENGTH`, a newline, then the bytes |
//! | `volume verify` | `ok verify ID started: N regions` (progress and result in `status`) |
//! | `command promote`, `command demote`, `command shutdown`, `command survivor ID` | the role machine's operator command is queued: `ok ...`; its decision follows in the status and the log |
//! | anything else | `error: unknown request ...` and a newline |
//!
//! The socket file gets the process's umask (root-only with the usual 022); the directory is
//! created if missing. A stale socket file (nobody answers) is replaced; a live daemon on the
//! same path makes [`ControlServer::bind`] fail, so two daemons cannot share one socket.

use std::io::{self, Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener as StdListener, UnixStream as StdStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::status::StatusSnapshot;
use super::volume::{VolumeClient, MAX_IO};
use crate::role::Command;
use tokio::sync::mpsc::UnboundedSender;

/// Longest request line read.
const MAX_REQUEST: u64 = 256;
/// A client has this long to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// `query` waits this long for the answer.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// A bound control socket, not yet serving; removes its socket file when dropped.
#[derive(Debug)]
pub struct ControlServer {
    listener: Option<StdListener>,
    path: PathBuf,
}

impl ControlServer {
    /// Binds `path`: creates its directory, replaces a stale socket file, and refuses
    /// (`AddrInUse`) when a daemon already answers there or the path is not a socket.
    /// Needs no tokio runtime (the listener joins one in [`ControlServer::serve`]).
    pub fn bind(path: &Path) -> io::Result<ControlServer> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        match std::fs::symlink_metadata(path) {
            Ok(meta) if !meta.file_type().is_socket() => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a socket", path.display()),
                ));
            }
            Ok(_) => match StdStream::connect(path) {
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!("an sft3 daemon already answers on {}", path.display()),
                    ));
                }
                // Nobody listens: a stale file from a daemon that died.
                Err(_) => std::fs::remove_file(path)?,
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let listener = StdListener::bind(path).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot bind {}: {e}", path.display()))
        })?;
        listener.set_nonblocking(true)?;
        Ok(ControlServer {
            listener: Some(listener),
            path: path.to_path_buf(),
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Answers requests until the future is dropped (the socket file is then removed) or
    /// accepting fails. Must run inside a tokio runtime; each connection is its own task, so
    /// a slow client delays nobody. `get` builds the snapshot for each status request.
    pub async fn serve(
        mut self,
        get: impl Fn() -> StatusSnapshot + Send + Sync + 'static,
        volume: Option<VolumeClient>,
        commands: Option<UnboundedSender<Command>>,
    ) -> io::Result<()> {
        let std = self
            .listener
            .take()
            .ok_or_else(|| io::Error::other("control server already served"))?;
        let listener = tokio::net::UnixListener::from_std(std)?;
        let get = Arc::new(get);
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(c) => c,
                // Out of descriptors and the like: pause instead of spinning.
                Err(e) if is_transient(&e) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let get = Arc::clone(&get);
            let volume = volume.clone();
            let commands = commands.clone();
            tokio::spawn(async move {
                // A client that went away is not our problem.
                let _ = answer(stream, &*get, volume.as_ref(), commands.as_ref()).await;
            });
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        // Only the server that bound the path removes it (bind refused otherwise).
        let _ = std::fs::remove_file(&self.path);
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::ECONNABORTED)
    )
}

/// The answer to one request line.
pub fn respond(request: &str, snapshot: impl FnOnce() -> StatusSnapshot) -> String {
    let words: Vec<&str> = request.split_whitespace().collect();
    match words.as_slice() {
        ["status"] => snapshot().to_text(),
        ["status", "json"] => {
            let mut s = snapshot().to_json();
            s.push('\n');
            s
        }
        _ => format!(
            "error: unknown request {:?}; try \"status\" or \"status json\"\n",
            request.trim()
        ),
    }
}

async fn answer(
    stream: tokio::net::UnixStream,
    get: &(dyn Fn() -> StatusSnapshot + Send + Sync),
    volume: Option<&VolumeClient>,
    commands: Option<&UnboundedSender<Command>>,
) -> io::Result<()> {
    let (rd, mut wr) = stream.into_split();
    let mut line = String::new();
    let mut rd = BufReader::new(rd.take(MAX_REQUEST));
    tokio::time::timeout(REQUEST_TIMEOUT, rd.read_line(&mut line))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no request"))??;
    if line.split_whitespace().next() == Some("volume") {
        // The bytes of a write follow the line: what the line reader holds already, then
        // the rest of the stream.
        let held = rd.buffer().to_vec();
        let rest = rd.into_inner().into_inner();
        let reply = match volume {
            None => Ok(b"error: no [volume] is configured\n".to_vec()),
            Some(v) => volume_request(&line, v, held, rest).await,
        };
        let reply = reply.unwrap_or_else(|e| format!("error: {e}\n").into_bytes());
        wr.write_all(&reply).await?;
        return wr.shutdown().await;
    }
    let reply = match operator_command(&line) {
        Some(Ok(c)) => match commands.map(|tx| tx.send(c)) {
            Some(Ok(())) => format!(
                "ok {c:?} passed to the role machine; its decision follows in `sft3 status`\n"
            ),
            _ => "error: this daemon takes no operator commands\n".to_string(),
        },
        Some(Err(e)) => format!("error: {e}\n"),
        None => respond(&line, get),
    };
    wr.write_all(reply.as_bytes()).await?;
    wr.shutdown().await
}

/// `command promote|demote|shutdown|survivor ID`: the role machine's operator commands.
fn operator_command(line: &str) -> Option<Result<Command, String>> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.first() != Some(&"command") {
        return None;
    }
    Some(match words[1..] {
        ["promote"] => Ok(Command::Promote),
        ["demote"] => Ok(Command::Demote),
        ["shutdown"] => Ok(Command::Shutdown),
        ["survivor", id] => id
            .parse()
            .map(|server_id| Command::ChooseSurvivor { server_id })
            .map_err(|_| format!("survivor {id:?}: a server id (a number)")),
        _ => Err(format!(
            "unknown command {:?}: promote, demote, shutdown or survivor ID",
            line.trim()
        )),
    })
}

/// `volume write|read OFFSET LENGTH`: the answer's bytes, or why not.
async fn volume_request(
    line: &str,
    v: &VolumeClient,
    held: Vec<u8>,
    mut rest: tokio::net::unix::OwnedReadHalf,
) -> Result<Vec<u8>, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let num = |i: usize, what: &str| -> Result<u64, String> {
        words
            .get(i)
            .and_then(|w| w.parse().ok())
            .ok_or_else(|| format!("volume {}: {what} missing or not a number", words[1]))
    };
    match words.get(1).copied() {
        Some("write") if words.len() == 4 => {
            let (offset, len) = (num(2, "OFFSET")?, num(3, "LENGTH")?);
            if len == 0 || len > MAX_IO {
                return Err(format!("volume write: LENGTH is 1 to {MAX_IO}"));
            }
            let mut data = held;
            data.truncate(len as usize);
            let need = len as usize - data.len();
            let mut tail = vec![0u8; need];
            tokio::time::timeout(REQUEST_TIMEOUT, rest.read_exact(&mut tail))
                .await
                .map_err(|_| format!("volume write: {len} bytes announced, fewer sent"))?
                .map_err(|e| format!("volume write: reading the bytes: {e}"))?;
            data.extend_from_slice(&tail);
            let d = v.write(offset, data).await?;
            Ok(format!(
                "ok version {} mirrored {} us {}\n",
                d.version, d.mirrored, d.micros
            )
            .into_bytes())
        }
        Some("verify") if words.len() == 2 => Ok(format!("ok {}\n", v.verify().await?).into_bytes()),
        Some("read") if words.len() == 4 => {
            let (offset, len) = (num(2, "OFFSET")?, num(3, "LENGTH")?);
            let bytes = v.read(offset, len).await?;
            let mut out = format!("ok {}\n", bytes.len()).into_bytes();
            out.extend_from_slice(&bytes);
            Ok(out)
        }
        _ => Err(format!(
            "unknown volume request {:?}; try \"volume write OFFSET LENGTH\" or \"volume read OFFSET LENGTH\"",
            line.trim()
        )),
    }
}

/// Sends a `volume` request (`header` is its line, `payload` the bytes that follow, if
/// any) to the daemon at `path`; returns the answer's bytes.
pub fn query_bytes(path: &Path, header: &str, payload: &[u8]) -> io::Result<Vec<u8>> {
    let mut s = connect(path)?;
    s.set_read_timeout(Some(QUERY_TIMEOUT))?;
    s.set_write_timeout(Some(QUERY_TIMEOUT))?;
    s.write_all(header.trim_end().as_bytes())?;
    s.write_all(b"\n")?;
    s.write_all(payload)?;
    s.shutdown(std::net::Shutdown::Write)?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("no answer from the daemon at {}: {e}", path.display()),
        )
    })?;
    Ok(out)
}

/// Sends one request to the daemon at `path` and returns its answer. When nobody listens,
/// the error says so: `no sft3 daemon at PATH: is `sft3 run` running?`.
pub fn query(path: &Path, request: &str) -> io::Result<String> {
    let out = query_bytes(path, request, &[])?;
    String::from_utf8(out).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the daemon at {} answered with bytes that are not text",
                path.display()
            ),
        )
    })
}

fn connect(path: &Path) -> io::Result<StdStream> {
    StdStream::connect(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => io::Error::new(
            e.kind(),
            format!(
                "no sft3 daemon at {}: is `sft3 run` running?",
                path.display()
            ),
        ),
        io::ErrorKind::PermissionDenied => io::Error::new(
            e.kind(),
            format!(
                "permission denied on {}: run as the daemon's user (root)",
                path.display()
            ),
        ),
        _ => io::Error::new(
            e.kind(),
            format!("cannot connect to {}: {e}", path.display()),
        ),
    })
}
