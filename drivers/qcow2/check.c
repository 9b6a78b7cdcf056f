/* qcow2 consistency check and repair, as qemu-img 7.2 does it: read the snapshot table leniently,
 * recount every reference from the metadata into an in-memory refcount table, compare it with the
 * stored refcounts, verify OFLAG_COPIED, and with -r fix what can be fixed, rebuilding the refcount
 * structures from scratch when they are themselves broken. Per-problem lines go to stderr in
 * qemu's words, in qemu's order. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bswap.h"
#include "qcow2.h"

#define L1E_RESERVED_MASK 0x7f000000000001ffull
#define L2E_STD_RESERVED_MASK 0x3f000000000001feull
#define RT_RESERVED_MASK 0x1ffull
#define L2_BITMAP_ALL_ALLOC 0xffffffffull
#define L2_BITMAP_ALL_ZEROES 0xffffffff00000000ull
#define CHECK_FRAG_INFO 2

/* qemu's QCOW2_OL_* bits, in the order qemu tests them. */
enum {
    OL_MAIN_HEADER = 1 << 0,
    OL_ACTIVE_L1 = 1 << 1,
    OL_ACTIVE_L2 = 1 << 2,
    OL_REFCOUNT_TABLE = 1 << 3,
    OL_REFCOUNT_BLOCK = 1 << 4,
    OL_SNAPSHOT_TABLE = 1 << 5,
    OL_INACTIVE_L1 = 1 << 6,
    OL_BITMAP_DIRECTORY = 1 << 8,
};

enum cluster_type { CT_UNALLOCATED, CT_ZERO_PLAIN, CT_ZERO_ALLOC, CT_NORMAL, CT_COMPRESSED };

/* The in-memory refcount table (qemu's IMRT): the concatenation of all refblocks, in the image's
 * refcount width, its byte size a whole number of clusters so slices can be written as refblocks. */
struct check {
    struct qcow2 *s;
    struct check_result *res;
    uint8_t *rt;
    uint64_t nb;
};

static uint64_t rc_max(const struct qcow2 *s)
{
    return s->refcount_order == 6 ? UINT64_MAX : (1ull << s->refcount_bits) - 1;
}

static uint64_t size_to_clusters(const struct qcow2 *s, uint64_t size)
{
    return (size + s->cluster_size - 1) >> s->cluster_bits;
}

static uint64_t imrt_bytes(const struct qcow2 *s, uint64_t entries)
{
    return size_to_clusters(s, ((entries << s->refcount_order) + 7) / 8) << s->cluster_bits;
}

static int imrt_resize(struct check *c, uint64_t new_nb)
{
    struct qcow2 *s = c->s;
    if (new_nb >= (1ull << (64 - 9)))
        return -ENOMEM;
    uint64_t old_bytes = c->rt ? imrt_bytes(s, c->nb) : 0, new_bytes = imrt_bytes(s, new_nb);
    if (new_bytes == old_bytes && c->rt) {
        c->nb = new_nb;
        return 0;
    }
    if (new_bytes > SIZE_MAX || new_bytes > (64ull << 30))
        return -ENOMEM;
    uint8_t *p = realloc(c->rt, new_bytes ? new_bytes : 1);
    if (!p)
        return -ENOMEM;
    if (new_bytes > old_bytes)
        memset(p + old_bytes, 0, new_bytes - old_bytes);
    c->rt = p;
    c->nb = new_nb;
    return 0;
}

static uint64_t imrt_get(const struct check *c, uint64_t k)
{
    return qcow2_refcount_get_entry(c->s, c->rt, k);
}

static void imrt_set(struct check *c, uint64_t k, uint64_t v)
{
    qcow2_refcount_set_entry(c->s, c->rt, k, v);
}

static uint64_t file_len(const struct qcow2 *s)
{
    return s->node->file->size;
}

/* qemu's bdrv_pread on the image file: past the end reads zeros, beyond its maximum length EIO. */
static int file_read(struct qcow2 *s, uint64_t off, uint64_t len, void *buf)
{
    uint64_t end;
    if (__builtin_add_overflow(off, len, &end) || end > QCOW2_MAX_IO_OFFSET)
        return -EIO;
    return node_pread(s->node->file, off, len, buf);
}

/* qemu's qcow2_inc_refcounts_imrt. */
static int inc_refs(struct check *c, uint64_t off, uint64_t size)
{
    struct qcow2 *s = c->s;
    if ((int64_t)size <= 0)
        return 0;
    if ((int64_t)(off + size - file_len(s)) >= (int64_t)s->cluster_size) {
        fprintf(stderr, "ERROR: counting reference for region exceeding the end of the file by "
                        "one cluster or more: offset 0x%" PRIx64 " size 0x%" PRIx64 "\n",
                off, size);
        c->res->corruptions++;
        return 0;
    }
    uint64_t first = off >> s->cluster_bits, last = (off + size - 1) >> s->cluster_bits;
    for (uint64_t k = first; k <= last; k++) {
        if (k >= c->nb) {
            int ret = imrt_resize(c, k + 1);
            if (ret < 0) {
                c->res->check_errors++;
                return ret;
            }
        }
        uint64_t rc = imrt_get(c, k);
        if (rc == rc_max(s)) {
            fprintf(stderr, "ERROR: overflow cluster offset=0x%" PRIx64 "\n",
                    k << s->cluster_bits);
            fprintf(stderr, "Use qemu-img amend to increase the refcount entry width or qemu-img "
                            "convert to create a clean copy if the image cannot be opened for "
                            "writing\n");
            c->res->corruptions++;
            continue;
        }
        imrt_set(c, k, rc + 1);
    }
    return 0;
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    uint64_t alast = a + alen - 1, blast = b + blen - 1;
    return !(blast < a || alast < b);
}

