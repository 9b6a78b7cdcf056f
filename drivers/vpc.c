/* The VHD format (qemu's "vpc" driver, 7.2 behaviour): fixed images (data then a 512-byte footer)
 * and dynamic images (footer copy, "cxsparse" header, block allocation table, blocks each preceded
 * by a sector bitmap). Follows Microsoft's VHD specification and qemu's size/geometry rules. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "bswap.h"
#include "file.h"
#include "node.h"

#define VHD_FOOTER_SIZE 512
#define VHD_DYN_HEADER_SIZE 1024
#define VHD_FIXED 2
#define VHD_DYNAMIC 3
#define VHD_TIMESTAMP_BASE 946684800u      /* 2000-01-01 00:00:00 UTC */
#define VHD_MAX_SECTORS 0xff000000ull      /* 2040 GiB */
#define VHD_MAX_GEOMETRY (65535ull * 16 * 255)
#define VHD_BAT_FREE 0xffffffffu
#define VHD_DEFAULT_BLOCK 0x200000u

/* Footer field offsets (big-endian). */
enum {
    F_COOKIE = 0, F_FEATURES = 8, F_VERSION = 12, F_DATA_OFFSET = 16, F_TIMESTAMP = 24,
    F_CREATOR_APP = 28, F_CREATOR_VER = 32, F_CREATOR_OS = 36, F_ORIG_SIZE = 40,
    F_CUR_SIZE = 48, F_CYLS = 56, F_HEADS = 58, F_SECS = 59, F_TYPE = 60, F_CHECKSUM = 64,
    F_UUID = 68,
};
/* Dynamic disk header field offsets. */
enum {
    D_COOKIE = 0, D_DATA_OFFSET = 8, D_TABLE_OFFSET = 16, D_VERSION = 24, D_MAX_ENTRIES = 28,
    D_BLOCK_SIZE = 32, D_CHECKSUM = 36,
};

struct vpc_state {
    uint8_t footer[VHD_FOOTER_SIZE];
    bool fixed;
    uint32_t *bat;               /* host-endian copy of the BAT */
    uint32_t max_entries;
    uint32_t block_size;
    uint32_t bitmap_size;
    uint64_t bat_offset;
    uint64_t free_offset;        /* where the next block goes (and the footer lives) */
    uint64_t last_bitmap_offset; /* bitmap already set to all ones by this open */
    uint64_t header_end;         /* the footer copy and the dynamic header: no block lies there */
};

static const struct opt_desc vpc_open_opts[] = {
    { "force_size_calc", OPT_STRING,
      "Force disk size calculation to use either CHS geometry, or use the disk current_size "
      "specified in the VHD footer. {chs, current_size}", NULL },
    { NULL, 0, NULL, NULL },
};

static const struct opt_desc vpc_create_opts[] = {
    { "size", OPT_SIZE, "Virtual disk size", NULL },
    { "subformat", OPT_STRING,
      "Type of virtual hard disk format. Supported formats are {dynamic (default) | fixed} ", NULL },
    { "force_size", OPT_BOOL,
      "Force disk size calculation to use the actual size specified, rather than using the "
      "nearest CHS-based calculation", NULL },
    { NULL, 0, NULL, NULL },
};

static struct vpc_state *st(struct node *n)
{
    return n->state;
}

static uint32_t vpc_checksum(const uint8_t *buf, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += buf[i];
    return ~sum;
}

static int vpc_probe(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    return len >= 8 && !memcmp(buf, "conectix", 8) ? 100 : 0;
}

/* Which creators record the true size in current_size rather than in the CHS geometry. */
static bool creator_uses_current_size(const uint8_t *footer)
{
    static const char *const apps[] = { "win ", "qem2", "d2v ", "CTXS" };
    const uint8_t *app = footer + F_CREATOR_APP;
    for (size_t i = 0; i < sizeof(apps) / sizeof(apps[0]); i++) {
        if (!memcmp(app, apps[i], 4))
            return true;
    }
    return !memcmp(app, "tap", 4); /* "tap\0" */
}

