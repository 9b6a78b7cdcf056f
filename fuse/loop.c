/* flatimgfs's request loop. A fixed set of threads take requests from the FUSE device
 * (fuse_session_receive_buf) and pass every request but READ to libfuse
 * (fuse_session_process_buf, which calls the operations of ops.c). READ is answered here, in one
 * writev() of several pieces: the data the view read into a buffer, and the ranges that read as
 * zeros from one small area that is never written. libfuse's reply needs the whole reply in one
 * buffer, the zeros written into it first: on a sparse image most of a sequential read is zeros
 * (3 GiB of the benchmark's 4 GiB), and that memset cost as much CPU as copying the data.
 *
 * Read buffers are shared by the threads and taken last-in first-out: the kernel wakes the
 * threads waiting on the device in turn, and a sequential reader then still gets the buffer that
 * is warm in the cache (and the daemon holds one buffer per read in flight, not one per thread).
 *
 * Ending follows libfuse's loop: a signal or the unmount ends the session, the main thread
 * cancels the threads still waiting on the device (they accept cancellation only there). */
#include "config.h"

#include <errno.h>
#include <linux/fuse.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "flatimgfs.h"

#define READ_MAX (1u << 20)    /* the largest READ the kernel sends us (256 pages, see fs_init) */
#define ZERO_AREA (128u << 10) /* zeros are sent from here, in pieces of at most this */
#define IOV_MAX_READ (2 + 2 * ZERO_RUNS_MAX + READ_MAX / ZERO_AREA)

struct buffer {
    struct buffer *next;
    uint8_t *data; /* READ_MAX bytes, page-aligned */
};

struct loop {
    struct fs *fs;
    struct fuse_session *se;
    bool fast_read;
    sem_t finish;           /* posted by a thread that leaves */
    pthread_mutex_t lock;   /* free, error */
    struct buffer *free;    /* read buffers not in use, the last used first */
    int error;              /* the device failed: -errno */
    const uint8_t *zeros;   /* ZERO_AREA bytes of zeros */
};

struct worker {
    struct loop *l;
    pthread_t thread;
    struct fuse_buf fbuf;   /* the request, allocated by libfuse */
    struct zero_runs zr;
    struct iovec iov[IOV_MAX_READ];
};

static struct buffer *buffer_get(struct loop *l)
{
    pthread_mutex_lock(&l->lock);
    struct buffer *b = l->free;
    if (b)
        l->free = b->next;
    pthread_mutex_unlock(&l->lock);
    if (b)
        return b;
    b = malloc(sizeof(*b));
    if (b && !(b->data = io_buffer_alloc(READ_MAX))) {
        free(b);
        b = NULL;
    }
    return b;
}

static void buffer_put(struct loop *l, struct buffer *b)
{
    pthread_mutex_lock(&l->lock);
    b->next = l->free;
    l->free = b;
    pthread_mutex_unlock(&l->lock);
}

/* The iovecs of a READ reply of len bytes: data from buf, the listed zero runs from l->zeros. */
static int reply_iov(struct worker *w, const uint8_t *buf, size_t len)
{
    const uint8_t *at = buf, *end = buf + len;
    int n = 1; /* iov[0]: the header */
    for (unsigned i = 0; i < w->zr.n; i++) {
        const uint8_t *z = w->zr.run[i].at;
        uint64_t zlen = w->zr.run[i].len;
        if (z > at)
            w->iov[n++] = (struct iovec){ (void *)at, (size_t)(z - at) };
        for (uint64_t done = 0; done < zlen;) {
            uint64_t l = zlen - done < ZERO_AREA ? zlen - done : ZERO_AREA;
            w->iov[n++] = (struct iovec){ (void *)w->l->zeros, (size_t)l };
            done += l;
        }
        at = z + zlen;
    }
    if (end > at)
        w->iov[n++] = (struct iovec){ (void *)at, (size_t)(end - at) };
    return n;
}

