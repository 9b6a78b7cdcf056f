/* flatimg measure: qemu-img 7.2's img_measure. Validates -o against the output format's create
 * options (plus the file protocol's), then asks that driver's measure op for the required and
 * fully allocated sizes of a new image of --size N or converted from FILENAME. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "create.h"
#include "json.h"

struct measure_args {
    const char *filename, *fmt, *out_fmt, *snapshot_name;
    char *options;
    struct opts *sn_opts;       /* -l snapshot.id=...,snapshot.name=... */
    uint64_t size;              /* IMG_SIZE_UNSET without --size */
    bool image_opts, force_share, json;
};

/* -l: "snapshot.id=X,snapshot.name=Y" or a plain id-or-name. */
static int parse_snapshot_param(struct measure_args *a, const char *arg)
{
    if (strncmp(arg, "snapshot.", 9)) {
        a->snapshot_name = arg;
        return 0;
    }
    static const struct opt_desc descs[] = {
        { "snapshot.id", OPT_STRING, "", NULL },
        { "snapshot.name", OPT_STRING, "", NULL },
        { NULL, 0, NULL, NULL },
    };
    struct error *err = NULL;
    opts_free(a->sn_opts);
    a->sn_opts = opts_new();
    if (opts_parse(a->sn_opts, arg, NULL, &err) < 0 || opts_validate(a->sn_opts, descs, &err) < 0) {
        error_report_err(err);
        error_report("Failed in parsing snapshot param '%s'", arg);
        return -1;
    }
    return 0;
}

static int load_snapshot(struct node *n, const struct measure_args *a)
{
    const char *id = NULL, *name = NULL;
    if (a->sn_opts) {
        id = opts_get(a->sn_opts, "snapshot.id");
        name = opts_get(a->sn_opts, "snapshot.name");
    } else if (a->snapshot_name) {
        id = a->snapshot_name;
    } else {
        return 0;
    }
    struct error *err = NULL;
    int ret;
    if (!n->drv->snapshot_load_tmp) {
        error_setg(&err, "Block format '%s' used by device '' does not support temporarily "
                         "loading internal snapshots", n->drv->name);
        ret = -ENOTSUP;
    } else {
        ret = n->drv->snapshot_load_tmp(n, id, name, &err);
        if (!a->sn_opts && (ret == -ENOENT || ret == -EINVAL)) {
            error_free(err);
            err = NULL;
            ret = n->drv->snapshot_load_tmp(n, NULL, a->snapshot_name, &err);
        }
    }
    if (ret < 0) {
        error_prepend(&err, "Failed to load snapshot: ");
        error_report_err(err);
        return -1;
    }
    return 0;
}

/* qemu_opts_do_parse against the merged create options: keys are checked in order. */
static struct opts *parse_create_options(const struct driver *drv, const struct measure_args *a)
{
    struct opts *o = opts_new();
    struct opt_desc *descs = create_opts_merged(drv, true);
    struct error *err = NULL;
    int ret = a->options ? opts_parse(o, a->options, NULL, &err) : 0;
    for (size_t i = 0; ret == 0 && i < o->count; i++) {
        const char *key = o->items[i].key;
        if (!opt_desc_find(descs, key)) {
            /* the option parser spells "?" as "help"; qemu names what was typed */
            if (!strcmp(key, "help") && !strstr(a->options, "help"))
                key = "?";
            error_setg(&err, "Invalid parameter '%s'", key);
            ret = -EINVAL;
            break;
        }
        struct opts one = { .items = &o->items[i], .count = 1, .cap = 1 };
        ret = opts_check_types(&one, descs, &err);
    }
    free(descs);
    if (ret < 0) {
        error_report_err(err);
        error_report("Invalid options for file format '%s'", a->out_fmt);
        opts_free(o);
        return NULL;
    }
    if (a->size != IMG_SIZE_UNSET) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%" PRIu64, a->size);
        opts_set(o, "size", buf);
    }
    return o;
}

