/* flatimgfs: mount any image as a flat raw file (or a directory of views) with libfuse3.
 * Start-up: parse arguments in any order, open the image (errors in flatimg's words), mount, and
 * only then daemonise, so that a returning flatimgfs means a ready mount.
 *
 * The high-level API (fuse.h, FUSE_USE_VERSION 31) serves every request but READ: the tree is tiny
 * and fixed, and paths map directly onto views. The request loop is ours (loop.c: libfuse's
 * fuse_session_receive_buf / fuse_session_process_buf), so that READ is answered with one writev
 * of several buffers, which libfuse's reply path cannot do without copying them into one. */
#include "config.h"

#include "flatimgfs.h" /* defines FUSE_USE_VERSION before any fuse header */

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "create.h"
#include "file.h"
#include "object.h"

struct config {
    char *image, *mountpoint;
    char *format, *backing, *snapshot, *overlay, *cache, *image_opts_str, *pidfile, *readahead;
    int rw, ro, force_share, salvage, growable, image_opts, page_cache, help, version;
    int read_threads;
    int extra_args;
    unsigned max_read;  /* -o max_read=N, which libfuse wants init() to repeat */
    int umask_set;
    unsigned umask;     /* -o umask=M, applied to our own modes */
};

enum { KEY_RW, KEY_RO, KEY_HELP, KEY_VERSION, KEY_OBJECT, KEY_MAX_READ, KEY_UMASK };

#define CFG(t, field) { t, offsetof(struct config, field), 1 }
static const struct fuse_opt cfg_opts[] = {
    FUSE_OPT_KEY("rw", KEY_RW),
    FUSE_OPT_KEY("ro", KEY_RO),
    { "format=%s", offsetof(struct config, format), 0 },
    { "backing=%s", offsetof(struct config, backing), 0 },
    { "snapshot=%s", offsetof(struct config, snapshot), 0 },
    { "overlay=%s", offsetof(struct config, overlay), 0 },
    { "cache=%s", offsetof(struct config, cache), 0 },
    { "image-opts=%s", offsetof(struct config, image_opts_str), 0 },
    { "pidfile=%s", offsetof(struct config, pidfile), 0 },
    { "readahead=%s", offsetof(struct config, readahead), 0 },
    { "read-threads=%d", offsetof(struct config, read_threads), 0 },
    CFG("page-cache", page_cache),
    CFG("force-share", force_share),
    CFG("salvage", salvage),
    CFG("growable", growable),
    CFG("image-opts", image_opts),
    CFG("--image-opts", image_opts),
    /* "--object SPEC" and "--object=SPEC": libfuse passes "--objectSPEC" and "--object=SPEC" */
    FUSE_OPT_KEY("--object ", KEY_OBJECT),
    FUSE_OPT_KEY("max_read=", KEY_MAX_READ),
    FUSE_OPT_KEY("umask=", KEY_UMASK),
    FUSE_OPT_KEY("-h", KEY_HELP),
    FUSE_OPT_KEY("--help", KEY_HELP),
    FUSE_OPT_KEY("-V", KEY_VERSION),
    FUSE_OPT_KEY("--version", KEY_VERSION),
    FUSE_OPT_END
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: flatimgfs [-o OPTIONS] [-f] [-d] [-s] IMAGE MOUNTPOINT\n"
            "Show IMAGE (any format flatimg reads, with its backing chain) as a flat raw file.\n"
            "MOUNTPOINT a regular file: it becomes the raw view. A directory: it shows NAME.raw,\n"
            "info.json, layers/, partitions/ and snapshots/.\n\n"
            "flatimgfs options (-o):\n"
            "    ro | rw                 read-only (default) or writable\n"
            "    format=FMT              image format (default: probed)\n"
            "    backing=off             show only the top layer\n"
            "    snapshot=NAME           mount an internal snapshot (read-only)\n"
            "    overlay=FILE            create a qcow2 overlay FILE and write there\n"
            "    cache=MODE              none, writeback, writethrough, directsync, unsafe\n"
            "    force-share             open without write-excluding locks (as -U)\n"
            "    image-opts[=OPTS]       IMAGE is an option string / extra driver options\n"
            "    salvage                 read corrupt regions as zeros instead of EIO\n"
            "    growable                writes past the end and truncate grow the image\n"
            "    pidfile=FILE            write the daemon's pid to FILE\n"
            "    page-cache              read through the kernel page cache (mmap, caching)\n"
            "    readahead=KIB           kernel read-ahead of a page-cache mount (root)\n"
            "    read-threads=N          threads that share each large read of compressed data\n"
            "                            (default: CPUs - 1)\n"
            "    max_threads=N           threads that take requests (default 10; libfuse's\n"
            "                            clone_fd and max_idle_threads below change nothing)\n"
            "    --object=secret,...     a secret for encrypted images\n\n");
}

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
    struct config *c = data;
    struct error *err = NULL;
    switch (key) {
    case FUSE_OPT_KEY_NONOPT:
        if (!c->image)
            c->image = strdup(arg);
        else if (!c->mountpoint)
            c->mountpoint = strdup(arg);
        else
            c->extra_args++;
        return 0;
    case KEY_RW:
        c->rw = 1;
        c->ro = 0;
        return 1; /* the kernel mount sees rw/ro too */
    case KEY_RO:
        c->ro = 1;
        c->rw = 0;
        return 1;
    case KEY_HELP:
        c->help = 1;
        return 0;
    case KEY_VERSION:
        c->version = 1;
        return 0;
    case KEY_MAX_READ: /* passed on to the kernel; init() must ask for the same (libfuse 3) */
        c->max_read = (unsigned)strtoul(strchr(arg, '=') + 1, NULL, 0);
        return 1;
    case KEY_UMASK: { /* libfuse's umask= would set every mode to 0777 & ~M, x bits included */
        char *end;
        const char *v = strchr(arg, '=') + 1;
        unsigned long m = strtoul(v, &end, 8);
        if (!*v || *end || m > 0777) {
            error_report("Invalid umask option: %s (expected an octal mode)", v);
            exit(EXIT_FAILURE);
        }
        c->umask = (unsigned)m;
        c->umask_set = 1;
        return 0;
    }
    case KEY_OBJECT:
        arg += strlen("--object");
        if (*arg == '=')
            arg++;
        if (object_add(arg, &err) < 0) {
            error_report_err(err);
            exit(EXIT_FAILURE);
        }
        return 0;
    default:
        return 1;
    }
}

