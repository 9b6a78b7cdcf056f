#!/bin/bash
# Benchmark: flatimg vs qemu-img side by side in one run: convert qcow2->raw, raw->qcow2,
# -c compressed, a 3-deep chain->raw, raw->raw, rebase (safe mode) and commit.
# Usage: bench/convert.sh [path/to/flatimg] [size in MiB, default 1024]; prints for each workload
# the best wall time (to the millisecond) of $RUNS runs (default 5) and the peak RSS (KiB) of each
# program, and the time ratio flatimg/qemu-img (below 1 means flatimg is faster).
set -u
FLATIMG=${1:-tools/flatimg}
MIB=${2:-1024}
QEMU_IMG=${QEMU_IMG:-qemu-img}
RUNS=${RUNS:-5}
FLATIMG=$(readlink -f "$FLATIMG")
QEMU_IMG=$(command -v "$QEMU_IMG")
DIR=$(mktemp -d "${TMPDIR:-/tmp}/flatimg-bench.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
cd "$DIR" || exit 1

# Half the image data (random, incompressible-ish and zero-filled parts), half holes.
"$QEMU_IMG" create -q -f raw src.raw "${MIB}M"
step=$((MIB / 8))
for i in 0 2 4 6; do
    dd if=/dev/urandom of=src.raw bs=1M seek=$((i * step)) count=$((step / 2)) conv=notrunc status=none
    dd if=/dev/zero of=src.raw bs=1M seek=$((i * step + step / 2)) count=$((step / 4)) conv=notrunc status=none
done
"$QEMU_IMG" convert -O qcow2 src.raw src.qcow2
"$QEMU_IMG" create -q -f qcow2 c0.qcow2 "${MIB}M"
qemu-io -f qcow2 -c "write -P 1 0 $((MIB / 4))M" c0.qcow2 >/dev/null
"$QEMU_IMG" create -q -f qcow2 -b c0.qcow2 -F qcow2 c1.qcow2
qemu-io -f qcow2 -c "write -P 2 $((MIB / 4))M $((MIB / 4))M" c1.qcow2 >/dev/null
"$QEMU_IMG" create -q -f qcow2 -b c1.qcow2 -F qcow2 c2.qcow2
qemu-io -f qcow2 -c "write -P 3 $((MIB / 8))M $((MIB / 4))M" c2.qcow2 >/dev/null
# rebase/commit work on copies made before each run (not timed)
prep_chain='rm -f out; cp c0.qcow2 w0.qcow2; cp c1.qcow2 w1.qcow2; cp c2.qcow2 w2.qcow2; qemu-img rebase -u -F qcow2 -b w0.qcow2 w1.qcow2; qemu-img rebase -u -F qcow2 -b w1.qcow2 w2.qcow2'

workloads=(
    "qcow2->raw|rm -f out|convert -f qcow2 -O raw src.qcow2 out"
    "raw->qcow2|rm -f out|convert -f raw -O qcow2 src.raw out"
    "raw->qcow2 -c|rm -f out|convert -c -f raw -O qcow2 src.raw out"
    "chain->raw|rm -f out|convert -f qcow2 -O raw c2.qcow2 out"
    "raw->raw|rm -f out|convert -f raw -O raw src.raw out"
    "rebase|$prep_chain|rebase -f qcow2 -F qcow2 -b w0.qcow2 w2.qcow2"
    "commit|$prep_chain|commit -f qcow2 w2.qcow2"
)

measure() { # measure PREP PROG ARGS: "best-seconds max-rss-kib" over $RUNS runs
    local prep=$1 best= rss=0 t0 t1 t m
    shift
    for _ in $(seq "$RUNS"); do
        bash -c "$prep" >/dev/null 2>&1
        sync
        t0=$(date +%s%N)
        /usr/bin/time -f '%M' -o time.out "$@" >/dev/null 2>&1 || { echo fail; return; }
        t1=$(date +%s%N)
        t=$(( (t1 - t0) / 1000000 )) # ms: /usr/bin/time's %e has only 10 ms steps
        read -r m <time.out
        if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
        [ "$m" -gt "$rss" ] && rss=$m
    done
    echo "$(echo "scale=3; $best / 1000" | bc -l) $rss"
}

printf '%-14s %9s %9s %7s %10s %10s\n' workload qemu-img flatimg ratio qemu-KiB flat-KiB
for w in "${workloads[@]}"; do
    IFS='|' read -r name prep args <<<"$w"
    read -r q qm <<<"$(measure "$prep" "$QEMU_IMG" $args)"
    read -r f fm <<<"$(measure "$prep" "$FLATIMG" $args)"
    if [ "$f" = fail ] || [ "$q" = fail ]; then
        printf '%-14s %9s %9s %7s\n' "$name" "$q" "$f" "-"
    else
        ratio=$(echo "scale=2; if ($q == 0) 0 else $f / $q" | bc -l)
        printf '%-14s %9.3f %9.3f %7.2f %10s %10s\n' "$name" "$q" "$f" "$ratio" "$qm" "$fm"
    fi
done