/* qemu's qcow2_check_metadata_overlap with the default "cached" checks. */
static int overlap_kind(struct qcow2 *s, int ign, uint64_t off, uint64_t size)
{
    int chk = (OL_MAIN_HEADER | OL_ACTIVE_L1 | OL_REFCOUNT_TABLE | OL_SNAPSHOT_TABLE |
               OL_BITMAP_DIRECTORY | OL_ACTIVE_L2 | OL_REFCOUNT_BLOCK | OL_INACTIVE_L1) & ~ign;
    if (!size)
        return 0;
    if ((chk & OL_MAIN_HEADER) && off < s->cluster_size)
        return OL_MAIN_HEADER;
    size = ((off & (s->cluster_size - 1)) + size + s->cluster_size - 1) & ~(s->cluster_size - 1);
    off &= ~(s->cluster_size - 1);
    if ((chk & OL_ACTIVE_L1) && s->l1_size &&
        ranges_overlap(off, size, s->l1_offset, (uint64_t)s->l1_size * 8))
        return OL_ACTIVE_L1;
    if ((chk & OL_REFCOUNT_TABLE) && s->rt_entries &&
        ranges_overlap(off, size, s->rt_offset, s->rt_entries * 8))
        return OL_REFCOUNT_TABLE;
    if ((chk & OL_SNAPSHOT_TABLE) && s->snapshots_size &&
        ranges_overlap(off, size, s->snapshots_offset, s->snapshots_size))
        return OL_SNAPSHOT_TABLE;
    if ((chk & OL_INACTIVE_L1) && s->snaps) {
        for (uint32_t i = 0; i < s->nb_snapshots; i++)
            if (s->snaps[i].l1_size && ranges_overlap(off, size, s->snaps[i].l1_offset,
                                                      (uint64_t)s->snaps[i].l1_size * 8))
                return OL_INACTIVE_L1;
    }
    if ((chk & OL_ACTIVE_L2) && s->l1) {
        for (uint32_t i = 0; i < s->l1_size; i++) {
            uint64_t l2 = s->l1[i] & L1E_OFFSET_MASK;
            if (l2 && ranges_overlap(off, size, l2, s->cluster_size))
                return OL_ACTIVE_L2;
        }
    }
    if ((chk & OL_REFCOUNT_BLOCK) && s->rt) {
        for (uint64_t i = 0; i < s->rt_entries; i++) {
            uint64_t b = s->rt[i] & RT_OFFSET_MASK;
            if (b && ranges_overlap(off, size, b, s->cluster_size))
                return OL_REFCOUNT_BLOCK;
        }
    }
    if ((chk & OL_BITMAP_DIRECTORY) && (s->autoclear & AUTOCLEAR_BITMAPS) &&
        ranges_overlap(off, size, s->bitmap_dir_offset, s->bitmap_dir_size))
        return OL_BITMAP_DIRECTORY;
    return 0;
}

/* qemu's qcow2_pre_write_overlap_check: an overlap marks the image corrupt and fails with EIO. */
int qcow2_pre_write_overlap_check(struct qcow2 *s, int ign, uint64_t off, uint64_t size)
{
    static const char *const names[] = {
        "qcow2_header", "active L1 table", "active L2 table", "refcount table",
        "refcount block", "snapshot table", "inactive L1 table", "inactive L2 table",
        "bitmap directory",
    };
    int k = overlap_kind(s, ign, off, size);
    if (!k)
        return 0;
    qcow2_signal_corruption(s, "Preventing invalid write on metadata (overlaps with %s)",
                            names[__builtin_ctz((unsigned)k)]);
    return -EIO;
}

int qcow2_l2_read_check(struct qcow2 *s, uint64_t off, uint64_t len)
{
    static const char *const names[] = {
        "its header", "the active L1 table", "an active L2 table", "the refcount table",
        "a refcount block", "the snapshot table", "an inactive L1 table", "an inactive L2 table",
        "the bitmap directory",
    };
    struct node *f = s->node->file;
    if (!(f->flags & NODE_STRICT))
        return 0;
    int k = overlap_kind(s, OL_ACTIVE_L2, off, len);
    if (k) {
        log_message("corrupt image: an L2 table at offset %" PRIu64 " of '%s' lies on %s", off,
                    node_name(f), names[__builtin_ctz((unsigned)k)]);
        return -EIO;
    }
    return node_check_pointer(f, off, len, 0, "an L2 table");
}

static int write_sync(struct qcow2 *s, uint64_t off, uint64_t len, const void *buf)
{
    int ret = node_pwrite(s->node->file, off, len, buf);
    return ret < 0 ? ret : node_flush(s->node->file);
}

static enum cluster_type cluster_type(const struct qcow2 *s, uint64_t e)
{
    if (e & OFLAG_COMPRESSED)
        return CT_COMPRESSED;
    if ((e & OFLAG_ZERO) && !s->ext_l2)
        return (e & L2E_OFFSET_MASK) ? CT_ZERO_ALLOC : CT_ZERO_PLAIN;
    if (!(e & L2E_OFFSET_MASK))
        return s->data_file_name && (e & OFLAG_COPIED) ? CT_NORMAL : CT_UNALLOCATED;
    return CT_NORMAL;
}

static bool has_data_file(const struct qcow2 *s)
{
    return s->incompat & INCOMPAT_DATA_FILE;
}

/* qemu's fix_l2_entry_by_zero: the entry becomes a plain zero cluster, written at once. */
static int fix_l2_entry_by_zero(struct check *c, uint64_t l2_off, uint8_t *t, uint64_t i,
                                bool active, bool *overlap)
{
    struct qcow2 *s = c->s;
    uint8_t *p = t + i * s->l2_entry_size;
    if (s->ext_l2) {
        uint64_t bm = get_be64(p + 8);
        bm |= bm << 32;
        bm &= L2_BITMAP_ALL_ZEROES;
        put_be64(p + 8, bm);
        put_be64(p, 0);
    } else {
        put_be64(p, OFLAG_ZERO);
    }
    uint64_t at = l2_off + i * s->l2_entry_size;
    int ret = qcow2_pre_write_overlap_check(s, active ? OL_ACTIVE_L2 : 0, at, s->l2_entry_size);
    *overlap = ret < 0;
    if (ret < 0) {
        fprintf(stderr, "ERROR: Overlap check failed\n");
        goto fail;
    }
    if ((ret = write_sync(s, at, s->l2_entry_size, p)) < 0) {
        fprintf(stderr, "ERROR: Failed to overwrite L2 table entry: %s\n", strerror(-ret));
        goto fail;
    }
    c->res->corruptions--;
    c->res->corruptions_fixed++;
    return 0;
fail:
    c->res->check_errors++;
    return ret;
}

