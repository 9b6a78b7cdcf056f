# Helpers for the corrupt-image mount tests (sourced after lib.sh and lib-fuse.sh): patch on-disk
# pointers, and check one damaged image through ro and rw mounts, -o salvage and convert.

# be64 FILE OFFSET / le32 FILE OFFSET: an unsigned integer read from FILE
be64() { od -An -tu8 --endian=big -j "$2" -N 8 "$1" | tr -d ' '; }
le32() { od -An -tu4 --endian=little -j "$2" -N 4 "$1" | tr -d ' '; }

# put_hex FILE OFFSET HEX: write the bytes HEX (two digits each, in file order) at OFFSET
put_hex() {
    local s= i
    for ((i = 0; i < ${#3}; i += 2)); do s="$s\\$(printf '%03o' "0x${3:i:2}")"; done
    printf "$s" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# put_be64 FILE OFFSET VALUE / put_le32 FILE OFFSET VALUE (VALUE < 2^63)
put_be64() { put_hex "$1" "$2" "$(printf '%016x' "$3")"; }
put_le32() { local h; h=$(printf '%08x' "$3"); put_hex "$1" "$2" "${h:6:2}${h:4:2}${h:2:2}${h:0:2}"; }

# check_corrupt NAME FMT IMAGE BAD GOOD BYTE: with IMAGE (of format FMT) mounted read-only and
# read-write (each time a fresh copy), a 64 KiB read at offset BAD fails with EIO and the -d log
# says why, a 64 KiB read at GOOD shows bytes BYTE (two hex digits); mounted with -o salvage, the
# 4 KiB at BAD (the smallest damaged unit here, a qcow cluster) read as zeros and GOOD still
# reads; and `flatimg convert -O raw` of IMAGE does exactly what `qemu-img convert -O raw` does
# (same messages and exit code; when it succeeds, the same output).
check_corrupt() {
    local name=$1 fmt=$2 img=$3 bad=$(($4 / 65536)) good=$(($5 / 65536)) byte=$6 mode vsize fspid
    vsize=$("$FLATIMG" info -f "$fmt" --output=json "$img" | sed -n 's/.*"virtual-size": \([0-9]*\).*/\1/p' | head -1)
    touch view.raw
    MOUNTS="$SCRATCH/view.raw"
    for mode in ro rw; do
        cp "$img" work.img
        "$FLATIMGFS" -d -o "format=$fmt,$mode" work.img view.raw 2>log &
        fspid=$!
        # -d does not daemonise: the mount serves once the size shows
        timeout 30 sh -c "until [ \"\$(stat -c %s view.raw)\" = $vsize ]; do :; done"
        expect "$name ($mode): the damaged region gives EIO" sh -c \
            "! dd if=view.raw of=/dev/null bs=64k skip=$bad count=1 2>err && grep -q 'Input/output error' err"
        expect "$name ($mode): the rest reads" sh -c \
            "dd if=view.raw bs=64k skip=$good count=1 status=none | od -An -tx1 | head -1 | grep -q '$byte $byte'"
        fusermount3 -u view.raw
        wait $fspid
        expect "$name ($mode): the -d log says why" grep -q "corrupt image: " log

        cp "$img" work.img
        fsmount work.img view.raw -o "format=$fmt,$mode,salvage,pidfile=$SCRATCH/pid" || return 1
        expect "$name ($mode): -o salvage reads zeros there" test \
            "$(dd if=view.raw bs=4k skip=$((bad * 16)) count=1 status=none | tr -d '\0' | wc -c)" = 0
        expect "$name ($mode): -o salvage reads the rest" sh -c \
            "dd if=view.raw bs=64k skip=$good count=1 status=none | od -An -tx1 | head -1 | grep -q '$byte $byte'"
        fsumount view.raw pid
    done
    same convert -f "$fmt" -O raw "$img" out.raw
    "$QEMU_IMG" convert -f "$fmt" -O raw "$img" want.raw 2>/dev/null &&
        "$FLATIMG" convert -f "$fmt" -O raw "$img" got.raw 2>/dev/null &&
        expect "$name: flatimg convert writes what qemu-img convert writes" cmp want.raw got.raw
}
