/* The raw format (qemu's block/raw-format.c behaviour): the image is the data, optionally a window
 * [offset, offset+size) of the file; block status passes through to the file. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "node.h"

struct raw_state {
    uint64_t offset;
    uint64_t size;
    bool has_size;
};

static const struct opt_desc raw_open_opts[] = {
    { "offset", OPT_SIZE, "offset in the disk where the image starts", NULL },
    { "size", OPT_SIZE, "virtual disk size", NULL },
    { NULL, 0, NULL, NULL },
};

static const struct opt_desc raw_create_opts[] = {
    { "size", OPT_SIZE, "Virtual disk size", NULL },
    { NULL, 0, NULL, NULL },
};

static int raw_probe(const uint8_t *buf, size_t len, const char *filename)
{
    return 1; /* the fallback: anything is raw */
}

static int raw_open(struct node *n, struct opts *opts, struct error **errp)
{
    struct raw_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    n->state = s;
    if (opts_get_size(opts, "offset", &s->offset, errp) < 0 ||
        opts_get_size(opts, "size", &s->size, errp) < 0)
        return -EINVAL;
    s->has_size = opts_get(opts, "size") != NULL;
    uint64_t file_size = n->file->size;
    if (s->offset > file_size) {
        error_setg(errp, "Offset (%llu) cannot be greater than size of image file (%llu)",
                   (unsigned long long)s->offset, (unsigned long long)file_size);
        return -EINVAL;
    }
    if (s->has_size) {
        if (s->size > file_size - s->offset) {
            error_setg(errp, "The sum of offset (%llu) and size (%llu) has to be smaller or equal "
                             "to the  actual size of the containing file (%llu)",
                       (unsigned long long)s->offset, (unsigned long long)s->size,
                       (unsigned long long)file_size);
            return -EINVAL;
        }
        n->size = s->size;
    } else {
        n->size = file_size - s->offset;
    }
    return 0;
}

static void raw_close(struct node *n)
{
    free(n->state);
    n->state = NULL;
}

static struct raw_state *st(struct node *n)
{
    return n->state;
}

static int raw_pread(struct node *n, uint64_t off, uint64_t len, void *buf)
{
    return node_pread(n->file, st(n)->offset + off, len, buf);
}

/* A probed raw image must not turn itself into another format by a write to its first sector
 * (qemu restricts block 0 for the same reason). */
static bool looks_like_other_format(const void *buf, uint64_t len)
{
    for (const struct driver *const *d = driver_list(); *d; d++) {
        if ((*d)->probe && strcmp((*d)->name, "raw") &&
            (*d)->probe(buf, (size_t)len, NULL) > 1)
            return true;
    }
    return false;
}

static int raw_pwrite(struct node *n, uint64_t off, uint64_t len, const void *buf)
{
    if (n->probed && off < 512 && off == 0 && looks_like_other_format(buf, len))
        return -EPERM;
    int ret = node_pwrite(n->file, st(n)->offset + off, len, buf);
    if (ret == 0 && !st(n)->has_size && off + len > n->size)
        n->size = off + len;
    return ret;
}

static int raw_pwrite_zeroes(struct node *n, uint64_t off, uint64_t len, int flags)
{
    return node_pwrite_zeroes(n->file, st(n)->offset + off, len, flags);
}

static int raw_discard(struct node *n, uint64_t off, uint64_t len)
{
    return node_discard(n->file, st(n)->offset + off, len);
}

static int raw_block_status(struct node *n, uint64_t off, uint64_t len, struct block_status *out)
{
    out->len = len;
    out->offset = st(n)->offset + off;
    out->file = n->file;
    out->flags = BS_RAW | BS_OFFSET_VALID;
    return 0;
}

static int raw_truncate(struct node *n, uint64_t size, bool exact, enum prealloc prealloc,
                        struct error **errp)
{
    struct raw_state *s = st(n);
    if (s->has_size) {
        error_setg(errp, "Cannot resize fixed-size raw disks");
        return -ENOTSUP;
    }
    if (size > INT64_MAX - s->offset) {
        error_setg(errp, "Image size too large");
        return -EINVAL;
    }
    int ret = node_truncate(n->file, s->offset + size, exact, prealloc, errp);
    if (ret == 0)
        n->size = size;
    return ret;
}

static bool raw_has_zero_init(struct node *n)
{
    return node_has_zero_init(n->file);
}

static int raw_create(const char *filename, struct opts *opts, struct error **errp)
{
    uint64_t size = 0;
    enum prealloc prealloc = PREALLOC_OFF;
    const char *p = opts_get(opts, "preallocation");
    if (opts_get_size(opts, "size", &size, errp) < 0)
        return -EINVAL;
    if (p && prealloc_parse(p, &prealloc) < 0) {
        error_setg(errp, "invalid parameter value: %s", p);
        return -EINVAL;
    }
    /* like qemu's file protocol, the file gets whole 512-byte sectors (the size was checked
     * against INT64_MAX, so this cannot wrap; a result past it fails in the resize as qemu's) */
    if (size <= UINT64_MAX - 511)
        size = (size + 511) / 512 * 512;
    return file_create(filename, size, prealloc, errp);
}

/* qemu's raw_measure: a raw image needs its whole virtual size, allocated or not (holes count
 * towards the file size); --size is rounded up to whole sectors and other options are ignored. */
static int raw_measure(struct opts *opts, struct node *in, struct measure_info *out,
                       struct error **errp)
{
    uint64_t size = 0;
    if (in) {
        size = in->size;
    } else {
        if (opts_get_size(opts, "size", &size, errp) < 0)
            return -EINVAL;
        if (size > UINT64_MAX - 511) {
            error_setg(errp, "Image size too large");
            return -EINVAL;
        }
        size = (size + 511) / 512 * 512;
    }
    out->required = size;
    out->fully_allocated = size;
    return 0;
}

static int raw_get_info(struct node *n, struct node_info *info, struct error **errp)
{
    return 0; /* no cluster size, never dirty: qemu still reports "dirty-flag": false */
}

const struct driver driver_raw = {
    .name = "raw",
    .flags = DRV_PARALLEL | DRV_SHARES_FILE,
    .open_opts = raw_open_opts,
    .create_opts = raw_create_opts,
    .probe = raw_probe,
    .open = raw_open,
    .close = raw_close,
    .pread = raw_pread,
    .pwrite = raw_pwrite,
    .pwrite_zeroes = raw_pwrite_zeroes,
    .discard = raw_discard,
    .block_status = raw_block_status,
    .truncate = raw_truncate,
    .has_zero_init = raw_has_zero_init,
    .create = raw_create,
    .measure = raw_measure,
    .get_info = raw_get_info,
};
