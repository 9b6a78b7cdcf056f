# Encrypted qcow2 (LUKS, crypt_method 2, and legacy AES, crypt_method 1): create with qemu-img's
# options and errors, info byte-identical, images qemu made read identically, flatimg's images and
# writes (partial sectors, copy-on-write from a backing file) pass qemu-img check and read back in
# qemu-io; qemu-img's errors for missing, unknown and wrong secrets and for mismatched formats.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
need_qemu

S='--object secret,id=s,data=secret123'
L=encrypt.format=luks,encrypt.key-secret=s,encrypt.iter-time=10
A=encrypt.format=aes,encrypt.key-secret=s
for o in encrypt.format=aes encryption=on encrypt.key-secret=s encrypt.cipher-alg=aes-128 \
         encrypt.format=aes,encrypt.key-secret=t encrypt.format=foo,encrypt.key-secret=s \
         encryption=on,encrypt.format=aes,encrypt.key-secret=s $A,encrypt.cipher-alg=aes-128 \
         $A,encrypt.iter-time=10 $A encryption=on,encrypt.key-secret=s $A,compat=0.10; do
    same_fresh "\$IMG create -f qcow2 $S -o $o x.qcow2 1M; ls; \$IMG info x.qcow2 2>&1 | grep -i encrypt"
done
same_fresh "\$IMG convert -c $S -O qcow2 -o $A /dev/null x.qcow2; ls"

qimg() { echo "driver=qcow2,file.filename=$1,encrypt.key-secret=s"; }
# qio_enc IMG CMD...: qemu-io commands on the encrypted image; fail when one fails
qio_enc() {
    local img=$1 args=() out; shift
    for c in "$@"; do args+=(-c "$c"); done
    out=$("$QEMU_IO" $S --image-opts "${args[@]}" "$(qimg "$img")" 2>&1)
    if [ $? -ne 0 ] || grep -q -e 'Pattern verification failed' -e 'failed' <<<"$out"; then
        fail "qemu-io $img $*: $out"
    else
        pass "qemu-io $img $*"
    fi
}

# flatimg's images have the layout qemu's have (apart from the random and timed fields); qemu's
# LUKS create times PBKDF2 for a second whatever iter-time says, so its images from these
# comparisons serve the tests below
for pair in "ql.qcow2 $L" "qa.qcow2 $A" "ql2.qcow2 $L,compat=0.10,cluster_size=4096"; do
    set -- $pair
    same_fresh "for i in \$(seq 50); do \$IMG create -q -f qcow2 $S -o $2 a.qcow2 4M 2>/dev/null && break; done; \$IMG info --output=json a.qcow2 | grep -v -e uuid -e iters; stat -c %s a.qcow2"
    cp qdir/a.qcow2 "$1"
done

# qemu's images: info, and data read identically (image-opts and json:)
for img in ql.qcow2 qa.qcow2 ql2.qcow2; do
    same info "$img"
    same info --output=json "$img"
    qio_enc $img 'write -P 0x33 1000 5000' 'write -P 0x44 100000 300000' 'write -z 400000 70000'
    rm -f q.raw f.raw
    "$QEMU_IMG" convert $S --image-opts "$(qimg $img)" -O raw q.raw
    "$FLATIMG" convert $S --image-opts "$(qimg $img)" -O raw f.raw
    expect "flatimg decrypts qemu's $img" cmp -s q.raw f.raw
    rm -f f.raw
    "$FLATIMG" convert $S -O raw "json:{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\",\"filename\":\"$img\"},\"encrypt.key-secret\":\"s\"}" f.raw
    expect "flatimg decrypts qemu's $img (json:)" cmp -s q.raw f.raw
    same map --output=json $S --image-opts "$(qimg $img)"
    same check $S --image-opts "$(qimg $img)"
    same convert -O raw $img x.raw
    same convert -O raw $S --image-opts "driver=qcow2,file.filename=$img,encrypt.key-secret=t" x.raw
    same convert -O raw $S --image-opts "driver=qcow2,file.filename=$img,encrypt.format=luks,encrypt.key-secret=s" x.raw
    same convert -O raw $S --image-opts "driver=qcow2,file.filename=$img,encrypt.format=aes,encrypt.key-secret=s" x.raw
done
same convert -O raw --object secret,id=s,data=wrong --image-opts "$(qimg ql.qcow2)" x.raw

# flatimg's images and writes
"$QEMU_IMG" create -q -f raw base.raw 4M
qio base.raw 'write -P 0x11 0 4M'
"$FLATIMG" create -q -f qcow2 $S -o $L fl.qcow2 4M
"$FLATIMG" create -q -f qcow2 $S -o $A fa.qcow2 4M
"$FLATIMG" create -q -f qcow2 $S -o $L,cluster_size=4096 -b base.raw -F raw flb.qcow2
"$FLATIMG" create -q -f qcow2 $S -o $A -b base.raw -F raw fab.qcow2
key=(-s secret,id=s,data=secret123 -o encrypt.key-secret=s)
for img in fl.qcow2 fa.qcow2 flb.qcow2 fab.qcow2; do
    "$IMGCAT2" "${key[@]}" -w 100 3000 0x61 $img || fail "flatimg write"
    "$IMGCAT2" "${key[@]}" -w 512 512 0x62 $img || fail "flatimg write"
    "$IMGCAT2" "${key[@]}" -w 10000 70000 0x63 $img || fail "flatimg write"
    "$IMGCAT2" "${key[@]}" -w 4194303 1 0x64 $img || fail "flatimg write"
    qio_enc $img 'read -P 0x61 100 412' 'read -P 0x62 512 512' 'read -P 0x61 1024 2076' \
        'read -P 0x63 10000 70000' 'read -P 0x64 4194303 1'
    expect "qemu-img check $img" "$QEMU_IMG" check -q $S --image-opts "$(qimg $img)"
