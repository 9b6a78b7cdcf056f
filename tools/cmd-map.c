/* flatimg map: qemu-img 7.2's img_map. Walks the image with block status only (never reading
 * data), layer by layer down the backing chain, merging extents as qemu-img does. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "map-entry.h"

/* qemu-img's get_block_status: ask each layer in turn until one decides the range. */
static int map_block_status(struct node *top, uint64_t off, uint64_t len, struct map_entry *e)
{
    struct block_status bs;
    struct node *n = top;
    int depth = 0;
    for (;;) {
        int ret = node_block_status(n, off, len, &bs);
        if (ret < 0)
            return ret;
        if (bs.len == 0)
            return -EIO;
        len = bs.len;
        if (bs.flags & (BS_DATA | BS_ZERO))
            break;
        n = n->backing;
        if (!n) {
            bs.flags = 0;
            break;
        }
        depth++;
    }
    bool has_offset = bs.flags & BS_OFFSET_VALID;
    *e = (struct map_entry){
        .start = off,
        .length = len,
        .data = bs.flags & BS_DATA,
        .zero = bs.flags & BS_ZERO,
        .offset = has_offset ? bs.offset : 0,
        .has_offset = has_offset,
        .depth = depth,
        .present = bs.flags & BS_ALLOCATED,
        .filename = has_offset && bs.file ? node_name(bs.file) : NULL,
    };
    return 0;
}

static int map_image(struct node *n, bool json, uint64_t start, int64_t max_length)
{
    uint64_t length = n->size;
    if (max_length >= 0) {
        uint64_t end;
        if (!__builtin_add_overflow(start, (uint64_t)max_length, &end) && end < length)
            length = end;
    }
    struct map_entry curr = { .start = start }, next;
    int ret = 0;
    while (curr.start + curr.length < length) {
        uint64_t off = curr.start + curr.length;
        ret = map_block_status(n, off, length - off, &next);
        if (ret < 0) {
            error_report("Could not read file metadata: %s", strerror(-ret));
            return ret;
        }
        if (map_entry_mergeable(&curr, &next)) {
            curr.length += next.length;
            continue;
        }
        if (curr.length > 0 && map_entry_dump(stdout, json, &curr, &next) < 0)
            return -1;
        curr = next;
    }
    return map_entry_dump(stdout, json, &curr, NULL);
}

int cmd_map(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "format", required_argument, NULL, 'f' },
        { "output", required_argument, NULL, OPTION_OUTPUT },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { "start-offset", required_argument, NULL, 's' },
        { "max-length", required_argument, NULL, 'l' },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = NULL, *output = NULL;
    bool image_opts = false, force_share = false;
    int64_t start = 0, max_length = -1;
    int c;
    while ((c = getopt_long(argc, argv, ":f:s:l:hU", long_options, NULL)) != -1) {
        switch (c) {
        case 'f': fmt = optarg; break;
        case 'U': force_share = true; break;
        case OPTION_OUTPUT: output = optarg; break;
        case OPTION_OBJECT: add_object_or_exit(optarg); break;
        case OPTION_IMAGE_OPTS: image_opts = true; break;
        case 's':
            start = cvtnum("start offset", optarg);
            if (start < 0)
                return 1;
            break;
        case 'l':
            max_length = cvtnum("max length", optarg);
            if (max_length < 0)
                return 1;
            break;
        default: common_getopt_error(c, argv);
        }
    }
    if (optind != argc - 1)
        error_exit("Expecting one image file name");
    const char *filename = argv[optind];
    enum output_format ofmt = output ? parse_output_format(output) : OFORMAT_HUMAN;

    struct node *n = img_open(image_opts, filename, fmt, 0, force_share);
    if (!n)
        return 1;
    bool json = ofmt == OFORMAT_JSON;
    if (json)
        putchar('[');
    else
        printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to", "File");
    int ret = map_image(n, json, (uint64_t)start, max_length);
    if (ret == 0 && json)
        puts("]");
    node_close(n);
    return ret < 0;
}
