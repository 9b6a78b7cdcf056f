/* The commit/rebase pipeline (see pipeline.h): a ring of slots, filled in order by the calling
 * thread and applied in order by one worker thread. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>

#include "pipeline.h"

struct pipeline {
    void **slots;
    unsigned nslots;
    pipeline_apply_fn apply;
    void *opaque;
    pthread_t worker;
    bool threaded;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned long filled;  /* slots put so far */
    unsigned long applied; /* slots the worker has finished with */
    bool closing;          /* no more slots will come */
    int ret;               /* the worker's first error */
};

static void *pipeline_worker(void *arg)
{
    struct pipeline *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->applied == p->filled && !p->closing)
            pthread_cond_wait(&p->cond, &p->lock);
        if (p->applied == p->filled || p->ret < 0)
            break;
        void *slot = p->slots[p->applied % p->nslots];
        pthread_mutex_unlock(&p->lock);
        int ret = p->apply(p->opaque, slot);
        pthread_mutex_lock(&p->lock);
        if (ret < 0)
            p->ret = ret;
        p->applied++;
        pthread_cond_broadcast(&p->cond);
        if (ret < 0)
            break;
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

struct pipeline *pipeline_start(void **slots, unsigned nslots, pipeline_apply_fn apply,
                                void *opaque)
{
    struct pipeline *p = calloc(1, sizeof(*p));
    if (!p)
        abort();
    p->slots = slots;
    p->nslots = nslots;
    p->apply = apply;
    p->opaque = opaque;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->threaded = nslots > 1 && pthread_create(&p->worker, NULL, pipeline_worker, p) == 0;
    return p;
}

void *pipeline_get(struct pipeline *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->threaded && p->ret == 0 && p->filled - p->applied >= p->nslots)
        pthread_cond_wait(&p->cond, &p->lock);
    void *slot = p->ret < 0 ? NULL : p->slots[p->filled % p->nslots];
    pthread_mutex_unlock(&p->lock);
    return slot;
}

void pipeline_put(struct pipeline *p)
{
    if (!p->threaded) {
        int ret = p->apply(p->opaque, p->slots[p->filled % p->nslots]);
        if (ret < 0)
            p->ret = ret;
        p->filled++;
        p->applied++;
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->filled++;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

int pipeline_finish(struct pipeline *p)
{
    if (p->threaded) {
        pthread_mutex_lock(&p->lock);
        p->closing = true;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->worker, NULL);
    }
    int ret = p->ret;
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p);
    return ret;
}
