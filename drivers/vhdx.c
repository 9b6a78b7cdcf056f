/* Microsoft VHDX (the VHDX v1.0 specification, qemu 7.2's block/vhdx.c behaviour): the 1 MiB
 * header section (file identifier, two CRC-32C checked headers, region tables), the metadata
 * region, the BAT of payload blocks with interleaved sector-bitmap entries. Read, create, info. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "bswap.h"
#include "file.h"
#include "node.h"

#define MiB (1ull << 20)
#define HEADER1_OFFSET (64 * 1024)
#define HEADER2_OFFSET (128 * 1024)
#define REGION1_OFFSET (192 * 1024)
#define REGION2_OFFSET (256 * 1024)
#define HEADER_SECTION_END MiB
#define HEADER_SIZE 4096
#define BLOCK64K (64 * 1024)
#define HEADER_LEN 80          /* the packed header; its checksum covers HEADER_SIZE */
#define MAX_SECTORS_PER_BLOCK (1ull << 23)
#define BLOCK_SIZE_MIN MiB
#define BLOCK_SIZE_MAX (256 * MiB)
#define MAX_IMAGE_SIZE (64ull << 40)
#define BAT_STATE_MASK 7ull
#define BAT_OFFSET_MASK 0xFFFFFFFFFFF00000ull
#define MAX_REQUEST 0x7ffffe00ull
#define MAX_LENGTH 0x7FFFFFFFC0000000ull

enum { BLOCK_NOT_PRESENT = 0, BLOCK_UNDEFINED = 1, BLOCK_ZERO = 2, BLOCK_UNMAPPED = 3,
       BLOCK_UNMAPPED_V095 = 5, BLOCK_FULLY_PRESENT = 6, BLOCK_PARTIALLY_PRESENT = 7 };
enum { META_USER = 1, META_VIRTUAL_DISK = 2, META_REQUIRED = 4 };
enum { PARAM_LEAVE_ALLOCATED = 1, PARAM_HAS_PARENT = 2 };
enum { M_FILE_PARAMS = 1, M_VIRTUAL_SIZE = 2, M_PAGE83 = 4, M_LOGICAL = 8, M_PHYSICAL = 16,
       M_PARENT = 32, M_ALL = 31 };

/* GUIDs in their on-disk (mixed-endian) byte order. */
static const uint8_t bat_guid[16] = { 0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42,
                                      0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08 };
static const uint8_t metadata_guid[16] = { 0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b,
                                           0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e };
static const uint8_t file_param_guid[16] = { 0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d,
                                             0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b };
static const uint8_t virtual_size_guid[16] = { 0x24, 0x42, 0xa5, 0x2f, 0x1b, 0xcd, 0x76, 0x48,
                                               0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8 };
static const uint8_t page83_guid[16] = { 0xab, 0x12, 0xca, 0xbe, 0xe6, 0xb2, 0x23, 0x45,
                                         0x93, 0xef, 0xc3, 0x09, 0xe0, 0x00, 0xc7, 0x46 };
static const uint8_t logical_guid[16] = { 0x1d, 0xbf, 0x41, 0x81, 0x6f, 0xa9, 0x09, 0x47,
                                          0xba, 0x47, 0xf2, 0x33, 0xa8, 0xfa, 0xab, 0x5f };
static const uint8_t physical_guid[16] = { 0xc7, 0x48, 0xa3, 0xcd, 0x5d, 0x44, 0x71, 0x44,
                                           0x9c, 0xc9, 0xe9, 0x88, 0x52, 0x51, 0xc5, 0x56 };
static const uint8_t parent_guid[16] = { 0x2d, 0x5f, 0xd3, 0xa8, 0x0b, 0xb3, 0x4d, 0x45,
                                         0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c };
static const uint8_t zero_guid[16];

struct region {
    uint64_t start, end;
};

struct vhdx_state {
    uint32_t block_size;
    uint32_t logical_sector_size;
    uint64_t chunk_ratio;        /* payload blocks per sector bitmap block */
    uint64_t bat_entries;
    uint64_t *bat;               /* bat_loaded entries; the rest lie past the file end: zero */
    uint64_t bat_loaded;
    struct region regions[2048 + 2];
    int nregions;
    /* for writing */
    uint8_t hdr[HEADER_LEN];     /* the current header */
    int cur;                     /* its slot (0: 64 KiB, 1: 128 KiB) */
    uint64_t bat_offset;
    uint8_t session_guid[16];    /* file write GUID of this session */
    bool data_guid_done;         /* the data write GUID was renewed by a first guest write */
    bool log_replayed;           /* open replayed the log (check counts it as a repair) */
};

static const struct opt_desc vhdx_create_opts[] = {
    { "size", OPT_SIZE, "Virtual disk size; max of 64TB.", NULL },
    { "log_size", OPT_SIZE, "Log size; min 1MB.", "1048576" },
    { "block_size", OPT_SIZE,
      "Block Size; min 1MB, max 256MB. 0 means auto-calculate based on image size.", "0" },
    { "subformat", OPT_STRING,
      "VHDX format type, can be either 'dynamic' or 'fixed'. Default is 'dynamic'.", NULL },
    { "block_state_zero", OPT_BOOL,
      "Force use of payload blocks of type 'ZERO'. Non-standard, but default.  Do not set to "
      "'off' when using 'qemu-img convert' with subformat=dynamic.", NULL },
    { NULL, 0, NULL, NULL },
};

static struct vhdx_state *st(struct node *n)
{
    return n->state;
}

/* CRC-32C (Castagnoli), bitwise: only headers, tables and log entries are summed. The state
 * starts at 0xffffffff; the checksum is its complement. */
static uint32_t crc32c_update(uint32_t crc, const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        crc ^= buf[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
    }
    return crc;
}

static uint32_t crc32c(const uint8_t *buf, size_t len)
{
    return ~crc32c_update(0xffffffffu, buf, len);
}

/* The checksum of buf with its 4-byte checksum field at csum_off taken as zero. */
static uint32_t vhdx_checksum(uint8_t *buf, size_t len, size_t csum_off)
{
    uint8_t saved[4];
    memcpy(saved, buf + csum_off, 4);
    memset(buf + csum_off, 0, 4);
    uint32_t crc = crc32c(buf, len);
    memcpy(buf + csum_off, saved, 4);
    return crc;
}

