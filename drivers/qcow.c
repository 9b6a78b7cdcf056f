/* The original QEMU copy-on-write format, qcow version 1 (qemu 7.2's block/qcow.c behaviour):
 * a 48-byte big-endian header, an optional backing file name, a two-level L1/L2 table of cluster
 * offsets, zlib-compressed clusters. Read, write (copy-on-write from the backing file or the
 * compressed cluster, data before table entries), block status, create; legacy AES encryption
 * (AES-128-CBC per 512-byte guest sector, src/crypto.c) with the --object secret named by
 * encrypt.key-secret, which qemu-img 7.2 still reads, writes and creates. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bswap.h"
#include "crypto.h"
#include "file.h"
#include "node.h"
#include "object.h"

#define QCOW_MAGIC 0x514649fbu /* "QFI\xfb" */
#define QCOW_VERSION 1
#define QCOW_HEADER_SIZE 48
#define QCOW_CRYPT_NONE 0
#define QCOW_CRYPT_AES 1
#define QCOW_OFLAG_COMPRESSED (1ull << 63)
#define L2_CACHE_SIZE 16
/* qemu's largest request and node length */
#define MAX_REQUEST 0x7ffffe00ull
#define MAX_LENGTH 0x7FFFFFFFC0000000ull

enum { OFF_VERSION = 4, OFF_BACKING_OFFSET = 8, OFF_BACKING_SIZE = 16, OFF_MTIME = 20, OFF_SIZE = 24,
       OFF_CLUSTER_BITS = 32, OFF_L2_BITS = 33, OFF_CRYPT = 36, OFF_L1_OFFSET = 40 };

struct l2_slot {
    uint64_t offset; /* 0: empty */
    uint64_t *table;
};

struct qcow_state {
    unsigned cluster_bits, l2_bits;
    uint64_t cluster_size, l2_size;  /* bytes per cluster, entries per L2 table */
    uint64_t offset_mask;            /* host offset bits of an L2 entry */
    uint64_t l1_offset;
    uint64_t l1_size;                /* entries the image needs */
    uint64_t *l1;                    /* l1_loaded entries; the rest lie past the file end: zero */
    uint64_t l1_loaded;
    uint32_t crypt_method;
    struct l2_slot l2_cache[L2_CACHE_SIZE];
    unsigned l2_next;                /* round-robin victim */
    uint8_t *cluster_buf;            /* compressed bytes */
    struct sector_cipher *crypt;     /* AES key, when the image is encrypted and opened for I/O */
};

static const struct opt_desc qcow_open_opts[] = {
    { "encrypt.key-secret", OPT_STRING, "ID of the secret that provides the AES encryption key", NULL },
    { "encrypt.format", OPT_STRING, "Encrypt the image, format choices: 'aes'", NULL },
    { NULL, 0, NULL, NULL },
};

static const struct opt_desc qcow_create_opts[] = {
    { "size", OPT_SIZE, "Virtual disk size", NULL },
    { "backing_file", OPT_STRING, "File name of a base image", NULL },
    { "backing_fmt", OPT_STRING, "Format of the backing image", NULL },
    { "encryption", OPT_BOOL,
      "Encrypt the image with format 'aes'. (Deprecated in favor of encrypt.format=aes)", NULL },
    { "encrypt.format", OPT_STRING, "Encrypt the image, format choices: 'aes'", NULL },
    { "encrypt.key-secret", OPT_STRING, "ID of the secret that provides the AES encryption key", NULL },
    { NULL, 0, NULL, NULL },
};

static struct qcow_state *st(struct node *n)
{
    return n->state;
}

static int qcow_probe(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    if (len >= QCOW_HEADER_SIZE && get_be32(buf) == QCOW_MAGIC && get_be32(buf + OFF_VERSION) == QCOW_VERSION)
        return 100;
    return 0;
}

/* A file read qemu would refuse as a request (-EIO) or that overflows. */
static bool bad_request(uint64_t off, uint64_t len)
{
    return len > MAX_REQUEST || off > MAX_LENGTH || len > MAX_LENGTH - off;
}

