#!/bin/sh
# st_blocks of the views that own no file of their own come from block status, so du tells the
# truth there too: a partition counts the bytes of its range that read as data (as `qemu-img map`
# reports them), a snapshot the data of its point-in-time view.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
need_qcow2
command -v sfdisk >/dev/null || skip "sfdisk (Debian package fdisk) is not installed"

# data_in START LENGTH IMAGE: bytes that `qemu-img map` reports as data inside [START, +LENGTH)
data_in() {
    qemu_data_map "$3" | awk -v s="$1" -v e="$(($1 + $2))" '
        { a = $1; b = $1 + $2; if (a < s) a = s; if (b > e) b = e; if (b > a) t += b - a }
        END { printf "%d\n", t }'
}

$QEMU_IMG create -q -f raw table.img 32M
sfdisk -q table.img <<'TABLE'
label: dos
start=2048, size=16384, type=83
start=18432, size=40960, type=83
TABLE
$QEMU_IMG convert -O qcow2 table.img parts.qcow2
$QEMU_IO -c "write -P 0x11 2M 1M" -c "write -P 0x22 5M 192k" -c "write -z 6M 1M" parts.qcow2 >/dev/null
mkdir mnt
fsmount parts.qcow2 mnt -o pidfile=$SCRATCH/pid || exit 1
for p in 1:1048576:8388608 2:9437184:20971520; do
    n=${p%%:*}; r=${p#*:}; start=${r%%:*}; size=${r#*:}
    want=$(( ($(data_in "$start" "$size" parts.qcow2) + 511) / 512 ))
    expect "partitions/p$n: st_blocks $want from block status" test "$(stat -c %b mnt/partitions/p$n)" = "$want"
done
expect "p1 holds data" test "$(stat -c %b mnt/partitions/p1)" -gt 0
expect "p2 holds none" test "$(stat -c %b mnt/partitions/p2)" = 0
expect "du agrees" test "$(du -B512 mnt/partitions/p1 | cut -f1)" = "$(stat -c %b mnt/partitions/p1)"
fsumount mnt pid

$QEMU_IMG create -q -f qcow2 snap.qcow2 16M
$QEMU_IO -c "write -P 0x33 0 1M" snap.qcow2 >/dev/null
$QEMU_IMG snapshot -c one snap.qcow2
$QEMU_IO -c "write -P 0x44 4M 3M" snap.qcow2 >/dev/null
$QEMU_IMG snapshot -c two snap.qcow2
fsmount snap.qcow2 mnt -o pidfile=$SCRATCH/pid || exit 1
expect "snapshots/one.raw: 1 MiB of data" test "$(stat -c %b mnt/snapshots/one.raw)" = 2048
expect "snapshots/two.raw: 4 MiB of data" test "$(stat -c %b mnt/snapshots/two.raw)" = 8192
expect "snapshot data" sh -c "$QEMU_IMG convert -l one -O raw snap.qcow2 one.raw && cmp one.raw mnt/snapshots/one.raw"
fsumount mnt pid
finish
