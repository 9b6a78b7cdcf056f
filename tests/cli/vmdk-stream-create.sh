#!/bin/bash
# `create -f vmdk -o subformat=streamOptimized` writes qemu-img's file byte for byte, except the
# random CID in the descriptor.
. "$top_srcdir/tests/lib.sh"
need_qemu
# same_but_cid A B: two vmdk files are equal but for the CID value in the descriptor (sectors 1-20,
# whose text is zero-padded: its length follows the CID's digits).
same_but_cid() {
    cmp -s <(head -c 512 "$1") <(head -c 512 "$2") &&
        cmp -s <(tail -c +10753 "$1") <(tail -c +10753 "$2") &&
        cmp -s <(head -c 10752 "$1" | tail -c +513 | tr -d '\0' | sed -E 's/^CID=[0-9a-f]+$/CID=X/') \
            <(head -c 10752 "$2" | tail -c +513 | tr -d '\0' | sed -E 's/^CID=[0-9a-f]+$/CID=X/')
}

for size in 8M 1000K 3G; do
    same_fresh "\$IMG create -f vmdk -o subformat=streamOptimized s.vmdk $size"
    expect "same bytes as qemu-img but the CID ($size)" same_but_cid qdir/s.vmdk fdir/s.vmdk
    expect "qemu-img check ($size)" "$QEMU_IMG" check -q fdir/s.vmdk
done
finish
