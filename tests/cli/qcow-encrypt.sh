# qcow (v1) legacy AES encryption: create with qemu-img's options and errors, images qemu made
# read identically, flatimg's writes (partial sectors, new clusters, copy-on-write from a backing
# file) read back by qemu-io, qemu-img's errors for missing or unknown secrets.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
need_qemu

S='--object secret,id=s,data=secret123'
for o in encrypt.format=aes,encrypt.key-secret=s encryption=on,encrypt.key-secret=s \
         encrypt.format=qcow,encrypt.key-secret=s encryption=off,encrypt.format=aes,encrypt.key-secret=s \
         encrypt.format=aes encryption=on encrypt.key-secret=s encrypt.format=aes,encrypt.key-secret=t \
         encrypt.format=luks,encrypt.key-secret=s encrypt.format=foo,encrypt.key-secret=s \
         encryption=on,encrypt.format=aes,encrypt.key-secret=s \
         encrypt.format=aes,encrypt.key-secret=s,encrypt.cipher-alg=aes-256; do
    same_fresh "\$IMG create -f qcow $S -o $o x.qcow 1M; ls; \$IMG info x.qcow 2>&1 | grep encrypted"
done
same_fresh "\$IMG convert -c $S -O qcow -o encrypt.format=aes,encrypt.key-secret=s /dev/null x.qcow; ls"

qimg() { echo "driver=qcow,file.filename=$1,encrypt.key-secret=s"; }
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

# qemu's image, read by flatimg through --image-opts and json:
"$QEMU_IMG" create -q -f qcow $S -o encrypt.format=aes,encrypt.key-secret=s q.qcow 3M
qio_enc q.qcow 'write -P 0x33 1000 5000' 'write -P 0x44 100000 300000'
"$QEMU_IMG" convert $S --image-opts "$(qimg q.qcow)" -O raw q.raw
"$FLATIMG" convert $S --image-opts "$(qimg q.qcow)" -O raw f.raw
expect "flatimg decrypts qemu's qcow (image-opts)" cmp -s q.raw f.raw
rm -f f.raw
"$FLATIMG" convert $S -O raw "json:{\"driver\":\"qcow\",\"file\":{\"driver\":\"file\",\"filename\":\"q.qcow\"},\"encrypt.key-secret\":\"s\"}" f.raw
expect "flatimg decrypts qemu's qcow (json:)" cmp -s q.raw f.raw
same info q.qcow
same convert -O raw q.qcow x.raw
same convert $S --image-opts "driver=qcow,file.filename=q.qcow,encrypt.key-secret=t" -O raw x.raw
same convert $S --image-opts "driver=qcow,file.filename=q.qcow,encrypt.format=luks,encrypt.key-secret=s" -O raw x.raw

# flatimg's writes, read back by qemu-io
"$QEMU_IMG" create -q -f raw base.raw 3M
qio base.raw 'write -P 0x11 0 3M'
"$FLATIMG" create -q -f qcow $S -o encrypt.format=aes,encrypt.key-secret=s f.qcow 3M
"$FLATIMG" create -q -f qcow $S -o encrypt.format=aes,encrypt.key-secret=s -b base.raw -F raw fb.qcow
key=(-s secret,id=s,data=secret123 -o encrypt.key-secret=s)
for img in f.qcow fb.qcow; do
    "$IMGCAT2" "${key[@]}" -w 100 3000 0x61 $img || fail "flatimg write"
    "$IMGCAT2" "${key[@]}" -w 512 512 0x62 $img || fail "flatimg write"
    "$IMGCAT2" "${key[@]}" -w 10000 70000 0x63 $img || fail "flatimg write"
    "$IMGCAT2" "${key[@]}" -w 3145727 1 0x64 $img || fail "flatimg write"
    qio_enc $img 'read -P 0x61 100 412' 'read -P 0x62 512 512' 'read -P 0x61 1024 2076' \
        'read -P 0x63 10000 70000' 'read -P 0x64 3145727 1'
done
qio_enc f.qcow 'read -P 0 0 100' 'read -P 0 3100 6900' 'read -P 0 80000 3065727'
qio_enc fb.qcow 'read -P 0x11 0 100' 'read -P 0x11 3100 6900' 'read -P 0x11 80000 3065727'
# flatimg's convert into a new encrypted image opens it with the -o key secret, as qemu-img does
rm -f f.raw
"$QEMU_IMG" convert $S --image-opts "$(qimg fb.qcow)" -O raw q.raw
"$FLATIMG" convert -O qcow $S -o encrypt.format=aes,encrypt.key-secret=s q.raw c.qcow
expect "convert into an encrypted qcow" "$QEMU_IMG" compare -q $S --image-opts "$(qimg c.qcow)" "driver=raw,file.filename=q.raw"
finish
