#!/bin/bash
# convert -c -O qcow2 -o compression_type=zstd: one zstd frame per cluster, as qemu-img 7.2.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/compress-lib.sh"
need_qemu
grep -q '^#define HAVE_ZSTD 1' "$top_builddir/config.h" || skip "built without zstd"
make_sources
for src in random text zeros sparse mixed; do
    "$FLATIMG" convert -c -O qcow2 -o compression_type=zstd $src.raw f-$src.qcow2 ||
        fail "convert $src"
    "$QEMU_IMG" convert -c -O qcow2 -o compression_type=zstd $src.raw q-$src.qcow2
    check_target $src.raw f-$src.qcow2
    sizes $src f-$src.qcow2 q-$src.qcow2
    expect "$src: same bytes as qemu-img" cmp f-$src.qcow2 q-$src.qcow2
done
expect "map shows compressed clusters" has_compressed f-mixed.qcow2
# flatimg reads back what it wrote
"$FLATIMG" convert -O raw f-mixed.qcow2 back.raw
expect "flatimg reads its zstd clusters" cmp back.raw mixed.raw
finish
