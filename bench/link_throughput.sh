#!/usr/bin/env bash
# Raw link throughput one way across a veth pair between two network namespaces: batched
# (sendmmsg) against one send() per frame, same pair, same run; 1514-byte frames at MTU 1500
# and 9014-byte frames at MTU 9000. Needs root (namespaces, raw sockets).
#
#   bench/link_throughput.sh [FRAMES] [RUNS]      (defaults: 200000 frames per run, 7 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${1:-200000}
runs=${2:-7}
[ "$(id -u)" = 0 ] || { echo "needs root for network namespaces and raw sockets" >&2; exit 1; }
cargo build --release -q --example link_throughput
exec ./target/release/examples/link_throughput --frames "$frames" --runs "$runs"
