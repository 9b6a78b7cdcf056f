/* VirtualBox VDI images (qemu's "vdi" driver, 7.2 behaviour): a 512-byte header, a block map of
 * little-endian 32-bit entries, and 1 MiB data blocks appended in allocation order. Dynamic and
 * static (preallocated) images; no differencing images (link/parent UUIDs are refused). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "bswap.h"
#include "file.h"
#include "node.h"

#define VDI_HEADER_SIZE 512
#define VDI_SIGNATURE 0xbeda107fu
#define VDI_VERSION_1_1 0x00010001u
#define VDI_TYPE_DYNAMIC 1
#define VDI_TYPE_STATIC 2
#define VDI_UNALLOCATED 0xffffffffu
#define VDI_DISCARDED 0xfffffffeu
#define VDI_BLOCK_SIZE 1048576u
/* qemu reads the whole map in one request of at most INT_MAX bytes (rounded to sectors) */
#define VDI_BLOCKS_MAX ((uint32_t)((0x80000000u - 512) / 4))
#define VDI_DISK_SIZE_MAX ((uint64_t)VDI_BLOCKS_MAX * VDI_BLOCK_SIZE)
#define VDI_TEXT "<<< QEMU VM Virtual Disk Image >>>\n"

/* Header field offsets (little-endian). */
enum {
    H_SIGNATURE = 0x40, H_VERSION = 0x44, H_HEADER_SIZE = 0x48, H_TYPE = 0x4c,
    H_OFFSET_BMAP = 0x154, H_OFFSET_DATA = 0x158, H_SECTOR_SIZE = 0x168, H_DISK_SIZE = 0x170,
    H_BLOCK_SIZE = 0x178, H_BLOCKS = 0x180, H_ALLOCATED = 0x184, H_UUID_IMAGE = 0x188,
    H_UUID_SNAP = 0x198, H_UUID_LINK = 0x1a8, H_UUID_PARENT = 0x1b8,
};

struct vdi_state {
    uint8_t header[VDI_HEADER_SIZE]; /* as on disk, with the disk size rounded up as qemu does */
    uint32_t type;
    uint32_t blocks;           /* blocks_in_image */
    uint32_t allocated;        /* blocks_allocated */
    uint32_t block_size;
    uint64_t offset_bmap, offset_data;
    /* The map entries that lie inside the file; those past its end read as 0 (as a read past
     * EOF gives), which keeps a hostile block count from costing memory. */
    uint32_t *bmap;
    uint32_t bmap_loaded;
};

static const struct opt_desc vdi_create_opts[] = {
    { "size", OPT_SIZE, "Virtual disk size", NULL },
    { "static", OPT_BOOL, "VDI static (pre-allocated) image", "off" },
    { NULL, 0, NULL, NULL },
};

static struct vdi_state *st(struct node *n)
{
    return n->state;
}

static int vdi_probe(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    return len >= VDI_HEADER_SIZE && get_le32(buf + H_SIGNATURE) == VDI_SIGNATURE ? 100 : 0;
}

static bool uuid_is_null(const uint8_t *u)
{
    for (int i = 0; i < 16; i++)
        if (u[i])
            return false;
    return true;
}

