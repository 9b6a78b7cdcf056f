#!/bin/bash
# map over an image of every format (tests/cli/sweep-images.inc), human and JSON, whole and with
# --start-offset/--max-length, side by side with qemu-img 7.2.
. "$top_srcdir/tests/lib.sh"
need_qemu
. "$top_srcdir/tests/cli/sweep-images.inc"
for img in $SWEEP_IMAGES; do
    same map "$img"
    same map --output=json "$img"
    same map --start-offset=65536 --max-length=1000000 "$img"
    same map --output=json --start-offset 1000 --max-length 2000000 "$img"
done
# shellcheck disable=SC2086
same map $LUKS_OPTS
# shellcheck disable=SC2086
same map --output=json $LUKS_OPTS
finish
