/* qcow2 persistent dirty bitmaps (docs/interop/qcow2.txt "Bitmaps extension", "Bitmap directory"):
 * the directory parsed with every length checked, reported in info as qemu 7.2 shows it. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bswap.h"
#include "qcow2.h"


static json_object *entry_info(const uint8_t *e, uint32_t flags, const char *name)
{
    json_object *o = json_object_new_object();
    json_object *fl = json_object_new_array();
    if (flags & BME_IN_USE)
        json_object_array_add(fl, json_object_new_string("in-use"));
    if (flags & BME_AUTO)
        json_object_array_add(fl, json_object_new_string("auto"));
    json_object_object_add(o, "flags", fl);
    json_object_object_add(o, "name", json_object_new_string(name));
    json_object_object_add(o, "granularity", json_object_new_int64(1ll << e[17]));
    return o;
}

/* The "bitmaps" list of format-specific info, or NULL when there are none or on a bad directory. */
json_object *qcow2_bitmap_info(struct qcow2 *s)
{
    if (!s->has_bitmaps_ext || !s->bitmap_dir_size)
        return NULL;
    uint8_t *dir = malloc(s->bitmap_dir_size);
    if (!dir)
        return NULL;
    json_object *list = NULL;
    if (node_pread(s->node->file, s->bitmap_dir_offset, s->bitmap_dir_size, dir) < 0)
        goto out;
    list = json_object_new_array();
    uint64_t off = 0;
    for (uint32_t i = 0; i < s->nb_bitmaps; i++) {
        if (s->bitmap_dir_size - off < 24)
            goto bad;
        const uint8_t *e = dir + off;
        uint16_t name_len = get_be16(e + 18);
        uint32_t extra = get_be32(e + 20);
        uint64_t len = 24 + (uint64_t)extra + name_len;
        if (len > s->bitmap_dir_size - off || e[17] > 63)
            goto bad;
        char *name = malloc((size_t)name_len + 1);
        if (!name)
            goto bad;
        memcpy(name, e + 24 + extra, name_len);
        name[name_len] = '\0';
        json_object_array_add(list, entry_info(e, get_be32(e + 12), name));
        free(name);
        off += (len + 7) & ~7ull;
        if (off > s->bitmap_dir_size)
            off = s->bitmap_dir_size;
    }
    goto out;
bad:
    json_object_put(list);
    list = NULL;
out:
    free(dir);
    return list;
}

/* ---- bitmap_ops: the directory kept in memory only while an operation runs ---- */

void qcow2_bitmap_dir_free(struct qcow2_bm *d, uint32_t n)
{
    for (uint32_t i = 0; d && i < n; i++) {
        free(d[i].name);
        free(d[i].extra);
    }
    free(d);
}

int qcow2_bitmap_dir_load(struct qcow2 *s, struct qcow2_bm **out, uint32_t *count)
{
    *out = NULL;
    *count = 0;
    if (!s->has_bitmaps_ext)
        return 0;
    uint8_t *dir = malloc(s->bitmap_dir_size + 1);
    struct qcow2_bm *d = calloc(s->nb_bitmaps + 1, sizeof(*d));
    int ret = -ENOMEM;
    if (!dir || !d)
        goto fail;
    if ((ret = node_pread(s->node->file, s->bitmap_dir_offset, s->bitmap_dir_size, dir)) < 0)
        goto fail;
    ret = -EINVAL;
    uint64_t off = 0;
    for (uint32_t i = 0; i < s->nb_bitmaps; i++) {
        if (s->bitmap_dir_size - off < 24)
            goto fail;
        const uint8_t *e = dir + off;
        struct qcow2_bm *b = &d[i];
        b->table_off = get_be64(e);
        b->table_size = get_be32(e + 8);
        b->flags = get_be32(e + 12);
        b->type = e[16];
        b->gbits = e[17];
        uint16_t name_len = get_be16(e + 18);
        b->extra_size = get_be32(e + 20);
        uint64_t len = 24 + (uint64_t)b->extra_size + name_len;
        if (len > s->bitmap_dir_size - off || b->gbits > 63)
            goto fail;
        b->extra = malloc(b->extra_size + 1);
        b->name = malloc((size_t)name_len + 1);
        if (!b->extra || !b->name)
            goto fail;
        memcpy(b->extra, e + 24, b->extra_size);
        memcpy(b->name, e + 24 + b->extra_size, name_len);
        b->name[name_len] = '\0';
        *count = i + 1;
        off += (len + 7) & ~7ull;
        if (off > s->bitmap_dir_size)
            off = s->bitmap_dir_size;
    }
    free(dir);
    *out = d;
    return 0;
fail:
    free(dir);
    qcow2_bitmap_dir_free(d, *count);
    *count = 0;
    return ret;
}

