#!/bin/sh
# Table and data pointers past the end of the file give EIO through ro and rw mounts of the other
# formats too, with a line in the -d log, where qemu reads zeros: a qcow L2 table, a vmdk grain
# table, a vdi block, a parallels cluster, the entries of a vdi block map, a qcow L1 table and a
# vmdk grain directory cut by the end of the file; and pointers aimed at the header, where qemu reads the
# header as data: a qcow compressed cluster, a vmdk grain, a vpc block. The rest of the image reads, -o salvage reads zeros there, and flatimg
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

# vdi: the block map moved to the end of the file with only its first 128 entries there; qemu
# reads the others as 0, block 0, so 900M shows block 0's data
$QEMU_IMG create -q -f raw big.raw 1G
$QEMU_IO -f raw -c "write -P 0x61 0 64k" -c "write -P 0x63 900M 64k" big.raw >/dev/null
$QEMU_IMG convert -O vdi big.raw bmap-cut.vdi
end=$(stat -c %s bmap-cut.vdi)
dd if=bmap-cut.vdi bs=1 skip="$(le32 bmap-cut.vdi 340)" count=512 status=none >>bmap-cut.vdi
put_le32 bmap-cut.vdi 340 "$end"
check_corrupt "vdi: block map cut by the end of the file" vdi bmap-cut.vdi $((900 * M)) 0 61

# qcow: the L1 table (512 entries of 2 MiB) moved to the end with only its first 64 entries there
$QEMU_IMG convert -O qcow big.raw l1-cut.qcow
end=$(stat -c %s l1-cut.qcow)
dd if=l1-cut.qcow bs=1 skip="$(be64 l1-cut.qcow 40)" count=512 status=none >>l1-cut.qcow
put_be64 l1-cut.qcow 40 "$end"
check_corrupt "qcow: L1 table cut by the end of the file" qcow l1-cut.qcow $((900 * M)) 0 61

# vmdk: the grain directory (entries of 32 MiB) moved to the end with only its first 128 entries
# there (gd_offset at byte 56, in sectors)
$QEMU_IMG create -q -f raw huge.raw 8G
$QEMU_IO -f raw -c "write -P 0x61 0 64k" -c "write -P 0x63 6G 64k" huge.raw >/dev/null
$QEMU_IMG convert -O vmdk huge.raw gd-cut.vmdk
end=$(stat -c %s gd-cut.vmdk)
dd if=gd-cut.vmdk bs=1 skip=$(( $(od -An -tu8 --endian=little -j 56 -N 8 gd-cut.vmdk) * 512 )) \
    count=512 status=none >>gd-cut.vmdk
put_le32 gd-cut.vmdk 56 $((end / 512))
check_corrupt "vmdk: grain directory cut by the end of the file" vmdk gd-cut.vmdk $((6144 * M)) 0 61

# pointers aimed at the header, where qemu reads the header as data
# qcow: a compressed cluster at byte 16 (offset in the low 51 bits with 4 KiB clusters)
$QEMU_IMG convert -c -O qcow src.raw comp-header.qcow
at=$(be64 comp-header.qcow "$(be64 comp-header.qcow 40)")
e=$(od -An -tx1 -j "$at" -N 2 comp-header.qcow | tr -d ' ')
put_hex comp-header.qcow "$at" "${e:0:2}$(printf '%02x' $(( 0x${e:2:2} & 0xf8 )))000000000010"
check_corrupt "qcow: compressed cluster in the header" qcow comp-header.qcow 0 $((40 * M)) 63

# vmdk: grain 0 at sector 2, inside the embedded descriptor
$QEMU_IMG convert -O vmdk src.raw grain-header.vmdk
gt=$(( $(le32 grain-header.vmdk "$gd") * 512 ))
put_le32 grain-header.vmdk "$gt" 2
check_corrupt "vmdk: grain in the descriptor" vmdk grain-header.vmdk 0 $((40 * M)) 63

# vpc (dynamic, 2 MiB blocks): block 0 at sector 0, its data on the dynamic header and the BAT
$QEMU_IMG convert -O vpc src.raw block-header.vpc
bat=$(be64 block-header.vpc $(( $(be64 block-header.vpc 16) + 16 )))
put_hex block-header.vpc "$bat" 00000000
check_corrupt "vpc: block on the headers" vpc block-header.vpc 0 $((40 * M)) 63
finish
