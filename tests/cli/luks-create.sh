# create -f luks: "Formatting" line, -o help, qemu-img's errors, and an image laid out as qemu-img
# lays it out (same info apart from the random UUID and the timed iteration counts); qemu-io
# unlocks flatimg's image and flatimg reads back what qemu-io wrote into it.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
need_qemu

S='--object secret,id=s0,data=abc'
same_fresh '$IMG create -f luks -o help'
same_fresh '$IMG create -f luks -o help a.luks'
same_fresh "\$IMG create -f luks $S -o iter-time=10 a.luks 1M; ls"
same_fresh "\$IMG create -f luks $S -o key-secret=s1,iter-time=10 a.luks 1M; ls"
same_fresh "\$IMG create -f luks $S -o key-secret=s0,iter-time=x a.luks 1M; ls"
same_fresh "\$IMG create -f luks $S -o key-secret=s0,bogus=1 a.luks 1M; ls"
same_fresh "\$IMG create -f luks -o key-secret=s0 a.luks 1M; ls"
same_fresh "\$IMG create -f luks $S -o key-secret=s0,iter-time=10,preallocation=metadata a.luks 1M; ls"
# the layout, apart from what is random or timed
for case in "1M " "3000k ,cipher-alg=aes-256,cipher-mode=xts,ivgen-alg=plain64,hash-alg=sha256" \
            "1M ,preallocation=full"; do
    set -- $case
    size=$1 o=${2:-}
    same_fresh "for i in \$(seq 50); do \$IMG create -q -f luks $S -o key-secret=s0,iter-time=20$o a.luks $size 2>/dev/null && break; done; \$IMG info --output=json a.luks | grep -v -e uuid -e iters; stat -c %s a.luks"
done
"$FLATIMG" create -q -f luks $S -o key-secret=s0,iter-time=20 f.luks 2M
qopen="driver=luks,file.filename=f.luks,key-secret=s0"
out=$("$QEMU_IO" $S --image-opts -c 'write -P 0x41 1000 100000' -c 'read -P 0x41 1000 100000' "$qopen" 2>&1)
expect "qemu-io unlocks and writes flatimg's image" test "$(grep -c -e failed -e "can't" <<<"$out")" = 0
"$QEMU_IMG" convert $S --image-opts "$qopen" -O raw q.raw
expect "flatimg reads qemu's data from its own image" cmp -s q.raw <("$IMGCAT2" -s secret,id=s0,data=abc -o key-secret=s0 f.luks)
finish