/* The header checks, in qemu's order and words. */
static int check_header(const uint8_t *h, uint64_t disk_size, struct error **errp)
{
    uint32_t sig = get_le32(h + H_SIGNATURE), ver = get_le32(h + H_VERSION);
    uint32_t obmap = get_le32(h + H_OFFSET_BMAP), odata = get_le32(h + H_OFFSET_DATA);
    uint32_t bsize = get_le32(h + H_BLOCK_SIZE), blocks = get_le32(h + H_BLOCKS);
    uint32_t sector = get_le32(h + H_SECTOR_SIZE);
    uint64_t room = (uint64_t)blocks * bsize;
    if (sig != VDI_SIGNATURE) {
        error_setg(errp, "Image not in VDI format (bad signature %08" PRIx32 ")", sig);
        return -EINVAL;
    }
    if (ver != VDI_VERSION_1_1)
        error_setg(errp, "unsupported VDI image (version %" PRIu32 ".%" PRIu32 ")", ver >> 16,
                   ver & 0xffff);
    else if (obmap % 512)
        error_setg(errp, "unsupported VDI image (unaligned block map offset 0x%" PRIx32 ")", obmap);
    else if (odata % 512)
        error_setg(errp, "unsupported VDI image (unaligned data offset 0x%" PRIx32 ")", odata);
    else if (sector != 512)
        error_setg(errp, "unsupported VDI image (sector size %" PRIu32 " is not 512)", sector);
    else if (bsize != VDI_BLOCK_SIZE)
        error_setg(errp, "unsupported VDI image (block size %" PRIu32 " is not %u)", bsize,
                   VDI_BLOCK_SIZE);
    else if (disk_size > room)
        error_setg(errp, "unsupported VDI image (disk size %" PRIu64 ", image bitmap has room "
                         "for %" PRIu64 ")", disk_size, room);
    else if (!uuid_is_null(h + H_UUID_LINK))
        error_setg(errp, "unsupported VDI image (non-NULL link UUID)");
    else if (!uuid_is_null(h + H_UUID_PARENT))
        error_setg(errp, "unsupported VDI image (non-NULL parent UUID)");
    else if (blocks > VDI_BLOCKS_MAX)
        error_setg(errp, "unsupported VDI image (too many blocks %u, max is %u)", blocks,
                   VDI_BLOCKS_MAX);
    else
        return 0;
    return -ENOTSUP;
}

static int load_bmap(struct node *n)
{
    struct vdi_state *s = st(n);
    uint64_t want = (uint64_t)s->blocks * 4, in_file = 0;
    if (n->file->size > s->offset_bmap)
        in_file = n->file->size - s->offset_bmap;
    if (want > in_file)
        want = in_file / 4 * 4;
    s->bmap_loaded = (uint32_t)(want / 4);
    s->bmap = calloc(s->bmap_loaded ? s->bmap_loaded : 1, sizeof(uint32_t));
    uint8_t *raw = malloc(want ? want : 1);
    int ret = -ENOMEM;
    if (s->bmap && raw)
        ret = node_pread(n->file, s->offset_bmap, want, raw);
    for (uint32_t i = 0; ret == 0 && i < s->bmap_loaded; i++)
        s->bmap[i] = get_le32(raw + 4 * (uint64_t)i);
    free(raw);
    return ret;
}

static int vdi_open(struct node *n, struct opts *opts, struct error **errp)
{
    (void)opts;
    struct vdi_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    n->state = s;
    uint8_t *h = s->header;
    int ret = node_pread(n->file, 0, VDI_HEADER_SIZE, h);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not open '%s'", node_name(n));
        return ret;
    }
    uint64_t disk_size = get_le64(h + H_DISK_SIZE);
    if (disk_size > VDI_DISK_SIZE_MAX) {
        error_setg(errp, "Unsupported VDI image size (size is 0x%" PRIx64 ", max supported is "
                         "0x%" PRIx64 ")", disk_size, VDI_DISK_SIZE_MAX);
        return -ENOTSUP;
    }
    /* VBoxManage convertfromraw can leave odd sizes: accepted, rounded up to a sector */
    disk_size = (disk_size + 511) & ~511ull;
    ret = check_header(h, disk_size, errp);
    if (ret < 0)
        return ret;
    put_le64(h + H_DISK_SIZE, disk_size);
    s->type = get_le32(h + H_TYPE);
    s->blocks = get_le32(h + H_BLOCKS);
    s->allocated = get_le32(h + H_ALLOCATED);
    s->block_size = get_le32(h + H_BLOCK_SIZE);
    s->offset_bmap = get_le32(h + H_OFFSET_BMAP);
    s->offset_data = get_le32(h + H_OFFSET_DATA);
    n->size = disk_size;
    ret = load_bmap(n);
    if (ret < 0)
        error_setg_errno(errp, -ret, "Could not open '%s'", node_name(n));
    return ret;
}

static void vdi_close(struct node *n)
{
    struct vdi_state *s = st(n);
    if (!s)
        return;
    free(s->bmap);
    free(s);
    n->state = NULL;
}

