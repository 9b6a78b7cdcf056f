/* VMware VMDK images (qemu's "vmdk" driver, 7.2 behaviour): hosted sparse extents ("KDMV"
 * header, grain directory and tables, streamOptimized compressed grains), VMDK3 "COWD" sparse
 * extents, ESXi seSparse extents (read-only, as in qemu), descriptor files with FLAT/VMFS/SPARSE/
 * VMFSSPARSE/SESPARSE extents, parent links (parentFileNameHint), and qemu's create subformats. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <zlib.h>

#include "bswap.h"
#include "error.h"
#include "file.h"
#include "node.h"

#define VMDK4_MAGIC 0x4b444d56u /* "KDMV" read big-endian */
#define VMDK3_MAGIC 0x434f5744u /* "COWD" */
#define VMDK4_FLAG_NL_DETECT 1u
#define VMDK4_FLAG_RGD 2u
#define VMDK4_FLAG_ZERO_GRAIN 4u
#define VMDK4_FLAG_COMPRESS (1u << 16)
#define VMDK4_FLAG_MARKER (1u << 17)
#define VMDK4_GD_AT_END UINT64_MAX
#define VMDK_GTE_ZEROED 1
#define MARKER_END_OF_STREAM 0
#define MARKER_FOOTER 3
#define DESC_SIZE (20 * 512)
#define DESC_READ_MAX ((1 << 20) - 1)
#define MAX_EXTENTS 1024
#define MAX_LENGTH 0x7FFFFFFFC0000000ull
#define SESPARSE_CONST_MAGIC 0xcafebabeull
#define SESPARSE_VOLATILE_MAGIC 0xcafecafeull

/* VMDK4 header field offsets (after the 4-byte magic: all relative to the file start). */
enum {
    V_VERSION = 4, V_FLAGS = 8, V_CAPACITY = 12, V_GRANULARITY = 20, V_DESC_OFFSET = 28,
    V_DESC_SIZE = 36, V_NUM_GTES = 44, V_RGD_OFFSET = 48, V_GD_OFFSET = 56, V_GRAIN_OFFSET = 64,
    V_FILLER = 72, V_CHECK = 73, V_COMPRESS = 77, V_HEADER_END = 79,
};

struct extent {
    struct node *file;       /* n->file for monolithic images, else opened by us */
    bool own_file;
    bool flat, compressed, has_marker, zero_grain;
    char *type;              /* descriptor type ("SPARSE", "FLAT"...), NULL for monolithic */
    uint64_t sectors, end_sector;
    uint64_t flat_offset;    /* bytes */
    uint64_t cluster_sectors;
    uint32_t l2_size;        /* entries per grain table */
    uint64_t l1_entry_sectors;
    uint64_t l1_size;
    uint32_t *l1, *l1_backup; /* entries past the file's end read as 0 and are not stored */
    uint64_t l1_loaded, l1_backup_loaded;
    uint64_t l1_offset, l1_backup_offset;
    uint32_t *l2;             /* one cached grain table */
    uint64_t l2_cached;       /* its sector offset, 0 when empty */
    uint64_t next_cluster_sector;
    bool sesparse;            /* 64-bit tables: l1_64 and l2_64 instead of l1 and l2 */
    uint64_t se_tables, se_grains; /* sectors where the grain tables and the grains start */
    uint64_t *l1_64, *l2_64;
    uint64_t header_bytes;    /* sparse header and embedded descriptor: no table or grain there */
};

struct vmdk_state {
    struct extent *extents;
    int num_extents;
    char *create_type;
    uint64_t desc_offset;    /* where the descriptor lives in n->file */
    uint32_t cid, parent_cid;
    bool cid_updated;        /* a first write gave the image a new CID */
};

static const struct opt_desc vmdk_create_opts[] = {
    { "size", OPT_SIZE, "Virtual disk size", NULL },
    { "adapter_type", OPT_STRING,
      "Virtual adapter type, can be one of ide (default), lsilogic, buslogic or legacyESX", NULL },
    { "backing_file", OPT_STRING, "File name of a base image", NULL },
    { "backing_fmt", OPT_STRING, "Must be 'vmdk' if present", NULL },
    { "compat6", OPT_BOOL, "VMDK version 6 image", "off" },
    { "hwversion", OPT_STRING, "VMDK hardware version", "undefined" },
    { "toolsversion", OPT_STRING, "VMware guest tools version", NULL },
    { "subformat", OPT_STRING,
      "VMDK flat extent format, can be one of {monolithicSparse (default) | monolithicFlat | "
      "twoGbMaxExtentSparse | twoGbMaxExtentFlat | streamOptimized} ", NULL },
    { "zeroed_grain", OPT_BOOL, "Enable efficient zero writes using the zeroed-grain GTE feature",
      NULL },
    { NULL, 0, NULL, NULL },
};

static struct vmdk_state *st(struct node *n)
{
    return n->state;
}

static int vmdk_probe(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    if (len < 4)
        return 0;
    uint32_t magic = get_be32(buf);
    if (magic == VMDK3_MAGIC || magic == VMDK4_MAGIC)
        return 100;
    /* a text descriptor: comment lines and lines of spaces, then "version=N" (N 1..3) */
    const char *p = (const char *)buf, *end = p + len;
    while (p < end) {
        if (*p == '#') {
            while (p < end && *p != '\n')
                p++;
            p++;
            continue;
        }
        if (*p == ' ') {
            while (p < end && *p == ' ')
                p++;
            if (p < end && *p == '\r')
                p++;
            if (p == end || *p != '\n')
                return 0;
            p++;
            continue;
        }
        for (char v = '1'; v <= '3'; v++) {
            char want[12];
            snprintf(want, sizeof(want), "version=%c\n", v);
            if ((size_t)(end - p) >= 10 && !memcmp(p, want, 10))
                return 100;
            snprintf(want, sizeof(want), "version=%c\r\n", v);
            if ((size_t)(end - p) >= 11 && !memcmp(p, want, 11))
                return 100;
        }
        return 0;
    }
    return 0;
}

/* Up to 1 MiB of text from a file, NUL-terminated (qemu's vmdk_read_desc). */
static char *read_desc(struct node *f, uint64_t off, struct error **errp)
{
    uint64_t size = f->size;
    if (size > DESC_READ_MAX)
        size = DESC_READ_MAX;
    /* at least 4 bytes (the magic test), zero-filled past a short file */
    char *buf = calloc(1, (size < 4 ? 4 : size) + 1);
    if (!buf)
        return NULL;
    int ret = off > INT64_MAX - size ? -EINVAL : node_pread(f, off, size, buf);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read from file");
        free(buf);
        return NULL;
    }
    buf[size] = 0;
    return buf;
}

/* key="value" lookup as qemu does it: the first occurrence of the key anywhere. */
static int desc_value(const char *desc, const char *key, char *out, size_t out_size)
{
    const char *pos = strstr(desc, key);
    if (!pos)
        return -1;
    const char *end = desc + strlen(desc);
    pos += strlen(key) + 2; /* skip =" */
    if (pos >= end)
        return -1;
    const char *q = pos;
    while (q < end && *q != '"')
        q++;
    if (q == end || out_size < (size_t)(q - pos) + 1)
        return -1;
    memcpy(out, pos, (size_t)(q - pos));
    out[q - pos] = 0;
    return 0;
}