static bool checksum_ok(uint8_t *buf, size_t len, size_t csum_off)
{
    return vhdx_checksum(buf, len, csum_off) == get_le32(buf + csum_off);
}

/* qemu's vhdx_calc_bat_entries, in its 32-bit arithmetic: an image of size 0 gets a BAT of
 * 2^32 / chunk_ratio - 1 entries (the count of blocks minus one wraps). */
static uint64_t bat_entry_count(uint32_t blocks, uint64_t chunk_ratio)
{
    int bits = 0;
    while ((1ull << bits) < chunk_ratio)
        bits++;
    return (uint32_t)(blocks + ((uint32_t)(blocks - 1) >> bits));
}

static int vhdx_probe(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    return len >= 8 && !memcmp(buf, "vhdxfile", 8) ? 100 : 0;
}

/* qemu reports an overlap on stderr as it finds it (ends wrap as in its unsigned arithmetic) */
static bool region_overlaps(struct vhdx_state *s, uint64_t start, uint64_t len)
{
    uint64_t end = start + len;
    for (int i = s->nregions - 1; i >= 0; i--) { /* qemu keeps the newest first */
        if (!(start >= s->regions[i].end || end <= s->regions[i].start)) {
            error_report("VHDX region %" PRIu64 "-%" PRIu64 " overlaps with region %" PRIu64
                         "-%." PRIu64, start, end, s->regions[i].start, s->regions[i].end);
            return true;
        }
    }
    return false;
}

static void region_add(struct vhdx_state *s, uint64_t start, uint64_t len)
{
    if (s->nregions < (int)(sizeof(s->regions) / sizeof(s->regions[0]))) {
        s->regions[s->nregions].start = start;
        s->regions[s->nregions].end = start + len;
        s->nregions++;
    }
}

/* Pick the valid header with the higher sequence number; copy it to hdr. */
static int vhdx_parse_headers(struct node *n, uint8_t *hdr, int *slot, struct error **errp)
{
    uint8_t *buf[2] = { malloc(HEADER_SIZE), malloc(HEADER_SIZE) };
    bool valid[2] = { false, false };
    int ret = 0, cur = -1;
    if (!buf[0] || !buf[1]) {
        ret = -ENOMEM;
        goto out;
    }
    for (int i = 0; i < 2; i++) {
        ret = node_pread(n->file, i ? HEADER2_OFFSET : HEADER1_OFFSET, HEADER_SIZE, buf[i]);
        if (ret < 0)
            goto fail;
        valid[i] = checksum_ok(buf[i], HEADER_SIZE, 4) && !memcmp(buf[i], "head", 4) &&
                   get_le16(buf[i] + 66) == 1;
    }
    if (valid[0] && !valid[1]) {
        cur = 0;
    } else if (!valid[0] && valid[1]) {
        cur = 1;
    } else if (valid[0] && valid[1]) {
        uint64_t s0 = get_le64(buf[0] + 8), s1 = get_le64(buf[1] + 8);
        if (s0 != s1)
            cur = s0 > s1 ? 0 : 1;
        else if (!memcmp(buf[0], buf[1], HEADER_LEN))
            cur = 0;
    }
    if (cur < 0)
        goto fail;
    memcpy(hdr, buf[cur], HEADER_LEN);
    *slot = cur;
    goto out;
fail:
    if (ret < 0)
        error_setg_errno(errp, ret, "No valid VHDX header found");
    else
        error_setg(errp, "No valid VHDX header found");
    ret = -EINVAL;
out:
    free(buf[0]);
    free(buf[1]);
    return ret;
}

/* ---- the log (VHDX spec 2.3.3, qemu 7.2's block/vhdx-log.c): a circular buffer of entries,
 * each a header sector with descriptors, then data sectors. A valid active sequence is written
 * to the file ("replayed") when the image is opened read-write; a read-only open refuses it. ---- */

#define LOG_SECTOR 4096u
#define LOG_HDR_LEN 64
#define LOG_SIG 0x65676f6cu       /* "loge" */
#define LOG_DESC_SIG 0x63736564u  /* "desc" */
#define LOG_ZERO_SIG 0x6f72657au  /* "zero" */

struct vhdx_log {
    uint64_t offset;
    uint32_t length, read, write;
};

struct log_hdr {
    uint32_t signature, checksum, entry_length, desc_count;
    uint64_t seq, flushed_file_offset, last_file_offset;
    uint8_t guid[16];
};

struct log_seq {
    bool valid;
    uint32_t count;
    struct vhdx_log log;
    struct log_hdr hdr;
};

static int vhdx_update_headers(struct node *n, bool new_data_guid, const uint8_t *log_guid);

static uint32_t log_inc(uint32_t idx, uint32_t length)
{
    idx += LOG_SECTOR;
    return idx >= length ? 0 : idx;
}

static int log_peek_hdr(struct node *n, const struct vhdx_log *log, struct log_hdr *h)
{
    uint8_t b[LOG_HDR_LEN];
    uint32_t read = log->read;
    if ((uint64_t)read + LOG_HDR_LEN > log->length)
        read = 0;
    if (read == log->write)
        return -EINVAL;
    int ret = node_pread(n->file, log->offset + read, sizeof(b), b);
    if (ret < 0)
        return ret;
    h->signature = get_le32(b);
    h->checksum = get_le32(b + 4);
    h->entry_length = get_le32(b + 8);
    h->seq = get_le64(b + 16);
    h->desc_count = get_le32(b + 24);
    memcpy(h->guid, b + 32, 16);
    h->flushed_file_offset = get_le64(b + 48);
    h->last_file_offset = get_le64(b + 56);
    return 0;
}

/* One sector at the read index (none when the buffer is empty); advances the index. */
static int log_read_sector(struct node *n, struct vhdx_log *log, uint8_t *buf, bool *got)
{
    *got = false;
    if (log->read == log->write)
        return 0;
    int ret = node_pread(n->file, log->offset + log->read, LOG_SECTOR, buf);
    if (ret < 0)
        return ret;
    log->read = log_inc(log->read, log->length);
    *got = true;
    return 0;
}

static bool log_hdr_valid(struct vhdx_state *s, const struct vhdx_log *log,
                          const struct log_hdr *h)
{
    return h->signature == LOG_SIG && h->entry_length <= log->length && h->entry_length % LOG_SECTOR == 0 &&
           h->seq != 0 && !memcmp(h->guid, s->hdr + 48, 16) &&
           (uint64_t)h->desc_count * 32 <= h->entry_length;
}

