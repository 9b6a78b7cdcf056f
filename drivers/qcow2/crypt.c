/* qcow2 encryption as qemu 7.2 does it (docs/interop/qcow2.txt, "crypt_method" and the full disk
 * encryption header extension 0x0537be77): legacy AES (method 1, AES-128-CBC, IVs from guest
 * sector numbers) and LUKS (method 2, a LUKS1 header in clusters of the image, IVs from host
 * sector numbers). The ciphers and the LUKS header logic are the core's (src/crypto.c, src/luks.c). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "object.h"
#include "qcow2.h"

#define CRYPT_SECTOR 512

struct qcow2_crypt {
    struct luks luks;           /* method 2: the header (and the payload key, once unlocked) */
    struct sector_cipher aes;   /* method 1 */
    bool has_key;               /* the data can be read and written */
};

/* Reads of the LUKS header stay inside the area the extension names. */
static int read_crypto_header(void *opaque, uint64_t off, uint64_t len, void *buf)
{
    struct qcow2 *s = opaque;
    uint64_t end;
    if (off > s->crypto_len || len > s->crypto_len - off)
        return -ERANGE; /* luks.c: "Request for data outside of extension header" */
    if (__builtin_add_overflow(s->crypto_off, off + len, &end) || end > QCOW2_MAX_IO_OFFSET)
        return -EIO; /* beyond what qemu's block layer reads */
    return node_pread(s->node->file, s->crypto_off + off, len, buf);
}

/* Writes into the LUKS header area, which never grows. */
static int write_crypto_header(void *opaque, uint64_t off, uint64_t len, const void *buf)
{
    struct qcow2 *s = opaque;
    if (off > s->crypto_len || len > s->crypto_len - off)
        return -ERANGE;
    int ret = node_pwrite(s->node->file, s->crypto_off + off, len, buf);
    return ret < 0 ? ret : node_flush(s->node->file);
}

static const char *method_name(uint32_t method)
{
    return method == QCOW2_CRYPT_AES ? "aes" : "luks";
}

static int open_luks(struct node *n, struct qcow2 *s, struct error **errp)
{
    uint8_t h[LUKS_HEADER_SIZE];
    if (!s->crypto_off) {
        error_setg(errp, "Missing CRYPTO header for crypt method 2");
        return -EINVAL;
    }
    if (s->crypto_off % s->cluster_size) {
        error_setg(errp, "Encryption header offset '%" PRIu64 "' is not a multiple of cluster "
                         "size '%" PRIu64 "'", s->crypto_off, s->cluster_size);
        return -EINVAL;
    }
    if (s->crypto_len < LUKS_HEADER_SIZE) {
        error_setg(errp, "Request for data outside of extension header");
        return -EINVAL;
    }
    int ret = read_crypto_header(s, 0, LUKS_HEADER_SIZE, h);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read encryption header");
        return ret;
    }
    (void)n;
    return luks_parse(&s->crypt->luks, h, errp);
}

int qcow2_crypt_open(struct node *n, struct qcow2 *s, struct opts *opts, struct error **errp)
{
    const char *fmt = opts_get(opts, "encrypt.format");
    const char *id = opts_get(opts, "encrypt.key-secret");
    if (!s->crypt_method) {
        if (fmt) {
            error_setg(errp, "No encryption in image header, but options specified format '%s'",
                       fmt);
            return -EINVAL;
        }
        return 0;
    }
    if (s->crypt_method == QCOW2_CRYPT_AES && (s->crypto_off || s->crypto_len)) {
        error_setg(errp, "CRYPTO header extension only expected with LUKS encryption method");
        return -EINVAL;
    }
    if (fmt && strcmp(fmt, method_name(s->crypt_method))) {
        error_setg(errp, "Header reported '%s' encryption format but options specify '%s'",
                   method_name(s->crypt_method), fmt);
        return -EINVAL;
    }
    if (!(s->crypt = calloc(1, sizeof(*s->crypt))))
        return -ENOMEM;
    int ret = s->crypt_method == QCOW2_CRYPT_LUKS ? open_luks(n, s, errp) : 0;
    if (ret < 0 || (n->flags & NODE_NO_IO))
        return ret;
    const uint8_t *pass;
    size_t pass_len;
    if (secret_lookup_required("encrypt.key-secret", id, &pass, &pass_len, errp) < 0)
        return -EINVAL;
    if (s->crypt_method == QCOW2_CRYPT_AES)
        sector_cipher_init_qcow_aes(&s->crypt->aes, pass, pass_len);
    else if ((ret = luks_unlock(&s->crypt->luks, pass, pass_len, read_crypto_header, s, errp)) < 0)
        return ret;
    s->crypt->has_key = true;
    return 0;
}

