#!/bin/bash
# qcow2 allocations longer than a refcount block's range (snapshot L1 copies with 512-byte
# clusters): new refcount blocks go where they do not cut the run, so the allocation ends and
# the image checks clean; a refcount overflow fails with qemu-img's message.
. "$top_srcdir/tests/lib.sh"
need_qemu

for o in "cluster_size=512" "cluster_size=512,refcount_bits=64" "cluster_size=1024,refcount_bits=32"; do
    rm -f s.qcow2
    "$QEMU_IMG" create -q -f qcow2 -o "$o" s.qcow2 4G
    "$QEMU_IO" -c "write -P 1 0 1M" -c "write -P 2 3G 1M" s.qcow2 >/dev/null
    expect "snapshot -c ends [$o]" timeout 60 "$FLATIMG" snapshot -c s1 s.qcow2
    expect "clean after create [$o]" "$QEMU_IMG" check -q s.qcow2
    "$QEMU_IMG" snapshot -l s.qcow2 >list.out
    expect "qemu lists it [$o]" grep -q ' s1 ' list.out
    "$QEMU_IO" -c "write -P 3 0 4k" s.qcow2 >/dev/null
    expect "snapshot -a [$o]" timeout 60 "$FLATIMG" snapshot -a s1 s.qcow2
    expect "read back [$o]" "$QEMU_IO" -c "read -P 1 0 1M" -c "read -P 2 3G 1M" s.qcow2
    expect "snapshot -d [$o]" timeout 60 "$FLATIMG" snapshot -d s1 s.qcow2
    expect "clean after delete [$o]" "$QEMU_IMG" check -q s.qcow2
done

mk='$IMG create -q -f qcow2 -o cluster_size=512,refcount_bits=1 s.qcow2 1G && '
mk+="$QEMU_IO"' -c "write -P 1 0 64k" s.qcow2 >/dev/null && '
same_fresh "$mk"'$IMG snapshot -c s1 s.qcow2'
finish
