#!/bin/bash
# qcow2 amend through driver->amend (qcow2-tool harness): compat upgrade writes qemu's header,
# downgrade expands zero clusters like qemu, lazy_refcounts toggles, and refused changes give
# qemu's messages.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/cli/qcow2-lib.sh"
need_qemu

both_amend() { # both_amend CREATE-OPTS AMEND-OPTS [IO-COMMANDS...]
    local c=$1 a=$2; shift 2
    rm -f q.qcow2 f.qcow2
    mkimg q.qcow2 "$c" 1M "$@"
    cp q.qcow2 f.qcow2
    "$QEMU_IMG" amend -o "$a" q.qcow2 >q.out 2>&1; echo $? >>q.out
    "$QTOOL" amend f.qcow2 "$a" >f.out 2>&1; echo $? >>f.out
    sed -i 's/^qemu-img: //' q.out
}
both_amend "compat=0.10" "compat=1.1" 'write 0 64k'
expect "upgrade bytes" cmp q.qcow2 f.qcow2
both_amend "compat=0.10,cluster_size=4k" "compat=v3"
expect "upgrade bytes 4k" cmp q.qcow2 f.qcow2
both_amend "" "lazy_refcounts=on"
expect "lazy on bytes" cmp q.qcow2 f.qcow2
both_amend "lazy_refcounts=on" "lazy_refcounts=off"
expect "lazy off bytes" cmp q.qcow2 f.qcow2
both_amend "" "compat=0.10" 'write -z 0 64k' 'write 64k 64k' 'write -z 64k 64k' 'write 200k 4k'
expect "downgrade content" "$QEMU_IMG" compare -q q.qcow2 f.qcow2
expect "downgrade check" "$QEMU_IMG" check -q f.qcow2
"$QEMU_IMG" info f.qcow2 >f.info
expect "downgraded" grep -q 'compat: 0.10' f.info
for case in "extended_l2=on:compat=0.10" "refcount_bits=8:compat=0.10" ":compat=0.9" \
            "compat=0.10:lazy_refcounts=on" ":cluster_size=4k" ":data_file=x" \
            "compat=0.10:refcount_bits=8"; do
    both_amend "${case%%:*}" "${case#*:}"
    expect "message for ${case#*:}" diff -u q.out f.out
done
finish
