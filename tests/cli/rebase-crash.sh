#!/bin/bash
# rebase (safe mode, onto a lower layer, onto an unrelated image, onto nothing) and commit (with
# and without -d) killed with SIGKILL at random points spread over a normal run: the guest view of
# the top image never changes, the images that were only read are untouched byte for byte, and
# no image is corrupt (leaked clusters allowed).
. "$top_srcdir/tests/lib.sh"
need_qemu

mkchain() {
    rm -f base.qcow2 mid.qcow2 top.qcow2 other.qcow2
    "$QEMU_IMG" create -q -f qcow2 base.qcow2 24M
    "$QEMU_IO" -f qcow2 -c "write -P 1 0 8M" -c "write -P 5 16M 4M" base.qcow2 >/dev/null
    "$QEMU_IMG" create -q -f qcow2 -b base.qcow2 -F qcow2 mid.qcow2
    "$QEMU_IO" -f qcow2 -c "write -P 2 2M 8M" -c "write -z 17M 1M" mid.qcow2 >/dev/null
    "$QEMU_IMG" create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2
    "$QEMU_IO" -f qcow2 -c "write -P 3 4M 2M" -c "write -P 4 12M 1M" top.qcow2 >/dev/null
    "$QEMU_IMG" create -q -f qcow2 other.qcow2 24M
    "$QEMU_IO" -f qcow2 -c "write -P 9 0 24M" other.qcow2 >/dev/null
}
view() { "$QEMU_IMG" convert -U -O raw top.qcow2 view.raw && sha256sum <view.raw; }
sums() { sha256sum "$@" | cut -c1-64 | tr '\n' ' '; }
now_us() { echo $(($(date +%s%N) / 1000)); }

mkchain
want=$(view)
# op | files it only reads
ops=(
    "rebase -b base.qcow2 -F qcow2 top.qcow2|base.qcow2 mid.qcow2"
    "rebase -b other.qcow2 -F qcow2 top.qcow2|base.qcow2 mid.qcow2 other.qcow2"
    "rebase -b '' top.qcow2|base.qcow2 mid.qcow2"
    "commit top.qcow2|base.qcow2"
    "commit -d top.qcow2|base.qcow2"
    "commit -b base.qcow2 top.qcow2|"
)
for entry in "${ops[@]}"; do
    op=${entry%%|*}
    ro=${entry#*|}
    eval "args=($op)" # the words of op, '' kept as an empty argument
    mkchain
    t0=$(now_us)
    "$FLATIMG" "${args[@]}" >/dev/null 2>&1 || fail "$op without a kill"
    span=$(($(now_us) - t0))
    [ "$span" -gt 0 ] || span=1000
    for i in 1 2 3 4 5 6 7 8; do
        mkchain
        before=$([ -n "$ro" ] && sums $ro)
        delay=$((RANDOM * 32768 + RANDOM))
        delay=$((delay % span))
        # flatimg itself in the background (no subshell in between), so that the kill reaches it
        "$FLATIMG" "${args[@]}" >/dev/null 2>&1 &
        pid=$!
        sleep "$(printf '%d.%06d' $((delay / 1000000)) $((delay % 1000000)))"
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        checks=$((checks + 1))
        if [ "$(view)" = "$want" ]; then
            pass "view intact after killing $op at ${delay}us"
        else
            fail "view changed after killing $op at ${delay}us"
            "$QEMU_IMG" info -U --backing-chain top.qcow2 | grep -E "^image|^backing"
            "$QEMU_IMG" map -U --output=json top.qcow2
        fi
        if [ -n "$ro" ]; then
            checks=$((checks + 1))
            if [ "$(sums $ro)" = "$before" ]; then pass "$ro untouched"; else fail "$ro changed by $op"; fi
        fi
        for f in base.qcow2 mid.qcow2 top.qcow2 other.qcow2; do
            "$QEMU_IMG" check -q "$f" >/dev/null 2>&1
            rc=$?
            checks=$((checks + 1))
            if [ $rc = 0 ] || [ $rc = 3 ]; then pass "$f consistent ($op, ${delay}us)"; else fail "$f corrupt after killing $op at ${delay}us (check exit $rc)"; fi
        done
    done
done
finish
