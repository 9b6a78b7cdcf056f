/* The QED format (qemu's "qed" driver, 7.2 behaviour; docs/interop/qed_spec.txt): a header
 * cluster, an L1 table of L2 table offsets, L2 tables of cluster offsets (0 unallocated, 1 zero
 * cluster), a backing file, and a need-check flag set around allocating writes. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bswap.h"
#include "file.h"
#include "node.h"

#define QED_MAGIC 0x00444551u /* "QED\0" */
#define QED_HEADER_SIZE 64
#define QED_F_BACKING_FILE 1u
#define QED_F_NEED_CHECK 2u
#define QED_F_BACKING_FORMAT_NO_PROBE 4u
#define QED_FEATURE_MASK 7u
#define QED_MIN_CLUSTER_SIZE 4096u
#define QED_MAX_CLUSTER_SIZE (64u * 1024 * 1024)
#define QED_DEFAULT_CLUSTER_SIZE 65536u
#define QED_MIN_TABLE_SIZE 1u
#define QED_MAX_TABLE_SIZE 16u
#define QED_DEFAULT_TABLE_SIZE 4u
#define QED_UNALLOC 0
#define QED_ZERO 1
#define QED_BACKING_NAME_MAX 4096 /* qemu's backing_file buffer, NUL included */

/* Header field offsets (little-endian). */
enum {
    H_MAGIC = 0, H_CLUSTER_SIZE = 4, H_TABLE_SIZE = 8, H_HEADER_SIZE = 12, H_FEATURES = 16,
    H_COMPAT = 24, H_AUTOCLEAR = 32, H_L1_OFFSET = 40, H_IMAGE_SIZE = 48, H_BACKING_OFFSET = 56,
    H_BACKING_SIZE = 60,
};

struct qed_state {
    uint32_t cluster_size, table_size, header_size;
    uint64_t features, compat, autoclear, l1_offset, image_size;
    uint32_t backing_offset, backing_size;
    uint64_t file_size;       /* end of the last whole cluster: where allocations go */
    uint64_t nelems;          /* entries per table */
    uint64_t *l1;
    uint64_t *l2;             /* one cached L2 table */
    uint64_t l2_offset;       /* its offset, 0 when none is cached */
};

enum { CLUSTER_FOUND, CLUSTER_ZERO, CLUSTER_L2, CLUSTER_L1 };

static const struct opt_desc qed_create_opts[] = {
    { "size", OPT_SIZE, "Virtual disk size", NULL },
    { "backing_file", OPT_STRING, "File name of a base image", NULL },
    { "backing_fmt", OPT_STRING, "Image format of the base image", NULL },
    { "cluster_size", OPT_SIZE, "Cluster size (in bytes)", "65536" },
    { "table_size", OPT_SIZE, "L1/L2 table size (in clusters)", NULL },
    { NULL, 0, NULL, NULL },
};

static struct qed_state *st(struct node *n)
{
    return n->state;
}

static int qed_probe(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    return len >= QED_HEADER_SIZE && get_le32(buf + H_MAGIC) == QED_MAGIC ? 100 : 0;
}

static bool cluster_size_valid(uint64_t cs)
{
    return cs >= QED_MIN_CLUSTER_SIZE && cs <= QED_MAX_CLUSTER_SIZE && !(cs & (cs - 1));
}

static bool table_size_valid(uint64_t ts)
{
    return ts >= QED_MIN_TABLE_SIZE && ts <= QED_MAX_TABLE_SIZE && !(ts & (ts - 1));
}

static uint64_t max_image_size(uint64_t cs, uint64_t ts)
{
    uint64_t entries = ts * cs / 8;
    return entries * cs * entries; /* at most 2^23 * 2^26 * 2^23: no overflow */
}

static bool image_size_valid(uint64_t size, uint64_t cs, uint64_t ts)
{
    return size % 512 == 0 && size <= max_image_size(cs, ts);
}

/* qemu's cluster count divides by cluster_size - 1; kept because check counts depend on it. */
static uint64_t bytes_to_clusters(const struct qed_state *s, uint64_t bytes)
{
    uint64_t cs = s->cluster_size;
    return ((bytes + cs - 1) & ~(cs - 1)) / (cs - 1);
}

