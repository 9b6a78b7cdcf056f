/* AES, XTS, SHA-256, HMAC-SHA256 and PBKDF2 for encrypted images (see crypto.h): plain, portable
 * code with the S-boxes computed from their GF(2^8) definition rather than tabulated. */
#include "config.h"
#include "crypto.h"
#include <stdbool.h>

#include <string.h>

#include "bswap.h"

static uint8_t gf_mul(uint8_t a, uint8_t b)
{
    uint8_t p = 0;
    while (b) {
        if (b & 1)
            p ^= a;
        a = (uint8_t)((a << 1) ^ ((a & 0x80) ? 0x1b : 0));
        b >>= 1;
    }
    return p;
}

static uint8_t rotl8(uint8_t x, int n)
{
    return (uint8_t)((x << n) | (x >> (8 - n)));
}

static void aes_make_sboxes(struct aes_key *k)
{
    for (int x = 0; x < 256; x++) {
        uint8_t inv = 0;
        if (x) {
            /* x^254 is the multiplicative inverse */
            uint8_t r = 1, base = (uint8_t)x;
            for (int e = 254; e; e >>= 1) {
                if (e & 1)
                    r = gf_mul(r, base);
                base = gf_mul(base, base);
            }
            inv = r;
        }
        uint8_t s = inv ^ rotl8(inv, 1) ^ rotl8(inv, 2) ^ rotl8(inv, 3) ^ rotl8(inv, 4) ^ 0x63;
        k->sbox[x] = s;
        k->inv_sbox[s] = (uint8_t)x;
    }
}

int aes_set_key(struct aes_key *k, const uint8_t *key, size_t key_len)
{
    if (key_len != 16 && key_len != 24 && key_len != 32)
        return -1;
    aes_make_sboxes(k);
    int nk = (int)key_len / 4;
    k->rounds = nk + 6;
    uint8_t *w = k->round_keys;
    int words = 4 * (k->rounds + 1);
    memcpy(w, key, key_len);
    uint8_t rcon = 1;
    for (int i = nk; i < words; i++) {
        uint8_t t[4];
        memcpy(t, w + 4 * (i - 1), 4);
        if (i % nk == 0) {
            uint8_t t0 = t[0];
            t[0] = k->sbox[t[1]] ^ rcon;
            t[1] = k->sbox[t[2]];
            t[2] = k->sbox[t[3]];
            t[3] = k->sbox[t0];
            rcon = gf_mul(rcon, 2);
        } else if (nk > 6 && i % nk == 4) {
            for (int j = 0; j < 4; j++)
                t[j] = k->sbox[t[j]];
        }
        for (int j = 0; j < 4; j++)
            w[4 * i + j] = w[4 * (i - nk) + j] ^ t[j];
    }
    return 0;
}

static void add_round_key(uint8_t s[16], const uint8_t *rk)
{
    for (int i = 0; i < 16; i++)
        s[i] ^= rk[i];
}

/* state byte (row r, column c) is s[r + 4c]; row r rotates left by r (right when inverse) */
static void shift_rows(uint8_t s[16], bool inverse)
{
    uint8_t t[16];
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            t[r + 4 * c] = inverse ? s[r + 4 * ((c + 4 - r) % 4)] : s[r + 4 * ((c + r) % 4)];
    memcpy(s, t, 16);
}

static void mix_columns(uint8_t s[16], const uint8_t m[4])
{
    for (int c = 0; c < 4; c++) {
        uint8_t *a = s + 4 * c, b[4];
        for (int r = 0; r < 4; r++)
            b[r] = gf_mul(a[0], m[(4 - r) % 4]) ^ gf_mul(a[1], m[(5 - r) % 4]) ^
                   gf_mul(a[2], m[(6 - r) % 4]) ^ gf_mul(a[3], m[(7 - r) % 4]);
        memcpy(a, b, 4);
    }
}

static const uint8_t mix_fwd[4] = { 2, 3, 1, 1 };
static const uint8_t mix_inv[4] = { 14, 11, 13, 9 };

void aes_encrypt_block(const struct aes_key *k, const uint8_t in[16], uint8_t out[16])
{
    uint8_t s[16];
    memcpy(s, in, 16);
    add_round_key(s, k->round_keys);
    for (int round = 1; round <= k->rounds; round++) {
        for (int i = 0; i < 16; i++)
            s[i] = k->sbox[s[i]];
        shift_rows(s, false);
        if (round != k->rounds)
            mix_columns(s, mix_fwd);
        add_round_key(s, k->round_keys + 16 * round);
    }
    memcpy(out, s, 16);
}

void aes_decrypt_block(const struct aes_key *k, const uint8_t in[16], uint8_t out[16])
{
    uint8_t s[16];
    memcpy(s, in, 16);
    add_round_key(s, k->round_keys + 16 * k->rounds);
    for (int round = k->rounds - 1; round >= 0; round--) {
        shift_rows(s, true);
        for (int i = 0; i < 16; i++)
            s[i] = k->inv_sbox[s[i]];
        add_round_key(s, k->round_keys + 16 * round);
        if (round)
            mix_columns(s, mix_inv);
    }
    memcpy(out, s, 16);
}

