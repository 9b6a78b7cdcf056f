/* flatimg convert: qemu-img 7.2's img_convert. Argument checks and messages in its order, the
 * target created through the format's create op, then a copy driven by block status (zero and
 * unallocated ranges skipped, data scanned for zeros per -S) on -m worker threads writing in
 * order unless -W. A target this run created is removed again when the copy fails. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bitmap.h"
#include "common.h"
#include "create.h"
#include "file.h"
#include "progress.h"
#include "write-common.h"

#define SECTOR 512ULL
#define BUF_SIZE (2ULL << 20)
#define MAX_BUF_SIZE (16ULL << 20)
#define MAX_WORKERS 16
#define REQUEST_MAX (1ULL << 30)

enum blk_status { BLK_DATA, BLK_ZERO, BLK_BACKING_FILE };

struct convert;

struct worker {
    struct convert *c;
    pthread_cond_t turn;
    bool waiting;
    uint64_t wait_off;
};

struct convert {
    struct node **src;
    uint64_t *src_size;
    int src_num;
    uint64_t total;
    struct node *target;
    struct opts *target_open_opts; /* key secrets from -o, for opening the new target */
    bool split_compress; /* compressed, with the target's compress_cluster */
    bool copy_range;     /* -C: offload data copies to copy_file_range where possible */
    bool compressed, has_zero_init, target_has_backing, target_is_new, wr_in_order, salvage, quiet;
    bool keep_target; /* every byte was copied: qemu keeps the target whatever fails after */
    int64_t target_backing_size; /* -1: unknown */
    uint64_t min_sparse, buf_size, cluster_size, alignment;
    long workers;
    uint64_t rate;          /* -r, bytes per second; 0: unlimited */
    struct rate_limit rl;

    /* iteration state, under lock */
    pthread_mutex_t lock;
    struct worker *pool; /* the workers, each waiting for its turn on its own condition */
    long pool_size;
    int src_cur;
    uint64_t src_cur_offset;
    uint64_t next_status; /* end of the range whose status is known */
    enum blk_status status;
    uint64_t next_off;
    uint64_t wr_offs;
    int ret;
    uint64_t allocated, allocated_done;
};

static int64_t min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* qemu's convert_iteration_sectors: the length of the next piece starting at off and its status
 * (in c->status). Called with the lock held or before the workers start. */
static int64_t convert_iteration(struct convert *c, uint64_t off)
{
    while (off >= c->src_cur_offset + c->src_size[c->src_cur]) {
        c->src_cur_offset += c->src_size[c->src_cur];
        c->src_cur++;
    }
    uint64_t src_end = c->src_cur_offset + c->src_size[c->src_cur];
    uint64_t n = min64(src_end - off, REQUEST_MAX);
    if (c->next_status <= off) {
        struct node *src = c->src[c->src_cur];
        uint64_t soff = off - c->src_cur_offset;
        struct block_status bs;
        int ret = c->target_has_backing ? node_block_status(src, soff, n, &bs)
                                        : node_block_status_above(src, NULL, soff, n, &bs, NULL);
        bool post_backing_zero =
            c->target_backing_size >= 0 && off >= (uint64_t)c->target_backing_size;
        if (ret < 0 || bs.len == 0) {
            if (ret == 0)
                ret = -EIO;
            if (!c->salvage) {
                error_report("error while reading block status at offset %" PRIu64 ": %s", soff,
                             strerror(-ret));
                return ret;
            }
            if (!c->quiet)
                warn_report("error while reading block status at offset %" PRIu64 ": %s", soff,
                            strerror(-ret));
            bs.flags = BS_DATA;
            bs.len = SECTOR;
        }
        uint64_t len = (bs.len + SECTOR - 1) / SECTOR * SECTOR;
        if (bs.flags & BS_ZERO)
            c->status = post_backing_zero ? BLK_BACKING_FILE : BLK_ZERO;
        else if (bs.flags & BS_DATA)
            c->status = BLK_DATA;
        else
            c->status = c->target_has_backing ? BLK_BACKING_FILE : BLK_DATA;
        c->next_status = off + len;
    }
    n = min64(n, c->next_status - off);
    if (c->status == BLK_DATA || (!c->min_sparse && c->status == BLK_ZERO))
        n = min64(n, c->buf_size);
    /* compressed clusters are written whole: a short range is taken as data */
    if (c->compressed && c->cluster_size) {
        if (n < c->cluster_size) {
            n = min64(c->cluster_size, src_end - off);
            c->status = BLK_DATA;
        } else {
            n = n / c->cluster_size * c->cluster_size;
        }
    }
    return (int64_t)n;
}

static int convert_read(struct convert *c, int src_idx, uint64_t soff, uint64_t n, uint8_t *buf)
{
    struct node *src = c->src[src_idx];
    int ret = node_pread(src, soff, n, buf);
    if (ret == 0 || !c->salvage)
        return ret;
    /* salvage: sector by sector, unreadable ones become zeros */
    for (uint64_t done = 0; done < n; done += SECTOR) {
        if (node_pread(src, soff + done, SECTOR, buf + done) < 0) {
            if (!c->quiet)
                warn_report("error while reading offset %" PRIu64 ": %s", soff + done,
                            strerror(-ret));
            memset(buf + done, 0, SECTOR);
        }
    }
    return 0;
}