static int qcow_check_header(struct node *n, const uint8_t *h, struct error **errp)
{
    uint32_t version = get_be32(h + OFF_VERSION);
    if (get_be32(h) != QCOW_MAGIC) {
        error_setg(errp, "Image not in qcow format");
        return -EINVAL;
    }
    if (version != QCOW_VERSION) {
        if (version == 2 || version == 3)
            error_setg(errp, "qcow (v%d) does not support qcow version %" PRIu32
                             "\nTry the 'qcow2' driver instead.", QCOW_VERSION, version);
        else
            error_setg(errp, "qcow (v%d) does not support qcow version %" PRIu32, QCOW_VERSION,
                       version);
        return -ENOTSUP;
    }
    if (get_be64(h + OFF_SIZE) <= 1) {
        error_setg(errp, "Image size is too small (must be at least 2 bytes)");
        return -EINVAL;
    }
    if (h[OFF_CLUSTER_BITS] < 9 || h[OFF_CLUSTER_BITS] > 16) {
        error_setg(errp, "Cluster size must be between 512 and 64k");
        return -EINVAL;
    }
    if (h[OFF_L2_BITS] < 9 - 3 || h[OFF_L2_BITS] > 16 - 3) {
        error_setg(errp, "L2 table size must be between 512 and 64k");
        return -EINVAL;
    }
    (void)n;
    return 0;
}

static int qcow_check_crypt(struct node *n, struct qcow_state *s, struct opts *opts,
                            struct error **errp)
{
    const char *fmt = opts_get(opts, "encrypt.format");
    if (s->crypt_method == QCOW_CRYPT_NONE) {
        if (fmt) {
            error_setg(errp, "No encryption in image header, but options specified format '%s'",
                       fmt);
            return -EINVAL;
        }
        return 0;
    }
    if (s->crypt_method != QCOW_CRYPT_AES) {
        error_setg(errp, "invalid encryption method in qcow header");
        return -EINVAL;
    }
    if (fmt && strcmp(fmt, "aes")) {
        error_setg(errp, "Header reported 'aes' encryption format but options specify '%s'", fmt);
        return -EINVAL;
    }
    if (n->flags & NODE_NO_IO)
        return 0;
    const char *id = opts_get(opts, "encrypt.key-secret");
    const uint8_t *pass;
    size_t pass_len;
    if (secret_lookup_required("encrypt.key-secret", id, &pass, &pass_len, errp) < 0)
        return -EINVAL;
    if (!(s->crypt = malloc(sizeof(*s->crypt))))
        return -ENOMEM;
    sector_cipher_init_qcow_aes(s->crypt, pass, pass_len);
    return 0;
}

static int qcow_load_l1(struct node *n, struct qcow_state *s, struct error **errp)
{
    uint64_t bytes = s->l1_size * 8;
    if (bad_request(s->l1_offset, bytes)) {
        error_setg_errno(errp, EIO, "Could not open '%s'", node_name(n));
        return -EIO;
    }
    /* entries past the end of the file read as zero: load only the rest */
    uint64_t fsize = n->file->size;
    uint64_t avail = fsize > s->l1_offset ? (fsize - s->l1_offset) / 8 : 0;
    s->l1_loaded = s->l1_size < avail ? s->l1_size : avail;
    s->l1 = calloc(s->l1_loaded ? s->l1_loaded : 1, 8);
    uint8_t *raw = malloc(s->l1_loaded ? s->l1_loaded * 8 : 1);
    if (!s->l1 || !raw) {
        free(raw);
        error_setg(errp, "Could not allocate memory for L1 table");
        return -ENOMEM;
    }
    int ret = node_pread(n->file, s->l1_offset, s->l1_loaded * 8, raw);
    if (ret < 0) {
        free(raw);
        error_setg_errno(errp, ret, "Could not open '%s'", node_name(n));
        return ret;
    }
    for (uint64_t i = 0; i < s->l1_loaded; i++)
        s->l1[i] = get_be64(raw + 8 * i);
    free(raw);
    return 0;
}

