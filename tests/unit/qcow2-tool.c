/* Test harness for the qcow2 shell tests: drives the core API directly (node_open + pread/pwrite/
 * zero/discard/truncate) so that the tests do not depend on commands other helpers write.
 *   qcow2-tool cmp IMG RAW             the image's guest view equals RAW (exit 0) or not (1)
 *   qcow2-tool write IMG OFF LEN BYTE  write LEN bytes of value BYTE at OFF
 *   qcow2-tool zero IMG OFF LEN [unmap] / discard IMG OFF LEN / resize IMG SIZE
 *   qcow2-tool open IMG                open and print the error, as `qemu-io` would fail
 *   qcow2-tool check IMG [leaks|all]   driver->check, printing the result as qemu-img check's
 *                                      JSON fields (one "key": value per line)
 *   qcow2-tool measure OPTS [IMG]      qcow2 measure as `qemu-img measure -O qcow2` prints it
 *   qcow2-tool rebase IMG FILE [FMT]   change_backing_file ("" FILE drops it)
 *   qcow2-tool empty IMG               make_empty
 *   qcow2-tool snap-create|snap-goto|snap-delete IMG NAME   internal snapshots
 *   qcow2-tool bm-add IMG NAME [GRANULARITY [disabled]] / bm-remove|bm-clear|bm-enable|
 *              bm-disable IMG NAME / bm-list IMG     persistent bitmaps through bitmap_ops
 *   qcow2-tool amend IMG OPTS          driver->amend with create-style options
 *   qcow2-tool map IMG                 block status of the chain as `qemu-img map --output=json` */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "bitmap.h"
#include "node.h"
#include "opts.h"

static int measure(const char *optstr, const char *img)
{
    struct error *err = NULL;
    struct opts *o = opts_new();
    struct node *in = NULL;
    struct measure_info m = { 0 };
    int ret = 1;
    if (opts_parse(o, optstr, NULL, &err) < 0)
        goto out;
    if (img && !(in = node_open(img, NULL, NULL, 0, &err)))
        goto out;
    if (driver_find("qcow2")->measure(o, in, &m, &err) < 0)
        goto out;
    printf("required size: %llu\nfully allocated size: %llu\n", (unsigned long long)m.required,
           (unsigned long long)m.fully_allocated);
    if (m.has_bitmaps)
        printf("bitmaps size: %llu\n", (unsigned long long)m.bitmaps);
    ret = 0;
out:
    if (err)
        fprintf(stderr, "%s\n", error_msg(err));
    error_free(err);
    node_close(in);
    opts_free(o);
    return ret;
}
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"

struct map_entry {
    uint64_t start, length, offset;
    int depth;
    bool present, zero, data, has_offset;
};

static void print_entry(const struct map_entry *e, bool first)
{
    printf("%s{ \"start\": %llu, \"length\": %llu, \"depth\": %d, \"present\": %s, "
           "\"zero\": %s, \"data\": %s", first ? "[" : ",\n", (unsigned long long)e->start,
           (unsigned long long)e->length, e->depth, e->present ? "true" : "false",
           e->zero ? "true" : "false", e->data ? "true" : "false");
    if (e->has_offset)
        printf(", \"offset\": %llu", (unsigned long long)e->offset);
    printf("}");
}

static int map(struct node *n)
{
    struct map_entry cur = { 0 };
    bool have = false, first = true;
    for (uint64_t off = 0; off < n->size;) {
        struct block_status bs;
        int depth = 0;
        uint64_t len = n->size - off < (1u << 30) ? n->size - off : (1u << 30);
        /* qemu-img map's own walk: the first layer that says DATA or ZERO decides */
        for (struct node *l = n;; depth++) {
            if (node_block_status(l, off, len, &bs) < 0)
                return 1;
            if (!bs.len) { /* past a short layer's end */
                bs.len = len;
                bs.flags = BS_ZERO;
            }
            len = bs.len;
            if ((bs.flags & (BS_DATA | BS_ZERO)) || !l->backing)
                break;
            l = l->backing;
        }
        if (!(bs.flags & (BS_DATA | BS_ZERO)))
            bs.flags = 0;
        struct map_entry e = { off, bs.len, bs.offset, depth, !!(bs.flags & BS_ALLOCATED),
                               !!(bs.flags & BS_ZERO), !!(bs.flags & BS_DATA),
                               !!(bs.flags & BS_OFFSET_VALID) };
        if (have && cur.depth == e.depth && cur.present == e.present && cur.zero == e.zero &&
            cur.data == e.data && cur.has_offset == e.has_offset &&
            (!e.has_offset || cur.offset + cur.length == e.offset)) {
            cur.length += e.length;
        } else {
            if (have)
                print_entry(&cur, first), first = false;
            cur = e;
            have = true;
        }
        off += bs.len;
    }
    if (have)
        print_entry(&cur, first);
    printf("]\n");
    return 0;
}

