/* flatimgfs's FUSE operations: each maps a path onto one view of the image (the main raw view,
 * a layer, a partition, a snapshot, info.json) and a request onto core node calls. Semantics follow
 * qemu-storage-daemon's FUSE export (st_size = virtual size, SEEK_DATA/SEEK_HOLE from block status). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#ifdef HAVE_LINUX_FS_H
#include <linux/falloc.h>
#endif

#include "flatimgfs.h"
#include "info.h"
#include "json.h"

#define SALVAGE_CHUNK (64u * 1024)
#define SECTOR 512u
#define DATA_BLKSIZE (1u << 20)

enum view_kind { V_NONE, V_ROOT, V_DIR_LAYERS, V_DIR_PARTS, V_DIR_SNAPS, V_MAIN, V_INFO,
                 V_LAYER, V_PART, V_SNAP };

struct view {
    enum view_kind kind;
    int index;
};

/* An open file: its view, and for info.json the text as it was at open time. */
struct handle {
    struct view v;
    char *text;
    size_t text_len;
    struct handle *prev, *next; /* fs->handles */
};

static struct fs *fs_get(void)
{
    return fuse_get_context()->private_data;
}

void fs_log(const struct fs *fs, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (fs->log_stderr) {
        fprintf(stderr, "flatimgfs: ");
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    } else {
        vsyslog(LOG_ERR, fmt, ap);
    }
    va_end(ap);
}

/* Set while salvage retries a range that gave EIO piece by piece: the reason was logged once. */
static __thread bool core_log_quiet;

void fs_core_log(void *fs, const char *msg)
{
    if (!core_log_quiet)
        fs_log(fs, "%s", msg);
}

void fs_read_partitions(struct fs *fs)
{
    struct partition parts[PART_MAX];
    int n = partitions_read(fs->top, parts);
    pthread_mutex_lock(&fs->lock);
    fs->nparts = n < 0 ? 0 : n;
    memcpy(fs->parts, parts, sizeof(parts[0]) * (size_t)fs->nparts);
    for (int i = 0; i < PART_MAX; i++)
        fs->part_data[i] = -1;
    pthread_mutex_unlock(&fs->lock);
}

/* ---- handles ---- */

static struct handle *handle_new(struct fs *fs, struct view v)
{
    struct handle *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->v = v;
    pthread_mutex_lock(&fs->lock);
    h->next = fs->handles;
    if (fs->handles)
        fs->handles->prev = h;
    fs->handles = h;
    pthread_mutex_unlock(&fs->lock);
    return h;
}

static void handle_free(struct fs *fs, struct handle *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&fs->lock);
    if (h->prev)
        h->prev->next = h->next;
    else
        fs->handles = h->next;
    if (h->next)
        h->next->prev = h->prev;
    pthread_mutex_unlock(&fs->lock);
    free(h->text);
    free(h);
}

void fs_free_handles(struct fs *fs)
{
    while (fs->handles)
        handle_free(fs, fs->handles);
}

/* ---- path resolution ---- */

static int find_name(char *const *names, int count, const char *name)
{
    for (int i = 0; i < count; i++)
        if (!strcmp(names[i], name))
            return i;
    return -1;
}

static int find_part(struct fs *fs, const char *name)
{
    char *end;
    if (name[0] != 'p' || name[1] < '1' || name[1] > '9')
        return -1;
    unsigned long num = strtoul(name + 1, &end, 10);
    if (*end)
        return -1;
    int found = -1;
    pthread_mutex_lock(&fs->lock);
    for (int i = 0; i < fs->nparts; i++)
        if (fs->parts[i].number == num)
            found = i;
    pthread_mutex_unlock(&fs->lock);
    return found;
}

static struct view resolve_child(struct fs *fs, const char *dir, size_t dlen, const char *name)
{
    struct view v = { V_NONE, -1 };
    if (dlen == 6 && !strncmp(dir, "layers", 6)) {
        v.index = find_name(fs->layer_names, fs->nlayers, name);
        v.kind = v.index < 0 ? V_NONE : V_LAYER;
    } else if (dlen == 10 && !strncmp(dir, "partitions", 10)) {
        v.index = find_part(fs, name);
        v.kind = v.index < 0 ? V_NONE : V_PART;
    } else if (dlen == 9 && !strncmp(dir, "snapshots", 9)) {
        v.index = find_name(fs->snap_names, fs->nsnaps, name);
        v.kind = v.index < 0 ? V_NONE : V_SNAP;
    }
    return v;
}

