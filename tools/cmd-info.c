/* flatimg info: qemu-img 7.2's img_info. Each image of the chain is opened on its own without its
 * backing file (so a missing backing file does not hide the top's information); --backing-chain
 * walks the recorded backing names with loop detection. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "info.h"
#include "json.h"

/* Options that change what a node shows (qemu 7.2's strong_runtime_opts of each driver). */
static const struct {
    const char *driver;
    const char *const opts[3];
} strong_opts[] = {
    { "raw", { "offset", "size", NULL } },
    { "luks", { "key-secret", NULL } },
    { "qcow2", { "encrypt.key-secret", NULL } },
    { "qcow", { "encrypt.key-secret", NULL } },
};

/* A strong option's value as given: typed when it came from a json: name, a string otherwise. */
static json_object *given_value(json_object *given, const char *key, const char *value)
{
    json_object *v;
    if (given && json_object_object_get_ex(given, key, &v))
        return json_object_get(v);
    return json_object_new_string(value);
}

/* qemu's bdrv_refresh_filename: a node opened with strong options cannot be named by its file
 * alone, so it is named "json:{...}" (driver, those options, the file child). NULL otherwise. */
static char *json_image_name(const struct node *n, const char *name)
{
    const char *const *keys = NULL;
    for (size_t i = 0; i < sizeof(strong_opts) / sizeof(strong_opts[0]); i++)
        if (!strcmp(n->drv->name, strong_opts[i].driver))
            keys = strong_opts[i].opts;
    if (!n->open_opts || !n->file || !keys)
        return NULL;
    json_object *given = NULL;
    if (!strncmp(name, "json:", 5))
        given = json_tokener_parse(name + 5);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "driver", json_object_new_string(n->drv->name));
    bool strong = false;
    for (const char *const *k = keys; *k; k++) {
        const char *v = opts_get(n->open_opts, *k);
        if (v) {
            json_object_object_add(o, *k, given_value(given, *k, v));
            strong = true;
        }
    }
    char *out = NULL;
    if (strong) {
        json_object *file = json_object_new_object();
        json_object_object_add(file, "driver", json_object_new_string("file"));
        json_object_object_add(file, "filename", json_object_new_string(node_name(n->file)));
        json_object_object_add(o, "file", file);
        char *text = json_to_qemu_string(o, 0);
        if (asprintf(&out, "json:%s", text) < 0)
            abort();
        free(text);
    }
    json_object_put(o);
    json_object_put(given);
    return out;
}

int cmd_info(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "format", required_argument, NULL, 'f' },
        { "output", required_argument, NULL, OPTION_OUTPUT },
        { "backing-chain", no_argument, NULL, OPTION_BACKING_CHAIN },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = NULL, *output = NULL;
    bool chain = false, image_opts = false, force_share = false;
    int c;
    while ((c = getopt_long(argc, argv, ":f:hU", long_options, NULL)) != -1) {
        switch (c) {
        case 'f': fmt = optarg; break;
        case 'U': force_share = true; break;
        case OPTION_OUTPUT: output = optarg; break;
        case OPTION_BACKING_CHAIN: chain = true; break;
        case OPTION_OBJECT: add_object_or_exit(optarg); break;
        case OPTION_IMAGE_OPTS: image_opts = true; break;
        default: common_getopt_error(c, argv);
        }
    }
    if (optind != argc - 1)
        error_exit("Expecting one image file name");
    const char *filename = argv[optind++];
    enum output_format ofmt = output ? parse_output_format(output) : OFORMAT_HUMAN;

    json_object *list = json_object_new_array();
    char **seen = NULL;
    size_t nseen = 0;
    char *name = strdup(filename);
    char *cur_fmt = fmt ? strdup(fmt) : NULL;
    int ret = 1;
    while (name) {
        for (size_t i = 0; i < nseen; i++) {
            if (!strcmp(seen[i], name)) {
                error_report("Backing file '%s' creates an infinite loop.", name);
                goto out;
            }
        }
        seen = realloc(seen, (nseen + 1) * sizeof(*seen));
        seen[nseen++] = strdup(name);
        struct node *n = img_open(image_opts, name, cur_fmt, NODE_NO_BACKING | NODE_NO_IO,
                                  force_share);
        if (!n)
            goto out;
        struct error *err = NULL;
        json_object *info = image_info_build(n, &err);
        char *json_name = info ? json_image_name(n, name) : NULL;
        if (json_name) {
            json_object_object_add(info, "filename", json_object_new_string(json_name));
            free(json_name);
        }
        char *next = NULL, *next_fmt = NULL;
        if (chain && n->backing_file) {
            if (n->full_backing_filename && n->full_backing_filename[0]) {
                next = strdup(n->full_backing_filename);
            } else {
                error_report("Could not determine absolute backing filename, but backing "
                             "filename '%s' present",
                             n->backing_file);
                json_object_put(info);
                node_close(n);
                goto out;
            }
            if (n->backing_fmt)
                next_fmt = strdup(n->backing_fmt);
        }
        node_close(n);
        if (!info) {
            error_report_err(err);
            free(next);
            free(next_fmt);
            goto out;
        }
        json_object_array_add(list, info);
        free(name);
        free(cur_fmt);
        name = next;
        cur_fmt = next_fmt;
        image_opts = false;
    }
    size_t count = json_object_array_length(list);
    if (ofmt == OFORMAT_JSON) {
        json_print_qemu(stdout, chain ? list : json_object_array_get_idx(list, 0));
        printf("\n");
    } else {
        for (size_t i = 0; i < count; i++) {
            if (i)
                printf("\n");
            image_info_print_human(stdout, json_object_array_get_idx(list, i));
        }
    }
    ret = 0;
out:
    free(name);
    free(cur_fmt);
    for (size_t i = 0; i < nseen; i++)
        free(seen[i]);
    free(seen);
    json_object_put(list);
    return ret;
}
