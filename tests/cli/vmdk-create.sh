# vmdk: create prints qemu-img's "Formatting" line, -o help and errors, and writes descriptors and
# extents identical to qemu-img's but for the random CID; flatimg's writes match qemu-io's.
. "$top_srcdir/tests/lib.sh"
need_qemu
IMGCAT=$top_builddir/tests/unit/imgcat

same_fresh '$IMG create -f vmdk -o help'
same_fresh '$IMG create -f vmdk -o help a.vmdk'
for o in "" subformat=monolithicFlat subformat=twoGbMaxExtentSparse subformat=twoGbMaxExtentFlat \
         subformat=streamOptimized subformat=foo adapter_type=lsilogic adapter_type=buslogic \
         adapter_type=legacyESX adapter_type=foo compat6=on compat6=on,hwversion=7 hwversion=8 \
         toolsversion=5 zeroed_grain=on subformat=monolithicFlat,zeroed_grain=on compat6=maybe \
         preallocation=metadata preallocation=full; do
    for size in 0 1000 1M 3G; do
        # qemu-img info aborts on the extent-less images qemu makes for size 0: skip info there
        case "$o:$size" in *twoGb*:0|*Flat*:0) info=true;; *) info='$IMG info a.vmdk';; esac
        same_fresh "\$IMG create -f vmdk -o '$o' a.vmdk $size; ls; $info | grep -v '^    cid:'"
    done
done
same_fresh '$IMG create -q -f vmdk base.vmdk 4M; $IMG create -f vmdk -b base.vmdk -F vmdk a.vmdk; $IMG info a.vmdk | grep -v "cid:"'
same_fresh '$IMG create -q -f vmdk base.vmdk 4M; $IMG create -f vmdk -b base.vmdk -F raw a.vmdk'
same_fresh '$IMG create -f vmdk -u -b nonexistent.vmdk -F vmdk a.vmdk 1M'

# identical files but for the CIDs (and what follows the descriptor text's NUL, where qemu's
# CID rewrite leaves stale bytes when the random value changes length)
strip() { python3 -c '
import re, sys
d = bytearray(open(sys.argv[1], "rb").read())
start, end = (512, 512 + 10240) if d[:4] == b"KDMV" else (0, min(len(d), 10240))
if d[:4] != b"KDMV" and not d.startswith(b"# Disk DescriptorFile"):
    start = end = 0  # a flat extent: data only
text = bytes(d[start:end]).split(b"\0", 1)[0]
text = re.sub(rb"CID=[0-9a-f]+", b"CID=", text)
sys.stdout.buffer.write(bytes(d[:start]) + text + b"|" + bytes(d[end:]))' "$1"; }
mkdir -p q f
for o in subformat=monolithicSparse subformat=monolithicFlat subformat=twoGbMaxExtentSparse \
         subformat=twoGbMaxExtentFlat subformat=streamOptimized zeroed_grain=on \
         adapter_type=lsilogic,hwversion=7,toolsversion=123 compat6=on; do
    rm -f q/* f/*
    (cd q && "$QEMU_IMG" create -q -f vmdk -o $o x.vmdk 2100M)
    (cd f && "$FLATIMG" create -q -f vmdk -o $o x.vmdk 2100M)
    expect "$o: same files" diff <(ls q) <(ls f)
    for x in q/*; do
        if [ "$(stat -c %s "$x")" -gt 67108864 ]; then # flat extents: size and allocation
            expect "$o: $(basename "$x") as qemu-img's" \
                test "$(stat -c '%s %b' "$x")" = "$(stat -c '%s %b' "f/${x#q/}")"
        else
            expect "$o: $(basename "$x") as qemu-img's" cmp <(strip "$x") <(strip "f/${x#q/}")
        fi
    done
done
rm -rf q f

# written by flatimg: the same file as qemu-io's writes (same names in two directories)
mkdir -p q f
for o in subformat=monolithicSparse subformat=monolithicFlat zeroed_grain=on; do
    rm -f q/* f/*
    "$QEMU_IMG" create -q -f vmdk -o $o q/x.vmdk 10M
    "$FLATIMG" create -q -f vmdk -o $o f/x.vmdk 10M
    "$QEMU_IO" -c 'write -P 0x11 0 64k' -c 'write -P 0x22 3M 4k' -c 'write -P 0x33 65000 1k' \
        -c 'write -P 0x44 10120k 100k' q/x.vmdk >/dev/null
    "$IMGCAT" -w 0:65536:11 -w 3145728:4096:22 -w 65000:1024:33 -w 10362880:102400:44 f/x.vmdk
    for x in q/*; do
        expect "$o: $(basename "$x") as qemu-io's" cmp <(strip "$x") <(strip "f/${x#q/}")
    done
    expect "$o: qemu-img check" "$QEMU_IMG" check f/x.vmdk
    expect "$o: compare" "$QEMU_IMG" compare q/x.vmdk f/x.vmdk
done
# over a parent: the untouched part of a new grain comes from below
rm -f q/* f/*
"$QEMU_IMG" create -q -f vmdk base.vmdk 4M
"$QEMU_IO" -c 'write -P 0x77 0 4M' base.vmdk >/dev/null
"$QEMU_IMG" create -q -f vmdk -b ../base.vmdk -F vmdk q/x.vmdk
"$QEMU_IMG" create -q -f vmdk -b ../base.vmdk -F vmdk f/x.vmdk
"$QEMU_IO" -c 'write -P 0x11 5000 3000' q/x.vmdk >/dev/null
"$IMGCAT" -w 5000:3000:11 f/x.vmdk
expect "child: same file as qemu-io's" cmp <(strip q/x.vmdk) <(strip f/x.vmdk)
expect "child: compare" "$QEMU_IMG" compare q/x.vmdk f/x.vmdk
# zero writes: zeroed GTEs where the image has the feature, zero buffers elsewhere
for o in zeroed_grain=on zeroed_grain=off; do
    rm -f q/* f/*
    "$QEMU_IMG" create -q -f vmdk -o $o -b ../base.vmdk -F vmdk q/x.vmdk
    "$QEMU_IO" -c 'write -P 0x22 64k 128k' q/x.vmdk >/dev/null
    cp q/x.vmdk f/x.vmdk
    "$QEMU_IO" -c 'write -z 0 128k' -c 'write -z 1M 64k' -c 'write -z 2M 1000' q/x.vmdk >/dev/null
    "$IMGCAT" -w 0:131072:z -w 1048576:65536:z -w 2097152:1000:z f/x.vmdk
    expect "$o: zero writes: same file as qemu-io's" cmp <(strip q/x.vmdk) <(strip f/x.vmdk)
    expect "$o: zero writes: compare" "$QEMU_IMG" compare q/x.vmdk f/x.vmdk
done
# a zeroed grain over a parent: the rest of the new grain is zeros, not the parent's data
rm -f q/* f/*
"$QEMU_IMG" create -q -f vmdk -o zeroed_grain=on -b ../base.vmdk -F vmdk q/x.vmdk
"$QEMU_IO" -c 'write -z 0 64k' q/x.vmdk >/dev/null
cp q/x.vmdk f/x.vmdk
"$QEMU_IO" -c 'write -P 0x11 5000 3000' q/x.vmdk >/dev/null
"$IMGCAT" -w 5000:3000:11 f/x.vmdk
expect "zeroed grain: same file as qemu-io's" cmp <(strip q/x.vmdk) <(strip f/x.vmdk)
expect "zeroed grain: compare" "$QEMU_IMG" compare q/x.vmdk f/x.vmdk
finish