static bool cluster_offset_valid(const struct qed_state *s, uint64_t off)
{
    if (off & (s->cluster_size - 1))
        return false;
    return off >= (uint64_t)s->header_size * s->cluster_size && off < s->file_size;
}

static bool table_offset_valid(const struct qed_state *s, uint64_t off)
{
    uint64_t end = off + (uint64_t)(s->table_size - 1) * s->cluster_size;
    /* qemu's overflow test also refuses single-cluster tables (end == off) */
    if (end <= off)
        return false;
    return cluster_offset_valid(s, off) && cluster_offset_valid(s, end);
}

static void encode_header(const struct qed_state *s, uint8_t *h)
{
    put_le32(h + H_MAGIC, QED_MAGIC);
    put_le32(h + H_CLUSTER_SIZE, s->cluster_size);
    put_le32(h + H_TABLE_SIZE, s->table_size);
    put_le32(h + H_HEADER_SIZE, s->header_size);
    put_le64(h + H_FEATURES, s->features);
    put_le64(h + H_COMPAT, s->compat);
    put_le64(h + H_AUTOCLEAR, s->autoclear);
    put_le64(h + H_L1_OFFSET, s->l1_offset);
    put_le64(h + H_IMAGE_SIZE, s->image_size);
    put_le32(h + H_BACKING_OFFSET, s->backing_offset);
    put_le32(h + H_BACKING_SIZE, s->backing_size);
}

/* Rewrite the known header fields in place, keeping the rest of the first sector. */
static int write_header(struct node *n)
{
    uint8_t sector[512];
    int ret = node_pread(n->file, 0, sizeof(sector), sector);
    if (ret < 0)
        return ret;
    encode_header(st(n), sector);
    return node_pwrite(n->file, 0, sizeof(sector), sector);
}

static int read_table(struct node *n, uint64_t off, uint64_t *table)
{
    struct qed_state *s = st(n);
    uint64_t bytes = s->nelems * 8;
    int ret = node_pread(n->file, off, bytes, table);
    for (uint64_t i = 0; ret == 0 && i < s->nelems; i++)
        table[i] = get_le64(&table[i]);
    return ret;
}

/* Write entries [index, index + count) of a table, widened to whole sectors. */
static int write_table(struct node *n, uint64_t off, const uint64_t *table, uint64_t index,
                       uint64_t count, bool flush)
{
    struct qed_state *s = st(n);
    uint64_t first = index * 8 / 512 * 512, end = ((index + count) * 8 + 511) / 512 * 512;
    if (end > s->nelems * 8)
        end = s->nelems * 8;
    uint8_t *buf = malloc(end - first);
    if (!buf)
        return -ENOMEM;
    for (uint64_t i = first / 8; i < end / 8; i++)
        put_le64(buf + (i * 8 - first), table[i]);
    int ret = node_pwrite(n->file, off + first, end - first, buf);
    free(buf);
    if (ret == 0 && flush)
        ret = node_flush(n->file);
    return ret;
}

static int load_l2(struct node *n, uint64_t off)
{
    struct qed_state *s = st(n);
    if (s->l2_offset == off)
        return 0;
    s->l2_offset = 0;
    int ret = read_table(n, off, s->l2);
    if (ret == 0)
        s->l2_offset = off;
    return ret;
}

