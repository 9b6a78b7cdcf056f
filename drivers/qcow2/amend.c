/* qcow2 image-level operations used by other commands (qemu 7.2 behaviour): changing the recorded
 * backing file (rebase, commit), emptying an image (commit), measure's size estimates
 * (qcow2_calc_prealloc_size / qcow2_refcount_metadata_size), and amend of the simple options. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bswap.h"
#include "qcow2.h"

static int change_backing_file(struct node *n, const char *file, const char *fmt)
{
    struct qcow2 *s = qcow2_state(n);
    if (file && strlen(file) > QCOW2_MAX_BACKING_NAME)
        return -EINVAL;
    if (fmt && !file)
        return -EINVAL;
    if (file && (s->autoclear & AUTOCLEAR_DATA_FILE_RAW))
        return -EINVAL;
    char *nf = file && file[0] ? strdup(file) : NULL;
    char *nfmt = nf && fmt ? strdup(fmt) : NULL;
    pthread_mutex_lock(&s->lock);
    char *old_fmt = s->backing_format;
    s->backing_format = nfmt;
    int ret = qcow2_write_header(s, nf);
    if (ret < 0) {
        s->backing_format = old_fmt;
        free(nfmt);
        free(nf);
    } else {
        free(old_fmt);
        free(n->backing_file);
        free(n->backing_fmt);
        n->backing_file = nf;
        n->backing_fmt = nfmt ? strdup(nfmt) : NULL;
    }
    pthread_mutex_unlock(&s->lock);
    return ret;
}

int qcow2_change_backing_file(struct node *n, const char *file, const char *fmt)
{
    return change_backing_file(n, file, fmt);
}

static uint64_t div_up(uint64_t a, uint64_t b)
{
    return (a + b - 1) / b;
}

static uint64_t round_up(uint64_t a, uint64_t b)
{
    return div_up(a, b) * b;
}

/* Refcount table and blocks needed to count `clusters` clusters (and themselves). */
static uint64_t refcount_metadata_size(uint64_t clusters, uint64_t cs, unsigned order)
{
    uint64_t per_table = cs / 8, per_block = cs * 8 / (1u << order);
    uint64_t table = 0, blocks = 0, n = 0, last;
    do {
        last = n;
        blocks = div_up(clusters + table + blocks, per_block);
        table = div_up(blocks, per_table);
        n = clusters + blocks + table;
    } while (n != last);
    return (blocks + table) * cs;
}

static uint64_t prealloc_size(uint64_t total, uint64_t cs, unsigned order, bool ext_l2)
{
    uint64_t l2e = ext_l2 ? 16 : 8;
    uint64_t aligned = round_up(total, cs);
    uint64_t meta = cs;
    uint64_t nl2e = round_up(aligned / cs, cs / l2e);
    meta += nl2e * l2e;
    uint64_t nl1e = round_up(nl2e * l2e / cs, cs / 8);
    meta += nl1e * 8;
    meta += refcount_metadata_size((meta + aligned) / cs, cs, order);
    return meta + aligned;
}