/* qemu's check_refcounts_l2. */
static int check_l2(struct check *c, uint64_t l2_off, int flags, int fix, bool active)
{
    struct qcow2 *s = c->s;
    struct check_result *res = c->res;
    uint64_t n = 1ull << s->l2_bits, next_contiguous = 0;
    uint8_t *t = malloc(s->cluster_size);
    if (!t)
        return -ENOMEM;
    int ret = file_read(s, l2_off, s->cluster_size, t);
    if (ret < 0) {
        fprintf(stderr, "ERROR: I/O error in check_refcounts_l2\n");
        res->check_errors++;
        goto out;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t e = get_be64(t + i * s->l2_entry_size);
        uint64_t bm = s->ext_l2 ? get_be64(t + i * s->l2_entry_size + 8) : 0;
        enum cluster_type type = cluster_type(s, e);
        if (type != CT_COMPRESSED && (e & L2E_STD_RESERVED_MASK)) {
            fprintf(stderr, "ERROR found l2 entry with reserved bits set: %" PRIx64 "\n", e);
            res->corruptions++;
        }
        switch (type) {
        case CT_COMPRESSED: {
            unsigned shift = 62 - (s->cluster_bits - 8);
            uint64_t offmask = (1ull << shift) - 1;
            if (e & OFLAG_COPIED) {
                fprintf(stderr, "ERROR: coffset=0x%" PRIx64 ": copied flag must never be set "
                                "for compressed clusters\n", e & offmask);
                e &= ~OFLAG_COPIED;
                res->corruptions++;
            }
            if (has_data_file(s)) {
                fprintf(stderr, "ERROR compressed cluster %d with data file, entry=0x%" PRIx64
                                "\n", (int)i, e);
                res->corruptions++;
                break;
            }
            if (bm) {
                fprintf(stderr, "ERROR compressed cluster %d with non-zero subcluster "
                                "allocation bitmap, entry=0x%" PRIx64 "\n", (int)i, e);
                res->corruptions++;
                break;
            }
            uint64_t coff = e & offmask;
            uint64_t nsec = ((e >> shift) & ((1ull << (s->cluster_bits - 8)) - 1)) + 1;
            uint64_t csize = nsec * 512 - (coff & 511);
            if ((ret = inc_refs(c, coff, csize)) < 0)
                goto out;
            if (flags & CHECK_FRAG_INFO) {
                res->allocated_clusters++;
                res->compressed_clusters++;
                res->fragmented_clusters++;
            }
            break;
        }
        case CT_ZERO_ALLOC:
        case CT_NORMAL: {
            uint64_t off = e & L2E_OFFSET_MASK;
            if ((bm >> 32) & bm) {
                res->corruptions++;
                fprintf(stderr, "ERROR offset=%" PRIx64 ": Allocated cluster has corrupted "
                                "subcluster allocation bitmap\n", off);
            }
            if (off & (s->cluster_size - 1)) {
                res->corruptions++;
                bool data = s->ext_l2 ? (bm & L2_BITMAP_ALL_ALLOC) : !(e & OFLAG_ZERO);
                if (!data) {
                    fprintf(stderr, "%s offset=%" PRIx64 ": Preallocated cluster is not properly "
                                    "aligned; L2 entry corrupted.\n",
                            fix & CHECK_FIX_ERRORS ? "Repairing" : "ERROR", off);
                    if (fix & CHECK_FIX_ERRORS) {
                        bool overlap = false;
                        ret = fix_l2_entry_by_zero(c, l2_off, t, i, active, &overlap);
                        if (overlap)
                            goto out;
                        if (ret == 0)
                            continue;
                    }
                } else {
                    fprintf(stderr, "ERROR offset=%" PRIx64 ": Data cluster is not properly "
                                    "aligned; L2 entry corrupted.\n", off);
                }
            }
            if (flags & CHECK_FRAG_INFO) {
                res->allocated_clusters++;
                if (next_contiguous && off != next_contiguous)
                    res->fragmented_clusters++;
                next_contiguous = off + s->cluster_size;
            }
            if (!has_data_file(s) && (ret = inc_refs(c, off, s->cluster_size)) < 0)
                goto out;
            break;
        }
        case CT_ZERO_PLAIN:
            break;
        case CT_UNALLOCATED:
            if (bm & L2_BITMAP_ALL_ALLOC) {
                res->corruptions++;
                fprintf(stderr, "ERROR: Unallocated cluster has non-zero subcluster allocation "
                                "map\n");
            }
            break;
        }
    }
    ret = 0;
out:
    free(t);
    return ret;
}

