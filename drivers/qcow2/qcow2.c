/* The qcow2 format driver (qemu 7.2 behaviour): open with its metadata checks, the driver table,
 * image info ("format-specific" exactly as qemu-img info shows it), flush, resize. The data path
 * lives in cluster.c, reference counting in refcount.c. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bswap.h"
#include "qcow2.h"

#define DEFAULT_L2_CACHE_MAX (8u << 20)
#define DEFAULT_RC_CACHE (256u << 10)

static const struct opt_desc qcow2_open_opts[] = {
    { "l2-cache-size", OPT_SIZE, "Maximum L2 table cache size", NULL },
    { "l2-cache-entry-size", OPT_SIZE, "Size of each entry in the L2 cache", NULL },
    { "refcount-cache-size", OPT_SIZE, "Maximum refcount block cache size", NULL },
    { "cache-size", OPT_SIZE, "Maximum combined metadata (L2 tables and refcount blocks) cache size",
      NULL },
    { "cache-clean-interval", OPT_NUMBER, "Clean unused cache entries after this time (in seconds)",
      NULL },
    { "lazy-refcounts", OPT_BOOL, "Postpone refcount updates", NULL },
    { "pass-discard-request", OPT_BOOL, "Pass guest discard requests to the layer below", NULL },
    { "pass-discard-snapshot", OPT_BOOL, "Generate discard requests when snapshot related space is "
      "freed", NULL },
    { "pass-discard-other", OPT_BOOL, "Generate discard requests when other clusters are freed",
      NULL },
    { "overlap-check", OPT_STRING, "Selects which overlap checks to perform", NULL },
    { "data-file", OPT_STRING, "Node name or file name of the external data file", NULL },
    { "data-file.filename", OPT_STRING, "File name of the external data file", NULL },
    { "encrypt.format", OPT_STRING, "Encryption data format", NULL },
    { "encrypt.key-secret", OPT_STRING, "ID of secret providing qcow2 AES key or LUKS passphrase",
      NULL },
    { NULL, 0, NULL, NULL },
};

static const struct cache_ops l2_ops = {
    qcow2_l2_cache_read, qcow2_l2_cache_write, qcow2_l2_before_write,
};
static const struct cache_ops rc_ops = {
    qcow2_rc_cache_read, qcow2_rc_cache_write, NULL,
};

static int read_table(struct node *n, uint64_t off, uint64_t entries, uint64_t **out)
{
    *out = calloc(entries ? entries : 1, 8);
    if (!*out)
        return -ENOMEM;
    if (!entries)
        return 0;
    uint64_t bytes = entries * 8, fsize = n->file->size;
    if (off + bytes > QCOW2_MAX_IO_OFFSET)
        return -EIO; /* qemu's block layer refuses requests beyond this */
    uint8_t *raw = calloc(1, bytes);
    if (!raw)
        return -ENOMEM;
    int ret = 0;
    if (off < fsize) {
        uint64_t avail = fsize - off < bytes ? fsize - off : bytes;
        ret = node_pread(n->file, off, avail, raw);
    }
    for (uint64_t i = 0; i < entries; i++)
        (*out)[i] = get_be64(raw + i * 8);
    free(raw);
    return ret;
}

static int setup_caches(struct qcow2 *s, struct opts *opts, struct error **errp)
{
    uint64_t l2 = 0, rc = DEFAULT_RC_CACHE, total = 0;
    uint64_t per_table = (s->cluster_size / s->l2_entry_size) * s->cluster_size;
    uint64_t need = (s->node->size + per_table - 1) / per_table * s->cluster_size;
    l2 = need < DEFAULT_L2_CACHE_MAX ? need : DEFAULT_L2_CACHE_MAX;
    bool has_l2 = opts_get(opts, "l2-cache-size"), has_rc = opts_get(opts, "refcount-cache-size");
    if (opts_get_size(opts, "l2-cache-size", &l2, errp) < 0 ||
        opts_get_size(opts, "refcount-cache-size", &rc, errp) < 0 ||
        opts_get_size(opts, "cache-size", &total, errp) < 0)
        return -EINVAL;
    if (opts_get(opts, "cache-size")) {
        if (has_l2 && has_rc && l2 + rc != total) {
            error_setg(errp, "l2-cache-size, refcount-cache-size and cache-size may not be set "
                             "at the same time");
            return -EINVAL;
        }
        if (has_l2 && l2 > total) {
            error_setg(errp, "l2-cache-size may not exceed cache-size");
            return -EINVAL;
        }
        if (has_rc && rc > total) {
            error_setg(errp, "refcount-cache-size may not exceed cache-size");
            return -EINVAL;
        }
        if (!has_l2 && !has_rc) {
            l2 = total > need ? need : total;
            rc = total - l2;
        } else if (has_l2) {
            rc = total - l2;
        } else {
            l2 = total - rc;
        }
    }
    size_t l2n = (size_t)(l2 / s->cluster_size), rcn = (size_t)(rc / s->cluster_size);
    s->l2_cache = cache_new(s->cluster_size, l2n < 4 ? 4 : l2n, &l2_ops, s);
    s->rc_cache = cache_new(s->cluster_size, rcn < 4 ? 4 : rcn, &rc_ops, s);
    return s->l2_cache && s->rc_cache ? 0 : -ENOMEM;
}