static int cmp(struct node *n, const char *raw)
{
    FILE *f = fopen(raw, "rb");
    if (!f) {
        perror(raw);
        return 2;
    }
    const uint64_t chunk = 1 << 20;
    uint8_t *a = malloc(chunk), *b = malloc(chunk);
    int result = 0;
    for (uint64_t off = 0; off < n->size && result == 0; off += chunk) {
        uint64_t len = n->size - off < chunk ? n->size - off : chunk;
        int ret = node_pread(n, off, len, a);
        if (ret < 0) {
            fprintf(stderr, "read error at %llu: %s\n", (unsigned long long)off, strerror(-ret));
            result = 1;
            break;
        }
        size_t got = fread(b, 1, len, f);
        memset(b + got, 0, len - got);
        if (memcmp(a, b, len)) {
            for (uint64_t i = 0; i < len; i++)
                if (a[i] != b[i]) {
                    fprintf(stderr, "differ at %llu\n", (unsigned long long)(off + i));
                    break;
                }
            result = 1;
        }
    }
    fclose(f);
    free(a);
    free(b);
    return result;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: qcow2-tool cmp|write|zero|discard|resize|open IMG ...\n");
        return 2;
    }
    error_set_progname("qcow2-tool");
    const char *op = argv[1];
    if (!strcmp(op, "measure"))
        return measure(argv[2], argc > 3 ? argv[3] : NULL);
    bool rw = strcmp(op, "cmp") && strcmp(op, "open") && strcmp(op, "map") &&
              strcmp(op, "bm-list") && (strcmp(op, "check") || argc > 3);
    struct error *err = NULL;
    struct node *n = node_open(argv[2], NULL, NULL, rw ? NODE_RDWR : 0, &err);
    if (!n) {
        fprintf(stderr, "Could not open '%s': %s\n", argv[2], error_msg(err));
        error_free(err);
        return 1;
    }
    int ret = 0;
    if (strcmp(n->drv->name, "qcow2") && strcmp(op, "cmp") && strcmp(op, "map") &&
        strcmp(op, "open") && strcmp(op, "write") && strcmp(op, "zero") &&
        strcmp(op, "discard") && strcmp(op, "resize")) {
        fprintf(stderr, "not a qcow2 image\n");
        node_close(n);
        return 1;
    }
    uint64_t off = 0, len = 0;
    if ((argc > 3 && strcmp(op, "cmp") && strcmp(op, "check") && strcmp(op, "rebase") &&
         strncmp(op, "snap-", 5) && strncmp(op, "bm-", 3) && strcmp(op, "amend") && parse_size(argv[3], &off) < 0) ||
        (argc > 4 && strcmp(op, "rebase") && strncmp(op, "bm-", 3) &&
         parse_size(argv[4], &len) < 0)) {
        fprintf(stderr, "bad number\n");
        node_close(n);
        return 2;
    }
    if (!strcmp(op, "check")) {
        struct check_result r;
        int fix = argc > 3 ? (!strcmp(argv[3], "all") ? CHECK_FIX_LEAKS | CHECK_FIX_ERRORS
                                                       : CHECK_FIX_LEAKS) : 0;
        ret = n->drv->check(n, &r, fix) < 0;
        printf("\"image-end-offset\": %llu,\n\"total-clusters\": %llu,\n\"corruptions\": %d,\n"
               "\"check-errors\": %d,\n\"leaks\": %d,\n\"allocated-clusters\": %llu,\n"
               "\"fragmented-clusters\": %llu,\n\"compressed-clusters\": %llu,\n"
               "\"leaks-fixed\": %d,\n\"corruptions-fixed\": %d,\n",
               (unsigned long long)r.image_end_offset, (unsigned long long)r.total_clusters,
               r.corruptions, r.check_errors, r.leaks, (unsigned long long)r.allocated_clusters,
               (unsigned long long)r.fragmented_clusters, (unsigned long long)r.compressed_clusters,
               r.leaks_fixed, r.corruptions_fixed);
    } else if (!strcmp(op, "rebase") && argc > 3) {
        ret = n->drv->change_backing_file(n, argv[3], argc > 4 ? argv[4] : NULL) < 0;
    } else if (!strcmp(op, "snap-create") && argc > 3) {
        struct snapshot_info sn = { .name = argv[3], .date_sec = 1700000000, .icount = UINT64_MAX };
        ret = n->drv->snapshot_create(n, &sn, &err) < 0;
    } else if (!strcmp(op, "snap-goto") && argc > 3) {
        ret = n->drv->snapshot_goto(n, argv[3], &err) < 0;
    } else if (!strcmp(op, "snap-delete") && argc > 3) {
        ret = n->drv->snapshot_delete(n, NULL, argv[3], &err) < 0;
    } else if (!strncmp(op, "bm-", 3)) {
        const struct bitmap_ops *b = n->drv->bitmaps;
        const char *name = argc > 3 ? argv[3] : "";
        if (!strcmp(op, "bm-add")) {
            uint64_t g = 0;
            if (argc > 4)
                parse_size(argv[4], &g);
            ret = b->add(n, name, g, argc > 5, &err) < 0;
        } else if (!strcmp(op, "bm-remove")) {
            ret = b->remove(n, name, &err) < 0;
        } else if (!strcmp(op, "bm-merge") && argc > 4) {
            ret = b->merge(n, name, n, argv[4], &err) < 0;
        } else if (!strcmp(op, "bm-clear")) {
            ret = b->clear(n, name, &err) < 0;
        } else if (!strcmp(op, "bm-enable")) {
            ret = b->enable(n, name, &err) < 0;
        } else if (!strcmp(op, "bm-disable")) {
            ret = b->disable(n, name, &err) < 0;
        } else {
            struct bitmap_info *l;
            int count;
            ret = b->list(n, &l, &count) < 0;
            for (int i = 0; !ret && i < count; i++)
                printf("%s %llu%s%s\n", l[i].name, (unsigned long long)l[i].granularity,
                       l[i].enabled ? " enabled" : "", l[i].in_use ? " in-use" : "");
            if (!ret)
                bitmap_info_list_free(l, count);
        }
    } else if (!strcmp(op, "amend") && argc > 3) {
        struct opts *o = opts_new();
        ret = opts_parse(o, argv[3], NULL, &err) < 0 || n->drv->amend(n, o, false, &err) < 0;
        opts_free(o);
    } else if (!strcmp(op, "map")) {
        ret = map(n);
    } else if (!strcmp(op, "empty")) {
        ret = n->drv->make_empty(n) < 0;
    } else if (!strcmp(op, "cmp") && argc > 3) {
        ret = cmp(n, argv[3]);
    } else if (!strcmp(op, "write") && argc > 5) {
        uint8_t *buf = malloc(len ? len : 1);
        memset(buf, (int)strtol(argv[5], NULL, 0), len);
        ret = node_pwrite(n, off, len, buf) < 0;
        free(buf);
    } else if (!strcmp(op, "zero") && argc > 4) {
        ret = node_pwrite_zeroes(n, off, len, argc > 5 ? ZERO_MAY_UNMAP : 0) < 0;
    } else if (!strcmp(op, "discard") && argc > 4) {
        ret = node_discard(n, off, len) < 0;
    } else if (!strcmp(op, "resize") && argc > 3) {
        ret = node_truncate(n, off, false, PREALLOC_OFF, &err) < 0;
        if (err)
            fprintf(stderr, "%s\n", error_msg(err));
        error_free(err);
        err = NULL;
    } else if (strcmp(op, "open")) {
        fprintf(stderr, "bad arguments\n");
        ret = 2;
    }
    if (err) {
        fprintf(stderr, "%s\n", error_msg(err));
        error_free(err);
    }
    if (ret == 0 && rw && node_flush(n) < 0)
        ret = 1;
    node_close(n);
    return ret;
}
