# create -f raw and info on raw images: byte-identical to qemu-img, including bad input.
. "$top_srcdir/tests/lib.sh"
need_qemu

same_fresh '$IMG create -f raw a.raw 1G && $IMG info a.raw && $IMG info --output=json a.raw'
same_fresh '$IMG create -f raw a.raw 1.5G; $IMG info --output=json --backing-chain a.raw'
same_fresh '$IMG create a.raw 0x100 && $IMG info a.raw'
for size in 1.5 1e3 "" 16E 1kk -1 18446744073709551615 0x1.5k 1b " 1k"; do
    same_fresh "\$IMG create -f raw a.raw '$size'"
    same_fresh "\$IMG create -f raw -o size='$size' a.raw"
done
same_fresh '$IMG create -f raw a.raw'
same_fresh '$IMG create -f raw -o preallocation=foo a.raw 1M'
same_fresh '$IMG create -f raw -o preallocation=metadata a.raw 1M'
same_fresh '$IMG create -f raw -o bogus=1 a.raw 1M'
same_fresh '$IMG create -f raw -o size=1M a.raw 1M'
same_fresh '$IMG create -f raw -o extent_size_hint=1M,nocow=on,preallocation=off a.raw 1M'
same_fresh '$IMG create -f raw -o nocow=maybe a.raw 1M'
for p in off falloc full; do
    same_fresh "\$IMG create -f raw -o preallocation=$p a.raw 3M && \$IMG info a.raw"
done
same_fresh '$IMG create -q -f raw a.raw 1M && $IMG info a.raw'
same_fresh '$IMG create -f raw -o help'
same_fresh '$IMG create -f raw -o help a.raw'
same_fresh '$IMG create -f raw -o "?" a.raw'
same_fresh '$IMG create -f raw -o "" a.raw 1M'
same_fresh '$IMG create -f foo a.raw 1M'
same_fresh '$IMG create -f raw'
same_fresh '$IMG create -f raw a.raw 1M extra'
same_fresh '$IMG create -f raw a.raw 1M -Z'
same_fresh '$IMG create -f raw -b base.raw -F raw a.raw 1M'
same_fresh '$IMG create -f raw nodir/a.raw 1M'
finish