/* -r: like qemu's throttle on the target, a write waits until the bytes before it have drained. */
static void throttle(struct convert *c, uint64_t n)
{
    rate_limit_wait(&c->rl);
    rate_limit_add(&c->rl, n);
}

/* A compressed cluster made on the worker's thread before its turn to write. */
struct prepared {
    bool ready;
    int64_t clen;
    uint8_t *out;
};

static int convert_write(struct convert *c, uint64_t off, uint64_t n, enum blk_status status,
                         const uint8_t *buf, const struct prepared *pc)
{
    if (pc->ready) {
        throttle(c, n);
        return node_pwrite_compressed_prepared(c->target, off, n, buf, pc->out, pc->clen);
    }
    while (n > 0) {
        uint64_t piece = n;
        int ret = 0;
        bool zero = status == BLK_ZERO;
        if (status == BLK_DATA) {
            bool write_data;
            if (!c->min_sparse)
                write_data = true;
            else if (c->compressed)
                write_data = !buffer_is_zero(buf, n);
            else
                write_data = convert_scan_allocated(buf, n, &piece, c->min_sparse, off,
                                                    c->alignment);
            if (write_data) {
                throttle(c, piece);
                ret = c->compressed ? node_pwrite_compressed(c->target, off, piece, buf)
                                    : node_pwrite(c->target, off, piece, buf);
            } else {
                zero = true;
            }
        }
        if (zero && !c->has_zero_init) {
            throttle(c, piece);
            ret = node_pwrite_zeroes(c->target, off, piece, ZERO_MAY_UNMAP);
        }
        if (ret < 0)
            return ret;
        off += piece;
        n -= piece;
        buf += piece;
    }
    return 0;
}

/* Where [off, off+len) of n lies contiguously in a plain file: its descriptor, the host offset and
 * how many bytes from off; false when the range is not plain data in a file. */
static bool host_range(struct node *n, uint64_t off, uint64_t len, bool source, int *fd,
                       uint64_t *host, uint64_t *got)
{
    struct block_status bs;
    if (node_block_status(n, off, len, &bs) < 0 || bs.len == 0 ||
        !(bs.flags & BS_OFFSET_VALID) || (source && (bs.flags & BS_ZERO)) || !bs.file)
        return false;
    *fd = file_node_fd(bs.file);
    *host = bs.offset;
    *got = bs.len < len ? bs.len : len;
    return *fd >= 0;
}

/* -C: copy a data piece file to file in the kernel (qemu's copy_range). A raw target only: other
 * formats need their metadata written. Returns the bytes copied; whatever is left (or everything,
 * when the kernel refuses) goes the normal way, as qemu falls back after a failed offload. */
static uint64_t convert_copy_range(struct convert *c, int src_idx, uint64_t soff, uint64_t off,
                                   uint64_t n)
{
    uint64_t done = 0;
    if (strcmp(c->target->drv->name, "raw") || !__atomic_load_n(&c->copy_range, __ATOMIC_RELAXED))
        return 0;
    while (done < n) {
        int in_fd, out_fd;
        uint64_t hin, hout, got_in, got_out;
        if (!host_range(c->src[src_idx], soff + done, n - done, true, &in_fd, &hin, &got_in) ||
            !host_range(c->target, off + done, n - done, false, &out_fd, &hout, &got_out))
            break;
        uint64_t chunk = got_in < got_out ? got_in : got_out;
        loff_t lin = (loff_t)hin, lout = (loff_t)hout;
        throttle(c, chunk);
        ssize_t r = copy_file_range(in_fd, &lin, out_fd, &lout, chunk, 0);
        if (r <= 0) {
            /* qemu stops offloading after the first failure */
            __atomic_store_n(&c->copy_range, false, __ATOMIC_RELAXED);
            break;
        }
        done += (uint64_t)r;
    }
    return done;
}

/* Wake the worker whose piece is next in write order (all of them after a failure), rather than
 * every waiter: with many workers on few cores a broadcast costs more than the copy. Lock held. */
static void wake_next(struct convert *c)
{
    for (long i = 0; i < c->pool_size; i++) {
        struct worker *w = &c->pool[i];
        if (w->waiting && (c->ret || w->wait_off == c->wr_offs))
            pthread_cond_signal(&w->turn);
    }
}

/* One range of a piece: [off, off+n) of the target with one status, from src[src_idx] at soff;
 * its data at buf + bpos. */
struct range {
    uint64_t off, n, soff, bpos;
    enum blk_status status;
    int src_idx;
};

#define PIECE_RANGES 32

/* A worker's share of the copy: [start, end) of the target, of which the ranges listed need a
 * write (together at most one buffer of data); the rest needs none (zeros on a target that reads
 * as zeros, or what the target's backing file holds). A worker writes when the write order
 * reaches `start` and passes it on at `end`. Gathering the small extents of a scattered image
 * into one piece makes one hand-over between threads per buffer rather than per extent: waking
 * a thread on another core costs more than copying a 256 KiB extent, so per-extent hand-overs
 * would leave the second core idle. */
