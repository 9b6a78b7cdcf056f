/* qcow2 cluster mapping (docs/interop/qcow2.txt "Cluster mapping", "Extended L2 Entries",
 * "Compressed Clusters Descriptor"): L1/L2 lookups through the LRU cache, the read path with
 * decompression outside the metadata lock, block status with qemu 7.2's flags, and the write path
 * (allocation with COW from the backing chain, zero clusters, discard). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#ifdef HAVE_ZSTD
#include <zstd.h>
#endif

#include "bswap.h"
#include "qcow2.h"

#define ALL_ZERO_BITS 0xffffffff00000000ull

int qcow2_l2_cache_read(void *opaque, uint64_t off, void *buf, size_t len)
{
    struct qcow2 *s = opaque;
    if (off > QCOW2_MAX_IO_OFFSET - len)
        return -EIO; /* qemu's block layer refuses requests beyond its maximum length */
    int ret = qcow2_l2_read_check(s, off, len);
    return ret < 0 ? ret : node_pread(s->node->file, off, len, buf);
}

int qcow2_l2_cache_write(void *opaque, uint64_t off, const void *buf, size_t len)
{
    struct qcow2 *s = opaque;
    /* qemu's qcow2_cache_entry_flush: a table written back over other metadata is refused */
    int ret = qcow2_pre_write_overlap_check(s, 1 << 2, off, len);
    return ret < 0 ? ret : node_pwrite(s->node->file, off, len, buf);
}

int qcow2_l2_before_write(void *opaque)
{
    struct qcow2 *s = opaque;
    /* new clusters are counted on disk, behind a barrier, before an L2 table points at them */
    if (!s->rc_unsynced)
        return 0;
    int ret = cache_flush(s->rc_cache);
    if (ret == 0)
        ret = node_flush(s->node->file);
    if (ret == 0)
        s->rc_unsynced = false;
    return ret;
}

static uint64_t l2_get(const struct qcow2 *s, const uint8_t *t, uint64_t i)
{
    return get_be64(t + i * s->l2_entry_size);
}

static uint64_t l2_bitmap(const struct qcow2 *s, const uint8_t *t, uint64_t i)
{
    return s->ext_l2 ? get_be64(t + i * 16 + 8) : 0;
}

/* Type and host offset of subcluster sc of an L2 entry; -EIO on corruption. */
/* Where an entry lives, for corruption messages. */
struct l2_pos {
    uint64_t l2_off, idx;
};

static int classify(struct qcow2 *s, uint64_t e, uint64_t bm, unsigned sc, enum qcow2_type *type,
                    uint64_t *host, struct l2_pos pos)
{
    *host = e & L2E_OFFSET_MASK;
    if (e & OFLAG_COMPRESSED) {
        if (bm) {
            qcow2_signal_corruption(s, "Compressed cluster with a subcluster bitmap");
            return -EIO;
        }
        *type = Q_COMPRESSED;
        return 0;
    }
    bool allocated = *host || (s->data_file_name && (e & OFLAG_COPIED));
    if (allocated && (*host & (s->cluster_size - 1))) {
        qcow2_signal_corruption(s, "Cluster allocation offset %#" PRIx64 " unaligned (L2 offset: %#"
                                   PRIx64 ", L2 index: %#x)", *host, pos.l2_off, (unsigned)pos.idx);
        return -EIO;
    }
    if (!s->ext_l2) {
        if (e & OFLAG_ZERO)
            *type = Q_ZERO;
        else
            *type = allocated ? Q_NORMAL : Q_UNALLOC;
        return 0;
    }
    bool a = bm & (1ull << sc), z = bm & (1ull << (32 + sc));
    if ((a && z) || (a && !allocated)) {
        qcow2_signal_corruption(s, "Invalid cluster entry found (L2 entry %#" PRIx64
                                   ", bitmap %#" PRIx64 ")", e, bm);
        return -EIO;
    }
    if (z)
        *type = Q_ZERO;
    else if (a)
        *type = Q_NORMAL;
    else
        *type = Q_UNALLOC;
    if (allocated)
        *host += (uint64_t)sc << s->sc_bits;
    return 0;
}

static int get_l2(struct qcow2 *s, uint64_t l1_idx, uint8_t **t)
{
    uint64_t l2_off = s->l1[l1_idx] & L1E_OFFSET_MASK;
    if (l2_off & (s->cluster_size - 1)) {
        qcow2_signal_corruption(s, "L2 table offset %#" PRIx64 " unaligned (L1 index: %#" PRIx64
                                   ")", l2_off, l1_idx);
        return -EIO;
    }
    return cache_get(s->l2_cache, l2_off, (void **)t);
}