/* The create options measure reads, in qemu's qcow2_measure order and with its messages. */
static int measure_opts(struct opts *o, uint64_t *cs, unsigned *order, bool *ext_l2,
                        enum prealloc *pa, bool *v3, uint64_t *luks_len, struct error **errp)
{
    uint64_t bits = 16;
    *cs = 65536;
    *ext_l2 = false;
    if (opts_get_bool(o, "extended_l2", ext_l2, errp) < 0 ||
        opts_get_size(o, "cluster_size", cs, errp) < 0)
        return -EINVAL;
    if (*cs < 512 || *cs > (2u << 20) || (*cs & (*cs - 1))) {
        error_setg(errp, "Cluster size must be a power of two between 512 and 2048k");
        return -EINVAL;
    }
    if (*ext_l2 && *cs < 512 * 32) {
        error_setg(errp, "Extended L2 entries are only supported with cluster sizes of at least "
                         "%u bytes", 512 * 32);
        return -EINVAL;
    }
    const char *c = opts_get(o, "compat");
    if (c && strcmp(c, "0.10") && strcmp(c, "1.1")) {
        error_setg(errp, "Invalid compatibility level: '%s'", c);
        return -EINVAL;
    }
    *v3 = !(c && !strcmp(c, "0.10"));
    if (opts_get_number(o, "refcount_bits", &bits, errp) < 0)
        return -EINVAL;
    if (bits > 64 || !bits || (bits & (bits - 1))) {
        error_setg(errp, "Refcount width must be a power of two and may not exceed 64 bits");
        return -EINVAL;
    }
    if (!*v3 && bits != 16) {
        error_setg(errp, "Different refcount widths than 16 bits require compatibility level 1.1 "
                         "or above (use compat=1.1 or greater)");
        return -EINVAL;
    }
    *order = 0;
    while ((1ull << *order) < bits)
        (*order)++;
    const char *p = opts_get(o, "preallocation");
    *pa = PREALLOC_OFF;
    if (p && prealloc_parse(p, pa) < 0) {
        error_setg(errp, "invalid parameter value: %s", p);
        return -EINVAL;
    }
    /* only a LUKS header changes the sizes (the legacy AES format has none) */
    const char *ef = opts_get(o, "encrypt.format");
    *luks_len = 0;
    if (ef && !strcmp(ef, "luks")) {
        int ret = qcow2_crypt_measure(o, luks_len, errp);
        if (ret < 0)
            return ret;
        *luks_len = round_up(*luks_len, *cs);
    }
    return 0;
}

static int required_from_source(struct node *in, uint64_t cs, uint64_t *required,
                                struct error **errp)
{
    uint64_t ssize = in->size, req = 0;
    for (uint64_t off = 0; off < ssize;) {
        struct block_status bs;
        int ret = node_block_status_above(in, NULL, off, ssize - off, &bs, NULL);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Unable to get block status");
            return ret;
        }
        uint64_t pnum = bs.len ? bs.len : ssize - off;
        if (bs.flags & BS_ZERO) {
            /* skipped */
        } else if ((bs.flags & (BS_DATA | BS_ALLOCATED)) == (BS_DATA | BS_ALLOCATED)) {
            pnum = round_up(off + pnum, cs) - off;
            req += off % cs + pnum;
        }
        off += pnum;
    }
    *required = req;
    return 0;
}

/* qemu's qcow2_get_persistent_dirty_bitmap_size: every bitmap of the source fully allocated,
 * its table, and the directory entries, each rounded to clusters. */
static int bitmaps_size(struct node *in, uint64_t cs, uint64_t *out, struct error **errp)
{
    struct bitmap_info *list = NULL;
    int count = 0;
    int ret = in->drv->bitmaps->list(in, &list, &count);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read the bitmaps");
        return ret;
    }
    uint64_t total = 0, dir = 0;
    for (int i = 0; i < count; i++) {
        uint64_t gran = list[i].granularity ? list[i].granularity : 1;
        uint64_t bits = (in->size + gran - 1) / gran, bytes = (bits + 7) / 8;
        uint64_t clusters = (bytes + cs - 1) / cs;
        total += clusters * cs + round_up(clusters * 8, cs);
        dir += (24 + strlen(list[i].name) + 7) & ~7ull;
    }
    bitmap_info_list_free(list, count);
    *out = total + round_up(dir, cs);
    return 0;
}

