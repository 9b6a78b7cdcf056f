/* qcow2 persistent dirty bitmaps tracked on writes, as qemu 7.2 does it (block/qcow2-bitmap.c
 * load/store, docs/interop/qcow2.txt "Bitmaps"): on a read-write open every consistent bitmap is
 * flagged in-use on disk; writes, zero writes and discards set the bits of enabled ("auto") ones in
 * memory; a clean close stores the bits in new clusters and clears in-use. A bitmap found in-use
 * is inconsistent: it is never changed or stored, and resize and the bitmap operations refuse it. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bswap.h"
#include "qcow2.h"

#define BME_MAX_TABLE_SIZE 0x8000000ull
#define BME_MAX_PHYS_SIZE 0x20000000ull
#define BME_MIN_GBITS 9
#define BME_MAX_GBITS 31
#define BME_TABLE_RESERVED 0xff000000000001feull
#define BME_TABLE_OFFSET_MASK 0x00fffffffffffe00ull
#define BME_TABLE_ALL_ONES 1ull

static uint64_t bitmap_bits(const struct qcow2 *s, uint8_t gbits)
{
    return (s->node->size >> gbits) + ((s->node->size & ((1ull << gbits) - 1)) != 0);
}

/* Table entries a bitmap of the current size needs: its bits serialised in 64-bit words. */
static uint64_t table_entries(const struct qcow2 *s, uint8_t gbits)
{
    uint64_t bytes = (bitmap_bits(s, gbits) + 63) / 64 * 8;
    return (bytes + s->cluster_size - 1) >> s->cluster_bits;
}

/* qemu's check_dir_entry. */
static bool entry_valid(const struct qcow2 *s, const struct qcow2_bm *b)
{
    if (!b->table_size || !b->table_off || (b->table_off & (s->cluster_size - 1)) ||
        b->table_size > BME_MAX_TABLE_SIZE || b->gbits > BME_MAX_GBITS ||
        b->gbits < BME_MIN_GBITS || (b->flags & ~(BME_IN_USE | BME_AUTO)) ||
        strlen(b->name) > 1023 || b->type != 1)
        return false;
    uint64_t phys = (uint64_t)b->table_size << s->cluster_bits;
    if (phys > BME_MAX_PHYS_SIZE)
        return false;
    return (b->flags & BME_IN_USE) || s->node->size <= ((phys * 8) << b->gbits);
}

static bool table_entry_valid(const struct qcow2 *s, uint64_t e)
{
    uint64_t off = e & BME_TABLE_OFFSET_MASK;
    if (e & BME_TABLE_RESERVED)
        return false;
    return !off || (!(e & BME_TABLE_ALL_ONES) && !(off & (s->cluster_size - 1)));
}

static void free_tracked(struct qcow2 *s)
{
    for (uint32_t i = 0; i < s->nb_tracked; i++) {
        struct qcow2_tracked_bitmap *t = &s->tracked[i];
        for (uint32_t c = 0; t->chunks && c < t->nb_chunks; c++)
            free(t->chunks[c]);
        free(t->chunks);
        free(t->table);
        free(t->name);
    }
    free(s->tracked);
    s->tracked = NULL;
    s->nb_tracked = 0;
    s->tracking = false;
}

static int load_table(struct qcow2 *s, const struct qcow2_bm *b, struct qcow2_tracked_bitmap *t,
                      struct error **errp)
{
    uint64_t bytes = (uint64_t)b->table_size * 8;
    uint8_t *raw = malloc(bytes);
    t->table = calloc(b->table_size, sizeof(*t->table));
    if (!raw || !t->table) {
        free(raw);
        return -ENOMEM;
    }
    int ret = node_pread(s->node->file, b->table_off, bytes, raw);
    for (uint32_t i = 0; ret == 0 && i < b->table_size; i++) {
        t->table[i] = get_be64(raw + (uint64_t)i * 8);
        if (!table_entry_valid(s, t->table[i]))
            ret = -EINVAL;
    }
    free(raw);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read bitmap_table table from image for bitmap '%s'",
                         b->name);
        return ret;
    }
    if (table_entries(s, b->gbits) != b->table_size) {
        error_setg_errno(errp, EINVAL, "Could not read bitmap '%s' from image", b->name);
        return -EINVAL;
    }
    t->table_size = t->nb_chunks = b->table_size;
    return 0;
}