int qcow2_lookup(struct qcow2 *s, uint64_t off, uint64_t len, struct qcow2_map *m)
{
    uint64_t l1_idx = off >> (s->cluster_bits + s->l2_bits);
    uint64_t l2_idx = (off >> s->cluster_bits) & ((1ull << s->l2_bits) - 1);
    uint64_t table_end = (l1_idx + 1) << (s->cluster_bits + s->l2_bits);
    uint64_t max = table_end - off < len ? table_end - off : len;
    memset(m, 0, sizeof(*m));
    if (l1_idx >= s->l1_size || !(s->l1[l1_idx] & L1E_OFFSET_MASK)) {
        /* an entry of an L1 table that runs past the end of the file read as zero at open */
        int ret = l1_idx < s->l1_size ? node_check_pointer(s->node->file, s->l1_offset + l1_idx * 8,
                                                           8, 0, "an L1 table entry") : 0;
        if (ret < 0)
            return ret;
        m->type = Q_UNALLOC;
        m->bytes = max;
        return 0;
    }
    uint8_t *t;
    int ret = get_l2(s, l1_idx, &t);
    if (ret < 0)
        return ret;
    uint64_t unit = 1ull << s->sc_bits;
    unsigned sc = (unsigned)((off >> s->sc_bits) & (s->ext_l2 ? 31 : 0));
    uint64_t e = l2_get(s, t, l2_idx), bm = l2_bitmap(s, t, l2_idx);
    uint64_t l2_off = s->l1[l1_idx] & L1E_OFFSET_MASK;
    ret = classify(s, e, bm, sc, &m->type, &m->host, (struct l2_pos){ l2_off, l2_idx });
    if (ret < 0)
        goto out;
    m->l2_entry = e;
    uint64_t in_unit = off & (unit - 1);
    m->host += (m->type == Q_NORMAL) ? in_unit : 0;
    m->bytes = unit - in_unit;
    if (m->type == Q_COMPRESSED) {
        m->bytes = s->cluster_size - (off & (s->cluster_size - 1));
        goto out;
    }
    uint64_t next_host = m->host + m->bytes;
    while (m->bytes < max) {
        if (++sc == (s->ext_l2 ? 32u : 1u)) {
            sc = 0;
            if (++l2_idx == (1ull << s->l2_bits))
                break;
            e = l2_get(s, t, l2_idx);
            bm = l2_bitmap(s, t, l2_idx);
        }
        enum qcow2_type ty;
        uint64_t h;
        if (classify(s, e, bm, sc, &ty, &h, (struct l2_pos){ l2_off, l2_idx }) < 0 ||
            ty != m->type)
            break;
        /* qemu's *_PLAIN and *_ALLOC kinds differ: a run keeps one, with contiguous hosts */
        if ((h != 0) != (m->host != 0) || (h && h != next_host))
            break;
        m->bytes += unit;
        next_host += unit;
    }
out:
    if (m->bytes > max)
        m->bytes = max;
    cache_put(s->l2_cache, t);
    return ret;
}

static int inflate_zlib(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, -12) != Z_OK)
        return -EIO;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)in_len;
    z.next_out = out;
    z.avail_out = (uInt)out_len;
    int ret = inflate(&z, Z_FINISH);
    int result = ((ret == Z_STREAM_END || ret == Z_BUF_ERROR) && z.avail_out == 0) ? 0 : -EIO;
    inflateEnd(&z);
    return result;
}

#ifdef HAVE_ZSTD
static int inflate_zstd(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len)
{
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d)
        return -ENOMEM;
    ZSTD_inBuffer ib = { in, in_len, 0 };
    ZSTD_outBuffer ob = { out, out_len, 0 };
    int result = 0;
    while (ob.pos < ob.size) {
        size_t prev_in = ib.pos, prev_out = ob.pos;
        size_t r = ZSTD_decompressStream(d, &ob, &ib);
        if (ZSTD_isError(r) || (ib.pos == prev_in && ob.pos == prev_out)) {
            result = -EIO;
            break;
        }
    }
    ZSTD_freeDCtx(d);
    return result;
}
#endif

/* Read and inflate one compressed cluster into out (cluster_size bytes). */
int qcow2_read_compressed(struct qcow2 *s, uint64_t e, uint8_t *out)
{
    unsigned shift = 62 - (s->cluster_bits - 8);
    uint64_t coff = e & ((1ull << shift) - 1);
    uint64_t nsec = ((e >> shift) & ((1ull << (s->cluster_bits - 8)) - 1)) + 1;
    uint64_t csize = nsec * 512 - (coff & 511);
    uint64_t fsize = s->node->file->size;
    /* the descriptor's last sector may end past the file's end; more than that, or a cluster in
     * the header, is corrupt under NODE_STRICT */
    int ret = node_check_pointer(s->node->file, coff, csize, s->cluster_size, "a compressed cluster");
    if (ret < 0)
        return ret;
    if (coff >= fsize)
        return -EIO;
    if (csize > fsize - coff)
        csize = fsize - coff;
    uint8_t *in = malloc(csize);
    if (!in)
        return -ENOMEM;
    ret = node_pread(s->node->file, coff, csize, in);
    if (ret == 0) {
        if (s->compression_type == COMPRESSION_ZLIB)
            ret = inflate_zlib(in, csize, out, s->cluster_size);
#ifdef HAVE_ZSTD
        else
            ret = inflate_zstd(in, csize, out, s->cluster_size);
#else
        else
            ret = -ENOTSUP;
#endif
    }
    free(in);
    return ret;
}

