# create -f qcow: "Formatting" line, -o help, the bytes of the image qemu-img makes (with and
# without a backing file), and qemu-img's errors.
. "$top_srcdir/tests/lib.sh"
need_qemu

same_fresh '$IMG create -f qcow -o help'
same_fresh '$IMG create -f qcow -o help a.qcow'
for size in 0 1 511 1000 10M 1G 1T 128P 4E; do
    same_fresh "\$IMG create -f qcow a.qcow $size; od -A d -t x1 a.qcow | tail -4; \$IMG info --output=json a.qcow"
done
for o in preallocation=full preallocation=falloc preallocation=metadata preallocation=x \
         encryption=on encryption=off encryption=maybe encrypt.format=luks bogus=1 size=1M; do
    same_fresh "\$IMG create -f qcow -o '$o' a.qcow 5M; od -A d -t x1 a.qcow | tail -3; \$IMG info a.qcow"
done
same_fresh '$IMG create -q -f raw b.raw 3M; $IMG create -f qcow -b b.raw -F raw a.qcow; od -A d -t x1 a.qcow; $IMG info a.qcow'
same_fresh '$IMG create -q -f raw b.raw 3M; $IMG create -f qcow -o backing_file=b.raw,backing_fmt=raw a.qcow 8M; od -A d -t x1 a.qcow | head; $IMG info a.qcow'
same_fresh '$IMG create -f qcow -u -b nonexistent.qcow -F qcow a.qcow 1M; od -A d -t x1 a.qcow | head -5'
same_fresh '$IMG create -f qcow -b nonexistent.qcow -F qcow a.qcow 1M'
same_fresh '$IMG create -f qcow a.qcow'
finish
