/* ImageInfo assembly and rendering (qemu 7.2's bdrv_query_image_info and bdrv_image_info_dump
 * behaviour): JSON keys follow the QAPI struct order and print in QDict order; the human form has a
 * fixed line order, then the format-specific dump. */
#include "config.h"
#include "info.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "human.h"
#include "json.h"

json_object *snapshot_info_to_json(const struct snapshot_info *sn)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(sn->id ? sn->id : ""));
    json_object_object_add(o, "name", json_object_new_string(sn->name ? sn->name : ""));
    json_object_object_add(o, "vm-state-size", json_object_new_int64((int64_t)sn->vm_state_size));
    json_object_object_add(o, "date-sec", json_object_new_int64(sn->date_sec));
    json_object_object_add(o, "date-nsec", json_object_new_int64(sn->date_nsec));
    json_object_object_add(o, "vm-clock-sec",
                           json_object_new_int64((int64_t)(sn->vm_clock_nsec / 1000000000ULL)));
    json_object_object_add(o, "vm-clock-nsec",
                           json_object_new_int64((int64_t)(sn->vm_clock_nsec % 1000000000ULL)));
    if (sn->icount != UINT64_MAX)
        json_object_object_add(o, "icount", json_object_new_int64((int64_t)sn->icount));
    return o;
}

json_object *image_info_build(struct node *n, struct error **errp)
{
    json_object *info = json_object_new_object();
    struct node_info ni = { 0 };
    bool have_info = false;
    if (n->drv->get_info) {
        if (n->drv->get_info(n, &ni, errp) < 0) {
            json_object_put(info);
            return NULL;
        }
        have_info = !ni.no_block_info;
    }
    json_object_object_add(info, "filename", json_object_new_string(node_name(n)));
    json_object_object_add(info, "format", json_object_new_string(n->drv->name));
    if (have_info)
        json_object_object_add(info, "dirty-flag", json_object_new_boolean(ni.dirty));
    int64_t actual = node_allocated_size(n);
    if (actual >= 0)
        json_object_object_add(info, "actual-size", json_object_new_int64(actual));
    json_object_object_add(info, "virtual-size", json_object_new_int64((int64_t)n->size));
    if (have_info && ni.cluster_size)
        json_object_object_add(info, "cluster-size", json_object_new_int64((int64_t)ni.cluster_size));
    if (ni.encrypted)
        json_object_object_add(info, "encrypted", json_object_new_boolean(true));
    if (n->backing_file) {
        json_object_object_add(info, "backing-filename", json_object_new_string(n->backing_file));
        if (n->full_backing_filename && n->full_backing_filename[0])
            json_object_object_add(info, "full-backing-filename",
                                   json_object_new_string(n->full_backing_filename));
        if (n->backing_fmt)
            json_object_object_add(info, "backing-filename-format",
                                   json_object_new_string(n->backing_fmt));
    }
    if (n->drv->snapshot_list) {
        struct snapshot_info *list = NULL;
        int count = 0;
        if (n->drv->snapshot_list(n, &list, &count) == 0 && count > 0) {
            json_object *arr = json_object_new_array();
            for (int i = 0; i < count; i++)
                json_object_array_add(arr, snapshot_info_to_json(&list[i]));
            json_object_object_add(info, "snapshots", arr);
        }
        snapshot_info_list_free(list, count);
    }
    if (ni.format_specific)
        json_object_object_add(info, "format-specific", ni.format_specific);
    return info;
}

static int64_t get_int(json_object *o, const char *key)
{
    json_object *v = json_object_object_get(o, key);
    return v ? json_object_get_int64(v) : 0;
}

static const char *get_str(json_object *o, const char *key)
{
    json_object *v = json_object_object_get(o, key);
    return v ? json_object_get_string(v) : NULL;
}

void snapshot_dump_row(FILE *out, json_object *sn)
{
    if (!sn) {
        fprintf(out, "%-10s%-17s%8s%20s%13s%11s", "ID", "TAG", "VM SIZE", "DATE", "VM CLOCK", "ICOUNT");
        return;
    }
    char size[32], date[32], clock[48], icount[32] = "";
    int64_t vmsize = get_int(sn, "vm-state-size");
    human_size(size, sizeof(size), (uint64_t)vmsize);
    time_t t = (time_t)get_int(sn, "date-sec");
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
    uint64_t secs = (uint64_t)get_int(sn, "vm-clock-sec");
    uint64_t ms = (uint64_t)get_int(sn, "vm-clock-nsec") / 1000000;
    snprintf(clock, sizeof(clock), "%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64 ".%03" PRIu64,
             secs / 3600, secs / 60 % 60, secs % 60, ms);
    if (json_object_object_get(sn, "icount"))
        snprintf(icount, sizeof(icount), "%" PRId64, get_int(sn, "icount"));
    fprintf(out, "%-9s %-16s %8s%20s%13s%11s", get_str(sn, "id"), get_str(sn, "name"), size, date,
            clock, icount);
}

void image_info_print_human(FILE *out, json_object *info)
{
    char vsize[64], dsize[64] = "unavailable";
    uint64_t virt = (uint64_t)get_int(info, "virtual-size");
    human_size(vsize, sizeof(vsize), virt);
    if (json_object_object_get(info, "actual-size"))
        human_size(dsize, sizeof(dsize), (uint64_t)get_int(info, "actual-size"));
    fprintf(out, "image: %s\nfile format: %s\nvirtual size: %s (%" PRIu64 " bytes)\ndisk size: %s\n",
            get_str(info, "filename"), get_str(info, "format"), vsize, virt, dsize);
    json_object *v;
    if ((v = json_object_object_get(info, "encrypted")) && json_object_get_boolean(v))
        fprintf(out, "encrypted: yes\n");
    if (json_object_object_get(info, "cluster-size"))
        fprintf(out, "cluster_size: %" PRId64 "\n", get_int(info, "cluster-size"));
    if ((v = json_object_object_get(info, "dirty-flag")) && json_object_get_boolean(v))
        fprintf(out, "cleanly shut down: no\n");
    const char *bf = get_str(info, "backing-filename");
    if (bf) {
        const char *full = get_str(info, "full-backing-filename");
        fprintf(out, "backing file: %s", bf);
        if (!full)
            fprintf(out, " (cannot determine actual path)");
        else if (strcmp(bf, full))
            fprintf(out, " (actual path: %s)", full);
        fprintf(out, "\n");
        if (get_str(info, "backing-filename-format"))
            fprintf(out, "backing file format: %s\n", get_str(info, "backing-filename-format"));
    }
    json_object *snaps = json_object_object_get(info, "snapshots");
    if (snaps) {
        fprintf(out, "Snapshot list:\n");
        snapshot_dump_row(out, NULL);
        fprintf(out, "\n");
        for (size_t i = 0; i < json_object_array_length(snaps); i++) {
            snapshot_dump_row(out, json_object_array_get_idx(snaps, i));
            fprintf(out, "\n");
        }
    }
    json_object *fs = json_object_object_get(info, "format-specific");
    if (fs) {
        fprintf(out, "Format specific information:\n");
        json_object *data = json_object_object_get(fs, "data");
        if (data)
            json_dump_human(out, data, 1);
    }
}
