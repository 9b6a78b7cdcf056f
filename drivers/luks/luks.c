/* The luks block driver (qemu 7.2's block/crypto.c): a LUKS1 header (src/luks.c) in front of an
 * encrypted payload; probe, open with the --object secret named by key-secret, sector-wise
 * decrypting reads and read-modify-write encrypting writes, info, and create. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bswap.h"
#include "file.h"
#include "luks.h"
#include "node.h"
#include "object.h"

struct luks_state {
    struct luks luks;
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

static const struct opt_desc luks_amend_opts[] = {
    { "iter-time", OPT_NUMBER, "Time to spend in PBKDF in milliseconds", NULL },
    { "keyslot", OPT_NUMBER, "Select a single keyslot to modify explicitly", NULL },
    { "new-secret", OPT_STRING, "New secret to set in the matching keyslots. Empty string to erase",
      NULL },
    { "old-secret", OPT_STRING, "Select all keyslots that match this password", NULL },
    { "state", OPT_STRING, "Select new state of affected keyslots (active/inactive)", NULL },
    { NULL, 0, NULL, NULL },
};

static int luks_probe(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    return len >= LUKS_HEADER_SIZE && !memcmp(buf, "LUKS\xba\xbe", 6) && get_be16(buf + 6) == 1
               ? 100 : 0;
}

static int read_file(void *opaque, uint64_t off, uint64_t len, void *buf)
{
    struct node *n = opaque;
    return node_pread(n->file, off, len, buf);
}

static int write_file(void *opaque, uint64_t off, uint64_t len, const void *buf)
{
    struct node *n = opaque;
    int ret = node_pwrite(n->file, off, len, buf);
    return ret < 0 ? ret : node_flush(n->file);
}

/* qemu-img amend: add or erase key slots (the header must have been unlocked on open). */
static int luks_drv_amend(struct node *n, struct opts *opts, bool force, struct error **errp)
{
    struct luks_state *s = n->state;
    return luks_amend(&s->luks, opts, "", force, read_file, write_file, n, errp);
}

static int luks_open(struct node *n, struct opts *opts, struct error **errp)
{
    struct luks_state *s = calloc(1, sizeof(*s));
    uint8_t h[LUKS_HEADER_SIZE];
    if (!s)
        return -ENOMEM;
    n->state = s;
    int ret = node_pread(n->file, 0, LUKS_HEADER_SIZE, h);
    if (ret < 0) {
        error_setg_errno(errp, ret, "Unable to read LUKS header");
        return ret;
    }
    if ((ret = luks_parse(&s->luks, h, errp)) < 0)
        return ret;
    if (!(n->flags & NODE_NO_IO)) {
        const char *id = opts_get(opts, "key-secret");
        const uint8_t *pass;
        size_t pass_len;
        if (secret_lookup_required("key-secret", id, &pass, &pass_len, errp) < 0)
            return -EINVAL;
        if ((ret = luks_unlock(&s->luks, pass, pass_len, read_file, n, errp)) < 0)
            return ret;
    }
    if (s->luks.payload_offset > n->file->size) {
        error_setg_errno(errp, EIO, "Could not refresh total sector count");
        return -EIO;
    }
    n->size = n->file->size - s->luks.payload_offset;
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
    int ret = node_pread(n->file, s->luks.payload_offset + first * LUKS_SECTOR,
                         count * LUKS_SECTOR, buf);
    if (ret == 0)
        luks_decrypt(&s->luks, first, buf, count * LUKS_SECTOR);
    return ret;
}

static int luks_pread(struct node *n, uint64_t off, uint64_t len, void *buf)
{
    struct luks_state *s = n->state;
    if (!s->luks.unlocked)
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
    if (!s->luks.unlocked)
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
        luks_encrypt(&s->luks, first, tmp, count * LUKS_SECTOR);
        ret = node_pwrite(n->file, s->luks.payload_offset + first * LUKS_SECTOR,
                          count * LUKS_SECTOR, tmp);
    }
    free(tmp);
    return ret;
}

static int luks_get_info(struct node *n, struct node_info *info, struct error **errp)
{
    (void)errp;
    struct luks_state *s = n->state;
    json_object *fs = json_object_new_object();
    json_object_object_add(fs, "type", json_object_new_string("luks"));
    json_object_object_add(fs, "data", luks_info_json(&s->luks));
    info->format_specific = fs;
    info->encrypted = true;
    return 0;
}

