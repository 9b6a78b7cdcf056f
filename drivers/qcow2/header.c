/* qcow2 header and header extensions (docs/interop/qcow2.txt "Header", "Header extensions"):
 * parsing with qemu 7.2's open checks and messages, and rewriting cluster 0 in qemu's layout
 * (backing format, data file, crypto, feature table, bitmaps, unknown extensions, end, name). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bswap.h"
#include "qcow2.h"

int qcow2_probe(const uint8_t *buf, size_t len, const char *filename)
{
    if (len >= 8 && get_be32(buf) == QCOW2_MAGIC && get_be32(buf + 4) >= 2)
        return 100;
    return 0;
}

static const struct {
    uint8_t type, bit;
    const char *name;
} feature_names[] = {
    { 0, 0, "dirty bit" },
    { 0, 1, "corrupt bit" },
    { 0, 2, "external data file" },
    { 0, 3, "compression type" },
    { 0, 4, "extended L2 entries" },
    { 1, 0, "lazy refcounts" },
    { 2, 0, "bitmaps" },
    { 2, 1, "raw external data" },
};

/* "Unsupported qcow2 feature(s): ..." naming bits from the image's own feature table. */
static void report_unsupported(struct error **errp, const uint8_t *table, uint32_t table_len,
                               uint64_t mask)
{
    char msg[1024] = "";
    size_t used = 0;
    for (uint32_t i = 0; table && i + 48 <= table_len; i += 48) {
        uint8_t type = table[i], bit = table[i + 1];
        if (type != 0 || bit >= 64 || !(mask & (1ull << bit)))
            continue;
        used += (size_t)snprintf(msg + used, sizeof(msg) - used, "%s%.46s", used ? ", " : "",
                                 (const char *)table + i + 2);
        if (used >= sizeof(msg))
            used = sizeof(msg) - 1;
        mask &= ~(1ull << bit);
    }
    if (mask)
        snprintf(msg + used, sizeof(msg) - used, "%sUnknown incompatible feature: %" PRIx64,
                 used ? ", " : "", mask);
    error_setg(errp, "Unsupported qcow2 feature(s): %s", msg);
}

