//! `sft3 lab ...`: the command line over [`Lab`].

use clap::{Args, Subcommand, ValueEnum};

use super::daemon::{self, DaemonOptions, Servers};
use super::{FaultAction, ForwardSpec, Lab, LabConfig, LabError};

/// `sft3 lab`: network namespaces on this host as test servers and clients.
#[derive(Args, Debug)]
pub struct LabArgs {
    /// Prefix of every namespace, interface and nftables table.
    #[arg(long, global = true, default_value = "sft-")]
    pub prefix: String,
    /// LAN adapters per server.
    #[arg(long, global = true, default_value_t = 1)]
    pub lan_adapters: u8,
    /// Client namespaces.
    #[arg(long, global = true, default_value_t = 2)]
    pub clients: u16,
    /// MTU of the LAN.
    #[arg(long, global = true, default_value_t = 1500)]
    pub lan_mtu: u32,
    /// MTU of the MSL.
    #[arg(long, global = true, default_value_t = 9000)]
    pub msl_mtu: u32,
    /// What to do.
    #[command(subcommand)]
    pub cmd: LabCmd,
}

/// The lab's subcommands.
#[derive(Subcommand, Debug)]
pub enum LabCmd {
    /// Build the lab, or finish and repair a partial one (a no-op when complete).
    Up,
    /// Remove every namespace and link of the lab (whatever is left of it).
    Down,
    /// Show namespaces, links (carrier, operstate) and faults in force.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Inject or remove faults.
    #[command(subcommand)]
    Fault(FaultCmd),
    /// The delay forwarder itself (started by `fault delay`).
    #[command(hide = true)]
    Forward {
        /// Namespace to run in.
        ns: String,
        /// Device frames arrive on.
        from: String,
        /// Device to send them out of, marked.
        to: String,
        /// The treatment.
        #[command(flatten)]
        spec: DelayArgs,
    },
    /// Start the daemons (sft3 run) in both servers, or one again.
    ///
    /// `sft3 run` runs in each server namespace under a supervisor that restarts it after
    /// a switch-over (exit 5), with a station sending RIP requests in client 1. Builds the
    /// lab first if needed. Configurations, logs, consoles and control sockets are under
    /// /run/sft3-lab/PREFIX/.
    Start {
        /// Start only this server again (a or b), with the configuration the last full
        /// `start` wrote (after a `kill`).
        node: Option<String>,
        /// Pre-shared key for both servers, 64 hex digits.
        #[arg(long, value_name = "HEX", conflicts_with = "key_file")]
        key: Option<String>,
        /// Pre-shared key file for both servers (64 hex digits or 32 raw bytes).
        #[arg(long, value_name = "FILE")]
        key_file: Option<std::path::PathBuf>,
        /// Record every server adapter to /run/sft3-lab/PREFIX/NODE/IFACE.pcap (tcpdump).
        #[arg(long)]
        trace: bool,
    },
    /// Stop the daemons (SIGTERM, then SIGKILL after 5 s), their recordings and the station.
    Stop,
    /// Send a signal to one server's daemon (default KILL: the server dies at once).
    Kill {
        /// The server: a or b.
        node: String,
        /// KILL, TERM, STOP, CONT, INT (or a number).
        #[arg(long, default_value = "KILL")]
        signal: String,
    },
    /// The supervisor of one server's daemon (started by `start`).
    #[command(hide = true)]
    Supervise {
        /// The server's directory.
        dir: std::path::PathBuf,
    },
    /// The station sending RIP requests (started by `start`).
    #[command(hide = true)]
    Station {
        /// Its adapter.
        iface: String,
    },
    /// Run a command inside a node (a, b, c1, ..., lan), passing its exit status through.
    ///
    /// On a server, /run/sft3 is that server's directory, so `sft3 status` reads its
    /// daemon.
    Exec {
        /// The node.
        node: String,
        /// The command and its arguments (after `--`).
        #[arg(last = true, required = true)]
        cmd: Vec<String>,
    },
}

/// Cut or restore.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CutRestore {
    /// Stop frames (carrier stays up).
    Cut,
    /// Let them through again.
    Restore,
}

/// Carrier down or up.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DownUp {
    /// Take the carrier away (the peer end goes down).
    Down,
    /// Give it back.
    Up,
}

