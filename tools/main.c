/* flatimg: a drop-in for qemu-img 7.2. Parses the global options, then dispatches to one
 * cmd_NAME() per subcommand (tools/cmd-NAME.c), exactly as qemu-img's main() does. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "node.h"

struct command {
    const char *name;
    int (*handler)(int argc, char **argv);
};

static const struct command commands[] = {
#define COMMAND(name) { #name, cmd_##name },
#include "commands.h"
#undef COMMAND
    { NULL, NULL },
};

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void help(void)
{
    const char *p = error_progname();
    printf("%s version " FLATIMG_QEMU_VERSION " (flatimg " FLATIMG_VERSION_STRING ")\n"
           "usage: %s [standard options] command [command options]\n"
           "Disk image utility, compatible with qemu-img\n"
           "\n"
           "    '-h', '--help'       display this help and exit\n"
           "    '-V', '--version'    output version information and exit\n"
           "    '-T', '--trace'      [[enable=]<pattern>][,events=<file>][,file=<file>]\n"
           "                         accepted for compatibility; flatimg has no trace events\n"
           "\n"
           "Command syntax:\n",
           p, p);
    static const char *const syntax[] = {
        "amend [--object objectdef] [--image-opts] [-p] [-q] [-f fmt] [-t cache] [--force] -o options filename",
        "bench [-c count] [-d depth] [-f fmt] [--flush-interval=flush_interval] [-i aio] [-n] [--no-drain] [-o offset] [--pattern=pattern] [-q] [-s buffer_size] [-S step_size] [-t cache] [-w] [-U] filename",
        "bitmap (--merge SOURCE | --add | --remove | --clear | --enable | --disable)... [-b source_file [-F source_fmt]] [-g granularity] [--object objectdef] [--image-opts | -f fmt] filename bitmap",
        "check [--object objectdef] [--image-opts] [-q] [-f fmt] [--output=ofmt] [-r [leaks | all]] [-T src_cache] [-U] filename",
        "commit [--object objectdef] [--image-opts] [-q] [-f fmt] [-t cache] [-b base] [-r rate_limit] [-d] [-p] filename",
        "compare [--object objectdef] [--image-opts] [-f fmt] [-F fmt] [-T src_cache] [-p] [-q] [-s] [-U] filename1 filename2",
        "convert [--object objectdef] [--image-opts] [--target-image-opts] [--target-is-zero] [--bitmaps] [-U] [-C] [-c] [-p] [-q] [-n] [-f fmt] [-t cache] [-T src_cache] [-O output_fmt] [-B backing_file [-F backing_fmt]] [-o options] [-l snapshot_param] [-S sparse_size] [-r rate_limit] [-m num_coroutines] [-W] [--salvage] filename [filename2 [...]] output_filename",
        "create [--object objectdef] [-q] [-f fmt] [-b backing_file [-F backing_fmt]] [-u] [-o options] filename [size]",
        "dd [--image-opts] [-U] [-f fmt] [-O output_fmt] [bs=block_size] [count=blocks] [skip=blocks] if=input of=output",
        "info [--object objectdef] [--image-opts] [-f fmt] [--output=ofmt] [--backing-chain] [-U] filename",
        "map [--object objectdef] [--image-opts] [-f fmt] [--start-offset=offset] [--max-length=len] [--output=ofmt] [-U] filename",
        "measure [--output=ofmt] [-O output_fmt] [-o options] [--size N | [--object objectdef] [--image-opts] [-f fmt] [-l snapshot_param] filename]",
        "snapshot [--object objectdef] [--image-opts] [-U] [-q] [-l | -a snapshot | -c snapshot | -d snapshot] filename",
        "rebase [--object objectdef] [--image-opts] [-U] [-q] [-f fmt] [-t cache] [-T src_cache] [-p] [-u] -b backing_file [-F backing_fmt] filename",
        "resize [--object objectdef] [--image-opts] [-f fmt] [--preallocation=prealloc] [-q] [--shrink] filename [+ | -]size",
    };
    for (size_t i = 0; i < sizeof(syntax) / sizeof(syntax[0]); i++)
        printf("  %s\n", syntax[i]);
    printf("\n"
           "Parameters: see %s(1). 'fmt' is guessed from the image content when not given;\n"
           "'cache' and 'src_cache' are none, writeback, writethrough, directsync or unsafe;\n"
           "sizes take the suffixes k, M, G, T, P and E (powers of 1024).\n"
           "\n",
           "flatimg");
    const char *names[64];
    size_t n = 0;
    for (const struct driver *const *d = driver_list(); *d && n < 63; d++)
        names[n++] = (*d)->name;
    names[n++] = "host_device";
    qsort(names, n, sizeof(names[0]), name_cmp);
    printf("Supported formats:");
    for (size_t i = 0; i < n; i++)
        printf(" %s", names[i]);
    printf("\n\nReport bugs through the flatimg issue tracker.\n");
    exit(EXIT_SUCCESS);
}

/* A trace pattern naming no event (flatimg has none) is warned about, as qemu does for an
 * unknown event; patterns with wildcards match nothing silently, a leading '-' disables. */
