# convert argument handling and bad input: messages and exit codes of qemu-img 7.2, nothing
# written (no target left behind) when convert fails.
. "$top_srcdir/tests/lib.sh"
need_qemu

mk='$IMG create -q -f raw a.raw 4M && qemu-io -f raw -c "write -P 1 0 64k" a.raw >/dev/null && '
while IFS= read -r args; do
    [ -n "$args" ] || continue
    same_fresh "$mk \$IMG convert $args; echo rc=\$?; ls"
done <<'LIST'

a.raw
-n a.raw
--skip-broken-bitmaps a.raw b
-c -C a.raw b
-S 4k -C a.raw b
-C --salvage a.raw b
--target-image-opts a.raw b
-o size=1M -n a.raw b
--target-is-zero a.raw b
-o help
-O raw -o help b
-o help,size=1M
-S 1000 a.raw b
-S 32M a.raw b
-S x a.raw b
-S -1 a.raw b
-m 0 a.raw b
-m 17 a.raw b
-m 3x a.raw b
-m 0x10 a.raw b
-r x a.raw b
-T foo a.raw b
-O foo a.raw b
-c a.raw b
-B a.raw a.raw b
-F raw a.raw b
-l snap a.raw b
-l snapshot.id=1 a.raw b
-l snapshot.foo=1 a.raw b
-l x a.raw a.raw b
--bitmaps a.raw b
--bitmaps a.raw a.raw b
-n a.raw nonexist
-o foo=1 a.raw b
-o size=foo a.raw b
-o preallocation=bad a.raw b
-x
-f foo a.raw b
-O raw a.raw nodir/b
--image-opts -f raw a.raw b
--image-opts driver=raw,file.filename=a.raw b
-n --target-image-opts a.raw driver=raw,file.filename=nonexist
nonexist b
-q -p a.raw b
-U -t none a.raw b
-T none -t writeback -m 1 -W -r 1M a.raw b
-n --target-is-zero -O raw a.raw a.raw
LIST
# qemu-img leaves the target it created behind when it fails after creating it; flatimg
# removes it (same messages and exit code)
for args in "-t foo a.raw b" "-o preallocation=metadata a.raw b"; do
    same_fresh "$mk \$IMG convert $args; echo rc=\$?"
    "$FLATIMG" create -q -f raw a.raw 4M
    "$FLATIMG" convert $args 2>/dev/null
    checks=$((checks + 1))
    if [ -e b ]; then fail "flatimg convert $args left b behind"; else pass "no target left: $args"; fi
done
# nothing written: a failed -n convert leaves the existing target untouched
same_fresh '$IMG create -q -f raw s.raw 1M && $IMG create -q -f raw a.raw 4M && qemu-io -f raw -c "write -P 7 0 1M" s.raw >/dev/null && $IMG convert -n -O raw a.raw s.raw; echo rc=$?; od -An -tx1 -N4 s.raw'
finish
