/* flatimg create: qemu-img 7.2's img_create argument handling; the work is image_create(). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "create.h"

/* qemu-img joins repeated -o lists with ','; an empty list or a trailing lone comma is invalid. */
static bool valid_option_list(const char *s)
{
    size_t len = strlen(s);
    if (!len || s[0] == ',')
        return false;
    size_t commas = 0;
    while (commas < len && s[len - 1 - commas] == ',')
        commas++;
    return commas % 2 == 0;
}

char *accumulate_options(char *options, const char *arg)
{
    if (!valid_option_list(arg)) {
        error_report("Invalid option list: %s", arg);
        free(options);
        return NULL;
    }
    char *joined = NULL;
    if (!options) {
        joined = strdup(arg);
    } else if (asprintf(&joined, "%s,%s", options, arg) < 0) {
        joined = NULL;
    }
    free(options);
    if (!joined)
        abort();
    return joined;
}

/* qemu prints a hint ("Detected format of raw.") after the message without a final newline. */
static void report_with_hint(struct error *err)
{
    if (!strstr(error_msg(err), "\nDetected format of ")) {
        error_report_err(err);
        return;
    }
    fprintf(stderr, "%s: %s", error_progname(), error_msg(err));
    error_free(err);
}

int cmd_create(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { NULL, 0, NULL, 0 },
    };
    struct image_create_args a = { .fmt = "raw", .size = IMG_SIZE_UNSET };
    char *options = NULL;
    int c;
    while ((c = getopt_long(argc, argv, ":F:b:f:ho:qu", long_options, NULL)) != -1) {
        switch (c) {
        case 'F': a.backing_fmt = optarg; break;
        case 'b': a.backing_file = optarg; break;
        case 'f': a.fmt = optarg; break;
        case 'o':
            options = accumulate_options(options, optarg);
            if (!options)
                return 1;
            break;
        case 'q': a.quiet = true; break;
        case 'u': a.no_backing_open = true; break;
        case OPTION_OBJECT: add_object_or_exit(optarg); break;
        default: common_getopt_error(c, argv);
        }
    }
    const char *filename = optind < argc ? argv[optind] : NULL;
    struct error *err = NULL;
    if (options) {
        struct opts *o = opts_new();
        bool want_help = opts_parse(o, options, NULL, NULL) == 0 && opts_get(o, "help");
        opts_free(o);
        if (want_help) {
            int ret = create_print_help(a.fmt, filename, stdout, &err);
            free(options);
            if (ret < 0) {
                error_report_err(err);
                return 1;
            }
            return 0;
        }
    }
    if (optind >= argc)
        error_exit("Expecting image file name");
    optind++;
    if (optind < argc) {
        int64_t sval = cvtnum("image size", argv[optind++]);
        if (sval < 0) {
            free(options);
            return 1;
        }
        a.size = (uint64_t)sval;
    }
    if (optind != argc)
        error_exit("Unexpected argument: %s", argv[optind]);
    a.filename = filename;
    a.options = options;
    int ret = image_create(&a, &err);
    free(options);
    if (ret < 0) {
        error_prepend(&err, "%s: ", filename);
        report_with_hint(err);
        return 1;
    }
    return 0;
}
