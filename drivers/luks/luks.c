/* LUKS version 1 encrypted images (the LUKS1 on-disk format, qemu 7.2's block/crypto.c and
 * crypto/block-luks.c behaviour): probe, header and key-slot checks, the "format-specific" info
 * qemu prints, unlocking a key slot with the --object secret named by key-secret, and reading and
 * writing aes-xts-plain64 data (qemu's default; other ciphers are inspected only). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "bswap.h"
#include "crypto.h"
#include "file.h"
#include "node.h"
#include "object.h"

#define LUKS_MAGIC "LUKS\xba\xbe"
#define LUKS_HEADER_SIZE 592
#define LUKS_SLOTS 8
#define LUKS_SLOT_ENABLED 0x00AC71F3u
#define LUKS_SLOT_DISABLED 0x0000DEADu
#define LUKS_STRIPES 4000
#define LUKS_SECTOR 512

enum { OFF_VERSION = 6, OFF_CIPHER = 8, OFF_MODE = 40, OFF_HASH = 72, OFF_PAYLOAD = 104,
       OFF_KEY_BYTES = 108, OFF_MK_ITERS = 164, OFF_UUID = 168, OFF_SLOTS = 208, SLOT_SIZE = 48 };

struct luks_state {
    uint8_t h[LUKS_HEADER_SIZE];
    const char *cipher_alg, *cipher_mode, *ivgen_alg, *ivgen_hash, *hash_alg;
    uint64_t payload_offset;
    bool unlocked;
    struct aes_key data_key, tweak_key;
};

static const struct opt_desc luks_open_opts[] = {
    { "key-secret", OPT_STRING, "ID of the secret that provides the keyslot passphrase", NULL },
    { NULL, 0, NULL, NULL },
};

static const struct opt_desc luks_create_opts[] = {
    { "size", OPT_SIZE, "Virtual disk size", NULL },
    { "key-secret", OPT_STRING, "ID of the secret that provides the keyslot passphrase", NULL },
    { "cipher-alg", OPT_STRING, "Name of encryption cipher algorithm", NULL },
    { "cipher-mode", OPT_STRING, "Name of encryption cipher mode", NULL },
    { "ivgen-alg", OPT_STRING, "Name of IV generator algorithm", NULL },
    { "ivgen-hash-alg", OPT_STRING, "Name of IV generator hash algorithm", NULL },
    { "hash-alg", OPT_STRING, "Name of encryption hash algorithm", NULL },
    { "iter-time", OPT_NUMBER, "Time to spend in PBKDF in milliseconds", NULL },
    { NULL, 0, NULL, NULL },
};

static int luks_probe(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    return len >= LUKS_HEADER_SIZE && !memcmp(buf, LUKS_MAGIC, 6) && get_be16(buf + 6) == 1
               ? 100 : 0;
}

/* A NUL-terminated copy of a fixed-size header string. */
static void header_string(const uint8_t *field, size_t size, char *out)
{
    memcpy(out, field, size);
    out[size] = '\0';
}

