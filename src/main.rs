//! The `sft3` command. Later issues add `run`, `status`, `ctl`, `client` and `sim`: each is
//! one more variant of [`Command`] whose arguments and code live in the library.

use clap::{Parser, Subcommand};

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
}

fn main() {
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
    };
    std::process::exit(code);
}
