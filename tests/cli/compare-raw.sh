# compare on raw images: identical, content mismatches (reported sector-aligned as qemu-img
# does), holes versus written zeros, size mismatches (zero tails equal), strict mode, -q, -p,
# json:/--image-opts names, and every error path with qemu-img's exit codes 0/1/2.
. "$top_srcdir/tests/lib.sh"
need_qemu

"$QEMU_IMG" create -q -f raw a.raw 4M
"$QEMU_IO" -f raw -c 'write -P 1 64k 128k' -c 'write -P 0 1M 64k' -c 'write 2M 4k' a.raw >/dev/null
cp a.raw same.raw
cp a.raw diff1.raw && "$QEMU_IO" -f raw -c 'write -P 7 70000 1' diff1.raw >/dev/null
cp a.raw diff2.raw && "$QEMU_IO" -f raw -c 'write -P 7 4194303 1' diff2.raw >/dev/null
cp a.raw diff3.raw && "$QEMU_IO" -f raw -c 'write -P 7 1050000 3' diff3.raw >/dev/null
truncate -s 4M holes.raw
"$QEMU_IO" -f raw -c 'write -P 1 64k 128k' -c 'write 2M 4k' holes.raw >/dev/null
"$QEMU_IMG" create -q -f raw big.raw 5M && dd if=a.raw of=big.raw conv=notrunc 2>/dev/null
cp big.raw bigd.raw && "$QEMU_IO" -f raw -c 'write -P 3 4500000 100' bigd.raw >/dev/null
"$QEMU_IMG" create -q -f raw zeros.raw 4M && "$QEMU_IO" -f raw -c 'write -z 0 4M' zeros.raw >/dev/null
truncate -s 3M sparse.raw
cp sparse.raw written0.raw && "$QEMU_IO" -f raw -c 'write -P 0 0 1M' written0.raw >/dev/null
printf 'abc' >odd.raw && truncate -s 1000 odd.raw
printf 'abc' >odd2.raw && truncate -s 1024 odd2.raw
: >empty.raw

pairs=(
    "a.raw same.raw" "a.raw diff1.raw" "a.raw diff2.raw" "a.raw diff3.raw" "diff1.raw a.raw"
    "a.raw holes.raw" "holes.raw a.raw" "a.raw big.raw" "big.raw a.raw" "a.raw bigd.raw"
    "bigd.raw a.raw" "zeros.raw sparse.raw" "sparse.raw zeros.raw" "sparse.raw written0.raw"
    "odd.raw odd.raw" "odd.raw odd2.raw" "odd.raw a.raw" "empty.raw empty.raw"
    "empty.raw sparse.raw" "empty.raw a.raw" "a.raw empty.raw" "sparse.raw sparse.raw"
)
for p in "${pairs[@]}"; do
    # shellcheck disable=SC2086
    set -- $p
    same compare "$1" "$2"
    same compare -s "$1" "$2"
    same compare -q "$1" "$2"
    same compare -p "$1" "$2"
    same compare -f raw -F raw -U -T none "$1" "$2"
done
same compare -p -q a.raw diff1.raw
json='json:{"driver":"raw","offset":65536,"file":{"driver":"file","filename":"a.raw"}}'
same compare "$json" same.raw
same compare "$json" "$json"
same compare --image-opts driver=raw,file.filename=a.raw driver=raw,file.filename=diff1.raw
same compare --image-opts driver=raw,file.filename=a.raw driver=raw,file.filename=same.raw
same compare --object secret,id=s0,data=x a.raw same.raw

# errors: 2 for usage of the images, 1 for bad command lines
same compare a.raw
same compare a.raw b.raw c.raw
same compare
same compare a.raw nonexistent
same compare nonexistent a.raw
same compare -f foo a.raw same.raw
same compare -F foo a.raw same.raw
same compare -T bogus a.raw same.raw
same compare --object foo,id=x a.raw same.raw
same compare --image-opts driver=raw,file.filename=a.raw,bogus=1 a.raw
same compare -x a.raw same.raw
same compare -f
finish