/* qemu's check_refcounts_l1. */
static int check_l1(struct check *c, uint64_t l1_off, uint32_t l1_size, int flags, int fix,
                    bool active)
{
    struct qcow2 *s = c->s;
    if (!l1_size)
        return 0;
    uint64_t bytes = (uint64_t)l1_size * 8;
    int ret = inc_refs(c, l1_off, bytes);
    if (ret < 0)
        return ret;
    uint8_t *raw = malloc(bytes);
    if (!raw) {
        c->res->check_errors++;
        return -ENOMEM;
    }
    if ((ret = file_read(s, l1_off, bytes, raw)) < 0) {
        fprintf(stderr, "ERROR: I/O error in check_refcounts_l1\n");
        c->res->check_errors++;
        goto out;
    }
    for (uint32_t i = 0; i < l1_size; i++) {
        uint64_t e = get_be64(raw + (uint64_t)i * 8);
        if (!e)
            continue;
        if (e & L1E_RESERVED_MASK) {
            fprintf(stderr, "ERROR found L1 entry with reserved bits set: %" PRIx64 "\n", e);
            c->res->corruptions++;
        }
        uint64_t l2 = e & L1E_OFFSET_MASK;
        if ((ret = inc_refs(c, l2, s->cluster_size)) < 0)
            goto out;
        if (l2 & (s->cluster_size - 1)) {
            fprintf(stderr, "ERROR l2_offset=%" PRIx64 ": Table is not cluster aligned; L1 entry "
                            "corrupted\n", l2);
            c->res->corruptions++;
        }
        if ((ret = check_l2(c, l2, flags, fix, active)) < 0)
            goto out;
    }
    ret = 0;
out:
    free(raw);
    return ret;
}

/* qemu's check_table_entry for bitmap tables. */
static bool bitmap_entry_ok(uint64_t e, uint64_t cs)
{
    uint64_t off = e & 0x00fffffffffffe00ull;
    if (e & 0xff000000000001feull)
        return false;
    return !off || (!(e & 1) && off % cs == 0);
}

/* qemu's qcow2_check_bitmaps_refcounts: the directory, each bitmap table and its data clusters. */
static int count_bitmaps(struct check *c)
{
    struct qcow2 *s = c->s;
    if (!s->has_bitmaps_ext || !s->nb_bitmaps)
        return 0;
    int ret = inc_refs(c, s->bitmap_dir_offset, s->bitmap_dir_size);
    if (ret < 0)
        return ret;
    uint64_t size = s->bitmap_dir_size;
    uint8_t *dir = size ? malloc(size) : NULL;
    bool ok = dir && file_read(s, s->bitmap_dir_offset, size, dir) == 0;
    uint32_t count = 0;
    /* the directory as bitmap_list_load accepts it: whole entries, aligned table offsets */
    for (uint64_t off = 0; ok && off < size; count++) {
        if (size - off < 24) {
            ok = false;
            break;
        }
        uint32_t tsize = get_be32(dir + off + 8);
        uint16_t name = get_be16(dir + off + 18);
        uint32_t extra = get_be32(dir + off + 20);
        uint64_t len = (24 + (uint64_t)extra + name + 7) & ~7ull;
        uint64_t toff = get_be64(dir + off);
        if (len > size - off || !name || name > 1023 || !tsize || tsize > 0x8000000 ||
            toff % s->cluster_size || dir[off + 17] < 9 || dir[off + 17] > 31)
            ok = false;
        off += len;
    }
    if (!ok || count != s->nb_bitmaps) {
        free(dir);
        c->res->corruptions++;
        return -EINVAL;
    }
    for (uint64_t off = 0; off < size;) {
        uint64_t toff = get_be64(dir + off);
        uint32_t tsize = get_be32(dir + off + 8);
        uint64_t len = (24 + (uint64_t)get_be32(dir + off + 20) + get_be16(dir + off + 18) + 7) &
                       ~7ull;
        off += len;
        if ((ret = inc_refs(c, toff, (uint64_t)tsize * 8)) < 0)
            break;
        uint8_t *t = malloc((size_t)tsize * 8);
        if (!t || file_read(s, toff, (uint64_t)tsize * 8, t) < 0) {
            free(t);
            c->res->corruptions++;
            ret = t ? -EIO : -ENOMEM;
            break;
        }
        bool bad = false;
        for (uint32_t i = 0; i < tsize && !bad; i++)
            bad = !bitmap_entry_ok(get_be64(t + (uint64_t)i * 8), s->cluster_size);
        if (bad) {
            free(t);
            c->res->corruptions++;
            ret = -EINVAL;
            break;
        }
        for (uint32_t i = 0; i < tsize && ret == 0; i++) {
            uint64_t e = get_be64(t + (uint64_t)i * 8), d = e & 0x00fffffffffffe00ull;
            if (d)
                ret = inc_refs(c, d, s->cluster_size);
        }
        free(t);
        if (ret < 0)
            break;
    }
    free(dir);
    return ret;
}

/* qemu's check_refblocks. */
static int check_refblocks(struct check *c, int fix, bool *rebuild)
{
    struct qcow2 *s = c->s;
    struct check_result *res = c->res;
    for (uint64_t i = 0; i < s->rt_entries; i++) {
        uint64_t off = s->rt[i] & RT_OFFSET_MASK, cluster = off >> s->cluster_bits;
        int ret;
        if (s->rt[i] & RT_RESERVED_MASK) {
            fprintf(stderr, "ERROR refcount table entry %" PRId64 " has reserved bits set\n",
                    (int64_t)i);
            res->corruptions++;
            *rebuild = true;
            continue;
        }
        if (off & (s->cluster_size - 1)) {
            fprintf(stderr, "ERROR refcount block %" PRId64 " is not cluster aligned; refcount "
                            "table entry corrupted\n", (int64_t)i);
            res->corruptions++;
            *rebuild = true;
            continue;
        }
        if (cluster >= c->nb) {
            res->corruptions++;
            fprintf(stderr, "%s refcount block %" PRId64 " is outside image\n",
                    fix & CHECK_FIX_ERRORS ? "Repairing" : "ERROR", (int64_t)i);
            if (!(fix & CHECK_FIX_ERRORS))
                continue;
            if (off > INT64_MAX - s->cluster_size) {
                ret = -EINVAL;
                goto resize_fail;
            }
            struct error *err = NULL;
            ret = node_truncate(s->node->file, off + s->cluster_size, false, PREALLOC_OFF, &err);
            if (ret < 0) {
                error_report_err(err);
                goto resize_fail;
            }
            if ((ret = imrt_resize(c, size_to_clusters(s, file_len(s)))) < 0) {
                res->check_errors++;
                return ret;
            }
            if (cluster >= c->nb) {
                ret = -EINVAL;
                goto resize_fail;
            }
            res->corruptions--;
            res->corruptions_fixed++;
            if ((ret = inc_refs(c, off, s->cluster_size)) < 0)
                return ret;
            continue;
resize_fail:
            *rebuild = true;
            fprintf(stderr, "ERROR could not resize image: %s\n", strerror(-ret));
            continue;
        }
        if (off) {
            if ((ret = inc_refs(c, off, s->cluster_size)) < 0)
                return ret;
            if (imrt_get(c, cluster) != 1) {
                fprintf(stderr, "ERROR refcount block %" PRId64 " refcount=%" PRIu64 "\n",
                        (int64_t)i, imrt_get(c, cluster));
                res->corruptions++;
                *rebuild = true;
            }
        }
    }
    return 0;
}

