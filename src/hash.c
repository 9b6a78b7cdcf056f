/* Message digests for encrypted images (see crypto.h): MD5 (RFC 1321), SHA-1 and SHA-2 (FIPS 180-4),
 * RIPEMD-160, HMAC (RFC 2104) and PBKDF2 (RFC 8018). The round constants were generated from their
 * definitions (sines, square and cube roots of primes). */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include "bswap.h"
#include "crypto.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_SHANI 1
#endif

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

static const uint64_t sha512_k[80] = {
    0x428a2f98d728ae22ull, 0x7137449123ef65cdull, 0xb5c0fbcfec4d3b2full, 0xe9b5dba58189dbbcull,
    0x3956c25bf348b538ull, 0x59f111f1b605d019ull, 0x923f82a4af194f9bull, 0xab1c5ed5da6d8118ull,
    0xd807aa98a3030242ull, 0x12835b0145706fbeull, 0x243185be4ee4b28cull, 0x550c7dc3d5ffb4e2ull,
    0x72be5d74f27b896full, 0x80deb1fe3b1696b1ull, 0x9bdc06a725c71235ull, 0xc19bf174cf692694ull,
    0xe49b69c19ef14ad2ull, 0xefbe4786384f25e3ull, 0x0fc19dc68b8cd5b5ull, 0x240ca1cc77ac9c65ull,
    0x2de92c6f592b0275ull, 0x4a7484aa6ea6e483ull, 0x5cb0a9dcbd41fbd4ull, 0x76f988da831153b5ull,
    0x983e5152ee66dfabull, 0xa831c66d2db43210ull, 0xb00327c898fb213full, 0xbf597fc7beef0ee4ull,
    0xc6e00bf33da88fc2ull, 0xd5a79147930aa725ull, 0x06ca6351e003826full, 0x142929670a0e6e70ull,
    0x27b70a8546d22ffcull, 0x2e1b21385c26c926ull, 0x4d2c6dfc5ac42aedull, 0x53380d139d95b3dfull,
    0x650a73548baf63deull, 0x766a0abb3c77b2a8ull, 0x81c2c92e47edaee6ull, 0x92722c851482353bull,
    0xa2bfe8a14cf10364ull, 0xa81a664bbc423001ull, 0xc24b8b70d0f89791ull, 0xc76c51a30654be30ull,
    0xd192e819d6ef5218ull, 0xd69906245565a910ull, 0xf40e35855771202aull, 0x106aa07032bbd1b8ull,
    0x19a4c116b8d2d0c8ull, 0x1e376c085141ab53ull, 0x2748774cdf8eeb99ull, 0x34b0bcb5e19b48a8ull,
    0x391c0cb3c5c95a63ull, 0x4ed8aa4ae3418acbull, 0x5b9cca4f7763e373ull, 0x682e6ff3d6b2b8a3ull,
    0x748f82ee5defb2fcull, 0x78a5636f43172f60ull, 0x84c87814a1f0ab72ull, 0x8cc702081a6439ecull,
    0x90befffa23631e28ull, 0xa4506cebde82bde9ull, 0xbef9a3f7b2c67915ull, 0xc67178f2e372532bull,
    0xca273eceea26619cull, 0xd186b8c721c0c207ull, 0xeada7dd6cde0eb1eull, 0xf57d4f7fee6ed178ull,
    0x06f067aa72176fbaull, 0x0a637dc5a2c898a6ull, 0x113f9804bef90daeull, 0x1b710b35131c471bull,
    0x28db77f523047d84ull, 0x32caab7b40c72493ull, 0x3c9ebe0a15c9bebcull, 0x431d67c49c100d4cull,
    0x4cc5d4becb3e42b6ull, 0x597f299cfc657e2aull, 0x5fcb6fab3ad6faecull, 0x6c44198c4a475817ull,
};

static const uint64_t sha512_iv[8] = {
    0x6a09e667f3bcc908ull, 0xbb67ae8584caa73bull, 0x3c6ef372fe94f82bull, 0xa54ff53a5f1d36f1ull,
    0x510e527fade682d1ull, 0x9b05688c2b3e6c1full, 0x1f83d9abfb41bd6bull, 0x5be0cd19137e2179ull,
};

static const uint64_t sha384_iv[8] = {
    0xcbbb9d5dc1059ed8ull, 0x629a292a367cd507ull, 0x9159015a3070dd17ull, 0x152fecd8f70e5939ull,
    0x67332667ffc00b31ull, 0x8eb44a8768581511ull, 0xdb0c2e0d64f98fa7ull, 0x47b5481dbefa4fa4ull,
};

