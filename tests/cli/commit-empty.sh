#!/bin/bash
# After commit, the top qcow2 image is emptied as qemu-img 7.2's qcow2_make_empty does: reset to
# header, refcount table, one refcount block and an empty L1 table, the file cut after them,
# byte for byte as qemu's (v3 images without snapshots, bitmaps, LUKS or data file); otherwise
# every cluster of the active layer is discarded and the freed ones punched out of the file.
. "$top_srcdir/tests/lib.sh"
need_qemu
# commit_both OPTS WRITES [EXTRA]: the same chain committed by qemu-img in q/ and by flatimg in f/
commit_both() {
    local opts=$1 writes=$2 extra=${3:-}
    for tag in q f; do
        local prog=$QEMU_IMG
        [ $tag = f ] && prog=$FLATIMG
        rm -rf $tag
        mkdir $tag
        (
            cd $tag || exit 1
            "$QEMU_IMG" create -q -f qcow2 b.qcow2 64M
            eval "\"\$QEMU_IMG\" create -q -f qcow2 $opts -b b.qcow2 -F qcow2 t.qcow2 64M"
            eval "\"\$QEMU_IO\" $writes t.qcow2" >/dev/null
            [ -n "$extra" ] && eval "$extra" >/dev/null
            "$prog" commit t.qcow2 >/dev/null
        ) || fail "$prog commit ($opts)"
    done
    expect "($opts $extra) the bases compare equal" "$QEMU_IMG" compare -q q/b.qcow2 f/b.qcow2
    expect "($opts $extra) the top passes check" "$QEMU_IMG" check -q f/t.qcow2
}
W1M="-c 'write -P 1 0 1M'"
for opts in "" "-o cluster_size=4k" "-o cluster_size=512" "-o lazy_refcounts=on" \
    "-o extended_l2=on" "-o refcount_bits=1" "-o refcount_bits=64"; do
    commit_both "$opts" "$W1M -c 'write -z 8M 1M' -c 'write -P 2 63M 4k'"
    expect "($opts) the emptied top is qemu-img's, byte for byte" cmp q/t.qcow2 f/t.qcow2
done
commit_both "" ""
expect "(nothing written) the emptied top is qemu-img's, byte for byte" cmp q/t.qcow2 f/t.qcow2
# a persistent bitmap: every cluster discarded, the bitmap stored again at close
commit_both "" "$W1M -c 'write -P 2 3M 64k'" "\"\$QEMU_IMG\" bitmap --add t.qcow2 bm"
expect "(bitmap) the emptied top is qemu-img's, byte for byte" cmp q/t.qcow2 f/t.qcow2

# v2 and snapshots: the clusters are discarded (freed ones punched out of the file); map, size
# and space used are qemu's
for case in "-o compat=0.10|" "|\"\$QEMU_IMG\" snapshot -c s1 t.qcow2"; do
    commit_both "${case%%|*}" "$W1M -c 'write -P 2 3M 64k'" "${case#*|}"
    # (what lies below comes from the bases, where qemu's concurrent copy places clusters in
    # an order of its own)
    expect "(${case}) the map of the top layer is qemu-img's" \
        diff <(cd q && "$QEMU_IMG" map --output=json t.qcow2 | grep '"depth": 0') \
        <(cd f && "$QEMU_IMG" map --output=json t.qcow2 | grep '"depth": 0')
    expect "(${case}) the same file size" test "$(stat -c %s q/t.qcow2)" = "$(stat -c %s f/t.qcow2)"
    # (the filesystem's own allocation rounding makes du vary by a few KiB from run to run)
    qdu=$(du -k q/t.qcow2 | cut -f1) fdu=$(du -k f/t.qcow2 | cut -f1)
    expect "(${case}) the space used is qemu-img's ($qdu KiB, flatimg $fdu KiB)" \
        test $((fdu - qdu)) -le 64 -a $((qdu - fdu)) -le 64
done
finish
