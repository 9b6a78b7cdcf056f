/* qcow2 zero writes split and represented as qemu 7.2 does (block/io.c bdrv_co_do_pwrite_zeroes,
 * block/qcow2.c qcow2_co_pwrite_zeroes, qcow2-cluster.c qcow2_subcluster_zeroize): the request is
 * cut at subcluster boundaries; whole clusters get the zero flag (v3) or an all-zero subcluster
 * bitmap (extended L2), whole subclusters their zero bits, and a partial subcluster is zeroed in
 * the metadata only where the rest of it already reads as zeros through the whole chain and it is
 * not allocated; everything else is written as data. v2 images without a backing file deallocate. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bswap.h"
#include "qcow2.h"

#define ALL_ZERO_BITS 0xffffffff00000000ull

/* qemu's is_zero(): [off, off+len) reads as zeros through the whole backing chain. */
static bool reads_as_zero(struct node *n, uint64_t off, uint64_t len)
{
    if (off >= n->size)
        return true;
    if (len > n->size - off)
        len = n->size - off;
    while (len) {
        struct block_status st;
        if (node_block_status_above(n, NULL, off, len, &st, NULL) < 0 || !(st.flags & BS_ZERO) ||
            !st.len)
            return false;
        if (st.len > len)
            st.len = len;
        off += st.len;
        len -= st.len;
    }
    return true;
}

struct l2_slot {
    uint8_t *t;
    uint64_t idx, e, bm;
};

static int slot_get(struct qcow2 *s, uint64_t off, struct l2_slot *sl)
{
    uint64_t l1_idx = off >> (s->cluster_bits + s->l2_bits), l2_off;
    sl->idx = (off >> s->cluster_bits) & ((1ull << s->l2_bits) - 1);
    int ret = qcow2_l2_for_write(s, l1_idx, &l2_off);
    if (ret < 0 || (ret = cache_get(s->l2_cache, l2_off, (void **)&sl->t)) < 0)
        return ret;
    sl->e = get_be64(sl->t + sl->idx * s->l2_entry_size);
    sl->bm = s->ext_l2 ? get_be64(sl->t + sl->idx * 16 + 8) : 0;
    return 0;
}

static void slot_set(struct qcow2 *s, struct l2_slot *sl, uint64_t e, uint64_t bm)
{
    if (e == sl->e && bm == sl->bm)
        return;
    put_be64(sl->t + sl->idx * s->l2_entry_size, e);
    if (s->ext_l2)
        put_be64(sl->t + sl->idx * 16 + 8, bm);
    cache_mark_dirty(s->l2_cache, sl->t);
}

static bool entry_allocated(const struct qcow2 *s, uint64_t e)
{
    return (e & OFLAG_COMPRESSED) || (e & L2E_OFFSET_MASK) ||
           (s->data_file_name && (e & OFLAG_COPIED));
}

/* qemu's zero_in_l2_slice for one whole cluster. */
static int zero_cluster(struct qcow2 *s, uint64_t off, bool may_unmap)
{
    struct l2_slot sl;
    int ret = slot_get(s, off, &sl);
    if (ret < 0)
        return ret;
    bool unmap = (sl.e & OFLAG_COMPRESSED) || (may_unmap && entry_allocated(s, sl.e));
    uint64_t e = unmap ? 0 : sl.e, bm = sl.bm;
    if (s->ext_l2)
        bm = ALL_ZERO_BITS;
    else
        e |= OFLAG_ZERO;
    slot_set(s, &sl, e, bm);
    if (unmap && (e != sl.e || bm != sl.bm))
        ret = qcow2_free_entry(s, sl.e);
    cache_put(s->l2_cache, sl.t);
    return ret;
}

/* qemu's zero_l2_subclusters: nb subclusters from off (inside one cluster, extended L2). */
static int zero_subclusters(struct qcow2 *s, uint64_t off, unsigned nb)
{
    struct l2_slot sl;
    int ret = slot_get(s, off, &sl);
    if (ret < 0)
        return ret;
    if (sl.e & OFLAG_COMPRESSED) {
        ret = -ENOTSUP; /* a compressed cluster cannot be zeroed in part */
    } else {
        unsigned sc = (unsigned)((off >> s->sc_bits) & 31);
        uint64_t range = (nb >= 32 ? 0xffffffffull : ((1ull << nb) - 1)) << sc;
        slot_set(s, &sl, sl.e, (sl.bm | (range << 32)) & ~range);
    }
    cache_put(s->l2_cache, sl.t);
    return ret;
}

