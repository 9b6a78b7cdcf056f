/* flatimg commit: qemu-img 7.2's img_commit. What the layers above the base allocate is written
 * into the base (grown first when smaller), then the top is emptied unless -d or -b. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "common.h"
#include "file.h"
#include "pipeline.h"
#include "progress.h"
#include "write-common.h"

/* qemu's mirror job copies at most this much per request (MAX_IO_BYTES). */
#define COPY_CHUNK (1ULL << 20)

/* qemu's commit is a mirror job: its progress counts the granules of a dirty bitmap (the base's
 * cluster size clamped to 4k..64k, 64k without one) that the layers above the base allocate. */
struct commit_progress {
    uint64_t granularity, total, done, counted_end;
};

static uint64_t commit_granularity(struct node *base)
{
    struct node_info info = { 0 };
    uint64_t g = 65536;
    if (base->drv->get_info && base->drv->get_info(base, &info, NULL) == 0 && info.cluster_size)
        g = info.cluster_size < 4096 ? 4096 : info.cluster_size > 65536 ? 65536 : info.cluster_size;
    if (info.format_specific)
        json_object_put(info.format_specific);
    return g;
}

/* Bytes of granules in [off, off + n) not counted yet (ranges arrive in increasing order). */
static uint64_t granules_new(struct commit_progress *p, uint64_t off, uint64_t n)
{
    uint64_t start = off / p->granularity * p->granularity;
    uint64_t end = (off + n + p->granularity - 1) / p->granularity * p->granularity;
    if (start < p->counted_end)
        start = p->counted_end;
    if (end <= start)
        return 0;
    p->counted_end = end;
    return end - start;
}

static void commit_progress_init(struct commit_progress *p, struct node *top, struct node *base)
{
    *p = (struct commit_progress){ .granularity = commit_granularity(base) };
    for (uint64_t off = 0; off < top->size;) {
        struct block_status bs;
        if (node_block_status_above(top, base, off, top->size - off, &bs, NULL) < 0 || !bs.len)
            break; /* the copy reports the error */
        if (bs.flags & BS_ALLOCATED)
            p->total += granules_new(p, off, bs.len);
        off += bs.len;
    }
    p->counted_end = 0;
}

/* qemu-img prints the job's progress each time its loop polls, which is once per I/O the job
 * waits for when the thread pool is slow and at least once (a do-while) when it is fast:
 * flatimg prints once per copied request, and once if there was none. */
static void commit_progress_step(struct commit_progress *p, uint64_t off, uint64_t n)
{
    p->done += granules_new(p, off, n);
    progress_print(p->total ? (float)p->done / (float)p->total * 100.f : 0.0f, 0);
}

/* The copy runs as a pipeline: this thread finds the allocated ranges and reads them, a worker
 * writes them into the base in the same order (so the base's layout is the sequential one) and
 * accounts rate and progress. */
#define COMMIT_SLOTS 4

struct commit_slot {
    uint64_t off, n;
    bool zero;
    uint8_t *buf;
};

/* Bytes written between two writeback_start() calls. */
#define WRITEBACK_STEP (16ULL << 20)

struct commit_job {
    struct node *base;
    uint64_t unsynced;
    struct rate_limit *rl;
    struct commit_progress *prog;
    struct error *err;
};

static int commit_apply(void *opaque, void *slot_)
{
    struct commit_job *job = opaque;
    struct commit_slot *slot = slot_;
    int ret = slot->zero ? node_pwrite_zeroes(job->base, slot->off, slot->n, ZERO_MAY_UNMAP)
                         : node_pwrite(job->base, slot->off, slot->n, slot->buf);
    if (ret < 0) {
        error_setg_errno(&job->err, -ret, "Could not commit data");
        return ret;
    }
    if (!slot->zero && (job->unsynced += slot->n) >= WRITEBACK_STEP) {
        writeback_start(job->base);
        job->unsynced = 0;
    }
    /* qemu's job speed: the copy takes at least bytes / rate */
    rate_limit_add(job->rl, slot->n);
    rate_limit_wait(job->rl);
    commit_progress_step(job->prog, slot->off, slot->n);
    return 0;
}

