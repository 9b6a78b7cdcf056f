# qed: create prints qemu-img's "Formatting" line, -o help and errors, and writes files
# byte-identical to qemu-img's (QED headers hold no timestamps or UUIDs).
. "$top_srcdir/tests/lib.sh"
need_qemu

same_fresh '$IMG create -f qed -o help'
same_fresh '$IMG create -f qed -o help a.qed'
for o in "" cluster_size=4k cluster_size=64M cluster_size=3k cluster_size=128M table_size=1 \
         table_size=16 table_size=3 table_size=0 cluster_size=4k,table_size=1 \
         preallocation=metadata preallocation=full preallocation=bogus; do
    for size in 0 1000 1M 1G 2T; do
        same_fresh "\$IMG create -f qed -o '$o' a.qed $size; ls -l a.qed | cut -d' ' -f5; \$IMG info a.qed"
        same_fresh "\$IMG create -q -f qed -o '$o' a.qed $size && od -A d -t x1 a.qed | md5sum"
    done
done
same_fresh '$IMG create -q -f qed base.qed 4M; $IMG create -f qed -b base.qed -F qed a.qed; od -A d -t x1 a.qed | md5sum; $IMG info a.qed'
same_fresh '$IMG create -q -f raw base.raw 3M; $IMG create -f qed -b base.raw -F raw a.qed 5M; od -A d -t x1 a.qed | md5sum; $IMG info --output=json a.qed'
same_fresh '$IMG create -f qed -u -b nonexistent.qed -F qed a.qed 1M; $IMG info a.qed'
same_fresh '$IMG create -f qed -o backing_file=x.qed,backing_fmt=qed a.qed'
finish
