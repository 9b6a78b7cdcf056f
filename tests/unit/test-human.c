/* Unit tests for src/human.c: sizes exactly as qemu's size_to_str prints them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "human.h"

static void check(uint64_t v, const char *expect)
{
    char buf[64];
    human_size(buf, sizeof(buf), v);
    assert_string_equal(buf, expect);
}

static void test_sizes(void **state)
{
    check(0, "0 B");
    check(512, "512 B");
    check(1000, "0.977 KiB");
    check(4096, "4 KiB");
    check(200704, "196 KiB");
    check(1073741824, "1 GiB");
    check(1610612736, "1.5 GiB");
    check(1ULL << 40, "1 TiB");
}

static void test_with_bytes(void **state)
{
    char buf[64];
    human_size_bytes(buf, sizeof(buf), 1073741824);
    assert_string_equal(buf, "1 GiB (1073741824 bytes)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_with_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
