# vpc: corrupted and truncated VHD images give qemu-img's errors (never a crash) on open.
. "$top_srcdir/tests/lib.sh"
need_qemu

mk() {
    "$QEMU_IMG" create -q -f vpc h.vhd 8M
    "$QEMU_IO" -c 'write -P 0x11 0 64k' h.vhd >/dev/null
}
# recompute the footer checksum after a poke into the footer
fix_footer() {
    python3 - h.vhd <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], 'rb').read())
f = d[:512]; f[64:68] = b'\0' * 4
d[64:68] = struct.pack('>I', (~sum(f)) & 0xffffffff)
open(sys.argv[1], 'wb').write(d)
PY
}
poke() { printf "$2" | dd of=h.vhd bs=1 seek=$(($1)) conv=notrunc 2>/dev/null; sync h.vhd; }
check() {
    same info h.vhd
    same info --output=json h.vhd
}

mk; poke 0x40 '\x00'; check                                       # bad footer checksum
mk; poke 0x38 '\xff\xff\x10\xff'; fix_footer; check               # maximal geometry
mk; poke 0x1c 'qem2'; poke 0x30 '\x7f\x00\x00\x00'; fix_footer; check  # too large
mk; poke 0x10 '\x7f\xff\xff\xff\xff\xff\xff\xff'; fix_footer; check    # header offset overflow
mk; poke 0x10 '\x00\x00\x00\x00\x10\x00\x00\x00'; fix_footer; check    # header past EOF
mk; poke 0x220 '\x00\x00\x03\x00'; check                          # block size not a power of 2
mk; poke 0x220 '\x00\x00\x00\x00'; check                          # block size 0
mk; poke 0x21c '\x00\x00\x00\x01'; check                          # BAT too small
mk; poke 0x21c '\x80\x00\x00\x01'; check                          # BAT count negative as int
mk; poke 0x21c '\x10\x00\x00\x01'; check                          # BAT huge
mk; poke 0x210 '\x7f\xff\xff\xff\xff\xff\xff\x00'; check          # BAT offset overflow
mk; poke 0x210 '\x00\x00\x00\x00\x10\x00\x00\x00'; check          # BAT past EOF
mk; poke 0x600 '\x00\x10\x00\x00'; check                          # block past EOF
mk; truncate -s 100000 h.vhd; check
mk; truncate -s 1000 h.vhd; check
mk; poke 0 'x'; check                                             # no footer anywhere
"$QEMU_IMG" create -q -f vpc -o subformat=fixed h.vhd 1M
poke 0x10203c '\x00\x00\x00\x03'; same info -f vpc h.vhd          # end footer not fixed
"$QEMU_IMG" create -q -f vpc h.vhd 1M
same info --image-opts driver=vpc,file.filename=h.vhd,force_size_calc=bogus
finish
