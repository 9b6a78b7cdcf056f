# VHDX images made by qemu-img/qemu-io: `info` (human and JSON) byte-identical, and the raw view
# flatimg reads equals `qemu-img convert -O raw` (block sizes, fixed and dynamic, zero blocks).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
need_qemu

"$QEMU_IMG" create -q -f vhdx a.vhdx 10M
qio a.vhdx 'write -P 0x11 1M 64k' 'write -P 0x22 9M 4k' 'write -P 0x33 10239k 1k'
"$QEMU_IMG" create -q -f vhdx -o block_size=1M,block_state_zero=off b.vhdx 3M
qio b.vhdx 'write -P 0x44 1048575 2' 'write -P 0x55 0 512'
"$QEMU_IMG" create -q -f vhdx -o subformat=fixed c.vhdx 2M
qio c.vhdx 'write -P 0x66 100k 100k'
"$QEMU_IMG" create -q -f vhdx -o subformat=fixed,block_state_zero=off d.vhdx 3M
qio d.vhdx 'write -P 0x77 2M 1M'
"$QEMU_IMG" create -q -f vhdx -o log_size=3M e.vhdx 1000
"$QEMU_IMG" create -q -f vhdx big.vhdx 2G
qio big.vhdx 'write -P 0x88 1G 64k'

for img in a.vhdx b.vhdx c.vhdx d.vhdx e.vhdx big.vhdx; do
    same info "$img"
    same info --output=json "$img"
    [ "$img" = big.vhdx ] || same_read "$img"
done
finish
