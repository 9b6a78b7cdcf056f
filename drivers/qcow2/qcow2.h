/* qcow2 driver internals shared by the files of drivers/qcow2/ (docs/interop/qcow2.txt in qemu):
 * the open image's state, on-disk constants, and the functions each concern exports to the others. */
#ifndef FLATIMG_QCOW2_H
#define FLATIMG_QCOW2_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bitmap.h"
#include "cache.h"
#include "luks.h"
#include "node.h"

#define QCOW2_MAGIC 0x514649fbu
#define QCOW2_HDR_V2_LEN 72
#define QCOW2_HDR_V3_LEN 104
#define QCOW2_HDR_LEN 112
#define QCOW2_MAX_L1_BYTES (32u << 20)
#define QCOW2_MAX_RT_BYTES (8u << 20)
#define QCOW2_MAX_SNAPSHOTS 65536
#define QCOW2_MAX_BACKING_NAME 1023
#define QCOW2_MAX_IO_OFFSET 0x7fffffffc0000000ull /* qemu's BDRV_MAX_LENGTH */

#define EXT_END 0
#define EXT_BACKING_FORMAT 0xe2792acau
#define EXT_FEATURE_TABLE 0x6803f857u
#define EXT_CRYPTO_HEADER 0x0537be77u
#define EXT_BITMAPS 0x23852875u
#define EXT_DATA_FILE 0x44415441u

#define INCOMPAT_DIRTY (1ull << 0)
#define INCOMPAT_CORRUPT (1ull << 1)
#define INCOMPAT_DATA_FILE (1ull << 2)
#define INCOMPAT_COMPRESSION (1ull << 3)
#define INCOMPAT_EXTL2 (1ull << 4)
#define INCOMPAT_KNOWN 0x1full
#define COMPAT_LAZY_REFCOUNTS (1ull << 0)
#define AUTOCLEAR_BITMAPS (1ull << 0)
#define AUTOCLEAR_DATA_FILE_RAW (1ull << 1)

#define L1E_OFFSET_MASK 0x00fffffffffffe00ull
#define L2E_OFFSET_MASK 0x00fffffffffffe00ull
#define OFLAG_COPIED (1ull << 63)
#define OFLAG_COMPRESSED (1ull << 62)
#define OFLAG_ZERO 1ull
#define RT_OFFSET_MASK 0xfffffffffffffe00ull

#define QCOW2_CRYPT_AES 1
#define QCOW2_CRYPT_LUKS 2

#define COMPRESSION_ZLIB 0
#define COMPRESSION_ZSTD 1

enum qcow2_type {
    Q_UNALLOC,      /* read from the backing chain */
    Q_ZERO,         /* reads as zeros (possibly with a preallocated host cluster) */
    Q_NORMAL,       /* data at host offset */
    Q_COMPRESSED,   /* one compressed cluster */
};

/* One run of guest bytes sharing a mapping, as found by qcow2_lookup(). */
struct qcow2_map {
    enum qcow2_type type;
    uint64_t host;       /* NORMAL: host offset of the first byte; ZERO/UNALLOC: of the cluster or 0 */
    uint64_t bytes;      /* run length from the query offset */
    uint64_t l2_entry;   /* the cluster's raw L2 entry (COMPRESSED) */
};

struct qcow2_snapshot {
    uint64_t l1_offset;
    uint32_t l1_size;
    char *id, *name;
    uint32_t date_sec, date_nsec;
    uint64_t vm_clock_nsec, vm_state_size, disk_size, icount;
    uint32_t extra_size;
    uint8_t *extra;      /* unknown extra data kept as read */
};

struct qcow2_ext {       /* header extension kept verbatim (unknown types) */
    uint32_t type, len;
    uint8_t *data;
};

#define BME_IN_USE (1u << 0)
#define BME_AUTO (1u << 1)

/* One bitmap directory entry (docs/interop/qcow2.txt "Bitmap directory"), host byte order. */
struct qcow2_bm {
    uint64_t table_off;
    uint32_t table_size, flags, extra_size;
    uint8_t type, gbits;
    char *name;
    uint8_t *extra;
};

/* A persistent bitmap while the image is open read-write (qemu's BdrvDirtyBitmap): flagged in-use
 * on disk, its bits changed in memory by writes, stored and unflagged on clean close. */
struct qcow2_tracked_bitmap {
    char *name;
    uint8_t gbits;
    bool enabled;       /* "auto": writes set its bits */
    bool inconsistent;  /* in-use when opened: never changed, never stored */
    bool broken;        /* a chunk could not be read: left in-use on close */
    bool too_big;       /* resized past what the format can store: the close fails, as qemu's */
    bool cleared;       /* the bits on disk no longer count (bitmap --clear) */
    bool added;         /* created by this open: not in the directory yet */
    uint32_t table_size; /* entries of the table on disk */
    uint32_t nb_chunks;  /* entries the bitmap needs now (differs after a resize) */
    uint64_t *table;     /* host byte order */
    uint8_t **chunks;   /* one cluster of bits per table entry, read on the first change */
};

