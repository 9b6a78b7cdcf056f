/* Unit tests for src/info.c: the ImageInfo object built from an open node (QAPI field names and
 * qemu-img's key order), its human rendering, and snapshot rows, against what qemu-img 7.2
 * prints for the same image and snapshot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "error.h"
#include "info.h"
#include "json.h"

static char path[64];

static int make_raw(void **state)
{
    (void)state;
    strcpy(path, "/tmp/flatimg-test-info.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 3 * 1024 * 1024 + 512), 0); /* sparse: no blocks */
    close(fd);
    return 0;
}

static int remove_raw(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

static json_object *build(void)
{
    struct error *err = NULL;
    struct node *n = node_open(path, "raw", NULL, NODE_NO_BACKING | NODE_NO_IO, &err);
    assert_non_null(n);
    json_object *info = image_info_build(n, &err);
    assert_non_null(info);
    node_close(n);
    return info;
}

static void test_raw_json(void **state)
{
    (void)state;
    json_object *info = build();
    char *s = json_to_qemu_string(info, 1);
    char expect[512];
    snprintf(expect, sizeof(expect),
             "{\n    \"virtual-size\": 3146240,\n    \"filename\": \"%s\",\n"
             "    \"format\": \"raw\",\n    \"actual-size\": 0,\n    \"dirty-flag\": false\n}",
             path);
    assert_string_equal(s, expect);
    free(s);
    json_object_put(info);
}

static void test_raw_human(void **state)
{
    (void)state;
    json_object *info = build();
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    image_info_print_human(out, info);
    fclose(out);
    char expect[512];
    snprintf(expect, sizeof(expect),
             "image: %s\nfile format: raw\nvirtual size: 3 MiB (3146240 bytes)\n"
             "disk size: 0 B\n", path);
    assert_string_equal(buf, expect);
    free(buf);
    json_object_put(info);
}

static char *row(const struct snapshot_info *sn)
{
    json_object *o = sn ? snapshot_info_to_json(sn) : NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    snapshot_dump_row(out, o);
    fclose(out);
    json_object_put(o);
    return buf;
}

static void test_snapshot_rows(void **state)
{
    (void)state;
    setenv("TZ", "UTC", 1);
    tzset();
    char *h = row(NULL);
    assert_string_equal(h, "ID        TAG               VM SIZE                DATE     VM CLOCK     ICOUNT");
    free(h);
    /* `TZ=UTC qemu-img snapshot -l` of a snapshot qemu-img 7.2 took */
    struct snapshot_info sn = { .id = "1", .name = "s1", .date_sec = 1795464883,
                                .date_nsec = 776399000, .icount = 0, .disk_size = 1 << 30 };
    char *r = row(&sn);
    assert_string_equal(r, "1         s1                    0 B 2026-11-23 20:14:43 00:00:00.000          0");
    free(r);
    /* no icount recorded: an empty column */
    sn.icount = UINT64_MAX;
    r = row(&sn);
    assert_string_equal(r, "1         s1                    0 B 2026-11-23 20:14:43 00:00:00.000           ");
    free(r);
    /* a VM state, a clock past an hour and an icount, as a guest snapshot would have */
    struct snapshot_info vm = { .id = "12", .name = "a-rather-long-name", .vm_state_size = 1536,
                                .date_sec = 0, .vm_clock_nsec = 3723004000000ull, .icount = 77,
                                .disk_size = 1 << 20 };
    r = row(&vm);
    assert_string_equal(r, "12        a-rather-long-name  1.5 KiB 1970-01-01 00:00:00 01:02:03.004         77");
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_raw_json, make_raw, remove_raw),
        cmocka_unit_test_setup_teardown(test_raw_human, make_raw, remove_raw),
        cmocka_unit_test(test_snapshot_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
