/* qcow2 reference counts (docs/interop/qcow2.txt "Host cluster management"): refcount blocks of
 * any width 1..64 bits through the LRU cache, cluster allocation, refcount block and table growth
 * placed so that new metadata is self-describing, and deferred frees applied after the metadata
 * that dropped the reference is on disk. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bswap.h"
#include "qcow2.h"

int qcow2_rc_cache_read(void *opaque, uint64_t off, void *buf, size_t len)
{
    struct qcow2 *s = opaque;
    if (off > QCOW2_MAX_IO_OFFSET - len)
        return -EIO; /* qemu's block layer refuses requests beyond its maximum length */
    return node_pread(s->node->file, off, len, buf);
}

int qcow2_rc_cache_write(void *opaque, uint64_t off, const void *buf, size_t len)
{
    struct qcow2 *s = opaque;
    /* qemu's qcow2_cache_entry_flush: a table written back over other metadata is refused */
    int ret = qcow2_pre_write_overlap_check(s, 1 << 4, off, len);
    return ret < 0 ? ret : node_pwrite(s->node->file, off, len, buf);
}

uint64_t qcow2_refcount_get_entry(const struct qcow2 *s, const uint8_t *b, uint64_t i)
{
    switch (s->refcount_order) {
    case 3: return b[i];
    case 4: return get_be16(b + i * 2);
    case 5: return get_be32(b + i * 4);
    case 6: return get_be64(b + i * 8);
    default: {
        unsigned bits = s->refcount_bits, per = 8 / bits;
        return (b[i / per] >> ((i % per) * bits)) & ((1u << bits) - 1);
    }
    }
}

void qcow2_refcount_set_entry(const struct qcow2 *s, uint8_t *b, uint64_t i, uint64_t v)
{
    switch (s->refcount_order) {
    case 3: b[i] = (uint8_t)v; break;
    case 4: put_be16(b + i * 2, (uint16_t)v); break;
    case 5: put_be32(b + i * 4, (uint32_t)v); break;
    case 6: put_be64(b + i * 8, v); break;
    default: {
        unsigned bits = s->refcount_bits, per = 8 / bits, sh = (unsigned)(i % per) * bits;
        uint8_t mask = (uint8_t)(((1u << bits) - 1) << sh);
        b[i / per] = (uint8_t)((b[i / per] & ~mask) | ((v << sh) & mask));
    }
    }
}

static uint64_t refcount_max(const struct qcow2 *s)
{
    return s->refcount_order == 6 ? UINT64_MAX : (1ull << s->refcount_bits) - 1;
}

static int block_of(struct qcow2 *s, uint64_t idx, uint64_t *boff)
{
    *boff = 0;
    if (idx >= s->rt_entries)
        return 0;
    *boff = s->rt[idx] & RT_OFFSET_MASK;
    if (*boff & (s->cluster_size - 1)) {
        qcow2_signal_corruption(s, "Refblock offset %#" PRIx64 " unaligned (reftable index: %#"
                                   PRIx64 ")", *boff, idx);
        return -EIO;
    }
    return 0;
}

int qcow2_get_refcount(struct qcow2 *s, uint64_t cluster, uint64_t *rc)
{
    uint64_t boff;
    int ret = block_of(s, cluster >> s->rb_bits, &boff);
    *rc = 0;
    if (ret < 0 || !boff)
        return ret;
    uint8_t *b;
    if ((ret = cache_get(s->rc_cache, boff, (void **)&b)) < 0)
        return ret;
    *rc = qcow2_refcount_get_entry(s, b, cluster & ((1ull << s->rb_bits) - 1));
    cache_put(s->rc_cache, b);
    return 0;
}

static int write_rt_entry(struct qcow2 *s, uint64_t idx)
{
    uint8_t b[8];
    put_be64(b, s->rt[idx]);
    return node_pwrite(s->node->file, s->rt_offset + idx * 8, 8, b);
}

/* The header points at the new refcount table (already written and flushed), which replaces the
 * cached one (*table becomes the state's); then the old table's clusters are released. */