static void trace_check_pattern(const char *pattern, const char *file, unsigned line)
{
    if (pattern[0] == '-')
        pattern++;
    if (strpbrk(pattern, "*?"))
        return;
    if (file)
        fprintf(stderr, "%s:%s:%u: warning: trace event '%s' does not exist\n", error_progname(),
                file, line, pattern);
    else
        warn_report("trace event '%s' does not exist", pattern);
}

/* events=FILE: one pattern per line, blank lines and '#' comments skipped. */
static void trace_read_events(const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "%s:%s: %s\n", error_progname(), file, strerror(errno));
        exit(EXIT_FAILURE);
    }
    char buf[1024];
    for (unsigned line = 1; fgets(buf, sizeof(buf), f); line++) {
        buf[strcspn(buf, "\n")] = '\0';
        if (buf[0] && buf[0] != '#')
            trace_check_pattern(buf, file, line);
    }
    fclose(f);
}

/* -T/--trace: flatimg has no trace events; the option is validated, the events file read and
 * the log file opened as qemu-img (log backend) does; nothing is ever traced. Returns the log
 * file name, if any, for the caller to open once the global options are parsed. */
static char *trace_opt_parse(const char *arg)
{
    struct opts *o = opts_new();
    struct error *err = NULL;
    if (opts_parse(o, arg, "enable", &err) < 0) {
        error_report_err(err);
        exit(EXIT_FAILURE);
    }
    for (size_t i = 0; i < o->count; i++) {
        const char *k = o->items[i].key;
        if (strcmp(k, "enable") && strcmp(k, "events") && strcmp(k, "file")) {
            error_report("Invalid parameter '%s'", k);
            exit(EXIT_FAILURE);
        }
    }
    const char *pattern = opts_get(o, "enable");
    if (pattern)
        trace_check_pattern(pattern, NULL, 0);
    const char *events = opts_get(o, "events");
    if (events)
        trace_read_events(events);
    const char *file = opts_get(o, "file");
    char *ret = file ? strdup(file) : NULL;
    opts_free(o);
    return ret;
}

static void trace_open_file(const char *file)
{
    FILE *f = fopen(file, "w");
    if (!f) {
        error_report("Error opening logfile %s: %s", file, strerror(errno));
        exit(EXIT_FAILURE);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "trace", required_argument, NULL, 'T' },
        { NULL, 0, NULL, 0 },
    };
    error_set_progname(argv[0]);
    if (argc < 2)
        error_exit("Not enough arguments");
    int c;
    char *trace_file = NULL;
    while ((c = getopt_long(argc, argv, "+:hVT:", long_options, NULL)) != -1) {
        switch (c) {
        case ':':
            missing_argument(argv[optind - 1]);
        case '?':
            unrecognized_option(argv[optind - 1]);
        case 'h':
            help();
        case 'V':
            printf("%s version " FLATIMG_QEMU_VERSION " (flatimg " FLATIMG_VERSION_STRING ")\n"
                   "Copyright (c) 2026 the flatimg developers\n",
                   error_progname());
            return 0;
        case 'T':
            free(trace_file);
            trace_file = trace_opt_parse(optarg);
            break;
        }
    }
    if (trace_file) {
        trace_open_file(trace_file);
        free(trace_file);
    }
    if (optind >= argc)
        return 0;
    const char *cmdname = argv[optind];
    argc -= optind;
    argv += optind;
    optind = 0;
    for (const struct command *cmd = commands; cmd->name; cmd++)
        if (!strcmp(cmdname, cmd->name))
            return cmd->handler(argc, argv);
    error_exit("Command not found: %s", cmdname);
}
