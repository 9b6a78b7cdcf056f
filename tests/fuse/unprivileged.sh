#!/bin/sh
# An unprivileged user mounts through the setuid fusermount3: flatimgfs returns with the mount
# ready, the user reads the raw view and unmounts it with fusermount3 -u, and the daemon ends.
# Run as root, the test becomes `nobody` (runuser or setpriv); where /dev/fuse is root-only, it
# gives that user a usable /dev/fuse in a private mount namespace, never changing the host's.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/fuse/lib-fuse.sh"
need_qemu
need_fuse
need_qcow2
FM=$(command -v fusermount3)
[ -u "$FM" ] || skip "fusermount3 ($FM) is not setuid root, so no unprivileged user can mount"

$QEMU_IMG create -q -f qcow2 disk.qcow2 4M
$QEMU_IO -c "write -P 0x6b 1M 1M" disk.qcow2 >/dev/null
$QEMU_IMG convert -O raw disk.qcow2 disk.raw
touch view.raw

cat >body.sh <<'BODY'
# as the unprivileged user, in the scratch directory
set -u
[ "$(id -u)" != 0 ] || { echo "body: still root"; exit 1; }
"$FLATIMGFS" disk.qcow2 view.raw -o pidfile=pid || { echo "body: mount failed"; exit 1; }
rc=0
awk -v m="$PWD/view.raw" -v u="user_id=$(id -u)" '$5 == m && $0 ~ / - fuse.flatimgfs / && index($0, u) { f = 1 } END { exit !f }' \
    /proc/self/mountinfo || { echo "body: no fuse.flatimgfs mount of the user"; rc=1; }
cmp view.raw disk.raw || { echo "body: data differs"; rc=1; }
pid=$(cat pid)
fusermount3 -u view.raw || { echo "body: fusermount3 -u failed"; rc=1; }
timeout 30 sh -c "while kill -0 $pid 2>/dev/null; do sleep 0.01; done" || { echo "body: daemon still running"; rc=1; }
exit $rc
BODY

if [ "$(id -u)" != 0 ]; then
    # already unprivileged: the test is this user's own mount
    expect "$(id -un) mounts, reads and unmounts" env FLATIMGFS="$FLATIMGFS" sh body.sh
    finish
fi

user=nobody
id "$user" >/dev/null 2>&1 || skip "no user '$user' to run as"
if command -v runuser >/dev/null; then
    as_user() { runuser -u "$user" -- "$@"; }
elif command -v setpriv >/dev/null; then
    as_user() { setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups -- "$@"; }
else
    skip "neither runuser nor setpriv (util-linux) is installed to become '$user'"
fi
chmod 755 "$SCRATCH"
chown "$user" "$SCRATCH" "$SCRATCH"/*
# every directory above the binary must let the user through
as_user test -x "$FLATIMGFS" || skip "$FLATIMGFS is not reachable by '$user'"

if as_user sh -c 'exec 9<>/dev/fuse' 2>/dev/null; then
    expect "$user mounts, reads and unmounts" as_user env FLATIMGFS="$FLATIMGFS" sh body.sh
else
    command -v unshare >/dev/null || skip "/dev/fuse is not usable by '$user' and unshare is missing"
    # a private mount namespace where /dev/fuse is a node the user may open
    cat >ns.sh <<NS
mknod "$SCRATCH/fuse" c 10 229 && chmod 666 "$SCRATCH/fuse" && mount --bind "$SCRATCH/fuse" /dev/fuse || exit 77
$(command -v runuser >/dev/null && echo "runuser -u $user --" || echo "setpriv --reuid=$user --regid=$(id -g $user) --clear-groups --") env FLATIMGFS="$FLATIMGFS" sh body.sh
NS
    unshare -m --propagation private sh ns.sh
    rc=$?
    [ $rc = 77 ] && skip "/dev/fuse is root-only here and a private usable node could not be made"
    expect "$user mounts, reads and unmounts (private /dev/fuse)" test $rc = 0
fi
finish
