/* flatimgfs's read pool: one large read is split into cluster-aligned pieces that the requesting
 * thread and a few workers read at once (lookups, decompression and copies of different clusters
 * run in parallel; one FUSE request at a time is all a sequential reader sends). */
#ifndef FLATIMGFS_READPOOL_H
#define FLATIMGFS_READPOOL_H

#include <stdbool.h>
#include <stdint.h>

struct readpool;

/* A read of one piece: returns 0 or -errno. */
typedef int (*readpool_fn)(void *ctx, uint64_t off, uint64_t len, uint8_t *buf);

/* Start `workers` threads (0: no pool, readpool_read reads on the calling thread). NULL on error. */
struct readpool *readpool_new(unsigned workers);
void readpool_free(struct readpool *p);

/* Whether readpool_read would share a read of len bytes with the workers. */
bool readpool_splits(const struct readpool *p, uint64_t len, uint64_t align);

/* Read [off, off + len) into buf with fn, in pieces whose boundaries fall on multiples of align
 * (a power of two) when len is large enough to be worth splitting; the first error is returned. */
int readpool_read(struct readpool *p, readpool_fn fn, void *ctx, uint64_t off, uint64_t len,
                  uint8_t *buf, uint64_t align);

#endif
