/* Unit tests of the bounded LRU metadata cache (src/cache.c): hits, LRU eviction with write-back,
 * the before_write hook, pinning, dropping. */
#include "config.h"

#include <setjmp.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cache.h"

#define ESIZE 16

struct backing_store {
    uint8_t data[64][ESIZE];
    int reads, writes, hooks;
};

static int st_read(void *opaque, uint64_t off, void *buf, size_t len)
{
    struct backing_store *b = opaque;
    b->reads++;
    memcpy(buf, b->data[off / ESIZE], len);
    return 0;
}

static int st_write(void *opaque, uint64_t off, const void *buf, size_t len)
{
    struct backing_store *b = opaque;
    b->writes++;
    memcpy(b->data[off / ESIZE], buf, len);
    return 0;
}

static int st_hook(void *opaque)
{
    ((struct backing_store *)opaque)->hooks++;
    return 0;
}

static const struct cache_ops ops = { st_read, st_write, st_hook };

static void test_hit_and_lru(void **state)
{
    struct backing_store b = { 0 };
    for (int i = 0; i < 64; i++)
        memset(b.data[i], i, ESIZE);
    struct cache *c = cache_new(ESIZE, 2, &ops, &b);
    uint8_t *p;
    assert_int_equal(cache_get(c, 0, (void **)&p), 0);
    assert_int_equal(p[0], 0);
    cache_put(c, p);
    assert_int_equal(cache_get(c, 16, (void **)&p), 0);
    assert_int_equal(p[0], 1);
    cache_put(c, p);
    assert_int_equal(cache_get(c, 0, (void **)&p), 0); /* hit: block 0 becomes most recent */
    cache_put(c, p);
    assert_int_equal(b.reads, 2);
    assert_int_equal(cache_get(c, 32, (void **)&p), 0); /* evicts block 1, the LRU */
    cache_put(c, p);
    assert_int_equal(cache_get(c, 0, (void **)&p), 0);
    cache_put(c, p);
    assert_int_equal(b.reads, 3);
    cache_free(c);
}

static void test_dirty_write_back(void **state)
{
    struct backing_store b = { 0 };
    struct cache *c = cache_new(ESIZE, 2, &ops, &b);
    uint8_t *p;
    assert_int_equal(cache_get(c, 0, (void **)&p), 0);
    p[0] = 0xaa;
    cache_mark_dirty(c, p);
    cache_put(c, p);
    assert_int_equal(b.writes, 0);
    assert_int_equal(cache_get(c, 16, (void **)&p), 0);
    cache_put(c, p);
    assert_int_equal(cache_get(c, 32, (void **)&p), 0); /* evicts the dirty block 0 */
    cache_put(c, p);
    assert_int_equal(b.writes, 1);
    assert_int_equal(b.hooks, 1);
    assert_int_equal(b.data[0][0], 0xaa);
    cache_free(c);
}

static void test_pinned_not_evicted(void **state)
{
    struct backing_store b = { 0 };
    struct cache *c = cache_new(ESIZE, 2, &ops, &b);
    uint8_t *p0, *p1, *p2;
    assert_int_equal(cache_get(c, 0, (void **)&p0), 0);
    assert_int_equal(cache_get(c, 16, (void **)&p1), 0);
    assert_int_equal(cache_get(c, 32, (void **)&p2), -ENOMEM);
    cache_put(c, p1);
    assert_int_equal(cache_get(c, 32, (void **)&p2), 0);
    assert_ptr_equal(p2, p1); /* the unpinned slot was reused */
    cache_put(c, p2);
    cache_put(c, p0);
    cache_free(c);
}

static void test_flush_and_drop(void **state)
{
    struct backing_store b = { 0 };
    struct cache *c = cache_new(ESIZE, 4, &ops, &b);
    uint8_t *p;
    assert_int_equal(cache_get_empty(c, 48, (void **)&p), 0);
    assert_int_equal(p[3], 0);
    p[3] = 7;
    cache_mark_dirty(c, p);
    cache_put(c, p);
    assert_int_equal(cache_flush(c), 0);
    assert_int_equal(b.data[3][3], 7);
    assert_int_equal(cache_flush(c), 0);
    assert_int_equal(b.writes, 1);
    assert_int_equal(cache_get(c, 0, (void **)&p), 0);
    p[0] = 9;
    cache_mark_dirty(c, p);
    cache_put(c, p);
    cache_drop(c, 0);
    assert_int_equal(cache_flush(c), 0);
    assert_int_equal(b.data[0][0], 0); /* dropped changes are never written */
    cache_free(c);
}

/* A cache of many slots (as a 512-byte-cluster qcow2 has): every block read once while it
 * stays, the least recently used evicted first, pinned blocks kept, a clean flush writes nothing. */
static void test_many_slots_lru(void **state)
{
    struct backing_store b = { 0 };
    for (int i = 0; i < 64; i++)
        memset(b.data[i], i, ESIZE);
    struct cache *c = cache_new(ESIZE, 48, &ops, &b);
    uint8_t *p, *pinned;
    assert_int_equal(cache_get(c, 5 * ESIZE, (void **)&pinned), 0); /* stays pinned */
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 48; i++) {
            if (i == 5)
                continue;
            assert_int_equal(cache_get(c, (uint64_t)i * ESIZE, (void **)&p), 0);
            assert_int_equal(p[0], i);
            cache_put(c, p);
        }
    assert_int_equal(b.reads, 48); /* the second round hit everywhere */
    for (int i = 48; i < 64; i++) { /* evicts blocks 0..4 and 6..16, never the pinned 5 */
        assert_int_equal(cache_get(c, (uint64_t)i * ESIZE, (void **)&p), 0);
        cache_put(c, p);
    }
    assert_int_equal(b.reads, 64);
    assert_int_equal(cache_get(c, 17 * ESIZE, (void **)&p), 0); /* still cached */
    cache_put(c, p);
    assert_int_equal(b.reads, 64);
    assert_int_equal(cache_get(c, 0, (void **)&p), 0); /* evicted: read again */
    cache_put(c, p);
    assert_int_equal(b.reads, 65);
    assert_int_equal(pinned[0], 5);
    assert_int_equal(cache_flush(c), 0);
    assert_int_equal(b.writes, 0);
    cache_put(c, pinned);
    cache_clear(c);
    assert_int_equal(cache_get(c, 17 * ESIZE, (void **)&p), 0); /* cleared: read again */
    cache_put(c, p);
    assert_int_equal(b.reads, 66);
    cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_and_lru),
        cmocka_unit_test(test_dirty_write_back),
        cmocka_unit_test(test_pinned_not_evicted),
        cmocka_unit_test(test_flush_and_drop),
        cmocka_unit_test(test_many_slots_lru),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
