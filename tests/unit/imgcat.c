/* Test helper for the format drivers: open an image with the driver core and
 *   imgcat [-f FMT] [-o OPEN_OPTS] IMAGE  write its flat raw view to stdout,
 *   imgcat [-f FMT] -m IMAGE              print its block status as `qemu-img map --output=json`,
 *   imgcat [-f FMT] -w OFF:LEN:BYTE... IMAGE  write LEN bytes of BYTE at OFF (node_pwrite),
 *   imgcat [-f FMT] -c IMAGE              run the driver's check and print its counts,
 *   imgcat [-f FMT] -w OFF:LEN:z IMAGE     write zeros (node_pwrite_zeroes, ZERO_MAY_UNMAP),
 *   imgcat [-f FMT] -t SIZE IMAGE          resize (node_truncate), printing any error,
 *   imgcat [-f FMT] -r OFF:LEN IMAGE       write only that range of the raw view. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node.h"

static int do_cat(struct node *n, uint64_t start, uint64_t end)
{
    static uint8_t buf[1 << 20];
    if (end > n->size)
        end = n->size;
    for (uint64_t off = start; off < end;) {
        uint64_t len = end - off < sizeof(buf) ? end - off : sizeof(buf);
        int ret = node_pread(n, off, len, buf);
        if (ret < 0) {
            fprintf(stderr, "imgcat: read error at %" PRIu64 ": %s\n", off, strerror(-ret));
            return 1;
        }
        if (fwrite(buf, 1, len, stdout) != len)
            return 1;
        off += len;
    }
    return 0;
}

struct map_entry {
    uint64_t start, length, offset;
    int depth;
    bool present, zero, data, has_offset;
};

static void print_entry(const struct map_entry *e, bool first)
{
    printf("%s{ \"start\": %" PRIu64 ", \"length\": %" PRIu64 ", \"depth\": %d, \"present\": %s, "
           "\"zero\": %s, \"data\": %s",
           first ? "[" : ",\n", e->start, e->length, e->depth, e->present ? "true" : "false",
           e->zero ? "true" : "false", e->data ? "true" : "false");
    if (e->has_offset)
        printf(", \"offset\": %" PRIu64, e->offset);
    printf("}");
}

static int do_map(struct node *n)
{
    struct map_entry cur = { 0 };
    bool have = false, first = true;
    if (n->size == 0) {
        /* qemu-img map prints one empty entry for an empty image */
        printf("[{ \"start\": 0, \"length\": 0, \"depth\": 0, \"present\": false, \"zero\": false, "
               "\"data\": false}]\n");
        return 0;
    }
    for (uint64_t off = 0; off < n->size;) {
        struct block_status bs;
        int depth = 0;
        int ret = node_block_status_above(n, NULL, off, n->size - off, &bs, &depth);
        if (ret < 0 || bs.len == 0) {
            fprintf(stderr, "imgcat: block status error at %" PRIu64 "\n", off);
            return 1;
        }
        struct map_entry e = {
            .start = off, .length = bs.len, .depth = depth,
            .present = bs.flags & BS_ALLOCATED, .zero = bs.flags & BS_ZERO,
            .data = bs.flags & BS_DATA, .has_offset = bs.flags & BS_OFFSET_VALID,
            .offset = bs.offset,
        };
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

static int do_check(struct node *n)
{
    struct check_result res = { 0 };
    if (!n->drv->check) {
        printf("no check\n");
        return 0;
    }
    int ret = n->drv->check(n, &res, 0);
    printf("ret=%d corruptions=%d leaks=%d check_errors=%d\n", ret, res.corruptions, res.leaks,
           res.check_errors);
    if (res.total_clusters && res.allocated_clusters)
        printf("%" PRIu64 "/%" PRIu64 " allocated, %" PRIu64 " fragmented\n",
               res.allocated_clusters, res.total_clusters, res.fragmented_clusters);
    return 0;
}

static int do_write(struct node *n, const char *spec)
{
    unsigned long long off, len;
    unsigned byte;
    char z;
    if (sscanf(spec, "%llu:%llu:%c", &off, &len, &z) == 3 && z == 'z') {
        int ret = node_pwrite_zeroes(n, off, len, ZERO_MAY_UNMAP);
        if (ret < 0)
            fprintf(stderr, "imgcat: write zeroes error at %llu: %s\n", off, strerror(-ret));
        return ret < 0;
    }
    if (sscanf(spec, "%llu:%llu:%x", &off, &len, &byte) != 3)
        return 2;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return 1;
    memset(buf, (int)byte, len);
    int ret = node_pwrite(n, off, len, buf);
    free(buf);
    if (ret < 0) {
        fprintf(stderr, "imgcat: write error at %llu: %s\n", off, strerror(-ret));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *fmt = NULL, *optstr = NULL, *resize = NULL, *range = NULL;
    bool map = false, check = false;
    const char *writes[64];
    int nwrites = 0, c;
    while ((c = getopt(argc, argv, "cf:mo:r:t:w:")) != -1) {
        if (c == 'f')
            fmt = optarg;
        else if (c == 'o')
            optstr = optarg;
        else if (c == 'r')
            range = optarg;
        else if (c == 't')
            resize = optarg;
        else if (c == 'c')
            check = true;
        else if (c == 'm')
            map = true;
        else if (c == 'w' && nwrites < 64)
            writes[nwrites++] = optarg;
        else
            return 2;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: imgcat [-f FMT] [-m | -w OFF:LEN:BYTE...] IMAGE\n");
        return 2;
    }
    unsigned long long start = 0, end = UINT64_MAX, rlen;
    if (range) {
        if (sscanf(range, "%llu:%llu", &start, &rlen) != 2)
            return 2;
        end = start + rlen;
    }
    struct error *err = NULL;
    struct opts *o = opts_new();
    if (optstr && opts_parse(o, optstr, NULL, &err) < 0) {
        fprintf(stderr, "imgcat: %s\n", error_msg(err));
        return 1;
    }
    struct node *n = node_open(argv[optind], fmt, o, nwrites || resize ? NODE_RDWR : NODE_FORCE_SHARE,
                               &err);
    opts_free(o);
    if (!n) {
        fprintf(stderr, "imgcat: %s\n", err ? error_msg(err) : "open failed");
        error_free(err);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < nwrites && rc == 0; i++)
        rc = do_write(n, writes[i]);
    if (resize) {
        uint64_t size = strtoull(resize, NULL, 0);
        if (node_truncate(n, size, false, PREALLOC_OFF, &err) < 0) {
            fprintf(stderr, "imgcat: %s\n", err ? error_msg(err) : "resize failed");
            error_free(err);
            rc = 1;
        }
    } else if (!nwrites)
        rc = check ? do_check(n) : map ? do_map(n) : do_cat(n, start, end);
    node_close(n);
    return rc;
}