static int qcow_read_backing_name(struct node *n, const uint8_t *h, struct error **errp)
{
    uint64_t off = get_be64(h + OFF_BACKING_OFFSET);
    uint32_t len = get_be32(h + OFF_BACKING_SIZE);
    if (off == 0)
        return 0;
    if (len > 1023) {
        error_setg(errp, "Backing file name too long");
        return -EINVAL;
    }
    if (bad_request(off, len)) {
        error_setg_errno(errp, EIO, "Could not open '%s'", node_name(n));
        return -EIO;
    }
    char *name = calloc(1, (size_t)len + 1);
    if (!name)
        return -ENOMEM;
    int ret = node_pread(n->file, off, len, name);
    if (ret < 0) {
        free(name);
        error_setg_errno(errp, ret, "Could not open '%s'", node_name(n));
        return ret;
    }
    if (name[0])
        n->backing_file = name; /* a C string: a name starting with NUL names nothing */
    else
        free(name);
    return 0;
}

static int qcow_open(struct node *n, struct opts *opts, struct error **errp)
{
    uint8_t h[QCOW_HEADER_SIZE];
    struct qcow_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    n->state = s;
    int ret = node_pread(n->file, 0, sizeof(h), h);
    if (ret < 0) {
        error_setg_errno(errp, ret, "Could not open '%s'", node_name(n));
        return ret;
    }
    if ((ret = qcow_check_header(n, h, errp)) < 0)
        return ret;
    s->crypt_method = get_be32(h + OFF_CRYPT);
    if ((ret = qcow_check_crypt(n, s, opts, errp)) < 0)
        return ret;
    s->cluster_bits = h[OFF_CLUSTER_BITS];
    s->l2_bits = h[OFF_L2_BITS];
    s->cluster_size = 1ull << s->cluster_bits;
    s->l2_size = 1ull << s->l2_bits;
    s->offset_mask = (1ull << (63 - s->cluster_bits)) - 1;
    uint64_t size = get_be64(h + OFF_SIZE);
    unsigned shift = s->cluster_bits + s->l2_bits;
    if (size > UINT64_MAX - (1ull << shift) ||
        ((size + (1ull << shift) - 1) >> shift) > INT_MAX / 8) {
        error_setg(errp, "Image too large");
        return -EINVAL;
    }
    s->l1_size = (size + (1ull << shift) - 1) >> shift;
    s->l1_offset = get_be64(h + OFF_L1_OFFSET);
    if ((ret = qcow_load_l1(n, s, errp)) < 0)
        return ret;
    if ((ret = qcow_read_backing_name(n, h, errp)) < 0)
        return ret;
    if (size / 512 > MAX_LENGTH / 512) {
        error_setg_errno(errp, EFBIG, "Could not refresh total sector count");
        return -EFBIG;
    }
    n->size = size / 512 * 512;
    s->cluster_buf = malloc(s->cluster_size);
    if (!s->cluster_buf)
        return -ENOMEM;
    return 0;
}

static void qcow_close(struct node *n)
{
    struct qcow_state *s = st(n);
    if (!s)
        return;
    for (int i = 0; i < L2_CACHE_SIZE; i++)
        free(s->l2_cache[i].table);
    free(s->l1);
    free(s->cluster_buf);
    free(s->crypt);
    free(s);
    n->state = NULL;
}

static uint64_t l1_get(const struct qcow_state *s, uint64_t idx)
{
    return idx < s->l1_loaded ? s->l1[idx] : 0;
}

/* The L2 table at l2_offset, through the cache. */
static int qcow_l2_load(struct node *n, uint64_t l2_offset, uint64_t **table)
{
    struct qcow_state *s = st(n);
    for (int i = 0; i < L2_CACHE_SIZE; i++) {
        if (s->l2_cache[i].offset == l2_offset && s->l2_cache[i].table) {
            *table = s->l2_cache[i].table;
            return 0;
        }
    }
    uint64_t bytes = s->l2_size * 8;
    if (bad_request(l2_offset, bytes))
        return -EIO;
    struct l2_slot *slot = &s->l2_cache[s->l2_next];
    s->l2_next = (s->l2_next + 1) % L2_CACHE_SIZE;
    if (!slot->table && !(slot->table = malloc(bytes)))
        return -ENOMEM;
    slot->offset = 0;
    uint8_t *raw = (uint8_t *)slot->table;
    int ret = node_check_pointer(n->file, l2_offset, bytes, QCOW_HEADER_SIZE, "an L2 table");
    if (ret == 0)
        ret = node_pread(n->file, l2_offset, bytes, raw);
    if (ret < 0)
        return ret;
    for (uint64_t i = 0; i < s->l2_size; i++)
        slot->table[i] = get_be64(raw + 8 * i);
    slot->offset = l2_offset;
    *table = slot->table;
    return 0;
}

