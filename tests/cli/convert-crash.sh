# convert killed (SIGKILL) at random points: the source stays intact and readable, and a later
# convert into the same target still produces an image equal to the source.
. "$top_srcdir/tests/lib.sh"
need_qemu

"$QEMU_IMG" create -q -f raw src.raw 8M
qemu-io -f raw -c "write -P 0x11 0 1M" -c "write -P 0x22 3M 2M" -c "write -P 0x33 7M 512k" \
    src.raw >/dev/null
sum=$(sha256sum < src.raw)
for i in $(seq 1 12); do
    rm -f t.raw
    "$FLATIMG" convert -m 4 -t writeback -O raw src.raw t.raw &
    pid=$!
    sleep "0.00$((RANDOM % 10))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    checks=$((checks + 1))
    if [ "$(sha256sum < src.raw)" = "$sum" ]; then pass "source intact after kill $i"; else fail "source changed after kill $i"; fi
done
expect "source readable" "$QEMU_IMG" info -f raw src.raw
"$FLATIMG" convert -O raw src.raw t.raw
expect "convert after kills equals the source" "$QEMU_IMG" compare -q -f raw -F raw src.raw t.raw
finish
