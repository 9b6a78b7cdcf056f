/* Test helper: open an image through the driver core and print its flat raw view on stdout
 * (`imgcat2 [-f FMT] IMG`), or write a byte pattern into it (`imgcat2 -w OFF LEN BYTE [-f FMT] IMG`)
 * so that qemu-io can read back what flatimg wrote. `-s OBJECT` adds a --object secret and
 * `-o KEY=VALUE,...` passes open options (key-secret=ID for encrypted images). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "node.h"
#include "object.h"
#include "opts.h"

static int cat(struct node *n)
{
    const uint64_t chunk = 1 << 20;
    uint8_t *buf = malloc(chunk);
    if (!buf)
        return -ENOMEM;
    int ret = 0;
    for (uint64_t off = 0; off < n->size && ret == 0; off += chunk) {
        uint64_t len = n->size - off < chunk ? n->size - off : chunk;
        ret = node_pread(n, off, len, buf);
        if (ret == 0 && fwrite(buf, 1, len, stdout) != len)
            ret = -EIO;
    }
    free(buf);
    return ret;
}

static int write_pattern(struct node *n, uint64_t off, uint64_t len, int byte)
{
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return -ENOMEM;
    memset(buf, byte, len);
    int ret = node_pwrite(n, off, len, buf);
    free(buf);
    return ret;
}

int main(int argc, char **argv)
{
    error_set_progname(argv[0]);
    const char *fmt = NULL;
    struct opts *open_opts = opts_new();
    struct error *err = NULL;
    bool do_write = false;
    uint64_t off = 0, len = 0;
    int byte = 0, c;
    while ((c = getopt(argc, argv, "f:ws:o:")) != -1) {
        if (c == 'f') {
            fmt = optarg;
        } else if (c == 'w') {
            do_write = true;
        } else if (c == 's' || c == 'o') {
            int r = c == 's' ? object_add(optarg, &err) : opts_parse(open_opts, optarg, NULL, &err);
            if (r < 0) {
                error_report_err(err);
                return 2;
            }
        } else {
            return 2;
        }
    }
    if (do_write) {
        if (argc - optind < 4)
            return 2;
        if (parse_size(argv[optind++], &off) < 0 || parse_size(argv[optind++], &len) < 0)
            return 2;
        byte = (int)strtol(argv[optind++], NULL, 0);
    }
    if (optind >= argc)
        return 2;
    struct node *n = node_open(argv[optind], fmt, open_opts, do_write ? NODE_RDWR : 0, &err);
    opts_free(open_opts);
    if (!n) {
        error_report("Could not open '%s': %s", argv[optind], error_msg(err));
        error_free(err);
        return 1;
    }
    int ret = do_write ? write_pattern(n, off, len, byte) : cat(n);
    node_close(n);
    if (ret < 0) {
        error_report("%s: %s", do_write ? "write failed" : "read failed", strerror(-ret));
        return 1;
    }
    return 0;
}