static struct view resolve(struct fs *fs, const char *path)
{
    struct view none = { V_NONE, -1 };
    if (!fs->dir_mode)
        return strcmp(path, "/") ? none : (struct view){ V_MAIN, 0 };
    if (!strcmp(path, "/"))
        return (struct view){ V_ROOT, 0 };
    path++;
    const char *slash = strchr(path, '/');
    if (slash)
        return resolve_child(fs, path, (size_t)(slash - path), slash + 1);
    if (!strcmp(path, fs->raw_name))
        return (struct view){ V_MAIN, 0 };
    if (!strcmp(path, "info.json"))
        return (struct view){ V_INFO, 0 };
    if (!strcmp(path, "layers"))
        return (struct view){ V_DIR_LAYERS, 0 };
    if (!strcmp(path, "partitions"))
        return (struct view){ V_DIR_PARTS, 0 };
    if (!strcmp(path, "snapshots"))
        return (struct view){ V_DIR_SNAPS, 0 };
    return none;
}

/* ---- views ---- */

/* The node behind a snapshot view, opened read-only on first use. */
static struct node *snap_node(struct fs *fs, int i)
{
    pthread_mutex_lock(&fs->lock);
    struct node *n = fs->snap_nodes[i];
    if (!n) {
        struct error *err = NULL;
        n = node_open(fs->image_opts ? NULL : fs->image, fs->fmt, fs->image_opts, fs->snap_flags,
                      &err);
        if (n && (!n->drv->snapshot_load_tmp ||
                  n->drv->snapshot_load_tmp(n, fs->snaps[i].id, NULL, &err) < 0)) {
            if (!n->drv->snapshot_load_tmp)
                error_setg(&err, "snapshots are not supported by this format");
            node_close(n);
            n = NULL;
        }
        if (!n) {
            fs_log(fs, "Could not open snapshot '%s': %s", fs->snaps[i].name,
                   err ? error_msg(err) : "unknown error");
            error_free(err);
        }
        fs->snap_nodes[i] = n;
    }
    pthread_mutex_unlock(&fs->lock);
    return n;
}

/* The node a view reads through and the offset of the view in it. */
static struct node *view_node(struct fs *fs, struct view v, uint64_t *base, uint64_t *size)
{
    *base = 0;
    switch (v.kind) {
    case V_MAIN:
        *size = fs->top->size;
        return fs->top;
    case V_LAYER:
        *size = fs->layers[v.index]->size;
        return fs->layers[v.index];
    case V_PART:
        pthread_mutex_lock(&fs->lock);
        *base = fs->parts[v.index].start;
        *size = fs->parts[v.index].size;
        pthread_mutex_unlock(&fs->lock);
        return fs->top;
    case V_SNAP: {
        struct node *n = snap_node(fs, v.index);
        *size = n ? n->size : fs->snaps[v.index].disk_size;
        return n;
    }
    default:
        *size = 0;
        return NULL;
    }
}

static bool view_writable(const struct fs *fs, struct view v)
{
    return fs->rw && (v.kind == V_MAIN || v.kind == V_PART);
}

static char *info_text(struct fs *fs, size_t *len)
{
    json_object *list = json_object_new_array();
    for (int i = 0; i < fs->nlayers; i++) {
        struct error *err = NULL;
        json_object *info = image_info_build(fs->layers[i], &err);
        if (!info) {
            fs_log(fs, "info.json: %s", error_msg(err));
            error_free(err);
            break;
        }
        json_object_array_add(list, info);
    }
    char *body = json_to_qemu_string(list, 1);
    json_object_put(list);
    char *text = NULL;
    if (body && asprintf(&text, "%s\n", body) < 0)
        text = NULL;
    free(body);
    *len = text ? strlen(text) : 0;
    return text;
}

/* ---- attributes and directories ---- */

static void fill_stat(struct fs *fs, struct stat *st, mode_t mode, uint64_t size, int64_t alloc)
{
    memset(st, 0, sizeof(*st));
    st->st_mode = mode & ~(mode_t)fs->umask;
    st->st_nlink = S_ISDIR(mode) ? 2 : 1;
    st->st_uid = fs->image_st.st_uid;
    st->st_gid = fs->image_st.st_gid;
    st->st_size = (off_t)size;
    st->st_blocks = alloc >= 0 ? (blkcnt_t)((alloc + SECTOR - 1) / SECTOR)
                               : (blkcnt_t)((size + SECTOR - 1) / SECTOR);
    /* the request size the mount serves best: cat, cp, cmp and stdio read this much at a time */
    st->st_blksize = S_ISREG(mode) && size > SECTOR ? DATA_BLKSIZE : 4096;
    st->st_atim = fs->image_st.st_atim;
    st->st_mtim = fs->image_st.st_mtim;
    st->st_ctim = fs->image_st.st_ctim;
}