int qcow2_measure(struct opts *o, struct node *in, struct measure_info *out, struct error **errp)
{
    uint64_t cs, size = 0, required, vsize, luks_len;
    unsigned order;
    bool ext_l2, v3;
    enum prealloc pa;
    int ret = measure_opts(o, &cs, &order, &ext_l2, &pa, &v3, &luks_len, errp);
    if (ret < 0)
        return ret;
    if (opts_get_size(o, "size", &size, errp) < 0)
        return -EINVAL;
    vsize = round_up(size, cs);
    uint64_t l2e = ext_l2 ? 16 : 8, per_l2 = cs / l2e;
    if ((vsize / cs + per_l2 - 1) / per_l2 * 8 > QCOW2_MAX_L1_BYTES) {
        error_setg(errp, "The image size is too large (try using a larger cluster size)");
        return -EINVAL;
    }
    required = 0;
    if (in) {
        vsize = round_up(in->size, cs);
        /* with a backing file, qemu cannot tell what the chain shares: all clusters count */
        if (opts_get(o, "backing_file"))
            required = vsize;
        else if ((ret = required_from_source(in, cs, &required, errp)) < 0)
            return ret;
    }
    if (pa == PREALLOC_FULL || pa == PREALLOC_FALLOC)
        required = vsize;
    out->fully_allocated = prealloc_size(vsize, cs, order, ext_l2);
    out->required = out->fully_allocated - vsize + required + luks_len;
    out->fully_allocated += luks_len;
    /* qemu's bdrv_supports_persistent_dirty_bitmap: a qcow2 source of version 3 */
    out->has_bitmaps = v3 && in && !strcmp(in->drv->name, "qcow2") &&
                       qcow2_state(in)->version >= 3;
    out->bitmaps = 0;
    if (out->has_bitmaps)
        return bitmaps_size(in, cs, &out->bitmaps, errp);
    return 0;
}

static int set_compat_bit(struct qcow2 *s, uint64_t bit, bool on)
{
    uint64_t c = on ? (s->compat | bit) : (s->compat & ~bit);
    if (c == s->compat)
        return 0;
    s->compat = c;
    return qcow2_write_header(s, s->node->backing_file);
}

/* One L2 table's zero clusters made valid for v2, in place (qemu's expand_zero_clusters_in_l1):
 * plain ones dropped when nothing lies below, else backed by a zeroed cluster that every sharer
 * of a shared table (snapshots) references; preallocated ones zeroed on disk. */
static int expand_l2(struct node *n, struct qcow2 *s, uint64_t l2, const uint8_t *zero)
{
    uint64_t cs = s->cluster_size, l2_rc, rc;
    if (l2 & (cs - 1)) {
        qcow2_signal_corruption(s, "L2 table offset %#" PRIx64 " unaligned", l2);
        return -EIO;
    }
    int ret = qcow2_get_refcount(s, l2 >> s->cluster_bits, &l2_rc);
    if (ret < 0)
        return ret;
    if (!l2_rc)
        return -EIO;
    uint8_t *t;
    if ((ret = cache_get(s->l2_cache, l2, (void **)&t)) < 0)
        return ret;
    for (uint64_t j = 0; ret == 0 && j < (1ull << s->l2_bits); j++) {
        uint64_t e = get_be64(t + j * 8), host = e & L2E_OFFSET_MASK;
        if ((e & OFLAG_COMPRESSED) || !(e & OFLAG_ZERO))
            continue;
        if (!host && !n->backing_file) {
            e = 0;
        } else {
            if (!host) {
                int64_t at = qcow2_alloc_clusters(s, 1);
                if (at < 0) {
                    ret = (int)at;
                    break;
                }
                host = (uint64_t)at;
                if (l2_rc > 1 && (ret = qcow2_update_refcount(s, host >> s->cluster_bits,
                                                              (int64_t)l2_rc - 1)) < 0)
                    break;
            } else if (host & (cs - 1)) {
                qcow2_signal_corruption(s, "Cluster allocation offset %#" PRIx64 " unaligned",
                                        host);
                ret = -EIO;
                break;
            }
            if ((ret = node_pwrite(s->node->file, host, cs, zero)) < 0 ||
                (ret = qcow2_get_refcount(s, host >> s->cluster_bits, &rc)) < 0)
                break;
            e = host | (rc == 1 ? OFLAG_COPIED : 0);
        }
        put_be64(t + j * 8, e);
        cache_mark_dirty(s->l2_cache, t);
    }
    cache_put(s->l2_cache, t);
    return ret;
}

