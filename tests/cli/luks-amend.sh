# Key slot management with amend, on LUKS qcow2 (encrypt.*) and luks images: qemu-img's messages,
# exit codes and resulting slot states, and the slots flatimg adds open in qemu-io while the ones
# it erases no longer do.
. "$top_srcdir/tests/lib.sh"
need_qemu

S='--object secret,id=s,data=pw --object secret,id=n,data=new'
"$FLATIMG" create -q -f qcow2 $S -o encrypt.format=luks,encrypt.key-secret=s,encrypt.iter-time=10 base.qcow2 1M
"$FLATIMG" create -q -f luks $S -o key-secret=s,iter-time=10,cipher-mode=cbc,ivgen-alg=essiv base.luks 1M
# same_amend BASE ARGS...: amend a copy of BASE (as a.img) with each program; output, exit code
# and the active flags of the slots afterwards must match
same_amend() {
    local base=$1; shift
    same_fresh "cp ../$base a.img; \$IMG amend $*; echo rc=\$?; $QEMU_IMG info a.img | grep 'active:'"
}
Q="--image-opts driver=qcow2,file.filename=a.img,encrypt.key-secret=s"
for o in encrypt.state=active,encrypt.new-secret=n,encrypt.iter-time=10 encrypt.state=active \
         encrypt.state=inactive,encrypt.keyslot=0 encrypt.state=inactive,encrypt.old-secret=s \
         encrypt.state=active,encrypt.keyslot=0,encrypt.new-secret=n \
         encrypt.state=active,encrypt.keyslot=9,encrypt.new-secret=n encrypt.new-secret=n \
         encrypt.state=foo encrypt.state=inactive encrypt.state=inactive,encrypt.old-secret=n \
         encrypt.state=active,encrypt.new-secret=x encrypt.state=active,encrypt.new-secret=n,encrypt.old-secret=s \
         encrypt.state=inactive,encrypt.keyslot=3 encrypt.state=inactive,encrypt.keyslot=0,encrypt.old-secret=n; do
    same_amend base.qcow2 "$S $Q -o $o"
done
same_amend base.qcow2 "$S --force $Q -o encrypt.state=inactive,encrypt.keyslot=0"
same_amend base.qcow2 "$S -o encrypt.state=active,encrypt.new-secret=n a.img"
L="--image-opts driver=luks,file.filename=a.img,key-secret=s"
same amend -f luks -o help
for o in state=active,keyslot=7,new-secret=n,iter-time=10 state=inactive,keyslot=0 \
         state=inactive,old-secret=n; do
    same_amend base.luks "$S $L -o $o"
done

# the slots work: a second passphrase added, then the first erased through it
for spec in "base.qcow2 qcow2 encrypt." "base.luks luks "; do
    set -- $spec
    img=x.$2 p=${3:-}
    cp $1 $img
    "$FLATIMG" amend $S --image-opts -o ${p}state=active,${p}new-secret=n,${p}iter-time=10 \
        "driver=$2,file.filename=$img,${p}key-secret=s" || fail "flatimg amend add $img"
    "$FLATIMG" amend $S --image-opts -o ${p}state=inactive,${p}old-secret=s \
        "driver=$2,file.filename=$img,${p}key-secret=n" || fail "flatimg amend erase $img"
    expect "$img opens in qemu-io with the new passphrase" \
        "$QEMU_IO" $S --image-opts -c 'write -P 7 0 4k' "driver=$2,file.filename=$img,${p}key-secret=n"
    "$QEMU_IO" $S --image-opts -c 'read 0 4k' "driver=$2,file.filename=$img,${p}key-secret=s" \
        >out.txt 2>&1 && fail "$img still opens with the erased passphrase"
    expect "$img: erased passphrase refused" grep -q "Invalid password, cannot unlock any keyslot" out.txt
done
finish
