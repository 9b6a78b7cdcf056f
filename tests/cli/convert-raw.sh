# convert raw -> raw: data equal to the source (qemu-img compare), the same allocation as qemu-img's
# output (qemu-img map), for every copy option; several sources concatenated.
. "$top_srcdir/tests/lib.sh"
need_qemu

"$QEMU_IMG" create -q -f raw a.raw 5M
qemu-io -f raw -c "write -P 1 0 64k" -c "write -P 0 1M 64k" -c "write -P 3 2M 3k" \
    -c "write -P 4 3M 512" -c "write -P 5 4608k 512k" a.raw >/dev/null
"$QEMU_IMG" create -q -f raw b.raw 1M
qemu-io -f raw -c "write -P 9 4k 4k" b.raw >/dev/null
truncate -s 1000 odd.raw
printf 'xyz' | dd of=odd.raw bs=1 seek=500 conv=notrunc 2>/dev/null

check_conv() { # check_conv OUTPUT ARGS...: same output as qemu-img, same data and map
    local out=$1; shift
    same_fresh "cp ../a.raw ../b.raw ../odd.raw .; \$IMG convert $*; echo rc=\$?; qemu-img map --output=json $out"
    checks=$((checks + 1))
    if [ -e "fdir/$out" ] && "$QEMU_IMG" compare -q qdir/$out fdir/$out; then
        pass "compare: $*"
    else
        fail "target differs from qemu-img's: $*"
    fi
}

check_conv t.raw a.raw t.raw
check_conv t.raw -O raw -f raw a.raw t.raw
check_conv t.raw -S 0 a.raw t.raw
check_conv t.raw -S 512 a.raw t.raw
check_conv t.raw -S 64k a.raw t.raw
check_conv t.raw -S 16M a.raw t.raw
check_conv t.raw -m 1 a.raw t.raw
check_conv t.raw -m 16 -W a.raw t.raw
check_conv t.raw -m 3 a.raw b.raw a.raw t.raw
check_conv t.raw a.raw b.raw t.raw
check_conv t.raw odd.raw t.raw
check_conv t.raw odd.raw a.raw odd.raw t.raw
check_conv t.raw -p a.raw t.raw
check_conv t.raw -q a.raw t.raw
check_conv t.raw -T writeback -t none a.raw t.raw
check_conv t.raw -t writethrough -T directsync -U a.raw t.raw
check_conv t.raw --salvage a.raw t.raw
check_conv t.raw -o preallocation=full a.raw t.raw
check_conv t.raw -o preallocation=falloc a.raw t.raw
check_conv t.raw --image-opts driver=raw,file.filename=a.raw t.raw
check_conv t.raw --image-opts driver=raw,offset=1M,size=2M,file.filename=a.raw t.raw
# into an existing image: -n, --target-is-zero, --target-image-opts
check_conv t.raw "-q -O raw a.raw t.raw; qemu-io -f raw -c 'write -P 8 0 5M' t.raw >/dev/null; \$IMG convert -n a.raw t.raw"
check_conv t.raw "-q -O raw a.raw t.raw; \$IMG convert -n --target-is-zero a.raw t.raw"
check_conv t.raw "-q -O raw a.raw t.raw; qemu-io -f raw -c 'write -P 8 0 5M' t.raw >/dev/null; \$IMG convert -n -S 0 a.raw t.raw"
check_conv t.raw "-q -O raw a.raw t.raw; \$IMG convert -n --target-image-opts a.raw driver=raw,file.filename=t.raw"
check_conv t.raw "-q -O raw b.raw t.raw; \$IMG resize -q -f raw t.raw 8M; \$IMG convert -n b.raw t.raw"
finish
