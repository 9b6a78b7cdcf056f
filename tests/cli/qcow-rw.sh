# Writes through flatimg's qcow driver: copy-on-write from the backing file and from compressed
# clusters, new L2 tables; qemu-io reads the result back and it equals qemu-io's own writes.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
need_qemu

writes=("0 1 0x41" "4095 2 0x42" "1M 70000 0x43" "3000000 1194304 0x44" "512 512 0x45" "5M 4096 0x46")
"$QEMU_IMG" create -q -f qcow f.qcow 8M
"$QEMU_IMG" create -q -f qcow q.qcow 8M
"$QEMU_IMG" create -q -f raw base.raw 8M
qio base.raw 'write -P 0x33 0 8M'
"$QEMU_IMG" create -q -f qcow -b base.raw -F raw fb.qcow
"$QEMU_IMG" create -q -f qcow -b base.raw -F raw qb.qcow
yes flatimg | head -c 8M >c.raw
"$QEMU_IMG" convert -c -O qcow -f raw c.raw fc.qcow
cp fc.qcow qc.qcow
for w in "${writes[@]}"; do
    set -- $w
    for pair in "f.qcow q.qcow" "fb.qcow qb.qcow" "fc.qcow qc.qcow"; do
        set -- $w $pair
        flat_write "$4" "$1" "$2" "$3"
        qio "$5" "write -P $3 $1 $2"
    done
done
for pair in "f.qcow q.qcow" "fb.qcow qb.qcow" "fc.qcow qc.qcow"; do
    set -- $pair
    expect "qemu-img compare $1 $2" "$QEMU_IMG" compare -q "$1" "$2"
    qio "$1" 'read -P 0x41 0 1' 'read -P 0x42 4095 2' 'read -P 0x44 3000000 1194304' 'read -P 0x46 5M 4096'
    same_read "$1"
done
qio fb.qcow 'read -P 0x33 1 511' 'read -P 0x33 1024 3071' 'read -P 0x33 7M 1M'
finish