/* An absolute path without resolving the last component (it may not exist yet). */
static char *absolute(const char *path)
{
    char cwd[PATH_MAX], *out = NULL;
    if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
        return strdup(path);
    if (asprintf(&out, "%s/%s", cwd, path) < 0)
        return NULL;
    return out;
}

/* "dir/disk.img.qcow2" -> "disk.img.raw": the base name without its last extension. */
static char *raw_name_of(const char *image)
{
    const char *base = strrchr(image, '/') ? strrchr(image, '/') + 1 : image;
    size_t len = strlen(base);
    const char *dot = strrchr(base, '.');
    if (dot && dot != base)
        len = (size_t)(dot - base);
    char *out = NULL;
    if (len == 0 || asprintf(&out, "%.*s.raw", (int)len, base) < 0)
        return strdup("image.raw");
    return out;
}

static int open_flags(const struct config *c, int *flags)
{
    *flags = c->rw ? NODE_RDWR : 0;
    if (c->backing) {
        if (!strcmp(c->backing, "off")) {
            *flags |= NODE_NO_BACKING;
        } else if (strcmp(c->backing, "on")) {
            error_report("Invalid backing option: %s (expected on or off)", c->backing);
            return -1;
        }
    }
    if (c->force_share)
        *flags |= NODE_FORCE_SHARE;
    /* corrupt pointers give EIO rather than qemu's zeros (-o salvage zeroes what gave EIO) */
    *flags |= NODE_STRICT;
    if (c->salvage)
        *flags |= NODE_SALVAGE;
    if (c->cache && cache_mode_parse(c->cache, flags) < 0) {
        error_report("Invalid cache option: %s", c->cache);
        return -1;
    }
    return 0;
}

