#!/bin/bash
# convert -c with -m 4 -W: workers compress in parallel and allocate out of order; the result must
# still be clean and equal to the source (sizes near qemu-img's; the layout depends on timing).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/compress-lib.sh"
need_qemu
make_sources
types="zlib"
grep -q '^#define HAVE_ZSTD 1' "$top_builddir/config.h" && types="zlib zstd"
for src in mixed sparse text; do
    for t in $types; do
        "$FLATIMG" convert -c -m 4 -W -O qcow2 -o compression_type=$t $src.raw f-$src-$t.qcow2 ||
            fail "convert $src $t"
        "$QEMU_IMG" convert -c -m 4 -W -O qcow2 -o compression_type=$t $src.raw q-$src-$t.qcow2
        check_target $src.raw f-$src-$t.qcow2
        sizes "$src $t" f-$src-$t.qcow2 q-$src-$t.qcow2
    done
    "$FLATIMG" convert -c -m 4 -W -O qcow $src.raw f-$src.qcow; frc=$?
    "$QEMU_IMG" convert -c -m 4 -W -O qcow $src.raw q-$src.qcow; qrc=$?
    expect "$src qcow: exit code $frc as qemu-img's $qrc" test "$frc" = "$qrc"
    expect "compare $src qcow" "$QEMU_IMG" compare -q $src.raw f-$src.qcow
    sizes "$src qcow" f-$src.qcow q-$src.qcow
done
expect "map shows compressed clusters" has_compressed f-mixed-zlib.qcow2
finish