/* qemu's calculate_refcounts. */
static int calculate_refcounts(struct check *c, int fix, bool *rebuild)
{
    struct qcow2 *s = c->s;
    int ret;
    if (!c->rt && (ret = imrt_resize(c, c->nb)) < 0) {
        c->res->check_errors++;
        return ret;
    }
    if ((ret = inc_refs(c, 0, s->cluster_size)) < 0)
        return ret;
    if ((ret = check_l1(c, s->l1_offset, s->l1_size, CHECK_FRAG_INFO, fix, true)) < 0)
        return ret;
    if (has_data_file(s) && s->nb_snapshots) {
        fprintf(stderr, "ERROR %d snapshots in image with data file\n", (int)s->nb_snapshots);
        c->res->corruptions++;
    }
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        struct qcow2_snapshot *sn = &s->snaps[i];
        if (sn->l1_offset & (s->cluster_size - 1)) {
            fprintf(stderr, "ERROR snapshot %s (%s) l1_offset=%#" PRIx64 ": L1 table is not "
                            "cluster aligned; snapshot table entry corrupted\n",
                    sn->id, sn->name, sn->l1_offset);
            c->res->corruptions++;
            continue;
        }
        if (sn->l1_size > QCOW2_MAX_L1_BYTES / 8) {
            fprintf(stderr, "ERROR snapshot %s (%s) l1_size=%#" PRIx32 ": L1 table is too large; "
                            "snapshot table entry corrupted\n", sn->id, sn->name, sn->l1_size);
            c->res->corruptions++;
            continue;
        }
        if ((ret = check_l1(c, sn->l1_offset, sn->l1_size, 0, fix, false)) < 0)
            return ret;
    }
    if ((ret = inc_refs(c, s->snapshots_offset, s->snapshots_size)) < 0)
        return ret;
    if ((ret = inc_refs(c, s->rt_offset, s->rt_entries * 8)) < 0)
        return ret;
    if (s->crypto_len && (ret = inc_refs(c, s->crypto_off, s->crypto_len)) < 0)
        return ret;
    if ((ret = count_bitmaps(c)) < 0)
        return ret;
    return check_refblocks(c, fix, rebuild);
}

/* qemu's compare_refcounts. */
static void compare_refcounts(struct check *c, int fix, bool *rebuild, uint64_t *highest)
{
    struct qcow2 *s = c->s;
    struct check_result *res = c->res;
    *highest = 0;
    for (uint64_t i = 0; i < c->nb; i++) {
        uint64_t rc1, rc2;
        int ret = qcow2_get_refcount(s, i, &rc1);
        if (ret < 0) {
            fprintf(stderr, "Can't get refcount for cluster %" PRId64 ": %s\n", (int64_t)i,
                    strerror(-ret));
            res->check_errors++;
            continue;
        }
        rc2 = imrt_get(c, i);
        if (rc1 > 0 || rc2 > 0)
            *highest = i;
        if (rc1 == rc2)
            continue;
        int *fixed = NULL;
        if (rc1 == 0)
            *rebuild = true;
        else if (rc1 > rc2 && (fix & CHECK_FIX_LEAKS))
            fixed = &res->leaks_fixed;
        else if (rc1 < rc2 && (fix & CHECK_FIX_ERRORS))
            fixed = &res->corruptions_fixed;
        fprintf(stderr, "%s cluster %" PRId64 " refcount=%" PRIu64 " reference=%" PRIu64 "\n",
                fixed ? "Repairing" : rc1 < rc2 ? "ERROR" : "Leaked", (int64_t)i, rc1, rc2);
        if (fixed && qcow2_update_refcount(s, i, (int64_t)(rc2 - rc1)) == 0) {
            /* qemu repairs with QCOW2_DISCARD_ALWAYS: a cluster freed here is discarded */
            if (!rc2)
                (void)node_discard(s->node->file, i << s->cluster_bits, s->cluster_size);
            (*fixed)++;
            continue;
        }
        if (rc1 < rc2)
            res->corruptions++;
        else
            res->leaks++;
    }
}

/* qemu's alloc_clusters_imrt: first fit from *first_free, growing the table at the end. */
static int64_t alloc_clusters_imrt(struct check *c, uint64_t count, uint64_t *first_free)
{
    struct qcow2 *s = c->s;
    uint64_t cluster = *first_free, contiguous = 0;
    bool first_gap = true;
    for (; cluster < c->nb && contiguous < count; cluster++) {
        if (!imrt_get(c, cluster)) {
            contiguous++;
            if (first_gap) {
                *first_free = cluster;
                first_gap = false;
            }
        } else {
            contiguous = 0;
        }
    }
    if (contiguous < count) {
        int ret = imrt_resize(c, cluster + count - contiguous);
        if (ret < 0)
            return ret;
    }
    cluster -= contiguous;
    for (uint64_t i = 0; i < count; i++)
        imrt_set(c, cluster + i, 1);
    return (int64_t)(cluster << s->cluster_bits);
}

