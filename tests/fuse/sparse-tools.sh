#!/bin/sh
# The holes of the mounted view reach the usual sparse-aware tools: cp --sparse=always and
# tar -S --hole-detection=seek (SEEK_DATA/SEEK_HOLE) make copies that hold the same bytes and
# allocate only about the data `qemu-img map` reports.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
need_qcow2

$QEMU_IMG create -q -f qcow2 disk.qcow2 64M
$QEMU_IO -c "write -P 0x11 1M 1M" -c "write -P 0x22 20M 512k" -c "write -P 0x33 63M 1M" disk.qcow2 >/dev/null
$QEMU_IMG convert -O raw disk.qcow2 ref.raw
data=$(qemu_data_map disk.qcow2 | awk '{ t += $2 } END { print t }')
touch view.raw
fsmount disk.qcow2 view.raw -o pidfile=$SCRATCH/pid || exit 1

# allocated KiB of FILE at most the data plus 1 MiB of slack (file system blocks, metadata)
small() { test "$(du -k "$1" | cut -f1)" -le $((data / 1024 + 1024)); }

cp --sparse=always view.raw copy.raw
expect "cp --sparse=always: same bytes" cmp copy.raw ref.raw
expect "cp --sparse=always: sparse ($(du -k copy.raw | cut -f1) KiB for $((data / 1024)) KiB of data)" small copy.raw
if tar --help 2>/dev/null | grep -q hole-detection; then
    tar -S --hole-detection=seek -cf view.tar view.raw
    mkdir out
    tar -xf view.tar -C out
    expect "tar -S: same bytes" cmp out/view.raw ref.raw
    expect "tar -S: sparse ($(du -k out/view.raw | cut -f1) KiB)" small out/view.raw
    expect "tar -S: a small archive" test "$(stat -c %s view.tar)" -le $((data + 1048576))
fi
fsumount view.raw pid
finish