static int read_footer(struct node *n, struct error **errp)
{
    struct vpc_state *s = st(n);
    int ret = node_pread(n->file, 0, VHD_FOOTER_SIZE, s->footer);
    if (ret < 0) {
        error_setg(errp, "Unable to read VHD header");
        return ret;
    }
    if (!memcmp(s->footer, "conectix", 8))
        return 0;
    uint64_t len = n->file->size;
    if (len < VHD_FOOTER_SIZE) {
        error_setg(errp, "File too small for a VHD header");
        return -EINVAL;
    }
    ret = node_pread(n->file, len - VHD_FOOTER_SIZE, VHD_FOOTER_SIZE, s->footer);
    if (ret < 0)
        return ret;
    if (memcmp(s->footer, "conectix", 8) || get_be32(s->footer + F_TYPE) != VHD_FIXED) {
        error_setg(errp, "invalid VPC image");
        return -EINVAL;
    }
    s->fixed = true;
    return 0;
}

static int footer_checksum_ok(const uint8_t *footer)
{
    uint8_t copy[VHD_FOOTER_SIZE];
    memcpy(copy, footer, sizeof(copy));
    put_be32(copy + F_CHECKSUM, 0);
    return vpc_checksum(copy, sizeof(copy)) == get_be32(footer + F_CHECKSUM);
}

static int parse_size_calc(struct opts *opts, bool *force_chs, bool *force_cur,
                           struct error **errp)
{
    const char *mode = opts_get(opts, "force_size_calc");
    *force_chs = *force_cur = false;
    if (!mode)
        return 0;
    if (!strcmp(mode, "chs")) {
        *force_chs = true;
    } else if (!strcmp(mode, "current_size")) {
        *force_cur = true;
    } else {
        error_setg(errp, "Invalid size calculation mode: '%s'", mode);
        return -EINVAL;
    }
    return 0;
}

/* Read and check the dynamic header and the BAT. */
static int open_dynamic(struct node *n, uint64_t total_sectors, struct error **errp)
{
    struct vpc_state *s = st(n);
    uint8_t h[VHD_DYN_HEADER_SIZE];
    uint64_t hoff = get_be64(s->footer + F_DATA_OFFSET);
    if (hoff > INT64_MAX - sizeof(h) || node_pread(n->file, hoff, sizeof(h), h) < 0) {
        error_setg(errp, "Error reading dynamic VHD header");
        return -EIO;
    }
    if (memcmp(h + D_COOKIE, "cxsparse", 8)) {
        error_setg(errp, "Invalid header magic");
        return -EINVAL;
    }
    /* the footer copy at 0 and, where every VHD writer puts it, the dynamic header after it */
    s->header_end = hoff == VHD_FOOTER_SIZE ? hoff + sizeof(h) : VHD_FOOTER_SIZE;
    s->block_size = get_be32(h + D_BLOCK_SIZE);
    if (s->block_size < 512 || (s->block_size & (s->block_size - 1))) {
        error_setg(errp, "Invalid block size %u", s->block_size);
        return -EINVAL;
    }
    s->bitmap_size = ((s->block_size / (8 * 512)) + 511) & ~511u;
    s->max_entries = get_be32(h + D_MAX_ENTRIES);
    if (total_sectors * 512 / s->block_size > 0xffffffffu) {
        error_setg(errp, "Too many blocks");
        return -EINVAL;
    }
    /* qemu keeps the count in an int: counts >= 2^31 pass the size test and fail the next one */
    if (s->max_entries <= INT32_MAX &&
        (uint64_t)s->max_entries * s->block_size < total_sectors * 512) {
        error_setg(errp, "Page table too small");
        return -EINVAL;
    }
    if (s->max_entries > INT32_MAX / 4) {
        error_setg(errp, "Max Table Entries too large (%d)", (int32_t)s->max_entries);
        return -EINVAL;
    }
    uint64_t bat_bytes = (uint64_t)s->max_entries * 4, end;
    s->bat_offset = get_be64(h + D_TABLE_OFFSET);
    if (__builtin_add_overflow(s->bat_offset, bat_bytes, &end) || end > INT64_MAX - 511) {
        error_setg(errp, "Error reading pagetable");
        return -EIO;
    }
    s->free_offset = (end + 511) & ~511ull;
    /* a table reaching past the end of the file cannot be valid: fail before allocating it */
    if (s->free_offset > n->file->size)
        goto truncated;
    uint8_t *raw = malloc(bat_bytes ? bat_bytes : 1);
    s->bat = malloc((bat_bytes ? bat_bytes : 1));
    if (!raw || !s->bat) {
        free(raw);
        error_setg(errp, "Unable to allocate memory for page table");
        return -ENOMEM;
    }
    int ret = node_pread(n->file, s->bat_offset, bat_bytes, raw);
    if (ret < 0) {
        free(raw);
        error_setg(errp, "Error reading pagetable");
        return ret;
    }
    for (uint32_t i = 0; i < s->max_entries; i++) {
        s->bat[i] = get_be32(raw + 4 * (uint64_t)i);
        if (s->bat[i] == VHD_BAT_FREE)
            continue;
        uint64_t next = 512 * (uint64_t)s->bat[i] + s->bitmap_size + s->block_size;
        if (next > s->free_offset)
            s->free_offset = next;
    }
    free(raw);
    if (s->free_offset > n->file->size)
        goto truncated;
    s->last_bitmap_offset = UINT64_MAX;
    return 0;
truncated:
    error_setg(errp, "block-vpc: free_data_block_offset points after the end of file. The image "
                     "has been truncated.");
    return -EINVAL;
}

