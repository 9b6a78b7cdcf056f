# convert from and to qcow2 (and chains): output as qemu-img's, targets pass qemu-img check and
# compare equal to the source and to qemu-img's own target; allocation (map) as qemu-img's.
. "$top_srcdir/tests/lib.sh"
need_qemu
"$FLATIMG" --help | grep -q '^Supported formats:.* qcow2 ' || skip "flatimg has no qcow2 driver yet"
. "$top_srcdir/tests/cli/qcow2-features.sh"

"$QEMU_IMG" create -q -f qcow2 base.qcow2 4M
qemu-io -f qcow2 -c "write -P 1 0 128k" -c "write -P 2 1M 64k" -c "write -z 2M 64k" base.qcow2 >/dev/null
"$QEMU_IMG" create -q -f qcow2 -b base.qcow2 -F qcow2 mid.qcow2
qemu-io -f qcow2 -c "write -P 3 64k 64k" -c "write -z 1M 32k" mid.qcow2 >/dev/null
"$QEMU_IMG" create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2 5M
qemu-io -f qcow2 -c "write -P 4 3M 4k" -c "write -P 5 4M 512k" top.qcow2 >/dev/null
"$QEMU_IMG" convert -O raw base.qcow2 base.raw

check_conv() { # check_conv OUTPUT OUTFMT ARGS...
    local out=$1 ofmt=$2; shift 2
    same_fresh "cp ../*.qcow2 ../*.raw .; \$IMG convert $*; echo rc=\$?; qemu-img map --output=json -f $ofmt $out"
    checks=$((checks + 1))
    if [ -e "fdir/$out" ] && "$QEMU_IMG" compare -q -f $ofmt -F $ofmt "qdir/$out" "fdir/$out" &&
        { [ "$ofmt" != qcow2 ] || "$QEMU_IMG" check -q -f qcow2 "fdir/$out"; }; then
        pass "check and compare: $*"
    else
        fail "target bad or differs from qemu-img's: $*"
    fi
}

check_conv t.raw raw -O raw base.qcow2 t.raw
check_conv t.raw raw -O raw top.qcow2 t.raw
check_conv t.raw raw -O raw -m 1 top.qcow2 t.raw
check_conv t.raw raw -O raw -W -m 16 top.qcow2 t.raw
check_conv t.raw raw -O raw -S 0 top.qcow2 t.raw
check_conv t.qcow2 qcow2 -O qcow2 base.raw t.qcow2
check_conv t.qcow2 qcow2 -O qcow2 top.qcow2 t.qcow2
check_conv t.qcow2 qcow2 -O qcow2 -o cluster_size=4k top.qcow2 t.qcow2
has compress && check_conv t.qcow2 qcow2 -O qcow2 -c top.qcow2 t.qcow2
has compress && check_conv t.qcow2 qcow2 -O qcow2 -c -m 4 base.raw t.qcow2
check_conv t.qcow2 qcow2 -O qcow2 -B mid.qcow2 -F qcow2 top.qcow2 t.qcow2
check_conv t.qcow2 qcow2 -O qcow2 -o backing_file=base.qcow2,backing_fmt=qcow2 top.qcow2 t.qcow2
check_conv t.qcow2 qcow2 -O qcow2 base.qcow2 base.raw t.qcow2
has prealloc && check_conv t.qcow2 qcow2 -O qcow2 -o preallocation=metadata base.raw t.qcow2
check_conv t.qcow2 qcow2 "-q -O qcow2 top.qcow2 t.qcow2; \$IMG convert -n -O qcow2 base.qcow2 t.qcow2"
same_fresh 'cp ../top.qcow2 ../mid.qcow2 ../base.qcow2 .; $IMG convert -B base.qcow2 -O qcow2 top.qcow2 t.qcow2; echo rc=$?; ls'
has compress && same_fresh 'cp ../base.qcow2 .; $IMG convert -O qcow2 -c -o preallocation=full base.qcow2 t.qcow2; echo rc=$?; ls'
has bitmap && same_fresh 'cp ../base.qcow2 .; $IMG convert --bitmaps -O raw base.qcow2 t.raw; echo rc=$?'
# dd from and to qcow2
for args in "if=top.qcow2 of=o.raw" "-f qcow2 if=top.qcow2 of=o.qcow2 -O qcow2 bs=64k skip=3" "if=base.raw of=o.qcow2 -O qcow2 count=100 bs=1k"; do
    same_fresh "cp ../*.qcow2 ../*.raw .; \$IMG dd $args; echo rc=\$?; for f in o.*; do qemu-img check -q \$f 2>/dev/null; qemu-img info \$f | grep -v '^disk size'; qemu-img convert -O raw \$f x.raw && sha256sum < x.raw; done"
done
finish