struct qcow2_pending_free {
    uint64_t off, count;
};

struct qcow2 {
    pthread_mutex_t lock;
    struct node *node;
    struct node *data;          /* where guest data lives: n->file or the external data file */
    uint32_t version;
    uint32_t cluster_bits;
    uint64_t cluster_size;
    uint32_t l2_bits;           /* log2 of entries per L2 table */
    uint32_t l2_entry_size;     /* 8, or 16 with extended L2 */
    bool ext_l2;
    uint32_t sc_bits;           /* log2 of subcluster size */
    uint32_t refcount_order, refcount_bits;
    uint32_t rb_bits;           /* log2 of entries per refcount block */
    uint64_t incompat, compat, autoclear;
    uint32_t header_length;
    uint32_t crypt_method;
    uint8_t compression_type;

    uint64_t l1_offset;
    uint32_t l1_size;
    uint64_t *l1;               /* host byte order */
    uint64_t rt_offset;
    uint32_t rt_clusters;
    uint64_t rt_entries;
    uint64_t *rt;

    uint32_t nb_snapshots;
    uint64_t snapshots_offset;
    uint64_t snapshots_size;    /* bytes of the snapshot table */
    struct qcow2_snapshot *snaps;

    char *backing_format;       /* from the extension */
    char *data_file_name;
    uint64_t crypto_off, crypto_len;
    struct qcow2_crypt *crypt;  /* crypt.c's state when crypt_method is set */
    bool has_bitmaps_ext;
    struct qcow2_tracked_bitmap *tracked; /* one per directory entry while tracking */
    uint32_t nb_tracked;
    bool tracking;              /* the bitmaps are flagged in-use by this open */
    uint32_t nb_bitmaps;
    uint64_t bitmap_dir_size, bitmap_dir_offset;
    struct qcow2_ext *unknown_exts;
    int nb_unknown_exts;

    struct cache *l2_cache;
    struct cache *rc_cache;
    uint64_t free_cluster_index;
    uint64_t free_byte_offset;  /* where the next compressed cluster may go (0: a new cluster) */
    struct qcow2_pending_free *frees;
    size_t nb_frees, cap_frees;
    struct qcow2_pending_free *discards; /* byte ranges to discard on the file (shrink) */
    size_t nb_discards, cap_discards;
    bool marked_dirty;
    bool rc_unsynced;           /* refcount changes not yet behind a flush barrier */
    bool prealloc_checked, metadata_prealloc; /* qemu's metadata preallocation detection */
    bool writable;
    bool discard_frees;         /* deferred frees that reach 0 are discarded on the file */
    bool alloc_skip_overlap;    /* the caller checks overlaps at write time, as qemu does */
    bool fatal_corruption;      /* corruption signalled on a writable image: like qemu, which
                                 * then drops the node, nothing more is flushed or checked */
};

static inline struct qcow2 *qcow2_state(struct node *n)
{
    return n->state;
}

/* header.c */
int qcow2_probe(const uint8_t *buf, size_t len, const char *filename);
int qcow2_read_header(struct node *n, struct qcow2 *s, struct error **errp);
/* Rewrite cluster 0 (header, extensions, backing name) from the state. */
int qcow2_write_header(struct qcow2 *s, const char *backing_file);
int qcow2_set_incompat(struct qcow2 *s, uint64_t incompat);
void qcow2_signal_corruption(struct qcow2 *s, const char *fmt, ...) PRINTF_FMT(2, 3);
void qcow2_free_header(struct qcow2 *s);

