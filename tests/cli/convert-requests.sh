#!/bin/bash
# convert writes big requests as qemu-img does: runs of whole qcow2 clusters are allocated and
# written together (a handful of writes for megabytes, not one per cluster), the layout stays
# byte-identical to qemu-img's, and compressed output made on several worker threads (-m, without
# -W) is still written in guest order, so the file equals qemu-img's.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/compress-lib.sh"
need_qemu
command -v strace >/dev/null 2>&1 || skip "strace is not installed"
# LeakSanitizer cannot run under ptrace: the sanitizer build is traced without it
traced() { ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace "$@"; }
make_sources
head -c 8388608 /dev/urandom >big.raw
truncate -s 16M big.raw

writes() { # writes LOG: pwrite calls to the target file
    grep -c 'pwrite64(' "$1"
}

traced -f -e trace=pwrite64 -o f.trace "$FLATIMG" convert -f raw -O qcow2 big.raw f.qcow2 ||
    fail "convert raw->qcow2"
"$QEMU_IMG" convert -f raw -O qcow2 big.raw q.qcow2
n=$(writes f.trace)
echo "raw->qcow2 8 MiB of data: $n writes"
expect "8 MiB of data in at most 24 writes (got $n)" test "$n" -le 24
expect "raw->qcow2 file equals qemu-img's" cmp f.qcow2 q.qcow2
check_target big.raw f.qcow2

for cs in 4096 2M; do
    "$FLATIMG" convert -O qcow2 -o cluster_size=$cs big.raw f-$cs.qcow2 || fail "convert $cs"
    check_target big.raw f-$cs.qcow2
done
"$FLATIMG" convert -O qcow2 -o extended_l2=on big.raw f-ext.qcow2 || fail "convert extended_l2"
"$QEMU_IMG" convert -O qcow2 -o extended_l2=on big.raw q-ext.qcow2
check_target big.raw f-ext.qcow2
expect "extended_l2 file equals qemu-img's" cmp f-ext.qcow2 q-ext.qcow2

# -n into an image that already has data: owned clusters are overwritten in place
"$QEMU_IMG" create -q -f qcow2 over.qcow2 16M
"$QEMU_IO" -f qcow2 -c "write -P 7 1M 3M" -c "write -P 8 9M 64k" over.qcow2 >/dev/null
"$FLATIMG" convert -n -f raw -O qcow2 big.raw over.qcow2 || fail "convert -n"
check_target big.raw over.qcow2
# ... in one write per contiguous host run, as qemu-img writes a request (not one per cluster)
"$QEMU_IMG" create -q -f qcow2 owned-f.qcow2 16M
"$QEMU_IO" -f qcow2 -c "write -P 7 0 16M" owned-f.qcow2 >/dev/null
cp owned-f.qcow2 owned-q.qcow2
traced -f -e trace=pwrite64 -o owned-f.trace "$FLATIMG" convert -n -f raw -O qcow2 big.raw \
    owned-f.qcow2 || fail "convert -n over owned clusters"
traced -f -e trace=pwrite64 -o owned-q.trace "$QEMU_IMG" convert -n -f raw -O qcow2 big.raw \
    owned-q.qcow2
fw=$(writes owned-f.trace) qw=$(writes owned-q.trace)
expect "owned clusters overwritten in $fw writes (qemu-img: $qw)" test "$fw" -le "$qw"
# (the files differ only in the clusters the zeroed half freed: qemu discards their old bytes)
expect "owned clusters overwritten: map equals qemu-img's" \
    cmp <("$QEMU_IMG" map --output=json owned-f.qcow2) <("$QEMU_IMG" map --output=json owned-q.qcow2)
check_target big.raw owned-f.qcow2

# A scattered image: many small extents, each worker's piece gathers several of them (and the
# holes between) yet the writes stay in guest order, so the files equal qemu-img's; through -B
# the ranges equal to the backing file are skipped inside pieces as well.
truncate -s 64M scat.raw
for i in $(seq 0 97); do
    dd if=random.raw of=scat.raw bs=65536 seek=$(( (i * 37) % 1000 + (i % 3) )) count=$(( i % 4 + 1 )) \
        conv=notrunc status=none
done
"$QEMU_IMG" convert -f raw -O qcow2 scat.raw q-scat.qcow2
for m in 1 2 8 16; do
    "$FLATIMG" convert -m $m -f raw -O qcow2 scat.raw f-scat-$m.qcow2 || fail "convert scattered -m $m"
    expect "scattered -m $m: file equals qemu-img's" cmp f-scat-$m.qcow2 q-scat.qcow2
    "$FLATIMG" convert -m $m -f qcow2 -O raw q-scat.qcow2 f-scat-$m.raw || fail "to raw -m $m"
    expect "scattered qcow2->raw -m $m equals the source" cmp f-scat-$m.raw scat.raw
done
"$QEMU_IMG" create -q -f qcow2 -b scat.raw -F raw scat-top.qcow2
"$QEMU_IO" -f qcow2 -c "write -P 9 1M 192k" -c "write -P 3 20M 64k" scat-top.qcow2 >/dev/null
"$QEMU_IMG" convert -O qcow2 -B scat.raw -F raw scat-top.qcow2 q-scat-b.qcow2
"$FLATIMG" convert -O qcow2 -B scat.raw -F raw scat-top.qcow2 f-scat-b.qcow2 || fail "convert -B"
expect "-B over a scattered backing: file equals qemu-img's" cmp f-scat-b.qcow2 q-scat-b.qcow2

# Requests that cover new clusters in part (no backing file): the rest of each cluster is zeroed
# by fallocate and only the data is written, as qemu's handle_alloc_space does, so flatimg writes
# no more bytes than qemu-img and the file and its disk usage equal qemu-img's.
truncate -s 32M part.raw
for i in $(seq 0 40); do
    dd if=random.raw of=part.raw bs=4096 seek=$((i * 173 + 3)) count=$((i % 5 + 1)) conv=notrunc \
        status=none
done
traced -f -e trace=pwrite64,fallocate -o fp.trace "$FLATIMG" convert -f raw -O qcow2 part.raw \
    f-part.qcow2 || fail "convert partial clusters"
traced -f -e trace=pwrite64,fallocate -o qp.trace "$QEMU_IMG" convert -f raw -O qcow2 part.raw \
    q-part.qcow2
written() { awk '/pwrite64\(/ { s += $NF } END { print s + 0 }' "$1"; }
fb=$(written fp.trace) qb=$(written qp.trace)
expect "partial clusters: $fb bytes written, qemu-img $qb" test "$fb" -le "$qb"
expect "partial clusters zeroed by fallocate" test "$(grep -c 'fallocate(' fp.trace)" -ge 30
expect "partial clusters: file equals qemu-img's" cmp f-part.qcow2 q-part.qcow2
expect "partial clusters: disk usage equals qemu-img's" \
    test "$(du -k f-part.qcow2 | cut -f1)" = "$(du -k q-part.qcow2 | cut -f1)"
check_target part.raw f-part.qcow2

for src in mixed text sparse; do
    for m in 1 4 8; do
        "$FLATIMG" convert -c -m $m -O qcow2 $src.raw f-$src-$m.qcow2 || fail "convert -c $src"
        "$QEMU_IMG" convert -c -m $m -O qcow2 $src.raw q-$src-$m.qcow2
        check_target $src.raw f-$src-$m.qcow2
        expect "-c -m $m $src in guest order: file equals qemu-img's" \
            cmp f-$src-$m.qcow2 q-$src-$m.qcow2
    done
done
finish
