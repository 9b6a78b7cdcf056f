/* Apple UDIF disk images, .dmg (read-only, qemu 7.2's block/dmg.c behaviour): a "koly" trailer in
 * the last 515 bytes, then "mish" blocks, each a table of chunks (raw, zlib, zero, ignored), from
 * the binary resource fork when there is one, else from the base64 <data> elements of the XML
 * property list. bzip2 and lzfse chunks are unknown, as in Debian's qemu-img, which is built
 * without its dmg-bz2/dmg-lzfse modules: a warning on open, EIO when read. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bswap.h"
#include "node.h"

#define UDZE 0x00000000u
#define UDRW 0x00000001u
#define UDIG 0x00000002u
#define UDCO 0x80000004u /* ADC: qemu has no decoder */
#define UDZO 0x80000005u /* zlib */
#define UDBZ 0x80000006u
#define ULFO 0x80000007u
#define UDCM 0x7ffffffeu /* comment */
#define UDLE 0xffffffffu /* last entry */
#define PLIST_MAX (16u * 1024 * 1024)
#define DMG_LENGTHS_MAX (64u * 1024 * 1024)
#define DMG_SECTORCOUNTS_MAX (DMG_LENGTHS_MAX / 512)
#define MAX_LENGTH 0x7FFFFFFFC0000000ull
#define MAX_REQUEST 0x7ffffe00ull

struct dmg_chunk {
    uint32_t type;
    uint64_t sector, count;   /* first sector and sector count */
    uint64_t offset, length;  /* bytes in the file */
};

struct dmg_state {
    struct dmg_chunk *chunks;
    uint32_t n_chunks;
    uint64_t data_fork_offset;
    uint64_t max_compressed, max_sectors;
    uint8_t *compressed, *uncompressed;
    uint32_t current;          /* chunk held in uncompressed (n_chunks: none) */
    bool warned_bz2, warned_lzfse, warned_unknown;
};

static int dmg_probe(const uint8_t *buf, size_t len, const char *filename)
{
    (void)buf;
    size_t n = filename ? strlen(filename) : 0;
    if (len == 0)
        return 0; /* qemu takes an empty file for raw before asking any driver */
    return n > 4 && !strcmp(filename + n - 4, ".dmg") ? 2 : 0;
}

static int64_t dmg_find_koly(struct node *n, struct error **errp)
{
    uint64_t length = n->file->size, offset = 0;
    uint8_t buf[515];
    if (length < 512) {
        error_setg(errp, "dmg file must be at least 512 bytes long");
        return -EINVAL;
    }
    if (length > 511 + 512)
        offset = length - 511 - 512;
    length = length < sizeof(buf) ? length : sizeof(buf);
    int ret = node_pread(n->file, offset, length, buf);
    if (ret < 0) {
        error_setg_errno(errp, ret, "Failed while reading UDIF trailer");
        return ret;
    }
    for (uint64_t i = 0; i + 3 < length; i++)
        if (!memcmp(buf + i, "koly", 4))
            return (int64_t)(offset + i);
    error_setg(errp, "Could not locate UDIF trailer in dmg file");
    return -EINVAL;
}

static int read_be64(struct node *n, uint64_t off, uint64_t *v)
{
    uint8_t b[8];
    int ret = node_pread(n->file, off, 8, b);
    if (ret == 0)
        *v = get_be64(b);
    return ret;
}

