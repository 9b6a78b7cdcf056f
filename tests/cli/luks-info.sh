# LUKS images made by qemu-img: `info` (human and JSON, with qemu's format-specific data) is
# byte-identical; hostile headers give qemu-img's errors; with the secret, flatimg decrypts what
# qemu-io wrote and qemu-io decrypts what flatimg wrote (aes-xts-plain64).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
need_qemu

# qemu-img times PBKDF2 and sometimes fails with "Unable to get accurate CPU usage": retry
mk() {
    for _ in $(seq 50); do
        "$QEMU_IMG" create -q -f luks --object secret,id=s0,data=abc \
            -o key-secret=s0,iter-time=20"${2:+,$2}" "$1" 1M 2>/dev/null && return 0
    done
    fail "qemu-img could not create $1"
}
mk a.luks
mk b.luks cipher-alg=aes-128,cipher-mode=cbc,ivgen-alg=essiv,ivgen-hash-alg=sha256,hash-alg=sha1
for img in a.luks b.luks; do
    same info "$img"
    same info --output=json "$img"
    same info -f luks "$img"
done
"$IMGCAT2" a.luks >/dev/null 2>err.txt && fail "read an encrypted image without its key"
expect "key needed for I/O" grep -q "key-secret. is required for cipher" err.txt

# data both ways
key=(-s secret,id=s0,data=abc -o key-secret=s0)
qopen() { echo "driver=luks,file.filename=$1,key-secret=s0"; }
"$QEMU_IO" --object secret,id=s0,data=abc --image-opts -c 'write -P 0x5a 1000 70000' "$(qopen a.luks)" >/dev/null
"$QEMU_IMG" convert --object secret,id=s0,data=abc --image-opts "$(qopen a.luks)" -O raw q.raw
expect "flatimg decrypts qemu's data" cmp -s q.raw <("$IMGCAT2" "${key[@]}" a.luks)
"$IMGCAT2" "${key[@]}" -w 100 3000 0x61 a.luks || fail "flatimg write"
"$IMGCAT2" "${key[@]}" -w 512 512 0x62 a.luks || fail "flatimg write"
"$IMGCAT2" "${key[@]}" -w 1048575 1 0x63 a.luks || fail "flatimg write"
out=$("$QEMU_IO" --object secret,id=s0,data=abc --image-opts -c 'read -P 0x61 100 412' \
      -c 'read -P 0x62 512 512' -c 'read -P 0x61 1024 2076' -c 'read -P 0x5a 3100 67900' \
      -c 'read -P 0x63 1048575 1' "$(qopen a.luks)")
expect "qemu-io decrypts flatimg's data" test "$(grep -c 'Pattern verification failed' <<<"$out")" = 0
"$IMGCAT2" -s secret,id=s0,data=abd -o key-secret=s0 a.luks >/dev/null 2>err.txt && fail "wrong password accepted"
expect "wrong password refused" grep -q "Invalid password, cannot unlock any keyslot" err.txt
# aes-128-cbc-essiv:sha256 with sha1 both ways
"$QEMU_IO" --object secret,id=s0,data=abc --image-opts -c 'write -P 0x5b 1000 70000' "$(qopen b.luks)" >/dev/null
"$IMGCAT2" "${key[@]}" -w 100 3000 0x61 b.luks || fail "flatimg write"
out=$("$QEMU_IO" --object secret,id=s0,data=abc --image-opts -c 'read -P 0x61 100 3000' \
      -c 'read -P 0x5b 3100 67900' "$(qopen b.luks)")
expect "qemu-io decrypts flatimg's cbc-essiv data" test "$(grep -c 'Pattern verification failed' <<<"$out")" = 0
rm -f q.raw
"$QEMU_IMG" convert --object secret,id=s0,data=abc --image-opts "$(qopen b.luks)" -O raw q.raw
expect "flatimg decrypts qemu's cbc-essiv data" cmp -s q.raw <("$IMGCAT2" "${key[@]}" b.luks)
# a cipher flatimg does not implement is refused by name
"$FLATIMG" create -q -f luks --object secret,id=s0,data=abc -o key-secret=s0,iter-time=10,cipher-alg=aes-128 s.luks 1M
poke s.luks 8 'cast5\x00'
"$IMGCAT2" "${key[@]}" s.luks >/dev/null 2>err.txt && fail "decrypted an unsupported cipher"
expect "unsupported cipher refused cleanly" grep -q "does not implement the cast5-128 cipher" err.txt

variant() { # variant OFFSET BYTES
    cp a.luks h.luks
    poke h.luks "$1" "$2"
    same info h.luks
    same info -f luks h.luks
}
variant 0 'LUKZ'
variant 7 '\x02'                               # version
variant 8 'foo\x00'                            # cipher
variant 40 'xts\x00'                           # mode without IV generator
variant 40 'abc-plain64\x00'                   # unknown mode
variant 40 'xts-foo\x00'                       # unknown IV generator
variant 40 'cbc-essiv\x00'                     # essiv without hash
variant 72 'sha7\x00'                          # hash
variant 104 '\x00\x00\x00\x10'                 # payload before the key slots
variant 104 '\x00\xff\x00\x00'                 # payload past the end of the file
variant 108 '\x00\x00\x00\x30'                 # key size
variant $((208 + 44)) '\x00\x00\x0f\xa1'       # stripes
variant $((208 + 40)) '\x00\x00\x00\x00'       # key slot over the header
variant $((208 + 48 + 40)) '\x00\x00\x00\x10'  # key slots overlapping
finish
