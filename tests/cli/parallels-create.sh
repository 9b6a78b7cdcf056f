# create -f parallels: "Formatting" line, -o help, the image qemu-img makes (byte-identical header
# and BAT area, same size), and qemu-img's errors for bad sizes and options.
. "$top_srcdir/tests/lib.sh"
need_qemu

same_fresh '$IMG create -f parallels -o help'
same_fresh '$IMG create -f parallels -o help a.prl'
for o in "" cluster_size=4k cluster_size=1000 cluster_size=0 cluster_size=1T cluster_size=3G \
         cluster_size=2G preallocation=full preallocation=falloc preallocation=metadata \
         preallocation=bogus bogus=1 size=1M; do
    same_fresh "\$IMG create -f parallels -o '$o' a.prl 5M; od -A d -t x1 a.prl; \$IMG info a.prl"
done
for size in 0 1 511 1000k 16T 5000T 1G; do
    same_fresh "\$IMG create -f parallels a.prl $size; od -A d -t x1 a.prl | tail -3; \$IMG info --output=json a.prl"
done
same_fresh '$IMG create -f parallels -b base.prl -F parallels a.prl 1M'
same_fresh '$IMG create -f parallels a.prl'
same_fresh '$IMG create -q -f parallels a.prl 2M && od -A d -t x1 a.prl'
finish
