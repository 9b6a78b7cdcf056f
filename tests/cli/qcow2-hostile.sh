#!/bin/bash
# Hostile qcow2 images: every corrupted header field or table gives qemu-img's open error (info)
# or a clean I/O error, never a crash or a huge allocation.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/cli/qcow2-lib.sh"
need_qemu

"$QEMU_IMG" create -q -f qcow2 good.qcow2 1M
"$QEMU_IO" -c 'write -P 0x5a 0 128k' good.qcow2 >/dev/null
poke() { # poke NAME OFFSET HEXBYTES: a copy of good.qcow2 with bytes replaced
    cp good.qcow2 "$1"
    printf "$(echo "$3" | sed 's/../\\x&/g')" | dd of="$1" bs=1 seek=$(($2)) conv=notrunc status=none
    # settle the file's block count (delayed allocation) before two programs report its size
    sync "$1"
}
cases=(
    "version 4:4:00000004"
    "cluster bits 8:20:00000008"
    "cluster bits 22:20:00000016"
    "header length short:100:00000040"
    "header length long:100:00020000"
    "unknown incompat:72:0000000000000020"
    "named incompat:72:0000000000000001"
    "corrupt bit:72:0000000000000002"
    "data file bit:72:0000000000000004"
    "compression bit:72:0000000000000008"
    "refcount order 7:96:00000007"
    "crypt method 3:32:00000003"
    "l1 misaligned:40:0000000000030100"
    "l1 huge:36:10000000"
    "l1 too small:36:00000000"
    "l1 past eof:40:0000100000000000"
    "l1 offset overflow:40:7fffffffffff0000"
    "rt misaligned:48:0000000000010010"
    "rt huge:56:00100000"
    "rt zero:56:00000000"
    "snapshots many:60:00100000"
    "snapshot misaligned:60:0000000100000000000000ff"
    "snapshot past eof:60:000000010000100000000000"
    "backing offset:8:0000000000020000"
    "backing name long:8:00000000000001000000ffff"
    "ext too large:112:6803f857ffff0000"
    "ext backing format long:112:e2792aca00000020"
    "size huge:24:7fffffffffffffff"
    "compression type 2:104:02"
)
for c in "${cases[@]}"; do
    name=${c%%:*}; rest=${c#*:}
    f="h-${name// /-}.qcow2"
    poke "$f" "${rest%%:*}" "${rest#*:}"
    same info "$f"
    same info --output=json "$f"
done

# corrupt mappings: reading fails cleanly (or succeeds like qemu), writing refused after
poke l2-misaligned.qcow2 0x30000 8000000000040200
expect "misaligned L2 read fails" bash -c "! '$QTOOL' cmp l2-misaligned.qcow2 /dev/null 2>/dev/null"
poke data-misaligned.qcow2 0x40000 8000000000050200
expect "misaligned data read fails" bash -c "! '$QTOOL' cmp data-misaligned.qcow2 /dev/null 2>/dev/null"
expect "write marks corrupt" bash -c "! '$QTOOL' write data-misaligned.qcow2 0 512 1 2>/dev/null"
"$QEMU_IMG" info --output=json data-misaligned.qcow2 >corrupt.json
expect "corrupt bit set" grep -q '"corrupt": true' corrupt.json
same info data-misaligned.qcow2
expect "corrupt image refuses rw" bash -c "! '$QTOOL' write data-misaligned.qcow2 0 512 1 2>/dev/null"
# a compressed cluster whose size runs past the end of the file
poke comp-overrun.qcow2 0x40000 7fff000000050000
expect "compressed overrun fails" bash -c "! '$QTOOL' cmp comp-overrun.qcow2 /dev/null 2>/dev/null"

# the corruption notice is qemu's, word for word
poke q-mis.qcow2 0x40008 8000000000050200
cp q-mis.qcow2 f-mis.qcow2
"$QEMU_IO" -c 'write 64k 512' q-mis.qcow2 >/dev/null 2>q-mis.err
"$QTOOL" write f-mis.qcow2 64k 512 1 2>f-mis.err
expect "corruption message" diff -u <(grep '^qcow2:' q-mis.err) <(grep '^qcow2:' f-mis.err)
poke q-l2.qcow2 0x30000 8000000000040200
cp q-l2.qcow2 f-l2.qcow2
"$QEMU_IO" -c 'write 64k 512' q-l2.qcow2 >/dev/null 2>q-l2.err
"$QTOOL" write f-l2.qcow2 64k 512 1 2>f-l2.err
expect "L2 corruption message" diff -u <(grep '^qcow2:' q-l2.err) <(grep '^qcow2:' f-l2.err)
expect "both marked corrupt" cmp <(head -c 112 q-l2.qcow2) <(head -c 112 f-l2.qcow2)
finish
