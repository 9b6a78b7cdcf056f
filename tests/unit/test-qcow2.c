/* Unit tests of the qcow2 driver through the core API: create, write patterns, reopen, parallel
 * readers on several threads (the FUSE mount's access pattern), block status, a clean check, and
 * refcount entry packing for every width. No qemu needed. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../drivers/qcow2/qcow2.h"
#include "node.h"

#define IMG_SIZE (8u << 20)
#define CHUNK 4096u

static char path[64];

static uint8_t pattern(uint64_t off)
{
    return (uint8_t)((off / CHUNK) * 7 + 1);
}

static int setup(void **state)
{
    snprintf(path, sizeof(path), "/tmp/test-qcow2-%d.qcow2", (int)getpid());
    struct opts *o = opts_new();
    opts_set(o, "size", "8M");
    opts_set(o, "cluster_size", "4096");
    opts_set(o, "refcount_bits", "4");
    struct error *err = NULL;
    int ret = driver_find("qcow2")->create(path, o, &err);
    opts_free(o);
    if (ret < 0)
        return -1;
    struct node *n = node_open(path, "qcow2", NULL, NODE_RDWR, &err);
    if (!n)
        return -1;
    uint8_t buf[CHUNK];
    /* every other chunk written, leaving holes */
    for (uint64_t off = 0; off < IMG_SIZE; off += 2 * CHUNK) {
        memset(buf, pattern(off), CHUNK);
        if (node_pwrite(n, off, CHUNK, buf) < 0)
            return -1;
    }
    node_close(n);
    return 0;
}

static int teardown(void **state)
{
    unlink(path);
    return 0;
}

static void *reader(void *arg)
{
    struct node *n = arg;
    uint8_t buf[3 * CHUNK];
    unsigned seed = (unsigned)(uintptr_t)pthread_self();
    for (int i = 0; i < 400; i++) {
        uint64_t off = (uint64_t)(rand_r(&seed) % (IMG_SIZE / CHUNK - 3)) * CHUNK;
        if (node_pread(n, off, sizeof(buf), buf) < 0)
            return (void *)1;
        for (uint64_t j = 0; j < sizeof(buf); j += CHUNK) {
            uint64_t o = off + j;
            uint8_t want = (o / CHUNK) % 2 ? 0 : pattern(o);
            if (buf[j] != want || buf[j + CHUNK - 1] != want)
                return (void *)1;
        }
    }
    return NULL;
}

static void test_parallel_readers(void **state)
{
    struct error *err = NULL;
    struct node *n = node_open(path, "qcow2", NULL, 0, &err);
    assert_non_null(n);
    assert_true(n->drv->flags & DRV_PARALLEL);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reader, n), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        assert_null(r);
    }
    node_close(n);
}

static void test_block_status(void **state)
{
    struct error *err = NULL;
    struct node *n = node_open(path, "qcow2", NULL, 0, &err);
    assert_non_null(n);
    struct block_status bs;
    assert_int_equal(node_block_status(n, 0, IMG_SIZE, &bs), 0);
    assert_int_equal(bs.len, CHUNK);
    assert_true(bs.flags & BS_DATA);
    assert_true(bs.flags & BS_OFFSET_VALID);
    assert_int_equal(node_block_status(n, CHUNK, IMG_SIZE - CHUNK, &bs), 0);
    assert_int_equal(bs.len, CHUNK);
    assert_false(bs.flags & BS_DATA);
    assert_true(bs.flags & BS_ZERO); /* no backing: unallocated reads as zeros */
    node_close(n);
}

static void test_check_clean(void **state)
{
    struct error *err = NULL;
    struct node *n = node_open(path, "qcow2", NULL, 0, &err);
    assert_non_null(n);
    struct check_result r;
    assert_int_equal(n->drv->check(n, &r, 0), 0);
    assert_int_equal(r.corruptions, 0);
    assert_int_equal(r.leaks, 0);
    assert_int_equal(r.allocated_clusters, IMG_SIZE / CHUNK / 2);
    assert_int_equal(r.total_clusters, IMG_SIZE / CHUNK);
    node_close(n);
}

static void test_refcount_widths(void **state)
{
    uint8_t block[512];
    for (uint32_t order = 0; order <= 6; order++) {
        struct qcow2 s = { .refcount_order = order, .refcount_bits = 1u << order };
        uint64_t max = order == 6 ? UINT64_MAX : (1ull << (1u << order)) - 1;
        uint64_t entries = 512 * 8 >> order;
        memset(block, 0, sizeof(block));
        for (uint64_t i = 0; i < entries; i++)
            qcow2_refcount_set_entry(&s, block, i, (i * 2654435761u) & max);
        for (uint64_t i = 0; i < entries; i++)
            assert_int_equal(qcow2_refcount_get_entry(&s, block, i), (i * 2654435761u) & max);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parallel_readers),
        cmocka_unit_test(test_block_status),
        cmocka_unit_test(test_check_clean),
        cmocka_unit_test(test_refcount_widths),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
