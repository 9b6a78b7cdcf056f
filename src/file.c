/* The "file" protocol driver (qemu's file-posix behaviour): pread/pwrite loops, zeroing and discard
 * through fallocate, SEEK_DATA/SEEK_HOLE block status, O_DIRECT with aligned bounce buffers, and
 * qemu's image locks: shared OFD read locks on byte 100+perm ("I use perm") and 200+perm ("nobody
 * else may use perm"), checked against other processes' locks before use. */
#include "config.h"
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIRECT_ALIGN 4096
#define LOCK_PERM_BASE 100
#define LOCK_SHARED_BASE 200

enum { PERM_CONSISTENT_READ, PERM_WRITE, PERM_WRITE_UNCHANGED, PERM_RESIZE, PERM_GRAPH_MOD, PERM_MAX };
static const char *const perm_names[PERM_MAX] = {
    "consistent read", "write", "write unchanged", "resize", "change children",
};

struct file_state {
    int fd;
    bool is_block;
    bool direct;
    bool no_flush;
    bool locked;
};

static struct file_state *st(const struct node *n)
{
    return n->state;
}

int file_node_fd(const struct node *n)
{
    return n && n->drv == &driver_file ? st(n)->fd : -1;
}

int cache_mode_parse(const char *mode, int *flags)
{
    int f = *flags & ~(NODE_NOCACHE | NODE_NO_FLUSH | NODE_WRITETHROUGH);
    if (!strcmp(mode, "none") || !strcmp(mode, "off"))
        f |= NODE_NOCACHE;
    else if (!strcmp(mode, "directsync"))
        f |= NODE_NOCACHE | NODE_WRITETHROUGH;
    else if (!strcmp(mode, "writeback"))
        ;
    else if (!strcmp(mode, "writethrough"))
        f |= NODE_WRITETHROUGH;
    else if (!strcmp(mode, "unsafe"))
        f |= NODE_NO_FLUSH;
    else
        return -EINVAL;
    *flags = f;
    return 0;
}

/* Is a lock held by another open file description on byte `off`? */
static int lock_test(int fd, off_t off)
{
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = off, .l_len = 1 };
    if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
        return -errno;
    return fl.l_type == F_UNLCK ? 0 : -EAGAIN;
}

static int lock_byte(int fd, off_t off)
{
    struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = off, .l_len = 1 };
    return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

/* Take qemu's locks for `perm` (what we use) and `shared` (what we let others use). */
static int fd_lock(int fd, const char *name, unsigned perm, unsigned shared, struct error **errp)
{
    for (int i = 0; i < PERM_MAX; i++) {
        int ret = 0;
        if (perm & (1u << i))
            ret = lock_byte(fd, LOCK_PERM_BASE + i);
        if (!ret && !(shared & (1u << i)))
            ret = lock_byte(fd, LOCK_SHARED_BASE + i);
        if (ret == -ENOTSUP || ret == -EINVAL)
            return 0; /* the file system has no OFD locks: qemu's locking=auto goes on */
        if (ret) {
            error_setg_errno(errp, ret, "Failed to lock byte %d", LOCK_PERM_BASE + i);
            return ret;
        }
    }
    for (int i = 0; i < PERM_MAX; i++) {
        if ((perm & (1u << i)) && lock_test(fd, LOCK_SHARED_BASE + i)) {
            error_setg(errp, "Failed to get \"%s\" lock\nIs another process using the image [%s]?",
                       perm_names[i], name);
            return -EAGAIN;
        }
    }
    for (int i = 0; i < PERM_MAX; i++) {
        if (!(shared & (1u << i)) && lock_test(fd, LOCK_PERM_BASE + i)) {
            error_setg(errp,
                       "Failed to get shared \"%s\" lock\nIs another process using the image [%s]?",
                       perm_names[i], name);
            return -EAGAIN;
        }
    }
    return 0;
}