/* l1_size is 32 bits wide as in qemu (callers' larger values wrap, as there). */
static struct extent *add_extent(struct node *n, struct node *file, bool own, bool flat,
                                 uint64_t sectors, uint64_t l1_offset, uint64_t l1_backup,
                                 uint32_t l1_size, uint32_t l2_size, uint64_t cluster_sectors,
                                 struct error **errp)
{
    struct vmdk_state *s = st(n);
    if (cluster_sectors > 0x200000) {
        error_setg(errp, "Invalid granularity, image may be corrupt");
        return NULL;
    }
    if (l1_size > 32 * 1024 * 1024) {
        error_setg(errp, "L1 size too big");
        return NULL;
    }
    if (s->num_extents >= MAX_EXTENTS) {
        error_setg(errp, "Too many extents");
        return NULL;
    }
    struct extent *e = realloc(s->extents, (s->num_extents + 1) * sizeof(*e));
    if (!e)
        return NULL;
    s->extents = e;
    e = &s->extents[s->num_extents];
    memset(e, 0, sizeof(*e));
    e->file = file;
    e->own_file = own;
    e->flat = flat;
    e->sectors = sectors;
    e->l1_offset = l1_offset;
    e->l1_backup_offset = l1_backup;
    e->l1_size = l1_size;
    e->l2_size = l2_size;
    e->l1_entry_sectors = (uint32_t)(l2_size * cluster_sectors); /* 32 bits in qemu */
    e->cluster_sectors = flat ? sectors : cluster_sectors;
    uint64_t nb = (file->size + 511) / 512;
    e->next_cluster_sector = cluster_sectors ? (nb + cluster_sectors - 1) / cluster_sectors *
                                                   cluster_sectors : nb;
    uint64_t prev = s->num_extents ? s->extents[s->num_extents - 1].end_sector : 0;
    if (__builtin_add_overflow(prev, sectors, &e->end_sector) ||
        e->end_sector > (uint64_t)INT64_MAX / 512) {
        error_setg(errp, "Image too large");
        return NULL;
    }
    s->num_extents++;
    n->size = e->end_sector * 512;
    return e;
}

static int read_l1(struct extent *e, uint64_t off, uint32_t **table, uint64_t *loaded)
{
    uint64_t want = e->l1_size, in_file = 0;
    if (e->file->size > off)
        in_file = (e->file->size - off) / 4;
    if (want > in_file)
        want = in_file;
    *table = calloc(want ? want : 1, 4);
    if (!*table)
        return -ENOMEM;
    int ret = node_pread(e->file, off, want * 4, *table);
    for (uint64_t i = 0; ret == 0 && i < want; i++)
        (*table)[i] = get_le32(&(*table)[i]);
    *loaded = want;
    return ret;
}

static int init_tables(struct extent *e, struct error **errp)
{
    if (read_l1(e, e->l1_offset, &e->l1, &e->l1_loaded) < 0) {
        error_setg(errp, "Could not read l1 table from extent '%s'", node_name(e->file));
        return -EIO;
    }
    if (e->l1_backup_offset &&
        read_l1(e, e->l1_backup_offset, &e->l1_backup, &e->l1_backup_loaded) < 0) {
        error_setg(errp, "Could not read l1 backup table from extent '%s'", node_name(e->file));
        return -EIO;
    }
    e->l2 = malloc((uint64_t)e->l2_size * 4 + 4);
    return e->l2 ? 0 : -ENOMEM;
}

/* The streamOptimized footer (a header copy at -1024 from the end) replaces the header. */
static int read_footer(struct node *n, struct node *file, uint8_t *h, struct error **errp)
{
    uint8_t f[1536];
    /* qemu measures from the end of the image's own file, as here for monolithic images */
    uint64_t len = n->file->size;
    int ret = len < sizeof(f) ? -EINVAL : node_pread(file, len - sizeof(f), sizeof(f), f);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Failed to read footer");
        return ret;
    }
    if (get_be32(f + 512) != VMDK4_MAGIC || get_le32(f + 8) != 0 ||
        get_le32(f + 12) != MARKER_FOOTER || get_le64(f + 1024) != 0 ||
        get_le32(f + 1032) != 0 || get_le32(f + 1036) != MARKER_END_OF_STREAM) {
        error_setg(errp, "Invalid footer");
        return -EINVAL;
    }
    memcpy(h, f + 512, 512);
    return 0;
}

static int open_desc_text(struct node *n, const char *buf, struct error **errp);

static int open_vmdk4(struct node *n, struct node *file, bool own, struct error **errp)
{
    struct vmdk_state *s = st(n);
    uint8_t h[512];
    int ret = node_pread(file, 0, sizeof(h), h);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read header from file '%s'", node_name(file));
        return -EINVAL;
    }
    if (get_le64(h + V_CAPACITY) == 0 && get_le64(h + V_DESC_OFFSET)) {
        uint64_t doff = get_le64(h + V_DESC_OFFSET);
        char *desc = doff > INT64_MAX / 512 ? NULL : read_desc(file, doff * 512, errp);
        if (!desc)
            return -EINVAL;
        ret = open_desc_text(n, desc, errp);
        free(desc);
        return ret;
    }
    if (!s->create_type)
        s->create_type = strdup("monolithicSparse");
    if (get_le64(h + V_GD_OFFSET) == VMDK4_GD_AT_END && (ret = read_footer(n, file, h, errp)) < 0)
        return ret;
    uint32_t version = get_le32(h + V_VERSION), flags = get_le32(h + V_FLAGS);
    bool compressed = get_le16(h + V_COMPRESS) == 1;
    if (version > 3) {
        error_setg(errp, "Unsupported VMDK version %" PRIu32, version);
        return -ENOTSUP;
    }
    if (version == 3 && (n->flags & NODE_RDWR) && !compressed) {
        error_setg(errp, "VMDK version 3 must be read only");
        return -EINVAL;
    }
    uint32_t gtes = get_le32(h + V_NUM_GTES);
    if (gtes > 512) {
        error_setg(errp, "L2 table size too big");
        return -EINVAL;
    }
    uint64_t granularity = get_le64(h + V_GRANULARITY), capacity = get_le64(h + V_CAPACITY);
    uint64_t l1_entry_sectors = gtes * granularity; /* wraps as in qemu */
    if (l1_entry_sectors == 0) {
        error_setg(errp, "L1 entry size is invalid");
        return -EINVAL;
    }
    uint64_t l1_size = (capacity + l1_entry_sectors - 1) / l1_entry_sectors;
    uint64_t l1_backup = (flags & VMDK4_FLAG_RGD) ? get_le64(h + V_RGD_OFFSET) << 9 : 0;
    uint64_t grain_offset = get_le64(h + V_GRAIN_OFFSET);
    if ((file->size + 511) / 512 < grain_offset) {
        error_setg(errp, "File truncated, expecting at least %" PRId64 " bytes",
                   (int64_t)(grain_offset * 512));
        return -EINVAL;
    }
    struct extent *e = add_extent(n, file, own, false, capacity, get_le64(h + V_GD_OFFSET) << 9,
                                  l1_backup, (uint32_t)l1_size, gtes, granularity, errp);
    if (!e)
        return granularity > 0x200000 || (uint32_t)l1_size > 32 * 1024 * 1024 ? -EFBIG : -EINVAL;
    e->compressed = compressed;
    if (compressed) {
        free(s->create_type);
        s->create_type = strdup("streamOptimized");
    }
    e->has_marker = flags & VMDK4_FLAG_MARKER;
    e->zero_grain = flags & VMDK4_FLAG_ZERO_GRAIN;
    uint64_t desc_off = get_le64(h + V_DESC_OFFSET), desc_end = desc_off + get_le64(h + V_DESC_SIZE);
    e->header_bytes = 512;
    if (desc_off && desc_end >= desc_off && desc_end <= grain_offset)
        e->header_bytes = desc_end * 512;
    return init_tables(e, errp);
}

/* A VMDK3 "COWD" extent: disk size, grain size, grain directory sector and entry count after the
 * magic; grain tables of 4096 entries (qemu's vmdk_open_vmfs_sparse). */
static int open_vmdk3(struct node *n, struct node *file, bool own, struct error **errp)
{
    uint8_t h[40];
    int ret = node_pread(file, 4, sizeof(h), h);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read header from file '%s'", node_name(file));
        return ret;
    }
    uint32_t granularity = get_le32(h + 12);
    struct extent *e = add_extent(n, file, own, false, get_le32(h + 8),
                                  (uint64_t)get_le32(h + 16) << 9, 0, get_le32(h + 20), 4096,
                                  granularity, errp);
    if (!e)
        return granularity > 0x200000 || get_le32(h + 20) > 32 * 1024 * 1024 ? -EFBIG : -EINVAL;
    return init_tables(e, errp);
}

static bool all_zero(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i])
            return false;
    return true;
}

