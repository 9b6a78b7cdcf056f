/* Unit tests for src/crypto.c and src/hash.c against published vectors: FIPS-197 (AES), FIPS 180-4
 * (SHA), RFC 1321 (MD5), RIPEMD-160, RFC 7914 section 11 and RFC 6070 (PBKDF2), IEEE 1619 (XTS). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "crypto.h"

static void hex(const char *s, uint8_t *out)
{
    for (size_t i = 0; s[2 * i]; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

static void test_aes(void **state)
{
    uint8_t key[32], pt[16], ct[16], out[16], back[16];
    struct aes_key k;
    hex("000102030405060708090a0b0c0d0e0f", key);
    hex("00112233445566778899aabbccddeeff", pt);
    hex("69c4e0d86a7b0430d8cdb78070b4c55a", ct);
    assert_int_equal(aes_set_key(&k, key, 16), 0);
    aes_encrypt_block(&k, pt, out);
    assert_memory_equal(out, ct, 16);
    aes_decrypt_block(&k, out, back);
    assert_memory_equal(back, pt, 16);
    hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", key);
    hex("8ea2b7ca516745bfeafc49904b496089", ct);
    assert_int_equal(aes_set_key(&k, key, 32), 0);
    aes_encrypt_block(&k, pt, out);
    assert_memory_equal(out, ct, 16);
    aes_decrypt_block(&k, out, back);
    assert_memory_equal(back, pt, 16);
    hex("000102030405060708090a0b0c0d0e0f1011121314151617", key);
    hex("dda97ca4864cdfe06eaf70a0ec0d7191", ct);
    assert_int_equal(aes_set_key(&k, key, 24), 0);
    aes_encrypt_block(&k, pt, out);
    assert_memory_equal(out, ct, 16);
    aes_decrypt_block(&k, out, back);
    assert_memory_equal(back, pt, 16);
    /* the table rounds too, where the CPU would use its AES instructions */
    k.ni = false;
    aes_encrypt_block(&k, pt, out);
    assert_memory_equal(out, ct, 16);
    aes_decrypt_block(&k, out, back);
    assert_memory_equal(back, pt, 16);
    assert_int_equal(aes_set_key(&k, key, 20), -1);
}

static void check_hash(enum hash_alg alg, const void *msg, size_t len, const char *want_hex)
{
    uint8_t out[HASH_MAX_LEN], want[HASH_MAX_LEN];
    hex(want_hex, want);
    assert_int_equal(hash_len(alg) * 2, strlen(want_hex));
    hash_buf(alg, msg, len, out);
    assert_memory_equal(out, want, hash_len(alg));
    /* the same fed in odd pieces, through the portable rounds where the CPU has SHA ones */
    struct hash_ctx c;
    const uint8_t *p = msg;
    hash_init(&c, alg);
    c.ni = false;
    for (size_t off = 0; off < len; off += 7)
        hash_update(&c, p + off, len - off < 7 ? len - off : 7);
    hash_final(&c, out);
    assert_memory_equal(out, want, hash_len(alg));
}

