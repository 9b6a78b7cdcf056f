# commit and rebase killed (SIGKILL) at random points: the guest view of the top image (what
# qemu-img reads through the whole chain) never changes, and no image is corrupt (leaks allowed).
. "$top_srcdir/tests/lib.sh"
need_qemu
"$FLATIMG" --help | grep -q '^Supported formats:.* qcow2 ' || skip "flatimg has no qcow2 driver yet"

mkchain() {
    rm -f base.qcow2 mid.qcow2 top.qcow2
    "$QEMU_IMG" create -q -f qcow2 base.qcow2 8M
    qemu-io -f qcow2 -c "write -P 1 0 4M" base.qcow2 >/dev/null
    "$QEMU_IMG" create -q -f qcow2 -b base.qcow2 -F qcow2 mid.qcow2
    qemu-io -f qcow2 -c "write -P 2 1M 3M" mid.qcow2 >/dev/null
    "$QEMU_IMG" create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2
    qemu-io -f qcow2 -c "write -P 3 2M 1M" -c "write -P 4 6M 1M" top.qcow2 >/dev/null
}
view() { "$QEMU_IMG" convert -U -O raw top.qcow2 view.raw && sha256sum < view.raw; }

mkchain
sum=$(view)
for op in "commit -d top.qcow2" "commit -b base.qcow2 top.qcow2" "rebase -b base.qcow2 -F qcow2 top.qcow2"; do
    for i in 1 2 3 4 5 6; do
        mkchain
        "$FLATIMG" $op >/dev/null 2>&1 &
        pid=$!
        sleep "0.00$((RANDOM % 10))"
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        checks=$((checks + 1))
        if [ "$(view)" = "$sum" ]; then pass "view intact after killing $op ($i)"; else fail "view changed after killing $op ($i)"; fi
        for f in base.qcow2 mid.qcow2 top.qcow2; do
            # leaked clusters (exit 3) are allowed after a crash, corruption is not
            "$QEMU_IMG" check -q "$f" >/dev/null 2>&1
            rc=$?
            checks=$((checks + 1))
            if [ $rc = 0 ] || [ $rc = 3 ]; then pass "$f consistent ($op, $i)"; else fail "$f corrupt after killing $op ($i)"; fi
        done
    done
done
finish
