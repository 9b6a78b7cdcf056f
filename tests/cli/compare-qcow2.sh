# compare between qcow2 images made by qemu-img and raw ones: chains against their flat copy,
# compressed against plain, zero clusters, size mismatches, strict mode.
. "$top_srcdir/tests/lib.sh"
need_qemu
. "$top_srcdir/tests/cli/qcow2-images.inc"

pairs=(
    "plain.qcow2 comp.qcow2" "top.qcow2 top.raw" "top.raw top.qcow2" "mid.qcow2 base.qcow2"
    "short.qcow2 base.qcow2" "base.qcow2 short.qcow2" "zero.qcow2 plain.qcow2"
    "snap.qcow2 plain.qcow2" "small.qcow2 small.qcow2" "top.qcow2 mid.qcow2"
)
for p in "${pairs[@]}"; do
    # shellcheck disable=SC2086
    set -- $p
    same compare "$1" "$2"
    same compare -s "$1" "$2"
    same compare -p "$1" "$2"
done
same compare -f qcow2 -F raw top.qcow2 top.raw
same compare -f qcow2 -F qcow2 top.qcow2 top.raw
same compare -f raw top.qcow2 top.raw
finish