/* Zero clusters do not exist in v2: every L2 table of the active L1 and of each snapshot's. */
static int expand_zero_clusters(struct node *n, struct qcow2 *s)
{
    uint8_t *zero = calloc(1, s->cluster_size);
    if (!zero)
        return -ENOMEM;
    int ret = 0;
    for (uint32_t i = 0; ret == 0 && i < s->l1_size; i++)
        if (s->l1[i] & L1E_OFFSET_MASK)
            ret = expand_l2(n, s, s->l1[i] & L1E_OFFSET_MASK, zero);
    for (uint32_t k = 0; ret == 0 && k < s->nb_snapshots; k++) {
        struct qcow2_snapshot *sn = &s->snaps[k];
        uint8_t *l1 = malloc((uint64_t)sn->l1_size * 8 + 1);
        ret = l1 ? node_pread(s->node->file, sn->l1_offset, (uint64_t)sn->l1_size * 8, l1)
                 : -ENOMEM;
        for (uint32_t i = 0; ret == 0 && i < sn->l1_size; i++) {
            uint64_t l2 = get_be64(l1 + (uint64_t)i * 8) & L1E_OFFSET_MASK;
            if (l2)
                ret = expand_l2(n, s, l2, zero);
        }
        free(l1);
    }
    free(zero);
    return ret == 0 ? qcow2_flush_metadata(s) : ret;
}

/* Whether the active image holds compressed clusters (qemu's qcow2_has_compressed_clusters). */
static int has_compressed(struct qcow2 *s)
{
    int found = 0;
    for (uint32_t i = 0; !found && i < s->l1_size; i++) {
        uint64_t l2 = s->l1[i] & L1E_OFFSET_MASK;
        uint8_t *t;
        if (!l2)
            continue;
        if (l2 & (s->cluster_size - 1))
            return -EIO;
        int ret = cache_get(s->l2_cache, l2, (void **)&t);
        if (ret < 0)
            return ret;
        for (uint64_t j = 0; !found && j < (1ull << s->l2_bits); j++)
            found = (get_be64(t + j * s->l2_entry_size) & OFLAG_COMPRESSED) != 0;
        cache_put(s->l2_cache, t);
    }
    return found;
}

/* qemu's qcow2_downgrade, its checks in its order. */
static int downgrade(struct node *n, struct qcow2 *s, struct error **errp)
{
    if (s->refcount_order != 4) {
        error_setg(errp, "compat=0.10 requires refcount_bits=16");
        return -ENOTSUP;
    }
    if (s->incompat & INCOMPAT_DATA_FILE) {
        error_setg(errp, "Cannot downgrade an image with a data file");
        return -ENOTSUP;
    }
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        if (s->snaps[i].vm_state_size > UINT32_MAX || s->snaps[i].disk_size != n->size) {
            error_setg(errp, "Internal snapshots prevent downgrade of image");
            return -ENOTSUP;
        }
    }
    int ret = qcow2_flush_metadata(s);
    if (ret == 0 && (s->incompat & INCOMPAT_DIRTY) && (ret = node_flush(n->file)) == 0 &&
        (ret = qcow2_set_incompat(s, s->incompat & ~INCOMPAT_DIRTY)) == 0)
        s->marked_dirty = false;
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Failed to make the image clean");
        return ret;
    }
    uint64_t bad = s->incompat & ~INCOMPAT_COMPRESSION;
    if (bad) {
        error_setg(errp, "Cannot downgrade an image with incompatible features 0x%" PRIx64 " set",
                   bad);
        return -ENOTSUP;
    }
    /* the bitmaps are stored as at close: qemu leaves their extension, ignored from now on */
    if ((ret = qcow2_bitmaps_track_stop(s)) < 0)
        return ret;
    s->compat = 0;
    s->autoclear = 0;
    if ((ret = expand_zero_clusters(n, s)) < 0) {
        error_setg_errno(errp, -ret, "Failed to turn zero into data clusters");
        return ret;
    }
    if (s->compression_type != COMPRESSION_ZLIB) {
        ret = has_compressed(s);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Failed to check block status");
            return ret;
        }
        if (ret) {
            error_setg(errp, "Cannot downgrade an image with zstd compression type and existing "
                             "compressed clusters");
            return -ENOTSUP;
        }
        s->compression_type = COMPRESSION_ZLIB;
        s->incompat &= ~INCOMPAT_COMPRESSION;
    }
    s->version = 2;
    s->incompat = 0;
    ret = qcow2_write_header(s, n->backing_file);
    if (ret < 0)
        error_setg_errno(errp, -ret, "Failed to update the image header");
    return ret;
}