static int load_all(struct qcow2 *s, bool take_over, struct error **errp);

/* qemu's qcow2_load_dirty_bitmaps on a writable image: check the directory, take the consistent
 * bitmaps over (flagged in-use on disk), leave the inconsistent ones alone. */
int qcow2_bitmaps_track_start(struct qcow2 *s, struct error **errp)
{
    if (s->tracking || !s->has_bitmaps_ext || !s->nb_bitmaps)
        return 0;
    return load_all(s, true, errp);
}

/* The same checks on a read-only open: qemu refuses to open an image whose bitmaps it cannot
 * load, whatever the command. */
int qcow2_bitmaps_validate(struct qcow2 *s, struct error **errp)
{
    if (s->tracking || !s->has_bitmaps_ext || !s->nb_bitmaps)
        return 0;
    int ret = load_all(s, false, errp);
    free_tracked(s);
    return ret;
}

/* qemu's bitmap_list_load: the directory walked entry by entry, with its messages. */
static int dir_check(struct qcow2 *s, struct error **errp)
{
    uint64_t size = s->bitmap_dir_size, off = 0;
    uint8_t *dir = malloc(size + 1);
    if (!dir)
        return -ENOMEM;
    int ret = node_pread(s->node->file, s->bitmap_dir_offset, size, dir);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Failed to read bitmap directory");
        goto out;
    }
    uint32_t n = 0;
    ret = -EINVAL;
    while (off < size) {
        if (size - off < 24)
            goto broken;
        if (++n > s->nb_bitmaps) {
            error_setg(errp, "More bitmaps found than specified in header extension");
            goto out;
        }
        const uint8_t *e = dir + off;
        uint64_t len = (24 + (uint64_t)get_be32(e + 20) + get_be16(e + 18) + 7) & ~7ull;
        if (len > size - off)
            goto broken;
        if (get_be32(e + 20)) {
            error_setg(errp, "Bitmap extra data is not supported");
            goto out;
        }
        struct qcow2_bm b = {
            .table_off = get_be64(e), .table_size = get_be32(e + 8), .flags = get_be32(e + 12),
            .type = e[16], .gbits = e[17], .name = (char *)"",
        };
        uint16_t nl = get_be16(e + 18);
        if (!entry_valid(s, &b) || nl > 1023) {
            error_setg(errp, "Bitmap '%.*s' doesn't satisfy the constraints", (int)nl,
                       (const char *)e + 24);
            goto out;
        }
        off += len;
    }
    if (n != s->nb_bitmaps) {
        error_setg(errp, "Less bitmaps found than specified in header extension");
        goto out;
    }
    ret = 0;
    goto out;
broken:
    error_setg(errp, "Broken bitmap directory");
out:
    free(dir);
    return ret;
}

static int load_all(struct qcow2 *s, bool take_over, struct error **errp)
{
    struct qcow2_bm *d = NULL;
    uint32_t count = 0;
    int ret = dir_check(s, errp);
    if (ret < 0)
        return ret;
    if ((ret = qcow2_bitmap_dir_load(s, &d, &count)) < 0) {
        error_setg(errp, "Broken bitmap directory");
        return ret;
    }
    s->tracked = calloc(count + 1, sizeof(*s->tracked));
    if (!s->tracked) {
        ret = -ENOMEM;
        goto out;
    }
    s->nb_tracked = count;
    s->tracking = true;
    bool update = false;
    for (uint32_t i = 0; i < count; i++) {
        struct qcow2_bm *b = &d[i];
        struct qcow2_tracked_bitmap *t = &s->tracked[i];
        if (b->extra_size) {
            error_setg(errp, "Bitmap extra data is not supported");
            ret = -ENOTSUP;
            goto out;
        }
        if (!entry_valid(s, b)) {
            error_setg(errp, "Bitmap '%s' doesn't satisfy the constraints", b->name);
            ret = -EINVAL;
            goto out;
        }
        t->name = strdup(b->name);
        if (!t->name) {
            ret = -ENOMEM;
            goto out;
        }
        t->gbits = b->gbits;
        t->enabled = b->flags & BME_AUTO;
        t->inconsistent = b->flags & BME_IN_USE;
        if (t->inconsistent)
            continue;
        if ((ret = load_table(s, b, t, errp)) < 0)
            goto out;
        b->flags |= BME_IN_USE;
        update = true;
    }
    if (take_over && update && (ret = qcow2_bitmap_dir_store_in_place(s, d, count)) < 0)
        error_setg_errno(errp, -ret, "Can't update bitmap directory");
out:
    if (ret < 0)
        free_tracked(s);
    qcow2_bitmap_dir_free(d, count);
    return ret;
}

