/* Human-readable values exactly as qemu-img prints them. */
#ifndef FLATIMG_HUMAN_H
#define FLATIMG_HUMAN_H

#include <stdint.h>
#include <stddef.h>

/* "196 KiB", "1 GiB", "1.5 MiB": qemu's size_to_str (%0.3g of the best binary unit). */
void human_size(char *buf, size_t cap, uint64_t bytes);
/* "1 GiB (1073741824 bytes)" */
void human_size_bytes(char *buf, size_t cap, uint64_t bytes);

#endif