void qcow2_crypt_close(struct qcow2 *s)
{
    free(s->crypt);
    s->crypt = NULL;
}

/* qemu numbers LUKS sectors by host offset, AES sectors by guest offset. */
static void crypt_sectors(struct qcow2 *s, uint64_t host, uint64_t guest, uint8_t *buf,
                          uint64_t len, bool encrypt)
{
    if (s->crypt_method == QCOW2_CRYPT_LUKS) {
        if (encrypt)
            luks_encrypt(&s->crypt->luks, host / CRYPT_SECTOR, buf, len);
        else
            luks_decrypt(&s->crypt->luks, host / CRYPT_SECTOR, buf, len);
    } else {
        if (encrypt)
            sector_cipher_encrypt(&s->crypt->aes, guest / CRYPT_SECTOR, buf, len);
        else
            sector_cipher_decrypt(&s->crypt->aes, guest / CRYPT_SECTOR, buf, len);
    }
}

void qcow2_crypt_encrypt(struct qcow2 *s, uint64_t host, uint64_t guest, uint8_t *buf,
                         uint64_t len)
{
    crypt_sectors(s, host, guest, buf, len, true);
}

int qcow2_crypt_read(struct qcow2 *s, uint64_t host, uint64_t guest, uint64_t len, uint8_t *buf)
{
    if (!s->crypt || !s->crypt->has_key)
        return -EIO;
    uint64_t head = host % CRYPT_SECTOR, span = (head + len + CRYPT_SECTOR - 1) & ~511ull;
    uint8_t *tmp = malloc(span);
    if (!tmp)
        return -ENOMEM;
    int ret = node_pread(s->data, host - head, span, tmp);
    if (ret == 0) {
        crypt_sectors(s, host - head, guest - head, tmp, span, false);
        memcpy(buf, tmp + head, len);
    }
    free(tmp);
    return ret;
}

int qcow2_crypt_write(struct qcow2 *s, uint64_t host, uint64_t guest, uint64_t len,
                      const uint8_t *data)
{
    if (!s->crypt || !s->crypt->has_key)
        return -EIO;
    uint64_t head = host % CRYPT_SECTOR, span = (head + len + CRYPT_SECTOR - 1) & ~511ull;
    uint8_t *tmp = malloc(span);
    if (!tmp)
        return -ENOMEM;
    int ret = 0;
    if (head || span != len) /* partial sectors: merge with what they hold */
        ret = qcow2_crypt_read(s, host - head, guest - head, span, tmp);
    if (ret == 0) {
        memcpy(tmp + head, data, len);
        crypt_sectors(s, host - head, guest - head, tmp, span, true);
        ret = node_pwrite(s->data, host - head, span, tmp);
    }
    free(tmp);
    return ret;
}

json_object *qcow2_crypt_info(struct qcow2 *s)
{
    if (!s->crypt_method || !s->crypt)
        return NULL;
    json_object *o;
    if (s->crypt_method == QCOW2_CRYPT_LUKS) {
        json_object *l = luks_info_json(&s->crypt->luks);
        o = json_object_new_object();
        json_object_object_add(o, "format", json_object_new_string("luks"));
        json_object_object_foreach(l, key, val)
            json_object_object_add(o, key, json_object_get(val));
        json_object_put(l);
    } else {
        o = json_object_new_object();
        json_object_object_add(o, "format", json_object_new_string("aes"));
    }
    return o;
}

/* ---- create ---- */

static const char *const luks_only[] = {
    "encrypt.cipher-alg", "encrypt.cipher-mode", "encrypt.ivgen-alg", "encrypt.ivgen-hash-alg",
    "encrypt.hash-alg", "encrypt.iter-time", NULL,
};