static int switch_table(struct qcow2 *s, uint64_t off, uint64_t clusters, uint64_t entries,
                        uint64_t **table)
{
    uint8_t h[12];
    put_be64(h, off);
    put_be32(h + 8, (uint32_t)clusters);
    int ret = node_pwrite(s->node->file, 48, 12, h);
    if (ret < 0 || (ret = node_flush(s->node->file)) < 0)
        return ret;
    uint64_t old = s->rt_offset, old_clusters = s->rt_clusters;
    free(s->rt);
    s->rt = *table;
    *table = NULL;
    s->rt_entries = entries;
    s->rt_offset = off;
    s->rt_clusters = (uint32_t)clusters;
    for (uint64_t i = 0; i < old_clusters && ret == 0; i++)
        ret = qcow2_update_refcount(s, (old >> s->cluster_bits) + i, -1);
    return ret;
}

/* A larger refcount table (covering `need` entries) placed with its own refcount block at the
 * start of an unused refcount range, so that it describes itself. */
static int grow_table(struct qcow2 *s, uint64_t need)
{
    uint64_t cs = s->cluster_size, per_rb = 1ull << s->rb_bits;
    uint64_t file_clusters = (s->node->file->size + cs - 1) / cs;
    uint64_t r = need > s->rt_entries ? need : s->rt_entries;
    if (r < (file_clusters + per_rb - 1) / per_rb)
        r = (file_clusters + per_rb - 1) / per_rb;
    uint64_t entries = (r + 1) * 3 / 2 + 1;
    uint64_t nclusters = (entries * 8 + cs - 1) / cs;
    if (nclusters + 1 > per_rb || nclusters > (QCOW2_MAX_RT_BYTES >> s->cluster_bits))
        return -EFBIG;
    entries = nclusters * cs / 8;
    uint64_t block = (r << s->rb_bits) * cs, table = block + cs;
    uint8_t *rb = calloc(1, cs), *rt = calloc(1, nclusters * cs);
    uint64_t *nrt = calloc(entries, 8);
    int ret = -ENOMEM;
    if (!rb || !rt || !nrt)
        goto out;
    for (uint64_t i = 0; i <= nclusters; i++)
        qcow2_refcount_set_entry(s, rb, i, 1);
    memcpy(nrt, s->rt, s->rt_entries * 8);
    nrt[r] = block;
    for (uint64_t i = 0; i < entries; i++)
        put_be64(rt + i * 8, nrt[i]);
    if ((ret = node_pwrite(s->node->file, block, cs, rb)) < 0 ||
        (ret = node_pwrite(s->node->file, table, nclusters * cs, rt)) < 0 ||
        (ret = node_flush(s->node->file)) < 0)
        goto out;
    ret = switch_table(s, table, nclusters, entries, &nrt);
out:
    free(rb);
    free(rt);
    free(nrt);
    return ret;
}

static int check_overlap(struct qcow2 *s, uint64_t off, uint64_t len);

/* Write a new refcount block for range idx at boff, made durable before the table points at it;
 * it counts one cluster of its range at entry `self` (itself, when it lies there), none when
 * self is negative. */
static int install_block(struct qcow2 *s, uint64_t idx, uint64_t boff, int64_t self)
{
    uint8_t *b;
    int ret = cache_get_empty(s->rc_cache, boff, (void **)&b);
    if (ret < 0)
        return ret;
    if (self >= 0)
        qcow2_refcount_set_entry(s, b, (uint64_t)self, 1);
    ret = node_pwrite(s->node->file, boff, s->cluster_size, b);
    cache_put(s->rc_cache, b);
    if (ret < 0 || (ret = node_flush(s->node->file)) < 0)
        return ret;
    s->rt[idx] = boff;
    return write_rt_entry(s, idx);
}

/* Make sure the refcount block for range idx exists; a new one sits at the range's first cluster
 * (free by definition, as nothing in the range is counted yet) and counts itself. */
static int ensure_block(struct qcow2 *s, uint64_t idx)
{
    int ret;
    if (idx >= s->rt_entries && (ret = grow_table(s, idx + 1)) < 0)
        return ret;
    uint64_t boff;
    if ((ret = block_of(s, idx, &boff)) < 0 || boff)
        return ret;
    boff = (idx << s->rb_bits) << s->cluster_bits;
    if ((ret = check_overlap(s, boff, s->cluster_size)) < 0)
        return ret;
    return install_block(s, idx, boff, 0);
}

