/* flatimg bench: qemu-img 7.2's img_bench. qemu's completion-callback state machine (requests in
 * flight, drained or undrained flushes every --flush-interval requests) runs under one mutex;
 * worker threads carry out the submitted requests, so with -d N up to N are really in parallel. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common.h"
#include "file.h"

#define BENCH_MAX_THREADS 64

enum req_kind { REQ_IO, REQ_FLUSH, REQ_FLUSH_UNDRAINED };

struct request {
    enum req_kind kind;
    uint64_t offset;
};

struct bench {
    struct node *n;
    uint64_t image_size, bufsize, step, offset;
    int nrreq, count_left, in_flight, flush_interval;
    bool write, drain_on_flush, in_flush, stop;
    uint8_t *buf;                 /* one bufsize slice per worker thread */
    struct request *queue;        /* submitted, not yet picked up (a ring) */
    size_t q_head, q_len, q_cap;
    pthread_mutex_t lock;
    pthread_cond_t work, done;
};

static void submit(struct bench *b, enum req_kind kind, uint64_t offset)
{
    if (b->q_len == b->q_cap) {
        size_t cap = b->q_cap ? b->q_cap * 2 : 16;
        struct request *q = malloc(cap * sizeof(*q));
        if (!q)
            abort();
        for (size_t i = 0; i < b->q_len; i++)
            q[i] = b->queue[(b->q_head + i) % b->q_cap];
        free(b->queue);
        b->queue = q;
        b->q_head = 0;
        b->q_cap = cap;
    }
    b->queue[(b->q_head + b->q_len) % b->q_cap] = (struct request){ kind, offset };
    b->q_len++;
    pthread_cond_signal(&b->work);
}

/* qemu-img's bench_cb, called with the lock held after a request (or drained flush) ends and
 * once at the start. */
static void bench_complete(struct bench *b, int ret)
{
    if (ret < 0) {
        error_report("Failed request: %s", strerror(-ret));
        exit(EXIT_FAILURE);
    }
    if (b->in_flush) {
        b->in_flush = false;
    } else if (b->in_flight > 0) {
        int remaining = b->count_left - b->in_flight;
        b->count_left--;
        b->in_flight--;
        if (b->flush_interval && remaining % b->flush_interval == 0) {
            if (!b->in_flight || !b->drain_on_flush) {
                if (b->drain_on_flush)
                    b->in_flush = true;
                submit(b, b->drain_on_flush ? REQ_FLUSH : REQ_FLUSH_UNDRAINED, 0);
            }
            if (b->drain_on_flush)
                return;
        }
    }
    while (b->count_left > b->in_flight && b->in_flight < b->nrreq) {
        uint64_t offset = b->offset;
        b->in_flight++;
        b->offset = b->image_size ? (b->offset + b->step) % b->image_size : 0;
        submit(b, REQ_IO, offset);
    }
}

/* The request as the block backend checks it: wholly inside the image, else EIO. */
static int do_io(struct bench *b, uint64_t offset, uint8_t *buf)
{
    if (offset > b->image_size || b->image_size - offset < b->bufsize)
        return -EIO;
    if (b->bufsize == 0)
        return 0;
    return b->write ? node_pwrite(b->n, offset, b->bufsize, buf)
                    : node_pread(b->n, offset, b->bufsize, buf);
}

