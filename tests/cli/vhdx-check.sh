# vhdx check as qemu-img 7.2's: BAT entries past the end of the file or over the metadata regions
# are counted (not refused as on a normal open), on damaged copies of qemu-made images.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
. "$top_srcdir/tests/formats4-lib.sh"
need_qemu

"$QEMU_IMG" create -q -f vhdx -o block_size=1M a.vhdx 8M
qio a.vhdx 'write -P 0x11 0 64k' 'write -P 0x22 3M 64k' 'write -P 0x33 7M 4k'
bat=$(od -A n -t u8 -j $((0x30000 + 32)) -N 8 a.vhdx | tr -d ' ')
entry() { poke h.vhdx $((bat + 8 * $1)) "$2"; }
same_check a.vhdx
cp a.vhdx h.vhdx; truncate -s $((9 * 1048576 + 4096)) h.vhdx; same_check h.vhdx  # cut short
same info h.vhdx
cp a.vhdx h.vhdx; entry 3 '\x06\x00\x00\x04'; same_check h.vhdx               # past the end
cp a.vhdx h.vhdx; entry 0 '\x06\x00\x20\x00'; entry 3 '\x06\x00\x10\x00'       # over the BAT, log
same_check h.vhdx; same info h.vhdx
cp a.vhdx h.vhdx; entry 7 '\x06\x00\x00\x00\x00\x00\xf0\xff'; same_check h.vhdx # offset overflow
"$QEMU_IMG" create -q -f vhdx -o subformat=fixed,block_size=1M f.vhdx 3M
same_check f.vhdx
truncate -s -1M f.vhdx; same_check f.vhdx
finish