/* Multiply the tweak by x in GF(2^128), little-endian bytes. */
static void xts_next(uint8_t t[16])
{
    uint8_t carry = 0;
    for (int i = 0; i < 16; i++) {
        uint8_t next = t[i] >> 7;
        t[i] = (uint8_t)((t[i] << 1) | carry);
        carry = next;
    }
    if (carry)
        t[0] ^= 0x87;
}

static void xts_crypt(const struct aes_key *data, const struct aes_key *tweak, const uint8_t iv[16],
                      const uint8_t *in, uint8_t *out, size_t len, bool decrypt)
{
    uint8_t t[16], b[16];
    aes_encrypt_block(tweak, iv, t);
    for (size_t off = 0; off + 16 <= len; off += 16) {
        for (int i = 0; i < 16; i++)
            b[i] = in[off + i] ^ t[i];
        if (decrypt)
            aes_decrypt_block(data, b, b);
        else
            aes_encrypt_block(data, b, b);
        for (int i = 0; i < 16; i++)
            out[off + i] = b[i] ^ t[i];
        xts_next(t);
    }
}

void xts_decrypt(const struct aes_key *data, const struct aes_key *tweak, uint64_t sector,
                 const uint8_t *in, uint8_t *out, size_t len)
{
    uint8_t iv[16] = { 0 };
    put_le64(iv, sector);
    xts_crypt(data, tweak, iv, in, out, len, true);
}

void xts_encrypt(const struct aes_key *data, const struct aes_key *tweak, uint64_t sector,
                 const uint8_t *in, uint8_t *out, size_t len)
{
    uint8_t iv[16] = { 0 };
    put_le64(iv, sector);
    xts_crypt(data, tweak, iv, in, out, len, false);
}

