#!/bin/sh
# Read path modes: by default a view is opened with direct I/O, so one 1 MiB read(2) reaches the
# daemon as one 1 MiB request (and st_blksize advertises 1 MiB); -o page-cache reads through the
# kernel page cache in read-ahead pieces, and -o readahead=KIB (root) sets the mount's read-ahead.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse

$QEMU_IMG create -q -f raw disk.img 4M
$QEMU_IO -f raw -c "write -P 0x5a 0 3M" disk.img >/dev/null
touch view.raw
MOUNTS="$SCRATCH/view.raw"

# debug_mount LOG ARGS...: flatimgfs -d (foreground, every request logged) in the background
debug_mount() {
    local log=$1; shift
    "$FLATIMGFS" -d disk.img view.raw "$@" >"$log" 2>&1 &
    DPID=$!
    timeout 30 sh -c "until mountpoint -q view.raw; do kill -0 $DPID || exit 1; sleep 0.01; done"
}
debug_umount() { fusermount3 -u view.raw && wait $DPID; }

expect "default mount" debug_mount direct.log
expect "st_blksize is 1 MiB" test "$(stat -c %o view.raw)" = 1048576
expect "data" cmp view.raw disk.img
dd if=view.raw of=/dev/null bs=1M count=1 skip=1 status=none
expect "a 1 MiB read is one 1 MiB request" grep -q "read\[.*\] 1048576 bytes from 1048576" direct.log
debug_umount

expect "-o page-cache" debug_mount cache.log -o page-cache
expect "page-cache data" cmp view.raw disk.img
expect "page-cache: reads come in read-ahead pieces" sh -c '! grep -q "read\[.*\] 1048576 bytes" cache.log'
expect "page-cache: they were read" grep -q "read\[.*\] [0-9]* bytes from 0" cache.log
debug_umount

if [ "$(id -u)" = 0 ]; then
    expect "-o page-cache,readahead=2048" fsmount disk.img view.raw -o page-cache,readahead=2048,pidfile=$SCRATCH/pid
    dev=$(awk -v m="$SCRATCH/view.raw" '$5 == m { d = $3 } END { print d }' /proc/self/mountinfo)
    expect "the mount's read-ahead is 2048 KiB" test "$(cat /sys/class/bdi/$dev/read_ahead_kb)" = 2048
    expect "readahead data" cmp view.raw disk.img
    fsumount view.raw pid
else
    echo "note: readahead= needs root to write /sys/class/bdi; not tried as $(id -un)"
fi

"$FLATIMGFS" disk.img view.raw -o readahead=1024 2>err
expect "readahead= without page-cache: exit 1" test $? = 1
expect "readahead= without page-cache: message" grep -qx \
    "flatimgfs: readahead= applies to page-cache mounts only (add -o page-cache)" err
"$FLATIMGFS" disk.img view.raw -o page-cache,readahead=0 2>err
expect "readahead=0: exit 1" test $? = 1
expect "readahead=0: message" grep -qx \
    "flatimgfs: Invalid readahead option: 0 (expected KiB, 1 to 1048576)" err
"$FLATIMGFS" disk.img view.raw -o read-threads=65 2>err
expect "read-threads=65: exit 1" test $? = 1
expect "read-threads=65: message" grep -qx \
    "flatimgfs: Invalid read-threads option: 65 (expected 0 to 64)" err
expect "read-threads=0 (no pool)" fsmount disk.img view.raw -o read-threads=0,pidfile=$SCRATCH/pid
expect "read-threads=0 data" sh -c 'dd if=view.raw bs=1M status=none | cmp - disk.img'
fsumount view.raw pid
expect "read-threads=3" fsmount disk.img view.raw -o read-threads=3,pidfile=$SCRATCH/pid
expect "read-threads=3 data" sh -c 'dd if=view.raw bs=1M status=none | cmp - disk.img'
expect "three pool threads besides libfuse's" test "$(ls /proc/$(cat pid)/task | wc -l)" -ge 4
fsumount view.raw pid
expect "nothing mounted" sh -c '! mountpoint -q view.raw'
finish