/* How [pos, pos + *len) starts: a run of clusters of one kind inside one L2 table. */
static int find_cluster(struct node *n, uint64_t pos, uint64_t *len, uint64_t *host)
{
    struct qed_state *s = st(n);
    uint64_t cs = s->cluster_size, l2_span = s->nelems * cs;
    uint64_t limit = l2_span - pos % l2_span;
    if (*len > limit)
        *len = limit;
    *host = 0;
    uint64_t l2_off = s->l1[pos / l2_span];
    if (l2_off == QED_UNALLOC)
        return CLUSTER_L1;
    if (!table_offset_valid(s, l2_off)) {
        *len = 0;
        return -EINVAL;
    }
    int ret = load_l2(n, l2_off);
    if (ret < 0)
        return ret;
    uint64_t index = pos / cs % s->nelems, into = pos % cs;
    uint64_t want = bytes_to_clusters(s, into + *len);
    uint64_t end = index + want < s->nelems ? index + want : s->nelems;
    uint64_t first = s->l2[index], last = first, i;
    for (i = index + 1; i < end; i++) {
        uint64_t e = s->l2[i];
        if (first == QED_UNALLOC || first == QED_ZERO) {
            if (e != first)
                break;
        } else {
            if (e != last + cs)
                break;
            last = e;
        }
    }
    uint64_t run = (i - index) * cs - into;
    if (*len > run)
        *len = run;
    *host = first;
    if (first == QED_UNALLOC)
        return CLUSTER_L2;
    if (first == QED_ZERO)
        return CLUSTER_ZERO;
    return cluster_offset_valid(s, first) ? CLUSTER_FOUND : -EINVAL;
}

static int qed_check_image(struct node *n, struct check_result *res, bool fix);

static int parse_header(struct node *n, const uint8_t *h, struct error **errp)
{
    struct qed_state *s = st(n);
    s->cluster_size = get_le32(h + H_CLUSTER_SIZE);
    s->table_size = get_le32(h + H_TABLE_SIZE);
    s->header_size = get_le32(h + H_HEADER_SIZE);
    s->features = get_le64(h + H_FEATURES);
    s->compat = get_le64(h + H_COMPAT);
    s->autoclear = get_le64(h + H_AUTOCLEAR);
    s->l1_offset = get_le64(h + H_L1_OFFSET);
    s->image_size = get_le64(h + H_IMAGE_SIZE);
    s->backing_offset = get_le32(h + H_BACKING_OFFSET);
    s->backing_size = get_le32(h + H_BACKING_SIZE);
    if (get_le32(h + H_MAGIC) != QED_MAGIC) {
        error_setg(errp, "Image not in QED format");
        return -EINVAL;
    }
    if (s->features & ~(uint64_t)QED_FEATURE_MASK) {
        error_setg(errp, "Unsupported QED features: %" PRIx64,
                   s->features & ~(uint64_t)QED_FEATURE_MASK);
        return -ENOTSUP;
    }
    if (!cluster_size_valid(s->cluster_size)) {
        error_setg(errp, "QED cluster size is invalid");
        return -EINVAL;
    }
    s->file_size = n->file->size & ~(uint64_t)(s->cluster_size - 1);
    if (!table_size_valid(s->table_size)) {
        error_setg(errp, "QED table size is invalid");
        return -EINVAL;
    }
    if (!image_size_valid(s->image_size, s->cluster_size, s->table_size)) {
        error_setg(errp, "QED image size is invalid");
        return -EINVAL;
    }
    if (!table_offset_valid(s, s->l1_offset)) {
        error_setg(errp, "QED table offset is invalid");
        return -EINVAL;
    }
    s->nelems = (uint64_t)s->cluster_size * s->table_size / 8;
    if (s->header_size > UINT32_MAX / s->cluster_size) {
        error_setg(errp, "QED header size is too large");
        return -EINVAL;
    }
    return 0;
}

static int read_backing_name(struct node *n, struct error **errp)
{
    struct qed_state *s = st(n);
    if ((uint64_t)s->backing_offset + s->backing_size >
        (uint64_t)s->cluster_size * s->header_size) {
        error_setg(errp, "QED backing filename offset is invalid");
        return -EINVAL;
    }
    char *name = NULL;
    int ret = -EINVAL;
    if (s->backing_size < QED_BACKING_NAME_MAX && (name = calloc(1, s->backing_size + 1)))
        ret = node_pread(n->file, s->backing_offset, s->backing_size, name);
    if (ret < 0) {
        free(name);
        error_setg(errp, "Failed to read backing filename");
        return ret;
    }
    if (!name[0]) {
        free(name); /* an empty name (NULs) records no backing file, as in qemu */
        return 0;
    }
    free(n->backing_file);
    n->backing_file = name;
    if (s->features & QED_F_BACKING_FORMAT_NO_PROBE) {
        free(n->backing_fmt);
        n->backing_fmt = strdup("raw");
    }
    return 0;
}