/* The L2 entry of guest offset off (0: unallocated). */
static int qcow_lookup(struct node *n, uint64_t off, uint64_t *entry)
{
    struct qcow_state *s = st(n);
    uint64_t idx = off >> (s->l2_bits + s->cluster_bits), l2_offset = l1_get(s, idx);
    *entry = 0;
    if (!l2_offset && idx >= s->l1_loaded) /* its L1 table runs past the end of the file */
        return node_check_pointer(n->file, s->l1_offset + idx * 8, 8, 0, "an L1 table entry");
    if (!l2_offset)
        return 0;
    uint64_t *l2;
    int ret = qcow_l2_load(n, l2_offset, &l2);
    if (ret < 0)
        return ret;
    *entry = l2[(off >> s->cluster_bits) & (s->l2_size - 1)];
    return 0;
}

/* Inflate the compressed cluster `entry` into out (cluster_size bytes). */
static int qcow_decompress(struct node *n, uint64_t entry, uint8_t *out)
{
    struct qcow_state *s = st(n);
    uint64_t csize = (entry >> (63 - s->cluster_bits)) & (s->cluster_size - 1);
    uint64_t coff = entry & s->offset_mask;
    int ret = node_check_pointer(n->file, coff, csize, QCOW_HEADER_SIZE, "a compressed cluster");
    if (ret == 0)
        ret = node_pread(n->file, coff, csize, s->cluster_buf);
    if (ret < 0)
        return ret;
    z_stream z;
    memset(&z, 0, sizeof(z));
    z.next_in = s->cluster_buf;
    z.avail_in = (uInt)csize;
    z.next_out = out;
    z.avail_out = (uInt)s->cluster_size;
    if (inflateInit2(&z, -12) != Z_OK)
        return -EIO;
    int zr = inflate(&z, Z_FINISH);
    uint64_t produced = s->cluster_size - z.avail_out;
    inflateEnd(&z);
    if ((zr != Z_STREAM_END && zr != Z_BUF_ERROR) || produced != s->cluster_size)
        return -EIO;
    return 0;
}

/* Read [off, off+len) inside one encrypted cluster at host offset host: the whole sectors it
 * touches, decrypted with their guest sector numbers. */
static int qcow_read_encrypted(struct node *n, uint64_t off, uint64_t host, uint64_t len,
                               uint8_t *buf)
{
    struct qcow_state *s = st(n);
    uint64_t in = off & (s->cluster_size - 1);
    uint64_t lo = in & ~511ull, hi = (in + len + 511) & ~511ull;
    uint8_t *tmp = malloc(hi - lo);
    if (!tmp)
        return -ENOMEM;
    int ret = node_pread(n->file, host + lo, hi - lo, tmp);
    if (ret == 0) {
        sector_cipher_decrypt(s->crypt, (off - in + lo) / 512, tmp, hi - lo);
        memcpy(buf, tmp + (in - lo), len);
    }
    free(tmp);
    return ret;
}

/* Write [off, off+len) inside an allocated encrypted cluster at host offset host: partial
 * sectors are read and merged, then the sectors are encrypted and written. */
static int qcow_write_encrypted(struct node *n, uint64_t off, uint64_t host, uint64_t len,
                                const uint8_t *data)
{
    struct qcow_state *s = st(n);
    uint64_t in = off & (s->cluster_size - 1);
    uint64_t lo = in & ~511ull, hi = (in + len + 511) & ~511ull;
    uint64_t guest = off - in + lo;
    uint8_t *tmp = malloc(hi - lo);
    if (!tmp)
        return -ENOMEM;
    int ret = 0;
    if (lo != in || hi != in + len)
        ret = qcow_read_encrypted(n, guest, host, hi - lo, tmp);
    if (ret == 0) {
        memcpy(tmp + (in - lo), data, len);
        sector_cipher_encrypt(s->crypt, guest / 512, tmp, hi - lo);
        ret = node_pwrite(n->file, host + lo, hi - lo, tmp);
    }
    free(tmp);
    return ret;
}

