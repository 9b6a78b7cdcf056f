/* flatimgfs's state shared by the start-up code (flatimgfs.c) and the FUSE operations (ops.c):
 * one open image chain and the views the mount shows of it. */
#ifndef FLATIMGFS_H
#define FLATIMGFS_H

#define FUSE_USE_VERSION 31

#include <fuse.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "node.h"
#include "partitions.h"
#include "readpool.h"

#define FS_MAX_LAYERS 64

struct handle;

#define CLUSTER_CACHE_SLOTS 16

/* Whole clusters that cost a decoding to read (compressed: data that block status cannot map to
 * the file), kept for the small reads that follow into the same cluster (ops.c). */
struct cluster_cache {
    pthread_mutex_t lock;
    unsigned slots;           /* in use: at most CLUSTER_CACHE_SLOTS, fewer for big clusters */
    uint64_t tick;
    struct {
        struct node *node;
        uint64_t off, len, used; /* [off, off + len) of node; used: tick of the last hit */
        uint8_t *data;
    } e[CLUSTER_CACHE_SLOTS];
};

struct fs {
    struct node *top;         /* the main raw view */
    bool rw, growable, salvage, log_stderr;
    bool dir_mode;            /* mountpoint is a directory: show the whole tree */
    bool keep_cache;          /* nobody else writes the image: the page cache stays valid */
    bool page_cache;          /* -o page-cache: reads go through the kernel page cache; otherwise
                               * the views are opened with direct I/O (one request per read) */
    unsigned long readahead_kib; /* -o readahead=: the kernel read-ahead of a page-cache mount */
    char *image;              /* absolute image path (or option string), for snapshot re-opens */
    char *fmt;
    struct opts *image_opts;  /* --image-opts / image-opts= keys, or NULL */
    int snap_flags;           /* NODE_* flags for snapshot nodes */
    char *raw_name;           /* "<image name without extension>.raw" */
    struct stat image_st;     /* times and owner shown on every entry */

    int nlayers;
    struct node *layers[FS_MAX_LAYERS];
    char *layer_names[FS_MAX_LAYERS];

    int nsnaps;
    struct snapshot_info *snaps;
    char **snap_names;        /* "<name>.raw" */
    struct node **snap_nodes; /* opened on first use, under lock */
    int64_t *snap_data;       /* bytes of each snapshot that read as data, -1 until asked */

    pthread_mutex_t lock;     /* partitions table, snapshot nodes, open handles */
    struct handle *handles;   /* open files and directories (ops.c) */
    int nparts;
    struct partition parts[PART_MAX];
    int64_t part_data[PART_MAX]; /* bytes of each partition that read as data, -1 until asked */
    unsigned max_read;        /* -o max_read=N given (0: not) */
    unsigned umask;           /* -o umask=M: cleared from every mode shown */
    int read_threads;         /* -o read-threads=N: workers of the read pool, -1 for the default */
    uint64_t piece_align;     /* largest cluster size in the chain: pieces of a read start there */
    struct readpool *pool;    /* started by fs_init, in the daemon */
    struct cluster_cache ccache; /* used when keep_cache: the image cannot change */
    int ready_fd;             /* daemonising: the pipe to the waiting parent, -1 when done */
};

extern const struct fuse_operations flatimgfs_ops;

#define ZERO_RUNS_MAX 64
#define ZERO_RUN_MIN 4096u /* shorter zero ranges are cheaper to write than to send apart */

/* The ranges of a read's buffer that read as zeros and were not written (fs_read_view). */
struct zero_runs {
    unsigned n;
    struct {
        uint8_t *at;
        uint64_t len;
    } run[ZERO_RUNS_MAX];
};

/* Read [off, off + len) of an open file's view into buf: the bytes read (short at the end of the
 * view) or -errno. With zr, ranges that read as zeros may be left unwritten and listed there
 * instead, in increasing order, for a reply that sends zeros from elsewhere (loop.c). */
int fs_read_view(struct fs *fs, struct handle *h, uint64_t off, size_t len, uint8_t *buf,
                 struct zero_runs *zr);

/* Serve the mount until it is unmounted or a signal ends the session: `threads` threads take
 * requests from the FUSE device (loop.c). Returns 0, or -errno when the device failed. */
int fs_loop(struct fs *fs, struct fuse_session *se, unsigned threads, bool fast_read);

/* "flatimgfs: ..." on stderr in the foreground, syslog otherwise. */
void fs_log(const struct fs *fs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The core's log handler (error_set_log_handler): corrupt regions the drivers find. */
void fs_core_log(void *fs, const char *msg);
/* Free the handles the kernel did not release before the unmount (RELEASE is asynchronous). */
void fs_free_handles(struct fs *fs);
/* The cluster cache of small reads (ops.c): set up by fs_init, freed at close. */
void fs_cluster_cache_init(struct fs *fs);
void fs_cluster_cache_free(struct fs *fs);
/* Re-read the partition table of the main view (under fs->lock). */
void fs_read_partitions(struct fs *fs);

#endif
