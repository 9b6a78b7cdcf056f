/* Opening images (probing, json: and --image-opts option trees, backing chains), the data path
 * wrappers every program uses, and block status with qemu's bdrv_co_block_status semantics. */
#include "config.h"
#include "node.h"

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "file.h"
#include "json.h"

#define PROBE_BUF_SIZE 2048
#define MAX_CHAIN_DEPTH 1000

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

int prealloc_parse(const char *s, enum prealloc *out)
{
    static const char *const names[] = { "off", "metadata", "falloc", "full" };
    for (int i = 0; i < 4; i++) {
        if (!strcmp(s, names[i])) {
            *out = (enum prealloc)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *prealloc_name(enum prealloc p)
{
    static const char *const names[] = { "off", "metadata", "falloc", "full" };
    return names[p];
}

void snapshot_info_list_free(struct snapshot_info *list, int count)
{
    for (int i = 0; list && i < count; i++) {
        free(list[i].id);
        free(list[i].name);
    }
    free(list);
}

static struct node *node_alloc(const struct driver *drv, const char *filename, int flags)
{
    struct node *n = calloc(1, sizeof(*n));
    if (!n)
        abort();
    n->drv = drv;
    n->filename = filename ? xstrdup(filename) : NULL;
    n->flags = flags;
    pthread_mutex_init(&n->lock, NULL);
    return n;
}

static void node_free(struct node *n)
{
    free(n->filename);
    free(n->backing_file);
    free(n->backing_fmt);
    free(n->full_backing_filename);
    opts_free(n->open_opts);
    opts_free(n->backing_opts);
    pthread_mutex_destroy(&n->lock);
    free(n);
}

void node_close(struct node *n)
{
    if (!n)
        return;
    if (n->flags & NODE_RDWR)
        (void)node_flush(n);
    if (n->drv->close)
        n->drv->close(n);
    node_close(n->backing);
    node_close(n->file);
    node_free(n);
}

/* Protocol-level flags: what the file child inherits from its format parent. */
static int file_flags(int flags)
{
    return flags & (NODE_RDWR | NODE_FORCE_SHARE | NODE_NOCACHE | NODE_NO_FLUSH |
                    NODE_UNSHARE_WRITE | NODE_NO_LOCK | NODE_WRITETHROUGH);
}

const struct driver *node_probe_format(struct node *file, struct error **errp)
{
    /* qemu: an empty file is raw without asking anyone; otherwise every driver sees the first
     * 2048 bytes, zero-padded when the file is shorter */
    const struct driver *best = driver_find("raw");
    if (file->size == 0)
        return best;
    uint8_t buf[PROBE_BUF_SIZE] = { 0 };
    uint64_t len = file->size < sizeof(buf) ? file->size : sizeof(buf);
    int ret = node_pread(file, 0, len, buf);
    if (ret < 0) {
        error_setg_errno(errp, ret, "Could not read image for determining its format");
        return NULL;
    }
    int best_score = 0;
    for (const struct driver *const *d = driver_list(); *d; d++) {
        if (!(*d)->probe)
            continue;
        int score = (*d)->probe(buf, sizeof(buf), file->filename);
        if (score > best_score) {
            best_score = score;
            best = *d;
        }
    }
    return best;
}

static int validate_open_opts(const struct driver *drv, const struct opts *o, struct error **errp)
{
    for (size_t i = 0; i < o->count; i++) {
        const char *key = o->items[i].key;
        if (opt_desc_find(drv->open_opts, key))
            continue;
        if (drv->flags & DRV_PROTOCOL)
            error_setg(errp, "Invalid parameter '%s'", key);
        else
            error_setg(errp, "Block format '%s' does not support the option '%s'", drv->name, key);
        return -EINVAL;
    }
    return 0;
}

/* Opened without its backing file (info): backing.* options are left over, and qemu reports the
 * first of them (in its QDict order) as unsupported. The "backing" key itself is consumed. */
static int reject_backing_opts(const struct driver *drv, const struct opts *bopts,
                               struct error **errp)
{
    const char *first = NULL;
    unsigned first_bucket = 0;
    for (size_t i = 0; i < bopts->count; i++) {
        if (!bopts->items[i].key[0])
            continue;
        char key[256];
        snprintf(key, sizeof(key), "backing.%s", bopts->items[i].key);
        unsigned b = json_qdict_bucket(key);
        if (!first || b <= first_bucket) {
            first = bopts->items[i].key;
            first_bucket = b;
        }
    }
    if (!first)
        return 0;
    error_setg(errp, "Block format '%s' does not support the option 'backing.%s'", drv->name,
               first);
    return -EINVAL;
}

/* Keys the core consumes for every format node. */
static const char *const core_keys[] = {
    "driver", "node-name", "read-only", "auto-read-only", "force-share", "discard",
    "detect-zeroes", "cache.direct", "cache.no-flush", "backing", NULL,
};

static void drop_core_keys(struct opts *o)
{
    for (const char *const *k = core_keys; *k; k++)
        opts_del(o, *k);
}

static int apply_core_keys(const struct opts *o, int *flags, struct error **errp)
{
    bool b;
    if (opts_get(o, "read-only")) {
        if (opts_get_bool(o, "read-only", &b, errp) < 0)
            return -EINVAL;
        if (b)
            *flags &= ~NODE_RDWR;
    }
    if (opts_get(o, "force-share")) {
        if (opts_get_bool(o, "force-share", &b, errp) < 0)
            return -EINVAL;
        if (b)
            *flags |= NODE_FORCE_SHARE;
    }
    if (opts_get(o, "cache.direct")) {
        if (opts_get_bool(o, "cache.direct", &b, errp) < 0)
            return -EINVAL;
        *flags = b ? (*flags | NODE_NOCACHE) : (*flags & ~NODE_NOCACHE);
    }
    if (opts_get(o, "cache.no-flush")) {
        if (opts_get_bool(o, "cache.no-flush", &b, errp) < 0)
            return -EINVAL;
        *flags = b ? (*flags | NODE_NO_FLUSH) : (*flags & ~NODE_NO_FLUSH);
    }
    if ((*flags & NODE_FORCE_SHARE) && (*flags & NODE_RDWR)) {
        error_setg(errp, "force-share=on can only be used with read-only images");
        return -EINVAL;
    }
    return 0;
}

static struct node *open_protocol(const char *filename, struct opts *fopts, int flags,
                                  struct error **errp)
{
    const char *drvname = opts_get(fopts, "driver");
    if (drvname && strcmp(drvname, "file") && strcmp(drvname, "host_device")) {
        error_setg(errp, "Unknown protocol driver '%s'", drvname);
        return NULL;
    }
    const char *name = opts_get(fopts, "filename");
    if (!name)
        name = filename;
    if (!name) {
        error_setg(errp, "A block device must be specified for \"file\"");
        return NULL;
    }
    if (!strncmp(name, "file:", 5))
        name += 5;
    struct node *f = node_alloc(&driver_file, name, file_flags(flags));
    if (apply_core_keys(fopts, &f->flags, errp) < 0)
        goto fail;
    struct opts *rest = opts_clone(fopts);
    drop_core_keys(rest);
    opts_del(rest, "filename");
    int ret = validate_open_opts(&driver_file, rest, errp);
    if (ret == 0)
        ret = driver_file.open(f, rest, errp);
    opts_free(rest);
    if (ret < 0)
        goto fail;
    return f;
fail:
    if (f->state)
        driver_file.close(f);
    node_free(f);
    return NULL;
}

char *node_resolve_backing_path(const struct node *n, const char *backing)
{
    if (backing[0] == '/' || !n->filename || !strchr(n->filename, '/'))
        return xstrdup(backing);
    if (!strncmp(n->filename, "json:", 5))
        return xstrdup("");
    char *copy = xstrdup(n->filename);
    char *slash = strrchr(copy, '/');
    slash[1] = '\0';
    char *out = NULL;
    if (asprintf(&out, "%s%s", copy, backing) < 0)
        abort();
    free(copy);
    return out;
}

struct chain_seen {
    dev_t dev[MAX_CHAIN_DEPTH];
    ino_t ino[MAX_CHAIN_DEPTH];
    int count;
};

static struct node *open_chain(const char *filename, const char *fmt, const struct opts *opts,
                               int flags, struct chain_seen *seen, struct error **errp);

static int open_backing(struct node *n, const struct opts *bopts, int flags,
                        struct chain_seen *seen, struct error **errp)
{
    if (!n->backing_file || !n->backing_file[0])
        return 0;
    const char *override = opts_get(bopts, "");
    if (override && (!override[0] || !strcmp(override, "null")))
        return 0;
    char *path = n->full_backing_filename;
    int bflags = flags & ~(NODE_RDWR | NODE_UNSHARE_WRITE | NODE_GROWABLE);
    struct opts *child = opts_clone(bopts);
    opts_del(child, "");
    const char *fmt = opts_get(child, "driver") ? NULL : n->backing_fmt;
    if (!opts_get(child, "file.filename") && !opts_get(child, "file"))
        opts_set(child, "file.filename", path);
    n->backing = open_chain(path, fmt, child, bflags, seen, errp);
    opts_free(child);
    if (!n->backing) {
        error_prepend(errp, "Could not open backing file: ");
        return -EINVAL;
    }
    return 0;
}

static struct node *open_chain(const char *filename, const char *fmt, const struct opts *opts,
                               int flags, struct chain_seen *seen, struct error **errp)
{
    struct opts *o = opts ? opts_clone(opts) : opts_new();
    struct node *n = NULL;
    if (filename && !strncmp(filename, "json:", 5)) {
        struct opts *jo = NULL;
        if (jsonfile_parse(filename + 5, &jo, errp) < 0)
            goto fail;
        for (size_t i = 0; i < jo->count; i++)
            opts_set_default(o, jo->items[i].key, jo->items[i].value);
        opts_free(jo);
        filename = NULL;
    }
    if (opts_get(o, "driver"))
        fmt = opts_get(o, "driver");
    else if (fmt)
        opts_set(o, "driver", fmt);

    if (apply_core_keys(o, &flags, errp) < 0)
        goto fail;

    const struct driver *drv = NULL;
    if (fmt) {
        drv = driver_find(fmt);
        if (!drv) {
            error_setg(errp, "Unknown driver '%s'", fmt);
            goto fail;
        }
    }
    /* a protocol driver named directly: the node is the file itself */
    if (drv && (drv->flags & DRV_PROTOCOL)) {
        opts_del(o, "driver");
        n = open_protocol(filename, o, flags, errp);
        if (n && (flags & NODE_STRICT))
            n->flags |= NODE_STRICT; /* nothing of its own to read at open */
        opts_free(o);
        return n;
    }

    struct opts *fopts = opts_extract_prefix(o, "file");
    /* a plain string "file" names an existing node in qemu; flatimg has no named nodes */
    const char *node_ref = opts_get(o, "file");
    if (node_ref) {
        error_setg(errp, "Cannot find device='%s' nor node-name='%s'", node_ref, node_ref);
        opts_free(fopts);
        goto fail;
    }
    struct node *file = open_protocol(filename, fopts, flags, errp);
    opts_free(fopts);
    if (!file)
        goto fail;

    for (int i = 0; i < seen->count; i++) {
        struct stat sb;
        if (fstat(file_node_fd(file), &sb) == 0 && sb.st_dev == seen->dev[i] &&
            sb.st_ino == seen->ino[i]) {
            error_setg(errp, "Backing file '%s' creates an infinite loop.", file->filename);
            node_close(file);
            goto fail;
        }
    }
    if (seen->count >= MAX_CHAIN_DEPTH) {
        error_setg(errp, "Backing chain of '%s' is too deep", file->filename);
        node_close(file);
        goto fail;
    }
    struct stat sb;
    if (fstat(file_node_fd(file), &sb) == 0) {
        seen->dev[seen->count] = sb.st_dev;
        seen->ino[seen->count] = sb.st_ino;
        seen->count++;
    }

    bool probed = false;
    if (!drv) {
        drv = node_probe_format(file, errp);
        if (!drv) {
            node_close(file);
            goto fail;
        }
        probed = true;
    }
    if (!(drv->flags & DRV_SHARES_FILE) && file_node_lock_for_format(file, errp) < 0) {
        node_close(file);
        goto fail;
    }
    n = node_alloc(drv, file->filename, flags);
    n->file = file;
    n->probed = probed;
    struct opts *bopts = opts_extract_prefix(o, "backing");
    if (opts_get(o, "backing") && !opts_get(o, "backing")[0])
        warn_report("Use of \"backing\": \"\" is deprecated; use \"backing\": null instead");
    if (opts_get(o, "backing"))
        opts_set(bopts, "", opts_get(o, "backing"));
    n->open_opts = opts_clone(o);
    n->backing_opts = opts_clone(bopts);
    opts_del(n->backing_opts, "");
    drop_core_keys(o);
    int ret = validate_open_opts(drv, o, errp);
    if (ret == 0 && (flags & NODE_NO_BACKING))
        ret = reject_backing_opts(drv, bopts, errp);
    if (ret == 0)
        ret = drv->open(n, o, errp);
    if (ret < 0) {
        opts_free(bopts);
        if (n->state && drv->close)
            drv->close(n);
        n->state = NULL;
        node_close(n->file);
        n->file = NULL;
        node_free(n);
        n = NULL;
        goto fail;
    }
    /* the driver read its header and tables as qemu does; from now on the file is strict */
    if (flags & NODE_STRICT)
        n->file->flags |= NODE_STRICT;
    /* like qemu, a format node's length is counted in whole 512-byte sectors */
    if (n->size % 512 && n->size <= INT64_MAX - 511)
        n->size = (n->size + 511) / 512 * 512;
    if (n->backing_file) {
        free(n->full_backing_filename);
        n->full_backing_filename = node_resolve_backing_path(n, n->backing_file);
    }
    if (!(flags & NODE_NO_BACKING)) {
        ret = open_backing(n, bopts, flags, seen, errp);
        if (ret < 0) {
            opts_free(bopts);
            n->flags &= ~NODE_RDWR; /* nothing was written: close without flushing */
            node_close(n);
            n = NULL;
            goto fail;
        }
    }
    opts_free(bopts);
    opts_free(o);
    return n;
fail:
    opts_free(o);
    return NULL;
}

struct node *node_open(const char *filename, const char *fmt, const struct opts *opts, int flags,
                       struct error **errp)
{
    struct chain_seen *seen = calloc(1, sizeof(*seen));
    if (!seen)
        abort();
    struct node *n = open_chain(filename, fmt, opts, flags, seen, errp);
    free(seen);
    return n;
}

/* ---- data path ---- */

static void lock_if_serial(struct node *n)
{
    if (!(n->drv->flags & DRV_PARALLEL))
        pthread_mutex_lock(&n->lock);
}

static void unlock_if_serial(struct node *n)
{
    if (!(n->drv->flags & DRV_PARALLEL))
        pthread_mutex_unlock(&n->lock);
}

static int check_range(const struct node *n, uint64_t off, uint64_t len)
{
    uint64_t end;
    if (__builtin_add_overflow(off, len, &end) || end > INT64_MAX)
        return -EINVAL;
    if (end > n->size && !(n->flags & NODE_GROWABLE) && !(n->drv->flags & DRV_PROTOCOL))
        return -EINVAL;
    return 0;
}

int node_pread(struct node *n, uint64_t off, uint64_t len, void *buf)
{
    if (len == 0)
        return 0;
    int ret = check_range(n, off, len);
    if (ret < 0)
        return ret;
    if (!n->drv->pread)
        return -ENOTSUP;
    lock_if_serial(n);
    ret = n->drv->pread(n, off, len, buf);
    unlock_if_serial(n);
    return ret;
}

int node_pwrite(struct node *n, uint64_t off, uint64_t len, const void *buf)
{
    if (!(n->flags & NODE_RDWR))
        return -EPERM;
    if (len == 0)
        return 0;
    int ret = check_range(n, off, len);
    if (ret < 0)
        return ret;
    if (!n->drv->pwrite)
        return -ENOTSUP;
    lock_if_serial(n);
    ret = n->drv->pwrite(n, off, len, buf);
    unlock_if_serial(n);
    if (ret == 0 && (n->flags & NODE_WRITETHROUGH))
        ret = node_flush(n);
    return ret;
}

int node_pwrite_zeroes(struct node *n, uint64_t off, uint64_t len, int flags)
{
    if (!(n->flags & NODE_RDWR))
        return -EPERM;
    if (len == 0)
        return 0;
    int ret = check_range(n, off, len);
    if (ret < 0)
        return ret;
    if (n->drv->pwrite_zeroes) {
        lock_if_serial(n);
        ret = n->drv->pwrite_zeroes(n, off, len, flags);
        unlock_if_serial(n);
        if (ret != -ENOTSUP || (flags & ZERO_NO_FALLBACK))
            goto out;
    } else if (flags & ZERO_NO_FALLBACK) {
        return -ENOTSUP;
    }
    /* fallback: write zero buffers */
    {
        const uint64_t chunk = 1 << 20;
        uint8_t *z = calloc(1, chunk);
        if (!z)
            return -ENOMEM;
        ret = 0;
        while (len && ret == 0) {
            uint64_t n1 = len < chunk ? len : chunk;
            lock_if_serial(n);
            ret = n->drv->pwrite(n, off, n1, z);
            unlock_if_serial(n);
            off += n1;
            len -= n1;
        }
        free(z);
    }
out:
    if (ret == 0 && (n->flags & NODE_WRITETHROUGH))
        ret = node_flush(n);
    return ret;
}

int node_pwrite_compressed(struct node *n, uint64_t off, uint64_t len, const void *buf)
{
    if (!(n->flags & NODE_RDWR))
        return -EPERM;
    if (len == 0 && !n->drv->pwrite_compressed)
        return 0;
    int ret = len ? check_range(n, off, len) : 0;
    if (ret < 0)
        return ret;
    if (!n->drv->pwrite_compressed)
        return -ENOTSUP;
    lock_if_serial(n);
    ret = n->drv->pwrite_compressed(n, off, len, buf);
    unlock_if_serial(n);
    return ret;
}

int64_t node_compress_cluster(struct node *n, const void *in, void *out)
{
    if (!n->drv->compress_cluster || !n->drv->pwrite_compressed_prepared)
        return -ENOTSUP;
    return n->drv->compress_cluster(n, in, out); /* pure: no image state touched, no lock */
}

int node_pwrite_compressed_prepared(struct node *n, uint64_t off, uint64_t len, const void *in,
                                    const void *out, int64_t clen)
{
    if (!(n->flags & NODE_RDWR))
        return -EPERM;
    int ret = check_range(n, off, len);
    if (ret < 0 || len == 0)
        return ret;
    if (!n->drv->pwrite_compressed_prepared)
        return -ENOTSUP;
    lock_if_serial(n);
    ret = n->drv->pwrite_compressed_prepared(n, off, len, in, out, clen);
    unlock_if_serial(n);
    return ret;
}

int node_discard(struct node *n, uint64_t off, uint64_t len)
{
    if (!(n->flags & NODE_RDWR))
        return -EPERM;
    int ret = check_range(n, off, len);
    if (ret < 0 || len == 0)
        return ret;
    if (!n->drv->discard)
        return 0; /* discard is a hint */
    lock_if_serial(n);
    ret = n->drv->discard(n, off, len);
    unlock_if_serial(n);
    return ret;
}

int node_flush(struct node *n)
{
    if (!n)
        return 0;
    int ret = 0;
    if (n->drv->flush && (n->flags & NODE_RDWR)) {
        lock_if_serial(n);
        ret = n->drv->flush(n);
        unlock_if_serial(n);
    }
    if (ret == 0 && n->file)
        ret = node_flush(n->file);
    return ret;
}

int node_truncate(struct node *n, uint64_t size, bool exact, enum prealloc prealloc,
                  struct error **errp)
{
    if (!(n->flags & NODE_RDWR)) {
        error_setg(errp, "Image is read-only");
        return -EACCES;
    }
    if (!n->drv->truncate) {
        error_setg(errp, "Image format driver does not support resize");
        return -ENOTSUP;
    }
    lock_if_serial(n);
    int ret = n->drv->truncate(n, size, exact, prealloc, errp);
    unlock_if_serial(n);
    return ret;
}

int64_t node_allocated_size(struct node *n)
{
    if (n->drv->allocated_size)
        return n->drv->allocated_size(n);
    if (n->file)
        return node_allocated_size(n->file);
    return -ENOTSUP;
}

bool node_has_zero_init(struct node *n)
{
    if (n->backing)
        return false;
    if (n->drv->has_zero_init)
        return n->drv->has_zero_init(n);
    return false;
}

void *io_buffer_alloc(size_t len)
{
    void *p = NULL;
    return posix_memalign(&p, 4096, len ? len : 1) ? NULL : p;
}

int node_write_zero_buffers(struct node *n, uint64_t off, uint64_t len)
{
    const uint64_t chunk = 1 << 20;
    uint8_t *z = calloc(1, chunk);
    if (!z)
        return -ENOMEM;
    int ret = 0;
    while (len && ret == 0) {
        uint64_t n1 = len < chunk ? len : chunk;
        ret = node_pwrite(n, off, n1, z);
        off += n1;
        len -= n1;
    }
    free(z);
    return ret;
}

int node_read_backing(struct node *n, uint64_t off, uint64_t len, void *buf)
{
    uint64_t from_backing = 0;
    if (n->backing && off < n->backing->size) {
        from_backing = n->backing->size - off;
        if (from_backing > len)
            from_backing = len;
        int ret = node_pread(n->backing, off, from_backing, buf);
        if (ret < 0)
            return ret;
    }
    memset((uint8_t *)buf + from_backing, 0, len - from_backing);
    return 0;
}

int node_file_pread(struct node *n, uint64_t off, uint64_t len, void *buf)
{
    return node_pread(n->file, off, len, buf);
}

int node_check_pointer(struct node *file, uint64_t off, uint64_t len, uint64_t header,
                       const char *what)
{
    if (!(file->flags & NODE_STRICT))
        return 0;
    uint64_t size;
    if (off < header) {
        log_message("corrupt image: %s at offset %" PRIu64 " of '%s' lies in its header (the first "
                    "%" PRIu64 " bytes)", what, off, node_name(file), header);
        return -EIO;
    }
    if (file_node_past_end(file, off, len, &size)) {
        log_message("corrupt image: %s at offset %" PRIu64 " (%" PRIu64 " bytes) of '%s' lies past "
                    "its end (%" PRIu64 " bytes)", what, off, len, node_name(file), size);
        return -EIO;
    }
    return 0;
}

/* ---- block status ---- */

int node_block_status(struct node *n, uint64_t off, uint64_t len, struct block_status *out)
{
    memset(out, 0, sizeof(*out));
    if (off >= n->size) {
        out->flags = BS_EOF;
        return 0;
    }
    if (len > n->size - off)
        len = n->size - off;
    if (len == 0) {
        out->flags = BS_EOF;
        return 0;
    }
    int ret;
    if (!n->drv->block_status) {
        out->len = len;
        out->flags = BS_DATA | BS_ALLOCATED;
        if (n->drv->flags & DRV_PROTOCOL) {
            out->flags |= BS_OFFSET_VALID;
            out->offset = off;
            out->file = n;
        }
        goto done;
    }
    lock_if_serial(n);
    ret = n->drv->block_status(n, off, len, out);
    unlock_if_serial(n);
    if (ret < 0)
        return ret;
    if (out->len > len)
        out->len = len;
    if (out->len == 0)
        return -EIO; /* a driver must make progress inside the node */

    if (out->flags & BS_RAW) {
        struct node *f = out->file ? out->file : n->file;
        uint64_t map = out->offset;
        ret = node_block_status(f, map, out->len, out);
        if (ret < 0)
            return ret;
        if (out->len == 0) {
            /* past the end of the file (the tail of the last sector): reads as zeros, and qemu
             * reports it as allocated like the trailing hole it is */
            out->len = len;
            out->flags = BS_ZERO | BS_ALLOCATED | BS_OFFSET_VALID;
            out->file = f;
            out->offset = map;
        }
        out->flags &= ~BS_EOF;
        goto done;
    }
    if (out->flags & (BS_DATA | BS_ZERO)) {
        out->flags |= BS_ALLOCATED;
    } else if (n->drv->flags & DRV_BACKING) {
        if (!n->backing || off >= n->backing->size)
            out->flags |= BS_ZERO;
    }
    if ((out->flags & BS_RECURSE) && out->file && out->file != n && (out->flags & BS_DATA) &&
        !(out->flags & BS_ZERO) && (out->flags & BS_OFFSET_VALID)) {
        struct block_status fs;
        ret = node_block_status(out->file, out->offset, out->len, &fs);
        if (ret == 0) {
            if ((fs.flags & BS_EOF) && !fs.len && (n->flags & NODE_STRICT)) {
                /* data placed past the end of the file: a read gives EIO, not zeros */
            } else if ((fs.flags & BS_EOF) && (!fs.len || (fs.flags & BS_ZERO))) {
                out->flags |= BS_ZERO;
            } else {
                out->len = fs.len;
                out->flags |= fs.flags & BS_ZERO;
            }
        }
    }
    out->flags &= ~BS_RECURSE;
done:
    if (off + out->len == n->size)
        out->flags |= BS_EOF;
    return 0;
}

int node_block_status_above(struct node *top, struct node *base, uint64_t off, uint64_t len,
                            struct block_status *out, int *depth)
{
    int d = 0;
    int ret = node_block_status(top, off, len, out);
    d++;
    if (ret < 0 || out->len == 0 || (out->flags & BS_ALLOCATED) || top == base) {
        if (depth)
            *depth = d - 1;
        return ret;
    }
    uint64_t eof = (out->flags & BS_EOF) ? off + out->len : UINT64_MAX;
    len = out->len;
    for (struct node *p = top->backing; p && p != base; p = p->backing) {
        ret = node_block_status(p, off, len, out);
        d++;
        if (ret < 0)
            return ret;
        if (out->len == 0) {
            /* the layer is shorter: what lies past its end reads as zeros, decided here */
            out->len = len;
            out->file = p;
            out->flags = BS_ZERO | BS_ALLOCATED;
            break;
        }
        if (out->flags & BS_ALLOCATED) {
            out->flags &= ~BS_EOF;
            break;
        }
        len = out->len;
    }
    if (off + out->len == eof)
        out->flags |= BS_EOF;
    if (depth)
        *depth = d - 1;
    return 0;
}