/* The directory's on-disk bytes (*size of them). */
static uint8_t *serialize_dir(const struct qcow2_bm *d, uint32_t count, uint64_t *size)
{
    *size = 0;
    for (uint32_t i = 0; i < count; i++)
        *size += (24 + d[i].extra_size + strlen(d[i].name) + 7) & ~7ull;
    uint8_t *buf = calloc(1, *size + 1);
    if (!buf)
        return NULL;
    uint64_t off = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint8_t *e = buf + off;
        size_t nl = strlen(d[i].name);
        put_be64(e, d[i].table_off);
        put_be32(e + 8, d[i].table_size);
        put_be32(e + 12, d[i].flags);
        e[16] = d[i].type;
        e[17] = d[i].gbits;
        put_be16(e + 18, (uint16_t)nl);
        put_be32(e + 20, d[i].extra_size);
        memcpy(e + 24, d[i].extra, d[i].extra_size);
        memcpy(e + 24 + d[i].extra_size, d[i].name, nl);
        off += (24 + d[i].extra_size + nl + 7) & ~7ull;
    }
    return buf;
}


/* qemu's update_ext_header_and_dir_in_place: while the directory is rewritten the autoclear bit is
 * off, so a crash leaves bitmaps a reader ignores (leaked clusters at worst), never torn ones. */
int qcow2_bitmap_dir_store_in_place(struct qcow2 *s, const struct qcow2_bm *d, uint32_t count)
{
    uint64_t size;
    uint8_t *buf = serialize_dir(d, count, &size);
    if (!buf)
        return -ENOMEM;
    int ret;
    if (!count || size != s->bitmap_dir_size || count != s->nb_bitmaps) {
        free(buf);
        return qcow2_bitmap_dir_store(s, d, count);
    }
    s->autoclear &= ~AUTOCLEAR_BITMAPS;
    if ((ret = qcow2_write_header(s, s->node->backing_file)) < 0)
        goto out;
    if ((ret = node_pwrite(s->node->file, s->bitmap_dir_offset, size, buf)) < 0 ||
        (ret = node_flush(s->node->file)) < 0)
        goto out;
    s->autoclear |= AUTOCLEAR_BITMAPS;
    ret = qcow2_write_header(s, s->node->backing_file);
out:
    free(buf);
    return ret;
}

/* qemu's update_ext_header_and_dir: write a new directory, point the header at it, free the old
 * one. */
int qcow2_bitmap_dir_store(struct qcow2 *s, const struct qcow2_bm *d, uint32_t count)
{
    uint64_t size;
    uint8_t *buf = serialize_dir(d, count, &size);
    if (!buf)
        return -ENOMEM;
    int64_t at = 0;
    int ret = 0;
    if (count) {
        at = qcow2_alloc_clusters(s, (size + s->cluster_size - 1) >> s->cluster_bits);
        if (at < 0) {
            free(buf);
            return (int)at;
        }
        if ((ret = cache_flush(s->rc_cache)) < 0 ||
            (ret = node_pwrite(s->node->file, (uint64_t)at, size, buf)) < 0 ||
            (ret = node_flush(s->node->file)) < 0)
            goto out;
    }
    uint64_t old = s->has_bitmaps_ext ? s->bitmap_dir_offset : 0, old_size = s->bitmap_dir_size;
    s->has_bitmaps_ext = count > 0;
    s->nb_bitmaps = count;
    s->bitmap_dir_size = size;
    s->bitmap_dir_offset = (uint64_t)at;
    if (count)
        s->autoclear |= AUTOCLEAR_BITMAPS;
    else
        s->autoclear &= ~AUTOCLEAR_BITMAPS;
    if ((ret = qcow2_write_header(s, s->node->backing_file)) < 0)
        goto out;
    for (uint64_t c = old >> s->cluster_bits;
         old && ret == 0 && c <= (old + old_size - 1) >> s->cluster_bits; c++)
        ret = qcow2_update_refcount(s, c, -1);
out:
    free(buf);
    return ret;
}