int qcow2_update_refcount(struct qcow2 *s, uint64_t cluster, int64_t delta)
{
    uint64_t idx = cluster >> s->rb_bits;
    int ret = ensure_block(s, idx);
    uint64_t boff;
    if (ret < 0 || (ret = block_of(s, idx, &boff)) < 0)
        return ret;
    uint8_t *b;
    if ((ret = cache_get(s->rc_cache, boff, (void **)&b)) < 0)
        return ret;
    uint64_t i = cluster & ((1ull << s->rb_bits) - 1);
    uint64_t v = qcow2_refcount_get_entry(s, b, i);
    if ((delta < 0 && v < (uint64_t)-delta) || (delta > 0 && refcount_max(s) - v < (uint64_t)delta)) {
        ret = -EINVAL; /* qemu's update_refcount: underflow and overflow alike */
        goto out;
    }
    v += (uint64_t)delta;
    qcow2_refcount_set_entry(s, b, i, v);
    cache_mark_dirty(s->rc_cache, b);
    s->rc_unsynced = true;
    if (v == 0 && cluster < s->free_cluster_index)
        s->free_cluster_index = cluster;
out:
    cache_put(s->rc_cache, b);
    return ret;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return blen && alen && a < b + blen && b < a + alen;
}

/* qemu's overlap check, for allocations: a cluster handed out must not hold metadata we know of
 * (a refcount of 0 there means the refcounts are corrupt). */
static int check_overlap(struct qcow2 *s, uint64_t off, uint64_t len)
{
    const char *what = NULL;
    if (overlaps(off, len, 0, s->cluster_size))
        what = "qcow2_header";
    else if (overlaps(off, len, s->l1_offset, (uint64_t)s->l1_size * 8))
        what = "active L1 table";
    else if (overlaps(off, len, s->rt_offset, (uint64_t)s->rt_clusters << s->cluster_bits))
        what = "refcount table";
    else if (s->nb_snapshots && overlaps(off, len, s->snapshots_offset, s->snapshots_size))
        what = "snapshot table";
    else if (s->has_bitmaps_ext && overlaps(off, len, s->bitmap_dir_offset, s->bitmap_dir_size))
        what = "bitmap directory";
    if (!what)
        return 0;
    qcow2_signal_corruption(s, "Preventing invalid allocation of cluster at offset %#" PRIx64
                               " (overlaps with %s)", off, what);
    return -EIO;
}

/* qemu's alloc_refcount_block for a range inside the table: the block goes to the first free
 * cluster from the search position; in its own range it counts itself, elsewhere it is counted
 * where it lies (that range's block made first, the same way). */
static int new_refblock(struct qcow2 *s, uint64_t idx)
{
    if (idx >= s->rt_entries)
        return grow_table(s, idx + 1);
    uint64_t pos = s->free_cluster_index, rc;
    for (;; pos++) {
        int ret = qcow2_get_refcount(s, pos, &rc);
        if (ret < 0)
            return ret;
        if (!rc)
            break;
    }
    s->free_cluster_index = pos + 1;
    uint64_t boff = pos << s->cluster_bits, own = pos >> s->rb_bits, cover;
    int ret = check_overlap(s, boff, s->cluster_size);
    if (ret < 0)
        return ret;
    if (own != idx) {
        if ((ret = block_of(s, own, &cover)) < 0)
            return ret;
        if (!cover)
            return new_refblock(s, own); /* qemu gives up this try too and searches again */
        if ((ret = qcow2_update_refcount(s, pos, 1)) < 0 || (ret = cache_flush(s->rc_cache)) < 0 ||
            (ret = node_flush(s->node->file)) < 0)
            return ret;
    }
    int64_t self = own == idx ? (int64_t)(pos & ((1ull << s->rb_bits) - 1)) : -1;
    return install_block(s, idx, boff, self);
}