static int read_run(struct node *n, struct qcow2 *s, const struct qcow2_map *m, uint64_t off,
                    uint8_t *buf)
{
    switch (m->type) {
    case Q_UNALLOC:
        return node_read_backing(n, off, m->bytes, buf);
    case Q_ZERO:
        memset(buf, 0, m->bytes);
        return 0;
    case Q_NORMAL: {
        uint64_t end;
        if (__builtin_add_overflow(m->host, m->bytes, &end) || end > INT64_MAX)
            return -EIO;
        if (s->crypt_method)
            return qcow2_crypt_read(s, m->host, off, m->bytes, buf);
        return node_pread(s->data, m->host, m->bytes, buf);
    }
    case Q_COMPRESSED: {
        uint8_t *c = malloc(s->cluster_size);
        if (!c)
            return -ENOMEM;
        int ret = qcow2_read_compressed(s, m->l2_entry, c);
        if (ret == 0)
            memcpy(buf, c + (off & (s->cluster_size - 1)), m->bytes);
        free(c);
        return ret;
    }
    }
    return -EIO;
}

/* Read guest data; with locked the caller holds s->lock (write path). */
static int read_guest(struct node *n, uint64_t off, uint64_t len, uint8_t *buf, bool locked)
{
    struct qcow2 *s = qcow2_state(n);
    while (len) {
        struct qcow2_map m;
        if (!locked)
            pthread_mutex_lock(&s->lock);
        int ret = qcow2_lookup(s, off, len, &m);
        if (!locked)
            pthread_mutex_unlock(&s->lock);
        if (ret < 0)
            return ret;
        if ((ret = read_run(n, s, &m, off, buf)) < 0)
            return ret;
        off += m.bytes;
        buf += m.bytes;
        len -= m.bytes;
    }
    return 0;
}

int qcow2_pread(struct node *n, uint64_t off, uint64_t len, void *buf)
{
    return read_guest(n, off, len, buf, false);
}

/* qemu's qcow2_detect_metadata_preallocation: far more clusters counted than the file really
 * allocates means preallocated metadata, whose data clusters are holes worth asking about. */
static bool detect_metadata_prealloc(struct qcow2 *s)
{
    int64_t real = node_allocated_size(s->node->file);
    if (real < 0)
        return false;
    uint64_t real_clusters = (uint64_t)real / s->cluster_size;
    uint64_t threshold = real_clusters * 10 / 9;
    if (threshold < real_clusters + 2)
        threshold = real_clusters + 2;
    uint64_t end = (s->node->file->size + s->cluster_size - 1) / s->cluster_size, count = 0;
    for (uint64_t c = 0; c < end && count < threshold; c++) {
        uint64_t rc;
        if (qcow2_get_refcount(s, c, &rc) < 0)
            return false;
        count += rc != 0;
    }
    return count >= threshold;
}

int qcow2_block_status(struct node *n, uint64_t off, uint64_t len, struct block_status *out)
{
    struct qcow2 *s = qcow2_state(n);
    struct qcow2_map m;
    pthread_mutex_lock(&s->lock);
    if (!s->prealloc_checked) {
        s->metadata_prealloc = detect_metadata_prealloc(s);
        s->prealloc_checked = true;
    }
    int ret = qcow2_lookup(s, off, len, &m);
    pthread_mutex_unlock(&s->lock);
    if (ret < 0)
        return ret;
    out->len = m.bytes;
    out->flags = 0;
    bool host_valid = m.type == Q_NORMAL ||
                      ((m.type == Q_ZERO || m.type == Q_UNALLOC) && m.host);
    if (host_valid && !s->crypt_method) { /* qemu maps no encrypted data to the file */
        out->offset = m.host + (m.type == Q_NORMAL ? 0 : (off & ((1ull << s->sc_bits) - 1)));
        out->file = s->data;
        out->flags |= BS_OFFSET_VALID;
    }
    if (m.type == Q_ZERO)
        out->flags |= BS_ZERO;
    else if (m.type != Q_UNALLOC)
        out->flags |= BS_DATA;
    if (s->metadata_prealloc && (out->flags & BS_DATA) && (out->flags & BS_OFFSET_VALID))
        out->flags |= BS_RECURSE;
    return 0;
}

/* ---- writing ---- */

static int write_l1_entry(struct qcow2 *s, uint64_t idx)
{
    uint8_t b[8];
    put_be64(b, s->l1[idx]);
    return node_pwrite(s->node->file, s->l1_offset + idx * 8, 8, b);
}

int qcow2_grow_l1(struct qcow2 *s, uint64_t min_size)
{
    if (min_size <= s->l1_size)
        return 0;
    if (min_size > QCOW2_MAX_L1_BYTES / 8)
        return -EFBIG;
    uint64_t bytes = min_size * 8;
    uint64_t *nl1 = calloc(min_size, 8);
    uint8_t *raw = calloc(1, bytes);
    int ret = -ENOMEM;
    if (!nl1 || !raw)
        goto out;
    int64_t off = qcow2_alloc_clusters(s, (bytes + s->cluster_size - 1) >> s->cluster_bits);
    if (off < 0) {
        ret = (int)off;
        goto out;
    }
    for (uint64_t i = 0; i < s->l1_size; i++)
        nl1[i] = s->l1[i];
    for (uint64_t i = 0; i < min_size; i++)
        put_be64(raw + i * 8, nl1[i]);
    if ((ret = cache_flush(s->rc_cache)) < 0 ||
        (ret = node_pwrite(s->node->file, (uint64_t)off, bytes, raw)) < 0 ||
        (ret = node_flush(s->node->file)) < 0)
        goto out;
    uint8_t h[12];
    put_be32(h, (uint32_t)min_size);
    put_be64(h + 4, (uint64_t)off);
    if ((ret = node_pwrite(s->node->file, 36, 12, h)) < 0 || (ret = node_flush(s->node->file)) < 0)
        goto out;
    uint64_t old_off = s->l1_offset, old_size = s->l1_size;
    free(s->l1);
    s->l1 = nl1;
    nl1 = NULL;
    s->l1_offset = (uint64_t)off;
    s->l1_size = (uint32_t)min_size;
    if (old_size)
        ret = qcow2_free_later(s, old_off, (old_size * 8 + s->cluster_size - 1) >> s->cluster_bits);
out:
    free(nl1);
    free(raw);
    return ret;
}

