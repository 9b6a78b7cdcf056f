/* Helpers shared by the subcommands that write images (convert, dd, resize, commit, rebase,
 * snapshot, amend, bitmap): qemu's warning for probed raw images opened for writing. */
#ifndef FLATIMG_TOOLS_WRITE_COMMON_H
#define FLATIMG_TOOLS_WRITE_COMMON_H

#include <pthread.h>
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

/* Have the kernel start writing back what has been written to image n's file so far, without
 * waiting for it, so that the flush at the end of a long copy finds less left to do (the disk
 * works while the copy goes on). Nothing for cache=unsafe or O_DIRECT. */
void writeback_start(struct node *n);

/* -r RATE (bytes per second) of convert and commit. qemu throttles convert's writes with a leaky
 * bucket that holds a tenth of a second's bytes (a request waits until the bytes written before it
 * have drained to that) and paces commit's job so that it takes at least bytes/rate. */
struct rate_limit {
    uint64_t rate;  /* 0: unlimited */
    uint64_t burst; /* bytes that may run ahead of the rate */
    uint64_t done;  /* bytes accounted so far */
    double start;   /* CLOCK_MONOTONIC seconds of the first account */
    pthread_mutex_t lock;
};

void rate_limit_init(struct rate_limit *rl, uint64_t rate, uint64_t burst);
void rate_limit_destroy(struct rate_limit *rl);
/* Count n bytes as done. */
void rate_limit_add(struct rate_limit *rl, uint64_t n);
/* Sleep until the bytes counted so far, less the burst, have had their time. */
void rate_limit_wait(struct rate_limit *rl);

#endif
