# LUKS with the AES, Serpent and Twofish cipher modes, IV generators and hashes qemu-img 7.2 accepts:
# flatimg's images read and written by qemu-io (and `info` identical), qemu's images read by
# flatimg, flatimg's layout equal to qemu's, qemu-img's errors for bad creation options.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/formats2-lib.sh"
need_qemu

S='--object secret,id=s0,data=abc'
key=(-s secret,id=s0,data=abc -o key-secret=s0)
qopen() { echo "driver=luks,file.filename=$1,key-secret=s0"; }
for o in cipher-mode=foo ivgen-alg=foo hash-alg=sha3 ivgen-hash-alg=foo cipher-alg=sm4 \
         ivgen-alg=essiv,ivgen-hash-alg=sha1 ivgen-alg=essiv,ivgen-hash-alg=sha512; do
    same_fresh "\$IMG create -f luks $S -o key-secret=s0,iter-time=10,$o a.luks 1M; ls"
done
"$FLATIMG" create -q -f luks $S -o key-secret=s0,cipher-alg=cast5-128 x.luks 1M 2>err.txt &&
    fail "created a cast5 image"
expect "an unimplemented cipher is named" grep -q "does not implement the cast5-128 cipher" err.txt
same_fresh "\$IMG create -f luks $S -o key-secret=s0,iter-time=10,cipher-alg=serpent-128,ivgen-alg=essiv,ivgen-hash-alg=sha1 a.luks 1M; ls"

# params: cipher-alg cipher-mode ivgen-alg ivgen-hash-alg hash-alg
combos=("aes-128 xts plain sha256 sha1" "aes-192 xts essiv md5 sha224"
        "aes-256 cbc essiv sha256 sha384" "aes-128 ecb plain64 sha256 sha512"
        "aes-256 ctr plain sha256 ripemd160" "aes-128 cbc plain sha256 md5"
        "serpent-256 xts plain64 sha256 sha256" "serpent-128 cbc essiv sha256 sha1"
        "serpent-192 xts plain sha256 sha512" "serpent-256 ctr essiv md5 sha256"
        "twofish-128 cbc essiv md5 sha256" "twofish-256 xts plain64 sha256 sha384")
i=0
for c in "${combos[@]}"; do
    set -- $c
    i=$((i + 1))
    img=f$i.luks
    o=key-secret=s0,iter-time=10,cipher-alg=$1,cipher-mode=$2,ivgen-alg=$3,ivgen-hash-alg=$4,hash-alg=$5
    "$FLATIMG" create -q -f luks $S -o "$o" $img 2M || { fail "flatimg create $c"; continue; }
    same info $img
    "$IMGCAT2" "${key[@]}" -w 100 3000 0x61 $img || fail "flatimg write $c"
    "$IMGCAT2" "${key[@]}" -w 2097151 1 0x62 $img || fail "flatimg write $c"
    out=$("$QEMU_IO" $S --image-opts -c 'read -P 0x61 100 3000' \
          -c 'read -P 0x62 2097151 1' -c 'write -P 0x63 1000000 70000' "$(qopen $img)" 2>&1)
    expect "qemu-io decrypts flatimg's $c" test "$(grep -c -e 'verification failed' -e failed -e "can't" <<<"$out")" = 0
    rm -f q.raw
    "$QEMU_IMG" convert $S --image-opts "$(qopen $img)" -O raw q.raw
    expect "flatimg decrypts qemu-io's $c" cmp -s q.raw <("$IMGCAT2" "${key[@]}" $img)
done

# qemu's images (qemu-img spends a second timing PBKDF2 on each): layout equal to flatimg's, data
# read by flatimg
for c in "aes-192 xts essiv md5 ripemd160" "serpent-256 cbc essiv sha256 sha1"; do
    set -- $c
    o=key-secret=s0,iter-time=10,cipher-alg=$1,cipher-mode=$2,ivgen-alg=$3,ivgen-hash-alg=$4,hash-alg=$5
    same_fresh "for i in \$(seq 50); do \$IMG create -q -f luks $S -o $o a.luks 1M 2>/dev/null && break; done; \$IMG info --output=json a.luks | grep -v -e uuid -e iters; stat -c %s a.luks"
    cp qdir/a.luks q.luks
    "$QEMU_IO" $S --image-opts -c 'write -P 0x5a 1000 70000' "$(qopen q.luks)" >/dev/null
    rm -f q.raw
    "$QEMU_IMG" convert $S --image-opts "$(qopen q.luks)" -O raw q.raw
    expect "flatimg decrypts qemu's $c" cmp -s q.raw <("$IMGCAT2" "${key[@]}" q.luks)
done
finish