static uint32_t bmap_get(const struct vdi_state *s, uint64_t index)
{
    return index < s->bmap_loaded ? s->bmap[index] : 0;
}

/* Under NODE_STRICT, an entry of a block map that runs past the end of the file (read as 0,
 * block 0, at open, as qemu does) is corrupt. */
static int bmap_check(struct node *n, uint64_t index)
{
    struct vdi_state *s = n->state;
    if (index < s->bmap_loaded)
        return 0;
    return node_check_pointer(n->file, s->offset_bmap + index * 4, 4, 0, "a block map entry");
}

static bool is_allocated(uint32_t entry)
{
    return entry < VDI_DISCARDED;
}

static uint64_t block_host(const struct vdi_state *s, uint32_t entry)
{
    return s->offset_data + (uint64_t)entry * s->block_size; /* < 2^53: no overflow */
}

static uint64_t chunk_in_block(const struct vdi_state *s, uint64_t off, uint64_t len)
{
    uint64_t n = s->block_size - off % s->block_size;
    return n < len ? n : len;
}

static int vdi_pread(struct node *n, uint64_t off, uint64_t len, void *buf)
{
    struct vdi_state *s = st(n);
    uint8_t *p = buf;
    while (len) {
        uint64_t chunk = chunk_in_block(s, off, len);
        uint32_t entry = bmap_get(s, off / s->block_size);
        int ret = bmap_check(n, off / s->block_size);
        if (ret < 0)
            return ret;
        if (!is_allocated(entry)) {
            memset(p, 0, chunk); /* never allocated or discarded: zeros */
        } else {
            ret = node_pread(n->file, block_host(s, entry) + off % s->block_size, chunk, p);
            if (ret < 0)
                return ret;
        }
        p += chunk;
        off += chunk;
        len -= chunk;
    }
    return 0;
}

/* Allocate the block under `off` at the end of the data area, written whole (zeros around the
 * new data) before any metadata points at it. */
static int alloc_block(struct node *n, uint64_t off, uint64_t chunk, const uint8_t *data)
{
    struct vdi_state *s = st(n);
    uint64_t index = off / s->block_size;
    if (index >= s->bmap_loaded || s->allocated >= VDI_DISCARDED)
        return -EIO; /* a map entry outside the file reads as allocated: cannot get here */
    uint8_t *block = calloc(1, s->block_size);
    if (!block)
        return -ENOMEM;
    memcpy(block + off % s->block_size, data, chunk);
    int ret = node_pwrite(n->file, block_host(s, s->allocated), s->block_size, block);
    free(block);
    if (ret < 0)
        return ret;
    s->bmap[index] = s->allocated++;
    return 0;
}

/* After new blocks: flush the data, then the header's block count, then the changed map
 * sectors; a crash in between leaves at worst a leaked block, never a shared one. */
static int write_metadata(struct node *n, uint64_t first, uint64_t last)
{
    struct vdi_state *s = st(n);
    int ret = node_flush(n->file);
    if (ret < 0)
        return ret;
    put_le32(s->header + H_ALLOCATED, s->allocated);
    ret = node_pwrite(n->file, 0, VDI_HEADER_SIZE, s->header);
    if (ret == 0)
        ret = node_flush(n->file);
    if (ret < 0)
        return ret;
    uint64_t from = first / 128 * 128, to = (last / 128 + 1) * 128;
    uint8_t *raw = calloc(to - from, 4);
    if (!raw)
        return -ENOMEM;
    for (uint64_t i = from; i < to; i++)
        put_le32(raw + 4 * (i - from), i < s->bmap_loaded ? s->bmap[i] : VDI_UNALLOCATED);
    /* like qemu, whole sectors of the map; entries past the count keep their on-disk value */
    uint64_t bytes = (to - from) * 4;
    if (to > s->bmap_loaded) {
        uint64_t valid = s->bmap_loaded > from ? (s->bmap_loaded - from) * 4 : 0;
        ret = node_pread(n->file, s->offset_bmap + valid + from * 4, bytes - valid, raw + valid);
    }
    if (ret == 0)
        ret = node_pwrite(n->file, s->offset_bmap + from * 4, bytes, raw);
    free(raw);
    return ret;
}