struct piece {
    uint64_t start, end;
    int count;
    struct range r[PIECE_RANGES];
};

static bool needs_no_write(const struct convert *c, enum blk_status status)
{
    return status == BLK_BACKING_FILE || (status == BLK_ZERO && c->min_sparse && c->has_zero_init);
}

static bool uses_buffer(const struct convert *c, enum blk_status status)
{
    return status == BLK_DATA || (status == BLK_ZERO && !c->min_sparse);
}

/* Take the next piece of work; false when there is none left or a worker failed. Lock held. */
static bool convert_next(struct convert *c, struct piece *p)
{
    if (c->ret || c->next_off >= c->total)
        return false;
    /* a compressed cluster is prepared on its own, an offload copies one range, and --salvage
     * warns of block status and read errors in turn, as qemu */
    int max = c->split_compress || c->salvage || __atomic_load_n(&c->copy_range, __ATOMIC_RELAXED)
                  ? 1 : PIECE_RANGES;
    uint64_t buffered = 0;
    p->start = c->next_off;
    p->count = 0;
    while (c->next_off < c->total && p->count < max) {
        int64_t len = convert_iteration(c, c->next_off);
        if (len < 0) {
            c->ret = (int)len;
            wake_next(c);
            return false;
        }
        if (!needs_no_write(c, c->status)) {
            bool buffered_range = uses_buffer(c, c->status);
            if (buffered_range && buffered + (uint64_t)len > c->buf_size)
                break; /* the next piece's (convert_iteration gives the same again) */
            p->r[p->count++] = (struct range){
                .off = c->next_off, .n = (uint64_t)len, .soff = c->next_off - c->src_cur_offset,
                .bpos = buffered, .status = c->status, .src_idx = c->src_cur,
            };
            if (buffered_range) {
                buffered += (uint64_t)len;
                c->allocated_done += (uint64_t)len;
                progress_print(100.0f * (float)c->allocated_done / (float)c->allocated, 0);
            }
        }
        c->next_off += (uint64_t)len;
    }
    p->end = c->next_off;
    return true;
}

/* Read (or make) a range's data into the worker's buffer before its turn to write. */
static int range_fill(struct convert *c, struct range *r, uint8_t *buf, bool offload)
{
    if (r->status == BLK_ZERO && !c->min_sparse) {
        memset(buf, 0, r->n);
        r->status = BLK_DATA;
    } else if (r->status == BLK_DATA && !offload) {
        int ret = convert_read(c, r->src_idx, r->soff, r->n, buf);
        if (ret < 0) {
            error_report("error while reading at byte %" PRIu64 ": %s", r->off, strerror(-ret));
            return ret;
        }
    }
    return 0;
}

/* Write a range in its turn: an offload (-C) first where it applies, then the normal way. */
static int range_write(struct convert *c, struct range *r, uint8_t *buf, bool offload,
                       const struct prepared *pc)
{
    uint64_t off = r->off, soff = r->soff, n = r->n;
    if (offload) {
        uint64_t copied = convert_copy_range(c, r->src_idx, soff, off, n);
        off += copied;
        soff += copied;
        n -= copied;
        int ret = n ? convert_read(c, r->src_idx, soff, n, buf) : 0;
        if (ret < 0) {
            error_report("error while reading at byte %" PRIu64 ": %s", off, strerror(-ret));
            return ret;
        }
    }
    if (!n)
        return 0;
    int ret = convert_write(c, off, n, r->status, buf, pc);
    if (ret < 0)
        error_report("error while writing at byte %" PRIu64 ": %s", off, strerror(-ret));
    return ret;
}

