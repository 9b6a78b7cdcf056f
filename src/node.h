/* Nodes and drivers: the core model of DESIGN.md. A node is one open layer (a driver plus its
 * state); format nodes have a `file` protocol child and optionally a `backing` format node. */
#ifndef FLATIMG_NODE_H
#define FLATIMG_NODE_H

#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "opts.h"

struct node;

/* Open flags (node->flags). */
enum {
    NODE_RDWR = 1 << 0,          /* open for writing */
    NODE_NO_BACKING = 1 << 1,    /* do not open the backing chain (qemu's BDRV_O_NO_BACKING) */
    NODE_FORCE_SHARE = 1 << 2,   /* -U: read-only, take no write-excluding locks */
    NODE_NOCACHE = 1 << 3,       /* O_DIRECT on the file (cache=none/directsync) */
    NODE_NO_FLUSH = 1 << 4,      /* cache=unsafe: flushes are no-ops */
    NODE_WRITETHROUGH = 1 << 5,  /* flush after every write (cache=writethrough/directsync) */
    NODE_NO_IO = 1 << 6,         /* metadata only (info): drivers may skip keys/caches */
    NODE_UNSHARE_WRITE = 1 << 7, /* exclude other writers even on a read-only open (convert source) */
    NODE_NO_LOCK = 1 << 8,       /* take no image locks at all (locking=off) */
    NODE_SALVAGE = 1 << 9,       /* corrupt regions read as zeros instead of EIO */
    NODE_GROWABLE = 1 << 10,     /* writes past the end grow the node (protocol nodes) */
    NODE_CHECK = 1 << 11,        /* opened by check (qemu's BDRV_O_CHECK): leave repairs to it */
    /* The mount (unless -o salvage): once the image is open, a read of the file past its end
     * (rounded up to a whole sector) and a table or data pointer aimed at the format's header give
     * EIO, logged, where qemu reads zeros or the header bytes (see node_check_pointer). */
    NODE_STRICT = 1 << 12,
};

/* block_status flags, qemu's BDRV_BLOCK_* semantics. */
enum {
    BS_DATA = 1 << 0,         /* reads return data (not known zero) */
    BS_ZERO = 1 << 1,         /* reads return zeros */
    BS_OFFSET_VALID = 1 << 2, /* `offset` in `file` holds the data */
    BS_RAW = 1 << 3,          /* driver passes the range through to `file`: core asks it instead */
    BS_ALLOCATED = 1 << 4,    /* this layer decides the content (set by the core) */
    BS_EOF = 1 << 5,          /* the range reaches the end of the node */
    BS_RECURSE = 1 << 6,      /* ask `file` whether the data range really reads as zero */
};

struct block_status {
    uint64_t len;       /* bytes from the query offset that share this status (> 0 unless at EOF) */
    uint64_t offset;    /* host offset in `file`, when BS_OFFSET_VALID */
    struct node *file;  /* the node `offset` refers to */
    unsigned flags;
};

/* Flags for pwrite_zeroes. */
enum {
    ZERO_MAY_UNMAP = 1 << 0,   /* the range may be deallocated */
    ZERO_NO_FALLBACK = 1 << 1, /* fail with -ENOTSUP rather than write zero buffers */
};

enum prealloc { PREALLOC_OFF, PREALLOC_METADATA, PREALLOC_FALLOC, PREALLOC_FULL };
int prealloc_parse(const char *s, enum prealloc *out);
const char *prealloc_name(enum prealloc p);

/* What `info` shows besides the generic fields. */
struct node_info {
    uint64_t cluster_size;           /* 0 when the format has none */
    bool dirty;                      /* "dirty-flag" */
    bool encrypted;
    bool needs_compressed_writes;    /* qemu's BlockDriverInfo.needs_compressed_writes */
    json_object *format_specific;    /* {"type": ..., "data": {...}} or NULL */
    bool no_block_info;              /* qemu's bdrv_get_info fails (only format_specific holds) */
};

/* qemu's BdrvCheckResult. */
struct check_result {
    int corruptions, leaks, check_errors;
    int corruptions_fixed, leaks_fixed;
    uint64_t image_end_offset;
    uint64_t total_clusters, allocated_clusters, fragmented_clusters, compressed_clusters;
};
enum { CHECK_FIX_LEAKS = 1, CHECK_FIX_ERRORS = 2 };

/* One internal snapshot (qemu's QEMUSnapshotInfo). */
struct snapshot_info {
    char *id;
    char *name;
    uint64_t vm_state_size;
    uint32_t date_sec, date_nsec;
    uint64_t vm_clock_nsec;
    uint64_t icount;  /* UINT64_MAX when not recorded */
    uint64_t disk_size; /* virtual size when the snapshot was taken */
};
void snapshot_info_list_free(struct snapshot_info *list, int count);