static int qed_open(struct node *n, struct opts *opts, struct error **errp)
{
    (void)opts;
    struct qed_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    n->state = s;
    uint8_t h[QED_HEADER_SIZE];
    int ret = node_pread(n->file, 0, sizeof(h), h);
    if (ret < 0) {
        error_setg(errp, "Failed to read QED header");
        return ret;
    }
    ret = parse_header(n, h, errp);
    if (ret < 0)
        return ret;
    if ((s->features & QED_F_BACKING_FILE) && (ret = read_backing_name(n, errp)) < 0)
        return ret;
    bool rw = n->flags & NODE_RDWR;
    if (s->autoclear && rw) {
        /* unknown autoclear bits are knocked out by a program that does not know them */
        s->autoclear = 0;
        uint8_t le[QED_HEADER_SIZE];
        encode_header(s, le);
        if ((ret = node_pwrite(n->file, 0, sizeof(le), le)) < 0) {
            error_setg(errp, "Failed to update header");
            return ret;
        }
        node_flush(n->file);
    }
    s->l1 = malloc(s->nelems * 8);
    s->l2 = malloc(s->nelems * 8);
    if (!s->l1 || !s->l2)
        return -ENOMEM;
    if (read_table(n, s->l1_offset, s->l1) < 0) {
        error_setg(errp, "Failed to read L1 table");
        return -EIO;
    }
    n->size = s->image_size;
    if ((s->features & QED_F_NEED_CHECK) && rw && !(n->flags & NODE_CHECK)) {
        /* not closed cleanly: repair before writing (read-only opens may look as it is; check
         * reports what it finds) */
        struct check_result res = { 0 };
        if (qed_check_image(n, &res, true) != 0) {
            error_setg(errp, "Image corrupted");
            return -EINVAL;
        }
    }
    return 0;
}

static int qed_flush(struct node *n)
{
    struct qed_state *s = st(n);
    if (!(s->features & QED_F_NEED_CHECK))
        return 0;
    /* the data and tables are on disk before the image is marked clean */
    int ret = node_flush(n->file);
    if (ret < 0)
        return ret;
    s->features &= ~(uint64_t)QED_F_NEED_CHECK;
    uint8_t le[QED_HEADER_SIZE];
    encode_header(s, le);
    return node_pwrite(n->file, 0, sizeof(le), le);
}

static void qed_close(struct node *n)
{
    struct qed_state *s = st(n);
    if (!s)
        return;
    free(s->l1);
    free(s->l2);
    free(s);
    n->state = NULL;
}

static int qed_pread(struct node *n, uint64_t off, uint64_t len, void *buf)
{
    struct qed_state *s = st(n);
    uint8_t *p = buf;
    while (len) {
        uint64_t chunk = len, host;
        int kind = find_cluster(n, off, &chunk, &host);
        if (kind < 0)
            return kind;
        int ret = 0;
        if (kind == CLUSTER_ZERO)
            memset(p, 0, chunk);
        else if (kind == CLUSTER_FOUND)
            ret = node_pread(n->file, host + off % s->cluster_size, chunk, p);
        else
            ret = node_read_backing(n, off, chunk, p);
        if (ret < 0)
            return ret;
        p += chunk;
        off += chunk;
        len -= chunk;
    }
    return 0;
}

static int qed_block_status(struct node *n, uint64_t off, uint64_t len, struct block_status *out)
{
    uint64_t host;
    out->len = len;
    int kind = find_cluster(n, off, &out->len, &host);
    if (kind < 0)
        return kind;
    if (kind == CLUSTER_FOUND) {
        out->offset = host + off % st(n)->cluster_size;
        out->file = n->file;
        out->flags = BS_DATA | BS_OFFSET_VALID;
    } else {
        out->flags = kind == CLUSTER_ZERO ? BS_ZERO : 0;
    }
    return 0;
}

