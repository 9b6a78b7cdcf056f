#!/bin/bash
# commit killed just before each of its writes, flushes and truncations in turn (strace's fault
# injection): whichever step it dies at, the top still reads as before, and no image in the chain
# is corrupt (leaked clusters allowed). The emptying of the top after the copy goes through its
# steps in an order that keeps this true.
. "$top_srcdir/tests/lib.sh"
need_qemu
command -v strace >/dev/null 2>&1 || skip "strace is not installed"
strace -o /dev/null -e inject=fdatasync:signal=KILL:when=1 true 2>/dev/null ||
    skip "strace cannot inject faults"
mk() {
    rm -f b.qcow2 t.qcow2
    "$QEMU_IMG" create -q -f qcow2 b.qcow2 64M
    "$QEMU_IO" -c "write -P 1 0 8M" b.qcow2 >/dev/null
    "$QEMU_IMG" create -q -f qcow2 -b b.qcow2 -F qcow2 t.qcow2
    "$QEMU_IO" -c "write -P 2 4M 8M" -c "write -z 20M 1M" -c "write -P 3 40M 64k" t.qcow2 >/dev/null
}
mk
"$QEMU_IMG" convert -O raw t.qcow2 want.raw
calls() { # how many times commit makes syscall $1
    mk
    strace -f -qq -e trace="$1" -o trace.out "$FLATIMG" commit t.qcow2 >/dev/null
    grep -c "$1(" trace.out
}
for sc in pwrite64 fdatasync ftruncate; do
    total=$(calls $sc)
    expect "commit makes $sc calls ($total)" test "$total" -gt 0
    for n in $(seq 1 "$total"); do
        mk
        # (in a shell of its own, whose "Killed" report goes nowhere)
        bash -c 'strace -f -qq -o /dev/null -e inject=$0:signal=KILL:when=$1 "$2" commit t.qcow2; :' \
            $sc $n "$FLATIMG" >/dev/null 2>&1
        "$QEMU_IMG" check -q t.qcow2 >/dev/null 2>&1
        tc=$?
        "$QEMU_IMG" check -q b.qcow2 >/dev/null 2>&1
        bc=$?
        checks=$((checks + 1))
        if [ "$tc" != 0 ] && [ "$tc" != 3 ] || [ "$bc" != 0 ] && [ "$bc" != 3 ]; then
            fail "killed before $sc $n: check exits $tc (top) $bc (base)"
        elif ! "$QEMU_IMG" compare -q t.qcow2 want.raw; then
            fail "killed before $sc $n: the top reads differently"
        else
            pass "killed before $sc $n of $total"
        fi
    done
done
finish