/* qemu's strict checks of the seSparse headers (the format is not documented). */
static int check_sesparse_headers(const uint8_t *c, const uint8_t *v, struct error **errp)
{
    if (get_le64(c) != SESPARSE_CONST_MAGIC) {
        error_setg(errp, "Bad const header magic: 0x%016" PRIx64, get_le64(c));
        return -EINVAL;
    }
    if (get_le64(c + 8) != 0x0000000200000001ull) {
        error_setg(errp, "Unsupported version: 0x%016" PRIx64, get_le64(c + 8));
        return -ENOTSUP;
    }
    if (get_le64(c + 24) != 8) {
        error_setg(errp, "Unsupported grain size: %" PRIu64, get_le64(c + 24));
        return -ENOTSUP;
    }
    if (get_le64(c + 32) != 64) {
        error_setg(errp, "Unsupported grain table size: %" PRIu64, get_le64(c + 32));
        return -ENOTSUP;
    }
    if (get_le64(c + 40) != 0) {
        error_setg(errp, "Unsupported flags: 0x%016" PRIx64, get_le64(c + 40));
        return -ENOTSUP;
    }
    if (get_le64(c + 48) || get_le64(c + 56) || get_le64(c + 64) || get_le64(c + 72)) {
        error_setg(errp, "Unsupported reserved bits: 0x%016" PRIx64 " 0x%016" PRIx64
                   " 0x%016" PRIx64 " 0x%016" PRIx64, get_le64(c + 48), get_le64(c + 56),
                   get_le64(c + 64), get_le64(c + 72));
        return -ENOTSUP;
    }
    if (!all_zero(c + 208, 304)) {
        error_setg(errp, "Unsupported non-zero const header padding");
        return -ENOTSUP;
    }
    if (!v)
        return 0;
    if (get_le64(v) != SESPARSE_VOLATILE_MAGIC) {
        error_setg(errp, "Bad volatile header magic: 0x%016" PRIx64, get_le64(v));
        return -EINVAL;
    }
    if (get_le64(v + 24)) {
        error_setg(errp, "Image is dirty, Replaying journal not supported");
        return -ENOTSUP;
    }
    if (!all_zero(v + 32, 480)) {
        error_setg(errp, "Unsupported non-zero volatile header padding");
        return -ENOTSUP;
    }
    return 0;
}

/* An ESXi seSparse extent (qemu's vmdk_open_se_sparse): read-only, 64-bit grain directory and
 * tables, 4 KiB grains. */
static int open_sesparse(struct node *n, struct node *file, bool own, struct error **errp)
{
    uint8_t c[512], v[512];
    if (n->flags & NODE_RDWR) {
        error_setg(errp, "No write support for seSparse images available");
        return -EACCES;
    }
    int ret = node_pread(file, 0, sizeof(c), c);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read const header from file '%s'",
                         node_name(file));
        return ret;
    }
    if ((ret = check_sesparse_headers(c, NULL, errp)) < 0)
        return ret;
    uint64_t voff = get_le64(c + 80);
    ret = voff > MAX_LENGTH / 512 ? -EIO : node_pread(file, voff * 512, sizeof(v), v);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read volatile header from file '%s'",
                         node_name(file));
        return ret;
    }
    if ((ret = check_sesparse_headers(c, v, errp)) < 0)
        return ret;
    uint64_t gd_sectors = get_le64(c + 136);
    struct extent *e = add_extent(n, file, own, false, get_le64(c + 16), get_le64(c + 128) * 512,
                                  0, (uint32_t)(gd_sectors * 512 / 8), 64 * 512 / 8, 8, errp);
    if (!e)
        return (uint32_t)(gd_sectors * 512 / 8) > 32 * 1024 * 1024 ? -EFBIG : -EINVAL;
    e->sesparse = true;
    e->se_tables = get_le64(c + 144);
    e->se_grains = get_le64(c + 192);
    uint64_t want = e->l1_size, in_file = 0;
    if (e->file->size > e->l1_offset)
        in_file = (e->file->size - e->l1_offset) / 8;
    e->l1_loaded = want < in_file ? want : in_file;
    e->l1_64 = calloc(e->l1_loaded ? e->l1_loaded : 1, 8);
    e->l2_64 = malloc((uint64_t)e->l2_size * 8);
    if (!e->l1_64 || !e->l2_64)
        return -ENOMEM;
    ret = node_pread(e->file, e->l1_offset, e->l1_loaded * 8, e->l1_64);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read l1 table from extent '%s'",
                         node_name(e->file));
        return ret;
    }
    for (uint64_t i = 0; i < e->l1_loaded; i++)
        e->l1_64[i] = get_le64(&e->l1_64[i]);
    return 0;
}

static int open_sparse(struct node *n, struct node *file, bool own, const char *buf,
                       struct error **errp)
{
    uint32_t magic = get_be32(buf);
    if (magic == VMDK4_MAGIC)
        return open_vmdk4(n, file, own, errp);
    if (magic == VMDK3_MAGIC)
        return open_vmdk3(n, file, own, errp);
    error_setg(errp, "Image not in VMDK format");
    return -EINVAL;
}

static const char *next_line(const char *p)
{
    while (*p) {
        if (*p++ == '\n')
            break;
    }
    return p;
}

static char *extent_path(struct node *n, const char *fname)
{
    if (fname[0] == '/')
        return strdup(fname);
    char *path = node_resolve_backing_path(n, fname);
    if (path && !path[0]) {
        free(path);
        return NULL;
    }
    return path;
}

static int open_extent_file(struct node *n, const char *type, uint64_t sectors, int64_t flat_off,
                            const char *fname, struct error **errp)
{
    char *path = extent_path(n, fname);
    if (!path) {
        error_setg(errp, "Cannot use relative paths with VMDK descriptor file '%s'", node_name(n));
        return -EINVAL;
    }
    int flags = (n->flags & (NODE_RDWR | NODE_FORCE_SHARE | NODE_NO_LOCK)) | NODE_NO_BACKING;
    struct node *f = node_open(path, "file", NULL, flags, errp);
    free(path);
    if (!f)
        return -EINVAL;
    struct extent *e;
    int ret = 0;
    if (!strcmp(type, "FLAT") || !strcmp(type, "VMFS")) {
        e = add_extent(n, f, true, true, sectors, 0, 0, 0, 0, 0, errp);
        if (e)
            e->flat_offset = (uint64_t)flat_off << 9;
        else
            ret = -EINVAL;
    } else if (!strcmp(type, "SESPARSE")) {
        ret = open_sesparse(n, f, true, errp);
        e = ret == 0 ? &st(n)->extents[st(n)->num_extents - 1] : NULL;
    } else {
        char *buf = read_desc(f, 0, errp);
        ret = buf ? open_sparse(n, f, true, buf, errp) : -EINVAL;
        free(buf);
        e = ret == 0 ? &st(n)->extents[st(n)->num_extents - 1] : NULL;
    }
    if (!e) {
        if (!st(n)->num_extents || st(n)->extents[st(n)->num_extents - 1].file != f)
            node_close(f);
        return ret ? ret : -EINVAL;
    }
    e->type = strdup(type);
    return 0;
}