/* Bytes of [off, off + len) of n's view through its chain that read as data: the space of a view
 * that has no file of its own (a partition, a snapshot), -1 on error. */
static int64_t data_bytes(struct node *n, uint64_t off, uint64_t len)
{
    int64_t total = 0;
    while (len) {
        struct block_status bs;
        if (node_block_status_above(n, NULL, off, len, &bs, NULL) < 0)
            return -1;
        if (bs.len == 0)
            break; /* past the end: zeros */
        uint64_t l = bs.len < len ? bs.len : len;
        if ((bs.flags & BS_DATA) && !(bs.flags & BS_ZERO))
            total += (int64_t)l;
        off += l;
        len -= l;
    }
    return total;
}

/* st_blocks of a partition or a snapshot, from block status; cached (the partition cache is reset
 * when the table is read again on a writable mount, where writes also make it stale: not cached). */
static int64_t view_data_bytes(struct fs *fs, struct view v)
{
    int64_t *slot = v.kind == V_PART ? &fs->part_data[v.index] : &fs->snap_data[v.index];
    uint64_t base, size;
    pthread_mutex_lock(&fs->lock);
    int64_t cached = *slot;
    pthread_mutex_unlock(&fs->lock);
    if (cached >= 0 && !(v.kind == V_PART && fs->rw))
        return cached;
    struct node *n = view_node(fs, v, &base, &size);
    int64_t bytes = n ? data_bytes(n, base, size) : -1;
    pthread_mutex_lock(&fs->lock);
    *slot = bytes;
    pthread_mutex_unlock(&fs->lock);
    return bytes;
}

/* With nullpath_ok, calls on an open file may come without a path: use the handle's view. */
static struct view view_of(struct fs *fs, const char *path, const struct fuse_file_info *fi)
{
    if (fi && fi->fh)
        return ((const struct handle *)(uintptr_t)fi->fh)->v;
    if (!path)
        return (struct view){ V_NONE, -1 };
    return resolve(fs, path);
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    struct fs *fs = fs_get();
    struct view v = view_of(fs, path, fi);
    mode_t file_mode = S_IFREG | (view_writable(fs, v) ? 0644 : 0444);
    uint64_t base, size;
    switch (v.kind) {
    case V_NONE:
        return -ENOENT;
    case V_ROOT: case V_DIR_LAYERS: case V_DIR_PARTS: case V_DIR_SNAPS:
        fill_stat(fs, st, S_IFDIR | 0555, 0, 0);
        return 0;
    case V_INFO: {
        size_t len;
        if (fi && fi->fh) {
            len = ((const struct handle *)(uintptr_t)fi->fh)->text_len;
        } else {
            char *text = info_text(fs, &len);
            free(text);
        }
        fill_stat(fs, st, S_IFREG | 0444, len, -1);
        st->st_blksize = 4096;
        return 0;
    }
    case V_MAIN: case V_LAYER: {
        struct node *n = view_node(fs, v, &base, &size);
        fill_stat(fs, st, file_mode, size, node_allocated_size(n));
        return 0;
    }
    case V_PART: case V_SNAP: {
        int64_t bytes = view_data_bytes(fs, v);
        view_node(fs, v, &base, &size);
        fill_stat(fs, st, file_mode, size, bytes);
        return 0;
    }
    default:
        return -ENOENT;
    }
}

/* Directories keep their view in fi->fh too (readdir may come without a path). */
static int fs_opendir(const char *path, struct fuse_file_info *fi)
{
    struct fs *fs = fs_get();
    struct view v = resolve(fs, path);
    if (v.kind == V_NONE)
        return -ENOENT;
    if (v.kind >= V_MAIN)
        return -ENOTDIR;
    struct handle *h = handle_new(fs, v);
    if (!h)
        return -ENOMEM;
    fi->fh = (uint64_t)(uintptr_t)h;
    return 0;
}

