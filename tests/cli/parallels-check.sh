# parallels check as qemu-img 7.2's: the in-use mark, clusters outside the file, space leaked at
# the end (with qemu's truncation on repair), fragmentation statistics, on damaged copies of a
# qemu-made image.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
. "$top_srcdir/tests/formats4-lib.sh"
need_qemu

"$QEMU_IMG" create -q -f parallels -o cluster_size=64k a.prl 4M
qio a.prl 'write -P 0x11 1M 64k' 'write -P 0x22 0 64k' 'write -P 0x33 3M 128k'
same_check a.prl                                        # clean, fragmented
cp a.prl h.prl; poke h.prl 44 '\x59\x6e\x6f\x74'; same_check h.prl   # not closed correctly
cp a.prl h.prl; poke h.prl $((64 + 4 * 16)) '\x00\x80\x00\x00'; same_check h.prl  # outside
cp a.prl h.prl; truncate -s +200000 h.prl; same_check h.prl        # leaked space
cp a.prl h.prl; poke h.prl 44 '\x59\x6e\x6f\x74'; poke h.prl 64 '\x00\x00\x01\x00'
truncate -s +70000 h.prl; same_check h.prl parallels              # all at once
cp a.prl h.prl; truncate -s 300000 h.prl; same_check h.prl         # truncated data
"$QEMU_IMG" create -q -f parallels -o cluster_size=4k e.prl 64M
same_check e.prl                                        # empty: qemu counts the BAT as leaked
"$QEMU_IMG" create -q -f parallels b.prl 8M
same_check b.prl
finish
