/* LUKS version 1 (the LUKS1 on-disk format with qemu 7.2's crypto/block-luks.c behaviour): header
 * parsing and checks, unlocking a key slot, formatting a new header, and the payload sector cipher.
 * Shared by the luks driver and qcow2's encrypt.format=luks, which keeps the header in clusters. */
#ifndef FLATIMG_LUKS_H
#define FLATIMG_LUKS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "error.h"
#include "opts.h"

#define LUKS_HEADER_SIZE 592
#define LUKS_SECTOR 512

struct luks {
    uint8_t h[LUKS_HEADER_SIZE];
    /* qemu's names for the header's algorithms, as `info` prints them */
    const char *cipher_alg, *cipher_mode, *ivgen_alg, *ivgen_hash, *hash_alg;
    uint64_t payload_offset; /* bytes from the start of the header */
    bool unlocked;
    struct sector_cipher cipher; /* valid once unlocked */
    uint8_t master_key[64];      /* valid once unlocked (amend adds key slots with it) */
};

/* Reads (writes) len bytes at off, counted from the start of the LUKS header. */
typedef int (*luks_read_fn)(void *opaque, uint64_t off, uint64_t len, void *buf);
typedef int (*luks_write_fn)(void *opaque, uint64_t off, uint64_t len, const void *buf);

/* Check a header (LUKS_HEADER_SIZE bytes) as qemu does on open, with qemu's messages. */
int luks_parse(struct luks *l, const uint8_t *hdr, struct error **errp);
/* Find the key slot the passphrase opens and set up the payload cipher. */
int luks_unlock(struct luks *l, const uint8_t *pass, size_t pass_len, luks_read_fn read,
                void *opaque, struct error **errp);
/* Whole payload sectors, numbered from `sector` (qemu's IV sector numbers); len % 512 == 0. */
void luks_decrypt(const struct luks *l, uint64_t sector, uint8_t *buf, size_t len);
void luks_encrypt(const struct luks *l, uint64_t sector, uint8_t *buf, size_t len);
/* The "data" object of qemu's format-specific info for a LUKS header (QCryptoBlockInfoLUKS). */
json_object *luks_info_json(const struct luks *l);

/* Creation parameters: qemu's QCryptoBlockCreateOptionsLUKS. */
struct luks_params {
    const char *cipher_alg, *cipher_mode, *ivgen_alg, *ivgen_hash, *hash_alg;
    uint64_t iter_ms;
};
/* Read the parameters from opts, each key prefixed by `prefix` ("" or "encrypt."). */
int luks_params_from_opts(const struct opts *opts, const char *prefix, struct luks_params *p,
                          struct error **errp);

/* Bytes a new header with these parameters puts before the payload (header, key material). */
uint64_t luks_payload_bytes(const struct luks_params *p);

/* A new header with key slot 0 holding the passphrase: `area` (payload_offset bytes, zeros where
 * nothing is written) is the header followed by the key material; l is opened and unlocked. */
struct luks_new {
    uint8_t *area;
    size_t area_len;
    uint64_t material_offset, material_len; /* slot 0's key material within area */
};
int luks_format(struct luks *l, const struct luks_params *p, const uint8_t *pass,
                size_t pass_len, struct luks_new *out, struct error **errp);
void luks_new_free(struct luks_new *n);

/* Key slot management (qemu's QCryptoBlockAmendOptionsLUKS): the options state, keyslot,
 * old-secret, new-secret and iter-time, each prefixed by `prefix`, on an unlocked header. */
int luks_amend(struct luks *l, const struct opts *opts, const char *prefix, bool force,
               luks_read_fn read, luks_write_fn write, void *opaque, struct error **errp);

#endif
