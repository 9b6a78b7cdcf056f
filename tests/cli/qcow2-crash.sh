#!/bin/bash
# A flatimg writer (convert -n, bench -w) killed with SIGKILL at random points leaves a qcow2 that
# real `qemu-img check` finds clean or with leaked clusters only, never corrupt, whose every sector
# holds the old or the new data, whose snapshot is untouched; with lazy_refcounts the dirty image
# is repaired by the next read-write open, as qemu does. Clusters of 512 B to 64 KiB, v2 and v3,
# extended L2, a snapshot (copy-on-write of shared clusters).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/cli/qcow2-lib.sh"
need_qemu
command -v python3 >/dev/null || skip "python3 is not installed"
command -v timeout >/dev/null || skip "timeout (coreutils) is not installed"
RUNS=${CRASH_RUNS:-5}
SIZE=$((16 << 20))

# the new data: scattered random runs of 512 B to 300 KB over zeros
python3 - "$SIZE" <<'PY'
import os, random, sys
size = int(sys.argv[1]); random.seed(7)
f = open('new.raw', 'wb'); f.truncate(size)
for _ in range(200):
    off = random.randrange(0, size, 512); n = random.choice([512, 4096, 65536, 200000, 300000])
    f.seek(off); f.write(os.urandom(min(n, size - off)))
PY
# tiny metadata caches: tables are written back (evicted) all along, not only at the end
writer() { # writer KIND IMG SECONDS: run the writer to completion or until killed
    local o="driver=qcow2,file.filename=$2,l2-cache-size=16k,refcount-cache-size=16k"
    case $1 in
    convert) timeout -s KILL "$3" "$FLATIMG" convert -n --target-image-opts new.raw "$o" ;;
    bench) timeout -s KILL "$3" "$FLATIMG" bench -w -q -c 4000 -s 3k -S 37k --pattern=90 \
               --image-opts "$o" ;;
    esac >/dev/null 2>&1
}
new_of() { [ "$1" = convert ] && echo new.raw || echo 90; }

crash_case() { # crash_case NAME CREATE-OPTS [snapshot]
    local name=$1 opts=$2 snap=${3:-} kind t0 t1 dur i at rc bad=0
    rm -f base.qcow2
    mkimg base.qcow2 "$opts" $SIZE 'write -P 0x11 0 3M' 'write -P 0x22 8M 1M' \
        'write -P 0x33 12M 64k' || { fail "$name: create"; return; }
    [ -n "$snap" ] && "$QEMU_IMG" snapshot -c s1 base.qcow2
    "$QEMU_IMG" convert -O raw base.qcow2 old.raw
    for kind in convert bench; do
        cp base.qcow2 full.qcow2
        t0=$(date +%s%N); writer $kind full.qcow2 60; t1=$(date +%s%N)
        dur=$(( (t1 - t0) / 1000000 ))
        for i in $(seq "$RUNS"); do
            at=$(awk -v s="$RANDOM" -v d="$dur" 'BEGIN { srand(s); printf "%.3f", rand() * d / 1000 }')
            cp base.qcow2 c.qcow2
            writer $kind c.qcow2 "$at"
            # in-flight I/O of the killed writer may hold its file (and lock) a moment longer
            timeout 10 sh -c "until '$QEMU_IMG' info c.qcow2 >/dev/null 2>&1; do sleep 0.01; done"
            "$QEMU_IMG" check c.qcow2 >check.out 2>&1; rc=$?
            if [ $rc -ne 0 ] && [ $rc -ne 3 ] && ! grep -q "lazy_refcounts=on" <<<"$opts"; then
                echo "$name $kind killed at ${at}s: check exit $rc"; sed 's/^/    /' check.out; bad=1
            fi
            rm -f c.raw
            "$QEMU_IMG" convert -O raw c.qcow2 c.raw &&
                python3 "$top_srcdir/tests/cli/qcow2-crash.py" c.raw old.raw "$(new_of $kind)" ||
                { echo "$name $kind killed at ${at}s: content"; bad=1; }
            if [ -n "$snap" ]; then
                rm -f s.raw
                "$QEMU_IMG" convert -l s1 -O raw c.qcow2 s.raw && cmp -s s.raw old.raw ||
                    { echo "$name $kind killed at ${at}s: snapshot changed"; bad=1; }
            fi
            if grep -q "lazy_refcounts=on" <<<"$opts"; then
                "$QTOOL" discard c.qcow2 0 0 >/dev/null 2>&1 || { echo "$name: rw open failed"; bad=1; }
                "$QEMU_IMG" check c.qcow2 >check.out 2>&1; rc=$?
                if [ $rc -ne 0 ] && [ $rc -ne 3 ]; then
                    echo "$name $kind killed at ${at}s: check after repair exit $rc"
                    sed 's/^/    /' check.out; bad=1
                fi
                "$QEMU_IMG" info --output=json c.qcow2 | grep -q '"dirty-flag": false' ||
                    { echo "$name $kind killed at ${at}s: still dirty"; bad=1; }
            fi
        done
    done
    expect "$name: $RUNS kills per writer" test $bad = 0
}

crash_case "4k clusters" cluster_size=4k
crash_case "512 B clusters" cluster_size=512
crash_case "lazy refcounts" cluster_size=4k,lazy_refcounts=on
crash_case "snapshot" cluster_size=4k snapshot
crash_case "extended L2" cluster_size=64k,extended_l2=on
crash_case "v2" compat=0.10,cluster_size=4k
crash_case "v2 snapshot" compat=0.10,cluster_size=64k snapshot
finish