/* Fill [start, start + len) of the image file at `host` with what lies under the image. */
static int copy_from_backing(struct node *n, uint64_t pos, uint64_t len, uint64_t host)
{
    if (!len)
        return 0;
    uint8_t *buf = malloc(len);
    if (!buf)
        return -ENOMEM;
    int ret = node_read_backing(n, pos, len, buf);
    if (ret == 0)
        ret = node_pwrite(n->file, host, len, buf);
    free(buf);
    return ret;
}

/* Point entries of the L2 table for pos at `cluster` (a run, or the zero marker), creating the
 * L2 table when the L1 entry is empty: the table first, then the L1 entry. */
static int update_l2(struct node *n, int kind, uint64_t pos, uint64_t count, uint64_t cluster)
{
    struct qed_state *s = st(n);
    uint64_t cs = s->cluster_size, l1_index = pos / (s->nelems * cs);
    uint64_t index = pos / cs % s->nelems;
    bool new_table = kind == CLUSTER_L1;
    if (new_table) {
        s->l2_offset = 0;
        memset(s->l2, 0, s->nelems * 8);
    }
    for (uint64_t i = 0; i < count; i++)
        s->l2[index + i] = cluster > QED_ZERO ? cluster + i * cs : cluster;
    if (!new_table)
        return write_table(n, s->l1[l1_index], s->l2, index, count, false);
    uint64_t table = s->file_size;
    s->file_size += (uint64_t)s->table_size * cs;
    int ret = write_table(n, table, s->l2, 0, s->nelems, true);
    if (ret < 0)
        return ret;
    s->l2_offset = table;
    s->l1[l1_index] = table;
    return write_table(n, s->l1_offset, s->l1, l1_index, 1, false);
}

static int mark_need_check(struct node *n)
{
    struct qed_state *s = st(n);
    /* with a backing file the flush before the L2 update keeps the image consistent */
    if (n->backing || (s->features & QED_F_NEED_CHECK))
        return 0;
    s->features |= QED_F_NEED_CHECK;
    return write_header(n);
}

/* An allocating write: new clusters at the end of the file, the untouched parts of them copied
 * from below, the data, then the table update. `data` NULL marks zero clusters instead. */
static int write_alloc(struct node *n, int kind, uint64_t pos, uint64_t len, const uint8_t *data)
{
    struct qed_state *s = st(n);
    uint64_t cs = s->cluster_size, into = pos % cs;
    /* exact here: qemu's rounding helper over-counts very long runs */
    uint64_t count = (into + len + cs - 1) / cs;
    if (!data && kind == CLUSTER_ZERO)
        return 0;
    uint64_t cluster = QED_ZERO;
    if (data) {
        cluster = s->file_size;
        if (__builtin_add_overflow(s->file_size, count * cs, &s->file_size) ||
            s->file_size > INT64_MAX)
            return -EIO;
    }
    int ret = mark_need_check(n);
    if (ret < 0)
        return ret;
    if (data) {
        uint64_t tail = pos + len, tail_len = ((tail + cs - 1) & ~(cs - 1)) - tail;
        if ((ret = copy_from_backing(n, pos - into, into, cluster)) < 0 ||
            (ret = copy_from_backing(n, tail, tail_len, cluster + into + len)) < 0 ||
            (ret = node_pwrite(n->file, cluster + into, len, data)) < 0)
            return ret;
        if (n->backing && (ret = node_flush(n->file)) < 0)
            return ret;
    }
    return update_l2(n, kind, pos, count, cluster);
}