static uint32_t log_desc_sectors(uint32_t count)
{
    return (count + 2) / 128 + ((count + 2) % 128 != 0);
}

static bool log_desc_valid(const uint8_t *d, const struct log_hdr *h)
{
    if (get_le64(d + 24) != h->seq || get_le64(d + 16) % LOG_SECTOR)
        return false;
    if (get_le32(d) == LOG_ZERO_SIG)
        return get_le64(d + 8) % LOG_SECTOR == 0;
    return get_le32(d) == LOG_DESC_SIG;
}

/* qemu's vhdx_log_read_desc: the header and descriptor sectors of the entry at the read index
 * (which advances past them), every descriptor checked. crc (optional) folds the sectors in,
 * checksum field zeroed; descs (optional) receives the descriptors, 32 bytes each. */
static int log_read_desc(struct node *n, struct vhdx_state *s, struct vhdx_log *log,
                         struct log_hdr *h, uint32_t *crc, uint8_t **descs)
{
    uint8_t *sec = malloc(LOG_SECTOR);
    int ret = sec ? log_peek_hdr(n, log, h) : -ENOMEM;
    if (ret < 0)
        goto out;
    if (!log_hdr_valid(s, log, h)) {
        ret = -EINVAL;
        goto out;
    }
    uint32_t nsec = log_desc_sectors(h->desc_count);
    if (descs) {
        *descs = malloc(h->desc_count ? (size_t)h->desc_count * 32 : 1);
        if (!*descs) {
            ret = -ENOMEM;
            goto out;
        }
    }
    uint64_t i = 0; /* descriptor index */
    for (uint32_t k = 0; k < nsec; k++) {
        bool got;
        ret = log_read_sector(n, log, sec, &got);
        if (ret < 0)
            goto out;
        if (!got) {
            ret = -EINVAL;
            goto out;
        }
        if (crc) {
            if (k == 0)
                memset(sec + 4, 0, 4);
            *crc = crc32c_update(*crc, sec, LOG_SECTOR);
        }
        for (uint32_t pos = k ? 0 : LOG_HDR_LEN; pos < LOG_SECTOR && i < h->desc_count;
             pos += 32, i++) {
            if (!log_desc_valid(sec + pos, h)) {
                ret = -EINVAL;
                goto out;
            }
            if (descs)
                memcpy(*descs + 32 * i, sec + pos, 32);
        }
    }
    ret = 0;
out:
    if (ret < 0 && descs && *descs) {
        free(*descs);
        *descs = NULL;
    }
    free(sec);
    return ret;
}

/* qemu's vhdx_validate_log_entry: whether a whole entry (following sequence number seq when
 * seq > 0) starts at the read index, with its checksum. Advances the read index. */
static int log_validate_entry(struct node *n, struct vhdx_state *s, struct vhdx_log *log,
                              uint64_t seq, bool *valid, struct log_hdr *out)
{
    struct log_hdr h;
    *valid = false;
    int ret = log_peek_hdr(n, log, &h);
    if (ret < 0 || !log_hdr_valid(s, log, &h) || (seq > 0 && h.seq != seq + 1)) {
        log->read = log_inc(log->read, log->length);
        return ret < 0 ? ret : 0;
    }
    uint32_t nsec = log_desc_sectors(h.desc_count), total = h.entry_length / LOG_SECTOR;
    uint32_t crc = 0xffffffffu;
    ret = log_read_desc(n, s, log, &h, &crc, NULL);
    if (ret < 0)
        return ret;
    uint8_t *sec = malloc(LOG_SECTOR);
    if (!sec)
        return -ENOMEM;
    for (uint32_t i = nsec; i < total; i++) {
        bool got;
        ret = log_read_sector(n, log, sec, &got);
        if (ret < 0 || !got)
            goto out;
        crc = crc32c_update(crc, sec, LOG_SECTOR);
    }
    if (~crc == h.checksum) {
        *valid = true;
        *out = h;
    }
out:
    free(sec);
    return ret;
}

/* qemu's vhdx_log_search: the valid sequence with the highest first sequence number. */
static int log_search(struct node *n, struct vhdx_state *s, const struct vhdx_log *log,
                      struct log_seq *best)
{
    struct vhdx_log cur = *log;
    cur.write = cur.length; /* assume the log is full */
    cur.read = 0;
    memset(best, 0, sizeof(*best));
    for (;;) {
        struct log_seq seq = { 0 };
        struct log_hdr h;
        bool valid;
        uint32_t tail = cur.read;
        int ret = log_validate_entry(n, s, &cur, 0, &valid, &h);
        if (ret < 0)
            return ret;
        if (valid) {
            seq.valid = true;
            seq.log = cur;
            seq.log.read = tail;
            seq.log.write = cur.read;
            seq.count = 1;
            seq.hdr = h;
            uint64_t want = 0; /* qemu checks the numbering from the third entry on */
            for (;;) {
                ret = log_validate_entry(n, s, &cur, want, &valid, &h);
                if (ret < 0)
                    return ret;
                if (!valid)
                    break;
                seq.log.write = cur.read;
                seq.count++;
                want = h.seq;
            }
        }
        if (seq.valid && (!best->valid || seq.hdr.seq > best->hdr.seq))
            *best = seq;
        if (cur.read < tail)
            break;
    }
    return 0;
}

/* Write one descriptor's sector (data) or zero sectors to the file, each made durable. */
static int log_flush_desc(struct node *n, const uint8_t *d, const uint8_t *data)
{
    uint64_t off = get_le64(d + 16), count = 1;
    uint8_t *buf = calloc(1, LOG_SECTOR);
    int ret = 0;
    if (!buf)
        return -ENOMEM;
    if (get_le32(d) == LOG_DESC_SIG) {
        uint64_t seq = (uint64_t)get_le32(data + 4) << 32 | get_le32(data + 4092);
        if (seq != get_le64(d + 24)) {
            ret = -EINVAL;
            goto out;
        }
        memcpy(buf, d + 8, 8);
        memcpy(buf + 8, data + 8, 4084);
        memcpy(buf + 4092, d + 4, 4);
    } else {
        count = get_le64(d + 8) / LOG_SECTOR;
    }
    if (off > MAX_LENGTH || count > (MAX_LENGTH - off) / LOG_SECTOR) {
        ret = -EINVAL;
        goto out;
    }
    for (uint64_t i = 0; i < count && ret == 0; i++) {
        ret = node_pwrite(n->file, off + i * LOG_SECTOR, LOG_SECTOR, buf);
        if (ret == 0)
            ret = node_flush(n->file);
    }
out:
    free(buf);
    return ret;
}

