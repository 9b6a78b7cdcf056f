#!/bin/sh
# When flatimgfs returns, the daemon has answered the kernel's FUSE INIT (the values of our INIT
# reply are in force) and -o pidfile names it; relative image and mountpoint names given from a
# subdirectory keep working after the caller has moved elsewhere, and SIGTERM still unmounts.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse

$QEMU_IMG create -q -f raw disk.img 1M
$QEMU_IO -f raw -c "write -P 0x3c 0 1M" disk.img >/dev/null
mkdir sub elsewhere
touch view.raw

# The connection's max_background is the kernel default (12) until our INIT reply (64) is read.
CTL=/sys/fs/fuse/connections
if ! ls "$CTL"/*/max_background >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && [ -d "$CTL" ]; then
    mount -t fusectl fusectl "$CTL" 2>/dev/null && MOUNTED_CTL=1
fi
for i in 1 2 3 4 5 6 7 8; do
    fsmount disk.img view.raw -o pidfile=pid || exit 1
    dev=$(awk -v m="$SCRATCH/view.raw" '$5 == m { d = $3 } END { print d }' /proc/self/mountinfo)
    if [ -r "$CTL/${dev#*:}/max_background" ]; then
        expect "returned after INIT (try $i)" test "$(cat "$CTL/${dev#*:}/max_background")" = 64
    elif [ $i = 1 ]; then
        echo "note: $CTL is not available; the INIT handshake is not observed"
    fi
    expect "pidfile names the daemon (try $i)" grep -q flatimgfs "/proc/$(cat pid)/cmdline"
    fsumount view.raw pid
done
[ "${MOUNTED_CTL:-}" = 1 ] && umount "$CTL"

# relative names from a subdirectory, then the caller moves away: the daemon (in /) still finds
# its mountpoint to unmount on SIGTERM, and its image to close
cd sub
"$FLATIMGFS" ../disk.img ../view.raw -o rw,pidfile=../pid || exit 1
cd ../elsewhere
pid=$(cat ../pid)
expect "relative names: the view" cmp ../view.raw ../disk.img
printf 'written from elsewhere' | dd of=../view.raw bs=1 seek=8192 conv=notrunc status=none
kill -TERM "$pid"
expect "SIGTERM ends the daemon" wait_gone "$pid"
cd ..
expect "SIGTERM unmounted (no stale 'Transport endpoint is not connected')" sh -c \
    '! mountpoint -q view.raw && test -f view.raw && cat view.raw >/dev/null'
expect "the write reached the image" sh -c \
    "dd if=disk.img bs=1 skip=8192 count=22 status=none | grep -q 'written from elsewhere'"
finish