static void *convert_worker(void *opaque)
{
    struct worker *w = opaque;
    struct convert *c = w->c;
    uint8_t *buf = io_buffer_alloc(c->buf_size);
    struct prepared pc = { .out = c->split_compress ? malloc(c->cluster_size) : NULL };
    struct piece *p = malloc(sizeof(*p));
    if (!buf || !p || (c->split_compress && !pc.out))
        abort();
    for (;;) {
        int ret = 0;
        pthread_mutex_lock(&c->lock);
        bool more = convert_next(c, p);
        pthread_mutex_unlock(&c->lock);
        if (!more)
            break;
        bool offload = p->count == 1 && p->r[0].status == BLK_DATA &&
                       __atomic_load_n(&c->copy_range, __ATOMIC_RELAXED);
        for (int i = 0; i < p->count && ret == 0; i++)
            ret = range_fill(c, &p->r[i], buf + p->r[i].bpos, offload);
        /* compress outside the write order, so that the workers compress in parallel */
        pc.ready = false;
        struct range *r0 = &p->r[0];
        if (ret == 0 && p->count == 1 && c->split_compress && r0->status == BLK_DATA &&
            r0->n <= c->cluster_size && (!c->min_sparse || !buffer_is_zero(buf, r0->n))) {
            memset(buf + r0->n, 0, c->cluster_size - r0->n);
            pc.clen = node_compress_cluster(c->target, buf, pc.out);
            pc.ready = true;
            if (pc.clen < 0 && pc.clen != -ENOSPC) {
                ret = (int)pc.clen;
                error_report("error while writing at byte %" PRIu64 ": %s", r0->off,
                             strerror(-ret));
            }
        }
        pthread_mutex_lock(&c->lock);
        w->wait_off = p->start;
        w->waiting = true;
        while (ret == 0 && c->wr_in_order && c->wr_offs != p->start && !c->ret)
            pthread_cond_wait(&w->turn, &c->lock);
        w->waiting = false;
        bool go = ret == 0 && !c->ret;
        pthread_mutex_unlock(&c->lock);
        for (int i = 0; go && i < p->count; i++) {
            ret = range_write(c, &p->r[i], buf + p->r[i].bpos, offload, &pc);
            go = ret == 0;
        }
        pthread_mutex_lock(&c->lock);
        if (ret < 0 && !c->ret)
            c->ret = ret;
        if (c->wr_offs < p->end)
            c->wr_offs = p->end;
        wake_next(c);
        pthread_mutex_unlock(&c->lock);
    }
    free(p);
    free(buf);
    free(pc.out);
    return NULL;
}

/* Zero the whole target when it can be done without writing data (qemu's blk_make_zero with
 * NO_FALLBACK); afterwards zero ranges need no writes. */
static bool convert_make_zero(struct convert *c)
{
    uint64_t size = c->target->size;
    for (uint64_t off = 0; off < size;) {
        uint64_t n = min64(size - off, REQUEST_MAX);
        struct block_status bs;
        if (node_block_status(c->target, off, n, &bs) < 0 || bs.len == 0)
            return false;
        /* like qemu (block status without want_zero), only ranges this layer records as
         * zero are left alone; unallocated ones get zeroed too */
        bool zero = (bs.flags & BS_ZERO) && (bs.flags & BS_ALLOCATED);
        if (!zero &&
            node_pwrite_zeroes(c->target, off, bs.len, ZERO_MAY_UNMAP | ZERO_NO_FALLBACK) < 0)
            return false;
        off += bs.len;
    }
    return true;
}

/* qemu's -m counts requests in flight, on coroutines. Here each is a thread: buffered I/O is the
 * CPU's own work (copies to and from the page cache), as is compression, so threads beyond the
 * CPUs only add switching and cache misses, and they are capped there (at 2, so that one reads
 * while another writes); direct I/O waits on the device and keeps every one. */
static long worker_threads(const struct convert *c)
{
    bool direct = c->target->flags & NODE_NOCACHE;
    for (int i = 0; i < c->src_num; i++)
        direct = direct || (c->src[i]->flags & NODE_NOCACHE);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (direct || c->workers <= 2)
        return c->workers;
    if (cpus < 2)
        cpus = 2;
    return c->workers < cpus ? c->workers : cpus;
}

