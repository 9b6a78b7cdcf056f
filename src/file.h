/* The file protocol: POSIX files and block devices, with qemu's cache modes and its byte-range
 * OFD locking scheme so that flatimg and a running qemu exclude each other. */
#ifndef FLATIMG_FILE_H
#define FLATIMG_FILE_H

#include <stdbool.h>
#include <stdint.h>

#include "node.h"

extern const struct driver driver_file;

/* Create (or reuse and truncate) a plain file of `size` bytes as qemu's file protocol does,
 * including its allocation of the first block when preallocation is off. */
int file_create(const char *filename, uint64_t size, enum prealloc prealloc, struct error **errp);

/* Create the empty protocol file under a format image as qemu's format drivers do: the format's
 * own options (size among them) are not passed down, so the file starts at 0 bytes; the
 * "preallocation" key of opts is checked ("invalid parameter value: X" creates nothing, while
 * metadata creates the file and then fails as qemu's file protocol does). */
int file_create_for_format(const char *filename, const struct opts *opts, struct error **errp);

/* Parse a -t/-T cache mode ("none", "writeback", "writethrough", "directsync", "unsafe") into
 * NODE_* flags. */
int cache_mode_parse(const char *mode, int *flags);

/* A format driver that keeps metadata in the file: keep other processes from writing or resizing
 * it (qemu's storage-child permissions). */
int file_node_lock_for_format(struct node *f, struct error **errp);

/* Whether [off, off + len) reaches past the end of file node f rounded up to a whole sector (the
 * zero tail of a last partial sector is part of the file); the size is asked of the file itself
 * when f->size says so, as another thread may just have grown it. *size gets the size. */
bool file_node_past_end(const struct node *f, uint64_t off, uint64_t len, uint64_t *size);

/* File descriptor behind a file node (for fstat and the like); -1 for other nodes. */
int file_node_fd(const struct node *n);

#endif
