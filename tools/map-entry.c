/* Extent merging and printing for `flatimg map`, with qemu-img 7.2's rules: entries merge when
 * every flag, the depth and the file agree and host offsets are contiguous. */
#include "config.h"
#include "map-entry.h"

#include <inttypes.h>
#include <string.h>

#include "error.h"

bool map_entry_mergeable(const struct map_entry *curr, const struct map_entry *next)
{
    if (curr->length == 0)
        return false;
    if (curr->zero != next->zero || curr->data != next->data || curr->depth != next->depth ||
        curr->present != next->present || !curr->filename != !next->filename ||
        curr->has_offset != next->has_offset)
        return false;
    if (curr->filename && strcmp(curr->filename, next->filename))
        return false;
    if (curr->has_offset && curr->offset + curr->length != next->offset)
        return false;
    return true;
}

static void dump_human(FILE *out, const struct map_entry *e, struct map_entry *next)
{
    if (e->data && !e->zero) {
        char a[32], b[32], c[32];
        /* %#x prints 0 without the 0x prefix, as qemu's output shows */
        snprintf(a, sizeof(a), "%#" PRIx64, e->start);
        snprintf(b, sizeof(b), "%#" PRIx64, e->length);
        snprintf(c, sizeof(c), "%#" PRIx64, e->has_offset ? e->offset : 0);
        fprintf(out, "%-16s%-16s%-16s%s\n", a, b, c, e->filename ? e->filename : "");
    }
    if (next && (!next->data || next->zero)) {
        next->data = false;
        next->zero = true;
    }
}

static void dump_json(FILE *out, const struct map_entry *e, const struct map_entry *next)
{
    fprintf(out,
            "{ \"start\": %" PRIu64 ", \"length\": %" PRIu64 ", \"depth\": %d, \"present\": %s, "
            "\"zero\": %s, \"data\": %s",
            e->start, e->length, e->depth, e->present ? "true" : "false",
            e->zero ? "true" : "false", e->data ? "true" : "false");
    if (e->has_offset)
        fprintf(out, ", \"offset\": %" PRIu64, e->offset);
    fputc('}', out);
    if (next)
        fputs(",\n", out);
}

int map_entry_dump(FILE *out, bool json, const struct map_entry *e, struct map_entry *next)
{
    if (json) {
        dump_json(out, e, next);
        return 0;
    }
    if (e->data && !e->has_offset) {
        error_report("File contains external, encrypted or compressed clusters.");
        return -1;
    }
    dump_human(out, e, next);
    return 0;
}