/* qemu's vhdx_log_flush: replay every entry of the sequence, then mark the log empty. */
static int log_replay(struct node *n, struct vhdx_state *s, struct log_seq *seq)
{
    static const uint8_t no_log[16];
    uint8_t *data = malloc(LOG_SECTOR), *descs = NULL;
    int ret = data ? 0 : -ENOMEM;
    if (ret == 0 && !s->data_guid_done) {
        s->data_guid_done = true;
        ret = vhdx_update_headers(n, true, NULL);
    }
    for (uint32_t cnt = seq->count; ret == 0 && cnt--;) {
        struct log_hdr h;
        ret = log_peek_hdr(n, &seq->log, &h);
        if (ret < 0)
            break;
        uint64_t file_length = (n->file->size + 511) / 512 * 512;
        if (h.flushed_file_offset > file_length) {
            ret = -EINVAL;
            break;
        }
        ret = log_read_desc(n, s, &seq->log, &h, NULL, &descs);
        for (uint32_t i = 0; ret == 0 && i < h.desc_count; i++) {
            const uint8_t *d = descs + 32 * (size_t)i;
            if (get_le32(d) == LOG_DESC_SIG) {
                bool got;
                ret = log_read_sector(n, &seq->log, data, &got);
                if (ret == 0 && !got)
                    ret = -EINVAL;
            }
            if (ret == 0)
                ret = log_flush_desc(n, d, data);
        }
        free(descs);
        descs = NULL;
        if (ret == 0 && file_length < h.last_file_offset && h.last_file_offset % MiB) {
            /* qemu grows the file only to a rounded-up, not an exact, last offset */
            if (h.last_file_offset > MAX_LENGTH - MiB)
                ret = -EINVAL;
            else
                ret = node_truncate(n->file, (h.last_file_offset + MiB - 1) / MiB * MiB, false,
                                    PREALLOC_OFF, NULL);
        }
    }
    if (ret == 0)
        ret = node_flush(n->file);
    if (ret == 0)
        (void)vhdx_update_headers(n, false, no_log); /* qemu ignores a failure here */
    free(data);
    return ret;
}

/* qemu's vhdx_parse_log: the log must be replayed before the image is used, so a read-only
 * open of an image with an active log fails. */
static int vhdx_parse_log(struct node *n, struct vhdx_state *s, struct error **errp)
{
    const uint8_t *hdr = s->hdr;
    struct vhdx_log log = { .offset = get_le64(hdr + 72), .length = get_le32(hdr + 68) };
    if (log.offset < MiB || log.offset % MiB || get_le16(hdr + 64) != 0)
        goto invalid;
    if (!memcmp(hdr + 48, zero_guid, 16) || log.length == 0)
        return 0;
    if (log.length % MiB)
        goto invalid;
    struct log_seq seq;
    int ret = log_search(n, s, &log, &seq);
    if (ret < 0)
        goto fail;
    if (!seq.valid)
        return 0;
    if (!(n->flags & NODE_RDWR)) {
        error_setg(errp, "VHDX image file '%s' opened read-only, but contains a log that needs "
                         "to be replayed\nTo replay the log, run:\nqemu-img check -r all '%s'",
                   node_name(n), node_name(n));
        return -EPERM;
    }
    ret = log_replay(n, s, &seq);
    if (ret < 0)
        goto fail;
    s->log_replayed = true;
    return 0;
invalid:
    ret = -EINVAL;
fail:
    error_setg_errno(errp, -ret, "Could not open '%s'", node_name(n));
    return ret;
}

struct vhdx_layout {
    uint64_t bat_offset, bat_length, meta_offset, meta_length;
};

static int vhdx_parse_regions(struct node *n, struct vhdx_state *s, struct vhdx_layout *l)
{
    uint8_t *buf = malloc(BLOCK64K);
    bool have_bat = false, have_meta = false;
    int ret = -EINVAL;
    if (!buf)
        return -ENOMEM;
    ret = node_pread(n->file, REGION1_OFFSET, BLOCK64K, buf);
    if (ret < 0)
        goto out;
    ret = -EINVAL;
    uint32_t count = get_le32(buf + 8);
    if (!checksum_ok(buf, BLOCK64K, 4) || memcmp(buf, "regi", 4) || count > 2047)
        goto out;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = buf + 16 + 32 * (size_t)i;
        uint64_t off = get_le64(e + 16);
        uint32_t len = get_le32(e + 24);
        if (region_overlaps(s, off, len))
            goto out;
        region_add(s, off, len);
        if (!memcmp(e, bat_guid, 16)) {
            if (have_bat)
                goto out;
            have_bat = true;
            l->bat_offset = off;
            l->bat_length = len;
        } else if (!memcmp(e, metadata_guid, 16)) {
            if (have_meta)
                goto out;
            have_meta = true;
            l->meta_offset = off;
            l->meta_length = len;
        } else if (get_le32(e + 28) & 1) {
            ret = -ENOTSUP;
            goto out;
        }
    }
    ret = have_bat && have_meta ? 0 : -EINVAL;
out:
    free(buf);
    return ret;
}

static int read_item(struct node *n, uint64_t base, uint32_t off, void *buf, uint64_t len)
{
    if (base > MAX_LENGTH - off - len)
        return -EIO;
    return node_pread(n->file, base + off, len, buf);
}

static bool is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

