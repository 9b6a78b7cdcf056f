#!/usr/bin/env bash
# Side-by-side read speed of flatimgfs and qemu-storage-daemon's FUSE export on the same qcow2 with
# scattered data: sequential 1 MiB dd and random 4 KiB preads, cold page cache, printed as ratios
# (flatimgfs time / qsd time: < 1 means flatimgfs is faster), with `cat` of the raw file from the
# page cache as the limit. Run as root from the project root after building (build/fuse/flatimgfs).
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
    for m in "$w/ours.raw" "$w/qsd.raw"; do mountpoint -q "$m" 2>/dev/null && fusermount3 -u "$m"; done
    [ -f "$w/qsd.pid" ] && kill "$(cat "$w/qsd.pid")" 2>/dev/null
    rm -rf "$w"
}
trap cleanup EXIT

cat >"$w/randread.c" <<'C'
/* N random 4 KiB preads (seeded, aligned) of a file; prints nothing, exits 1 on a short read. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
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

touch "$w/ours.raw" "$w/qsd.raw"
"$FS" -o ro,format="$FORMAT" "$w/img.$FORMAT" "$w/ours.raw"
qemu-storage-daemon --daemonize --pidfile "$w/qsd.pid" \
    --blockdev "node-name=prot,driver=file,filename=$w/img.$FORMAT,read-only=on" \
    --blockdev "node-name=fmt,driver=$FORMAT,file=prot,read-only=on" \
    --export "type=fuse,id=exp0,node-name=fmt,mountpoint=$w/qsd.raw,writable=off"

for f in ours qsd; do
    cmp -s "$w/$f.raw" "$w/flat.raw" || { echo "$f: data differs from the raw conversion" >&2; exit 1; }
done

# best of RUNS wall-clock seconds of a command, page cache dropped before each run
best() {
    local b= t s e
    for _ in $(seq 1 "$RUNS"); do
        sync; echo 3 >/proc/sys/vm/drop_caches
        s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N)
        t=$(echo "$e - $s" | bc -l)
        if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t; fi
    done
    printf '%.3f' "$b"
}
seq_read() { dd if="$1" of=/dev/null bs=1M status=none; }
cat_cached() { cat "$1" >/dev/null; }

echo "sequential 1 MiB reads of $SIZE, random: $READS x 4 KiB; best of $RUNS, cold cache"
s_ours=$(best seq_read "$w/ours.raw")
s_qsd=$(best seq_read "$w/qsd.raw")
r_ours=$(best "$w/randread" "$w/ours.raw" "$READS")
r_qsd=$(best "$w/randread" "$w/qsd.raw" "$READS")
cat "$w/flat.raw" >/dev/null
s=$(date +%s.%N); cat_cached "$w/flat.raw"; e=$(date +%s.%N)
limit=$(printf '%.3f' "$(echo "$e - $s" | bc -l)")
printf '%-26s %10s %10s %8s\n' workload flatimgfs qsd-fuse ratio
printf '%-26s %9ss %9ss %8.2f\n' "seq 1 MiB dd" "$s_ours" "$s_qsd" "$(echo "$s_ours / $s_qsd" | bc -l)"
printf '%-26s %9ss %9ss %8.2f\n' "random 4 KiB x $READS" "$r_ours" "$r_qsd" "$(echo "$r_ours / $r_qsd" | bc -l)"
printf '%-26s %9ss %10s %8.2f\n' "cat raw (page cache)" "$limit" "-" "$(echo "$s_ours / $limit" | bc -l)"
echo "(ratio: flatimgfs time / peer time; last row: flatimgfs seq / page-cache limit)"
echo "daemon memory (VmHWM): flatimgfs $(grep VmHWM /proc/$(pgrep -nf "^$FS -o ro,format=$FORMAT $w/img.$FORMAT")/status | awk '{print $2, $3}'), qsd $(grep VmHWM /proc/$(cat "$w/qsd.pid")/status | awk '{print $2, $3}')"
