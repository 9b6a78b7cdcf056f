# Writes through flatimg's VHDX driver (new payload blocks after the data is durable, header
# updates with new write GUIDs): `qemu-img check` passes, the image equals one qemu-io wrote the
# same way, file sizes match, and qemu-io and flatimg read each other's writes.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
need_qemu

writes=("0 1 0x41" "4095 2 0x42" "1M 70000 0x43" "3000000 9194304 0x44" "19M 1M 0x45")
for o in "subformat=dynamic" "block_size=1M,block_state_zero=off" "subformat=fixed" "subformat=fixed,block_state_zero=off"; do
    "$QEMU_IMG" create -q -f vhdx -o "$o" f.vhdx 20M
    "$QEMU_IMG" create -q -f vhdx -o "$o" q.vhdx 20M
    for w in "${writes[@]}"; do
        set -- $w
        flat_write f.vhdx "$1" "$2" "$3"
        qio q.vhdx "write -P $3 $1 $2"
    done
    expect "qemu-img check ($o)" "$QEMU_IMG" check -q f.vhdx
    expect "qemu-img compare ($o)" "$QEMU_IMG" compare -q f.vhdx q.vhdx
    expect "same file size ($o)" test "$(stat -c %s f.vhdx)" = "$(stat -c %s q.vhdx)"
    qio f.vhdx 'read -P 0x41 0 1' 'read -P 0x42 4095 2' 'read -P 0x44 3000000 9194304' \
        'write -P 0x46 5M 512'
    flat_write f.vhdx 5M 1 0x47
    qio f.vhdx 'read -P 0x47 5M 1' 'read -P 0x46 5242881 511'
    same_read f.vhdx
done
# both headers stay valid: the one flatimg wrote last wins in qemu
"$QEMU_IMG" create -q -f vhdx h.vhdx 4M
flat_write h.vhdx 0 1 0x51
expect "qemu-img check after a header update" "$QEMU_IMG" check -q h.vhdx
finish
