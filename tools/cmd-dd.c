/* flatimg dd: qemu-img 7.2's img_dd. dd(1)-style operands (bs, count, if, of, skip); the output
 * image is created with the size of what will be copied, then filled block by block. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "create.h"

struct dd {
    const char *in, *out;
    int64_t bs, count, skip;
    bool has_count, has_skip;
};

static int dd_operand(struct dd *d, const char *arg)
{
    const char *eq = strchr(arg, '=');
    size_t klen = eq ? (size_t)(eq - arg) : 0;
    const char *v = eq ? eq + 1 : NULL;
#define IS(k) (eq && klen == strlen(k) && !strncmp(arg, k, klen))
    if (IS("bs")) {
        d->bs = cvtnum_full("bs", v, 1, INT_MAX);
        return d->bs < 0 ? -1 : 0;
    }
    if (IS("count")) {
        d->count = cvtnum("count", v);
        d->has_count = true;
        return d->count < 0 ? -1 : 0;
    }
    if (IS("skip")) {
        d->skip = cvtnum("skip", v);
        d->has_skip = true;
        return d->skip < 0 ? -1 : 0;
    }
    if (IS("if")) {
        d->in = v;
        return 0;
    }
    if (IS("of")) {
        d->out = v;
        return 0;
    }
#undef IS
    /* qemu prints the operand cut at its '=' */
    error_report("unrecognized operand %.*s", eq ? (int)klen : (int)strlen(arg), arg);
    return -1;
}

static int dd_create(const char *fmt, const char *filename, uint64_t size)
{
    const struct driver *drv = driver_find(fmt);
    if (!drv || ((drv->flags & DRV_PROTOCOL) && !drv->create)) {
        error_report("Unknown file format");
        return -1;
    }
    if (!drv->create_opts || !drv->create) {
        error_report("Format driver '%s' does not support image creation", drv->name);
        return -1;
    }
    struct opts *o = opts_new();
    struct error *err = NULL;
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRIu64, size);
    opts_set(o, "size", buf);
    int ret = drv->create(filename, o, &err);
    opts_free(o);
    if (ret < 0) {
        error_prepend(&err, "%s: error while creating output image: ", filename);
        error_report_err(err);
        return -1;
    }
    return 0;
}

static int dd_copy(struct node *in, struct node *out, uint64_t pos, uint64_t size, uint64_t bs)
{
    uint8_t *buf = io_buffer_alloc(bs);
    if (!buf)
        abort();
    int ret = 0;
    for (uint64_t out_pos = 0; pos < size;) {
        uint64_t n = size - pos < bs ? size - pos : bs;
        ret = node_pread(in, pos, n, buf);
        if (ret < 0) {
            error_report("error while reading from input image file: %s", strerror(-ret));
            break;
        }
        pos += n;
        ret = node_pwrite(out, out_pos, n, buf);
        if (ret < 0) {
            error_report("error while writing to output image file: %s", strerror(-ret));
            break;
        }
        out_pos += n;
    }
    free(buf);
    return ret;
}

int cmd_dd(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = NULL, *out_fmt = "raw";
    bool image_opts = false, force_share = false;
    struct dd d = { .bs = 512 };
    int c;
    while ((c = getopt_long(argc, argv, ":hf:O:U", long_options, NULL)) != -1) {
        switch (c) {
        case 'f': fmt = optarg; break;
        case 'O': out_fmt = optarg; break;
        case 'U': force_share = true; break;
        case OPTION_OBJECT: add_object_or_exit(optarg); break;
        case OPTION_IMAGE_OPTS: image_opts = true; break;
        default: common_getopt_error(c, argv);
        }
    }
    for (int i = optind; i < argc; i++)
        if (dd_operand(&d, argv[i]) < 0)
            return 1;
    if (!d.in || !d.out) {
        error_report("Must specify both input and output files");
        return 1;
    }
    struct node *in = img_open(image_opts, d.in, fmt, 0, force_share), *out = NULL;
    if (!in)
        return 1;
    int ret = 1;
    bool existed = access(d.out, F_OK) == 0, created = false;
    uint64_t size = in->size, bs = (uint64_t)d.bs;
    if (d.has_count && (uint64_t)d.count <= INT64_MAX / bs && (uint64_t)d.count * bs < size)
        size = (uint64_t)d.count * bs;
    /* a skip past the end gives an empty output, as dd(1) does */
    bool skip_past = d.has_skip && ((uint64_t)d.skip > INT64_MAX / bs || size < d.skip * bs);
    if (dd_create(out_fmt, d.out, skip_past ? 0 : size - (uint64_t)d.skip * bs) < 0)
        goto out;
    created = true;
    out = img_open(false, d.out, out_fmt, NODE_RDWR, false);
    if (!out)
        goto out;
    uint64_t pos = (uint64_t)d.skip * bs;
    if (skip_past) {
        error_report("%s: cannot skip to specified offset", d.in);
        pos = size;
    }
    if (dd_copy(in, out, pos, size, bs) < 0)
        goto out;
    ret = 0;
out:
    node_close(out);
    node_close(in);
    if (ret && created && !existed)
        unlink(d.out);
    return ret;
}
