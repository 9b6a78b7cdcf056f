# Shared helpers for the compressed-convert tests (sourced after tests/lib.sh): small source images
# of several kinds, and the checks one compressed target must pass against the oracle.

# make_sources: random.raw, text.raw (compressible), zeros.raw (written zeros), sparse.raw (holes,
# some data, and a size that ends in a partial 64 KiB cluster), mixed.raw (all kinds interleaved).
make_sources() {
    head -c 1048576 /dev/urandom >random.raw
    yes 'flatimg compressed cluster test: the quick brown fox jumps over the lazy dog' |
        head -c 1048576 >text.raw
    head -c 1048576 /dev/zero >zeros.raw
    truncate -s 2102272 sparse.raw
    dd if=text.raw of=sparse.raw bs=65536 seek=8 count=2 conv=notrunc status=none
    dd if=random.raw of=sparse.raw bs=4096 seek=500 count=3 conv=notrunc status=none
    : >mixed.raw
    for i in 0 1 2 3; do
        dd if=random.raw bs=65536 skip=$i count=1 status=none
        dd if=text.raw bs=65536 skip=$i count=1 status=none
        dd if=zeros.raw bs=65536 count=1 status=none
        seq $((i * 10000)) $((i * 10000 + 9000)) | head -c 65536
    done >>mixed.raw
    truncate -s 1049088 mixed.raw
}

# check_target SRC IMG: qemu-img check is clean and the image reads back as the source.
check_target() {
    expect "check $2" "$QEMU_IMG" check -q "$2"
    expect "compare $1 $2" "$QEMU_IMG" compare -q "$1" "$2"
}

# has_compressed IMG: qemu-img map shows data without a host offset (compressed clusters).
has_compressed() {
    "$QEMU_IMG" map --output=json "$1" | grep '"data": true' | grep -qv '"offset"'
}

# sizes LABEL A B: print both file sizes (flatimg, qemu-img) for the log.
sizes() {
    echo "size $1: flatimg $(stat -c %s "$2") qemu-img $(stat -c %s "$3")"
}
