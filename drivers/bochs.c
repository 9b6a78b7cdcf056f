/* Bochs growing redolog images (read-only, qemu 7.2's block/bochs.c behaviour): a 512-byte header,
 * a catalog of extent slots, each slot a sector bitmap followed by the extent's sectors. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bswap.h"
#include "node.h"

#define BOCHS_HEADER_SIZE 512
#define BOCHS_V2 0x00020000u
#define BOCHS_V1 0x00010000u
#define BOCHS_MAX_CATALOG 0x100000u
#define BOCHS_MAX_EXTENT 0x800000u
#define BOCHS_UNALLOCATED 0xffffffffu

struct bochs_state {
    uint32_t *catalog;
    uint32_t catalog_size;
    uint64_t data_offset;
    uint64_t bitmap_blocks, extent_blocks; /* in sectors */
    uint32_t extent_size;
};

/* The fixed-size string fields compare as C strings (qemu uses strcmp). */
static bool field_is(const uint8_t *field, const char *s)
{
    return !memcmp(field, s, strlen(s) + 1);
}

static bool bochs_header_ok(const uint8_t *h)
{
    uint32_t v = get_le32(h + 64);
    return field_is(h, "Bochs Virtual HD Image") && field_is(h + 32, "Redolog") &&
           field_is(h + 48, "Growing") && (v == BOCHS_V2 || v == BOCHS_V1);
}

static int bochs_probe(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    return len >= BOCHS_HEADER_SIZE && bochs_header_ok(buf) ? 100 : 0;
}

static int bochs_check_extent(uint32_t extent, struct error **errp)
{
    if (extent < 512) {
        error_setg(errp, "Extent size must be at least 512");
        return -EINVAL;
    }
    if (extent & (extent - 1)) {
        error_setg(errp, "Extent size %" PRIu32 " is not a power of two", extent);
        return -EINVAL;
    }
    if (extent > BOCHS_MAX_EXTENT) {
        error_setg(errp, "Extent size %" PRIu32 " is too large", extent);
        return -EINVAL;
    }
    return 0;
}

static int bochs_open(struct node *n, struct opts *opts, struct error **errp)
{
    (void)opts;
    uint8_t h[BOCHS_HEADER_SIZE];
    struct bochs_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    n->state = s;
    if (n->flags & NODE_RDWR) {
        error_setg(errp, "Image is read-only");
        return -EACCES;
    }
    int ret = node_pread(n->file, 0, sizeof(h), h);
    if (ret < 0) {
        error_setg_errno(errp, ret, "Could not open '%s'", node_name(n));
        return ret;
    }
    if (!bochs_header_ok(h)) {
        error_setg(errp, "Image not in Bochs format");
        return -EINVAL;
    }
    uint64_t disk = get_le32(h + 64) == BOCHS_V1 ? get_le64(h + 84) : get_le64(h + 88);
    uint64_t sectors = disk / 512;
    s->catalog_size = get_le32(h + 72);
    if (s->catalog_size > BOCHS_MAX_CATALOG) {
        error_setg(errp, "Catalog size is too large");
        return -EFBIG;
    }
    uint32_t header = get_le32(h + 68);
    s->catalog = malloc((size_t)s->catalog_size * 4 + 4);
    uint8_t *raw = malloc((size_t)s->catalog_size * 4 + 4);
    ret = s->catalog && raw ? node_pread(n->file, header, (uint64_t)s->catalog_size * 4, raw)
                            : -ENOMEM;
    for (uint32_t i = 0; ret == 0 && i < s->catalog_size; i++)
        s->catalog[i] = get_le32(raw + 4 * (size_t)i);
    free(raw);
    if (ret < 0) {
        error_setg_errno(errp, ret, "Could not open '%s'", node_name(n));
        return ret;
    }
    /* qemu adds these in 32 bits: a hostile header offset wraps around */
    s->data_offset = (uint32_t)(header + s->catalog_size * 4);
    s->bitmap_blocks = 1 + ((uint64_t)get_le32(h + 76) - 1) / 512;
    s->extent_blocks = 1 + ((uint64_t)get_le32(h + 80) - 1) / 512;
    s->extent_size = get_le32(h + 80);
    if ((ret = bochs_check_extent(s->extent_size, errp)) < 0)
        return ret;
    uint64_t per_extent = s->extent_size / 512;
    if (s->catalog_size < (sectors + per_extent - 1) / per_extent) {
        error_setg(errp, "Catalog size is too small for this disk size");
        return -EINVAL;
    }
    n->size = sectors * 512;
    return 0;
}

static void bochs_close(struct node *n)
{
    struct bochs_state *s = n->state;
    if (!s)
        return;
    free(s->catalog);
    free(s);
    n->state = NULL;
}

/* Host offset of a sector, 0 when the extent or the sector is not allocated. */
static int bochs_sector(struct node *n, uint64_t sector, uint64_t *host)
{
    struct bochs_state *s = n->state;
    uint64_t off = sector * 512;
    uint64_t index = off / s->extent_size, in = (off % s->extent_size) / 512;
    *host = 0;
    if (index >= s->catalog_size || s->catalog[index] == BOCHS_UNALLOCATED)
        return 0;
    uint64_t bitmap = s->data_offset +
                      512 * (uint64_t)s->catalog[index] * (s->extent_blocks + s->bitmap_blocks);
    uint8_t entry;
    int ret = node_pread(n->file, bitmap + in / 8, 1, &entry);
    if (ret < 0)
        return ret;
    if ((entry >> (in % 8)) & 1)
        *host = bitmap + 512 * (s->bitmap_blocks + in);
    return 0;
}

static int bochs_pread(struct node *n, uint64_t off, uint64_t len, void *buf)
{
    uint8_t *p = buf;
    uint8_t sector[512];
    while (len) {
        uint64_t in = off % 512, run = 512 - in < len ? 512 - in : len;
        uint64_t host;
        int ret = bochs_sector(n, off / 512, &host);
        if (ret == 0 && host)
            ret = node_pread(n->file, host, 512, sector);
        else if (ret == 0)
            memset(sector, 0, sizeof(sector));
        if (ret < 0)
            return ret;
        memcpy(p, sector + in, run);
        off += run;
        p += run;
        len -= run;
    }
    return 0;
}

const struct driver driver_bochs = {
    .name = "bochs",
    .probe = bochs_probe,
    .open = bochs_open,
    .close = bochs_close,
    .pread = bochs_pread,
};