int qcow2_crypt_parse_create(struct opts *o, struct qcow2_crypt_params *p, struct error **errp)
{
    const char *fmt = opts_get(o, "encrypt.format"), *id = opts_get(o, "encrypt.key-secret");
    bool on = false;
    memset(p, 0, sizeof(*p));
    if (opts_get_bool(o, "encryption", &on, errp) < 0)
        return -EINVAL;
    if (on && fmt) {
        error_setg(errp, "'encrypt.format' and its alias 'encryption' can't be used at the same time");
        return -EINVAL;
    }
    if (on)
        fmt = "aes";
    if (!fmt) {
        if (!opts_has_prefix(o, "encrypt"))
            return 0;
        error_setg(errp, "Parameter 'encrypt.format' is missing");
        return -EINVAL;
    }
    if (!strcmp(fmt, "aes")) {
        p->method = QCOW2_CRYPT_AES;
    } else if (!strcmp(fmt, "luks")) {
        p->method = QCOW2_CRYPT_LUKS;
    } else {
        error_setg(errp, "Parameter 'format' does not accept value '%s'", fmt);
        return -EINVAL;
    }
    for (int i = 0; p->method == QCOW2_CRYPT_AES && luks_only[i]; i++) {
        if (opts_get(o, luks_only[i])) {
            error_setg(errp, "Parameter '%s' is unexpected", luks_only[i]);
            return -EINVAL;
        }
    }
    if (p->method == QCOW2_CRYPT_LUKS && luks_params_from_opts(o, "encrypt.", &p->luks, errp) < 0)
        return -EINVAL;
    return secret_lookup_required("encrypt.key-secret", id, &p->pass, &p->pass_len, errp);
}

/* qemu's qcow2_set_up_encryption on the new, sized image: for LUKS a header (with slot 0 holding
 * the passphrase) in freshly allocated, zero-filled clusters, then the header names the method. */
int qcow2_crypt_setup(struct node *n, const struct qcow2_crypt_params *p, struct error **errp)
{
    struct qcow2 *s = qcow2_state(n);
    struct luks_new area = { 0 };
    int ret = 0;
    if (!p->method)
        return 0;
    if (!(s->crypt = calloc(1, sizeof(*s->crypt))))
        return -ENOMEM;
    pthread_mutex_lock(&s->lock);
    if (p->method == QCOW2_CRYPT_LUKS) {
        ret = luks_format(&s->crypt->luks, &p->luks, p->pass, p->pass_len, &area, errp);
        uint64_t clusters = (area.area_len + s->cluster_size - 1) / s->cluster_size;
        int64_t off = ret < 0 ? ret : qcow2_alloc_clusters(s, clusters);
        if (ret == 0 && off < 0)
            ret = (int)off;
        if (ret == 0)
            ret = node_write_zero_buffers(n->file, (uint64_t)off, clusters * s->cluster_size);
        if (ret == 0)
            ret = node_pwrite(n->file, (uint64_t)off, area.area_len, area.area);
        if (ret == 0 && (ret = qcow2_flush_metadata(s)) == 0) {
            s->crypto_off = (uint64_t)off;
            s->crypto_len = area.area_len;
        }
    } else {
        sector_cipher_init_qcow_aes(&s->crypt->aes, p->pass, p->pass_len);
    }
    if (ret == 0) {
        s->crypt->has_key = true;
        s->crypt_method = p->method;
        ret = qcow2_write_header(s, n->backing_file);
    }
    pthread_mutex_unlock(&s->lock);
    luks_new_free(&area);
    if (ret < 0 && !(errp && *errp))
        error_setg_errno(errp, -ret, "Could not set up encryption");
    return ret;
}

int qcow2_crypt_measure(struct opts *o, uint64_t *header_len, struct error **errp)
{
    struct luks_params p;
    const char *id = opts_get(o, "encrypt.key-secret");
    const uint8_t *pass;
    size_t pass_len;
    if (!id) {
        error_setg(errp, "Parameter 'encrypt.key-secret' is required for cipher");
        return -EINVAL;
    }
    if (luks_params_from_opts(o, "encrypt.", &p, errp) < 0 ||
        secret_lookup(id, &pass, &pass_len, errp) < 0)
        return -EINVAL;
    *header_len = luks_payload_bytes(&p);
    return 0;
}

int qcow2_crypt_amend(struct node *n, struct opts *o, bool force, struct error **errp)
{
    struct qcow2 *s = qcow2_state(n);
    if (!s->crypt || s->crypt_method != QCOW2_CRYPT_LUKS)
        return -EINVAL;
    pthread_mutex_lock(&s->lock);
    int ret = luks_amend(&s->crypt->luks, o, "encrypt.", force, read_crypto_header,
                         write_crypto_header, s, errp);
    pthread_mutex_unlock(&s->lock);
    return ret;
}
