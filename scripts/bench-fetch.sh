#!/usr/bin/env bash
# Fetch benchmark (issue 6): 7 real `cairn daemon` processes on 127.0.0.1
# (OS-chosen ports, own data directories, --no-mdns), joined by tickets.
# Node 7 adds a SIZE random file at 4+2 with `[placement] keep_local = false`
# (the default): the six other nodes hold one shard of every chunk each,
# node 7 keeps only the manifests. Node 7 then runs `cairn cat CAP >
# /dev/null` RUNS times: every chunk's 4 data shards come from 4 peers.
#
# Baselines in the same run, over the same loopback, same byte count:
#   - socat (the issue's named baseline, default 8 KiB buffer);
#   - socat -b 262144 (a plain large-buffer copy: the stricter baseline).
# Second figure, the file landing on node 7: `cairn get CAP -o FILE` into a
# tmpfs ($SHM, default /dev/shm) against socat writing the same bytes from a
# TCP connection into a file on that tmpfs (the daemon writes the file
# itself: no HTTP answer to a client, no second process).
# Also: peak RSS of the reader daemon during the fetch (VmHWM, reset with
# clear_refs before each run) and idle RSS of a freshly started daemon
# with every service running (node 7, 10 s after start, before any join).
#
#   SIZE=1G RUNS=3 scripts/bench-fetch.sh
#
# Needs: a release build (cargo build --release -p cairn), socat
# (apt-get install -y socat), jq, GNU time.
set -euo pipefail

SIZE=${SIZE:-1G}
RUNS=${RUNS:-3}
WORK=${WORK:-/var/tmp/cairn-bench-fetch}
SHM=${SHM:-/dev/shm/cairn-bench-fetch}
CAIRN=${CAIRN:-$(cd "$(dirname "$0")/.." && pwd)/target/release/cairn}
NODES=7

[ -x "$CAIRN" ] || { echo "build first: cargo build --release -p cairn" >&2; exit 1; }
command -v jq >/dev/null || { echo "jq missing (apt-get install -y jq)" >&2; exit 1; }
command -v socat >/dev/null || { echo "socat missing: apt-get install -y socat (it is the issue's baseline)" >&2; exit 1; }

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$SHM"
}
trap cleanup EXIT

rm -rf "$WORK" "$SHM"; mkdir -p "$WORK" "$SHM"
INPUT=$WORK/input.bin
bytes=$(numfmt --from=iec "$SIZE")
head -c "$bytes" /dev/urandom > "$INPUT"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
now() { date +%s.%N; }
# wait_for SECONDS WHAT CMD...: poll CMD until it succeeds, or fail clearly.
wait_for() {
    local t=$1 what=$2; shift 2
    local end=$(( $(date +%s) + t ))
    until "$@" 2>/dev/null; do
        [ "$(date +%s)" -lt "$end" ] || { echo "timed out after ${t}s waiting for $what" >&2; exit 1; }
        sleep 0.1
    done
}
has_line() { [ -s "$1" ] && head -1 "$1" | jq -e .ticket >/dev/null; }

# start_node I: start daemon I in the background (its pid goes to PIDS).
start_node() {
    local d=$WORK/n$1; mkdir -p "$d"
    RUST_LOG=${RUST_LOG:-warn} "$CAIRN" --data-dir "$d" --json daemon \
        --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 --no-mdns \
        > "$d.ready" 2>> "$d.log" &
    PIDS+=($!)
}
for i in $(seq "$NODES"); do start_node "$i"; done
for i in $(seq "$NODES"); do
    wait_for 30 "node $i's ready line" has_line "$WORK/n$i.ready"
done
reader=$WORK/n$NODES
rpid=${PIDS[$((NODES - 1))]}
c() { "$CAIRN" --data-dir "$reader" "$@"; }

# Idle RSS: node 7 with every service up, nothing asked of it yet.
sleep 10
idle_rss=$(awk '/^VmRSS/ {print $2}' "/proc/$rpid/status")
idle_hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$rpid/status")

for i in $(seq $((NODES - 1))); do
    c join "$(head -1 "$WORK/n$i.ready" | jq -r .ticket)" > /dev/null
done
connected() { [ "$(c --json peers | jq '[.[] | select(.connected)] | length')" -ge $((NODES - 1)) ]; }
wait_for 30 "node $NODES to be connected to the $((NODES - 1)) others" connected

add_t0=$(now)
c --json add --redundancy 4+2 "$INPUT" > "$WORK/add.json"
add_t1=$(now)
cap=$(jq -r '.. | .cap? // empty' "$WORK/add.json" | head -1)
kept=$(jq -r '[.. | .shards_kept_local? // empty] | add // 0' "$WORK/add.json")
[ -n "$cap" ] || { echo "add printed no cap:" >&2; cat "$WORK/add.json" >&2; exit 1; }
[ "$kept" = 0 ] || echo "warning: $kept shards stayed on the reader (not enough peers took them)" >&2

