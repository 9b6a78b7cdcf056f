# measure with qcow2 sources and the qcow2 output format: --size, images of every shape,
# -o cluster_size/preallocation, -l snapshots, human and JSON.
. "$top_srcdir/tests/lib.sh"
need_qemu
. "$top_srcdir/tests/cli/qcow2-images.inc"

for img in $QCOW2_IMAGES top.raw; do
    same measure "$img"
    same measure -O qcow2 "$img"
    same measure -O qcow2 --output=json "$img"
    same measure -O qcow2 -o cluster_size=4k "$img"
done
for sz in 0 1M 1G 1T; do
    same measure -O qcow2 --size "$sz"
    same measure -O qcow2 --size "$sz" -o preallocation=full --output=json
done
same measure -O qcow2 --size 1G -o cluster_size=3k
same measure -O qcow2 --size 1G -o bogus=1
same measure -l s1 -O qcow2 snap.qcow2
same measure -l snapshot.name=s1 snap.qcow2
same measure -l snapshot.id=1 -O qcow2 snap.qcow2
same measure -l nosuch snap.qcow2
same measure -l snapshot.id=7 snap.qcow2
finish