static int file_lock(struct node *n, unsigned perm, unsigned shared, struct error **errp)
{
    return fd_lock(st(n)->fd, node_name(n), perm, shared, errp);
}

static const struct opt_desc file_open_opts[] = {
    { "filename", OPT_STRING, "File name of the image", NULL },
    { "locking", OPT_STRING, "file locking mode (on/off/auto, default: auto)", NULL },
    { "aio", OPT_STRING, "host AIO implementation (threads, native, io_uring)", NULL },
    { "aio-max-batch", OPT_NUMBER, "AIO max batch size", NULL },
    { "pr-manager", OPT_STRING, "id of persistent reservation manager object", NULL },
    { "x-check-cache-dropped", OPT_BOOL, "check that page cache was dropped on live migration", NULL },
    { "driver", OPT_STRING, "protocol driver", NULL },
    { "node-name", OPT_STRING, "node name", NULL },
    { "read-only", OPT_BOOL, "read-only", NULL },
    { "auto-read-only", OPT_BOOL, "auto read-only", NULL },
    { "cache.direct", OPT_BOOL, "O_DIRECT", NULL },
    { "cache.no-flush", OPT_BOOL, "ignore flushes", NULL },
    { "discard", OPT_STRING, "discard mode", NULL },
    { "detect-zeroes", OPT_STRING, "detect zeroes", NULL },
    { "force-share", OPT_BOOL, "force share", NULL },
    { NULL, 0, NULL, NULL },
};

/* Permissions of the format layer above, per qemu-img's own behaviour: format drivers always keep
 * others from writing or resizing their file; raw passes its users' wishes through. */
static void file_perms(const struct node *n, unsigned *perm, unsigned *shared)
{
    unsigned all = (1u << PERM_MAX) - 1;
    *perm = 1u << PERM_CONSISTENT_READ;
    *shared = all;
    if (n->flags & NODE_RDWR)
        *perm |= 1u << PERM_WRITE | ((n->flags & NODE_UNSHARE_WRITE) ? 1u << PERM_RESIZE : 0);
    if (n->flags & NODE_FORCE_SHARE)
        return;
    if (n->flags & NODE_UNSHARE_WRITE)
        *shared &= ~(1u << PERM_WRITE | 1u << PERM_RESIZE);
}

int file_node_lock_for_format(struct node *f, struct error **errp)
{
    if (f->drv != &driver_file || (f->flags & (NODE_FORCE_SHARE | NODE_NO_LOCK)) || !st(f)->locked)
        return 0;
    unsigned perm = 1u << PERM_CONSISTENT_READ;
    if (f->flags & NODE_RDWR)
        perm |= 1u << PERM_WRITE | 1u << PERM_RESIZE;
    unsigned shared = ((1u << PERM_MAX) - 1) & ~(1u << PERM_WRITE | 1u << PERM_RESIZE);
    return file_lock(f, perm, shared, errp);
}