static int change_compat(struct node *n, struct qcow2 *s, bool v3, struct error **errp)
{
    if (v3 == (s->version >= 3))
        return 0;
    if (v3) {
        s->version = 3;
        s->refcount_order = 4;
        return qcow2_write_header(s, n->backing_file);
    }
    return downgrade(n, s, errp);
}

static const char *const amendable[] = {
    "compat", "size", "backing_file", "backing_fmt", "data_file", "data_file_raw",
    "lazy_refcounts", "refcount_bits", "encrypt.key-secret", "encrypt.keyslot", "encrypt.state",
    "encrypt.old-secret", "encrypt.new-secret", "encrypt.iter-time", NULL,
};

static int validate_amend(struct opts *o, struct error **errp)
{
    for (size_t i = 0; i < o->count; i++) {
        bool ok = false;
        for (const char *const *a = amendable; *a; a++)
            ok = ok || !strcmp(*a, o->items[i].key);
        if (!ok) {
            error_setg(errp, "Invalid parameter '%s'\nThis option is only supported for image "
                             "creation", o->items[i].key);
            return -EINVAL;
        }
    }
    return 0;
}

struct amend_req {
    bool v3, lazy, data_raw, encrypt;
    uint64_t size, bits;
    const char *backing_file, *backing_fmt, *data_file;
};

/* The options as qemu's qcow2_amend_options reads them, in the order of its option list: the
 * first bad one fails before anything changes. */
static int parse_amend(struct node *n, struct qcow2 *s, struct opts *o, struct amend_req *r,
                       struct error **errp)
{
    r->v3 = s->version >= 3;
    r->lazy = s->compat & COMPAT_LAZY_REFCOUNTS;
    r->data_raw = s->autoclear & AUTOCLEAR_DATA_FILE_RAW;
    r->bits = s->refcount_bits;
    r->size = 0;
    r->encrypt = false;
    for (size_t i = 0; i < o->count; i++) {
        if (strncmp(o->items[i].key, "encrypt.", 8))
            continue;
        if (!s->crypt_method) {
            error_setg(errp, "Can't amend encryption options - encryption not present");
            return -EINVAL;
        }
        if (s->crypt_method != 2) {
            error_setg(errp, "Only LUKS encryption options can be amended");
            return -ENOTSUP;
        }
        r->encrypt = true;
    }
    if (opts_get(o, "size") && opts_get_size(o, "size", &r->size, errp) < 0)
        return -EINVAL;
    const char *c = opts_get(o, "compat");
    if (c) {
        if (!strcmp(c, "0.10") || !strcmp(c, "v2")) {
            r->v3 = false;
        } else if (!strcmp(c, "1.1") || !strcmp(c, "v3")) {
            r->v3 = true;
        } else {
            error_setg(errp, "Unknown compatibility level %s", c);
            return -EINVAL;
        }
    }
    r->backing_file = opts_get(o, "backing_file");
    r->backing_fmt = opts_get(o, "backing_fmt");
    if (opts_get_bool(o, "lazy_refcounts", &r->lazy, errp) < 0 ||
        opts_get_number(o, "refcount_bits", &r->bits, errp) < 0)
        return -EINVAL;
    if (opts_get(o, "refcount_bits") && (!r->bits || r->bits > 64 || (r->bits & (r->bits - 1)))) {
        error_setg(errp, "Refcount width must be a power of two and may not exceed 64 bits");
        return -EINVAL;
    }
    r->data_file = opts_get(o, "data_file");
    if (r->data_file && !(s->incompat & INCOMPAT_DATA_FILE)) {
        error_setg(errp, "data-file can only be set for images that use an external data file");
        return -EINVAL;
    }
    if (opts_get_bool(o, "data_file_raw", &r->data_raw, errp) < 0)
        return -EINVAL;
    if (r->data_raw && !(s->autoclear & AUTOCLEAR_DATA_FILE_RAW)) {
        error_setg(errp, "data-file-raw cannot be set on existing images");
        return -EINVAL;
    }
    (void)n;
    return 0;
}

