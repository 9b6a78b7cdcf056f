#!/usr/bin/env bash
# Side-by-side read speed of flatimgfs and the peer mounters on the same qcow2 with scattered data:
# qemu-storage-daemon's FUSE export, qcowmount (libqcow-utils, qcow2 only) and xmount (raw input
# only: it serves the flat raw conversion, a passthrough reference), when installed. Sequential
# 1 MiB dd and random 4 KiB preads, the view's page cache dropped before each run, printed as
# ratios (flatimgfs time / peer time: < 1 means flatimgfs is faster), with `cat` of the raw file
# from the page cache as the limit. Run as root from the project root after building
# (build/fuse/flatimgfs). OURS_OPTS adds flatimgfs options (e.g. "-o page-cache,readahead=4096").
# Knobs: SIZE (virtual, default 1G), DATA_MB (scattered data, default 256), READS (4 KiB reads,
# default 20000), RUNS (default 3; the best run counts), FORMAT (qcow2, or raw). The full harness is ../shared/bench/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
FS=${FLATIMGFS:-$PWD/build/fuse/flatimgfs}
SIZE=${SIZE:-1G}
DATA_MB=${DATA_MB:-256}
READS=${READS:-20000}
RUNS=${RUNS:-3}
FORMAT=${FORMAT:-qcow2}
[ -x "$FS" ] || { echo "build flatimgfs first ($FS)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run as root (drops the page cache)" >&2; exit 1; }
if ! command -v qemu-storage-daemon >/dev/null; then
    apt-get install -y --no-install-recommends qemu-system-common >/dev/null
fi
command -v qemu-img >/dev/null || apt-get install -y --no-install-recommends qemu-utils >/dev/null

w=$(mktemp -d /tmp/flatimg-bench.XXXXXX)
cleanup() {
    [ -f "$w/qsd.pid" ] && kill "$(cat "$w/qsd.pid")" 2>/dev/null && sleep 1
    for m in "$w/ours.raw" "$w/qsd.raw" "$w/qm" "$w/xm"; do
        mountpoint -q "$m" 2>/dev/null && fusermount3 -u "$m"
    done
    rm -rf "$w"
}
trap cleanup EXIT