/* The cluster of bits number c, read on first use (a change follows: loaded means changed). */
static uint8_t *chunk_get(struct qcow2 *s, struct qcow2_tracked_bitmap *t, uint64_t c)
{
    if (c >= t->nb_chunks)
        return NULL;
    if (!t->chunks && !(t->chunks = calloc(t->nb_chunks, sizeof(*t->chunks))))
        return NULL;
    if (t->chunks[c])
        return t->chunks[c];
    uint8_t *buf = malloc(s->cluster_size);
    if (!buf)
        return NULL;
    uint64_t e = c < t->table_size && !t->cleared ? t->table[c] : 0;
    uint64_t off = e & BME_TABLE_OFFSET_MASK;
    if (!off) {
        memset(buf, (e & BME_TABLE_ALL_ONES) ? 0xff : 0, s->cluster_size);
    } else if (off > s->node->file->size || s->node->file->size - off < s->cluster_size ||
               node_pread(s->node->file, off, s->cluster_size, buf) < 0) {
        free(buf);
        return NULL;
    }
    t->chunks[c] = buf;
    return buf;
}

/* Set (or clear) bits a..b (inclusive) of a little-endian bit string. */
static void bits_fill(uint8_t *buf, uint64_t a, uint64_t b, bool set)
{
    while (a <= b && (a & 7)) {
        buf[a / 8] = set ? buf[a / 8] | (uint8_t)(1u << (a & 7)) : buf[a / 8] & ~(1u << (a & 7));
        a++;
    }
    if (a + 7 <= b) {
        uint64_t whole = (b + 1 - a) / 8;
        memset(buf + a / 8, set ? 0xff : 0, whole);
        a += whole * 8;
    }
    while (a <= b) {
        buf[a / 8] = set ? buf[a / 8] | (uint8_t)(1u << (a & 7)) : buf[a / 8] & ~(1u << (a & 7));
        a++;
    }
}

/* Bits first..last of t (clamped to its size) set or cleared; false when a chunk is unreadable. */
static bool change_bits(struct qcow2 *s, struct qcow2_tracked_bitmap *t, uint64_t first,
                        uint64_t last, bool set)
{
    uint64_t nbits = bitmap_bits(s, t->gbits), per = s->cluster_size * 8;
    if (first >= nbits)
        return true;
    if (last >= nbits)
        last = nbits - 1;
    for (uint64_t c = first / per; c <= last / per; c++) {
        uint8_t *chunk = chunk_get(s, t, c);
        if (!chunk)
            return false;
        uint64_t a = first > c * per ? first - c * per : 0;
        uint64_t b = last < c * per + per - 1 ? last - c * per : per - 1;
        bits_fill(chunk, a, b, set);
    }
    return true;
}

/* qemu's bdrv_set_dirty for a write, zero write or discard of [off, off+len), under s->lock. */
void qcow2_bitmaps_set_dirty(struct qcow2 *s, uint64_t off, uint64_t len)
{
    if (!s->tracking || !len)
        return;
    for (uint32_t i = 0; i < s->nb_tracked; i++) {
        struct qcow2_tracked_bitmap *t = &s->tracked[i];
        if (!t->enabled || t->inconsistent || t->broken || t->too_big)
            continue;
        if (!change_bits(s, t, off >> t->gbits, (off + len - 1) >> t->gbits, true))
            t->broken = true; /* stays in-use on disk: inconsistent for the next user */
    }
}