/* An L2 table for l1_idx that may be modified in place (refcount 1), copying a shared one. */
int qcow2_l2_for_write(struct qcow2 *s, uint64_t l1_idx, uint64_t *l2_off)
{
    uint64_t e = s->l1[l1_idx];
    uint64_t old = e & L1E_OFFSET_MASK;
    if (old & (s->cluster_size - 1)) {
        qcow2_signal_corruption(s, "L2 table offset %#" PRIx64 " unaligned (L1 index: %#" PRIx64
                                   ")", old, l1_idx);
        return -EIO;
    }
    if (old && (e & OFLAG_COPIED)) {
        *l2_off = old;
        return 0;
    }
    int64_t nt = qcow2_alloc_clusters(s, 1);
    if (nt < 0)
        return (int)nt;
    uint8_t *buf = calloc(1, s->cluster_size);
    if (!buf)
        return -ENOMEM;
    int ret = 0;
    if (old) {
        uint8_t *t;
        if ((ret = get_l2(s, l1_idx, &t)) < 0)
            goto out;
        memcpy(buf, t, s->cluster_size);
        cache_put(s->l2_cache, t);
    }
    if ((ret = cache_flush(s->rc_cache)) < 0 ||
        (ret = node_pwrite(s->node->file, (uint64_t)nt, s->cluster_size, buf)) < 0 ||
        (ret = node_flush(s->node->file)) < 0)
        goto out;
    s->l1[l1_idx] = (uint64_t)nt | OFLAG_COPIED;
    if ((ret = write_l1_entry(s, l1_idx)) < 0)
        goto out;
    cache_drop(s->l2_cache, (uint64_t)nt);
    if (old)
        ret = qcow2_free_later(s, old, 1);
    *l2_off = (uint64_t)nt;
out:
    free(buf);
    return ret;
}

/* Release the host clusters an L2 entry references (applied at the next flush). */
int qcow2_free_entry(struct qcow2 *s, uint64_t e)
{
    if (s->data_file_name)
        return 0;
    if (e & OFLAG_COMPRESSED) {
        unsigned shift = 62 - (s->cluster_bits - 8);
        uint64_t coff = e & ((1ull << shift) - 1);
        uint64_t nsec = ((e >> shift) & ((1ull << (s->cluster_bits - 8)) - 1)) + 1;
        uint64_t start = coff & ~511ull, end = start + nsec * 512;
        uint64_t first = start >> s->cluster_bits, last = (end - 1) >> s->cluster_bits;
        return qcow2_free_later(s, first << s->cluster_bits, last - first + 1);
    }
    uint64_t host = e & L2E_OFFSET_MASK;
    return host ? qcow2_free_later(s, host, 1) : 0;
}

static int mark_dirty_once(struct qcow2 *s)
{
    if (s->marked_dirty || !(s->compat & COMPAT_LAZY_REFCOUNTS))
        return 0;
    s->marked_dirty = true;
    return qcow2_set_incompat(s, s->incompat | INCOMPAT_DIRTY);
}

static uint64_t sc_mask(const struct qcow2 *s, uint64_t in_cluster, uint64_t len)
{
    unsigned first = (unsigned)(in_cluster >> s->sc_bits);
    unsigned last = (unsigned)((in_cluster + len - 1) >> s->sc_bits);
    uint64_t m = 0;
    for (unsigned i = first; i <= last; i++)
        m |= 1ull << i;
    return m;
}