/* qemu's rebuild_refcounts_write_refblocks: returns whether the reftable grew, or -errno. */
static int write_refblocks(struct check *c, uint64_t first, uint64_t end, uint64_t **table,
                           uint64_t *entries, const char **what)
{
    struct qcow2 *s = c->s;
    uint64_t per_rb = 1ull << s->rb_bits, first_free = 0;
    bool grown = false;
    for (uint64_t cl = first; cl < end; cl++) {
        if (!imrt_get(c, cl))
            continue;
        uint64_t idx = cl >> s->rb_bits, start = idx << s->rb_bits;
        int64_t rb;
        if (*entries > idx && (*table)[idx]) {
            rb = (int64_t)(*table)[idx];
        } else {
            if (first_free < start)
                first_free = start;
            rb = alloc_clusters_imrt(c, 1, &first_free);
            if (rb < 0) {
                *what = "ERROR allocating refblock";
                return (int)rb;
            }
            if (((uint64_t)rb >> s->cluster_bits) >= end)
                end = ((uint64_t)rb >> s->cluster_bits) + 1;
            if (*entries <= idx) {
                uint64_t n = (((idx + 1) * 8 + s->cluster_size - 1) & ~(s->cluster_size - 1)) / 8;
                uint64_t *t = realloc(*table, n * 8);
                if (!t) {
                    *what = "ERROR allocating reftable memory";
                    return -ENOMEM;
                }
                memset(t + *entries, 0, (n - *entries) * 8);
                *table = t;
                *entries = n;
                grown = true;
            }
            (*table)[idx] = (uint64_t)rb;
        }
        int ret = qcow2_pre_write_overlap_check(s, 0, (uint64_t)rb, s->cluster_size);
        if (ret == 0)
            ret = node_pwrite(s->node->file, (uint64_t)rb, s->cluster_size,
                              c->rt + idx * s->cluster_size);
        if (ret < 0) {
            *what = "ERROR writing refblock";
            return ret;
        }
        cl = start + per_rb - 1;
    }
    return grown;
}

/* qemu's rebuild_refcount_structure: new refblocks and reftable from the in-memory table; the
 * old structures become leaks that the caller's second pass repairs. */
static int rebuild_refcounts(struct check *c)
{
    struct qcow2 *s = c->s;
    uint64_t *table = NULL, entries = 0, clusters = 0;
    int64_t rt_off = -1;
    const char *what = NULL;
    int ret;
    cache_clear(s->rc_cache);
    int changed = write_refblocks(c, 0, c->nb, &table, &entries, &what);
    if (changed < 0) {
        c->res->check_errors++;
        ret = changed;
        goto fail;
    }
    do {
        uint64_t first_free = 0;
        clusters = size_to_clusters(s, entries * 8);
        rt_off = alloc_clusters_imrt(c, clusters, &first_free);
        if (rt_off < 0) {
            what = "ERROR allocating reftable";
            c->res->check_errors++;
            ret = (int)rt_off;
            goto fail;
        }
        uint64_t start = (uint64_t)rt_off >> s->cluster_bits;
        changed = write_refblocks(c, start, start + clusters, &table, &entries, &what);
        if (changed < 0) {
            c->res->check_errors++;
            ret = changed;
            goto fail;
        }
    } while (changed);
    uint64_t len = entries * 8;
    uint8_t *raw = malloc(len);
    if (!raw) {
        ret = -ENOMEM;
        what = "ERROR writing reftable";
        goto fail;
    }
    for (uint64_t i = 0; i < entries; i++)
        put_be64(raw + i * 8, table[i]);
    ret = qcow2_pre_write_overlap_check(s, 0, (uint64_t)rt_off, len);
    if (ret == 0)
        ret = node_pwrite(s->node->file, (uint64_t)rt_off, len, raw);
    free(raw);
    if (ret < 0) {
        what = "ERROR writing reftable";
        goto fail;
    }
    uint8_t h[12];
    put_be64(h, (uint64_t)rt_off);
    put_be32(h + 8, (uint32_t)clusters);
    if ((ret = write_sync(s, 48, 12, h)) < 0) {
        what = "ERROR setting reftable";
        goto fail;
    }
    free(s->rt);
    s->rt = table;
    s->rt_offset = (uint64_t)rt_off;
    s->rt_clusters = (uint32_t)clusters;
    s->rt_entries = entries;
    s->free_cluster_index = 0;
    return 0;
fail:
    free(table);
    if (what)
        error_report("%s: %s", what, strerror(-ret));
    return ret;
}

