/* Unit tests for fuse/readpool.c: a large read is cut at multiples of the alignment, every byte is
 * read exactly once whoever reads it, the first error is returned, and concurrent requesters share
 * the workers without mixing their pieces. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "readpool.h"

#define MAXP 64

/* A fake image: byte at offset o is (o * 7 + o / 4096) & 0xff; pieces are recorded. */
struct rec {
    pthread_mutex_t lock;
    uint64_t off[MAXP], len[MAXP];
    int n;
    uint64_t fail_at; /* a piece containing this offset fails with -EIO (UINT64_MAX: none) */
};

static uint8_t byte_at(uint64_t o)
{
    return (uint8_t)(o * 7 + o / 4096);
}

static int fake_read(void *ctx, uint64_t off, uint64_t len, uint8_t *buf)
{
    struct rec *r = ctx;
    pthread_mutex_lock(&r->lock);
    if (r->n < MAXP) {
        r->off[r->n] = off;
        r->len[r->n] = len;
        r->n++;
    }
    pthread_mutex_unlock(&r->lock);
    if (r->fail_at >= off && r->fail_at < off + len)
        return -5;
    for (uint64_t i = 0; i < len; i++)
        buf[i] = byte_at(off + i);
    return 0;
}

static void check_data(const uint8_t *buf, uint64_t off, uint64_t len)
{
    for (uint64_t i = 0; i < len; i++)
        if (buf[i] != byte_at(off + i))
            fail_msg("byte %llu differs", (unsigned long long)(off + i));
}

/* The recorded pieces tile [off, off + len) exactly, inner boundaries on multiples of align. */
static void check_tiling(struct rec *r, uint64_t off, uint64_t len, uint64_t align)
{
    uint64_t at = off;
    for (int k = 0; k < r->n; k++) { /* sort by offset (few pieces) */
        int m = k;
        for (int i = k + 1; i < r->n; i++)
            if (r->off[i] < r->off[m])
                m = i;
        uint64_t o = r->off[m], l = r->len[m];
        r->off[m] = r->off[k];
        r->len[m] = r->len[k];
        r->off[k] = o;
        r->len[k] = l;
        assert_int_equal(o, at);
        if (k > 0)
            assert_int_equal(o % align, 0);
        at += l;
    }
    assert_int_equal(at, off + len);
}

static void test_split_aligned(void **state)
{
    struct readpool *p = readpool_new(3);
    assert_non_null(p);
    static uint8_t buf[4 << 20];
    struct rec r = { PTHREAD_MUTEX_INITIALIZER, { 0 }, { 0 }, 0, UINT64_MAX };
    uint64_t off = 12345, len = (3 << 20) + 777;
    assert_true(readpool_splits(p, len, 65536));
    assert_int_equal(readpool_read(p, fake_read, &r, off, len, buf, 65536), 0);
    assert_true(r.n >= 2);
    check_tiling(&r, off, len, 65536);
    check_data(buf, off, len);
    readpool_free(p);
}

static void test_small_and_unaligned_not_split(void **state)
{
    struct readpool *p = readpool_new(2);
    static uint8_t buf[1 << 20];
    struct rec r = { PTHREAD_MUTEX_INITIALIZER, { 0 }, { 0 }, 0, UINT64_MAX };
    assert_false(readpool_splits(p, 200000, 65536));
    assert_int_equal(readpool_read(p, fake_read, &r, 100, 200000, buf, 65536), 0);
    assert_int_equal(r.n, 1); /* < 2 pieces of 128 KiB */
    r.n = 0;
    assert_false(readpool_splits(p, 1 << 20, 1 << 20));
    assert_int_equal(readpool_read(p, fake_read, &r, 0, 1 << 20, buf, 1 << 20), 0);
    assert_int_equal(r.n, 1); /* a cluster as big as the read */
    r.n = 0;
    assert_false(readpool_splits(NULL, 1 << 20, 65536));
    assert_false(readpool_splits(p, 1 << 20, 3 << 15)); /* not a power of two */
    assert_true(readpool_splits(p, 1 << 20, 65536));
    assert_int_equal(readpool_read(NULL, fake_read, &r, 0, 1 << 20, buf, 65536), 0);
    assert_int_equal(r.n, 1); /* no pool */
    check_data(buf, 0, 1 << 20);
    readpool_free(p);
}

static void test_error(void **state)
{
    struct readpool *p = readpool_new(2);
    static uint8_t buf[2 << 20];
    struct rec r = { PTHREAD_MUTEX_INITIALIZER, { 0 }, { 0 }, 0, (1 << 20) + 5 };
    assert_int_equal(readpool_read(p, fake_read, &r, 0, 2 << 20, buf, 65536), -5);
    check_tiling(&r, 0, 2 << 20, 65536); /* the other pieces were still read, once */
    readpool_free(p);
}

struct requester {
    struct readpool *p;
    uint64_t off;
    int failures;
};

static void *request_loop(void *arg)
{
    struct requester *q = arg;
    uint8_t *buf = malloc(1 << 20);
    for (int i = 0; i < 200; i++) {
        struct rec r = { PTHREAD_MUTEX_INITIALIZER, { 0 }, { 0 }, 0, UINT64_MAX };
        uint64_t off = q->off + (uint64_t)i * 4096;
        if (readpool_read(q->p, fake_read, &r, off, 1 << 20, buf, 65536) != 0)
            q->failures++;
        for (uint64_t b = 0; b < (1 << 20); b++)
            if (buf[b] != byte_at(off + b)) {
                q->failures++;
                break;
            }
    }
    free(buf);
    return NULL;
}

static void test_concurrent_requesters(void **state)
{
    struct readpool *p = readpool_new(2);
    struct requester q[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        q[i] = (struct requester){ p, (uint64_t)i << 30, 0 };
        assert_int_equal(pthread_create(&t[i], NULL, request_loop, &q[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(q[i].failures, 0);
    }
    readpool_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_aligned),
        cmocka_unit_test(test_small_and_unaligned_not_split),
        cmocka_unit_test(test_error),
        cmocka_unit_test(test_concurrent_requesters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
