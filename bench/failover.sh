#!/usr/bin/env bash
# Failover detection against keepalived in the same lab, same run (see docs/benchmarks.md,
# "Failover detection"): kill -9 of the primary daemon, time to the secondary's decision and
# to its first primary state packet on the LAN; keepalived (VRRPv3, 10 ms adverts) killed the
# same way, time to the backup's first master advert. Prints one JSON line on stdout
# (progress on stderr). Needs root (namespaces, raw sockets); keepalived optional.
#
#   bench/failover.sh [TRIALS] [extra `sft3 bench failover` options]   (default 20 trials)
set -euo pipefail
cd "$(dirname "$0")/.."
trials=${1:-20}
shift || true
[ "$(id -u)" = 0 ] || { echo "needs root for network namespaces and raw sockets" >&2; exit 1; }
[ "$trials" -ge 20 ] || echo "note: fewer than 20 trials: p99 is the maximum of a small sample" >&2
cargo build --release -q --bin sft3
echo "# $(date -u +%FT%TZ) nproc=$(nproc) kernel=$(uname -r) load: $(cut -d' ' -f1-3 /proc/loadavg)" \
  "keepalived: $(keepalived --version 2>&1 | head -1 || echo none)" >&2
./target/release/sft3 bench failover --trials "$trials" "$@"