/* qemu's check_oflag_copied: COPIED set exactly where the refcount is 1 (active L1 only). */
static int check_oflag_copied(struct check *c, int fix)
{
    struct qcow2 *s = c->s;
    struct check_result *res = c->res;
    bool repair = (fix & CHECK_FIX_ERRORS) ||
                  ((fix & CHECK_FIX_LEAKS) && !res->check_errors && !res->corruptions &&
                   !res->leaks);
    uint8_t *t = malloc(s->cluster_size);
    if (!t)
        return -ENOMEM;
    int ret = 0;
    for (uint32_t i = 0; i < s->l1_size; i++) {
        uint64_t l1e = s->l1[i], l2 = l1e & L1E_OFFSET_MASK, rc;
        if (!l2)
            continue;
        if (qcow2_get_refcount(s, l2 >> s->cluster_bits, &rc) < 0)
            continue;
        if ((rc == 1) != !!(l1e & OFLAG_COPIED)) {
            res->corruptions++;
            fprintf(stderr, "%s OFLAG_COPIED L2 cluster: l1_index=%d l1_entry=%" PRIx64
                            " refcount=%" PRIu64 "\n",
                    repair ? "Repairing" : "ERROR", (int)i, l1e, rc);
            if (repair) {
                s->l1[i] = rc == 1 ? l1e | OFLAG_COPIED : l1e & ~OFLAG_COPIED;
                uint8_t b[8];
                put_be64(b, s->l1[i]);
                ret = qcow2_pre_write_overlap_check(s, OL_ACTIVE_L1, s->l1_offset + i * 8ull, 8);
                if (ret == 0)
                    ret = write_sync(s, s->l1_offset + i * 8ull, 8, b);
                if (ret < 0) {
                    res->check_errors++;
                    goto out;
                }
                res->corruptions--;
                res->corruptions_fixed++;
            }
        }
        if ((ret = file_read(s, l2, s->cluster_size, t)) < 0) {
            fprintf(stderr, "ERROR: Could not read L2 table: %s\n", strerror(-ret));
            res->check_errors++;
            goto out;
        }
        int dirty = 0;
        for (uint64_t j = 0; j < (1ull << s->l2_bits); j++) {
            uint64_t e = get_be64(t + j * s->l2_entry_size);
            enum cluster_type type = cluster_type(s, e);
            if (type != CT_NORMAL && type != CT_ZERO_ALLOC)
                continue;
            if (has_data_file(s))
                rc = 1;
            else if (qcow2_get_refcount(s, (e & L2E_OFFSET_MASK) >> s->cluster_bits, &rc) < 0)
                continue;
            if ((rc == 1) != !!(e & OFLAG_COPIED)) {
                res->corruptions++;
                fprintf(stderr, "%s OFLAG_COPIED data cluster: l2_entry=%" PRIx64 " refcount=%"
                                PRIu64 "\n", repair ? "Repairing" : "ERROR", e, rc);
                if (repair) {
                    put_be64(t + j * s->l2_entry_size,
                             rc == 1 ? e | OFLAG_COPIED : e & ~OFLAG_COPIED);
                    dirty++;
                }
            }
        }
        if (dirty) {
            if ((ret = qcow2_pre_write_overlap_check(s, OL_ACTIVE_L2, l2, s->cluster_size)) < 0) {
                fprintf(stderr, "ERROR: Could not write L2 table; metadata overlap check "
                                "failed: %s\n", strerror(-ret));
                res->check_errors++;
                goto out;
            }
            if ((ret = node_pwrite(s->node->file, l2, s->cluster_size, t)) < 0) {
                fprintf(stderr, "ERROR: Could not write L2 table: %s\n", strerror(-ret));
                res->check_errors++;
                goto out;
            }
            res->corruptions -= dirty;
            res->corruptions_fixed += dirty;
        }
    }
    ret = 0;
out:
    free(t);
    return ret;
}

/* qemu's qcow2_check_refcounts. */
static int check_refcounts(struct qcow2 *s, struct check_result *res, int fix)
{
    struct check c = { .s = s, .res = res };
    uint64_t highest = 0;
    bool rebuild = false;
    c.nb = size_to_clusters(s, file_len(s));
    if (c.nb > INT32_MAX) {
        res->check_errors++;
        return -EFBIG;
    }
    res->total_clusters = size_to_clusters(s, s->node->size);
    int ret = calculate_refcounts(&c, fix, &rebuild);
    if (ret < 0)
        goto out;
    struct check_result pre = *res;
    compare_refcounts(&c, 0, &rebuild, &highest);
    if (rebuild && (fix & CHECK_FIX_ERRORS)) {
        struct check_result old = *res;
        int fresh_leaks = 0;
        fprintf(stderr, "Rebuilding refcount structure\n");
        if ((ret = rebuild_refcounts(&c)) < 0)
            goto out;
        res->corruptions = 0;
        res->leaks = 0;
        rebuild = false;
        memset(c.rt, 0, imrt_bytes(s, c.nb));
        if ((ret = calculate_refcounts(&c, 0, &rebuild)) < 0)
            goto out;
        if (fix & CHECK_FIX_LEAKS) {
            struct check_result saved = *res;
            memset(res, 0, sizeof(*res));
            compare_refcounts(&c, CHECK_FIX_LEAKS, &rebuild, &highest);
            if (rebuild)
                fprintf(stderr, "ERROR rebuilt refcount structure is still broken\n");
            fresh_leaks = res->leaks;
            *res = saved;
        }
        if (res->corruptions < old.corruptions)
            res->corruptions_fixed += old.corruptions - res->corruptions;
        if (res->leaks < old.leaks)
            res->leaks_fixed += old.leaks - res->leaks;
        res->leaks += fresh_leaks;
    } else if (fix) {
        if (rebuild) {
            fprintf(stderr, "ERROR need to rebuild refcount structures\n");
            res->check_errors++;
            ret = -EIO;
            goto out;
        }
        if (res->leaks || res->corruptions) {
            *res = pre;
            compare_refcounts(&c, fix, &rebuild, &highest);
        }
    }
    if ((ret = check_oflag_copied(&c, fix)) < 0)
        goto out;
    res->image_end_offset = (highest + 1) * s->cluster_size;
    ret = 0;
out:
    free(c.rt);
    return ret;
}

static void add_result(struct check_result *out, const struct check_result *in, bool alloc_info)
{
    out->corruptions += in->corruptions;
    out->leaks += in->leaks;
    out->check_errors += in->check_errors;
    out->corruptions_fixed += in->corruptions_fixed;
    out->leaks_fixed += in->leaks_fixed;
    if (alloc_info) {
        out->image_end_offset = in->image_end_offset;
        out->total_clusters = in->total_clusters;
        out->allocated_clusters = in->allocated_clusters;
        out->fragmented_clusters = in->fragmented_clusters;
        out->compressed_clusters = in->compressed_clusters;
    }
}

