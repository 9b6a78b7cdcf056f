#!/bin/sh
# The usual FUSE options pass through: uid= and gid= own every entry, umask= clears mode bits of
# our own modes (never adding x bits as libfuse's umask would), allow_other is accepted, and
# max_read= bounds each read request (libfuse 3 also wants init() to ask for it, or the mount
# dies at INIT).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse

$QEMU_IMG create -q -f raw disk.img 2M
$QEMU_IO -f raw -c "write -P 0x2d 0 2M" disk.img >/dev/null
touch view.raw
mkdir mnt
MOUNTS="$SCRATCH/view.raw $SCRATCH/mnt"

expect "uid=,gid=,umask=" fsmount disk.img mnt -o uid=12345,gid=54321,umask=0227,pidfile=$SCRATCH/pid
expect "owner of the view" test "$(stat -c %u:%g mnt/disk.raw)" = 12345:54321
expect "owner of a directory" test "$(stat -c %u:%g mnt/layers)" = 12345:54321
expect "umask on a read-only file" test "$(stat -c %A mnt/disk.raw)" = "-r--r-----"
expect "umask on a directory" test "$(stat -c %A mnt/partitions)" = "dr-xr-x---"
fsumount mnt pid
expect "umask=022 on a rw mount" fsmount disk.img view.raw -o rw,umask=022,pidfile=$SCRATCH/pid
expect "rw file mode" test "$(stat -c %A view.raw)" = "-rw-r--r--"
fsumount view.raw pid
"$FLATIMGFS" disk.img view.raw -o umask=9 2>err
expect "umask=9 refused" test $? = 1
expect "umask=9 message" grep -qx "flatimgfs: Invalid umask option: 9 (expected an octal mode)" err

if [ "$(id -u)" = 0 ] || grep -qs '^user_allow_other' /etc/fuse.conf; then
    expect "allow_other" fsmount disk.img view.raw -o allow_other,pidfile=$SCRATCH/pid
    expect "allow_other: mounted with it" sh -c "grep ' $SCRATCH/view.raw ' /proc/mounts | grep -q allow_other"
    fsumount view.raw pid
fi

"$FLATIMGFS" -d disk.img view.raw -o max_read=65536 >debug.log 2>&1 &
dpid=$!
timeout 30 sh -c "until mountpoint -q view.raw; do kill -0 $dpid || exit 1; sleep 0.01; done"
expect "max_read=65536 mounts" mountpoint -q view.raw
expect "max_read data" sh -c 'dd if=view.raw bs=1M status=none | cmp - disk.img'
expect "requests of at most 64 KiB" sh -c \
    'grep "read\[.*bytes from" debug.log | awk "{ if (\$2 > 65536) bad = 1; n++ } END { exit bad || !n }"'
fusermount3 -u view.raw && wait $dpid
finish