static int vdi_pwrite(struct node *n, uint64_t off, uint64_t len, const void *buf)
{
    struct vdi_state *s = st(n);
    const uint8_t *p = buf;
    uint64_t first = UINT64_MAX, last = 0;
    int ret = 0;
    while (len) {
        uint64_t chunk = chunk_in_block(s, off, len);
        uint64_t index = off / s->block_size;
        uint32_t entry = bmap_get(s, index);
        if (is_allocated(entry)) {
            ret = node_pwrite(n->file, block_host(s, entry) + off % s->block_size, chunk, p);
        } else {
            ret = alloc_block(n, off, chunk, p);
            if (first == UINT64_MAX)
                first = index;
            last = index;
        }
        if (ret < 0)
            break;
        p += chunk;
        off += chunk;
        len -= chunk;
    }
    if (first != UINT64_MAX) {
        int ret2 = write_metadata(n, first, last);
        if (ret == 0)
            ret = ret2;
    }
    return ret;
}

static int vdi_block_status(struct node *n, uint64_t off, uint64_t len, struct block_status *out)
{
    struct vdi_state *s = st(n);
    uint32_t entry = bmap_get(s, off / s->block_size);
    int ret = bmap_check(n, off / s->block_size);
    if (ret < 0)
        return ret;
    out->len = chunk_in_block(s, off, len);
    if (!is_allocated(entry)) {
        out->flags = BS_ZERO;
        return 0;
    }
    out->offset = block_host(s, entry) + off % s->block_size;
    out->file = n->file;
    out->flags = BS_DATA | BS_OFFSET_VALID | (s->type == VDI_TYPE_STATIC ? BS_RECURSE : 0);
    return 0;
}

static bool vdi_has_zero_init(struct node *n)
{
    return st(n)->type == VDI_TYPE_STATIC ? node_has_zero_init(n->file) : true;
}

static int vdi_get_info(struct node *n, struct node_info *info, struct error **errp)
{
    (void)errp;
    info->cluster_size = st(n)->block_size;
    return 0;
}

/* Every allocated entry must name a distinct block below the block count, and their number must
 * match the header's (qemu's checks and messages; there is nothing to repair). */
static int vdi_check(struct node *n, struct check_result *res, int fix)
{
    struct vdi_state *s = st(n);
    if (fix)
        return -ENOTSUP;
    uint8_t *used = calloc((uint64_t)s->blocks / 8 + 1, 1);
    if (!used) {
        res->check_errors++;
        return -ENOMEM;
    }
    uint32_t count = 0;
    for (uint32_t b = 0; b < s->blocks; b++) {
        uint32_t entry = bmap_get(s, b);
        if (!is_allocated(entry))
            continue;
        if (entry >= s->blocks) {
            fprintf(stderr, "ERROR: block index %" PRIu32 " too large, is %" PRIu32 "\n", b, entry);
            res->corruptions++;
            continue;
        }
        count++;
        if (used[entry / 8] & (1u << (entry % 8))) {
            fprintf(stderr, "ERROR: block index %" PRIu32 " also used by %" PRIu32 "\n", entry,
                    entry);
            res->corruptions++;
        }
        used[entry / 8] |= (uint8_t)(1u << (entry % 8));
    }
    if (count != s->allocated) {
        fprintf(stderr, "ERROR: allocated blocks mismatch, is %" PRIu32 ", should be %" PRIu32 "\n",
                count, s->allocated);
        res->corruptions++;
    }
    free(used);
    return 0;
}

/* ---- creation ---- */

static void random_uuid_le(uint8_t *u)
{
    if (getrandom(u, 16, 0) != 16) {
        for (int i = 0; i < 16; i++)
            u[i] = (uint8_t)rand();
    }
    /* a version 4 UUID stored with its first three fields little-endian, as VirtualBox does */
    u[7] = (uint8_t)((u[7] & 0x0f) | 0x40);
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
}

