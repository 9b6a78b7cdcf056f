/* flatimg compare: qemu-img 7.2's img_compare. Ranges both images know to read as zeros are
 * skipped by block status; the rest is read in 2 MiB chunks and compared sector by sector.
 * Exit codes: 0 identical, 1 different, 2 open error, 3 block status error, 4 read error. */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "file.h"
#include "object.h"
#include "progress.h"

#define COMPARE_BUF_SIZE (2 * 1024 * 1024)
#define SECTOR 512

struct side {
    const char *filename;
    struct node *n;
    uint64_t size;
};

struct compare {
    struct side s[2];
    uint8_t *buf[2];
    uint64_t progress_base;
    bool quiet, strict;
};

static void qprintf(bool quiet, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void qprintf(bool quiet, const char *fmt, ...)
{
    if (quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

/* Offset of the first 512-byte sector of buf holding a non-zero byte, or -1. */
static int64_t find_nonzero(const uint8_t *buf, uint64_t len)
{
    for (uint64_t i = 0; i < len; i += SECTOR) {
        uint64_t n = len - i < SECTOR ? len - i : SECTOR;
        if (buf[i] || memcmp(buf + i, buf + i + 1, n - 1))
            return (int64_t)i;
    }
    return -1;
}

/* qemu-img's compare_buffers with min 0: whether the first sector differs, and in *same the
 * bytes from the start that share that state. */
static bool compare_buffers(const uint8_t *a, const uint8_t *b, uint64_t len, uint64_t *same)
{
    uint64_t i = len < SECTOR ? len : SECTOR;
    bool differ = memcmp(a, b, i) != 0;
    while (i < len) {
        uint64_t n = len - i < SECTOR ? len - i : SECTOR;
        if ((memcmp(a + i, b + i, n) != 0) != differ)
            break;
        i += n;
    }
    *same = i;
    return differ;
}

static int read_side(struct side *s, uint64_t off, uint64_t len, uint8_t *buf)
{
    int ret = node_pread(s->n, off, len, buf);
    if (ret < 0) {
        error_report("Error while reading offset %" PRIu64 " of %s: %s", off, s->filename,
                     strerror(-ret));
        return 4;
    }
    return 0;
}

/* The range is allocated in one image only: it must read as zeros there. */
static int check_empty(struct compare *c, struct side *s, uint64_t off, uint64_t len)
{
    int ret = read_side(s, off, len, c->buf[0]);
    if (ret)
        return ret;
    int64_t idx = find_nonzero(c->buf[0], len);
    if (idx >= 0) {
        qprintf(c->quiet, "Content mismatch at offset %" PRIu64 "!\n", off + (uint64_t)idx);
        return 1;
    }
    return 0;
}

static int status_of(struct side *s, uint64_t off, struct block_status *bs)
{
    int ret = node_block_status_above(s->n, NULL, off, s->size - off, bs, NULL);
    if (ret < 0 || bs->len == 0) {
        error_report("Sector allocation test failed for %s", s->filename);
        return 3;
    }
    return 0;
}

static unsigned status_flags(const struct block_status *bs)
{
    return bs->flags & (BS_DATA | BS_ZERO | BS_OFFSET_VALID | BS_ALLOCATED | BS_EOF);
}

static int compare_data(struct compare *c, uint64_t off, uint64_t len)
{
    int ret = read_side(&c->s[0], off, len, c->buf[0]);
    if (!ret)
        ret = read_side(&c->s[1], off, len, c->buf[1]);
    if (ret)
        return ret;
    uint64_t same;
    bool differ = compare_buffers(c->buf[0], c->buf[1], len, &same);
    if (differ || same != len) {
        qprintf(c->quiet, "Content mismatch at offset %" PRIu64 "!\n", off + (differ ? 0 : same));
        return 1;
    }
    return 0;
}

static void progress_step(struct compare *c, uint64_t chunk)
{
    progress_print((float)chunk / (float)c->progress_base * 100, 100);
}

/* The common part of both images. */
static int compare_common(struct compare *c, uint64_t *offp)
{
    uint64_t total = c->s[0].size < c->s[1].size ? c->s[0].size : c->s[1].size;
    uint64_t off = 0;
    int ret = 0;
    while (off < total && !ret) {
        struct block_status b1, b2;
        if ((ret = status_of(&c->s[0], off, &b1)) || (ret = status_of(&c->s[1], off, &b2)))
            break;
        bool alloc1 = b1.flags & BS_ALLOCATED, alloc2 = b2.flags & BS_ALLOCATED;
        uint64_t chunk = b1.len < b2.len ? b1.len : b2.len;
        if (c->strict && status_flags(&b1) != status_flags(&b2)) {
            qprintf(c->quiet, "Strict mode: Offset %" PRIu64 " block status mismatch!\n", off);
            ret = 1;
            break;
        }
        if ((b1.flags & BS_ZERO) && (b2.flags & BS_ZERO)) {
            /* both read as zeros */
        } else if (alloc1 == alloc2) {
            if (alloc1) {
                chunk = chunk < COMPARE_BUF_SIZE ? chunk : COMPARE_BUF_SIZE;
                ret = compare_data(c, off, chunk);
            }
        } else {
            chunk = chunk < COMPARE_BUF_SIZE ? chunk : COMPARE_BUF_SIZE;
            ret = check_empty(c, alloc1 ? &c->s[0] : &c->s[1], off, chunk);
        }
        if (ret)
            break;
        off += chunk;
        progress_step(c, chunk);
    }
    *offp = off;
    return ret;
}

/* Past the smaller image's end the larger one must read as zeros. */
static int compare_tail(struct compare *c, uint64_t off)
{
    struct side *over = c->s[0].size > c->s[1].size ? &c->s[0] : &c->s[1];
    while (off < c->progress_base) {
        struct block_status bs;
        int ret = status_of(over, off, &bs);
        if (ret)
            return ret;
        uint64_t chunk = bs.len;
        if ((bs.flags & BS_ALLOCATED) && !(bs.flags & BS_ZERO)) {
            chunk = chunk < COMPARE_BUF_SIZE ? chunk : COMPARE_BUF_SIZE;
            ret = check_empty(c, over, off, chunk);
            if (ret)
                return ret;
        }
        off += chunk;
        progress_step(c, chunk);
    }
    return 0;
}

static int run_compare(struct compare *c)
{
    c->progress_base = c->s[0].size > c->s[1].size ? c->s[0].size : c->s[1].size;
    progress_print(0, 100);
    if (c->strict && c->s[0].size != c->s[1].size) {
        qprintf(c->quiet, "Strict mode: Image size mismatch!\n");
        return 1;
    }
    uint64_t off;
    int ret = compare_common(c, &off);
    if (ret)
        return ret;
    if (c->s[0].size != c->s[1].size) {
        qprintf(c->quiet, "Warning: Image size mismatch!\n");
        ret = compare_tail(c, off);
        if (ret)
            return ret;
    }
    qprintf(c->quiet, "Images are identical.\n");
    return 0;
}

int cmd_compare(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt1 = NULL, *fmt2 = NULL, *cache = "writeback";
    bool progress = false, image_opts = false, force_share = false;
    struct compare c = { 0 };
    struct error *err = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, ":hf:F:T:pqsU", long_options, NULL)) != -1) {
        switch (opt) {
        case 'f': fmt1 = optarg; break;
        case 'F': fmt2 = optarg; break;
        case 'T': cache = optarg; break;
        case 'p': progress = true; break;
        case 'q': c.quiet = true; break;
        case 's': c.strict = true; break;
        case 'U': force_share = true; break;
        case OPTION_IMAGE_OPTS: image_opts = true; break;
        case OPTION_OBJECT:
            if (object_add(optarg, &err) < 0) {
                error_report_err(err);
                exit(2);
            }
            break;
        default: common_getopt_error(opt, argv);
        }
    }
    if (c.quiet)
        progress = false;
    if (optind != argc - 2)
        error_exit("Expecting two image file names");
    c.s[0].filename = argv[optind++];
    c.s[1].filename = argv[optind++];
    progress_init(progress, 2.0);

    int flags = 0, ret = 2;
    if (cache_mode_parse(cache, &flags) < 0) {
        error_report("Invalid source cache option: %s", cache);
        goto out;
    }
    c.s[0].n = img_open(image_opts, c.s[0].filename, fmt1, flags, force_share);
    if (!c.s[0].n)
        goto out;
    c.s[1].n = img_open(image_opts, c.s[1].filename, fmt2, flags, force_share);
    if (!c.s[1].n)
        goto out;
    c.s[0].size = c.s[0].n->size;
    c.s[1].size = c.s[1].n->size;
    c.buf[0] = io_buffer_alloc(COMPARE_BUF_SIZE);
    c.buf[1] = io_buffer_alloc(COMPARE_BUF_SIZE);
    if (!c.buf[0] || !c.buf[1]) {
        error_report("Out of memory");
        ret = 4;
        goto out;
    }
    ret = run_compare(&c);
out:
    free(c.buf[0]);
    free(c.buf[1]);
    node_close(c.s[1].n);
    node_close(c.s[0].n);
    progress_end();
    return ret;
}
