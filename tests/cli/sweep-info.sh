#!/bin/bash
# info over an image of every format (tests/cli/sweep-images.inc), human and JSON, with and
# without --backing-chain, side by side with qemu-img 7.2.
. "$top_srcdir/tests/lib.sh"
need_qemu
. "$top_srcdir/tests/cli/sweep-images.inc"
for img in $SWEEP_IMAGES a.luks; do
    same info "$img"
    same info --output=json "$img"
    same info --backing-chain "$img"
    same info --backing-chain --output=json "$img"
done
same info -U --output=json top2.qcow2
# --image-opts: a node opened with a strong option (luks key-secret, raw offset/size) is named
# json:{...}; backing.* options are refused when the backing file is not opened; "backing": ""
# warns
# shellcheck disable=SC2086
same info $LUKS_OPTS
# shellcheck disable=SC2086
same info --output=json $LUKS_OPTS
same info --object secret,id=s,data=pw \
    'json:{"driver":"luks","key-secret":"s","file":{"driver":"file","filename":"a.luks"}}'
same info --image-opts driver=qcow2,file.filename=plain.qcow2,l2-cache-size=1M
same info --image-opts driver=raw,file.filename=raw.raw,size=65536,offset=4096
same info --image-opts driver=qcow2,file.filename=top.qcow2,backing.file.filename=plain.qcow2
same info --image-opts driver=qcow2,file.filename=top.qcow2,backing.driver=qcow2,backing.file.filename=plain.qcow2
same info --image-opts driver=qcow2,file.filename=top.qcow2,backing=
same map --image-opts driver=qcow2,file.filename=top.qcow2,backing=
finish