static const char *cipher_alg_name(const char *cipher, uint32_t key_bytes)
{
    static const struct { const char *name; uint32_t bytes; const char *alg; } table[] = {
        { "aes", 16, "aes-128" }, { "aes", 24, "aes-192" }, { "aes", 32, "aes-256" },
        { "cast5", 16, "cast5-128" }, { "serpent", 16, "serpent-128" },
        { "serpent", 24, "serpent-192" }, { "serpent", 32, "serpent-256" },
        { "twofish", 16, "twofish-128" }, { "twofish", 24, "twofish-192" },
        { "twofish", 32, "twofish-256" }, { "sm4", 16, "sm4" },
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (!strcmp(cipher, table[i].name) && key_bytes == table[i].bytes)
            return table[i].alg;
    return NULL;
}

static const char *hash_name(const char *s)
{
    static const char *const names[] = { "md5", "sha1", "sha224", "sha256", "sha384", "sha512",
                                         "ripemd160" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(s, names[i]))
            return names[i];
    return NULL;
}

static const char *mode_name(const char *s)
{
    static const char *const names[] = { "ecb", "cbc", "xts", "ctr" };
    for (size_t i = 0; i < 4; i++)
        if (!strcmp(s, names[i]))
            return names[i];
    return NULL;
}

/* "xts-plain64", "cbc-essiv:sha256": the mode, the cipher with its key size (halved by XTS),
 * the IV generator and its hash, checked in that order. */
static int luks_parse_mode(struct luks_state *s, char *spec, const char *cipher,
                           uint32_t *key_bytes, struct error **errp)
{
    char *dash = strchr(spec, '-');
    if (!dash) {
        error_setg(errp, "Unexpected cipher mode string format '%s'", spec);
        return -EINVAL;
    }
    *dash = '\0';
    char *ivgen = dash + 1, *colon = strchr(ivgen, ':');
    if (colon)
        *colon = '\0';
    if (!(s->cipher_mode = mode_name(spec))) {
        error_setg(errp, "Cipher mode '%s' not supported", spec);
        return -ENOTSUP;
    }
    if (!strcmp(s->cipher_mode, "xts"))
        *key_bytes /= 2;
    if (!(s->cipher_alg = cipher_alg_name(cipher, *key_bytes))) {
        error_setg(errp, "Algorithm '%s' with key size %" PRIu32 " bytes not supported", cipher,
                   *key_bytes);
        return -ENOTSUP;
    }
    static const char *const ivgens[] = { "plain", "plain64", "essiv" };
    for (int i = 0; i < 3; i++)
        if (!strcmp(ivgen, ivgens[i]))
            s->ivgen_alg = ivgens[i];
    if (!s->ivgen_alg) {
        error_setg(errp, "IV generator '%s' not supported", ivgen);
        return -ENOTSUP;
    }
    if (!strcmp(s->ivgen_alg, "essiv")) {
        if (!colon) {
            error_setg(errp, "Missing IV generator hash specification");
            return -EINVAL;
        }
        if (!(s->ivgen_hash = hash_name(colon + 1))) {
            error_setg(errp, "Hash algorithm '%s' not supported", colon + 1);
            return -ENOTSUP;
        }
    }
    return 0;
}

static int luks_parse_algs(struct luks_state *s, struct error **errp)
{
    char cipher[33], mode[33], hash[33];
    header_string(s->h + OFF_CIPHER, 32, cipher);
    header_string(s->h + OFF_MODE, 32, mode);
    header_string(s->h + OFF_HASH, 32, hash);
    uint32_t key_bytes = get_be32(s->h + OFF_KEY_BYTES);
    int ret = luks_parse_mode(s, mode, cipher, &key_bytes, errp);
    if (ret < 0)
        return ret;
    if (!(s->hash_alg = hash_name(hash))) {
        error_setg(errp, "Hash algorithm '%s' not supported", hash);
        return -ENOTSUP;
    }
    return 0;
}

/* Key slots must be well formed and lie between the header and the payload, apart. */
static int luks_check_slots(struct luks_state *s, struct error **errp)
{
    uint64_t key_bytes = get_be32(s->h + OFF_KEY_BYTES);
    uint64_t header_sectors = (LUKS_HEADER_SIZE + LUKS_SECTOR - 1) / LUKS_SECTOR;
    uint64_t start[LUKS_SLOTS], end[LUKS_SLOTS];
    for (int i = 0; i < LUKS_SLOTS; i++) {
        const uint8_t *k = s->h + OFF_SLOTS + SLOT_SIZE * i;
        uint32_t stripes = get_be32(k + 44);
        if (stripes != LUKS_STRIPES) {
            error_setg(errp, "Keyslot %d is corrupted (stripes %" PRIu32 " != %d)", i, stripes,
                       LUKS_STRIPES);
            return -EINVAL;
        }
        start[i] = get_be32(k + 40);
        end[i] = start[i] + (key_bytes * stripes + LUKS_SECTOR - 1) / LUKS_SECTOR;
        if (start[i] < header_sectors) {
            error_setg(errp, "Keyslot %d is overlapping with the LUKS header", i);
            return -EINVAL;
        }
        if (end[i] > get_be32(s->h + OFF_PAYLOAD)) {
            error_setg(errp, "Keyslot %d is overlapping with the encrypted payload", i);
            return -EINVAL;
        }
        for (int j = 0; j < i; j++) {
            if (start[i] < end[j] && start[j] < end[i]) {
                error_setg(errp, "Keyslots %d and %d are overlapping in the header", j, i);
                return -EINVAL;
            }
        }
    }
    return 0;
}

/* LUKS1 anti-forensic diffusion: each digest-sized piece hashed with its index in front. */
static void af_diffuse(uint8_t *buf, size_t len)
{
    for (size_t i = 0; i * SHA256_LEN < len; i++) {
        size_t n = len - i * SHA256_LEN < SHA256_LEN ? len - i * SHA256_LEN : SHA256_LEN;
        uint8_t ctr[4], out[SHA256_LEN];
        struct sha256 c;
        put_be32(ctr, (uint32_t)i);
        sha256_init(&c);
        sha256_update(&c, ctr, 4);
        sha256_update(&c, buf + i * SHA256_LEN, n);
        sha256_final(&c, out);
        memcpy(buf + i * SHA256_LEN, out, n);
    }
}

static int set_xts_keys(struct luks_state *s, const uint8_t *key, size_t key_bytes,
                        struct aes_key *data, struct aes_key *tweak)
{
    (void)s;
    if (aes_set_key(data, key, key_bytes / 2) < 0 ||
        aes_set_key(tweak, key + key_bytes / 2, key_bytes / 2) < 0)
        return -EINVAL;
    return 0;
}

/* Try one active key slot: derive its key, decrypt and merge the stripes, check the digest. */
static int luks_try_slot(struct node *n, struct luks_state *s, int slot, const uint8_t *pass,
                         size_t pass_len, uint8_t *mk)
{
    const uint8_t *k = s->h + OFF_SLOTS + SLOT_SIZE * slot;
    size_t key_bytes = get_be32(s->h + OFF_KEY_BYTES);
    size_t material = (key_bytes * LUKS_STRIPES + LUKS_SECTOR - 1) / LUKS_SECTOR * LUKS_SECTOR;
    uint8_t slot_key[64], digest[20];
    struct aes_key dk, tk;
    pbkdf2_sha256(pass, pass_len, k + 8, 32, get_be32(k + 4), slot_key, key_bytes);
    uint8_t *buf = malloc(material);
    if (!buf)
        return -ENOMEM;
    int ret = set_xts_keys(s, slot_key, key_bytes, &dk, &tk);
    if (ret == 0)
        ret = node_pread(n->file, (uint64_t)get_be32(k + 40) * LUKS_SECTOR, material, buf);
    if (ret == 0) {
        for (size_t sec = 0; sec < material / LUKS_SECTOR; sec++)
            xts_decrypt(&dk, &tk, sec, buf + sec * LUKS_SECTOR, buf + sec * LUKS_SECTOR,
                        LUKS_SECTOR);
        memset(mk, 0, key_bytes);
        for (size_t i = 0; i < LUKS_STRIPES - 1; i++) {
            for (size_t j = 0; j < key_bytes; j++)
                mk[j] ^= buf[i * key_bytes + j];
            af_diffuse(mk, key_bytes);
        }
        for (size_t j = 0; j < key_bytes; j++)
            mk[j] ^= buf[(LUKS_STRIPES - 1) * key_bytes + j];
        pbkdf2_sha256(mk, key_bytes, s->h + 132, 32, get_be32(s->h + OFF_MK_ITERS), digest, 20);
        ret = memcmp(digest, s->h + 112, 20) ? 1 : 0;
    }
    free(buf);
    return ret;
}

static int luks_unlock(struct node *n, struct luks_state *s, const char *secret_id,
                       struct error **errp)
{
    const uint8_t *pass;
    size_t pass_len;
    if (secret_lookup(secret_id, &pass, &pass_len, errp) < 0)
        return -EINVAL;
    if (strcmp(s->cipher_mode, "xts") || strcmp(s->ivgen_alg, "plain64") ||
        strncmp(s->cipher_alg, "aes-", 4) || strcmp(s->hash_alg, "sha256")) {
        error_setg(errp, "flatimg can only decrypt aes-xts-plain64 LUKS images with sha256");
        return -ENOTSUP;
    }
    uint8_t mk[64];
    size_t key_bytes = get_be32(s->h + OFF_KEY_BYTES);
    for (int i = 0; i < LUKS_SLOTS; i++) {
        if (get_be32(s->h + OFF_SLOTS + SLOT_SIZE * i) != LUKS_SLOT_ENABLED)
            continue;
        int ret = luks_try_slot(n, s, i, pass, pass_len, mk);
        if (ret < 0) {
            error_setg_errno(errp, ret, "Unable to read key slot %d", i);
            return ret;
        }
        if (ret == 0) {
            set_xts_keys(s, mk, key_bytes, &s->data_key, &s->tweak_key);
            s->unlocked = true;
            return 0;
        }
    }
    error_setg(errp, "Invalid password, cannot unlock any keyslot");
    return -EPERM;
}

static int luks_open(struct node *n, struct opts *opts, struct error **errp)
{
    struct luks_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    n->state = s;
    int ret = node_pread(n->file, 0, LUKS_HEADER_SIZE, s->h);
    if (ret < 0) {
        error_setg_errno(errp, ret, "Unable to read LUKS header");
        return ret;
    }
    if (memcmp(s->h, LUKS_MAGIC, 6)) {
        error_setg(errp, "Volume is not in LUKS format");
        return -EINVAL;
    }
    if (get_be16(s->h + OFF_VERSION) != 1) {
        error_setg(errp, "LUKS version %u is not supported", get_be16(s->h + OFF_VERSION));
        return -ENOTSUP;
    }
    if ((ret = luks_check_slots(s, errp)) < 0 || (ret = luks_parse_algs(s, errp)) < 0)
        return ret;
    if (!(n->flags & NODE_NO_IO)) {
        if (!opts_get(opts, "key-secret")) {
            error_setg(errp, "Parameter 'key-secret' is required for cipher");
            return -EINVAL;
        }
        if ((ret = luks_unlock(n, s, opts_get(opts, "key-secret"), errp)) < 0)
            return ret;
    }
    s->payload_offset = (uint64_t)get_be32(s->h + OFF_PAYLOAD) * LUKS_SECTOR;
    if (s->payload_offset > n->file->size) {
        error_setg_errno(errp, EIO, "Could not refresh total sector count");
        return -EIO;
    }
    n->size = n->file->size - s->payload_offset;
    return 0;
}

static void luks_close(struct node *n)
{
    free(n->state);
    n->state = NULL;
}

/* Whole payload sectors [first, first+count) in and out of the file, decrypted in memory. */
static int luks_read_sectors(struct node *n, uint64_t first, uint64_t count, uint8_t *buf)
{
    struct luks_state *s = n->state;
    int ret = node_pread(n->file, s->payload_offset + first * LUKS_SECTOR, count * LUKS_SECTOR,
                         buf);
    for (uint64_t i = 0; ret == 0 && i < count; i++)
        xts_decrypt(&s->data_key, &s->tweak_key, first + i, buf + i * LUKS_SECTOR,
                    buf + i * LUKS_SECTOR, LUKS_SECTOR);
    return ret;
}

static int luks_pread(struct node *n, uint64_t off, uint64_t len, void *buf)
{
    struct luks_state *s = n->state;
    if (!s->unlocked)
        return -ENOTSUP;
    uint64_t first = off / LUKS_SECTOR, last = (off + len - 1) / LUKS_SECTOR;
    uint64_t count = last - first + 1;
    uint8_t *tmp = malloc(count * LUKS_SECTOR);
    if (!tmp)
        return -ENOMEM;
    int ret = luks_read_sectors(n, first, count, tmp);
    if (ret == 0)
        memcpy(buf, tmp + off % LUKS_SECTOR, len);
    free(tmp);
    return ret;
}

static int luks_pwrite(struct node *n, uint64_t off, uint64_t len, const void *buf)
{
    struct luks_state *s = n->state;
    if (!s->unlocked)
        return -ENOTSUP;
    uint64_t first = off / LUKS_SECTOR, last = (off + len - 1) / LUKS_SECTOR;
    uint64_t count = last - first + 1;
    uint8_t *tmp = malloc(count * LUKS_SECTOR);
    if (!tmp)
        return -ENOMEM;
    int ret = 0;
    /* partial sectors at either end: read, merge, re-encrypt */
    if (off % LUKS_SECTOR || (off + len) % LUKS_SECTOR)
        ret = luks_read_sectors(n, first, count, tmp);
    if (ret == 0) {
        memcpy(tmp + off % LUKS_SECTOR, buf, len);
        for (uint64_t i = 0; i < count; i++)
            xts_encrypt(&s->data_key, &s->tweak_key, first + i, tmp + i * LUKS_SECTOR,
                        tmp + i * LUKS_SECTOR, LUKS_SECTOR);
        ret = node_pwrite(n->file, s->payload_offset + first * LUKS_SECTOR, count * LUKS_SECTOR,
                          tmp);
    }
    free(tmp);
    return ret;
}

static json_object *luks_slot_json(const uint8_t *k)
{
    json_object *o = json_object_new_object();
    bool active = get_be32(k) == LUKS_SLOT_ENABLED;
    json_object_object_add(o, "active", json_object_new_boolean(active));
    if (active) {
        json_object_object_add(o, "iters", json_object_new_int64(get_be32(k + 4)));
        json_object_object_add(o, "stripes", json_object_new_int64(get_be32(k + 44)));
    }
    json_object_object_add(o, "key-offset",
                           json_object_new_int64((int64_t)get_be32(k + 40) * LUKS_SECTOR));
    return o;
}

static int luks_get_info(struct node *n, struct node_info *info, struct error **errp)
{
    (void)errp;
    struct luks_state *s = n->state;
    char uuid[41];
    header_string(s->h + OFF_UUID, 40, uuid);
    json_object *d = json_object_new_object();
    json_object_object_add(d, "cipher-alg", json_object_new_string(s->cipher_alg));
    json_object_object_add(d, "cipher-mode", json_object_new_string(s->cipher_mode));
    json_object_object_add(d, "ivgen-alg", json_object_new_string(s->ivgen_alg));
    if (s->ivgen_hash)
        json_object_object_add(d, "ivgen-hash-alg", json_object_new_string(s->ivgen_hash));
    json_object_object_add(d, "hash-alg", json_object_new_string(s->hash_alg));
    json_object_object_add(d, "payload-offset", json_object_new_int64((int64_t)s->payload_offset));
    json_object_object_add(d, "master-key-iters",
                           json_object_new_int64(get_be32(s->h + OFF_MK_ITERS)));
    json_object_object_add(d, "uuid", json_object_new_string(uuid));
    json_object *slots = json_object_new_array();
    for (int i = 0; i < LUKS_SLOTS; i++)
        json_object_array_add(slots, luks_slot_json(s->h + OFF_SLOTS + SLOT_SIZE * i));
    json_object_object_add(d, "slots", slots);
    json_object *fs = json_object_new_object();
    json_object_object_add(fs, "type", json_object_new_string("luks"));
    json_object_object_add(fs, "data", d);
    info->format_specific = fs;
    info->encrypted = true;
    return 0;
}

static int64_t luks_allocated_size(struct node *n)
{
    return node_allocated_size(n->file);
}

/* ---- create (aes-xts-plain64 with sha256, qemu's defaults and layout) ---- */

static int random_bytes(uint8_t *buf, size_t len)
{
    while (len) {
        ssize_t n = getrandom(buf, len, 0);
        if (n <= 0)
            return -EIO;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* PBKDF2 iterations that take iter_ms of CPU time (at least 1000), measured as qemu does. */
static uint32_t luks_iterations(uint64_t iter_ms, uint64_t divisor)
{
    uint8_t out[32], salt[32] = { 0 };
    uint32_t n = 1 << 14;
    double t;
    for (;;) {
        double start = cpu_seconds();
        pbkdf2_sha256((const uint8_t *)"bench", 5, salt, sizeof(salt), n, out, sizeof(out));
        t = cpu_seconds() - start;
        if (t >= 0.02 || n >= (1u << 30))
            break;
        n *= 2;
    }
    double iters = (double)n / (t > 0 ? t : 1e-6) * (double)iter_ms / 1000.0 / (double)divisor;
    return iters < 1000 ? 1000 : iters > UINT32_MAX ? UINT32_MAX : (uint32_t)iters;
}

static void af_split(const uint8_t *mk, size_t key_bytes, const uint8_t *random, uint8_t *out)
{
    uint8_t d[64] = { 0 };
    memcpy(out, random, key_bytes * (LUKS_STRIPES - 1));
    for (size_t i = 0; i < LUKS_STRIPES - 1; i++) {
        for (size_t j = 0; j < key_bytes; j++)
            d[j] ^= out[i * key_bytes + j];
        af_diffuse(d, key_bytes);
    }
    for (size_t j = 0; j < key_bytes; j++)
        out[(LUKS_STRIPES - 1) * key_bytes + j] = d[j] ^ mk[j];
}

static void luks_format_uuid(const uint8_t *r, char *out)
{
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], (r[6] & 0x0f) | 0x40, r[7], (r[8] & 0x3f) | 0x80,
             r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
}

struct luks_new {
    const uint8_t *pass;
    size_t pass_len;
    uint64_t iter_ms;
    uint8_t h[LUKS_HEADER_SIZE];
    uint8_t *material;           /* slot 0's encrypted split key */
    size_t material_len;
};

/* Header and slot 0 for a 64-byte aes-256-xts master key. */
static int luks_build(struct luks_new *c)
{
    const size_t key_bytes = 64;
    const uint32_t slot_sectors = (key_bytes * LUKS_STRIPES + LUKS_SECTOR - 1) / LUKS_SECTOR;
    const uint32_t slot_stride = (slot_sectors + 7) / 8 * 8, first = 4096 / LUKS_SECTOR;
    uint8_t mk[64], rnd[16 + 32 + 32], slot_key[64];
    uint8_t *split = malloc(key_bytes * LUKS_STRIPES);
    c->material_len = (size_t)slot_sectors * LUKS_SECTOR;
    c->material = calloc(1, c->material_len);
    if (!split || !c->material || random_bytes(mk, sizeof(mk)) < 0 ||
        random_bytes(rnd, sizeof(rnd)) < 0 || random_bytes(split, key_bytes * LUKS_STRIPES) < 0) {
        free(split);
        return -EIO;
    }
    uint8_t *h = c->h;
    memset(h, 0, LUKS_HEADER_SIZE);
    memcpy(h, LUKS_MAGIC, 6);
    put_be16(h + OFF_VERSION, 1);
    strcpy((char *)h + OFF_CIPHER, "aes");
    strcpy((char *)h + OFF_MODE, "xts-plain64");
    strcpy((char *)h + OFF_HASH, "sha256");
    put_be32(h + OFF_PAYLOAD, first + LUKS_SLOTS * slot_stride);
    put_be32(h + OFF_KEY_BYTES, (uint32_t)key_bytes);
    memcpy(h + 132, rnd + 16, 32);
    uint32_t mk_iters = luks_iterations(c->iter_ms, 8);
    put_be32(h + OFF_MK_ITERS, mk_iters);
    pbkdf2_sha256(mk, key_bytes, h + 132, 32, mk_iters, h + 112, 20);
    char uuid[37];
    luks_format_uuid(rnd, uuid);
    memcpy(h + OFF_UUID, uuid, 36);
    for (int i = 0; i < LUKS_SLOTS; i++) {
        uint8_t *k = h + OFF_SLOTS + SLOT_SIZE * i;
        put_be32(k, i ? LUKS_SLOT_DISABLED : LUKS_SLOT_ENABLED);
        put_be32(k + 40, first + (uint32_t)i * slot_stride);
        put_be32(k + 44, LUKS_STRIPES);
    }
    uint8_t *k0 = h + OFF_SLOTS;
    uint32_t slot_iters = luks_iterations(c->iter_ms, 1);
    put_be32(k0 + 4, slot_iters);
    memcpy(k0 + 8, rnd + 48, 32);
    pbkdf2_sha256(c->pass, c->pass_len, k0 + 8, 32, slot_iters, slot_key, key_bytes);
    af_split(mk, key_bytes, split, c->material);
    struct aes_key dk, tk;
    set_xts_keys(NULL, slot_key, key_bytes, &dk, &tk);
    for (size_t sec = 0; sec < slot_sectors; sec++)
        xts_encrypt(&dk, &tk, sec, c->material + sec * LUKS_SECTOR,
                    c->material + sec * LUKS_SECTOR, LUKS_SECTOR);
    free(split);
    return 0;
}

static int luks_create_opts_check(struct opts *opts, uint64_t *iter_ms, struct error **errp)
{
    static const struct { const char *key, *value; } supported[] = {
        { "cipher-alg", "aes-256" }, { "cipher-mode", "xts" }, { "ivgen-alg", "plain64" },
        { "hash-alg", "sha256" },
    };
    for (size_t i = 0; i < sizeof(supported) / sizeof(supported[0]); i++) {
        const char *v = opts_get(opts, supported[i].key);
        if (v && strcmp(v, supported[i].value)) {
            error_setg(errp, "flatimg creates LUKS images with %s=%s only", supported[i].key,
                       supported[i].value);
            return -ENOTSUP;
        }
    }
    if (opts_get(opts, "ivgen-hash-alg")) {
        error_setg(errp, "flatimg creates LUKS images without an IV generator hash only");
        return -ENOTSUP;
    }
    *iter_ms = 2000;
    return opts_get_number(opts, "iter-time", iter_ms, errp) < 0 ? -EINVAL : 0;
}

static int luks_write_new(const char *filename, struct luks_new *c, uint64_t size,
                          enum prealloc prealloc, struct error **errp)
{
    struct node *f = node_open(filename, "file", NULL, NODE_RDWR, errp);
    if (!f)
        return -EIO;
    uint64_t payload = (uint64_t)get_be32(c->h + OFF_PAYLOAD) * LUKS_SECTOR;
    int ret = node_truncate(f, payload + size, false, prealloc, errp);
    if (ret == 0)
        ret = node_pwrite(f, 0, LUKS_HEADER_SIZE, c->h);
    if (ret == 0)
        ret = node_pwrite(f, (uint64_t)get_be32(c->h + OFF_SLOTS + 40) * LUKS_SECTOR,
                          c->material_len, c->material);
    if (ret == 0)
        ret = node_flush(f);
    if (ret < 0 && !(errp && *errp))
        error_setg_errno(errp, ret, "Could not write image");
    node_close(f);
    return ret;
}

static int luks_create(const char *filename, struct opts *opts, struct error **errp)
{
    uint64_t size = 0;
    struct luks_new c = { 0 };
    enum prealloc prealloc = PREALLOC_OFF;
    const char *p = opts_get(opts, "preallocation");
    const char *secret = opts_get(opts, "key-secret");
    if (opts_get_size(opts, "size", &size, errp) < 0)
        return -EINVAL;
    if (p && prealloc_parse(p, &prealloc) < 0) {
        error_setg(errp, "invalid parameter value: %s", p);
        return -EINVAL;
    }
    if (prealloc == PREALLOC_METADATA)
        prealloc = PREALLOC_OFF; /* as qemu: the header needs no preallocation */
    int ret = luks_create_opts_check(opts, &c.iter_ms, errp);
    if (ret < 0)
        return ret;
    if (!secret) {
        error_setg(errp, "Parameter 'key-secret' is required for cipher");
        return -EINVAL;
    }
    if (secret_lookup(secret, &c.pass, &c.pass_len, errp) < 0)
        return -EINVAL;
    if ((ret = file_create(filename, 0, PREALLOC_OFF, errp)) < 0)
        return ret;
    ret = luks_build(&c);
    if (ret < 0)
        error_setg_errno(errp, ret, "Could not generate the LUKS keys");
    else
        ret = luks_write_new(filename, &c, size, prealloc, errp);
    free(c.material);
    if (ret < 0)
        unlink(filename); /* qemu deletes what it created when formatting fails */
    return ret;
}

const struct driver driver_luks = {
    .name = "luks",
    .open_opts = luks_open_opts,
    .create_opts = luks_create_opts,
    .create = luks_create,
    .probe = luks_probe,
    .open = luks_open,
    .close = luks_close,
    .pread = luks_pread,
    .pwrite = luks_pwrite,
    .allocated_size = luks_allocated_size,
    .get_info = luks_get_info,
};