static int vhdx_parse_metadata(struct node *n, struct vhdx_state *s, const struct vhdx_layout *l,
                               uint64_t *disk_size)
{
    uint8_t *buf = malloc(BLOCK64K);
    uint32_t offs[5] = { 0 };
    unsigned present = 0;
    int ret;
    if (!buf)
        return -ENOMEM;
    ret = l->meta_offset > MAX_LENGTH - BLOCK64K ? -EIO
                                                 : node_pread(n->file, l->meta_offset, BLOCK64K, buf);
    if (ret < 0)
        goto out;
    ret = -EINVAL;
    uint16_t count = get_le16(buf + 10);
    if (memcmp(buf, "metadata", 8) || (uint64_t)count * 32 > BLOCK64K - 32)
        goto out;
    static const uint8_t *const guids[6] = { file_param_guid, virtual_size_guid, page83_guid,
                                             logical_guid, physical_guid, parent_guid };
    for (unsigned i = 0; i < count; i++) {
        const uint8_t *e = buf + 32 + 32 * (size_t)i;
        int k = 0;
        while (k < 6 && memcmp(e, guids[k], 16))
            k++;
        if (k == 6) {
            if (get_le32(e + 24) & META_REQUIRED) {
                ret = -ENOTSUP;
                goto out;
            }
            continue;
        }
        if (present & (1u << k))
            goto out;
        present |= 1u << k;
        if (k < 5)
            offs[k] = get_le32(e + 16);
    }
    if (present != M_ALL) {
        ret = -ENOTSUP;
        goto out;
    }
    uint8_t params[8], vsize[8], logical[4], physical[4];
    if ((ret = read_item(n, l->meta_offset, offs[0], params, 8)) < 0 ||
        (ret = read_item(n, l->meta_offset, offs[1], vsize, 8)) < 0 ||
        (ret = read_item(n, l->meta_offset, offs[3], logical, 4)) < 0 ||
        (ret = read_item(n, l->meta_offset, offs[4], physical, 4)) < 0)
        goto out;
    ret = -EINVAL;
    if (get_le32(params + 4) & PARAM_HAS_PARENT)
        goto out; /* a parent locator would have made present != M_ALL */
    s->block_size = get_le32(params);
    s->logical_sector_size = get_le32(logical);
    *disk_size = get_le64(vsize);
    if (s->block_size < BLOCK_SIZE_MIN || s->block_size > BLOCK_SIZE_MAX)
        goto out;
    if (s->logical_sector_size != 512) {
        ret = -ENOTSUP; /* as in qemu 7.2: 4 KiB logical sectors are not supported */
        goto out;
    }
    s->chunk_ratio = MAX_SECTORS_PER_BLOCK * s->logical_sector_size / s->block_size;
    if (!is_pow2(s->block_size) || !is_pow2(s->chunk_ratio))
        goto out;
    ret = 0;
out:
    free(buf);
    return ret;
}

/* qemu's vhdx_check_bat_entries: fully present blocks must lie inside the file (the last one
 * may be cut short) and outside the metadata regions. Every error is reported; errcnt NULL stops
 * at the first (open), else counts them (check). qemu tells payload from sector-bitmap entries by
 * counting present entries, not by their index; so does this. */
static int vhdx_check_bat(struct node *n, struct vhdx_state *s, int *errcnt)
{
    uint64_t fsize = (n->file->size + 511) / 512 * 512;
    uint64_t disk_bytes = n->size, payblocks = s->chunk_ratio;
    int ret = 0;
    for (uint64_t i = 0; i < s->bat_loaded; i++) {
        if ((s->bat[i] & BAT_STATE_MASK) != BLOCK_FULLY_PRESENT)
            continue;
        uint64_t off = s->bat[i] & BAT_OFFSET_MASK;
        uint64_t rem = disk_bytes - i * s->block_size; /* wraps past the end, as in qemu */
        uint32_t block_length = rem < s->block_size ? (uint32_t)rem : s->block_size;
        if (off > (uint64_t)INT64_MAX - s->block_size) {
            error_report("VHDX BAT entry %" PRIu64 " offset overflow.", i);
            ret = -EINVAL;
            if (!errcnt)
                break;
            (*errcnt)++;
        }
        if (off >= fsize) {
            error_report("VHDX BAT entry %" PRIu64 " start offset %" PRIu64 " points after end "
                         "of file (%" PRIu64 "). Image has probably been truncated.",
                         i, off, fsize);
            ret = -EINVAL;
            if (!errcnt)
                break;
            (*errcnt)++;
        } else if (off + block_length > fsize) {
            error_report("VHDX BAT entry %" PRIu64 " end offset %" PRIu64 " points after end "
                         "of file (%" PRIu64 "). Image has probably been truncated.",
                         i, off + block_length - 1, fsize);
            ret = -EINVAL;
            if (!errcnt)
                break;
            (*errcnt)++;
        }
        if (payblocks--) {
            if (region_overlaps(s, off, s->block_size)) {
                ret = -EINVAL;
                if (!errcnt)
                    break;
                (*errcnt)++;
            }
        } else {
            payblocks = s->chunk_ratio;
        }
    }
    return ret;
}

static int vhdx_load_bat(struct node *n, struct vhdx_state *s, const struct vhdx_layout *l)
{
    if (s->bat_entries > l->bat_length / 8)
        return -EINVAL;
    if (l->bat_length > MAX_REQUEST || l->bat_offset > UINT64_MAX - l->bat_length)
        return -EIO;
    uint64_t fsize = n->file->size;
    uint64_t avail = fsize > l->bat_offset ? (fsize - l->bat_offset) / 8 : 0;
    s->bat_loaded = s->bat_entries < avail ? s->bat_entries : avail;
    s->bat = calloc(s->bat_loaded ? s->bat_loaded : 1, 8);
    uint8_t *raw = malloc(s->bat_loaded ? s->bat_loaded * 8 : 1);
    int ret = s->bat && raw ? 0 : -ENOMEM;
    if (ret == 0)
        ret = node_pread(n->file, l->bat_offset, s->bat_loaded * 8, raw);
    for (uint64_t i = 0; ret == 0 && i < s->bat_loaded; i++)
        s->bat[i] = get_le64(raw + 8 * i);
    free(raw);
    return ret;
}

static void random_guid(uint8_t *g);
static void put_checksum(uint8_t *buf, size_t len, size_t csum_off);

/* Write the non-current header as the new current one, with a higher sequence number, this
 * session's file write GUID and optionally a new data write GUID (the spec's update procedure). */
