# vmdk: corrupted headers, footers, descriptors and tables give qemu-img's errors (never a
# crash), and reads through them agree with qemu's (data, zeros or an error).
. "$top_srcdir/tests/lib.sh"
need_qemu
IMGCAT=$top_builddir/tests/unit/imgcat

mk() {
    rm -f h.vmdk h-flat.vmdk
    "$QEMU_IMG" create -q -f vmdk "$@" h.vmdk 4M
    "$QEMU_IO" -c 'write -P 0x11 0 64k' -c 'write -P 0x22 2M 64k' h.vmdk >/dev/null
}
poke() { printf "$2" | dd of=${3:-h.vmdk} bs=1 seek=$(($1)) conv=notrunc 2>/dev/null; sync ${3:-h.vmdk}; }
check() {
    same info h.vmdk
    same info --output=json h.vmdk
    local q=ok f=ok
    "$QEMU_IO" -r -c 'read 0 4M' h.vmdk 2>&1 | grep -q '^read [0-9]' || q=fail
    "$IMGCAT" -r 0:4194304 h.vmdk >got.raw 2>/dev/null || f=fail
    expect "read verdict $q" test $q = $f
    if [ $q = ok ]; then
        # only the first 4 MiB: some corrupted sizes are terabytes
        "$QEMU_IMG" dd -O raw if=h.vmdk of=expect.raw bs=1M count=4 2>/dev/null
        expect "data as qemu reads it" cmp expect.raw got.raw
    fi
}

mk; poke 4 '\x04'; check                                   # version
mk; poke 4 '\x03'; check                                   # version 3: read-only
out=$("$IMGCAT" -w 0:512:1 h.vmdk 2>&1)
expect "version 3 refuses a read-write open" grep -q "VMDK version 3 must be read only" <<<"$out"
mk; poke 44 '\x01\x02'; check                              # grain table too big
mk; poke 20 '\x00'; check                                  # granularity 0
mk; poke 20 '\x00\x00\x40'; check                          # granularity too big
mk; poke 12 '\x00\x00\x00\x00\x00\x01'; check              # capacity: L1 too big
mk; poke 12 '\x00\x00\x00\x00\x01'; check                  # capacity: L1 past EOF
mk; poke 64 '\x00\x00\x00\x01'; check                      # grain offset past EOF
mk; poke 56 '\xff\xff\xff\xff\xff\xff\xff\xff'; check      # GD at end, no footer
mk; poke $((26 * 512)) '\x00\x00\x00\x10'; check           # grain table past EOF
mk; poke $((27 * 512)) '\x00\x00\x00\x10'; check           # grain past EOF
mk; poke $((27 * 512 + 4)) '\x05'; check                   # grain inside the metadata
mk; truncate -s 3 h.vmdk; same info -f vmdk h.vmdk         # too small
mk; truncate -s 40000 h.vmdk; check                        # truncated
mk; poke $((512 + 80)) 'xxxxxxxxxxxx'; check               # embedded descriptor damaged
mk; poke $((512 + 100)) 'parentFileNameHint="abc'; check   # unterminated parent hint

# descriptor files
mk -o subformat=monolithicFlat
sed -i 's/createType/kreateType/' h.vmdk; check            # no createType
mk -o subformat=monolithicFlat
sed -i 's/monolithicFlat/fooBar/' h.vmdk; check            # unknown type
mk -o subformat=monolithicFlat
sed -i 's/" 0$/"/' h.vmdk; check                           # FLAT without offset
mk -o subformat=monolithicFlat
sed -i 's/h-flat/nothere/' h.vmdk; check                   # missing extent file
mk -o subformat=monolithicFlat
sed -i 's/^RW.*$/RW 8192 FLAT "h-flat.vmdk" 4096/' h.vmdk; check   # offset into the file
mk -o subformat=monolithicFlat
sed -i 's/^RW.*$/RW 8192 VMFS "h-flat.vmdk"/' h.vmdk; check        # VMFS extent
mk -o subformat=monolithicFlat
sed -i 's/^RW.*$/RW 8192 ZERO "h-flat.vmdk"/' h.vmdk             # unknown extent type: no extent
# (qemu-img 7.2 aborts on an assertion here; flatimg refuses the image)
expect "no extents: clean error" sh -c '! "$0" info h.vmdk >/dev/null 2>&1' "$FLATIMG"

# probing a descriptor: comments and space-only lines may come before "version=N", nothing else
mk -o subformat=monolithicFlat
(printf '\n'; cat h.vmdk) >p1.vmdk
(printf '   \n# comment\n'; cat h.vmdk) >p2.vmdk
sed 's/version=1/version=4/' h.vmdk >p3.vmdk
sed 's/$/\r/' h.vmdk >p4.vmdk
for p in p1 p2 p3 p4; do
    "$QEMU_IMG" info $p.vmdk 2>&1 | grep -v "cid:" >q.txt
    "$FLATIMG" info $p.vmdk 2>&1 | grep -v "cid:" | sed 's/^flatimg:/qemu-img:/' >f.txt
    expect "probe $p as qemu-img" diff -u q.txt f.txt
done

# streamOptimized: a damaged compressed grain fails the read as in qemu
mk; "$QEMU_IMG" convert -O vmdk -o subformat=streamOptimized h.vmdk s.vmdk
mv s.vmdk h.vmdk; check
poke $((128 * 512 + 20)) 'garbage'; check
finish
