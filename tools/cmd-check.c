/* flatimg check: qemu-img 7.2's img_check. The format's check op does the work; this prints the
 * human report or the JSON ImageCheck and maps the result to qemu-img's exit codes (0 clean,
 * 1 check failed, 2 corruptions, 3 leaks only, 63 format without checks). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "file.h"
#include "check-report.h"
#include "json.h"

static void qprintf(bool quiet, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void qprintf(bool quiet, const char *fmt, ...)
{
    if (quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

/* raw's open warns so when it is probed and writable (qemu's raw_open). */
static void warn_probed_raw(const struct node *n)
{
    if (!n->probed || !(n->flags & NODE_RDWR) || strcmp(n->drv->name, "raw"))
        return;
    fprintf(stderr,
            "WARNING: Image format was not specified for '%s' and probing guessed raw.\n"
            "         Automatically detecting the format is dangerous for raw images, write "
            "operations on block 0 will be restricted.\n"
            "         Specify the 'raw' format explicitly to remove the restrictions.\n",
            node_name(n->file));
}

static int run_check(struct node *n, struct check_result *res, int fix)
{
    if (!n->drv->check)
        return -ENOTSUP;
    memset(res, 0, sizeof(*res));
    return n->drv->check(n, res, fix);
}

static void dump_json(const char *filename, const char *format, const struct check_result *r,
                      bool quiet)
{
    json_object *o = check_result_to_json(filename, format, r);
    char *s = json_to_qemu_string(o, 1);
    qprintf(quiet, "%s\n", s);
    free(s);
    json_object_put(o);
}

/* After a repair, check again and report what the first pass fixed. */
static int check_and_repair(struct node *n, struct check_result *res, int fix, bool human,
                            bool quiet)
{
    int ret = run_check(n, res, fix);
    if (ret < 0 || !(res->corruptions_fixed || res->leaks_fixed))
        return ret;
    int corruptions_fixed = res->corruptions_fixed, leaks_fixed = res->leaks_fixed;
    if (human)
        qprintf(quiet,
                "The following inconsistencies were found and repaired:\n\n"
                "    %d leaked clusters\n"
                "    %d corruptions\n\n"
                "Double checking the fixed image now...\n",
                leaks_fixed, corruptions_fixed);
    ret = run_check(n, res, 0);
    res->corruptions_fixed = corruptions_fixed;
    res->leaks_fixed = leaks_fixed;
    return ret;
}

int cmd_check(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "format", required_argument, NULL, 'f' },
        { "repair", required_argument, NULL, 'r' },
        { "output", required_argument, NULL, OPTION_OUTPUT },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = NULL, *output = NULL, *cache = "writeback";
    bool quiet = false, image_opts = false, force_share = false;
    int fix = 0, flags = 0, c;
    while ((c = getopt_long(argc, argv, ":hf:r:T:qU", long_options, NULL)) != -1) {
        switch (c) {
        case 'f': fmt = optarg; break;
        case 'r':
            flags |= NODE_RDWR;
            if (!strcmp(optarg, "leaks"))
                fix = CHECK_FIX_LEAKS;
            else if (!strcmp(optarg, "all"))
                fix = CHECK_FIX_LEAKS | CHECK_FIX_ERRORS;
            else
                error_exit("Unknown option value for -r (expecting 'leaks' or 'all'): %s", optarg);
            break;
        case OPTION_OUTPUT: output = optarg; break;
        case 'T': cache = optarg; break;
        case 'q': quiet = true; break;
        case 'U': force_share = true; break;
        case OPTION_OBJECT: add_object_or_exit(optarg); break;
        case OPTION_IMAGE_OPTS: image_opts = true; break;
        default: common_getopt_error(c, argv);
        }
    }
    if (optind != argc - 1)
        error_exit("Expecting one image file name");
    const char *filename = argv[optind];
    enum output_format ofmt = output ? parse_output_format(output) : OFORMAT_HUMAN;
    if (cache_mode_parse(cache, &flags) < 0) {
        error_report("Invalid source cache option: %s", cache);
        return 1;
    }
    struct node *n = img_open(image_opts, filename, fmt, flags | NODE_CHECK, force_share);
    if (!n)
        return 1;
    warn_probed_raw(n);

    struct check_result res;
    int ret = check_and_repair(n, &res, fix, ofmt == OFORMAT_HUMAN, quiet);
    if (ret == -ENOTSUP) {
        error_report("This image format does not support checks");
        ret = 63;
        goto out;
    }
    if (ret == 0) {
        if (ofmt == OFORMAT_HUMAN && !quiet)
            check_result_print_human(stdout, &res);
        else if (ofmt == OFORMAT_JSON)
            dump_json(filename, n->drv->name, &res, quiet);
    }
    if (ret < 0 || res.check_errors) {
        if (ret < 0)
            error_report("Check failed: %s", strerror(-ret));
        else
            error_report("Check failed");
        ret = 1;
        goto out;
    }
    ret = res.corruptions ? 2 : res.leaks ? 3 : 0;
out:
    node_close(n);
    return ret;
}