struct worker {
    struct bench *b;
    uint8_t *buf;
    pthread_t thread;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct bench *b = w->b;
    pthread_mutex_lock(&b->lock);
    for (;;) {
        while (!b->q_len && !b->stop)
            pthread_cond_wait(&b->work, &b->lock);
        if (b->stop)
            break;
        struct request r = b->queue[b->q_head];
        b->q_head = (b->q_head + 1) % b->q_cap;
        b->q_len--;
        pthread_mutex_unlock(&b->lock);
        int ret = r.kind == REQ_IO ? do_io(b, r.offset, w->buf) : node_flush(b->n);
        pthread_mutex_lock(&b->lock);
        if (r.kind == REQ_FLUSH_UNDRAINED) {
            if (ret < 0) {
                error_report("Failed flush request: %s", strerror(-ret));
                exit(EXIT_FAILURE);
            }
        } else {
            bench_complete(b, ret);
        }
        pthread_cond_broadcast(&b->done);
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

/* Run every request; returns the elapsed seconds. */
static double bench_run(struct bench *b)
{
    int nthreads = b->nrreq < BENCH_MAX_THREADS ? b->nrreq : BENCH_MAX_THREADS;
    if (nthreads < 1)
        nthreads = 1;
    struct worker *w = calloc((size_t)nthreads, sizeof(*w));
    if (!w)
        abort();
    struct timeval t1, t2;
    gettimeofday(&t1, NULL);
    for (int i = 0; i < nthreads; i++) {
        w[i].b = b;
        w[i].buf = b->buf + (size_t)i * b->bufsize;
        if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]))
            abort();
    }
    pthread_mutex_lock(&b->lock);
    bench_complete(b, 0);
    while (b->count_left > 0)
        pthread_cond_wait(&b->done, &b->lock);
    b->stop = true;
    pthread_cond_broadcast(&b->work);
    pthread_mutex_unlock(&b->lock);
    for (int i = 0; i < nthreads; i++)
        pthread_join(w[i].thread, NULL);
    gettimeofday(&t2, NULL);
    free(w);
    return (double)(t2.tv_sec - t1.tv_sec) + (double)(t2.tv_usec - t1.tv_usec) / 1000000;
}

/* qemu_strtoul-style number (decimal, 0x hex, 0 octal; no sign, no trailing text) <= max. */
static bool parse_ulong(const char *s, unsigned long max, int *out)
{
    char *end;
    if (!*s || *s == '-' || *s == '+' || *s == ' ')
        return false;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || *end || v > max)
        return false;
    *out = (int)v;
    return true;
}

static void warn_probed_raw(const struct node *n)
{
    if (!n->probed || !(n->flags & NODE_RDWR) || strcmp(n->drv->name, "raw"))
        return;
    fprintf(stderr,
            "WARNING: Image format was not specified for '%s' and probing guessed raw.\n"
            "         Automatically detecting the format is dangerous for raw images, write "
            "operations on block 0 will be restricted.\n"
            "         Specify the 'raw' format explicitly to remove the restrictions.\n",
            node_name(n->file));
}

struct bench_opts {
    const char *fmt;
    int count, depth, pattern, flush_interval, flags;
    int64_t offset, bufsize, step;
    bool write, drain, image_opts, force_share, native_aio;
};

static int parse_bench_option(int c, struct bench_opts *o, char **argv)
{
    switch (c) {
    case 'c':
        if (!parse_ulong(optarg, INT_MAX, &o->count)) {
            error_report("Invalid request count specified");
            return -1;
        }
        break;
    case 'd':
        if (!parse_ulong(optarg, INT_MAX, &o->depth)) {
            error_report("Invalid queue depth specified");
            return -1;
        }
        break;
    case 'f': o->fmt = optarg; break;
    case 'n': o->native_aio = true; break;
    case 'i':
        if (!strcmp(optarg, "native")) {
            o->native_aio = true;
        } else if (!strcmp(optarg, "threads")) {
            o->native_aio = false;
        } else if (strcmp(optarg, "io_uring")) {
            error_report("Invalid aio option: %s", optarg);
            return -1;
        }
        break;
    case 'o':
        o->offset = cvtnum("offset", optarg);
        if (o->offset < 0)
            return -1;
        break;
    case 'q': break;
    case 's':
        o->bufsize = cvtnum_full("buffer size", optarg, 0, INT_MAX);
        if (o->bufsize < 0)
            return -1;
        break;
    case 'S':
        o->step = cvtnum_full("step_size", optarg, 0, INT_MAX);
        if (o->step < 0)
            return -1;
        break;
    case 't':
        if (cache_mode_parse(optarg, &o->flags) < 0) {
            error_report("Invalid cache mode");
            return -1;
        }
        break;
    case 'w':
        o->flags |= NODE_RDWR;
        o->write = true;
        break;
    case 'U': o->force_share = true; break;
    case OPTION_PATTERN:
        if (!parse_ulong(optarg, 0xff, &o->pattern)) {
            error_report("Invalid pattern byte specified");
            return -1;
        }
        break;
    case OPTION_FLUSH_INTERVAL:
        if (!parse_ulong(optarg, INT_MAX, &o->flush_interval)) {
            error_report("Invalid flush interval specified");
            return -1;
        }
        break;
    case OPTION_NO_DRAIN: o->drain = false; break;
    case OPTION_IMAGE_OPTS: o->image_opts = true; break;
    default: common_getopt_error(c, argv);
    }
    return 0;
}