static int find(struct qcow2_bm *d, uint32_t count, const char *name)
{
    for (uint32_t i = 0; i < count; i++)
        if (!strcmp(d[i].name, name))
            return (int)i;
    return -1;
}

/* Free the data clusters of a bitmap table and reset its entries to "all zeros". */
static int clear_table(struct qcow2 *s, struct qcow2_bm *b, bool free_table)
{
    uint64_t bytes = (uint64_t)b->table_size * 8;
    uint8_t *t = malloc(bytes + 1);
    if (!t)
        return -ENOMEM;
    int ret = bytes ? node_pread(s->node->file, b->table_off, bytes, t) : 0;
    bool changed = false;
    for (uint32_t i = 0; ret == 0 && i < b->table_size; i++) {
        uint64_t e = get_be64(t + (uint64_t)i * 8), d = e & L1E_OFFSET_MASK;
        if (d)
            ret = qcow2_free_later(s, d, 1);
        if (e)
            changed = true;
        put_be64(t + (uint64_t)i * 8, 0);
    }
    if (ret == 0 && changed && !free_table)
        ret = node_pwrite(s->node->file, b->table_off, bytes, t);
    if (ret == 0 && free_table && bytes)
        ret = qcow2_free_later(s, b->table_off, (bytes + s->cluster_size - 1) >> s->cluster_bits);
    free(t);
    return ret;
}

typedef int (*dir_op)(struct node *n, struct qcow2 *s, struct qcow2_bm **d, uint32_t *count, int idx,
                      const void *arg, struct error **errp);

