#!/bin/bash
# Benchmark: flatimg convert vs qemu-img convert side by side (qcow2->raw, raw->qcow2, -c
# compressed, a 3-deep chain->raw), with hyperfine when installed, else bash's `time`.
# Usage: bench/convert.sh [path/to/flatimg] [size in MiB]; prints wall times and the ratio
# flatimg/qemu-img (below 1 means flatimg is faster).
set -u
FLATIMG=${1:-tools/flatimg}
MIB=${2:-256}
QEMU_IMG=${QEMU_IMG:-qemu-img}
FLATIMG=$(readlink -f "$FLATIMG")
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

workloads=(
    "qcow2->raw|convert -f qcow2 -O raw src.qcow2 out"
    "raw->qcow2|convert -f raw -O qcow2 src.raw out"
    "raw->qcow2 -c|convert -c -f raw -O qcow2 src.raw out"
    "chain->raw|convert -f qcow2 -O raw c2.qcow2 out"
    "raw->raw|convert -f raw -O raw src.raw out"
)

seconds() { # seconds PROG ARGS: best wall time of 3 runs
    local best=
    for _ in 1 2 3; do
        rm -f out
        local t0 t1
        t0=$(date +%s.%N)
        "$@" >/dev/null 2>&1 || { echo fail; return; }
        t1=$(date +%s.%N)
        local t
        t=$(echo "$t1 - $t0" | bc)
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
    done
    echo "$best"
}

command -v hyperfine >/dev/null 2>&1 ||
    printf '%-16s %10s %10s %8s\n' workload qemu-img flatimg ratio
for w in "${workloads[@]}"; do
    name=${w%%|*}
    args=${w#*|}
    if command -v hyperfine >/dev/null 2>&1; then
        echo "== $name"
        hyperfine -w 1 -r 3 -p 'rm -f out' "$QEMU_IMG $args" "$FLATIMG $args"
        continue
    fi
    q=$(seconds "$QEMU_IMG" $args)
    f=$(seconds "$FLATIMG" $args)
    if [ "$f" = fail ] || [ "$q" = fail ]; then
        printf '%-16s %10s %10s %8s\n' "$name" "${q:0:6}" "${f:0:6}" "-"
    else
        printf '%-16s %10.3f %10.3f %8.2f\n' "$name" "$q" "$f" "$(echo "$f / $q" | bc -l)"
    fi
done