static struct node *bench_open(const struct bench_opts *o, const char *filename)
{
    if (o->native_aio && !(o->flags & NODE_NOCACHE)) {
        error_report("Could not open '%s': aio=native was specified, but it requires "
                     "cache.direct=on, which was not specified.", filename);
        return NULL;
    }
    struct node *n = img_open(o->image_opts, filename, o->fmt, o->flags, o->force_share);
    if (n)
        warn_probed_raw(n);
    return n;
}

int cmd_bench(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "flush-interval", required_argument, NULL, OPTION_FLUSH_INTERVAL },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "pattern", required_argument, NULL, OPTION_PATTERN },
        { "no-drain", no_argument, NULL, OPTION_NO_DRAIN },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    struct bench_opts o = { .count = 75000, .depth = 64, .bufsize = 4096, .drain = true };
    int c;
    while ((c = getopt_long(argc, argv, ":hc:d:f:ni:o:qs:S:t:wU", long_options, NULL)) != -1) {
        if (parse_bench_option(c, &o, argv) < 0)
            return 1;
    }
    if (optind != argc - 1)
        error_exit("Expecting one image file name");
    const char *filename = argv[argc - 1];
    if (!o.write && o.flush_interval) {
        error_report("--flush-interval is only available in write tests");
        return 1;
    }
    if (o.flush_interval && o.flush_interval < o.depth) {
        error_report("Flush interval can't be smaller than depth");
        return 1;
    }
    struct node *n = bench_open(&o, filename);
    if (!n)
        return 1;
    struct bench b = {
        .n = n,
        .image_size = n->size,
        .bufsize = (uint64_t)o.bufsize,
        .step = o.step ? (uint64_t)o.step : (uint64_t)o.bufsize,
        .offset = (uint64_t)o.offset,
        .nrreq = o.depth,
        .count_left = o.count,
        .flush_interval = o.flush_interval,
        .write = o.write,
        .drain_on_flush = o.drain,
    };
    printf("Sending %d %s requests, %d bytes each, %d in parallel (starting at offset %" PRId64
           ", step size %d)\n",
           b.count_left, b.write ? "write" : "read", (int)b.bufsize, b.nrreq, o.offset,
           (int)b.step);
    if (o.flush_interval)
        printf("Sending flush every %d requests\n", o.flush_interval);
    fflush(stdout);
    size_t slices = (size_t)(o.depth < BENCH_MAX_THREADS ? (o.depth ? o.depth : 1)
                                                         : BENCH_MAX_THREADS);
    b.buf = io_buffer_alloc(slices * b.bufsize + 1); /* aligned, as qemu's blk_blockalign */
    if (!b.buf)
        abort();
    memset(b.buf, o.pattern, slices * b.bufsize);
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.work, NULL);
    pthread_cond_init(&b.done, NULL);
    double secs = bench_run(&b);
    printf("Run completed in %3.3f seconds.\n", secs);
    pthread_mutex_destroy(&b.lock);
    pthread_cond_destroy(&b.work);
    pthread_cond_destroy(&b.done);
    free(b.queue);
    free(b.buf);
    node_close(n);
    return 0;
}
