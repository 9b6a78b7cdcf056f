# resize on raw images: absolute and relative sizes, --shrink, --preallocation, the probed-raw
# warning, bad input (qemu-img's message and exit code, image untouched).
. "$top_srcdir/tests/lib.sh"
need_qemu

mk='$IMG create -q -f raw a.raw 4M && qemu-io -f raw -c "write -P 1 0 64k" a.raw >/dev/null && '
while IFS= read -r args; do
    [ -n "$args" ] || continue
    same_fresh "$mk \$IMG resize $args; echo rc=\$?; ls -l a.raw | cut -d' ' -f5; qemu-img map --output=json -f raw a.raw"
done <<'LIST'
a.raw 5M
-f raw a.raw 5M
-f raw a.raw +1M
-f raw a.raw -- -1M
-f raw -- a.raw -1M
-f raw a.raw -1M
-f raw --shrink a.raw -1M
-f raw --shrink a.raw 1M
-f raw --shrink a.raw 1000
-f raw --shrink a.raw -4M
-f raw a.raw 1M
-f raw a.raw 4M
-f raw -q a.raw 8M
-f raw --preallocation=full a.raw 8M
-f raw --preallocation=falloc a.raw 8M
-f raw --preallocation=off a.raw 8M
-f raw --preallocation=metadata a.raw 8M
-f raw --preallocation=foo a.raw 8M
-f raw --preallocation=full --shrink a.raw 1M
-f raw --preallocation=full a.raw 4M
-f raw a.raw x
-f raw a.raw -- -x
-f raw a.raw +8E
-f raw a.raw 9E
-f raw a.raw 0
-f raw a.raw
a.raw 1M 2M
--shrink
-f raw --image-opts a.raw 9M
--image-opts driver=raw,file.filename=a.raw 9M
--image-opts driver=raw,file.filename=a.raw,size=1M 9M
-f qcow2x a.raw 1M
nonexist 1M
-Z a.raw 1M
-f raw a.raw 1.5M
-f raw a.raw 0x100000
LIST
finish
