//! `sft3 lab ...`: the command line over [`Lab`].

use clap::{Args, Subcommand, ValueEnum};

use super::{FaultAction, ForwardSpec, Lab, LabConfig};

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
    /// Run a command inside a node (a, b, c1, ..., lan), passing its exit status through.
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
            if json {
                println!("{}", st.to_json());
            } else {
                print!("{}", st.to_text());
            }
        }
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