const char *qcow2_bitmaps_inconsistent(struct qcow2 *s, const char *only)
{
    for (uint32_t i = 0; s->tracking && i < s->nb_tracked; i++)
        if (s->tracked[i].inconsistent && (!only || !strcmp(only, s->tracked[i].name)))
            return s->tracked[i].name;
    return NULL;
}

/* After a resize: qemu's hbitmap_truncate (new bits clear, bits past a shrunk end dropped). */
int qcow2_bitmaps_resize(struct qcow2 *s, uint64_t old_size)
{
    for (uint32_t i = 0; s->tracking && i < s->nb_tracked; i++) {
        struct qcow2_tracked_bitmap *t = &s->tracked[i];
        if (t->inconsistent || t->broken)
            continue;
        uint64_t need = table_entries(s, t->gbits);
        t->too_big = need > BME_MAX_TABLE_SIZE || (need << s->cluster_bits) > BME_MAX_PHYS_SIZE;
        if (t->too_big)
            continue;
        if (need > t->nb_chunks) {
            uint64_t had = t->chunks ? t->nb_chunks : 0;
            uint8_t **c = realloc(t->chunks, need * sizeof(*c));
            if (!c)
                return -ENOMEM;
            memset(c + had, 0, (need - had) * sizeof(*c));
            t->chunks = c;
        } else {
            for (uint64_t c = need; t->chunks && c < t->nb_chunks; c++) {
                free(t->chunks[c]);
                t->chunks[c] = NULL;
            }
        }
        t->nb_chunks = (uint32_t)need;
        uint64_t nbits = bitmap_bits(s, t->gbits), old_bits = (old_size + (1ull << t->gbits) - 1)
                                                              >> t->gbits;
        uint64_t per = s->cluster_size * 8;
        if (nbits < old_bits && nbits % per) {
            uint8_t *chunk = chunk_get(s, t, nbits / per);
            if (!chunk)
                t->broken = true;
            else
                bits_fill(chunk, nbits % per, per - 1, false);
        }
    }
    return 0;
}

static bool all_zero(const uint8_t *p, uint64_t len)
{
    return !len || (!p[0] && !memcmp(p, p + 1, len - 1));
}

/* The bits of chunk c as they are now: changed in memory, or as the table on disk says. */
static int chunk_read(struct qcow2 *s, const struct qcow2_tracked_bitmap *t, uint64_t c,
                      uint8_t *buf)
{
    if (t->chunks && t->chunks[c]) {
        memcpy(buf, t->chunks[c], s->cluster_size);
        return 0;
    }
    uint64_t e = c < t->table_size && !t->cleared ? t->table[c] : 0;
    uint64_t off = e & BME_TABLE_OFFSET_MASK;
    if (!off) {
        memset(buf, (e & BME_TABLE_ALL_ONES) ? 0xff : 0, s->cluster_size);
        return 0;
    }
    if (off > s->node->file->size || s->node->file->size - off < s->cluster_size)
        return -EIO;
    return node_pread(s->node->file, off, s->cluster_size, buf);
}

/* qemu's store_bitmap: every chunk with a bit set in a new cluster, then a new table. */
static int store_new(struct qcow2 *s, struct qcow2_tracked_bitmap *t, struct qcow2_bm *b)
{
    uint64_t cs = s->cluster_size, size = t->nb_chunks;
    uint8_t *raw = calloc(size, 8), *buf = malloc(cs);
    int ret = raw && buf ? 0 : -ENOMEM;
    for (uint64_t c = 0; c < size && ret == 0; c++) {
        if ((ret = chunk_read(s, t, c, buf)) < 0 || all_zero(buf, cs))
            continue;
        int64_t at = qcow2_alloc_clusters(s, 1);
        if (at < 0)
            ret = (int)at;
        else if ((ret = node_pwrite(s->node->file, (uint64_t)at, cs, buf)) == 0)
            put_be64(raw + c * 8, (uint64_t)at);
    }
    int64_t table = ret == 0 ? qcow2_alloc_clusters(s, (size * 8 + cs - 1) / cs) : ret;
    if (table < 0)
        ret = (int)table;
    else if ((ret = node_pwrite(s->node->file, (uint64_t)table, size * 8, raw)) == 0) {
        b->table_off = (uint64_t)table;
        b->table_size = (uint32_t)size;
    }
    free(raw);
    free(buf);
    return ret;
}

