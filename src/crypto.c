/* AES and its sector modes for encrypted images (see crypto.h): table-driven rounds whose tables
 * (and S-boxes) are computed per key from their GF(2^8) definition rather than tabulated. */
#include "config.h"
#include "crypto.h"
#include <stdbool.h>

#include <string.h>

#include "bswap.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_AESNI 1
#endif

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

static uint32_t ror32(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

/* The round tables: te[x] is S-box output x's MixColumns column (2s, s, s, 3s), td[x] the
 * inverse S-box output's InvMixColumns column (14s, 9s, 13s, 11s), big-endian words. */
static void aes_make_tables(struct aes_key *k)
{
    aes_make_sboxes(k);
    for (int x = 0; x < 256; x++) {
        uint8_t s = k->sbox[x], i = k->inv_sbox[x];
        k->te[x] = (uint32_t)gf_mul(s, 2) << 24 | (uint32_t)s << 16 | (uint32_t)s << 8 |
                   gf_mul(s, 3);
        k->td[x] = (uint32_t)gf_mul(i, 14) << 24 | (uint32_t)gf_mul(i, 9) << 16 |
                   (uint32_t)gf_mul(i, 13) << 8 | gf_mul(i, 11);
    }
}

static uint32_t sub_word(const struct aes_key *k, uint32_t w)
{
    return (uint32_t)k->sbox[w >> 24] << 24 | (uint32_t)k->sbox[(w >> 16) & 0xff] << 16 |
           (uint32_t)k->sbox[(w >> 8) & 0xff] << 8 | k->sbox[w & 0xff];
}

/* InvMixColumns of one round-key word, through td (which undoes the S-box first). */
static uint32_t inv_mix_word(const struct aes_key *k, uint32_t w)
{
    return k->td[k->sbox[w >> 24]] ^ ror32(k->td[k->sbox[(w >> 16) & 0xff]], 8) ^
           ror32(k->td[k->sbox[(w >> 8) & 0xff]], 16) ^ ror32(k->td[k->sbox[w & 0xff]], 24);
}

int aes_set_key(struct aes_key *k, const uint8_t *key, size_t key_len)
{
    if (key_len != 16 && key_len != 24 && key_len != 32)
        return -1;
    aes_make_tables(k);
    int nk = (int)key_len / 4;
    k->rounds = nk + 6;
    int words = 4 * (k->rounds + 1);
    uint32_t rcon = 1;
    for (int i = 0; i < nk; i++)
        k->ek[i] = get_be32(key + 4 * i);
    for (int i = nk; i < words; i++) {
        uint32_t t = k->ek[i - 1];
        if (i % nk == 0) {
            t = sub_word(k, (t << 8) | (t >> 24)) ^ (rcon << 24);
            rcon = gf_mul((uint8_t)rcon, 2);
        } else if (nk > 6 && i % nk == 4) {
            t = sub_word(k, t);
        }
        k->ek[i] = k->ek[i - nk] ^ t;
    }
    /* the equivalent inverse cipher: round keys reversed, the middle ones InvMixColumns'd */
    for (int r = 0; r <= k->rounds; r++) {
        for (int j = 0; j < 4; j++) {
            uint32_t w = k->ek[4 * (k->rounds - r) + j];
            k->dk[4 * r + j] = r == 0 || r == k->rounds ? w : inv_mix_word(k, w);
        }
    }
    for (int i = 0; i < words; i++) {
        put_be32(k->ekb + 4 * i, k->ek[i]);
        put_be32(k->dkb + 4 * i, k->dk[i]);
    }
#ifdef HAVE_AESNI
    k->ni = __builtin_cpu_supports("aes");
#else
    k->ni = false;
#endif
    return 0;
}

#ifdef HAVE_AESNI
/* The same rounds with the CPU's AES instructions (the equivalent inverse cipher's keys are the
 * ones AESDEC expects). */
__attribute__((target("aes,sse2"))) static void aesni_encrypt(const struct aes_key *k,
                                                               const uint8_t in[16],
                                                               uint8_t out[16])
{
    __m128i s = _mm_xor_si128(_mm_loadu_si128((const __m128i *)in),
                              _mm_loadu_si128((const __m128i *)k->ekb));
    for (int r = 1; r < k->rounds; r++)
        s = _mm_aesenc_si128(s, _mm_loadu_si128((const __m128i *)(k->ekb + 16 * r)));
    s = _mm_aesenclast_si128(s, _mm_loadu_si128((const __m128i *)(k->ekb + 16 * k->rounds)));
    _mm_storeu_si128((__m128i *)out, s);
}

__attribute__((target("aes,sse2"))) static void aesni_decrypt(const struct aes_key *k,
                                                               const uint8_t in[16],
                                                               uint8_t out[16])
{
    __m128i s = _mm_xor_si128(_mm_loadu_si128((const __m128i *)in),
                              _mm_loadu_si128((const __m128i *)k->dkb));
    for (int r = 1; r < k->rounds; r++)
        s = _mm_aesdec_si128(s, _mm_loadu_si128((const __m128i *)(k->dkb + 16 * r)));
    s = _mm_aesdeclast_si128(s, _mm_loadu_si128((const __m128i *)(k->dkb + 16 * k->rounds)));
    _mm_storeu_si128((__m128i *)out, s);
}
#endif

void aes_encrypt_block(const struct aes_key *k, const uint8_t in[16], uint8_t out[16])
{
#ifdef HAVE_AESNI
    if (k->ni) {
        aesni_encrypt(k, in, out);
        return;
    }
#endif
    const uint32_t *rk = k->ek, *te = k->te;
    uint32_t s0 = get_be32(in) ^ rk[0], s1 = get_be32(in + 4) ^ rk[1];
    uint32_t s2 = get_be32(in + 8) ^ rk[2], s3 = get_be32(in + 12) ^ rk[3];
    for (int r = 1; r < k->rounds; r++) {
        rk += 4;
        uint32_t t0 = te[s0 >> 24] ^ ror32(te[(s1 >> 16) & 0xff], 8) ^
                      ror32(te[(s2 >> 8) & 0xff], 16) ^ ror32(te[s3 & 0xff], 24) ^ rk[0];
        uint32_t t1 = te[s1 >> 24] ^ ror32(te[(s2 >> 16) & 0xff], 8) ^
                      ror32(te[(s3 >> 8) & 0xff], 16) ^ ror32(te[s0 & 0xff], 24) ^ rk[1];
        uint32_t t2 = te[s2 >> 24] ^ ror32(te[(s3 >> 16) & 0xff], 8) ^
                      ror32(te[(s0 >> 8) & 0xff], 16) ^ ror32(te[s1 & 0xff], 24) ^ rk[2];
        uint32_t t3 = te[s3 >> 24] ^ ror32(te[(s0 >> 16) & 0xff], 8) ^
                      ror32(te[(s1 >> 8) & 0xff], 16) ^ ror32(te[s2 & 0xff], 24) ^ rk[3];
        s0 = t0;
        s1 = t1;
        s2 = t2;
        s3 = t3;
    }
    rk += 4;
    const uint8_t *sb = k->sbox;
    uint32_t s[4] = { s0, s1, s2, s3 };
    for (int c = 0; c < 4; c++) {
        uint32_t w = (uint32_t)sb[s[c] >> 24] << 24 | (uint32_t)sb[(s[(c + 1) % 4] >> 16) & 0xff] << 16 |
                     (uint32_t)sb[(s[(c + 2) % 4] >> 8) & 0xff] << 8 | sb[s[(c + 3) % 4] & 0xff];
        put_be32(out + 4 * c, w ^ rk[c]);
    }
}

void aes_decrypt_block(const struct aes_key *k, const uint8_t in[16], uint8_t out[16])
{
#ifdef HAVE_AESNI
    if (k->ni) {
        aesni_decrypt(k, in, out);
        return;
    }
#endif
    const uint32_t *rk = k->dk, *td = k->td;
    uint32_t s0 = get_be32(in) ^ rk[0], s1 = get_be32(in + 4) ^ rk[1];
    uint32_t s2 = get_be32(in + 8) ^ rk[2], s3 = get_be32(in + 12) ^ rk[3];
    for (int r = 1; r < k->rounds; r++) {
        rk += 4;
        uint32_t t0 = td[s0 >> 24] ^ ror32(td[(s3 >> 16) & 0xff], 8) ^
                      ror32(td[(s2 >> 8) & 0xff], 16) ^ ror32(td[s1 & 0xff], 24) ^ rk[0];
        uint32_t t1 = td[s1 >> 24] ^ ror32(td[(s0 >> 16) & 0xff], 8) ^
                      ror32(td[(s3 >> 8) & 0xff], 16) ^ ror32(td[s2 & 0xff], 24) ^ rk[1];
        uint32_t t2 = td[s2 >> 24] ^ ror32(td[(s1 >> 16) & 0xff], 8) ^
                      ror32(td[(s0 >> 8) & 0xff], 16) ^ ror32(td[s3 & 0xff], 24) ^ rk[2];
        uint32_t t3 = td[s3 >> 24] ^ ror32(td[(s2 >> 16) & 0xff], 8) ^
                      ror32(td[(s1 >> 8) & 0xff], 16) ^ ror32(td[s0 & 0xff], 24) ^ rk[3];
        s0 = t0;
        s1 = t1;
        s2 = t2;
        s3 = t3;
    }
    rk += 4;
    const uint8_t *ib = k->inv_sbox;
    uint32_t s[4] = { s0, s1, s2, s3 };
    for (int c = 0; c < 4; c++) {
        uint32_t w = (uint32_t)ib[s[c] >> 24] << 24 | (uint32_t)ib[(s[(c + 3) % 4] >> 16) & 0xff] << 16 |
                     (uint32_t)ib[(s[(c + 2) % 4] >> 8) & 0xff] << 8 | ib[s[(c + 1) % 4] & 0xff];
        put_be32(out + 4 * c, w ^ rk[c]);
    }
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

/* ---- Serpent (Anderson, Biham, Knudsen; the bitsliced form with little-endian words that
 * nettle, Linux and cryptsetup use): S-boxes applied bit position by bit position. ---- */

static const uint8_t serpent_sbox[8][16] = {
    { 3, 8, 15, 1, 10, 6, 5, 11, 14, 13, 4, 2, 7, 0, 9, 12 },
    { 15, 12, 2, 7, 9, 0, 5, 10, 1, 11, 14, 8, 6, 13, 3, 4 },
    { 8, 6, 7, 9, 3, 12, 10, 15, 13, 1, 14, 4, 0, 11, 5, 2 },
    { 0, 15, 11, 8, 12, 9, 6, 3, 13, 1, 2, 4, 10, 7, 5, 14 },
    { 1, 15, 8, 3, 12, 0, 11, 6, 2, 5, 4, 10, 9, 14, 7, 13 },
    { 15, 5, 2, 11, 4, 10, 9, 12, 0, 3, 14, 8, 13, 6, 7, 1 },
    { 7, 2, 12, 5, 8, 4, 6, 11, 14, 9, 1, 15, 13, 3, 10, 0 },
    { 1, 13, 15, 0, 14, 8, 2, 11, 7, 4, 12, 10, 9, 3, 5, 6 },
};

static uint32_t rol32(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

/* Apply a 4-bit S-box to every bit column of x[0..3] (x[0] holds the low bit) at once: each
 * input value's columns form a minterm mask, which sets the output bits S[v] has. */
static void serpent_sub(const uint8_t box[16], uint32_t x[4])
{
    uint32_t n[4] = { ~x[0], ~x[1], ~x[2], ~x[3] }, y[4] = { 0, 0, 0, 0 };
    for (unsigned v = 0; v < 16; v++) {
        uint32_t m = (v & 1 ? x[0] : n[0]) & (v & 2 ? x[1] : n[1]) & (v & 4 ? x[2] : n[2]) &
                     (v & 8 ? x[3] : n[3]);
        for (int i = 0; i < 4; i++)
            if ((box[v] >> i) & 1)
                y[i] |= m;
    }
    memcpy(x, y, sizeof(y));
}

static void serpent_lt(uint32_t x[4])
{
    x[0] = rol32(x[0], 13);
    x[2] = rol32(x[2], 3);
    x[1] ^= x[0] ^ x[2];
    x[3] ^= x[2] ^ (x[0] << 3);
    x[1] = rol32(x[1], 1);
    x[3] = rol32(x[3], 7);
    x[0] ^= x[1] ^ x[3];
    x[2] ^= x[3] ^ (x[1] << 7);
    x[0] = rol32(x[0], 5);
    x[2] = rol32(x[2], 22);
}

static void serpent_inv_lt(uint32_t x[4])
{
    x[2] = ror32(x[2], 22);
    x[0] = ror32(x[0], 5);
    x[2] ^= x[3] ^ (x[1] << 7);
    x[0] ^= x[1] ^ x[3];
    x[3] = ror32(x[3], 7);
    x[1] = ror32(x[1], 1);
    x[3] ^= x[2] ^ (x[0] << 3);
    x[1] ^= x[0] ^ x[2];
    x[2] = ror32(x[2], 3);
    x[0] = ror32(x[0], 13);
}

int serpent_set_key(struct serpent_key *k, const uint8_t *key, size_t key_len)
{
    uint8_t padded[32] = { 0 };
    uint32_t w[140];
    if (key_len != 16 && key_len != 24 && key_len != 32)
        return -1;
    memcpy(padded, key, key_len);
    if (key_len < 32)
        padded[key_len] = 1; /* a 1 bit after the key, then zeros */
    for (int i = 0; i < 8; i++)
        w[i] = get_le32(padded + 4 * i);
    for (int i = 8; i < 140; i++)
        w[i] = rol32(w[i - 8] ^ w[i - 5] ^ w[i - 3] ^ w[i - 1] ^ 0x9e3779b9u ^ (uint32_t)(i - 8), 11);
    for (int r = 0; r < 33; r++) {
        uint32_t x[4] = { w[8 + 4 * r], w[9 + 4 * r], w[10 + 4 * r], w[11 + 4 * r] };
        serpent_sub(serpent_sbox[(3 - r + 32) % 8], x);
        memcpy(k->k + 4 * r, x, sizeof(x));
    }
    return 0;
}

void serpent_encrypt_block(const struct serpent_key *k, const uint8_t in[16], uint8_t out[16])
{
    uint32_t x[4];
    for (int i = 0; i < 4; i++)
        x[i] = get_le32(in + 4 * i);
    for (int r = 0; r < 32; r++) {
        for (int i = 0; i < 4; i++)
            x[i] ^= k->k[4 * r + i];
        serpent_sub(serpent_sbox[r % 8], x);
        if (r < 31)
            serpent_lt(x);
    }
    for (int i = 0; i < 4; i++)
        put_le32(out + 4 * i, x[i] ^ k->k[128 + i]);
}

void serpent_decrypt_block(const struct serpent_key *k, const uint8_t in[16], uint8_t out[16])
{
    uint8_t inv[8][16];
    for (int b = 0; b < 8; b++)
        for (int v = 0; v < 16; v++)
            inv[b][serpent_sbox[b][v]] = (uint8_t)v;
    uint32_t x[4];
    for (int i = 0; i < 4; i++)
        x[i] = get_le32(in + 4 * i) ^ k->k[128 + i];
    for (int r = 31; r >= 0; r--) {
        if (r < 31)
            serpent_inv_lt(x);
        serpent_sub(inv[r % 8], x);
        for (int i = 0; i < 4; i++)
            x[i] ^= k->k[4 * r + i];
    }
    for (int i = 0; i < 4; i++)
        put_le32(out + 4 * i, x[i]);
}

/* ---- Twofish (Schneier et al.): the q permutations built from their 4-bit tables, the
 * key-dependent S-boxes folded with the MDS matrix into four tables per key. ---- */

static const uint8_t twofish_t[2][4][16] = {
    { { 8, 1, 7, 13, 6, 15, 3, 2, 0, 11, 5, 9, 14, 12, 10, 4 },
      { 14, 12, 11, 8, 1, 2, 3, 5, 15, 4, 10, 6, 7, 0, 9, 13 },
      { 11, 10, 5, 14, 6, 13, 9, 0, 12, 8, 15, 3, 2, 4, 7, 1 },
      { 13, 7, 15, 4, 1, 2, 6, 14, 9, 11, 3, 0, 8, 5, 12, 10 } },
    { { 2, 8, 11, 13, 15, 7, 6, 14, 3, 1, 9, 4, 0, 10, 12, 5 },
      { 1, 14, 2, 11, 4, 12, 3, 7, 6, 13, 10, 5, 15, 9, 0, 8 },
      { 4, 12, 7, 5, 1, 6, 9, 10, 0, 14, 13, 8, 2, 11, 3, 15 },
      { 11, 9, 5, 1, 12, 3, 13, 14, 6, 4, 7, 15, 2, 0, 8, 10 } },
};
static const uint8_t twofish_mds[4][4] = {
    { 0x01, 0xef, 0x5b, 0x5b }, { 0x5b, 0xef, 0xef, 0x01 },
    { 0xef, 0x5b, 0x01, 0xef }, { 0xef, 0x01, 0xef, 0x5b },
};
static const uint8_t twofish_rs[4][8] = {
    { 0x01, 0xa4, 0x55, 0x87, 0x5a, 0x58, 0xdb, 0x9e },
    { 0xa4, 0x56, 0x82, 0xf3, 0x1e, 0xc6, 0x68, 0xe5 },
    { 0x02, 0xa1, 0xfc, 0xc1, 0x47, 0xae, 0x3d, 0x19 },
    { 0xa4, 0x55, 0x87, 0x5a, 0x58, 0xdb, 0x9e, 0x03 },
};

static uint8_t gf_mul_poly(uint8_t a, uint8_t b, unsigned poly)
{
    unsigned p = 0, x = a;
    while (b) {
        if (b & 1)
            p ^= x;
        x <<= 1;
        if (x & 0x100)
            x ^= poly;
        b >>= 1;
    }
    return (uint8_t)p;
}

static uint8_t ror4(uint8_t x)
{
    return (uint8_t)(((x >> 1) | (x << 3)) & 15);
}

static uint8_t twofish_q(const uint8_t t[4][16], uint8_t x)
{
    uint8_t a = x >> 4, b = x & 15;
    uint8_t a1 = a ^ b, b1 = (a ^ ror4(b) ^ (uint8_t)(8 * a)) & 15;
    uint8_t a2 = t[0][a1], b2 = t[1][b1];
    uint8_t a3 = a2 ^ b2, b3 = (a2 ^ ror4(b2) ^ (uint8_t)(8 * a2)) & 15;
    return (uint8_t)(16 * t[3][b3] + t[2][a3]);
}

/* The q chain of byte position i for input byte x under key words l[0..k-1] (before MDS). */
static uint8_t twofish_chain(const struct twofish_key *tk, int i, uint8_t x, const uint32_t *l,
                             int k)
{
    static const uint8_t q4[4] = { 1, 0, 0, 1 }, q3[4] = { 1, 1, 0, 0 }, q2[4] = { 0, 1, 0, 1 },
                         q1[4] = { 0, 0, 1, 1 }, q0[4] = { 1, 0, 1, 0 };
    const uint8_t *q[2] = { tk->q[0], tk->q[1] };
    int sh = 8 * i;
    if (k == 4)
        x = q[q4[i]][x] ^ (uint8_t)(l[3] >> sh);
    if (k >= 3)
        x = q[q3[i]][x] ^ (uint8_t)(l[2] >> sh);
    x = q[q2[i]][x] ^ (uint8_t)(l[1] >> sh);
    x = q[q1[i]][x] ^ (uint8_t)(l[0] >> sh);
    return q[q0[i]][x];
}

static uint32_t twofish_mds_column(int i, uint8_t y)
{
    uint32_t z = 0;
    for (int r = 0; r < 4; r++)
        z |= (uint32_t)gf_mul_poly(twofish_mds[r][i], y, 0x169) << (8 * r);
    return z;
}

static uint32_t twofish_h(const struct twofish_key *tk, uint32_t x, const uint32_t *l, int k)
{
    uint32_t z = 0;
    for (int i = 0; i < 4; i++)
        z ^= twofish_mds_column(i, twofish_chain(tk, i, (uint8_t)(x >> (8 * i)), l, k));
    return z;
}

int twofish_set_key(struct twofish_key *tk, const uint8_t *key, size_t key_len)
{
    if (key_len != 16 && key_len != 24 && key_len != 32)
        return -1;
    int k = (int)key_len / 8;
    uint32_t me[4], mo[4], sk[4];
    for (int q = 0; q < 2; q++)
        for (int x = 0; x < 256; x++)
            tk->q[q][x] = twofish_q(twofish_t[q], (uint8_t)x);
    for (int i = 0; i < k; i++) {
        me[i] = get_le32(key + 8 * i);
        mo[i] = get_le32(key + 8 * i + 4);
        uint32_t s = 0;
        for (int r = 0; r < 4; r++) {
            uint8_t v = 0;
            for (int c = 0; c < 8; c++)
                v ^= gf_mul_poly(twofish_rs[r][c], key[8 * i + c], 0x14d);
            s |= (uint32_t)v << (8 * r);
        }
        sk[k - 1 - i] = s; /* the S words in reverse order */
    }
    for (int i = 0; i < 20; i++) {
        uint32_t a = twofish_h(tk, 0x02020202u * (uint32_t)i, me, k);
        uint32_t b = rol32(twofish_h(tk, 0x02020202u * (uint32_t)i + 0x01010101u, mo, k), 8);
        tk->k[2 * i] = a + b;
        tk->k[2 * i + 1] = rol32(a + 2 * b, 9);
    }
    for (int i = 0; i < 4; i++)
        for (int x = 0; x < 256; x++)
            tk->s[i][x] = twofish_mds_column(i, twofish_chain(tk, i, (uint8_t)x, sk, k));
    return 0;
}

static uint32_t twofish_g(const struct twofish_key *tk, uint32_t x)
{
    return tk->s[0][x & 0xff] ^ tk->s[1][(x >> 8) & 0xff] ^ tk->s[2][(x >> 16) & 0xff] ^
           tk->s[3][x >> 24];
}

void twofish_encrypt_block(const struct twofish_key *tk, const uint8_t in[16], uint8_t out[16])
{
    uint32_t r[4];
    for (int i = 0; i < 4; i++)
        r[i] = get_le32(in + 4 * i) ^ tk->k[i];
    for (int round = 0; round < 16; round++) {
        uint32_t t0 = twofish_g(tk, r[0]), t1 = twofish_g(tk, rol32(r[1], 8));
        uint32_t f0 = t0 + t1 + tk->k[2 * round + 8], f1 = t0 + 2 * t1 + tk->k[2 * round + 9];
        uint32_t n0 = ror32(r[2] ^ f0, 1), n1 = rol32(r[3], 1) ^ f1;
        r[2] = r[0];
        r[3] = r[1];
        r[0] = n0;
        r[1] = n1;
    }
    for (int i = 0; i < 4; i++)
        put_le32(out + 4 * i, r[(i + 2) % 4] ^ tk->k[i + 4]);
}

void twofish_decrypt_block(const struct twofish_key *tk, const uint8_t in[16], uint8_t out[16])
{
    uint32_t r[4];
    for (int i = 0; i < 4; i++)
        r[(i + 2) % 4] = get_le32(in + 4 * i) ^ tk->k[i + 4];
    for (int round = 15; round >= 0; round--) {
        /* r holds round+1's state: undo the swap, then the Feistel step */
        uint32_t p0 = r[2], p1 = r[3];
        uint32_t t0 = twofish_g(tk, p0), t1 = twofish_g(tk, rol32(p1, 8));
        uint32_t f0 = t0 + t1 + tk->k[2 * round + 8], f1 = t0 + 2 * t1 + tk->k[2 * round + 9];
        uint32_t p2 = rol32(r[0], 1) ^ f0, p3 = ror32(r[1] ^ f1, 1);
        r[0] = p0;
        r[1] = p1;
        r[2] = p2;
        r[3] = p3;
    }
    for (int i = 0; i < 4; i++)
        put_le32(out + 4 * i, r[i] ^ tk->k[i]);
}

/* ---- one interface over the block ciphers ---- */

int block_set_key(struct block_key *k, enum block_alg alg, const uint8_t *key, size_t key_len)
{
    k->alg = alg;
    switch (alg) {
    case BLOCK_SERPENT: return serpent_set_key(&k->u.serpent, key, key_len);
    case BLOCK_TWOFISH: return twofish_set_key(&k->u.twofish, key, key_len);
    default: return aes_set_key(&k->u.aes, key, key_len);
    }
}

void block_encrypt(const struct block_key *k, const uint8_t in[16], uint8_t out[16])
{
    if (k->alg == BLOCK_SERPENT)
        serpent_encrypt_block(&k->u.serpent, in, out);
    else if (k->alg == BLOCK_TWOFISH)
        twofish_encrypt_block(&k->u.twofish, in, out);
    else
        aes_encrypt_block(&k->u.aes, in, out);
}

void block_decrypt(const struct block_key *k, const uint8_t in[16], uint8_t out[16])
{
    if (k->alg == BLOCK_SERPENT)
        serpent_decrypt_block(&k->u.serpent, in, out);
    else if (k->alg == BLOCK_TWOFISH)
        twofish_decrypt_block(&k->u.twofish, in, out);
    else
        aes_decrypt_block(&k->u.aes, in, out);
}

static void xts_crypt(const struct block_key *data, const struct block_key *tweak,
                      const uint8_t iv[16], uint8_t *buf, size_t len, bool decrypt)
{
    uint8_t t[16], b[16];
    block_encrypt(tweak, iv, t);
    for (size_t off = 0; off + 16 <= len; off += 16) {
        for (int i = 0; i < 16; i++)
            b[i] = buf[off + i] ^ t[i];
        if (decrypt)
            block_decrypt(data, b, b);
        else
            block_encrypt(data, b, b);
        for (int i = 0; i < 16; i++)
            buf[off + i] = b[i] ^ t[i];
        xts_next(t);
    }
}

int sector_cipher_init(struct sector_cipher *c, enum block_alg alg, enum cipher_mode mode,
                       enum ivgen_alg ivgen, size_t sector_size, const uint8_t *key,
                       size_t key_len, const uint8_t *essiv_key, size_t essiv_len)
{
    c->mode = mode;
    c->ivgen = ivgen;
    c->sector_size = sector_size;
    if (mode == CIPHER_MODE_XTS) {
        if (key_len % 2 || block_set_key(&c->key, alg, key, key_len / 2) < 0 ||
            block_set_key(&c->tweak, alg, key + key_len / 2, key_len / 2) < 0)
            return -1;
    } else if (block_set_key(&c->key, alg, key, key_len) < 0) {
        return -1;
    }
    if (ivgen == IVGEN_ESSIV && block_set_key(&c->essiv, alg, essiv_key, essiv_len) < 0)
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
        block_encrypt(&c->essiv, iv, iv);
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
            xts_crypt(&c->key, &c->tweak, iv, p, c->sector_size, decrypt);
            break;
        case CIPHER_MODE_ECB:
            for (size_t i = 0; i + 16 <= c->sector_size; i += 16)
                (decrypt ? block_decrypt : block_encrypt)(&c->key, p + i, p + i);
            break;
        case CIPHER_MODE_CBC:
            for (size_t i = 0; i + 16 <= c->sector_size; i += 16) {
                if (decrypt) {
                    memcpy(prev, p + i, 16);
                    block_decrypt(&c->key, p + i, p + i);
                    for (int j = 0; j < 16; j++)
                        p[i + j] ^= iv[j];
                    memcpy(iv, prev, 16);
                } else {
                    for (int j = 0; j < 16; j++)
                        p[i + j] ^= iv[j];
                    block_encrypt(&c->key, p + i, p + i);
                    memcpy(iv, p + i, 16);
                }
            }
            break;
        case CIPHER_MODE_CTR:
            for (size_t i = 0; i < c->sector_size; i += 16) {
                block_encrypt(&c->key, iv, ks);
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
    sector_cipher_init(c, BLOCK_AES, CIPHER_MODE_CBC, IVGEN_PLAIN64, 512, key, sizeof(key), NULL, 0);
}
