# check on qcow2 images made by qemu-img, clean and with a leaked or corrupted refcount (patched
# here): human and JSON reports, exit codes 0/2/3, and -r leaks|all repairs of leaks on fresh
# copies.
. "$top_srcdir/tests/lib.sh"
need_qemu
. "$top_srcdir/tests/cli/qcow2-images.inc"

# set_refcount IMAGE CLUSTER VALUE: patch the 16-bit refcount of a cluster in the first block
set_refcount() {
    local rt rb
    rt=$(od -An -tu8 --endian=big -j48 -N8 "$1" | tr -d ' ')
    rb=$(od -An -tu8 --endian=big -j"$rt" -N8 "$1" | tr -d ' ')
    printf "$(printf '\\%03o\\%03o' $(($3 >> 8)) $(($3 & 255)))" |
        dd of="$1" bs=1 seek=$((rb + 2 * $2)) conv=notrunc status=none
}
cp plain.qcow2 leak.qcow2 && set_refcount leak.qcow2 0 2
cp plain.qcow2 corrupt.qcow2 && set_refcount corrupt.qcow2 0 2 && set_refcount corrupt.qcow2 10 0

for img in $QCOW2_IMAGES leak.qcow2 corrupt.qcow2; do
    same check "$img"
    same check --output=json "$img"
    same check -q -U "$img"
done
# repairs: the driver's per-cluster diagnostics on stderr are the qcow2 driver's business (they
# differ in count from qemu-img's today), so only stdout and exit codes are compared here
for fix in leaks all; do
    for img in leak.qcow2 plain.qcow2; do
        same_fresh "cp ../$img x.qcow2 && \$IMG check -r $fix x.qcow2 2>/dev/null; echo rc=\$?; qemu-img check x.qcow2 2>&1"
        same_fresh "cp ../$img x.qcow2 && \$IMG check -r $fix --output=json x.qcow2 2>/dev/null; echo rc=\$?"
    done
done
finish