static int vhdx_update_header(struct node *n, bool new_data_guid, const uint8_t *log_guid)
{
    struct vhdx_state *s = st(n);
    int slot = 1 - s->cur;
    uint64_t off = slot ? HEADER2_OFFSET : HEADER1_OFFSET;
    uint8_t *buf = malloc(HEADER_SIZE);
    if (!buf)
        return -ENOMEM;
    int ret = node_pread(n->file, off, HEADER_SIZE, buf);
    if (ret == 0) {
        memcpy(buf, s->hdr, HEADER_LEN);
        put_le64(buf + 8, get_le64(s->hdr + 8) + 1);
        memcpy(buf + 16, s->session_guid, 16);
        if (new_data_guid)
            random_guid(buf + 32);
        if (log_guid)
            memcpy(buf + 48, log_guid, 16);
        put_checksum(buf, HEADER_SIZE, 4);
        ret = node_pwrite(n->file, off, HEADER_LEN, buf);
    }
    if (ret == 0)
        ret = node_flush(n->file);
    if (ret == 0) {
        memcpy(s->hdr, buf, HEADER_LEN);
        s->cur = slot;
    }
    free(buf);
    return ret;
}

/* Both headers are updated so that each holds valid, current information. */
static int vhdx_update_headers(struct node *n, bool new_data_guid, const uint8_t *log_guid)
{
    int ret = vhdx_update_header(n, new_data_guid, log_guid);
    return ret < 0 ? ret : vhdx_update_header(n, new_data_guid, log_guid);
}

static int vhdx_open(struct node *n, struct opts *opts, struct error **errp)
{
    (void)opts;
    uint8_t sig[8], hdr[HEADER_LEN];
    struct vhdx_layout l = { 0 };
    uint64_t disk_size = 0;
    struct vhdx_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    n->state = s;
    int ret = node_pread(n->file, 0, 8, sig);
    if (ret == 0 && memcmp(sig, "vhdxfile", 8))
        ret = -EINVAL;
    if (ret < 0)
        goto fail;
    if ((ret = vhdx_parse_headers(n, hdr, &s->cur, errp)) < 0)
        return ret;
    memcpy(s->hdr, hdr, HEADER_LEN);
    region_add(s, get_le64(hdr + 72), get_le32(hdr + 68));
    random_guid(s->session_guid);
    if ((ret = vhdx_parse_log(n, s, errp)) < 0)
        return ret;
    if ((ret = vhdx_parse_regions(n, s, &l)) < 0 ||
        (ret = vhdx_parse_metadata(n, s, &l, &disk_size)) < 0)
        goto fail;
    uint64_t blocks = (disk_size + s->block_size - 1) / s->block_size;
    if (disk_size > UINT64_MAX - s->block_size || blocks > UINT32_MAX) {
        ret = -EINVAL;
        goto fail;
    }
    s->bat_entries = bat_entry_count((uint32_t)blocks, s->chunk_ratio);
    n->size = disk_size / 512 * 512;
    if ((ret = vhdx_load_bat(n, s, &l)) < 0)
        goto fail;
    if (!(n->flags & NODE_CHECK) && (ret = vhdx_check_bat(n, s, NULL)) < 0)
        goto fail;
    s->bat_offset = l.bat_offset;
    if (n->flags & NODE_RDWR) {
        ret = vhdx_update_headers(n, false, NULL);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not update the VHDX headers");
            return ret;
        }
    }
    return 0;
fail:
    error_setg_errno(errp, -ret, "Could not open '%s'", node_name(n));
    return ret;
}

static void vhdx_close(struct node *n)
{
    struct vhdx_state *s = st(n);
    if (!s)
        return;
    free(s->bat);
    free(s);
    n->state = NULL;
}

static int vhdx_pread(struct node *n, uint64_t off, uint64_t len, void *buf)
{
    struct vhdx_state *s = st(n);
    uint8_t *p = buf;
    while (len) {
        uint64_t block = off / s->block_size, in = off % s->block_size;
        uint64_t run = s->block_size - in < len ? s->block_size - in : len;
        uint64_t idx = block + block / s->chunk_ratio;
        uint64_t e = idx < s->bat_loaded ? s->bat[idx] : 0;
        int ret = 0;
        switch (e & BAT_STATE_MASK) {
        case BLOCK_NOT_PRESENT:
        case BLOCK_UNDEFINED:
        case BLOCK_ZERO:
        case BLOCK_UNMAPPED:
        case BLOCK_UNMAPPED_V095:
            memset(p, 0, run);
            break;
        case BLOCK_FULLY_PRESENT:
            ret = node_pread(n->file, (e & BAT_OFFSET_MASK) + in, run, p);
            break;
        default:
            ret = -EIO; /* partially present: differencing images are not supported */
        }
        if (ret < 0)
            return ret;
        off += run;
        p += run;
        len -= run;
    }
    return 0;
}

/* A payload block for BAT index idx at the next 1 MiB boundary of the file, zero-filled. */
static int vhdx_allocate(struct node *n, uint64_t idx, uint64_t *host)
{
    struct vhdx_state *s = st(n);
    uint64_t pos = (n->file->size + MiB - 1) / MiB * MiB;
    if (pos > MAX_LENGTH - s->block_size)
        return -EFBIG;
    int ret = node_truncate(n->file, pos + s->block_size, false, PREALLOC_OFF, NULL);
    if (ret < 0)
        return ret;
    if (idx >= s->bat_loaded) {
        uint64_t *nb = realloc(s->bat, (idx + 1) * 8);
        if (!nb)
            return -ENOMEM;
        memset(nb + s->bat_loaded, 0, (idx + 1 - s->bat_loaded) * 8);
        s->bat = nb;
        s->bat_loaded = idx + 1;
    }
    *host = pos;
    return 0;
}

/* Point BAT entry idx at a fully present block; written after the data is durable. */
static int vhdx_set_bat(struct node *n, uint64_t idx, uint64_t host)
{
    struct vhdx_state *s = st(n);
    uint8_t e[8];
    int ret = node_flush(n->file);
    put_le64(e, host | BLOCK_FULLY_PRESENT);
    if (ret == 0)
        ret = node_pwrite(n->file, s->bat_offset + idx * 8, 8, e);
    if (ret == 0)
        ret = node_flush(n->file);
    if (ret == 0)
        s->bat[idx] = host | BLOCK_FULLY_PRESENT;
    return ret;
}