/* The clusters an old table names, freed once the new directory is in place and discarded on
 * the file (qemu's clear_bitmap_table: QCOW2_DISCARD_ALWAYS). */
static int free_old_data(struct qcow2 *s, const struct qcow2_tracked_bitmap *t)
{
    int ret = 0;
    for (uint64_t c = 0; c < t->table_size && ret == 0; c++) {
        uint64_t off = t->table[c] & BME_TABLE_OFFSET_MASK;
        if (off)
            ret = qcow2_free_later(s, off, 1);
    }
    if (ret == 0)
        ret = qcow2_flush_metadata_discarding(s);
    return ret;
}

/* qemu's qcow2_store_persistent_dirty_bitmaps at close: the bitmaps are checked (the newest
 * first, as qemu's list has them), then every consistent one is stored anew (data, then table),
 * a new directory replaces the old one, and the old tables and data are freed. A bitmap too big
 * for the format fails the whole store: qemu then reports it and leaves them all in-use. */
int qcow2_bitmaps_track_stop(struct qcow2 *s)
{
    if (!s->tracking)
        return 0;
    struct qcow2_bm *d = NULL;
    uint32_t count = 0;
    uint64_t *old_tables = NULL;
    int ret = qcow2_bitmap_dir_load(s, &d, &count);
    uint32_t on_disk = count;
    /* the bitmaps added by this open follow the directory's, in the order they were added */
    if (ret == 0 && count < s->nb_tracked) {
        struct qcow2_bm *nd = realloc(d, (s->nb_tracked + 1) * sizeof(*nd));
        if (!nd)
            ret = -ENOMEM;
        else
            d = nd;
        for (; ret == 0 && count < s->nb_tracked; count++) {
            struct qcow2_tracked_bitmap *t = &s->tracked[count];
            memset(&d[count], 0, sizeof(d[count]));
            d[count].type = 1;
            d[count].gbits = t->gbits;
            d[count].name = strdup(t->name);
            d[count].extra = calloc(1, 1);
            if (!t->added || !d[count].name || !d[count].extra)
                ret = t->added ? -ENOMEM : -EIO;
        }
    }
    for (uint32_t i = 0; ret == 0 && i < on_disk; i++)
        if (s->tracked[i].added || strcmp(s->tracked[i].name, d[i].name))
            ret = -EIO;
    if (ret == 0 && count != s->nb_tracked)
        ret = -EIO;
    bool need = false;
    for (uint32_t i = count; ret == 0 && i-- > 0;) {
        struct qcow2_tracked_bitmap *t = &s->tracked[i];
        if (t->inconsistent || t->broken)
            continue;
        need = true;
        if (t->too_big) {
            error_report("Lost persistent bitmaps during inactivation of node '#block%03u': Bitmap "
                         "'%s' doesn't satisfy the constraints: Too much space will be occupied "
                         "by the bitmap. Use larger granularity",
                         (unsigned)(((uintptr_t)s->node >> 4) % 1000), t->name);
            goto out;
        }
    }
    if (!need || ret < 0)
        goto out;
    if (!(old_tables = calloc(count, sizeof(*old_tables)))) {
        ret = -ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; ret == 0 && i < count; i++) {
        struct qcow2_tracked_bitmap *t = &s->tracked[i];
        if (t->inconsistent || t->broken)
            continue;
        old_tables[i] = t->added ? 0 : d[i].table_off;
        ret = store_new(s, t, &d[i]);
        d[i].flags = t->enabled ? BME_AUTO : 0;
    }
    /* the new bits and tables are counted and on disk before the directory names them */
    if (ret == 0 && (ret = cache_flush(s->rc_cache)) == 0 && (ret = node_flush(s->node->file)) == 0)
        ret = qcow2_bitmap_dir_store(s, d, count);
    for (uint32_t i = 0; ret == 0 && i < count; i++)
        if (old_tables[i])
            ret = free_old_data(s, &s->tracked[i]);
    for (uint32_t i = 0; ret == 0 && i < count; i++) {
        uint64_t bytes = (uint64_t)s->tracked[i].table_size * 8;
        if (old_tables[i])
            ret = qcow2_free_later(s, old_tables[i], (bytes + s->cluster_size - 1) >> s->cluster_bits);
    }
out:
    if (ret == 0)
        ret = qcow2_flush_metadata(s);
    free(old_tables);
    qcow2_bitmap_dir_free(d, count);
    free_tracked(s);
    return ret;
}

