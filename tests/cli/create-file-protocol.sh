#!/bin/bash
# The file protocol named as the format (-f file / -O file), as qemu-img 7.2 accepts it: create
# (size rounded up to whole sectors, preallocation honoured, nocow/extent_size_hint accepted, -o
# help), convert and dd into it, with qemu-img's lines, messages and resulting files.
. "$top_srcdir/tests/lib.sh"
need_qemu
ck='; echo rc=$?; for x in *; do [ -f $x ] && echo $x $(stat -c %s $x) $(qemu-img info -U $x 2>/dev/null | grep -E "virtual|file format") $(sha1sum <$x | cut -c1-8); done'
for c in "a.img 1M" "a.img 1001" "-o preallocation=full a.img 1001" "-o preallocation=falloc a.img 64k" \
    "-o nocow=on a.img 1k" "-o extent_size_hint=1M a.img 1k" "-o help" "-o help a.img" \
    "-o preallocation=bogus a.img 1M" "-b x.img -F raw a.img 1M" "a.img" "-o cluster_size=64k a.img 1M" \
    "-q a.img 1M"; do
    same_fresh "\$IMG create -f file $c $ck"
done
mk='qemu-img create -q -f raw s.raw 1M; qemu-io -f raw -c "write -P 3 0 100k" s.raw >/dev/null;'
for c in "convert -O file s.raw o.img" "convert -c -O file s.raw o.img" \
    "convert -O file -o preallocation=full s.raw o.img" "convert -O file -B s.raw s.raw o.img" \
    "dd -O file if=s.raw of=o.img" "dd -O file bs=1000 count=3 if=s.raw of=o.img"; do
    same_fresh "$mk \$IMG $c $ck"
done
finish