static const uint32_t md5_t[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

static const struct {
    const char *name;
    size_t len, block;
} hash_table[] = {
    [HASH_MD5] = { "md5", 16, 64 },       [HASH_SHA1] = { "sha1", 20, 64 },
    [HASH_SHA224] = { "sha224", 28, 64 }, [HASH_SHA256] = { "sha256", 32, 64 },
    [HASH_SHA384] = { "sha384", 48, 128 }, [HASH_SHA512] = { "sha512", 64, 128 },
    [HASH_RIPEMD160] = { "ripemd160", 20, 64 },
};

int hash_alg_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof(hash_table) / sizeof(hash_table[0]); i++)
        if (!strcmp(name, hash_table[i].name))
            return (int)i;
    return -1;
}

const char *hash_alg_name(enum hash_alg alg)
{
    return hash_table[alg].name;
}

size_t hash_len(enum hash_alg alg)
{
    return hash_table[alg].len;
}

static uint32_t rol32(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static uint32_t ror32(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static uint64_t ror64(uint64_t x, int n)
{
    return (x >> n) | (x << (64 - n));
}

static void md5_block(uint32_t *h, const uint8_t *p)
{
    static const uint8_t rot[4][4] = { { 7, 12, 17, 22 }, { 5, 9, 14, 20 }, { 4, 11, 16, 23 },
                                       { 6, 10, 15, 21 } };
    uint32_t x[16], a = h[0], b = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 16; i++)
        x[i] = get_le32(p + 4 * i);
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g, r = i / 16;
        if (r == 0) {
            f = (b & c) | (~b & d);
            g = i;
        } else if (r == 1) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) % 16;
        } else if (r == 2) {
            f = b ^ c ^ d;
            g = (3 * i + 5) % 16;
        } else {
            f = c ^ (b | ~d);
            g = (7 * i) % 16;
        }
        uint32_t t = d;
        d = c;
        c = b;
        b = b + rol32(a + f + md5_t[i] + x[g], rot[r][i % 4]);
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
}

static void sha1_block(uint32_t *h, const uint8_t *p)
{
    uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 16; i++)
        w[i] = get_be32(p + 4 * i);
    for (int i = 16; i < 80; i++)
        w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }
        uint32_t t = rol32(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol32(b, 30);
        b = a;
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

static void sha256_block(uint32_t *h, const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = get_be32(p + 4 * i);
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) + ((e & f) ^ (~e & g)) +
                      sha256_k[i] + w[i];
        uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

#ifdef HAVE_SHANI
/* SHA-256 rounds with the x86 SHA extensions: the state kept as ABEF/CDGH, four message words
 * per group, the schedule by SHA256MSG1/MSG2. */
__attribute__((target("sha,sse4.1"))) static void sha256_block_ni(uint32_t *h, const uint8_t *p)
{
    const __m128i mask = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);
    __m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0xb1);
    __m128i st1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(h + 4)), 0x1b);
    __m128i st0 = _mm_alignr_epi8(tmp, st1, 8);
    st1 = _mm_blend_epi16(st1, tmp, 0xf0);
    __m128i save0 = st0, save1 = st1, w[16];
    for (int g = 0; g < 16; g++) {
        if (g < 4) {
            w[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), mask);
        } else {
            __m128i x = _mm_add_epi32(_mm_sha256msg1_epu32(w[g - 4], w[g - 3]),
                                      _mm_alignr_epi8(w[g - 1], w[g - 2], 4));
            w[g] = _mm_sha256msg2_epu32(x, w[g - 1]);
        }
        __m128i m = _mm_add_epi32(w[g], _mm_loadu_si128((const __m128i *)(sha256_k + 4 * g)));
        st1 = _mm_sha256rnds2_epu32(st1, st0, m);
        st0 = _mm_sha256rnds2_epu32(st0, st1, _mm_shuffle_epi32(m, 0x0e));
    }
    st0 = _mm_add_epi32(st0, save0);
    st1 = _mm_add_epi32(st1, save1);
    tmp = _mm_shuffle_epi32(st0, 0x1b);
    st1 = _mm_shuffle_epi32(st1, 0xb1);
    st0 = _mm_blend_epi16(tmp, st1, 0xf0);
    st1 = _mm_alignr_epi8(st1, tmp, 8);
    _mm_storeu_si128((__m128i *)h, st0);
    _mm_storeu_si128((__m128i *)(h + 4), st1);
}
#endif

