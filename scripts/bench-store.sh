#!/usr/bin/env bash
# Store benchmark: `cairn add` / `cairn get` of one random file against
# restic (backup / restore into a fresh local repository), `dd
# conv=fdatasync` writing as many bytes as the store wrote, and `cat`, all
# in the same run on the same disk. Prints medians over RUNS and ratios.
#
#   SIZE=1G RUNS=3 scripts/bench-store.sh           # full comparison
#   SIZE=4G RUNS=1 BASELINES=0 scripts/bench-store.sh  # peak RSS only
#
# Needs: a release build (cargo build --release -p cairn), GNU time, restic.
set -euo pipefail

SIZE=${SIZE:-1G}
RUNS=${RUNS:-3}
BASELINES=${BASELINES:-1}
WORK=${WORK:-/var/tmp/cairn-bench}
CAIRN=${CAIRN:-$(cd "$(dirname "$0")/.." && pwd)/target/release/cairn}
export RESTIC_PASSWORD=bench

[ -x "$CAIRN" ] || { echo "build first: cargo build --release -p cairn" >&2; exit 1; }
[ "$BASELINES" = 0 ] || command -v restic >/dev/null || { echo "restic missing (apt-get install restic)" >&2; exit 1; }

rm -rf "$WORK"; mkdir -p "$WORK"
INPUT=$WORK/input.bin
bytes=$(numfmt --from=iec "$SIZE")
head -c "$bytes" /dev/urandom > "$INPUT"
sync

# run NAME CMD...: append "seconds peak_rss_kb user_s sys_s" of CMD to $WORK/NAME.times
run() {
    local name=$1; shift
    sync
    /usr/bin/time -f "%e %M %U %S" -o "$WORK/.t" "$@" > "$WORK/.out" 2> "$WORK/.err" || {
        echo "$name failed:" >&2; cat "$WORK/.err" >&2; exit 1; }
    cat "$WORK/.t" >> "$WORK/$name.times"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
col() { awk -v c="$2" '{print $c}' "$WORK/$1.times" | median; }
cpu() { awk '{print $3 + $4}' "$WORK/$1.times" | median; }

for i in $(seq "$RUNS"); do
    echo "run $i/$RUNS" >&2
    rm -rf "$WORK/dd" "$WORK/out"* "$WORK/repo" "$WORK/restore" "$WORK/zero"
    "$CAIRN" --data-dir "$WORK/dd" init > /dev/null
    run add "$CAIRN" --data-dir "$WORK/dd" --json add "$INPUT"
    cap=$(grep -m1 '"cap"' "$WORK/.out" | cut -d'"' -f4)
    written=$(grep -m1 '"bytes_written"' "$WORK/.out" | tr -dc 0-9)
    echo "$written" >> "$WORK/written.times"
    run readd "$CAIRN" --data-dir "$WORK/dd" --json add "$INPUT"
    grep -m1 '"bytes_written"' "$WORK/.out" | tr -dc 0-9 >> "$WORK/rewritten.times"; echo >> "$WORK/rewritten.times"
    run get "$CAIRN" --data-dir "$WORK/dd" get "$cap" -o "$WORK/out.bin"
    cmp "$INPUT" "$WORK/out.bin"
    if [ "$BASELINES" != 0 ]; then
        run dd dd if=/dev/zero of="$WORK/zero" bs=1M count=$((written / 1048576)) conv=fdatasync
        run cat sh -c "cat '$INPUT' > '$WORK/out.cat'"
        restic init --repo "$WORK/repo" > /dev/null
        run restic_backup restic --repo "$WORK/repo" backup --quiet "$INPUT"
        run restic_restore restic --repo "$WORK/repo" restore latest --target "$WORK/restore" --quiet
    fi
done

add=$(col add 1); get=$(col get 1); readd=$(col readd 1)
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
echo "file: $SIZE random ($bytes bytes), $RUNS run(s), medians; store: $(du -sb "$WORK/dd/store" | cut -f1) bytes on disk"
printf "%-34s %8s s   peak RSS %6d MB   CPU %s s\n" "cairn add (4+2, fsynced)" "$add" $(( $(col add 2) / 1024 )) "$(cpu add)"
printf "%-34s %8s s   wrote %s bytes (first add: %s)\n" "cairn add again (dedup)" "$readd" "$(median < "$WORK/rewritten.times")" "$(median < "$WORK/written.times")"
printf "%-34s %8s s   peak RSS %6d MB   CPU %s s\n" "cairn get" "$get" $(( $(col get 2) / 1024 )) "$(cpu get)"
if [ "$BASELINES" != 0 ]; then
    dd=$(col dd 1); cat=$(col cat 1); rb=$(col restic_backup 1); rr=$(col restic_restore 1)
    printf "%-34s %8s s\n" "dd conv=fdatasync (same bytes)" "$dd"
    printf "%-34s %8s s\n" "cat (same size)" "$cat"
    printf "%-34s %8s s   peak RSS %6d MB   CPU %s s\n" "restic backup (fresh repo)" "$rb" $(( $(col restic_backup 2) / 1024 )) "$(cpu restic_backup)"
    printf "%-34s %8s s   CPU %s s\n" "restic restore" "$rr" "$(cpu restic_restore)"
    echo
    awk -v a="$add" -v d="$dd" -v r="$rb" -v g="$get" -v c="$cat" -v rr="$rr" 'BEGIN {
        printf "add / dd          = %.2f  (goal <= 1.3)\n", a / d
        printf "add / restic      = %.2f  (goal < 1)\n", a / r
        printf "get / cat         = %.2f  (goal <= 1.3)\n", g / c
        printf "restic restore / get = %.2f  (goal >= 3)\n", rr / g
    }'
    # The disk's speed drifts on a shared machine, so also pair each run's
    # figure with the baseline measured right after it.
    pairs() { paste "$WORK/$1.times" "$WORK/$2.times" | awk '{printf "%.2f\n", $1 / $5}'; }
    echo
    echo "per run: add / dd  $(pairs add dd | tr '\n' ' ')(median $(pairs add dd | median))"
    echo "per run: get / cat $(pairs get cat | tr '\n' ' ')(median $(pairs get cat | median))"
fi
rm -rf "$WORK"
