# UDIF (.dmg) images built by tests/gen-dmg.py (XML plist, mish blocks with raw, zlib, zero and
# ignored chunks): qemu-img reads them as the generator intended (proving the generator), flatimg
# reads the same data and prints the same `info`; hostile trailers and chunks give qemu's errors.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
need_qemu
command -v python3 >/dev/null || skip "python3 is needed to build dmg images"
# Debian's qemu-img complains on stderr about its optional dmg-bz2/dmg-lzfse modules: drop that
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

gen a.dmg a.raw
gen b.dmg b.raw odd
for img in a b; do
    "$QEMU_IMG" convert -f dmg -O raw $img.dmg q.raw
    expect "qemu-img reads the generated $img.dmg as intended" cmp -s q.raw $img.raw
    expect "flatimg reads $img.dmg" cmp -s <("$IMGCAT2" $img.dmg) $img.raw
    same info $img.dmg
    same info --output=json $img.dmg
done
cp a.dmg notdmg.img
same info notdmg.img
same info -f dmg notdmg.img

size=$(stat -c %s a.dmg)
koly=$((size - 512))
variant() { # variant OFFSET BYTES (relative to the trailer when OFFSET starts with k)
    local off=$1
    case $off in k*) off=$((koly + ${off#k})) ;; esac
    cp a.dmg h.dmg
    poke h.dmg "$off" "$2"
    same info h.dmg
    if "$QEMU_IMG" info h.dmg >/dev/null 2>&1; then same_read h.dmg dmg; fi
}
variant k0 'kolx'                                     # no trailer
variant k24 '\x00\x00\x00\x00\xff\x00\x00\x00'        # data fork past the trailer
variant k40 '\x00\x00\x00\x00\x00\x00\x00\x01'        # resource fork offset
variant k216 '\x00\x00\x00\x00\x00\x00\xff\xff'       # XML past the trailer
variant k224 '\x00\x00\x00\x00\x00\x00\x00\x00'       # no XML
variant k224 '\x00\x00\x00\x00\x00\x00\x00\x20'       # XML cut inside the first <data>
variant k492 '\x00\x00\x00\x00\x00\x00\x00\x40'       # disk larger than the chunks
variant k492 '\x80\x00\x00\x00\x00\x00\x00\x00'       # negative disk size
variant k492 '\x00\x40\x00\x00\x00\x00\x00\x00'       # disk too large
for v in bigcount biglen bz2; do
    gen $v.dmg $v.raw $v
    same info $v.dmg
    if "$QEMU_IMG" info $v.dmg >/dev/null 2>&1; then same_read $v.dmg dmg; fi
done
: >empty.dmg
same info empty.dmg
head -c 600 a.dmg >short.dmg
same info short.dmg
finish