/* qemu's qcow2_subcluster_zeroize, under s->lock: off subcluster-aligned, end aligned or at the
 * image end. */
static int zeroize(struct node *n, struct qcow2 *s, uint64_t off, uint64_t len, int flags)
{
    uint64_t cs = s->cluster_size, end = off + len;
    int ret;
    if ((s->autoclear & AUTOCLEAR_DATA_FILE_RAW) && s->data != n->file &&
        (ret = node_pwrite_zeroes(s->data, off, len, flags)) < 0)
        return ret;
    if (s->version < 3)
        return -ENOTSUP; /* the caller discards when nothing lies below */
    uint64_t up = (off + cs - 1) & ~(cs - 1);
    uint64_t head = (end < up ? end : up) - off;
    off += head;
    uint64_t cend = end & ~(cs - 1), tail = end >= n->size ? 0 : end - (off > cend ? off : cend);
    end -= tail;
    ret = 0;
    if (head)
        ret = zero_subclusters(s, off - head, (unsigned)(head >> s->sc_bits));
    for (uint64_t c = off; ret == 0 && c < end; c += cs)
        ret = zero_cluster(s, c, flags & ZERO_MAY_UNMAP);
    if (ret == 0 && tail)
        ret = zero_subclusters(s, end, (unsigned)(tail >> s->sc_bits));
    return ret;
}

/* qemu's qcow2_co_pwrite_zeroes for one piece (within one subcluster when unaligned). */
static int zero_piece(struct node *n, struct qcow2 *s, uint64_t off, uint64_t len, int flags)
{
    uint64_t sc = 1ull << s->sc_bits;
    uint64_t head = off & (sc - 1), tail = ((off + len + sc - 1) & ~(sc - 1)) - (off + len);
    if (off + len == n->size)
        tail = 0;
    if (head || tail) {
        if (!reads_as_zero(n, off - head, head) || !reads_as_zero(n, off + len, tail))
            return -ENOTSUP;
        off -= head;
        len = sc;
    }
    pthread_mutex_lock(&s->lock);
    int ret = qcow2_check_writable(s);
    if (ret == 0 && (head || tail)) {
        struct qcow2_map m;
        ret = qcow2_lookup(s, off, sc, &m);
        if (ret == 0 && m.type != Q_UNALLOC && m.type != Q_ZERO)
            ret = -ENOTSUP;
    }
    if (ret == 0 && s->version < 3) {
        ret = -ENOTSUP;
        if (!n->backing && !n->backing_file) {
            pthread_mutex_unlock(&s->lock);
            return qcow2_discard_clusters(n, off, len);
        }
    } else if (ret == 0) {
        ret = zeroize(n, s, off, len, flags);
    }
    pthread_mutex_unlock(&s->lock);
    return ret;
}

static int write_zero_data(struct node *n, uint64_t off, uint64_t len)
{
    const uint64_t chunk = 1 << 20;
    uint8_t *z = calloc(1, len < chunk ? len : chunk);
    if (!z)
        return -ENOMEM;
    int ret = 0;
    while (len && ret == 0) {
        uint64_t k = len < chunk ? len : chunk;
        ret = qcow2_pwrite(n, off, k, z);
        off += k;
        len -= k;
    }
    free(z);
    return ret;
}

/* qemu's bdrv_co_do_pwrite_zeroes with qcow2's subcluster alignment: an unaligned head, the
 * aligned bulk, an unaligned tail; a piece qcow2 cannot zero in its metadata is written as data
 * (or fails with -ENOTSUP under ZERO_NO_FALLBACK). */
int qcow2_pwrite_zeroes(struct node *n, uint64_t off, uint64_t len, int flags)
{
    struct qcow2 *s = qcow2_state(n);
    uint64_t align = 1ull << s->sc_bits;
    pthread_mutex_lock(&s->lock);
    int ret = qcow2_check_writable(s);
    if (ret == 0)
        qcow2_bitmaps_set_dirty(s, off, len);
    pthread_mutex_unlock(&s->lock);
    uint64_t head = off & (align - 1), tail = (off + len) & (align - 1);
    while (ret == 0 && len) {
        uint64_t num = len;
        if (head) {
            num = align - head < len ? align - head : len;
            head = (head + num) & (align - 1);
        } else if (tail && num > align) {
            num -= tail;
        }
        ret = zero_piece(n, s, off, num, flags);
        if (ret == -ENOTSUP && !(flags & ZERO_NO_FALLBACK))
            ret = write_zero_data(n, off, num);
        off += num;
        len -= num;
    }
    return ret;
}