done
qio_enc fl.qcow2 'read -P 0 0 100' 'read -P 0 3100 6900' 'read -P 0 80000 4114303'
qio_enc flb.qcow2 'read -P 0x11 0 100' 'read -P 0x11 3100 6900' 'read -P 0x11 80000 4114303'
qio_enc fab.qcow2 'read -P 0x11 0 100' 'read -P 0x11 3100 6900' 'read -P 0x11 80000 4114303'
# qemu-io's writes into flatimg's image, read by flatimg
qio_enc fl.qcow2 'write -P 0x71 2000000 100000'
rm -f q.raw
"$QEMU_IMG" convert $S --image-opts "$(qimg fl.qcow2)" -O raw q.raw
expect "flatimg reads qemu-io's writes" cmp -s q.raw <("$IMGCAT2" "${key[@]}" fl.qcow2)
# convert into a new encrypted image: opened with the -o key secret, as qemu-img does
"$FLATIMG" convert -O qcow2 $S -o $L q.raw c.qcow2
expect "convert into a LUKS qcow2" "$QEMU_IMG" compare -q $S --image-opts "$(qimg c.qcow2)" "driver=raw,file.filename=q.raw"

# an overlay on an encrypted base: created without the key (qemu opens the base for its size
# only), committed with the base's key given as backing.encrypt.key-secret
same_fresh "\$IMG create -f qcow2 -b ../fl.qcow2 -F qcow2 ov.qcow2; ls"
for prog in "$QEMU_IMG" "$FLATIMG"; do
    cp fl.qcow2 cb.qcow2
    "$QEMU_IMG" create -q -f qcow2 -b cb.qcow2 -F qcow2 cov.qcow2
    "$QEMU_IO" $S --image-opts -c 'write -P 0x72 1000000 200000' \
        "driver=qcow2,file.filename=cov.qcow2,backing.encrypt.key-secret=s" >/dev/null ||
        fail "qemu-io write into the overlay"
    "$prog" commit -q $S --image-opts "driver=qcow2,file.filename=cov.qcow2,backing.encrypt.key-secret=s" ||
        fail "$prog commit into an encrypted base"
    rm -f "c-$(basename "$prog").raw"
    "$QEMU_IMG" convert $S --image-opts "$(qimg cb.qcow2)" -O raw "c-$(basename "$prog").raw"
done
expect "commit into an encrypted base as qemu-img" cmp c-qemu-img.raw c-flatimg.raw
expect "qemu-img check of the committed base" "$QEMU_IMG" check -q $S --image-opts "$(qimg cb.qcow2)"

# measure counts the LUKS header qemu would make (qemu-img times PBKDF2 here too)
same measure -O qcow2 --size 1G $S -o encrypt.format=luks,encrypt.key-secret=s,encrypt.cipher-alg=aes-128,encrypt.cipher-mode=cbc,cluster_size=4096
same measure -O qcow2 --size 1G $S -o encrypt.format=luks,encrypt.key-secret=t
same measure -O qcow2 --size 1G $S -o $A

# hostile crypto headers
cp ql.qcow2 h.qcow2; poke h.qcow2 35 '\x01'
same info h.qcow2
# (crypt_method 2 without the extension crashes qemu-img 7.2; flatimg refuses it cleanly)
cp qa.qcow2 h.qcow2; poke h.qcow2 35 '\x02'
"$FLATIMG" info h.qcow2 >/dev/null 2>err.txt && fail "LUKS method without its header accepted"
expect "LUKS method without its header refused" grep -q "Missing CRYPTO header for crypt method 2" err.txt
cp ql.qcow2 h.qcow2; poke h.qcow2 $((112 + 8 + 6)) '\x01'   # header offset not cluster aligned
same info h.qcow2
cp ql.qcow2 h.qcow2; poke h.qcow2 $((112 + 8 + 8 + 4)) '\x00\x00\x00\x10'   # area too short
same info h.qcow2
cp ql.qcow2 h.qcow2; poke h.qcow2 $((0x40000)) 'LUKZ'
same info h.qcow2
cp ql.qcow2 h.qcow2; poke h.qcow2 $((112 + 8 + 8 + 4)) '\x00\x00\x10\x00'   # key material outside
same info h.qcow2
same convert -O raw $S --image-opts "$(qimg h.qcow2)" x.raw
cp ql.qcow2 h.qcow2; poke h.qcow2 $((112 + 8)) '\xff\xff\xff\xff\xff\xff\x00\x00'   # offset overflows
same info h.qcow2
finish