static int convert_do_copy(struct convert *c)
{
    /* qemu zeroes up front only a target it has just created (-n targets get their zero
     * ranges written one by one) */
    if (c->target_is_new && !c->has_zero_init && !c->target_has_backing && convert_make_zero(c))
        c->has_zero_init = true;
    if (c->compressed) {
        if (!c->cluster_size || c->cluster_size > MAX_BUF_SIZE) {
            error_report("invalid cluster size");
            return -EINVAL;
        }
        c->buf_size = c->cluster_size;
        c->split_compress = c->target->drv->compress_cluster &&
                            c->target->drv->pwrite_compressed_prepared;
    }
    /* first pass: how much will be copied, for the progress */
    for (uint64_t off = 0; off < c->total;) {
        int64_t n = convert_iteration(c, off);
        if (n < 0)
            return (int)n;
        if (c->status == BLK_DATA || (!c->min_sparse && c->status == BLK_ZERO))
            c->allocated += (uint64_t)n;
        off += (uint64_t)n;
    }
    c->src_cur = 0;
    c->src_cur_offset = 0;
    c->next_status = 0;
    /* qemu's coroutines meet read errors one after another: --salvage copies on one worker so
     * that its warnings come in the same order */
    if (c->salvage)
        c->workers = 1;
    else
        c->workers = worker_threads(c);
    pthread_t tids[MAX_WORKERS];
    struct worker pool[MAX_WORKERS];
    long started = 0;
    for (long i = 0; i < c->workers; i++) {
        pool[i] = (struct worker){ .c = c };
        pthread_cond_init(&pool[i].turn, NULL);
    }
    c->pool = pool;
    c->pool_size = c->workers;
    for (long i = 0; i < c->workers; i++) {
        if (pthread_create(&tids[i], NULL, convert_worker, &pool[i]) != 0)
            break;
        started++;
    }
    if (!started)
        convert_worker(&pool[0]);
    for (long i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    for (long i = 0; i < c->workers; i++)
        pthread_cond_destroy(&pool[i].turn);
    c->pool = NULL;
    c->pool_size = 0;
    if (c->compressed && c->ret == 0) {
        c->keep_target = true;
        return node_pwrite_compressed(c->target, 0, 0, NULL); /* qemu's "signal EOF to align" */
    }
    return c->ret;
}

struct convert_args {
    const char *fmt, *out_fmt, *out_baseimg, *backing_fmt, *cache, *src_cache;
    const char *snapshot_name, *sn_id, *sn_name;
    char *options;
    bool sn_opts, image_opts, tgt_image_opts, skip_create, force_share, progress;
    bool bitmaps, skip_broken, copy_range, explicit_min_sparse;
};

/* -l snapshot.id=...,snapshot.name=...: qemu's internal_snapshot_opts. */
static int parse_snapshot_opts(struct convert_args *a, const char *arg)
{
    struct opts *o = opts_new();
    struct error *err = NULL;
    int ret = opts_parse(o, arg, NULL, &err);
    for (size_t i = 0; ret == 0 && i < o->count; i++) {
        const char *k = o->items[i].key;
        if (strcmp(k, "snapshot.id") && strcmp(k, "snapshot.name")) {
            error_setg(&err, "Invalid parameter '%s'", k);
            ret = -EINVAL;
        }
    }
    if (ret < 0) {
        error_report_err(err);
        error_report("Failed in parsing snapshot param '%s'", arg);
        opts_free(o);
        return -1;
    }
    const char *id = opts_get(o, "snapshot.id"), *name = opts_get(o, "snapshot.name");
    a->sn_id = id ? strdup(id) : NULL;
    a->sn_name = name ? strdup(name) : NULL;
    a->sn_opts = true;
    opts_free(o);
    return 0;
}

static int load_snapshot(struct convert *c, struct convert_args *a)
{
    struct error *err = NULL;
    struct node *n = c->src[0];
    if (!a->sn_opts && !a->snapshot_name)
        return 0;
    if (!a->sn_opts && c->src_num > 1) {
        error_report("No support for concatenating multiple snapshot");
        return -1;
    }
    if (!n->drv->snapshot_load_tmp) {
        error_setg(&err, "Block format '%s' used by device '' does not support temporarily "
                         "loading internal snapshots", n->drv->name);
    } else if (a->sn_opts) {
        if (!a->sn_id && !a->sn_name)
            error_setg(&err, "Parameter 'snapshot_id' is required");
        else
            n->drv->snapshot_load_tmp(n, a->sn_id, a->sn_name, &err);
    } else if (n->drv->snapshot_load_tmp(n, a->snapshot_name, NULL, &err) < 0) {
        error_free(err);
        err = NULL;
        n->drv->snapshot_load_tmp(n, NULL, a->snapshot_name, &err);
    }
    if (err) {
        error_prepend(&err, "Failed to load snapshot: ");
        error_report_err(err);
        return -1;
    }
    return 0;
}

/* Build the target's create options as img_convert does; NULL after printing an error. */
static struct opts *target_create_opts(const struct driver *drv, struct convert_args *a,
                                       uint64_t size, struct opt_desc **descs)
{
    struct error *err = NULL;
    struct opts *o = opts_new();
    *descs = create_opts_merged(drv, true);
    if (a->options && (opts_parse(o, a->options, NULL, &err) < 0 ||
                       opts_validate(o, *descs, &err) < 0 ||
                       opts_check_types(o, *descs, &err) < 0))
        goto fail;
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRIu64, size);
    opts_set(o, "size", buf);
    if (a->out_baseimg) {
        if (!opt_desc_find(*descs, "backing_file")) {
            error_setg(&err, "Backing file not supported for file format '%s'", a->out_fmt);
            goto fail;
        }
        opts_set(o, "backing_file", a->out_baseimg);
    }
    if (a->backing_fmt) {
        if (!opt_desc_find(*descs, "backing_fmt")) {
            error_setg(&err, "Backing file format not supported for file format '%s'",
                       a->out_fmt);
            goto fail;
        }
        opts_set(o, "backing_fmt", a->backing_fmt);
    }
    return o;
fail:
    if (err)
        error_report_err(err);
    opts_free(o);
    free(*descs);
    *descs = NULL;
    return NULL;
}

static int check_compress_opts(struct convert *c, const struct driver *drv, struct opts *o)
{
    if (!c->compressed)
        return 0;
    if (drv && !drv->pwrite_compressed) {
        error_report("Compression not supported for this file format");
        return -1;
    }
    if (!o)
        return 0;
    bool enc = false;
    opts_get_bool(o, "encryption", &enc, NULL);
    if (enc || opts_get(o, "encrypt.format")) {
        error_report("Compression and encryption not supported at the same time");
        return -1;
    }
    const char *p = opts_get(o, "preallocation");
    if (p && strcmp(p, "off")) {
        error_report("Compression and preallocation not supported at the same time");
        return -1;
    }
    return 0;
}

