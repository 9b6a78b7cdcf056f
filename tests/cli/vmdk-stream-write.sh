#!/bin/bash
# Writes to a streamOptimized vmdk follow qemu 7.2: whole grains only (else EINVAL, after a
# cluster was allocated), a written grain cannot be rewritten ("Could not write to allocated
# cluster for streamOptimized", EIO); the file equals qemu-io's after the same writes.
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
IMGCAT=${top_builddir:-.}/tests/unit/imgcat

mkdir f q
"$QEMU_IMG" create -q -f vmdk -o subformat=streamOptimized f/s.vmdk 8M
"$QEMU_IMG" create -q -f vmdk -o subformat=streamOptimized q/s.vmdk 8M
for w in "65536 65536 11 0" "0 65536 22 0" "0 65536 33 1" "204800 4096 44 1" "8384512 4096 44 1"; do
    set -- $w
    "$IMGCAT" -f vmdk -w "$1:$2:$3" f/s.vmdk 2>f.err
    frc=$?
    "$QEMU_IO" -f vmdk -c "write -P 0x$3 $1 $2" q/s.vmdk >/dev/null 2>q.err
    qrc=$?
    expect "write $1+$2 succeeds as with qemu-io" test "$frc" -eq "$4" -a "$qrc" -eq "$4"
done
"$QEMU_IO" -f vmdk -c 'write -P 0x33 0 64k' q/s.vmdk >/dev/null 2>q.err
"$IMGCAT" -f vmdk -w 0:65536:33 f/s.vmdk 2>f.err
expect "qemu-io refuses a rewrite" grep -qx 'qemu-io: Could not write to allocated cluster for streamOptimized' q.err
expect "rewrite refused with qemu's message" \
    grep -qx 'flatimg: Could not write to allocated cluster for streamOptimized' f.err
expect "qemu-img check after writes" "$QEMU_IMG" check -q f/s.vmdk
expect "same content as qemu-io's" "$QEMU_IMG" compare -q f/s.vmdk q/s.vmdk
expect "same file size as qemu-io's" test "$(stat -c %s f/s.vmdk)" = "$(stat -c %s q/s.vmdk)"
expect "same bytes as qemu-io's but the CID" same_but_cid f/s.vmdk q/s.vmdk
finish