/* The driver options: --image-opts makes IMAGE the whole list; image-opts= adds keys. */
static int build_image_opts(struct config *c, struct fs *fs)
{
    struct error *err = NULL;
    if (!c->image_opts && !c->image_opts_str)
        return 0;
    fs->image_opts = opts_new();
    if ((c->image_opts && opts_parse(fs->image_opts, c->image, NULL, &err) < 0) ||
        (c->image_opts_str && opts_parse(fs->image_opts, c->image_opts_str, NULL, &err) < 0)) {
        error_report_err(err);
        return -1;
    }
    if (c->image_opts && c->format) {
        error_report("--image-opts and --format are mutually exclusive");
        return -1;
    }
    return 0;
}

/* overlay=FILE: a new qcow2 whose backing file is the image; the image stays untouched. */
static int create_overlay(struct config *c, struct fs *fs)
{
    struct error *err = NULL;
    char *path = absolute(c->overlay);
    struct stat st;
    int ret = -1;
    if (stat(path, &st) == 0) {
        error_report("Overlay file '%s' already exists (mount it directly to reuse it)",
                     c->overlay);
        goto out;
    }
    struct node *base = node_open(fs->image, fs->fmt, NULL, NODE_NO_BACKING | NODE_NO_IO, &err);
    if (!base) {
        error_prepend(&err, "Could not open '%s': ", c->image);
        error_report_err(err);
        goto out;
    }
    struct image_create_args a = {
        .filename = path, .fmt = "qcow2", .backing_file = fs->image,
        .backing_fmt = base->drv->name, .size = IMG_SIZE_UNSET, .quiet = true,
    };
    ret = image_create(&a, &err);
    node_close(base);
    if (ret < 0) {
        error_report_err(err);
        goto out;
    }
    free(fs->image);
    fs->image = path;
    path = NULL;
    free(fs->fmt);
    fs->fmt = strdup("qcow2");
    ret = 0;
out:
    free(path);
    return ret;
}

static int load_snapshot(struct fs *fs, const char *name)
{
    struct error *err = NULL;
    struct node *n = fs->top;
    if (!n->drv->snapshot_load_tmp) {
        error_report("Failed to load snapshot: Block format '%s' used by device '' does not "
                     "support internal snapshots", n->drv->name);
        return -1;
    }
    if (n->drv->snapshot_load_tmp(n, name, NULL, NULL) == 0)
        return 0;
    if (n->drv->snapshot_load_tmp(n, NULL, name, &err) == 0)
        return 0;
    error_prepend(&err, "Failed to load snapshot: ");
    error_report_err(err);
    return -1;
}

static void list_layers_and_snapshots(struct fs *fs)
{
    for (struct node *l = fs->top; l && fs->nlayers < FS_MAX_LAYERS; l = l->backing) {
        const char *name = node_name(l);
        const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
        char *label = NULL;
        if (asprintf(&label, "%d-%s.raw", fs->nlayers, base) < 0)
            abort();
        fs->layers[fs->nlayers] = l;
        fs->layer_names[fs->nlayers++] = label;
    }
    /* snapshots are listed only when they can be read */
    if (!fs->top->drv->snapshot_list || !fs->top->drv->snapshot_load_tmp ||
        fs->top->drv->snapshot_list(fs->top, &fs->snaps, &fs->nsnaps) < 0)
        fs->nsnaps = 0;
    fs->snap_names = calloc((size_t)fs->nsnaps + 1, sizeof(char *));
    fs->snap_nodes = calloc((size_t)fs->nsnaps + 1, sizeof(struct node *));
    fs->snap_data = calloc((size_t)fs->nsnaps + 1, sizeof(int64_t));
    if (!fs->snap_names || !fs->snap_nodes || !fs->snap_data)
        abort();
    for (int i = 0; i < fs->nsnaps; i++)
        fs->snap_data[i] = -1;
    for (int i = 0; i < fs->nsnaps; i++) {
        const char *nm = fs->snaps[i].name && fs->snaps[i].name[0] && !strchr(fs->snaps[i].name, '/')
                             ? fs->snaps[i].name : fs->snaps[i].id;
        if (asprintf(&fs->snap_names[i], "%s.raw", nm) < 0)
            abort();
    }
}

/* The largest cluster of the chain (at least 64 KiB): the read pool cuts reads there, so that no
 * compressed cluster is read by two pieces. */
