#!/bin/bash
# amend -o refcount_bits=N rebuilds the refcount structures where qemu-img 7.2 puts them: the new
# blocks and table allocated through the old structures (first free clusters, repeated until a
# pass allocates nothing), then the old ones freed through the new: the same file as qemu-img for
# every width, up and down, with snapshots and bitmaps, small clusters, with compat changes.
. "$top_srcdir/tests/lib.sh"
need_qemu

# amend_case NAME OPTIONS SETUP
amend_case() {
    local name=$1 opts=$2 setup=$3
    rm -rf q f; mkdir q f
    (cd q && eval "$setup") >/dev/null 2>&1 || fail "$name: setup"
    (cd f && eval "$setup") >/dev/null 2>&1
    (cd q && "$QEMU_IMG" amend -o "$opts" a.qcow2) >q.out 2>&1; echo "rc $?" >>q.out
    (cd f && "$FLATIMG" amend -o "$opts" a.qcow2) >f.out 2>&1; echo "rc $?" >>f.out
    expect "$name $opts: same output" diff <(normalise q.out) <(normalise f.out)
    expect "$name $opts: same file" cmp q/a.qcow2 f/a.qcow2
    expect "$name $opts: same check" diff <("$QEMU_IMG" check --output=json q/a.qcow2 | grep -v filename) \
                                          <("$QEMU_IMG" check --output=json f/a.qcow2 | grep -v filename)
}
W="$QEMU_IO -c 'write -P 1 0 4M' -c 'write -P 2 20M 1M' a.qcow2"
for rb in 1 2 4 8 32 64; do
    amend_case plain refcount_bits=$rb "$QEMU_IMG create -f qcow2 a.qcow2 64M && $W"
done
for rb in 1 16 64; do
    amend_case "512 B clusters, bitmap" refcount_bits=$rb "$QEMU_IMG create -f qcow2 -o cluster_size=512,refcount_bits=8 a.qcow2 64M &&
        $W && $QEMU_IMG bitmap --add a.qcow2 bb"
done
# snapshots carry a creation time: the images are made once and copied
mkdir tpl
(cd tpl && "$QEMU_IMG" create -q -f qcow2 a.qcow2 64M && "$QEMU_IO" -c 'write -P 1 0 4M' a.qcow2 &&
    "$QEMU_IMG" snapshot -c s1 a.qcow2 && "$QEMU_IO" -c 'write -P 2 1M 1M' -c 'write -P 3 30M 1M' a.qcow2 &&
    "$QEMU_IMG" bitmap --add a.qcow2 bb && "$QEMU_IO" -c 'write -P 4 40M 64k' a.qcow2 &&
    "$QEMU_IMG" create -q -f qcow2 -o cluster_size=4k,refcount_bits=64 c.qcow2 256M &&
    "$QEMU_IO" -c 'write -P 1 0 100M' c.qcow2 && "$QEMU_IMG" snapshot -c s1 c.qcow2) >/dev/null
for rb in 1 2 8 64; do
    amend_case "snapshot, bitmap" refcount_bits=$rb "cp ../tpl/a.qcow2 a.qcow2"
done
for rb in 2 16; do
    amend_case "4 KiB clusters, snapshot" refcount_bits=$rb "cp ../tpl/c.qcow2 a.qcow2"
done
amend_case "v2" compat=1.1,refcount_bits=4 "$QEMU_IMG create -f qcow2 -o compat=0.10 a.qcow2 64M && $W"
amend_case "8 bits" compat=0.10,refcount_bits=16 "$QEMU_IMG create -f qcow2 -o refcount_bits=8 a.qcow2 64M && $W"
finish