static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror32(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void sha256_block(struct sha256 *c, const uint8_t *p)
{
    uint32_t w[64], v[8];
    for (int i = 0; i < 16; i++)
        w[i] = get_be32(p + 4 * i);
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(v, c->h, sizeof(v));
    for (int i = 0; i < 64; i++) {
        uint32_t s1 = ror32(v[4], 6) ^ ror32(v[4], 11) ^ ror32(v[4], 25);
        uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
        uint32_t t1 = v[7] + s1 + ch + sha256_k[i] + w[i];
        uint32_t s0 = ror32(v[0], 2) ^ ror32(v[0], 13) ^ ror32(v[0], 22);
        uint32_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
        memmove(v + 1, v, 7 * sizeof(uint32_t));
        v[4] += t1;
        v[0] = t1 + s0 + maj;
    }
    for (int i = 0; i < 8; i++)
        c->h[i] += v[i];
}

void sha256_init(struct sha256 *c)
{
    static const uint32_t h0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
    memcpy(c->h, h0, sizeof(h0));
    c->buf_len = 0;
    c->total = 0;
}

void sha256_update(struct sha256 *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    c->total += len;
    while (len) {
        size_t n = 64 - c->buf_len < len ? 64 - c->buf_len : len;
        memcpy(c->buf + c->buf_len, p, n);
        c->buf_len += n;
        p += n;
        len -= n;
        if (c->buf_len == 64) {
            sha256_block(c, c->buf);
            c->buf_len = 0;
        }
    }
}

void sha256_final(struct sha256 *c, uint8_t out[SHA256_LEN])
{
    uint64_t bits = c->total * 8;
    uint8_t pad[72] = { 0x80 };
    size_t pad_len = (c->buf_len < 56 ? 56 : 120) - c->buf_len;
    put_be64(pad + pad_len, bits);
    sha256_update(c, pad, pad_len + 8);
    for (int i = 0; i < 8; i++)
        put_be32(out + 4 * i, c->h[i]);
}

/* HMAC-SHA256 with the inner and outer key states prepared once. */
struct hmac {
    struct sha256 inner, outer;
};

static void hmac_init(struct hmac *h, const uint8_t *key, size_t key_len)
{
    uint8_t k[64] = { 0 }, pad[64];
    if (key_len > 64) {
        struct sha256 c;
        sha256_init(&c);
        sha256_update(&c, key, key_len);
        sha256_final(&c, k);
    } else {
        memcpy(k, key, key_len);
    }
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    sha256_init(&h->inner);
    sha256_update(&h->inner, pad, 64);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    sha256_init(&h->outer);
    sha256_update(&h->outer, pad, 64);
}

static void hmac_run(const struct hmac *h, const uint8_t *a, size_t a_len, const uint8_t *b,
                     size_t b_len, uint8_t out[SHA256_LEN])
{
    struct sha256 c = h->inner;
    uint8_t inner[SHA256_LEN];
    sha256_update(&c, a, a_len);
    if (b_len)
        sha256_update(&c, b, b_len);
    sha256_final(&c, inner);
    c = h->outer;
    sha256_update(&c, inner, sizeof(inner));
    sha256_final(&c, out);
}

void pbkdf2_sha256(const uint8_t *pass, size_t pass_len, const uint8_t *salt, size_t salt_len,
                   uint32_t iterations, uint8_t *out, size_t out_len)
{
    struct hmac h;
    hmac_init(&h, pass, pass_len);
    for (uint32_t block = 1; out_len; block++) {
        uint8_t ctr[4], u[SHA256_LEN], t[SHA256_LEN];
        put_be32(ctr, block);
        hmac_run(&h, salt, salt_len, ctr, 4, u);
        memcpy(t, u, sizeof(t));
        for (uint32_t i = 1; i < iterations; i++) {
            hmac_run(&h, u, sizeof(u), NULL, 0, u);
            for (int j = 0; j < SHA256_LEN; j++)
                t[j] ^= u[j];
        }
        size_t n = out_len < SHA256_LEN ? out_len : SHA256_LEN;
        memcpy(out, t, n);
        out += n;
        out_len -= n;
    }
}

int sector_cipher_init(struct sector_cipher *c, enum cipher_mode mode, enum ivgen_alg ivgen,
                       size_t sector_size, const uint8_t *key, size_t key_len,
                       const uint8_t *essiv_key, size_t essiv_len)
{
    c->mode = mode;
    c->ivgen = ivgen;
    c->sector_size = sector_size;
    if (mode == CIPHER_MODE_XTS) {
        if (key_len % 2 || aes_set_key(&c->key, key, key_len / 2) < 0 ||
            aes_set_key(&c->tweak, key + key_len / 2, key_len / 2) < 0)
            return -1;
    } else if (aes_set_key(&c->key, key, key_len) < 0) {
        return -1;
    }
    if (ivgen == IVGEN_ESSIV && aes_set_key(&c->essiv, essiv_key, essiv_len) < 0)
        return -1;
    return 0;
}

/* qemu's IV generators: the sector number little-endian (truncated to 32 bits for "plain"),
 * zero-padded to the block size, encrypted with the hashed key for ESSIV. */
static void sector_iv(const struct sector_cipher *c, uint64_t sector, uint8_t iv[16])
{
    memset(iv, 0, 16);
    if (c->ivgen == IVGEN_PLAIN)
        put_le32(iv, (uint32_t)sector);
    else
        put_le64(iv, sector);
    if (c->ivgen == IVGEN_ESSIV)
        aes_encrypt_block(&c->essiv, iv, iv);
}

static void ctr_increment(uint8_t ctr[16])
{
    for (int i = 15; i >= 0 && !++ctr[i]; i--)
        ;
}

static void sector_crypt(const struct sector_cipher *c, uint64_t sector, uint8_t *buf,
                         size_t len, bool decrypt)
{
    for (size_t off = 0; off + c->sector_size <= len; off += c->sector_size, sector++) {
        uint8_t iv[16], *p = buf + off, prev[16], ks[16];
        sector_iv(c, sector, iv);
        switch (c->mode) {
        case CIPHER_MODE_XTS:
            xts_crypt(&c->key, &c->tweak, iv, p, p, c->sector_size, decrypt);
            break;
        case CIPHER_MODE_ECB:
            for (size_t i = 0; i + 16 <= c->sector_size; i += 16)
                (decrypt ? aes_decrypt_block : aes_encrypt_block)(&c->key, p + i, p + i);
            break;
        case CIPHER_MODE_CBC:
            for (size_t i = 0; i + 16 <= c->sector_size; i += 16) {
                if (decrypt) {
                    memcpy(prev, p + i, 16);
                    aes_decrypt_block(&c->key, p + i, p + i);
                    for (int j = 0; j < 16; j++)
                        p[i + j] ^= iv[j];
                    memcpy(iv, prev, 16);
                } else {
                    for (int j = 0; j < 16; j++)
                        p[i + j] ^= iv[j];
                    aes_encrypt_block(&c->key, p + i, p + i);
                    memcpy(iv, p + i, 16);
                }
            }
            break;
        case CIPHER_MODE_CTR:
            for (size_t i = 0; i < c->sector_size; i += 16) {
                aes_encrypt_block(&c->key, iv, ks);
                for (size_t j = 0; j < 16 && i + j < c->sector_size; j++)
                    p[i + j] ^= ks[j];
                ctr_increment(iv);
            }
            break;
        }
    }
}

void sector_cipher_encrypt(const struct sector_cipher *c, uint64_t sector, uint8_t *buf,
                           size_t len)
{
    sector_crypt(c, sector, buf, len, false);
}

void sector_cipher_decrypt(const struct sector_cipher *c, uint64_t sector, uint8_t *buf,
                           size_t len)
{
    sector_crypt(c, sector, buf, len, true);
}

void sector_cipher_init_qcow_aes(struct sector_cipher *c, const uint8_t *pass, size_t pass_len)
{
    uint8_t key[16] = { 0 };
    for (size_t i = 0; i < pass_len && i < sizeof(key) && pass[i]; i++)
        key[i] = pass[i];
    sector_cipher_init(c, CIPHER_MODE_CBC, IVGEN_PLAIN64, 512, key, sizeof(key), NULL, 0);
}