/* Read [off, off+len) inside one cluster. */
static int qcow_read_in_cluster(struct node *n, uint64_t off, uint64_t len, uint8_t *buf)
{
    struct qcow_state *s = st(n);
    uint64_t entry;
    int ret = qcow_lookup(n, off, &entry);
    if (ret < 0)
        return ret;
    uint64_t in = off & (s->cluster_size - 1);
    if (!entry)
        return node_read_backing(n, off, len, buf);
    if (entry & QCOW_OFLAG_COMPRESSED) {
        uint8_t *tmp = malloc(s->cluster_size);
        if (!tmp)
            return -ENOMEM;
        ret = qcow_decompress(n, entry, tmp);
        if (ret == 0)
            memcpy(buf, tmp + in, len);
        free(tmp);
        return ret;
    }
    if (s->crypt)
        return qcow_read_encrypted(n, off, entry & s->offset_mask, len, buf);
    ret = node_check_pointer(n->file, entry & s->offset_mask, in + len, QCOW_HEADER_SIZE,
                             "a cluster");
    return ret < 0 ? ret : node_pread(n->file, (entry & s->offset_mask) + in, len, buf);
}

static int qcow_pread(struct node *n, uint64_t off, uint64_t len, void *buf)
{
    struct qcow_state *s = st(n);
    uint8_t *p = buf;
    while (len) {
        uint64_t in = off & (s->cluster_size - 1);
        uint64_t run = s->cluster_size - in < len ? s->cluster_size - in : len;
        int ret = qcow_read_in_cluster(n, off, run, p);
        if (ret < 0)
            return ret;
        off += run;
        p += run;
        len -= run;
    }
    return 0;
}

