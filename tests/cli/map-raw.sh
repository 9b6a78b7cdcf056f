# map on raw images of many shapes (sparse, partly written, zero-written, empty, unaligned sizes,
# json: and --image-opts names, raw offset/size windows), human and JSON, --start-offset and
# --max-length, and qemu-img's errors, all compared with qemu-img.
. "$top_srcdir/tests/lib.sh"
need_qemu

"$QEMU_IMG" create -q -f raw a.raw 4M
"$QEMU_IO" -f raw -c 'write -P 1 64k 128k' -c 'write -P 0 1M 64k' -c 'write 2M 4k' \
    -c 'write -z 3M 64k' a.raw >/dev/null
truncate -s 4M holes.raw
"$QEMU_IO" -f raw -c 'write -P 1 64k 128k' -c 'write -P 9 4095k 1k' holes.raw >/dev/null
printf 'abc' >odd.raw && truncate -s 1000 odd.raw
truncate -s 3M sparse.raw
: >empty.raw
printf 'x' >tiny.raw
"$QEMU_IMG" create -q -f raw full.raw 1M && "$QEMU_IO" -f raw -c 'write -P 5 0 1M' full.raw >/dev/null
truncate -s 1T huge.raw
"$QEMU_IO" -f raw -c 'write -P 3 512G 1M' huge.raw >/dev/null

for img in a.raw holes.raw odd.raw sparse.raw empty.raw tiny.raw full.raw huge.raw; do
    same map "$img"
    same map --output=json "$img"
    same map -f raw --output=human "$img"
    same map -U --start-offset=65536 "$img"
    same map --output=json -s 1000 -l 70000 "$img"
    same map --max-length=1M --output=json "$img"
    same map --start-offset=10M --output=json "$img"
    same map --start-offset=10M "$img"
    same map -l 0 --output=json "$img"
done
same map -s 3 -l 5 --output=json odd.raw
same map --start-offset=0x10000 a.raw
json='json:{"driver":"raw","offset":65536,"size":2097152,"file":{"driver":"file","filename":"a.raw"}}'
same map "$json"
same map --output=json "$json"
same map --output=json 'json:{"driver":"raw","offset":1536,"file":{"driver":"file","filename":"a.raw"}}'
same map --image-opts driver=raw,file.filename=holes.raw
same map --output=json --image-opts driver=raw,offset=512,file.filename=holes.raw
same map --image-opts driver=file,filename=holes.raw
same map -f file --output=json holes.raw
same map --object secret,id=s0,data=x a.raw
same map "$SCRATCH/a.raw"

# errors
same map
same map a.raw a.raw
same map --output=xml a.raw
same map --output=xml
same map -s x a.raw
same map -s -1 a.raw
same map -l 1Q a.raw
same map -l 99999999999999999999 a.raw
same map nonexistent
same map -f foo a.raw
same map --image-opts -f raw a.raw
same map --image-opts driver=raw,file.filename=a.raw,bogus=1
same map 'json:{"driver":"raw"'
same map --object foo,id=x a.raw
same map -x a.raw
same map --bogus a.raw
same map -s
same map --output
finish
