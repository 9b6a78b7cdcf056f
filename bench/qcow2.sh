#!/bin/bash
# Benchmark (issue 3's speed and memory item): qcow2 read and write against qemu-img in the same
# run. A 4 GiB qcow2 holding 1 GiB of scattered random data is converted to raw and that raw back
# to qcow2; each program's best wall time of $RUNS runs, peak RSS (/usr/bin/time %M) and the
# ratio flatimg/qemu-img (below 1: flatimg is faster). Then the peak RSS of `info` and `map` on a
# 1 TiB image and on a 1 GiB one with the same data: memory bounded by the caches, not the size.
# Usage: bench/qcow2.sh [path/to/flatimg] [virtual GiB] [data MiB]
set -u
FLATIMG=$(readlink -f "${1:-tools/flatimg}")
GIB=${2:-4}
DATA_MIB=${3:-1024}
QEMU_IMG=$(command -v "${QEMU_IMG:-qemu-img}")
RUNS=${RUNS:-3}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/flatimg-bench-qcow2.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
cd "$DIR" || exit 1

# DATA_MIB of random data in 256 KiB runs at random 64 KiB-aligned places of a sparse raw file
python3 - "$GIB" "$DATA_MIB" <<'PY'
import os, random, sys
size = int(sys.argv[1]) << 30; runs = (int(sys.argv[2]) << 20) // (256 << 10)
random.seed(3)
offs = sorted(random.sample(range(0, size // (256 << 10)), runs))
with open('src.raw', 'wb') as f:
    f.truncate(size)
    block = os.urandom(4 << 20)
    for i, o in enumerate(offs):
        f.seek(o * (256 << 10))
        p = (i * 256 << 10) % (len(block) - (256 << 10))
        f.write(block[p:p + (256 << 10)])
PY
"$QEMU_IMG" convert -f raw -O qcow2 src.raw src.qcow2

measure() { # measure PROG ARGS...: "best-seconds max-rss-kib" over $RUNS runs
    local best= rss=0 t m
    for _ in $(seq "$RUNS"); do
        rm -f out
        sync
        /usr/bin/time -f '%e %M' -o time.out "$@" >/dev/null 2>&1 || { echo fail 0; return; }
        read -r t m <time.out
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
        [ "$m" -gt "$rss" ] && rss=$m
    done
    echo "$best $rss"
}
row() { # row NAME ARGS...: both programs, one line
    local name=$1 q qm f fm ratio
    shift
    read -r q qm <<<"$(measure "$QEMU_IMG" "$@")"
    read -r f fm <<<"$(measure "$FLATIMG" "$@")"
    if [ "$q" = fail ] || [ "$f" = fail ]; then
        printf '%-22s %9s %9s %7s\n' "$name" "$q" "$f" -
        return
    fi
    ratio=$(echo "scale=2; if ($q == 0) 0 else $f / $q" | bc -l)
    printf '%-22s %9.2f %9.2f %7.2f %10s %10s\n' "$name" "$q" "$f" "$ratio" "$qm" "$fm"
}

echo "${GIB} GiB qcow2, ${DATA_MIB} MiB of data; best of $RUNS; load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-22s %9s %9s %7s %10s %10s\n' workload qemu-img flatimg ratio qemu-KiB flat-KiB
row "qcow2->raw" convert -f qcow2 -O raw src.qcow2 out
row "raw->qcow2" convert -f raw -O qcow2 src.raw out
row "qcow2->qcow2" convert -f qcow2 -O qcow2 src.qcow2 out

# the same data at the start of a 1 GiB and of a 1 TiB image
"$QEMU_IMG" create -q -f qcow2 small.qcow2 1G
"$QEMU_IMG" create -q -f qcow2 huge.qcow2 1T
for img in small.qcow2 huge.qcow2; do
    qemu-io -c "write -P 1 0 64M" -c "write -P 2 512M 64M" "$img" >/dev/null
done
qemu-io -c "write -P 3 1000G 64M" huge.qcow2 >/dev/null
echo
printf '%-22s %9s %9s %7s %10s %10s\n' "info/map RSS" qemu-img flatimg ratio qemu-KiB flat-KiB
for img in small.qcow2 huge.qcow2; do
    row "info $img" info "$img"
    row "map $img" map --output=json "$img"
done
