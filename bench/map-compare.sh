#!/usr/bin/env bash
# map and compare on large sparse images, flatimg side by side with qemu-img 7.2: a 1 TiB raw
# file with a few written extents and a qcow2 chain over it. Uses hyperfine when installed,
# else the median of 15 timed runs after a warm-up; prints the flatimg/qemu-img time ratio for each case.
# Usage: bench/map-compare.sh [FLATIMG]   (default: tools/flatimg in the build tree or PATH)
set -euo pipefail
FLATIMG=${1:-${FLATIMG:-$(command -v flatimg || echo tools/flatimg)}}
QEMU_IMG=${QEMU_IMG:-qemu-img}
QEMU_IO=${QEMU_IO:-qemu-io}
FLATIMG=$(realpath "$FLATIMG")
dir=$(mktemp -d "${TMPDIR:-/tmp}/flatimg-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
cd "$dir"

truncate -s 1T big.raw
"$QEMU_IO" -f raw -c 'write -P 1 0 1M' -c 'write -P 2 100G 4M' -c 'write -P 3 700G 1M' \
    -c 'write -P 4 1023G 64k' big.raw >/dev/null
cp --sparse=always big.raw big2.raw
"$QEMU_IO" -f raw -c 'write -P 5 700G 4k' big2.raw >/dev/null
"$QEMU_IMG" create -q -f qcow2 base.qcow2 1T
"$QEMU_IO" -c 'write -P 1 0 64M' -c 'write -P 2 512G 64M' base.qcow2 >/dev/null
"$QEMU_IMG" create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2
"$QEMU_IO" -c 'write -P 3 32M 64M' -c 'write -z 600G 1G' top.qcow2 >/dev/null

cases=(
    "map -f raw big.raw"
    "map -f raw --output=json big.raw"
    "map --output=json top.qcow2"
    "compare -f raw -F raw big.raw big.raw"
    "compare -f raw -F raw big.raw big2.raw"
    "compare top.qcow2 top.qcow2"
)

seconds() { # PROGRAM ARGS...: wall time in seconds (hyperfine's mean, else the median of 15)
    if command -v hyperfine >/dev/null 2>&1; then
        hyperfine -N -i --warmup 1 --runs 15 --export-json t.json "$*" >/dev/null 2>&1
        python3 -c 'import json; print(json.load(open("t.json"))["results"][0]["mean"])'
    else
        python3 - "$@" <<'EOF_PY'
import statistics, subprocess, sys, time
runs = []
for _ in range(16):
    t = time.perf_counter()
    subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs.append(time.perf_counter() - t)
print(statistics.median(runs[1:]))
EOF_PY
    fi
}

printf '%-45s %12s %12s %8s\n' case "qemu-img s" "flatimg s" ratio
for c in "${cases[@]}"; do
    # shellcheck disable=SC2086
    q=$(seconds "$QEMU_IMG" $c)
    # shellcheck disable=SC2086
    f=$(seconds "$FLATIMG" $c)
    printf '%-45s %12.4f %12.4f %8.2f\n' "$c" "$q" "$f" "$(python3 -c "print($f / $q if $q > 0 else 0)")"
done
