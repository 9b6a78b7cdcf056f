#!/bin/sh
# Start-up errors are printed in flatimg's words and exit non-zero before daemonising, leaving
# nothing mounted: missing image, missing/unusable mountpoint, bad options, missing arguments.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse

$QEMU_IMG create -q -f raw disk.img 1M
touch view.raw
mkfifo fifo

startup_error() { # startup_error "EXPECTED STDERR" ARGS...: exit 1, that message, nothing mounted
    checks=$((checks + 1))
    local want=$1; shift
    "$FLATIMGFS" "$@" >out 2>err
    local rc=$?
    if [ $rc -ne 1 ] || [ "$(cat err)" != "$want" ] || mountpoint -q view.raw; then
        fail "flatimgfs $*: rc=$rc, stderr: $(cat err) (wanted: $want)"
    else
        pass "flatimgfs $*"
    fi
}
startup_error "flatimgfs: Could not open 'missing.img': Could not open 'missing.img': No such file or directory" \
    missing.img view.raw
startup_error "flatimgfs: Cannot mount on 'nodir/x.raw': No such file or directory" disk.img nodir/x.raw
startup_error "flatimgfs: Cannot mount on 'fifo': not a directory or a regular file" disk.img fifo
startup_error "flatimgfs: Could not open 'disk.img': Unknown driver 'nosuch'" disk.img view.raw -o format=nosuch
startup_error "flatimgfs: Invalid cache option: bogus" disk.img view.raw -o cache=bogus
startup_error "flatimgfs: Invalid backing option: maybe (expected on or off)" disk.img view.raw -o backing=maybe
startup_error "flatimgfs: Expecting an image file name and a mountpoint
Try 'flatimgfs --help' for more information" disk.img
startup_error "flatimgfs: Too many arguments
Try 'flatimgfs --help' for more information" disk.img view.raw extra
finish