/* Extent lines: RW SECTORS FLAT "name" OFFSET | RW SECTORS SPARSE|VMFS|VMFSSPARSE|SESPARSE "name". */
static int parse_extents(struct node *n, const char *desc, struct error **errp)
{
    for (const char *p = desc; *p; p = next_line(p)) {
        char access[11], type[11], fname[512];
        int64_t sectors = 0, flat_off = -1;
        int m = sscanf(p, "%10s %" SCNd64 " %10s \"%511[^\n\r\"]\" %" SCNd64, access, &sectors,
                       type, fname, &flat_off);
        if (m < 4 || strcmp(access, "RW"))
            continue;
        bool bad = false;
        if (!strcmp(type, "FLAT"))
            bad = m != 5 || flat_off < 0;
        else if (!strcmp(type, "VMFS")) {
            bad = m != 4;
            flat_off = 0;
        } else
            bad = m != 4;
        if (bad) {
            const char *np = next_line(p);
            if (np > p && np[-1] == '\n')
                np--;
            error_setg(errp, "Invalid extent line: %.*s", (int)(np - p), p);
            return -EINVAL;
        }
        if (sectors <= 0 || (strcmp(type, "FLAT") && strcmp(type, "SPARSE") &&
                             strcmp(type, "VMFS") && strcmp(type, "VMFSSPARSE") &&
                             strcmp(type, "SESPARSE")))
            continue;
        int ret = open_extent_file(n, type, (uint64_t)sectors, flat_off, fname, errp);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static int open_desc_text(struct node *n, const char *buf, struct error **errp)
{
    struct vmdk_state *s = st(n);
    char ct[128];
    if (desc_value(buf, "createType", ct, sizeof(ct)) < 0) {
        error_setg(errp, "invalid VMDK image descriptor");
        return -EINVAL;
    }
    static const char *const ok[] = { "monolithicFlat", "vmfs", "vmfsSparse", "seSparse",
                                      "twoGbMaxExtentSparse", "twoGbMaxExtentFlat" };
    bool known = false;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        known |= !strcmp(ct, ok[i]);
    if (!known) {
        error_setg(errp, "Unsupported image type '%s'", ct);
        return -ENOTSUP;
    }
    free(s->create_type);
    s->create_type = strdup(ct);
    s->desc_offset = 0;
    return parse_extents(n, buf, errp);
}

/* qemu's vmdk_read_cid: the first occurrence of key, one character skipped after it. */
static int read_cid(const char *desc, const char *key, uint32_t *cid)
{
    const char *p = strstr(desc, key);
    if (!p || sscanf(p + strlen(key) + 1, "%" SCNx32, cid) != 1)
        return -EINVAL;
    return 0;
}

/* The descriptor text (DESC_SIZE bytes at desc_offset): CIDs and the parent hint. */
static int read_desc_fields(struct node *n)
{
    struct vmdk_state *s = st(n);
    char desc[DESC_SIZE + 1];
    int ret = node_pread(n->file, s->desc_offset, DESC_SIZE, desc);
    if (ret < 0)
        return ret;
    desc[DESC_SIZE] = 0;
    const char *hint = strstr(desc, "parentFileNameHint");
    if (hint) {
        hint += sizeof("parentFileNameHint") + 1;
        const char *end = strchr(hint, '"');
        if (!end || end - hint > 4095)
            return -EINVAL;
        free(n->backing_file);
        n->backing_file = strndup(hint, (size_t)(end - hint));
        free(n->backing_fmt);
        n->backing_fmt = strdup("vmdk");
    }
    desc[DESC_SIZE - 1] = 0;
    if ((ret = read_cid(desc, "CID", &s->cid)) < 0)
        return ret;
    return read_cid(desc, "parentCID", &s->parent_cid);
}

static void vmdk_close(struct node *n)
{
    struct vmdk_state *s = st(n);
    if (!s)
        return;
    for (int i = 0; i < s->num_extents; i++) {
        struct extent *e = &s->extents[i];
        if (e->own_file)
            node_close(e->file);
        free(e->l1);
        free(e->l1_backup);
        free(e->l2);
        free(e->l1_64);
        free(e->l2_64);
        free(e->type);
    }
    free(s->extents);
    free(s->create_type);
    free(s);
    n->state = NULL;
}

static int vmdk_open(struct node *n, struct opts *opts, struct error **errp)
{
    (void)opts;
    struct vmdk_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    n->state = s;
    char *buf = read_desc(n->file, 0, errp);
    if (!buf)
        return -EINVAL;
    int ret;
    uint32_t magic = get_be32(buf);
    if (magic == VMDK3_MAGIC || magic == VMDK4_MAGIC) {
        ret = open_sparse(n, n->file, false, buf, errp);
        s->desc_offset = 0x200;
    } else {
        ret = open_desc_text(n, buf, errp);
    }
    free(buf);
    if (ret == 0 && s->num_extents == 0) {
        /* qemu 7.2 accepts this and then aborts on an assertion: refuse it cleanly */
        error_setg(errp, "Could not open '%s': Invalid argument", node_name(n));
        ret = -EINVAL;
    }
    if (ret == 0 && (ret = read_desc_fields(n)) < 0)
        error_setg_errno(errp, -ret, "Could not open '%s'", node_name(n));
    /* extent files of their own become strict as the core makes n->file (node.h NODE_STRICT) */
    for (int i = 0; ret == 0 && (n->flags & NODE_STRICT) && i < s->num_extents; i++)
        s->extents[i].file->flags |= NODE_STRICT;
    return ret;
}

/* ---- lookup ---- */

enum { VMDK_OK, VMDK_UNALLOC, VMDK_ZEROED };

static struct extent *find_extent(struct vmdk_state *s, uint64_t sector)
{
    for (int i = 0; i < s->num_extents; i++)
        if (sector < s->extents[i].end_sector)
            return &s->extents[i];
    return NULL;
}

static uint64_t extent_start(const struct extent *e)
{
    return (e->end_sector - e->sectors) * 512;
}

static int load_l2(struct extent *e, uint64_t l2_sector)
{
    if (e->l2_cached == l2_sector)
        return 0;
    e->l2_cached = 0;
    if (l2_sector > INT64_MAX / 512)
        return -EIO;
    int ret = node_check_pointer(e->file, l2_sector * 512, (uint64_t)e->l2_size * 4,
                                 e->header_bytes, "a grain table");
    if (ret == 0)
        ret = node_pread(e->file, l2_sector * 512, (uint64_t)e->l2_size * 4, e->l2);
    if (ret < 0)
        return ret;
    for (uint32_t i = 0; i < e->l2_size; i++)
        e->l2[i] = get_le32(&e->l2[i]);
    e->l2_cached = l2_sector;
    return 0;
}

/* seSparse lookup (qemu's rules): directory entries carry 0x1 in their top 32 bits and a table
 * number; table entries are tagged by their top nibble. Anything else is an error. */
static int cluster_offset_se(struct extent *e, uint64_t off, uint64_t *host)
{
    uint64_t l1_index = (off >> 9) / e->l1_entry_sectors;
    if (l1_index >= e->l1_size)
        return -EIO;
    uint64_t gde = l1_index < e->l1_loaded ? e->l1_64[l1_index] : 0;
    if (gde == 0)
        return VMDK_UNALLOC;
    if ((gde & 0xffffffff00000000ull) != 0x1000000000000000ull)
        return -EIO;
    uint64_t l2 = e->se_tables + (gde & 0xffffffffu) * (e->l2_size * 8ull) / 512;
    if (l2 > 0xffffffffu)
        return -EIO;
    if (l2 == 0)
        return VMDK_UNALLOC;
    if (e->l2_cached != l2) {
        e->l2_cached = 0;
        if (node_pread(e->file, l2 * 512, (uint64_t)e->l2_size * 8, e->l2_64) < 0)
            return -EIO;
        for (uint32_t i = 0; i < e->l2_size; i++)
            e->l2_64[i] = get_le64(&e->l2_64[i]);
        e->l2_cached = l2;
    }
    uint64_t gte = e->l2_64[(off >> 9) / e->cluster_sectors % e->l2_size], sector;
    switch (gte >> 60) {
    case 0:
        return gte ? -EIO : VMDK_UNALLOC;
    case 1: /* unmapped */
    case 2: /* zero */
        return VMDK_ZEROED;
    case 3:
        sector = ((gte & 0x0fff000000000000ull) >> 48) | ((gte & 0x0000ffffffffffffull) << 12);
        sector = e->se_grains + sector * e->cluster_sectors; /* wraps as in qemu */
        *host = sector << 9;
        return VMDK_OK;
    default:
        return -EIO;
    }
}

/* Host offset of the grain holding `off` (bytes from the image start). */
static int cluster_offset(struct extent *e, uint64_t off, uint64_t *host, uint64_t *l2_index)
{
    if (e->flat) {
        *host = e->flat_offset;
        return VMDK_OK;
    }
    off -= extent_start(e);
    if (e->l1_entry_sectors == 0)
        return -EIO; /* qemu divides by zero here */
    if (e->sesparse)
        return cluster_offset_se(e, off, host);
    uint64_t l1_index = (off >> 9) / e->l1_entry_sectors;
    if (l1_index >= e->l1_size)
        return -EIO;
    uint32_t l2 = l1_index < e->l1_loaded ? e->l1[l1_index] : 0;
    if (!l2 && l1_index >= e->l1_loaded && /* its directory runs past the end of the file */
        node_check_pointer(e->file, e->l1_offset + l1_index * 4, 4, 0, "a grain directory entry"))
        return -EIO;
    if (!l2)
        return VMDK_UNALLOC;
    int ret = load_l2(e, l2);
    if (ret < 0)
        return -EIO;
    *l2_index = (off >> 9) / e->cluster_sectors % e->l2_size;
    uint32_t sector = e->l2[*l2_index];
    if (e->zero_grain && sector == VMDK_GTE_ZEROED)
        return VMDK_ZEROED;
    if (!sector)
        return VMDK_UNALLOC;
    *host = (uint64_t)sector << 9;
    return VMDK_OK;
}

static uint64_t offset_in_cluster(const struct extent *e, uint64_t off)
{
    return (off - extent_start(e)) % (e->cluster_sectors * 512);
}

static uint64_t chunk_len(const struct extent *e, uint64_t off, uint64_t len)
{
    uint64_t n = e->cluster_sectors * 512 - offset_in_cluster(e, off);
    return n < len ? n : len;
}

static int read_compressed(struct extent *e, uint64_t host, uint64_t in, uint64_t len, uint8_t *out)
{
    uint64_t cluster_bytes = e->cluster_sectors * 512, buf_len = 2 * cluster_bytes;
    uint8_t *cbuf = malloc(buf_len), *ubuf = malloc(cluster_bytes);
    int ret = cbuf && ubuf ? 0 : -ENOMEM;
    /* qemu reads two grains' worth whatever the grain's size: the last grain of a stream ends
     * before that, and what lies past the file's end reads as zeros here on purpose */
    uint64_t fsize = e->file->size, avail = host < fsize ? fsize - host : 0;
    if (avail > buf_len)
        avail = buf_len;
    if (ret == 0 && (ret = node_check_pointer(e->file, host, 512, e->header_bytes, "a compressed grain")) == 0)
        ret = node_pread(e->file, host, avail, cbuf);
    if (ret < 0)
        goto out;
    memset(cbuf + avail, 0, buf_len - avail);
    const uint8_t *data = cbuf;
    uint64_t data_len = buf_len;
    if (e->has_marker) {
        data = cbuf + 12; /* lba (8), size (4) */
        data_len = get_le32(cbuf + 8);
        if (data_len <= buf_len - 12 &&
            (ret = node_check_pointer(e->file, host, 12 + data_len, e->header_bytes,
                                      "a compressed grain")) < 0)
            goto out;
    }
    uLongf ulen = cluster_bytes;
    if (!data_len || data_len > buf_len ||
        uncompress(ubuf, &ulen, data, (uLong)data_len) != Z_OK || in + len > ulen) {
        ret = -EINVAL;
        goto out;
    }
    memcpy(out, ubuf + in, len);
out:
    free(cbuf);
    free(ubuf);
    return ret;
}

static int vmdk_pread(struct node *n, uint64_t off, uint64_t len, void *buf)
{
    struct vmdk_state *s = st(n);
    uint8_t *p = buf;
    while (len) {
        struct extent *e = find_extent(s, off >> 9);
        if (!e)
            return -EIO;
        uint64_t chunk = chunk_len(e, off, len), host = 0, idx;
        uint64_t in = offset_in_cluster(e, off);
        int kind = cluster_offset(e, off, &host, &idx), ret = 0;
        if (kind < 0)
            return kind;
        if (kind == VMDK_ZEROED)
            memset(p, 0, chunk);
        else if (kind == VMDK_UNALLOC)
            ret = node_read_backing(n, off, chunk, p);
        else if (e->compressed)
            ret = read_compressed(e, host, in, chunk, p);
        else if (!e->flat &&
                 (ret = node_check_pointer(e->file, host, in + chunk, e->header_bytes, "a grain")))
            ;
        else
            ret = node_pread(e->file, host + in, chunk, p);
        if (ret < 0)
            return ret;
        p += chunk;
        off += chunk;
        len -= chunk;
    }
    return 0;
}

static int vmdk_block_status(struct node *n, uint64_t off, uint64_t len, struct block_status *out)
{
    struct extent *e = find_extent(st(n), off >> 9);
    if (!e)
        return -EIO;
    uint64_t host = 0, idx;
    int kind = cluster_offset(e, off, &host, &idx);
    if (kind < 0)
        return -EIO;
    out->len = chunk_len(e, off, len);
    out->flags = kind == VMDK_ZEROED ? BS_ZERO : 0;
    if (kind == VMDK_OK) {
        out->flags = BS_DATA;
        if (!e->compressed) {
            out->flags |= BS_OFFSET_VALID | (e->flat ? BS_RECURSE : 0);
            out->offset = host + offset_in_cluster(e, off);
        }
        out->file = e->file;
    }
    return 0;
}

/* ---- writes (flat extents in place; sparse grains appended, then the grain tables) ---- */

static int update_l2(struct extent *e, uint64_t off, uint64_t l2_index, uint32_t grain)
{
    uint64_t l1_index = ((off - extent_start(e)) >> 9) / e->l1_entry_sectors;
    uint8_t le[4];
    put_le32(le, grain);
    int ret = node_pwrite(e->file, ((uint64_t)e->l1[l1_index] << 9) + l2_index * 4, 4, le);
    if (ret < 0)
        return ret;
    if (e->l2_cached == e->l1[l1_index])
        e->l2[l2_index] = grain;
    if (e->l1_backup && l1_index < e->l1_backup_loaded && e->l1_backup[l1_index])
        ret = node_pwrite(e->file, ((uint64_t)e->l1_backup[l1_index] << 9) + l2_index * 4, 4, le);
    return ret;
}

/* A new grain: what lies below around the written range, then the data, then the table. */
static int alloc_grain(struct node *n, struct extent *e, uint64_t off, uint64_t len,
                       const uint8_t *data, uint64_t l2_index, bool zeroed)
{
    uint64_t cluster_bytes = e->cluster_sectors * 512, in = offset_in_cluster(e, off);
    uint64_t grain = e->next_cluster_sector;
    if (grain + e->cluster_sectors > UINT32_MAX)
        return -EIO;
    uint8_t *buf = malloc(cluster_bytes);
    if (!buf)
        return -ENOMEM;
    /* a zeroed grain's untouched part stays zero; otherwise it is what lies below */
    int ret = 0;
    if (zeroed)
        memset(buf, 0, cluster_bytes);
    else
        ret = node_read_backing(n, off - in, cluster_bytes, buf);
    if (ret == 0) {
        memcpy(buf + in, data, len);
        ret = node_pwrite(e->file, grain << 9, cluster_bytes, buf);
    }
    free(buf);
    if (ret < 0)
        return ret;
    e->next_cluster_sector += e->cluster_sectors;
    return update_l2(e, off, l2_index, (uint32_t)grain);
}

/* A streamOptimized grain (qemu's behaviour): written once, whole, at the end of the file. qemu
 * first allocates a cluster there (filled with what lies below), then checks the request shape,
 * then writes the marker (lba, size) and the deflated data over the cluster's start; the next
 * grain follows the data's last sector. */
static int write_stream_grain(struct node *n, struct extent *e, uint64_t off, uint64_t len,
                              const uint8_t *data, uint64_t l2_index)
{
    uint64_t cluster_bytes = e->cluster_sectors * 512, grain = e->next_cluster_sector;
    uint64_t end = e->end_sector * 512;
    if (grain + e->cluster_sectors > UINT32_MAX)
        return -EIO;
    uLongf clen = compressBound((uLong)len);
    uint64_t buf_len = (12 + (uint64_t)clen + 511) / 512 * 512;
    uint8_t *buf = malloc(buf_len > cluster_bytes ? buf_len : cluster_bytes);
    if (!buf)
        return -ENOMEM;
    int ret = node_read_backing(n, off - offset_in_cluster(e, off), cluster_bytes, buf);
    if (ret == 0)
        ret = node_pwrite(e->file, grain << 9, cluster_bytes, buf);
    if (ret < 0)
        goto out;
    e->next_cluster_sector += e->cluster_sectors;
    if (offset_in_cluster(e, off) || len > cluster_bytes || (len < cluster_bytes && off + len != end)) {
        ret = -EINVAL; /* only whole grains (or the image's tail) */
        goto out;
    }
    memset(buf, 0, buf_len);
    if (compress(buf + 12, &clen, data, (uLong)len) != Z_OK) {
        ret = -EIO;
        goto out;
    }
    if (e->has_marker) {
        put_le64(buf, off >> 9);
        put_le32(buf + 8, (uint32_t)clen);
    }
    buf_len = (12 + (uint64_t)clen + 511) / 512 * 512;
    ret = node_pwrite(e->file, grain << 9, buf_len, buf);
    if (ret < 0)
        goto out;
    e->next_cluster_sector = grain + buf_len / 512;
    ret = update_l2(e, off, l2_index, (uint32_t)grain);
out:
    free(buf);
    return ret;
}

/* streamOptimized extents are append-only: a grain already written cannot be rewritten. */
static int write_stream(struct node *n, struct extent *e, uint64_t off, uint64_t len,
                        const uint8_t *data)
{
    uint64_t host = 0, idx = 0;
    int kind = cluster_offset(e, off, &host, &idx);
    if (kind < 0)
        return kind;
    if (kind == VMDK_OK) {
        error_report("Could not write to allocated cluster for streamOptimized");
        return -EIO;
    }
    uint64_t l1_index = ((off - extent_start(e)) >> 9) / e->l1_entry_sectors;
    if (l1_index >= e->l1_loaded || !e->l1[l1_index])
        return -EIO;
    return write_stream_grain(n, e, off, len, data, idx);
}

/* A written image gets a new random CID, so that children notice (qemu's vmdk_write_cid: the
 * descriptor sector range is rewritten whole, the text re-joined after the new value). */
static int write_new_cid(struct node *n)
{
    struct vmdk_state *s = st(n);
    char desc[DESC_SIZE], tail[DESC_SIZE];
    int ret = node_pread(n->file, s->desc_offset, DESC_SIZE, desc);
    if (ret < 0)
        return ret;
    desc[DESC_SIZE - 1] = 0;
    char *parent = strstr(desc, "parentCID");
    if (!parent)
        return -EINVAL;
    snprintf(tail, sizeof(tail), "%s", parent);
    uint32_t cid;
    if (getrandom(&cid, sizeof(cid), 0) != sizeof(cid))
        cid = (uint32_t)rand();
    char *at = strstr(desc, "CID");
    if (at) {
        at += sizeof("CID");
        snprintf(at, (size_t)(DESC_SIZE - (at - desc)), "%" PRIx32 "\n", cid);
        size_t used = strlen(desc);
        snprintf(desc + used, DESC_SIZE - used, "%s", tail);
        s->cid = cid;
    }
    /* qemu's write stops at the end of the file rounded up to a sector: a descriptor file
     * grows to that, no further */
    uint64_t end = (n->file->size + 511) / 512 * 512, len = DESC_SIZE;
    if (s->desc_offset >= end)
        return -EIO;
    if (len > end - s->desc_offset)
        len = end - s->desc_offset;
    ret = node_pwrite(n->file, s->desc_offset, len, desc);
    return ret < 0 ? ret : node_flush(n->file);
}

static int vmdk_pwrite(struct node *n, uint64_t off, uint64_t len, const void *buf)
{
    struct vmdk_state *s = st(n);
    const uint8_t *p = buf;
    if (!s->cid_updated) {
        int ret = write_new_cid(n);
        if (ret < 0)
            return ret;
        s->cid_updated = true;
    }
    while (len) {
        struct extent *e = find_extent(s, off >> 9);
        if (!e)
            return -EIO;
        uint64_t chunk = chunk_len(e, off, len), host = 0, idx = 0;
        int kind = e->compressed ? 0 : cluster_offset(e, off, &host, &idx), ret;
        if (kind < 0)
            return kind;
        if (e->compressed) {
            ret = write_stream(n, e, off, chunk, p);
        } else if (kind == VMDK_OK) {
            ret = node_pwrite(e->file, host + offset_in_cluster(e, off), chunk, p);
        } else {
            uint64_t l1_index = ((off - extent_start(e)) >> 9) / e->l1_entry_sectors;
            if (l1_index >= e->l1_loaded || !e->l1[l1_index])
                return -EIO; /* qemu's images have every grain table preallocated */
            ret = alloc_grain(n, e, off, chunk, p, idx, kind == VMDK_ZEROED);
        }
        if (ret < 0)
            return ret;
        p += chunk;
        off += chunk;
        len -= chunk;
    }
    return 0;
}

/* Zero writes: whole grains of extents with the zeroed-grain feature become zeroed GTEs (qemu
 * first checks the whole range, then updates); anything else is written as zero buffers by the
 * core. */
static int zero_grains(struct node *n, uint64_t off, uint64_t len, bool dry_run)
{
    struct vmdk_state *s = st(n);
    while (len) {
        struct extent *e = find_extent(s, off >> 9);
        if (!e)
            return -EIO;
        uint64_t cluster_bytes = e->cluster_sectors * 512, host = 0, idx = 0;
        if (e->flat || !e->zero_grain || offset_in_cluster(e, off) || len < cluster_bytes)
            return -ENOTSUP;
        int kind = cluster_offset(e, off, &host, &idx);
        if (kind < 0)
            return kind;
        uint64_t l1_index = ((off - extent_start(e)) >> 9) / e->l1_entry_sectors;
        if (l1_index >= e->l1_loaded || !e->l1[l1_index])
            return -EIO;
        if (!dry_run && kind != VMDK_ZEROED) {
            int ret = update_l2(e, off, idx, VMDK_GTE_ZEROED);
            if (ret < 0)
                return ret;
        }
        off += cluster_bytes;
        len -= cluster_bytes;
    }
    return 0;
}

static int vmdk_pwrite_zeroes(struct node *n, uint64_t off, uint64_t len, int flags)
{
    (void)flags;
    int ret = zero_grains(n, off, len, true);
    if (ret < 0)
        return ret;
    if (!st(n)->cid_updated) {
        ret = write_new_cid(n);
        if (ret < 0)
            return ret;
        st(n)->cid_updated = true;
    }
    return zero_grains(n, off, len, false);
}

static int vmdk_flush(struct node *n)
{
    struct vmdk_state *s = st(n);
    for (int i = 0; i < s->num_extents; i++) {
        if (s->extents[i].own_file) {
            int ret = node_flush(s->extents[i].file);
            if (ret < 0)
                return ret;
        }
    }
    return 0;
}

static int64_t vmdk_allocated_size(struct node *n)
{
    struct vmdk_state *s = st(n);
    int64_t total = node_allocated_size(n->file);
    if (total < 0)
        return total;
    for (int i = 0; i < s->num_extents; i++) {
        if (!s->extents[i].own_file)
            continue;
        int64_t r = node_allocated_size(s->extents[i].file);
        if (r < 0)
            return r;
        total += r;
    }
    return total;
}

static bool vmdk_has_zero_init(struct node *n)
{
    struct vmdk_state *s = st(n);
    for (int i = 0; i < s->num_extents; i++)
        if (s->extents[i].flat && !node_has_zero_init(s->extents[i].file))
            return false;
    return true;
}

static json_object *extent_info(const struct extent *e)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "filename", json_object_new_string(node_name(e->file)));
    json_object_object_add(o, "format", json_object_new_string(e->type ? e->type : ""));
    json_object_object_add(o, "virtual-size", json_object_new_int64((int64_t)(e->sectors * 512)));
    if (e->compressed)
        json_object_object_add(o, "compressed", json_object_new_boolean(1));
    if (!e->flat)
        json_object_object_add(o, "cluster-size",
                               json_object_new_int64((int64_t)(e->cluster_sectors * 512)));
    return o;
}

