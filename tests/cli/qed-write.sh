# qed: writes through the driver core (allocation, copy-on-write from the backing file, new L2
# tables, zero clusters, resize) leave files byte-identical to qemu-io's and pass qemu-img check.
. "$top_srcdir/tests/lib.sh"
need_qemu
IMGCAT=$top_builddir/tests/unit/imgcat

"$QEMU_IMG" create -q -f qed base.qed 8M
"$QEMU_IO" -c 'write -P 0x11 0 1M' -c 'write -P 0x12 5M 100k' base.qed >/dev/null

both() { # both "CREATE-OPTIONS SIZE" QEMU-IO-CMDS IMGCAT-ARGS
    local args=$1 qio=$2 fw=$3 size=${1##* } opts=${1% *}
    [ "$opts" = "$args" ] && opts=
    rm -f q.qed f.qed
    eval "\"\$QEMU_IMG\" create -q -f qed $opts q.qed $size"
    eval "\"\$QEMU_IMG\" create -q -f qed $opts f.qed $size"
    eval "\"\$QEMU_IO\" $qio q.qed" >/dev/null
    eval "\"\$IMGCAT\" $fw f.qed"
    expect "$args | $fw: same file as qemu-io's" cmp q.qed f.qed
    # (qemu-img check counts a leak in qemu's own large 4k-cluster images: compare verdicts)
    expect "$args | $fw: qemu-img check as for qemu's image" \
        cmp <("$QEMU_IMG" check q.qed 2>&1; echo $?) <("$QEMU_IMG" check f.qed 2>&1; echo $?)
    expect "$args | $fw: compare" "$QEMU_IMG" compare q.qed f.qed
}
both "8M" "-c 'write -P 0x11 0 64k' -c 'write -P 0x22 3M 4k' -c 'write -P 0x33 65000 1k'" \
    "-w 0:65536:11 -w 3145728:4096:22 -w 65000:1024:33"
both "-o cluster_size=4k,table_size=2 8M" "-c 'write -P 0x11 2M 20k' -c 'write -P 0x22 5000 100'" \
    "-w 2097152:20480:11 -w 5000:100:22"
both "-b base.qed -F qed 8M" "-c 'write -P 0x11 4k 4k' -c 'write -P 0x22 5M 4k' -c 'write -P 0x33 65000 1k'" \
    "-w 4096:4096:11 -w 5242880:4096:22 -w 65000:1024:33"
both "-b base.qed -F qed 8M" "-c 'write -z 0 128k' -c 'write -z 5M 64k' -c 'write -P 0x44 6M 64k' -c 'write -z 6M 64k'" \
    "-w 0:131072:z -w 5242880:65536:z -w 6291456:65536:44 -w 6291456:65536:z"
both "-o cluster_size=4k 64M" "-c 'write -P 0x77 0 16M' -c 'write -P 0x78 33M 12k'" \
    "-w 0:16777216:77 -w 34603008:12288:78"

# resize: grow only, by whole sectors, within the table limit
"$QEMU_IMG" create -q -f qed f.qed 8M
"$IMGCAT" -t 16777216 f.qed
expect "grown to 16M" grep -q '"virtual-size": 16777216' <("$QEMU_IMG" info --output=json f.qed)
# (outputs captured first: a process substitution may still hold the image lock)
out=$("$IMGCAT" -t 1048576 f.qed 2>&1)
expect "shrink refused" grep -q "Shrinking images is currently not supported" <<<"$out"
out=$("$IMGCAT" -t 1000000001 f.qed 2>&1)
expect "odd size refused" grep -q "Invalid image size specified" <<<"$out"
out=$("$IMGCAT" -t 4503599627370496 f.qed 2>&1)
expect "too large refused" grep -q "Invalid image size specified" <<<"$out"

# an image left with the need-check flag is repaired on a read-write open, read as it is otherwise
"$QEMU_IMG" create -q -f qed f.qed 8M
"$QEMU_IO" -c 'write -P 0x11 0 64k' f.qed >/dev/null
printf '\002' | dd of=f.qed bs=1 seek=16 conv=notrunc 2>/dev/null
same info f.qed
expect "dirty image flagged" cmp <(od -A n -t x1 -j 16 -N 1 f.qed) <(echo " 02")
"$QEMU_IMG" convert -O raw f.qed expect.raw
expect "dirty image readable as it is" cmp expect.raw <("$IMGCAT" f.qed)
"$IMGCAT" -w 1048576:512:22 f.qed
same info f.qed
expect "flag cleared after write and close" cmp <(od -A n -t x1 -j 16 -N 1 f.qed) <(echo " 00")
expect "repaired image checks clean" "$QEMU_IMG" check f.qed
finish