static int vhdx_pwrite(struct node *n, uint64_t off, uint64_t len, const void *buf)
{
    struct vhdx_state *s = st(n);
    const uint8_t *p = buf;
    int ret = 0;
    if (!s->data_guid_done) {
        ret = vhdx_update_headers(n, true, NULL);
        if (ret < 0)
            return ret;
        s->data_guid_done = true;
    }
    while (len) {
        uint64_t block = off / s->block_size, in = off % s->block_size;
        uint64_t run = s->block_size - in < len ? s->block_size - in : len;
        uint64_t idx = block + block / s->chunk_ratio;
        uint64_t e = idx < s->bat_loaded ? s->bat[idx] : 0;
        switch (e & BAT_STATE_MASK) {
        case BLOCK_FULLY_PRESENT:
            ret = node_pwrite(n->file, (e & BAT_OFFSET_MASK) + in, run, p);
            break;
        case BLOCK_PARTIALLY_PRESENT:
        case 4:
            ret = -EIO;
            break;
        default: {
            uint64_t host = 0;
            ret = vhdx_allocate(n, idx, &host);
            if (ret == 0)
                ret = node_pwrite(n->file, host + in, run, p);
            if (ret == 0)
                ret = vhdx_set_bat(n, idx, host);
        }
        }
        if (ret < 0)
            return ret;
        off += run;
        p += run;
        len -= run;
    }
    return 0;
}

/* qemu's vhdx check: a log replayed by this (read-write) open counts as a repaired corruption;
 * then the BAT is checked as open does, every error counted. Nothing else is repaired. */
static int vhdx_check(struct node *n, struct check_result *res, int fix)
{
    (void)fix;
    struct vhdx_state *s = st(n);
    if (s->log_replayed)
        res->corruptions_fixed++;
    vhdx_check_bat(n, s, &res->corruptions);
    return 0;
}

/* qemu's vhdx_has_zero_init: a fixed image (its first block present) reads as its file does,
 * a dynamic one as zeros. */
static bool vhdx_has_zero_init(struct node *n)
{
    struct vhdx_state *s = st(n);
    if (!s->bat_entries)
        return true;
    uint64_t e = s->bat_loaded ? s->bat[0] : 0;
    if ((e & BAT_STATE_MASK) == BLOCK_FULLY_PRESENT)
        return node_has_zero_init(n->file);
    return true;
}

static int vhdx_get_info(struct node *n, struct node_info *info, struct error **errp)
{
    (void)errp;
    info->cluster_size = st(n)->block_size;
    return 0;
}

static int64_t vhdx_allocated_size(struct node *n)
{
    return node_allocated_size(n->file);
}

/* ---- create ---- */

static void random_guid(uint8_t *g)
{
    if (getrandom(g, 16, 0) != 16)
        for (int i = 0; i < 16; i++)
            g[i] = (uint8_t)rand();
    g[7] = (g[7] & 0x0f) | 0x40; /* version 4, stored little-endian in the third field */
    g[8] = (g[8] & 0x3f) | 0x80;
}

static void put_checksum(uint8_t *buf, size_t len, size_t csum_off)
{
    put_le32(buf + csum_off, vhdx_checksum(buf, len, csum_off));
}

struct vhdx_params {
    uint64_t size, log_size, block_size;
    bool fixed, zero_blocks;
};

static int vhdx_create_params(struct opts *opts, struct vhdx_params *p, struct error **errp)
{
    const char *sub = opts_get(opts, "subformat");
    p->log_size = MiB;
    p->block_size = 0;
    p->zero_blocks = true;
    if (opts_get_size(opts, "size", &p->size, errp) < 0 ||
        opts_get_size(opts, "log_size", &p->log_size, errp) < 0 ||
        opts_get_size(opts, "block_size", &p->block_size, errp) < 0 ||
        opts_get_bool(opts, "block_state_zero", &p->zero_blocks, errp) < 0)
        return -EINVAL;
    if (sub && strcmp(sub, "dynamic") && strcmp(sub, "fixed")) {
        error_setg(errp, "Parameter 'subformat' does not accept value '%s'", sub);
        return -EINVAL;
    }
    p->fixed = sub && !strcmp(sub, "fixed");
    p->size = p->size > UINT64_MAX - 511 ? p->size : (p->size + 511) / 512 * 512;
    if (p->size > MAX_IMAGE_SIZE) {
        error_setg(errp, "Image size too large; max of 64TB");
        return -EINVAL;
    }
    if (p->log_size > UINT32_MAX) {
        error_setg(errp, "Log size must be smaller than 4 GB");
        return -EINVAL;
    }
    p->log_size = (p->log_size + MiB - 1) / MiB * MiB;
    if (p->log_size < MiB) {
        error_setg(errp, "Log size must be a multiple of 1 MB");
        return -EINVAL;
    }
    if (p->block_size == 0)
        p->block_size = p->size > (32ull << 40) ? 64 * MiB : p->size > (100ull << 30) ? 32 * MiB
                      : p->size > (1ull << 30) ? 16 * MiB : 8 * MiB;
    p->block_size = p->block_size > UINT64_MAX - MiB ? BLOCK_SIZE_MAX
                  : (p->block_size + MiB - 1) / MiB * MiB;
    if (p->block_size > BLOCK_SIZE_MAX)
        p->block_size = BLOCK_SIZE_MAX;
    if (!is_pow2(p->block_size)) {
        error_setg(errp, "Block size must be a power of two");
        return -EINVAL;
    }
    return 0;
}

static int write_headers(struct node *f, uint64_t log_size)
{
    uint8_t *h = calloc(1, HEADER_SIZE);
    if (!h)
        return -ENOMEM;
    uint32_t seq;
    if (getrandom(&seq, sizeof(seq), 0) != sizeof(seq))
        seq = (uint32_t)rand();
    memcpy(h, "head", 4);
    put_le64(h + 8, seq);
    random_guid(h + 16);
    random_guid(h + 32);
    put_le16(h + 66, 1);
    put_le32(h + 68, (uint32_t)log_size);
    put_le64(h + 72, HEADER_SECTION_END);
    put_checksum(h, HEADER_SIZE, 4);
    int ret = node_pwrite(f, HEADER1_OFFSET, HEADER_LEN, h);
    put_le64(h + 8, (uint64_t)seq + 1);
    put_checksum(h, HEADER_SIZE, 4);
    if (ret == 0)
        ret = node_pwrite(f, HEADER2_OFFSET, HEADER_LEN, h);
    free(h);
    return ret;
}