/* ---- the bitmap operations while tracking (qemu's in-memory BdrvDirtyBitmap operations) ---- */

int qcow2_tracked_find(struct qcow2 *s, const char *name)
{
    for (uint32_t i = 0; s->tracking && i < s->nb_tracked; i++)
        if (!strcmp(s->tracked[i].name, name))
            return (int)i;
    return -1;
}

int qcow2_tracked_add(struct qcow2 *s, const char *name, uint8_t gbits, bool enabled)
{
    struct qcow2_tracked_bitmap *nt = realloc(s->tracked, (s->nb_tracked + 2) * sizeof(*nt));
    if (!nt)
        return -ENOMEM;
    s->tracked = nt;
    struct qcow2_tracked_bitmap *t = &nt[s->nb_tracked];
    memset(t, 0, sizeof(*t));
    if (!(t->name = strdup(name)))
        return -ENOMEM;
    t->gbits = gbits;
    t->enabled = enabled;
    t->added = true;
    uint64_t need = table_entries(s, gbits);
    t->too_big = need > BME_MAX_TABLE_SIZE || (need << s->cluster_bits) > BME_MAX_PHYS_SIZE;
    t->nb_chunks = t->too_big ? 0 : (uint32_t)need;
    s->nb_tracked++;
    return 0;
}

/* Forget bitmap idx (removed from the directory by the caller, or never stored). */
void qcow2_tracked_drop(struct qcow2 *s, int idx)
{
    struct qcow2_tracked_bitmap *t = &s->tracked[idx];
    for (uint32_t c = 0; t->chunks && c < t->nb_chunks; c++)
        free(t->chunks[c]);
    free(t->chunks);
    free(t->table);
    free(t->name);
    memmove(t, t + 1, (s->nb_tracked - (uint32_t)idx - 1) * sizeof(*t));
    s->nb_tracked--;
}

void qcow2_tracked_clear(struct qcow2 *s, int idx)
{
    struct qcow2_tracked_bitmap *t = &s->tracked[idx];
    for (uint32_t c = 0; t->chunks && c < t->nb_chunks; c++) {
        free(t->chunks[c]);
        t->chunks[c] = NULL;
    }
    t->cleared = true;
}

/* All nbits bits of bitmap idx (bits must hold whole clusters of them). */
int qcow2_tracked_read_bits(struct qcow2 *s, int idx, uint8_t *bits, uint64_t nbits)
{
    struct qcow2_tracked_bitmap *t = &s->tracked[idx];
    uint64_t per = s->cluster_size * 8;
    for (uint64_t c = 0; c * per < nbits; c++) {
        if (c >= t->nb_chunks)
            return -EIO;
        int ret = chunk_read(s, t, c, bits + c * s->cluster_size);
        if (ret < 0)
            return ret;
    }
    return 0;
}

int qcow2_tracked_set_bits(struct qcow2 *s, int idx, uint64_t first, uint64_t last)
{
    return change_bits(s, &s->tracked[idx], first, last, true) ? 0 : -EIO;
}