static int fs_releasedir(const char *path, struct fuse_file_info *fi)
{
    handle_free(fs_get(), (struct handle *)(uintptr_t)fi->fh);
    return 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t offset,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    struct fs *fs = fs_get();
    struct view v = view_of(fs, path, fi);
    fill(buf, ".", NULL, 0, 0);
    fill(buf, "..", NULL, 0, 0);
    switch (v.kind) {
    case V_ROOT:
        fill(buf, fs->raw_name, NULL, 0, 0);
        fill(buf, "info.json", NULL, 0, 0);
        fill(buf, "layers", NULL, 0, 0);
        fill(buf, "partitions", NULL, 0, 0);
        fill(buf, "snapshots", NULL, 0, 0);
        return 0;
    case V_DIR_LAYERS:
        for (int i = 0; i < fs->nlayers; i++)
            fill(buf, fs->layer_names[i], NULL, 0, 0);
        return 0;
    case V_DIR_SNAPS:
        for (int i = 0; i < fs->nsnaps; i++)
            fill(buf, fs->snap_names[i], NULL, 0, 0);
        return 0;
    case V_DIR_PARTS:
        if (fs->rw)
            fs_read_partitions(fs); /* the table may have been rewritten through the mount */
        pthread_mutex_lock(&fs->lock);
        for (int i = 0; i < fs->nparts; i++) {
            char name[16];
            snprintf(name, sizeof(name), "p%u", fs->parts[i].number);
            fill(buf, name, NULL, 0, 0);
        }
        pthread_mutex_unlock(&fs->lock);
        return 0;
    case V_NONE:
        return -ENOENT;
    default:
        return -ENOTDIR;
    }
}

/* ---- open / release ---- */

static int fs_open(const char *path, struct fuse_file_info *fi)
{
    struct fs *fs = fs_get();
    struct view v = resolve(fs, path);
    if (v.kind == V_NONE)
        return -ENOENT;
    if (v.kind < V_MAIN)
        return -EISDIR;
    if ((fi->flags & O_ACCMODE) != O_RDONLY && !view_writable(fs, v))
        return fs->rw ? -EACCES : -EROFS;
    uint64_t base, size;
    if (v.kind == V_SNAP && !view_node(fs, v, &base, &size))
        return -EIO;
    struct handle *h = handle_new(fs, v);
    if (!h)
        return -ENOMEM;
    /* Direct I/O (the default) hands each read(2) to us whole, up to 1 MiB, straight into the
     * reader's buffer: a third of the CPU of filling page-cache pages that the reader then copies
     * again. -o page-cache keeps the cache (shared mmap, repeated reads) instead. */
    if (v.kind != V_INFO)
        fi->direct_io = !fs->page_cache;
    fi->keep_cache = fs->page_cache && fs->keep_cache;
    if (v.kind == V_INFO) {
        h->text = info_text(fs, &h->text_len);
        if (!h->text) {
            handle_free(fs, h);
            return -EIO;
        }
    }
    fi->fh = (uint64_t)(uintptr_t)h;
    return 0;
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
    handle_free(fs_get(), (struct handle *)(uintptr_t)fi->fh);
    return 0;
}

/* ---- data path ---- */

