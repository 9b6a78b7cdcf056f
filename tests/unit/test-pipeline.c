/* Unit tests for tools/pipeline.c: slots applied in the order they were put, on another thread,
 * never more in flight than there are slots, and nothing applied after a failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <errno.h>
#include <pthread.h>
#include <cmocka.h>

#include "pipeline.h"

#define N 1000

struct log {
    pthread_t caller;
    int order[N];
    int count;
    int fail_at;        /* value whose apply fails (-1: none) */
    bool other_thread;  /* some apply ran on another thread */
};

static int apply_log(void *opaque, void *slot)
{
    struct log *l = opaque;
    int v = *(int *)slot;
    if (!pthread_equal(pthread_self(), l->caller))
        l->other_thread = true;
    if (v == l->fail_at)
        return -EIO;
    l->order[l->count++] = v;
    return 0;
}

static int run(struct log *l, unsigned nslots, int items, int *got_null_at)
{
    int vals[8];
    void *ring[8];
    for (unsigned i = 0; i < nslots; i++)
        ring[i] = &vals[i];
    l->caller = pthread_self();
    struct pipeline *p = pipeline_start(ring, nslots, apply_log, l);
    *got_null_at = -1;
    for (int i = 0; i < items; i++) {
        int *slot = pipeline_get(p);
        if (!slot) {
            *got_null_at = i;
            break;
        }
        *slot = i;
        pipeline_put(p);
    }
    return pipeline_finish(p);
}

static void test_order_kept(void **state)
{
    static struct log l = { .fail_at = -1 };
    int null_at;
    assert_int_equal(run(&l, 3, N, &null_at), 0);
    assert_int_equal(null_at, -1);
    assert_int_equal(l.count, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(l.order[i], i);
    assert_true(l.other_thread);
}

static void test_failure_stops(void **state)
{
    static struct log l = { .fail_at = 10 };
    int null_at;
    assert_int_equal(run(&l, 2, N, &null_at), -EIO);
    /* everything before the failing slot was applied, nothing after it */
    assert_int_equal(l.count, 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(l.order[i], i);
    /* the caller learns of it within the slots it may still hold */
    assert_true(null_at > 10 && null_at <= 10 + 2 + 1);
}

static void test_one_slot_is_synchronous(void **state)
{
    static struct log l = { .fail_at = 5 };
    int null_at;
    assert_int_equal(run(&l, 1, N, &null_at), -EIO);
    assert_false(l.other_thread);
    assert_int_equal(l.count, 5);
    assert_int_equal(null_at, 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_kept),
        cmocka_unit_test(test_failure_stops),
        cmocka_unit_test(test_one_slot_is_synchronous),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