static int vmdk_get_info(struct node *n, struct node_info *info, struct error **errp)
{
    (void)errp;
    struct vmdk_state *s = st(n);
    /* qemu's vmdk_get_info fails unless all extents are of one kind (then info has no cluster
     * size nor dirty flag) */
    const struct extent *e0 = &s->extents[0];
    bool same = true;
    for (int i = 1; i < s->num_extents; i++) {
        const struct extent *e = &s->extents[i];
        same &= e->flat == e0->flat && e->compressed == e0->compressed &&
                (e->flat || e->cluster_sectors == e0->cluster_sectors);
    }
    info->no_block_info = !same;
    if (same && !e0->flat)
        info->cluster_size = e0->cluster_sectors * 512;
    info->needs_compressed_writes = s->extents[0].compressed;
    json_object *data = json_object_new_object();
    json_object_object_add(data, "create-type",
                           json_object_new_string(s->create_type ? s->create_type : ""));
    json_object_object_add(data, "cid", json_object_new_int64(s->cid));
    json_object_object_add(data, "parent-cid", json_object_new_int64(s->parent_cid));
    json_object *list = json_object_new_array();
    for (int i = 0; i < s->num_extents; i++)
        json_object_array_add(list, extent_info(&s->extents[i]));
    json_object_object_add(data, "extents", list);
    json_object *spec = json_object_new_object();
    json_object_object_add(spec, "type", json_object_new_string("vmdk"));
    json_object_object_add(spec, "data", data);
    info->format_specific = spec;
    return 0;
}