/* cluster.c: lookups and the data path */
int qcow2_lookup(struct qcow2 *s, uint64_t off, uint64_t len, struct qcow2_map *m);
int qcow2_pread(struct node *n, uint64_t off, uint64_t len, void *buf);
int qcow2_pwrite(struct node *n, uint64_t off, uint64_t len, const void *buf);
int qcow2_discard(struct node *n, uint64_t off, uint64_t len);
int qcow2_discard_clusters(struct node *n, uint64_t off, uint64_t len);
/* zero.c */
int qcow2_pwrite_zeroes(struct node *n, uint64_t off, uint64_t len, int flags);
int qcow2_block_status(struct node *n, uint64_t off, uint64_t len, struct block_status *out);
int qcow2_grow_l1(struct qcow2 *s, uint64_t min_size);
int qcow2_drop_range(struct qcow2 *s, uint64_t off, uint64_t len);
int qcow2_l2_for_write(struct qcow2 *s, uint64_t l1_idx, uint64_t *l2_off);
int qcow2_preallocate(struct qcow2 *s, uint64_t start, uint64_t end, uint64_t *host_end);
int qcow2_link_range(struct qcow2 *s, uint64_t c, uint64_t host, uint64_t count);
int qcow2_read_compressed(struct qcow2 *s, uint64_t l2_entry, uint8_t *out);
int qcow2_l2_cache_read(void *opaque, uint64_t off, void *buf, size_t len);
int qcow2_l2_cache_write(void *opaque, uint64_t off, const void *buf, size_t len);
int qcow2_l2_before_write(void *opaque);
/* Before a write, under s->lock: refuses corrupt images, marks dirty (lazy refcounts) once. */
int qcow2_check_writable(struct qcow2 *s);

/* compress.c */
int qcow2_pwrite_compressed(struct node *n, uint64_t off, uint64_t len, const void *buf);
int64_t qcow2_compress_cluster(struct node *n, const void *in, void *out);
int qcow2_pwrite_compressed_prepared(struct node *n, uint64_t off, uint64_t len, const void *in,
                                     const void *out, int64_t clen);

/* refcount.c */
int qcow2_get_refcount(struct qcow2 *s, uint64_t cluster, uint64_t *rc);
int qcow2_update_refcount(struct qcow2 *s, uint64_t cluster, int64_t delta);
/* Allocate count contiguous clusters (refcount 1); returns the host offset or -errno. */
int64_t qcow2_alloc_clusters(struct qcow2 *s, uint64_t count);
/* Drop a reference once the metadata pointing at it is on disk (applied at the next flush). */
int qcow2_free_later(struct qcow2 *s, uint64_t off, uint64_t count);
int qcow2_shrink_reftable(struct qcow2 *s);
int64_t qcow2_refcount_area(struct qcow2 *s, uint64_t start, uint64_t additional);
int64_t qcow2_alloc_clusters_at(struct qcow2 *s, uint64_t off, uint64_t n);
void qcow2_process_discards(struct qcow2 *s);
int qcow2_flush_metadata_discarding(struct qcow2 *s);
int qcow2_flush_metadata(struct qcow2 *s);
/* Rebuild the refcount structures at 2^order bits per entry (amend refcount_bits). */
int qcow2_change_refcount_order(struct qcow2 *s, uint32_t order, struct error **errp);
int qcow2_update_refcounts_range(struct qcow2 *s, uint64_t off, uint64_t count, int64_t delta);
int qcow2_rc_cache_read(void *opaque, uint64_t off, void *buf, size_t len);
int qcow2_rc_cache_write(void *opaque, uint64_t off, const void *buf, size_t len);
uint64_t qcow2_refcount_get_entry(const struct qcow2 *s, const uint8_t *block, uint64_t idx);
void qcow2_refcount_set_entry(const struct qcow2 *s, uint8_t *block, uint64_t idx, uint64_t v);

/* snapshot.c */
int qcow2_read_snapshots(struct qcow2 *s, struct error **errp);
/* check's lenient read: with repair, oversized extra data is cut and overhanging entries dropped
 * (counted in *dropped and *reduced) instead of failing. */
int qcow2_read_snapshots_repair(struct qcow2 *s, bool repair, int *reduced, int *dropped,
                                struct error **errp);
/* Rewrite the whole snapshot table from s->snaps in new clusters (qemu's qcow2_write_snapshots). */
int qcow2_write_snapshot_table(struct qcow2 *s);
void qcow2_free_snapshots(struct qcow2 *s);
int qcow2_snapshot_list(struct node *n, struct snapshot_info **list, int *count);
int qcow2_snapshot_create(struct node *n, struct snapshot_info *sn, struct error **errp);
int qcow2_snapshot_goto(struct node *n, const char *id_or_name, struct error **errp);
int qcow2_snapshot_delete(struct node *n, const char *id, const char *name, struct error **errp);
int qcow2_snapshot_load_tmp(struct node *n, const char *id, const char *name, struct error **errp);

/* create.c */
extern const struct opt_desc qcow2_create_opts[];
extern const struct opt_desc qcow2_amend_opts[];
int qcow2_create(const char *filename, struct opts *opts, struct error **errp);

/* amend.c */
int qcow2_change_backing_file(struct node *n, const char *file, const char *fmt);
/* empty.c: what commit calls (qemu's qcow2_make_empty); resets the file when it can. */
int qcow2_make_empty(struct node *n);
int qcow2_measure(struct opts *o, struct node *in, struct measure_info *out, struct error **errp);
int qcow2_amend(struct node *n, struct opts *o, bool force, struct error **errp);
int qcow2_free_entry(struct qcow2 *s, uint64_t l2_entry);

