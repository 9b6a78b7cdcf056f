/* Unit tests for fuse/partitions.c: MBR/EBR and GPT parsing of hand-built (often hostile) tables,
 * written to a scratch raw image and read through the core as flatimgfs does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <zlib.h>

#include "bswap.h"
#include "partitions.h"

#define SECTORS 4096u /* a 2 MiB disk */

static uint8_t disk[SECTORS * 512];

static uint8_t *sector(uint64_t lba)
{
    return disk + lba * 512;
}

static void mbr_entry(uint64_t lba_of_table, int i, uint8_t type, uint32_t start, uint32_t len)
{
    uint8_t *e = sector(lba_of_table) + 0x1be + 16 * i;
    e[4] = type;
    put_le32(e + 8, start);
    put_le32(e + 12, len);
    sector(lba_of_table)[510] = 0x55;
    sector(lba_of_table)[511] = 0xaa;
}

/* Write `disk` to a scratch file, open it as raw and parse it. */
static int parse(struct partition *parts)
{
    char path[] = "/tmp/test-partitions.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, disk, sizeof(disk)), (ssize_t)sizeof(disk));
    close(fd);
    struct node *n = node_open(path, "raw", NULL, 0, NULL);
    assert_non_null(n);
    int count = partitions_read(n, parts);
    node_close(n);
    unlink(path);
    return count;
}

static int setup(void **state)
{
    memset(disk, 0, sizeof(disk));
    return 0;
}

static void test_no_signature(void **state)
{
    struct partition p[PART_MAX];
    mbr_entry(0, 0, 0x83, 64, 64);
    sector(0)[511] = 0;
    assert_int_equal(parse(p), 0);
}

static void test_primaries_checked_against_disk(void **state)
{
    struct partition p[PART_MAX];
    mbr_entry(0, 0, 0x83, 64, 128);
    mbr_entry(0, 1, 0x83, 4000, 200);               /* runs past the end */
    mbr_entry(0, 2, 0x83, 0xffffffffu, 0xffffffffu); /* overflows */
    mbr_entry(0, 3, 0x0c, 1024, 1024);
    assert_int_equal(parse(p), 2);
    assert_int_equal(p[0].number, 1);
    assert_int_equal(p[0].start, 64 * 512);
    assert_int_equal(p[0].size, 128 * 512);
    assert_int_equal(p[1].number, 4);
    assert_int_equal(p[1].start, 1024 * 512);
}

static void test_bad_boot_flag_is_not_an_mbr(void **state)
{
    struct partition p[PART_MAX];
    mbr_entry(0, 0, 0x83, 64, 128);
    sector(0)[0x1be] = 0x12; /* e.g. a FAT boot sector's code */
    assert_int_equal(parse(p), 0);
}

static void test_logical_chain_and_loop(void **state)
{
    struct partition p[PART_MAX];
    mbr_entry(0, 0, 0x05, 1000, 2000);
    mbr_entry(1000, 0, 0x83, 10, 100);   /* p5 at 1010 */
    mbr_entry(1000, 1, 0x05, 500, 300);  /* next EBR at 1500 */
    mbr_entry(1500, 0, 0x83, 10, 100);   /* p6 at 1510 */
    mbr_entry(1500, 1, 0x05, 0, 300);    /* back to the first EBR: a loop */
    assert_int_equal(parse(p), 2);
    assert_int_equal(p[0].number, 5);
    assert_int_equal(p[0].start, 1010 * 512);
    assert_int_equal(p[1].number, 6);
    assert_int_equal(p[1].start, 1510 * 512);
}

static void test_logical_outside_extended(void **state)
{
    struct partition p[PART_MAX];
    mbr_entry(0, 0, 0x05, 1000, 200);
    mbr_entry(1000, 0, 0x83, 10, 500); /* longer than its extended partition */
    assert_int_equal(parse(p), 0);
}

/* A GPT with `count` entries of 128 bytes at LBA 2; entry i spans [first[i], last[i]]. */
static void gpt_build(uint64_t header_lba, uint64_t array_lba, uint32_t count, const uint64_t *first,
                      const uint64_t *last, int n)
{
    mbr_entry(0, 0, 0xee, 1, SECTORS - 1);
    uint8_t *a = sector(array_lba);
    for (int i = 0; i < n; i++) {
        memset(a + 128 * i, 0xab, 16); /* type GUID: anything non-zero */
        put_le64(a + 128 * i + 32, first[i]);
        put_le64(a + 128 * i + 40, last[i]);
    }
    uint8_t *h = sector(header_lba);
    memcpy(h, "EFI PART", 8);
    put_le32(h + 8, 0x10000);
    put_le32(h + 12, 92);
    put_le64(h + 24, header_lba);
    put_le64(h + 40, 34);
    put_le64(h + 48, SECTORS - 34);
    put_le64(h + 72, array_lba);
    put_le32(h + 80, count);
    put_le32(h + 84, 128);
    put_le32(h + 88, (uint32_t)crc32(0, a, count * 128));
    put_le32(h + 16, 0);
    put_le32(h + 16, (uint32_t)crc32(0, h, 92));
}

static void test_gpt(void **state)
{
    struct partition p[PART_MAX];
    uint64_t first[] = { 40, 2000, 100, 3000 }, last[] = { 99, 2999, 50, SECTORS };
    gpt_build(1, 2, 128, first, last, 4); /* entry 3: end before start; entry 4: past last LBA */
    assert_int_equal(parse(p), 2);
    assert_int_equal(p[0].number, 1);
    assert_int_equal(p[0].size, 60 * 512);
    assert_int_equal(p[1].number, 2);
    assert_int_equal(p[1].start, 2000 * 512);
}

static void test_gpt_bad_crc_uses_backup(void **state)
{
    struct partition p[PART_MAX];
    uint64_t first[] = { 40 }, last[] = { 99 };
    gpt_build(SECTORS - 1, SECTORS - 33, 128, first, last, 1);
    gpt_build(1, 2, 128, first, last, 1);
    sector(1)[60] ^= 1; /* primary header CRC no longer matches */
    assert_int_equal(parse(p), 1);
    sector(SECTORS - 1)[60] ^= 1; /* and the backup's */
    assert_int_equal(parse(p), 0);
}

static void test_gpt_hostile_sizes(void **state)
{
    struct partition p[PART_MAX];
    uint64_t first[] = { 40 }, last[] = { 99 };
    gpt_build(1, 2, 128, first, last, 1);
    uint8_t *h = sector(1);
    put_le32(h + 80, 0x7fffffff); /* entry array far larger than the disk */
    put_le32(h + 16, 0);
    put_le32(h + 16, (uint32_t)crc32(0, h, 92));
    assert_int_equal(parse(p), 0);
    put_le32(h + 80, 128);
    put_le32(h + 12, 4096); /* header size beyond a sector */
    put_le32(h + 16, 0);
    put_le32(h + 16, (uint32_t)crc32(0, h, 92));
    assert_int_equal(parse(p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_no_signature, setup),
        cmocka_unit_test_setup(test_primaries_checked_against_disk, setup),
        cmocka_unit_test_setup(test_bad_boot_flag_is_not_an_mbr, setup),
        cmocka_unit_test_setup(test_logical_chain_and_loop, setup),
        cmocka_unit_test_setup(test_logical_outside_extended, setup),
        cmocka_unit_test_setup(test_gpt, setup),
        cmocka_unit_test_setup(test_gpt_bad_crc_uses_backup, setup),
        cmocka_unit_test_setup(test_gpt_hostile_sizes, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
