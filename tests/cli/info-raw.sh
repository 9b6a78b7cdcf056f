# info on raw images: human and JSON output, --backing-chain, json: and --image-opts names,
# and qemu-img's errors for missing files, unknown formats and bad options.
. "$top_srcdir/tests/lib.sh"
need_qemu

"$QEMU_IMG" create -q -f raw a.raw 64M
"$QEMU_IO" -f raw -c 'write -P 0x11 1M 2M' a.raw >/dev/null
mkdir -p sub && "$QEMU_IMG" create -q -f raw sub/b.raw 1M
printf 'x' >tiny.raw
: >empty.raw

for img in a.raw sub/b.raw tiny.raw empty.raw "$SCRATCH/a.raw"; do
    same info "$img"
    same info --output=json "$img"
    same info --output=human "$img"
    same info --backing-chain "$img"
    same info --backing-chain --output=json "$img"
    same info -f raw -U "$img"
done
same info 'json:{"driver":"raw","file":{"driver":"file","filename":"a.raw"}}'
same info --output=json 'json:{"driver":"raw","file":{"driver":"file","filename":"a.raw"}}'
same info 'json:{"driver":"raw"'
same info --image-opts driver=raw,file.filename=a.raw
same info --image-opts driver=raw,file.filename=a.raw,bogus=1
same info --image-opts -f raw driver=raw,file.filename=a.raw
same info --image-opts driver=raw,file.filename=nonexistent
same info nonexistent
same info -f foo a.raw
same info --output=xml a.raw
same info
same info a.raw a.raw
same info --bogus a.raw
same info -Z a.raw
same info -f
same info --object secret,id=s0 a.raw
same info --object secret,id=s0,data=x,format=hex a.raw
same info --object foo,id=x a.raw
same info --object id=x a.raw
same info --object secret,id=s0,data=abc,file=/etc/hostname a.raw
same info --object secret,id=s0,data=@@,format=base64 a.raw
same info --object secret,id=s0,data=YWJj,format=base64 a.raw
same foo
same -T bogus=1 info a.raw
# -T/--trace: unknown events warned about (with the events file's line), wildcards silent,
# missing events file and unwritable log file are errors
printf 'foo\n# comment\n\nbar*\n-baz\n' >events
same -T foo info a.raw
same -T enable=-foo,events=events info a.raw
same --trace 'enable=x*' info a.raw
same -T events=nonexistent info a.raw
same -T file=nonexistent/log info a.raw
same -T file=trace.log info a.raw
finish