int64_t qcow2_alloc_clusters(struct qcow2 *s, uint64_t count)
{
    for (;;) {
        uint64_t start = s->free_cluster_index, c = start;
        while (c - start < count) {
            uint64_t rc;
            int ret = qcow2_get_refcount(s, c, &rc);
            if (ret < 0)
                return ret;
            c++;
            if (rc)
                start = c;
        }
        /* qemu's alloc_clusters_noref leaves the search after the run; a missing refcount
         * block met while counting the run is made by alloc_refcount_block at the first free
         * cluster from there, and the search restarts at the run (qemu's update_refcount) */
        s->free_cluster_index = c;
        bool moved = false;
        for (uint64_t idx = start >> s->rb_bits; idx <= (c - 1) >> s->rb_bits && !moved; idx++) {
            uint64_t boff;
            int ret = block_of(s, idx, &boff);
            if (ret < 0)
                return ret;
            if (boff)
                continue;
            if ((ret = new_refblock(s, idx)) < 0)
                return ret;
            if (start < s->free_cluster_index)
                s->free_cluster_index = start;
            moved = true;
        }
        if (moved)
            continue;
        if (start > (uint64_t)INT64_MAX >> s->cluster_bits)
            return -EFBIG;
        int oret = s->alloc_skip_overlap
                       ? 0 : check_overlap(s, start << s->cluster_bits, count << s->cluster_bits);
        if (oret < 0)
            return oret;
        for (uint64_t i = 0; i < count; i++) {
            int ret = qcow2_update_refcount(s, start + i, 1);
            if (ret < 0)
                return ret;
        }
        s->free_cluster_index = start + count;
        return (int64_t)(start << s->cluster_bits);
    }
}

int qcow2_free_later(struct qcow2 *s, uint64_t off, uint64_t count)
{
    if (s->nb_frees == s->cap_frees) {
        size_t cap = s->cap_frees ? s->cap_frees * 2 : 16;
        struct qcow2_pending_free *f = realloc(s->frees, cap * sizeof(*f));
        if (!f)
            return -ENOMEM;
        s->frees = f;
        s->cap_frees = cap;
    }
    s->frees[s->nb_frees].off = off;
    s->frees[s->nb_frees].count = count;
    s->nb_frees++;
    return 0;
}

/* qemu's update_refcount_discard: a freed range joins a queued one it touches. */
static int queue_discard(struct qcow2 *s, uint64_t off, uint64_t len)
{
    for (size_t i = 0; i < s->nb_discards; i++) {
        struct qcow2_pending_free *d = &s->discards[i];
        if (off + len == d->off || d->off + d->count == off) {
            d->off = off < d->off ? off : d->off;
            d->count += len;
            /* the grown range may now touch another one: merge it in */
            for (size_t j = 0; j < s->nb_discards; j++) {
                struct qcow2_pending_free *e = &s->discards[j];
                if (j != i && (e->off + e->count == d->off || d->off + d->count == e->off)) {
                    d->off = e->off < d->off ? e->off : d->off;
                    d->count += e->count;
                    *e = s->discards[--s->nb_discards];
                    break;
                }
            }
            return 0;
        }
    }
    if (s->nb_discards == s->cap_discards) {
        size_t cap = s->cap_discards ? s->cap_discards * 2 : 16;
        struct qcow2_pending_free *d = realloc(s->discards, cap * sizeof(*d));
        if (!d)
            return -ENOMEM;
        s->discards = d;
        s->cap_discards = cap;
    }
    s->discards[s->nb_discards].off = off;
    s->discards[s->nb_discards].count = len;
    s->nb_discards++;
    return 0;
}

/* The queued discards reach the file (advisory: failures are ignored, as in qemu). */
void qcow2_process_discards(struct qcow2 *s)
{
    for (size_t i = 0; i < s->nb_discards; i++)
        (void)node_discard(s->node->file, s->discards[i].off, s->discards[i].count);
    s->nb_discards = 0;
}

/* qcow2_flush_metadata with the clusters it frees discarded from the file (qemu's
 * QCOW2_DISCARD_ALWAYS, for data that is gone for good: old bitmaps, a shrunk tail). */
int qcow2_flush_metadata_discarding(struct qcow2 *s)
{
    s->discard_frees = true;
    int ret = qcow2_flush_metadata(s);
    s->discard_frees = false;
    qcow2_process_discards(s);
    return ret;
}

