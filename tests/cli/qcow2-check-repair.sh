#!/bin/bash
# qcow2 check and repair against qemu-img 7.2, one damaged image per class of problem (made here by
# editing a good qemu-made image): `check` (human and JSON), `check -r leaks` and `check -r all`
# must print the same stdout and stderr and exit with the same code as qemu-img on identical
# copies, and the repaired images must then look the same to qemu-img check and hold the same data.
. "$top_srcdir/tests/lib.sh"
need_qemu
command -v python3 >/dev/null || skip "python3 is needed to damage images"
DAMAGE="python3 $top_srcdir/tests/cli/qcow2-damage.py"

# good.qcow2: 64 KiB clusters; header 0, reftable 1, refblock 2, L1 3, L2 4, data 5-9
"$QEMU_IMG" create -q -f qcow2 good.qcow2 4M
"$QEMU_IO" -c 'write -P 1 0 200k' -c 'write -P 2 1M 64k' good.qcow2 >/dev/null
# snap.qcow2: an internal snapshot shares clusters with the active layer
cp good.qcow2 snap.qcow2
"$QEMU_IMG" snapshot -c s1 snap.qcow2
"$QEMU_IO" -c 'write -P 3 0 64k' snap.qcow2 >/dev/null
# comp.qcow2: compressed clusters
"$QEMU_IMG" convert -c -O qcow2 good.qcow2 comp.qcow2
# v2.qcow2: compat 0.10 with a snapshot
"$QEMU_IMG" create -q -f qcow2 -o compat=0.10 v2.qcow2 4M
"$QEMU_IO" -c 'write -P 1 0 128k' v2.qcow2 >/dev/null
"$QEMU_IMG" snapshot -c s1 v2.qcow2
# ext.qcow2: extended L2 entries
"$QEMU_IMG" create -q -f qcow2 -o extended_l2=on ext.qcow2 4M
"$QEMU_IO" -c 'write -P 1 0 8k' -c 'write -P 2 128k 64k' ext.qcow2 >/dev/null
# rc1.qcow2: 1-bit refcounts
"$QEMU_IMG" create -q -f qcow2 -o refcount_bits=1 rc1.qcow2 4M
"$QEMU_IO" -c 'write -P 1 0 128k' rc1.qcow2 >/dev/null

# damaged NAME BASE DAMAGE...: NAME.qcow2 is BASE.qcow2 with each damage (the arguments of one
# qcow2-damage.py run) applied in turn.
damaged() {
    local name=$1 base=$2; shift 2
    cp "$base.qcow2" "$name.qcow2"
    local step
    for step in "$@"; do
        # shellcheck disable=SC2086
        $DAMAGE "$name.qcow2" $step || fail "damaging $name: $step"
    done
}

# compare_check IMAGE: check, check --output=json, -r leaks and -r all (each on a fresh copy,
# followed by a qemu-img check of the result and a checksum of its data) match qemu-img.
compare_check() {
    local img=$1 repairs=${2:-leaks all}
    same_fresh "cp ../$img x.qcow2 && \$IMG check x.qcow2"
    same_fresh "cp ../$img x.qcow2 && \$IMG check --output=json x.qcow2"
    local r
    for r in $repairs; do
        same_fresh "cp ../$img x.qcow2 && \$IMG check -r $r x.qcow2; echo rc=\$?; $QEMU_IMG check x.qcow2; echo rc=\$?; $QEMU_IMG convert -U -O raw x.qcow2 x.raw 2>/dev/null && md5sum x.raw; md5sum x.qcow2"
    done
    [ "$repairs" = "leaks all" ] && same_fresh "cp ../$img x.qcow2 && \$IMG check -r all --output=json x.qcow2"
}