static int file_open(struct node *n, struct opts *opts, struct error **errp)
{
    struct file_state *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    n->state = s;
    s->fd = -1;
    bool rw = n->flags & NODE_RDWR;
    int oflags = (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC;
    if (n->flags & NODE_NOCACHE) {
        oflags |= O_DIRECT;
        s->direct = true;
    }
    s->no_flush = n->flags & NODE_NO_FLUSH;
    s->fd = open(n->filename, oflags);
    if (s->fd < 0 && errno == EINVAL && s->direct) {
        error_setg(errp, "Could not open '%s': filesystem does not support O_DIRECT", n->filename);
        return -EINVAL;
    }
    if (s->fd < 0) {
        int err = errno;
        error_setg_errno(errp, err, "Could not open '%s'", n->filename);
        return -err;
    }
    struct stat sb;
    if (fstat(s->fd, &sb) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "Could not stat '%s'", n->filename);
        return -err;
    }
    if (S_ISDIR(sb.st_mode)) {
        error_setg(errp, "'%s' is not a regular file or block device", n->filename);
        /* qemu reads directories as zero-length files and fails later; refuse clearly instead */
        return -EISDIR;
    }
    s->is_block = S_ISBLK(sb.st_mode);
    if (s->is_block) {
        uint64_t bytes = 0;
        if (ioctl(s->fd, BLKGETSIZE64, &bytes) < 0) {
            int err = errno;
            error_setg_errno(errp, err, "Could not get the size of '%s'", n->filename);
            return -err;
        }
        n->size = bytes;
    } else {
        n->size = (uint64_t)sb.st_size;
    }
    const char *locking = opts ? opts_get(opts, "locking") : NULL;
    if (locking && strcmp(locking, "on") && strcmp(locking, "off") && strcmp(locking, "auto")) {
        error_setg(errp, "Parameter 'locking' does not accept value '%s'", locking);
        return -EINVAL;
    }
    if (!(n->flags & NODE_NO_LOCK) && !(locking && !strcmp(locking, "off"))) {
        unsigned perm, shared;
        file_perms(n, &perm, &shared);
        int ret = file_lock(n, perm, shared, errp);
        if (ret < 0)
            return ret;
        s->locked = true;
    }
    return 0;
}

static void file_close(struct node *n)
{
    struct file_state *s = st(n);
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    free(s);
    n->state = NULL;
}

static bool is_aligned(uint64_t off, uint64_t len, const void *buf)
{
    return off % DIRECT_ALIGN == 0 && len % DIRECT_ALIGN == 0 && (uintptr_t)buf % DIRECT_ALIGN == 0;
}