static char *dup_len(const uint8_t *p, size_t len)
{
    char *s = malloc(len + 1);
    if (!s)
        abort();
    memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

/* Walk the extensions in [start, end) of cluster 0 (hdr holds the whole cluster). With only_table
 * the walk just finds the feature table for an unsupported-feature message. */
static int read_extensions(struct qcow2 *s, const uint8_t *hdr, uint64_t start, uint64_t end,
                           const uint8_t **table, uint32_t *table_len, bool only_table,
                           struct error **errp)
{
    uint64_t off = start;
    while (off < end) {
        if (end - off < 8) {
            error_setg(errp, "qcow2_read_extension: ERROR: pread fail from offset %" PRIu64, off);
            return -EINVAL;
        }
        uint32_t type = get_be32(hdr + off), len = get_be32(hdr + off + 4);
        off += 8;
        if (len > end - off) {
            error_setg(errp, "Header extension too large");
            return -EINVAL;
        }
        const uint8_t *d = hdr + off;
        if (type == EXT_END)
            return 0;
        if (type == EXT_FEATURE_TABLE) {
            *table = d;
            *table_len = len;
        } else if (only_table) {
            /* nothing */
        } else if (type == EXT_BACKING_FORMAT) {
            if (len >= 16) {
                error_setg(errp, "ERROR: ext_backing_format: len=%" PRIu32 " too large (>=16)",
                           len);
                return -EINVAL;
            }
            free(s->backing_format);
            s->backing_format = dup_len(d, len);
        } else if (type == EXT_DATA_FILE) {
            free(s->data_file_name);
            s->data_file_name = dup_len(d, len);
        } else if (type == EXT_CRYPTO_HEADER) {
            if (len != 16) {
                error_setg(errp, "Unable to read CRYPTO header extension");
                return -EINVAL;
            }
            s->crypto_off = get_be64(d);
            s->crypto_len = get_be64(d + 8);
        } else if (type == EXT_BITMAPS) {
            if (len != 24) {
                error_setg(errp, "bitmaps_ext: Invalid extension length");
                return -EINVAL;
            }
            if (!(s->autoclear & AUTOCLEAR_BITMAPS)) {
                off += (len + 7) & ~7ull;
                continue;
            }
            s->nb_bitmaps = get_be32(d);
            s->bitmap_dir_size = get_be64(d + 8);
            s->bitmap_dir_offset = get_be64(d + 16);
            if (s->nb_bitmaps > 65535) {
                error_setg(errp, "bitmaps_ext: Image has %" PRIu32 " bitmaps, exceeding the QEMU "
                                 "supported maximum of 65535", s->nb_bitmaps);
                return -EINVAL;
            }
            if (s->nb_bitmaps == 0) {
                error_setg(errp, "found bitmaps extension with zero bitmaps");
                return -EINVAL;
            }
            if (s->bitmap_dir_offset % s->cluster_size) {
                error_setg(errp, "bitmaps_ext: invalid bitmap directory offset");
                return -EINVAL;
            }
            if (s->bitmap_dir_size > (64u << 20)) {
                error_setg(errp, "bitmaps_ext: bitmap directory size (%" PRIu64 ") exceeds the "
                                 "maximum supported size (%d)", s->bitmap_dir_size, 64 << 20);
                return -EINVAL;
            }
            s->has_bitmaps_ext = true;
        } else {
            struct qcow2_ext *e = realloc(s->unknown_exts,
                                          (size_t)(s->nb_unknown_exts + 1) * sizeof(*e));
            if (!e)
                abort();
            s->unknown_exts = e;
            e[s->nb_unknown_exts].type = type;
            e[s->nb_unknown_exts].len = len;
            e[s->nb_unknown_exts].data = (uint8_t *)dup_len(d, len);
            s->nb_unknown_exts++;
        }
        uint64_t padded = ((uint64_t)len + 7) & ~7ull;
        off += padded < end - off ? padded : end - off;
    }
    return 0;
}

/* qemu's validate_table_offset: aligned, and offset + size does not overflow. */
static bool table_ok(const struct qcow2 *s, uint64_t off, uint64_t entries, uint64_t entry_len)
{
    uint64_t size, end;
    if (__builtin_mul_overflow(entries, entry_len, &size) || size > INT64_MAX)
        return false;
    if (__builtin_add_overflow(off, size, &end) || end > INT64_MAX)
        return false;
    return off % s->cluster_size == 0;
}

static int parse_fixed(struct qcow2 *s, const uint8_t *h, struct error **errp)
{
    if (get_be32(h) != QCOW2_MAGIC) {
        error_setg(errp, "Image is not in qcow2 format");
        return -EINVAL;
    }
    s->version = get_be32(h + 4);
    if (s->version < 2 || s->version > 3) {
        error_setg(errp, "Unsupported qcow2 version %" PRIu32, s->version);
        return -ENOTSUP;
    }
    s->cluster_bits = get_be32(h + 20);
    if (s->cluster_bits < 9 || s->cluster_bits > 21) {
        error_setg(errp, "Unsupported cluster size: 2^%" PRIu32, s->cluster_bits);
        return -EINVAL;
    }
    s->cluster_size = 1ull << s->cluster_bits;
    if (s->version == 2) {
        s->header_length = QCOW2_HDR_V2_LEN;
        s->refcount_order = 4;
    } else {
        s->incompat = get_be64(h + 72);
        s->compat = get_be64(h + 80);
        s->autoclear = get_be64(h + 88);
        s->refcount_order = get_be32(h + 96);
        s->header_length = get_be32(h + 100);
        if (s->header_length < QCOW2_HDR_V3_LEN) {
            error_setg(errp, "qcow2 header too short");
            return -EINVAL;
        }
        if (s->header_length > s->cluster_size) {
            error_setg(errp, "qcow2 header exceeds cluster size");
            return -EINVAL;
        }
        if (s->header_length > QCOW2_HDR_V3_LEN)
            s->compression_type = h[104];
    }
    return 0;
}

static int check_features(struct qcow2 *s, const uint8_t *h, int flags, struct error **errp)
{
    if (s->incompat & ~INCOMPAT_KNOWN) {
        const uint8_t *table = NULL;
        uint32_t table_len = 0;
        uint64_t end = get_be64(h + 8) ? get_be64(h + 8) : s->cluster_size;
        (void)read_extensions(s, h, s->header_length, end, &table, &table_len, true, NULL);
        report_unsupported(errp, table, table_len, s->incompat & ~INCOMPAT_KNOWN);
        return -ENOTSUP;
    }
    if ((s->incompat & INCOMPAT_CORRUPT) && (flags & NODE_RDWR) && !(flags & NODE_CHECK)) {
        error_setg(errp, "qcow2: Image is corrupt; cannot be opened read/write");
        return -EACCES;
    }
    if (s->compression_type > COMPRESSION_ZSTD) {
        error_setg(errp, "qcow2: unknown compression type: %u", s->compression_type);
        return -ENOTSUP;
    }
    if (s->compression_type != COMPRESSION_ZLIB && !(s->incompat & INCOMPAT_COMPRESSION)) {
        error_setg(errp, "qcow2: Compression type incompatible feature bit must be set");
        return -EINVAL;
    }
    if (s->compression_type == COMPRESSION_ZLIB && (s->incompat & INCOMPAT_COMPRESSION)) {
        error_setg(errp, "qcow2: Compression type incompatible feature bit must not be set");
        return -EINVAL;
    }
    if (s->refcount_order > 6) {
        error_setg(errp, "Reference count entry width too large; may not exceed 64 bits");
        return -EINVAL;
    }
    s->crypt_method = get_be32(h + 32);
    if (s->crypt_method > 2) {
        error_setg(errp, "Unsupported encryption method %" PRIu32, s->crypt_method);
        return -EINVAL;
    }
    return 0;
}

static void set_geometry(struct qcow2 *s)
{
    s->ext_l2 = s->incompat & INCOMPAT_EXTL2;
    s->l2_entry_size = s->ext_l2 ? 16 : 8;
    s->l2_bits = s->cluster_bits - (s->ext_l2 ? 4 : 3);
    s->sc_bits = s->ext_l2 ? s->cluster_bits - 5 : s->cluster_bits;
    s->refcount_bits = 1u << s->refcount_order;
    s->rb_bits = s->cluster_bits + 3 - s->refcount_order;
}

static int check_tables(struct node *n, struct qcow2 *s, const uint8_t *h, struct error **errp)
{
    uint64_t size = get_be64(h + 24);
    s->rt_offset = get_be64(h + 48);
    s->rt_clusters = get_be32(h + 56);
    if ((uint64_t)s->rt_clusters > (QCOW2_MAX_RT_BYTES >> s->cluster_bits)) {
        error_setg(errp, "Reference count table too large");
        return -EINVAL;
    }
    if (s->rt_clusters == 0 && !(n->flags & NODE_CHECK)) {
        error_setg(errp, "Image does not contain a reference count table");
        return -EINVAL;
    }
    if (!table_ok(s, s->rt_offset, (uint64_t)s->rt_clusters << s->cluster_bits, 1)) {
        error_setg(errp, "Reference count table offset invalid");
        return -EINVAL;
    }
    /* check reads the snapshot table itself, leniently (qemu's BDRV_O_CHECK open skips it) */
    if (!(n->flags & NODE_CHECK)) {
        s->nb_snapshots = get_be32(h + 60);
        s->snapshots_offset = get_be64(h + 64);
    }
    if (s->nb_snapshots > QCOW2_MAX_SNAPSHOTS) {
        error_setg(errp, "Snapshot table too large");
        return -EINVAL;
    }
    if (!table_ok(s, s->snapshots_offset, s->nb_snapshots, 40)) {
        error_setg(errp, "Snapshot table offset invalid");
        return -EINVAL;
    }
    s->l1_size = get_be32(h + 36);
    s->l1_offset = get_be64(h + 40);
    if ((uint64_t)s->l1_size > QCOW2_MAX_L1_BYTES / 8) {
        error_setg(errp, "Active L1 table too large");
        return -EFBIG;
    }
    uint64_t per_l1 = 1ull << (s->cluster_bits + s->l2_bits);
    uint64_t need = size / per_l1 + (size % per_l1 != 0);
    if (size > INT64_MAX || need > INT32_MAX) {
        error_setg(errp, "Image is too big");
        return -EFBIG;
    }
    if (s->l1_size < need) {
        error_setg(errp, "L1 table is too small");
        return -EINVAL;
    }
    if (!table_ok(s, s->l1_offset, s->l1_size, 8)) {
        error_setg(errp, "Active L1 table offset invalid");
        return -EINVAL;
    }
    n->size = size;
    return 0;
}

static int read_backing_name(struct node *n, struct qcow2 *s, const uint8_t *h,
                             struct error **errp)
{
    uint64_t off = get_be64(h + 8);
    uint32_t len = get_be32(h + 16);
    if (!off)
        return 0;
    if (len > QCOW2_MAX_BACKING_NAME || len >= s->cluster_size - off) {
        error_setg(errp, "Backing file name too long");
        return -EINVAL;
    }
    n->backing_file = dup_len(h + off, len);
    if (s->backing_format)
        n->backing_fmt = strdup(s->backing_format);
    return 0;
}

int qcow2_read_header(struct node *n, struct qcow2 *s, struct error **errp)
{
    int ret;
    uint8_t first[QCOW2_HDR_LEN] = { 0 };
    uint64_t avail = n->file->size < sizeof(first) ? n->file->size : sizeof(first);
    ret = node_pread(n->file, 0, avail, first);
    if (ret < 0) {
        error_setg_errno(errp, ret, "Could not read qcow2 header");
        return ret;
    }
    if ((ret = parse_fixed(s, first, errp)) < 0)
        return ret;
    /* the whole first cluster holds the extensions and the backing name */
    uint8_t *h = calloc(1, s->cluster_size);
    if (!h)
        return -ENOMEM;
    avail = n->file->size < s->cluster_size ? n->file->size : s->cluster_size;
    ret = node_pread(n->file, 0, avail, h);
    if (ret < 0) {
        error_setg_errno(errp, ret, "Could not read qcow2 header");
        goto out;
    }
    if (get_be64(h + 8) > s->cluster_size) {
        error_setg(errp, "Invalid backing file offset");
        ret = -EINVAL;
        goto out;
    }
    if ((ret = check_features(s, h, n->flags, errp)) < 0)
        goto out;
    set_geometry(s);
    if ((ret = check_tables(n, s, h, errp)) < 0)
        goto out;
    const uint8_t *table = NULL;
    uint32_t table_len = 0;
    uint64_t end = get_be64(h + 8) ? get_be64(h + 8) : s->cluster_size;
    if (end > s->header_length) {
        ret = read_extensions(s, h, s->header_length, end, &table, &table_len, false, errp);
        if (ret < 0)
            goto out;
    }
    ret = read_backing_name(n, s, h, errp);
out:
    free(h);
    return ret;
}

/* ---- writing ---- */

static size_t put_ext(uint8_t *buf, size_t off, size_t cap, uint32_t type, const void *data,
                      uint32_t len)
{
    size_t padded = ((size_t)len + 7) & ~(size_t)7;
    if (off + 8 + padded > cap)
        return SIZE_MAX;
    put_be32(buf + off, type);
    put_be32(buf + off + 4, len);
    if (len)
        memcpy(buf + off + 8, data, len);
    return off + 8 + padded;
}

static size_t put_extensions(struct qcow2 *s, uint8_t *h, size_t off, size_t cap)
{
    if (s->backing_format && off != SIZE_MAX)
        off = put_ext(h, off, cap, EXT_BACKING_FORMAT, s->backing_format,
                      (uint32_t)strlen(s->backing_format));
    if (s->data_file_name && off != SIZE_MAX)
        off = put_ext(h, off, cap, EXT_DATA_FILE, s->data_file_name,
                      (uint32_t)strlen(s->data_file_name));
    if (s->crypto_off && off != SIZE_MAX) {
        uint8_t c[16];
        put_be64(c, s->crypto_off);
        put_be64(c + 8, s->crypto_len);
        off = put_ext(h, off, cap, EXT_CRYPTO_HEADER, c, 16);
    }
    /* qemu 7.2 writes the feature table only into clusters of 8 KiB and more */
    if (s->version >= 3 && s->cluster_size >= 8192 && off != SIZE_MAX) {
        uint8_t t[sizeof(feature_names) / sizeof(feature_names[0]) * 48] = { 0 };
        for (size_t i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]); i++) {
            t[i * 48] = feature_names[i].type;
            t[i * 48 + 1] = feature_names[i].bit;
            memcpy(t + i * 48 + 2, feature_names[i].name, strlen(feature_names[i].name));
        }
        off = put_ext(h, off, cap, EXT_FEATURE_TABLE, t, sizeof(t));
    }
    if (s->has_bitmaps_ext && off != SIZE_MAX) {
        uint8_t b[24] = { 0 };
        put_be32(b, s->nb_bitmaps);
        put_be64(b + 8, s->bitmap_dir_size);
        put_be64(b + 16, s->bitmap_dir_offset);
        off = put_ext(h, off, cap, EXT_BITMAPS, b, 24);
    }
    for (int i = 0; i < s->nb_unknown_exts && off != SIZE_MAX; i++)
        off = put_ext(h, off, cap, s->unknown_exts[i].type, s->unknown_exts[i].data,
                      s->unknown_exts[i].len);
    if (off != SIZE_MAX)
        off = put_ext(h, off, cap, EXT_END, NULL, 0);
    return off;
}

