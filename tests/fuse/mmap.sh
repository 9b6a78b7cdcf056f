#!/bin/sh
# mmap(2) of the raw view, as man/flatimgfs.1 documents it: with the default direct I/O a private
# mapping reads the image and a shared one fails with ENODEV (Linux refuses MAP_SHARED on FUSE
# direct-I/O files unless the server negotiates FUSE_DIRECT_IO_ALLOW_MMAP, which libfuse 3.14
# cannot); with -o page-cache a shared mapping reads and, on a rw mount, writes the image.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
need_qcow2
command -v python3 >/dev/null || skip "python3 is needed to call mmap"

# map VIEW MODE [WRITE]: map the first 64 KiB (MODE shared or private), print its first byte in
# hex, and with WRITE store 0x7a there through a shared writable mapping and msync it
map() {
    python3 - "$@" <<'PY'
import mmap, os, sys
view, mode = sys.argv[1], sys.argv[2]
write = len(sys.argv) > 3
fd = os.open(view, os.O_RDWR if write else os.O_RDONLY)
flags = mmap.MAP_SHARED if mode == "shared" else mmap.MAP_PRIVATE
prot = mmap.PROT_READ | (mmap.PROT_WRITE if write else 0)
try:
    m = mmap.mmap(fd, 65536, flags=flags, prot=prot)
except OSError as e:
    print("errno", e.errno)
    sys.exit(0)
if write:
    m[0:1] = b"\x7a"
    m.flush()
print("%02x" % m[0])
PY
}

$QEMU_IMG create -q -f qcow2 disk.qcow2 1M
$QEMU_IO -c "write -P 0x61 0 64k" disk.qcow2 >/dev/null
touch view.raw
MOUNTS="$SCRATCH/view.raw"

fsmount disk.qcow2 view.raw -o pidfile=$SCRATCH/pid || exit 1
expect "direct I/O: a private mapping reads the image" test "$(map view.raw private)" = 61
expect "direct I/O: a shared mapping fails with ENODEV" test "$(map view.raw shared)" = "errno 19"
fsumount view.raw pid

fsmount disk.qcow2 view.raw -o page-cache,pidfile=$SCRATCH/pid || exit 1
expect "-o page-cache: a shared mapping reads the image" test "$(map view.raw shared)" = 61
fsumount view.raw pid

fsmount disk.qcow2 view.raw -o rw,page-cache,pidfile=$SCRATCH/pid || exit 1
expect "-o rw,page-cache: a shared writable mapping writes" test "$(map view.raw shared write)" = 7a
fsumount view.raw pid
$QEMU_IO -c 'read -P 0x7a 0 1' -c 'read -P 0x61 1 65535' disk.qcow2 >io.out 2>&1
expect "... into the image" sh -c "! grep -qi fail io.out && grep -q '^read 1/1' io.out && grep -q '^read 65535/65535' io.out"
finish
