#!/usr/bin/env bash
# MSL transport benchmarks on a veth pair between two network namespaces (see
# docs/benchmarks.md, "MSL transport"): throughput against a naive raw send loop at MTU 1500
# and 9000, throughput with 1 % loss, and round-trip latency idle and under bulk. Prints the
# JSON lines on stdout (progress on stderr). Needs root (namespaces, raw sockets, nftables).
#
#   bench/msl.sh [BYTES] [RUNS] [SAMPLES]      (defaults: 1GiB, 5 runs, 2000 samples)
set -euo pipefail
cd "$(dirname "$0")/.."
bytes=${1:-1GiB}
runs=${2:-5}
samples=${3:-2000}
[ "$(id -u)" = 0 ] || { echo "needs root for network namespaces and raw sockets" >&2; exit 1; }
cargo build --release -q --bin sft3
sft3=./target/release/sft3
echo "# $(date -u +%FT%TZ) nproc=$(nproc) kernel=$(uname -r) load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$sft3" bench msl --mtu 1500 --bytes "$bytes" --runs "$runs"
"$sft3" bench msl --mtu 9000 --bytes "$bytes" --runs "$runs"
"$sft3" bench msl --mtu 1500 --bytes "$bytes" --runs "$runs" --loss 1
"$sft3" bench msl --mtu 9000 --bytes "$bytes" --runs "$runs" --loss 1
for mtu in 1500 9000; do
    # The daemon's scheduling (drivers and the threads answering messages SCHED_FIFO 50),
    # then its fallback without CAP_SYS_NICE (nice -10).
    "$sft3" bench msl-rtt --mtu "$mtu" --samples "$samples" --rt-priority 50
    "$sft3" bench msl-rtt --mtu "$mtu" --samples "$samples" --rt-priority 0
done
