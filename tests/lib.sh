# Shared helpers for the shell tests (sourced). Each test runs in its own scratch directory and
# compares flatimg with real qemu-img 7.2 (the oracle) where qemu-img has the behaviour.
set -u
: "${FLATIMG:?FLATIMG must point to tools/flatimg}"
: "${top_srcdir:=.}"
QEMU_IMG=${QEMU_IMG:-qemu-img}
QEMU_IO=${QEMU_IO:-qemu-io}
TEST_NAME=$(basename "$0" .sh)
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/flatimg-$TEST_NAME.XXXXXX")
trap 'cd /; rm -rf "$SCRATCH"' EXIT
cd "$SCRATCH" || exit 99
failures=0
checks=0

skip() { echo "SKIP: $*"; exit 77; }
need_qemu() { command -v "$QEMU_IMG" >/dev/null 2>&1 || skip "qemu-img (Debian package qemu-utils) is not installed"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# Run a command, capturing stdout, stderr and exit code into files named by $1.
capture() {
    local tag=$1; shift
    "$@" >"$tag.out" 2>"$tag.err"
    echo $? >"$tag.rc"
}

# qemu-img sizes LUKS key slots by timing PBKDF2 on the thread's CPU clock, and where that clock
# ticks coarsely it fails with "Unable to get accurate CPU usage" at random. That is the oracle
# misbehaving, not a difference: the qemu-img side of a comparison is run again, a bounded number
# of times, while its stderr says so.
qemu_flaky() { grep -q "Unable to get accurate CPU usage" "$1"; }

# Normalise program names so that qemu-img's and flatimg's messages compare equal.
normalise() {
    sed -e 's/^flatimg:/PROG:/' -e 's/^qemu-img:/PROG:/' \
        -e "s/Try 'flatimg --help'/Try 'PROG --help'/" -e "s/Try 'qemu-img --help'/Try 'PROG --help'/" "$1"
}

# same ARGS...: flatimg and qemu-img given the same arguments print the same stdout and stderr
# and exit with the same code.
same() {
    checks=$((checks + 1))
    local try=0
    capture q "$QEMU_IMG" "$@"
    while qemu_flaky q.err && [ $((try += 1)) -lt 50 ]; do capture q "$QEMU_IMG" "$@"; done
    capture f "$FLATIMG" "$@"
    local bad=
    for s in out err rc; do
        if ! diff -u <(normalise "q.$s") <(normalise "f.$s") >"diff.$s"; then
            bad="$bad $s"
        fi
    done
    if [ -n "$bad" ]; then
        fail "differs from qemu-img ($bad ): $*"
        for s in $bad; do sed 's/^/    /' "diff.$s"; done
    else
        pass "$*"
    fi
}

# same_setup CMD...: run CMD (which may create files) once for qemu-img and once for flatimg,
# each in its own fresh directory, then compare. The command sees $IMG (qemu-img or flatimg).
same_fresh() {
    checks=$((checks + 1))
    local try=0
    rm -rf qdir fdir; mkdir fdir
    while
        rm -rf qdir; mkdir qdir
        (cd qdir && IMG=$QEMU_IMG eval "$1") >q.out 2>q.err; echo $? >q.rc
        qemu_flaky q.err && [ $((try += 1)) -lt 50 ]
    do :; done
    (cd fdir && IMG=$FLATIMG eval "$1") >f.out 2>f.err; echo $? >f.rc
    local bad=
    for s in out err rc; do
        diff -u <(normalise "q.$s") <(normalise "f.$s") >"diff.$s" || bad="$bad $s"
    done
    if [ -n "$bad" ]; then
        fail "differs from qemu-img ($bad ): $1"
        for s in $bad; do sed 's/^/    /' "diff.$s"; done
    else
        pass "$1"
    fi
}

expect() { # expect DESCRIPTION COMMAND...: the command must succeed
    checks=$((checks + 1))
    if "${@:2}"; then pass "$1"; else fail "$1"; fi
}

finish() {
    echo "$checks checks, $failures failed"
    [ "$failures" -eq 0 ] || exit 1
    exit 0
}
