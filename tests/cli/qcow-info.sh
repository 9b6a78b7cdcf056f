# qcow (version 1) images made by qemu-img/qemu-io: `info` (human and JSON) byte-identical, and the
# raw view flatimg reads (backing chains, compressed clusters) equals `qemu-img convert -O raw`.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
need_qemu

"$QEMU_IMG" create -q -f qcow a.qcow 10M
qio a.qcow 'write -P 0x11 1M 64k' 'write -P 0x22 5M 4k' 'write -P 0x33 10239k 1k' 'write -P 0x44 0 512'
mkdir sub
"$QEMU_IMG" create -q -f raw sub/base.raw 4M
qio sub/base.raw 'write -P 0x55 0 4M'
"$QEMU_IMG" create -q -f qcow -b base.raw -F raw sub/o.qcow
qio sub/o.qcow 'write -P 0x66 1000 10' 'write -P 0x67 3M 70000'
"$QEMU_IMG" create -q -f qcow -b o.qcow -F qcow sub/top.qcow 6M
qio sub/top.qcow 'write -P 0x68 4095k 2k' 'write -P 0x69 5M 1k'
"$QEMU_IMG" create -q -f qcow -b "$SCRATCH/sub/base.raw" -F raw abs.qcow
"$QEMU_IMG" create -q -f qcow odd.qcow 1000
qio odd.qcow 'write -P 0x77 512 512'
# compressed clusters: incompressible, zero and repetitive data
head -c 300k /dev/urandom >c.raw
head -c 300k /dev/zero >>c.raw
yes flatimg | head -c 300k >>c.raw
"$QEMU_IMG" convert -c -O qcow -f raw c.raw c.qcow
qio c.qcow 'write -P 0x78 100k 1'

for img in a.qcow sub/o.qcow sub/top.qcow abs.qcow odd.qcow c.qcow; do
    same info "$img"
    same info --output=json "$img"
    same info --backing-chain "$img"
    same_read "$img"
done
# AES-encrypted images can be inspected
"$QEMU_IMG" create -q -f qcow --object secret,id=s0,data=abc -o encrypt.format=aes,encrypt.key-secret=s0 e.qcow 1M
same info e.qcow
same info --output=json e.qcow
finish
