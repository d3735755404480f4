//! The `sft3` command. Later issues add `run`, `status`, `ctl`, `lab`, `client` and `sim`.

use anyhow::{bail, Result};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("-h") | Some("--help") => {
            println!(
                "sft3 {}: NetWare SFT III server mirroring over raw IPX",
                env!("CARGO_PKG_VERSION")
            );
            println!("usage: sft3 version");
            println!("(the daemon, status, ctl and lab commands arrive with later issues;");
            println!(" inspect traffic with `ipxdump`)");
            Ok(())
        }
        Some("version") | Some("--version") | Some("-V") => {
            println!("sft3 {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Some(other) => bail!("unknown command `{other}` (try `sft3 --help`)"),
    }
}
