/* qemu's size_to_str(): the unit is chosen from floor(log2(v * 1024 / 1000)) / 10, so 1000 bytes
 * already print as "0.977 KiB", and the value is printed with %0.3g. */
#include "config.h"
#include "human.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>

void human_size(char *buf, size_t cap, uint64_t bytes)
{
    static const char *const suffixes[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };
    int exp;
    frexp((double)bytes / (1000.0 / 1024.0), &exp);
    int i = (exp - 1) / 10;
    if (i < 0)
        i = 0;
    if (i > 6)
        i = 6;
    uint64_t div = 1ULL << (i * 10);
    snprintf(buf, cap, "%0.3g %sB", (double)bytes / (double)div, suffixes[i]);
}

void human_size_bytes(char *buf, size_t cap, uint64_t bytes)
{
    char h[32];
    human_size(h, sizeof(h), bytes);
    snprintf(buf, cap, "%s (%" PRIu64 " bytes)", h, bytes);
}
