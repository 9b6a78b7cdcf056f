/* qemu 7.2's bdrv_img_create() rules, driver-independent: option merging and validation, the
 * size given once (argument, -o size or the backing file), backing checks, the "Formatting" line
 * with options in table order (defaults included, commas doubled). */
#include "config.h"
#include "create.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"

static size_t desc_count(const struct opt_desc *d)
{
    size_t n = 0;
    while (d && d[n].name)
        n++;
    return n;
}

struct opt_desc *create_opts_merged(const struct driver *drv, bool with_protocol)
{
    const struct opt_desc *a = drv->create_opts;
    const struct opt_desc *b = with_protocol ? driver_file.create_opts : NULL;
    size_t na = desc_count(a), nb = desc_count(b), n = 0;
    struct opt_desc *m = calloc(na + nb + 1, sizeof(*m));
    if (!m)
        abort();
    for (size_t i = 0; i < na; i++)
        m[n++] = a[i];
    for (size_t i = 0; i < nb; i++)
        if (!opt_desc_find(a, b[i].name))
            m[n++] = b[i];
    return m;
}

static int desc_name_cmp(const void *x, const void *y)
{
    return strcmp(((const struct opt_desc *)x)->name, ((const struct opt_desc *)y)->name);
}

int create_print_help(const char *fmt, const char *filename, FILE *out, struct error **errp)
{
    const struct driver *drv = driver_find(fmt);
    /* a protocol that creates (file) may be named as the format, as in qemu */
    if (!drv || ((drv->flags & DRV_PROTOCOL) && !drv->create)) {
        error_setg(errp, "Unknown file format '%s'", fmt);
        return -EINVAL;
    }
    if (!drv->create_opts) {
        error_setg(errp, "Format driver '%s' does not support image creation", fmt);
        return -ENOTSUP;
    }
    struct opt_desc *m = create_opts_merged(drv, filename != NULL);
    qsort(m, desc_count(m), sizeof(*m), desc_name_cmp);
    if (filename)
        fprintf(out, "Supported options:\n");
    else
        fprintf(out, "Supported %s options:\n", fmt);
    opt_desc_print_help(m, out);
    if (!filename)
        fprintf(out, "\nThe protocol level may support further options.\n"
                     "Specify the target filename to include those options.\n");
    free(m);
    return 0;
}

static void print_escaped(FILE *out, const char *v)
{
    for (; *v; v++) {
        if (*v == ',')
            fputc(',', out);
        fputc(*v, out);
    }
}

static void print_formatting(const char *filename, const char *fmt, const struct opts *o,
                             const struct opt_desc *descs)
{
    printf("Formatting '%s', fmt=%s", filename, fmt);
    for (const struct opt_desc *d = descs; d->name; d++) {
        const char *v = opts_get(o, d->name);
        const char *value = v ? v : d->def_value_str;
        if (!value)
            continue;
        printf(" %s=", d->name);
        uint64_t sz;
        if (d->type == OPT_SIZE && v && parse_size(v, &sz) == 0)
            printf("%" PRIu64, sz);
        else
            print_escaped(stdout, value);
    }
    printf("\n");
    fflush(stdout);
}

int image_create(const struct image_create_args *a, struct error **errp)
{
    int ret = -EINVAL;
    struct opts *o = opts_new();
    struct opt_desc *descs = NULL;
    const struct driver *drv = driver_find(a->fmt);
    if (!drv || ((drv->flags & DRV_PROTOCOL) && !drv->create)) {
        error_setg(errp, "Unknown file format '%s'", a->fmt);
        goto out;
    }
    if (!drv->create_opts || !drv->create) {
        error_setg(errp, "Format driver '%s' does not support image creation", drv->name);
        goto out;
    }
    descs = create_opts_merged(drv, true);
    if (a->options && opts_parse(o, a->options, NULL, errp) < 0)
        goto out;
    if (opts_validate(o, descs, errp) < 0 || opts_check_types(o, descs, errp) < 0)
        goto out;

    uint64_t size = a->size;
    if (!opts_get(o, "size")) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%" PRIu64, a->size);
        if (a->size != IMG_SIZE_UNSET)
            opts_set(o, "size", buf);
    } else if (a->size != IMG_SIZE_UNSET) {
        error_setg(errp, "The image size must be specified only once");
        goto out;
    } else {
        opts_get_size(o, "size", &size, NULL);
    }
    if (a->backing_file) {
        if (!opt_desc_find(descs, "backing_file")) {
            error_setg(errp, "Backing file not supported for file format '%s'", a->fmt);
            goto out;
        }
        opts_set(o, "backing_file", a->backing_file);
    }
    if (a->backing_fmt) {
        if (!opt_desc_find(descs, "backing_fmt")) {
            error_setg(errp, "Backing file format not supported for file format '%s'", a->fmt);
            goto out;
        }
        opts_set(o, "backing_fmt", a->backing_fmt);
    }
    const char *backing = opts_get(o, "backing_file");
    const char *backing_fmt = opts_get(o, "backing_fmt");
    if (backing) {
        if (!strcmp(a->filename, backing)) {
            error_setg(errp, "Error: Trying to create an image with the same filename as the "
                             "backing file");
            goto out;
        }
        if (!backing[0]) {
            error_setg(errp, "Expected backing file name, got empty string");
            goto out;
        }
    }
    if (backing && !a->no_backing_open) {
        struct node tmp = { .filename = (char *)a->filename };
        char *full = node_resolve_backing_path(&tmp, backing);
        /* as qemu (BDRV_O_NO_IO): only the size is needed, so no keys for encrypted images */
        struct node *bs = node_open(full, backing_fmt, NULL, NODE_FORCE_SHARE | NODE_NO_IO, errp);
        free(full);
        if (!bs) {
            if (errp && *errp) {
                struct error *e = *errp;
                *errp = NULL;
                error_setg(errp, "%s\nCould not open backing image.", error_msg(e));
                error_free(e);
            }
            goto out;
        }
        if (!backing_fmt) {
            error_setg(errp, "Backing file specified without backing format\nDetected format of %s.",
                       bs->drv->name);
            node_close(bs);
            goto out;
        }
        if (size == IMG_SIZE_UNSET) {
            size = bs->size;
            char buf[32];
            snprintf(buf, sizeof(buf), "%" PRIu64, size);
            opts_set(o, "size", buf);
        }
        node_close(bs);
    } else if (backing && !backing_fmt) {
        error_setg(errp, "Backing file specified without backing format");
        goto out;
    }
    if (size == IMG_SIZE_UNSET) {
        error_setg(errp, "Image creation needs a size parameter");
        goto out;
    }
    if (!a->quiet)
        print_formatting(a->filename, drv->name, o, descs);
    ret = drv->create(a->filename, o, errp);
    if (ret == -EFBIG) {
        uint64_t cs = 0;
        opts_get_size(o, "cluster_size", &cs, NULL);
        if (errp && *errp) {
            error_free(*errp);
            *errp = NULL;
        }
        error_setg(errp, "The image size is too large for file format '%s'%s", a->fmt,
                   cs ? " (try using a larger cluster size)" : "");
    }
out:
    free(descs);
    opts_free(o);
    return ret;
}