static int pread_full(int fd, uint64_t off, uint64_t len, uint8_t *buf, uint64_t *got)
{
    uint64_t done = 0;
    while (done < len) {
        ssize_t r = pread(fd, buf + done, len - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            break;
        done += (uint64_t)r;
    }
    *got = done;
    return 0;
}

static int pwrite_full(int fd, uint64_t off, uint64_t len, const uint8_t *buf)
{
    uint64_t done = 0;
    while (done < len) {
        ssize_t r = pwrite(fd, buf + done, len - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            return -EIO;
        done += (uint64_t)r;
    }
    return 0;
}

/* O_DIRECT requests that are not aligned go through an aligned bounce buffer covering them. */
static int direct_bounce(struct file_state *s, uint64_t off, uint64_t len, void *rbuf,
                         const void *wbuf)
{
    uint64_t start = off / DIRECT_ALIGN * DIRECT_ALIGN;
    uint64_t end = (off + len + DIRECT_ALIGN - 1) / DIRECT_ALIGN * DIRECT_ALIGN;
    uint8_t *b = NULL;
    if (posix_memalign((void **)&b, DIRECT_ALIGN, end - start))
        return -ENOMEM;
    uint64_t got = 0;
    int ret = pread_full(s->fd, start, end - start, b, &got);
    if (ret < 0)
        goto out;
    memset(b + got, 0, end - start - got);
    if (rbuf) {
        memcpy(rbuf, b + (off - start), len);
    } else {
        memcpy(b + (off - start), wbuf, len);
        /* never extend the file past what the caller wrote */
        uint64_t wend = end;
        if (start + got < off + len)
            wend = end;
        ret = pwrite_full(s->fd, start, wend - start, b);
        if (ret == 0 && start + got < off + len && ftruncate(s->fd, (off_t)(off + len)) < 0)
            ret = -errno;
    }
out:
    free(b);
    return ret;
}

static uint64_t round_up_sector(uint64_t size)
{
    return size > UINT64_MAX - 511 ? UINT64_MAX : (size + 511) / 512 * 512;
}

bool file_node_past_end(const struct node *f, uint64_t off, uint64_t len, uint64_t *size)
{
    uint64_t end;
    *size = f->size;
    if (__builtin_add_overflow(off, len, &end))
        return true;
    if (end <= round_up_sector(*size))
        return false;
    struct stat sb;
    if (f->drv != &driver_file || st(f)->is_block || fstat(st(f)->fd, &sb) < 0)
        return true;
    *size = (uint64_t)sb.st_size;
    return end > round_up_sector(*size);
}

static int file_pread(struct node *n, uint64_t off, uint64_t len, void *buf)
{
    struct file_state *s = st(n);
    uint64_t size;
    if ((n->flags & NODE_STRICT) && file_node_past_end(n, off, len, &size)) {
        log_message("corrupt image: a read of %" PRIu64 " bytes at offset %" PRIu64 " of '%s' "
                    "reaches past its end (%" PRIu64 " bytes)", len, off, n->filename, size);
        return -EIO;
    }
    if (s->direct && !is_aligned(off, len, buf))
        return direct_bounce(s, off, len, buf, NULL);
    uint64_t got = 0;
    int ret = pread_full(s->fd, off, len, buf, &got);
    if (ret < 0)
        return ret;
    memset((uint8_t *)buf + got, 0, len - got); /* past EOF reads as zeros */
    return 0;
}

static int file_pwrite(struct node *n, uint64_t off, uint64_t len, const void *buf)
{
    struct file_state *s = st(n);
    int ret = s->direct && !is_aligned(off, len, buf) ? direct_bounce(s, off, len, NULL, buf)
                                                       : pwrite_full(s->fd, off, len, buf);
    if (ret == 0 && off + len > n->size)
        n->size = off + len;
    return ret;
}

static int write_zero_buffers(struct node *n, uint64_t off, uint64_t len)
{
    const uint64_t chunk = 1 << 20;
    uint8_t *z = NULL;
    if (posix_memalign((void **)&z, DIRECT_ALIGN, chunk))
        return -ENOMEM;
    memset(z, 0, chunk);
    int ret = 0;
    while (len && ret == 0) {
        uint64_t n1 = len < chunk ? len : chunk;
        ret = file_pwrite(n, off, n1, z);
        off += n1;
        len -= n1;
    }
    free(z);
    return ret;
}

static int file_pwrite_zeroes(struct node *n, uint64_t off, uint64_t len, int flags)
{
    struct file_state *s = st(n);
    /* qemu's first choice when it may not unmap: zero the range in place, growing the file as
     * needed (the blocks stay allocated, as unwritten extents) */
    if (!s->is_block && !(flags & ZERO_MAY_UNMAP) &&
        fallocate(s->fd, FALLOC_FL_ZERO_RANGE, (off_t)off, (off_t)len) == 0) {
        if (off + len > n->size)
            n->size = off + len;
        return 0;
    }
    if (!s->is_block && off + len > n->size) {
        /* zeros past EOF: growing the file is enough */
        uint64_t old = n->size;
        if (ftruncate(s->fd, (off_t)(off + len)) < 0)
            return -errno;
        n->size = off + len;
        if (off >= old)
            return 0;
        len = old - off;
    }
    if ((flags & ZERO_MAY_UNMAP) &&
        fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
        return 0;
    if (fallocate(s->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
        return 0;
    if (!s->is_block &&
        fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0) {
        /* a punched hole reads as zeros; re-allocate it when unmapping was not allowed */
        if (!(flags & ZERO_MAY_UNMAP))
            (void)fallocate(s->fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
        return 0;
    }
    if (flags & ZERO_NO_FALLBACK)
        return -ENOTSUP;
    return write_zero_buffers(n, off, len);
}

static int file_discard(struct node *n, uint64_t off, uint64_t len)
{
    struct file_state *s = st(n);
    if (s->is_block) {
        uint64_t range[2] = { off, len };
        return ioctl(s->fd, BLKDISCARD, range) < 0 ? -errno : 0;
    }
    if (fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0)
        return errno == EOPNOTSUPP ? 0 : -errno; /* discard is advisory */
    return 0;
}

static int file_flush(struct node *n)
{
    struct file_state *s = st(n);
    if (s->no_flush)
        return 0;
    return fdatasync(s->fd) < 0 ? -errno : 0;
}

static int file_block_status(struct node *n, uint64_t off, uint64_t len, struct block_status *out)
{
    struct file_state *s = st(n);
    out->offset = off;
    out->file = n;
    out->len = len;
    off_t data = lseek(s->fd, (off_t)off, SEEK_DATA);
    if (data < 0) {
        out->flags = errno == ENXIO ? BS_ZERO | BS_OFFSET_VALID : BS_DATA | BS_OFFSET_VALID;
        return 0;
    }
    if ((uint64_t)data > off) {
        uint64_t n1 = (uint64_t)data - off;
        out->len = n1 < len ? n1 : len;
        out->flags = BS_ZERO | BS_OFFSET_VALID;
        return 0;
    }
    off_t hole = lseek(s->fd, (off_t)off, SEEK_HOLE);
    if (hole < 0 || (uint64_t)hole <= off) {
        out->flags = BS_DATA | BS_OFFSET_VALID;
        return 0;
    }
    uint64_t n1 = (uint64_t)hole - off;
    out->len = n1 < len ? n1 : len;
    out->flags = BS_DATA | BS_OFFSET_VALID;
    return 0;
}

static int file_set_size(int fd, uint64_t old, uint64_t size, enum prealloc prealloc,
                         struct error **errp)
{
    if (size > INT64_MAX) {
        error_setg_errno(errp, EINVAL, "Could not resize file");
        return -EINVAL;
    }
    if (prealloc == PREALLOC_FALLOC && size > old) {
        int r = posix_fallocate(fd, (off_t)old, (off_t)(size - old));
        if (r) {
            error_setg_errno(errp, r, "Could not preallocate new data");
            return -r;
        }
        return 0;
    }
    if (ftruncate(fd, (off_t)size) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "Could not resize file");
        return -err;
    }
    if (prealloc == PREALLOC_FULL && size > old) {
        const uint64_t chunk = 1 << 20;
        uint8_t *z = calloc(1, chunk);
        if (!z)
            return -ENOMEM;
        int ret = 0;
        for (uint64_t o = old; o < size && ret == 0; o += chunk) {
            uint64_t l = size - o < chunk ? size - o : chunk;
            ret = pwrite_full(fd, o, l, z);
        }
        free(z);
        if (ret < 0) {
            error_setg_errno(errp, ret, "Could not write zeros for preallocation");
            return ret;
        }
    }
    return 0;
}

static int file_truncate(struct node *n, uint64_t size, bool exact, enum prealloc prealloc,
                         struct error **errp)
{
    struct file_state *s = st(n);
    if (s->is_block) {
        if (size > n->size || (exact && size != n->size)) {
            error_setg(errp, "Cannot grow device files");
            return -EINVAL;
        }
        return 0;
    }
    if (prealloc == PREALLOC_METADATA) {
        error_setg(errp, "Unsupported preallocation mode: metadata");
        return -ENOTSUP;
    }
    /* like file-posix, a regular file always gets exactly the size asked for */
    int ret = file_set_size(s->fd, n->size, size, prealloc, errp);
    if (ret == 0)
        n->size = size;
    return ret;
}

static int64_t file_allocated_size(struct node *n)
{
    struct stat sb;
    if (fstat(st(n)->fd, &sb) < 0)
        return -errno;
    return (int64_t)sb.st_blocks * 512;
}

static bool file_has_zero_init(struct node *n)
{
    return !st(n)->is_block;
}

int file_create(const char *filename, uint64_t size, enum prealloc prealloc, struct error **errp)
{
    if (prealloc == PREALLOC_METADATA) {
        error_setg(errp, "Unsupported preallocation mode: metadata");
        return -ENOTSUP;
    }
    int fd = open(filename, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        int err = errno;
        error_setg_errno(errp, err, "Could not create '%s'", filename);
        return -err;
    }
    int ret = 0;
    struct stat sb;
    if (fstat(fd, &sb) == 0 && S_ISBLK(sb.st_mode)) {
        /* an existing device keeps its size; qemu only checks it is large enough */
        goto out;
    }
    /* like qemu: write and resize for us, nobody else may resize until the file has its size */
    ret = fd_lock(fd, filename, 1u << PERM_WRITE | 1u << PERM_RESIZE,
                  ((1u << PERM_MAX) - 1) & ~(1u << PERM_RESIZE), errp);
    if (ret < 0)
        goto out;
    if (ftruncate(fd, 0) < 0) {
        ret = -errno;
        error_setg_errno(errp, -ret, "Could not resize file");
        goto out;
    }
    ret = file_set_size(fd, 0, size, prealloc, errp);
    if (ret < 0)
        goto out;
    if (prealloc == PREALLOC_OFF && size > 0) {
        /* qemu writes the first block so that O_DIRECT alignment can be probed later; images it
         * creates start with 4 KiB allocated and flatimg's must match ("disk size: 4 KiB"). */
        uint8_t zeros[4096] = { 0 };
        uint64_t n1 = size < sizeof(zeros) ? size : sizeof(zeros);
        ret = pwrite_full(fd, 0, n1, zeros);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not write to the new file");
            goto out;
        }
    }
out:
    close(fd);
    return ret;
}

int file_create_for_format(const char *filename, const struct opts *opts, struct error **errp)
{
    const char *p = opts_get(opts, "preallocation");
    enum prealloc prealloc = PREALLOC_OFF;
    if (p && prealloc_parse(p, &prealloc) < 0) {
        error_setg(errp, "invalid parameter value: %s", p);
        return -EINVAL;
    }
    int ret = file_create(filename, 0, prealloc == PREALLOC_METADATA ? PREALLOC_OFF : prealloc,
                          errp);
    if (ret == 0 && prealloc == PREALLOC_METADATA) {
        error_setg(errp, "Unsupported preallocation mode: metadata");
        ret = -ENOTSUP;
    }
    return ret;
}

/* -f file: the protocol itself as the image format (qemu's raw_co_create_opts): the size rounded
 * up to whole sectors, the preallocation mode honoured; nocow and extent_size_hint are accepted. */
static int file_create_image(const char *filename, struct opts *opts, struct error **errp)
{
    uint64_t size = 0;
    enum prealloc prealloc = PREALLOC_OFF;
    const char *p = opts_get(opts, "preallocation");
    if (opts_get_size(opts, "size", &size, errp) < 0)
        return -EINVAL;
    if (p && prealloc_parse(p, &prealloc) < 0) {
        error_setg(errp, "invalid parameter value: %s", p);
        return -EINVAL;
    }
    if (size <= UINT64_MAX - 511)
        size = (size + 511) / 512 * 512;
    return file_create(filename, size, prealloc, errp);
}

static const struct opt_desc file_create_opts[] = {
    { "size", OPT_SIZE, "Virtual disk size", NULL },
    { "nocow", OPT_BOOL, "Turn off copy-on-write (valid only on btrfs)", NULL },
    { "preallocation", OPT_STRING, "Preallocation mode (allowed values: off, falloc, full)", NULL },
    { "extent_size_hint", OPT_SIZE, "Extent size hint for the image file, 0 to disable", NULL },
    { NULL, 0, NULL, NULL },
};

const struct driver driver_file = {
    .name = "file",
    .create_opts = file_create_opts,
    .create = file_create_image,
    .flags = DRV_PROTOCOL | DRV_PARALLEL,
    .open_opts = file_open_opts,
    .open = file_open,
    .close = file_close,
    .pread = file_pread,
    .pwrite = file_pwrite,
    .pwrite_zeroes = file_pwrite_zeroes,
    .discard = file_discard,
    .flush = file_flush,
    .block_status = file_block_status,
    .truncate = file_truncate,
    .allocated_size = file_allocated_size,
    .has_zero_init = file_has_zero_init,
};
