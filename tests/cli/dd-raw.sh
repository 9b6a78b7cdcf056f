# dd: operands, output size and content as qemu-img 7.2's, bad input (message, exit code, no
# output written).
. "$top_srcdir/tests/lib.sh"
need_qemu

mk='$IMG create -q -f raw a.raw 3M && qemu-io -f raw -c "write -P 1 0 64k" -c "write -P 2 1000k 100k" a.raw >/dev/null && truncate -s 1000 odd.raw && '
while IFS= read -r args; do
    [ -n "$args" ] || continue
    same_fresh "$mk \$IMG dd $args; echo rc=\$?; ls; for f in o*; do [ -f \"\$f\" ] && ls -l \$f | cut -d' ' -f5 && sha256sum \$f; done"
done <<'LIST'
if=a.raw of=o1
if=a.raw of=o2 bs=1k count=3 skip=2
if=a.raw
of=x
if=a.raw of=o3 bs=0
if=a.raw of=o4 bs=1000
if=a.raw of=o5 bs=1k count=-1
if=a.raw of=o6 bs=1M skip=5
if=a.raw of=o7 foo=1
if=a.raw of=o8 if=a.raw
if=a.raw of=o9 bs=x
if=a.raw of=o10 count=x
if=a.raw of=o11 skip=x
if=a.raw of=o12 bs=1k count=2 -O raw
if=a.raw of=o13 -O qcow2x
if=nonexist of=o14
if=a.raw of=nodir/o15
-f raw if=a.raw of=o16 skip=1 bs=2M
ifa.raw of=o17
if=a.raw of=o18 count=0
if=a.raw of=o19 bs=512 count=3G
if=a.raw of=o20 bs=300k
if=a.raw of=o21 bs=9E
if=a.raw of=o22 skip=9E
if=a.raw of=o23 count=5k
if=a.raw of=o24 skip=1k count=1k bs=1k
if=odd.raw of=o25
-U if=a.raw of=o27 bs=64k count=2
--image-opts if=driver=raw,file.filename=a.raw of=o28 bs=64k count=20
--image-opts -f raw if=a.raw of=o29
-Z if=a.raw of=o30
if=a.raw of=o31 bs=
=x
LIST
finish
