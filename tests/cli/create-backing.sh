# create -b/-F/-u and -o backing_file: backing format required or probed as qemu-img 7.2 does,
# relative backing names resolved against the new image's directory, the same messages and images.
. "$top_srcdir/tests/lib.sh"
need_qemu
"$FLATIMG" --help | grep -q '^Supported formats:.* qcow2 ' || skip "flatimg has no qcow2 driver yet"
mk='mkdir -p sub && qemu-img create -q -f qcow2 sub/base.qcow2 3M && qemu-img create -q -f raw base.raw 2M && '
while IFS= read -r cmd; do
    [ -n "$cmd" ] || continue
    same_fresh "$mk \$IMG $cmd; echo rc=\$?; ls -R; for f in new.qcow2 sub/new.qcow2; do [ -f \$f ] && qemu-img info \$f | grep -v '^disk size'; done"
done <<'LIST'
create -f qcow2 -b base.raw new.qcow2
create -f qcow2 -b base.raw -F raw new.qcow2
create -f qcow2 -b base.raw -F qcow2 new.qcow2
create -f qcow2 -b base.qcow2 -F qcow2 sub/new.qcow2
create -f qcow2 -b sub/base.qcow2 -F qcow2 sub/new.qcow2
create -f qcow2 -b ../base.raw -F raw sub/new.qcow2
create -f qcow2 -u -b nonexist new.qcow2
create -f qcow2 -u -b nonexist -F qcow2 new.qcow2
create -f qcow2 -b '' -F raw new.qcow2 1M
create -f qcow2 -o backing_file=base.raw,backing_fmt=raw new.qcow2
create -f qcow2 -o backing_file=base.raw new.qcow2
create -f qcow2 -b base.raw -F raw -o size=5M new.qcow2
create -f qcow2 -b base.raw -F foo new.qcow2
create -f qcow2 -q -b base.raw -F raw new.qcow2
create -f qcow2 -b base.raw -F raw -o cluster_size=4k,lazy_refcounts=on new.qcow2
create -f qcow2 -b 'json:{"driver":"raw","file":{"driver":"file","filename":"base.raw"}}' -F raw new.qcow2
LIST
finish
