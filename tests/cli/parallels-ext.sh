# parallels Format Extension (built by tests/gen-prl-ext.py on qemu-made images): a read-only
# open checks it as qemu-img 7.2 does (MD5 checksum, feature headers, dirty-bitmap features)
# with its errors; a read-write open ignores it with qemu's warning.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
need_qemu
command -v python3 >/dev/null || skip "python3 is needed to build the images"

"$QEMU_IMG" create -q -f parallels -o cluster_size=64k a.prl 8M
qio a.prl 'write -P 1 0 64k' 'write -P 2 5M 64k'
for v in good two empty badsum flags bigdata unknown small sizediff l1big tabsize dupid; do
    cp a.prl h.prl
    python3 "$top_srcdir/tests/gen-prl-ext.py" h.prl $v
    same info h.prl
    same map --output=json h.prl
    same_read h.prl parallels
done
cp a.prl h.prl; python3 "$top_srcdir/tests/gen-prl-ext.py" h.prl gran   # qemu 7.2 aborts here
expect "an invalid bitmap granularity is an error, not a crash" \
    bash -c "'$FLATIMG' info h.prl 2>&1 | grep -q 'Invalid granularity'"
cp a.prl h.prl; python3 "$top_srcdir/tests/gen-prl-ext.py" h.prl badsum
same_fresh "cp ../h.prl x && \$IMG check -r all x; ls -l x | cut -d' ' -f5"   # ignored read-write
finish