static int b64_value(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Lenient base64 (as glib's): characters outside the alphabet are skipped, '=' ends the data. */
static size_t b64_decode(const char *in, uint8_t *out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (; *in && *in != '='; in++) {
        int v = b64_value((unsigned char)*in);
        if (v < 0)
            continue;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return n;
}

static bool known_type(uint32_t t)
{
    return t == UDZE || t == UDRW || t == UDIG || t == UDZO;
}

static int dmg_add_chunk(struct dmg_state *s, const uint8_t *e, uint64_t out_offset,
                         uint64_t in_offset)
{
    struct dmg_chunk *c = &s->chunks[s->n_chunks];
    c->type = get_be32(e);
    c->sector = get_be64(e + 8) + out_offset;
    c->count = get_be64(e + 16);
    if (c->type != UDZE && c->type != UDIG && c->count > DMG_SECTORCOUNTS_MAX) {
        error_report("sector count %" PRIu64 " for chunk %" PRIu32 " is larger than max (%u)",
                     c->count, s->n_chunks, DMG_SECTORCOUNTS_MAX);
        return -EINVAL;
    }
    c->offset = get_be64(e + 24) + in_offset;
    c->length = get_be64(e + 32);
    if (c->length > DMG_LENGTHS_MAX) {
        error_report("length %" PRIu64 " for chunk %" PRIu32 " is larger than max (%u)",
                     c->length, s->n_chunks, DMG_LENGTHS_MAX);
        return -EINVAL;
    }
    if (c->type == UDZO) {
        if (c->length > s->max_compressed)
            s->max_compressed = c->length;
        if (c->count > s->max_sectors)
            s->max_sectors = c->count;
    } else if (c->type == UDRW && (c->length + 511) / 512 > s->max_sectors) {
        s->max_sectors = (c->length + 511) / 512;
    }
    s->n_chunks++;
    return 0;
}

/* qemu without its optional decompression modules warns once and skips such chunks; other
 * unknown chunks likewise, comments and the end marker silently. */
static void dmg_warn_unsupported(struct dmg_state *s, uint32_t type)
{
    if (type == UDCM || type == UDLE)
        return;
    if (type != UDBZ && type != ULFO) {
        if (!s->warned_unknown)
            warn_report("Image contains chunks of unknown type %" PRIx32 ", accessing them will "
                        "result in I/O errors", type);
        s->warned_unknown = true;
    } else if (type == UDBZ && !s->warned_bz2) {
        s->warned_bz2 = true;
        warn_report("dmg-bzip2 module is missing, accessing bzip2 compressed blocks will result "
                    "in I/O errors");
    } else if (type == ULFO && !s->warned_lzfse) {
        s->warned_lzfse = true;
        warn_report("dmg-lzfse module is missing, accessing lzfse compressed blocks will result "
                    "in I/O errors");
    }
}

static int dmg_read_mish(struct dmg_state *s, const uint8_t *b, size_t count)
{
    if (count < 244 || get_be32(b) != 0x6d697368)
        return 0; /* not a mish block: skipped */
    uint64_t out_offset = get_be64(b + 8);
    uint64_t in_offset = s->data_fork_offset + get_be64(b + 24);
    size_t entries = (count - 204) / 40;
    struct dmg_chunk *nc = realloc(s->chunks, (s->n_chunks + entries + 1) * sizeof(*nc));
    if (!nc)
        return -ENOMEM;
    s->chunks = nc;
    for (size_t i = 0; i < entries; i++) {
        const uint8_t *e = b + 204 + 40 * i;
        if (!known_type(get_be32(e))) {
            dmg_warn_unsupported(s, get_be32(e));
            continue;
        }
        int ret = dmg_add_chunk(s, e, out_offset, in_offset);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static int read_be32(struct node *n, uint64_t off, uint32_t *v)
{
    uint8_t b[4];
    int ret = node_pread(n->file, off, 4, b);
    if (ret == 0)
        *v = get_be32(b);
    return ret;
}

/* The binary resource fork: its header gives where the resource data starts and how long it
 * is; each resource there is a 32-bit length and that many bytes, read as a mish block (qemu's
 * checks; the resource map after the data is ignored). */
static int dmg_read_rsrc(struct node *n, struct dmg_state *s, uint64_t begin, uint64_t len)
{
    uint32_t data_off = 0, count = 0;
    int ret = read_be32(n, begin, &data_off);
    if (ret < 0)
        return ret;
    if (data_off > len)
        return -EINVAL;
    if ((ret = read_be32(n, begin + 8, &count)) < 0)
        return ret;
    if (count == 0 || (uint32_t)(data_off + count) > len) /* 32-bit sum, as in qemu */
        return -EINVAL;
    uint64_t off = begin + data_off, end = off + count;
    uint8_t *buf = NULL;
    while (off < end) {
        if ((ret = read_be32(n, off, &count)) < 0)
            break;
        if (count == 0 || count > end - off) {
            ret = -EINVAL;
            break;
        }
        off += 4;
        uint8_t *nb = realloc(buf, count);
        if (!nb) {
            ret = -ENOMEM;
            break;
        }
        buf = nb;
        if ((ret = node_pread(n->file, off, count, buf)) < 0 ||
            (ret = dmg_read_mish(s, buf, count)) < 0)
            break;
        off += count;
    }
    free(buf);
    return ret;
}

static int dmg_read_plist(struct node *n, struct dmg_state *s, uint64_t off, uint64_t len)
{
    if (len == 0 || len > PLIST_MAX)
        return -EINVAL;
    char *xml = malloc(len + 1);
    uint8_t *mish = malloc(len + 1);
    int ret = xml && mish ? 0 : -ENOMEM;
    if (ret == 0 && node_pread(n->file, off, len, xml) < 0)
        ret = -EINVAL;
    if (ret < 0)
        goto out;
    xml[len] = '\0';
    for (char *p = xml; (p = strstr(p, "<data>")) != NULL;) {
        p += 6;
        char *end = strstr(p, "</data>");
        if (!end) {
            ret = -EINVAL;
            goto out;
        }
        *end = '\0';
        ret = dmg_read_mish(s, mish, b64_decode(p, mish));
        if (ret < 0)
            goto out;
        p = end + 1;
    }
out:
    free(xml);
    free(mish);
    return ret;
}

static int dmg_read_trailer(struct node *n, struct dmg_state *s, uint64_t koly,
                            struct error **errp)
{
    uint64_t rsrc_off, rsrc_len, xml_off, xml_len, sectors;
    int ret;
    if ((ret = read_be64(n, koly + 0x18, &s->data_fork_offset)) < 0 ||
        (ret = read_be64(n, koly + 0x28, &rsrc_off)) < 0 ||
        (ret = read_be64(n, koly + 0x30, &rsrc_len)) < 0 ||
        (ret = read_be64(n, koly + 0xd8, &xml_off)) < 0 ||
        (ret = read_be64(n, koly + 0xe0, &xml_len)) < 0 ||
        (ret = read_be64(n, koly + 0x1ec, &sectors)) < 0)
        return ret;
    if (s->data_fork_offset > koly || rsrc_off >= koly || rsrc_len > koly - rsrc_off ||
        xml_off >= koly || xml_len > koly - xml_off || sectors > INT64_MAX)
        return -EINVAL;
    if (rsrc_len != 0)
        ret = dmg_read_rsrc(n, s, rsrc_off, rsrc_len);
    else if (xml_len != 0)
        ret = dmg_read_plist(n, s, xml_off, xml_len);
    else
        ret = -EINVAL;
    if (ret < 0)
        return ret;
    if (sectors > MAX_LENGTH / 512) {
        error_setg_errno(errp, EFBIG, "Could not refresh total sector count");
        return -EFBIG;
    }
    n->size = sectors * 512;
    return 0;
}

static int dmg_open(struct node *n, struct opts *opts, struct error **errp)
{
    (void)opts;
    struct dmg_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    n->state = s;
    s->max_compressed = 1;
    s->max_sectors = 1;
    if (n->flags & NODE_RDWR) {
        error_setg(errp, "Image is read-only");
        return -EACCES;
    }
    int64_t koly = dmg_find_koly(n, errp);
    if (koly < 0)
        return (int)koly;
    int ret = dmg_read_trailer(n, s, (uint64_t)koly, errp);
    if (ret < 0) {
        if (ret != -EFBIG)
            error_setg_errno(errp, -ret, "Could not open '%s'", node_name(n));
        return ret;
    }
    s->compressed = malloc(s->max_compressed + 1);
    s->uncompressed = malloc(512 * s->max_sectors);
    if (!s->compressed || !s->uncompressed)
        return -ENOMEM;
    s->current = s->n_chunks;
    return 0;
}

static void dmg_close(struct node *n)
{
    struct dmg_state *s = n->state;
    if (!s)
        return;
    free(s->chunks);
    free(s->compressed);
    free(s->uncompressed);
    free(s);
    n->state = NULL;
}

static bool in_chunk(const struct dmg_chunk *c, uint64_t sector)
{
    return sector >= c->sector && sector - c->sector < c->count;
}

/* The chunk holding sector (qemu keeps chunks in image order and bisects over them). */
static uint32_t dmg_find_chunk(struct dmg_state *s, uint64_t sector)
{
    uint32_t lo = 0, hi = s->n_chunks;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->chunks[mid].sector > sector)
            hi = mid;
        else if (s->chunks[mid].sector + s->chunks[mid].count <= sector)
            lo = mid + 1;
        else
            return mid;
    }
    return s->n_chunks;
}

static int dmg_load_chunk(struct node *n, uint32_t i)
{
    struct dmg_state *s = n->state;
    struct dmg_chunk *c = &s->chunks[i];
    if (c->type == UDRW) {
        memset(s->uncompressed, 0, 512 * s->max_sectors);
        return node_pread(n->file, c->offset, c->length, s->uncompressed) < 0 ? -EIO : 0;
    }
    if (c->type != UDZO)
        return 0;
    if (node_pread(n->file, c->offset, c->length, s->compressed) < 0)
        return -EIO;
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit(&z) != Z_OK)
        return -EIO;
    z.next_in = s->compressed;
    z.avail_in = (uInt)c->length;
    z.next_out = s->uncompressed;
    z.avail_out = (uInt)(512 * c->count);
    int zr = inflate(&z, Z_FINISH);
    uLong out = z.total_out;
    inflateEnd(&z);
    return zr == Z_STREAM_END && out == 512 * c->count ? 0 : -EIO;
}

static int dmg_pread(struct node *n, uint64_t off, uint64_t len, void *buf)
{
    struct dmg_state *s = n->state;
    uint8_t *p = buf;
    while (len) {
        uint64_t sector = off / 512, in = off % 512;
        uint64_t run = 512 - in < len ? 512 - in : len;
        if (s->current >= s->n_chunks || !in_chunk(&s->chunks[s->current], sector)) {
            uint32_t i = dmg_find_chunk(s, sector);
            s->current = s->n_chunks;
            if (i >= s->n_chunks || dmg_load_chunk(n, i) < 0)
                return -EIO;
            s->current = i;
        }
        struct dmg_chunk *c = &s->chunks[s->current];
        if (c->type == UDZE || c->type == UDIG)
            memset(p, 0, run);
        else if (sector - c->sector >= s->max_sectors)
            return -EIO; /* a raw chunk claiming more sectors than it stores */
        else
            memcpy(p, s->uncompressed + (sector - c->sector) * 512 + in, run);
        off += run;
        p += run;
        len -= run;
    }
    return 0;
}

const struct driver driver_dmg = {
    .name = "dmg",
    .probe = dmg_probe,
    .open = dmg_open,
    .close = dmg_close,
    .pread = dmg_pread,
};
