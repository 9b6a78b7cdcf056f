# Parallels images made by qemu-img/qemu-io: `info` (human and JSON) byte-identical, and the raw
# view flatimg reads equals `qemu-img convert -O raw` (several cluster sizes, both header magics).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
need_qemu

"$QEMU_IMG" create -q -f parallels a.prl 10M
qio a.prl 'write -P 0x11 1M 64k' 'write -P 0x22 5M 4k' 'write -P 0x33 10239k 1k' 'write -P 0x44 0 512'
"$QEMU_IMG" create -q -f parallels -o cluster_size=4k b.prl 3M
qio b.prl 'write -P 0x55 4095 2' 'write -P 0x66 1M 100k' 'write -P 0x77 8k 4k'
"$QEMU_IMG" create -q -f parallels -o cluster_size=1000 c.prl 1M
qio c.prl 'write -P 0x12 1000 3000'
"$QEMU_IMG" create -q -f parallels empty.prl 0
"$QEMU_IMG" create -q -f parallels odd.prl 1000k
qio odd.prl 'write -P 0x99 999k 1k'
# the older "WithoutFreeSpace" magic: BAT entries count sectors, not clusters
"$QEMU_IMG" create -q -f parallels -o cluster_size=4k old.prl 1M
qio old.prl 'write -P 0x21 64k 8k'
poke old.prl 0 'WithoutFreeSpace'
poke old.prl 64 '\x00\x00\x00\x00'
poke old.prl $((64 + 16 * 4)) '\x10\x00\x00\x00\x18\x00\x00\x00'

for img in a.prl b.prl c.prl empty.prl odd.prl old.prl; do
    same info "$img"
    same info --output=json "$img"
    same info -f parallels "$img"
    same_read "$img"
done
finish