/* Refcounts, then L2 tables, then the deferred frees: a crash at worst leaks clusters. */
int qcow2_flush_metadata(struct qcow2 *s)
{
    int ret = cache_flush(s->rc_cache);
    if (ret == 0)
        ret = cache_flush(s->l2_cache);
    if (ret == 0 && s->nb_frees)
        ret = node_flush(s->node->file);
    for (size_t i = 0; ret == 0 && i < s->nb_frees; i++) {
        for (uint64_t c = 0; c < s->frees[i].count && ret == 0; c++) {
            uint64_t cl = (s->frees[i].off >> s->cluster_bits) + c, rc = 1;
            ret = qcow2_update_refcount(s, cl, -1);
            /* qemu's QCOW2_DISCARD_ALWAYS frees (shrink) reach the file as discards */
            if (ret == 0 && s->discard_frees && qcow2_get_refcount(s, cl, &rc) == 0 && rc == 0)
                ret = queue_discard(s, cl << s->cluster_bits, s->cluster_size);
        }
    }
    if (ret == 0) {
        s->nb_frees = 0;
        ret = cache_flush(s->rc_cache);
    }
    return ret;
}

/* ---- changing the refcount width (amend refcount_bits) ---- */

static void set_entry_order(uint8_t *b, uint32_t order, uint64_t i, uint64_t v)
{
    struct qcow2 tmp = { .refcount_order = order, .refcount_bits = 1u << order };
    qcow2_refcount_set_entry(&tmp, b, i, v);
}

/* The new refcount structures being built (qemu's walk_over_reftable state). */
struct rc_walk {
    uint32_t order;
    uint64_t new_max, per_new;  /* entries per new refcount block */
    uint64_t *table;            /* the new refcount table, in memory */
    uint64_t size;              /* its entries */
    uint8_t *block;             /* the new block being filled (write pass), else NULL */
    bool allocated;             /* the allocation pass took new clusters */
};

/* A new refcount block is complete: allocation pass, give a non-empty one a cluster (counted in
 * the old structures, as qemu's alloc_refblock), growing the new table as needed; write pass,
 * write it where it was given. */
static int walk_block_done(struct qcow2 *s, struct rc_walk *w, uint64_t idx, bool empty,
                           struct error **errp)
{
    uint64_t cs = s->cluster_size;
    if (w->block) {
        if (idx < w->size && w->table[idx]) {
            int ret = node_pwrite(s->node->file, w->table[idx], cs, w->block);
            if (ret < 0)
                error_setg_errno(errp, -ret, "Failed to write refblock");
            return ret;
        }
        return 0;
    }
    if (empty)
        return 0;
    if (idx >= w->size) {
        uint64_t size = (idx + 1 + cs / 8 - 1) / (cs / 8) * (cs / 8);
        if (size * 8 > QCOW2_MAX_RT_BYTES) {
            error_setg(errp, "The new reftable is too large");
            return -ENOTSUP;
        }
        uint64_t *t = realloc(w->table, size * 8);
        if (!t)
            return -ENOMEM;
        memset(t + w->size, 0, (size - w->size) * 8);
        w->table = t;
        w->size = size;
    }
    if (!w->table[idx]) {
        int64_t off = qcow2_alloc_clusters(s, 1);
        if (off < 0) {
            error_setg_errno(errp, (int)-off, "Failed to allocate refblock");
            return (int)off;
        }
        w->table[idx] = (uint64_t)off;
        w->allocated = true;
    }
    return 0;
}

/* One pass over everything the old refcount table covers, read live through the cache (the
 * allocations of this pass show in the later blocks), cut into blocks of the new width. */
static int walk_refcounts(struct qcow2 *s, struct rc_walk *w, struct error **errp)
{
    uint64_t per_old = 1ull << s->rb_bits, new_idx = 0, pos = 0;
    bool empty = true;
    int ret = 0;
    if (w->block)
        memset(w->block, 0, s->cluster_size);
    for (uint64_t i = 0; ret == 0 && i < s->rt_entries; i++) {
        uint64_t boff;
        if ((ret = block_of(s, i, &boff)) < 0)
            break;
        for (uint64_t j = 0; ret == 0 && j < per_old;) {
            if (pos >= w->per_new) {
                ret = walk_block_done(s, w, new_idx++, empty, errp);
                pos = 0;
                empty = true;
                if (w->block)
                    memset(w->block, 0, s->cluster_size);
                continue;
            }
            if (!boff) { /* an absent old block counts nothing: skip what fits */
                uint64_t k = per_old - j < w->per_new - pos ? per_old - j : w->per_new - pos;
                j += k;
                pos += k;
                continue;
            }
            uint64_t rc, c = (i << s->rb_bits) + j;
            if ((ret = qcow2_get_refcount(s, c, &rc)) < 0)
                break;
            if (rc > w->new_max) {
                error_setg(errp, "Cannot decrease refcount entry width to %u bits: Cluster at "
                                 "offset %#" PRIx64 " has a refcount of %" PRIu64,
                           1u << w->order, c << s->cluster_bits, rc);
                return -EINVAL;
            }
            if (w->block)
                set_entry_order(w->block, w->order, pos, rc);
            empty = empty && !rc;
            pos++;
            j++;
        }
    }
    if (ret == 0 && pos > 0)
        ret = walk_block_done(s, w, new_idx, empty, errp);
    return ret;
}

