/* The Parallels disk format (qemu 7.2's block/parallels.c behaviour, docs/interop/parallels.txt):
 * a 64-byte header, a catalog (BAT) of 32-bit cluster offsets, data clusters appended at the end.
 * Create, read, write (allocating clusters, BAT entry written after the data) and block status. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bswap.h"
#include "crypto.h"
#include "file.h"
#include "node.h"

#define PRL_HEADER_SIZE 64
#define PRL_MAGIC "WithoutFreeSpace"
#define PRL_MAGIC2 "WithouFreSpacExt"
#define PRL_VERSION 2
#define PRL_INUSE_MAGIC 0x746F6E59u
#define PRL_EXT_MAGIC 0xAB234CEF23DCEA87ull
#define PRL_DEFAULT_CLUSTER (1u << 20)
#define PRL_HEADS 16
#define PRL_SEC_IN_CYL 32
#define PRL_MAX_IMAGE_FACTOR (1ull << 32)
/* qemu's largest node length and single request */
#define MAX_LENGTH 0x7FFFFFFFC0000000ull
#define MAX_REQUEST 0x7ffffe00ull
#define MEM_ALIGN 4096

enum { OFF_VERSION = 16, OFF_HEADS = 20, OFF_CYLINDERS = 24, OFF_TRACKS = 28, OFF_BAT_ENTRIES = 32,
       OFF_NB_SECTORS = 36, OFF_INUSE = 44, OFF_DATA_OFF = 48, OFF_EXT_OFF = 56 };

struct prl_state {
    uint8_t header[PRL_HEADER_SIZE];
    uint32_t *bat;        /* the loaded part of the catalog */
    uint32_t bat_loaded;  /* entries in bat[]; those past it lie beyond the file end: zero */
    uint32_t bat_size;    /* entries the header declares */
    uint32_t tracks;      /* sectors per cluster */
    uint64_t off_multiplier;
    uint64_t data_end;    /* in sectors: where the next cluster goes */
    bool header_unclean;  /* opened with the in-use mark set */
};

static const struct opt_desc prl_open_opts[] = {
    { "prealloc-size", OPT_SIZE, "Preallocation size on image expansion", NULL },
    { "prealloc-mode", OPT_STRING, "Preallocation mode on image expansion", NULL },
    { NULL, 0, NULL, NULL },
};

static const struct opt_desc prl_create_opts[] = {
    { "size", OPT_SIZE, "Virtual disk size", NULL },
    { "cluster_size", OPT_SIZE, "Parallels image cluster size", "1048576" },
    { NULL, 0, NULL, NULL },
};

static struct prl_state *st(struct node *n)
{
    return n->state;
}

static int prl_probe(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    if (len < PRL_HEADER_SIZE)
        return 0;
    if ((!memcmp(buf, PRL_MAGIC, 16) || !memcmp(buf, PRL_MAGIC2, 16)) &&
        get_le32(buf + OFF_VERSION) == PRL_VERSION)
        return 100;
    return 0;
}

static uint32_t bat_get(const struct prl_state *s, uint64_t idx)
{
    return idx < s->bat_loaded ? s->bat[idx] : 0;
}

/* Host sector of a catalog entry (0: unallocated). */
static uint64_t bat_sector(const struct prl_state *s, uint64_t idx)
{
    return (uint64_t)bat_get(s, idx) * s->off_multiplier;
}

#define PRL_FEATURE_END 0ull
#define PRL_FEATURE_BITMAP 0x20385FAE252CB34Aull
#define PRL_EXT_HEADER 24     /* magic, MD5 of the rest of the cluster */
#define PRL_FEATURE_HEADER 24 /* magic, flags, data size, unused */
#define PRL_BITMAP_HEADER 32  /* size in sectors, id, granularity in sectors, L1 entries */

/* One dirty-bitmap feature, checked as qemu loads it (the bitmaps themselves are not shown by
 * any qemu-img command: they are not persistent). ids holds the ids seen so far. */
