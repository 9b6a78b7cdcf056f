# Hostile VHDX images (fields patched with valid checksums): qemu-img's errors or the same data,
# never a crash nor a huge allocation.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
need_qemu
command -v python3 >/dev/null || skip "python3 is needed to build the hostile images"

"$QEMU_IMG" create -q -f vhdx -o block_size=1M a.vhdx 3M
qio a.vhdx 'write -P 0x11 1M 64k'
variant() { # variant FIELD VALUE: a patched copy checked with info and read
    echo "--- $1 = $2"
    cp a.vhdx h.vhdx
    python3 "$top_srcdir/tests/vhdx-patch.py" h.vhdx "$1" "$2"
    same info h.vhdx
    same info --output=json -f vhdx h.vhdx
    if "$QEMU_IMG" info -f vhdx h.vhdx >/dev/null 2>&1; then same_read h.vhdx vhdx; fi
}
variant header.version 2
variant header.log_version 1
variant header.log_offset 0x180000
variant header.log_offset 0
variant header.log_guid 0x1234            # a log GUID but no log entries
variant header1.seq 0                     # the second header wins
variant region.count 3000
variant region.count 1                    # no metadata region
variant region.bat_offset 0x300000        # BAT overlaps the metadata
variant region.bat_length 8               # BAT too small for the disk
variant region.bat_length 0xfffff000
variant region.meta_offset 0xfffffffffff00000
variant region.meta_guid 0x1234           # unknown region, not required
variant region.meta_flags 1
variant meta.count 5000
variant meta.first_guid 0x1234            # file parameters missing
variant meta.first_flags 0
variant meta.block_size 0
variant meta.block_size 0x300000
variant meta.block_size 0x20000000
variant meta.params_bits 2                # differencing image without a parent locator
variant meta.vsize 0xffffffffffffffff
variant meta.vsize 0x10000000000000
variant meta.logical 1024
variant meta.logical 4096
variant bat0 0x300006                     # payload inside the metadata region
variant bat0 0xfffff00000006              # payload far past the end of the file
variant bat0 0x7                          # partially present
variant bat1 0x4
variant bat1 0x5
cp a.vhdx t.vhdx
printf 'vhdxfilf' | dd of=t.vhdx conv=notrunc status=none
same info -f vhdx t.vhdx
head -c 100000 a.vhdx >short.vhdx
same info short.vhdx
: >empty.vhdx
same info -f vhdx empty.vhdx
finish