/* qemu 7.2's vmdk check: walk the image grain by grain and stop at the first grain that has no
 * extent, whose tables cannot be read or that points past the end of its file (reported on
 * stderr). Whatever ends the walk counts as one corruption, as in qemu; nothing is repaired. */
static int vmdk_check(struct node *n, struct check_result *res, int fix)
{
    struct vmdk_state *s = st(n);
    uint64_t sector = 0, total = n->size / 512;
    int ret;
    if (fix)
        return -ENOTSUP;
    for (;;) {
        if (sector >= total)
            return 0;
        struct extent *e = find_extent(s, sector);
        if (!e) {
            fprintf(stderr, "ERROR: could not find extent for sector %" PRIu64 "\n", sector);
            ret = -EINVAL;
            break;
        }
        uint64_t host = 0, idx;
        int kind = cluster_offset(e, sector * 512, &host, &idx);
        if (kind < 0) {
            fprintf(stderr, "ERROR: could not get cluster_offset for sector %" PRIu64 "\n",
                    sector);
            ret = -EPERM; /* qemu returns its VMDK_ERROR, -1 */
            break;
        }
        if (kind == VMDK_OK && host >= (e->file->size + 511) / 512 * 512) {
            fprintf(stderr, "ERROR: cluster offset for sector %" PRIu64 " points after EOF\n",
                    sector);
            ret = -EINVAL;
            break;
        }
        if (!e->cluster_sectors)
            return 0; /* an empty flat extent: nothing more to walk */
        sector += e->cluster_sectors;
    }
    res->corruptions++;
    return ret;
}