static int do_write(struct node *n, uint64_t off, uint64_t len, const uint8_t *data)
{
    struct qed_state *s = st(n);
    uint8_t *zeros = NULL;
    int ret = 0;
    while (len) {
        uint64_t chunk = len, host;
        int kind = find_cluster(n, off, &chunk, &host);
        if (kind < 0) {
            ret = kind;
            break;
        }
        if (kind == CLUSTER_FOUND) {
            const uint8_t *src = data;
            if (!data) {
                /* zeroing allocated clusters writes zeros in place, as qemu does */
                free(zeros);
                zeros = calloc(1, chunk);
                if (!(src = zeros)) {
                    ret = -ENOMEM;
                    break;
                }
            }
            ret = node_pwrite(n->file, host + off % s->cluster_size, chunk, src);
        } else {
            ret = write_alloc(n, kind, off, chunk, data);
        }
        if (ret < 0)
            break;
        if (data)
            data += chunk;
        off += chunk;
        len -= chunk;
    }
    free(zeros);
    return ret;
}

static int qed_pwrite(struct node *n, uint64_t off, uint64_t len, const void *buf)
{
    return do_write(n, off, len, buf);
}

static int qed_pwrite_zeroes(struct node *n, uint64_t off, uint64_t len, int flags)
{
    (void)flags;
    uint64_t cs = st(n)->cluster_size;
    if (off % cs || len % cs)
        return -ENOTSUP; /* the core writes zero buffers instead */
    return do_write(n, off, len, NULL);
}

static int qed_truncate(struct node *n, uint64_t size, bool exact, enum prealloc prealloc,
                        struct error **errp)
{
    (void)exact;
    struct qed_state *s = st(n);
    if (prealloc != PREALLOC_OFF) {
        error_setg(errp, "Unsupported preallocation mode '%s'", prealloc_name(prealloc));
        return -ENOTSUP;
    }
    if (!image_size_valid(size, s->cluster_size, s->table_size)) {
        error_setg(errp, "Invalid image size specified");
        return -EINVAL;
    }
    if (size < s->image_size) {
        error_setg(errp, "Shrinking images is currently not supported");
        return -ENOTSUP;
    }
    uint64_t old = s->image_size;
    s->image_size = size;
    uint8_t le[QED_HEADER_SIZE];
    encode_header(s, le);
    int ret = node_pwrite(n->file, 0, sizeof(le), le);
    if (ret < 0) {
        s->image_size = old;
        error_setg_errno(errp, -ret, "Failed to update the image size");
        return ret;
    }
    n->size = size;
    return 0;
}

static bool qed_has_zero_init(struct node *n)
{
    (void)n;
    return true;
}

static int qed_get_info(struct node *n, struct node_info *info, struct error **errp)
{
    (void)errp;
    /* qemu 7.2 reports the need-check flag nowhere: "dirty-flag" stays false */
    info->cluster_size = st(n)->cluster_size;
    return 0;
}

static int qed_change_backing_file(struct node *n, const char *backing_file,
                                   const char *backing_fmt)
{
    struct qed_state *s = st(n);
    if (backing_file && s->compat)
        return -ENOTSUP; /* unknown compat features may own the space after the header */
    uint64_t features = s->features & ~(uint64_t)(QED_F_BACKING_FILE | QED_F_BACKING_FORMAT_NO_PROBE);
    size_t name_len = backing_file ? strlen(backing_file) : 0;
    if (backing_file) {
        features |= QED_F_BACKING_FILE;
        if (backing_fmt && !strcmp(backing_fmt, "raw"))
            features |= QED_F_BACKING_FORMAT_NO_PROBE;
    }
    if (QED_HEADER_SIZE + name_len > (uint64_t)s->header_size * s->cluster_size)
        return -ENOSPC;
    struct qed_state copy = *s;
    copy.features = features;
    copy.backing_offset = QED_HEADER_SIZE;
    copy.backing_size = (uint32_t)name_len;
    uint8_t *buf = malloc(QED_HEADER_SIZE + name_len);
    if (!buf)
        return -ENOMEM;
    encode_header(&copy, buf);
    if (name_len)
        memcpy(buf + QED_HEADER_SIZE, backing_file, name_len);
    int ret = node_pwrite(n->file, 0, QED_HEADER_SIZE + name_len, buf);
    free(buf);
    if (ret == 0)
        ret = node_flush(n->file);
    if (ret == 0) {
        s->features = copy.features;
        s->backing_offset = copy.backing_offset;
        s->backing_size = copy.backing_size;
    }
    return ret;
}