static uint64_t chain_cluster_size(struct fs *fs)
{
    uint64_t align = 64 * 1024;
    for (int i = 0; i < fs->nlayers; i++) {
        struct node *n = fs->layers[i];
        struct node_info info = { 0 };
        struct error *err = NULL;
        if (n->drv->get_info && n->drv->get_info(n, &info, &err) == 0 &&
            info.cluster_size > align && !(info.cluster_size & (info.cluster_size - 1)))
            align = info.cluster_size;
        if (info.format_specific)
            json_object_put(info.format_specific);
        error_free(err);
    }
    return align;
}

static int fs_open_image(struct config *c, struct fs *fs)
{
    struct error *err = NULL;
    int flags;
    if (open_flags(c, &flags) < 0 || build_image_opts(c, fs) < 0)
        return -1;
    if (c->snapshot && c->rw) {
        error_report("snapshot= mounts are read-only; use overlay= to write on top of a snapshot");
        return -1;
    }
    if (c->overlay) {
        if (c->image_opts) {
            error_report("overlay= cannot be combined with --image-opts");
            return -1;
        }
        if (create_overlay(c, fs) < 0)
            return -1;
        flags |= NODE_RDWR;
        c->rw = 1;
    }
    /* opened by the name as given (we are still in the caller's directory), so that messages
     * read as flatimg's; fs->image, absolute, serves the opens made after daemonising */
    const char *name = c->image_opts ? NULL : c->overlay ? fs->image : c->image;
    fs->top = node_open(name, fs->fmt, fs->image_opts, flags, &err);
    if (!fs->top) {
        error_prepend(&err, "Could not open '%s': ", c->overlay ? c->overlay : c->image);
        error_report_err(err);
        return -1;
    }
    fs->rw = (fs->top->flags & NODE_RDWR) != 0;
    fs->growable = c->growable;
    /* raw lets other processes write the file (qemu's share-rw for raw): no caching there */
    fs->keep_cache = !fs->rw && !c->force_share && !(fs->top->drv->flags & DRV_SHARES_FILE);
    fs->salvage = c->salvage;
    fs->snap_flags = (flags & ~(NODE_RDWR | NODE_GROWABLE)) | NODE_FORCE_SHARE;
    if (c->snapshot && load_snapshot(fs, c->snapshot) < 0)
        return -1;
    list_layers_and_snapshots(fs);
    fs_read_partitions(fs);
    fs->piece_align = chain_cluster_size(fs);
    return 0;
}

static void fs_close(struct fs *fs)
{
    readpool_free(fs->pool);
    fs_cluster_cache_free(fs);
    fs_free_handles(fs);
    for (int i = 0; i < fs->nsnaps; i++) {
        if (fs->snap_nodes)
            node_close(fs->snap_nodes[i]);
        if (fs->snap_names)
            free(fs->snap_names[i]);
    }
    if (fs->snaps)
        snapshot_info_list_free(fs->snaps, fs->nsnaps);
    free(fs->snap_names);
    free(fs->snap_nodes);
    free(fs->snap_data);
    for (int i = 0; i < fs->nlayers; i++)
        free(fs->layer_names[i]);
    if (fs->top && fs->rw && node_flush(fs->top) < 0)
        fs_log(fs, "flush of '%s' failed at unmount", node_name(fs->top));
    node_close(fs->top);
    opts_free(fs->image_opts);
    free(fs->image);
    free(fs->fmt);
    free(fs->raw_name);
    pthread_mutex_destroy(&fs->lock);
}