/* qemu's qcow2_change_refcount_order: passes over the refcounts give each non-empty new block a
 * cluster, and the new table clusters, through the old structures, until a pass allocates
 * nothing; a last pass writes the new blocks (counting themselves), then the table, the header
 * switches, and the old blocks and table are freed through the new structures. */
int qcow2_change_refcount_order(struct qcow2 *s, uint32_t order, struct error **errp)
{
    uint64_t cs = s->cluster_size, bits = 1ull << order;
    struct rc_walk w = {
        .order = order, .new_max = order == 6 ? UINT64_MAX : (1ull << bits) - 1,
        .per_new = (cs * 8) >> order,
    };
    int64_t table_off = 0;
    uint64_t table_alloc = 0;
    int ret = qcow2_flush_metadata(s);
    do {
        w.allocated = false;
        if (ret < 0 || (ret = walk_refcounts(s, &w, errp)) < 0)
            break;
        if (w.allocated) {
            if (table_off)
                ret = qcow2_update_refcounts_range(s, (uint64_t)table_off, table_alloc, -1);
            table_off = ret < 0 ? ret : qcow2_alloc_clusters(s, (w.size * 8 + cs - 1) / cs);
            if (table_off < 0) {
                ret = (int)table_off;
                table_off = 0;
                error_setg_errno(errp, -ret, "Failed to allocate the new reftable");
                break;
            }
            table_alloc = (w.size * 8 + cs - 1) / cs;
        }
    } while (w.allocated);
    uint8_t *raw = NULL;
    if (ret == 0 && !(w.block = malloc(cs)))
        ret = -ENOMEM;
    if (ret == 0)
        ret = walk_refcounts(s, &w, errp);
    if (ret == 0 && !(raw = calloc(w.size ? w.size : 1, 8)))
        ret = -ENOMEM;
    for (uint64_t i = 0; ret == 0 && i < w.size; i++)
        put_be64(raw + i * 8, w.table[i]);
    if (ret == 0 && (ret = node_pwrite(s->node->file, (uint64_t)table_off, w.size * 8, raw)) < 0)
        error_setg_errno(errp, -ret, "Failed to write the new reftable");
    if (ret == 0 && (ret = cache_flush(s->rc_cache)) < 0)
        error_setg_errno(errp, -ret, "Failed to flush the refblock cache");
    if (ret == 0)
        ret = node_flush(s->node->file);
    if (ret < 0)
        goto out;
    uint64_t *old_rt = s->rt, old_entries = s->rt_entries, old_off = s->rt_offset;
    uint32_t old_clusters = s->rt_clusters, old_order = s->refcount_order;
    cache_clear(s->rc_cache);
    s->rt = w.table;
    s->rt_entries = w.size;
    s->rt_offset = (uint64_t)table_off;
    s->rt_clusters = (uint32_t)((w.size * 8 + cs - 1) / cs);
    s->refcount_order = order;
    s->refcount_bits = (uint32_t)bits;
    s->rb_bits = s->cluster_bits + 3 - order;
    if ((ret = qcow2_write_header(s, s->node->backing_file)) < 0) {
        s->rt = old_rt;
        s->rt_entries = old_entries;
        s->rt_offset = old_off;
        s->rt_clusters = old_clusters;
        s->refcount_order = old_order;
        s->refcount_bits = 1u << old_order;
        s->rb_bits = s->cluster_bits + 3 - old_order;
        error_setg_errno(errp, -ret, "Failed to update the qcow2 header");
        goto out;
    }
    w.table = NULL;
    /* the old structures, freed through the new ones */
    for (uint64_t i = 0; ret == 0 && i < old_entries; i++) {
        uint64_t b = old_rt[i] & RT_OFFSET_MASK;
        if (b && !(b & (cs - 1)))
            ret = qcow2_update_refcount(s, b >> s->cluster_bits, -1);
    }
    if (ret == 0)
        ret = qcow2_update_refcounts_range(s, old_off, old_clusters, -1);
    free(old_rt);
    if (ret == 0)
        ret = qcow2_flush_metadata(s);
out:
    free(raw);
    free(w.block);
    free(w.table);
    if (ret < 0 && errp && !*errp)
        error_setg_errno(errp, -ret, "Could not change the refcount width");
    return ret;
}