static int open_data_file(struct node *n, struct qcow2 *s, struct opts *opts, struct error **errp)
{
    s->data = n->file;
    if (!(s->incompat & INCOMPAT_DATA_FILE) || (n->flags & NODE_NO_IO)) {
        if (!(s->incompat & INCOMPAT_DATA_FILE) && (s->autoclear & AUTOCLEAR_DATA_FILE_RAW)) {
            error_setg(errp, "data-file-raw requires a data file");
            return -EINVAL;
        }
        return 0;
    }
    const char *name = opts_get(opts, "data-file.filename");
    if (!name)
        name = opts_get(opts, "data-file");
    /* qemu 7.2 opens the recorded name as given, relative to the working directory */
    if (!name)
        name = s->data_file_name;
    if (!name) {
        error_setg(errp, "'data-file' is required for this image");
        return -EINVAL;
    }
    if (n->flags & NODE_NO_IO)
        return 0;
    int flags = n->flags & (NODE_RDWR | NODE_FORCE_SHARE | NODE_NOCACHE | NODE_NO_FLUSH |
                            NODE_NO_LOCK | NODE_WRITETHROUGH | NODE_STRICT);
    struct node *d = node_open(name, "file", NULL, flags, errp);
    if (!d)
        return -EIO;
    s->data = d;
    return 0;
}

static int qcow2_open(struct node *n, struct opts *opts, struct error **errp)
{
    struct qcow2 *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    n->state = s;
    s->node = n;
    s->data = n->file;
    pthread_mutex_init(&s->lock, NULL);
    s->writable = n->flags & NODE_RDWR;
    int ret = qcow2_read_header(n, s, errp);
    if (ret < 0 || (ret = qcow2_crypt_open(n, s, opts, errp)) < 0)
        return ret;
    s->rt_entries = ((uint64_t)s->rt_clusters << s->cluster_bits) / 8;
    if ((ret = read_table(n, s->l1_offset, s->l1_size, &s->l1)) < 0) {
        error_setg_errno(errp, ret, "Could not read L1 table");
        return ret;
    }
    if ((ret = read_table(n, s->rt_offset, s->rt_entries, &s->rt)) < 0) {
        error_setg_errno(errp, ret, "Could not read refcount table");
        return ret;
    }
    if ((ret = setup_caches(s, opts, errp)) < 0)
        return ret;
    if ((ret = qcow2_read_snapshots(s, errp)) < 0)
        return ret;
    if ((ret = open_data_file(n, s, opts, errp)) < 0)
        return ret;
    if (s->writable && (s->incompat & INCOMPAT_DIRTY) && !(n->flags & NODE_CHECK) &&
        (ret = qcow2_repair_dirty(n)) < 0) {
        error_setg_errno(errp, -ret, "Could not repair dirty image");
        return ret;
    }
    if (s->writable && s->autoclear & ~(AUTOCLEAR_BITMAPS | AUTOCLEAR_DATA_FILE_RAW)) {
        s->autoclear &= AUTOCLEAR_BITMAPS | AUTOCLEAR_DATA_FILE_RAW;
        if ((ret = qcow2_write_header(s, n->backing_file)) < 0) {
            error_setg_errno(errp, ret, "Could not update qcow2 header");
            return ret;
        }
    }
    if (s->writable && !(s->incompat & INCOMPAT_CORRUPT))
        ret = qcow2_bitmaps_track_start(s, errp);
    else
        ret = qcow2_bitmaps_validate(s, errp);
    return ret < 0 ? ret : 0;
}

