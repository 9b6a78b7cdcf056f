/* flatimg bitmap: qemu-img 7.2's img_bitmap. The operations (--add, --remove, --clear, --enable,
 * --disable, --merge SOURCE) run in command-line order on one persistent bitmap; the first
 * failure stops them with "Operation OP on bitmap NAME failed: ...". */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitmap.h"
#include "common.h"
#include "write-common.h"

enum bitmap_act { ACT_ADD, ACT_REMOVE, ACT_CLEAR, ACT_ENABLE, ACT_DISABLE, ACT_MERGE };
static const char *const act_names[] = { "add", "remove", "clear", "enable", "disable", "merge" };

struct action {
    enum bitmap_act act;
    const char *src;
};

/* One operation on a node whose format has no persistent bitmaps: qemu's answers. */
static int bitmap_unsupported(struct node *n, const struct action *a, const char *name,
                              struct error **errp)
{
    if (a->act == ACT_ADD) {
        /* qemu names the node by its generated node name; flatimg has none to give */
        error_setg(errp, "Can't store persistent bitmaps to #block%03u: Operation not supported",
                   (unsigned)(((uintptr_t)n >> 4) % 1000));
        return -ENOTSUP;
    }
    error_setg(errp, "Dirty bitmap '%s' not found", name);
    return -ENOENT;
}

static int run_action(struct node *n, struct node *src, const struct action *a, const char *name,
                      uint64_t granularity, struct error **errp)
{
    const struct bitmap_ops *ops = n->drv->bitmaps;
    /* qemu checks -g in the generic layer (a uint32 there), before asking the format */
    if (a->act == ACT_ADD && granularity &&
        (granularity < 512 || granularity > UINT32_MAX || (granularity & (granularity - 1)))) {
        error_setg(errp, "Granularity must be power of 2 and at least 512");
        return -EINVAL;
    }
    if (!ops)
        return bitmap_unsupported(n, a, name, errp);
    switch (a->act) {
    case ACT_ADD: return ops->add(n, name, granularity, false, errp);
    case ACT_REMOVE: return ops->remove(n, name, errp);
    case ACT_CLEAR: return ops->clear(n, name, errp);
    case ACT_ENABLE: return ops->enable(n, name, errp);
    case ACT_DISABLE: return ops->disable(n, name, errp);
    case ACT_MERGE:
        if (!src->drv->bitmaps) {
            error_setg(errp, "Dirty bitmap '%s' not found", a->src);
            return -ENOENT;
        }
        return ops->merge(n, name, src, a->src, errp);
    }
    return -EINVAL;
}

int cmd_bitmap(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "add", no_argument, NULL, OPTION_ADD },
        { "remove", no_argument, NULL, OPTION_REMOVE },
        { "clear", no_argument, NULL, OPTION_CLEAR },
        { "enable", no_argument, NULL, OPTION_ENABLE },
        { "disable", no_argument, NULL, OPTION_DISABLE },
        { "merge", required_argument, NULL, OPTION_MERGE },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = NULL, *src_filename = NULL, *src_fmt = NULL;
    bool image_opts = false, add = false, merge = false;
    int64_t granularity = 0;
    struct action *acts = calloc((size_t)argc + 1, sizeof(*acts));
    int nacts = 0, c, ret = 1;
    if (!acts)
        abort();
    while ((c = getopt_long(argc, argv, ":b:f:F:g:h", long_options, NULL)) != -1) {
        switch (c) {
        case 'b': src_filename = optarg; break;
        case 'f': fmt = optarg; break;
        case 'F': src_fmt = optarg; break;
        case 'g':
            granularity = cvtnum("granularity", optarg);
            if (granularity < 0)
                goto out_free;
            break;
        case OPTION_ADD: acts[nacts++].act = ACT_ADD; add = true; break;
        case OPTION_REMOVE: acts[nacts++].act = ACT_REMOVE; break;
        case OPTION_CLEAR: acts[nacts++].act = ACT_CLEAR; break;
        case OPTION_ENABLE: acts[nacts++].act = ACT_ENABLE; break;
        case OPTION_DISABLE: acts[nacts++].act = ACT_DISABLE; break;
        case OPTION_MERGE:
            acts[nacts].act = ACT_MERGE;
            acts[nacts++].src = optarg;
            merge = true;
            break;
        case OPTION_OBJECT: add_object_or_exit(optarg); break;
        case OPTION_IMAGE_OPTS: image_opts = true; break;
        default: common_getopt_error(c, argv);
        }
    }
    const char *msg = NULL;
    if (!nacts)
        msg = "Need at least one of --add, --remove, --clear, --enable, --disable, or --merge";
    else if (granularity && !add)
        msg = "granularity only supported with --add";
    else if (src_fmt && !src_filename)
        msg = "-F only supported with -b";
    else if (src_filename && !merge)
        msg = "Merge bitmap source file only supported with --merge";
    else if (optind != argc - 2)
        msg = "Expecting filename and bitmap name";
    if (msg) {
        error_report("%s", msg);
        goto out_free;
    }
    const char *name = argv[optind + 1];
    struct node *n = img_open_rw(image_opts, argv[optind], fmt, NODE_RDWR | NODE_NO_BACKING, false);
    struct node *src = NULL;
    if (!n)
        goto out_free;
    if (src_filename) {
        src = img_open(false, src_filename, src_fmt, NODE_NO_BACKING, false);
        if (!src)
            goto out;
    }
    for (int i = 0; i < nacts; i++) {
        struct error *err = NULL;
        if (run_action(n, src ? src : n, &acts[i], name, (uint64_t)granularity, &err) < 0) {
            error_prepend(&err, "Operation %s on bitmap %s failed: ", act_names[acts[i].act],
                          name);
            error_report_err(err);
            goto out;
        }
    }
    ret = 0;
out:
    node_close(src);
    node_close(n);
out_free:
    free(acts);
    return ret;
}
