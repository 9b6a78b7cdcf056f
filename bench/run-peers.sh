#!/usr/bin/env bash
# Run the shared side-by-side harness (../shared/bench: qemu-img, qemu-storage-daemon's FUSE
# export, qcowmount, nbdfuse, xmount) against this build's flatimg and flatimgfs in one run.
# Run as root from the project root after building; the corpus (~4.2 GiB) is built once in
# /tmp/flatbench-corpus and kept. Extra environment knobs are passed through (RUNS, SKIP_FUSE, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
harness=${HARNESS:-../shared/bench}
[ -x "$harness/run.sh" ] || { echo "harness not found at $harness" >&2; exit 1; }
corpus=${CORPUS:-/tmp/flatbench-corpus}
[ -e "$corpus/big.qcow2" ] || "$harness/make-corpus.sh" "$corpus"
ours=$(mktemp -d /tmp/flatimg-ours.XXXXXX)
trap 'rm -rf "$ours"' EXIT
ln -s "$PWD/build/tools/flatimg" "$ours/flatimg"
ln -s "$PWD/build/fuse/flatimgfs" "$ours/flatimgfs"
"$harness/run.sh" "$corpus" "$ours"
