#!/usr/bin/env bash
# The README's first quick-start command: install the dependencies, build flatimg, then show
# flatimgfs at work: a demo image (qcow2 when this build has the driver, raw otherwise) gets an MBR
# partition table and an ext2 filesystem written through the mount, and is then browsed read-only.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
[ -x build/tools/flatimg ] || { autoreconf -fi >/dev/null && mkdir -p build && (cd build && ../configure -q); }
make -C build -j"$(nproc)" >/dev/null
F=$PWD/build/tools/flatimg
FS=$PWD/build/fuse/flatimgfs
demo=$(mktemp -d /tmp/flatimg-demo.XXXXXX)
mnt=$demo/mnt
cleanup() { mountpoint -q "$mnt" 2>/dev/null && fusermount3 -u "$mnt"; true; }
# fusermount3 -u returns before the daemon has closed the image: wait for it before reopening
unmount() {
    local pid
    pid=$(cat "$demo/pid")
    fusermount3 -u "$mnt"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}
trap cleanup EXIT
mkdir "$mnt" "$demo/content"
echo "Hello from inside a disk image, read through flatimgfs." >"$demo/content/hello.txt"
seq 1 20000 >"$demo/content/numbers.txt"

fmt=raw
if $F create -q -f qcow2 "$demo/probe.qcow2" 1M >/dev/null 2>&1; then fmt=qcow2; fi
img=$demo/disk.$fmt
set -x
$F create -f "$fmt" "$img" 64M
$FS -o rw,pidfile="$demo/pid" "$img" "$mnt"  # writable; returns when the mount is ready
printf 'label: dos\nstart=2048, type=83\n' | sfdisk -q "$mnt/disk.raw"
ls "$mnt/partitions"
mkfs.ext2 -q -d "$demo/content" "$mnt/partitions/p1"   # a filesystem written through the mount
unmount

$FS -o pidfile="$demo/pid" "$img" "$mnt"     # read-only (the default), directory view
find "$mnt" | sort
ls -ls "$mnt/disk.raw" "$mnt/partitions/p1"
du -h --apparent-size "$mnt/disk.raw"; du -h "$mnt/disk.raw"   # virtual size vs real usage
fdisk -l "$mnt/disk.raw"
sha256sum "$mnt/disk.raw"
head -c 400 "$mnt/info.json"; echo
debugfs -R 'ls -l /' "$mnt/partitions/p1" 2>/dev/null
debugfs -R 'cat /hello.txt' "$mnt/partitions/p1" 2>/dev/null
unmount
$F info "$img"
qemu-img check "$img"                        # the real qemu-img agrees the image is sound