/* BAT and region tables; returns the metadata offset in *meta_offset. */
static int write_bat_and_regions(struct node *f, const struct vhdx_params *p, uint64_t *meta_offset)
{
    uint64_t chunk = MAX_SECTORS_PER_BLOCK * 512 / p->block_size;
    uint64_t blocks = (p->size + p->block_size - 1) / p->block_size;
    uint64_t entries = bat_entry_count((uint32_t)blocks, chunk);
    uint64_t bat_len = (entries * 8 + MiB - 1) / MiB * MiB;
    uint64_t bat_off = (HEADER_SECTION_END + p->log_size + MiB - 1) / MiB * MiB;
    uint64_t data_off = bat_off + bat_len + 5 * MiB;
    *meta_offset = (bat_off + bat_len + MiB - 1) / MiB * MiB;
    int ret = node_truncate(f, p->fixed ? data_off + p->size : data_off, false, PREALLOC_OFF, NULL);
    if (ret < 0)
        return ret;
    if (p->fixed || p->zero_blocks) {
        uint8_t *bat = calloc(1, bat_len ? bat_len : 1);
        if (!bat)
            return -ENOMEM;
        for (uint64_t b = 0; b < blocks; b++) {
            uint64_t idx = b + b / chunk;
            uint64_t e = p->zero_blocks ? BLOCK_ZERO
                       : ((data_off + b * p->block_size + MiB - 1) / MiB * MiB) | BLOCK_FULLY_PRESENT;
            put_le64(bat + 8 * idx, e);
        }
        ret = node_pwrite(f, bat_off, bat_len, bat);
        free(bat);
        if (ret < 0)
            return ret;
    }
    uint8_t *rt = calloc(1, BLOCK64K);
    if (!rt)
        return -ENOMEM;
    memcpy(rt, "regi", 4);
    put_le32(rt + 8, 2);
    memcpy(rt + 16, bat_guid, 16);
    put_le64(rt + 32, bat_off);
    put_le32(rt + 40, (uint32_t)bat_len);
    memcpy(rt + 48, metadata_guid, 16);
    put_le64(rt + 64, *meta_offset);
    put_le32(rt + 72, (uint32_t)MiB);
    put_checksum(rt, BLOCK64K, 4);
    ret = node_pwrite(f, REGION1_OFFSET, BLOCK64K, rt);
    if (ret == 0)
        ret = node_pwrite(f, REGION2_OFFSET, BLOCK64K, rt);
    free(rt);
    return ret;
}

static int write_metadata(struct node *f, const struct vhdx_params *p, uint64_t meta_offset)
{
    static const struct { const uint8_t *guid; uint32_t len, flags; } items[5] = {
        { file_param_guid, 8, META_REQUIRED },
        { virtual_size_guid, 8, META_REQUIRED | META_VIRTUAL_DISK },
        { page83_guid, 16, META_REQUIRED | META_VIRTUAL_DISK },
        { logical_guid, 4, META_REQUIRED | META_VIRTUAL_DISK },
        { physical_guid, 4, META_REQUIRED | META_VIRTUAL_DISK },
    };
    uint8_t *t = calloc(1, BLOCK64K);
    uint8_t data[40] = { 0 };
    if (!t)
        return -ENOMEM;
    memcpy(t, "metadata", 8);
    put_le16(t + 10, 5);
    uint32_t off = BLOCK64K;
    for (int i = 0; i < 5; i++) {
        uint8_t *e = t + 32 + 32 * i;
        memcpy(e, items[i].guid, 16);
        put_le32(e + 16, off);
        put_le32(e + 20, items[i].len);
        put_le32(e + 24, items[i].flags);
        off += items[i].len;
    }
    put_le32(data, (uint32_t)p->block_size);
    put_le32(data + 4, p->fixed ? PARAM_LEAVE_ALLOCATED : 0);
    put_le64(data + 8, p->size);
    random_guid(data + 16);
    put_le32(data + 32, 512);
    put_le32(data + 36, 512);
    int ret = node_pwrite(f, meta_offset, BLOCK64K, t);
    if (ret == 0)
        ret = node_pwrite(f, meta_offset + BLOCK64K, sizeof(data), data);
    free(t);
    return ret;
}

/* The creator string of the file identifier, UTF-16LE. */
static int write_file_id(struct node *f)
{
    static const char creator[] = "flatimg v" FLATIMG_VERSION_STRING;
    uint8_t buf[8 + 2 * sizeof(creator)];
    size_t n = strlen(creator);
    memcpy(buf, "vhdxfile", 8);
    for (size_t i = 0; i < n; i++)
        put_le16(buf + 8 + 2 * i, (uint8_t)creator[i]);
    return node_pwrite(f, 0, 8 + 2 * n, buf);
}

static int vhdx_create(const char *filename, struct opts *opts, struct error **errp)
{
    struct vhdx_params p = { 0 };
    enum prealloc prealloc = PREALLOC_OFF;
    const char *pa = opts_get(opts, "preallocation");
    if (pa && prealloc_parse(pa, &prealloc) < 0) {
        error_setg(errp, "invalid parameter value: %s", pa);
        return -EINVAL;
    }
    int ret = file_create(filename, 0, prealloc == PREALLOC_METADATA ? PREALLOC_OFF : prealloc,
                          errp);
    if (ret < 0)
        return ret;
    if (prealloc == PREALLOC_METADATA) {
        error_setg(errp, "Unsupported preallocation mode: metadata");
        return -ENOTSUP;
    }
    if ((ret = vhdx_create_params(opts, &p, errp)) < 0)
        return ret;
    struct node *f = node_open(filename, "file", NULL, NODE_RDWR, errp);
    if (!f)
        return -EIO;
    uint64_t meta_offset = 0;
    ret = write_file_id(f);
    if (ret == 0)
        ret = write_headers(f, p.log_size);
    if (ret == 0)
        ret = write_bat_and_regions(f, &p, &meta_offset);
    if (ret == 0)
        ret = write_metadata(f, &p, meta_offset);
    if (ret == 0)
        ret = node_flush(f);
    if (ret < 0)
        error_setg_errno(errp, ret, "Could not write image");
    node_close(f);
    return ret;
}

const struct driver driver_vhdx = {
    .name = "vhdx",
    .create_opts = vhdx_create_opts,
    .probe = vhdx_probe,
    .open = vhdx_open,
    .close = vhdx_close,
    .pread = vhdx_pread,
    .pwrite = vhdx_pwrite,
    .allocated_size = vhdx_allocated_size,
    .get_info = vhdx_get_info,
    .create = vhdx_create,
    .check = vhdx_check,
    .has_zero_init = vhdx_has_zero_init,
};
