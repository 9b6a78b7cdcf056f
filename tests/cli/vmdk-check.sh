# vmdk check as qemu-img 7.2's: the grain walk stops at the first grain past the end of its file
# (one corruption, "Check failed"), flat extents, -r refused; on damaged copies of qemu-made images.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
. "$top_srcdir/tests/formats4-lib.sh"
need_qemu

"$QEMU_IMG" create -q -f vmdk a.vmdk 4M
qio a.vmdk 'write -P 1 0 64k' 'write -P 2 1M 64k'
gd=$(( $(od -A n -t u4 -j 56 -N 4 a.vmdk) * 512 ))
l2=$(( $(od -A n -t u4 -j $gd -N 4 a.vmdk) * 512 ))
variant() { cp a.vmdk h.vmdk; poke h.vmdk "$1" "$2"; same_check h.vmdk; }
same_check a.vmdk
variant $((l2 + 64)) '\x00\x00\x10\x00'          # grain past the end of the file
variant $((l2 + 4)) '\x00\x00\x00\x10'           # unallocated grain 1 past the end
variant $gd '\x00\x00\x00\x7f'                   # grain table past the end: reads as zeros
cp a.vmdk h.vmdk; truncate -s 140000 h.vmdk; same_check h.vmdk   # truncated data
"$QEMU_IMG" create -q -f vmdk -o subformat=twoGbMaxExtentSparse t.vmdk 5G
qio t.vmdk 'write -P 3 2047M 2M'
same_check t.vmdk
truncate -s 70000 t-s002.vmdk; same_check t.vmdk
"$QEMU_IMG" create -q -f vmdk -o subformat=monolithicFlat f.vmdk 1M
same_check f.vmdk
truncate -s 0 f-flat.vmdk; same_check f.vmdk    # flat extent empty: offset 0 is past its end
"$QEMU_IMG" create -q -f vmdk -o subformat=streamOptimized s.vmdk 2M
qio s.vmdk 'write -P 4 0 64k'
same_check s.vmdk
finish
