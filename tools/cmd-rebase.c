/* flatimg rebase: qemu-img 7.2's img_rebase. Safe mode copies into the image every range it does
 * not allocate where the old and new backing contents differ (found through block status, then
 * compared 512 bytes at a time), then records the new backing file; -u only records it. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "common.h"
#include "file.h"
#include "pipeline.h"
#include "progress.h"
#include "write-common.h"

#define IO_BUF_SIZE (2ULL << 20)
#define SECTOR 512ULL

struct rebase {
    struct node *top, *old_backing, *new_backing, *prefix;
    bool new_backing_owned;
    float local_progress; /* percent per IO_BUF_SIZE chunk, as qemu counts it */
    uint64_t unsynced;    /* bytes written since the last writeback_start() */
    uint8_t *new_buf;     /* the worker's: the new backing view of the slot it applies */
};

/* qemu's compare_buffers: does the first sector differ, and how many bytes share that answer. */
static bool compare_buffers(const uint8_t *a, const uint8_t *b, uint64_t bytes, uint64_t *pnum)
{
    uint64_t i = bytes < SECTOR ? bytes : SECTOR;
    bool res = memcmp(a, b, i) != 0;
    while (i < bytes) {
        uint64_t len = bytes - i < SECTOR ? bytes - i : SECTOR;
        if ((memcmp(a + i, b + i, len) != 0) != res)
            break;
        i += len;
    }
    *pnum = i;
    return res;
}

/* How much from off needs no action (allocated in the image, or unchanged since the prefix). */
static int rebase_skip(struct rebase *r, uint64_t off, uint64_t *n, struct error **errp)
{
    struct block_status bs;
    int ret = node_block_status(r->top, off, *n, &bs);
    if (ret == 0 && bs.len == 0)
        ret = -EIO;
    if (ret < 0) {
        error_setg(errp, "error while reading image metadata: %s", strerror(-ret));
        return ret;
    }
    *n = bs.len;
    if (bs.flags & BS_ALLOCATED)
        return 1;
    if (!r->prefix)
        return 0;
    if (r->prefix == r->top->backing)
        return 1; /* no layer between the image and its new backing file */
    ret = node_block_status_above(r->top->backing, r->prefix, off, *n, &bs, NULL);
    if (ret == 0 && bs.len == 0)
        return 0; /* past the end of the old backing file: compared, as qemu does */
    if (ret < 0) {
        error_setg(errp, "error while reading image metadata: %s", strerror(-ret));
        return ret;
    }
    *n = bs.len;
    return !(bs.flags & BS_ALLOCATED);
}

/* Clip n so that [off, off + n) does not cross the end of backing node b. */
static void clip_to_backing(const struct node *b, uint64_t off, uint64_t *n)
{
    uint64_t size = b ? b->size : 0;
    if (off < size && off + *n > size)
        *n = size - off;
}

/* Read one backing view: zeros past its end (qemu's buf_old_is_zero). */
static int read_backing(struct node *b, uint64_t off, uint64_t n, uint8_t *buf, bool *zero,
                        const char *which, struct error **errp)
{
    *zero = off >= (b ? b->size : 0);
    if (*zero) {
        memset(buf, 0, n);
        return 0;
    }
    int ret = node_pread(b, off, n, buf);
    if (ret < 0)
        error_setg(errp, "error while reading from %s backing file", which);
    return ret;
}

/* The copy runs as a pipeline: this thread finds the ranges to compare and reads the old backing
 * view, a worker reads the new one, compares and writes what differs into the image in the same
 * order (so the layout is the sequential one) and prints progress. Two slots for the old view
 * and one buffer for the new (only the worker reads it): three buffers, less than qemu-img holds. */
#define REBASE_SLOTS 2
/* Bytes written between two writeback_start() calls. */
#define WRITEBACK_STEP (16ULL << 20)

struct rebase_slot {
    uint64_t off, n;
    bool old_zero;
    uint8_t *old;
};

