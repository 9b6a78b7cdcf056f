/* qcow2 consistency check (qemu 7.2's qcow2_check_refcounts behaviour): recount every reference
 * from the metadata (header, L1/L2 tables, data, snapshots, refcount structures, bitmaps), compare
 * with the stored refcounts, verify OFLAG_COPIED, gather fragmentation statistics, and optionally
 * repair. Per-problem lines go to stderr in qemu's words. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bswap.h"
#include "qcow2.h"

struct recount {
    struct qcow2 *s;
    struct check_result *res;
    uint64_t *refs;
    uint64_t nb;
    uint64_t next_contiguous;
    bool quiet;
};

static void inc(struct recount *r, uint64_t off, uint64_t size)
{
    if (!size)
        return;
    uint64_t cs = r->s->cluster_size;
    uint64_t first = off / cs, last = (off + size - 1) / cs;
    for (uint64_t c = first; c <= last; c++) {
        if (c >= r->nb) {
            if (!r->quiet)
                fprintf(stderr, "ERROR: counting reference for region exceeding the end of the "
                                "file by one cluster or more: offset 0x%" PRIx64 " size 0x%" PRIx64
                                "\n", off, size);
            r->res->corruptions++;
            return;
        }
        r->refs[c]++;
    }
}

static void count_compressed(struct recount *r, uint64_t e)
{
    struct qcow2 *s = r->s;
    unsigned shift = 62 - (s->cluster_bits - 8);
    uint64_t coff = e & ((1ull << shift) - 1);
    uint64_t nsec = ((e >> shift) & ((1ull << (s->cluster_bits - 8)) - 1)) + 1;
    inc(r, coff & ~511ull, nsec * 512);
}

/* One L2 table; frag statistics only for the active L1. */
static int check_l2(struct recount *r, uint64_t l2_off, bool active)
{
    struct qcow2 *s = r->s;
    uint8_t *t = malloc(s->cluster_size);
    if (!t)
        return -ENOMEM;
    int ret = node_pread(s->node->file, l2_off, s->cluster_size, t);
    if (ret < 0) {
        if (!r->quiet)
            fprintf(stderr, "ERROR: I/O error in check_refcounts_l2\n");
        r->res->check_errors++;
        free(t);
        return 0;
    }
    uint64_t n = 1ull << s->l2_bits;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t e = get_be64(t + i * s->l2_entry_size);
        uint64_t host = e & L2E_OFFSET_MASK;
        if (e & OFLAG_COMPRESSED) {
            count_compressed(r, e);
            if (active) {
                r->res->allocated_clusters++;
                r->res->compressed_clusters++;
                r->res->fragmented_clusters++;
            }
            continue;
        }
        if (!host)
            continue;
        if (host & (s->cluster_size - 1)) {
            if (!r->quiet)
                fprintf(stderr, "ERROR offset=%" PRIx64 ": Cluster is not properly aligned; L2 "
                                "entry corrupted.\n", host);
            r->res->corruptions++;
            continue;
        }
        if (active) {
            r->res->allocated_clusters++;
            if (r->next_contiguous && host != r->next_contiguous)
                r->res->fragmented_clusters++;
            r->next_contiguous = host + s->cluster_size;
        }
        if (!s->data_file_name)
            inc(r, host, s->cluster_size);
    }
    free(t);
    return 0;
}

static int check_l1(struct recount *r, uint64_t l1_off, uint32_t l1_size, bool active)
{
    struct qcow2 *s = r->s;
    inc(r, l1_off, (uint64_t)l1_size * 8);
    uint64_t *l1 = NULL;
    uint8_t *raw = malloc((size_t)l1_size * 8 + 1);
    if (!raw)
        return -ENOMEM;
    if (l1_size && node_pread(s->node->file, l1_off, (uint64_t)l1_size * 8, raw) < 0) {
        if (!r->quiet)
            fprintf(stderr, "ERROR: I/O error in check_refcounts_l1\n");
        r->res->check_errors++;
        free(raw);
        return 0;
    }
    (void)l1;
    int ret = 0;
    for (uint32_t i = 0; i < l1_size && ret == 0; i++) {
        uint64_t l2 = get_be64(raw + (uint64_t)i * 8) & L1E_OFFSET_MASK;
        if (!l2)
            continue;
        inc(r, l2, s->cluster_size);
        if (l2 & (s->cluster_size - 1)) {
            if (!r->quiet)
                fprintf(stderr, "ERROR l2_offset=%" PRIx64 ": Table is not cluster aligned; L1 "
                                "entry corrupted\n", l2);
            r->res->corruptions++;
            continue;
        }
        ret = check_l2(r, l2, active);
    }
    free(raw);
    return ret;
}

