/* A bounded LRU cache of fixed-size metadata blocks (qcow2 L2 tables and refcount blocks, and any
 * other format's tables) keyed by their offset in the image file, with write-back of dirty blocks.
 * Not thread-safe: the owner calls it under its own metadata lock. */
#ifndef FLATIMG_CACHE_H
#define FLATIMG_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct cache;

struct cache_ops {
    int (*read)(void *opaque, uint64_t off, void *buf, size_t len);
    int (*write)(void *opaque, uint64_t off, const void *buf, size_t len);
    /* Called before a dirty block is written back (e.g. to flush what it depends on). May be NULL. */
    int (*before_write)(void *opaque);
};

/* nb_entries is clamped to at least 2. */
struct cache *cache_new(size_t entry_size, size_t nb_entries, const struct cache_ops *ops,
                        void *opaque);
/* Write back nothing: the owner flushes first if it wants to keep the data. */
void cache_free(struct cache *c);
size_t cache_entry_size(const struct cache *c);

/* Pin the block at off, reading it on a miss (with fill_zero, start from zeros instead). The
 * pointer stays valid until cache_put(). Returns 0 or -errno (-ENOMEM when every entry is pinned). */
int cache_get(struct cache *c, uint64_t off, void **out);
int cache_get_empty(struct cache *c, uint64_t off, void **out);
void cache_put(struct cache *c, void *buf);
void cache_mark_dirty(struct cache *c, void *buf);

/* Write back every dirty block. */
int cache_flush(struct cache *c);
/* Forget the block at off (dropping unwritten changes). */
void cache_drop(struct cache *c, uint64_t off);
/* Forget everything (dropping unwritten changes). */
void cache_clear(struct cache *c);

#endif
