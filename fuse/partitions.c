/* MBR (primary entries at 0x1be, extended chains of EBRs) and GPT (UEFI spec chapter 5: header at
 * LBA 1, entry array, CRC32 of both) parsing for flatimgfs's partitions/ directory. 512-byte sectors. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bswap.h"
#include "partitions.h"

#define SECTOR 512u
#define MBR_MAX_LOGICAL 64 /* bound the EBR chain (loops are hostile input) */
#define GPT_MAX_ENTRY_BYTES (1u << 20)

struct ptab {
    struct node *n;
    uint64_t sectors;
    struct partition *parts;
    int count;
};

/* Add [lba, lba + len) when it is non-empty and lies inside the disk. */
static void ptab_add(struct ptab *t, unsigned number, uint64_t lba, uint64_t len)
{
    uint64_t end;
    if (len == 0 || lba == 0 || t->count >= PART_MAX)
        return;
    if (__builtin_add_overflow(lba, len, &end) || end > t->sectors)
        return;
    t->parts[t->count].number = number;
    t->parts[t->count].start = lba * SECTOR;
    t->parts[t->count].size = len * SECTOR;
    t->count++;
}

static int read_sector(struct ptab *t, uint64_t lba, uint8_t *buf)
{
    if (lba >= t->sectors)
        return -EINVAL;
    return node_pread(t->n, lba * SECTOR, SECTOR, buf);
}

static bool mbr_signature_ok(const uint8_t *s)
{
    return s[510] == 0x55 && s[511] == 0xaa;
}

static bool mbr_is_extended(uint8_t type)
{
    return type == 0x05 || type == 0x0f || type == 0x85;
}

/* Walk the EBR chain of an extended partition starting at ext_lba (len ext_len sectors). */
static int mbr_read_logical(struct ptab *t, uint64_t ext_lba, uint64_t ext_len)
{
    uint8_t s[SECTOR];
    uint64_t ebr = ext_lba;
    unsigned number = 5;
    for (int i = 0; i < MBR_MAX_LOGICAL; i++) {
        int ret = read_sector(t, ebr, s);
        if (ret < 0)
            return ret == -EINVAL ? 0 : ret;
        if (!mbr_signature_ok(s))
            return 0;
        const uint8_t *e0 = s + 0x1be, *e1 = s + 0x1ce;
        uint64_t rel = get_le32(e0 + 8), len = get_le32(e0 + 12), lba;
        /* rel counts from this EBR; the partition must stay inside the extended one */
        if (e0[4] && !__builtin_add_overflow(ebr, rel, &lba) &&
            (ebr - ext_lba) + rel + len <= ext_len)
            ptab_add(t, number++, lba, len);
        uint64_t next = get_le32(e1 + 8);
        if (!mbr_is_extended(e1[4]) || next == 0 || next >= ext_len)
            return 0;
        uint64_t nebr = ext_lba + next; /* next is relative to the extended partition */
        if (nebr <= ebr)
            return 0; /* chains only go forward: refuse loops */
        ebr = nebr;
    }
    return 0;
}

/* One GPT header (primary at LBA 1, backup at the last LBA) and its entry array; t->count stays 0
 * when anything does not check out. */
static int gpt_read(struct ptab *t, uint64_t header_lba)
{
    uint8_t h[SECTOR];
    uint8_t *entries = NULL;
    int ret = read_sector(t, header_lba, h);
    if (ret < 0)
        return ret == -EINVAL ? 0 : ret;
    if (memcmp(h, "EFI PART", 8) != 0)
        return 0;
    uint32_t hsize = get_le32(h + 12);
    if (hsize < 92 || hsize > SECTOR)
        return 0;
    uint32_t hcrc = get_le32(h + 16);
    put_le32(h + 16, 0);
    if ((uint32_t)crc32(0, h, hsize) != hcrc)
        return 0;
    if (get_le64(h + 24) != header_lba)
        return 0;
    uint64_t first = get_le64(h + 40), last = get_le64(h + 48);
    uint64_t array_lba = get_le64(h + 72);
    uint32_t count = get_le32(h + 80), esize = get_le32(h + 84), ecrc = get_le32(h + 88);
    uint64_t bytes;
    if (esize < 128 || esize % 8 || count == 0 || first < 2 || last < first ||
        last >= t->sectors ||
        __builtin_mul_overflow((uint64_t)count, (uint64_t)esize, &bytes) ||
        bytes > GPT_MAX_ENTRY_BYTES || array_lba < 2 || array_lba >= t->sectors ||
        (bytes + SECTOR - 1) / SECTOR > t->sectors - array_lba)
        return 0;
    entries = malloc(bytes);
    if (!entries)
        return -ENOMEM;
    ret = node_pread(t->n, array_lba * SECTOR, bytes, entries);
    if (ret < 0)
        goto out;
    if ((uint32_t)crc32(0, entries, (uInt)bytes) != ecrc)
        goto out;
    static const uint8_t unused[16];
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = entries + (uint64_t)i * esize;
        if (!memcmp(e, unused, 16))
            continue;
        uint64_t s = get_le64(e + 32), end = get_le64(e + 40);
        if (s < first || end > last || end < s)
            continue;
        ptab_add(t, i + 1, s, end - s + 1);
    }
out:
    free(entries);
    return ret;
}

static void sort_by_number(struct partition *p, int count)
{
    for (int i = 1; i < count; i++) {
        struct partition cur = p[i];
        int j = i;
        for (; j > 0 && p[j - 1].number > cur.number; j--)
            p[j] = p[j - 1];
        p[j] = cur;
    }
}

int partitions_read(struct node *n, struct partition *parts)
{
    uint8_t s[SECTOR];
    struct ptab t = { .n = n, .sectors = n->size / SECTOR, .parts = parts };
    int ret = read_sector(&t, 0, s);
    if (ret < 0)
        return ret == -EINVAL ? 0 : ret;
    if (!mbr_signature_ok(s))
        return 0;
    for (int i = 0; i < 4; i++) {
        if (s[0x1be + 16 * i + 4] == 0xee) {
            /* as Linux does, fall back to the backup header when the primary is bad */
            ret = gpt_read(&t, 1);
            if (ret == 0 && t.count == 0 && t.sectors > 2)
                ret = gpt_read(&t, t.sectors - 1);
            return ret < 0 ? ret : t.count;
        }
    }
    for (int i = 0; i < 4; i++) {
        const uint8_t *e = s + 0x1be + 16 * i;
        if (e[0] != 0 && e[0] != 0x80)
            return 0; /* boot flag must be 0 or 0x80: not an MBR (e.g. a FAT boot sector) */
    }
    for (int i = 0; i < 4; i++) {
        const uint8_t *e = s + 0x1be + 16 * i;
        uint64_t lba = get_le32(e + 8), len = get_le32(e + 12);
        if (!e[4])
            continue;
        if (mbr_is_extended(e[4])) {
            uint64_t end;
            if (lba == 0 || __builtin_add_overflow(lba, len, &end) || end > t.sectors)
                continue;
            ret = mbr_read_logical(&t, lba, len);
            if (ret < 0)
                return ret;
            continue;
        }
        ptab_add(&t, (unsigned)i + 1, lba, len);
    }
    sort_by_number(parts, t.count);
    return t.count;
}
