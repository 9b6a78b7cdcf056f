/* flatimgfs's read pool (readpool.h). A sequential reader keeps one request in flight, so the only
 * parallelism left is inside a request: its pieces are queued, workers claim them, and the
 * requesting thread claims them too, so that a worker that is slow to wake up never delays a read
 * (the requester then reads the pieces nobody took). Piece boundaries fall on cluster boundaries so
 * that no compressed cluster is inflated twice. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "readpool.h"

#define MIN_PIECE (128u * 1024) /* below this a piece costs more to hand over than to read */
#define MAX_PIECES 16

struct job {
    readpool_fn fn;
    void *ctx;
    uint8_t *buf;
    uint64_t start[MAX_PIECES + 1]; /* piece i is [start[i], start[i + 1]) */
    unsigned npieces;
    unsigned next;     /* first unclaimed piece */
    unsigned finished; /* pieces read */
    int err;
    struct job *qnext; /* pool queue, while it has unclaimed pieces */
};

struct readpool {
    pthread_mutex_t lock;
    pthread_cond_t work; /* a job was queued, or stop */
    pthread_cond_t done; /* a job's last piece was read */
    struct job *queue;
    bool stop;
    unsigned nthreads;
    pthread_t threads[];
};

static void dequeue(struct readpool *p, struct job *j)
{
    for (struct job **q = &p->queue; *q; q = &(*q)->qnext) {
        if (*q == j) {
            *q = j->qnext;
            return;
        }
    }
}

/* Claim the next piece of j (under p->lock); -1 when all are claimed. */
static int claim(struct readpool *p, struct job *j)
{
    if (j->next >= j->npieces)
        return -1;
    int i = (int)j->next++;
    if (j->next == j->npieces)
        dequeue(p, j);
    return i;
}

/* Read piece i of j outside the lock; called and returns with p->lock held. */
static void run_piece(struct readpool *p, struct job *j, int i)
{
    uint64_t off = j->start[i], len = j->start[i + 1] - off;
    pthread_mutex_unlock(&p->lock);
    int ret = j->fn(j->ctx, off, len, j->buf + (off - j->start[0]));
    pthread_mutex_lock(&p->lock);
    if (ret < 0 && !j->err)
        j->err = ret;
    if (++j->finished == j->npieces)
        pthread_cond_broadcast(&p->done);
}

static void *worker(void *arg)
{
    struct readpool *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        struct job *j = p->queue;
        if (!j) {
            pthread_cond_wait(&p->work, &p->lock);
            continue;
        }
        int i = claim(p, j);
        if (i < 0) { /* cannot happen: a queued job has unclaimed pieces */
            dequeue(p, j);
            continue;
        }
        run_piece(p, j, i);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

struct readpool *readpool_new(unsigned workers)
{
    if (workers == 0)
        return NULL;
    struct readpool *p = calloc(1, sizeof(*p) + workers * sizeof(pthread_t));
    if (!p)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    for (; p->nthreads < workers; p->nthreads++)
        if (pthread_create(&p->threads[p->nthreads], NULL, worker, p) != 0)
            break;
    if (p->nthreads == 0) {
        readpool_free(p);
        return NULL;
    }
    return p;
}

void readpool_free(struct readpool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* Cut [off, off + len) at multiples of align into at most MAX_PIECES pieces of about len / want
 * bytes; returns the number of pieces. */
static unsigned split(struct job *j, uint64_t off, uint64_t len, uint64_t align, unsigned want)
{
    uint64_t end = off + len, piece = len / want;
    unsigned n = 0;
    j->start[n++] = off;
    for (unsigned k = 1; k < want && n < MAX_PIECES; k++) {
        uint64_t b = (off + k * piece) & ~(align - 1);
        if (b > j->start[n - 1] && b - j->start[n - 1] >= MIN_PIECE / 2 && b < end)
            j->start[n++] = b;
    }
    j->start[n] = end;
    return n;
}

bool readpool_splits(const struct readpool *p, uint64_t len, uint64_t align)
{
    return p && len / MIN_PIECE >= 2 && align && !(align & (align - 1)) && align <= len / 2;
}

int readpool_read(struct readpool *p, readpool_fn fn, void *ctx, uint64_t off, uint64_t len,
                  uint8_t *buf, uint64_t align)
{
    if (!readpool_splits(p, len, align))
        return fn(ctx, off, len, buf);
    unsigned want = (unsigned)(len / MIN_PIECE);
    if (want > MAX_PIECES)
        want = MAX_PIECES;
    struct job j = { .fn = fn, .ctx = ctx, .buf = buf };
    j.npieces = split(&j, off, len, align, want);
    if (j.npieces < 2)
        return fn(ctx, off, len, buf);

    pthread_mutex_lock(&p->lock);
    struct job **q = &p->queue;
    while (*q)
        q = &(*q)->qnext;
    *q = &j;
    if (j.npieces > 2)
        pthread_cond_broadcast(&p->work);
    else
        pthread_cond_signal(&p->work);
    for (int i; (i = claim(p, &j)) >= 0;)
        run_piece(p, &j, i);
    while (j.finished < j.npieces)
        pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
    return j.err;
}
