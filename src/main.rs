//! The `sft3` command. The engine issue adds `client`: one more variant of [`Command`]
//! whose arguments and code live in the library.
//!
//! Exit codes (docs/config.md): 0 success (for `run`: stopped by SIGTERM/SIGINT after a clean
//! shutdown); 1 failure (a link cannot be opened, the daemon failed); 2 usage or
//! configuration error; 3 (`status`) no daemon answers on the control socket; 4 (`run`) the
//! role machine shut the server down (do not restart it blindly: scenario 3, the operator);
//! 5 (`run`) handed over to the peer: restart the daemon to rejoin as the secondary; 6
//! (`ctl verify`) the volumes differed (the regions are marked and resynced).

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use sft3::node::config::{ConfigError, NodeConfig};
use sft3::node::NodeExit;

/// NetWare SFT III server mirroring over raw IPX (inspect traffic with `ipxdump`).
#[derive(Parser, Debug)]
#[command(name = "sft3", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the version.
    Version,
    /// Network namespaces on this host as test servers and clients.
    Lab(sft3::lab::cli::LabArgs),
    /// Benchmarks on a veth pair between two namespaces (needs root).
    Bench(sft3::bench::BenchArgs),
    /// Run the daemon for one server of the pair (needs root: raw sockets).
    Run(RunArgs),
    /// Show a running daemon's role, peer, adapters and last decision.
    Status(StatusArgs),
    /// Simulate the whole pair on virtual time under random faults, checking invariants.
    Sim(sft3::sim::cli::SimArgs),
    /// Operator commands to a running daemon: volume write/read, online verify.
    Ctl(sft3::node::ctl::CtlArgs),
}

/// `sft3 run`.
#[derive(Args, Debug)]
struct RunArgs {
    /// The configuration file (see docs/config.md).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: PathBuf,
}

/// `sft3 status`.
#[derive(Args, Debug)]
struct StatusArgs {
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    at: sft3::node::ctl::SocketArgs,
}

/// Exit code: configuration or usage error.
const EXIT_CONFIG: i32 = 2;
/// Exit code of `status` when no daemon answers.
const EXIT_NO_DAEMON: i32 = 3;
/// Exit code of `run` when the role machine shut the server down.
const EXIT_SHUT_DOWN: i32 = 4;
/// Exit code of `run` after a switch-over: restart to rejoin as the secondary.
const EXIT_RESTART: i32 = 5;

fn load_config(path: &Path) -> Result<NodeConfig, i32> {
    NodeConfig::load(path).map_err(|e| {
        match e {
            // Already names the file.
            ConfigError::Read { .. } => eprintln!("sft3: configuration: {e}"),
            _ => eprintln!("sft3: configuration {}: {e}", path.display()),
        }
        EXIT_CONFIG
    })
}

fn cmd_run(args: RunArgs) -> i32 {
    let cfg = match load_config(&args.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let name = cfg.server.name.clone();
    match sft3::node::run(cfg) {
        Ok(()) => 0,
        Err(e) => {
            let code = match e.downcast_ref::<NodeExit>() {
                Some(NodeExit::ShutDown(_)) => EXIT_SHUT_DOWN,
                Some(NodeExit::RestartAsSecondary) => EXIT_RESTART,
                None => 1,
            };
            let e = e.context(format!("server {name}"));
            eprintln!("sft3 run: {e:#}");
            code
        }
    }
}

fn cmd_status(args: StatusArgs) -> i32 {
    let socket = match args.at.path() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sft3 status: configuration: {e}");
            return EXIT_CONFIG;
        }
    };
    let request = if args.json { "status json" } else { "status" };
    match sft3::node::control::query(&socket, request) {
        Ok(answer) if answer.starts_with("error:") => {
            eprint!("sft3 status: {answer}");
            1
        }
        Ok(answer) => {
            print!("{answer}");
            0
        }
        Err(e) => {
            eprintln!("sft3 status: {e}");
            match e.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                    EXIT_NO_DAEMON
                }
                _ => 1,
            }
        }
    }
}

fn main() {
    // Before any thread starts: the MSL's MiB-sized messages reuse freed memory.
    sft3::msl::driver::tune_allocator();
    let cli = Cli::parse();
    let code = match cli.cmd {
        Command::Version => {
            println!("sft3 {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Command::Lab(args) => match sft3::lab::cli::run(args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("sft3: {e:#}");
                1
            }
        },
        Command::Bench(args) => match sft3::bench::run(args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("sft3 bench: {e:#}");
                1
            }
        },
        Command::Run(args) => cmd_run(args),
        Command::Status(args) => cmd_status(args),
        Command::Sim(args) => sft3::sim::cli::run(args),
        Command::Ctl(args) => match sft3::node::ctl::run(args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("sft3 ctl: {e:#}");
                if e.chain().any(|c| c.downcast_ref::<ConfigError>().is_some()) {
                    EXIT_CONFIG
                } else if e.chain().any(|c| {
                    c.downcast_ref::<std::io::Error>().is_some_and(|io| {
                        matches!(
                            io.kind(),
                            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                        )
                    })
                }) {
                    EXIT_NO_DAEMON
                } else {
                    1
                }
            }
        },
    };
    std::process::exit(code);
}