/* Add delta to the refcounts of count clusters from off on. */
int qcow2_update_refcounts_range(struct qcow2 *s, uint64_t off, uint64_t count, int64_t delta)
{
    int ret = 0;
    for (uint64_t i = 0; i < count && ret == 0; i++)
        ret = qcow2_update_refcount(s, (off >> s->cluster_bits) + i, delta);
    return ret;
}

/* qemu's qcow2_shrink_reftable (after a shrink): a refcount block that counts nothing but itself
 * is dropped from the table (the table is written whole first), then its own count is cleared in
 * the block that covers it, and its cluster is discarded. */
int qcow2_shrink_reftable(struct qcow2 *s)
{
    uint64_t cs = s->cluster_size;
    bool *unused = calloc(s->rt_entries ? s->rt_entries : 1, sizeof(*unused));
    uint8_t *raw = calloc(s->rt_clusters ? s->rt_clusters : 1, cs);
    int ret = unused && raw ? 0 : -ENOMEM;
    for (uint64_t i = 0; ret == 0 && i < s->rt_entries; i++) {
        uint64_t boff;
        if ((ret = block_of(s, i, &boff)) < 0 || !boff)
            continue;
        uint8_t *b;
        if ((ret = cache_get(s->rc_cache, boff, (void **)&b)) < 0)
            break;
        uint64_t self = (boff >> s->cluster_bits) >> s->rb_bits == i
                            ? (boff >> s->cluster_bits) & ((1ull << s->rb_bits) - 1) : UINT64_MAX;
        bool zero = true;
        for (uint64_t j = 0; zero && j < (1ull << s->rb_bits); j++)
            zero = j == self || qcow2_refcount_get_entry(s, b, j) == 0;
        cache_put(s->rc_cache, b);
        unused[i] = zero;
    }
    if (ret < 0)
        goto out;
    for (uint64_t i = 0; i < s->rt_entries && i * 8 < (uint64_t)s->rt_clusters * cs; i++)
        put_be64(raw + i * 8, unused[i] ? 0 : s->rt[i]);
    if ((ret = node_pwrite(s->node->file, s->rt_offset, (uint64_t)s->rt_clusters * cs, raw)) < 0 ||
        (ret = node_flush(s->node->file)) < 0)
        goto out;
    for (uint64_t i = 0; i < s->rt_entries; i++) {
        if (!unused[i])
            continue;
        uint64_t boff = s->rt[i] & RT_OFFSET_MASK, cl = boff >> s->cluster_bits, cover;
        if (ret == 0 && (ret = block_of(s, cl >> s->rb_bits, &cover)) == 0 && cover) {
            uint8_t *b;
            if ((ret = cache_get(s->rc_cache, cover, (void **)&b)) == 0) {
                qcow2_refcount_set_entry(s, b, cl & ((1ull << s->rb_bits) - 1), 0);
                cache_mark_dirty(s->rc_cache, b);
                cache_put(s->rc_cache, b);
            }
            if (cl < s->free_cluster_index)
                s->free_cluster_index = cl;
        }
        cache_drop(s->rc_cache, boff);
        s->rt[i] = 0;
        if (ret == 0)
            ret = queue_discard(s, boff, cs);
    }
    if (ret == 0)
        ret = cache_flush(s->rc_cache);
    qcow2_process_discards(s);
out:
    free(unused);
    free(raw);
    return ret;
}

/* qemu's qcow2_refcount_metadata_size: the refcount blocks needed to count `clusters` clusters
 * plus themselves and their table (the fixed point of that recursion). */
