/* Unit tests for src/opts.c: qemu option-list syntax and qemu_strtosz size parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <errno.h>
#include <cmocka.h>

#include "opts.h"

static void test_parse_escaped_comma(void **state)
{
    struct opts *o = opts_new();
    assert_int_equal(opts_parse(o, "a=1,b=x,,y,c=3", NULL, NULL), 0);
    assert_string_equal(opts_get(o, "a"), "1");
    assert_string_equal(opts_get(o, "b"), "x,y");
    assert_string_equal(opts_get(o, "c"), "3");
    char *s = opts_to_string(o);
    assert_string_equal(s, "a=1,b=x,,y,c=3");
    free(s);
    opts_free(o);
}

static void test_parse_implied_key_and_help(void **state)
{
    struct opts *o = opts_new();
    assert_int_equal(opts_parse(o, "secret,id=s0", "qom-type", NULL), 0);
    assert_string_equal(opts_get(o, "qom-type"), "secret");
    assert_string_equal(opts_get(o, "id"), "s0");
    opts_free(o);
    o = opts_new();
    assert_int_equal(opts_parse(o, "size=1M,?", NULL, NULL), 0);
    assert_non_null(opts_get(o, "help"));
    opts_free(o);
}

static void test_extract_prefix(void **state)
{
    struct opts *o = opts_new();
    assert_int_equal(opts_parse(o, "driver=qcow2,file.filename=x,file.driver=file,filex=1", NULL, NULL), 0);
    struct opts *f = opts_extract_prefix(o, "file");
    assert_string_equal(opts_get(f, "filename"), "x");
    assert_string_equal(opts_get(f, "driver"), "file");
    assert_null(opts_get(o, "file.filename"));
    assert_string_equal(opts_get(o, "filex"), "1");
    opts_free(f);
    opts_free(o);
}

static void test_sizes(void **state)
{
    uint64_t v;
    assert_int_equal(parse_size("1.5G", &v), 0);
    assert_int_equal(v, 1610612736ULL);
    assert_int_equal(parse_size("0x100", &v), 0);
    assert_int_equal(v, 256);
    assert_int_equal(parse_size("1b", &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(parse_size(" 1k", &v), 0);
    assert_int_equal(v, 1024);
    assert_int_equal(parse_size("15E", &v), 0);
    assert_int_equal(v, 15ULL << 60);
    assert_int_equal(parse_size("1.5", &v), -EINVAL);
    assert_int_equal(parse_size("1e3", &v), -EINVAL);
    assert_int_equal(parse_size("", &v), -EINVAL);
    assert_int_equal(parse_size("-1", &v), -EINVAL);
    assert_int_equal(parse_size("1kk", &v), -EINVAL);
    assert_int_equal(parse_size("0x1.5k", &v), -EINVAL);
    assert_int_equal(parse_size("16E", &v), -ERANGE);
    assert_int_equal(parse_size("18446744073709551616", &v), -ERANGE);
}

static void test_validate_and_types(void **state)
{
    static const struct opt_desc d[] = {
        { "size", OPT_SIZE, "Virtual disk size", NULL },
        { "flag", OPT_BOOL, "A flag", NULL },
        { NULL, 0, NULL, NULL },
    };
    struct opts *o = opts_new();
    struct error *err = NULL;
    opts_parse(o, "size=1M,flag=maybe", NULL, NULL);
    assert_int_equal(opts_validate(o, d, NULL), 0);
    assert_int_not_equal(opts_check_types(o, d, &err), 0);
    assert_string_equal(error_msg(err), "Parameter 'flag' expects 'on' or 'off'");
    error_free(err);
    err = NULL;
    opts_set(o, "other", "1");
    assert_int_not_equal(opts_validate(o, d, &err), 0);
    assert_string_equal(error_msg(err), "Invalid parameter 'other'");
    error_free(err);
    opts_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_escaped_comma),
        cmocka_unit_test(test_parse_implied_key_and_help),
        cmocka_unit_test(test_extract_prefix),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_validate_and_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