static void build_header(uint8_t *h, uint64_t size, uint32_t blocks, uint32_t bmap_bytes,
                         bool is_static)
{
    memset(h, 0, VDI_HEADER_SIZE);
    memcpy(h, VDI_TEXT, strlen(VDI_TEXT));
    put_le32(h + H_SIGNATURE, VDI_SIGNATURE);
    put_le32(h + H_VERSION, VDI_VERSION_1_1);
    put_le32(h + H_HEADER_SIZE, 0x180);
    put_le32(h + H_TYPE, is_static ? VDI_TYPE_STATIC : VDI_TYPE_DYNAMIC);
    put_le32(h + H_OFFSET_BMAP, 0x200);
    put_le32(h + H_OFFSET_DATA, 0x200 + bmap_bytes);
    put_le32(h + H_SECTOR_SIZE, 512);
    put_le64(h + H_DISK_SIZE, size);
    put_le32(h + H_BLOCK_SIZE, VDI_BLOCK_SIZE);
    put_le32(h + H_BLOCKS, blocks);
    put_le32(h + H_ALLOCATED, is_static ? blocks : 0);
    random_uuid_le(h + H_UUID_IMAGE);
    random_uuid_le(h + H_UUID_SNAP);
}

static int write_image(struct node *f, uint64_t size, bool is_static, struct error **errp)
{
    uint32_t blocks = (uint32_t)((size + VDI_BLOCK_SIZE - 1) / VDI_BLOCK_SIZE);
    uint32_t bmap_bytes = (blocks * 4 + 511) & ~511u;
    uint8_t h[VDI_HEADER_SIZE];
    build_header(h, size, blocks, bmap_bytes, is_static);
    int ret = node_pwrite(f, 0, sizeof(h), h);
    if (ret < 0) {
        error_setg(errp, "Error writing header");
        return ret;
    }
    if (bmap_bytes) {
        uint8_t *bmap = calloc(1, bmap_bytes);
        if (!bmap) {
            error_setg(errp, "Could not allocate bmap");
            return -ENOMEM;
        }
        for (uint32_t i = 0; i < blocks; i++)
            put_le32(bmap + 4 * (uint64_t)i, is_static ? i : VDI_UNALLOCATED);
        ret = node_pwrite(f, sizeof(h), bmap_bytes, bmap);
        free(bmap);
        if (ret < 0) {
            error_setg(errp, "Error writing bmap");
            return ret;
        }
    }
    if (is_static) {
        uint64_t end = sizeof(h) + bmap_bytes + (uint64_t)blocks * VDI_BLOCK_SIZE;
        ret = node_truncate(f, end, false, PREALLOC_OFF, errp);
        if (ret < 0)
            error_prepend(errp, "Failed to statically allocate file");
    }
    return ret;
}

static int vdi_create(const char *filename, struct opts *opts, struct error **errp)
{
    int ret = file_create_for_format(filename, opts, errp);
    if (ret < 0)
        return ret;
    uint64_t size = 0;
    bool is_static = false;
    if (opts_get_size(opts, "size", &size, errp) < 0 ||
        opts_get_bool(opts, "static", &is_static, errp) < 0)
        return -EINVAL;
    size = size > UINT64_MAX - 511 ? size : (size + 511) & ~511ull;
    if (size > VDI_DISK_SIZE_MAX) {
        error_setg(errp, "Unsupported VDI image size (size is 0x%" PRIx64 ", max supported is "
                         "0x%" PRIx64 ")", size, VDI_DISK_SIZE_MAX);
        return -ENOTSUP;
    }
    struct node *f = node_open(filename, "file", NULL, NODE_RDWR, errp);
    if (!f)
        return -EIO;
    ret = write_image(f, size, is_static, errp);
    node_close(f);
    return ret;
}

const struct driver driver_vdi = {
    .name = "vdi",
    .create_opts = vdi_create_opts,
    .probe = vdi_probe,
    .open = vdi_open,
    .close = vdi_close,
    .pread = vdi_pread,
    .pwrite = vdi_pwrite,
    .block_status = vdi_block_status,
    .has_zero_init = vdi_has_zero_init,
    .create = vdi_create,
    .get_info = vdi_get_info,
    .check = vdi_check,
};