/* ---- check (qemu's qed-check rules: tables inside the file, clusters used once, leaks) ---- */

struct qed_check {
    struct node *n;
    struct check_result *res;
    bool fix;
    uint64_t nclusters;
    uint8_t *used;
};

static bool set_used(struct qed_check *c, uint64_t off, uint64_t count)
{
    uint64_t cluster = bytes_to_clusters(st(c->n), off);
    int corruptions = 0;
    for (; count; count--, cluster++) {
        if (cluster >= c->nclusters)
            continue; /* cannot happen for valid offsets; keep the bitmap in bounds */
        if (c->used[cluster / 8] & (1u << (cluster % 8)))
            corruptions++;
        c->used[cluster / 8] |= (uint8_t)(1u << (cluster % 8));
    }
    c->res->corruptions += corruptions;
    return corruptions == 0;
}

static uint64_t check_l2(struct qed_check *c, uint64_t *table)
{
    struct qed_state *s = st(c->n);
    uint64_t invalid = 0, last = 0;
    for (uint64_t i = 0; i < s->nelems; i++) {
        uint64_t off = table[i];
        if (off == QED_UNALLOC || off == QED_ZERO)
            continue;
        c->res->allocated_clusters++;
        if (last && last + s->cluster_size != off)
            c->res->fragmented_clusters++;
        last = off;
        if (!cluster_offset_valid(s, off)) {
            if (c->fix) {
                table[i] = 0;
                c->res->corruptions_fixed++;
            } else {
                c->res->corruptions++;
            }
            invalid++;
            continue;
        }
        set_used(c, off, 1);
    }
    return invalid;
}

static int check_l1(struct qed_check *c)
{
    struct node *n = c->n;
    struct qed_state *s = st(n);
    int last_error = 0;
    uint64_t invalid = 0;
    s->l2_offset = 0; /* the cache is reused as scratch space */
    for (uint64_t i = 0; i < s->nelems; i++) {
        uint64_t off = s->l1[i];
        if (off == QED_UNALLOC)
            continue;
        if (!table_offset_valid(s, off)) {
            if (c->fix) {
                s->l1[i] = 0;
                c->res->corruptions_fixed++;
            } else {
                c->res->corruptions++;
            }
            invalid++;
            continue;
        }
        if (!set_used(c, off, s->table_size))
            continue;
        int ret = read_table(n, off, s->l2);
        if (ret < 0) {
            c->res->check_errors++;
            last_error = ret;
            continue;
        }
        if (check_l2(c, s->l2) > 0 && c->fix) {
            ret = write_table(n, off, s->l2, 0, s->nelems, true);
            if (ret < 0) {
                c->res->check_errors++;
                last_error = ret;
            }
        }
    }
    s->l2_offset = 0;
    if (invalid > 0 && c->fix) {
        int ret = write_table(n, s->l1_offset, s->l1, 0, s->nelems, true);
        if (ret < 0) {
            c->res->check_errors++;
            last_error = ret;
        }
    }
    return last_error;
}

static void mark_clean(struct node *n, struct check_result *res)
{
    struct qed_state *s = st(n);
    if (res->corruptions > 0 || res->check_errors > 0 || !(s->features & QED_F_NEED_CHECK))
        return;
    if (node_flush(n->file) < 0)
        return;
    s->features &= ~(uint64_t)QED_F_NEED_CHECK;
    uint8_t le[QED_HEADER_SIZE];
    encode_header(s, le);
    node_pwrite(n->file, 0, sizeof(le), le);
}

static int qed_check_image(struct node *n, struct check_result *res, bool fix)
{
    struct qed_state *s = st(n);
    struct qed_check c = { .n = n, .res = res, .fix = fix };
    c.nclusters = bytes_to_clusters(s, s->file_size);
    c.used = calloc(c.nclusters / 8 + 1, 1);
    if (!c.used)
        return -ENOMEM;
    res->total_clusters = (s->image_size + s->cluster_size - 1) / s->cluster_size;
    set_used(&c, s->l1_offset, s->table_size);
    int ret = check_l1(&c);
    if (ret == 0) {
        /* leaks only count when every table could be read */
        for (uint64_t i = s->header_size; i < c.nclusters; i++)
            if (!(c.used[i / 8] & (1u << (i % 8))))
                res->leaks++;
        if (fix)
            mark_clean(n, res);
    }
    free(c.used);
    return ret;
}

