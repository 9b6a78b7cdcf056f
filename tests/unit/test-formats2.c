/* Unit tests for the writable formats of the second batch (parallels, qcow, vhdx): images created
 * through image_create() read back what node_pwrite() put in them, across reopen, with unwritten
 * ranges reading as zeros; corrupt headers fail to open without crashing. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "create.h"
#include "node.h"

static char *tmp_path(const char *ext)
{
    char *p = NULL;
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    if (asprintf(&p, "%s/flatimg-test-formats2-%d.%s", dir, (int)getpid(), ext) < 0)
        abort();
    return p;
}

static void create(const char *path, const char *fmt, uint64_t size, const char *options)
{
    struct image_create_args a = { .filename = path, .fmt = fmt, .size = size,
                                   .options = options, .quiet = true };
    struct error *err = NULL;
    assert_int_equal(image_create(&a, &err), 0);
}

static void roundtrip(const char *fmt, const char *options)
{
    char *path = tmp_path(fmt);
    const uint64_t size = 4 << 20;
    create(path, fmt, size, options);
    struct error *err = NULL;
    struct node *n = node_open(path, fmt, NULL, NODE_RDWR, &err);
    assert_non_null(n);
    uint8_t *buf = malloc(size), *back = malloc(size);
    memset(buf, 0, size);
    memset(buf + 4095, 0xab, 3);
    memset(buf + (1 << 20) + 17, 0xcd, 70000);
    memset(buf + size - 1, 0xef, 1);
    assert_int_equal(node_pwrite(n, 4095, 3, buf + 4095), 0);
    assert_int_equal(node_pwrite(n, (1 << 20) + 17, 70000, buf + (1 << 20) + 17), 0);
    assert_int_equal(node_pwrite(n, size - 1, 1, buf + size - 1), 0);
    node_close(n);
    n = node_open(path, NULL, NULL, 0, &err);
    assert_non_null(n);
    assert_string_equal(n->drv->name, fmt);
    assert_int_equal(n->size, size);
    assert_int_equal(node_pread(n, 0, size, back), 0);
    assert_memory_equal(buf, back, size);
    node_close(n);
    unlink(path);
    free(path);
    free(buf);
    free(back);
}

static void test_parallels_roundtrip(void **state)
{
    roundtrip("parallels", "cluster_size=64k");
}

static void test_qcow_roundtrip(void **state)
{
    roundtrip("qcow", NULL);
}

static void test_vhdx_roundtrip(void **state)
{
    roundtrip("vhdx", "block_size=1M");
}

/* Every byte of the first 512 set to 0xff in turn must not crash an open or a read. */
static void corrupt_header_bytes(const char *fmt, uint64_t header_off)
{
    char *path = tmp_path(fmt);
    create(path, fmt, 2 << 20, NULL);
    for (uint64_t i = header_off; i < header_off + 128; i++) {
        FILE *f = fopen(path, "r+b");
        assert_non_null(f);
        fseek(f, (long)i, SEEK_SET);
        int old = fgetc(f);
        fseek(f, (long)i, SEEK_SET);
        fputc(0xff, f);
        fclose(f);
        struct error *err = NULL;
        struct node *n = node_open(path, fmt, NULL, 0, &err);
        if (n) {
            uint8_t b[4096];
            (void)node_pread(n, 0, sizeof(b), b);
            node_close(n);
        } else {
            error_free(err);
        }
        f = fopen(path, "r+b");
        fseek(f, (long)i, SEEK_SET);
        fputc(old, f);
        fclose(f);
    }
    unlink(path);
    free(path);
}

static void test_corrupt_headers(void **state)
{
    corrupt_header_bytes("parallels", 0);
    corrupt_header_bytes("qcow", 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parallels_roundtrip),
        cmocka_unit_test(test_qcow_roundtrip),
        cmocka_unit_test(test_vhdx_roundtrip),
        cmocka_unit_test(test_corrupt_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