/* Answer a READ; false when the request is not one this path takes. */
static bool serve_read(struct worker *w, const struct fuse_in_header *in, size_t size)
{
    struct loop *l = w->l;
    if (!l->fast_read || in->opcode != FUSE_READ ||
        size < sizeof(*in) + sizeof(struct fuse_read_in))
        return false;
    const struct fuse_read_in *arg = (const void *)(in + 1);
    if (arg->size > READ_MAX || arg->fh == 0)
        return false;
    struct buffer *b = buffer_get(l);
    if (!b)
        return false;
    struct fuse_out_header out = { .unique = in->unique };
    int ret = arg->offset > INT64_MAX
                  ? -EINVAL
                  : fs_read_view(l->fs, (struct handle *)(uintptr_t)arg->fh, arg->offset,
                                 arg->size, b->data, &w->zr);
    int n = 1;
    if (ret < 0) {
        out.error = ret;
        ret = 0;
    } else {
        n = reply_iov(w, b->data, (size_t)ret);
    }
    out.len = (uint32_t)(sizeof(out) + (size_t)ret);
    w->iov[0] = (struct iovec){ &out, sizeof(out) };
    /* ENOENT: the reader was interrupted and the kernel dropped the request */
    if (writev(fuse_session_fd(l->se), w->iov, n) < 0 && errno != ENOENT &&
        !fuse_session_exited(l->se))
        fs_log(l->fs, "could not reply to a read: %s", strerror(errno));
    buffer_put(l, b);
    return true;
}

static void *serve(void *arg)
{
    struct worker *w = arg;
    struct loop *l = w->l;
    while (!fuse_session_exited(l->se)) {
        pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
        int res = fuse_session_receive_buf(l->se, &w->fbuf);
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
        if (res == -EINTR || res == -EAGAIN)
            continue;
        if (res <= 0) { /* 0: unmounted */
            if (res < 0) {
                pthread_mutex_lock(&l->lock);
                l->error = res;
                pthread_mutex_unlock(&l->lock);
            }
            fuse_session_exit(l->se);
            break;
        }
        if ((w->fbuf.flags & FUSE_BUF_IS_FD) || !serve_read(w, w->fbuf.mem, (size_t)res))
            fuse_session_process_buf(l->se, &w->fbuf);
    }
    sem_post(&l->finish);
    return NULL;
}

int fs_loop(struct fs *fs, struct fuse_session *se, unsigned threads, bool fast_read)
{
    struct loop l = { .fs = fs, .se = se, .fast_read = fast_read };
    uint8_t *zeros = io_buffer_alloc(ZERO_AREA);
    struct worker *w = calloc(threads ? threads : 1, sizeof(*w));
    if (!zeros || !w) {
        free(zeros);
        free(w);
        return -ENOMEM;
    }
    memset(zeros, 0, ZERO_AREA); /* real pages: the kernel takes the shared zero page slowly */
    l.zeros = zeros;
    sem_init(&l.finish, 0, 0);
    pthread_mutex_init(&l.lock, NULL);
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);

    unsigned started = 0;
    if (threads <= 1) {
        w[0].l = &l;
        serve(&w[0]);
        started = 1;
    } else {
        /* signals go to this thread, the one that waits for the end: the threads (and the read
         * pool they start) block them, so a SIGTERM never lands where nobody looks */
        sigset_t stop, old;
        sigemptyset(&stop);
        sigaddset(&stop, SIGHUP);
        sigaddset(&stop, SIGINT);
        sigaddset(&stop, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &stop, &old);
        for (; started < threads; started++) {
            w[started].l = &l;
            if (pthread_create(&w[started].thread, NULL, serve, &w[started]) != 0)
                break;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (started == 0) {
            l.error = -EAGAIN;
            fuse_session_exit(se);
        }
        while (!fuse_session_exited(se))
            sem_wait(&l.finish);
        for (unsigned i = 0; i < started; i++)
            pthread_cancel(w[i].thread);
        for (unsigned i = 0; i < started; i++)
            pthread_join(w[i].thread, NULL);
    }
    for (unsigned i = 0; i < started; i++)
        free(w[i].fbuf.mem);
    while (l.free) {
        struct buffer *b = l.free;
        l.free = b->next;
        free(b->data);
        free(b);
    }
    pthread_mutex_destroy(&l.lock);
    sem_destroy(&l.finish);
    free(w);
    free(zeros);
    fuse_session_reset(se);
    return l.error;
}