static void print_info(const struct measure_info *mi, bool json)
{
    if (!json) {
        printf("required size: %" PRIu64 "\n", mi->required);
        printf("fully allocated size: %" PRIu64 "\n", mi->fully_allocated);
        if (mi->has_bitmaps)
            printf("bitmaps size: %" PRIu64 "\n", mi->bitmaps);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "required", json_object_new_int64((int64_t)mi->required));
    json_object_object_add(o, "fully-allocated",
                           json_object_new_int64((int64_t)mi->fully_allocated));
    if (mi->has_bitmaps)
        json_object_object_add(o, "bitmaps", json_object_new_int64((int64_t)mi->bitmaps));
    json_print_qemu(stdout, o);
    printf("\n");
    json_object_put(o);
}

static int check_args(const struct measure_args *a)
{
    if (!a->filename && (a->image_opts || a->fmt || a->snapshot_name || a->sn_opts)) {
        error_report("--image-opts, -f, and -l require a filename argument.");
        return -1;
    }
    if (a->filename && a->size != IMG_SIZE_UNSET) {
        error_report("--size N cannot be used together with a filename.");
        return -1;
    }
    if (!a->filename && a->size == IMG_SIZE_UNSET) {
        error_report("Either --size N or one filename must be specified.");
        return -1;
    }
    return 0;
}

static int run_measure(struct measure_args *a)
{
    struct node *in = NULL;
    struct opts *o = NULL;
    int ret = 1;
    if (check_args(a) < 0)
        return 1;
    if (a->filename) {
        in = img_open(a->image_opts, a->filename, a->fmt, 0, a->force_share);
        if (!in || load_snapshot(in, a) < 0)
            goto out;
    }
    const struct driver *drv = driver_find(a->out_fmt);
    if (!drv) {
        error_report("Unknown file format '%s'", a->out_fmt);
        goto out;
    }
    if (!drv->create_opts) {
        error_report("Format driver '%s' does not support image creation", drv->name);
        goto out;
    }
    o = parse_create_options(drv, a);
    if (!o)
        goto out;
    if (!drv->measure) {
        error_report("Block driver '%s' does not support size measurement", drv->name);
        goto out;
    }
    struct measure_info mi = { 0 };
    struct error *err = NULL;
    if (drv->measure(o, in, &mi, &err) < 0) {
        error_report_err(err);
        goto out;
    }
    print_info(&mi, a->json);
    ret = 0;
out:
    opts_free(o);
    node_close(in);
    return ret;
}

int cmd_measure(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "output", required_argument, NULL, OPTION_OUTPUT },
        { "size", required_argument, NULL, OPTION_SIZE },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    struct measure_args a = { .out_fmt = "raw", .size = IMG_SIZE_UNSET };
    int ret = 1, c;
    int64_t sval;
    /* no leading ':' in qemu-img's optstring: getopt reports, then the help is shown */
    while ((c = getopt_long(argc, argv, "hf:O:o:l:U", long_options, NULL)) != -1) {
        switch (c) {
        case 'f': a.fmt = optarg; break;
        case 'O': a.out_fmt = optarg; break;
        case 'o':
            a.options = accumulate_options(a.options, optarg);
            if (!a.options)
                goto out;
            break;
        case 'l':
            if (parse_snapshot_param(&a, optarg) < 0)
                goto out;
            break;
        case 'U': a.force_share = true; break;
        case OPTION_OBJECT: add_object_or_exit(optarg); break;
        case OPTION_IMAGE_OPTS: a.image_opts = true; break;
        case OPTION_OUTPUT:
            if (!strcmp(optarg, "json") || !strcmp(optarg, "human")) {
                a.json = !strcmp(optarg, "json");
            } else {
                error_report("--output must be used with human or json as argument.");
                goto out;
            }
            break;
        case OPTION_SIZE:
            sval = cvtnum("image size", optarg);
            if (sval < 0)
                goto out;
            a.size = (uint64_t)sval;
            break;
        default: help();
        }
    }
    if (argc - optind > 1) {
        error_report("At most one filename argument is allowed.");
        goto out;
    }
    if (argc - optind == 1)
        a.filename = argv[optind];
    ret = run_measure(&a);
out:
    free(a.options);
    opts_free(a.sn_opts);
    return ret;
}
