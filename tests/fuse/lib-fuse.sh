# Helpers for the flatimgfs tests (sourced after tests/lib.sh): skip without a usable FUSE, mount
# with flatimgfs and always unmount on exit.
: "${FLATIMGFS:?FLATIMGFS must point to fuse/flatimgfs}"
MOUNTS=

need_fuse() {
    command -v fusermount3 >/dev/null 2>&1 || skip "fusermount3 (Debian package fuse3) is not installed"
    [ -c /dev/fuse ] || skip "/dev/fuse does not exist"
    { exec 9<>/dev/fuse; } 2>/dev/null || skip "/dev/fuse is not usable by $(id -un)"
    exec 9>&-
}

# The daemon's stderr is /dev/null: in a sanitizer build its reports go to files checked at exit.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$SCRATCH/sanitizer"
UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$SCRATCH/sanitizer"
# libfuse's own directory handles leak when the kernel aborts a RELEASEDIR still queued at unmount
# (release is asynchronous): not ours, and flaky; our handles are freed at close whatever happens
printf 'leak:libfuse3.so\n' >"$SCRATCH/lsan.supp"
LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$SCRATCH/lsan.supp"
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

fuse_cleanup() {
    local rc=$? m
    for m in $MOUNTS; do
        mountpoint -q "$m" 2>/dev/null && fusermount3 -u "$m" 2>/dev/null
    done
    if ls "$SCRATCH"/sanitizer.* >/dev/null 2>&1; then
        echo "FAIL: sanitizer reports:"
        cat "$SCRATCH"/sanitizer.*
        rc=1
    fi
    cd / && rm -rf "$SCRATCH"
    exit $rc
}
trap fuse_cleanup EXIT

# fsmount IMAGE MOUNTPOINT [ARGS...]: mount (the mount is ready when flatimgfs returns).
fsmount() {
    MOUNTS="$MOUNTS $(realpath "$2" 2>/dev/null)"
    "$FLATIMGFS" "$@"
}

# fsumount MOUNTPOINT PIDFILE: unmount and wait for the daemon to have closed the image.
fsumount() {
    local pid
    pid=$(cat "$2")
    fusermount3 -u "$1" || return 1
    wait_gone "$pid"
}

# wait_gone PID: until the process (not our child) has exited, at most 30 s. A condition poll:
# tail --pid would add up to a second per call.
wait_gone() {
    timeout 30 sh -c "while kill -0 $1 2>/dev/null; do sleep 0.01; done"
}

# need_qcow2: skip until the qcow2 driver is part of the tree (flatimg create and reads qcow2).
need_qcow2() {
    "$FLATIMG" create -q -f qcow2 probe-qcow2.qcow2 1M >/dev/null 2>&1 &&
        "$FLATIMG" info --output=json probe-qcow2.qcow2 2>/dev/null | grep -q '"format": "qcow2"' ||
        skip "the qcow2 driver is not in this tree (flatimg create -f qcow2 does not work yet)"
    rm -f probe-qcow2.qcow2
}

# data extents of `qemu-img map --output=json ARGS`, adjacent ones merged: "START LENGTH" lines
qemu_data_map() {
    $QEMU_IMG map --output=json "$@" | awk '
        /"data": true/ {
            match($0, /"start": [0-9]+/); s = substr($0, RSTART + 9, RLENGTH - 9) + 0
            match($0, /"length": [0-9]+/); l = substr($0, RSTART + 10, RLENGTH - 10) + 0
            if (have && s == ps + pl) { pl += l; next }
            if (have) printf "%d %d\n", ps, pl
            ps = s; pl = l; have = 1
        }
        END { if (have) printf "%d %d\n", ps, pl }'
}

# qio_ok ARGS...: qemu-io with ARGS succeeds (a read -P pattern mismatch makes it exit 1)
qio_ok() { "$QEMU_IO" "$@" >/dev/null; }
