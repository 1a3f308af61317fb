#!/usr/bin/env bash
# The dashboard's idle CPU as a real process: an idle `cairn daemon`, `cairn dashboard`
# attached to it in a detached 120x40 tmux pane, CPU of each summed over all threads
# from /proc/PID/task/*/schedstat (ns) over SECONDS. Linux + tmux.
# Usage: scripts/bench-dashboard-idle.sh [BIN] [SECONDS]  (default target/release/cairn, 60)
set -euo pipefail
BIN=$(realpath "${1:-target/release/cairn}"); SECS=${2:-60}
D=$(mktemp -d)
$BIN --data-dir $D --json daemon --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 > $D/ready 2>/dev/null &
DPID=$!
for i in $(seq 50); do [ -s $D/ready ] && break; sleep 0.1; done
tmux new-session -d -s idlem -x 120 -y 40 "$BIN --data-dir $D dashboard"
sleep 5
TPID=$(pgrep -f "^$BIN --data-dir $D dashboard" | head -1); echo "measuring pid $TPID: $(tr "\0" " " < /proc/$TPID/cmdline)"
# Nanoseconds on CPU, summed over every thread of the process.
ticks() { cat /proc/$1/task/*/schedstat | awk '{s+=$1} END {printf "%d", s}'; }
HZ=1000000000
a=$(ticks $TPID); da=$(ticks $DPID); t0=$(date +%s.%N)
sleep $SECS
b=$(ticks $TPID); db=$(ticks $DPID); t1=$(date +%s.%N)
python3 -c "w=$t1-$t0; print(f'wall {w:.1f} s; dashboard {($b-$a)/$HZ:.2f} s CPU = {100*($b-$a)/$HZ/w:.3f}% of a core; daemon {($db-$da)/$HZ:.2f} s CPU = {100*($db-$da)/$HZ/w:.3f}%')"
tmux send-keys -t idlem q; sleep 1; tmux kill-session -t idlem 2>/dev/null || true
kill $DPID; wait $DPID 2>/dev/null || true; rm -rf $D
