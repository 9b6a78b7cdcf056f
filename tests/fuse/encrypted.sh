#!/bin/sh
# An encrypted qcow2 (LUKS, made by qemu-img) mounts with --object secret and image-opts= naming
# the key: the view is what `qemu-img convert` decrypts, in 1 MiB and 4 KiB reads, and a wrong
# passphrase is a start-up error with nothing mounted.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
need_qcow2

SECRET="secret,id=s0,data=flatimgfs"
for try in 1 2 3 4 5; do
    rm -f enc.qcow2
    $QEMU_IMG create -q -f qcow2 --object "$SECRET" \
        -o encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10 enc.qcow2 8M 2>qerr && break
    qemu_flaky qerr || break
done
[ -s enc.qcow2 ] || skip "qemu-img could not create a LUKS qcow2: $(cat qerr)"
OPTS="driver=qcow2,file.filename=enc.qcow2,encrypt.key-secret=s0"
$QEMU_IO --object "$SECRET" --image-opts -c "write -P 0x5c 1M 1M" -c "write -P 0x3a 5M 64k" "$OPTS" >/dev/null
$QEMU_IMG convert --object "$SECRET" --image-opts -O raw "$OPTS" ref.raw
touch view.raw
MOUNTS="$SCRATCH/view.raw"
"$FLATIMGFS" enc.qcow2 view.raw 2>err
expect "without a key: exit 1" test $? = 1
expect "without a key: qemu-img's message" grep -qx \
    "flatimgfs: Could not open 'enc.qcow2': Parameter 'encrypt.key-secret' is required for cipher" err
expect "without a key: nothing mounted" sh -c '! mountpoint -q view.raw'
expect "mounted with --object and image-opts=" fsmount enc.qcow2 view.raw --object "$SECRET" \
    -o image-opts=encrypt.key-secret=s0,pidfile=$SCRATCH/pid
expect "1 MiB reads decrypt" sh -c 'dd if=view.raw bs=1M status=none | cmp - ref.raw'
expect "4 KiB reads decrypt" sh -c 'dd if=view.raw bs=4k status=none | cmp - ref.raw'
fsumount view.raw pid
"$FLATIMGFS" enc.qcow2 view.raw --object secret,id=s0,data=wrong -o image-opts=encrypt.key-secret=s0 2>err
expect "wrong passphrase: exit 1" test $? = 1
expect "wrong passphrase: qemu-img's message" grep -qx \
    "flatimgfs: Could not open 'enc.qcow2': Invalid password, cannot unlock any keyslot" err
expect "wrong passphrase: nothing mounted" sh -c '! mountpoint -q view.raw'
finish