/// `sft3 lab fault ...`.
#[derive(Subcommand, Debug)]
pub enum FaultCmd {
    /// Cut or restore the MSL (frames dropped both ways; carrier stays up).
    Msl {
        /// cut or restore.
        action: CutRestore,
    },
    /// Cut or restore one LAN adapter (its bridge port leaves the bridge).
    Lan {
        /// cut or restore.
        action: CutRestore,
        /// The node (a, b, c1, ...).
        node: String,
        /// LAN adapter index.
        adapter: u8,
    },
    /// Take an adapter's carrier down or bring it up (sets its peer end down/up).
    Carrier {
        /// down or up.
        action: DownUp,
        /// The node (a, b, c1, ..., lan).
        node: String,
        /// The interface: full name, or `lan0`, `msl`.
        iface: String,
    },
    /// Drop PERCENT of frames arriving on an adapter (0 removes the fault).
    Loss {
        /// The node (a, b, c1, ..., lan).
        node: String,
        /// The interface: full name, or `lan0`, `msl`.
        iface: String,
        /// 0 to 100.
        #[arg(value_parser = clap::value_parser!(u8).range(0..=100))]
        percent: u8,
    },
    /// Pass frames arriving on an adapter through a user-space forwarder that delays,
    /// duplicates and reorders them (`off` removes it).
    Delay {
        /// The node (a, b, c1, ..., lan).
        node: String,
        /// The interface: full name, or `lan0`, `msl`.
        iface: String,
        /// `off` removes the forwarder.
        off: Option<Off>,
        /// The treatment.
        #[command(flatten)]
        spec: DelayArgs,
    },
    /// Remove every fault.
    Clear,
}

/// `off`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Off {
    /// Remove the forwarder.
    Off,
}

/// What a delay forwarder does to frames.
#[derive(Args, Debug, Clone, Copy)]
pub struct DelayArgs {
    /// Fixed delay, milliseconds.
    #[arg(long, default_value_t = 0)]
    pub delay_ms: u32,
    /// Extra random delay up to this, milliseconds (reorders frames too).
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u32,
    /// Percentage of frames sent twice.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub duplicate: u8,
    /// Percentage of frames sent at once, overtaking the queue.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub reorder: u8,
    /// Seed of the random draws.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl From<DelayArgs> for ForwardSpec {
    fn from(a: DelayArgs) -> ForwardSpec {
        ForwardSpec {
            delay_ms: a.delay_ms,
            jitter_ms: a.jitter_ms,
            duplicate: a.duplicate,
            reorder: a.reorder,
            seed: a.seed,
        }
    }
}

