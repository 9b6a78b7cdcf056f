/* cloop compressed loopback images, V2.0 (read-only, qemu 7.2's block/cloop.c behaviour): a
 * 128-byte shell preamble, big-endian block size and count, n+1 offsets, zlib-compressed blocks. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bswap.h"
#include "node.h"

#define CLOOP_MAX_BLOCK_SIZE (64u * 1024 * 1024)
#define CLOOP_MAX_OFFSETS_SIZE (512u * 1024 * 1024)

static const char cloop_magic[] =
    "#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n";

struct cloop_state {
    uint32_t block_size, n_blocks;
    uint64_t *offsets;     /* offsets_loaded entries; those past the end of the file are zero */
    uint64_t offsets_loaded;
    uint8_t *compressed, *uncompressed;
    uint64_t current;      /* block held in uncompressed (n_blocks: none) */
};

static int cloop_probe(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    /* qemu probes a zero-padded buffer: a file shorter than the magic never matches */
    size_t n = strlen(cloop_magic);
    return len >= n && !memcmp(cloop_magic, buf, n) ? 2 : 0;
}

static uint64_t offset_at(const struct cloop_state *s, uint64_t i)
{
    return i < s->offsets_loaded ? s->offsets[i] : 0;
}

static int cloop_read_header(struct node *n, struct cloop_state *s, struct error **errp)
{
    uint8_t b[8];
    int ret = node_pread(n->file, 128, 8, b);
    if (ret < 0) {
        error_setg_errno(errp, ret, "Could not open '%s'", node_name(n));
        return ret;
    }
    s->block_size = get_be32(b);
    s->n_blocks = get_be32(b + 4);
    if (s->block_size % 512) {
        error_setg(errp, "block_size %" PRIu32 " must be a multiple of 512", s->block_size);
        return -EINVAL;
    }
    if (s->block_size == 0) {
        error_setg(errp, "block_size cannot be zero");
        return -EINVAL;
    }
    if (s->block_size > CLOOP_MAX_BLOCK_SIZE) {
        error_setg(errp, "block_size %" PRIu32 " must be %u MB or less", s->block_size,
                   CLOOP_MAX_BLOCK_SIZE / (1024 * 1024));
        return -EINVAL;
    }
    if (s->n_blocks > (UINT32_MAX - 1) / 8) {
        error_setg(errp, "n_blocks %" PRIu32 " must be %u or less", s->n_blocks,
                   (UINT32_MAX - 1) / 8);
        return -EINVAL;
    }
    /* qemu sizes the table in 32 bits: the largest count wraps to an empty allocation */
    uint32_t offsets_size = (s->n_blocks + 1) * 8;
    if (offsets_size == 0) {
        error_setg(errp, "Could not allocate offsets table");
        return -ENOMEM;
    }
    if (offsets_size > CLOOP_MAX_OFFSETS_SIZE) {
        error_setg(errp, "image requires too many offsets, try increasing block size");
        return -EINVAL;
    }
    return 0;
}

/* Load the offsets that lie inside the file and check them as qemu does. */
static int cloop_load_offsets(struct node *n, struct cloop_state *s, uint64_t *max_size,
                              struct error **errp)
{
    uint64_t count = (uint64_t)s->n_blocks + 1;
    uint64_t avail = n->file->size > 136 ? (n->file->size - 136) / 8 : 0;
    s->offsets_loaded = count < avail ? count : avail;
    s->offsets = malloc(s->offsets_loaded * 8 + 8);
    uint8_t *raw = malloc(s->offsets_loaded * 8 + 8);
    int ret = s->offsets && raw ? node_pread(n->file, 136, s->offsets_loaded * 8, raw) : -ENOMEM;
    for (uint64_t i = 0; ret == 0 && i < s->offsets_loaded; i++)
        s->offsets[i] = get_be64(raw + 8 * i);
    free(raw);
    if (ret < 0) {
        error_setg_errno(errp, ret, "Could not open '%s'", node_name(n));
        return ret;
    }
    *max_size = 0;
    for (uint64_t i = 1; i < count; i++) {
        uint64_t prev = offset_at(s, i - 1), cur = offset_at(s, i);
        if (cur < prev) {
            error_setg(errp, "offsets not monotonically increasing at index %" PRIu64
                             ", image file is corrupt", i);
            return -EINVAL;
        }
        if (cur - prev > 2ull * CLOOP_MAX_BLOCK_SIZE) {
            error_setg(errp, "invalid compressed block size at index %" PRIu64
                             ", image file is corrupt", i);
            return -EINVAL;
        }
        if (cur - prev > *max_size)
            *max_size = cur - prev;
        if (i >= s->offsets_loaded && cur == 0)
            break; /* all further offsets are zero too */
    }
    return 0;
}

static int cloop_open(struct node *n, struct opts *opts, struct error **errp)
{
    (void)opts;
    struct cloop_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    n->state = s;
    if (n->flags & NODE_RDWR) {
        error_setg(errp, "Image is read-only");
        return -EACCES;
    }
    uint64_t max_size;
    int ret = cloop_read_header(n, s, errp);
    if (ret == 0)
        ret = cloop_load_offsets(n, s, &max_size, errp);
    if (ret < 0)
        return ret;
    s->compressed = malloc(max_size + 1);
    s->uncompressed = malloc(s->block_size);
    if (!s->compressed || !s->uncompressed)
        return -ENOMEM;
    s->current = s->n_blocks;
    n->size = (uint64_t)s->n_blocks * s->block_size;
    return 0;
}

static void cloop_close(struct node *n)
{
    struct cloop_state *s = n->state;
    if (!s)
        return;
    free(s->offsets);
    free(s->compressed);
    free(s->uncompressed);
    free(s);
    n->state = NULL;
}

static int cloop_load_block(struct node *n, uint64_t block)
{
    struct cloop_state *s = n->state;
    if (s->current == block)
        return 0;
    uint64_t start = offset_at(s, block), bytes = offset_at(s, block + 1) - start;
    int ret = node_pread(n->file, start, bytes, s->compressed);
    if (ret < 0)
        return -EIO;
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit(&z) != Z_OK)
        return -EIO;
    z.next_in = s->compressed;
    z.avail_in = (uInt)bytes;
    z.next_out = s->uncompressed;
    z.avail_out = s->block_size;
    int zr = inflate(&z, Z_FINISH);
    uLong out = z.total_out;
    inflateEnd(&z);
    if (zr != Z_STREAM_END || out != s->block_size)
        return -EIO;
    s->current = block;
    return 0;
}

static int cloop_pread(struct node *n, uint64_t off, uint64_t len, void *buf)
{
    struct cloop_state *s = n->state;
    uint8_t *p = buf;
    while (len) {
        uint64_t block = off / s->block_size, in = off % s->block_size;
        uint64_t run = s->block_size - in < len ? s->block_size - in : len;
        int ret = cloop_load_block(n, block);
        if (ret < 0) {
            s->current = s->n_blocks;
            return ret;
        }
        memcpy(p, s->uncompressed + in, run);
        off += run;
        p += run;
        len -= run;
    }
    return 0;
}

const struct driver driver_cloop = {
    .name = "cloop",
    .probe = cloop_probe,
    .open = cloop_open,
    .close = cloop_close,
    .pread = cloop_pread,
};