static int prl_check_bitmap(struct node *n, const uint8_t *d, size_t size, uint8_t (*ids)[16],
                            int nids, struct error **errp)
{
    if (size < PRL_BITMAP_HEADER) {
        error_setg(errp, "Too small Bitmap Feature area in Parallels Format Extension: %zu bytes, "
                   "expected at least %d bytes", size, PRL_BITMAP_HEADER);
        return -EINVAL;
    }
    uint64_t sectors = get_le64(d);
    uint32_t granularity = get_le32(d + 24) << 9, l1_size = get_le32(d + 28);
    if (sectors != n->size / 512) {
        error_setg(errp, "Bitmap size (in sectors) %" PRId64 " differs from disk size in sectors "
                   "%" PRId64, (int64_t)sectors, (int64_t)(n->size / 512));
        return -EINVAL;
    }
    if ((uint64_t)l1_size * 8 > size - PRL_BITMAP_HEADER) {
        error_setg(errp, "Bitmaps feature corrupted: l1 table exceeds extension data_size");
        return -EINVAL;
    }
    const uint8_t *id = d + 8;
    char name[37];
    snprintf(name, sizeof(name), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x"
             "%02x", id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10],
             id[11], id[12], id[13], id[14], id[15]);
    if (granularity < 512 || (granularity & (granularity - 1))) {
        /* qemu 7.2 fails an assertion here */
        error_setg(errp, "Invalid granularity of bitmap '%s'", name);
        return -EINVAL;
    }
    for (int i = 0; i < nids; i++) {
        if (!memcmp(ids[i], id, 16)) {
            error_setg(errp, "Bitmap already exists: %s", name);
            return -EINVAL;
        }
    }
    /* the L1 table covers the serialized bitmap (64-bit words) in clusters */
    uint64_t csize = (uint64_t)st(n)->tracks * 512, words = 0;
    if (n->size) {
        int shift = __builtin_ctz(granularity);
        words = (((n->size - 1) >> shift) >> 6) + 1;
    }
    uint64_t tab_size = (words * 8 + csize - 1) / csize;
    if (tab_size != l1_size) {
        error_setg(errp, "Bitmap table size %" PRIu32 " does not correspond to bitmap size and "
                   "cluster size. Expected %" PRIu64, l1_size, tab_size);
        return -EINVAL;
    }
    return 0;
}

/* qemu's parallels_parse_format_extension, on read-only opens: the magic, the MD5 checksum and
 * the feature list (bitmaps, ended by a zero magic), with its errors. */
