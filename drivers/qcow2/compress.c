/* qcow2 compressed cluster writes (docs/interop/qcow2.txt "Compressed Clusters Descriptor"), as
 * qemu 7.2 writes them: raw deflate (window 2^12) or one zstd frame per cluster, compressed outside
 * the metadata lock; the bytes are packed into shared host clusters, each referenced once per use. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#ifdef HAVE_ZSTD
#include <zstd.h>
#include <zstd_errors.h>
#endif

#include "bswap.h"
#include "qcow2.h"

/* Compress src (len bytes) into dst (at most cap bytes); returns the size, -ENOSPC when it does not
 * fit, or another -errno. */
static int64_t deflate_raw(const uint8_t *src, size_t len, uint8_t *dst, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return -ENOMEM;
    z.next_in = (Bytef *)src;
    z.avail_in = (uInt)len;
    z.next_out = dst;
    z.avail_out = (uInt)cap;
    int ret = deflate(&z, Z_FINISH);
    int64_t result = ret == Z_STREAM_END ? (int64_t)(cap - z.avail_out)
                                         : (ret == Z_OK || ret == Z_BUF_ERROR ? -ENOSPC : -EIO);
    deflateEnd(&z);
    return result;
}

#ifdef HAVE_ZSTD
static int64_t zstd_frame(const uint8_t *src, size_t len, uint8_t *dst, size_t cap)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    if (!c)
        return -ENOMEM;
    ZSTD_inBuffer ib = { src, len, 0 };
    ZSTD_outBuffer ob = { dst, cap, 0 };
    size_t r = ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_end);
    int64_t result;
    if (ZSTD_isError(r))
        result = ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall ? -ENOSPC : -EIO;
    else if (r != 0)
        result = -ENOSPC; /* the frame did not fit */
    else
        result = (int64_t)ob.pos;
    ZSTD_freeCCtx(c);
    return result;
}
#endif

static int64_t compress_cluster(const struct qcow2 *s, const uint8_t *src, uint8_t *dst)
{
    /* qemu only keeps results strictly smaller than the cluster */
    size_t cap = s->cluster_size - 1;
    if (s->compression_type == COMPRESSION_ZLIB)
        return deflate_raw(src, s->cluster_size, dst, cap);
#ifdef HAVE_ZSTD
    return zstd_frame(src, s->cluster_size, dst, cap);
#else
    return -ENOTSUP;
#endif
}

static uint64_t refcount_max(const struct qcow2 *s)
{
    return s->refcount_bits >= 64 ? UINT64_MAX : (1ull << s->refcount_bits) - 1;
}

/* qemu's qcow2_alloc_bytes: size bytes after the previous compressed cluster when they fit in its
 * host cluster (or run on into a freshly allocated adjacent one), else at a new host cluster; every
 * host cluster touched gains one reference. */
static int64_t alloc_bytes(struct qcow2 *s, uint64_t size)
{
    uint64_t cs = s->cluster_size, off = s->free_byte_offset, rc;
    int ret;
    if (off) {
        if ((ret = qcow2_get_refcount(s, off >> s->cluster_bits, &rc)) < 0)
            return ret;
        if (rc >= refcount_max(s))
            off = 0;
    }
    uint64_t free_in = off ? cs - (off & (cs - 1)) : 0;
    bool old_ref = off != 0; /* the cluster at off needs a new reference */
    if (!off || free_in < size) {
        int64_t nc = qcow2_alloc_clusters(s, 1); /* referenced once already */
        if (nc < 0)
            return nc;
        if (!off || ((off + cs - 1) & ~(cs - 1)) != (uint64_t)nc) {
            off = (uint64_t)nc;
            old_ref = false;
        }
    }
    if (old_ref && (ret = qcow2_update_refcount(s, off >> s->cluster_bits, 1)) < 0)
        return ret;
    s->free_byte_offset = (off + size) & (cs - 1) ? off + size : 0;
    return (int64_t)off;
}

/* Point the unallocated guest cluster at off to size compressed bytes; *host gets where to write
 * them. Called with s->lock held. */
