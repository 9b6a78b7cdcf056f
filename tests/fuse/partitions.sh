#!/bin/sh
# partitions/ of a directory mount: MBR primaries and logicals (p1, p2, p5, p6...) and GPT entries
# of an image partitioned with sfdisk, each file holding exactly its partition's bytes.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
command -v sfdisk >/dev/null || skip "sfdisk (Debian package fdisk) is not installed"

# check_parts IMAGE: every partition sfdisk lists has its file with the same bytes, and no other
check_parts() {
    mkdir -p "mnt-$1"
    fsmount "$1" "mnt-$1" -o pidfile=$SCRATCH/pid-$1 || { fail "mount $1"; return; }
    sfdisk --dump "$1" 2>/dev/null | grep -v 'type=5' |
        sed -n "s/^$1\([0-9]*\) : start= *\([0-9]*\), size= *\([0-9]*\).*/\1 \2 \3/p" >"dump-$1"
    while read -r num start size; do
        grep -qx "p$num" "$2" || continue # (sfdisk may trust tables we refuse)
        expect "$1 p$num" sh -c "dd if='$1' bs=512 skip=$start count=$size status=none | cmp - mnt-$1/partitions/p$num"
    done <"dump-$1"
    ls "mnt-$1/partitions" >"list-$1"
    expect "$1: partitions listed" diff -u "$2" "list-$1"
    fsumount "mnt-$1" "pid-$1"
}

$QEMU_IMG create -q -f raw mbr.img 16M
sfdisk -q mbr.img <<'TABLE'
label: dos
start=2048, size=4096, type=83
start=6144, size=2048, type=c
start=8192, size=20480, type=5
start=10240, size=2048, type=83
start=14336, size=4096, type=82
TABLE
i=0
for pat in 0x11 0x22 0x33 0x44; do
    $QEMU_IO -f raw -c "write -P $pat $((1048576 + i * 2097152)) 512k" mbr.img >/dev/null
    i=$((i + 1))
done
printf 'p1\np2\np5\np6\n' >want-mbr
check_parts mbr.img want-mbr

# SEEK_DATA/SEEK_HOLE inside a partition: p1 = [1M, 3M) holds data in its first 512k only
mkdir mnt-seek
fsmount mbr.img mnt-seek -o pidfile=$SCRATCH/pid-seek || exit 1
echo "0 524288" >want-seek
"$top_builddir/tests/fuse/seekmap" mnt-seek/partitions/p1 >got-seek
expect "p1: SEEK_DATA/SEEK_HOLE relative to the partition" diff -u want-seek got-seek
fsumount mnt-seek pid-seek

# hostile: the last EBR links back to the first one (a loop): the chain is cut, nothing hangs
cp mbr.img loop.img
ebr2=$(od -An -tu4 -j $((8192 * 512 + 0x1ce + 8)) -N 4 loop.img | tr -d ' ')
printf '\005' | dd of=loop.img bs=1 seek=$(( (8192 + ebr2) * 512 + 0x1ce + 4 )) conv=notrunc status=none
printf '\000\000\000\000' | dd of=loop.img bs=1 seek=$(( (8192 + ebr2) * 512 + 0x1ce + 8 )) conv=notrunc status=none
mkdir mnt-loop
fsmount loop.img mnt-loop -o pidfile=$SCRATCH/pid-loop || exit 1
expect "EBR loop: the chain is cut" sh -c 'test "$(timeout 30 ls mnt-loop/partitions | tr "\n" " ")" = "p1 p2 p5 p6 "'
fsumount mnt-loop pid-loop

$QEMU_IMG create -q -f raw gpt.img 8M
sfdisk -q gpt.img <<'TABLE'
label: gpt
start=2048, size=2048
start=8192, size=4096
TABLE
$QEMU_IO -f raw -c "write -P 0x55 1M 1M" -c "write -P 0x66 4M 2M" gpt.img >/dev/null
printf 'p1\np2\n' >want-gpt
check_parts gpt.img want-gpt

# a broken primary GPT (entry array CRC): the backup table is used, as Linux and sfdisk do
cp gpt.img badgpt.img
printf 'X' | dd of=badgpt.img bs=1 seek=1100 conv=notrunc status=none
check_parts badgpt.img want-gpt

# both tables broken: no partitions rather than garbage
cp badgpt.img nogpt.img
printf 'X' | dd of=nogpt.img bs=512 seek=$((16384 - 1)) conv=notrunc status=none
: >want-none
check_parts nogpt.img want-none
finish
