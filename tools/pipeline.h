/* A two-stage pipeline for commit and rebase: the calling thread prepares chunks in order (block
 * status, reads, comparisons) while one worker thread applies them (writes) in the same order, so
 * the image is written exactly as the sequential loop of qemu-img writes it, on two cores, with a
 * fixed number of chunk buffers. */
#ifndef FLATIMG_TOOLS_PIPELINE_H
#define FLATIMG_TOOLS_PIPELINE_H

#include <stdbool.h>

/* Applies one prepared slot; returns 0 or a negative errno (the worker then stops, and the
 * slots after it are never applied). */
typedef int (*pipeline_apply_fn)(void *opaque, void *slot);

struct pipeline;

/* slots: nslots caller-owned buffers handed round in turn. With one slot, or when the worker
 * thread cannot be started, pipeline_put applies the slot at once on the calling thread. */
struct pipeline *pipeline_start(void **slots, unsigned nslots, pipeline_apply_fn apply,
                                void *opaque);
/* The next slot to fill, once the worker has applied what it held before; NULL when the worker
 * has failed (stop preparing: pipeline_finish returns its error). */
void *pipeline_get(struct pipeline *p);
/* Hand the slot returned by the last pipeline_get to the worker. */
void pipeline_put(struct pipeline *p);
/* Wait until every slot put has been applied (or the worker failed), stop the worker and free
 * the pipeline; returns the worker's error or 0. */
int pipeline_finish(struct pipeline *p);

#endif
