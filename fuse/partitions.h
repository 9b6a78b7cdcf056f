/* Partition tables of a raw view, parsed for flatimgfs's partitions/ directory: MBR primary and
 * logical (EBR chain) partitions and GPT (UEFI 2.x, header and entry array CRC32-checked). */
#ifndef FLATIMGFS_PARTITIONS_H
#define FLATIMGFS_PARTITIONS_H

#include <stdint.h>

#include "node.h"

#define PART_MAX 128

struct partition {
    unsigned number; /* Linux numbering: MBR primaries 1-4, logicals from 5; GPT entry index + 1 */
    uint64_t start;  /* bytes */
    uint64_t size;   /* bytes */
};

/* Fill parts (at most PART_MAX) from the table of n's raw view; returns the count (0 when there is
 * no valid table) or -errno on a read error. Every field is checked against the disk size. */
int partitions_read(struct node *n, struct partition *parts);

#endif