static int prl_check_ext(struct node *n, uint64_t ext_off, struct error **errp)
{
    uint64_t csize = (uint64_t)st(n)->tracks * 512, off;
    uint8_t *c = NULL, md5[16], (*ids)[16] = NULL;
    int nids = 0, ret = -EINVAL;
    if (__builtin_mul_overflow(ext_off, 512, &off) || off > MAX_LENGTH) {
        error_setg_errno(errp, EIO, "Failed to read Format Extension cluster");
        return -EIO;
    }
    c = malloc(csize);
    if (!c)
        return -ENOMEM;
    if ((ret = node_pread(n->file, off, csize, c)) < 0) {
        error_setg_errno(errp, -ret, "Failed to read Format Extension cluster");
        goto out;
    }
    ret = -EINVAL;
    uint64_t magic = get_le64(c);
    if (magic != PRL_EXT_MAGIC) {
        error_setg(errp, "Wrong parallels Format Extension magic: 0x%" PRIx64 ", expected: 0x%" PRIx64,
                   magic, (uint64_t)PRL_EXT_MAGIC);
        goto out;
    }
    int remaining = (int)csize - PRL_EXT_HEADER;
    hash_buf(HASH_MD5, c + PRL_EXT_HEADER, (size_t)remaining, md5);
    if (memcmp(md5, c + 8, 16)) {
        error_setg(errp, "Wrong checksum in Format Extension header. Format extension is "
                   "corrupted.");
        goto out;
    }
    uint64_t pos = PRL_EXT_HEADER;
    for (;;) {
        /* qemu does not count feature data against the remaining bytes; past the cluster it
         * would read beyond its buffer: stop there with its message */
        if (remaining < PRL_FEATURE_HEADER || pos + PRL_FEATURE_HEADER > csize) {
            error_setg(errp, "Can not read feature header, as remaining bytes (%d) in Format "
                       "Extension is less than Feature header size (%d)", remaining,
                       PRL_FEATURE_HEADER);
            goto out;
        }
        const uint8_t *fh = c + pos;
        pos += PRL_FEATURE_HEADER;
        remaining -= PRL_FEATURE_HEADER;
        uint32_t data_size = get_le32(fh + 16);
        if (get_le64(fh + 8)) {
            error_setg(errp, "Flags for extension feature are unsupported");
            goto out;
        }
        if (data_size > (uint32_t)remaining) {
            error_setg(errp, "Feature data_size exceedes Format Extension cluster");
            goto out;
        }
        if (get_le64(fh) == PRL_FEATURE_END) {
            ret = 0;
            goto out;
        }
        if (get_le64(fh) != PRL_FEATURE_BITMAP) {
            error_setg(errp, "Unknown feature: 0x%" PRIx64, get_le64(fh));
            goto out;
        }
        if (pos + data_size > csize) {
            error_setg(errp, "Feature data_size exceedes Format Extension cluster");
            goto out;
        }
        if (prl_check_bitmap(n, c + pos, data_size, ids, nids, errp) < 0)
            goto out;
        uint8_t (*more)[16] = realloc(ids, (size_t)(nids + 1) * 16);
        if (!more) {
            ret = -ENOMEM;
            goto out;
        }
        ids = more;
        memcpy(ids[nids++], c + pos + 8, 16);
        pos = (pos + data_size + 7) / 8 * 8;
    }
out:
    free(ids);
    free(c);
    return ret;
}

static int prl_read_header(struct node *n, struct prl_state *s, struct error **errp)
{
    int ret = node_pread(n->file, 0, PRL_HEADER_SIZE, s->header);
    if (ret < 0) {
        error_setg_errno(errp, ret, "Could not read image");
        return ret;
    }
    const uint8_t *h = s->header;
    uint64_t nb_sectors = get_le64(h + OFF_NB_SECTORS);
    if (get_le32(h + OFF_VERSION) != PRL_VERSION)
        goto not_parallels;
    if (!memcmp(h, PRL_MAGIC, 16)) {
        s->off_multiplier = 1;
        nb_sectors &= 0xffffffffu;
    } else if (!memcmp(h, PRL_MAGIC2, 16)) {
        s->off_multiplier = get_le32(h + OFF_TRACKS);
    } else {
        goto not_parallels;
    }
    s->tracks = get_le32(h + OFF_TRACKS);
    if (s->tracks == 0) {
        error_setg(errp, "Invalid image: Zero sectors per track");
        return -EINVAL;
    }
    if (s->tracks > INT32_MAX / 513) {
        error_setg(errp, "Invalid image: Too big cluster");
        return -EFBIG;
    }
    s->bat_size = get_le32(h + OFF_BAT_ENTRIES);
    if (s->bat_size > INT_MAX / 4) {
        error_setg(errp, "Catalog too large");
        return -EFBIG;
    }
    if (nb_sectors > MAX_LENGTH / 512) {
        error_setg_errno(errp, EFBIG, "Could not refresh total sector count");
        return -EFBIG;
    }
    n->size = nb_sectors * 512;
    return 0;
not_parallels:
    error_setg(errp, "Image not in Parallels format");
    return -EINVAL;
}