static int vpc_open(struct node *n, struct opts *opts, struct error **errp)
{
    struct vpc_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    n->state = s;
    bool force_chs, force_cur;
    int ret = parse_size_calc(opts, &force_chs, &force_cur, errp);
    if (ret < 0)
        return ret;
    ret = read_footer(n, errp);
    if (ret < 0)
        return ret;
    if (!footer_checksum_ok(s->footer)) {
        error_setg(errp, "Incorrect header checksum");
        return -EINVAL;
    }
    const uint8_t *f = s->footer;
    uint64_t total_sectors = (uint64_t)get_be16(f + F_CYLS) * f[F_HEADS] * f[F_SECS];
    bool use_chs = !creator_uses_current_size(f) || force_chs;
    if (!use_chs || total_sectors == VHD_MAX_GEOMETRY || force_cur)
        total_sectors = get_be64(f + F_CUR_SIZE) / 512;
    if (total_sectors > VHD_MAX_SECTORS) {
        /* qemu has no message of its own here: the block layer's generic one shows */
        error_setg_errno(errp, EFBIG, "Could not open '%s'", node_name(n));
        return -EFBIG;
    }
    n->size = total_sectors * 512;
    if (s->fixed)
        return 0;
    return open_dynamic(n, total_sectors, errp);
}

static void vpc_close(struct node *n)
{
    struct vpc_state *s = st(n);
    if (!s)
        return;
    free(s->bat);
    free(s);
    n->state = NULL;
}

/* Host offset of guest byte `off`, or UINT64_MAX when its block is unallocated. */
static uint64_t host_offset(struct vpc_state *s, uint64_t off)
{
    uint64_t index = off / s->block_size;
    if (index >= s->max_entries || s->bat[index] == VHD_BAT_FREE)
        return UINT64_MAX;
    return 512 * (uint64_t)s->bat[index] + s->bitmap_size + off % s->block_size;
}

static uint64_t chunk_in_block(struct vpc_state *s, uint64_t off, uint64_t len)
{
    uint64_t n = s->block_size - off % s->block_size;
    return n < len ? n : len;
}

static int vpc_pread(struct node *n, uint64_t off, uint64_t len, void *buf)
{
    struct vpc_state *s = st(n);
    if (s->fixed)
        return node_pread(n->file, off, len, buf);
    uint8_t *p = buf;
    while (len) {
        uint64_t chunk = chunk_in_block(s, off, len);
        uint64_t host = host_offset(s, off);
        if (host == UINT64_MAX) {
            memset(p, 0, chunk);
        } else {
            /* the block starts with its bitmap: on the headers, the block is corrupt */
            uint64_t block = host - off % s->block_size - s->bitmap_size;
            int ret = node_check_pointer(n->file, block, host + chunk - block, s->header_end,
                                         "a block");
            if (ret == 0)
                ret = node_pread(n->file, host, chunk, p);
            if (ret < 0)
                return ret;
        }
        p += chunk;
        off += chunk;
        len -= chunk;
    }
    return 0;
}

static int pwrite_sync(struct node *n, uint64_t off, uint64_t len, const void *buf)
{
    int ret = node_pwrite(n->file, off, len, buf);
    return ret < 0 ? ret : node_flush(n->file);
}