static int parse_workers(const char *arg, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 0);
    if (errno || end == arg || *end || v < 1 || v > MAX_WORKERS) {
        error_report("Invalid number of coroutines. Allowed number of coroutines is between 1 "
                     "and %d", MAX_WORKERS);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_sparse(const char *arg, struct convert *c)
{
    int64_t v = cvtnum("buffer size for sparse output", arg);
    if (v < 0)
        return -1;
    if (v % SECTOR || (uint64_t)v > MAX_BUF_SIZE) {
        error_report("Invalid buffer size for sparse output specified. Valid sizes are "
                     "multiples of %llu up to %llu. Select 0 to disable sparse detection "
                     "(fully allocates output).", SECTOR, MAX_BUF_SIZE);
        return -1;
    }
    c->min_sparse = (uint64_t)v;
    return 0;
}

static int parse_args(int argc, char **argv, struct convert *c, struct convert_args *a)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { "target-image-opts", no_argument, NULL, OPTION_TARGET_IMAGE_OPTS },
        { "salvage", no_argument, NULL, OPTION_SALVAGE },
        { "target-is-zero", no_argument, NULL, OPTION_TARGET_IS_ZERO },
        { "bitmaps", no_argument, NULL, OPTION_BITMAPS },
        { "skip-broken-bitmaps", no_argument, NULL, OPTION_SKIP_BROKEN },
        { NULL, 0, NULL, 0 },
    };
    int ch;
    while ((ch = getopt_long(argc, argv, ":hf:O:B:CcF:o:l:S:pt:T:qnm:WUr:", long_options,
                             NULL)) != -1) {
        switch (ch) {
        case 'f': a->fmt = optarg; break;
        case 'O': a->out_fmt = optarg; break;
        case 'B': a->out_baseimg = optarg; break;
        case 'C': a->copy_range = true; break;
        case 'c': c->compressed = true; break;
        case 'F': a->backing_fmt = optarg; break;
        case 'o':
            a->options = accumulate_options(a->options, optarg);
            if (!a->options)
                return -1;
            break;
        case 'l':
            if (!strncmp(optarg, "snapshot.", 9)) {
                if (parse_snapshot_opts(a, optarg) < 0)
                    return -1;
            } else {
                a->snapshot_name = optarg;
            }
            break;
        case 'S':
            if (parse_sparse(optarg, c) < 0)
                return -1;
            a->explicit_min_sparse = true;
            break;
        case 'p': a->progress = true; break;
        case 't': a->cache = optarg; break;
        case 'T': a->src_cache = optarg; break;
        case 'q': c->quiet = true; break;
        case 'n': a->skip_create = true; break;
        case 'm':
            if (parse_workers(optarg, &c->workers) < 0)
                return -1;
            break;
        case 'W': c->wr_in_order = false; break;
        case 'U': a->force_share = true; break;
        case 'r': {
            int64_t rate = cvtnum("rate limit", optarg);
            if (rate < 0)
                return -1;
            c->rate = (uint64_t)rate;
            break;
        }
        case OPTION_OBJECT: add_object_or_exit(optarg); break;
        case OPTION_IMAGE_OPTS: a->image_opts = true; break;
        case OPTION_SALVAGE: c->salvage = true; break;
        case OPTION_TARGET_IMAGE_OPTS: a->tgt_image_opts = true; break;
        case OPTION_TARGET_IS_ZERO: c->has_zero_init = true; break;
        case OPTION_BITMAPS: a->bitmaps = true; break;
        case OPTION_SKIP_BROKEN: a->skip_broken = true; break;
        default: common_getopt_error(ch, argv);
        }
    }
    return 0;
}

/* The checks img_convert makes before opening anything. */
static int check_args(struct convert *c, struct convert_args *a)
{
    if (!a->out_fmt && !a->tgt_image_opts)
        a->out_fmt = "raw";
    const char *msg = NULL;
    if (a->skip_broken && !a->bitmaps)
        msg = "Use of --skip-broken-bitmaps requires --bitmaps";
    else if (c->compressed && a->copy_range)
        msg = "Cannot enable copy offloading when -c is used";
    else if (a->explicit_min_sparse && a->copy_range)
        msg = "Cannot enable copy offloading when -S is used";
    else if (a->copy_range && c->salvage)
        msg = "Cannot use copy offloading in salvaging mode";
    else if (a->tgt_image_opts && !a->skip_create)
        msg = "--target-image-opts requires use of -n flag";
    else if (a->skip_create && a->options)
        msg = "-o has no effect when skipping image creation";
    else if (c->has_zero_init && !a->skip_create)
        msg = "--target-is-zero requires use of -n flag";
    if (msg) {
        error_report("%s", msg);
        return -1;
    }
    return 0;
}

static int open_sources(struct convert *c, struct convert_args *a, char **names)
{
    int flags = NODE_UNSHARE_WRITE;
    if (a->src_cache && cache_mode_parse(a->src_cache, &flags) < 0) {
        error_report("Invalid source cache option: %s", a->src_cache);
        return -1;
    }
    if (c->quiet)
        a->progress = false;
    progress_init(a->progress, 1.0f);
    progress_print(0, 100);
    c->src = calloc((size_t)c->src_num, sizeof(*c->src));
    c->src_size = calloc((size_t)c->src_num, sizeof(*c->src_size));
    if (!c->src || !c->src_size)
        abort();
    for (int i = 0; i < c->src_num; i++) {
        c->src[i] = img_open(a->image_opts, names[i], a->fmt, flags, a->force_share);
        if (!c->src[i])
            return -1;
        c->src_size[i] = c->src[i]->size;
        c->total += c->src_size[i];
    }
    return 0;
}