/* Sizes reported by measure (qemu's BlockMeasureInfo). */
struct measure_info {
    uint64_t required, fully_allocated, bitmaps;
    bool has_bitmaps;
};

struct driver {
    const char *name;
    unsigned flags;                 /* DRV_* */
    const struct opt_desc *open_opts;   /* accepted runtime options (NULL: none) */
    const struct opt_desc *create_opts; /* NULL: the format cannot be created */

    /* Score 0..100 that buf (the first bytes of the file) is in this format. */
    int (*probe)(const uint8_t *buf, size_t len, const char *filename);
    /* Protocol drivers open n->filename; format drivers read n->file. Set n->size. */
    int (*open)(struct node *n, struct opts *opts, struct error **errp);
    void (*close)(struct node *n);

    int (*pread)(struct node *n, uint64_t off, uint64_t len, void *buf);
    int (*pwrite)(struct node *n, uint64_t off, uint64_t len, const void *buf);
    int (*pwrite_zeroes)(struct node *n, uint64_t off, uint64_t len, int flags);
    int (*discard)(struct node *n, uint64_t off, uint64_t len);
    /* Write out driver caches; the core flushes the children afterwards. */
    int (*flush)(struct node *n);
    int (*block_status)(struct node *n, uint64_t off, uint64_t len, struct block_status *out);
    int (*truncate)(struct node *n, uint64_t size, bool exact, enum prealloc prealloc,
                    struct error **errp);
    /* Bytes the image occupies on the host; NULL: the sum over file children. */
    int64_t (*allocated_size)(struct node *n);
    /* Whether a freshly created image reads as zeros (convert skips writing zeros). */
    bool (*has_zero_init)(struct node *n);

    int (*create)(const char *filename, struct opts *opts, struct error **errp);
    int (*get_info)(struct node *n, struct node_info *info, struct error **errp);
    int (*check)(struct node *n, struct check_result *res, int fix);
    int (*amend)(struct node *n, struct opts *opts, bool force, struct error **errp);
    int (*measure)(struct opts *opts, struct node *in, struct measure_info *out,
                   struct error **errp);
    int (*make_empty)(struct node *n);
    int (*change_backing_file)(struct node *n, const char *backing_file, const char *backing_fmt);

    /* Internal snapshots. */
    int (*snapshot_list)(struct node *n, struct snapshot_info **list, int *count);
    int (*snapshot_create)(struct node *n, struct snapshot_info *sn, struct error **errp);
    int (*snapshot_goto)(struct node *n, const char *id_or_name, struct error **errp);
    int (*snapshot_delete)(struct node *n, const char *id, const char *name, struct error **errp);
    /* Switch a read-only node to a snapshot's point-in-time view. */
    int (*snapshot_load_tmp)(struct node *n, const char *id, const char *name,
                             struct error **errp);

    /* Persistent dirty bitmaps; see bitmap.h for the operations table. */
    const struct bitmap_ops *bitmaps;

    /* Write whole clusters compressed (convert -c); NULL: the format cannot compress. len 0 is
     * qemu's end-of-stream signal after a compressed convert (qcow2 rounds its file end up). */
    int (*pwrite_compressed)(struct node *n, uint64_t off, uint64_t len, const void *buf);
    /* Optional split of pwrite_compressed, so that convert compresses on several threads and
     * still writes in order: compress_cluster turns one whole cluster (cluster-size bytes, a short
     * last one padded with zeros) into out (cluster-size bytes) without touching the image and
     * returns the compressed length, or -ENOSPC when it does not shrink; then
     * pwrite_compressed_prepared writes it at off (or the raw cluster in when clen is -ENOSPC). */
    int64_t (*compress_cluster)(struct node *n, const void *in, void *out);
    int (*pwrite_compressed_prepared)(struct node *n, uint64_t off, uint64_t len, const void *in,
                                      const void *out, int64_t clen);
    /* Options amend accepts ("Amend options for ..."); NULL with amend set: create_opts. */
    const struct opt_desc *amend_opts;
};

enum {
    DRV_PROTOCOL = 1 << 0,  /* a protocol (file): opened by name, no file child */
    DRV_PARALLEL = 1 << 1,  /* thread-safe: the core does not serialise calls */
    DRV_BACKING = 1 << 2,   /* the format can have a backing file */
    DRV_SHARES_FILE = 1 << 3, /* raw: other users may write the file as its users allow */
};

