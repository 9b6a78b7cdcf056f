/* The cryptographic primitives encrypted images (LUKS1, qcow and qcow2 AES) need, written out
 * because only zlib, zstd and json-c may be linked: AES (FIPS-197), XTS (IEEE 1619), CBC, CTR,
 * SHA-256 (FIPS 180-4), HMAC (RFC 2104), PBKDF2 (RFC 8018), and qemu's sector IV generators. */
#ifndef FLATIMG_CRYPTO_H
#define FLATIMG_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

struct aes_key {
    uint8_t round_keys[15 * 16];
    int rounds;
    uint8_t sbox[256], inv_sbox[256];
};

/* key_len 16, 24 or 32; returns -1 otherwise. */
int aes_set_key(struct aes_key *k, const uint8_t *key, size_t key_len);
void aes_encrypt_block(const struct aes_key *k, const uint8_t in[16], uint8_t out[16]);
void aes_decrypt_block(const struct aes_key *k, const uint8_t in[16], uint8_t out[16]);

/* XTS with a 64-bit little-endian sector number as the tweak (LUKS "xts-plain64"); len is a
 * multiple of 16. */
void xts_decrypt(const struct aes_key *data, const struct aes_key *tweak, uint64_t sector,
                 const uint8_t *in, uint8_t *out, size_t len);
void xts_encrypt(const struct aes_key *data, const struct aes_key *tweak, uint64_t sector,
                 const uint8_t *in, uint8_t *out, size_t len);

#define SHA256_LEN 32
struct sha256 {
    uint32_t h[8];
    uint8_t buf[64];
    size_t buf_len;
    uint64_t total;
};
void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t len);
void sha256_final(struct sha256 *c, uint8_t out[SHA256_LEN]);

void pbkdf2_sha256(const uint8_t *pass, size_t pass_len, const uint8_t *salt, size_t salt_len,
                   uint32_t iterations, uint8_t *out, size_t out_len);

/* A block-device cipher as qemu's crypto layer applies it: a mode and an IV generator over
 * fixed-size sectors, each sector's IV derived from its number. */
enum cipher_mode { CIPHER_MODE_ECB, CIPHER_MODE_CBC, CIPHER_MODE_XTS, CIPHER_MODE_CTR };
enum ivgen_alg { IVGEN_PLAIN, IVGEN_PLAIN64, IVGEN_ESSIV };
struct sector_cipher {
    enum cipher_mode mode;
    enum ivgen_alg ivgen;
    size_t sector_size;
    struct aes_key key, tweak, essiv;
};
/* key is key_len bytes (both XTS halves); essiv_key is the hash of key (ESSIV only). Returns -1
 * for a key length AES cannot take. */
int sector_cipher_init(struct sector_cipher *c, enum cipher_mode mode, enum ivgen_alg ivgen,
                       size_t sector_size, const uint8_t *key, size_t key_len,
                       const uint8_t *essiv_key, size_t essiv_len);
/* qemu's legacy qcow/qcow2 "aes" encryption: AES-128-CBC with plain64 IVs over 512-byte sectors,
 * keyed by the passphrase's first 16 bytes (up to a NUL), zero-padded. */
void sector_cipher_init_qcow_aes(struct sector_cipher *c, const uint8_t *pass, size_t pass_len);
/* len is a multiple of sector_size; the first sector is number `sector`. */
void sector_cipher_encrypt(const struct sector_cipher *c, uint64_t sector, uint8_t *buf,
                           size_t len);
void sector_cipher_decrypt(const struct sector_cipher *c, uint64_t sector, uint8_t *buf,
                           size_t len);

#endif