static int write_full_bitmap(struct node *n, uint64_t bitmap_offset)
{
    struct vpc_state *s = st(n);
    uint8_t *bitmap = malloc(s->bitmap_size);
    if (!bitmap)
        return -ENOMEM;
    memset(bitmap, 0xff, s->bitmap_size);
    int ret = pwrite_sync(n, bitmap_offset, s->bitmap_size, bitmap);
    free(bitmap);
    return ret;
}

/* Append a block at the old footer's place: bitmap, then the footer after the block, then the
 * BAT entry, each synced, so a crash leaves at worst an unreferenced block. */
static int alloc_block(struct node *n, uint64_t off)
{
    struct vpc_state *s = st(n);
    uint64_t index = off / s->block_size;
    uint64_t block = s->free_offset, footer_at;
    if (index >= s->max_entries || block % 512 || block / 512 >= VHD_BAT_FREE ||
        __builtin_add_overflow(block, (uint64_t)s->bitmap_size + s->block_size, &footer_at))
        return -EIO;
    int ret = write_full_bitmap(n, block);
    if (ret < 0)
        return ret;
    ret = pwrite_sync(n, footer_at, VHD_FOOTER_SIZE, s->footer);
    if (ret < 0)
        return ret;
    uint8_t entry[4];
    put_be32(entry, (uint32_t)(block / 512));
    ret = pwrite_sync(n, s->bat_offset + 4 * index, 4, entry);
    if (ret < 0)
        return ret;
    s->bat[index] = (uint32_t)(block / 512);
    s->free_offset = footer_at;
    s->last_bitmap_offset = block;
    return 0;
}

static int vpc_pwrite(struct node *n, uint64_t off, uint64_t len, const void *buf)
{
    struct vpc_state *s = st(n);
    if (s->fixed)
        return node_pwrite(n->file, off, len, buf);
    const uint8_t *p = buf;
    while (len) {
        uint64_t chunk = chunk_in_block(s, off, len);
        uint64_t host = host_offset(s, off);
        int ret;
        if (host == UINT64_MAX) {
            ret = alloc_block(n, off);
            if (ret < 0)
                return ret;
            host = host_offset(s, off);
        } else {
            uint64_t bitmap_offset = host - off % s->block_size - s->bitmap_size;
            if (bitmap_offset != s->last_bitmap_offset) {
                /* every sector of a block we write to is marked used */
                ret = write_full_bitmap(n, bitmap_offset);
                if (ret < 0)
                    return ret;
                s->last_bitmap_offset = bitmap_offset;
            }
        }
        ret = node_pwrite(n->file, host, chunk, p);
        if (ret < 0)
            return ret;
        p += chunk;
        off += chunk;
        len -= chunk;
    }
    return 0;
}

static int vpc_block_status(struct node *n, uint64_t off, uint64_t len, struct block_status *out)
{
    struct vpc_state *s = st(n);
    if (s->fixed) {
        out->len = len;
        out->offset = off;
        out->file = n->file;
        out->flags = BS_DATA | BS_OFFSET_VALID | BS_RECURSE;
        return 0;
    }
    uint64_t host = host_offset(s, off);
    if (host != UINT64_MAX) {
        /* one block at most: the next block's bitmap lies in between */
        out->len = chunk_in_block(s, off, len);
        out->offset = host;
        out->file = n->file;
        out->flags = BS_DATA | BS_OFFSET_VALID;
        return 0;
    }
    uint64_t done = 0;
    while (done < len && host_offset(s, off + done) == UINT64_MAX)
        done += chunk_in_block(s, off + done, len - done);
    out->len = done;
    out->flags = BS_ZERO;
    return 0;
}

static bool vpc_has_zero_init(struct node *n)
{
    return st(n)->fixed ? node_has_zero_init(n->file) : true;
}

static int vpc_get_info(struct node *n, struct node_info *info, struct error **errp)
{
    (void)errp;
    if (!st(n)->fixed)
        info->cluster_size = st(n)->block_size;
    return 0;
}

/* ---- creation ---- */