static bool str_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b));
}

/* The steps of qemu's qcow2_amend_options, in its order: upgrade, refcount width, data file
 * settings, backing file (only restating it is allowed), lazy refcounts, size, downgrade. */
static int amend_locked(struct node *n, struct qcow2 *s, const struct amend_req *r,
                        struct error **errp)
{
    int ret = qcow2_flush_metadata(s);
    if (ret == 0 && r->v3 && s->version < 3)
        ret = change_compat(n, s, true, errp);
    if (ret == 0 && r->bits != s->refcount_bits) {
        if (!r->v3 && r->bits != 16) {
            error_setg(errp, "Refcount widths other than 16 bits require compatibility level 1.1 "
                             "or above (use compat=1.1 or greater)");
            return -EINVAL;
        }
        uint32_t order = 0;
        while ((1ull << order) < r->bits)
            order++;
        ret = qcow2_change_refcount_order(s, order, errp);
    }
    if (ret < 0)
        return ret;
    if (r->data_raw)
        s->autoclear |= AUTOCLEAR_DATA_FILE_RAW;
    else
        s->autoclear &= ~AUTOCLEAR_DATA_FILE_RAW;
    if (r->data_file) {
        free(s->data_file_name);
        s->data_file_name = *r->data_file ? strdup(r->data_file) : NULL;
    }
    if ((ret = qcow2_write_header(s, n->backing_file)) < 0) {
        error_setg_errno(errp, -ret, "Failed to update the image header");
        return ret;
    }
    if ((r->backing_file || r->backing_fmt) && (str_differs(r->backing_file, n->backing_file) ||
                                                str_differs(r->backing_fmt, s->backing_format))) {
        error_setg(errp, "Cannot amend the backing file\n"
                         "You can use 'qemu-img rebase' instead.");
        return -EINVAL;
    }
    bool lazy = s->compat & COMPAT_LAZY_REFCOUNTS;
    if (r->lazy != lazy && r->lazy && !r->v3) {
        error_setg(errp, "Lazy refcounts only supported with compatibility level 1.1 and above "
                         "(use compat=1.1 or greater)");
        return -EINVAL;
    }
    if (r->lazy != lazy && (ret = set_compat_bit(s, COMPAT_LAZY_REFCOUNTS, r->lazy)) < 0)
        error_setg_errno(errp, -ret, "Failed to update the image header");
    return ret;
}

/* Amend: every option qemu-img 7.2 amends on qcow2, with its messages for the refused ones. */
int qcow2_amend(struct node *n, struct opts *o, bool force, struct error **errp)
{
    struct qcow2 *s = qcow2_state(n);
    struct amend_req r;
    int ret = validate_amend(o, errp);
    if (ret < 0 || (ret = parse_amend(n, s, o, &r, errp)) < 0)
        return ret;
    /* qemu updates the key slots before any other change */
    if (r.encrypt && (ret = qcow2_crypt_amend(n, o, force, errp)) < 0)
        return ret;
    pthread_mutex_lock(&s->lock);
    ret = amend_locked(n, s, &r, errp);
    pthread_mutex_unlock(&s->lock);
    if (ret == 0 && r.size && (ret = node_truncate(n, r.size, true, PREALLOC_OFF, errp)) < 0)
        return ret;
    if (ret == 0 && !r.v3 && s->version >= 3) {
        pthread_mutex_lock(&s->lock);
        ret = change_compat(n, s, false, errp);
        pthread_mutex_unlock(&s->lock);
    }
    if (ret < 0 && !(errp && *errp))
        error_setg_errno(errp, -ret, "Failed to update the image header");
    return ret;
}
