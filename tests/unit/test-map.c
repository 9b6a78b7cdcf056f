/* Unit tests for tools/map-entry.c: when qemu-img map merges two extents, and how entries print
 * in the human and JSON forms (the human form folds zero and unallocated ranges together). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "map-entry.h"

static struct map_entry data_at(uint64_t start, uint64_t len, uint64_t off, const char *file)
{
    return (struct map_entry){ .start = start, .length = len, .offset = off, .has_offset = true,
                               .data = true, .present = true, .filename = file };
}

static void test_contiguous_data_merges(void **state)
{
    struct map_entry a = data_at(0, 4096, 0, "a.raw"), b = data_at(4096, 4096, 4096, "a.raw");
    assert_true(map_entry_mergeable(&a, &b));
}

static void test_host_gap_does_not_merge(void **state)
{
    struct map_entry a = data_at(0, 4096, 0, "a.raw"), b = data_at(4096, 4096, 65536, "a.raw");
    assert_false(map_entry_mergeable(&a, &b));
}

static void test_other_file_does_not_merge(void **state)
{
    struct map_entry a = data_at(0, 4096, 0, "a.raw"), b = data_at(4096, 4096, 4096, "b.raw");
    assert_false(map_entry_mergeable(&a, &b));
    b.filename = NULL;
    assert_false(map_entry_mergeable(&a, &b));
}

static void test_flags_and_depth_must_agree(void **state)
{
    struct map_entry a = data_at(0, 4096, 0, "a"), b;
    b = data_at(4096, 4096, 4096, "a"), b.zero = true;
    assert_false(map_entry_mergeable(&a, &b));
    b = data_at(4096, 4096, 4096, "a"), b.depth = 1;
    assert_false(map_entry_mergeable(&a, &b));
    b = data_at(4096, 4096, 4096, "a"), b.present = false;
    assert_false(map_entry_mergeable(&a, &b));
    b = data_at(4096, 4096, 4096, "a"), b.has_offset = false;
    assert_false(map_entry_mergeable(&a, &b));
}

static void test_empty_current_never_merges(void **state)
{
    struct map_entry a = { .start = 0 }, b = { .start = 0, .length = 512 };
    assert_false(map_entry_mergeable(&a, &b));
}

static void test_holes_without_offset_merge(void **state)
{
    struct map_entry a = { .start = 0, .length = 512, .zero = true, .depth = 1 };
    struct map_entry b = { .start = 512, .length = 512, .zero = true, .depth = 1 };
    assert_true(map_entry_mergeable(&a, &b));
}

static char *dump(bool json, const struct map_entry *e, struct map_entry *next, int *ret)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    *ret = map_entry_dump(f, json, e, next);
    fclose(f);
    return text;
}

static void test_human_line(void **state)
{
    struct map_entry e = data_at(0x10000, 0x20000, 0, "a.raw");
    int ret;
    char *s = dump(false, &e, NULL, &ret);
    assert_int_equal(ret, 0);
    assert_string_equal(s, "0x10000         0x20000         0               a.raw\n");
    free(s);
}

static void test_human_skips_zero_and_folds_next(void **state)
{
    struct map_entry e = data_at(0, 512, 0, "a"), next = data_at(512, 512, 512, "a");
    e.zero = true;
    next.zero = true;
    int ret;
    char *s = dump(false, &e, &next, &ret);
    assert_string_equal(s, "");
    assert_false(next.data); /* zero data looks like a hole in the human form */
    assert_true(next.zero);
    free(s);
}

static void test_human_refuses_data_without_offset(void **state)
{
    struct map_entry e = { .start = 0, .length = 65536, .data = true, .present = true };
    int ret;
    char *s = dump(false, &e, NULL, &ret);
    assert_int_equal(ret, -1);
    free(s);
}

static void test_json_lines(void **state)
{
    struct map_entry e = data_at(0, 1000, 0, "a"), next = { .start = 1000, .length = 24 };
    next.zero = true;
    int ret;
    char *s = dump(true, &e, &next, &ret);
    assert_string_equal(s, "{ \"start\": 0, \"length\": 1000, \"depth\": 0, \"present\": true, "
                           "\"zero\": false, \"data\": true, \"offset\": 0},\n");
    free(s);
    s = dump(true, &next, NULL, &ret);
    assert_string_equal(s, "{ \"start\": 1000, \"length\": 24, \"depth\": 0, \"present\": false, "
                           "\"zero\": true, \"data\": false}");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contiguous_data_merges),
        cmocka_unit_test(test_host_gap_does_not_merge),
        cmocka_unit_test(test_other_file_does_not_merge),
        cmocka_unit_test(test_flags_and_depth_must_agree),
        cmocka_unit_test(test_empty_current_never_merges),
        cmocka_unit_test(test_holes_without_offset_merge),
        cmocka_unit_test(test_human_line),
        cmocka_unit_test(test_human_skips_zero_and_folds_next),
        cmocka_unit_test(test_human_refuses_data_without_offset),
        cmocka_unit_test(test_json_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