/* ---- creation ---- */

struct create_params {
    uint64_t size;
    const char *adapter, *hwversion, *toolsversion, *subformat, *backing;
    bool compat6, zeroed_grain;
    bool flat, split, compress;
    uint32_t parent_cid;
};

/* A hosted sparse extent of `size` bytes: header, descriptor space, both grain directories
 * and their tables, data from grain_offset on. */
static int create_sparse_extent(struct node *f, uint64_t size, const struct create_params *p)
{
    uint8_t h[512] = { 0 };
    uint64_t capacity = size / 512, granularity = 128, gtes = 512;
    uint64_t grains = (capacity + granularity - 1) / granularity;
    uint64_t gt_size = (gtes * 4 + 511) / 512, gt_count = (grains + gtes - 1) / gtes;
    uint64_t gd_sectors = (gt_count * 4 + 511) / 512;
    uint64_t rgd = 1 + 20, gd = rgd + gd_sectors + gt_size * gt_count;
    uint64_t grain_offset = (gd + gd_sectors + gt_size * gt_count + granularity - 1) /
                            granularity * granularity;
    put_be32(h, VMDK4_MAGIC);
    put_le32(h + V_VERSION, p->compress ? 3 : p->zeroed_grain ? 2 : 1);
    put_le32(h + V_FLAGS, VMDK4_FLAG_RGD | VMDK4_FLAG_NL_DETECT |
                              (p->compress ? VMDK4_FLAG_COMPRESS | VMDK4_FLAG_MARKER : 0) |
                              (p->zeroed_grain ? VMDK4_FLAG_ZERO_GRAIN : 0));
    put_le64(h + V_CAPACITY, capacity);
    put_le64(h + V_GRANULARITY, granularity);
    put_le64(h + V_DESC_OFFSET, 1);
    put_le64(h + V_DESC_SIZE, 20);
    put_le32(h + V_NUM_GTES, (uint32_t)gtes);
    put_le64(h + V_RGD_OFFSET, rgd);
    put_le64(h + V_GD_OFFSET, gd);
    put_le64(h + V_GRAIN_OFFSET, grain_offset);
    memcpy(h + V_CHECK, "\n \r\n", 4);
    put_le16(h + V_COMPRESS, p->compress ? 1 : 0);
    int ret = node_pwrite(f, 0, V_HEADER_END, h);
    if (ret == 0)
        ret = node_truncate(f, grain_offset << 9, true, PREALLOC_OFF, NULL);
    uint8_t *dir = calloc(gd_sectors ? gd_sectors : 1, 512);
    if (!dir)
        return -ENOMEM;
    for (int pass = 0; ret == 0 && pass < 2; pass++) {
        uint64_t at = pass ? gd : rgd;
        for (uint64_t i = 0; i < gt_count; i++)
            put_le32(dir + 4 * i, (uint32_t)(at + gd_sectors + i * gt_size));
        ret = node_pwrite(f, at * 512, gd_sectors * 512, dir);
    }
    free(dir);
    return ret;
}

static char *make_desc(const struct create_params *p, const char *extent_lines, uint32_t cid)
{
    char parent[4200] = "";
    if (p->backing)
        snprintf(parent, sizeof(parent), "parentFileNameHint=\"%s\"", p->backing);
    const char *hw = p->compat6 ? "6" : strcmp(p->hwversion, "undefined") ? p->hwversion : "4";
    uint32_t heads = strcmp(p->adapter, "ide") ? 255 : 16;
    const char *type = p->subformat;
    char *desc = NULL;
    if (asprintf(&desc,
                 "# Disk DescriptorFile\nversion=1\nCID=%" PRIx32 "\nparentCID=%" PRIx32
                 "\ncreateType=\"%s\"\n%s\n# Extent description\n%s\n# The Disk Data Base\n"
                 "#DDB\n\nddb.virtualHWVersion = \"%s\"\nddb.geometry.cylinders = \"%" PRId64
                 "\"\nddb.geometry.heads = \"%" PRIu32 "\"\nddb.geometry.sectors = \"63\"\n"
                 "ddb.adapterType = \"%s\"\nddb.toolsVersion = \"%s\"\n",
                 cid, p->parent_cid, type, parent, extent_lines, hw,
                 (int64_t)(p->size / 512 / (heads * 63)), heads, p->adapter,
                 p->toolsversion) < 0)
        return NULL;
    return desc;
}

static int create_extent_file(const char *path, uint64_t size, const struct create_params *p,
                              struct error **errp)
{
    int ret = file_create(path, 0, PREALLOC_OFF, errp);
    if (ret < 0)
        return ret;
    struct node *f = node_open(path, "file", NULL, NODE_RDWR, errp);
    if (!f)
        return -EIO;
    if (p->flat) {
        ret = node_truncate(f, size, false, PREALLOC_OFF, errp);
        /* qemu's file protocol allocates the first block when it grows an empty file */
        uint8_t zeros[4096] = { 0 };
        uint64_t first = size < sizeof(zeros) ? size : sizeof(zeros);
        if (ret == 0 && first)
            ret = node_pwrite(f, 0, first, zeros);
    } else {
        ret = create_sparse_extent(f, size, p);
    }
    node_close(f);
    return ret;
}

