#!/bin/bash
# commit and rebase killed just before each of their writes, flushes and truncations in turn
# (strace's fault injection): whichever step they die at, the top still reads as before, and no
# image is corrupt (leaked clusters allowed). The emptying of the top after a commit and the
# header change after a rebase come in an order that keeps this true.
. "$top_srcdir/tests/lib.sh"
need_qemu
command -v strace >/dev/null 2>&1 || skip "strace is not installed"
# (LeakSanitizer cannot run under ptrace: sanitizer builds run without it here)
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
strace -o /dev/null -e inject=fdatasync:signal=KILL:when=1 true 2>/dev/null ||
    skip "strace cannot inject faults"
mk() {
    rm -f b.qcow2 t.qcow2 o.qcow2
    "$QEMU_IMG" create -q -f qcow2 o.qcow2 64M
    "$QEMU_IO" -c "write -P 9 2M 30M" o.qcow2 >/dev/null
    "$QEMU_IMG" create -q -f qcow2 b.qcow2 64M
    "$QEMU_IO" -c "write -P 1 0 8M" b.qcow2 >/dev/null
    "$QEMU_IMG" create -q -f qcow2 -b b.qcow2 -F qcow2 t.qcow2
    "$QEMU_IO" -c "write -P 2 4M 8M" -c "write -z 20M 1M" -c "write -P 3 40M 64k" t.qcow2 >/dev/null
}
mk
"$QEMU_IMG" convert -O raw t.qcow2 want.raw
calls() { # calls SYSCALL OP...: how many times flatimg OP makes SYSCALL
    local sc=$1
    shift
    mk
    strace -f -qq -e trace="$sc" -o trace.out "$FLATIMG" "$@" >/dev/null
    grep -c "$sc(" trace.out
}
ops=("commit t.qcow2" "rebase -b '' t.qcow2" "rebase -b o.qcow2 -F qcow2 t.qcow2")
for op in "${ops[@]}"; do
eval "args=($op)"
for sc in pwrite64 fdatasync ftruncate; do
    total=$(calls $sc "${args[@]}")
    [ $sc = ftruncate ] && [ "${args[0]}" = rebase ] && continue # rebase never truncates
    expect "$op makes $sc calls ($total)" test "$total" -gt 0
    for n in $(seq 1 "$total"); do
        mk
        # (in a shell of its own, whose "Killed" report goes nowhere)
        bash -c 'sc=$1 n=$2; shift 2; strace -f -qq -o /dev/null -e inject=$sc:signal=KILL:when=$n "$@"; :' \
            - $sc $n "$FLATIMG" "${args[@]}" >/dev/null 2>&1
        "$QEMU_IMG" check -q t.qcow2 >/dev/null 2>&1
        tc=$?
        "$QEMU_IMG" check -q b.qcow2 >/dev/null 2>&1
        bc=$?
        checks=$((checks + 1))
        if [ "$tc" != 0 ] && [ "$tc" != 3 ] || [ "$bc" != 0 ] && [ "$bc" != 3 ]; then
            fail "$op killed before $sc $n: check exits $tc (top) $bc (base)"
        elif ! "$QEMU_IMG" compare -q t.qcow2 want.raw; then
            fail "$op killed before $sc $n: the top reads differently"
        else
            pass "$op killed before $sc $n of $total"
        fi
    done
done
done
finish