static int qcow_block_status(struct node *n, uint64_t off, uint64_t len, struct block_status *out)
{
    struct qcow_state *s = st(n);
    uint64_t entry;
    int ret = qcow_lookup(n, off, &entry);
    if (ret < 0)
        return ret;
    uint64_t in = off & (s->cluster_size - 1);
    out->len = s->cluster_size - in < len ? s->cluster_size - in : len;
    if (!entry)
        return 0;
    out->flags = BS_DATA;
    if ((entry & QCOW_OFLAG_COMPRESSED) || s->crypt_method)
        return 0;
    out->flags |= BS_OFFSET_VALID;
    out->offset = (entry & s->offset_mask) | in;
    out->file = n->file;
    return 0;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

/* Write one big-endian u64 at off in the file. */
static int write_be64(struct node *f, uint64_t off, uint64_t v)
{
    uint8_t b[8];
    put_be64(b, v);
    return node_pwrite(f, off, 8, b);
}

/* Make sure the L1 entry of off points to an L2 table: a new zeroed table goes at the end of the
 * file and is durable before the L1 entry that names it. */
static int qcow_ensure_l2(struct node *n, uint64_t off, uint64_t *l2_offset)
{
    struct qcow_state *s = st(n);
    uint64_t idx = off >> (s->l2_bits + s->cluster_bits);
    *l2_offset = l1_get(s, idx);
    if (*l2_offset)
        return 0;
    if (idx >= s->l1_loaded) {
        uint64_t *nl = realloc(s->l1, (idx + 1) * 8);
        if (!nl)
            return -ENOMEM;
        memset(nl + s->l1_loaded, 0, (idx + 1 - s->l1_loaded) * 8);
        s->l1 = nl;
        s->l1_loaded = idx + 1;
    }
    uint64_t pos = align_up(n->file->size, s->cluster_size);
    uint64_t bytes = s->l2_size * 8;
    if (bad_request(pos, bytes))
        return -EFBIG;
    uint8_t *z = calloc(1, bytes);
    if (!z)
        return -ENOMEM;
    int ret = node_pwrite(n->file, pos, bytes, z);
    free(z);
    if (ret == 0)
        ret = node_flush(n->file);
    if (ret == 0)
        ret = write_be64(n->file, s->l1_offset + idx * 8, pos);
    if (ret == 0)
        ret = node_flush(n->file);
    if (ret < 0)
        return ret;
    s->l1[idx] = pos;
    *l2_offset = pos;
    return 0;
}

/* Allocate the cluster of off, filled with what it read as (backing file or decompressed data)
 * merged with the new bytes, then point the L2 entry at it. */
static int qcow_write_new_cluster(struct node *n, uint64_t off, uint64_t len, const uint8_t *data)
{
    struct qcow_state *s = st(n);
    uint64_t start = off & ~(s->cluster_size - 1);
    uint64_t in = off - start;
    uint64_t l2_offset;
    int ret = qcow_ensure_l2(n, off, &l2_offset);
    if (ret < 0)
        return ret;
    uint8_t *buf = malloc(s->cluster_size);
    if (!buf)
        return -ENOMEM;
    uint64_t clen = s->cluster_size;
    if (start + clen > n->size)
        clen = n->size - start;
    memset(buf, 0, s->cluster_size);
    if (len < s->cluster_size)
        ret = qcow_read_in_cluster(n, start, clen, buf);
    memcpy(buf + in, data, len);
    if (s->crypt)
        sector_cipher_encrypt(s->crypt, start / 512, buf, s->cluster_size);
    uint64_t pos = align_up(n->file->size, s->cluster_size);
    if (ret == 0 && (bad_request(pos, s->cluster_size) || pos > s->offset_mask))
        ret = -EFBIG;
    if (ret == 0)
        ret = node_pwrite(n->file, pos, s->cluster_size, buf);
    free(buf);
    if (ret == 0)
        ret = node_flush(n->file);
    uint64_t l2_index = (off >> s->cluster_bits) & (s->l2_size - 1);
    if (ret == 0)
        ret = write_be64(n->file, l2_offset + l2_index * 8, pos);
    if (ret < 0)
        return ret;
    uint64_t *l2;
    ret = qcow_l2_load(n, l2_offset, &l2);
    if (ret == 0)
        l2[l2_index] = pos;
    return ret;
}

static int qcow_pwrite(struct node *n, uint64_t off, uint64_t len, const void *buf)
{
    struct qcow_state *s = st(n);
    const uint8_t *p = buf;
    if (s->crypt_method && !s->crypt)
        return -ENOTSUP;
    while (len) {
        uint64_t in = off & (s->cluster_size - 1);
        uint64_t run = s->cluster_size - in < len ? s->cluster_size - in : len;
        uint64_t entry;
        int ret = qcow_lookup(n, off, &entry);
        if (ret < 0)
            return ret;
        if (entry && !(entry & QCOW_OFLAG_COMPRESSED) && s->crypt)
            ret = qcow_write_encrypted(n, off, entry & s->offset_mask, run, p);
        else if (entry && !(entry & QCOW_OFLAG_COMPRESSED))
            ret = node_pwrite(n->file, (entry & s->offset_mask) + in, run, p);
        else
            ret = qcow_write_new_cluster(n, off, run, p);
        if (ret < 0)
            return ret;
        off += run;
        p += run;
        len -= run;
    }
    return 0;
}

/* Raw deflate of one cluster, as qemu's qcow: the size, or 0 when it does not shrink. */
static uint64_t qcow_deflate(const uint8_t *src, uint64_t len, uint8_t *dst)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    z.next_in = (Bytef *)src;
    z.avail_in = (uInt)len;
    z.next_out = dst;
    z.avail_out = (uInt)len;
    int zr = deflate(&z, Z_FINISH);
    uint64_t out = len - z.avail_out;
    deflateEnd(&z);
    return zr == Z_STREAM_END && out < len ? out : 0;
}

/* One compressed cluster: the bytes go at the end of the file, unaligned, and the L2 entry carries
 * the compressed flag and the byte count above the offset bits. */
