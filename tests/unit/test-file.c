/* Unit tests for the file protocol (src/file.c) and the raw driver through the core: reads past
 * EOF, zeroing and discard as holes, SEEK_DATA/SEEK_HOLE block status, O_DIRECT with unaligned
 * requests, truncate, and the data path's range checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <cmocka.h>

#include "file.h"
#include "node.h"

static char path[64];

static int setup(void **state)
{
    strcpy(path, "/tmp/flatimg-test-file.XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    return file_create(path, 1 << 20, PREALLOC_OFF, NULL);
}

static int teardown(void **state)
{
    unlink(path);
    return 0;
}

static struct node *open_raw(int flags)
{
    struct error *err = NULL;
    struct node *n = node_open(path, "raw", NULL, flags, &err);
    if (!n)
        fprintf(stderr, "open: %s\n", error_msg(err));
    error_free(err);
    return n;
}

static void test_create_allocates_first_block(void **state)
{
    struct node *n = open_raw(0);
    assert_non_null(n);
    assert_int_equal(n->size, 1 << 20);
    struct block_status bs;
    assert_int_equal(node_block_status(n, 0, n->size, &bs), 0);
    assert_true(bs.flags & BS_DATA);
    assert_int_equal(bs.len, 4096);
    assert_int_equal(node_block_status(n, 4096, n->size - 4096, &bs), 0);
    assert_true(bs.flags & BS_ZERO);
    assert_true(bs.flags & BS_EOF);
    node_close(n);
}

static void test_write_zero_discard(void **state)
{
    struct node *n = open_raw(NODE_RDWR);
    assert_non_null(n);
    uint8_t buf[8192], back[8192];
    memset(buf, 0xab, sizeof(buf));
    assert_int_equal(node_pwrite(n, 65536, sizeof(buf), buf), 0);
    assert_int_equal(node_pread(n, 65536, sizeof(back), back), 0);
    assert_memory_equal(buf, back, sizeof(buf));
    assert_int_equal(node_pwrite_zeroes(n, 65536, 4096, ZERO_MAY_UNMAP), 0);
    assert_int_equal(node_pread(n, 65536, 4096, back), 0);
    for (int i = 0; i < 4096; i++)
        assert_int_equal(back[i], 0);
    assert_int_equal(node_discard(n, 65536 + 4096, 4096), 0);
    assert_int_equal(node_pread(n, 65536 + 4096, 4096, back), 0);
    for (int i = 0; i < 4096; i++)
        assert_int_equal(back[i], 0);
    /* the range is a hole again */
    struct block_status bs;
    assert_int_equal(node_block_status(n, 65536, 8192, &bs), 0);
    assert_true(bs.flags & BS_ZERO);
    /* out of range and read-only errors */
    assert_int_equal(node_pread(n, n->size - 1, 2, back), -EINVAL);
    node_close(n);
    n = open_raw(0);
    assert_int_equal(node_pwrite(n, 0, 1, buf), -EPERM);
    node_close(n);
}

static void test_direct_unaligned(void **state)
{
    struct node *n = open_raw(NODE_RDWR | NODE_NOCACHE);
    if (!n) {
        skip(); /* a file system without O_DIRECT (tmpfs) */
    }
    uint8_t buf[100], back[100];
    memset(buf, 0x5a, sizeof(buf));
    assert_int_equal(node_pwrite(n, 4097, sizeof(buf), buf), 0);
    assert_int_equal(node_pread(n, 4097, sizeof(back), back), 0);
    assert_memory_equal(buf, back, sizeof(buf));
    assert_int_equal(node_pread(n, 4096, 1, back), 0);
    assert_int_equal(back[0], 0);
    node_close(n);
}

static void test_truncate(void **state)
{
    struct node *n = open_raw(NODE_RDWR);
    struct error *err = NULL;
    assert_int_equal(node_truncate(n, 2 << 20, true, PREALLOC_OFF, &err), 0);
    assert_int_equal(n->size, 2 << 20);
    assert_int_equal(node_truncate(n, 3 << 20, true, PREALLOC_FULL, &err), 0);
    assert_int_equal(n->size, 3 << 20);
    int64_t alloc = node_allocated_size(n);
    assert_true(alloc >= (1 << 20));
    node_close(n);
}

static void test_missing_file_message(void **state)
{
    struct error *err = NULL;
    struct node *n = node_open("/nonexistent/flatimg", NULL, NULL, 0, &err);
    assert_null(n);
    assert_string_equal(error_msg(err), "Could not open '/nonexistent/flatimg': No such file or directory");
    error_free(err);
}

static void test_cache_modes(void **state)
{
    int flags = 0;
    assert_int_equal(cache_mode_parse("none", &flags), 0);
    assert_true(flags & NODE_NOCACHE);
    assert_int_equal(cache_mode_parse("unsafe", &flags), 0);
    assert_true(flags & NODE_NO_FLUSH);
    assert_false(flags & NODE_NOCACHE);
    assert_int_equal(cache_mode_parse("directsync", &flags), 0);
    assert_true((flags & NODE_NOCACHE) && (flags & NODE_WRITETHROUGH));
    assert_int_not_equal(cache_mode_parse("bogus", &flags), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_allocates_first_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_zero_discard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_direct_unaligned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate, setup, teardown),
        cmocka_unit_test(test_missing_file_message),
        cmocka_unit_test(test_cache_modes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