int qcow2_write_header(struct qcow2 *s, const char *backing_file)
{
    struct node *n = s->node;
    uint8_t *h = calloc(1, s->cluster_size);
    if (!h)
        return -ENOMEM;
    size_t hlen = s->version >= 3 ? QCOW2_HDR_LEN : QCOW2_HDR_V2_LEN;
    put_be32(h, QCOW2_MAGIC);
    put_be32(h + 4, s->version);
    put_be32(h + 20, s->cluster_bits);
    put_be64(h + 24, n->size);
    put_be32(h + 32, s->crypt_method);
    put_be32(h + 36, s->l1_size);
    put_be64(h + 40, s->l1_offset);
    put_be64(h + 48, s->rt_offset);
    put_be32(h + 56, s->rt_clusters);
    put_be32(h + 60, s->nb_snapshots);
    put_be64(h + 64, s->snapshots_offset);
    if (s->version >= 3) {
        put_be64(h + 72, s->incompat);
        put_be64(h + 80, s->compat);
        put_be64(h + 88, s->autoclear);
        put_be32(h + 96, s->refcount_order);
        put_be32(h + 100, (uint32_t)hlen);
        h[104] = s->compression_type;
    }
    size_t off = put_extensions(s, h, hlen, s->cluster_size);
    int ret = -ENOSPC;
    if (off == SIZE_MAX)
        goto out;
    if (backing_file) {
        size_t blen = strlen(backing_file);
        if (off + blen > s->cluster_size)
            goto out;
        memcpy(h + off, backing_file, blen);
        put_be64(h + 8, off);
        put_be32(h + 16, (uint32_t)blen);
        off += blen;
    }
    ret = node_pwrite(n->file, 0, s->cluster_size, h);
    if (ret == 0)
        ret = node_flush(n->file);
out:
    free(h);
    return ret;
}

