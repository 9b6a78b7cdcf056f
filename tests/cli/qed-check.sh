# qed check as qemu-img 7.2's on damaged copies of a qemu-made image: bad L1 and L2 offsets,
# clusters used twice, leaked clusters, the need-check flag (which check itself must not repair
# on open), with -r leaks / -r all.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
. "$top_srcdir/tests/formats4-lib.sh"
need_qemu

"$QEMU_IMG" create -q -f qed a.qed 8M
qio a.qed 'write -P 1 0 64k' 'write -P 2 1M 64k' 'write -P 3 6M 64k'
l1=65536
l2=$(od -A n -t u8 -j $l1 -N 8 a.qed | tr -d ' ')
variant() { cp a.qed h.qed; while [ $# -ge 2 ]; do poke h.qed "$1" "$2"; shift 2; done; same_check h.qed; }
same_check a.qed
variant 16 '\x02'                                        # needs a check
variant $((l1 + 8)) '\x00\x00\x00\x10'                   # L1 entry past the end of the file
variant $((l1 + 8)) '\x00\x10\x00\x00'                   # L1 entry not cluster-aligned
variant $((l2 + 128)) '\x00\x00\x00\x10'                 # L2 entry past the end of the file
variant $((l2 + 128)) '\x00\x10\x00\x00' 16 '\x02'      # L2 entry unaligned, need-check
variant $((l2 + 8 * 96)) "$(od -A n -t x1 -j $l2 -N 8 a.qed | sed 's/ /\\x/g')"  # used twice
variant $((l1 + 8)) "$(od -A n -t x1 -j $l1 -N 8 a.qed | sed 's/ /\\x/g')"      # L2 used twice
cp a.qed h.qed; truncate -s +200k h.qed; same_check h.qed   # leaked clusters
cp a.qed h.qed; poke h.qed 16 '\x02'; truncate -s +128k h.qed; same_check h.qed
finish
