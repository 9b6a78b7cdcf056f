# qemu's image locking: while a real qemu-io holds an image, flatimg gets exactly the lock errors
# (or successes) qemu-img gets, so flatimg and a running qemu exclude each other.
. "$top_srcdir/tests/lib.sh"
need_qemu
command -v "$QEMU_IO" >/dev/null || skip "qemu-io not installed"

"$QEMU_IMG" create -q -f raw h.raw 1M
"$QEMU_IMG" create -q -f qcow2 h.qcow2 1M
mkfifo ctl

# hold IMAGE with qemu-io ARGS until release; returns once qemu-io's locks are visible
hold() {
    local img=$1; shift
    "$QEMU_IO" "$@" "$img" <ctl >/dev/null 2>&1 &
    holder=$!
    exec 7>ctl
    local ino; ino=$(stat -c %i "$img")
    for _ in $(seq 200); do
        grep -q ":$ino " /proc/locks && return 0
        kill -0 "$holder" 2>/dev/null || break
        sleep 0.05
    done
    fail "qemu-io did not lock $img"
}
release() { exec 7>&-; wait "$holder"; }

hold h.raw -f raw
same info -f raw h.raw
same create -f raw h.raw 1M
release

hold h.qcow2 -f qcow2
same create -f raw h.qcow2 1M
same info -f raw h.qcow2
if "$FLATIMG" info -U h.qcow2 | grep -q 'file format: qcow2'; then
    same info h.qcow2
    same info -U h.qcow2
fi
release

hold h.qcow2 -r -f qcow2
same create -f raw h.qcow2 1M
release
finish