static void test_hashes(void **state)
{
    uint8_t m[300];
    for (int i = 0; i < 300; i++)
        m[i] = (uint8_t)i;
    static const struct { enum hash_alg alg; const char *name, *abc, *m300; } v[] = {
        { HASH_MD5, "md5", "900150983cd24fb0d6963f7d28e17f72", "17b3839204f7b81a93eb2718b1379e6f" },
        { HASH_SHA1, "sha1", "a9993e364706816aba3e25717850c26c9cd0d89d",
          "bf77ecf143ceb21f1676c34b8d89c8bb3c43cc4e" },
        { HASH_SHA224, "sha224", "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
          "0c82e586f274c06fe5393d20f3692908d3a78ff0034e4c221959f75a" },
        { HASH_SHA256, "sha256", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
          "7728ae2f2c36e2aaafbe79ca14c87ae2f89e7c88c4390ecbbf82dce88706958d" },
        { HASH_SHA384, "sha384",
          "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
          "69672aca50c4279e4cdf788380294d7655bc68c7949e273318d60817f3262cff54e8c78ceaae0853e0a7adf36f392d38" },
        { HASH_SHA512, "sha512",
          "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
          "f1dca2eb677b303265b0b9baff0e061202818f35c1470a69bbaa9bb66025e948d90e565e69642506c6213aef3cf9e929357a59da263deb34d1236dbdcda279b3" },
        { HASH_RIPEMD160, "ripemd160", "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc",
          "91293d6ee016d6e273deee1c55fb5b3891fc55e7" },
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        assert_int_equal(hash_alg_from_name(v[i].name), v[i].alg);
        assert_string_equal(hash_alg_name(v[i].alg), v[i].name);
        check_hash(v[i].alg, "abc", 3, v[i].abc);
        check_hash(v[i].alg, m, sizeof(m), v[i].m300);
    }
    check_hash(HASH_SHA256, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
               "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    check_hash(HASH_RIPEMD160, "", 0, "9c1185a5c5e9fc54612808977ee8f548b2258d31");
    assert_int_equal(hash_alg_from_name("sha3"), -1);
}

static void test_pbkdf2(void **state)
{
    uint8_t out[80], want[80];
    pbkdf2(HASH_SHA256, (const uint8_t *)"passwd", 6, (const uint8_t *)"salt", 4, 1, out, 64);
    hex("55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783", want);
    assert_memory_equal(out, want, 64);
    pbkdf2(HASH_SHA256, (const uint8_t *)"password", 8, (const uint8_t *)"salt", 4, 4096, out, 32);
    hex("c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a", want);
    assert_memory_equal(out, want, 32);
    pbkdf2(HASH_SHA1, (const uint8_t *)"password", 8, (const uint8_t *)"salt", 4, 2, out, 20);
    hex("ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957", want);
    assert_memory_equal(out, want, 20);
    /* four output blocks with enough iterations to run on threads */
    uint8_t big[100], big_want[100];
    pbkdf2(HASH_SHA256, (const uint8_t *)"passphrase", 10, (const uint8_t *)"salt-of-a-key-slot",
           18, 2000, big, sizeof(big));
    hex("f7c5097d2e221a0bcc5988da21fb2e5d0db164e95784753509d4505bb73e002efc0bba6b3e175a6ad097cc40"
        "6bd2cfceae0d848b0626b79889ddf8a88532cccba21090ce5ecc2d5120e99c850921de3bfc2951e24d729d81"
        "fce83d24c0199817e1c62aad", big_want);
    assert_memory_equal(big, big_want, sizeof(big));
    pbkdf2(HASH_SHA512, (const uint8_t *)"password", 8, (const uint8_t *)"salt", 4, 3, out, 80);
    hex("b6b07cb2cebf4ad84468391a543824fccffe0e0769dbe6bddf10a65673c4b648e612d44918f9ce9a19a1294c"
        "f5140628084ba994c3b21a4ef4741220b811c633cfc0641fccbcc4164f1bbfcb1f33f595", want);
    assert_memory_equal(out, want, 80);
}

/* The Twofish paper's vectors for all-zero keys and plaintext, and the way back. */
static void test_twofish(void **state)
{
    static const struct { size_t len; const char *ct; } v[] = {
        { 16, "9f589f5cf6122c32b6bfec2f2ae8c35a" },
        { 24, "efa71f788965bd4453f860178fc19101" },
        { 32, "57ff739d4dc92c1bd7fc01700cc8216f" },
    };
    uint8_t zero[32] = { 0 }, out[16], back[16], want[16];
    struct twofish_key k;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        hex(v[i].ct, want);
        assert_int_equal(twofish_set_key(&k, zero, v[i].len), 0);
        twofish_encrypt_block(&k, zero, out);
        assert_memory_equal(out, want, 16);
        twofish_decrypt_block(&k, out, back);
        assert_memory_equal(back, zero, 16);
    }
    assert_int_equal(twofish_set_key(&k, zero, 20), -1);
}

static void test_xts(void **state)
{
    uint8_t zero[32] = { 0 }, buf[512], want[32];
    struct sector_cipher c;
    /* IEEE 1619 vector 1: both keys zero, data unit 0 (the plain64 IV of sector 0) */
    assert_int_equal(sector_cipher_init(&c, BLOCK_AES, CIPHER_MODE_XTS, IVGEN_PLAIN64, 512, zero,
                                        32, NULL, 0), 0);
    memset(buf, 0, sizeof(buf));
    sector_cipher_encrypt(&c, 0, buf, sizeof(buf));
    hex("917cf69ebd68b2ec9b9fe9a3eadda692cd43d2f59598ed858c02c2652fbf922e", want);
    assert_memory_equal(buf, want, 32);
    sector_cipher_decrypt(&c, 0, buf, sizeof(buf));
    for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aes),
        cmocka_unit_test(test_hashes),
        cmocka_unit_test(test_pbkdf2),
        cmocka_unit_test(test_xts),
        cmocka_unit_test(test_twofish),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
