/* Shared pieces of the writing subcommands: qemu 7.2's warning for a raw image whose format was
 * probed, and qemu-img convert's zero scanning (is_allocated_sectors / _min semantics). */
#include "config.h"
#include "write-common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "file.h"

#define SECTOR 512

void warn_probed_raw(const struct node *n)
{
    if (n->probed && (n->flags & NODE_RDWR) && !strcmp(n->drv->name, "raw")) {
        fprintf(stderr,
                "WARNING: Image format was not specified for '%s' and probing guessed raw.\n"
                "         Automatically detecting the format is dangerous for raw images, write "
                "operations on block 0 will be restricted.\n"
                "         Specify the 'raw' format explicitly to remove the restrictions.\n",
                node_name(n));
    }
}

struct node *img_open_rw(bool image_opts, const char *filename, const char *fmt, int flags,
                         bool quiet)
{
    (void)quiet; /* qemu prints the warning even with -q */
    bool force_share = flags & NODE_FORCE_SHARE;
    struct node *n = img_open(image_opts, filename, fmt, flags & ~NODE_FORCE_SHARE, force_share);
    if (n)
        warn_probed_raw(n);
    return n;
}

bool buffer_is_zero(const void *buf, uint64_t len)
{
    const uint8_t *p = buf;
    if (len == 0)
        return true;
    /* the first byte, then the rest compared with itself shifted by one */
    return p[0] == 0 && memcmp(p, p + 1, len - 1) == 0;
}

/* One run of sectors that are all zero or all data, its end moved to an alignment boundary as
 * qemu does to spare the target read-modify-write cycles. */
static bool scan_run(const uint8_t *buf, uint64_t sectors, uint64_t *pnum, uint64_t sector_num,
                     uint64_t align)
{
    if (sectors == 0) {
        *pnum = 0;
        return false;
    }
    bool zero = buffer_is_zero(buf, SECTOR);
    uint64_t i = 1;
    while (i < sectors && buffer_is_zero(buf + i * SECTOR, SECTOR) == zero)
        i++;
    if (i == sectors) {
        *pnum = i;
        return !zero;
    }
    uint64_t tail = (sector_num + i) & (align - 1);
    if (tail) {
        if (zero && i <= tail)
            zero = false;
        if (!zero) {
            i += align - tail;
            if (i > sectors)
                i = sectors;
        } else {
            i -= tail;
        }
    }
    *pnum = i;
    return !zero;
}

bool convert_scan_allocated(const uint8_t *buf, uint64_t len, uint64_t *pnum, uint64_t min_bytes,
                            uint64_t off, uint64_t align)
{
    uint64_t n = len / SECTOR, min = min_bytes / SECTOR, sector = off / SECTOR;
    uint64_t run;
    if (align == 0)
        align = 1;
    if (n < min)
        min = n;
    if (!scan_run(buf, n, &run, sector, align)) {
        *pnum = run * SECTOR;
        return false;
    }
    uint64_t used = run, checked = run;
    while (checked < n) {
        bool data = scan_run(buf + checked * SECTOR, n - checked, &run, sector + checked, align);
        checked += run;
        if (data)
            used = checked;
        else if (run >= min)
            break;
    }
    *pnum = used * SECTOR;
    return true;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void rate_limit_init(struct rate_limit *rl, uint64_t rate, uint64_t burst)
{
    *rl = (struct rate_limit){ .rate = rate, .burst = burst, .start = -1 };
    pthread_mutex_init(&rl->lock, NULL);
}

void rate_limit_destroy(struct rate_limit *rl)
{
    pthread_mutex_destroy(&rl->lock);
}

void rate_limit_add(struct rate_limit *rl, uint64_t n)
{
    if (!rl->rate)
        return;
    pthread_mutex_lock(&rl->lock);
    if (rl->start < 0)
        rl->start = now_seconds();
    rl->done += n;
    pthread_mutex_unlock(&rl->lock);
}

void rate_limit_wait(struct rate_limit *rl)
{
    if (!rl->rate)
        return;
    pthread_mutex_lock(&rl->lock);
    if (rl->start < 0)
        rl->start = now_seconds();
    double due = rl->done > rl->burst
                     ? rl->start + (double)(rl->done - rl->burst) / (double)rl->rate
                     : rl->start;
    pthread_mutex_unlock(&rl->lock);
    for (double left; (left = due - now_seconds()) > 0;) {
        struct timespec ts = { (time_t)left, (long)((left - (double)(time_t)left) * 1e9) };
        if (nanosleep(&ts, NULL) < 0 && errno != EINTR)
            break;
    }
}

void writeback_start(struct node *n)
{
    struct node *f = file_node_fd(n) >= 0 ? n : n->file;
    int fd = file_node_fd(f);
    if (fd < 0 || ((n->flags | f->flags) & (NODE_NO_FLUSH | NODE_NOCACHE)))
        return;
    /* a hint: an error here changes nothing, the final flush reports real ones */
    (void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}