cat >"$w/randread.c" <<'C'
/* N random 4 KiB preads (seeded, aligned) of a file; prints nothing, exits 1 on a short read.
 * "randread FILE drop" only drops the file's page cache. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    int fd = open(argv[1], O_RDONLY);
    long n = atol(argv[2]);
    struct stat st;
    char buf[4096];
    if (fd < 0 || fstat(fd, &st) < 0)
        return 1;
    if (!strcmp(argv[2], "drop"))
        return posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0;
    posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
    unsigned long long x = 42, blocks = (unsigned long long)st.st_size / 4096;
    for (long i = 0; i < n; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        if (pread(fd, buf, 4096, (off_t)((x >> 17) % blocks) * 4096) != 4096)
            return 1;
    }
    return 0;
}
C
cc -O2 -o "$w/randread" "$w/randread.c"

echo "creating a $SIZE $FORMAT with ${DATA_MB} MiB of scattered data..."
qemu-img create -q -f raw "$w/src.raw" "$SIZE"
bytes=$(stat -c %s "$w/src.raw")
chunks=$((DATA_MB / 4))
for i in $(seq 1 "$chunks"); do
    off=$(( (i * 2654435761) % (bytes / 4194304) * 4194304 ))
    head -c 4194304 /dev/urandom | dd of="$w/src.raw" bs=4M seek=$((off / 4194304)) conv=notrunc status=none
done
qemu-img convert -O "$FORMAT" "$w/src.raw" "$w/img.$FORMAT"
qemu-img convert -O raw "$w/img.$FORMAT" "$w/flat.raw"

PEERS=(qsd)
[ "$FORMAT" = qcow2 ] && command -v qcowmount >/dev/null && PEERS+=(qcowmount)
command -v xmount >/dev/null && PEERS+=(xmount)
mkdir "$w/qm" "$w/xm"
touch "$w/ours.raw" "$w/qsd.raw"
# shellcheck disable=SC2086
"$FS" ${OURS_OPTS:-} -o ro,format="$FORMAT" "$w/img.$FORMAT" "$w/ours.raw"
qemu-storage-daemon --daemonize --pidfile "$w/qsd.pid" \
    --blockdev "node-name=prot,driver=file,filename=$w/img.$FORMAT,read-only=on" \
    --blockdev "node-name=fmt,driver=$FORMAT,file=prot,read-only=on" \
    --export "type=fuse,id=exp0,node-name=fmt,mountpoint=$w/qsd.raw,writable=off"
declare -A VIEW=([ours]="$w/ours.raw" [qsd]="$w/qsd.raw" [qcowmount]="$w/qm/qcow1" [xmount]="$w/xm/flat.dd")
for p in "${PEERS[@]}"; do
    case $p in
    qcowmount) qcowmount "$w/img.$FORMAT" "$w/qm" >/dev/null 2>&1 & ;;
    xmount) xmount --in raw "$w/flat.raw" "$w/xm" >/dev/null 2>&1 ;;
    esac
done
for _ in $(seq 1 100); do [ -e "$w/qm/qcow1" ] || [[ " ${PEERS[*]} " != *" qcowmount "* ]] && break; sleep 0.1; done

# (qcowmount ignores the qcow2 v3 zero flag: its data may differ; it is timed for reference)
for f in ours "${PEERS[@]}"; do
    cmp -s "${VIEW[$f]}" "$w/flat.raw" || echo "note: $f: data differs from the raw conversion" >&2
done

drop() { # the page cache of a FUSE view: every timed run goes through its daemon
    "$w/randread" "$1" drop
}
# best of RUNS wall-clock seconds of a command on a view, its page cache dropped before each run
best() {
    local b= t s e view=$1; shift
    for _ in $(seq 1 "$RUNS"); do
        drop "$view"
        s=$(date +%s.%N); "$@" "$view" >/dev/null; e=$(date +%s.%N)
        t=$(echo "$e - $s" | bc -l)
        if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t; fi
    done
    printf '%.3f' "$b"
}
seq_read() { dd if="$1" of=/dev/null bs=1M status=none; }
rand_read() { "$w/randread" "$1" "$READS"; }

echo "sequential 1 MiB reads of $SIZE, random: $READS x 4 KiB; best of $RUNS, view cache dropped"
declare -A SEQ RAND
for f in ours "${PEERS[@]}"; do
    SEQ[$f]=$(best "${VIEW[$f]}" seq_read)
    RAND[$f]=$(best "${VIEW[$f]}" rand_read)
done
cat "$w/flat.raw" >/dev/null
limit=
for _ in $(seq 1 "$RUNS"); do
    s=$(date +%s.%N); cat "$w/flat.raw" >/dev/null; e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc -l)
    if [ -z "$limit" ] || [ "$(echo "$t < $limit" | bc -l)" = 1 ]; then limit=$t; fi
done
printf '%-12s %10s %10s %12s %12s\n' mounter "seq s" "rand s" "ours/peer" "ours/peer"
printf '%-12s %10s %10s %12s %12s\n' "" "" "" "seq" "rand"
for f in ours "${PEERS[@]}"; do
    printf '%-12s %10s %10s %12.2f %12.2f\n' "$f" "${SEQ[$f]}" "${RAND[$f]}" \
        "$(echo "${SEQ[ours]} / ${SEQ[$f]}" | bc -l)" "$(echo "${RAND[ours]} / ${RAND[$f]}" | bc -l)"
done
printf '%-12s %10.3f %10s %12.2f\n' "cat (limit)" "$limit" - "$(echo "${SEQ[ours]} / $limit" | bc -l)"
echo "(ratio: flatimgfs time / peer time, < 1: flatimgfs faster; last row: flatimgfs seq / cat of the raw from page cache)"
echo "daemon memory (VmHWM): flatimgfs $(grep VmHWM /proc/"$(pgrep -nf "^$FS .*$w/ours.raw")"/status | awk '{print $2, $3}'), qsd $(grep VmHWM /proc/"$(cat "$w/qsd.pid")"/status | awk '{print $2, $3}')"