static uint64_t refblocks_for(const struct qcow2 *s, uint64_t clusters)
{
    uint64_t per_table = s->cluster_size / 8, per_block = (s->cluster_size * 8) >> s->refcount_order;
    uint64_t table = 0, blocks = 0, n = 0, last;
    do {
        last = n;
        blocks = (clusters + table + blocks + per_block - 1) / per_block;
        table = (blocks + per_table - 1) / per_table;
        n = clusters + blocks + table;
    } while (n != last);
    return blocks;
}

/* qemu's qcow2_refcount_area (exact size): a new refcount table, and the refcount blocks missing
 * to cover the file up to start + additional clusters, written at start (blocks, then the table),
 * all counted; the old table is freed. Returns the offset after them. */
int64_t qcow2_refcount_area(struct qcow2 *s, uint64_t start, uint64_t additional)
{
    uint64_t cs = s->cluster_size, per_block = 1ull << s->rb_bits;
    uint64_t total = refblocks_for(s, start / cs + additional);
    uint64_t table_size = (total + cs / 8 - 1) / (cs / 8) * (cs / 8);
    if (total * 8 > QCOW2_MAX_RT_BYTES || table_size * 8 > QCOW2_MAX_RT_BYTES)
        return -EFBIG;
    uint64_t table_clusters = table_size * 8 / cs, area_index = (start / cs) / per_block;
    uint64_t *nt = calloc(table_size, 8);
    uint8_t *raw = calloc(table_size, 8);
    int ret = nt && raw ? 0 : -ENOMEM;
    if (ret < 0)
        goto out;
    uint64_t max_used = 0;
    for (uint64_t i = 0; i < s->rt_entries; i++)
        if (s->rt[i] & RT_OFFSET_MASK)
            max_used = i;
    /* entries past the new table can only cover empty space (the caller's guarantee) */
    memcpy(nt, s->rt, (table_size > max_used ? max_used + 1 : table_size) * 8);
    uint64_t missing = 0;
    for (uint64_t i = area_index; i < total; i++)
        missing += !nt[i];
    uint64_t table_off = start + missing * cs, end = table_off + table_clusters * cs;
    uint64_t block_off = start;
    for (uint64_t i = area_index; ret == 0 && i < total; i++) {
        uint8_t *b;
        if (nt[i] & (cs - 1)) {
            ret = -EIO;
            break;
        }
        if (nt[i]) {
            ret = cache_get(s->rc_cache, nt[i] & RT_OFFSET_MASK, (void **)&b);
        } else if ((ret = cache_get_empty(s->rc_cache, block_off, (void **)&b)) == 0) {
            nt[i] = block_off;
            block_off += cs;
        }
        if (ret < 0)
            break;
        uint64_t first = i * per_block * cs;
        if (first < end) {
            uint64_t j = first < start ? (start - first) / cs : 0;
            uint64_t stop = (end - first) / cs < per_block ? (end - first) / cs : per_block;
            for (; j < stop; j++)
                qcow2_refcount_set_entry(s, b, j, 1);
        }
        cache_mark_dirty(s->rc_cache, b);
        cache_put(s->rc_cache, b);
    }
    if (ret < 0 || (ret = cache_flush(s->rc_cache)) < 0)
        goto out;
    for (uint64_t i = 0; i < table_size; i++)
        put_be64(raw + i * 8, nt[i]);
    if ((ret = node_pwrite(s->node->file, table_off, table_size * 8, raw)) < 0 ||
        (ret = node_flush(s->node->file)) < 0)
        goto out;
    ret = switch_table(s, table_off, table_clusters, table_size, &nt);
    if (ret == 0)
        ret = cache_flush(s->rc_cache);
out:
    free(nt);
    free(raw);
    return ret < 0 ? ret : (int64_t)end;
}

/* qemu's qcow2_alloc_clusters_at: count the free clusters from off on, up to n of them. */
int64_t qcow2_alloc_clusters_at(struct qcow2 *s, uint64_t off, uint64_t n)
{
    uint64_t c = off >> s->cluster_bits, i;
    for (i = 0; i < n; i++) {
        uint64_t rc;
        int ret = qcow2_get_refcount(s, c + i, &rc);
        if (ret < 0)
            return ret;
        if (rc)
            break;
        if ((ret = qcow2_update_refcount(s, c + i, 1)) < 0)
            return ret;
    }
    return (int64_t)i;
}
