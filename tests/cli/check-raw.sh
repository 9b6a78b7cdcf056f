# check on raw images: qemu-img's "does not support checks" (exit 63) in every output mode and
# with repairs (which open read-write and print raw's probing warning), and the usage errors.
. "$top_srcdir/tests/lib.sh"
need_qemu

"$QEMU_IMG" create -q -f raw a.raw 4M
printf 'abc' >odd.raw && truncate -s 1000 odd.raw

same check a.raw
same check odd.raw
same check -q a.raw
same check --output=json a.raw
same check --output=human -f raw a.raw
same check -U a.raw
same check -T none a.raw
same check -r leaks a.raw
same check -q -r all a.raw
same check -f raw -r all a.raw
same check --repair=leaks --output=json a.raw
same check --image-opts driver=raw,file.filename=a.raw
same check --image-opts -r all file.filename=a.raw
same check 'json:{"driver":"raw","file":{"driver":"file","filename":"a.raw"}}'
same check --object secret,id=s0,data=x a.raw

# errors
same check
same check a.raw a.raw
same check -r foo a.raw
same check -r all -U a.raw
same check --output=xml a.raw
same check -T bogus a.raw
same check nonexistent
same check -f foo a.raw
same check -x a.raw
same check -r
finish
