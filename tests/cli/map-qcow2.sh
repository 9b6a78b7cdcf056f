# map on qcow2 images made by qemu-img (plain, compressed, zero clusters, a depth-3 chain, a
# shorter overlay, snapshots): human (and its compressed-cluster error) and JSON, windows.
. "$top_srcdir/tests/lib.sh"
need_qemu
. "$top_srcdir/tests/cli/qcow2-images.inc"

for img in $QCOW2_IMAGES; do
    same map "$img"
    same map --output=json "$img"
    same map -f qcow2 -U --output=json -s 1M -l 3M "$img"
    same map --start-offset=1536k --max-length=64k "$img"
done
same map --image-opts --output=json driver=qcow2,file.filename=top.qcow2
same map --output=json 'json:{"driver":"qcow2","file":{"driver":"file","filename":"top.qcow2"}}'
same map -f raw --output=json top.qcow2
same map -f qcow2 top.raw
finish
