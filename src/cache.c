/* Bounded LRU metadata cache (see cache.h). Every operation is O(1) whatever the number of slots
 * (a 512-byte-cluster qcow2 has thousands): a hash of block offsets, slot buffers in one
 * allocation (a buffer's slot is found by address; untouched pages cost no memory), a
 * least-recently-used list, and a count of dirty blocks so that a clean flush costs nothing. */
#include "config.h"
#include "cache.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define NONE SIZE_MAX

struct cache_slot {
    uint64_t off;
    bool used;
    bool dirty;
    int pins;
    size_t hnext;       /* next slot in the same hash bucket */
    size_t prev, next;  /* LRU list: head is the most recently used */
};

struct cache {
    size_t entry_size, nb;
    const struct cache_ops *ops;
    void *opaque;
    struct cache_slot *slots;
    uint8_t *mem;          /* nb * entry_size bytes, slot i at i * entry_size */
    size_t *buckets, mask;
    size_t head, tail;     /* LRU list of used slots */
    size_t free_head;      /* unused slots, chained through next */
    size_t ndirty;
};

struct cache *cache_new(size_t entry_size, size_t nb_entries, const struct cache_ops *ops,
                        void *opaque)
{
    if (nb_entries < 2)
        nb_entries = 2;
    size_t nbuckets = 1;
    while (nbuckets < nb_entries * 2)
        nbuckets <<= 1;
    struct cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    size_t bytes;
    c->slots = calloc(nb_entries, sizeof(*c->slots));
    c->buckets = malloc(nbuckets * sizeof(*c->buckets));
    c->mem = __builtin_mul_overflow(entry_size, nb_entries, &bytes) ? NULL : malloc(bytes);
    if (!c->slots || !c->buckets || !c->mem) {
        cache_free(c);
        return NULL;
    }
    for (size_t i = 0; i < nbuckets; i++)
        c->buckets[i] = NONE;
    c->mask = nbuckets - 1;
    c->entry_size = entry_size;
    c->nb = nb_entries;
    c->ops = ops;
    c->opaque = opaque;
    c->head = c->tail = NONE;
    for (size_t i = 0; i < nb_entries; i++)
        c->slots[i].next = i + 1 < nb_entries ? i + 1 : NONE;
    c->free_head = 0;
    return c;
}

void cache_free(struct cache *c)
{
    if (!c)
        return;
    free(c->mem);
    free(c->buckets);
    free(c->slots);
    free(c);
}

size_t cache_entry_size(const struct cache *c)
{
    return c->entry_size;
}

static uint8_t *buf_of(struct cache *c, size_t i)
{
    return c->mem + i * c->entry_size;
}

static size_t bucket_of(const struct cache *c, uint64_t off)
{
    uint64_t h = (off / c->entry_size) * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 32) & c->mask;
}

static size_t find(struct cache *c, uint64_t off)
{
    for (size_t i = c->buckets[bucket_of(c, off)]; i != NONE; i = c->slots[i].hnext)
        if (c->slots[i].off == off)
            return i;
    return NONE;
}

static void hash_remove(struct cache *c, size_t i)
{
    size_t *p = &c->buckets[bucket_of(c, c->slots[i].off)];
    while (*p != i)
        p = &c->slots[*p].hnext;
    *p = c->slots[i].hnext;
}

static void lru_unlink(struct cache *c, size_t i)
{
    struct cache_slot *s = &c->slots[i];
    if (s->prev != NONE)
        c->slots[s->prev].next = s->next;
    else
        c->head = s->next;
    if (s->next != NONE)
        c->slots[s->next].prev = s->prev;
    else
        c->tail = s->prev;
}

static void lru_push_head(struct cache *c, size_t i)
{
    struct cache_slot *s = &c->slots[i];
    s->prev = NONE;
    s->next = c->head;
    if (c->head != NONE)
        c->slots[c->head].prev = i;
    c->head = i;
    if (c->tail == NONE)
        c->tail = i;
}

