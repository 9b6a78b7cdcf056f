#!/bin/sh
# Reads answered by flatimgfs's own request loop (fuse/loop.c): a reply is the data read plus the
# zero ranges sent from a shared zero area. Images whose 1 MiB requests mix data and zeros in every
# way (more zero runs than one reply lists, runs shorter than a page, runs at the start, the end
# and across requests, a size that is no multiple of the request) read back byte for byte as the
# image, through 1 MiB, odd-sized and unaligned reads, with one thread (-s), with libfuse's own
# read path (-d) and with -o max_threads=2; a qcow2 chain (zero clusters over data) as well.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse

# writes: MiB 0 alternates 4 KiB of data and 4 KiB of hole (128 zero runs in one request); MiB 1
# has 2 KiB of data every 8 KiB; MiB 2 is a hole; MiB 3 has data only in its first and last 512
# bytes; data crosses the 4/5 MiB boundary; the size ends 1536 bytes into a request
cmds=
i=0
while [ $i -lt 128 ]; do cmds="$cmds -c \"write -P $((i % 200 + 1)) $((i * 8192)) 4k\""; i=$((i + 1)); done
i=0
while [ $i -lt 128 ]; do cmds="$cmds -c \"write -P 0x77 $((1048576 + i * 8192 + 3072)) 2k\""; i=$((i + 1)); done
cmds="$cmds -c \"write -P 0x31 3M 512\" -c \"write -P 0x32 $((4194304 - 512)) 512\""
cmds="$cmds -c \"write -P 0x41 $((5242880 - 6144)) 12k\" -c \"write -P 0x42 $((8388608 + 1024)) 512\""

$QEMU_IMG create -q -f raw disk.img 8389120
eval "\"$QEMU_IO\" -f raw $cmds disk.img" >/dev/null
cp disk.img orig.img

# check VIEW NAME: the view reads as disk.img whatever the request sizes
check() {
    expect "$2: cmp" cmp "$1" disk.img
    expect "$2: dd bs=1M" sh -c "dd if='$1' bs=1M 2>/dev/null | cmp - disk.img"
    expect "$2: dd bs=1000" sh -c "dd if='$1' bs=1000 2>/dev/null | cmp - disk.img"
    expect "$2: unaligned 1 MiB reads" sh -c \
        "dd if='$1' bs=1M iflag=skip_bytes skip=4093 2>/dev/null | cmp - disk.img 0 4093"
    expect "$2: read across the end" sh -c \
        "dd if='$1' bs=4096 iflag=skip_bytes skip=8385536 2>/dev/null | cmp - disk.img 0 8385536"
}

touch a.raw b.raw c.raw d.raw
expect "mount" fsmount disk.img a.raw -o pidfile=$SCRATCH/pa
check a.raw "default"
expect "unmount" fsumount a.raw "$SCRATCH/pa"

expect "mount -s" fsmount disk.img b.raw -s -o pidfile=$SCRATCH/pb
check b.raw "one thread"
expect "unmount -s" fsumount b.raw "$SCRATCH/pb"

expect "mount -d" sh -c "'$FLATIMGFS' disk.img c.raw -d -o pidfile=$SCRATCH/pc >debug.log 2>&1 &"
MOUNTS="$MOUNTS $(realpath c.raw)"
expect "the -d mount comes up" timeout 30 sh -c \
    "until [ \"\$(stat -c %s c.raw)\" = 8389120 ]; do sleep 0.05; done"
check c.raw "libfuse's read path"
expect "-d logs every READ" grep -q "READ" debug.log
expect "unmount -d" fsumount c.raw "$SCRATCH/pc"

expect "--help names max_threads" sh -c "'$FLATIMGFS' --help | grep -q 'max_threads=N'"
expect "mount max_threads=2" fsmount disk.img d.raw -o max_threads=2,pidfile=$SCRATCH/pd
check d.raw "max_threads=2"
expect "unmount max_threads=2" fsumount d.raw "$SCRATCH/pd"
expect "image untouched" cmp disk.img orig.img

# a qcow2 chain with 4 KiB clusters: base data, the top's zero clusters and data over it
$QEMU_IMG create -q -f qcow2 -o cluster_size=4096 base.qcow2 8389120
eval "\"$QEMU_IO\" -f qcow2 $cmds base.qcow2" >/dev/null
$QEMU_IMG create -q -f qcow2 -o cluster_size=4096 -b base.qcow2 -F qcow2 top.qcow2
$QEMU_IO -f qcow2 -c "write -z 0 64k" -c "write -z 1M 512k" -c "write -P 0x99 2M 8k" \
    -c "write -z 4M 4k" top.qcow2 >/dev/null
$QEMU_IMG convert -O raw top.qcow2 disk.img
touch q.raw
expect "mount the chain" fsmount top.qcow2 q.raw -o pidfile=$SCRATCH/pq
check q.raw "qcow2 chain"
expect "unmount the chain" fsumount q.raw "$SCRATCH/pq"
finish
