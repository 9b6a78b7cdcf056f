#!/bin/bash
# convert -c -O qcow (version 1): zlib clusters appended unaligned at the end of the file, with
# qemu's descriptor (flag bit 63, byte count above the offset bits), byte for byte as qemu-img 7.2.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/compress-lib.sh"
need_qemu
make_sources
for src in random text zeros sparse mixed; do
    # qemu's qcow refuses convert's end-of-stream signal: exit 1, silent, the target complete
    "$FLATIMG" convert -c -O qcow $src.raw f-$src.qcow 2>f.err; frc=$?
    "$QEMU_IMG" convert -c -O qcow $src.raw q-$src.qcow 2>q.err; qrc=$?
    expect "$src: exit code $frc as qemu-img's $qrc, nothing printed" \
        test "$frc" = "$qrc" -a ! -s f.err -a ! -s q.err
    expect "compare $src" "$QEMU_IMG" compare -q $src.raw f-$src.qcow
    sizes $src f-$src.qcow q-$src.qcow
    expect "$src: same bytes as qemu-img" cmp f-$src.qcow q-$src.qcow
done
for src in text mixed; do
    expect "$src: map shows compressed clusters" has_compressed f-$src.qcow
done
"$FLATIMG" convert -O raw f-mixed.qcow back.raw
expect "flatimg reads its compressed clusters" cmp back.raw mixed.raw
finish