/* Write [off, off+len) inside one guest cluster. */
static int write_in_cluster(struct node *n, struct qcow2 *s, uint64_t off, uint64_t len,
                            const uint8_t *data)
{
    uint64_t cs = s->cluster_size, cstart = off & ~(cs - 1), in = off - cstart;
    uint64_t l1_idx = off >> (s->cluster_bits + s->l2_bits);
    uint64_t l2_idx = (off >> s->cluster_bits) & ((1ull << s->l2_bits) - 1);
    uint64_t l2_off;
    int ret = qcow2_l2_for_write(s, l1_idx, &l2_off);
    if (ret < 0)
        return ret;
    uint8_t *t;
    if ((ret = cache_get(s->l2_cache, l2_off, (void **)&t)) < 0)
        return ret;
    uint64_t e = l2_get(s, t, l2_idx), bm = l2_bitmap(s, t, l2_idx);
    uint64_t host = e & L2E_OFFSET_MASK;
    bool normal = !(e & OFLAG_COMPRESSED) && (host || (s->data_file_name && (e & OFLAG_COPIED)));
    uint64_t touched = s->ext_l2 ? sc_mask(s, in, len) : 0;
    uint8_t *buf = NULL;
    enum qcow2_type type;
    uint64_t unused;
    if (!(e & OFLAG_COMPRESSED) && (host & (cs - 1))) {
        qcow2_signal_corruption(s, "Data cluster offset %#" PRIx64 " unaligned (guest offset: %#"
                                   PRIx64 ")", host, cstart);
        ret = -EIO;
        goto out;
    }
    if ((ret = classify(s, e, bm, 0, &type, &unused, (struct l2_pos){ l2_off, l2_idx })) < 0)
        goto out;
    if (normal && (e & OFLAG_COPIED) && !(e & OFLAG_ZERO && !s->ext_l2) &&
        (!s->ext_l2 || (bm & touched) == touched)) {
        if (s->crypt_method)
            ret = qcow2_crypt_write(s, host + in, off, len, data);
        else
            ret = node_pwrite(s->data, host + in, len, data); /* plain overwrite in place */
        goto out;
    }
    buf = malloc(cs);
    if (!buf) {
        ret = -ENOMEM;
        goto out;
    }
    /* old guest content of the whole cluster, then the new bytes over it */
    uint64_t avail = n->size - cstart < cs ? n->size - cstart : cs;
    memset(buf + avail, 0, cs - avail);
    if ((ret = read_guest(n, cstart, avail, buf, true)) < 0)
        goto out;
    memcpy(buf + in, data, len);
    uint64_t nh;
    bool reuse = normal && (e & OFLAG_COPIED);
    if (reuse) {
        nh = host;
    } else if (s->data_file_name) {
        nh = cstart;
    } else {
        int64_t a = qcow2_alloc_clusters(s, 1);
        if (a < 0) {
            ret = (int)a;
            goto out;
        }
        nh = (uint64_t)a;
    }
    if (s->crypt_method)
        qcow2_crypt_encrypt(s, nh, cstart, buf, cs);
    if ((ret = node_pwrite(s->data, nh, cs, buf)) < 0)
        goto out;
    if (!reuse && (ret = qcow2_free_entry(s, e)) < 0)
        goto out;
    put_be64(t + l2_idx * s->l2_entry_size, nh | OFLAG_COPIED);
    if (s->ext_l2) {
        /* a compressed cluster was rewritten whole: every subcluster is data now */
        uint64_t alloc = (e & OFLAG_COMPRESSED) ? 0xffffffffull
                                                : (normal ? (bm & 0xffffffffull) : 0) | touched;
        uint64_t zero = (bm >> 32) & ~touched & ~alloc;
        put_be64(t + l2_idx * 16 + 8, alloc | (zero << 32));
    }
    cache_mark_dirty(s->l2_cache, t);
out:
    free(buf);
    cache_put(s->l2_cache, t);
    return ret;
}

/* New data at host offset host (guest offset guest), encrypted first when the image is. */
static int write_data(struct qcow2 *s, uint64_t host, uint64_t guest, uint64_t len,
                      const uint8_t *data)
{
    if (!s->crypt_method)
        return node_pwrite(s->data, host, len, data);
    uint8_t *tmp = malloc(len);
    if (!tmp)
        return -ENOMEM;
    memcpy(tmp, data, len);
    qcow2_crypt_encrypt(s, host, guest, tmp, len);
    int ret = node_pwrite(s->data, host, len, tmp);
    free(tmp);
    return ret;
}

/* The L2 table of a write request's first cluster, taken for writing (write_run). */
struct run_table {
    uint64_t cstart; /* the guest offset of that cluster */
    uint64_t l2_off, l2_idx;
    uint8_t *t;
};

/* A request's clusters from off (inside one L2 table) that all need a new host cluster: one
 * allocation and one data write for the run, as qemu does for a multi-cluster request. A first or
 * last cluster the request covers only in part joins the run only when the rest of it reads as
 * zeros from nowhere (no entry, no backing file, no encryption or subclusters): as qemu's
 * handle_alloc_space does then, the run's clusters are zeroed in the file without writing zero
 * buffers (fallocate), and only the request's bytes are written over them. *done is 0 when the
 * first cluster needs the general path (write_in_cluster). */