/// Runs a `sft3 lab` command; returns the process exit code.
pub fn run(args: LabArgs) -> anyhow::Result<i32> {
    let cfg = LabConfig {
        prefix: args.prefix,
        lan_adapters: args.lan_adapters,
        clients: args.clients,
        lan_mtu: args.lan_mtu,
        msl_mtu: args.msl_mtu,
    };
    let lab = Lab::new(cfg)?;
    match args.cmd {
        LabCmd::Up => {
            let r = lab.up()?;
            if r.is_noop() {
                println!("lab `{}` is up (nothing to do)", lab.config().prefix);
            } else {
                println!(
                    "lab `{}` is up: {} namespaces and {} links created, {} links fixed",
                    lab.config().prefix,
                    r.namespaces_created,
                    r.links_created,
                    r.links_fixed
                );
            }
        }
        LabCmd::Down => {
            let r = lab.down()?;
            println!(
                "lab `{}` is down: removed {} namespaces{}",
                lab.config().prefix,
                r.namespaces.len(),
                if r.root_links.is_empty() {
                    String::new()
                } else {
                    format!(" and root links {}", r.root_links.join(", "))
                }
            );
        }
        LabCmd::Status { json } => {
            let st = lab.status()?;
            let servers = Servers::new(lab.config());
            if json {
                let j = st.to_json();
                let body = j.trim_end().strip_suffix('}').unwrap_or(&j);
                println!("{body},\"daemons\":{}}}", servers.to_json());
            } else {
                print!("{}", st.to_text());
                print!("{}", servers.describe());
            }
        }
        LabCmd::Start {
            node: Some(node), ..
        } => {
            let node = lab.config().parse_node(&node)?;
            let servers = Servers::new(lab.config());
            servers.start_one(node)?;
            print!("{}", servers.describe());
        }
        LabCmd::Start {
            node: None,
            key,
            key_file,
            trace,
        } => {
            let key = match (key, key_file) {
                (Some(k), _) => Some(daemon::parse_key_hex(&k)?),
                (None, Some(f)) => {
                    let bytes = std::fs::read(&f)
                        .map_err(|e| anyhow::anyhow!("reading {}: {e}", f.display()))?;
                    // As the daemon reads it: 64 hex digits, or exactly 32 raw bytes.
                    match (
                        daemon::parse_key_hex(&String::from_utf8_lossy(&bytes)),
                        <[u8; 32]>::try_from(&bytes[..]),
                    ) {
                        (Ok(k), _) | (Err(_), Ok(k)) => Some(k),
                        (Err(e), Err(_)) => return Err(e.into()),
                    }
                }
                (None, None) => None,
            };
            let opts = DaemonOptions {
                key,
                trace,
                ..DaemonOptions::default()
            };
            let servers = daemon::start(lab.config(), &opts)?;
            let primary = servers.wait_mirrored(std::time::Duration::from_secs(5));
            print!("{}", servers.describe());
            match primary {
                Some(p) => println!("mirrored: server {p} is the primary"),
                None => println!("not mirrored yet: see `sft3 lab status` and the console logs"),
            }
        }
        LabCmd::Stop => {
            Servers::new(lab.config()).stop();
            println!("lab `{}`: daemons stopped", lab.config().prefix);
        }
        LabCmd::Kill { node, signal } => {
            let node = lab.config().parse_node(&node)?;
            let sig = parse_signal(&signal)?;
            let pid = Servers::new(lab.config()).kill(node, sig)?;
            println!(
                "sent SIG{} to server {node}'s daemon (pid {pid})",
                signal.to_uppercase()
            );
        }
        LabCmd::Supervise { dir } => return Ok(daemon::supervise(&dir)?),
        LabCmd::Station { iface } => return Ok(daemon::station(&iface)?),
        LabCmd::Fault(f) => {
            let cfg = lab.config();
            let action = match f {
                FaultCmd::Msl {
                    action: CutRestore::Cut,
                } => FaultAction::MslCut,
                FaultCmd::Msl {
                    action: CutRestore::Restore,
                } => FaultAction::MslRestore,
                FaultCmd::Lan {
                    action,
                    node,
                    adapter,
                } => {
                    let node = cfg.parse_node(&node)?;
                    match action {
                        CutRestore::Cut => FaultAction::LanCut { node, adapter },
                        CutRestore::Restore => FaultAction::LanRestore { node, adapter },
                    }
                }
                FaultCmd::Carrier {
                    action,
                    node,
                    iface,
                } => {
                    let node = cfg.parse_node(&node)?;
                    match action {
                        DownUp::Down => FaultAction::CarrierDown { node, iface },
                        DownUp::Up => FaultAction::CarrierUp { node, iface },
                    }
                }
                FaultCmd::Loss {
                    node,
                    iface,
                    percent,
                } => FaultAction::Loss {
                    node: cfg.parse_node(&node)?,
                    iface,
                    percent,
                },
                FaultCmd::Delay {
                    node,
                    iface,
                    off,
                    spec,
                } => {
                    let node = cfg.parse_node(&node)?;
                    match off {
                        Some(Off::Off) => FaultAction::DelayOff { node, iface },
                        None => FaultAction::Delay {
                            node,
                            iface,
                            spec: spec.into(),
                        },
                    }
                }
                FaultCmd::Clear => FaultAction::Clear,
            };
            lab.fault(&action)?;
        }
        LabCmd::Forward { ns, from, to, spec } => {
            super::cmd::require_privileges()?;
            super::cmd::in_netns(&ns, move || {
                super::forward::forward(&from, &to, spec.into(), || {
                    use std::io::Write;
                    println!("ready");
                    let _ = std::io::stdout().flush();
                })
            })??;
        }
        LabCmd::Exec { node, cmd } => {
            let node = lab.config().parse_node(&node)?;
            let st = lab.exec(node, &cmd)?;
            return Ok(exit_code(st));
        }
    }
    Ok(0)
}

/// The shell's convention: the exit code, or 128 + the signal that killed it.
fn exit_code(st: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

/// A signal by name (`KILL`, `SIGTERM`, case-insensitive) or number.
fn parse_signal(s: &str) -> Result<i32, LabError> {
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    let sig = match name {
        "KILL" => libc::SIGKILL,
        "TERM" => libc::SIGTERM,
        "INT" => libc::SIGINT,
        "STOP" => libc::SIGSTOP,
        "CONT" => libc::SIGCONT,
        "HUP" => libc::SIGHUP,
        n => n
            .parse()
            .ok()
            .filter(|&n: &i32| (1..=64).contains(&n))
            .ok_or_else(|| LabError::Config(format!("unknown signal `{s}`")))?,
    };
    Ok(sig)
}
