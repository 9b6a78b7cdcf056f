/* qemu's util/qemu-progress.c behaviour. The state is per process by nature: a signal handler
 * can only reach a static flag. */
#include "config.h"
#include "progress.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static struct {
    bool enabled;
    bool active;
    float current, last_print, min_skip;
} state;

static volatile sig_atomic_t print_pending;

static void sigusr1_handler(int sig)
{
    (void)sig;
    print_pending = 1;
}

static void print_state(const char *end)
{
    printf("    (%3.2f/100%%)%s", state.current, end);
    fflush(stdout);
}

void progress_init(bool enabled, float min_skip)
{
    memset(&state, 0, sizeof(state));
    state.enabled = enabled;
    state.active = true;
    state.min_skip = min_skip;
    if (!enabled) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = sigusr1_handler;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR1, &sa, NULL);
    }
}

void progress_print(float delta, int max)
{
    if (!state.active)
        return;
    float current = max == 0 ? delta : state.current + delta / 100 * (float)max;
    if (current > 100)
        current = 100;
    state.current = current;
    if (!state.enabled) {
        if (print_pending) {
            print_pending = 0;
            print_state("\n");
        }
        return;
    }
    if (current > state.last_print + state.min_skip || current < state.last_print - state.min_skip ||
        current == 0 || current == 100) {
        state.last_print = current;
        print_state("\r");
    }
}

void progress_end(void)
{
    if (state.active && state.enabled)
        printf("\n");
    state.active = false;
}