struct node {
    const struct driver *drv;
    void *state;               /* the driver's */
    char *filename;            /* as given (or the resolved backing path) */
    struct node *file;         /* protocol child (format nodes) */
    struct node *backing;      /* opened backing node, if any */
    uint64_t size;             /* virtual size in bytes */
    int flags;                 /* NODE_* */
    bool probed;               /* the format was guessed, not given */
    bool read_only_forced;     /* opened read-only by the driver's choice */
    /* Backing file as the image records it; set by the driver's open. */
    char *backing_file;
    char *backing_fmt;
    char *full_backing_filename; /* resolved by the core */
    struct opts *open_opts;    /* options this node was opened with (for re-opening) */
    struct opts *backing_opts; /* its "backing.*" options, for re-opening the backing file */
    pthread_mutex_t lock;      /* serialises a driver without DRV_PARALLEL */
};

/* Registry. */
const struct driver *driver_find(const char *name);
/* Formats in the order "Supported formats:" lists them; NULL-terminated. */
const struct driver *const *driver_list(void);

/* Open an image: filename may be "json:{...}"; fmt NULL probes; opts (may be NULL) hold
 * --image-opts style keys ("driver", "file.filename", driver options). On failure errp holds the
 * message qemu gives after "Could not open 'NAME': ". */
struct node *node_open(const char *filename, const char *fmt, const struct opts *opts, int flags,
                       struct error **errp);
/* Close the node and its children (flushing first when writable). */
void node_close(struct node *n);

/* Guess a format from content: the driver with the best probe score, raw as the fallback. */
const struct driver *node_probe_format(struct node *file, struct error **errp);

/* Data path, with range checks and per-driver serialisation. Return 0 or -errno. */
int node_pread(struct node *n, uint64_t off, uint64_t len, void *buf);
int node_pwrite(struct node *n, uint64_t off, uint64_t len, const void *buf);
int node_pwrite_zeroes(struct node *n, uint64_t off, uint64_t len, int flags);
int node_discard(struct node *n, uint64_t off, uint64_t len);
/* Compressed write of whole clusters (the last may be short at the end); -ENOTSUP when the
 * driver cannot compress. */
int node_pwrite_compressed(struct node *n, uint64_t off, uint64_t len, const void *buf);
/* The two halves of node_pwrite_compressed (see the driver's compress_cluster); -ENOTSUP when the
 * driver does not split. */
int64_t node_compress_cluster(struct node *n, const void *in, void *out);
int node_pwrite_compressed_prepared(struct node *n, uint64_t off, uint64_t len, const void *in,
                                    const void *out, int64_t clen);
int node_flush(struct node *n);
int node_truncate(struct node *n, uint64_t size, bool exact, enum prealloc prealloc,
                  struct error **errp);
int64_t node_allocated_size(struct node *n);
bool node_has_zero_init(struct node *n);

/* Write real zero bytes (allocated, never a hole) through node_pwrite: for format metadata areas
 * that must occupy space as qemu's do. */
int node_write_zero_buffers(struct node *n, uint64_t off, uint64_t len);

/* Memory for large read/write requests (free with free()): page-aligned, because the kernel
 * copies to and from the page cache much faster than into the block malloc returns 16 bytes past
 * a page, and O_DIRECT needs no bounce for it. NULL when out of memory. */
void *io_buffer_alloc(size_t len);

/* Read what lies under a layer: the backing node's data, zeros past its end or without one. */
int node_read_backing(struct node *n, uint64_t off, uint64_t len, void *buf);

/* One layer's status at off (qemu's bdrv_block_status with want_zero). */
int node_block_status(struct node *n, uint64_t off, uint64_t len, struct block_status *out);
/* Status through the chain from top down to (not including) base; *depth gets the index of the
 * layer that answered (0 = top), or the chain length when no layer allocates the range. */
int node_block_status_above(struct node *top, struct node *base, uint64_t off, uint64_t len,
                            struct block_status *out, int *depth);

/* Resolve a backing name recorded in image `n` against n's directory ("" when relative names
 * cannot be resolved, as for json: filenames). Caller frees. */
char *node_resolve_backing_path(const struct node *n, const char *backing);

/* The name of a node for messages and info ("filename"). */
static inline const char *node_name(const struct node *n)
{
    return n->filename ? n->filename : "";
}

/* Helpers for drivers. */
int node_file_pread(struct node *n, uint64_t off, uint64_t len, void *buf);

/* Before a format driver follows a pointer read from its image into the file node `file` (a
 * table, a data block, a compressed cluster) at [off, off + len): once the image is open under
 * NODE_STRICT, -EIO with a logged message (`what` names the pointer) when the range starts inside
 * [0, header) (the header, where the format never puts a table or data) or reaches past the end
 * of the file rounded up to a whole sector; 0 otherwise, and always 0 without NODE_STRICT (qemu
 * reads the header bytes, and zeros past the end). */
int node_check_pointer(struct node *file, uint64_t off, uint64_t len, uint64_t header,
                       const char *what);

#endif
