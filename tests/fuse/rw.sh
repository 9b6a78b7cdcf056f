#!/bin/sh
# A rw mount written with dd conv=notrunc and fallocate --punch-hole/--zero-range, then unmounted:
# the image holds exactly those writes (qemu-io read -P, qemu-img compare with the same edits made
# on a plain copy), punched holes read back as zeros, and truncate is refused with EPERM.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
command -v fallocate >/dev/null || skip "fallocate (util-linux) is not installed"

$QEMU_IMG create -q -f raw disk.img 4M
$QEMU_IO -f raw -c "write -P 0x77 0 4M" disk.img >/dev/null
cp disk.img ref.img
touch view.raw
fsmount disk.img view.raw -o rw,pidfile=$SCRATCH/pid || exit 1

edit() { # the same edits on the mount and on a plain file
    printf 'flatimgfs was here' | dd of="$1" bs=1 seek=1000 conv=notrunc status=none &&
    head -c 65536 /dev/zero | tr '\0' '\252' | dd of="$1" bs=64k seek=8 conv=notrunc status=none &&
    fallocate -p -o 1M -l 256k "$1" &&
    fallocate -z -o 2M -l 128k "$1" &&
    fallocate -p -o 3M -l 1234 "$1"
}
expect "edits through the mount" edit view.raw
edit ref.img
expect "punched hole reads back zeros" \
    test "$(dd if=view.raw bs=64k skip=16 count=4 status=none | tr -d '\0' | wc -c)" = 0
expect "truncate is refused" sh -c '! truncate -s 1M view.raw 2>err && grep -q "Operation not permitted" err'
expect "fsync succeeds" sh -c 'dd if=/dev/zero of=view.raw bs=512 count=1 seek=4000 conv=notrunc,fsync status=none'
dd if=/dev/zero of=ref.img bs=512 count=1 seek=4000 conv=notrunc status=none
expect "unmount" fsumount view.raw pid
expect "image equals the same edits on a plain file" $QEMU_IMG compare -q -f raw -F raw disk.img ref.img
expect "qemu-io reads the pattern" qio_ok -f raw -c 'read -P 0xaa 512k 64k' -c 'read -P 0 1M 256k' -c 'read -P 0x77 1280k 64k' -c 'read -P 0 2M 128k' disk.img
expect "size unchanged" test "$(stat -c %s disk.img)" = 4194304
finish
