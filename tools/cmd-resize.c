/* flatimg resize: qemu-img 7.2's img_resize. The size is taken off the end of argv before option
 * parsing (so "-1G" is not an option), absolute or +/- relative, shrinking needs --shrink. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "write-common.h"

static int parse_prealloc_arg(const char *arg, enum prealloc *out)
{
    if (prealloc_parse(arg, out) < 0) {
        error_report("Invalid preallocation mode '%s'", arg);
        return -1;
    }
    return 0;
}

/* The size argument as qemu's option parser reads a "size" value. */
static int parse_resize_size(const char *size, uint64_t *out)
{
    struct opts *o = opts_new();
    struct error *err = NULL;
    opts_set(o, "size", size);
    int ret = opts_get_size(o, "size", out, &err);
    opts_free(o);
    if (ret < 0) {
        error_report_err(err);
        return -1;
    }
    return 0;
}

int cmd_resize(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "preallocation", required_argument, NULL, OPTION_PREALLOCATION },
        { "shrink", no_argument, NULL, OPTION_SHRINK },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = NULL;
    bool quiet = false, image_opts = false, shrink = false;
    enum prealloc prealloc = PREALLOC_OFF;
    if (argc < 3)
        error_exit("Not enough arguments");
    const char *size = argv[--argc];
    int c;
    while ((c = getopt_long(argc, argv, ":f:hq", long_options, NULL)) != -1) {
        switch (c) {
        case 'f': fmt = optarg; break;
        case 'q': quiet = true; break;
        case OPTION_OBJECT: add_object_or_exit(optarg); break;
        case OPTION_IMAGE_OPTS: image_opts = true; break;
        case OPTION_PREALLOCATION:
            if (parse_prealloc_arg(optarg, &prealloc) < 0)
                return 1;
            break;
        case OPTION_SHRINK: shrink = true; break;
        default: common_getopt_error(c, argv);
        }
    }
    if (optind != argc - 1)
        error_exit("Expecting image file name and size");
    const char *filename = argv[optind];
    int relative = 0;
    if (size[0] == '+' || size[0] == '-')
        relative = *size++ == '+' ? 1 : -1;
    uint64_t n;
    if (parse_resize_size(size, &n) < 0)
        return 1;
    struct node *blk = img_open_rw(image_opts, filename, fmt, NODE_RDWR, quiet);
    if (!blk)
        return 1;
    int ret = 1;
    int64_t current = (int64_t)blk->size, total;
    if (relative > 0 && !__builtin_add_overflow(current, n, &total) && n <= INT64_MAX)
        ;
    else if (relative < 0 && n <= INT64_MAX)
        total = current - (int64_t)n;
    else if (!relative && n <= INT64_MAX)
        total = (int64_t)n;
    else
        total = -1;
    if (total <= 0) {
        error_report("New image size must be positive");
        goto out;
    }
    if (total <= current && prealloc != PREALLOC_OFF) {
        error_report("Preallocation can only be used for growing images");
        goto out;
    }
    if (total < current && !shrink) {
        error_report("Use the --shrink option to perform a shrink operation.");
        warn_report("Shrinking an image will delete all data beyond the shrunken image's end. "
                    "Before performing such an operation, make sure there is no important data "
                    "there.");
        goto out;
    }
    struct error *err = NULL;
    if (node_truncate(blk, (uint64_t)total, false, prealloc, &err) < 0) {
        error_report_err(err);
        goto out;
    }
    if (!quiet)
        printf("Image resized.\n");
    ret = 0;
out:
    node_close(blk);
    return ret;
}
