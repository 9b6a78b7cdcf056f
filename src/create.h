/* Image creation as qemu's bdrv_img_create: merge the format's and the protocol's create options,
 * parse -o, settle size and backing file, print "Formatting ...", and call the driver. */
#ifndef FLATIMG_CREATE_H
#define FLATIMG_CREATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "node.h"

#define IMG_SIZE_UNSET UINT64_MAX

struct image_create_args {
    const char *filename;
    const char *fmt;
    const char *backing_file;  /* -b */
    const char *backing_fmt;   /* -F */
    const char *options;       /* -o list, may be NULL */
    uint64_t size;             /* IMG_SIZE_UNSET when not given */
    bool no_backing_open;      /* -u */
    bool quiet;
};

int image_create(const struct image_create_args *args, struct error **errp);

/* Merged option table of a format and the file protocol (caller frees the array). */
struct opt_desc *create_opts_merged(const struct driver *drv, bool with_protocol);
/* -o help: "Supported options:" (with a filename) or "Supported FMT options:". */
int create_print_help(const char *fmt, const char *filename, FILE *out, struct error **errp);

#endif