/* qemu's convert_check_bitmaps: an inconsistent bitmap stops the copy unless skipped. */
static int convert_check_bitmaps(struct node *src, bool skip_broken)
{
    const struct bitmap_ops *ops = src->drv->bitmaps;
    struct bitmap_info *list = NULL;
    int count = 0, ret = 0;
    if (!ops) {
        error_report("Source lacks bitmap support");
        return -1;
    }
    if (ops->list(src, &list, &count) < 0) {
        error_report("Could not read the bitmaps of '%s'", node_name(src));
        return -1;
    }
    /* qemu walks its bitmap list newest first: the last inconsistent one is named */
    for (int i = count - 1; i >= 0 && !skip_broken; i--) {
        if (list[i].in_use) {
            error_report("Cannot copy inconsistent bitmap '%s'", list[i].name);
            fprintf(stderr, "Try --skip-broken-bitmaps, or use 'qemu-img bitmap --remove' to "
                            "delete it\n");
            ret = -1;
            break;
        }
    }
    bitmap_info_list_free(list, count);
    return ret;
}

/* qemu's convert_copy_bitmaps: each bitmap created in the target with the same granularity and
 * state, then filled by a merge from the source. */
static int convert_copy_bitmaps(struct node *src, struct node *dst, bool skip_broken)
{
    struct bitmap_info *list = NULL;
    int count = 0, ret = 0;
    if (src->drv->bitmaps->list(src, &list, &count) < 0) {
        error_report("Could not read the bitmaps of '%s'", node_name(src));
        return -1;
    }
    for (int i = 0; i < count && ret == 0; i++) {
        struct error *err = NULL;
        const char *name = list[i].name;
        if (skip_broken && list[i].in_use) {
            warn_report("Skipping inconsistent bitmap '%s'", name);
            continue;
        }
        if (dst->drv->bitmaps->add(dst, name, list[i].granularity, !list[i].enabled, &err) < 0) {
            error_prepend(&err, "Failed to create bitmap %s: ", name);
            ret = -1;
        } else if (dst->drv->bitmaps->merge(dst, name, src, name, &err) < 0) {
            error_prepend(&err, "Failed to populate bitmap %s: ", name);
            ret = -1;
        }
        if (err)
            error_report_err(err);
    }
    bitmap_info_list_free(list, count);
    return ret;
}

static int create_target(struct convert *c, struct convert_args *a, const char *out_filename)
{
    const struct driver *drv = NULL;
    struct opt_desc *descs = NULL;
    struct opts *o = NULL;
    int ret = -1;
    if (!a->skip_create) {
        drv = driver_find(a->out_fmt);
        if (!drv || ((drv->flags & DRV_PROTOCOL) && !drv->create)) {
            error_report("Unknown file format '%s'", a->out_fmt);
            return -1;
        }
        if (!drv->create_opts || !drv->create) {
            error_report("Format driver '%s' does not support image creation", drv->name);
            return -1;
        }
        o = target_create_opts(drv, a, c->total, &descs);
        if (!o)
            return -1;
    }
    const char *baseimg = o && opts_get(o, "backing_file") ? opts_get(o, "backing_file")
                                                           : a->out_baseimg;
    c->target_has_backing = baseimg != NULL;
    if (c->has_zero_init && c->target_has_backing) {
        error_report("Cannot use --target-is-zero when the destination image has a backing file");
        ret = 0; /* qemu 7.2 exits 0 here */
        goto out;
    }
    if (c->src_num > 1 && baseimg) {
        error_report("Having a backing file for the target makes no sense when concatenating "
                     "multiple input images");
        goto out;
    }
    if (o && opts_get(o, "backing_file") && !opts_get(o, "backing_fmt")) {
        error_report("Use of backing file requires explicit backing format");
        goto out;
    }
    if (check_compress_opts(c, drv, o) < 0)
        goto out;
    if (a->bitmaps) {
        if (c->src_num > 1) {
            error_report("Copying bitmaps only possible with single source");
            goto out;
        }
        if (convert_check_bitmaps(c->src[0], a->skip_broken) < 0)
            goto out;
    }
    if (o) {
        struct error *err = NULL;
        if (drv->create(out_filename, o, &err) < 0) {
            error_prepend(&err, "%s: error while converting %s: ", out_filename, a->out_fmt);
            error_report_err(err);
            goto out;
        }
    }
    ret = 1; /* go on */
    /* as qemu-img: the new target is opened with the create options' key secrets */
    c->target_open_opts = opts_new();
    for (size_t i = 0; o && i < o->count; i++) {
        size_t klen = strlen(o->items[i].key);
        if (klen >= 10 && !strcmp(o->items[i].key + klen - 10, "key-secret"))
            opts_set(c->target_open_opts, o->items[i].key, o->items[i].value);
    }
out:
    opts_free(o);
    free(descs);
    return ret;
}