/* Update the incompatible feature bits in place (v3 only). */
int qcow2_set_incompat(struct qcow2 *s, uint64_t incompat)
{
    if (s->version < 3)
        return 0;
    uint8_t b[8];
    put_be64(b, incompat);
    int ret = node_pwrite(s->node->file, 72, 8, b);
    if (ret == 0)
        ret = node_flush(s->node->file);
    if (ret == 0)
        s->incompat = incompat;
    return ret;
}

void qcow2_signal_corruption(struct qcow2 *s, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (s->incompat & INCOMPAT_CORRUPT)
        return;
    if (!s->writable) {
        fprintf(stderr, "qcow2: Image is corrupt: %s; further non-fatal corruption events will be "
                        "suppressed\n", msg); /* qemu prints these without a program name */
        s->incompat |= INCOMPAT_CORRUPT; /* suppress repeats; never written back */
        return;
    }
    fprintf(stderr, "qcow2: Marking image as corrupt: %s; further corruption events will be "
                    "suppressed\n", msg);
    s->fatal_corruption = true;
    (void)qcow2_set_incompat(s, s->incompat | INCOMPAT_CORRUPT);
    s->incompat |= INCOMPAT_CORRUPT;
}

void qcow2_free_header(struct qcow2 *s)
{
    free(s->backing_format);
    free(s->data_file_name);
    for (int i = 0; i < s->nb_unknown_exts; i++)
        free(s->unknown_exts[i].data);
    free(s->unknown_exts);
}
