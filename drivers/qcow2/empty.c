/* Emptying the active layer after commit, as qemu 7.2's qcow2_make_empty: when nothing but the
 * active layer lives in the file (v3, no snapshots, bitmaps, LUKS header or data file), the image
 * is reset to header, refcount table, one refcount block and a zeroed L1 table, and the file is
 * cut after them (qemu's make_completely_empty, with its window where a crash leaves the
 * refcounts broken closed when the tables are already in place); otherwise every cluster of the
 * active layer is discarded (its L2 tables taken for writing, as qemu does), the freed ones
 * punched out of the file. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bswap.h"
#include "qcow2.h"

static bool can_reset(const struct qcow2 *s, uint64_t l1_clusters)
{
    return s->version >= 3 && !s->nb_snapshots && !s->nb_bitmaps && !s->has_bitmaps_ext &&
           3 + l1_clusters <= (1ull << s->rb_bits) && s->crypt_method != QCOW2_CRYPT_LUKS &&
           !s->data_file_name;
}

/* What is pending is written, then the cached tables and allocation state are forgotten: the
 * reset rewrites them on disk. */
static int drop_cached_state(struct qcow2 *s)
{
    int ret = qcow2_flush_metadata(s);
    if (ret < 0)
        return ret;
    cache_clear(s->l2_cache);
    cache_clear(s->rc_cache);
    s->nb_frees = 0;
    s->nb_discards = 0;
    s->free_byte_offset = 0;
    return 0;
}

/* Header, refcount table at cluster 1, refcount block at 2, L1 table from 3; everything after
 * is gone. The dirty flag covers the steps where the refcounts are wrong. */
static int reset(struct node *n, struct qcow2 *s, uint64_t l1_clusters)
{
    uint64_t cs = s->cluster_size;
    struct node *f = n->file;
    int ret = drop_cached_state(s);
    if (ret < 0)
        return ret;
    if ((ret = qcow2_set_incompat(s, s->incompat | INCOMPAT_DIRTY)) < 0 ||
        (ret = node_pwrite_zeroes(f, s->l1_offset, l1_clusters * cs, 0)) < 0)
        return ret;
    if (s->l1_size)
        memset(s->l1, 0, (size_t)s->l1_size * 8);
    if ((ret = node_pwrite_zeroes(f, cs, (2 + l1_clusters) * cs, 0)) < 0)
        return ret;
    uint8_t h[20];
    put_be64(h, 3 * cs);
    put_be64(h + 8, cs);
    put_be32(h + 16, 1);
    if ((ret = node_pwrite(f, 40, sizeof(h), h)) < 0 || (ret = node_flush(f)) < 0)
        return ret;
    uint64_t *rt = calloc(cs / 8, 8);
    if (!rt)
        return -ENOMEM;
    free(s->rt);
    s->rt = rt;
    s->l1_offset = 3 * cs;
    s->rt_offset = cs;
    s->rt_clusters = 1;
    s->rt_entries = cs / 8;
    uint8_t e[8];
    put_be64(e, 2 * cs);
    if ((ret = node_pwrite(f, cs, 8, e)) < 0 || (ret = node_flush(f)) < 0)
        return ret;
    s->rt[0] = 2 * cs;
    s->free_cluster_index = 0;
    /* the header and tables are referenced before they are counted: no overlap check */
    bool skip = s->alloc_skip_overlap;
    s->alloc_skip_overlap = true;
    int64_t off = qcow2_alloc_clusters(s, 3 + l1_clusters);
    s->alloc_skip_overlap = skip;
    if (off < 0)
        return (int)off;
    if (off != 0)
        return -EIO;
    if ((ret = qcow2_flush_metadata(s)) < 0 || (ret = node_flush(f)) < 0 ||
        (ret = qcow2_set_incompat(s, s->incompat & ~INCOMPAT_DIRTY)) < 0)
        return ret;
    s->marked_dirty = false;
    return node_truncate(f, (3 + l1_clusters) * cs, false, PREALLOC_OFF, NULL);
}

/* The same result when the tables already sit where the reset puts them (the layout qemu-img
 * create gives: refcount table in cluster 1 with its first block in cluster 2, L1 table from
 * cluster 3), written in an order that never leaves more than leaked clusters behind a crash:
 * the L1 table first (the layer is empty, its clusters leaked), then the refcount table (other
 * blocks dropped), then the first block's counts, then the cut. */
static bool in_place(const struct qcow2 *s)
{
    uint64_t cs = s->cluster_size;
    return s->rt_offset == cs && s->rt_clusters == 1 && s->rt_entries && s->rt[0] == 2 * cs &&
           s->l1_offset == 3 * cs;
}

static int reset_in_place(struct node *n, struct qcow2 *s, uint64_t l1_clusters)
{
    uint64_t cs = s->cluster_size;
    struct node *f = n->file;
    int ret = drop_cached_state(s);
    if (ret < 0)
        return ret;
    if ((ret = node_pwrite_zeroes(f, 3 * cs, l1_clusters * cs, 0)) < 0 ||
        (ret = node_flush(f)) < 0)
        return ret;
    if (s->l1_size)
        memset(s->l1, 0, (size_t)s->l1_size * 8);
    uint8_t *b = calloc(1, cs);
    if (!b)
        return -ENOMEM;
    put_be64(b, 2 * cs);
    if ((ret = node_pwrite(f, cs, cs, b)) < 0 || (ret = node_flush(f)) < 0)
        goto out;
    memset(s->rt, 0, s->rt_entries * 8);
    s->rt[0] = 2 * cs;
    memset(b, 0, cs);
    for (uint64_t i = 0; i < 3 + l1_clusters; i++)
        qcow2_refcount_set_entry(s, b, i, 1);
    if ((ret = node_pwrite(f, 2 * cs, cs, b)) < 0 || (ret = node_flush(f)) < 0)
        goto out;
    s->free_cluster_index = 3 + l1_clusters;
    if ((s->incompat & INCOMPAT_DIRTY) &&
        (ret = qcow2_set_incompat(s, s->incompat & ~INCOMPAT_DIRTY)) < 0)
        goto out;
    s->marked_dirty = false;
    ret = node_truncate(f, (3 + l1_clusters) * cs, false, PREALLOC_OFF, NULL);
out:
    free(b);
    return ret;
}

/* qemu's fallback: qcow2_cluster_discard over the whole image, full discard, with the
 * "snapshot" discard type that reaches the file by default. */
static int discard_all(struct node *n, struct qcow2 *s)
{
    s->discard_frees = true;
    int ret = qcow2_drop_range(s, 0, n->size);
    if (ret == 0)
        ret = qcow2_flush_metadata(s);
    if (ret == 0)
        qcow2_process_discards(s);
    s->discard_frees = false;
    return ret;
}

int qcow2_make_empty(struct node *n)
{
    struct qcow2 *s = qcow2_state(n);
    uint64_t l1_clusters = ((uint64_t)s->l1_size * 8 + s->cluster_size - 1) / s->cluster_size;
    pthread_mutex_lock(&s->lock);
    int ret = s->incompat & INCOMPAT_CORRUPT ? -EIO
              : !can_reset(s, l1_clusters)   ? discard_all(n, s)
              : in_place(s)                  ? reset_in_place(n, s, l1_clusters)
                                             : reset(n, s, l1_clusters);
    pthread_mutex_unlock(&s->lock);
    return ret;
}