static int qed_check(struct node *n, struct check_result *res, int fix)
{
    return qed_check_image(n, res, fix != 0);
}

/* ---- creation ---- */

static int qed_create(const char *filename, struct opts *opts, struct error **errp)
{
    int ret = file_create_for_format(filename, opts, errp);
    if (ret < 0)
        return ret;
    uint64_t size = 0, cs = QED_DEFAULT_CLUSTER_SIZE, ts = QED_DEFAULT_TABLE_SIZE;
    if (opts_get_size(opts, "size", &size, errp) < 0 ||
        opts_get_size(opts, "cluster_size", &cs, errp) < 0 ||
        opts_get_size(opts, "table_size", &ts, errp) < 0)
        return -EINVAL;
    size = size > UINT64_MAX - 511 ? size : (size + 511) & ~511ull;
    if (!cluster_size_valid(cs)) {
        error_setg(errp, "QED cluster size must be within range [%u, %u] and power of 2",
                   QED_MIN_CLUSTER_SIZE, QED_MAX_CLUSTER_SIZE);
        return -EINVAL;
    }
    if (!table_size_valid(ts)) {
        error_setg(errp, "QED table size must be within range [%u, %u] and power of 2",
                   QED_MIN_TABLE_SIZE, QED_MAX_TABLE_SIZE);
        return -EINVAL;
    }
    if (!image_size_valid(size, cs, ts)) {
        error_setg(errp, "QED image size must be a non-zero multiple of cluster size and less "
                         "than %" PRIu64 " bytes", max_image_size(cs, ts));
        return -EINVAL;
    }
    const char *backing = opts_get(opts, "backing_file");
    const char *backing_fmt = opts_get(opts, "backing_fmt");
    struct qed_state s = {
        .cluster_size = (uint32_t)cs, .table_size = (uint32_t)ts, .header_size = 1,
        .l1_offset = cs, .image_size = size,
    };
    if (backing) {
        s.features |= QED_F_BACKING_FILE;
        s.backing_offset = QED_HEADER_SIZE;
        s.backing_size = (uint32_t)strlen(backing);
        if (backing_fmt && !strcmp(backing_fmt, "raw"))
            s.features |= QED_F_BACKING_FORMAT_NO_PROBE;
    }
    struct node *f = node_open(filename, "file", NULL, NODE_RDWR, errp);
    if (!f)
        return -EIO;
    uint8_t h[QED_HEADER_SIZE];
    encode_header(&s, h);
    uint8_t *l1 = calloc(1, cs * ts);
    ret = l1 ? node_truncate(f, 0, true, PREALLOC_OFF, errp) : -ENOMEM;
    if (ret == 0)
        ret = node_pwrite(f, 0, sizeof(h), h);
    if (ret == 0 && backing)
        ret = node_pwrite(f, sizeof(h), s.backing_size, backing);
    if (ret == 0)
        ret = node_pwrite(f, cs, cs * ts, l1);
    if (ret < 0 && errp && !*errp)
        error_setg_errno(errp, -ret, "Could not write the QED image");
    free(l1);
    node_close(f);
    return ret;
}

const struct driver driver_qed = {
    .name = "qed",
    .flags = DRV_BACKING,
    .create_opts = qed_create_opts,
    .probe = qed_probe,
    .open = qed_open,
    .close = qed_close,
    .pread = qed_pread,
    .pwrite = qed_pwrite,
    .pwrite_zeroes = qed_pwrite_zeroes,
    .flush = qed_flush,
    .block_status = qed_block_status,
    .truncate = qed_truncate,
    .has_zero_init = qed_has_zero_init,
    .create = qed_create,
    .get_info = qed_get_info,
    .check = qed_check,
    .change_backing_file = qed_change_backing_file,
};
