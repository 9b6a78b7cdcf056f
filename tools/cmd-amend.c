/* flatimg amend: qemu-img 7.2's img_amend. -o options are checked against the format's amend
 * options (with qemu's hint when only creation accepts them), then passed to the driver. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "create.h"
#include "file.h"
#include "progress.h"
#include "write-common.h"

static const struct opt_desc *amend_descs(const struct driver *drv)
{
    return drv->amend_opts ? drv->amend_opts : drv->create_opts;
}

static int desc_cmp(const void *a, const void *b)
{
    return strcmp(((const struct opt_desc *)a)->name, ((const struct opt_desc *)b)->name);
}

static int print_amend_help(const char *fmt)
{
    const struct driver *drv = driver_find(fmt);
    if (!drv || (drv->flags & DRV_PROTOCOL)) {
        error_report("Unknown file format '%s'", fmt);
        return 1;
    }
    if (!drv->amend) {
        error_report("Format driver '%s' does not support option amendment", fmt);
        return 1;
    }
    const struct opt_desc *d = amend_descs(drv);
    size_t n = 0;
    while (d && d[n].name)
        n++;
    struct opt_desc *sorted = calloc(n + 1, sizeof(*sorted));
    if (!sorted)
        abort();
    memcpy(sorted, d, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), desc_cmp);
    printf("Amend options for '%s':\n", fmt);
    opt_desc_print_help(sorted, stdout);
    free(sorted);
    return 0;
}

static bool has_help(const char *options)
{
    struct opts *o = opts_new();
    bool help = opts_parse(o, options, NULL, NULL) == 0 && opts_get(o, "help");
    opts_free(o);
    return help;
}

/* Parse -o against the amend options; NULL after printing qemu's error. */
static struct opts *parse_amend_opts(const struct driver *drv, const char *options)
{
    struct opts *o = opts_new();
    struct error *err = NULL;
    const struct opt_desc *d = amend_descs(drv);
    if (opts_parse(o, options, NULL, &err) == 0 && opts_validate(o, d, &err) == 0 &&
        opts_check_types(o, d, &err) == 0)
        return o;
    /* qemu retries with the creation options to give a hint */
    struct opt_desc *all = create_opts_merged(drv, false);
    if (opts_validate(o, all, NULL) == 0 && opts_check_types(o, all, NULL) == 0) {
        char *msg = NULL;
        if (asprintf(&msg, "%s\nThis option is only supported for image creation",
                     error_msg(err)) < 0)
            abort();
        error_free(err);
        err = NULL;
        error_setg(&err, "%s", msg);
        free(msg);
    }
    free(all);
    error_report_err(err);
    opts_free(o);
    return NULL;
}

int cmd_amend(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force", no_argument, NULL, OPTION_FORCE },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = NULL, *cache = "writeback";
    char *options = NULL;
    bool progress = false, quiet = false, image_opts = false, force = false;
    int c, ret = 1;
    while ((c = getopt_long(argc, argv, ":ho:f:t:pq", long_options, NULL)) != -1) {
        switch (c) {
        case 'o':
            options = accumulate_options(options, optarg);
            if (!options)
                return 1;
            break;
        case 'f': fmt = optarg; break;
        case 't': cache = optarg; break;
        case 'p': progress = true; break;
        case 'q': quiet = true; break;
        case OPTION_OBJECT: add_object_or_exit(optarg); break;
        case OPTION_IMAGE_OPTS: image_opts = true; break;
        case OPTION_FORCE: force = true; break;
        default: common_getopt_error(c, argv);
        }
    }
    if (!options)
        error_exit("Must specify options (-o)");
    if (quiet)
        progress = false;
    progress_init(progress, 1.0f);
    struct node *n = NULL;
    struct opts *o = NULL;
    const char *filename = optind == argc - 1 ? argv[argc - 1] : NULL;
    if (fmt && has_help(options)) {
        ret = print_amend_help(fmt);
        goto out;
    }
    if (optind != argc - 1) {
        error_report("Expecting one image file name");
        goto out;
    }
    int flags = NODE_RDWR;
    if (cache_mode_parse(cache, &flags) < 0) {
        error_report("Invalid cache option: %s", cache);
        goto out;
    }
    n = img_open_rw(image_opts, filename, fmt, flags, quiet);
    if (!n)
        goto out;
    if (has_help(options)) {
        ret = print_amend_help(n->drv->name);
        goto out;
    }
    if (!n->drv->amend) {
        error_report("Format driver '%s' does not support option amendment", n->drv->name);
        goto out;
    }
    o = parse_amend_opts(n->drv, options);
    if (!o)
        goto out;
    progress_print(0, 0);
    struct error *err = NULL;
    int r = n->drv->amend(n, o, force, &err);
    progress_print(100, 0);
    if (r < 0) {
        error_report_err(err);
        goto out;
    }
    ret = 0;
out:
    progress_end();
    opts_free(o);
    node_close(n);
    free(options);
    return ret;
}