static int write_new_run(struct node *n, struct qcow2 *s, const struct run_table *rt,
                         uint64_t off, uint64_t len, const uint8_t *data, uint64_t *done)
{
    uint64_t cs = s->cluster_size, l2_entries = 1ull << s->l2_bits, end = off + len;
    uint64_t cstart = rt->cstart, l2_idx = rt->l2_idx, l2_off = rt->l2_off;
    uint8_t *t = rt->t;
    bool zero_cow = !n->backing && !n->backing_file && !s->ext_l2 && !s->crypt_method &&
                    !s->data_file_name;
    uint64_t count = 0, *hosts = NULL;
    bool partial = false;
    int ret = 0;
    *done = 0;
    if (off != cstart && !zero_cow)
        return 0;
    while (l2_idx + count < l2_entries && cstart + count * cs < end) {
        uint64_t i = l2_idx + count, e = l2_get(s, t, i), bm = l2_bitmap(s, t, i), host;
        uint64_t g = cstart + count * cs;
        bool whole = g >= off && g + cs <= end;
        enum qcow2_type type;
        if (!whole && (e || bm))
            break; /* its other bytes must be copied: the general path (and its checks) */
        if ((ret = classify(s, e, bm, 0, &type, &host, (struct l2_pos){ l2_off, i })) < 0)
            goto out;
        if (!(e & OFLAG_COMPRESSED) && host && (e & OFLAG_COPIED))
            break; /* owned cluster: overwritten in place by the general path */
        if (!whole && !zero_cow)
            break;
        partial = partial || !whole;
        count++;
    }
    if (!count)
        goto out;
    hosts = malloc(count * sizeof(*hosts));
    if (!hosts) {
        ret = -ENOMEM;
        goto out;
    }
    /* one contiguous run, as qemu allocates the clusters of one request (same host layout);
     * qcow2_alloc_clusters places missing refcount blocks at the start of their range, so a run
     * as long as a range could never be found: those go cluster by cluster */
    if (count < (1ull << s->rb_bits)) {
        int64_t a = qcow2_alloc_clusters(s, count);
        if (a < 0) {
            ret = (int)a;
            goto out;
        }
        for (uint64_t k = 0; k < count; k++)
            hosts[k] = (uint64_t)a + k * cs;
    }
    for (uint64_t k = 0; k < count && count >= (1ull << s->rb_bits); k++) {
        int64_t a = qcow2_alloc_clusters(s, 1);
        if (a < 0) {
            ret = (int)a;
            goto out;
        }
        hosts[k] = (uint64_t)a;
    }
    uint64_t run_end = cstart + count * cs < end ? cstart + count * cs : end;
    /* data first, one write per contiguous host run, then the entries that point at it */
    for (uint64_t k = 0, j; k < count; k = j + 1) {
        for (j = k; j + 1 < count && hosts[j + 1] == hosts[j] + cs; j++)
            ;
        uint64_t g0 = cstart + k * cs, g1 = cstart + (j + 1) * cs;
        uint64_t d0 = g0 > off ? g0 : off, d1 = g1 < run_end ? g1 : run_end;
        if (partial && (d0 != g0 || d1 != g1) &&
            node_pwrite_zeroes(s->data, hosts[k], g1 - g0, ZERO_NO_FALLBACK) < 0) {
            /* no way to zero without buffers here: the uncovered bytes get written zeros */
            if ((d0 != g0 && (ret = node_write_zero_buffers(s->data, hosts[k], d0 - g0)) < 0) ||
                (d1 != g1 &&
                 (ret = node_write_zero_buffers(s->data, hosts[k] + (d1 - g0), g1 - d1)) < 0))
                goto out;
        }
        if ((ret = write_data(s, hosts[k] + (d0 - g0), d0, d1 - d0, data + (d0 - off))) < 0)
            goto out;
    }
    for (uint64_t k = 0; k < count; k++) {
        uint64_t i = l2_idx + k;
        if ((ret = qcow2_free_entry(s, l2_get(s, t, i))) < 0)
            goto out;
        put_be64(t + i * s->l2_entry_size, hosts[k] | OFLAG_COPIED);
        if (s->ext_l2)
            put_be64(t + i * 16 + 8, 0xffffffffull); /* every subcluster allocated, none zero */
    }
    cache_mark_dirty(s->l2_cache, t);
    *done = run_end - off;
out:
    free(hosts);
    return ret;
}

/* A request's clusters from off (inside one L2 table) that this layer owns (data clusters with
 * the COPIED flag whose touched subclusters hold data), contiguous in the file: overwritten in
 * place with one write, as qemu writes a request's host run. *done is 0 when the first cluster
 * is not such a cluster (or anything about it is odd: the general path checks and reports). */
static int write_owned_run(struct qcow2 *s, const struct run_table *rt, uint64_t off,
                           uint64_t len, const uint8_t *data, uint64_t *done)
{
    uint64_t cs = s->cluster_size, l2_entries = 1ull << s->l2_bits, end = off + len;
    uint64_t cstart = rt->cstart, l2_idx = rt->l2_idx, first = 0, count = 0;
    const uint8_t *t = rt->t;
    *done = 0;
    while (l2_idx + count < l2_entries && cstart + count * cs < end) {
        uint64_t i = l2_idx + count, e = l2_get(s, t, i), bm = l2_bitmap(s, t, i);
        uint64_t host = e & L2E_OFFSET_MASK, g = cstart + count * cs;
        uint64_t in0 = g < off ? off - g : 0, in1 = g + cs > end ? end - g : cs;
        uint64_t touched = s->ext_l2 ? sc_mask(s, in0, in1 - in0) : 0;
        if ((e & OFLAG_COMPRESSED) || !(e & OFLAG_COPIED) || !host || (host & (cs - 1)) ||
            (count && host != first + count * cs))
            break;
        if (s->ext_l2 ? (bm & touched) != touched || ((bm >> 32) & touched) : (e & OFLAG_ZERO))
            break;
        first = count ? first : host;
        count++;
    }
    if (!count)
        return 0;
    uint64_t run_end = cstart + count * cs < end ? cstart + count * cs : end;
    int ret = node_pwrite(s->data, first + (off - cstart), run_end - off, data);
    if (ret == 0)
        *done = run_end - off;
    return ret;
}

/* A request's clusters from off, inside the L2 table that maps off, written in one go: a run
 * this layer allocates anew (write_new_run) or one it owns (write_owned_run), the table looked
 * up once for both. *done is 0 when the first cluster needs the general path. */