static int rebase_apply(void *opaque, void *slot_)
{
    struct rebase *r = opaque;
    struct rebase_slot *slot = slot_;
    bool new_zero;
    struct error *err = NULL;
    int ret = read_backing(r->new_backing, slot->off, slot->n, r->new_buf, &new_zero, "new", &err);
    if (ret < 0) {
        error_report_err(err);
        return ret;
    }
    for (uint64_t done = 0; done < slot->n;) {
        uint64_t pnum;
        if (compare_buffers(slot->old + done, r->new_buf + done, slot->n - done, &pnum)) {
            uint64_t off = slot->off + done;
            ret = slot->old_zero ? node_pwrite_zeroes(r->top, off, pnum, 0)
                               : node_pwrite(r->top, off, pnum, slot->old + done);
            if (!slot->old_zero)
                r->unsynced += pnum;
            if (ret < 0) {
                error_report("Error while writing to COW image: %s", strerror(-ret));
                return ret;
            }
        }
        done += pnum;
    }
    if (r->unsynced >= WRITEBACK_STEP) {
        writeback_start(r->top);
        r->unsynced = 0;
    }
    progress_print(r->local_progress, 100);
    return 0;
}

static int rebase_copy(struct rebase *r)
{
    struct rebase_slot slots[REBASE_SLOTS];
    void *ring[REBASE_SLOTS];
    r->new_buf = aligned_alloc(4096, IO_BUF_SIZE);
    if (!r->new_buf)
        abort();
    for (int i = 0; i < REBASE_SLOTS; i++) {
        slots[i].old = aligned_alloc(4096, IO_BUF_SIZE);
        if (!slots[i].old)
            abort();
        ring[i] = &slots[i];
    }
    uint64_t size = r->top->size;
    r->local_progress = size ? 100.0f / (float)(size / (size < IO_BUF_SIZE ? size : IO_BUF_SIZE))
                             : 0;
    struct pipeline *pl = pipeline_start(ring, REBASE_SLOTS, rebase_apply, r);
    struct error *err = NULL;
    int ret = 0;
    for (uint64_t off = 0, n; off < size; off += n) {
        n = size - off < IO_BUF_SIZE ? size - off : IO_BUF_SIZE;
        ret = rebase_skip(r, off, &n, &err);
        if (ret < 0)
            break;
        if (ret) {
            ret = 0;
            continue;
        }
        struct rebase_slot *slot = pipeline_get(pl);
        if (!slot)
            break;
        clip_to_backing(r->old_backing, off, &n);
        clip_to_backing(r->new_backing, off, &n);
        slot->off = off;
        slot->n = n;
        ret = read_backing(r->old_backing, off, n, slot->old, &slot->old_zero, "old", &err);
        if (ret < 0)
            break;
        pipeline_put(pl);
    }
    /* the worker reports its own error, which comes from an earlier range than this thread's */
    int wret = pipeline_finish(pl);
    if (wret < 0) {
        error_free(err);
        ret = wret;
    } else if (err) {
        error_report_err(err);
    }
    for (int i = 0; i < REBASE_SLOTS; i++)
        free(slots[i].old);
    free(r->new_buf);
    return ret;
}

/* Open (or find in the chain) the new backing file for a safe rebase. */
static int open_new_backing(struct rebase *r, const char *out_baseimg, const char *out_basefmt,
                            int src_flags, bool force_share)
{
    char *path = node_resolve_backing_path(r->top, out_baseimg);
    int ret = 0;
    r->prefix = chain_find(r->top, path, NULL);
    if (r->prefix) {
        r->new_backing = r->prefix;
    } else {
        struct error *err = NULL;
        int flags = src_flags | (force_share ? NODE_FORCE_SHARE : 0);
        r->new_backing = node_open(path, out_basefmt, NULL, flags, &err);
        if (!r->new_backing) {
            error_prepend(&err, "Could not open new backing file '%s': ", out_baseimg);
            error_report_err(err);
            ret = -1;
        }
        r->new_backing_owned = true;
    }
    free(path);
    return ret;
}