static int open_target(struct convert *c, struct convert_args *a, const char *out_filename)
{
    int flags = NODE_RDWR;
    const char *cache = a->cache ? a->cache : "unsafe";
    if (cache_mode_parse(cache, &flags) < 0) {
        error_report("Invalid cache option: %s", cache);
        return -1;
    }
    if (a->skip_create)
        c->target = img_open(a->tgt_image_opts, out_filename, a->out_fmt, flags, false);
    else
        c->target = img_open_with(out_filename, a->out_fmt, c->target_open_opts, flags);
    if (!c->target)
        return -1;
    struct node *t = c->target;
    if (a->bitmaps && !t->drv->bitmaps) {
        error_report("Format driver '%s' does not support bitmaps", t->drv->name);
        return -1;
    }
    if (c->compressed && !t->drv->pwrite_compressed) {
        error_report("Compression not supported for this file format");
        return -1;
    }
    c->alignment = 1;
    while (c->alignment * 2 <= c->min_sparse / SECTOR)
        c->alignment *= 2;
    if (a->skip_create && t->size < c->total) {
        error_report("output file is smaller than input file");
        return -1;
    }
    c->target_backing_size = -1;
    if (c->target_has_backing && !a->skip_create && t->backing)
        c->target_backing_size = (int64_t)t->backing->size;
    struct node_info info = { 0 };
    if (t->drv->get_info && t->drv->get_info(t, &info, NULL) == 0) {
        c->cluster_size = info.cluster_size;
        /* formats that only take compressed writes (vmdk streamOptimized) get them */
        c->compressed = c->compressed || info.needs_compressed_writes;
        if (info.format_specific)
            json_object_put(info.format_specific);
    } else if (c->compressed) {
        error_report("could not get block driver info");
        return -1;
    }
    return 0;
}

int cmd_convert(int argc, char **argv)
{
    struct convert c = {
        .min_sparse = 8 * SECTOR, .buf_size = BUF_SIZE, .wr_in_order = true, .workers = 8,
    };
    struct convert_args a = { 0 };
    int ret = 1;
    bool existed = true;
    pthread_mutex_init(&c.lock, NULL);
    rate_limit_init(&c.rl, 0, 0);
    if (parse_args(argc, argv, &c, &a) < 0 || check_args(&c, &a) < 0)
        goto fail_getopt;
    c.src_num = argc - optind - 1;
    const char *out_filename = c.src_num >= 1 ? argv[argc - 1] : NULL;
    if (a.options) {
        struct opts *o = opts_new();
        bool want_help = opts_parse(o, a.options, NULL, NULL) == 0 && opts_get(o, "help");
        opts_free(o);
        if (want_help) {
            if (!a.out_fmt) {
                error_report("Option help requires a format be specified");
                goto fail_getopt;
            }
            struct error *err = NULL;
            if (create_print_help(a.out_fmt, out_filename, stdout, &err) < 0) {
                error_report_err(err);
                goto fail_getopt;
            }
            ret = 0;
            goto fail_getopt;
        }
    }
    if (c.src_num < 1) {
        error_report("Must specify image file name");
        goto fail_getopt;
    }
    if (open_sources(&c, &a, argv + optind) < 0 || load_snapshot(&c, &a) < 0)
        goto out;
    existed = access(out_filename, F_OK) == 0;
    int r = create_target(&c, &a, out_filename);
    if (r <= 0) {
        ret = r == 0 ? 0 : 1;
        goto out;
    }
    if (open_target(&c, &a, out_filename) < 0)
        goto out;
    c.target_is_new = !a.skip_create;
    if (!a.skip_create && !c.target_has_backing && !c.has_zero_init)
        c.has_zero_init = node_has_zero_init(c.target);
    c.copy_range = a.copy_range && !strcmp(c.target->drv->name, "raw"); /* no metadata */
    c.rl.rate = c.rate; /* qemu's bucket holds a tenth of a second */
    c.rl.burst = c.rate / 10;
    if (convert_do_copy(&c) < 0)
        goto out;
    if (a.bitmaps && convert_copy_bitmaps(c.src[0], c.target, a.skip_broken) < 0)
        goto out;
    if (node_flush(c.target) < 0) {
        error_report("error while flushing the target image");
        goto out;
    }
    ret = 0;
out:
    if (ret == 0)
        progress_print(100, 0);
    progress_end();
    node_close(c.target);
    opts_free(c.target_open_opts);
    for (int i = 0; c.src && i < c.src_num; i++)
        node_close(c.src[i]);
    free(c.src);
    free(c.src_size);
    /* a target this run made must not stay behind half-written */
    if (ret != 0 && !existed && !a.skip_create && !c.keep_target)
        unlink(out_filename);
fail_getopt:
    free(a.options);
    free((char *)a.sn_id);
    free((char *)a.sn_name);
    pthread_mutex_destroy(&c.lock);
    rate_limit_destroy(&c.rl);
    return ret;
}
