#!/bin/bash
# convert -C offloads data copies to copy_file_range (into a raw target: plain data of a raw or
# qcow2 source layer goes file to file in the kernel; what the top layer does not hold, and other
# target formats, take the normal path), with the same result as qemu-img -C; the options qemu-img
# refuses with -C are refused with its messages.
. "$top_srcdir/tests/lib.sh"
need_qemu
command -v strace >/dev/null 2>&1 || skip "strace is not installed"
# LeakSanitizer cannot run under ptrace: the sanitizer build is traced without it
traced() { ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace "$@"; }
head -c 3M /dev/urandom >s.raw
truncate -s 8M s.raw
dd if=/dev/urandom of=s.raw bs=1M seek=6 count=1 conv=notrunc status=none
"$QEMU_IMG" convert -O qcow2 s.raw s.qcow2
"$QEMU_IMG" create -q -f qcow2 -b s.qcow2 -F qcow2 t.qcow2
"$QEMU_IO" -f qcow2 -c "write -P 3 1M 64k" -c "write -z 6M 64k" t.qcow2 >/dev/null

offloads() { grep -c 'copy_file_range(' "$1"; }
for src in "raw s.raw" "qcow2 s.qcow2" "qcow2 t.qcow2"; do
    set -- $src
    for extra in "" "-m 1" "-W"; do
        rm -f f.raw q.raw
        traced -f -e trace=copy_file_range -o f.trace "$FLATIMG" convert -C $extra -f $1 -O raw $2 f.raw ||
            fail "convert -C $extra $2"
        "$QEMU_IMG" convert -C $extra -f $1 -O raw $2 q.raw
        n=$(offloads f.trace)
        expect "-C $extra $2: data copied by copy_file_range ($n calls)" test "$n" -gt 0
        expect "-C $extra $2 reads back as the source" "$QEMU_IMG" compare -q -f $1 -F raw $2 f.raw
        expect "-C $extra $2 equals qemu-img's target" cmp f.raw q.raw
    done
    rm -f f.raw
    traced -f -e trace=copy_file_range -o plain.trace "$FLATIMG" convert -f $1 -O raw $2 f.raw
    expect "without -C no offload ($2)" test "$(offloads plain.trace)" -eq 0
done
rm -f f.qcow2
"$FLATIMG" convert -C -O qcow2 t.qcow2 f.qcow2 || fail "convert -C to qcow2"
expect "-C to qcow2 is clean" "$QEMU_IMG" check -q f.qcow2
expect "-C to qcow2 reads back as the source" "$QEMU_IMG" compare -q t.qcow2 f.qcow2
for bad in "-c -O qcow2" "-S 4k -O raw" "--salvage -O raw"; do
    same convert -C $bad s.raw e.img
done
finish
