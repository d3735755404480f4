#!/usr/bin/env bash
# Decoding speed: ipxdump against `tcpdump -nn -r` on the same large capture, output to
# /dev/null, in one run on one machine. Several alternating runs; prints medians and the ratio.
#
#   bench/ipxdump_vs_tcpdump.sh [FRAMES] [RUNS]      (defaults: 1000000 frames, 7 runs)
#
# The capture is generated (every framing x every packet kind, varied addresses) by
# `cargo run --release --example gen_capture -- --count FRAMES FILE`.
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${1:-1000000}
runs=${2:-7}
command -v tcpdump >/dev/null || { echo "needs tcpdump (apt-get install tcpdump)" >&2; exit 1; }

cargo build --release -q -p ipxdump
cargo build --release -q --example gen_capture
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cap="$work/bench.pcap"
./target/release/examples/gen_capture --count "$frames" "$cap" >/dev/null
size=$(stat -c %s "$cap")
echo "capture: $frames frames, $((size / 1048576)) MiB ($cap)"
# Warm the page cache so both tools read from memory.
cat "$cap" >/dev/null

calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
time_cmd() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    calc "$t1 - $t0"
}

ipx=(); tcp=()
for i in $(seq "$runs"); do
    ipx+=("$(time_cmd ./target/release/ipxdump -r "$cap")")
    tcp+=("$(time_cmd tcpdump -nn -r "$cap")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mi=$(median "${ipx[@]}"); mt=$(median "${tcp[@]}")
printf 'ipxdump -r:     median %.3f s  (%s)\n' "$mi" "$(printf '%.3f ' "${ipx[@]}")"
printf 'tcpdump -nn -r: median %.3f s  (%s)\n' "$mt" "$(printf '%.3f ' "${tcp[@]}")"
printf 'ipxdump frames/s: %.0f   tcpdump frames/s: %.0f\n' "$(calc "$frames / $mi")" "$(calc "$frames / $mt")"
printf 'ratio (tcpdump time / ipxdump time): %.2fx\n' "$(calc "$mt / $mi")"