static int qcow_write_compressed_cluster(struct node *n, uint64_t off, uint64_t len,
                                         const uint8_t *src, uint8_t *out)
{
    struct qcow_state *s = st(n);
    uint64_t clen = qcow_deflate(src, s->cluster_size, out);
    if (!clen)
        return qcow_pwrite(n, off, len, src); /* incompressible: a normal cluster */
    uint64_t l2_offset, entry, *l2;
    int ret = qcow_ensure_l2(n, off, &l2_offset);
    if (ret == 0)
        ret = qcow_lookup(n, off, &entry);
    if (ret < 0)
        return ret;
    if (entry)
        return -EIO; /* only unallocated clusters are written compressed */
    uint64_t pos = align_up(n->file->size, 512); /* qemu's file length is in whole sectors */
    if (bad_request(pos, clen) || pos > s->offset_mask)
        return -EFBIG;
    uint64_t l2_index = (off >> s->cluster_bits) & (s->l2_size - 1);
    entry = pos | QCOW_OFLAG_COMPRESSED | (clen << (63 - s->cluster_bits));
    if ((ret = node_pwrite(n->file, pos, clen, out)) < 0 || (ret = node_flush(n->file)) < 0 ||
        (ret = write_be64(n->file, l2_offset + l2_index * 8, entry)) < 0 ||
        (ret = qcow_l2_load(n, l2_offset, &l2)) < 0)
        return ret;
    l2[l2_index] = entry;
    return 0;
}

static int qcow_pwrite_compressed(struct node *n, uint64_t off, uint64_t len, const void *buf)
{
    struct qcow_state *s = st(n);
    uint64_t cs = s->cluster_size;
    if (s->crypt_method)
        return -ENOTSUP;
    /* qemu's qcow takes whole clusters, or the short last one: convert's end-of-stream signal
     * (len 0 at 0) fails with EINVAL, so qemu-img convert -c -O qcow exits 1 */
    if ((off & (cs - 1)) || ((len & (cs - 1)) && off + len != n->size) || len == 0)
        return -EINVAL;
    uint8_t *in = malloc(cs), *out = malloc(cs);
    int ret = in && out ? 0 : -ENOMEM;
    const uint8_t *p = buf;
    while (ret == 0 && len) {
        uint64_t chunk = len < cs ? len : cs;
        memcpy(in, p, chunk);
        memset(in + chunk, 0, cs - chunk); /* the short last cluster is padded */
        ret = qcow_write_compressed_cluster(n, off, chunk, in, out);
        off += chunk;
        p += chunk;
        len -= chunk;
    }
    free(in);
    free(out);
    return ret;
}

/* qemu's qcow_make_empty (commit empties the top image): a zeroed L1 table, the file cut right
 * after it. */
static int qcow_make_empty(struct node *n)
{
    struct qcow_state *s = st(n);
    memset(s->l1, 0, s->l1_loaded * 8);
    int ret = node_write_zero_buffers(n->file, s->l1_offset, s->l1_size * 8);
    if (ret == 0)
        ret = node_flush(n->file);
    if (ret < 0)
        return ret;
    ret = node_truncate(n->file, s->l1_offset + s->l1_size * 8, false, PREALLOC_OFF, NULL);
    for (int i = 0; i < L2_CACHE_SIZE; i++)
        s->l2_cache[i].offset = 0;
    return ret;
}

/* qemu's qcow has bdrv_has_zero_init_1: a new image reads as zeros (the core excludes backing) */
static bool qcow_has_zero_init(struct node *n)
{
    (void)n;
    return true;
}

static int qcow_get_info(struct node *n, struct node_info *info, struct error **errp)
{
    (void)errp;
    info->cluster_size = st(n)->cluster_size;
    info->encrypted = st(n)->crypt_method != QCOW_CRYPT_NONE;
    return 0;
}

/* qemu's legacy encryption options: encryption=on is an alias of encrypt.format=aes (which
 * qemu also spells "qcow"). Returns 1 to encrypt, 0 not to, or -errno. */
static int qcow_create_crypt(struct opts *opts, struct error **errp)
{
    const char *fmt = opts_get(opts, "encrypt.format"), *id = opts_get(opts, "encrypt.key-secret");
    const uint8_t *pass;
    size_t pass_len;
    bool on = false;
    if (opts_get_bool(opts, "encryption", &on, errp) < 0)
        return -EINVAL;
    if (on)
        fmt = "aes";
    if (!fmt) {
        if (!id)
            return 0;
        error_setg(errp, "Parameter 'encrypt.format' is missing");
        return -EINVAL;
    }
    if (!strcmp(fmt, "luks")) {
        error_setg(errp, "Unsupported encryption format");
        return -EINVAL;
    }
    if (strcmp(fmt, "aes") && strcmp(fmt, "qcow")) {
        error_setg(errp, "Parameter 'format' does not accept value '%s'", fmt);
        return -EINVAL;
    }
    int ret = secret_lookup_required("encrypt.key-secret", id, &pass, &pass_len, errp);
    return ret < 0 ? ret : 1;
}

