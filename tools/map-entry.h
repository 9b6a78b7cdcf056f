/* Extents of `flatimg map` (qemu-img 7.2's MapEntry): how one block-status answer becomes an
 * entry, when two neighbouring entries merge, and how an entry prints in human or JSON form. */
#ifndef FLATIMG_TOOLS_MAP_ENTRY_H
#define FLATIMG_TOOLS_MAP_ENTRY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct map_entry {
    uint64_t start, length;
    uint64_t offset;        /* host offset, when has_offset */
    int depth;              /* chain layer that decided the range (0 = top) */
    bool data, zero, present, has_offset;
    const char *filename;   /* the file holding the data (not owned), when has_offset */
};

/* Whether next continues curr so that both print as one extent. */
bool map_entry_mergeable(const struct map_entry *curr, const struct map_entry *next);

/* Print one entry; next (NULL for the last) is adjusted as qemu does for human output, where zero
 * and unallocated ranges look alike. Returns -1 (message printed) for data without an offset. */
int map_entry_dump(FILE *out, bool json, const struct map_entry *e, struct map_entry *next);

#endif