/* CHS geometry for a sector count, as the VHD specification's appendix computes it. */
static void vhd_geometry(uint64_t total_sectors, uint16_t *cyls, uint8_t *heads, uint8_t *secs)
{
    uint32_t cyls_times_heads;
    if (total_sectors > VHD_MAX_GEOMETRY)
        total_sectors = VHD_MAX_GEOMETRY;
    if (total_sectors >= 65535ull * 16 * 63) {
        *secs = 255;
        *heads = 16;
        cyls_times_heads = (uint32_t)(total_sectors / *secs);
    } else {
        *secs = 17;
        cyls_times_heads = (uint32_t)(total_sectors / *secs);
        uint32_t h = (cyls_times_heads + 1023) / 1024;
        if (h < 4)
            h = 4;
        if (cyls_times_heads >= h * 1024 || h > 16) {
            *secs = 31;
            h = 16;
            cyls_times_heads = (uint32_t)(total_sectors / *secs);
        }
        if (cyls_times_heads >= h * 1024) {
            *secs = 63;
            h = 16;
            cyls_times_heads = (uint32_t)(total_sectors / *secs);
        }
        *heads = (uint8_t)h;
    }
    *cyls = (uint16_t)(cyls_times_heads / *heads);
}

/* Round the requested size up to what a CHS geometry can express (or keep it with the maximal
 * geometry when force_size is set or the size is beyond what CHS can describe). */
static int rounded_geometry(uint64_t size, bool force_size, uint16_t *cyls, uint8_t *heads,
                            uint8_t *secs, uint64_t *total_sectors)
{
    *cyls = 0;
    *heads = 0;
    *secs = 0;
    if (force_size) {
        *cyls = 65535;
        *heads = 16;
        *secs = 255;
    } else {
        uint64_t want = size / 512 < VHD_MAX_GEOMETRY ? size / 512 : VHD_MAX_GEOMETRY;
        for (uint64_t i = 0; want > (uint64_t)*cyls * *heads * *secs; i++)
            vhd_geometry(want + i, cyls, heads, secs);
    }
    if ((uint64_t)*cyls * *heads * *secs == VHD_MAX_GEOMETRY) {
        *total_sectors = size / 512;
        if (*total_sectors > VHD_MAX_SECTORS)
            return -EFBIG;
    } else {
        *total_sectors = (uint64_t)*cyls * *heads * *secs;
    }
    return 0;
}

static void build_footer(uint8_t *f, bool fixed, bool force_size, uint64_t size, uint16_t cyls,
                         uint8_t heads, uint8_t secs)
{
    memset(f, 0, VHD_FOOTER_SIZE);
    memcpy(f + F_COOKIE, "conectix", 8);
    put_be32(f + F_FEATURES, 2);
    put_be32(f + F_VERSION, 0x00010000);
    put_be64(f + F_DATA_OFFSET, fixed ? UINT64_MAX : VHD_FOOTER_SIZE);
    put_be32(f + F_TIMESTAMP, (uint32_t)(time(NULL) - VHD_TIMESTAMP_BASE));
    memcpy(f + F_CREATOR_APP, force_size ? "qem2" : "qemu", 4);
    put_be32(f + F_CREATOR_VER, 0x00050003); /* Virtual PC 2007 */
    memcpy(f + F_CREATOR_OS, "Wi2k", 4);
    put_be64(f + F_ORIG_SIZE, size);
    put_be64(f + F_CUR_SIZE, size);
    put_be16(f + F_CYLS, cyls);
    f[F_HEADS] = heads;
    f[F_SECS] = secs;
    put_be32(f + F_TYPE, fixed ? VHD_FIXED : VHD_DYNAMIC);
    uint8_t *uuid = f + F_UUID;
    if (getrandom(uuid, 16, 0) != 16) {
        for (int i = 0; i < 16; i++)
            uuid[i] = (uint8_t)rand();
    }
    uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40); /* random (version 4) UUID */
    uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
    put_be32(f + F_CHECKSUM, vpc_checksum(f, VHD_FOOTER_SIZE));
}