# Restart the reader so its peak RSS is the fetch's own, not what the add
# left in its heap; it redials the peers it knows.
kill -TERM "$rpid"
wait "$rpid" 2>/dev/null || true
start_node "$NODES"
rpid=${PIDS[$((${#PIDS[@]} - 1))]}
wait_for 30 "node $NODES's ready line after its restart" has_line "$reader.ready"
wait_for 60 "node $NODES to redial the $((NODES - 1)) others after its restart" connected
rss_before=$(awk '/^VmRSS/ {print $2}' "/proc/$rpid/status")

# socat_copy NAME [--to FILE] SOCAT_OPTS: one loopback TCP transfer of
# INPUT's bytes, into /dev/null or FILE.
socat_copy() {
    local name=$1; shift
    local sink=OPEN:/dev/null,wronly
    if [ "${1:-}" = --to ]; then sink="CREATE:$2"; rm -f "$2"; shift 2; fi
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    socat "$@" -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" "$sink" &
    local rx=$!
    wait_for 10 "socat to listen on $port" sh -c "ss -ltn | grep -q ':$port '"
    local t0; t0=$(now)
    socat "$@" -u "OPEN:$INPUT" "TCP:127.0.0.1:$port"
    wait "$rx"
    echo "$(now) - $t0" | bc -l >> "$WORK/$name.times"
}

for r in $(seq "$RUNS"); do
    echo "run $r/$RUNS" >&2
    echo 5 > "/proc/$rpid/clear_refs"
    t0=$(now)
    /usr/bin/time -f "%M" -o "$WORK/.cli" "$CAIRN" --data-dir "$reader" cat "$cap" > /dev/null \
        || { echo "cat failed" >&2; exit 1; }
    echo "$(now) - $t0" | bc -l >> "$WORK/cairn.times"
    awk '/^VmHWM/ {print $2}' "/proc/$rpid/status" >> "$WORK/hwm.times"
    cat "$WORK/.cli" >> "$WORK/cli.times"
    socat_copy socat
    socat_copy socat_big -b 262144
    rm -f "$SHM/get.out"
    t0=$(now)
    "$CAIRN" --data-dir "$reader" get "$cap" -o "$SHM/get.out" > /dev/null \
        || { echo "get failed" >&2; exit 1; }
    echo "$(now) - $t0" | bc -l >> "$WORK/get.times"
    rm -f "$SHM/get.out"
    socat_copy socat_file --to "$SHM/socat.out"
    rm -f "$SHM/socat.out"
done
# Once, outside the timing: the bytes read back are the bytes added.
c cat "$cap" | cmp - "$INPUT"

t_c=$(median < "$WORK/cairn.times")
t_s=$(median < "$WORK/socat.times")
t_b=$(median < "$WORK/socat_big.times")
t_g=$(median < "$WORK/get.times")
t_f=$(median < "$WORK/socat_file.times")
mib=$(echo "$bytes / 1048576" | bc -l)
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
echo "file: $SIZE random ($bytes bytes) added 4+2 on node $NODES in $(echo "$add_t1 - $add_t0" | bc -l | xargs printf %.1f) s; $RUNS run(s), medians"
printf "%-40s %7.2f s  %7.0f MiB/s\n" "cairn cat (4 of 6 peers, to /dev/null)" "$t_c" "$(echo "$mib / $t_c" | bc -l)"
printf "%-40s %7.2f s  %7.0f MiB/s\n" "socat, one TCP connection" "$t_s" "$(echo "$mib / $t_s" | bc -l)"
printf "%-40s %7.2f s  %7.0f MiB/s\n" "socat -b 262144, one TCP connection" "$t_b" "$(echo "$mib / $t_b" | bc -l)"
printf "%-40s %7.2f s  %7.0f MiB/s\n" "cairn get, to a file on tmpfs" "$t_g" "$(echo "$mib / $t_g" | bc -l)"
printf "%-40s %7.2f s  %7.0f MiB/s\n" "socat, to a file on tmpfs" "$t_f" "$(echo "$mib / $t_f" | bc -l)"
printf "%-40s %7d MB (median of runs; max %d MB)\n" "reader daemon peak RSS during cat" \
    $(( $(median < "$WORK/hwm.times") / 1024 )) $(( $(sort -n "$WORK/hwm.times" | tail -1) / 1024 ))
printf "%-40s %7d MB\n" "reader daemon RSS before the first cat" $((rss_before / 1024))
printf "%-40s %7d MB\n" "cairn cat client peak RSS" $(( $(median < "$WORK/cli.times") / 1024 ))
printf "%-40s %7d MB (VmHWM %d MB)\n" "idle daemon RSS (10 s after start)" $((idle_rss / 1024)) $((idle_hwm / 1024))
echo
awk -v c="$t_c" -v s="$t_s" -v b="$t_b" -v g="$t_g" -v f="$t_f" 'BEGIN {
    printf "cairn / socat             = %5.1f %%  (goal >= 50 %%)\n", 100 * s / c
    printf "cairn / socat -b 262144   = %5.1f %%\n", 100 * b / c
    printf "get / socat, to a file    = %5.1f %%\n", 100 * f / g
}'
# Each run's cairn figure against the baseline measured in the same run.
pairs() { paste "$WORK/$2.times" "$WORK/$1.times" | awk '{printf "%.1f\n", 100 * $1 / $2}'; }
echo
echo "per run: cat / socat        $(pairs cairn socat | tr '\n' ' ')(median $(pairs cairn socat | median))"
echo "per run: get / socat, file  $(pairs get socat_file | tr '\n' ' ')(median $(pairs get socat_file | median))"
rm -f "$INPUT"