/* Check the mountpoint before opening anything: a directory or a regular file. */
static int check_mountpoint(const char *mnt, bool *dir_mode)
{
    struct stat st;
    if (stat(mnt, &st) < 0) {
        error_report("Cannot mount on '%s': %s", mnt, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
        error_report("Cannot mount on '%s': not a directory or a regular file", mnt);
        return -1;
    }
    *dir_mode = S_ISDIR(st.st_mode);
    return 0;
}

static int write_pidfile(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
        error_report("Could not write pidfile '%s': %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Fork; the parent exits 0 once the child has reached the kernel's FUSE INIT (fs_init writes the
 * byte) and a stat() of the mountpoint, which the kernel holds until INIT is answered, has been
 * answered by the daemon; 1 if the child ends before. A returning flatimgfs means a mount that
 * answers. Returns in the child with the write end of the handshake pipe. */
static int daemonise(const char *pidfile, const char *mnt)
{
    int p[2];
    char ok = 0;
    if (pipe(p) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0) {
        close(p[1]);
        struct stat st;
        ssize_t r = read(p[0], &ok, 1);
        _exit(r == 1 && ok == 1 && stat(mnt, &st) == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
    }
    close(p[0]);
    if (setsid() < 0 || chdir("/") < 0)
        return -1;
    if (pidfile && write_pidfile(pidfile) < 0)
        return -1;
    int nul = open("/dev/null", O_RDWR);
    if (nul >= 0) {
        dup2(nul, STDIN_FILENO);
        dup2(nul, STDOUT_FILENO);
        dup2(nul, STDERR_FILENO);
        if (nul > STDERR_FILENO)
            close(nul);
    }
    return p[1];
}

/* -o readahead=KIB: the kernel's read-ahead window of this mount, which it sets to at most 128 KiB
 * whatever the INIT reply asks. The mount's backing device is the "MAJ:MIN" of our line in
 * /proc/self/mountinfo (read, not stat(): the session loop does not run yet). */
static int set_readahead(const char *mnt, unsigned long kib)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[8192], dev[64] = "", path[PATH_MAX + 64];
    int ret = -1;
    if (!f)
        goto out;
    while (fgets(line, sizeof(line), f)) {
        char d[64], m[4096];
        if (sscanf(line, "%*s %*s %63s %*s %4095s", d, m) == 2 && !strcmp(m, mnt) &&
            strstr(line, " - fuse"))
            snprintf(dev, sizeof(dev), "%s", d); /* the last one is ours */
    }
    fclose(f);
    if (!dev[0]) {
        errno = ENOENT;
        goto out;
    }
    snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
    f = fopen(path, "w");
    if (!f)
        goto out;
    if (fprintf(f, "%lu\n", kib) < 0) {
        fclose(f);
        goto out;
    }
    ret = fclose(f) == 0 ? 0 : -1;
out:
    if (ret < 0)
        error_report("Could not set the read-ahead of '%s': %s", mnt, strerror(errno));
    return ret;
}

static int parse_readahead(const char *s, unsigned long *kib)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v == 0 || v > 1048576) {
        error_report("Invalid readahead option: %s (expected KiB, 1 to 1048576)", s);
        return -1;
    }
    *kib = v;
    return 0;
}

/* Threads serving requests: -o max_threads=N (libfuse's default 10); -o clone_fd has no effect,
 * the threads share the device as libfuse's do without it. */
static unsigned loop_threads(const struct fuse_cmdline_opts *cmd)
{
    return cmd->max_threads < 2 ? 2 : cmd->max_threads > 64 ? 64 : cmd->max_threads;
}

static int run(struct fuse_args *args, struct fs *fs, struct config *c,
               struct fuse_cmdline_opts *cmd, const char *mnt)
{
    struct fuse *f = fuse_new(args, &flatimgfs_ops, sizeof(flatimgfs_ops), fs);
    if (!f)
        return 1;
    int ret = 1;
    if (fuse_mount(f, mnt) != 0) {
        error_report("Cannot mount on '%s'", c->mountpoint);
        goto out_destroy;
    }
    if (fs->readahead_kib && set_readahead(mnt, fs->readahead_kib) < 0)
        goto out_unmount;
    fs->log_stderr = cmd->foreground || cmd->debug;
    if (!cmd->foreground) {
        fs->ready_fd = daemonise(c->pidfile, mnt);
        if (fs->ready_fd < 0)
            goto out_unmount;
    } else if (c->pidfile && write_pidfile(c->pidfile) < 0) {
        goto out_unmount;
    }
    if (fuse_set_signal_handlers(fuse_get_session(f)) != 0)
        goto out_unmount;
    /* -d shows every request as libfuse decodes it: READ too */
    ret = fs_loop(fs, fuse_get_session(f), cmd->singlethread ? 1 : loop_threads(cmd),
                  !cmd->debug) < 0;
    fuse_remove_signal_handlers(fuse_get_session(f));
out_unmount:
    fuse_unmount(f);
out_destroy:
    fuse_destroy(f);
    return ret;
}