/* Load the catalog; entries past the end of the file read as zero and are not allocated. */
static int prl_load_bat(struct node *n, struct prl_state *s, struct error **errp)
{
    uint64_t bat_bytes = PRL_HEADER_SIZE + (uint64_t)s->bat_size * 4;
    uint64_t aligned = (bat_bytes + MEM_ALIGN - 1) / MEM_ALIGN * MEM_ALIGN;
    uint64_t data_off = get_le32(s->header + OFF_DATA_OFF);
    /* qemu reads the aligned header area unless the data starts inside it (raw numbers compared) */
    uint64_t data_end_raw = data_off ? data_off : (bat_bytes + 511) / 512 * 512;
    uint64_t first_read = data_end_raw < aligned ? bat_bytes : aligned;
    if (first_read > MAX_REQUEST) {
        error_setg_errno(errp, EIO, "Could not open '%s'", node_name(n));
        return -EIO;
    }
    uint64_t avail = n->file->size > PRL_HEADER_SIZE ? (n->file->size - PRL_HEADER_SIZE) / 4 : 0;
    s->bat_loaded = s->bat_size < avail ? s->bat_size : (uint32_t)avail;
    s->bat = calloc(s->bat_loaded ? s->bat_loaded : 1, sizeof(uint32_t));
    if (!s->bat)
        return -ENOMEM;
    uint8_t *raw = malloc(s->bat_loaded ? (size_t)s->bat_loaded * 4 : 1);
    if (!raw)
        return -ENOMEM;
    int ret = node_pread(n->file, PRL_HEADER_SIZE, (uint64_t)s->bat_loaded * 4, raw);
    if (ret < 0) {
        free(raw);
        error_setg_errno(errp, ret, "Could not open '%s'", node_name(n));
        return ret;
    }
    for (uint32_t i = 0; i < s->bat_loaded; i++)
        s->bat[i] = get_le32(raw + 4 * (size_t)i);
    free(raw);

    s->data_end = data_off ? data_off : (bat_bytes + 511) / 512;
    for (uint32_t i = 0; i < s->bat_loaded; i++) {
        uint64_t sec = bat_sector(s, i);
        if (sec >= s->data_end)
            s->data_end = sec + s->tracks;
    }
    return 0;
}

static int prl_write_header(struct node *n)
{
    return node_pwrite(n->file, 0, PRL_HEADER_SIZE, st(n)->header);
}

static int prl_open(struct node *n, struct opts *opts, struct error **errp)
{
    (void)opts;
    struct prl_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    n->state = s;
    int ret = prl_read_header(n, s, errp);
    if (ret < 0)
        return ret;
    ret = prl_load_bat(n, s, errp);
    if (ret < 0)
        return ret;
    s->header_unclean = get_le32(s->header + OFF_INUSE) == PRL_INUSE_MAGIC;
    if (s->header_unclean && (n->flags & NODE_RDWR) && !(n->flags & NODE_CHECK)) {
        error_setg(errp, "parallels: Image was not closed correctly; cannot be opened read/write");
        return -EACCES;
    }
    uint64_t ext_off = get_le64(s->header + OFF_EXT_OFF);
    if (ext_off) {
        if (n->flags & NODE_RDWR) {
            warn_report("Format Extension ignored in RW mode");
        } else if ((ret = prl_check_ext(n, ext_off, errp)) < 0) {
            return ret;
        }
    }
    if (n->flags & NODE_RDWR) {
        put_le32(s->header + OFF_INUSE, PRL_INUSE_MAGIC);
        ret = prl_write_header(n);
        if (ret == 0)
            ret = node_flush(n->file);
        if (ret < 0) {
            error_setg_errno(errp, ret, "Could not write the image header");
            return ret;
        }
    }
    return 0;
}

static void prl_close(struct node *n)
{
    struct prl_state *s = st(n);
    if (!s)
        return;
    if ((n->flags & NODE_RDWR) && n->file) {
        put_le32(s->header + OFF_INUSE, 0);
        if (prl_write_header(n) == 0 && node_flush(n->file) == 0)
            (void)node_truncate(n->file, s->data_end * 512, true, PREALLOC_OFF, NULL);
    }
    free(s->bat);
    free(s);
    n->state = NULL;
}