/* One salvage chunk sector by sector: zero what cannot be read; *zeroed counts those bytes. */
static int salvage_sectors(struct node *n, uint64_t off, uint64_t len, uint8_t *buf,
                           uint64_t *zeroed)
{
    for (uint64_t done = 0; done < len; done += SECTOR) {
        uint64_t l = len - done < SECTOR ? len - done : SECTOR;
        int ret = node_pread(n, off + done, l, buf + done);
        if (ret == -EIO) {
            memset(buf + done, 0, l);
            *zeroed += l;
        } else if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

/* -o salvage: read a range that gave EIO chunk by chunk, zeroing the unreadable sectors, with one
 * log line per damaged chunk. */
static int salvage_read(struct fs *fs, struct node *n, uint64_t off, uint64_t len, uint8_t *buf)
{
    for (uint64_t done = 0; done < len;) {
        uint64_t chunk = len - done < SALVAGE_CHUNK ? len - done : SALVAGE_CHUNK;
        uint64_t zeroed = 0;
        int ret = node_pread(n, off + done, chunk, buf + done);
        if (ret == -EIO)
            ret = salvage_sectors(n, off + done, chunk, buf + done, &zeroed);
        if (ret < 0)
            return ret;
        if (zeroed)
            fs_log(fs, "salvage: %" PRIu64 " unreadable bytes in [%" PRIu64 ", +%" PRIu64
                   ") of '%s' read as zeros", zeroed, off + done, chunk, node_name(n));
        done += chunk;
    }
    return 0;
}

/* Zeros for [buf, buf + len) of a read: noted in zr when the reply can take them from elsewhere
 * (fs_read_view), written into buf otherwise. */
static void zero_fill(struct zero_runs *zr, uint8_t *buf, uint64_t len)
{
    if (zr && zr->n < ZERO_RUNS_MAX && len >= ZERO_RUN_MIN) {
        zr->run[zr->n].at = buf;
        zr->run[zr->n++].len = len;
    } else {
        memset(buf, 0, len);
    }
}

/* A read-only mount reads through block status: ranges that read as zeros through the whole chain
 * are zero-filled here, without a read of a hole or a walk down the layers, and the data ranges
 * are read in runs (under NODE_STRICT, data placed past the end of its file stays data in block
 * status, so its read gives the file's EIO). Read-only only: on a rw mount a concurrent write may
 * change the status of a range between the query and the read. */
static int read_by_status(struct fs *fs, struct node *n, uint64_t off, uint64_t len, uint8_t *buf,
                          struct zero_runs *zr)
{
    uint64_t run = off, end = off + len; /* [run, off): data not read yet */
    int ret = 0;
    while (off < end) {
        struct block_status bs;
        if ((ret = node_block_status_above(n, NULL, off, end - off, &bs, NULL)) < 0)
            return ret;
        if (bs.len == 0) { /* past the end of the node: zeros */
            bs.len = end - off;
            bs.flags = BS_ZERO;
        }
        uint64_t l = bs.len < end - off ? bs.len : end - off;
        if (bs.flags & BS_ZERO) {
            if (off > run && (ret = node_pread(n, run, off - run, buf + (run - (end - len)))) < 0)
                return ret;
            zero_fill(zr, buf + (off - (end - len)), l);
            run = off + l;
        }
        off += l;
    }
    if (off > run)
        ret = node_pread(n, run, off - run, buf + (run - (end - len)));
    return ret;
}

static int checked_read(struct fs *fs, struct node *n, uint64_t off, uint64_t len, uint8_t *buf,
                        struct zero_runs *zr)
{
    int ret = fs->rw ? node_pread(n, off, len, buf) : read_by_status(fs, n, off, len, buf, zr);
    if (ret == -EIO && fs->salvage) {
        core_log_quiet = true; /* the failed read logged the reason; salvage logs what it zeroes */
        ret = salvage_read(fs, n, off, len, buf);
        core_log_quiet = false;
        return ret;
    }
    if (ret < 0)
        fs_log(fs, "read of %" PRIu64 " bytes at offset %" PRIu64 " of '%s' failed: %s", len, off,
               node_name(n), strerror(-ret));
    return ret;
}

/* A layer on its own: what it allocates, zeros elsewhere (nothing comes from below). */
static int layer_read(struct fs *fs, struct node *n, uint64_t off, uint64_t len, uint8_t *buf,
                      struct zero_runs *zr)
{
    while (len) {
        struct block_status bs;
        int ret = node_block_status(n, off, len, &bs);
        if (ret < 0)
            return ret;
        uint64_t l = bs.len && bs.len < len ? bs.len : len;
        if (bs.len && (bs.flags & BS_ALLOCATED) && !(bs.flags & BS_ZERO))
            ret = checked_read(fs, n, off, l, buf, zr);
        else
            zero_fill(zr, buf, l);
        if (ret < 0)
            return ret;
        off += l;
        len -= l;
        buf += l;
    }
    return 0;
}

/* A read smaller than a cluster, inside one cluster that does not map to the file (compressed,
 * or a format without block status): the whole cluster is decoded once into the cluster cache and
 * the small reads that follow (a file system on a loop device, a reader with a small buffer) are
 * served from it, instead of inflating the cluster again for each. Returns 1 when it served the
 * read, 0 when the read should take the normal path, -errno on error. Only when the image cannot
 * change under us (fs->keep_cache). */
static int cluster_cache_read(struct fs *fs, struct node *n, uint64_t off, uint64_t len,
                              uint8_t *buf)
{
    struct cluster_cache *cc = &fs->ccache;
    uint64_t align = fs->piece_align, start = off & ~(align - 1), end = start + align;
    if (!fs->keep_cache || cc->slots == 0 || len >= align)
        return 0;
    if (end > n->size)
        end = n->size;
    if (off + len > end)
        return 0;
    struct block_status bs;
    if (node_block_status_above(n, NULL, off, len, &bs, NULL) < 0 || bs.len < len ||
        !(bs.flags & BS_DATA) || (bs.flags & (BS_ZERO | BS_OFFSET_VALID)))
        return 0;
    pthread_mutex_lock(&cc->lock);
    for (unsigned i = 0; i < cc->slots; i++) {
        if (cc->e[i].data && cc->e[i].node == n && cc->e[i].off == start) {
            memcpy(buf, cc->e[i].data + (off - start), len);
            cc->e[i].used = ++cc->tick;
            pthread_mutex_unlock(&cc->lock);
            return 1;
        }
    }
    pthread_mutex_unlock(&cc->lock);
    uint8_t *data = malloc(end - start);
    if (!data)
        return 0;
    int ret = checked_read(fs, n, start, end - start, data, NULL);
    if (ret < 0) {
        free(data);
        return ret;
    }
    memcpy(buf, data + (off - start), len);
    pthread_mutex_lock(&cc->lock);
    unsigned victim = 0;
    for (unsigned i = 1; i < cc->slots; i++)
        if (cc->e[i].used < cc->e[victim].used)
            victim = i;
    free(cc->e[victim].data);
    cc->e[victim].node = n;
    cc->e[victim].off = start;
    cc->e[victim].len = end - start;
    cc->e[victim].data = data;
    cc->e[victim].used = ++cc->tick;
    pthread_mutex_unlock(&cc->lock);
    return 1;
}

void fs_cluster_cache_init(struct fs *fs)
{
    struct cluster_cache *cc = &fs->ccache;
    pthread_mutex_init(&cc->lock, NULL);
    /* 4 MiB at most: 16 clusters of 64 KiB, 2 of 2 MiB */
    uint64_t slots = fs->piece_align ? (4u << 20) / fs->piece_align : 0;
    cc->slots = slots > CLUSTER_CACHE_SLOTS ? CLUSTER_CACHE_SLOTS : slots < 2 ? 2 : (unsigned)slots;
}

void fs_cluster_cache_free(struct fs *fs)
{
    struct cluster_cache *cc = &fs->ccache;
    for (unsigned i = 0; i < cc->slots; i++)
        free(cc->e[i].data);
    if (cc->slots)
        pthread_mutex_destroy(&cc->lock);
    cc->slots = 0;
}

struct piece_ctx {
    struct fs *fs;
    struct node *n;
};

static int piece_read(void *ctx, uint64_t off, uint64_t len, uint8_t *buf)
{
    struct piece_ctx *pc = ctx;
    return checked_read(pc->fs, pc->n, off, len, buf, NULL);
}

/* Whether producing [off, off + len) of n costs CPU beyond a copy: some data the chain cannot
 * place in a file (compressed, encrypted, a format without block status). Only such reads are
 * worth sharing with the read pool: handing a piece to a thread on another CPU costs about one
 * cross-CPU wake-up (57 us per round trip on a 2-vCPU VM, 5 us on one CPU), more than copying a
 * piece of page cache or filling it with zeros, and the copy of the reply then reads the piece
 * from the other CPU's cache. */
static bool costly_range(struct node *n, uint64_t off, uint64_t len)
{
    uint64_t end = off + len;
    while (off < end) {
        struct block_status bs;
        if (node_block_status_above(n, NULL, off, end - off, &bs, NULL) < 0 || bs.len == 0)
            return false; /* the read reports the error, or reads zeros past the end */
        if ((bs.flags & BS_DATA) && !(bs.flags & (BS_ZERO | BS_OFFSET_VALID)))
            return true;
        off += bs.len;
    }
    return false;
}

int fs_read_view(struct fs *fs, struct handle *h, uint64_t off, size_t len, uint8_t *buf,
                 struct zero_runs *zr)
{
    uint64_t base, size;
    if (zr)
        zr->n = 0;
    if (h->v.kind == V_INFO) {
        if (off >= h->text_len)
            return 0;
        size_t l = h->text_len - off < len ? h->text_len - off : len;
        memcpy(buf, h->text + off, l);
        return (int)l;
    }
    struct node *n = view_node(fs, h->v, &base, &size);
    if (!n)
        return -EIO;
    if (off >= size)
        return 0;
    if (len > size - off)
        len = size - off;
    int ret;
    if (h->v.kind == V_LAYER) {
        ret = layer_read(fs, n, off, len, buf, zr);
    } else if ((ret = cluster_cache_read(fs, n, base + off, len, buf)) == 0) {
        struct piece_ctx pc = { fs, n };
        bool costly = readpool_splits(fs->pool, len, fs->piece_align) &&
                      costly_range(n, base + off, len);
        ret = costly ? readpool_read(fs->pool, piece_read, &pc, base + off, len, buf,
                                     fs->piece_align)
                     : checked_read(fs, n, base + off, len, buf, zr);
    }
    if (ret < 0 && zr)
        zr->n = 0;
    return ret < 0 ? ret : (int)len;
}

static int fs_read(const char *path, char *buf, size_t len, off_t offset,
                   struct fuse_file_info *fi)
{
    (void)path;
    if (offset < 0)
        return -EINVAL;
    return fs_read_view(fs_get(), (struct handle *)(uintptr_t)fi->fh, (uint64_t)offset, len,
                        (uint8_t *)buf, NULL);
}

/* Grow the main view for a write past its end (-o growable). */
static int grow_to(struct fs *fs, uint64_t end)
{
    struct error *err = NULL;
    int ret = node_truncate(fs->top, end, false, PREALLOC_OFF, &err);
    if (ret < 0) {
        fs_log(fs, "Could not grow '%s': %s", node_name(fs->top), error_msg(err));
        error_free(err);
    }
    return ret;
}

/* Bounds of a write on a view: the range in the node, growing the main view when allowed. */
static int write_range(struct fs *fs, struct view v, uint64_t off, uint64_t len, uint64_t *node_off)
{
    uint64_t base, size, end;
    view_node(fs, v, &base, &size);
    if (!view_writable(fs, v))
        return -EROFS;
    if (__builtin_add_overflow(off, len, &end))
        return -EFBIG;
    if (end > size) {
        if (v.kind != V_MAIN || !fs->growable)
            return -ENOSPC;
        int ret = grow_to(fs, end);
        if (ret < 0)
            return ret;
    }
    *node_off = base + off;
    return 0;
}

static int fs_write(const char *path, const char *buf, size_t len, off_t offset,
                    struct fuse_file_info *fi)
{
    struct fs *fs = fs_get();
    struct handle *h = (struct handle *)(uintptr_t)fi->fh;
    uint64_t at;
    if (offset < 0)
        return -EINVAL;
    int ret = write_range(fs, h->v, (uint64_t)offset, len, &at);
    if (ret == 0)
        ret = node_pwrite(fs->top, at, len, buf);
    if (ret < 0) {
        fs_log(fs, "write of %zu bytes at offset %" PRIu64 " of '%s' failed: %s", len,
               (uint64_t)offset, node_name(fs->top), strerror(-ret));
        return ret;
    }
    return (int)len;
}

static int fs_fallocate(const char *path, int mode, off_t offset, off_t length,
                        struct fuse_file_info *fi)
{
    struct fs *fs = fs_get();
    struct handle *h = (struct handle *)(uintptr_t)fi->fh;
    uint64_t at;
    if (offset < 0 || length <= 0)
        return -EINVAL;
    if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
        return -EOPNOTSUPP;
    if ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE))
        return -EOPNOTSUPP;
    uint64_t base, size, len = (uint64_t)length, off = (uint64_t)offset;
    view_node(fs, h->v, &base, &size);
    if ((mode & FALLOC_FL_KEEP_SIZE) && off < size && len > size - off)
        len = size - off; /* KEEP_SIZE never extends */
    else if ((mode & FALLOC_FL_KEEP_SIZE) && off >= size)
        return 0;
    int ret = write_range(fs, h->v, off, len, &at);
    if (ret < 0)
        return ret;
    if (mode & FALLOC_FL_PUNCH_HOLE)
        ret = node_pwrite_zeroes(fs->top, at, len, ZERO_MAY_UNMAP); /* must read back zeros */
    else if (mode & FALLOC_FL_ZERO_RANGE)
        ret = node_pwrite_zeroes(fs->top, at, len, 0);
    /* plain allocation: the blocks exist as far as the image format allows; nothing to do */
    if (ret < 0)
        fs_log(fs, "fallocate(mode %#x) of %" PRIu64 " bytes at offset %" PRIu64 " failed: %s",
               (unsigned)mode, len, off, strerror(-ret));
    return ret;
}