/* qemu's filename_decompose: the directory ends at the last '/', else '\\', else ':'. */
static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    if (!b)
        b = strrchr(path, '\\');
    if (!b)
        b = strrchr(path, ':');
    return b ? b + 1 : path;
}

static int parse_params(struct opts *opts, struct create_params *p, struct error **errp)
{
    memset(p, 0, sizeof(*p));
    p->adapter = "ide";
    p->hwversion = "undefined";
    p->toolsversion = "2147483647";
    p->subformat = "monolithicSparse";
    p->parent_cid = UINT32_MAX;
    if (opts_get_size(opts, "size", &p->size, errp) < 0 ||
        opts_get_bool(opts, "compat6", &p->compat6, errp) < 0 ||
        opts_get_bool(opts, "zeroed_grain", &p->zeroed_grain, errp) < 0)
        return -EINVAL;
    p->size = p->size > UINT64_MAX - 511 ? p->size : (p->size + 511) & ~511ull;
    if (opts_get(opts, "adapter_type"))
        p->adapter = opts_get(opts, "adapter_type");
    if (opts_get(opts, "hwversion"))
        p->hwversion = opts_get(opts, "hwversion");
    if (opts_get(opts, "toolsversion"))
        p->toolsversion = opts_get(opts, "toolsversion");
    if (opts_get(opts, "subformat"))
        p->subformat = opts_get(opts, "subformat");
    p->backing = opts_get(opts, "backing_file");
    const char *sub = p->subformat, *ad = p->adapter;
    if (strcmp(ad, "ide") && strcmp(ad, "lsilogic") && strcmp(ad, "buslogic") &&
        strcmp(ad, "legacyESX")) {
        error_setg(errp, "invalid parameter value: %s", ad);
        return -EINVAL;
    }
    if (strcmp(sub, "monolithicSparse") && strcmp(sub, "monolithicFlat") &&
        strcmp(sub, "twoGbMaxExtentSparse") && strcmp(sub, "twoGbMaxExtentFlat") &&
        strcmp(sub, "streamOptimized")) {
        error_setg(errp, "invalid parameter value: %s", sub);
        return -EINVAL;
    }
    if (p->compat6 && strcmp(p->hwversion, "undefined")) {
        error_setg(errp, "compat6 cannot be enabled with hwversion set");
        return -EINVAL;
    }
    const char *bfmt = opts_get(opts, "backing_fmt");
    if (bfmt && strcmp(bfmt, "vmdk")) {
        error_setg(errp, "backing_file must be a vmdk image");
        return -EINVAL;
    }
    p->flat = !strcmp(sub, "monolithicFlat") || !strcmp(sub, "twoGbMaxExtentFlat");
    p->split = !strncmp(sub, "twoGb", 5);
    p->compress = !strcmp(sub, "streamOptimized");
    if (p->flat && p->zeroed_grain) {
        error_setg(errp, "Flat image can't enable zeroed grain");
        return -ENOTSUP;
    }
    return 0;
}

static int backing_cid(const char *filename, const char *backing, uint32_t *cid,
                       struct error **errp)
{
    struct node tmp = { .filename = (char *)filename };
    char *full = node_resolve_backing_path(&tmp, backing);
    struct node *b = node_open(full, NULL, NULL, NODE_FORCE_SHARE | NODE_NO_BACKING, errp);
    free(full);
    if (!b)
        return -EIO;
    int ret = 0;
    if (strcmp(b->drv->name, "vmdk")) {
        error_setg(errp, "Invalid backing file format: %s. Must be vmdk.", b->drv->name);
        ret = -EINVAL;
    } else {
        *cid = st(b)->cid;
    }
    node_close(b);
    return ret;
}

static int write_descriptor(const char *filename, const struct create_params *p,
                            const char *lines, bool embedded, struct error **errp)
{
    uint32_t cid;
    if (getrandom(&cid, sizeof(cid), 0) != sizeof(cid))
        cid = (uint32_t)rand();
    char *desc = make_desc(p, lines, cid);
    if (!desc)
        return -ENOMEM;
    int ret = 0;
    if (!embedded)
        ret = file_create(filename, 0, PREALLOC_OFF, errp);
    struct node *f = ret < 0 ? NULL : node_open(filename, "file", NULL, NODE_RDWR, errp);
    if (!f) {
        free(desc);
        return ret < 0 ? ret : -EIO;
    }
    size_t len = strlen(desc);
    if (embedded && len > DESC_SIZE) {
        ret = -EINVAL;
        error_setg(errp, "Descriptor too long");
    } else {
        ret = node_pwrite(f, embedded ? 512 : 0, len, desc);
    }
    if (ret == 0 && !embedded)
        ret = node_truncate(f, len, false, PREALLOC_OFF, errp);
    node_close(f);
    free(desc);
    return ret;
}

static int vmdk_create(const char *filename, struct opts *opts, struct error **errp)
{
    struct create_params p;
    /* unlike the other formats, qemu checks vmdk's options before creating any file */
    int ret = parse_params(opts, &p, errp);
    if (ret < 0 || (ret = file_create_for_format(filename, opts, errp)) < 0)
        return ret;
    if (p.backing && (ret = backing_cid(filename, p.backing, &p.parent_cid, errp)) < 0)
        return ret;
    bool monolithic = !p.split && !p.flat;
    /* extents are named after the image: its name up to the last '.', a suffix, the rest */
    char prefix[4096], postfix[4096] = "", dir[4096] = "";
    snprintf(prefix, sizeof(prefix), "%s", base_name(filename));
    char *dot = strrchr(prefix, '.');
    if (dot) {
        snprintf(postfix, sizeof(postfix), "%s", dot);
        *dot = 0;
    }
    snprintf(dir, sizeof(dir), "%.*s", (int)(base_name(filename) - filename), filename);
    char *lines = calloc(1, 1);
    uint64_t extent_max = p.split ? 2ull << 30 : p.size, left = p.size;
    /* like qemu, a split or flat image of size 0 gets no extent at all */
    for (int idx = 1; lines && (left > 0 || monolithic); idx++) {
        uint64_t size = left < extent_max ? left : extent_max;
        char name[4200], path[8400], *more;
        if (monolithic)
            snprintf(name, sizeof(name), "%s", base_name(filename));
        else if (!p.split)
            snprintf(name, sizeof(name), "%s-flat%s", prefix, postfix);
        else
            snprintf(name, sizeof(name), "%s-%c%03d%s", prefix, p.flat ? 'f' : 's', idx, postfix);
        snprintf(path, sizeof(path), "%s%s", dir, name);
        ret = create_extent_file(monolithic ? filename : path, size, &p, errp);
        if (ret < 0)
            break;
        if (asprintf(&more, "%sRW %" PRId64 " %s \"%s\"%s\n", lines, (int64_t)(size / 512),
                     p.flat ? "FLAT" : "SPARSE", name, p.flat ? " 0" : "") < 0) {
            ret = -ENOMEM;
            break;
        }
        free(lines);
        lines = more;
        left -= size;
        if (monolithic)
            break;
    }
    if (!lines)
        ret = -ENOMEM;
    if (ret == 0)
        ret = write_descriptor(filename, &p, lines, monolithic, errp);
    free(lines);
    return ret;
}

const struct driver driver_vmdk = {
    .name = "vmdk",
    .flags = DRV_BACKING,
    .create_opts = vmdk_create_opts,
    .probe = vmdk_probe,
    .open = vmdk_open,
    .close = vmdk_close,
    .pread = vmdk_pread,
    .pwrite = vmdk_pwrite,
    .pwrite_zeroes = vmdk_pwrite_zeroes,
    .pwrite_compressed = vmdk_pwrite, /* qemu writes them like any other */
    .flush = vmdk_flush,
    .block_status = vmdk_block_status,
    .allocated_size = vmdk_allocated_size,
    .has_zero_init = vmdk_has_zero_init,
    .create = vmdk_create,
    .get_info = vmdk_get_info,
    .check = vmdk_check,
};