/* Under NODE_STRICT, the BAT entry of guest byte `off` when the BAT runs past the end of the file
 * (read as 0 at open, as qemu does) is corrupt. */
static int bat_check(struct node *n, uint64_t off)
{
    struct prl_state *s = st(n);
    uint64_t idx = off / ((uint64_t)s->tracks * 512);
    if (idx < s->bat_loaded)
        return 0;
    return node_check_pointer(n->file, PRL_HEADER_SIZE + idx * 4, 4, 0, "a BAT entry");
}

/* Host byte offset of guest byte `off` (0: unallocated); *run gets the bytes left in the cluster. */
static uint64_t prl_map(struct prl_state *s, uint64_t off, uint64_t len, uint64_t *run)
{
    uint64_t csize = (uint64_t)s->tracks * 512;
    uint64_t in = off % csize;
    *run = csize - in < len ? csize - in : len;
    uint64_t sec = bat_sector(s, off / csize);
    return sec ? sec * 512 + in : 0;
}

static int prl_pread(struct node *n, uint64_t off, uint64_t len, void *buf)
{
    struct prl_state *s = st(n);
    uint8_t *p = buf;
    while (len) {
        uint64_t run;
        uint64_t host = prl_map(s, off, len, &run);
        int ret = bat_check(n, off);
        if (ret == 0)
            ret = host ? node_pread(n->file, host, run, p) : node_read_backing(n, off, run, p);
        if (ret < 0)
            return ret;
        off += run;
        p += run;
        len -= run;
    }
    return 0;
}

static int prl_block_status(struct node *n, uint64_t off, uint64_t len, struct block_status *out)
{
    struct prl_state *s = st(n);
    uint64_t run;
    uint64_t start = prl_map(s, off, len, &run);
    uint64_t done = run;
    int ret = bat_check(n, off);
    if (ret < 0)
        return ret;
    /* extend while the next cluster is equally (un)allocated and, if allocated, contiguous (and
     * its entry was read: the next query checks the others) */
    while (done < len && ((off + done) / ((uint64_t)s->tracks * 512) < s->bat_loaded ||
                          !(n->file->flags & NODE_STRICT))) {
        uint64_t next = prl_map(s, off + done, len - done, &run);
        if ((start == 0) != (next == 0) || (start && next != start + done))
            break;
        done += run;
    }
    out->len = done;
    if (start) {
        out->flags = BS_DATA | BS_OFFSET_VALID;
        out->offset = start;
        out->file = n->file;
    }
    return 0;
}

/* Give cluster idx a host cluster at the end of the data: zero it, then point the BAT at it
 * (the data write that follows completes before the entry is durable only after a flush, so
 * the entry is written last, after a barrier). */
static int prl_allocate(struct node *n, uint64_t idx, uint64_t *host)
{
    struct prl_state *s = st(n);
    uint64_t start = (s->data_end + s->off_multiplier - 1) / s->off_multiplier;
    if (idx >= s->bat_size || start > UINT32_MAX)
        return -EIO;
    uint64_t csize = (uint64_t)s->tracks * 512;
    uint64_t sector = start * s->off_multiplier;
    int ret = node_pwrite_zeroes(n->file, sector * 512, csize, 0);
    if (ret < 0)
        return ret;
    if (idx >= s->bat_loaded) {
        uint32_t *nb = realloc(s->bat, ((size_t)idx + 1) * sizeof(uint32_t));
        if (!nb)
            return -ENOMEM;
        memset(nb + s->bat_loaded, 0, ((size_t)idx + 1 - s->bat_loaded) * sizeof(uint32_t));
        s->bat = nb;
        s->bat_loaded = (uint32_t)idx + 1;
    }
    s->bat[idx] = (uint32_t)start;
    s->data_end = sector + s->tracks;
    *host = sector * 512;
    return 0;
}

static int prl_write_bat_entry(struct node *n, uint64_t idx)
{
    uint8_t e[4];
    put_le32(e, st(n)->bat[idx]);
    return node_pwrite(n->file, PRL_HEADER_SIZE + idx * 4, 4, e);
}