static void sha512_block(uint64_t *h, const uint8_t *p)
{
    uint64_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = get_be64(p + 8 * i);
    for (int i = 16; i < 80; i++) {
        uint64_t s0 = ror64(w[i - 15], 1) ^ ror64(w[i - 15], 8) ^ (w[i - 15] >> 7);
        uint64_t s1 = ror64(w[i - 2], 19) ^ ror64(w[i - 2], 61) ^ (w[i - 2] >> 6);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint64_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 80; i++) {
        uint64_t t1 = hh + (ror64(e, 14) ^ ror64(e, 18) ^ ror64(e, 41)) + ((e & f) ^ (~e & g)) +
                      sha512_k[i] + w[i];
        uint64_t t2 = (ror64(a, 28) ^ ror64(a, 34) ^ ror64(a, 39)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

/* RIPEMD-160: two parallel lines of five rounds each, message word order and rotations per step. */
static const uint8_t rmd_r[2][80] = {
    { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 7, 4, 13, 1, 10, 6, 15, 3, 12, 0, 9, 5,
      2, 14, 11, 8, 3, 10, 14, 4, 9, 15, 8, 1, 2, 7, 0, 6, 13, 11, 5, 12, 1, 9, 11, 10, 0, 8, 12, 4,
      13, 3, 7, 15, 14, 5, 6, 2, 4, 0, 5, 9, 7, 12, 2, 10, 14, 1, 3, 8, 11, 6, 15, 13 },
    { 5, 14, 7, 0, 9, 2, 11, 4, 13, 6, 15, 8, 1, 10, 3, 12, 6, 11, 3, 7, 0, 13, 5, 10, 14, 15, 8, 12,
      4, 9, 1, 2, 15, 5, 1, 3, 7, 14, 6, 9, 11, 8, 12, 2, 10, 0, 4, 13, 8, 6, 4, 1, 3, 11, 15, 0, 5,
      12, 2, 13, 9, 7, 10, 14, 12, 15, 10, 4, 1, 5, 8, 7, 6, 2, 13, 14, 0, 3, 9, 11 },
};
static const uint8_t rmd_s[2][80] = {
    { 11, 14, 15, 12, 5, 8, 7, 9, 11, 13, 14, 15, 6, 7, 9, 8, 7, 6, 8, 13, 11, 9, 7, 15, 7, 12, 15, 9,
      11, 7, 13, 12, 11, 13, 6, 7, 14, 9, 13, 15, 14, 8, 13, 6, 5, 12, 7, 5, 11, 12, 14, 15, 14, 15,
      9, 8, 9, 14, 5, 6, 8, 6, 5, 12, 9, 15, 5, 11, 6, 8, 13, 12, 5, 12, 13, 14, 11, 8, 5, 6 },
    { 8, 9, 9, 11, 13, 15, 15, 5, 7, 7, 8, 11, 14, 14, 12, 6, 9, 13, 15, 7, 12, 8, 9, 11, 7, 7, 12, 7,
      6, 15, 13, 11, 9, 7, 15, 11, 8, 6, 6, 14, 12, 13, 5, 14, 13, 13, 7, 5, 15, 5, 8, 11, 14, 14, 6,
      14, 6, 9, 12, 9, 12, 5, 15, 8, 8, 5, 12, 9, 12, 5, 14, 6, 8, 13, 6, 5, 15, 13, 11, 11 },
};
static const uint32_t rmd_k[2][5] = {
    { 0x00000000, 0x5a827999, 0x6ed9eba1, 0x8f1bbcdc, 0xa953fd4e },
    { 0x50a28be6, 0x5c4dd124, 0x6d703ef3, 0x7a6d76e9, 0x00000000 },
};

static uint32_t rmd_f(int j, uint32_t x, uint32_t y, uint32_t z)
{
    switch (j) {
    case 0: return x ^ y ^ z;
    case 1: return (x & y) | (~x & z);
    case 2: return (x | ~y) ^ z;
    case 3: return (x & z) | (y & ~z);
    default: return x ^ (y | ~z);
    }
}

static void ripemd160_block(uint32_t *h, const uint8_t *p)
{
    uint32_t x[16], v[2][5];
    for (int i = 0; i < 16; i++)
        x[i] = get_le32(p + 4 * i);
    for (int line = 0; line < 2; line++) {
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; i++) {
            int round = i / 16, f = line ? 4 - round : round;
            uint32_t t = rol32(a + rmd_f(f, b, c, d) + x[rmd_r[line][i]] + rmd_k[line][round],
                               rmd_s[line][i]) + e;
            a = e;
            e = d;
            d = rol32(c, 10);
            c = b;
            b = t;
        }
        v[line][0] = a;
        v[line][1] = b;
        v[line][2] = c;
        v[line][3] = d;
        v[line][4] = e;
    }
    uint32_t t = h[1] + v[0][2] + v[1][3];
    h[1] = h[2] + v[0][3] + v[1][4];
    h[2] = h[3] + v[0][4] + v[1][0];
    h[3] = h[4] + v[0][0] + v[1][1];
    h[4] = h[0] + v[0][1] + v[1][2];
    h[0] = t;
}

static void hash_block(struct hash_ctx *c, const uint8_t *p)
{
    switch (c->alg) {
    case HASH_MD5: md5_block(c->h32, p); break;
    case HASH_SHA1: sha1_block(c->h32, p); break;
    case HASH_SHA224:
    case HASH_SHA256:
#ifdef HAVE_SHANI
        if (c->ni) {
            sha256_block_ni(c->h32, p);
            break;
        }
#endif
        sha256_block(c->h32, p);
        break;
    case HASH_SHA384:
    case HASH_SHA512: sha512_block(c->h64, p); break;
    case HASH_RIPEMD160: ripemd160_block(c->h32, p); break;
    }
}

void hash_init(struct hash_ctx *c, enum hash_alg alg)
{
    static const uint32_t md_iv[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 };
    static const uint32_t sha224_iv[8] = { 0xc1059ed8, 0x367cd507, 0x3070dd17, 0xf70e5939,
                                           0xffc00b31, 0x68581511, 0x64f98fa7, 0xbefa4fa4 };
    static const uint32_t sha256_iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                           0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
    memset(c, 0, sizeof(*c));
    c->alg = alg;
#ifdef HAVE_SHANI
    c->ni = __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1");
#endif
    switch (alg) {
    case HASH_MD5: memcpy(c->h32, md_iv, 16); break;
    case HASH_SHA1:
    case HASH_RIPEMD160: memcpy(c->h32, md_iv, 20); break;
    case HASH_SHA224: memcpy(c->h32, sha224_iv, 32); break;
    case HASH_SHA256: memcpy(c->h32, sha256_iv, 32); break;
    case HASH_SHA384: memcpy(c->h64, sha384_iv, 64); break;
    case HASH_SHA512: memcpy(c->h64, sha512_iv, 64); break;
    }
}

void hash_update(struct hash_ctx *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t block = hash_table[c->alg].block;
    c->total += len;
    if (c->buf_len) {
        size_t n = block - c->buf_len < len ? block - c->buf_len : len;
        memcpy(c->buf + c->buf_len, p, n);
        c->buf_len += n;
        p += n;
        len -= n;
        if (c->buf_len < block)
            return;
        hash_block(c, c->buf);
        c->buf_len = 0;
    }
    for (; len >= block; p += block, len -= block)
        hash_block(c, p);
    memcpy(c->buf, p, len);
    c->buf_len = len;
}

void hash_final(struct hash_ctx *c, uint8_t *out)
{
    size_t block = hash_table[c->alg].block, lenbytes = block == 128 ? 16 : 8;
    bool le = c->alg == HASH_MD5 || c->alg == HASH_RIPEMD160;
    uint64_t bits = c->total * 8;
    uint8_t pad[128 + 16] = { 0x80 };
    size_t pad_len = (c->buf_len < block - lenbytes ? block : 2 * block) - lenbytes - c->buf_len;
    if (le)
        put_le64(pad + pad_len, bits);
    else
        put_be64(pad + pad_len + lenbytes - 8, bits); /* 128-bit lengths: the high half is 0 */
    hash_update(c, pad, pad_len + lenbytes);
    size_t n = hash_table[c->alg].len;
    for (size_t i = 0; i < n / 4 && (c->alg != HASH_SHA384 && c->alg != HASH_SHA512); i++) {
        if (le)
            put_le32(out + 4 * i, c->h32[i]);
        else
            put_be32(out + 4 * i, c->h32[i]);
    }
    for (size_t i = 0; i < n / 8 && (c->alg == HASH_SHA384 || c->alg == HASH_SHA512); i++)
        put_be64(out + 8 * i, c->h64[i]);
}

void hash_buf(enum hash_alg alg, const void *data, size_t len, uint8_t *out)
{
    struct hash_ctx c;
    hash_init(&c, alg);
    hash_update(&c, data, len);
    hash_final(&c, out);
}

/* HMAC with the inner and outer key states prepared once (PBKDF2 reuses them every round). */
struct hmac {
    struct hash_ctx inner, outer;
};

static void hmac_init(struct hmac *h, enum hash_alg alg, const uint8_t *key, size_t key_len)
{
    size_t block = hash_table[alg].block;
    uint8_t k[128] = { 0 }, pad[128];
    if (key_len > block)
        hash_buf(alg, key, key_len, k);
    else
        memcpy(k, key, key_len);
    for (size_t i = 0; i < block; i++)
        pad[i] = k[i] ^ 0x36;
    hash_init(&h->inner, alg);
    hash_update(&h->inner, pad, block);
    for (size_t i = 0; i < block; i++)
        pad[i] = k[i] ^ 0x5c;
    hash_init(&h->outer, alg);
    hash_update(&h->outer, pad, block);
}

static void hmac_run(const struct hmac *h, const uint8_t *a, size_t a_len, const uint8_t *b,
                     size_t b_len, uint8_t *out)
{
    struct hash_ctx c = h->inner;
    uint8_t inner[HASH_MAX_LEN];
    hash_update(&c, a, a_len);
    if (b_len)
        hash_update(&c, b, b_len);
    hash_final(&c, inner);
    c = h->outer;
    hash_update(&c, inner, hash_table[h->inner.alg].len);
    hash_final(&c, out);
}

/* One PBKDF2 output block: T_i = U_1 ^ ... ^ U_c. */
struct pbkdf2_block {
    const struct hmac *h;
    const uint8_t *salt;
    size_t salt_len;
    uint32_t index, iterations;
    uint8_t t[HASH_MAX_LEN];
};

static void *pbkdf2_block_run(void *opaque)
{
    struct pbkdf2_block *b = opaque;
    size_t dlen = hash_table[b->h->inner.alg].len;
    uint8_t ctr[4], u[HASH_MAX_LEN];
    put_be32(ctr, b->index);
    hmac_run(b->h, b->salt, b->salt_len, ctr, 4, u);
    memcpy(b->t, u, dlen);
    for (uint32_t i = 1; i < b->iterations; i++) {
        hmac_run(b->h, u, dlen, NULL, 0, u);
        for (size_t j = 0; j < dlen; j++)
            b->t[j] ^= u[j];
    }
    return NULL;
}

/* The output blocks are independent: with more than one (a 64-byte XTS key from a 32-byte
 * digest) they run on threads, which halves the wait for a LUKS key slot. */
void pbkdf2(enum hash_alg alg, const uint8_t *pass, size_t pass_len, const uint8_t *salt,
            size_t salt_len, uint32_t iterations, uint8_t *out, size_t out_len)
{
    struct hmac h;
    size_t dlen = hash_table[alg].len, nblocks = (out_len + dlen - 1) / dlen;
    struct pbkdf2_block b[8];
    pthread_t tid[8];
    bool threaded[8] = { false };
    hmac_init(&h, alg, pass, pass_len);
    for (size_t done = 0; done < nblocks;) {
        size_t batch = nblocks - done < 8 ? nblocks - done : 8;
        for (size_t i = 0; i < batch; i++) {
            b[i] = (struct pbkdf2_block){ .h = &h, .salt = salt, .salt_len = salt_len,
                                          .index = (uint32_t)(done + i + 1),
                                          .iterations = iterations };
            threaded[i] = i > 0 && iterations > 1000 &&
                          pthread_create(&tid[i], NULL, pbkdf2_block_run, &b[i]) == 0;
        }
        pbkdf2_block_run(&b[0]);
        for (size_t i = 1; i < batch; i++) {
            if (threaded[i])
                pthread_join(tid[i], NULL);
            else
                pbkdf2_block_run(&b[i]);
        }
        for (size_t i = 0; i < batch; i++) {
            size_t n = out_len < dlen ? out_len : dlen;
            memcpy(out, b[i].t, n);
            out += n;
            out_len -= n;
        }
        done += batch;
    }
}
