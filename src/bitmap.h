/* Persistent dirty bitmaps as a driver offers them (qemu-img bitmap's operations): a table of
 * operations a format driver points to from struct driver's `bitmaps` slot. */
#ifndef FLATIMG_BITMAP_H
#define FLATIMG_BITMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct node;

struct bitmap_info {
    char *name;
    uint64_t granularity;
    bool in_use;   /* inconsistent: its content cannot be trusted */
    bool enabled;  /* "auto": tracks writes */
};
void bitmap_info_list_free(struct bitmap_info *list, int count);

struct bitmap_ops {
    int (*list)(struct node *n, struct bitmap_info **list, int *count);
    /* granularity 0: the driver's default (qemu: the cluster size, at most 64 KiB, at least 4k) */
    int (*add)(struct node *n, const char *name, uint64_t granularity, bool disabled,
               struct error **errp);
    int (*remove)(struct node *n, const char *name, struct error **errp);
    int (*clear)(struct node *n, const char *name, struct error **errp);
    int (*enable)(struct node *n, const char *name, struct error **errp);
    int (*disable)(struct node *n, const char *name, struct error **errp);
    /* dst |= src, where src is a bitmap of src_node (which may be n). */
    int (*merge)(struct node *n, const char *dst, struct node *src_node, const char *src,
                 struct error **errp);
};

#endif
