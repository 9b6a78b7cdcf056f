# dmg images whose mish blocks live in a binary resource fork (built by tests/gen-dmg.py): qemu-img
# reads them as intended, flatimg reads the same data, prefers the fork to an XML list as qemu does,
# rejects hostile fork headers with qemu's errors, and warns about chunk types it cannot read
# (bzip2, lzfse: Debian's qemu-img has no module for them; ADC; unknown types) as qemu does.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
need_qemu
command -v python3 >/dev/null || skip "python3 is needed to build dmg images"
# Debian's qemu-img also says on stderr that it cannot load its dmg-bz2/dmg-lzfse modules (which
# Debian does not build): flatimg, which has no modules, does not; drop those lines.
REAL_QEMU_IMG=$(command -v "$QEMU_IMG")
cat >qemu-img-quiet <<EOS
#!/bin/bash
err=\$(mktemp)
"$REAL_QEMU_IMG" "\$@" 2>"\$err"
rc=\$?
grep -v '^qemu: module block-block-dmg' "\$err" >&2
rm -f "\$err"
exit \$rc
EOS
chmod +x qemu-img-quiet
QEMU_IMG=$SCRATCH/qemu-img-quiet
gen() { python3 "$top_srcdir/tests/gen-dmg.py" "$@"; }

for v in rsrc rsrcxml; do
    gen $v.dmg $v.raw $v
    "$QEMU_IMG" convert -f dmg -O raw $v.dmg q.raw
    expect "qemu-img reads the generated $v.dmg as intended" cmp -s q.raw $v.raw
    expect "flatimg reads $v.dmg" cmp -s <("$IMGCAT2" $v.dmg) $v.raw
    same info $v.dmg
    same info --output=json $v.dmg
    same map --output=json $v.dmg
done
for v in bz2 lzfse adc unknown; do
    gen $v.dmg $v.raw $v
    same info $v.dmg
    same convert -O raw $v.dmg out.raw
    same compare $v.dmg rsrc.dmg
done

rsrc=$(od -A n -t u8 --endian=big -j $(( $(stat -c %s rsrc.dmg) - 512 + 0x28 )) -N 8 rsrc.dmg | tr -d ' ')
variant() { cp rsrc.dmg h.dmg; poke h.dmg $((rsrc + $1)) "$2"; same info h.dmg; same_read h.dmg dmg; }
variant 0 '\x00\x01\x00\x00'                  # resource data past the fork
variant 8 '\x00\x00\x00\x00'                  # no resource data
variant 8 '\x00\x01\x00\x00'                  # resource data longer than the fork
variant 8 '\xff\xff\xff\x80'                  # offset + length wrap around 32 bits
variant 256 '\x00\x00\x00\x00'                # a resource of length 0
variant 256 '\x00\x00\x40\x00'                # a resource longer than the data
variant 256 '\x00\x00\x00\x10'                # a short resource: not a mish block
finish
