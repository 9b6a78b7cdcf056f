/* LUKS1 headers for the luks driver and encrypted qcow2 (see luks.h): the checks, messages and
 * layout of qemu 7.2's crypto/block-luks.c, over the primitives of crypto.c. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "bswap.h"
#include "luks.h"
#include "object.h"

#define LUKS_MAGIC "LUKS\xba\xbe"
#define LUKS_SLOTS 8
#define LUKS_SLOT_ENABLED 0x00AC71F3u
#define LUKS_SLOT_DISABLED 0x0000DEADu
#define LUKS_STRIPES 4000
#define LUKS_DIGEST_LEN 20
#define LUKS_SALT_LEN 32

enum { OFF_VERSION = 6, OFF_CIPHER = 8, OFF_MODE = 40, OFF_HASH = 72, OFF_PAYLOAD = 104,
       OFF_KEY_BYTES = 108, OFF_MK_DIGEST = 112, OFF_MK_SALT = 132, OFF_MK_ITERS = 164,
       OFF_UUID = 168, OFF_SLOTS = 208, SLOT_SIZE = 48 };
/* within a key slot */
enum { SLOT_ACTIVE = 0, SLOT_ITERS = 4, SLOT_SALT = 8, SLOT_OFFSET = 40, SLOT_STRIPES = 44 };

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
    int alg = hash_alg_from_name(s);
    return alg < 0 ? NULL : hash_alg_name((enum hash_alg)alg);
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
static int parse_mode(struct luks *l, char *spec, const char *cipher, uint32_t *key_bytes,
                      struct error **errp)
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
    if (!(l->cipher_mode = mode_name(spec))) {
        error_setg(errp, "Cipher mode '%s' not supported", spec);
        return -ENOTSUP;
    }
    if (!strcmp(l->cipher_mode, "xts"))
        *key_bytes /= 2;
    if (!(l->cipher_alg = cipher_alg_name(cipher, *key_bytes))) {
        error_setg(errp, "Algorithm '%s' with key size %" PRIu32 " bytes not supported", cipher,
                   *key_bytes);
        return -ENOTSUP;
    }
    static const char *const ivgens[] = { "plain", "plain64", "essiv" };
    for (int i = 0; i < 3; i++)
        if (!strcmp(ivgen, ivgens[i]))
            l->ivgen_alg = ivgens[i];
    if (!l->ivgen_alg) {
        error_setg(errp, "IV generator '%s' not supported", ivgen);
        return -ENOTSUP;
    }
    if (!strcmp(l->ivgen_alg, "essiv")) {
        if (!colon) {
            error_setg(errp, "Missing IV generator hash specification");
            return -EINVAL;
        }
        if (!(l->ivgen_hash = hash_name(colon + 1))) {
            error_setg(errp, "Hash algorithm '%s' not supported", colon + 1);
            return -ENOTSUP;
        }
    }
    return 0;
}

static int parse_algs(struct luks *l, struct error **errp)
{
    char cipher[33], mode[33], hash[33];
    header_string(l->h + OFF_CIPHER, 32, cipher);
    header_string(l->h + OFF_MODE, 32, mode);
    header_string(l->h + OFF_HASH, 32, hash);
    uint32_t key_bytes = get_be32(l->h + OFF_KEY_BYTES);
    int ret = parse_mode(l, mode, cipher, &key_bytes, errp);
    if (ret < 0)
        return ret;
    if (!(l->hash_alg = hash_name(hash))) {
        error_setg(errp, "Hash algorithm '%s' not supported", hash);
        return -ENOTSUP;
    }
    return 0;
}

