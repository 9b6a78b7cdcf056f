# Sourced by the write tests on qcow2: which optional qcow2 operations flatimg's driver has, found
# by trying them on scratch images, so that tests of an operation run once it exists.
probe_dir=$(mktemp -d "$SCRATCH/probe.XXXXXX")
probe() { # probe NAME COMMAND...: FEATURE_NAME=1 when the command succeeds
    (cd "$probe_dir" && rm -f p.qcow2 pb.qcow2 p.raw &&
        "$QEMU_IMG" create -q -f qcow2 pb.qcow2 1M && "$QEMU_IMG" create -q -f qcow2 -b pb.qcow2 -F qcow2 p.qcow2 &&
        qemu-io -f qcow2 -c "write 0 64k" p.qcow2 >/dev/null && "${@:2}" >/dev/null 2>&1) &&
        eval "FEATURE_$1=1" || eval "FEATURE_$1="
}
probe compress "$FLATIMG" convert -c -O qcow2 pb.qcow2 c.qcow2
probe backing "$FLATIMG" rebase -u -b '' p.qcow2
probe snapshot "$FLATIMG" snapshot -c s p.qcow2
probe amend "$FLATIMG" amend -o lazy_refcounts=on p.qcow2
probe bitmap "$FLATIMG" bitmap --add p.qcow2 b
probe shrink "$FLATIMG" resize --shrink p.qcow2 512k
probe prealloc "$FLATIMG" convert -O qcow2 -o preallocation=metadata pb.qcow2 m.qcow2
probe grow_prealloc "$FLATIMG" resize --preallocation=metadata p.qcow2 2M
probe amend_help sh -c "'$FLATIMG' amend -f qcow2 -o help | grep -q keyslot"
probe amend_size "$FLATIMG" amend -o size=4M p.qcow2
probe make_empty sh -c "'$FLATIMG' commit p.qcow2 && ! '$QEMU_IMG' map --output=json p.qcow2 | grep -q '\"depth\": 0'"
rm -rf "$probe_dir"
# has FEATURE...: all the named features exist ("-" is always there)
has() {
    local f v
    for f in "$@"; do
        [ "$f" = - ] && continue
        eval "v=\${FEATURE_$f:-}"
        [ -n "$v" ] || return 1
    done
}
