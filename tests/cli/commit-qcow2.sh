# commit and rebase on qcow2 chains made by qemu-img: the same messages, the same resulting
# images (data compared with qemu-img compare, images pass qemu-img check). Host offsets are not
# compared: qemu's commit copies in parallel, in no fixed order.
. "$top_srcdir/tests/lib.sh"
need_qemu
"$FLATIMG" --help | grep -q '^Supported formats:.* qcow2 ' || skip "flatimg has no qcow2 driver yet"
. "$top_srcdir/tests/cli/qcow2-features.sh"

mk='qemu-img create -q -f qcow2 base.qcow2 4M && qemu-io -f qcow2 -c "write -P 1 0 1M" -c "write -P 6 3M 64k" base.qcow2 >/dev/null && qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 mid.qcow2 && qemu-io -f qcow2 -c "write -P 2 512k 1M" mid.qcow2 >/dev/null && qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2 6M && qemu-io -f qcow2 -c "write -P 3 1M 64k" -c "write -z 3M 4k" -c "write -P 4 5M 64k" top.qcow2 >/dev/null && '
show='; echo rc=$?; for f in *.qcow2; do qemu-img check -q $f && echo "$f ok"; qemu-img info $f | grep -v "^disk size" | sed -E "s/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}/DATE/"; qemu-img convert -O raw $f $f.raw && sha256sum < $f.raw; rm -f $f.raw; done; qemu-img map --output=json top.qcow2 | sed "s/, \"offset\": [0-9]*//"'
# each line: the driver features the case needs (see qcow2-features.sh), then the command
while read -r need cmd; do
    [ -n "$cmd" ] || continue
    has ${need//,/ } || { echo "skipped (needs $need): $cmd"; continue; }
    same_fresh "$mk \$IMG $cmd $show"
done <<'LIST'
make_empty commit top.qcow2
- commit -d top.qcow2
- commit -b base.qcow2 top.qcow2
- commit -b mid.qcow2 top.qcow2
- commit -b top.qcow2 top.qcow2
make_empty commit -q mid.qcow2
make_empty commit -f qcow2 -t none top.qcow2
- commit base.qcow2
backing rebase -b base.qcow2 -F qcow2 top.qcow2
backing rebase -b '' top.qcow2
backing rebase -u -b base.qcow2 -F qcow2 top.qcow2
backing rebase -u -b '' top.qcow2
- rebase -b base.qcow2 top.qcow2
- rebase -b nonexist -F qcow2 top.qcow2
backing rebase -u -b nonexist -F qcow2 top.qcow2
backing rebase -b mid.qcow2 -F qcow2 top.qcow2
backing rebase -p -b base.qcow2 -F qcow2 top.qcow2
backing rebase -p -t writethrough -T none -b '' top.qcow2
- commit -p -d -b base.qcow2 top.qcow2 | tail -c 20
snapshot snapshot -c s1 top.qcow2
snapshot snapshot -d s1 top.qcow2
snapshot snapshot -a s1 top.qcow2
amend_help amend -f qcow2 -o help
amend amend -o compat=0.10 base.qcow2
amend amend -o cluster_size=4k base.qcow2
amend amend -o foo=1 base.qcow2
amend amend -o lazy_refcounts=on base.qcow2
amend_size amend -o size=8M top.qcow2
- resize top.qcow2 8M
- resize top.qcow2 -- -1M
shrink resize --shrink top.qcow2 -- -1M
grow_prealloc resize --preallocation=metadata top.qcow2 +1M
bitmap bitmap --add top.qcow2 b1
bitmap bitmap --add -g 64k top.qcow2 b1
bitmap bitmap --remove top.qcow2 b1
bitmap bitmap --disable top.qcow2 b1
bitmap bitmap --add top.qcow2 b1 --add top.qcow2 b2
bitmap bitmap --add --disable --enable --clear top.qcow2 b1
bitmap bitmap --add -g 128k top.qcow2 b1 && $IMG bitmap --add top.qcow2 b2 && $IMG bitmap --merge b1 top.qcow2 b2 && $IMG bitmap --remove top.qcow2 b1
bitmap bitmap --add top.qcow2 b1 && $IMG bitmap --merge b1 -b top.qcow2 -F qcow2 mid.qcow2 b1
bitmap bitmap --merge nope top.qcow2 b1
bitmap bitmap --add -g 1k top.qcow2 b1
bitmap bitmap --add top.qcow2 b1 && $IMG bitmap --add top.qcow2 b1
bitmap bitmap --add top.qcow2 b1 && $IMG convert --bitmaps -O qcow2 top.qcow2 t2.qcow2
bitmap bitmap --add top.qcow2 b1 && $IMG convert --bitmaps -O raw top.qcow2 t2.raw
snapshot snapshot -c s1 top.qcow2 && $IMG convert -l s1 -O raw top.qcow2 t2.raw && sha256sum t2.raw
snapshot snapshot -c s1 top.qcow2 && $IMG convert -l snapshot.name=s1 -O raw top.qcow2 t2.raw && sha256sum t2.raw
- convert -l nope -O raw top.qcow2 t2.raw
snapshot snapshot -c s1 top.qcow2 && $IMG snapshot -c s1 top.qcow2
snapshot snapshot -c s1 top.qcow2 && $IMG snapshot -a 1 top.qcow2
snapshot snapshot -c s1 top.qcow2 && $IMG snapshot -d 1 top.qcow2
- create -f qcow2 -b base.qcow2 new.qcow2
- create -f qcow2 -b base.qcow2 -F qcow2 new.qcow2
- create -f qcow2 -b base.qcow2 -F raw new.qcow2
- create -f qcow2 -u -b nonexist -F qcow2 new.qcow2 1M
- create -f qcow2 -u -b nonexist new.qcow2 1M
- create -f qcow2 -b nonexist -F qcow2 new.qcow2 1M
- create -f qcow2 -b base.qcow2 -F qcow2 new.qcow2 1M
- create -f qcow2 -b base.qcow2 -F qcow2 -o backing_file=mid.qcow2 new.qcow2
- create -f qcow2 -b new.qcow2 -F qcow2 new.qcow2
LIST
# snapshots listed after being made (dates differ: only the names and ids are compared)
has snapshot && same_fresh "$mk \$IMG snapshot -c s1 top.qcow2 && \$IMG snapshot -c s2 top.qcow2 && \$IMG snapshot -d 1 top.qcow2 && \$IMG snapshot -l top.qcow2 | cut -c1-27 && \$IMG snapshot -a s2 top.qcow2 $show"
finish
