# info names an image opened with raw's offset/size options "json:{...}" as qemu-img does (typed
# values from a json: name, strings from --image-opts), and refuses a plain "file" node reference.
. "$top_srcdir/tests/lib.sh"
need_qemu

"$QEMU_IMG" create -q -f raw a.raw 4M
for out in human json; do
    same info --output=$out 'json:{"driver":"raw","offset":65536,"file":{"driver":"file","filename":"a.raw"}}'
    same info --output=$out 'json:{"driver":"raw","size":65536,"file":{"driver":"file","filename":"a.raw"}}'
    same info --output=$out 'json:{"driver":"raw","offset":512,"size":1024,"file":{"driver":"file","filename":"a.raw"}}'
    same info --output=$out 'json:{"driver":"raw","offset":"512","file":{"filename":"a.raw"}}'
    same info --output=$out 'json:{"driver":"raw","file":{"driver":"file","filename":"a.raw"}}'
    same info --output=$out --image-opts driver=raw,offset=512,file.filename=a.raw
    same info --output=$out --image-opts driver=raw,offset=512,size=1024,file.driver=file,file.filename=a.raw
    same info --output=$out --image-opts file.filename=a.raw,offset=512
    same info --output=$out --image-opts driver=raw,file.filename=a.raw
    same info --output=$out --backing-chain 'json:{"driver":"raw","size":512,"file":{"filename":"a.raw"}}'
done
same info 'json:{"driver":"raw","offset":0,"file":"a.raw"}'
same info -f raw 'json:{"file":"a.raw"}'
same info --image-opts driver=raw,file=a.raw
same map 'json:{"driver":"raw","file":"a.raw"}'
finish
