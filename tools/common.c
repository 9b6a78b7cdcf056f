/* Argument and error handling shared by the subcommands, in qemu-img 7.2's words. */
#include "config.h"
#include "common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "object.h"
#include "opts.h"

void error_exit(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_vreport(fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s --help' for more information\n", error_progname());
    exit(EXIT_FAILURE);
}

void missing_argument(const char *option)
{
    error_exit("missing argument for option '%s'", option);
}

void unrecognized_option(const char *option)
{
    error_exit("unrecognized option '%s'", option);
}

void common_getopt_error(int c, char **argv)
{
    if (c == ':')
        missing_argument(argv[optind - 1]);
    if (c == '?')
        unrecognized_option(argv[optind - 1]);
    if (c == 'h')
        help();
}

int64_t cvtnum_full(const char *name, const char *value, int64_t min, int64_t max)
{
    uint64_t v;
    int err = parse_size(value, &v);
    if (err < 0 && err != -ERANGE) {
        error_report("Invalid %s specified. You may use k, M, G, T, P or E suffixes for", name);
        error_report("kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.");
        return err;
    }
    if (err == -ERANGE || v > (uint64_t)max || (int64_t)v < min) {
        error_report("Invalid %s specified. Must be between %lld and %lld.", name,
                     (long long)min, (long long)max);
        return -ERANGE;
    }
    return (int64_t)v;
}

int64_t cvtnum(const char *name, const char *value)
{
    return cvtnum_full(name, value, 0, INT64_MAX);
}

void add_object_or_exit(const char *def)
{
    struct error *err = NULL;
    if (object_add(def, &err) < 0) {
        error_report_err(err);
        exit(EXIT_FAILURE);
    }
}

int parse_cache_or_exit(const char *mode, int *flags)
{
    if (cache_mode_parse(mode, flags) < 0) {
        error_report("Invalid cache option: %s", mode);
        exit(EXIT_FAILURE);
    }
    return 0;
}

enum output_format parse_output_format(const char *arg)
{
    if (!strcmp(arg, "json"))
        return OFORMAT_JSON;
    if (!strcmp(arg, "human"))
        return OFORMAT_HUMAN;
    error_report("--output must be used with human or json as argument.");
    exit(EXIT_FAILURE);
}

struct node *img_open_with(const char *filename, const char *fmt, const struct opts *opts,
                           int flags)
{
    struct error *err = NULL;
    struct node *n = node_open(filename, fmt, opts, flags, &err);
    if (!n) {
        error_prepend(&err, "Could not open '%s': ", filename);
        error_report_err(err);
    }
    return n;
}

struct node *img_open(bool image_opts, const char *filename, const char *fmt, int flags,
                      bool force_share)
{
    struct error *err = NULL;
    struct node *n;
    if (force_share)
        flags |= NODE_FORCE_SHARE;
    if (image_opts) {
        if (fmt) {
            error_report("--image-opts and --format are mutually exclusive");
            return NULL;
        }
        struct opts *o = opts_new();
        if (opts_parse(o, filename, NULL, &err) < 0) {
            error_report_err(err);
            opts_free(o);
            return NULL;
        }
        n = node_open(NULL, NULL, o, flags, &err);
        opts_free(o);
    } else {
        n = node_open(filename, fmt, NULL, flags, &err);
    }
    if (!n) {
        error_prepend(&err, "Could not open '%s': ", filename);
        error_report_err(err);
        return NULL;
    }
    return n;
}