static int write_run(struct node *n, struct qcow2 *s, uint64_t off, uint64_t len,
                     const uint8_t *data, uint64_t *done)
{
    struct run_table rt = { .cstart = off & ~(s->cluster_size - 1) };
    rt.l2_idx = (rt.cstart >> s->cluster_bits) & ((1ull << s->l2_bits) - 1);
    *done = 0;
    int ret = qcow2_l2_for_write(s, rt.cstart >> (s->cluster_bits + s->l2_bits), &rt.l2_off);
    if (ret < 0 || (ret = cache_get(s->l2_cache, rt.l2_off, (void **)&rt.t)) < 0)
        return ret;
    ret = write_new_run(n, s, &rt, off, len, data, done);
    if (ret == 0 && !*done)
        ret = write_owned_run(s, &rt, off, len, data, done);
    cache_put(s->l2_cache, rt.t);
    return ret;
}

int qcow2_check_writable(struct qcow2 *s)
{
    if (s->incompat & INCOMPAT_CORRUPT)
        return -EIO;
    return mark_dirty_once(s);
}

int qcow2_pwrite(struct node *n, uint64_t off, uint64_t len, const void *buf)
{
    struct qcow2 *s = qcow2_state(n);
    const uint8_t *p = buf;
    pthread_mutex_lock(&s->lock);
    int ret = qcow2_check_writable(s);
    if (ret == 0)
        qcow2_bitmaps_set_dirty(s, off, len);
    while (ret == 0 && len) {
        uint64_t chunk = s->cluster_size - (off & (s->cluster_size - 1));
        if (chunk > len)
            chunk = len;
        /* (encrypted data goes through write_in_cluster, which encrypts it) */
        if (!s->data_file_name && !s->crypt_method) {
            uint64_t done;
            ret = write_run(n, s, off, len, p, &done);
            if (ret == 0 && done) {
                off += done;
                p += done;
                len -= done;
                continue;
            }
        }
        if (ret == 0)
            ret = write_in_cluster(n, s, off, chunk, p);
        off += chunk;
        p += chunk;
        len -= chunk;
    }
    pthread_mutex_unlock(&s->lock);
    return ret;
}

/* Set one whole cluster's entry to zeros (zero=true) or discard it. */
static int clear_cluster(struct qcow2 *s, uint64_t off, bool zero, bool unmap, bool has_backing)
{
    uint64_t l1_idx = off >> (s->cluster_bits + s->l2_bits);
    uint64_t l2_idx = (off >> s->cluster_bits) & ((1ull << s->l2_bits) - 1);
    if (!zero && (l1_idx >= s->l1_size || !(s->l1[l1_idx] & L1E_OFFSET_MASK)))
        return 0;
    uint64_t l2_off;
    int ret = qcow2_l2_for_write(s, l1_idx, &l2_off);
    if (ret < 0)
        return ret;
    uint8_t *t;
    if ((ret = cache_get(s->l2_cache, l2_off, (void **)&t)) < 0)
        return ret;
    uint64_t e = l2_get(s, t, l2_idx), bm = l2_bitmap(s, t, l2_idx);
    uint64_t host = e & L2E_OFFSET_MASK;
    bool allocated = (e & OFLAG_COMPRESSED) || host;
    uint64_t ne = 0, nbm = 0;
    bool keep = zero && !unmap && !(e & OFLAG_COMPRESSED) && host && (e & OFLAG_COPIED);
    if (zero || has_backing || allocated) {
        if (s->ext_l2)
            nbm = ALL_ZERO_BITS;
        else
            ne = s->version >= 3 ? OFLAG_ZERO : 0;
    }
    if (!zero && !has_backing && !allocated && !(e | bm))
        goto out;
    if (keep) {
        ne |= host | OFLAG_COPIED;
    } else if (allocated && (ret = qcow2_free_entry(s, e)) < 0) {
        goto out;
    }
    put_be64(t + l2_idx * s->l2_entry_size, ne);
    if (s->ext_l2)
        put_be64(t + l2_idx * 16 + 8, nbm);
    cache_mark_dirty(s->l2_cache, t);
out:
    cache_put(s->l2_cache, t);
    return ret;
}

static int clear_range(struct node *n, uint64_t off, uint64_t len, bool zero, bool unmap)
{
    struct qcow2 *s = qcow2_state(n);
    uint64_t cs = s->cluster_size;
    pthread_mutex_lock(&s->lock);
    int ret = qcow2_check_writable(s);
    for (uint64_t c = off; ret == 0 && c < off + len; c += cs)
        ret = clear_cluster(s, c, zero, unmap, n->backing != NULL || n->backing_file != NULL);
    pthread_mutex_unlock(&s->lock);
    return ret;
}

/* Discard whole clusters (v2 zero writes without a backing file, as qemu's full_discard=false). */
int qcow2_discard_clusters(struct node *n, uint64_t off, uint64_t len)
{
    return clear_range(n, off, len, false, true);
}

/* The bitmaps see the whole request, whatever part of it is really zeroed or discarded. */
static int note_write(struct qcow2 *s, uint64_t off, uint64_t len)
{
    pthread_mutex_lock(&s->lock);
    int ret = qcow2_check_writable(s);
    if (ret == 0)
        qcow2_bitmaps_set_dirty(s, off, len);
    pthread_mutex_unlock(&s->lock);
    return ret;
}