/* Load the directory, find `name`, apply op, store the directory, under the metadata lock. */
static int with_dir(struct node *n, const char *name, bool must_exist, dir_op op, const void *arg,
                    struct error **errp)
{
    struct qcow2 *s = qcow2_state(n);
    struct qcow2_bm *d = NULL;
    uint32_t count = 0;
    pthread_mutex_lock(&s->lock);
    bool tracking = s->tracking;
    int ret = s->incompat & INCOMPAT_CORRUPT ? -EIO : qcow2_flush_metadata(s);
    /* the operation works on the directory as a clean close would leave it */
    if (ret == 0 && tracking && (ret = qcow2_bitmaps_track_stop(s)) < 0)
        error_setg_errno(errp, -ret, "Could not store the bitmaps");
    if (ret == 0 && (ret = qcow2_bitmap_dir_load(s, &d, &count)) < 0)
        error_setg_errno(errp, -ret, "Could not read the bitmap directory");
    int idx = ret == 0 ? find(d, count, name) : -1;
    if (ret == 0 && must_exist && idx < 0) {
        error_setg(errp, "Dirty bitmap '%s' not found", name);
        ret = -ENOENT;
    }
    if (ret == 0)
        ret = op(n, s, &d, &count, idx, arg, errp);
    if (ret == 0 && (ret = qcow2_bitmap_dir_store(s, d, count)) < 0)
        error_setg_errno(errp, -ret, "Could not write the bitmap directory");
    if (ret == 0)
        ret = qcow2_flush_metadata(s);
    qcow2_bitmap_dir_free(d, count);
    if (tracking && !(s->incompat & INCOMPAT_CORRUPT)) {
        struct error *err = NULL;
        int r = qcow2_bitmaps_track_start(s, &err);
        if (r < 0 && ret == 0) {
            error_propagate(errp, err);
            ret = r;
        } else {
            error_free(err);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return ret;
}

/* qemu's bdrv_dirty_bitmap_check(BDRV_BITMAP_DEFAULT) failing on an inconsistent bitmap. */
static int refuse_inconsistent(const struct qcow2_bm *b, struct error **errp)
{
    if (!(b->flags & BME_IN_USE))
        return 0;
    error_setg(errp, "Bitmap '%s' is inconsistent and cannot be used\n"
                     "Try block-dirty-bitmap-remove to delete this bitmap from disk", b->name);
    return -EINVAL;
}

struct add_args {
    const char *name;
    uint64_t granularity;
    bool disabled;
};

/* The granularity of a new bitmap: qemu's default (the cluster size within 4 KiB..64 KiB). */
static int add_gbits(const struct qcow2 *s, uint64_t g, unsigned *gbits, struct error **errp)
{
    if (!g) {
        g = s->cluster_size < 65536 ? s->cluster_size : 65536;
        if (g < 4096)
            g = 4096;
    }
    if (g < 512 || (g & (g - 1)) || g > (1ull << 31)) {
        error_setg(errp, "Granularity must be power of 2, and at least 512");
        return -EINVAL;
    }
    *gbits = 0;
    while ((1ull << *gbits) < g)
        (*gbits)++;
    return 0;
}

static int op_add(struct node *n, struct qcow2 *s, struct qcow2_bm **d, uint32_t *count, int idx,
                  const void *arg, struct error **errp)
{
    const struct add_args *a = arg;
    if (idx >= 0) {
        error_setg(errp, "Bitmap already exists: %s", a->name);
        return -EEXIST;
    }
    if (*count >= 65535) {
        error_setg(errp, "Too many bitmaps");
        return -EFBIG;
    }
    unsigned gbits;
    if (add_gbits(s, a->granularity, &gbits, errp) < 0)
        return -EINVAL;
    uint64_t g = 1ull << gbits;
    uint64_t bits = (n->size + g - 1) / g, per_cluster = s->cluster_size * 8;
    uint64_t entries = (bits + per_cluster - 1) / per_cluster;
    int64_t table = qcow2_alloc_clusters(s, (entries * 8 + s->cluster_size - 1) >> s->cluster_bits);
    if (table < 0)
        return (int)table;
    uint8_t *zero = calloc(1, entries * 8 + 1);
    if (!zero)
        return -ENOMEM;
    int ret = cache_flush(s->rc_cache);
    if (ret == 0 && entries)
        ret = node_pwrite(s->node->file, (uint64_t)table, entries * 8, zero);
    free(zero);
    if (ret < 0)
        return ret;
    struct qcow2_bm *nd = realloc(*d, (*count + 1) * sizeof(*nd));
    if (!nd)
        return -ENOMEM;
    *d = nd;
    struct qcow2_bm *b = &nd[*count];
    memset(b, 0, sizeof(*b));
    b->table_off = (uint64_t)table;
    b->table_size = (uint32_t)entries;
    b->flags = a->disabled ? 0 : BME_AUTO;
    b->type = 1;
    b->gbits = (uint8_t)gbits;
    b->name = strdup(a->name);
    b->extra = calloc(1, 1);
    (*count)++;
    return b->name && b->extra ? 0 : -ENOMEM;
}

/* ---- while the bitmaps are tracked (a read-write open), as qemu: the operations change the
 * bitmaps in memory and the close stores them; only remove writes the directory at once ---- */

/* The tracked bitmap `name`, or qemu's message; usable (consistent) when asked. */
static int tracked_get(struct qcow2 *s, const char *name, bool usable, struct error **errp)
{
    int idx = qcow2_tracked_find(s, name);
    if (idx < 0) {
        error_setg(errp, "Dirty bitmap '%s' not found", name);
        return -ENOENT;
    }
    if (usable && s->tracked[idx].inconsistent) {
        error_setg(errp, "Bitmap '%s' is inconsistent and cannot be used\n"
                         "Try block-dirty-bitmap-remove to delete this bitmap from disk", name);
        return -EINVAL;
    }
    return idx;
}

static int tracked_add(struct qcow2 *s, const char *name, uint64_t granularity, bool disabled,
                       struct error **errp)
{
    if (qcow2_tracked_find(s, name) >= 0) {
        error_setg(errp, "Bitmap already exists: %s", name);
        return -EEXIST;
    }
    if (s->nb_tracked >= 65535) {
        error_setg(errp, "Too many bitmaps");
        return -EFBIG;
    }
    unsigned gbits;
    if (add_gbits(s, granularity, &gbits, errp) < 0)
        return -EINVAL;
    return qcow2_tracked_add(s, name, (uint8_t)gbits, !disabled);
}

/* qemu's qcow2_co_remove_persistent_dirty_bitmap: a new directory without it, then its data
 * freed (and discarded) and its table freed. */
static int tracked_remove(struct qcow2 *s, int idx)
{
    if (s->tracked[idx].added) {
        qcow2_tracked_drop(s, idx);
        return 0;
    }
    struct qcow2_bm *d = NULL;
    uint32_t count = 0;
    int ret = qcow2_bitmap_dir_load(s, &d, &count);
    int di = ret == 0 ? find(d, count, s->tracked[idx].name) : -1;
    if (ret == 0 && di < 0)
        ret = -EIO;
    uint8_t *t = NULL;
    uint64_t bytes = ret == 0 ? (uint64_t)d[di].table_size * 8 : 0, table_off = 0;
    if (ret == 0) {
        struct qcow2_bm b = d[di];
        table_off = b.table_off;
        memmove(&d[di], &d[di + 1], (count - (uint32_t)di - 1) * sizeof(*d));
        d[count - 1] = b; /* freed with the rest */
        if ((t = malloc(bytes + 1)) == NULL)
            ret = -ENOMEM;
        else if (bytes)
            ret = node_pread(s->node->file, table_off, bytes, t);
    }
    if (ret == 0)
        ret = qcow2_bitmap_dir_store(s, d, count - 1);
    for (uint64_t i = 0; ret == 0 && i < bytes / 8; i++) {
        uint64_t off = get_be64(t + i * 8) & L1E_OFFSET_MASK;
        if (off)
            ret = qcow2_free_later(s, off, 1);
    }
    if (ret == 0)
        ret = qcow2_flush_metadata_discarding(s);
    if (ret == 0 && bytes)
        ret = qcow2_free_later(s, table_off, (bytes + s->cluster_size - 1) >> s->cluster_bits);
    if (ret == 0)
        ret = qcow2_flush_metadata(s);
    if (ret == 0)
        qcow2_tracked_drop(s, idx);
    free(t);
    qcow2_bitmap_dir_free(d, count);
    return ret;
}

static int read_bits(struct qcow2 *s, const struct qcow2_bm *b, uint64_t nbits, uint8_t *bits);

static int tracked_merge(struct node *n, struct qcow2 *s, int di, struct node *src_node,
                         const char *src, struct error **errp)
{
    struct qcow2 *ss = qcow2_state(src_node);
    struct qcow2_bm *sd = NULL;
    uint32_t scount = 0;
    int si, ret = 0;
    uint64_t sg;
    /* qemu's order: the source found, then the destination and the source usable */
    if (ss == s) {
        if ((si = tracked_get(s, src, false, errp)) < 0)
            return si;
        if ((ret = tracked_get(s, s->tracked[di].name, true, errp)) < 0 ||
            (ret = tracked_get(s, src, true, errp)) < 0)
            return ret;
        ret = 0;
        sg = 1ull << s->tracked[si].gbits;
    } else {
        if ((ret = qcow2_bitmap_dir_load(ss, &sd, &scount)) < 0)
            return ret;
        if ((si = find(sd, scount, src)) < 0) {
            error_setg(errp, "Dirty bitmap '%s' not found", src);
            qcow2_bitmap_dir_free(sd, scount);
            return -ENOENT;
        }
        if ((ret = tracked_get(s, s->tracked[di].name, true, errp)) < 0 ||
            (ret = refuse_inconsistent(&sd[si], errp)) < 0) {
            qcow2_bitmap_dir_free(sd, scount);
            return ret;
        }
        ret = 0;
        sg = 1ull << sd[si].gbits;
    }
    uint64_t dg = 1ull << s->tracked[di].gbits, sbits = (src_node->size + sg - 1) / sg;
    uint8_t *bits = calloc(1, sbits / 8 + ss->cluster_size);
    if (!bits)
        ret = -ENOMEM;
    else if (ss == s)
        ret = qcow2_tracked_read_bits(s, si, bits, sbits);
    else
        ret = read_bits(ss, &sd[si], sbits, bits);
    for (uint64_t i = 0; ret == 0 && i < sbits; i++) {
        if (!(bits[i / 8] & (1u << (i % 8))))
            continue;
        uint64_t a = i * sg, z = a + sg < n->size ? a + sg : n->size;
        if (a < z)
            ret = qcow2_tracked_set_bits(s, di, a / dg, (z - 1) / dg);
    }
    free(bits);
    qcow2_bitmap_dir_free(sd, scount);
    return ret;
}

/* Whether the operation runs on the tracked bitmaps; an image without bitmaps opened read-write
 * starts tracking an empty set on the first add. */
static bool tracked_mode(struct qcow2 *s, bool adding)
{
    if (!s->tracking && adding && s->writable && !(s->incompat & INCOMPAT_CORRUPT) &&
        !s->has_bitmaps_ext)
        s->tracking = true;
    return s->tracking;
}

enum tracked_act { T_REMOVE, T_CLEAR, T_ENABLE, T_DISABLE };

static int tracked_op(struct node *n, const char *name, enum tracked_act act, struct error **errp)
{
    struct qcow2 *s = qcow2_state(n);
    pthread_mutex_lock(&s->lock);
    int idx = tracked_get(s, name, act != T_REMOVE, errp), ret = idx < 0 ? idx : 0;
    if (ret == 0) {
        switch (act) {
        case T_REMOVE: ret = tracked_remove(s, idx); break;
        case T_CLEAR: qcow2_tracked_clear(s, idx); break;
        case T_ENABLE: s->tracked[idx].enabled = true; break;
        case T_DISABLE: s->tracked[idx].enabled = false; break;
        }
        if (ret < 0)
            error_setg_errno(errp, -ret, "Could not write the bitmap directory");
    }
    pthread_mutex_unlock(&s->lock);
    return ret;
}

static int qbm_add(struct node *n, const char *name, uint64_t granularity, bool disabled,
                   struct error **errp)
{
    if (strlen(name) > 1023) {
        error_setg(errp, "Bitmap name is too long");
        return -EINVAL;
    }
    if (qcow2_state(n)->version < 3) {
        error_setg(errp, "Cannot store dirty bitmaps in qcow2 v2 files");
        return -ENOTSUP;
    }
    struct qcow2 *s = qcow2_state(n);
    pthread_mutex_lock(&s->lock);
    bool tracked = tracked_mode(s, true);
    int ret = tracked ? tracked_add(s, name, granularity, disabled, errp) : 0;
    pthread_mutex_unlock(&s->lock);
    if (tracked)
        return ret;
    struct add_args a = { name, granularity, disabled };
    return with_dir(n, name, false, op_add, &a, errp);
}

static int op_remove(struct node *n, struct qcow2 *s, struct qcow2_bm **d, uint32_t *count, int idx,
                     const void *arg, struct error **errp)
{
    int ret = clear_table(s, &(*d)[idx], true);
    if (ret < 0)
        return ret;
    free((*d)[idx].name);
    free((*d)[idx].extra);
    memmove(&(*d)[idx], &(*d)[idx + 1], (*count - (uint32_t)idx - 1) * sizeof(**d));
    (*count)--;
    return 0;
}

static int op_clear(struct node *n, struct qcow2 *s, struct qcow2_bm **d, uint32_t *count, int idx,
                    const void *arg, struct error **errp)
{
    if (refuse_inconsistent(&(*d)[idx], errp) < 0)
        return -EINVAL;
    return clear_table(s, &(*d)[idx], false);
}

static int op_flags(struct node *n, struct qcow2 *s, struct qcow2_bm **d, uint32_t *count, int idx,
                    const void *arg, struct error **errp)
{
    if (refuse_inconsistent(&(*d)[idx], errp) < 0)
        return -EINVAL;
    if (arg)
        (*d)[idx].flags |= BME_AUTO;
    else
        (*d)[idx].flags &= ~BME_AUTO;
    return 0;
}

static int qbm_remove(struct node *n, const char *name, struct error **errp)
{
    if (qcow2_state(n)->tracking)
        return tracked_op(n, name, T_REMOVE, errp);
    return with_dir(n, name, true, op_remove, NULL, errp);
}

static int qbm_clear(struct node *n, const char *name, struct error **errp)
{
    if (qcow2_state(n)->tracking)
        return tracked_op(n, name, T_CLEAR, errp);
    return with_dir(n, name, true, op_clear, NULL, errp);
}

static int qbm_enable(struct node *n, const char *name, struct error **errp)
{
    if (qcow2_state(n)->tracking)
        return tracked_op(n, name, T_ENABLE, errp);
    return with_dir(n, name, true, op_flags, "", errp);
}

static int qbm_disable(struct node *n, const char *name, struct error **errp)
{
    if (qcow2_state(n)->tracking)
        return tracked_op(n, name, T_DISABLE, errp);
    return with_dir(n, name, true, op_flags, NULL, errp);
}

/* A bitmap's bits in memory (one bit per granule of the guest). */
static int read_bits(struct qcow2 *s, const struct qcow2_bm *b, uint64_t nbits, uint8_t *bits)
{
    uint64_t per = s->cluster_size * 8, bytes = (uint64_t)b->table_size * 8;
    uint8_t *t = malloc(bytes + 1), *c = malloc(s->cluster_size);
    int ret = t && c ? 0 : -ENOMEM;
    if (ret == 0 && bytes)
        ret = node_pread(s->node->file, b->table_off, bytes, t);
    for (uint32_t i = 0; ret == 0 && i < b->table_size && (uint64_t)i * per < nbits; i++) {
        uint64_t e = get_be64(t + (uint64_t)i * 8), d = e & L1E_OFFSET_MASK;
        uint64_t len = (nbits - (uint64_t)i * per + 7) / 8;
        if (len > s->cluster_size)
            len = s->cluster_size;
        uint8_t *out = bits + (uint64_t)i * s->cluster_size;
        if (d)
            ret = node_pread(s->node->file, d, len, out);
        else
            memset(out, (e & 1) ? 0xff : 0, len);
    }
    free(t);
    free(c);
    return ret;
}

/* Store bits into b's table: all-zero chunks become 0 entries, others data clusters. */
static int write_bits(struct qcow2 *s, struct qcow2_bm *b, const uint8_t *bits, uint64_t nbytes)
{
    uint64_t bytes = (uint64_t)b->table_size * 8;
    uint8_t *t = malloc(bytes + 1), *c = calloc(1, s->cluster_size);
    int ret = t && c ? 0 : -ENOMEM;
    if (ret == 0 && bytes)
        ret = node_pread(s->node->file, b->table_off, bytes, t);
    for (uint32_t i = 0; ret == 0 && i < b->table_size; i++) {
        uint64_t start = (uint64_t)i * s->cluster_size;
        uint64_t len = start < nbytes ? nbytes - start : 0;
        if (len > s->cluster_size)
            len = s->cluster_size;
        memset(c, 0, s->cluster_size);
        memcpy(c, bits + start, len);
        bool zero = true;
        for (uint64_t j = 0; j < len && zero; j++)
            zero = !c[j];
        uint64_t e = get_be64(t + (uint64_t)i * 8), d = e & L1E_OFFSET_MASK;
        if (zero) {
            if (d)
                ret = qcow2_free_later(s, d, 1);
            put_be64(t + (uint64_t)i * 8, 0);
            continue;
        }
        if (!d) {
            int64_t a = qcow2_alloc_clusters(s, 1);
            if (a < 0) {
                ret = (int)a;
                break;
            }
            d = (uint64_t)a;
            ret = cache_flush(s->rc_cache);
        }
        if (ret == 0)
            ret = node_pwrite(s->node->file, d, s->cluster_size, c);
        put_be64(t + (uint64_t)i * 8, d);
    }
    if (ret == 0 && bytes)
        ret = node_pwrite(s->node->file, b->table_off, bytes, t);
    free(t);
    free(c);
    return ret;
}

struct merge_args {
    struct node *src_node;
    const char *src;
};

static int op_merge(struct node *n, struct qcow2 *s, struct qcow2_bm **d, uint32_t *count, int idx,
                    const void *arg, struct error **errp)
{
    const struct merge_args *m = arg;
    struct qcow2 *ss = qcow2_state(m->src_node);
    struct qcow2_bm *sd = *d;
    uint32_t scount = *count;
    int ret = 0;
    if (ss != s && (ret = qcow2_bitmap_dir_load(ss, &sd, &scount)) < 0)
        return ret;
    int si = find(sd, scount, m->src);
    struct qcow2_bm *db = &(*d)[idx];
    uint64_t dg = 1ull << db->gbits, sg = si >= 0 ? 1ull << sd[si].gbits : 1;
    uint64_t dbits = (n->size + dg - 1) / dg, sbits = (m->src_node->size + sg - 1) / sg;
    uint8_t *dst = calloc(1, dbits / 8 + s->cluster_size), *src = calloc(1, sbits / 8 + ss->cluster_size);
    if (si < 0) {
        error_setg(errp, "Dirty bitmap '%s' not found", m->src);
        ret = -ENOENT;
    } else if (refuse_inconsistent(db, errp) < 0 || refuse_inconsistent(&sd[si], errp) < 0) {
        ret = -EINVAL;
    } else if (!dst || !src) {
        ret = -ENOMEM;
    }
    if (ret == 0)
        ret = read_bits(s, db, dbits, dst);
    if (ret == 0)
        ret = read_bits(ss, &sd[si], sbits, src);
    for (uint64_t i = 0; ret == 0 && i < sbits; i++) {
        if (!(src[i / 8] & (1u << (i % 8))))
            continue;
        uint64_t a = i * sg, z = a + sg < n->size ? a + sg : n->size;
        for (uint64_t j = a / dg; a < z && j < dbits && j * dg < z; j++)
            dst[j / 8] |= (uint8_t)(1u << (j % 8));
    }
    if (ret == 0)
        ret = write_bits(s, db, dst, (dbits + 7) / 8);
    free(dst);
    free(src);
    if (ss != s)
        qcow2_bitmap_dir_free(sd, scount);
    return ret;
}

static int qbm_merge(struct node *n, const char *dst, struct node *src_node, const char *src,
                     struct error **errp)
{
    if (!src_node)
        src_node = n;
    if (src_node->drv != n->drv) {
        error_setg(errp, "Merging from a non-qcow2 image is not supported");
        return -ENOTSUP;
    }
    struct qcow2 *s = qcow2_state(n);
    if (s->tracking) {
        pthread_mutex_lock(&s->lock);
        int di = tracked_get(s, dst, false, errp);
        int ret = di < 0 ? di : tracked_merge(n, s, di, src_node, src, errp);
        pthread_mutex_unlock(&s->lock);
        return ret;
    }
    struct merge_args m = { src_node, src };
    return with_dir(n, dst, true, op_merge, &m, errp);
}

static int qbm_list(struct node *n, struct bitmap_info **list, int *count)
{
    struct qcow2 *s = qcow2_state(n);
    struct qcow2_bm *d;
    uint32_t nb;
    pthread_mutex_lock(&s->lock);
    int ret = qcow2_bitmap_dir_load(s, &d, &nb);
    *list = NULL;
    *count = 0;
    struct bitmap_info *l = ret == 0 ? calloc(nb + 1, sizeof(*l)) : NULL;
    if (!l) {
        pthread_mutex_unlock(&s->lock);
        qcow2_bitmap_dir_free(d, nb);
        return ret < 0 ? ret : -ENOMEM;
    }
    for (uint32_t i = 0; i < nb; i++) {
        l[i].name = d[i].name;
        d[i].name = NULL;
        l[i].granularity = 1ull << d[i].gbits;
        /* while tracked, in-use on disk is ours: only the bitmaps found so are inconsistent */
        l[i].in_use = s->tracking && i < s->nb_tracked ? s->tracked[i].inconsistent
                                                       : (d[i].flags & BME_IN_USE);
        l[i].enabled = d[i].flags & BME_AUTO;
    }
    pthread_mutex_unlock(&s->lock);
    qcow2_bitmap_dir_free(d, nb);
    *list = l;
    *count = (int)nb;
    return 0;
}

const struct bitmap_ops qcow2_bitmap_ops = {
    .list = qbm_list,
    .add = qbm_add,
    .remove = qbm_remove,
    .clear = qbm_clear,
    .enable = qbm_enable,
    .disable = qbm_disable,
    .merge = qbm_merge,
};