static int change_backing(struct node *top, const char *out_baseimg, const char *out_basefmt)
{
    int ret;
    bool set = out_baseimg && *out_baseimg;
    if (set && !out_basefmt)
        ret = -EINVAL;
    else if (!top->drv->change_backing_file)
        ret = -ENOTSUP;
    else
        ret = top->drv->change_backing_file(top, set ? out_baseimg : NULL,
                                            set ? out_basefmt : NULL);
    if (ret == -ENOSPC)
        error_report("Could not change the backing file to '%s': No space left in the file "
                     "header", out_baseimg);
    else if (ret == -EINVAL && set && !out_basefmt)
        error_report("Could not change the backing file to '%s': backing format must be "
                     "specified", out_baseimg);
    else if (ret < 0)
        error_report("Could not change the backing file to '%s': %s", out_baseimg,
                     strerror(-ret));
    return ret;
}

int cmd_rebase(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = NULL, *cache = "writeback", *src_cache = "writeback";
    const char *out_baseimg = NULL, *out_basefmt = NULL;
    bool unsafe = false, progress = false, quiet = false, image_opts = false;
    bool force_share = false;
    int c;
    while ((c = getopt_long(argc, argv, ":hf:F:b:upt:T:qU", long_options, NULL)) != -1) {
        switch (c) {
        case 'f': fmt = optarg; break;
        case 'F': out_basefmt = optarg; break;
        case 'b': out_baseimg = optarg; break;
        case 'u': unsafe = true; break;
        case 'p': progress = true; break;
        case 't': cache = optarg; break;
        case 'T': src_cache = optarg; break;
        case 'q': quiet = true; break;
        case 'U': force_share = true; break;
        case OPTION_OBJECT: add_object_or_exit(optarg); break;
        case OPTION_IMAGE_OPTS: image_opts = true; break;
        default: common_getopt_error(c, argv);
        }
    }
    if (quiet)
        progress = false;
    if (optind != argc - 1)
        error_exit("Expecting one image file name");
    if (!unsafe && !out_baseimg)
        error_exit("Must specify backing file (-b) or use unsafe mode (-u)");
    const char *filename = argv[optind];
    progress_init(progress, 2.0f);
    progress_print(0, 100);
    struct rebase r = { 0 };
    int ret = -1;
    int flags = NODE_RDWR | (unsafe ? NODE_NO_BACKING : 0), src_flags = 0;
    if (cache_mode_parse(cache, &flags) < 0) {
        error_report("Invalid cache option: %s", cache);
        goto out;
    }
    if (cache_mode_parse(src_cache, &src_flags) < 0) {
        error_report("Invalid source cache option: %s", src_cache);
        goto out;
    }
    r.top = img_open_rw(image_opts, filename, fmt, flags, quiet);
    if (!r.top)
        goto out;
    if (out_basefmt && !driver_find(out_basefmt)) {
        error_report("Invalid format name: '%s'", out_basefmt);
        goto out;
    }
    if (!unsafe) {
        r.old_backing = r.top->backing;
        if (out_baseimg[0] && open_new_backing(&r, out_baseimg, out_basefmt, src_flags,
                                               force_share) < 0)
            goto out;
        if (rebase_copy(&r) < 0)
            goto out;
        /* the copied data and its metadata must be on disk before the header names the new
         * backing file, or a crash in between would change what the image reads */
        int fret = node_flush(r.top);
        if (fret < 0) {
            error_report("Error while writing to COW image: %s", strerror(-fret));
            goto out;
        }
    }
    ret = change_backing(r.top, out_baseimg, out_basefmt);
    progress_print(100, 0);
out:
    progress_end();
    if (r.new_backing_owned)
        node_close(r.new_backing);
    node_close(r.top);
    return ret ? 1 : 0;
}
