/* Unit tests for src/crypto.c against published vectors: FIPS-197 (AES), FIPS 180-4
 * (SHA-256), RFC 7914 section 11 (PBKDF2-HMAC-SHA256), IEEE 1619 (XTS-AES). */
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
    assert_int_equal(aes_set_key(&k, key, 20), -1);
}

static void test_sha256(void **state)
{
    uint8_t out[32], want[32];
    struct sha256 c;
    sha256_init(&c);
    sha256_update(&c, "abc", 3);
    sha256_final(&c, out);
    hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want);
    assert_memory_equal(out, want, 32);
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_init(&c);
    sha256_update(&c, m, strlen(m));
    sha256_final(&c, out);
    hex("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", want);
    assert_memory_equal(out, want, 32);
}

static void test_pbkdf2(void **state)
{
    uint8_t out[64], want[64];
    pbkdf2_sha256((const uint8_t *)"passwd", 6, (const uint8_t *)"salt", 4, 1, out, 64);
    hex("55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783", want);
    assert_memory_equal(out, want, 64);
    pbkdf2_sha256((const uint8_t *)"password", 8, (const uint8_t *)"salt", 4, 4096, out, 32);
    hex("c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a", want);
    assert_memory_equal(out, want, 32);
}

static void test_xts(void **state)
{
    uint8_t zero[32] = { 0 }, out[32], back[32], want[32];
    struct aes_key k1, k2;
    aes_set_key(&k1, zero, 16);
    aes_set_key(&k2, zero, 16);
    xts_encrypt(&k1, &k2, 0, zero, out, 32);
    hex("917cf69ebd68b2ec9b9fe9a3eadda692cd43d2f59598ed858c02c2652fbf922e", want);
    assert_memory_equal(out, want, 32);
    xts_decrypt(&k1, &k2, 0, out, back, 32);
    assert_memory_equal(back, zero, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aes),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_pbkdf2),
        cmocka_unit_test(test_xts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