static void set_dirty(struct cache *c, struct cache_slot *s, bool dirty)
{
    if (s->dirty != dirty)
        c->ndirty += dirty ? 1 : (size_t)-1;
    s->dirty = dirty;
}

static int write_back(struct cache *c, size_t i)
{
    struct cache_slot *s = &c->slots[i];
    if (!s->dirty)
        return 0;
    if (c->ops->before_write) {
        int ret = c->ops->before_write(c->opaque);
        if (ret < 0)
            return ret;
    }
    int ret = c->ops->write(c->opaque, s->off, buf_of(c, i), c->entry_size);
    if (ret == 0)
        set_dirty(c, s, false);
    return ret;
}

/* Forget slot i (dropping unwritten changes) and put it on the free list. */
static void release(struct cache *c, size_t i)
{
    struct cache_slot *s = &c->slots[i];
    hash_remove(c, i);
    lru_unlink(c, i);
    set_dirty(c, s, false);
    s->used = false;
    s->pins = 0;
    s->next = c->free_head;
    c->free_head = i;
}

/* An unused slot, or the least recently used unpinned one written back. */
static int victim(struct cache *c, size_t *out)
{
    if (c->free_head == NONE) {
        size_t i = c->tail;
        while (i != NONE && c->slots[i].pins)
            i = c->slots[i].prev;
        if (i == NONE)
            return -ENOMEM;
        int ret = write_back(c, i);
        if (ret < 0)
            return ret;
        release(c, i);
    }
    *out = c->free_head;
    c->free_head = c->slots[*out].next;
    return 0;
}

static int get(struct cache *c, uint64_t off, void **out, bool read)
{
    size_t i = find(c, off);
    if (i == NONE) {
        int ret = victim(c, &i);
        if (ret < 0)
            return ret;
        struct cache_slot *s = &c->slots[i];
        if (read) {
            ret = c->ops->read(c->opaque, off, buf_of(c, i), c->entry_size);
            if (ret < 0) {
                s->next = c->free_head;
                c->free_head = i;
                return ret;
            }
        } else {
            memset(buf_of(c, i), 0, c->entry_size);
        }
        s->off = off;
        s->used = true;
        s->dirty = false;
        s->pins = 0;
        size_t b = bucket_of(c, off);
        s->hnext = c->buckets[b];
        c->buckets[b] = i;
    } else {
        if (!read)
            memset(buf_of(c, i), 0, c->entry_size);
        lru_unlink(c, i);
    }
    lru_push_head(c, i);
    c->slots[i].pins++;
    *out = buf_of(c, i);
    return 0;
}

int cache_get(struct cache *c, uint64_t off, void **out)
{
    return get(c, off, out, true);
}

int cache_get_empty(struct cache *c, uint64_t off, void **out)
{
    return get(c, off, out, false);
}

static struct cache_slot *slot_of(struct cache *c, const void *buf)
{
    const uint8_t *p = buf;
    if (p < c->mem || p >= c->mem + c->nb * c->entry_size)
        return NULL;
    struct cache_slot *s = &c->slots[(size_t)(p - c->mem) / c->entry_size];
    return s->used ? s : NULL;
}

void cache_put(struct cache *c, void *buf)
{
    struct cache_slot *s = slot_of(c, buf);
    if (s && s->pins > 0)
        s->pins--;
}

void cache_mark_dirty(struct cache *c, void *buf)
{
    struct cache_slot *s = slot_of(c, buf);
    if (s)
        set_dirty(c, s, true);
}

int cache_flush(struct cache *c)
{
    int result = 0;
    for (size_t i = 0; i < c->nb && c->ndirty; i++) {
        if (c->slots[i].used && c->slots[i].dirty) {
            int ret = write_back(c, i);
            if (ret < 0 && result == 0)
                result = ret;
        }
    }
    return result;
}

void cache_drop(struct cache *c, uint64_t off)
{
    size_t i = find(c, off);
    if (i != NONE)
        release(c, i);
}

void cache_clear(struct cache *c)
{
    for (size_t i = 0; i < c->nb; i++)
        if (c->slots[i].used)
            release(c, i);
}