static int fs_flush(const char *path, struct fuse_file_info *fi)
{
    struct fs *fs = fs_get();
    return fs->rw ? node_flush(fs->top) : 0;
}

static int fs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    return fs_flush(path, fi);
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    struct fs *fs = fs_get();
    struct view v = view_of(fs, path, fi);
    uint64_t base, cur;
    if (v.kind == V_NONE)
        return -ENOENT;
    view_node(fs, v, &base, &cur);
    if (size >= 0 && (uint64_t)size == cur)
        return 0;
    if (!view_writable(fs, v))
        return fs->rw ? -EPERM : -EROFS;
    if (v.kind != V_MAIN || !fs->growable || size < 0)
        return -EPERM;
    return grow_to(fs, (uint64_t)size);
}

/* SEEK_DATA/SEEK_HOLE: whether [off, off + *len) of a view reads data (true) or zeros, from the
 * block status of the whole chain (a layer view: of that layer alone). */
static int view_extent(struct fs *fs, struct view v, uint64_t off, uint64_t *len, bool *data)
{
    uint64_t base, size;
    struct node *n = view_node(fs, v, &base, &size);
    struct block_status bs;
    int ret;
    if (!n)
        return -EIO;
    if (v.kind == V_LAYER)
        ret = node_block_status(n, off, *len, &bs);
    else
        ret = node_block_status_above(n, NULL, base + off, *len, &bs, NULL);
    if (ret < 0)
        return ret;
    if (bs.len == 0) { /* past the node's end: zeros */
        *data = false;
        return 0;
    }
    *data = (bs.flags & BS_DATA) && !(bs.flags & BS_ZERO);
    if (v.kind == V_LAYER && !(bs.flags & BS_ALLOCATED))
        *data = false;
    if (bs.len < *len)
        *len = bs.len;
    return 0;
}