static int parse_args(struct fuse_args *args, struct config *c, struct fuse_cmdline_opts *cmd)
{
    if (fuse_opt_parse(args, c, cfg_opts, opt_proc) != 0)
        return 1;
    if (c->help) {
        usage(stdout);
        fuse_cmdline_help();
        fuse_lib_help(args);
        exit(EXIT_SUCCESS);
    }
    if (c->version) {
        printf("flatimgfs version %s (FUSE library %s)\n", FLATIMG_VERSION_STRING,
               fuse_pkgversion());
        exit(EXIT_SUCCESS);
    }
    if (fuse_parse_cmdline(args, cmd) != 0)
        return 1;
    if (c->read_threads < -1 || c->read_threads > 64) {
        error_report("Invalid read-threads option: %d (expected 0 to 64)", c->read_threads);
        return 1;
    }
    if (c->readahead && !c->page_cache) {
        error_report("readahead= applies to page-cache mounts only (add -o page-cache)");
        return 1;
    }
    if (!c->image || !c->mountpoint || c->extra_args) {
        error_report(c->extra_args ? "Too many arguments"
                                   : "Expecting an image file name and a mountpoint");
        fprintf(stderr, "Try 'flatimgfs --help' for more information\n");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    struct config c = { .read_threads = -1 };
    struct fuse_cmdline_opts cmd = { 0 };
    struct fs fs = { 0 };
    char *mnt = NULL;
    int ret = 1;

    error_set_progname(argv[0]);
    /* what the drivers find corrupt is logged: on stderr until run() knows where the log goes */
    fs.log_stderr = true;
    error_set_log_handler(fs_core_log, &fs);
    /* the threads' malloc arenas keep what they freed (a compressed cluster's buffers, a read
     * through libfuse with -d): with glibc's default of up to 8 per CPU, each of the 10 request
     * threads had its own and the daemon held twice the memory it uses; one per CPU is as much
     * parallelism as the reads have */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    mallopt(M_ARENA_MAX, cpus < 2 ? 2 : cpus > 8 ? 8 : (int)cpus);
    pthread_mutex_init(&fs.lock, NULL);
    fs.ready_fd = -1;
    if (parse_args(&args, &c, &cmd) != 0)
        goto out;
    if (c.readahead && parse_readahead(c.readahead, &fs.readahead_kib) < 0)
        goto out;
    fs.page_cache = c.page_cache;
    fs.read_threads = c.read_threads;
    fs.max_read = c.max_read;
    fs.umask = c.umask_set ? c.umask : 0;
    if (check_mountpoint(c.mountpoint, &fs.dir_mode) < 0)
        goto out;
    mnt = realpath(c.mountpoint, NULL);
    if (c.pidfile) { /* the daemon runs in /: keep relative names meaningful */
        char *abs = absolute(c.pidfile);
        free(c.pidfile);
        c.pidfile = abs;
    }
    fs.image = c.image_opts || !strncmp(c.image, "json:", 5) ? strdup(c.image) : absolute(c.image);
    fs.fmt = c.format ? strdup(c.format) : NULL;
    fs.raw_name = raw_name_of(c.overlay ? c.overlay : c.image_opts ? "image" : c.image);
    if (!mnt || !fs.image || !fs.raw_name || fs_open_image(&c, &fs) < 0)
        goto out;
    if (stat(fs.top->file ? node_name(fs.top->file) : fs.image, &fs.image_st) < 0)
        stat(mnt, &fs.image_st);
    ret = run(&args, &fs, &c, &cmd, mnt);
    if (c.pidfile && ret == 0)
        unlink(c.pidfile);
out:
    fs_close(&fs);
    fuse_opt_free_args(&args);
    free(cmd.mountpoint);
    free(mnt);
    free(c.image);
    free(c.mountpoint);
    free(c.format);
    free(c.backing);
    free(c.snapshot);
    free(c.overlay);
    free(c.cache);
    free(c.image_opts_str);
    free(c.pidfile);
    free(c.readahead);
    object_clear_all();
    return ret;
}