/* Bitmap directory entries and the tables and data they reference. */
static int count_bitmaps(struct recount *r)
{
    struct qcow2 *s = r->s;
    if (!s->has_bitmaps_ext)
        return 0;
    inc(r, s->bitmap_dir_offset, s->bitmap_dir_size);
    uint8_t *dir = malloc(s->bitmap_dir_size + 1);
    if (!dir)
        return -ENOMEM;
    int ret = node_pread(s->node->file, s->bitmap_dir_offset, s->bitmap_dir_size, dir);
    for (uint64_t off = 0; ret == 0 && off + 24 <= s->bitmap_dir_size;) {
        uint64_t toff = get_be64(dir + off);
        uint32_t tsize = get_be32(dir + off + 8);
        uint16_t name = get_be16(dir + off + 18);
        uint32_t extra = get_be32(dir + off + 20);
        if (tsize <= (1u << 24) && toff % s->cluster_size == 0) {
            inc(r, toff, (uint64_t)tsize * 8);
            uint8_t *t = malloc((size_t)tsize * 8 + 1);
            if (t && node_pread(s->node->file, toff, (uint64_t)tsize * 8, t) == 0) {
                for (uint32_t i = 0; i < tsize; i++) {
                    uint64_t d = get_be64(t + (uint64_t)i * 8) & L1E_OFFSET_MASK;
                    if (d)
                        inc(r, d, s->cluster_size);
                }
            }
            free(t);
        }
        off = (off + 24 + extra + name + 7) & ~7ull;
    }
    free(dir);
    return ret;
}

static int recount(struct recount *r)
{
    struct qcow2 *s = r->s;
    inc(r, 0, s->cluster_size);
    int ret = check_l1(r, s->l1_offset, s->l1_size, true);
    for (uint32_t i = 0; ret == 0 && i < s->nb_snapshots; i++) {
        struct qcow2_snapshot *sn = &s->snaps[i];
        if (sn->l1_offset % s->cluster_size || (uint64_t)sn->l1_size > QCOW2_MAX_L1_BYTES / 8) {
            if (!r->quiet)
                fprintf(stderr, "ERROR snapshot %s (%s) l1_offset=%#" PRIx64 ": L1 table is not "
                                "cluster aligned; snapshot table entry corrupted\n",
                        sn->id, sn->name, sn->l1_offset);
            r->res->corruptions++;
            continue;
        }
        ret = check_l1(r, sn->l1_offset, sn->l1_size, false);
    }
    if (ret < 0)
        return ret;
    if (s->nb_snapshots)
        inc(r, s->snapshots_offset, s->snapshots_size);
    inc(r, s->rt_offset, (uint64_t)s->rt_clusters << s->cluster_bits);
    if (s->crypto_off)
        inc(r, s->crypto_off, s->crypto_len);
    for (uint64_t i = 0; i < s->rt_entries; i++) {
        uint64_t b = s->rt[i] & RT_OFFSET_MASK;
        if (!b)
            continue;
        if (b & (s->cluster_size - 1)) {
            if (!r->quiet)
                fprintf(stderr, "ERROR refcount block %" PRIu64 " is not cluster aligned; refcount "
                                "table entry corrupted\n", i);
            r->res->corruptions++;
            continue;
        }
        if (b / s->cluster_size >= r->nb) {
            if (!r->quiet)
                fprintf(stderr, "ERROR refcount block %" PRIu64 " is outside image\n", i);
            r->res->corruptions++;
            continue;
        }
        inc(r, b, s->cluster_size);
    }
    return count_bitmaps(r);
}

static void compare(struct recount *r, int fix, uint64_t *highest)
{
    struct qcow2 *s = r->s;
    for (uint64_t c = 0; c < r->nb; c++) {
        uint64_t stored = 0;
        if (qcow2_get_refcount(s, c, &stored) < 0) {
            r->res->check_errors++;
            continue;
        }
        uint64_t want = r->refs[c];
        if (stored || want)
            *highest = c;
        if (stored == want)
            continue;
        bool leak = stored > want;
        bool repair = leak ? (fix & CHECK_FIX_LEAKS) : (fix & CHECK_FIX_ERRORS);
        if (!r->quiet)
            fprintf(stderr, "%s cluster %" PRIu64 " refcount=%" PRIu64 " reference=%" PRIu64 "\n",
                    repair ? "Repairing" : leak ? "Leaked" : "ERROR", c, stored, want);
        if (repair && qcow2_update_refcount(s, c, (int64_t)(want - stored)) == 0) {
            if (leak)
                r->res->leaks_fixed++;
            else
                r->res->corruptions_fixed++;
            continue;
        }
        if (leak)
            r->res->leaks++;
        else
            r->res->corruptions++;
    }
}