static int map_compressed(struct qcow2 *s, uint64_t off, uint64_t size, uint64_t *host)
{
    uint64_t l1_idx = off >> (s->cluster_bits + s->l2_bits);
    uint64_t l2_idx = (off >> s->cluster_bits) & ((1ull << s->l2_bits) - 1);
    uint64_t l2_off;
    uint8_t *t;
    int ret = qcow2_l2_for_write(s, l1_idx, &l2_off);
    if (ret < 0)
        return ret;
    if ((ret = cache_get(s->l2_cache, l2_off, (void **)&t)) < 0)
        return ret;
    /* compression never overwrites: qemu fails on any cluster with a host offset */
    if (get_be64(t + l2_idx * s->l2_entry_size) & L2E_OFFSET_MASK) {
        ret = -EIO;
        goto out;
    }
    int64_t a = alloc_bytes(s, size);
    if (a < 0) {
        ret = (int)a;
        goto out;
    }
    unsigned shift = 62 - (s->cluster_bits - 8);
    if ((uint64_t)a >= 1ull << shift) {
        ret = -EFBIG;
        goto out;
    }
    uint64_t nsec = (((uint64_t)a + size - 1) >> 9) - ((uint64_t)a >> 9);
    put_be64(t + l2_idx * s->l2_entry_size, (uint64_t)a | OFLAG_COMPRESSED | (nsec << shift));
    if (s->ext_l2)
        put_be64(t + l2_idx * 16 + 8, 0);
    cache_mark_dirty(s->l2_cache, t);
    *host = (uint64_t)a;
out:
    cache_put(s->l2_cache, t);
    return ret;
}

/* Write one guest cluster whose compressed form (clen bytes in out) is ready; clen -ENOSPC: the
 * raw cluster src goes in as a normal cluster, as qemu does for incompressible data. */
static int write_prepared(struct node *n, struct qcow2 *s, uint64_t off, uint64_t len,
                          const uint8_t *src, const uint8_t *out, int64_t clen)
{
    if (clen == -ENOSPC)
        return qcow2_pwrite(n, off, len, src);
    if (clen <= 0 || (uint64_t)clen >= s->cluster_size)
        return clen < 0 ? (int)clen : -EINVAL;
    uint64_t host = 0;
    pthread_mutex_lock(&s->lock);
    int ret = qcow2_check_writable(s);
    if (ret == 0)
        qcow2_bitmaps_set_dirty(s, off, len);
    if (ret == 0)
        ret = map_compressed(s, off, (uint64_t)clen, &host);
    pthread_mutex_unlock(&s->lock);
    if (ret == 0)
        ret = node_pwrite(n->file, host, (uint64_t)clen, out);
    return ret;
}

/* One whole guest cluster (src holds cluster_size bytes; len is what the guest covers). */
static int write_one(struct node *n, struct qcow2 *s, uint64_t off, uint64_t len,
                     const uint8_t *src, uint8_t *out)
{
    return write_prepared(n, s, off, len, src, out, compress_cluster(s, src, out));
}

/* Where a compressed write of len bytes at off may go: whole clusters, the image's last one short. */
static int check_compressed_range(struct node *n, struct qcow2 *s, uint64_t off, uint64_t len)
{
    uint64_t cs = s->cluster_size;
    if (s->crypt_method || s->data_file_name)
        return -ENOTSUP;
    if (off & (cs - 1))
        return -EINVAL;
    if ((len & (cs - 1)) && off + len != n->size)
        return -EINVAL;
    return 0;
}

int64_t qcow2_compress_cluster(struct node *n, const void *in, void *out)
{
    return compress_cluster(qcow2_state(n), in, out);
}

int qcow2_pwrite_compressed_prepared(struct node *n, uint64_t off, uint64_t len, const void *in,
                                     const void *out, int64_t clen)
{
    struct qcow2 *s = qcow2_state(n);
    int ret = check_compressed_range(n, s, off, len);
    if (ret == 0 && len > s->cluster_size)
        ret = -EINVAL;
    return ret < 0 ? ret : write_prepared(n, s, off, len, in, out, clen);
}

/* len 0 ends a compressed convert: qemu rounds the file up to whole sectors. */
static int align_file_end(struct qcow2 *s)
{
    struct node *f = s->node->file;
    pthread_mutex_lock(&s->lock);
    int ret = f->size & 511 ? node_truncate(f, (f->size + 511) & ~511ull, false, PREALLOC_OFF, NULL)
                            : 0;
    pthread_mutex_unlock(&s->lock);
    return ret;
}

int qcow2_pwrite_compressed(struct node *n, uint64_t off, uint64_t len, const void *buf)
{
    struct qcow2 *s = qcow2_state(n);
    uint64_t cs = s->cluster_size;
    if (s->crypt_method || s->data_file_name)
        return -ENOTSUP;
    if (len == 0)
        return align_file_end(s);
    /* whole clusters only; the image's last one may be short and is padded with zeros */
    int cret = check_compressed_range(n, s, off, len);
    if (cret < 0)
        return cret;
    uint8_t *in = malloc(cs), *out = malloc(cs);
    int ret = in && out ? 0 : -ENOMEM;
    const uint8_t *p = buf;
    while (ret == 0 && len) {
        uint64_t chunk = len < cs ? len : cs;
        memcpy(in, p, chunk);
        memset(in + chunk, 0, cs - chunk);
        ret = write_one(n, s, off, chunk, in, out);
        off += chunk;
        p += chunk;
        len -= chunk;
    }
    free(in);
    free(out);
    return ret;
}
