/* Unit tests for src/json.c: qemu's QDict key order and pretty layout, json: filenames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "json.h"

/* The order qemu-img 7.2 prints the keys of a qcow2 ImageInfo with a backing file. */
static void test_qdict_order_matches_qemu(void **state)
{
    json_object *o = json_object_new_object();
    const char *insert[] = { "filename", "format", "dirty-flag", "actual-size", "virtual-size",
                             "cluster-size", "backing-filename", "full-backing-filename",
                             "backing-filename-format", "format-specific" };
    for (size_t i = 0; i < 10; i++)
        json_object_object_add(o, insert[i], json_object_new_int(1));
    const char *expect[] = { "backing-filename-format", "virtual-size", "filename", "cluster-size",
                             "format", "actual-size", "format-specific", "full-backing-filename",
                             "backing-filename", "dirty-flag" };
    size_t n;
    const char **keys = json_qdict_keys(o, &n);
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(keys[i], expect[i]);
    free(keys);
    json_object_put(o);
}

static void test_pretty_layout(void **state)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "format", json_object_new_string("raw"));
    json_object *a = json_object_new_array();
    json_object_array_add(a, json_object_new_boolean(0));
    json_object_object_add(o, "list", a);
    json_object_object_add(o, "empty", json_object_new_object());
    char *s = json_to_qemu_string(o, 1);
    assert_non_null(strstr(s, "    \"format\": \"raw\""));
    assert_non_null(strstr(s, "\"list\": [\n        false\n    ]"));
    assert_non_null(strstr(s, "\"empty\": {}"));
    free(s);
    json_object_put(o);
}

static void test_string_escapes(void **state)
{
    json_object *o = json_object_new_string("a\"b\\c\n\x01/\xc3\xa9");
    char *s = json_to_qemu_string(o, 0);
    assert_string_equal(s, "\"a\\\"b\\\\c\\n\\u0001/\\u00E9\"");
    free(s);
    json_object_put(o);
}

static void test_jsonfile_flatten(void **state)
{
    struct opts *o = NULL;
    assert_int_equal(jsonfile_parse("{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\","
                                    "\"filename\":\"x\"},\"lazy\":true}", &o, NULL), 0);
    assert_string_equal(opts_get(o, "driver"), "qcow2");
    assert_string_equal(opts_get(o, "file.filename"), "x");
    assert_string_equal(opts_get(o, "lazy"), "on");
    opts_free(o);
    struct error *err = NULL;
    assert_int_not_equal(jsonfile_parse("{\"driver\"", &o, &err), 0);
    error_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qdict_order_matches_qemu),
        cmocka_unit_test(test_pretty_layout),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_jsonfile_flatten),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
