# Writes through flatimg's parallels driver: the image passes `qemu-img check`, reads back the same
# with qemu-io, and equals an image that qemu-io wrote the same way.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
need_qemu

for cs in 1M 4k 1000; do
    "$QEMU_IMG" create -q -f parallels -o cluster_size=$cs f.prl 4M
    "$QEMU_IMG" create -q -f parallels -o cluster_size=$cs q.prl 4M
    for w in "0 1 0x41" "4095 2 0x42" "1048576 70000 0x43" "3000000 1194304 0x44" "512 512 0x45"; do
        set -- $w
        flat_write f.prl "$1" "$2" "$3"
        qio q.prl "write -P $3 $1 $2"
    done
    expect "qemu-img check after flatimg writes ($cs)" "$QEMU_IMG" check -q f.prl
    expect "qemu-img compare flatimg vs qemu-io writes ($cs)" "$QEMU_IMG" compare -q f.prl q.prl
    qio f.prl 'read -P 0x41 0 1' 'read -P 0x42 4095 2' 'read -P 0x44 3000000 1194304' 'read -P 0 1 511'
    same_read f.prl
    # the in-use flag is cleared again on close
    expect "header in-use flag cleared ($cs)" test "$(od -A n -j 44 -N 4 -t x1 f.prl)" = " 00 00 00 00"
done

# an image flatimg extended is written on top by qemu-io and read back by flatimg
"$QEMU_IMG" create -q -f parallels m.prl 3M
flat_write m.prl 0 4096 0x51
qio m.prl 'write -P 0x52 2M 4096'
flat_write m.prl 2097664 100 0x53
qio m.prl 'read -P 0x51 0 4096' 'read -P 0x52 2M 512' 'read -P 0x53 2097664 100'
same_read m.prl
expect "qemu-img check after mixed writes" "$QEMU_IMG" check -q m.prl

# an image left in use cannot be opened for writing, but can be read
cp m.prl u.prl
poke u.prl 44 '\x59\x6e\x6f\x74'
"$IMGCAT2" -w 0 1 1 u.prl 2>err.txt && fail "wrote to an unclean image"
expect "unclean image refused for writing" grep -q "parallels: Image was not closed correctly; cannot be opened read/write" err.txt
same_read u.prl
finish