/* OFLAG_COPIED must be set exactly where the refcount is 1 (active L1 only). */
static void check_copied(struct recount *r, int fix)
{
    struct qcow2 *s = r->s;
    uint8_t *t = malloc(s->cluster_size);
    if (!t)
        return;
    for (uint32_t i = 0; i < s->l1_size; i++) {
        uint64_t l1e = s->l1[i], l2 = l1e & L1E_OFFSET_MASK, rc = 0;
        if (!l2 || (l2 & (s->cluster_size - 1)))
            continue;
        if (qcow2_get_refcount(s, l2 >> s->cluster_bits, &rc) < 0)
            continue;
        if ((rc == 1) != !!(l1e & OFLAG_COPIED)) {
            if (!r->quiet)
                fprintf(stderr, "%s OFLAG_COPIED L2 cluster: l1_index=%" PRIu32 " l1_entry=%" PRIx64
                                " refcount=%" PRIu64 "\n",
                        (fix & CHECK_FIX_ERRORS) ? "Repairing" : "ERROR", i, l1e, rc);
            r->res->corruptions++;
        }
        if (node_pread(s->node->file, l2, s->cluster_size, t) < 0)
            continue;
        for (uint64_t j = 0; j < (1ull << s->l2_bits); j++) {
            uint64_t e = get_be64(t + j * s->l2_entry_size), h = e & L2E_OFFSET_MASK;
            if ((e & OFLAG_COMPRESSED) || !h || (h & (s->cluster_size - 1)) || s->data_file_name)
                continue;
            if (qcow2_get_refcount(s, h >> s->cluster_bits, &rc) < 0)
                continue;
            if ((rc == 1) != !!(e & OFLAG_COPIED)) {
                if (!r->quiet)
                    fprintf(stderr, "%s OFLAG_COPIED data cluster: l2_entry=%" PRIx64 " refcount=%"
                                    PRIu64 "\n",
                            (fix & CHECK_FIX_ERRORS) ? "Repairing" : "ERROR", e, rc);
                r->res->corruptions++;
            }
        }
    }
    free(t);
}

static int check_impl(struct node *n, struct check_result *res, int fix, bool quiet)
{
    struct qcow2 *s = qcow2_state(n);
    struct recount r = { .s = s, .res = res, .quiet = quiet };
    memset(res, 0, sizeof(*res));
    if (!(n->flags & NODE_RDWR))
        fix = 0;
    uint64_t cs = s->cluster_size;
    r.nb = (n->file->size + cs - 1) / cs;
    r.refs = calloc(r.nb ? r.nb : 1, sizeof(*r.refs));
    if (!r.refs)
        return -ENOMEM;
    pthread_mutex_lock(&s->lock);
    int ret = qcow2_flush_metadata(s);
    if (ret == 0)
        ret = recount(&r);
    uint64_t highest = 0;
    if (ret == 0) {
        compare(&r, fix, &highest);
        check_copied(&r, fix);
        res->image_end_offset = (highest + 1) * cs;
        uint64_t per = 1ull << s->cluster_bits;
        res->total_clusters = (n->size + per - 1) / per;
        if (fix)
            ret = qcow2_flush_metadata(s);
    }
    pthread_mutex_unlock(&s->lock);
    free(r.refs);
    return ret;
}

int qcow2_check(struct node *n, struct check_result *res, int fix)
{
    return check_impl(n, res, fix, false);
}

/* qemu repairs an image left dirty (lazy refcounts) when opening it read-write. */
int qcow2_repair_dirty(struct node *n)
{
    struct qcow2 *s = qcow2_state(n);
    struct check_result r;
    int ret = check_impl(n, &r, CHECK_FIX_LEAKS | CHECK_FIX_ERRORS, true);
    if (ret < 0)
        return ret;
    if (r.check_errors || r.corruptions)
        return -EIO;
    return qcow2_set_incompat(s, s->incompat & ~INCOMPAT_DIRTY);
}
