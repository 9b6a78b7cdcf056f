#!/bin/sh
# Encrypted images mounted: a LUKS qcow2 and a luks volume with --object and image-opts= (the key
# secret added to the probed image) or --image-opts; the view equals qemu-img convert -O raw, a
# write through a rw mount is read back by qemu-io, and a mount without the key fails as qemu-img.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse

S="--object secret,id=s,data=pw"
"$FLATIMG" create -q -f qcow2 $S -o encrypt.format=luks,encrypt.key-secret=s,encrypt.iter-time=10 a.qcow2 4M
"$FLATIMG" create -q -f luks $S -o key-secret=s,iter-time=10,cipher-mode=cbc,ivgen-alg=essiv a.luks 4M
qimg() { echo "driver=$1,file.filename=$2,$3=s"; }
for spec in "qcow2 a.qcow2 encrypt.key-secret" "luks a.luks key-secret"; do
    set -- $spec
    $QEMU_IO $S --image-opts -c 'write -P 0x41 0 1M' -c 'write -P 0x42 3M 4096' "$(qimg "$@")" >/dev/null
    rm -f want.raw
    $QEMU_IMG convert $S --image-opts "$(qimg "$@")" -O raw want.raw
    touch view.raw
    fsmount $2 view.raw --object=secret,id=s,data=pw -o image-opts=$3=s,pidfile=$SCRATCH/pid ||
        fail "mount $2 with image-opts="
    expect "$2: the view decrypts as qemu-img convert" cmp view.raw want.raw
    fsumount view.raw pid
    fsmount "$(qimg "$@")" view.raw --object=secret,id=s,data=pw -o image-opts,rw,pidfile=$SCRATCH/pid ||
        fail "mount $2 with --image-opts"
    printf 'XYZ' | dd of=view.raw bs=1 seek=5000 conv=notrunc status=none
    fsumount view.raw pid
    out=$($QEMU_IO $S --image-opts -c 'read -P 0x41 0 5000' -c 'read -P 0x41 5003 1043573' \
          -c 'read -v 5000 3' "$(qimg "$@")")
    expect "$2: qemu-io reads the write through the mount" \
        sh -c "! echo '$out' | grep -q 'verification failed' && echo '$out' | grep -q 'XYZ'"
    "$FLATIMGFS" $2 view.raw --object=secret,id=s,data=pw 2>err.txt && fail "$2 mounted without its key"
    expect "$2: no key, qemu-img's error" grep -q "Parameter '$3' is required for cipher" err.txt
done
$QEMU_IMG check -q $S --image-opts "$(qimg qcow2 a.qcow2 encrypt.key-secret)" || fail "qemu-img check a.qcow2"
finish
