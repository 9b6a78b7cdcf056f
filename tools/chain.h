/* Backing chains opened layer by layer for the commands that write below the top (commit,
 * rebase): the layer chosen as writable is opened read-write, the others read-only. */
#ifndef FLATIMG_TOOLS_CHAIN_H
#define FLATIMG_TOOLS_CHAIN_H

#include <stdbool.h>

#include "node.h"

/* qemu's bdrv_find_backing_image: the layer below top that `name` designates (as recorded in
 * the layer above, or the same file once resolved against that layer's directory); its depth
 * (1 = top's backing) in *depth. NULL when not found. */
struct node *chain_find(struct node *top, const char *name, int *depth);

/* Open the backing chain under top (opened with NODE_NO_BACKING) layer by layer; the layer at
 * depth rw_depth (0: none) gets NODE_RDWR. Prints qemu's message and returns -1 on failure. */
int chain_open_below(struct node *top, int rw_depth, int flags);

#endif
