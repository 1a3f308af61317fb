#!/usr/bin/env bash
# One transport stream between two processes over loopback, against a plain
# tokio TCP copy between two processes (issue 2's bulk goal, measured the
# way its reference figures were: libp2p-perf and socat each ran as two
# processes). Both sides are `transport/examples/bulk_peer.rs`: tokio's
# default runtime, the work in a spawned task, the node's allocator
# settings, BUF-byte reads and writes. Each run pairs a TCP copy with a
# cairn stream taken right after it and prints the pair's ratio; the
# summary gives medians.
#
#   RUNS=9 BUF=8192 BYTES=536870912 scripts/bench-transport-procs.sh
#   WORKERS=1 ...   # one runtime worker per process (TOKIO_WORKER_THREADS)
#   GLIBC_DEFAULTS=1 ...  # without the node's allocator settings (both sides)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-9}
export BULK_BUF=${BUF:-8192} BULK_BYTES=${BYTES:-536870912}
[ -n "${WORKERS:-}" ] && export TOKIO_WORKER_THREADS=$WORKERS
[ -n "${GLIBC_DEFAULTS:-}" ] && export BULK_GLIBC_DEFAULTS=1
cargo build --release -q -p cairn-transport --example bulk_peer
PEER=target/release/examples/bulk_peer
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT

# one MODE ("tcp" or ""): prints "MIB_PER_S CPU_S_PER_GIB" of the receiver
one() {
    rm -f "$OUT/recv"
    "$PEER" recv $1 > "$OUT/recv" &
    local rp=$!
    until [ -s "$OUT/recv" ]; do sleep 0.02; done
    read -r addr id < "$OUT/recv"
    "$PEER" send "$addr" "$id" $1
    wait "$rp"
    tail -n 1 "$OUT/recv"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "run  tcp MiB/s  cairn MiB/s  ratio   (receiver CPU-s/GiB: tcp cairn)"
: > "$OUT/all"
for i in $(seq 1 "$RUNS"); do
    read -r t tc < <(one tcp)
    read -r c cc < <(one "")
    r=$(awk -v c="$c" -v t="$t" 'BEGIN {printf "%.1f", 100 * c / t}')
    printf "%3d  %9s  %11s  %5s%%   (%s %s)\n" "$i" "$t" "$c" "$r" "$tc" "$cc"
    echo "$t $c $r" >> "$OUT/all"
done
mt=$(awk '{print $1}' "$OUT/all" | median)
mc=$(awk '{print $2}' "$OUT/all" | median)
mr=$(awk '{print $3}' "$OUT/all" | median)
echo "median: tcp $mt MiB/s, cairn $mc MiB/s, ratio of medians $(awk -v c="$mc" -v t="$mt" 'BEGIN {printf "%.1f", 100 * c / t}')%, median of pair ratios $mr%"