static void qcow2_close(struct node *n)
{
    struct qcow2 *s = qcow2_state(n);
    if (!s)
        return;
    if (s->writable && s->tracking && !(s->incompat & INCOMPAT_CORRUPT))
        (void)qcow2_bitmaps_track_stop(s);
    if (s->writable && !s->fatal_corruption && s->l2_cache && s->rc_cache &&
        qcow2_flush_metadata(s) == 0 &&
        (s->incompat & INCOMPAT_DIRTY) && node_flush(n->file) == 0)
        (void)qcow2_set_incompat(s, s->incompat & ~INCOMPAT_DIRTY);
    if (s->data && s->data != n->file)
        node_close(s->data);
    cache_free(s->l2_cache);
    cache_free(s->rc_cache);
    free(s->l1);
    free(s->rt);
    free(s->frees);
    free(s->discards);
    qcow2_free_snapshots(s);
    qcow2_free_header(s);
    qcow2_crypt_close(s);
    pthread_mutex_destroy(&s->lock);
    free(s);
    n->state = NULL;
}

static int qcow2_flush(struct node *n)
{
    struct qcow2 *s = qcow2_state(n);
    if (s->fatal_corruption)
        return 0; /* qemu has dropped the node: its caches are never written */
    pthread_mutex_lock(&s->lock);
    int ret = qcow2_flush_metadata(s);
    pthread_mutex_unlock(&s->lock);
    return ret;
}

static int qcow2_get_info(struct node *n, struct node_info *info, struct error **errp)
{
    struct qcow2 *s = qcow2_state(n);
    info->cluster_size = s->cluster_size;
    info->dirty = s->incompat & INCOMPAT_DIRTY;
    info->encrypted = s->crypt_method != 0;
    json_object *d = json_object_new_object(), *encrypt = qcow2_crypt_info(s);
    if (s->version == 2) {
        json_object_object_add(d, "compat", json_object_new_string("0.10"));
        json_object_object_add(d, "compression-type", json_object_new_string("zlib"));
        json_object_object_add(d, "refcount-bits", json_object_new_int64(s->refcount_bits));
        if (encrypt)
            json_object_object_add(d, "encrypt", encrypt);
    } else {
        json_object_object_add(d, "compat", json_object_new_string("1.1"));
        json_object_object_add(d, "compression-type", json_object_new_string(
                                   s->compression_type == COMPRESSION_ZSTD ? "zstd" : "zlib"));
        json_object_object_add(d, "lazy-refcounts",
                               json_object_new_boolean(s->compat & COMPAT_LAZY_REFCOUNTS));
        pthread_mutex_lock(&s->lock);
        json_object *bitmaps = qcow2_bitmap_info(s);
        pthread_mutex_unlock(&s->lock);
        if (bitmaps)
            json_object_object_add(d, "bitmaps", bitmaps);
        json_object_object_add(d, "refcount-bits", json_object_new_int64(s->refcount_bits));
        if (encrypt)
            json_object_object_add(d, "encrypt", encrypt);
        if (s->data_file_name)
            json_object_object_add(d, "data-file", json_object_new_string(s->data_file_name));
        if (s->incompat & INCOMPAT_DATA_FILE)
            json_object_object_add(d, "data-file-raw", json_object_new_boolean(
                                       s->autoclear & AUTOCLEAR_DATA_FILE_RAW));
        json_object_object_add(d, "corrupt",
                               json_object_new_boolean(s->incompat & INCOMPAT_CORRUPT));
        json_object_object_add(d, "extended-l2", json_object_new_boolean(s->ext_l2));
    }
    json_object *fs = json_object_new_object();
    json_object_object_add(fs, "type", json_object_new_string("qcow2"));
    json_object_object_add(fs, "data", d);
    info->format_specific = fs;
    return 0;
}

/* qemu's falloc/full growth without a data file: new refcount structures (a new table always)
 * after the last used cluster, sized for the new data and L2 tables, then the data clusters in one
 * run after them, the file grown over them with the mode, then the L2 entries. */
