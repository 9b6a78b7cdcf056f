#!/bin/sh
# Table and data pointers past the end of the file give EIO through ro and rw mounts of the other
# formats too, with a line in the -d log, where qemu reads zeros: a qcow L2 table, a vmdk grain
# table, a vdi block, a parallels cluster. The rest of the image reads, -o salvage reads zeros there, and flatimg
# convert still does what qemu-img convert does.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
. "$top_srcdir/tests/fuse/lib-corrupt.sh"
need_qemu
need_fuse

M=1048576
$QEMU_IMG create -q -f raw src.raw 64M
$QEMU_IO -f raw -c "write -P 0x61 0 64k" -c "write -P 0x63 40M 64k" src.raw >/dev/null

# qcow (v1, 4 KiB clusters, 512 L2 entries: 2 MiB per L2 table): L1[0] at 8 GiB
$QEMU_IMG convert -O qcow src.raw l2-eof.qcow
put_be64 l2-eof.qcow "$(be64 l2-eof.qcow 40)" $((0x200000000))
check_corrupt "qcow: L2 table past the end" qcow l2-eof.qcow 0 $((40 * M)) 63

# vmdk (monolithicSparse, 64 KiB grains, 512 entries a grain table: 32 MiB each): the grain
# directory's first entry (gd_offset at byte 56, in sectors) aimed at 8 GiB
$QEMU_IMG convert -O vmdk src.raw gt-eof.vmdk
gd=$(( $(od -An -tu8 --endian=little -j 56 -N 8 gt-eof.vmdk | tr -d ' ') * 512 ))
put_le32 gt-eof.vmdk "$gd" $((0x1000000))
check_corrupt "vmdk: grain table past the end" vmdk gt-eof.vmdk 0 $((40 * M)) 63

# vdi (dynamic, 1 MiB blocks; block map at the offset in byte 340): block 0 names block 63 of the
# data area, which the file does not hold
$QEMU_IMG convert -O vdi src.raw block-eof.vdi
put_le32 block-eof.vdi "$(le32 block-eof.vdi 340)" 63
check_corrupt "vdi: block past the end" vdi block-eof.vdi 0 $((40 * M)) 63

# parallels (1 MiB clusters; the BAT starts at byte 64, in clusters): cluster 0 at 1 TiB
$QEMU_IMG convert -O parallels src.raw bat-eof.parallels
put_le32 bat-eof.parallels 64 $((0x100000))
check_corrupt "parallels: cluster past the end" parallels bat-eof.parallels 0 $((40 * M)) 63
finish
