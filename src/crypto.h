/* The cryptographic primitives encrypted images (LUKS1, qcow and qcow2 AES) need, written out
 * because only zlib, zstd and json-c may be linked: AES (FIPS-197) with the ECB, CBC, CTR and XTS
 * (IEEE 1619) modes, qemu's sector IV generators (plain, plain64, essiv), the digests LUKS names
 * (MD5, SHA-1, SHA-224/256/384/512, RIPEMD-160), HMAC (RFC 2104) and PBKDF2 (RFC 8018). */
#ifndef FLATIMG_CRYPTO_H
#define FLATIMG_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- AES (crypto.c) ---- */

struct aes_key {
    uint32_t ek[60], dk[60];          /* encryption and equivalent-inverse round keys */
    int rounds;
    uint32_t te[256], td[256];        /* round tables (one column; the others are rotations) */
    uint8_t sbox[256], inv_sbox[256];
    uint8_t ekb[15 * 16], dkb[15 * 16]; /* the round keys as bytes, for the AES instructions */
    bool ni;                          /* the CPU has AES instructions (x86 AES-NI) */
};

/* key_len 16, 24 or 32; returns -1 otherwise. */
int aes_set_key(struct aes_key *k, const uint8_t *key, size_t key_len);
void aes_encrypt_block(const struct aes_key *k, const uint8_t in[16], uint8_t out[16]);
void aes_decrypt_block(const struct aes_key *k, const uint8_t in[16], uint8_t out[16]);

/* Serpent with 128-, 192- or 256-bit keys (key_len 16, 24, 32; -1 otherwise). */
struct serpent_key {
    uint32_t k[132];
};
int serpent_set_key(struct serpent_key *k, const uint8_t *key, size_t key_len);
void serpent_encrypt_block(const struct serpent_key *k, const uint8_t in[16], uint8_t out[16]);
void serpent_decrypt_block(const struct serpent_key *k, const uint8_t in[16], uint8_t out[16]);

/* Twofish with 128-, 192- or 256-bit keys. */
struct twofish_key {
    uint32_t k[40];         /* whitening and round subkeys */
    uint32_t s[4][256];     /* key-dependent S-boxes with the MDS matrix applied */
    uint8_t q[2][256];      /* the fixed permutations q0 and q1 */
};
int twofish_set_key(struct twofish_key *k, const uint8_t *key, size_t key_len);
void twofish_encrypt_block(const struct twofish_key *k, const uint8_t in[16], uint8_t out[16]);
void twofish_decrypt_block(const struct twofish_key *k, const uint8_t in[16], uint8_t out[16]);

/* The 128-bit block ciphers behind one interface. */
enum block_alg { BLOCK_AES, BLOCK_SERPENT, BLOCK_TWOFISH };
struct block_key {
    enum block_alg alg;
    union {
        struct aes_key aes;
        struct serpent_key serpent;
        struct twofish_key twofish;
    } u;
};
int block_set_key(struct block_key *k, enum block_alg alg, const uint8_t *key, size_t key_len);
void block_encrypt(const struct block_key *k, const uint8_t in[16], uint8_t out[16]);
void block_decrypt(const struct block_key *k, const uint8_t in[16], uint8_t out[16]);

/* A block-device cipher as qemu's crypto layer applies it: a mode and an IV generator over
 * fixed-size sectors, each sector's IV derived from its number. */
enum cipher_mode { CIPHER_MODE_ECB, CIPHER_MODE_CBC, CIPHER_MODE_XTS, CIPHER_MODE_CTR };
enum ivgen_alg { IVGEN_PLAIN, IVGEN_PLAIN64, IVGEN_ESSIV };
struct sector_cipher {
    enum cipher_mode mode;
    enum ivgen_alg ivgen;
    size_t sector_size;
    struct block_key key, tweak, essiv;
};
/* key is key_len bytes (both XTS halves); essiv_key is the hash of key (ESSIV only). Returns -1
 * for a key length the cipher cannot take. */
int sector_cipher_init(struct sector_cipher *c, enum block_alg alg, enum cipher_mode mode,
                       enum ivgen_alg ivgen, size_t sector_size, const uint8_t *key,
                       size_t key_len, const uint8_t *essiv_key, size_t essiv_len);
/* qemu's legacy qcow/qcow2 "aes" encryption: AES-128-CBC with plain64 IVs over 512-byte sectors,
 * keyed by the passphrase's first 16 bytes (up to a NUL), zero-padded. */
void sector_cipher_init_qcow_aes(struct sector_cipher *c, const uint8_t *pass, size_t pass_len);
/* len is a multiple of sector_size; the first sector is number `sector`. */
void sector_cipher_encrypt(const struct sector_cipher *c, uint64_t sector, uint8_t *buf,
                           size_t len);
void sector_cipher_decrypt(const struct sector_cipher *c, uint64_t sector, uint8_t *buf,
                           size_t len);

/* ---- digests (hash.c) ---- */

enum hash_alg { HASH_MD5, HASH_SHA1, HASH_SHA224, HASH_SHA256, HASH_SHA384, HASH_SHA512,
                HASH_RIPEMD160 };
#define HASH_MAX_LEN 64
struct hash_ctx {
    enum hash_alg alg;
    uint32_t h32[8];
    uint64_t h64[8];
    uint8_t buf[128];
    size_t buf_len;
    uint64_t total;
    bool ni;                /* SHA-256 through the CPU's SHA instructions */
};
/* The algorithm named as qemu and LUKS name it ("sha256"), or -1. */
int hash_alg_from_name(const char *name);
const char *hash_alg_name(enum hash_alg alg);
size_t hash_len(enum hash_alg alg);
void hash_init(struct hash_ctx *c, enum hash_alg alg);
void hash_update(struct hash_ctx *c, const void *data, size_t len);
void hash_final(struct hash_ctx *c, uint8_t *out);
void hash_buf(enum hash_alg alg, const void *data, size_t len, uint8_t *out);
void pbkdf2(enum hash_alg alg, const uint8_t *pass, size_t pass_len, const uint8_t *salt,
            size_t salt_len, uint32_t iterations, uint8_t *out, size_t out_len);

#endif