static int preallocate_file(struct node *n, struct qcow2 *s, uint64_t old, uint64_t size,
                            enum prealloc prealloc, struct error **errp)
{
    uint64_t cs = s->cluster_size, fsize = n->file->size;
    uint64_t end = (fsize + cs - 1) / cs, rc = 0;
    int ret = 0;
    while (end > 0 && (ret = qcow2_get_refcount(s, end - 1, &rc)) == 0 && rc == 0)
        end--;
    if (ret < 0)
        return ret;
    uint64_t old_file = end ? end * cs : (fsize + cs - 1) / cs * cs;
    uint64_t first = old / cs, nb_data = (size + cs - 1) / cs - first;
    uint64_t nb_l2 = (nb_data + (cs / s->l2_entry_size) - 1) / (cs / s->l2_entry_size) + 1;
    int64_t start = qcow2_refcount_area(s, old_file, nb_data + nb_l2);
    if (start < 0) {
        error_setg_errno(errp, (int)-start, "Failed to resize refcount structures");
        return (int)start;
    }
    int64_t got = qcow2_alloc_clusters_at(s, (uint64_t)start, nb_data);
    if (got >= 0 && (uint64_t)got != nb_data)
        got = -EIO;
    if (got < 0 || (ret = cache_flush(s->rc_cache)) < 0) {
        error_setg_errno(errp, got < 0 ? (int)-got : -ret, "Failed to allocate data clusters");
        return got < 0 ? (int)got : ret;
    }
    ret = node_truncate(n->file, (uint64_t)start + nb_data * cs, false, prealloc, errp);
    if (ret < 0) {
        error_prepend(errp, "Failed to resize underlying file: ");
        return ret;
    }
    ret = qcow2_link_range(s, first, (uint64_t)start, nb_data);
    if (ret < 0)
        error_setg_errno(errp, -ret, "Failed to update L2 tables");
    return ret;
}

static int preallocate(struct node *n, struct qcow2 *s, uint64_t old, uint64_t size,
                       enum prealloc prealloc, struct error **errp)
{
    if (prealloc != PREALLOC_METADATA && !s->data_file_name)
        return preallocate_file(n, s, old, size, prealloc, errp);
    uint64_t host_end;
    int ret = qcow2_preallocate(s, old, size, &host_end);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not preallocate metadata");
        return ret;
    }
    struct node *f = s->data_file_name ? s->data : n->file;
    if (f && host_end > f->size) {
        enum prealloc fp = prealloc == PREALLOC_METADATA ? PREALLOC_OFF : prealloc;
        ret = node_truncate(f, host_end, false, fp, errp);
    }
    return ret;
}

/* Shrinking (qemu's qcow2_co_truncate with a smaller size): drop the clusters past the end,
 * then the L2 tables past it, record the size and cut the file after the last used cluster. */
static int shrink(struct node *n, struct qcow2 *s, uint64_t size, struct error **errp)
{
    uint64_t cs = s->cluster_size, per_l1 = 1ull << (s->cluster_bits + s->l2_bits);
    uint64_t start = (size + cs - 1) / cs * cs;
    pthread_mutex_lock(&s->lock);
    int ret = s->incompat & INCOMPAT_CORRUPT ? -EIO : 0;
    s->discard_frees = true;
    if (ret == 0 && start < n->size)
        ret = qcow2_drop_range(s, start, n->size - start);
    uint64_t keep = size / per_l1 + (size % per_l1 != 0);
    if (ret == 0)
        qcow2_process_discards(s);
    /* qemu's qcow2_shrink_l1_table: the tail of the L1 table is zeroed in one write, then each
     * L2 table it held is freed (and discarded) on its own */
    if (ret == 0 && keep < s->l1_size) {
        ret = node_pwrite_zeroes(n->file, s->l1_offset + keep * 8, (s->l1_size - keep) * 8, 0);
        if (ret == 0)
            ret = node_flush(n->file);
    }
    for (uint64_t i = keep; ret == 0 && i < s->l1_size; i++) {
        uint64_t l2 = s->l1[i] & L1E_OFFSET_MASK;
        s->l1[i] = 0;
        if (!l2)
            continue;
        cache_drop(s->l2_cache, l2);
        if ((ret = qcow2_free_later(s, l2, 1)) == 0 && (ret = qcow2_flush_metadata(s)) == 0)
            qcow2_process_discards(s);
    }
    if (ret == 0)
        ret = qcow2_flush_metadata(s);
    s->discard_frees = false;
    if (ret == 0)
        ret = qcow2_shrink_reftable(s);
    if (ret == 0) {
        uint8_t b[8];
        put_be64(b, size);
        ret = node_pwrite(n->file, 24, 8, b);
    }
    if (ret == 0 && (ret = node_flush(n->file)) == 0) {
        n->size = size;
        uint64_t end = (n->file->size + cs - 1) / cs, rc = 0;
        while (end > 0 && qcow2_get_refcount(s, end - 1, &rc) == 0 && rc == 0)
            end--;
        if (end * cs < n->file->size)
            ret = node_truncate(n->file, end * cs, true, PREALLOC_OFF, errp);
    }
    pthread_mutex_unlock(&s->lock);
    if (ret < 0 && !(errp && *errp))
        error_setg_errno(errp, -ret, "Failed to shrink the image");
    return ret;
}

