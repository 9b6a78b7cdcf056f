# measure with the raw output format: --size N and FILENAME modes, human and JSON, -o checked
# against raw's create options, -l on a format without snapshots, and qemu-img's errors.
. "$top_srcdir/tests/lib.sh"
need_qemu

"$QEMU_IMG" create -q -f raw a.raw 4M
"$QEMU_IO" -f raw -c 'write -P 1 64k 128k' a.raw >/dev/null
printf 'abc' >odd.raw && truncate -s 1000 odd.raw
: >empty.raw
truncate -s 1T huge.raw

for sz in 0 1 1000 1M 1G 1T 9223372036854775807; do
    same measure --size "$sz"
    same measure --output=json --size "$sz" -O raw
done
for img in a.raw odd.raw empty.raw huge.raw; do
    same measure "$img"
    same measure --output=json -U -f raw "$img"
    same measure -O raw -o preallocation=full "$img"
done
same measure --image-opts driver=raw,offset=512,file.filename=odd.raw
same measure 'json:{"driver":"raw","size":4096,"file":{"driver":"file","filename":"a.raw"}}'
same measure --size 1G -o preallocation=falloc
same measure --size 1G -o preallocation=bogus
same measure --size 1G -o nocow=on,extent_size_hint=1M
same measure --size 1M -o size=2M
same measure --size 1M -o size=1,size=2
same measure --object secret,id=s0,data=x --size 1M
same measure --output=human --size 1M

# errors
same measure
same measure a.raw odd.raw
same measure --size 1G a.raw
same measure -o size=1G
same measure -f raw
same measure --image-opts
same measure -l snap
same measure -l foo a.raw
same measure -l snapshot.id=1 a.raw
same measure -l snapshot.name=x,snapshot.id=1 a.raw
same measure -l snapshot.foo=1 a.raw
same measure -O foo --size 1G
same measure -O file --size 1G
same measure --size x
same measure --size -1
same measure --size 16E
same measure --output=xml --size 1G
same measure --size 1G -o foo=1
same measure --size 1G -o help
same measure --size 1G -o size=abc
same measure --size 1G -o nocow=x
same measure --size 1G -o ,,
same measure nonexistent
same measure -f foo a.raw
finish
