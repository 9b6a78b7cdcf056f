/* Helpers shared by the subcommands that write images (convert, dd, resize, commit, rebase,
 * snapshot, amend, bitmap): qemu's warning for probed raw images opened for writing. */
#ifndef FLATIMG_TOOLS_WRITE_COMMON_H
#define FLATIMG_TOOLS_WRITE_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "node.h"

/* Open as img_open() does and, when the format of a writable raw image was guessed, print qemu's
 * "WARNING: Image format was not specified ..." lines. */
struct node *img_open_rw(bool image_opts, const char *filename, const char *fmt, int flags,
                         bool quiet);

/* qemu's is_allocated_sectors_min(): how many bytes from buf (a multiple of 512) share one
 * state, with zero runs shorter than min_bytes counted as data; returns true for data. */
bool convert_scan_allocated(const uint8_t *buf, uint64_t len, uint64_t *pnum, uint64_t min_bytes,
                            uint64_t off, uint64_t align);

/* The warning alone, for a node that qemu would reopen. */
void warn_probed_raw(const struct node *n);

bool buffer_is_zero(const void *buf, uint64_t len);

#endif