/* bitmap.c */
json_object *qcow2_bitmap_info(struct qcow2 *s);
int qcow2_bitmap_dir_load(struct qcow2 *s, struct qcow2_bm **out, uint32_t *count);
void qcow2_bitmap_dir_free(struct qcow2_bm *d, uint32_t n);
/* Rewrite the directory where it is (same size), the autoclear bit dropped meanwhile. */
int qcow2_bitmap_dir_store_in_place(struct qcow2 *s, const struct qcow2_bm *d, uint32_t count);
int qcow2_bitmap_dir_store(struct qcow2 *s, const struct qcow2_bm *d, uint32_t count);

/* bitmap-track.c: bitmaps tracked on writes while open read-write (qemu's load/store). */
int qcow2_bitmaps_track_start(struct qcow2 *s, struct error **errp);
int qcow2_bitmaps_validate(struct qcow2 *s, struct error **errp);
/* Store the changed bits, clear in-use on consistent bitmaps, forget the tracking state. */
int qcow2_bitmaps_track_stop(struct qcow2 *s);
void qcow2_bitmaps_set_dirty(struct qcow2 *s, uint64_t off, uint64_t len);
/* The first inconsistent bitmap's name (resize and the bitmap operations refuse those). */
const char *qcow2_bitmaps_inconsistent(struct qcow2 *s, const char *only);
/* Resize the tracked bitmaps to the node's new size (after truncate). */
int qcow2_bitmaps_resize(struct qcow2 *s, uint64_t old_size);
/* The bitmap operations on the tracked bitmaps (in memory, stored at close, as qemu's). */
int qcow2_tracked_find(struct qcow2 *s, const char *name);
int qcow2_tracked_add(struct qcow2 *s, const char *name, uint8_t gbits, bool enabled);
void qcow2_tracked_drop(struct qcow2 *s, int idx);
void qcow2_tracked_clear(struct qcow2 *s, int idx);
int qcow2_tracked_read_bits(struct qcow2 *s, int idx, uint8_t *bits, uint64_t nbits);
int qcow2_tracked_set_bits(struct qcow2 *s, int idx, uint64_t first, uint64_t last);
extern const struct bitmap_ops qcow2_bitmap_ops;

/* crypt.c: encryption (legacy AES and LUKS) */
struct qcow2_crypt_params {
    uint32_t method;            /* 0: not encrypted */
    struct luks_params luks;
    const uint8_t *pass;
    size_t pass_len;
};
int qcow2_crypt_open(struct node *n, struct qcow2 *s, struct opts *opts, struct error **errp);
void qcow2_crypt_close(struct qcow2 *s);
/* Guest data at host offset host (guest offset guest), any alignment, through the cipher. */
int qcow2_crypt_read(struct qcow2 *s, uint64_t host, uint64_t guest, uint64_t len, uint8_t *buf);
int qcow2_crypt_write(struct qcow2 *s, uint64_t host, uint64_t guest, uint64_t len,
                      const uint8_t *data);
/* Encrypt whole sectors in place before they are written at host (guest offset guest). */
void qcow2_crypt_encrypt(struct qcow2 *s, uint64_t host, uint64_t guest, uint8_t *buf,
                         uint64_t len);
json_object *qcow2_crypt_info(struct qcow2 *s);
int qcow2_crypt_parse_create(struct opts *o, struct qcow2_crypt_params *p, struct error **errp);
int qcow2_crypt_setup(struct node *n, const struct qcow2_crypt_params *p, struct error **errp);
/* amend: the encrypt.* key slot options. */
int qcow2_crypt_amend(struct node *n, struct opts *o, bool force, struct error **errp);
/* measure: the bytes of the LUKS header -o encrypt.* would create. */
int qcow2_crypt_measure(struct opts *o, uint64_t *header_len, struct error **errp);

/* check.c */
int qcow2_check(struct node *n, struct check_result *res, int fix);
int qcow2_repair_dirty(struct node *n);
/* qemu's qcow2_pre_write_overlap_check with its default checks ("cached"): a write of [off,
 * off+size) over metadata not masked by ign (QCOW2_OL_* bits) marks the image corrupt: -EIO. */
int qcow2_pre_write_overlap_check(struct qcow2 *s, int ign, uint64_t off, uint64_t size);
/* Under NODE_STRICT (the mount), before an L2 table is read from the file: one that lies on the
 * header or on other metadata (qemu's overlap checks, applied to the read), or past the end of the
 * file, gives -EIO, logged; qemu would read it as a table. */
int qcow2_l2_read_check(struct qcow2 *s, uint64_t off, uint64_t len);

#endif
