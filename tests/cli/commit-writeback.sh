#!/bin/bash
# commit and rebase start the kernel's writeback of what they wrote every 16 MiB, so the disk
# works during the copy rather than all at the final flush; never with cache=unsafe (no flush
# wanted) or cache=none (nothing in the page cache). The result is unchanged.
. "$top_srcdir/tests/lib.sh"
need_qemu
command -v strace >/dev/null 2>&1 || skip "strace is not installed"
# (LeakSanitizer cannot run under ptrace: sanitizer builds run without it here)
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
mk() {
    rm -f b.qcow2 t.qcow2 o.qcow2
    "$QEMU_IMG" create -q -f qcow2 b.qcow2 64M
    "$QEMU_IMG" create -q -f qcow2 -b b.qcow2 -F qcow2 t.qcow2
    "$QEMU_IO" -c "write -P 7 0 40M" t.qcow2 >/dev/null
    "$QEMU_IMG" create -q -f qcow2 o.qcow2 64M
    "$QEMU_IO" -c "write -P 9 0 64M" o.qcow2 >/dev/null
}
hints() { # hints ARGS...: sync_file_range calls of flatimg ARGS
    strace -f -qq -e trace=sync_file_range -o trace.out "$FLATIMG" "$@" >/dev/null || fail "$*"
    grep -c 'sync_file_range(' trace.out
}
mk
n=$(hints commit t.qcow2)
expect "commit of 40M starts writeback twice ($n)" test "$n" = 2
expect "the committed base reads as the top did" "$QEMU_IO" -c "read -q -P 7 0 40M" b.qcow2
mk
n=$(hints commit -t unsafe t.qcow2)
expect "not with -t unsafe ($n)" test "$n" = 0
mk
n=$(hints commit -t none t.qcow2)
expect "not with -t none ($n)" test "$n" = 0
mk
"$QEMU_IMG" convert -O raw t.qcow2 view.raw
n=$(hints rebase -b o.qcow2 -F qcow2 t.qcow2)
expect "rebase writing 24M starts writeback once ($n)" test "$n" = 1
expect "the rebased image reads as before" "$QEMU_IMG" compare -q t.qcow2 view.raw
finish