/* qemu's qcow2_check_read_snapshot_table: in check mode the open skipped the table. */
static int check_read_snapshot_table(struct qcow2 *s, struct check_result *res, int fix)
{
    uint8_t h[12];
    int ret = file_read(s, 60, 12, h);
    if (ret < 0) {
        res->check_errors++;
        fprintf(stderr, "ERROR failed to read the snapshot table pointer from the image header: "
                        "%s\n", strerror(-ret));
        return ret;
    }
    qcow2_free_snapshots(s);
    s->nb_snapshots = get_be32(h);
    s->snapshots_offset = get_be64(h + 4);
    s->snapshots_size = 0;
    int reduced = 0, dropped = 0;
    if (s->nb_snapshots > QCOW2_MAX_SNAPSHOTS && (fix & CHECK_FIX_ERRORS)) {
        fprintf(stderr, "Discarding %u overhanging snapshots\n",
                s->nb_snapshots - QCOW2_MAX_SNAPSHOTS);
        reduced += (int)(s->nb_snapshots - QCOW2_MAX_SNAPSHOTS);
        s->nb_snapshots = QCOW2_MAX_SNAPSHOTS;
    }
    const char *bad = NULL;
    if ((uint64_t)s->nb_snapshots > QCOW2_MAX_SNAPSHOTS)
        bad = "too large";
    else if (INT64_MAX - (uint64_t)s->nb_snapshots * 40 < s->snapshots_offset ||
             (s->snapshots_offset & (s->cluster_size - 1)))
        bad = "offset invalid";
    if (bad) {
        res->check_errors++;
        error_report("ERROR snapshot table %s", bad);
        if (s->nb_snapshots > QCOW2_MAX_SNAPSHOTS)
            fprintf(stderr, "You can force-remove all %u overhanging snapshots with qemu-img "
                            "check -r all\n", s->nb_snapshots - QCOW2_MAX_SNAPSHOTS);
        s->snapshots_offset = 0;
        s->nb_snapshots = 0;
        return bad[0] == 't' ? -EFBIG : -EINVAL;
    }
    struct error *err = NULL;
    ret = qcow2_read_snapshots_repair(s, fix & CHECK_FIX_ERRORS, &reduced, &dropped, &err);
    if (ret < 0) {
        res->check_errors++;
        error_prepend(&err, "ERROR failed to read the snapshot table: ");
        error_report_err(err);
        s->snapshots_offset = 0;
        s->nb_snapshots = 0;
        return ret;
    }
    res->corruptions += reduced + dropped;
    if (reduced) {
        uint8_t b[4];
        put_be32(b, s->nb_snapshots);
        if ((ret = write_sync(s, 60, 4, b)) < 0) {
            res->check_errors++;
            fprintf(stderr, "ERROR failed to update the snapshot count in the image header: %s\n",
                    strerror(-ret));
            return ret;
        }
        res->corruptions_fixed += reduced;
        res->corruptions -= reduced;
    }
    if (s->version >= 3) {
        for (uint32_t i = 0; i < s->nb_snapshots; i++) {
            if (s->snaps[i].extra_size < 16) {
                res->corruptions++;
                fprintf(stderr, "%s snapshot table entry %d is incomplete\n",
                        fix & CHECK_FIX_ERRORS ? "Repairing" : "ERROR", (int)i);
            }
        }
    }
    return 0;
}

/* qemu's qcow2_co_check_locked. */
static int check_locked(struct node *n, struct check_result *result, int fix)
{
    struct qcow2 *s = qcow2_state(n);
    struct check_result sres = { 0 }, rres = { 0 };
    memset(result, 0, sizeof(*result));
    /* the checks read L2 tables from the file: nothing of them may wait in the cache (qemu
     * writes nothing else back here: refcount changes stay cached, as in qemu) */
    int ret = cache_flush(s->l2_cache);
    if (ret < 0)
        return ret;
    cache_clear(s->l2_cache);
    if ((ret = check_read_snapshot_table(s, &sres, fix)) < 0) {
        add_result(result, &sres, false);
        return ret;
    }
    ret = check_refcounts(s, &rres, fix);
    add_result(result, &rres, true);
    cache_clear(s->l2_cache);
    if (ret < 0) {
        add_result(result, &sres, false);
        return ret;
    }
    if (sres.corruptions && (fix & CHECK_FIX_ERRORS)) {
        if ((ret = qcow2_write_snapshot_table(s)) < 0) {
            sres.check_errors++;
            fprintf(stderr, "ERROR failed to update snapshot table: %s\n", strerror(-ret));
            add_result(result, &sres, false);
            return ret;
        }
        sres.corruptions_fixed += sres.corruptions;
        sres.corruptions = 0;
    }
    add_result(result, &sres, false);
    if (!fix || result->check_errors || result->corruptions)
        return 0;
    /* qemu's qcow2_mark_clean (which flushes first) and qcow2_mark_consistent */
    if (s->incompat & INCOMPAT_DIRTY) {
        if ((ret = qcow2_flush_metadata(s)) < 0 || (ret = node_flush(n->file)) < 0)
            return ret;
        s->marked_dirty = false;
        if ((ret = qcow2_set_incompat(s, s->incompat & ~INCOMPAT_DIRTY)) < 0)
            return ret;
    }
    if (s->incompat & INCOMPAT_CORRUPT)
        return qcow2_set_incompat(s, s->incompat & ~INCOMPAT_CORRUPT);
    return 0;
}

int qcow2_check(struct node *n, struct check_result *res, int fix)
{
    struct qcow2 *s = qcow2_state(n);
    if (!(n->flags & NODE_RDWR))
        fix = 0;
    if (s->fatal_corruption)
        return -ENOMEDIUM; /* qemu has dropped the node by now */
    pthread_mutex_lock(&s->lock);
    int ret = check_locked(n, res, fix);
    pthread_mutex_unlock(&s->lock);
    return ret;
}

/* qemu repairs an image left dirty (lazy refcounts) when opening it read-write. */
int qcow2_repair_dirty(struct node *n)
{
    struct check_result r;
    int ret = qcow2_check(n, &r, CHECK_FIX_LEAKS | CHECK_FIX_ERRORS);
    if (ret < 0)
        return ret;
    return r.check_errors ? -EIO : 0;
}