static int64_t luks_allocated_size(struct node *n)
{
    return node_allocated_size(n->file);
}

/* The header and slot 0's key material only: the other slots stay holes, as qemu leaves them. */
static int luks_write_new(const char *filename, const struct luks_new *c, uint64_t size,
                          enum prealloc prealloc, struct error **errp)
{
    struct node *f = node_open(filename, "file", NULL, NODE_RDWR, errp);
    if (!f)
        return -EIO;
    int ret = node_truncate(f, c->area_len + size, false, prealloc, errp);
    if (ret == 0)
        ret = node_pwrite(f, 0, LUKS_HEADER_SIZE, c->area);
    if (ret == 0)
        ret = node_pwrite(f, c->material_offset, c->material_len, c->area + c->material_offset);
    if (ret == 0)
        ret = node_flush(f);
    if (ret < 0 && !(errp && *errp))
        error_setg_errno(errp, ret, "Could not write image");
    node_close(f);
    return ret;
}

/* qemu's block_crypto_measure: the header and key material a new image gets, plus the data
 * (the source's size, else the size option), all of it required. The options and the secret are
 * checked as for create; no keys are derived. */
static int luks_measure(struct opts *opts, struct node *in, struct measure_info *out,
                        struct error **errp)
{
    uint64_t size = 0;
    struct luks_params params;
    const uint8_t *pass;
    size_t pass_len;
    if (opts_get_size(opts, "size", &size, errp) < 0)
        return -EINVAL;
    if (in)
        size = in->size;
    int ret = luks_params_from_opts(opts, "", &params, errp);
    if (ret < 0)
        return ret;
    const char *secret = opts_get(opts, "key-secret");
    if (secret_lookup_required("key-secret", secret, &pass, &pass_len, errp) < 0)
        return -EINVAL;
    out->required = out->fully_allocated = luks_payload_bytes(&params) + size;
    out->has_bitmaps = false;
    return 0;
}

static int luks_create(const char *filename, struct opts *opts, struct error **errp)
{
    uint64_t size = 0;
    struct luks_params params;
    struct luks_new c = { 0 };
    struct luks *l = NULL;
    enum prealloc prealloc = PREALLOC_OFF;
    const char *p = opts_get(opts, "preallocation");
    const char *secret = opts_get(opts, "key-secret");
    const uint8_t *pass;
    size_t pass_len;
    if (opts_get_size(opts, "size", &size, errp) < 0)
        return -EINVAL;
    if (p && prealloc_parse(p, &prealloc) < 0) {
        error_setg(errp, "invalid parameter value: %s", p);
        return -EINVAL;
    }
    if (prealloc == PREALLOC_METADATA)
        prealloc = PREALLOC_OFF; /* as qemu: the header needs no preallocation */
    int ret = luks_params_from_opts(opts, "", &params, errp);
    if (ret < 0)
        return ret;
    if (secret_lookup_required("key-secret", secret, &pass, &pass_len, errp) < 0)
        return -EINVAL;
    if ((ret = file_create(filename, 0, PREALLOC_OFF, errp)) < 0)
        return ret;
    if (!(l = malloc(sizeof(*l))))
        ret = -ENOMEM;
    if (ret == 0 && (ret = luks_format(l, &params, pass, pass_len, &c, errp)) == 0)
        ret = luks_write_new(filename, &c, size, prealloc, errp);
    luks_new_free(&c);
    free(l);
    if (ret < 0)
        unlink(filename); /* qemu deletes what it created when formatting fails */
    return ret;
}

const struct driver driver_luks = {
    .name = "luks",
    .open_opts = luks_open_opts,
    .create_opts = luks_create_opts,
    .amend_opts = luks_amend_opts,
    .amend = luks_drv_amend,
    .measure = luks_measure,
    .create = luks_create,
    .probe = luks_probe,
    .open = luks_open,
    .close = luks_close,
    .pread = luks_pread,
    .pwrite = luks_pwrite,
    .allocated_size = luks_allocated_size,
    .get_info = luks_get_info,
};
