//! Reading an interface's counters from sysfs (the only I/O of the health layer).
//!
//! | file under `/sys/class/net/IF/statistics/` | field |
//! |---|---|
//! | `rx_packets`, `tx_packets` | [`Counters::rx_packets`], [`Counters::tx_packets`] |
//! | `rx_errors`, `tx_errors` | [`Counters::rx_errors`], [`Counters::tx_errors`] |
//! | `rx_dropped`, `tx_dropped` | [`Counters::rx_dropped`], [`Counters::tx_dropped`] |

use std::io;
use std::path::Path;

use super::Counters;

/// Where interfaces live.
pub const SYS_CLASS_NET: &str = "/sys/class/net";

/// Reads the counters of interface `ifname` (in the caller's network namespace, as sysfs
/// was mounted). A name with a `/` or that is `.`/`..` is `InvalidInput`.
pub fn read_counters(ifname: &str) -> io::Result<Counters> {
    read_counters_in(Path::new(SYS_CLASS_NET), ifname)
}

/// [`read_counters`] under another root (for tests: a directory laid out like
/// `/sys/class/net`).
pub fn read_counters_in(root: &Path, ifname: &str) -> io::Result<Counters> {
    if ifname.is_empty() || ifname.contains('/') || ifname == "." || ifname == ".." {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not an interface name: {ifname:?}"),
        ));
    }
    let dir = root.join(ifname).join("statistics");
    let read = |name: &str| -> io::Result<u64> {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path)?;
        text.trim().parse::<u64>().map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })
    };
    Ok(Counters {
        rx_packets: read("rx_packets")?,
        tx_packets: read("tx_packets")?,
        rx_errors: read("rx_errors")?,
        tx_errors: read("tx_errors")?,
        rx_dropped: read("rx_dropped")?,
        tx_dropped: read("tx_dropped")?,
    })
}