static int prl_pwrite(struct node *n, uint64_t off, uint64_t len, const void *buf)
{
    struct prl_state *s = st(n);
    const uint8_t *p = buf;
    uint64_t csize = (uint64_t)s->tracks * 512;
    while (len) {
        uint64_t run;
        uint64_t host = prl_map(s, off, len, &run);
        bool fresh = host == 0;
        int ret = 0;
        if (fresh) {
            ret = prl_allocate(n, off / csize, &host);
            host += off % csize;
        }
        if (ret == 0)
            ret = node_pwrite(n->file, host, run, p);
        if (ret == 0 && fresh) {
            ret = node_flush(n->file);
            if (ret == 0)
                ret = prl_write_bat_entry(n, off / csize);
        }
        if (ret < 0)
            return ret;
        off += run;
        p += run;
        len -= run;
    }
    return 0;
}

/* The header and the loaded catalog in one write, then a flush (qemu writes its header buffer). */
static int prl_write_header_and_bat(struct node *n)
{
    struct prl_state *s = st(n);
    size_t len = PRL_HEADER_SIZE + (size_t)s->bat_loaded * 4;
    uint8_t *buf = malloc(len);
    if (!buf)
        return -ENOMEM;
    memcpy(buf, s->header, PRL_HEADER_SIZE);
    for (uint32_t i = 0; i < s->bat_loaded; i++)
        put_le32(buf + PRL_HEADER_SIZE + 4 * (size_t)i, s->bat[i]);
    int ret = node_pwrite(n->file, 0, len, buf);
    free(buf);
    return ret < 0 ? ret : node_flush(n->file);
}

/* qemu 7.2's parallels check: the in-use mark, clusters past the end of the file (dropped from
 * the BAT by -r all), and space after the last cluster (cut off by -r leaks; close then truncates
 * the file to the data end it computed at open, as qemu does). Messages go to stderr. */
static int prl_check(struct node *n, struct check_result *res, int fix)
{
    struct prl_state *s = st(n);
    /* qemu's file length is in whole sectors */
    uint64_t size = (n->file->size + 511) / 512 * 512, csize = (uint64_t)s->tracks * 512;
    uint64_t high = 0, prev = 0;
    bool flush_bat = false;
    const char *errs = fix & CHECK_FIX_ERRORS ? "Repairing" : "ERROR";
    if (s->header_unclean) {
        fprintf(stderr, "%s image was not closed correctly\n", errs);
        res->corruptions++;
        if (fix & CHECK_FIX_ERRORS) {
            res->corruptions_fixed++;
            s->header_unclean = false;
        }
    }
    res->total_clusters = s->bat_size;
    for (uint32_t i = 0; i < s->bat_size; i++) {
        uint64_t off = bat_sector(s, i) * 512;
        if (off == 0) {
            prev = 0;
            continue;
        }
        if (off > size) {
            fprintf(stderr, "%s cluster %" PRIu32 " is outside image\n", errs, i);
            res->corruptions++;
            if (fix & CHECK_FIX_ERRORS) {
                prev = 0;
                s->bat[i] = 0;
                res->corruptions_fixed++;
                flush_bat = true;
                continue;
            }
        }
        res->allocated_clusters++;
        if (off > high)
            high = off;
        if (prev && prev + csize != off)
            res->fragmented_clusters++;
        prev = off;
    }
    if (flush_bat) {
        int ret = prl_write_header_and_bat(n);
        if (ret < 0) {
            res->check_errors++;
            return ret;
        }
    }
    res->image_end_offset = high + csize;
    if (size > res->image_end_offset) {
        uint64_t leaked = size - res->image_end_offset;
        int count = (int)((leaked + csize - 1) / csize);
        fprintf(stderr, "%s space leaked at the end of the image %" PRIu64 "\n",
                fix & CHECK_FIX_LEAKS ? "Repairing" : "ERROR", leaked);
        res->leaks += count;
        if (fix & CHECK_FIX_LEAKS) {
            struct error *err = NULL;
            int ret = node_truncate(n->file, res->image_end_offset, true, PREALLOC_OFF, &err);
            if (ret < 0) {
                if (err)
                    error_report_err(err);
                res->check_errors++;
                return ret;
            }
            res->leaks_fixed += count;
        }
    }
    return 0;
}