int qcow2_discard(struct node *n, uint64_t off, uint64_t len)
{
    uint64_t cs = qcow2_state(n)->cluster_size;
    int ret = note_write(qcow2_state(n), off, len);
    if (ret < 0)
        return ret;
    uint64_t start = (off + cs - 1) / cs * cs, end = off + len;
    if (end != n->size)
        end = end / cs * cs;
    if (end <= start)
        return 0;
    return clear_range(n, start, end - start, false, true);
}

/* Preallocate host clusters for [start, end) (metadata mode): each L2 table, then its data
 * clusters in one run, as qemu's preallocate_co lays them out. Returns the end of the data. */
int qcow2_preallocate(struct qcow2 *s, uint64_t start, uint64_t end, uint64_t *host_end)
{
    uint64_t cs = s->cluster_size, per_l2 = 1ull << s->l2_bits;
    uint64_t c = start / cs, last = (end + cs - 1) / cs;
    *host_end = 0;
    while (c < last) {
        uint64_t l1_idx = c >> s->l2_bits, l2_idx = c & (per_l2 - 1);
        uint64_t count = per_l2 - l2_idx < last - c ? per_l2 - l2_idx : last - c;
        uint64_t l2_off;
        int ret = qcow2_l2_for_write(s, l1_idx, &l2_off);
        if (ret < 0)
            return ret;
        uint64_t host = c * cs;
        if (!s->data_file_name) {
            int64_t a = qcow2_alloc_clusters(s, count);
            if (a < 0)
                return (int)a;
            host = (uint64_t)a;
        }
        uint8_t *t;
        if ((ret = cache_get(s->l2_cache, l2_off, (void **)&t)) < 0)
            return ret;
        for (uint64_t i = 0; i < count; i++) {
            /* with extended L2 the subclusters stay unallocated (bitmap 0), as in qemu */
            put_be64(t + (l2_idx + i) * s->l2_entry_size, (host + i * cs) | OFLAG_COPIED);
        }
        cache_mark_dirty(s->l2_cache, t);
        cache_put(s->l2_cache, t);
        if (host + count * cs > *host_end)
            *host_end = host + count * cs;
        c += count;
    }
    return qcow2_flush_metadata(s);
}

/* Map `count` clusters from guest cluster c on to the host clusters from `host` on (falloc/full
 * growth, qemu's qcow2_alloc_cluster_link_l2 without copy-on-write): the extended L2 bitmaps stay
 * as they are, a cluster mapped before is freed (qemu drops the old head cluster's data too). */
int qcow2_link_range(struct qcow2 *s, uint64_t c, uint64_t host, uint64_t count)
{
    uint64_t per_l2 = 1ull << s->l2_bits;
    while (count) {
        uint64_t l1_idx = c >> s->l2_bits, l2_idx = c & (per_l2 - 1);
        uint64_t n = per_l2 - l2_idx < count ? per_l2 - l2_idx : count;
        uint64_t l2_off;
        uint8_t *t;
        int ret = qcow2_l2_for_write(s, l1_idx, &l2_off);
        if (ret < 0 || (ret = cache_get(s->l2_cache, l2_off, (void **)&t)) < 0)
            return ret;
        for (uint64_t i = 0; ret == 0 && i < n; i++) {
            uint64_t e = l2_get(s, t, l2_idx + i);
            if (e)
                ret = qcow2_free_entry(s, e);
            put_be64(t + (l2_idx + i) * s->l2_entry_size, (host + i * s->cluster_size) | OFLAG_COPIED);
        }
        cache_mark_dirty(s->l2_cache, t);
        cache_put(s->l2_cache, t);
        if (ret < 0)
            return ret;
        c += n;
        host += n * s->cluster_size;
        count -= n;
    }
    return qcow2_flush_metadata(s);
}

/* Full discard of whole clusters in [off, off+len) under the lock (shrink), as qemu's
 * qcow2_cluster_discard: each L2 table of the range is taken for writing first, so one that is
 * shared or absent gets a fresh copy, as in qemu; entries become unallocated and their clusters
 * are freed table by table (so later tables may reuse them, as in qemu). */
int qcow2_drop_range(struct qcow2 *s, uint64_t off, uint64_t len)
{
    int ret = 0;
    uint64_t per_l1 = 1ull << (s->cluster_bits + s->l2_bits);
    for (uint64_t c = off; ret == 0 && c < off + len;) {
        uint64_t l1_idx = c >> (s->cluster_bits + s->l2_bits);
        uint64_t stop = (l1_idx + 1) * per_l1 < off + len ? (l1_idx + 1) * per_l1 : off + len;
        if (l1_idx >= s->l1_size)
            break;
        uint64_t l2_off;
        uint8_t *t;
        if ((ret = qcow2_l2_for_write(s, l1_idx, &l2_off)) < 0 ||
            (ret = cache_get(s->l2_cache, l2_off, (void **)&t)) < 0)
            break;
        for (; ret == 0 && c < stop; c += s->cluster_size) {
            uint64_t l2_idx = (c >> s->cluster_bits) & ((1ull << s->l2_bits) - 1);
            uint64_t e = l2_get(s, t, l2_idx);
            if (e || l2_bitmap(s, t, l2_idx)) {
                ret = qcow2_free_entry(s, e);
                memset(t + l2_idx * s->l2_entry_size, 0, s->l2_entry_size);
                cache_mark_dirty(s->l2_cache, t);
            }
        }
        cache_put(s->l2_cache, t);
        if (ret == 0)
            ret = qcow2_flush_metadata(s);
    }
    return ret;
}