static int qcow_create(const char *filename, struct opts *opts, struct error **errp)
{
    uint64_t size = 0;
    enum prealloc prealloc = PREALLOC_OFF;
    const char *p = opts_get(opts, "preallocation");
    const char *backing = opts_get(opts, "backing_file");
    if (opts_get_size(opts, "size", &size, errp) < 0)
        return -EINVAL;
    if (p && prealloc_parse(p, &prealloc) < 0) {
        error_setg(errp, "invalid parameter value: %s", p);
        return -EINVAL;
    }
    bool on = false;
    if (opts_get_bool(opts, "encryption", &on, errp) == 0 && on && opts_get(opts, "encrypt.format")) {
        /* qemu renames the alias before it creates the file */
        error_setg(errp, "'encrypt.format' and its alias 'encryption' can't be used at the same time");
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
    size = align_up(size, 512);
    if (size == 0) {
        error_setg(errp, "Image size is too small, cannot be zero length");
        return -EINVAL;
    }
    int crypt = qcow_create_crypt(opts, errp);
    if (crypt < 0)
        return crypt;

    uint8_t h[QCOW_HEADER_SIZE] = { 0 };
    uint64_t header_size = QCOW_HEADER_SIZE, backing_len = backing ? strlen(backing) : 0;
    put_be32(h, QCOW_MAGIC);
    put_be32(h + OFF_VERSION, QCOW_VERSION);
    put_be64(h + OFF_SIZE, size);
    put_be32(h + OFF_CRYPT, crypt ? QCOW_CRYPT_AES : QCOW_CRYPT_NONE);
    if (backing) {
        put_be64(h + OFF_BACKING_OFFSET, header_size);
        put_be32(h + OFF_BACKING_SIZE, (uint32_t)backing_len);
        header_size += backing_len;
        h[OFF_CLUSTER_BITS] = 9;  /* small clusters: little to copy from the backing file */
        h[OFF_L2_BITS] = 12;
    } else {
        h[OFF_CLUSTER_BITS] = 12;
        h[OFF_L2_BITS] = 9;
    }
    header_size = align_up(header_size, 8);
    unsigned shift = h[OFF_CLUSTER_BITS] + h[OFF_L2_BITS];
    uint64_t l1_size = (size + (1ull << shift) - 1) >> shift;
    put_be64(h + OFF_L1_OFFSET, header_size);
    /* qemu counts the L1 sectors it zeroes in an int: huge tables are left unwritten */
    int32_t l1_int = (int32_t)(uint32_t)l1_size;
    uint64_t l1_sectors = l1_int > 0 ? ((uint64_t)l1_int * 8 + 511) / 512 : 0;

    struct node *f = node_open(filename, "file", NULL, NODE_RDWR, errp);
    if (!f)
        return -EIO;
    ret = node_pwrite(f, 0, sizeof(h), h);
    if (ret == 0 && backing_len)
        ret = node_pwrite(f, sizeof(h), backing_len, backing);
    if (ret == 0)
        ret = node_write_zero_buffers(f, header_size, l1_sectors * 512);
    if (ret == 0)
        ret = node_flush(f);
    if (ret < 0)
        error_setg_errno(errp, ret, "Could not write image");
    node_close(f);
    return ret;
}

const struct driver driver_qcow = {
    .name = "qcow",
    .flags = DRV_BACKING,
    .open_opts = qcow_open_opts,
    .create_opts = qcow_create_opts,
    .probe = qcow_probe,
    .open = qcow_open,
    .close = qcow_close,
    .pread = qcow_pread,
    .pwrite = qcow_pwrite,
    .pwrite_compressed = qcow_pwrite_compressed,
    .has_zero_init = qcow_has_zero_init,
    .make_empty = qcow_make_empty,
    .block_status = qcow_block_status,
    .get_info = qcow_get_info,
    .create = qcow_create,
};