static int grow(struct node *n, struct qcow2 *s, uint64_t size, enum prealloc prealloc,
                struct error **errp);

static int qcow2_truncate(struct node *n, uint64_t size, bool exact, enum prealloc prealloc,
                          struct error **errp)
{
    struct qcow2 *s = qcow2_state(n);
    if (size % 512) {
        error_setg(errp, "The new size must be a multiple of 512");
        return -EINVAL;
    }
    if (s->nb_snapshots && s->version < 3) {
        error_setg(errp, "Can't resize a v2 image which has snapshots");
        return -ENOTSUP;
    }
    const char *broken = qcow2_bitmaps_inconsistent(s, NULL);
    if (broken) {
        error_setg(errp, "Bitmap '%s' is inconsistent and cannot be used\n"
                         "Try block-dirty-bitmap-remove to delete this bitmap from disk", broken);
        return -ENOTSUP;
    }
    uint64_t old = n->size;
    int ret;
    if (size < n->size) {
        if (prealloc != PREALLOC_OFF) {
            error_setg(errp, "Preallocation can only be used for growing images");
            return -EINVAL;
        }
        ret = shrink(n, s, size, errp);
    } else {
        ret = grow(n, s, size, prealloc, errp);
    }
    if (ret == 0) {
        pthread_mutex_lock(&s->lock);
        ret = qcow2_bitmaps_resize(s, old);
        pthread_mutex_unlock(&s->lock);
    }
    return ret;
}

static int grow(struct node *n, struct qcow2 *s, uint64_t size, enum prealloc prealloc,
                struct error **errp)
{
    uint64_t per_l1 = 1ull << (s->cluster_bits + s->l2_bits);
    pthread_mutex_lock(&s->lock);
    int ret = qcow2_grow_l1(s, size / per_l1 + (size % per_l1 != 0));
    /* qemu frees the old L1 table at once: the preallocation below may reuse its clusters */
    if (ret == 0)
        ret = qcow2_flush_metadata(s);
    if (ret == 0) {
        uint8_t b[8];
        put_be64(b, size);
        ret = node_pwrite(n->file, 24, 8, b);
        if (ret == 0)
            ret = node_flush(n->file);
    }
    uint64_t old = n->size;
    if (ret == 0)
        n->size = size;
    if (ret == 0 && prealloc != PREALLOC_OFF)
        ret = preallocate(n, s, old, size, prealloc, errp);
    pthread_mutex_unlock(&s->lock);
    if (ret < 0 && !(errp && *errp))
        error_setg_errno(errp, -ret, "Failed to grow the L1 table");
    return ret;
}

static bool qcow2_has_zero_init(struct node *n)
{
    struct qcow2 *s = qcow2_state(n);
    if (s->data != n->file)
        return node_has_zero_init(s->data);
    return true;
}

const struct driver driver_qcow2 = {
    .name = "qcow2",
    .flags = DRV_PARALLEL | DRV_BACKING,
    .open_opts = qcow2_open_opts,
    .create_opts = qcow2_create_opts,
    .amend_opts = qcow2_amend_opts,
    .probe = qcow2_probe,
    .open = qcow2_open,
    .close = qcow2_close,
    .pread = qcow2_pread,
    .pwrite = qcow2_pwrite,
    .pwrite_zeroes = qcow2_pwrite_zeroes,
    .pwrite_compressed = qcow2_pwrite_compressed,
    .compress_cluster = qcow2_compress_cluster,
    .pwrite_compressed_prepared = qcow2_pwrite_compressed_prepared,
    .discard = qcow2_discard,
    .flush = qcow2_flush,
    .block_status = qcow2_block_status,
    .truncate = qcow2_truncate,
    .has_zero_init = qcow2_has_zero_init,
    .create = qcow2_create,
    .get_info = qcow2_get_info,
    .snapshot_list = qcow2_snapshot_list,
    .snapshot_create = qcow2_snapshot_create,
    .snapshot_goto = qcow2_snapshot_goto,
    .snapshot_delete = qcow2_snapshot_delete,
    .snapshot_load_tmp = qcow2_snapshot_load_tmp,
    .check = qcow2_check,
    .bitmaps = &qcow2_bitmap_ops,
    .amend = qcow2_amend,
    .measure = qcow2_measure,
    .make_empty = qcow2_make_empty,
    .change_backing_file = qcow2_change_backing_file,
};