static off_t fs_lseek(const char *path, off_t offset, int whence, struct fuse_file_info *fi)
{
    struct fs *fs = fs_get();
    struct handle *h = (struct handle *)(uintptr_t)fi->fh;
    uint64_t base, size;
    if (whence != SEEK_DATA && whence != SEEK_HOLE)
        return -EINVAL;
    if (h->v.kind == V_INFO)
        size = h->text_len;
    else if (!view_node(fs, h->v, &base, &size))
        return -EIO;
    if (offset < 0)
        return -ENXIO;
    uint64_t off = (uint64_t)offset;
    if (off >= size)
        return -ENXIO;
    if (h->v.kind == V_INFO)
        return whence == SEEK_DATA ? offset : (off_t)size;
    while (off < size) {
        uint64_t len = size - off;
        bool data;
        int ret = view_extent(fs, h->v, off, &len, &data);
        if (ret < 0)
            return ret;
        if (data == (whence == SEEK_DATA))
            return (off_t)off;
        off += len;
    }
    return whence == SEEK_DATA ? -ENXIO : (off_t)size;
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    struct fs *fs = fuse_get_context()->private_data;
    /* read-only and locked against writers: what the kernel cached stays true across opens */
    cfg->kernel_cache = fs->page_cache && fs->keep_cache;
    cfg->use_ino = 0;
    /* reads and writes find their view through fi->fh: spare the path building per request */
    cfg->nullpath_ok = 1;
    /* large requests: sequential reads and writes of 1 MiB reach the image in one call */
    conn->max_write = 1u << 20;
    if (fs->max_read)
        conn->max_read = fs->max_read;
    if (conn->max_readahead > 0)
        conn->max_readahead = 1u << 20;
    /* more requests in flight for read-ahead and asynchronous direct I/O (kernel default 12) */
    conn->max_background = 64;
    /* the kernel keeps the smaller of this and the read-ahead set before INIT (flatimgfs.c) */
    if (fs->readahead_kib)
        conn->max_readahead = (unsigned)(fs->readahead_kib * 1024);
    /* threads are started here, in the daemon: fork() keeps none */
    int workers = fs->read_threads;
    if (workers < 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        workers = cpus > 8 ? 7 : cpus > 1 ? (int)cpus - 1 : 0;
    }
    fs->pool = readpool_new((unsigned)workers);
    fs_cluster_cache_init(fs);
    /* the mount answers from now on: let the parent of the daemon return (flatimgfs.c) */
    if (fs->ready_fd >= 0) {
        char ok = 1;
        if (write(fs->ready_fd, &ok, 1) != 1)
            fs_log(fs, "could not signal readiness: %s", strerror(errno));
        close(fs->ready_fd);
        fs->ready_fd = -1;
    }
    return fs;
}

const struct fuse_operations flatimgfs_ops = {
    .init = fs_init,
    .getattr = fs_getattr,
    .opendir = fs_opendir,
    .readdir = fs_readdir,
    .releasedir = fs_releasedir,
    .open = fs_open,
    .release = fs_release,
    .read = fs_read,
    .write = fs_write,
    .flush = fs_flush,
    .fsync = fs_fsync,
    .truncate = fs_truncate,
    .fallocate = fs_fallocate,
    .lseek = fs_lseek,
};
