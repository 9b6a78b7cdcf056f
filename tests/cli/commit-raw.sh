# commit, rebase, snapshot, amend and bitmap on raw images (no backing file, no snapshots, no
# amendment, no bitmaps): qemu-img 7.2's messages, exit codes and warnings; image unchanged.
. "$top_srcdir/tests/lib.sh"
need_qemu

mk='$IMG create -q -f raw a.raw 1M && qemu-io -f raw -c "write -P 1 0 64k" a.raw >/dev/null && '
while IFS= read -r cmd; do
    [ -n "$cmd" ] || continue
    same_fresh "$mk \$IMG $cmd 2>&1 | sed 's/#block[0-9]*/#blockN/'; echo rc=\${PIPESTATUS[0]}; sha256sum a.raw; ls"
done <<'LIST'
commit a.raw
commit -f raw a.raw
commit -d -p -q -f raw a.raw
commit -b x -f raw a.raw
commit -t foo a.raw
commit -t none -f raw a.raw
commit -r x a.raw
commit -r 1M -f raw a.raw
commit
commit a b
commit -d -b x a.raw
commit --image-opts driver=raw,file.filename=a.raw
commit nonexist
rebase -b '' a.raw
rebase -f raw -b '' a.raw
rebase -f raw -u -b '' a.raw
rebase -f raw -u -b x -F raw a.raw
rebase -f raw -b x -F raw a.raw
rebase a.raw
rebase -f raw -b x a.raw
rebase -f raw -b x -F foo a.raw
rebase
rebase -t x -b '' a.raw
rebase -T x -b '' a.raw
rebase -p -q -U -f raw -b '' a.raw
snapshot a.raw
snapshot -l a.raw
snapshot -U -l a.raw
snapshot -f raw -l a.raw
snapshot -c s a.raw
snapshot -a s a.raw
snapshot -d s a.raw
snapshot -q -d s a.raw
snapshot -l -c s a.raw
snapshot -a s -d s a.raw
snapshot
snapshot -l a b
snapshot -U -c s a.raw
snapshot --image-opts -l driver=raw,file.filename=a.raw
amend a.raw
amend -o size=1M a.raw
amend -f raw -o size=1M a.raw
amend -f raw -o help a.raw
amend -o help
amend -o help a.raw
amend -f raw -o help
amend -f foo -o help
amend -f raw -o foo=1 a.raw
amend -f raw -o '' a.raw
amend -t x -f raw -o size=1M a.raw
amend -f raw --force -p -q -o size=1M a.raw
bitmap a.raw b
bitmap --add a.raw b
bitmap -f raw --add a.raw b
bitmap --add a.raw
bitmap --add -g 1k a.raw b
bitmap -g 64k --add a.raw b
bitmap --merge x a.raw b
bitmap --add -b x a.raw b
bitmap --merge s -F raw a.raw b
bitmap --remove -g 64k a.raw b
bitmap --add -g x a.raw b
bitmap --clear --disable --enable --remove -f raw a.raw b
bitmap --add --image-opts -f raw a.raw b
bitmap --merge s -b nonexist a.raw b
bitmap --remove nonexist b
LIST
finish