/* Key slots must be well formed and lie between the header and the payload, apart. */
static int check_slots(const struct luks *l, struct error **errp)
{
    uint64_t key_bytes = get_be32(l->h + OFF_KEY_BYTES);
    uint64_t header_sectors = (LUKS_HEADER_SIZE + LUKS_SECTOR - 1) / LUKS_SECTOR;
    uint64_t start[LUKS_SLOTS], end[LUKS_SLOTS];
    for (int i = 0; i < LUKS_SLOTS; i++) {
        const uint8_t *k = l->h + OFF_SLOTS + SLOT_SIZE * i;
        uint32_t stripes = get_be32(k + SLOT_STRIPES);
        if (stripes != LUKS_STRIPES) {
            error_setg(errp, "Keyslot %d is corrupted (stripes %" PRIu32 " != %d)", i, stripes,
                       LUKS_STRIPES);
            return -EINVAL;
        }
        start[i] = get_be32(k + SLOT_OFFSET);
        end[i] = start[i] + (key_bytes * stripes + LUKS_SECTOR - 1) / LUKS_SECTOR;
        if (start[i] < header_sectors) {
            error_setg(errp, "Keyslot %d is overlapping with the LUKS header", i);
            return -EINVAL;
        }
        if (end[i] > get_be32(l->h + OFF_PAYLOAD)) {
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

int luks_parse(struct luks *l, const uint8_t *hdr, struct error **errp)
{
    memset(l, 0, sizeof(*l));
    memcpy(l->h, hdr, LUKS_HEADER_SIZE);
    if (memcmp(l->h, LUKS_MAGIC, 6)) {
        error_setg(errp, "Volume is not in LUKS format");
        return -EINVAL;
    }
    if (get_be16(l->h + OFF_VERSION) != 1) {
        error_setg(errp, "LUKS version %u is not supported", get_be16(l->h + OFF_VERSION));
        return -ENOTSUP;
    }
    int ret = check_slots(l, errp);
    if (ret == 0)
        ret = parse_algs(l, errp);
    l->payload_offset = (uint64_t)get_be32(l->h + OFF_PAYLOAD) * LUKS_SECTOR;
    return ret;
}

/* flatimg implements AES, Serpent and Twofish; other ciphers qemu knows are refused by name. */
static bool cipher_implemented(const char *alg)
{
    return !strncmp(alg, "aes-", 4) || !strncmp(alg, "serpent-", 8) ||
           !strncmp(alg, "twofish-", 8);
}

static int cipher_supported(const char *alg, struct error **errp)
{
    if (!cipher_implemented(alg)) {
        error_setg(errp, "flatimg does not implement the %s cipher (only aes, serpent and "
                         "twofish)", alg);
        return -ENOTSUP;
    }
    return 0;
}

/* qemu's ESSIV cipher: the same family keyed by the digest, whose size must be a key size. */
static int essiv_key_ok(const char *alg, size_t digest_len, struct error **errp)
{
    if (digest_len == 16 || digest_len == 24 || digest_len == 32)
        return 0;
    error_setg(errp, "No %s cipher with key size %zu available",
               !strncmp(alg, "serpent", 7) ? "Serpent" : !strncmp(alg, "twofish", 7) ? "Twofish"
                                                                                     : "AES",
               digest_len);
    return -EINVAL;
}

/* The payload cipher (or a key slot's) for this header's algorithms with the given key; ESSIV
 * keys an AES of the digest's size with the hashed key, as qemu does. */
static int make_cipher(const struct luks *l, const uint8_t *key, size_t key_bytes,
                       struct sector_cipher *c, struct error **errp)
{
    static const char *const modes[] = { [CIPHER_MODE_ECB] = "ecb", [CIPHER_MODE_CBC] = "cbc",
                                         [CIPHER_MODE_XTS] = "xts", [CIPHER_MODE_CTR] = "ctr" };
    enum cipher_mode mode = CIPHER_MODE_XTS;
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
        if (!strcmp(l->cipher_mode, modes[i]))
            mode = (enum cipher_mode)i;
    enum ivgen_alg ivgen = !strcmp(l->ivgen_alg, "plain") ? IVGEN_PLAIN
                           : !strcmp(l->ivgen_alg, "plain64") ? IVGEN_PLAIN64 : IVGEN_ESSIV;
    uint8_t essiv[HASH_MAX_LEN];
    size_t essiv_len = 0;
    if (ivgen == IVGEN_ESSIV) {
        enum hash_alg h = (enum hash_alg)hash_alg_from_name(l->ivgen_hash);
        essiv_len = hash_len(h);
        if (essiv_key_ok(l->cipher_alg, essiv_len, errp) < 0)
            return -EINVAL;
        hash_buf(h, key, key_bytes, essiv);
    }
    enum block_alg alg = !strncmp(l->cipher_alg, "serpent", 7)   ? BLOCK_SERPENT
                         : !strncmp(l->cipher_alg, "twofish", 7) ? BLOCK_TWOFISH
                                                                 : BLOCK_AES;
    if (cipher_supported(l->cipher_alg, errp) < 0)
        return -ENOTSUP;
    if (sector_cipher_init(c, alg, mode, ivgen, LUKS_SECTOR, key, key_bytes, essiv, essiv_len) < 0) {
        error_setg(errp, "Invalid key length %zu for cipher %s", key_bytes, l->cipher_alg);
        return -EINVAL;
    }
    return 0;
}

static enum hash_alg header_hash(const struct luks *l)
{
    return (enum hash_alg)hash_alg_from_name(l->hash_alg);
}

/* LUKS1 anti-forensic diffusion: each digest-sized piece hashed with its index in front. */
static void af_diffuse(enum hash_alg alg, uint8_t *buf, size_t len)
{
    size_t d = hash_len(alg);
    for (size_t i = 0; i * d < len; i++) {
        size_t n = len - i * d < d ? len - i * d : d;
        uint8_t ctr[4], out[HASH_MAX_LEN];
        struct hash_ctx c;
        put_be32(ctr, (uint32_t)i);
        hash_init(&c, alg);
        hash_update(&c, ctr, 4);
        hash_update(&c, buf + i * d, n);
        hash_final(&c, out);
        memcpy(buf + i * d, out, n);
    }
}

static size_t material_len(size_t key_bytes)
{
    return (key_bytes * LUKS_STRIPES + LUKS_SECTOR - 1) / LUKS_SECTOR * LUKS_SECTOR;
}

/* qemu's messages for a failed read of the header area (-ERANGE: outside a qcow2 extension). */
static void read_error(int ret, struct error **errp)
{
    if (ret == -ERANGE)
        error_setg(errp, "Request for data outside of extension header");
    else
        error_setg_errno(errp, -ret, "Could not read encryption header");
}

/* Try one active key slot: derive its key, decrypt and merge the stripes, check the digest.
 * Returns 0 when it opens, 1 when the passphrase does not fit, or -errno. */
static int try_slot(const struct luks *l, int slot, const uint8_t *pass, size_t pass_len,
                    luks_read_fn read, void *opaque, uint8_t *mk, struct error **errp)
{
    const uint8_t *k = l->h + OFF_SLOTS + SLOT_SIZE * slot;
    size_t key_bytes = get_be32(l->h + OFF_KEY_BYTES);
    size_t mlen = material_len(key_bytes);
    uint8_t slot_key[64], digest[LUKS_DIGEST_LEN];
    struct sector_cipher c;
    enum hash_alg alg = header_hash(l);
    uint8_t *buf = malloc(mlen);
    if (!buf)
        return -ENOMEM;
    pbkdf2(alg, pass, pass_len, k + SLOT_SALT, LUKS_SALT_LEN, get_be32(k + SLOT_ITERS), slot_key,
           key_bytes);
    int ret = make_cipher(l, slot_key, key_bytes, &c, errp);
    if (ret == 0 && (ret = read(opaque, (uint64_t)get_be32(k + SLOT_OFFSET) * LUKS_SECTOR, mlen,
                                buf)) < 0)
        read_error(ret, errp);
    if (ret == 0) {
        sector_cipher_decrypt(&c, 0, buf, mlen);
        memset(mk, 0, key_bytes);
        for (size_t i = 0; i < LUKS_STRIPES - 1; i++) {
            for (size_t j = 0; j < key_bytes; j++)
                mk[j] ^= buf[i * key_bytes + j];
            af_diffuse(alg, mk, key_bytes);
        }
        for (size_t j = 0; j < key_bytes; j++)
            mk[j] ^= buf[(LUKS_STRIPES - 1) * key_bytes + j];
        pbkdf2(alg, mk, key_bytes, l->h + OFF_MK_SALT, LUKS_SALT_LEN,
               get_be32(l->h + OFF_MK_ITERS), digest, LUKS_DIGEST_LEN);
        ret = memcmp(digest, l->h + OFF_MK_DIGEST, LUKS_DIGEST_LEN) ? 1 : 0;
    }
    free(buf);
    return ret;
}

int luks_unlock(struct luks *l, const uint8_t *pass, size_t pass_len, luks_read_fn read,
                void *opaque, struct error **errp)
{
    uint8_t mk[64];
    size_t key_bytes = get_be32(l->h + OFF_KEY_BYTES);
    int ret = cipher_supported(l->cipher_alg, errp);
    if (ret < 0)
        return ret;
    for (int i = 0; i < LUKS_SLOTS; i++) {
        if (get_be32(l->h + OFF_SLOTS + SLOT_SIZE * i) != LUKS_SLOT_ENABLED)
            continue;
        if ((ret = try_slot(l, i, pass, pass_len, read, opaque, mk, errp)) < 0)
            return ret;
        if (ret == 0) {
            if ((ret = make_cipher(l, mk, key_bytes, &l->cipher, errp)) < 0)
                return ret;
            memcpy(l->master_key, mk, key_bytes);
            l->unlocked = true;
            return 0;
        }
    }
    error_setg(errp, "Invalid password, cannot unlock any keyslot");
    return -EPERM;
}

void luks_decrypt(const struct luks *l, uint64_t sector, uint8_t *buf, size_t len)
{
    sector_cipher_decrypt(&l->cipher, sector, buf, len);
}

void luks_encrypt(const struct luks *l, uint64_t sector, uint8_t *buf, size_t len)
{
    sector_cipher_encrypt(&l->cipher, sector, buf, len);
}

static json_object *slot_json(const uint8_t *k)
{
    json_object *o = json_object_new_object();
    bool active = get_be32(k + SLOT_ACTIVE) == LUKS_SLOT_ENABLED;
    json_object_object_add(o, "active", json_object_new_boolean(active));
    if (active) {
        json_object_object_add(o, "iters", json_object_new_int64(get_be32(k + SLOT_ITERS)));
        json_object_object_add(o, "stripes", json_object_new_int64(get_be32(k + SLOT_STRIPES)));
    }
    json_object_object_add(o, "key-offset",
                           json_object_new_int64((int64_t)get_be32(k + SLOT_OFFSET) * LUKS_SECTOR));
    return o;
}

json_object *luks_info_json(const struct luks *l)
{
    char uuid[41];
    header_string(l->h + OFF_UUID, 40, uuid);
    json_object *d = json_object_new_object();
    json_object_object_add(d, "cipher-alg", json_object_new_string(l->cipher_alg));
    json_object_object_add(d, "cipher-mode", json_object_new_string(l->cipher_mode));
    json_object_object_add(d, "ivgen-alg", json_object_new_string(l->ivgen_alg));
    if (l->ivgen_hash)
        json_object_object_add(d, "ivgen-hash-alg", json_object_new_string(l->ivgen_hash));
    json_object_object_add(d, "hash-alg", json_object_new_string(l->hash_alg));
    json_object_object_add(d, "payload-offset", json_object_new_int64((int64_t)l->payload_offset));
    json_object_object_add(d, "master-key-iters",
                           json_object_new_int64(get_be32(l->h + OFF_MK_ITERS)));
    json_object_object_add(d, "uuid", json_object_new_string(uuid));
    json_object *slots = json_object_new_array();
    for (int i = 0; i < LUKS_SLOTS; i++)
        json_object_array_add(slots, slot_json(l->h + OFF_SLOTS + SLOT_SIZE * i));
    json_object_object_add(d, "slots", slots);
    return d;
}

/* ---- creation: qemu's layout (key slots from 4 KiB, 4 KiB aligned) and defaults ---- */

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
static uint32_t pbkdf2_iterations(enum hash_alg alg, size_t out_len, uint64_t iter_ms,
                                  uint64_t divisor)
{
    uint8_t out[64], salt[32] = { 0 };
    uint32_t n = 1 << 12;
    double t;
    if (out_len > sizeof(out))
        out_len = sizeof(out);
    for (;;) {
        double start = cpu_seconds();
        pbkdf2(alg, (const uint8_t *)"bench", 5, salt, sizeof(salt), n, out, out_len);
        t = cpu_seconds() - start;
        if (t >= 0.02 || n >= (1u << 30))
            break;
        n *= 2;
    }
    double iters = (double)n / (t > 0 ? t : 1e-6) * (double)iter_ms / 1000.0 / (double)divisor;
    return iters < 1000 ? 1000 : iters > UINT32_MAX ? UINT32_MAX : (uint32_t)iters;
}

static void af_split(enum hash_alg alg, const uint8_t *mk, size_t key_bytes, uint8_t *out)
{
    uint8_t d[64] = { 0 };
    for (size_t i = 0; i < LUKS_STRIPES - 1; i++) {
        for (size_t j = 0; j < key_bytes; j++)
            d[j] ^= out[i * key_bytes + j];
        af_diffuse(alg, d, key_bytes);
    }
    for (size_t j = 0; j < key_bytes; j++)
        out[(LUKS_STRIPES - 1) * key_bytes + j] = d[j] ^ mk[j];
}

static void format_uuid(const uint8_t *r, char *out)
{
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], (r[6] & 0x0f) | 0x40, r[7], (r[8] & 0x3f) | 0x80,
             r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
}

/* One enum-valued creation option: the value (or the default) must be one of names, with
 * qemu's message (naming the option without its prefix) otherwise. */
static int check_enum(const char *key, const char **value, const char *def,
                      const char *const *names, struct error **errp)
{
    if (!*value)
        *value = def;
    for (size_t i = 0; names[i]; i++)
        if (!strcmp(*value, names[i]))
            return 0;
    error_setg(errp, "Parameter '%s' does not accept value '%s'", key, *value);
    return -EINVAL;
}

int luks_params_from_opts(const struct opts *opts, const char *prefix, struct luks_params *p,
                          struct error **errp)
{
    static const char *const ciphers[] = { "aes-128", "aes-192", "aes-256", "des", "3des",
                                           "cast5-128", "serpent-128", "serpent-192",
                                           "serpent-256", "twofish-128", "twofish-192",
                                           "twofish-256", NULL };
    static const char *const modes[] = { "ecb", "cbc", "xts", "ctr", NULL };
    static const char *const ivgens[] = { "plain", "plain64", "essiv", NULL };
    static const char *const hashes[] = { "md5", "sha1", "sha224", "sha256", "sha384", "sha512",
                                          "ripemd160", NULL };
    char key[64];
#define OPT(name) (snprintf(key, sizeof(key), "%s%s", prefix, name), opts_get(opts, key))
    *p = (struct luks_params){ .cipher_alg = OPT("cipher-alg"), .cipher_mode = OPT("cipher-mode"),
                               .ivgen_alg = OPT("ivgen-alg"), .ivgen_hash = OPT("ivgen-hash-alg"),
                               .hash_alg = OPT("hash-alg"), .iter_ms = 2000 };
#undef OPT
    if (check_enum("cipher-alg", &p->cipher_alg, "aes-256", ciphers, errp) < 0 ||
        check_enum("cipher-mode", &p->cipher_mode, "xts", modes, errp) < 0 ||
        check_enum("ivgen-alg", &p->ivgen_alg, "plain64", ivgens, errp) < 0 ||
        check_enum("ivgen-hash-alg", &p->ivgen_hash, "sha256", hashes, errp) < 0 ||
        check_enum("hash-alg", &p->hash_alg, "sha256", hashes, errp) < 0)
        return -EINVAL;
    snprintf(key, sizeof(key), "%siter-time", prefix);
    if (opts_get_number(opts, key, &p->iter_ms, errp) < 0)
        return -EINVAL;
    if (cipher_supported(p->cipher_alg, errp) < 0)
        return -ENOTSUP;
    if (strstr(p->cipher_alg, "-192") && strcmp(p->cipher_mode, "xts")) {
        /* 24 * 4000 bytes of key material are not whole sectors: qemu-img 7.2 aborts */
        error_setg(errp, "flatimg does not create %s LUKS images in %s mode: qemu-img 7.2 "
                         "cannot use their key material", p->cipher_alg, p->cipher_mode);
        return -ENOTSUP;
    }
    size_t essiv = hash_len((enum hash_alg)hash_alg_from_name(p->ivgen_hash));
    if (!strcmp(p->ivgen_alg, "essiv") && essiv_key_ok(p->cipher_alg, essiv, errp) < 0)
        return -EINVAL;
    return 0;
}

void luks_new_free(struct luks_new *n)
{
    free(n->area);
    n->area = NULL;
}

/* The header strings for the parameters: cipher "aes", mode "xts-plain64" or "cbc-essiv:sha256",
 * and the master key size (doubled for XTS). */
static void header_algs(const struct luks_params *p, uint8_t *h, size_t *key_bytes)
{
    const char *dash = strchr(p->cipher_alg, '-');
    *key_bytes = (size_t)atoi(dash + 1) / 8;
    if (!strcmp(p->cipher_mode, "xts"))
        *key_bytes *= 2;
    memcpy(h + OFF_CIPHER, p->cipher_alg, (size_t)(dash - p->cipher_alg));
    if (!strcmp(p->ivgen_alg, "essiv"))
        snprintf((char *)h + OFF_MODE, 32, "%s-essiv:%s", p->cipher_mode, p->ivgen_hash);
    else
        snprintf((char *)h + OFF_MODE, 32, "%s-%s", p->cipher_mode, p->ivgen_alg);
    snprintf((char *)h + OFF_HASH, 32, "%s", p->hash_alg);
}

uint64_t luks_payload_bytes(const struct luks_params *p)
{
    uint8_t hdr[LUKS_HEADER_SIZE] = { 0 };
    size_t key_bytes;
    header_algs(p, hdr, &key_bytes);
    uint64_t slot_sectors = material_len(key_bytes) / LUKS_SECTOR;
    return (4096 / LUKS_SECTOR + LUKS_SLOTS * ((slot_sectors + 7) / 8 * 8)) * LUKS_SECTOR;
}

/* Header and key slot 0 for the parameters (checked by luks_params_from_opts). */
int luks_format(struct luks *l, const struct luks_params *p, const uint8_t *pass,
                size_t pass_len, struct luks_new *out, struct error **errp)
{
    uint8_t hdr[LUKS_HEADER_SIZE] = { 0 };
    size_t key_bytes;
    header_algs(p, hdr, &key_bytes);
    enum hash_alg alg = (enum hash_alg)hash_alg_from_name(p->hash_alg);
    const uint32_t slot_sectors = (uint32_t)(material_len(key_bytes) / LUKS_SECTOR);
    const uint32_t slot_stride = (slot_sectors + 7) / 8 * 8, first = 4096 / LUKS_SECTOR;
    const uint32_t payload = first + LUKS_SLOTS * slot_stride;
    uint8_t mk[64], rnd[16 + 2 * LUKS_SALT_LEN], slot_key[64];
    int ret = -ENOMEM;
    memset(out, 0, sizeof(*out));
    out->area_len = (size_t)payload * LUKS_SECTOR;
    out->material_offset = (uint64_t)first * LUKS_SECTOR;
    out->material_len = material_len(key_bytes);
    out->area = calloc(1, out->area_len);
    if (!out->area)
        goto fail;
    uint8_t *h = out->area, *material = out->area + out->material_offset;
    memcpy(h, hdr, sizeof(hdr));
    ret = -EIO;
    if (random_bytes(mk, key_bytes) < 0 || random_bytes(rnd, sizeof(rnd)) < 0 ||
        random_bytes(material, key_bytes * (LUKS_STRIPES - 1)) < 0)
        goto fail;
    memcpy(h, LUKS_MAGIC, 6);
    put_be16(h + OFF_VERSION, 1);
    put_be32(h + OFF_PAYLOAD, payload);
    put_be32(h + OFF_KEY_BYTES, (uint32_t)key_bytes);
    memcpy(h + OFF_MK_SALT, rnd + 16, LUKS_SALT_LEN);
    uint32_t mk_iters = pbkdf2_iterations(alg, LUKS_DIGEST_LEN, p->iter_ms, 8);
    put_be32(h + OFF_MK_ITERS, mk_iters);
    pbkdf2(alg, mk, key_bytes, h + OFF_MK_SALT, LUKS_SALT_LEN, mk_iters, h + OFF_MK_DIGEST,
           LUKS_DIGEST_LEN);
    char uuid[37];
    format_uuid(rnd, uuid);
    memcpy(h + OFF_UUID, uuid, 36);
    for (int i = 0; i < LUKS_SLOTS; i++) {
        uint8_t *k = h + OFF_SLOTS + SLOT_SIZE * i;
        put_be32(k + SLOT_ACTIVE, i ? LUKS_SLOT_DISABLED : LUKS_SLOT_ENABLED);
        put_be32(k + SLOT_OFFSET, first + (uint32_t)i * slot_stride);
        put_be32(k + SLOT_STRIPES, LUKS_STRIPES);
    }
    uint8_t *k0 = h + OFF_SLOTS;
    uint32_t slot_iters = pbkdf2_iterations(alg, key_bytes, p->iter_ms, 1);
    put_be32(k0 + SLOT_ITERS, slot_iters);
    memcpy(k0 + SLOT_SALT, rnd + 16 + LUKS_SALT_LEN, LUKS_SALT_LEN);
    pbkdf2(alg, pass, pass_len, k0 + SLOT_SALT, LUKS_SALT_LEN, slot_iters, slot_key, key_bytes);
    af_split(alg, mk, key_bytes, material);
    if ((ret = luks_parse(l, h, errp)) < 0)
        goto fail;
    struct sector_cipher c;
    if ((ret = make_cipher(l, slot_key, key_bytes, &c, errp)) < 0 ||
        (ret = make_cipher(l, mk, key_bytes, &l->cipher, errp)) < 0)
        goto fail;
    sector_cipher_encrypt(&c, 0, material, out->material_len);
    memcpy(l->master_key, mk, key_bytes);
    l->unlocked = true;
    return 0;
fail:
    if (!(errp && *errp))
        error_setg_errno(errp, -ret, "Could not generate the LUKS keys");
    luks_new_free(out);
    return ret;
}

/* ---- key slot management (qemu's qcrypto_block_luks_amend_options) ---- */

static bool slot_active(const struct luks *l, int slot)
{
    return get_be32(l->h + OFF_SLOTS + SLOT_SIZE * slot + SLOT_ACTIVE) == LUKS_SLOT_ENABLED;
}

static int count_active(const struct luks *l)
{
    int n = 0;
    for (int i = 0; i < LUKS_SLOTS; i++)
        n += slot_active(l, i);
    return n;
}

/* A new passphrase in `slot` for the master key: salt, timed iterations, split and encrypted key
 * material, then the header that marks the slot active. */
static int store_key(struct luks *l, int slot, const uint8_t *pass, size_t pass_len,
                     uint64_t iter_ms, luks_write_fn write, void *opaque, struct error **errp)
{
    uint8_t *k = l->h + OFF_SLOTS + SLOT_SIZE * slot, slot_key[64];
    size_t key_bytes = get_be32(l->h + OFF_KEY_BYTES), mlen = material_len(key_bytes);
    enum hash_alg alg = header_hash(l);
    struct sector_cipher c;
    uint8_t *material = calloc(1, mlen);
    int ret = material ? 0 : -ENOMEM;
    if (ret == 0 && (random_bytes(k + SLOT_SALT, LUKS_SALT_LEN) < 0 ||
                     random_bytes(material, key_bytes * (LUKS_STRIPES - 1)) < 0))
        ret = -EIO;
    if (ret == 0) {
        uint32_t iters = pbkdf2_iterations(alg, key_bytes, iter_ms, 1);
        put_be32(k + SLOT_ITERS, iters);
        pbkdf2(alg, pass, pass_len, k + SLOT_SALT, LUKS_SALT_LEN, iters, slot_key, key_bytes);
        af_split(alg, l->master_key, key_bytes, material);
        ret = make_cipher(l, slot_key, key_bytes, &c, errp);
    }
    if (ret == 0) {
        sector_cipher_encrypt(&c, 0, material, mlen);
        ret = write(opaque, (uint64_t)get_be32(k + SLOT_OFFSET) * LUKS_SECTOR, mlen, material);
    }
    if (ret == 0) {
        put_be32(k + SLOT_ACTIVE, LUKS_SLOT_ENABLED);
        ret = write(opaque, 0, LUKS_HEADER_SIZE, l->h);
    }
    free(material);
    if (ret < 0 && !(errp && *errp))
        error_setg_errno(errp, -ret, "Failed to write to keyslot %d", slot);
    return ret;
}

/* Overwrite a slot's key material with random bytes and mark it disabled. */
static int erase_key(struct luks *l, int slot, luks_write_fn write, void *opaque,
                     struct error **errp)
{
    uint8_t *k = l->h + OFF_SLOTS + SLOT_SIZE * slot;
    size_t mlen = material_len(get_be32(l->h + OFF_KEY_BYTES));
    uint8_t *garbage = malloc(mlen);
    int ret = garbage ? random_bytes(garbage, mlen) : -ENOMEM;
    if (ret == 0)
        ret = write(opaque, (uint64_t)get_be32(k + SLOT_OFFSET) * LUKS_SECTOR, mlen, garbage);
    free(garbage);
    if (ret == 0) {
        memset(k + SLOT_SALT, 0, LUKS_SALT_LEN);
        put_be32(k + SLOT_ITERS, 0);
        put_be32(k + SLOT_ACTIVE, LUKS_SLOT_DISABLED);
        ret = write(opaque, 0, LUKS_HEADER_SIZE, l->h);
    }
    if (ret < 0)
        error_setg_errno(errp, -ret, "Failed to erase keyslot %d", slot);
    return ret;
}

/* 1 when the passphrase opens `slot`, 0 when not (or the slot is inactive), -errno on error. */
static int slot_opens(const struct luks *l, int slot, const uint8_t *pass, size_t pass_len,
                      luks_read_fn read, void *opaque, struct error **errp)
{
    uint8_t mk[64];
    if (!slot_active(l, slot))
        return 0;
    int ret = try_slot(l, slot, pass, pass_len, read, opaque, mk, errp);
    return ret < 0 ? ret : ret == 0;
}

static int amend_add(struct luks *l, const char *new_id, const char *old_id, bool has_slot,
                     uint64_t slot, uint64_t iter_ms, bool force, luks_write_fn write,
                     void *opaque, struct error **errp)
{
    const uint8_t *pass;
    size_t pass_len;
    int keyslot = (int)slot;
    if (!new_id) {
        error_setg(errp, "'new-secret' is required to activate a keyslot");
        return -EINVAL;
    }
    if (old_id) {
        error_setg(errp, "'old-secret' must not be given when activating keyslots");
        return -EINVAL;
    }
    if (has_slot && slot >= LUKS_SLOTS) {
        error_setg(errp, "Invalid keyslot %" PRIu64 " specified, must be between 0 and %d", slot,
                   LUKS_SLOTS - 1);
        return -EINVAL;
    }
    if (!has_slot) {
        for (keyslot = 0; keyslot < LUKS_SLOTS && slot_active(l, keyslot); keyslot++)
            ;
        if (keyslot == LUKS_SLOTS) {
            error_setg(errp, "Can't add a keyslot - all keyslots are in use");
            return -EINVAL;
        }
    }
    if (!force && slot_active(l, keyslot)) {
        error_setg(errp, "Refusing to overwrite active keyslot %d - please erase it first",
                   keyslot);
        return -EINVAL;
    }
    if (secret_lookup(new_id, &pass, &pass_len, errp) < 0)
        return -EINVAL;
    return store_key(l, keyslot, pass, pass_len, iter_ms, write, opaque, errp);
}

static int amend_erase(struct luks *l, const char *old_id, bool has_slot, uint64_t slot,
                       bool force, luks_read_fn read, luks_write_fn write, void *opaque,
                       struct error **errp)
{
    const uint8_t *pass = NULL;
    size_t pass_len = 0;
    int ret;
    if (has_slot) {
        if (slot >= LUKS_SLOTS) {
            error_setg(errp, "Invalid keyslot %" PRIu64 " specified, must be between 0 and %d",
                       slot, LUKS_SLOTS - 1);
            return -EINVAL;
        }
        if (old_id) {
            if (secret_lookup(old_id, &pass, &pass_len, errp) < 0)
                return -EINVAL;
            if ((ret = slot_opens(l, (int)slot, pass, pass_len, read, opaque, errp)) < 0)
                return ret;
            if (!ret) {
                error_setg(errp, "Given keyslot %" PRIu64 " doesn't contain the given old "
                                 "password for erase operation", slot);
                return -EINVAL;
            }
        }
        if (!force && !slot_active(l, (int)slot)) {
            error_setg(errp, "Given keyslot %" PRIu64 " is already erased (inactive) ", slot);
            return -EINVAL;
        }
        if (!force && count_active(l) == 1) {
            error_setg(errp, "Attempt to erase the only active keyslot %" PRIu64 " which will "
                             "erase all the data in the image irreversibly - refusing operation",
                       slot);
            return -EINVAL;
        }
        return erase_key(l, (int)slot, write, opaque, errp);
    }
    if (!old_id) {
        error_setg(errp, "To erase keyslot(s), either explicit keyslot index or the password "
                         "currently contained in them must be given");
        return -EINVAL;
    }
    if (secret_lookup(old_id, &pass, &pass_len, errp) < 0)
        return -EINVAL;
    bool erase[LUKS_SLOTS] = { false };
    int count = 0;
    for (int i = 0; i < LUKS_SLOTS; i++) {
        if ((ret = slot_opens(l, i, pass, pass_len, read, opaque, errp)) < 0)
            return ret;
        erase[i] = ret;
        count += ret;
    }
    if (count == 0) {
        error_setg(errp, "No keyslots match given (old) password for erase operation");
        return -EINVAL;
    }
    if (!force && count == count_active(l)) {
        error_setg(errp, "All the active keyslots match the (old) password that was given and "
                         "erasing them will erase all the data in the image irreversibly - "
                         "refusing operation");
        return -EINVAL;
    }
    for (int i = 0; i < LUKS_SLOTS; i++)
        if (erase[i] && (ret = erase_key(l, i, write, opaque, errp)) < 0)
            return ret;
    return 0;
}

int luks_amend(struct luks *l, const struct opts *opts, const char *prefix, bool force,
               luks_read_fn read, luks_write_fn write, void *opaque, struct error **errp)
{
    char key[64];
#define OPT(name) (snprintf(key, sizeof(key), "%s%s", prefix, name), opts_get(opts, key))
    const char *state = OPT("state"), *new_id = OPT("new-secret"), *old_id = OPT("old-secret");
    bool has_slot = OPT("keyslot") != NULL;
#undef OPT
    uint64_t slot = 0, iter_ms = 2000;
    snprintf(key, sizeof(key), "%skeyslot", prefix);
    if (opts_get_number(opts, key, &slot, errp) < 0)
        return -EINVAL;
    snprintf(key, sizeof(key), "%siter-time", prefix);
    if (opts_get_number(opts, key, &iter_ms, errp) < 0)
        return -EINVAL;
    if (!state) {
        error_setg(errp, "Parameter 'state' is missing");
        return -EINVAL;
    }
    if (!l->unlocked) {
        error_setg(errp, "The LUKS header must be unlocked to be amended");
        return -EINVAL;
    }
    if (!strcmp(state, "active"))
        return amend_add(l, new_id, old_id, has_slot, slot, iter_ms, force, write, opaque, errp);
    if (!strcmp(state, "inactive"))
        return amend_erase(l, old_id, has_slot, slot, force, read, write, opaque, errp);
    error_setg(errp, "Parameter 'state' does not accept value '%s'", state);
    return -EINVAL;
}
