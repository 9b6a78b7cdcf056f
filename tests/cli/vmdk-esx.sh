# VMDK extents qemu-img reads but cannot create, built by tests/gen-vmdk-esx.py: VMDK3 "COWD"
# (vmfsSparse, twoGbMaxExtentSparse, a lone COWD file) and ESXi seSparse. qemu-img reads them as
# the generator intended (proving it); flatimg reads the same data and matches qemu-img's info,
# map, check and errors; seSparse is read-only and COWD writable, as in qemu.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
need_qemu
command -v python3 >/dev/null || skip "python3 is needed to build the images"
gen() { python3 "$top_srcdir/tests/gen-vmdk-esx.py" "$@"; }

for k in cowd cowd2 cowdmono sesparse; do
    gen $k $k $k.raw
    "$QEMU_IMG" convert -O raw $k.vmdk q.raw
    expect "qemu-img reads the generated $k image as intended" cmp -s q.raw $k.raw
    expect "flatimg reads $k" cmp -s <("$IMGCAT2" $k.vmdk) $k.raw
    same info $k.vmdk
    same info --output=json $k.vmdk
    same map --output=json $k.vmdk
    same check $k.vmdk
done
gen sesparse big big.raw big                     # several grain tables, one unallocated
expect "flatimg reads a larger seSparse image" cmp -s <("$IMGCAT2" big.vmdk) big.raw
same map big.vmdk
gen cowdmono nocid nocid.raw nocid; same info nocid.vmdk   # qemu needs a CID at byte 512
for v in badmagic version dirty badgde badgte bigdir; do
    gen sesparse s$v s$v.raw $v
    same info s$v.vmdk
    same_read s$v.vmdk vmdk
    same check s$v.vmdk
done
for v in gran1g hugedir pastend; do
    gen cowd c$v c$v.raw $v
    same info c$v.vmdk
    same_read c$v.vmdk vmdk
    same check c$v.vmdk
done
gen cowd g0 g0.raw gran0                          # qemu-img divides by zero reading this one
same info g0.vmdk
expect "a zero grain size gives an error, not a crash" bash -c "! '$IMGCAT2' g0.vmdk >/dev/null 2>&1"
# a vmfsSparse delta on a qemu-made parent (parentFileNameHint, parentCID)
"$QEMU_IMG" create -q -f vmdk base.vmdk 3072000
qio base.vmdk 'write -P 9 0 3000k'
gen cowd delta delta.raw
cid=$(grep -a '^CID=' base.vmdk | head -1 | cut -d= -f2)
sed -i "s/^parentCID=ffffffff/parentCID=$cid\nparentFileNameHint=\"base.vmdk\"/" delta.vmdk
same info --backing-chain delta.vmdk
same map --output=json delta.vmdk
same_read delta.vmdk vmdk
# seSparse is read-only; COWD extents take writes as qemu-io makes them
same resize sesparse.vmdk 10M
same check -r all sesparse.vmdk
gen cowd q q.raw; gen cowd w w.raw
qio q.vmdk 'write -P 7 100k 20k' 'write -P 8 2900k 4k'
flat_write w.vmdk $((100 * 1024)) $((20 * 1024)) 7
flat_write w.vmdk $((2900 * 1024)) 4096 8
expect "writes to a COWD extent are as qemu-io's" cmp q-s001.vmdk w-s001.vmdk
finish