# leaks and refcounts too high (cluster 5 counted twice, cluster 10 past the data, unreferenced)
damaged leak good 'rc 5 2'
damaged leak-tail good 'hdr 24 8 4194304' 'rc 10 1'
truncate -s 768k leak-tail.qcow2
# refcounts too low: a used data cluster, an L2 table, the L1 table, the header (all need rebuilds)
damaged rc0-data good 'rc 5 0'
damaged rc0-l2 good 'rc 4 0'
damaged rc0-l1 good 'rc 3 0'
damaged rc0-header good 'rc 0 0'
# refcount lower than the number of references (snapshot-shared cluster)
damaged rc-low snap 'rc 6 1'
# OFLAG_COPIED wrong on L1 and L2 entries, both directions
damaged copied-l2-clear good 'l2 0 0 &~0x8000000000000000'
damaged copied-l1-clear good 'l1 0 &~0x8000000000000000'
damaged copied-l2-set snap 'l2 0 1 |0x8000000000000000'
damaged copied-l1-set snap 'l1 0 |0x8000000000000000'
# entries pointing past the end of the file or into metadata
damaged l2-past-end good 'l2 0 1 0x8000000010000000'
damaged l2-into-rt good 'l2 0 1 0x8000000000010000'
damaged l2-into-l1 good 'l2 0 1 0x8000000000030000'
damaged l2-dup good 'l2 0 1 0x8000000000050000'
damaged l1-past-end good 'l1 0 0x8000000010000000'
damaged l1-into-refblock good 'l1 0 0x8000000000020000'
# misaligned and reserved-bit entries
damaged l2-misaligned good 'l2 0 1 0x8000000000060200'
damaged l2-prealloc-misaligned good 'l2 0 1 0x8000000000060201'
damaged l2-reserved good 'l2 0 1 |0x2'
damaged l1-misaligned good 'l1 0 0x8000000000040200'
damaged l1-reserved good 'l1 0 |0x1'
# compressed descriptors: COPIED set, pointing past the end
damaged comp-copied comp 'l2 0 0 |0x8000000000000000'
damaged comp-past-end comp 'l2 0 0 0x40000000f0000000'
# refcount structures: refblock at 0, outside the image, misaligned, overlapping, reserved bits,
# no refcount table at all
damaged rt-zero good 'rt 0 0'
damaged rt-outside good 'rt 1 0x1000000'
damaged rt-outside-far good 'rt 1 0x100000000000'
damaged rt-misaligned good 'rt 0 0x20200'
damaged rt-overlap good 'rt 0 0x10000'
damaged rt-reserved good 'rt 0 |0x1'
damaged rt-none good 'hdr 56 4 0'
# snapshot table: bad L1 offset and size, table past the end, misaligned, too many entries,
# too much extra data, incomplete entries
damaged sn-l1-misaligned snap 'snap 0 l1_offset +0x200'
damaged sn-l1-huge snap 'snap 0 l1_size 0x800000'
damaged sn-l1-past-end snap 'snap 0 l1_offset 0x10000000'
damaged sn-table-past-end snap 'hdr 64 8 0x10000000'
damaged sn-table-misaligned snap 'hdr 64 8 +0x200'
damaged sn-too-many snap 'hdr 60 4 0x10001'
damaged sn-extra-huge snap 'snap 0 extra_size 2000'
damaged sn-incomplete snap 'snap 0 extra_size 8'
damaged sn-v2 v2 'rc 6 3'
# header bits: dirty and corrupt images are opened by check and cleaned by a successful repair
damaged dirty good 'hdr 72 8 |1'
damaged dirty-leak good 'hdr 72 8 |1' 'rc 5 0'
damaged corrupt good 'hdr 72 8 |2'
damaged corrupt-leak good 'hdr 72 8 |2' 'rc 9 3'
# extended L2: bitmap problems
damaged ext-bitmap ext 'l2 0 2 0'
# 1-bit refcounts: a second reference overflows
damaged rc1-overflow rc1 'l2 0 1 0x8000000000050000'

for img in good snap comp v2 ext rc1 leak leak-tail rc0-data rc0-l2 rc0-l1 rc0-header rc-low \
    copied-l2-clear copied-l1-clear copied-l2-set copied-l1-set l2-past-end l2-into-rt l2-into-l1 \
    l2-dup l1-past-end l1-into-refblock l2-misaligned l2-prealloc-misaligned l2-reserved \
    l1-misaligned l1-reserved comp-copied comp-past-end rt-zero rt-outside rt-outside-far \
    rt-misaligned rt-overlap rt-reserved rt-none sn-l1-misaligned sn-l1-huge sn-l1-past-end \
    sn-table-past-end sn-table-misaligned sn-extra-huge sn-incomplete sn-v2 dirty \
    dirty-leak corrupt corrupt-leak ext-bitmap rc1-overflow; do
    compare_check "$img.qcow2"
done
# a dirty image left by a killed qemu-io with lazy refcounts: check reports it, and opening it
# read-write repairs it first (with the same messages, the same result) for every writing command
"$QEMU_IMG" create -q -f qcow2 -o lazy_refcounts=on lazy.qcow2 64M
"$QEMU_IO" -c 'write -P 5 0 512' -c 'sigraise 9' lazy.qcow2 >/dev/null 2>&1
compare_check lazy.qcow2
for cmd in "resize x.qcow2 128M" "snapshot -c s x.qcow2" "amend -o lazy_refcounts=off x.qcow2" \
    "rebase -u -b '' x.qcow2" "commit x.qcow2"; do
    same_fresh "cp ../lazy.qcow2 x.qcow2 && \$IMG $cmd; echo rc=\$?; $QEMU_IMG check x.qcow2"
done

# a snapshot L1 table claimed over the refcount block: the repaired refcounts are refused when
# written back at close (qemu's cache write-back overlap check), so only the messages remain
damaged sn-l1-over-rb snap 'snap 0 l1_size 196608' 'l2 0 4 0x8000000000090000' 'snap 0 l1_offset 8'
compare_check sn-l1-over-rb.qcow2

# sn4k.qcow2: 4 KiB clusters, two snapshots; with 100 entries claimed, the rewritten snapshot
# table lands on a freed data cluster, whose old bytes stay in the padding between entries
"$QEMU_IMG" create -q -f qcow2 -o cluster_size=4k sn4k.qcow2 1M
"$QEMU_IO" -c 'write -P 1 0 100k' sn4k.qcow2 >/dev/null
"$QEMU_IMG" snapshot -c a sn4k.qcow2
"$QEMU_IO" -c 'write -P 2 8k 20k' sn4k.qcow2 >/dev/null
"$QEMU_IMG" snapshot -c b sn4k.qcow2
"$QEMU_IO" -c 'write -P 3 40k 8k' sn4k.qcow2 >/dev/null
damaged sn-padding sn4k 'hdr 60 4 100' 'rt 0 0x1d000' 'rc 22 0' 'snap 0 l1_offset 0'
compare_check sn-padding.qcow2

# a snapshot table rewrite whose new clusters land on metadata the broken refcounts left "free":
# allocated and counted first, then refused by the overlap check, as qemu-img does
compare_check sn-too-many.qcow2
finish