static int prl_create(const char *filename, struct opts *opts, struct error **errp)
{
    uint64_t size = 0, cl = PRL_DEFAULT_CLUSTER;
    enum prealloc prealloc = PREALLOC_OFF;
    const char *p = opts_get(opts, "preallocation");
    if (opts_get_size(opts, "size", &size, errp) < 0 ||
        opts_get_size(opts, "cluster_size", &cl, errp) < 0)
        return -EINVAL;
    if (p && prealloc_parse(p, &prealloc) < 0) {
        error_setg(errp, "invalid parameter value: %s", p);
        return -EINVAL;
    }
    size = size > UINT64_MAX - 511 ? size : (size + 511) / 512 * 512;
    cl = cl > UINT64_MAX - 511 ? cl : (cl + 511) / 512 * 512;
    /* qemu creates the file before its protocol layer rejects metadata preallocation */
    int ret = file_create(filename, 0, prealloc == PREALLOC_METADATA ? PREALLOC_OFF : prealloc, errp);
    if (ret < 0)
        return ret;
    if (prealloc == PREALLOC_METADATA) {
        error_setg(errp, "Unsupported preallocation mode: metadata");
        return -ENOTSUP;
    }
    if (cl >= INT64_MAX / PRL_MAX_IMAGE_FACTOR) {
        error_setg(errp, "Cluster size is too large");
        return -EINVAL;
    }
    if (size >= PRL_MAX_IMAGE_FACTOR * cl) {
        error_setg(errp, "Image size is too large for this cluster size");
        return -E2BIG;
    }
    uint64_t bat_entries = (size + cl - 1) / cl;
    uint64_t bat_sectors = (PRL_HEADER_SIZE + bat_entries * 4 + cl - 1) / cl * cl / 512;

    uint8_t sector[512] = { 0 };
    memcpy(sector, PRL_MAGIC2, 16);
    put_le32(sector + OFF_VERSION, PRL_VERSION);
    put_le32(sector + OFF_HEADS, PRL_HEADS);
    put_le32(sector + OFF_CYLINDERS, (uint32_t)(size / 512 / PRL_HEADS / PRL_SEC_IN_CYL));
    put_le32(sector + OFF_TRACKS, (uint32_t)(cl / 512));
    put_le32(sector + OFF_BAT_ENTRIES, (uint32_t)bat_entries);
    put_le64(sector + OFF_NB_SECTORS, size / 512);
    put_le32(sector + OFF_DATA_OFF, (uint32_t)bat_sectors);

    struct node *f = node_open(filename, "file", NULL, NODE_RDWR, errp);
    if (!f)
        return -EIO;
    ret = node_pwrite(f, 0, sizeof(sector), sector);
    if (ret == 0)
        ret = node_write_zero_buffers(f, 512, (bat_sectors - 1) * 512);
    if (ret == 0)
        ret = node_flush(f);
    if (ret < 0)
        error_setg_errno(errp, ret, "Could not write image");
    node_close(f);
    return ret;
}

/* qemu's parallels has bdrv_has_zero_init_1: a new image reads as zeros (convert skips them) */
static bool prl_has_zero_init(struct node *n)
{
    (void)n;
    return true;
}

const struct driver driver_parallels = {
    .name = "parallels",
    .flags = DRV_BACKING,
    .open_opts = prl_open_opts,
    .create_opts = prl_create_opts,
    .probe = prl_probe,
    .open = prl_open,
    .close = prl_close,
    .pread = prl_pread,
    .pwrite = prl_pwrite,
    .block_status = prl_block_status,
    .create = prl_create,
    .check = prl_check,
    .has_zero_init = prl_has_zero_init,
};
