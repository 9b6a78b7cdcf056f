# Helpers for the qcow2 shell tests (sourced after tests/lib.sh).
QTOOL=${top_builddir:-.}/tests/unit/qcow2-tool
QEMU_IO=${QEMU_IO:-qemu-io}

# mkimg NAME CREATE-OPTS SIZE IO-COMMANDS...: a qcow2 image made by qemu-img and written by qemu-io.
mkimg() {
    local name=$1 opts=$2 size=$3; shift 3
    "$QEMU_IMG" create -q -f qcow2 ${opts:+-o "$opts"} "$name" "$size" || return 1
    local c
    for c in "$@"; do "$QEMU_IO" -f qcow2 -c "$c" "$name" >/dev/null || return 1; done
}

# reads_like_qemu IMG: flatimg's guest view of IMG equals qemu-img convert -O raw.
reads_like_qemu() {
    rm -f "$1.ref"
    "$QEMU_IMG" convert -O raw "$1" "$1.ref" && "$QTOOL" cmp "$1" "$1.ref"
}
