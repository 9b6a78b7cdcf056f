/* Bounded LRU metadata cache (see cache.h): a small array of slots scanned linearly, each slot
 * holding one block, a pin count, a dirty flag and a last-use stamp. */
#include "config.h"
#include "cache.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct cache_slot {
    uint64_t off;
    uint64_t stamp; /* 0: slot empty */
    int pins;
    bool dirty;
    uint8_t *buf;
};

struct cache {
    size_t entry_size, nb;
    uint64_t clock;
    const struct cache_ops *ops;
    void *opaque;
    struct cache_slot *slots;
};

struct cache *cache_new(size_t entry_size, size_t nb_entries, const struct cache_ops *ops,
                        void *opaque)
{
    if (nb_entries < 2)
        nb_entries = 2;
    struct cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->slots = calloc(nb_entries, sizeof(*c->slots));
    if (!c->slots) {
        free(c);
        return NULL;
    }
    c->entry_size = entry_size;
    c->nb = nb_entries;
    c->ops = ops;
    c->opaque = opaque;
    return c;
}

void cache_free(struct cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nb; i++)
        free(c->slots[i].buf);
    free(c->slots);
    free(c);
}

size_t cache_entry_size(const struct cache *c)
{
    return c->entry_size;
}

static int write_back(struct cache *c, struct cache_slot *s)
{
    if (!s->dirty)
        return 0;
    if (c->ops->before_write) {
        int ret = c->ops->before_write(c->opaque);
        if (ret < 0)
            return ret;
    }
    int ret = c->ops->write(c->opaque, s->off, s->buf, c->entry_size);
    if (ret == 0)
        s->dirty = false;
    return ret;
}

static struct cache_slot *find(struct cache *c, uint64_t off)
{
    for (size_t i = 0; i < c->nb; i++)
        if (c->slots[i].stamp && c->slots[i].off == off)
            return &c->slots[i];
    return NULL;
}

/* An empty slot, or the least recently used unpinned one written back. */
static int victim(struct cache *c, struct cache_slot **out)
{
    struct cache_slot *best = NULL;
    for (size_t i = 0; i < c->nb; i++) {
        struct cache_slot *s = &c->slots[i];
        if (s->pins)
            continue;
        if (!s->stamp) {
            best = s;
            break;
        }
        if (!best || s->stamp < best->stamp)
            best = s;
    }
    if (!best)
        return -ENOMEM;
    if (best->stamp) {
        int ret = write_back(c, best);
        if (ret < 0)
            return ret;
        best->stamp = 0;
    }
    if (!best->buf) {
        best->buf = malloc(c->entry_size);
        if (!best->buf)
            return -ENOMEM;
    }
    *out = best;
    return 0;
}

static int get(struct cache *c, uint64_t off, void **out, bool read)
{
    struct cache_slot *s = find(c, off);
    if (!s) {
        int ret = victim(c, &s);
        if (ret < 0)
            return ret;
        if (read) {
            ret = c->ops->read(c->opaque, off, s->buf, c->entry_size);
            if (ret < 0)
                return ret;
        } else {
            memset(s->buf, 0, c->entry_size);
        }
        s->off = off;
        s->dirty = false;
    } else if (!read) {
        memset(s->buf, 0, c->entry_size);
    }
    s->stamp = ++c->clock;
    s->pins++;
    *out = s->buf;
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
    for (size_t i = 0; i < c->nb; i++)
        if (c->slots[i].buf == buf && c->slots[i].stamp)
            return &c->slots[i];
    return NULL;
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
        s->dirty = true;
}

int cache_flush(struct cache *c)
{
    int result = 0;
    for (size_t i = 0; i < c->nb; i++) {
        struct cache_slot *s = &c->slots[i];
        if (s->stamp && s->dirty) {
            int ret = write_back(c, s);
            if (ret < 0 && result == 0)
                result = ret;
        }
    }
    return result;
}

void cache_drop(struct cache *c, uint64_t off)
{
    struct cache_slot *s = find(c, off);
    if (s) {
        s->stamp = 0;
        s->dirty = false;
        s->pins = 0;
    }
}

void cache_clear(struct cache *c)
{
    for (size_t i = 0; i < c->nb; i++) {
        c->slots[i].stamp = 0;
        c->slots[i].dirty = false;
        c->slots[i].pins = 0;
    }
}