/* Copy every range allocated above base into base. */
static int commit_copy(struct node *top, struct node *base, struct rate_limit *rl,
                       struct error **errp)
{
    struct commit_slot slots[COMMIT_SLOTS];
    void *ring[COMMIT_SLOTS];
    for (int i = 0; i < COMMIT_SLOTS; i++) {
        slots[i].buf = aligned_alloc(4096, COPY_CHUNK);
        if (!slots[i].buf)
            abort();
        ring[i] = &slots[i];
    }
    struct commit_progress prog;
    commit_progress_init(&prog, top, base);
    struct commit_job job = { .base = base, .rl = rl, .prog = &prog };
    struct pipeline *pl = pipeline_start(ring, COMMIT_SLOTS, commit_apply, &job);
    struct error *err = NULL;
    uint64_t size = top->size;
    int ret = 0;
    for (uint64_t off = 0; off < size;) {
        struct block_status bs;
        uint64_t want = size - off < COPY_CHUNK ? size - off : COPY_CHUNK;
        ret = node_block_status_above(top, base, off, want, &bs, NULL);
        if (ret == 0 && bs.len == 0)
            ret = -EIO;
        if (ret < 0) {
            error_setg_errno(&err, -ret, "Could not read block status");
            break;
        }
        if (bs.flags & BS_ALLOCATED) {
            struct commit_slot *slot = pipeline_get(pl);
            if (!slot)
                break;
            *slot = (struct commit_slot){ off, bs.len, bs.flags & BS_ZERO, slot->buf };
            if (!slot->zero && (ret = node_pread(top, off, bs.len, slot->buf)) < 0) {
                error_setg_errno(&err, -ret, "Could not commit data");
                break;
            }
            pipeline_put(pl);
        }
        off += bs.len;
    }
    /* the worker's error comes from an earlier range than this thread's */
    int wret = pipeline_finish(pl);
    if (job.err) {
        error_free(err);
        err = job.err;
        ret = wret;
    }
    if (!err && !prog.done)
        progress_print(0, 0);
    for (int i = 0; i < COMMIT_SLOTS; i++)
        free(slots[i].buf);
    if (err) {
        error_propagate(errp, err);
        return ret;
    }
    return 0;
}

/* Reopen the chain so that base is writable, commit, and empty the top. */
static int commit_run(struct node *top, int base_depth, bool drop, struct rate_limit *rl,
                      struct error **errp)
{
    struct node *base = top;
    for (int d = 0; d < base_depth; d++)
        base = base->backing;
    if (base->size < top->size) {
        int ret = node_truncate(base, top->size, false, PREALLOC_OFF, errp);
        if (ret < 0)
            return ret;
    }
    int ret = commit_copy(top, base, rl, errp);
    if (ret == 0)
        ret = node_flush(base);
    if (ret < 0)
        return ret;
    if (!drop && top->drv->make_empty) {
        ret = top->drv->make_empty(top);
        if (ret < 0 && ret != -ENOTSUP) {
            error_setg_errno(errp, -ret, "Could not empty the image");
            return ret;
        }
    }
    return 0;
}

int cmd_commit(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = NULL, *cache = "writeback", *base = NULL;
    bool progress = false, quiet = false, drop = false, image_opts = false;
    int64_t rate = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":f:ht:b:dpqr:", long_options, NULL)) != -1) {
        switch (c) {
        case 'f': fmt = optarg; break;
        case 't': cache = optarg; break;
        case 'b': base = optarg; drop = true; break; /* -b implies -d */
        case 'd': drop = true; break;
        case 'p': progress = true; break;
        case 'q': quiet = true; break;
        case 'r':
            rate = cvtnum("rate limit", optarg);
            if (rate < 0)
                return 1;
            break;
        case OPTION_OBJECT: add_object_or_exit(optarg); break;
        case OPTION_IMAGE_OPTS: image_opts = true; break;
        default: common_getopt_error(c, argv);
        }
    }
    if (quiet)
        progress = false;
    if (optind != argc - 1)
        error_exit("Expecting one image file name");
    const char *filename = argv[optind];
    int flags = NODE_RDWR;
    if (cache_mode_parse(cache, &flags) < 0) {
        error_report("Invalid cache option: %s", cache);
        return 1;
    }
    struct node *top = img_open_rw(image_opts, filename, fmt, flags, quiet);
    if (!top)
        return 1;
    progress_init(progress, 1.0f);
    progress_print(0, 100);
    struct error *err = NULL;
    int depth = 1;
    if (base && !chain_find(top, base, &depth))
        error_setg(&err, "Did not find '%s' in the backing chain of '%s'", base, filename);
    else if (!base && !top->backing)
        error_setg(&err, "Image does not have a backing file");
    if (!err) {
        /* the core opens backing files read-only: rebuild the chain with the base writable */
        node_close(top->backing);
        top->backing = NULL;
        if (chain_open_below(top, depth, flags) < 0) {
            progress_end();
            node_close(top);
            return 1;
        }
        struct rate_limit rl;
        rate_limit_init(&rl, (uint64_t)rate, 0);
        commit_run(top, depth, drop, &rl, &err);
        rate_limit_destroy(&rl);
    }
    if (!err)
        progress_print(100, 0);
    progress_end();
    node_close(top);
    if (err) {
        error_report_err(err);
        return 1;
    }
    if (!quiet)
        printf("Image committed.\n");
    return 0;
}
