/* Progress in qemu-img's form: "    (12.34/100%)" redrawn in place with -p; without -p, SIGUSR1
 * prints the current state once. */
#ifndef FLATIMG_PROGRESS_H
#define FLATIMG_PROGRESS_H

#include <stdbool.h>

/* enabled: -p given; min_skip: smallest change in percent worth a redraw (qemu uses 1.0 or 2.0). */
void progress_init(bool enabled, float min_skip);
/* Add delta percent scaled by max/100 (max 0: set to delta), as qemu_progress_print. */
void progress_print(float delta, int max);
void progress_end(void);

#endif
