/* Unit tests for tools/check-report.c: the ImageCheck JSON (optional fields, qemu's key order)
 * and the human report, against what qemu-img 7.2 prints for the same results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "check-report.h"
#include "json.h"

static void assert_json(const struct check_result *r, const char *name, const char *expect)
{
    json_object *o = check_result_to_json(name, "qcow2", r);
    char *s = json_to_qemu_string(o, 1);
    assert_string_equal(s, expect);
    free(s);
    json_object_put(o);
}

static void test_json_clean(void **state)
{
    struct check_result r = { .image_end_offset = 1441792, .total_clusters = 256,
                              .allocated_clusters = 17 };
    assert_json(&r, "q.qcow2",
                "{\n    \"image-end-offset\": 1441792,\n    \"total-clusters\": 256,\n"
                "    \"check-errors\": 0,\n    \"allocated-clusters\": 17,\n"
                "    \"filename\": \"q.qcow2\",\n    \"format\": \"qcow2\"\n}");
}

static void test_json_compressed(void **state)
{
    struct check_result r = { .image_end_offset = 393216, .total_clusters = 256,
                              .allocated_clusters = 17, .fragmented_clusters = 17,
                              .compressed_clusters = 17 };
    assert_json(&r, "qc.qcow2",
                "{\n    \"image-end-offset\": 393216,\n    \"compressed-clusters\": 17,\n"
                "    \"total-clusters\": 256,\n    \"check-errors\": 0,\n"
                "    \"allocated-clusters\": 17,\n    \"filename\": \"qc.qcow2\",\n"
                "    \"format\": \"qcow2\",\n    \"fragmented-clusters\": 17\n}");
}

static void test_json_errors_and_fixes(void **state)
{
    struct check_result r = { .corruptions = 2, .leaks = 1, .image_end_offset = 1441792,
                              .total_clusters = 256, .allocated_clusters = 17 };
    assert_json(&r, "c.qcow2",
                "{\n    \"image-end-offset\": 1441792,\n    \"total-clusters\": 256,\n"
                "    \"corruptions\": 2,\n    \"check-errors\": 0,\n    \"leaks\": 1,\n"
                "    \"allocated-clusters\": 17,\n    \"filename\": \"c.qcow2\",\n"
                "    \"format\": \"qcow2\"\n}");
    struct check_result f = { .leaks_fixed = 1, .image_end_offset = 1441792,
                              .total_clusters = 256, .allocated_clusters = 17 };
    assert_json(&f, "l.qcow2",
                "{\n    \"image-end-offset\": 1441792,\n    \"total-clusters\": 256,\n"
                "    \"check-errors\": 0,\n    \"leaks-fixed\": 1,\n"
                "    \"allocated-clusters\": 17,\n    \"filename\": \"l.qcow2\",\n"
                "    \"format\": \"qcow2\"\n}");
}

static char *human(const struct check_result *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    check_result_print_human(f, r);
    fclose(f);
    return text;
}

static void test_human_clean_and_stats(void **state)
{
    struct check_result r = { .image_end_offset = 393216, .total_clusters = 256,
                              .allocated_clusters = 17, .fragmented_clusters = 17,
                              .compressed_clusters = 17 };
    char *s = human(&r);
    assert_string_equal(s, "No errors were found on the image.\n"
                           "17/256 = 6.64% allocated, 100.00% fragmented, 100.00% compressed "
                           "clusters\nImage end offset: 393216\n");
    free(s);
}

static void test_human_errors(void **state)
{
    struct check_result r = { .corruptions = 2, .leaks = 1, .check_errors = 3 };
    char *s = human(&r);
    assert_string_equal(s, "\n2 errors were found on the image.\n"
                           "Data may be corrupted, or further writes to the image may corrupt "
                           "it.\n\n1 leaked clusters were found on the image.\n"
                           "This means waste of disk space, but no harm to data.\n"
                           "\n3 internal errors have occurred during the check.\n");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_clean),
        cmocka_unit_test(test_json_compressed),
        cmocka_unit_test(test_json_errors_and_fixes),
        cmocka_unit_test(test_human_clean_and_stats),
        cmocka_unit_test(test_human_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
