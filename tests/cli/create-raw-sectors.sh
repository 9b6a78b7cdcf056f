#!/bin/bash
# create -f raw rounds the file up to whole 512-byte sectors as qemu's file protocol does (the
# "Formatting" line keeps the size as given); a size that rounds past 8 EiB fails in the resize.
. "$top_srcdir/tests/lib.sh"
need_qemu
for size in 1 511 512 513 1000 1001 4097 1M 1025k; do
    same_fresh "\$IMG create -f raw r.raw $size; stat -c %s r.raw; \$IMG info -f raw r.raw | grep virtual"
done
same_fresh "\$IMG create -f raw -o preallocation=full r.raw 1001; stat -c %s r.raw"
same_fresh "\$IMG create -f raw -o preallocation=falloc r.raw 3333; stat -c %s r.raw"
same_fresh "\$IMG create -f raw r.raw 9223372036854775807; stat -c %s r.raw"
finish
