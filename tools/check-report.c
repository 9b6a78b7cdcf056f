/* qemu's ImageCheck as JSON (QAPI field order; the optional counters appear only when non-zero,
 * as qemu-img's collect_image_check sets their has_ flags) and qemu-img's human check report. */
#include "config.h"
#include "check-report.h"

#include <inttypes.h>

static void add_int(json_object *o, const char *key, int64_t v, bool always)
{
    if (always || v)
        json_object_object_add(o, key, json_object_new_int64(v));
}

/* qemu's ImageCheck (QAPI order); optional counters appear only when non-zero. */
json_object *check_result_to_json(const char *filename, const char *format,
                                  const struct check_result *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "filename", json_object_new_string(filename));
    json_object_object_add(o, "format", json_object_new_string(format));
    add_int(o, "check-errors", r->check_errors, true);
    add_int(o, "image-end-offset", (int64_t)r->image_end_offset, false);
    add_int(o, "corruptions", r->corruptions, false);
    add_int(o, "leaks", r->leaks, false);
    add_int(o, "corruptions-fixed", r->corruptions_fixed, false);
    add_int(o, "leaks-fixed", r->leaks_fixed, false);
    add_int(o, "total-clusters", (int64_t)r->total_clusters, false);
    add_int(o, "allocated-clusters", (int64_t)r->allocated_clusters, false);
    add_int(o, "fragmented-clusters", (int64_t)r->fragmented_clusters, false);
    add_int(o, "compressed-clusters", (int64_t)r->compressed_clusters, false);
    return o;
}

/* qemu-img's dump_human_image_check. */
void check_result_print_human(FILE *out, const struct check_result *r)
{
    if (!(r->corruptions || r->leaks || r->check_errors)) {
        fprintf(out, "No errors were found on the image.\n");
    } else {
        if (r->corruptions)
            fprintf(out,
                    "\n%d errors were found on the image.\n"
                    "Data may be corrupted, or further writes to the image may corrupt it.\n",
                    r->corruptions);
        if (r->leaks)
            fprintf(out,
                    "\n%d leaked clusters were found on the image.\n"
                    "This means waste of disk space, but no harm to data.\n",
                    r->leaks);
        if (r->check_errors)
            fprintf(out, "\n%d internal errors have occurred during the check.\n",
                    r->check_errors);
    }
    if (r->total_clusters && r->allocated_clusters)
        fprintf(out,
                "%" PRIu64 "/%" PRIu64 " = %0.2f%% allocated, %0.2f%% fragmented, %0.2f%% "
                "compressed clusters\n",
                r->allocated_clusters, r->total_clusters,
                (double)r->allocated_clusters * 100.0 / (double)r->total_clusters,
                (double)r->fragmented_clusters * 100.0 / (double)r->allocated_clusters,
                (double)r->compressed_clusters * 100.0 / (double)r->allocated_clusters);
    if (r->image_end_offset)
        fprintf(out, "Image end offset: %" PRIu64 "\n", r->image_end_offset);
}