/* Footer, footer copy after the BAT, the all-free BAT, then the dynamic header. */
static int create_dynamic(struct node *f, const uint8_t *footer, uint64_t total_sectors)
{
    uint64_t entries = (total_sectors + VHD_DEFAULT_BLOCK / 512 - 1) / (VHD_DEFAULT_BLOCK / 512);
    uint64_t bat_bytes = (entries * 4 + 511) & ~511ull;
    int ret = node_pwrite(f, 0, VHD_FOOTER_SIZE, footer);
    if (ret == 0)
        ret = node_pwrite(f, 1536 + bat_bytes, VHD_FOOTER_SIZE, footer);
    uint8_t sector[512];
    memset(sector, 0xff, sizeof(sector));
    for (uint64_t off = 0; ret == 0 && off < bat_bytes; off += 512)
        ret = node_pwrite(f, 1536 + off, 512, sector);
    if (ret < 0)
        return ret;
    uint8_t h[VHD_DYN_HEADER_SIZE] = { 0 };
    memcpy(h + D_COOKIE, "cxsparse", 8);
    put_be64(h + D_DATA_OFFSET, UINT64_MAX);
    put_be64(h + D_TABLE_OFFSET, 1536);
    put_be32(h + D_VERSION, 0x00010000);
    put_be32(h + D_MAX_ENTRIES, (uint32_t)entries);
    put_be32(h + D_BLOCK_SIZE, VHD_DEFAULT_BLOCK);
    put_be32(h + D_CHECKSUM, vpc_checksum(h, sizeof(h)));
    return node_pwrite(f, 512, sizeof(h), h);
}

static int create_fixed(struct node *f, const uint8_t *footer, uint64_t size, struct error **errp)
{
    int ret = node_truncate(f, size + VHD_FOOTER_SIZE, false, PREALLOC_OFF, errp);
    if (ret < 0)
        return ret;
    /* qemu's file protocol allocates the first block when it grows an empty file; match its
     * "disk size" */
    uint8_t zeros[4096] = { 0 };
    uint64_t first = size < sizeof(zeros) ? size : sizeof(zeros);
    if (first && (ret = node_pwrite(f, 0, first, zeros)) < 0) {
        error_setg_errno(errp, -ret, "Unable to write VHD header");
        return ret;
    }
    ret = node_pwrite(f, size, VHD_FOOTER_SIZE, footer);
    if (ret < 0)
        error_setg_errno(errp, -ret, "Unable to write VHD header");
    return ret;
}

static int parse_create_opts(struct opts *opts, uint64_t *size, bool *fixed, bool *force_size,
                             struct error **errp)
{
    *size = 0;
    *fixed = false;
    *force_size = false;
    if (opts_get_size(opts, "size", size, errp) < 0 ||
        opts_get_bool(opts, "force_size", force_size, errp) < 0)
        return -EINVAL;
    const char *sub = opts_get(opts, "subformat");
    if (sub && !strcmp(sub, "fixed")) {
        *fixed = true;
    } else if (sub && strcmp(sub, "dynamic")) {
        error_setg(errp, "Parameter 'subformat' does not accept value '%s'", sub);
        return -EINVAL;
    }
    if (*size > INT64_MAX - 511) {
        error_setg(errp, "Parameter 'size' expects a non-negative number below 2^63");
        return -EINVAL;
    }
    *size = (*size + 511) & ~511ull;
    return 0;
}

static int vpc_create(const char *filename, struct opts *opts, struct error **errp)
{
    /* like qemu, the protocol file exists before the format options are looked at */
    int ret = file_create_for_format(filename, opts, errp);
    if (ret < 0)
        return ret;
    uint64_t size, total_sectors;
    bool fixed, force_size;
    if (parse_create_opts(opts, &size, &fixed, &force_size, errp) < 0)
        return -EINVAL;
    uint16_t cyls;
    uint8_t heads, secs;
    ret = rounded_geometry(size, force_size, &cyls, &heads, &secs, &total_sectors);
    if (ret < 0) {
        error_setg(errp, "Disk size is too large, max size is 2040 GiB");
        return ret;
    }
    size = total_sectors * 512;
    struct node *f = node_open(filename, "file", NULL, NODE_RDWR, errp);
    if (!f)
        return -EIO;
    uint8_t footer[VHD_FOOTER_SIZE];
    build_footer(footer, fixed, force_size, size, cyls, heads, secs);
    if (fixed) {
        ret = create_fixed(f, footer, size, errp);
    } else {
        ret = create_dynamic(f, footer, total_sectors);
        if (ret < 0)
            error_setg(errp, "Unable to create or write VHD header");
    }
    node_close(f);
    return ret;
}

const struct driver driver_vpc = {
    .name = "vpc",
    .open_opts = vpc_open_opts,
    .create_opts = vpc_create_opts,
    .probe = vpc_probe,
    .open = vpc_open,
    .close = vpc_close,
    .pread = vpc_pread,
    .pwrite = vpc_pwrite,
    .block_status = vpc_block_status,
    .has_zero_init = vpc_has_zero_init,
    .create = vpc_create,
    .get_info = vpc_get_info,
};
