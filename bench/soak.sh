#!/usr/bin/env bash
# The false-failover soak (see docs/benchmarks.md, "False failovers"): the pair mirrored in
# the lab, stress-ng ten times oversubscribing the 2 cores (--cpu 16 --io 4), the MSL veth
# flooded by raw full-MTU frames from both server namespaces, keepalived (10 ms adverts)
# beside it; counts false failovers and keepalived flaps, reports the longest heartbeat gap
# on each path. Loads the whole machine for the duration: run nothing else meanwhile.
# Prints one JSON line on stdout (decisions and progress on stderr). Needs root and stress-ng.
#
#   bench/soak.sh [MINUTES] [extra `sft3 bench soak` options, e.g. --rt-priority 50]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-5}
shift || true
[ "$(id -u)" = 0 ] || { echo "needs root for network namespaces and raw sockets" >&2; exit 1; }
command -v stress-ng >/dev/null || { echo "needs stress-ng (apt-get install stress-ng)" >&2; exit 1; }
cargo build --release -q --bin sft3
echo "# $(date -u +%FT%TZ) nproc=$(nproc) kernel=$(uname -r) load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
./target/release/sft3 bench soak --minutes "$minutes" --cpu 16 --io 4 "$@"
